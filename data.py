"""The tutorial's data: a noisy line y = slope * x + noise. Or a CSV file of your own.

Importing this module only defines things; `python data.py` draws the data figure.
"""

import csv
import math
import os

import torch

# The tutorial's data: 100 points, y = -5x + N(0, 0.4^2) noise.
DEFAULTS = {"n": 100, "slope": -5.0, "noise": 0.4, "seed": 42}
# Ten million points already take about a gigabyte in the benchmark; far more would fail
# deep inside torch's allocator. The data must stay far inside float32 with its squared
# errors: |y| up to about 1e7.
MAX_SIZE = 10_000_000
# The data's command-line options: {name: (type, interval, help)} (plumbing/options.py).
OPTIONS = {
    "n": (int, f"[2, {MAX_SIZE}]", "number of data points on [-5, 5)"),
    "slope": (float, "[-1e6, 1e6]", "true slope of the line"),
    "noise": (float, "[0, 1e6]", "standard deviation of the Gaussian noise"),
    "seed": (int, f"[0, {2**63 - 1}]", "seed of the data's noise"),
}


def make_data(n=100, seed=42, slope=-5.0, noise=0.4):
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
    Y = slope * X + noise * torch.randn(X.shape, generator=generator)
    return X, Y


def standardise(X):
    """x minus its mean, over its standard deviation: mean 0, mean square 1."""
    return (X - X.mean()) / X.std(correction=0)


def read_csv(path):
    """X, Y of shape (n, 1), float32, from the columns named x and y of a CSV file.

    Other columns are ignored. Raises ValueError, with a one-line reason, for a file that
    cannot be read, has no x or y column, holds a value that is not a finite number, or has
    fewer than 2 rows.
    """
    try:
        # utf-8-sig: a file saved as "CSV UTF-8" by a spreadsheet starts with a byte-order mark.
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(getattr(error, "strerror", None) or str(error)) from None
    if not rows:
        raise ValueError("the file is empty")
    header = [name.strip() for name in rows[0]]
    missing = [name for name in ("x", "y") if name not in header]
    if missing:
        raise ValueError(f"no column named {' or '.join(missing)} in the header row "
                         f"({', '.join(header) or 'empty'})")
    columns = [header.index("x"), header.index("y")]
    values = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        pair = []
        for name, column in zip("xy", columns, strict=True):
            cell = row[column].strip() if column < len(row) else ""
            try:
                value = float(cell)
            except ValueError:
                raise ValueError(f"line {line}: {name} = {cell!r} is not a number") from None
            if not math.isfinite(value):
                raise ValueError(f"line {line}: {name} = {cell!r} is not a finite number")
            pair.append(value)
        values.append(pair)
    if len(values) < 2:
        raise ValueError(f"{len(values)} data row{'' if len(values) == 1 else 's'}; "
                         "a line needs at least 2")
    data = torch.tensor(values, dtype=torch.float32)
    if not torch.isfinite(data).all():
        raise ValueError("a value is too large for float32")
    return data[:, :1].clone(), data[:, 1:].clone()


def write_csv(path, X, Y):
    """Write X, Y as a CSV with columns x and y, the format --data reads."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x", "y"])
        # Every float32 value written in full: reading the file back gives the same tensors.
        writer.writerows(zip(X.reshape(-1).tolist(), Y.reshape(-1).tolist(), strict=True))


def load_data(parser, args):
    """X, Y and a few words saying what they are, from the command line's data options:
    the line they describe, or the file --data names. A file that cannot be used is
    refused in one line with exit status 2."""
    made = {name: getattr(args, name) for name in DEFAULTS}
    if args.data is not None:
        given = [f"--{name}" for name, value in made.items() if value is not None]
        if given:
            parser.error(f"{', '.join(given)}: for generated data, not with --data")
        try:
            X, Y = read_csv(args.data)
        except ValueError as error:
            parser.error(f"--data {args.data}: {error}")
        if X.min() == X.max():
            parser.error(f"--data {args.data}: every x is {X[0].item():g}, so no single "
                         "line fits best (any line through their mean y does)")
        return X, Y, f"{len(X)} points from {args.data}"
    made = {name: DEFAULTS[name] if value is None else value for name, value in made.items()}
    X, Y = make_data(**made)
    return X, Y, (f"n={made['n']} points of y = {made['slope']:g}*x + N(0, {made['noise']:g}^2) "
                  f"noise, seed {made['seed']}")


def main(argv=None):
    import data
    from plumbing import options, output

    parser = options.Parser("Draw the tutorial's data: y = slope*x + Gaussian noise.")
    options.add_data_args(parser, data)
    parser.add_argument("--csv", metavar="FILE.csv",
                        help="also write the data to this CSV file (columns x, y), "
                             "to edit and train on with --data")
    options.add_output_args(parser)
    args, out_dir = options.parse(parser, argv)
    if args.csv is not None:
        if os.path.isdir(args.csv) or args.csv.endswith(("/", os.sep)) or not args.csv.strip():
            parser.error(f"--csv {args.csv!r} is a folder; give a file name, like data.csv")
        if os.path.lexists(args.csv) and not os.path.isfile(args.csv) or os.path.islink(args.csv):
            parser.error(f"--csv {args.csv!r} is not a plain file; it would be replaced")
        options.prepare_out_dir(parser, os.path.dirname(args.csv) or ".", option="--csv")
    X, Y, source = load_data(parser, args)
    print(f"data: {source}; x in [{X.min().item():g}, {X.max().item():g}]")

    from plots import tutorial  # only now: matplotlib's backend has been chosen

    slope = None if args.data else (DEFAULTS["slope"] if args.slope is None else args.slope)
    figures = {"data.png": tutorial.plot_data(X, Y, slope)}
    if args.csv:
        # The CSV's own folder, written all at once like the figures'.
        output.save_figures(os.path.dirname(args.csv) or ".", {},
                            files={os.path.basename(args.csv): lambda path: write_csv(path, X, Y)})
    output.save_figures(out_dir, figures)
    output.show_figures(figures, args.show)


if __name__ == "__main__":
    from plumbing.run import run

    run(main)
