"""See the descent: each method's path on the loss surface, loss against work, the
step-size sweep, and an animation of the line fitting the data.

Heavier than compare.py, so each stage prints a progress line; `--only` picks stages.
Run `python visualize.py --help` for the knobs.
"""

import math
import os
import time

import numpy as np

import cli
from data import make_data
from model import DivergenceError, full_loss_along, least_squares, stability_bound
from train_batch import train_batch
from train_sgd import train_sgd

STAGES = {
    "surface": "loss_surface.png",
    "work": "loss_vs_work.png",
    "sweep": "step_sizes.png",
    "animation": "fit.gif",
}


def sweep_step_sizes(X, Y, lrs, epochs, batch_sizes, seed=42):
    """Train once per step size and method; diverged runs are kept, marked as such.

    A run counts as diverged when training stopped it (loss not finite, or a million times
    its start) or when it ended the budget above the loss it started from.
    batch_sizes: {label: batch size}, where len(X) means batch descent.
    Returns {label: [(lr, final full-data loss or nan, diverged), ...]}.
    """
    sweep = {}
    for label, batch_size in batch_sizes.items():
        runs = []
        for lr in lrs:
            try:
                if batch_size >= len(X):
                    record = train_batch(X, Y, lr=lr, epochs=epochs)
                else:
                    record = train_sgd(X, Y, lr=lr, epochs=epochs, seed=seed,
                                       batch_size=batch_size)
                final, start = record.epoch_losses[-1], record.epoch_losses[0]
                runs.append((lr, final, final > start))
            except DivergenceError:
                runs.append((lr, math.nan, True))
        sweep[label] = runs
    return sweep


def sweep_lrs(points):
    """Step sizes evenly spaced on a log scale from 0.001 to 1, always including 0.1."""
    return sorted(set(np.geomspace(1e-3, 1.0, points).round(12).tolist()) | {0.1})


def main(argv=None):
    parser = cli.Parser("Pictures of the descent: loss surface, loss against work, "
                        "step-size sweep, and the fit as an animation.")
    parser.add_argument("--only", action="append", choices=list(STAGES),
                        help="draw only this picture (repeat for several); default: all")
    cli.add_side_by_side_args(parser)
    parser.add_argument("--minibatch-size", type=cli.positive_int, default=10,
                        help="batch size of the mini-batch run")
    parser.add_argument("--minibatch-lr", type=cli.positive_float, default=0.04,
                        help="step size of the mini-batch run")
    parser.add_argument("--sweep-points", type=cli.bounded_int(2, 200), default=25,
                        help="step sizes tried per method, from 0.001 to 1 (0.1 always added)")
    cli.add_output_args(parser, seed=True)
    args, out_dir = cli.parse_args(parser, argv)
    stages = [stage for stage in STAGES if args.only is None or stage in args.only]
    if args.minibatch_size >= args.n:
        parser.error(f"--minibatch-size must be below --n ({args.n}); {args.n} is batch descent")

    X, Y = make_data(n=args.n, seed=args.seed)
    reference = least_squares(X, Y)
    setups = {"batch GD": (args.batch_lr, args.n),
              f"mini-batch {args.minibatch_size}": (args.minibatch_lr, args.minibatch_size),
              "SGD": (args.sgd_lr, 1)}
    bounds = {label: stability_bound(X, size) for label, (_, size) in setups.items()}
    for label, (lr, _) in setups.items():
        if lr >= bounds[label]:
            print(f"warning: {label} lr={lr:g} is at or above its stability bound "
                  f"{bounds[label]:.4f}", flush=True)

    import matplotlib.pyplot as plt  # only now: the backend has been chosen

    import plots

    records = {}
    if set(stages) & {"surface", "work", "animation"}:
        try:
            for label, (lr, size) in setups.items():
                if size == args.n:
                    records[label] = train_batch(X, Y, lr=lr, epochs=args.epochs)
                else:
                    records[label] = train_sgd(X, Y, lr=lr, epochs=args.epochs,
                                               seed=args.order_seed, batch_size=size)
        except DivergenceError as error:
            parser.exit(1, f"{parser.prog}: error: {label}: {error}\n")
        for label, record in records.items():
            print(f"trained {label}: {record.updates} updates, "
                  f"final loss={record.epoch_losses[-1]:.6f}")

    figures = {}
    for number, stage in enumerate(stages, start=1):
        started = time.perf_counter()
        path = os.path.join(out_dir, STAGES[stage])
        if stage == "surface":
            figures[path] = plots.plot_loss_surface(X, Y, records, reference)
        elif stage == "work":
            figures[path] = plots.plot_loss_vs_work(X, Y, records, reference)
        elif stage == "sweep":
            lrs = sweep_lrs(args.sweep_points)
            sizes = {label: size for label, (_, size) in setups.items()}
            sweep = sweep_step_sizes(X, Y, lrs, args.epochs, sizes, seed=args.order_seed)
            # Every run starts at the training functions' default start, w=-10, b=-20.
            start_loss = full_loss_along(X, Y, [(-10.0, -20.0)])[0]
            figures[path] = plots.plot_step_size_sweep(sweep, bounds, start_loss, reference[2],
                                                       args.epochs)
            for label, runs in sweep.items():
                worked = [lr for lr, _, diverged in runs if not diverged]
                failed = [lr for lr, _, diverged in runs if diverged]
                largest = (f"largest step size that did not diverge {max(worked):.4g}"
                           if worked else "every step size diverged")
                smallest = (f"smallest that did {min(failed):.4g}" if failed
                            else "none diverged")
                print(f"  {label}: {largest}, {smallest}, stability bound {bounds[label]:.4f}")
        else:
            from matplotlib.animation import PillowWriter

            figure, animation = plots.animate_fit(X, Y, records["batch GD"], records["SGD"])
            cli.write_atomically(path, lambda temporary, a=animation:
                                 a.save(temporary, writer=PillowWriter(fps=10), dpi=80))
            plt.close(figure)
        if path in figures:
            cli.save_figure(figures[path], path)
        print(f"[{number}/{len(stages)}] {stage}: wrote {path} "
              f"({time.perf_counter() - started:.1f} s)", flush=True)
    cli.show_figures(figures, args.show)


if __name__ == "__main__":
    main()
