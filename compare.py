"""Batch gradient descent against stochastic gradient descent on the same data.

Trains both, prints a table, and writes the tutorial's two loss figures and its comparison.
Run `python compare.py --help` for the knobs; docs/compare.md is the lesson.
"""

from plumbing.run import run_as_command  # first: a stop while the libraries load is one line

# isort: split
import math

from model import final_loss, least_squares, stability_bound
from train_batch import train_batch
from train_sgd import train_sgd


def result_table(X, Y, histories):
    """One row per run: updates, final w and b, final loss, distance to least squares."""
    ls_w, ls_b, ls_loss = least_squares(X, Y)
    rows = [f"{'method':<15} {'updates':>7} {'w':>11} {'b':>11} {'loss':>12} {'dist to LS':>11}"]
    for name, history in histories.items():
        loss = final_loss(X, Y, history)
        distance = math.hypot(history.w - ls_w, history.b - ls_b)
        rows.append(f"{name:<15} {history.updates:>7} {history.w:>+11.5f} {history.b:>+11.5f} "
                    f"{loss:>12.6g} {distance:>11.5f}")
    rows.append(f"{'least squares':<15} {'-':>7} {ls_w:>+11.5f} {ls_b:>+11.5f} "
                f"{ls_loss:>12.6g} {0.0:>11.5f}")
    return rows


def main(argv=None):
    import argparse

    import data
    from descent import divergence_report, exit_on
    from plumbing import options, output

    parser = options.Parser("Batch gradient descent against SGD: a table and three loss "
                            "figures.")
    options.add_side_by_side_args(parser, data)
    options.add(parser, "w0", -10.0)
    options.add(parser, "b0", -20.0)
    # The training scripts' --lr and --batch-size, which two runs cannot share: one line
    # that says what to use instead.
    parser.add_argument("--lr", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", help=argparse.SUPPRESS)
    parser.add_argument("--no-shuffle", action="store_true",
                        help="SGD visits the samples in their stored order, as the tutorial "
                             "does (and tutorial.py)")
    options.add_device_arg(parser)
    args, out_dir = options.parse(parser, argv)
    options.check_device(parser, args.device)
    if args.lr is not None:
        parser.error("--lr: the two runs have a step size each: --batch-lr (default 0.1) "
                     "and --sgd-lr (default 0.01)")
    if args.batch_size is not None:
        parser.error("--batch-size: this compares batch descent with SGD (batch size 1); "
                     "for mini-batches run train_sgd.py --batch-size")
    X, Y, source = data.load_data(parser, args)
    n = len(X)
    options.check_work(parser, args.epochs, n, 1)

    print(f"data: {source}; {args.epochs} epoch{'' if args.epochs == 1 else 's'} "
          f"from w={args.w0:g} b={args.b0:g}"
          + ("; SGD in the samples' stored order" if args.no_shuffle else ""))
    runs = {"batch GD": (args.batch_lr, "--batch-lr", n, "batch descent"),
            "SGD": (args.sgd_lr, "--sgd-lr", 1, "plain descent on single samples")}
    bounds = {name: stability_bound(X, size) for name, (_, _, size, _) in runs.items()}
    for name, (lr, flag, _, rule) in runs.items():
        if lr >= bounds[name]:
            print(f"warning: {flag} {lr:g} is at or above the stability bound "
                  f"{bounds[name]:.4f} of {rule}", flush=True)
    if args.epochs * n > 50_000:
        # The runs print nothing of their own here: say that this one takes a while.
        print(f"training: {args.epochs * n:,} SGD updates, about {args.epochs * n / 5000:.0f} s "
              "at 0.2 ms an update", flush=True)
    if args.device != "cpu":
        import torch

        print(f"device: {args.device} ({torch.cuda.get_device_name()})")
    on_device = X.to(args.device), Y.to(args.device)
    histories = {
        "batch GD": train_batch(*on_device, args.batch_lr, args.epochs, args.w0, args.b0,
                                verbose=False),
        "SGD": train_sgd(*on_device, args.sgd_lr, args.epochs, args.w0, args.b0,
                         shuffle=not args.no_shuffle, seed=args.order_seed, verbose=False),
    }
    diverged = {name: divergence_report(histories[name], -(-n // size), lr, bounds[name], rule)
                for name, (lr, _, size, rule) in runs.items()}
    diverged = {name: report for name, report in diverged.items() if report is not None}
    if not diverged:
        for row in result_table(X, Y, histories):
            print(row)

    from plots import tutorial  # only now: matplotlib's backend has been chosen

    ls_loss = least_squares(X, Y)[2]
    batch, sgd = histories["batch GD"], histories["SGD"]
    last = [] if "batch GD" in diverged else [final_loss(X, Y, batch)]
    figures = {
        "batch_loss.png": tutorial.plot_batch_loss(batch.epoch_losses + last, args.batch_lr,
                                                   ls_loss),
        "sgd_loss.png": tutorial.plot_sgd_loss(X, Y, sgd, args.sgd_lr, 1, ls_loss),
        "compare_loss.png": tutorial.plot_compare(
            X, Y, batch, sgd, [f"batch GD, lr={args.batch_lr:g}", f"SGD, lr={args.sgd_lr:g}"],
            ls_loss),
    }
    output.save_figures(out_dir, figures)  # a diverged run's too: its climb is the lesson
    for name, report in diverged.items():
        exit_on(parser, report, label=f"{name}: ")
    output.show_figures(figures, args.show)


if __name__ == "__main__":
    run_as_command(main)
