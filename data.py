"""The tutorial's data: a noisy line y = slope * x + noise.

Importing this module only defines things; `python data.py` draws the data figure.
"""


import torch

import cli


def make_data(n=100, seed=42, slope=-5.0, noise_std=0.4):
    """Return X, Y of shape (n, 1), float32.

    X holds n evenly spaced points on [-5, 5): for n=100 that is -5.0, -4.9, ..., 4.9,
    the tutorial's `torch.arange(-5, 5, 0.1)`. The noise comes from its own generator
    seeded by `seed`, so the global random state is never touched.
    """
    if n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    # Build the grid in float64 and round once, so x is as close to -5 + 10*i/n as float32
    # allows (summing 0.1 steps in float32 drifts).
    x = -5.0 + 10.0 * torch.arange(n, dtype=torch.float64) / n
    X = x.to(torch.float32).reshape(n, 1)
    generator = torch.Generator().manual_seed(seed)
    noise = noise_std * torch.randn(X.shape, generator=generator)
    Y = slope * X + noise
    return X, Y


def main(argv=None):
    parser = cli.Parser("Draw the tutorial's data: y = slope*x + Gaussian noise.")
    parser.add_argument("--n", type=cli.data_size, default=100, help="number of points")
    parser.add_argument("--slope", type=cli.finite_float, default=-5.0, help="true slope")
    parser.add_argument("--noise", type=cli.nonnegative_float, default=0.4,
                        help="standard deviation of the Gaussian noise")
    cli.add_output_args(parser, seed=True)
    args, out_dir = cli.parse_args(parser, argv)

    X, Y = make_data(args.n, args.seed, args.slope, args.noise)
    print(f"data: n={args.n} x in [{X.min().item():.1f}, {X.max().item():.1f}] "
          f"y = {args.slope:g}*x + N(0, {args.noise:g}^2) noise, seed={args.seed}")

    import plots  # only now: matplotlib's backend has been chosen

    figures = {"data.png": plots.plot_data(X, Y, args.slope)}
    cli.save_figures(out_dir, figures)
    cli.show_figures(figures, args.show)


if __name__ == "__main__":
    main()
