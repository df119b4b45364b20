"""Batch gradient descent against stochastic gradient descent on the same data.

Trains both, prints a table, and writes the tutorial's two loss figures and its comparison.
Run `python compare.py --help` for the knobs; docs/compare.md is the lesson.
"""

from plumbing.run import run_as_command  # first: a stop while the libraries load is one line

# isort: split
import math

from descent import divergence_report, exit_on
from lines import bound_rule, bound_warning, count
from model import final_loss, least_squares, stability_bound
from train_batch import train_batch
from train_sgd import train_sgd

# The command line's knobs and their defaults, each declared in OPTIONS below or in the
# options the training scripts share (plumbing/options.py); the data's options from data.py.
KNOBS = {"epochs": 20, "batch_lr": 0.1, "sgd_lr": 0.01, "order_seed": 42, "w0": -10.0,
         "b0": -20.0, "no_shuffle": False, "device": "cpu"}
OPTIONS = {
    "no_shuffle": (bool, None, "SGD visits the samples in their stored order, as the tutorial "
                   "does (and tutorial.py)"),
}
# The training scripts' options that two runs cannot share: hidden from --help, and refused
# in one line that says what to use instead.
NOT_SHARED = {
    "lr": f"the two runs have a step size each: --batch-lr (default {KNOBS['batch_lr']:g}) "
          f"and --sgd-lr (default {KNOBS['sgd_lr']:g})",
    "batch_size": "this compares batch descent with SGD (batch size 1); for mini-batches run "
                  "train_sgd.py --batch-size",
}
# The two runs: {name: (the knob of its step size, its batch size (None: all the samples))}.
RUNS = {"batch GD": ("batch_lr", None), "SGD": ("sgd_lr", 1)}


def check_settings(parser, args):
    """Refuse, in one line, the options of a single run."""
    for name, instead in NOT_SHARED.items():
        if getattr(args, name) is not None:
            parser.error(f"--{name.replace('_', '-')}: {instead}")


def print_header(X, source, args):
    """The data and the start, and a warning for a step size at or above its bound."""
    print(f"data: {source}; {count(args.epochs, 'epoch')} from w={args.w0:g} b={args.b0:g}"
          + ("; SGD in the samples' stored order" if args.no_shuffle else ""))
    for name, (knob, batch_size) in RUNS.items():
        lr, bound = getattr(args, knob), stability_bound(X, batch_size)
        if lr >= bound:
            print(bound_warning(f"{name} lr", lr, bound, bound_rule(batch_size or len(X), len(X))),
                  flush=True)
    if args.epochs * len(X) > 50_000:
        # The runs print nothing of their own here: say that this one takes a while.
        print(f"training: {args.epochs * len(X):,} SGD updates, about "
              f"{args.epochs * len(X) / 5000:.0f} s at 0.2 ms an update", flush=True)
    if args.device != "cpu":
        import torch

        print(f"device: {args.device} ({torch.cuda.get_device_name()})")


def train_both(X, Y, args):
    """Both runs from the same start, each by the tutorial's own loop: {name: History}."""
    return {
        "batch GD": train_batch(X, Y, args.batch_lr, args.epochs, args.w0, args.b0,
                                verbose=False),
        "SGD": train_sgd(X, Y, args.sgd_lr, args.epochs, args.w0, args.b0,
                         shuffle=not args.no_shuffle, seed=args.order_seed, verbose=False),
    }


def divergence_reports(X, Y, histories, args):
    """{name: the line saying where it diverged} of each run that did."""
    reports = {}
    for name, (knob, batch_size) in RUNS.items():
        updates_per_epoch = 1 if batch_size is None else -(-len(X) // batch_size)
        reports[name] = divergence_report(histories[name], updates_per_epoch,
                                          getattr(args, knob), stability_bound(X, batch_size),
                                          bound_rule(batch_size or len(X), len(X)),
                                          final_loss(X, Y, histories[name]))
    return {name: report for name, report in reports.items() if report is not None}


def result_table(X, Y, histories):
    """One row per run: updates, final w and b, final loss, distance to least squares."""
    ls_w, ls_b, ls_loss = least_squares(X, Y)
    rows = [f"{'method':<15} {'updates':>7} {'w':>11} {'b':>11} {'loss':>12} {'dist to LS':>11}"]
    for name, history in histories.items():
        loss = final_loss(X, Y, history)
        distance = math.hypot(history.w - ls_w, history.b - ls_b)
        rows.append(f"{name:<15} {history.updates:>7} {history.w:>+11.5f} {history.b:>+11.5f} "
                    f"{loss:>#12.6g} {distance:>11.5f}")
    rows.append(f"{'least squares':<15} {'-':>7} {ls_w:>+11.5f} {ls_b:>+11.5f} "
                f"{ls_loss:>#12.6g} {0.0:>11.5f}")
    return rows


def figures_of(X, Y, histories, args, diverged):
    """The tutorial's two loss figures, and the two runs in one."""
    from plots import tutorial  # only now: matplotlib's backend has been chosen

    ls_loss = least_squares(X, Y)[2]
    batch, sgd = histories["batch GD"], histories["SGD"]
    last = [] if "batch GD" in diverged else [final_loss(X, Y, batch)]
    return {
        "batch_loss.png": tutorial.plot_batch_loss(batch.epoch_losses + last, args.batch_lr,
                                                   ls_loss),
        "sgd_loss.png": tutorial.plot_sgd_loss(X, Y, sgd, args.sgd_lr, 1, ls_loss),
        "compare_loss.png": tutorial.plot_compare(
            X, Y, batch, sgd, [f"batch GD, lr={args.batch_lr:g}", f"SGD, lr={args.sgd_lr:g}"],
            ls_loss),
    }


def main(argv=None):
    import argparse

    import data
    from plumbing import options, output

    parser = options.Parser("Batch gradient descent against SGD: a table and three loss "
                            "figures.")
    options.add_settings(parser, KNOBS, OPTIONS)
    for name in NOT_SHARED:
        parser.add_argument(options.flag(name), dest=name, help=argparse.SUPPRESS)
    options.add_data_args(parser, data)
    args, out_dir = options.parse(parser, argv)
    options.check_device(parser, args.device)
    check_settings(parser, args)
    X, Y, source = data.load_data(parser, args)
    options.check_work(parser, args.epochs, len(X), 1)

    print_header(X, source, args)
    histories = train_both(X.to(args.device), Y.to(args.device), args)
    diverged = divergence_reports(X, Y, histories, args)
    if not diverged:
        for row in result_table(X, Y, histories):
            print(row)
    figures = figures_of(X, Y, histories, args, diverged)
    output.save_figures(out_dir, figures)  # a diverged run's too: its climb is the lesson
    for name, report in diverged.items():
        exit_on(parser, report, label=f"{name}: ")
    output.show_figures(figures, args.show)


if __name__ == "__main__":
    run_as_command(main)
