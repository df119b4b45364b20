"""See the descent: the runs' paths on the loss surface, loss against work, the step-size
sweep, and an animation of the line fitting the data.

Heavier than compare.py, so each stage prints a progress line, the file it wrote, and
what its picture shows in numbers; `--only` picks stages. Run `python visualize.py --help`
for the knobs; docs/pictures.md and docs/step_size.md are the lessons.
"""

from plumbing.run import run_as_command  # first: a stop while the libraries load is one line

# isort: split
import functools
import math
import time
from dataclasses import dataclass

import numpy as np

from descent import divergence_report, exit_on, gd_update, has_diverged, train
from model import (
    final_loss,
    full_loss_along,
    hessian_eigenvalues,
    least_squares,
    samples_after,
    stability_bound,
)
from train_batch import train_batch
from train_sgd import train_sgd

STAGES = {
    "surface": "loss_surface.png",
    "work": "loss_vs_work.png",
    "sweep": "step_sizes.png",
    "animation": "fit.gif",
}
TEST_ARGS = ["--epochs", "1", "--sweep-points", "3"]  # the fast setting the smoke tests run
W0, B0 = -10.0, -20.0  # every run starts where the tutorial's does
NEAR = 1.5  # "near the best fit": a full-data loss at most 1.5 times the least-squares loss


@dataclass
class Run:
    """One of the three runs drawn: its name, step size, the option that set it, its batch
    size, and whose stability bound applies to it."""

    name: str
    lr: float
    flag: str
    batch_size: int
    rule: str

    @property
    def label(self):
        return f"{self.name}, lr={self.lr:g}"


def sweep_lrs(points, low=1e-3, high=1.0):
    """`points` step sizes evenly spaced on a log scale from low to high, and the tutorial's
    0.1 if it falls between."""
    lrs = set(np.geomspace(low, high, points).round(12).tolist())
    return sorted(lrs | {0.1} if low <= 0.1 <= high else lrs)


def sweep_step_sizes(X, Y, lrs, epochs, batch_sizes, seed=42):
    """Train plain descent once per step size and batch size, from (W0, B0).

    descent.train stops a run as soon as its loss diverges, so the runs past the bound
    cost little. A run counts as diverged when it was stopped, or when it ended above the
    loss it started from. batch_sizes: {label: samples per update}, len(X) for batch descent.
    Returns {label: [(lr, final full-data loss (nan if stopped), diverged), ...]}.
    """
    from tqdm import tqdm

    sweep = {}
    # A bar on a terminal only (disable=None): quiet in pipes, logs and tests.
    bar = tqdm(total=len(batch_sizes) * len(lrs), desc="sweep runs", leave=False, disable=None)
    for label, batch_size in batch_sizes.items():
        runs = []
        for lr in lrs:
            bar.update()
            history = train(X, Y, gd_update, {"lr": lr}, epochs, batch_size, seed=seed,
                            w0=W0, b0=B0)
            start = history.epoch_losses[0]
            if has_diverged(history.step_losses[-1], start):
                runs.append((lr, math.nan, True))
            else:
                loss = final_loss(X, Y, history)
                runs.append((lr, loss, not loss <= start))
        sweep[label] = runs
    bar.close()
    return sweep


def sweep_summary(runs, bound):
    """One line: a method's best step size, and where it stopped surviving against its bound."""
    finished = [(loss, lr) for lr, loss, diverged in runs if not diverged]
    failed = [lr for lr, _, diverged in runs if diverged]
    if not finished:
        return f"every step size diverged; bound {bound:.4f}"
    best_loss, best_lr = min(finished)
    largest = max(lr for _, lr in finished)
    return (f"bound {bound:.4f}; lowest loss {best_loss:.4f} at lr {best_lr:.4g} "
            f"({best_lr / bound:.2f} x the bound); "
            f"survived up to lr {largest:.4g} ({largest / bound:.2f} x), "
            + (f"diverged from {min(failed):.4g} ({min(failed) / bound:.2f} x)" if failed
               else "none diverged"))


def samples_until_near(X, Y, history, batch_size, target):
    """Samples processed when the full-data loss first fell to `target`, or None."""
    reached = np.flatnonzero(full_loss_along(X, Y, history.path) <= target)
    return None if reached.size == 0 else samples_after(len(X), batch_size, int(reached[0]))


def loss_after(X, Y, history, epochs):
    """The full-data loss after `epochs` epochs: from the tutorial's list, or past its end
    the loss at the last (w, b)."""
    if epochs < len(history.epoch_losses):
        return history.epoch_losses[epochs]
    return final_loss(X, Y, history)


def step_factor(lr, curvature):
    """What one step does along a direction of this curvature: it multiplies the distance to
    the minimum by 1 - lr * curvature. Returns that factor (to 2 decimals) and its effect."""
    factor = round(1 - lr * curvature, 2) + 0.0  # + 0.0: no "-0.00"
    if factor < -1:
        return factor, "it overshoots by more each step: it diverges"
    if factor < 0:
        return factor, "it overshoots: a zig-zag"
    return factor, "straight to the bottom" if factor == 0 else "no overshoot"


def main(argv=None):
    import data
    from plumbing import options, output

    parser = options.Parser("Pictures of the descent: loss surface, loss against work, "
                        "step-size sweep, and the fit as an animation.")
    parser.add_argument("--only", action="append", choices=list(STAGES),
                        help="draw only this picture (repeat for several); default: all")
    options.add_side_by_side_args(parser, data)
    parser.add_argument("--minibatch-size", type=options.number(int, "[1, inf)"), default=10,
                        help="batch size of the mini-batch run")
    parser.add_argument("--minibatch-lr", type=options.number(float, "(0, inf)"), default=0.04,
                        help="step size of the mini-batch run")
    parser.add_argument("--sweep-points", type=options.number(int, "[2, 200]"), default=25,
                        help="step sizes tried per method, 2 to 200, log-spaced over --sweep-range "
                        "(the tutorial's 0.1 added when inside it)")
    parser.add_argument("--sweep-range", type=options.number(float, "[1e-6, 1e3]"), nargs=2,
                        default=[1e-3, 1.0], metavar=("LOW", "HIGH"),
                        help="smallest and largest step size swept")
    args, out_dir = options.parse(parser, argv)
    low, high = args.sweep_range
    if low >= high:
        parser.error(f"--sweep-range {low:g} {high:g}: the first must be below the second")
    X, Y, source = data.load_data(parser, args)
    n = len(X)
    options.check_work(parser, args.epochs, n, 1)
    if args.minibatch_size >= n:
        parser.error(f"--minibatch-size {args.minibatch_size} must be below the {n} samples "
                     "(a batch of all of them is batch descent)")
    stages = [stage for stage in STAGES if args.only is None or stage in args.only]

    # what the data says: the best fit, the shape of the loss, each run's stability bound
    size = args.minibatch_size
    batch, minibatch, sgd = runs = [
        Run("batch GD", args.batch_lr, "--batch-lr", n, "batch descent"),
        Run(f"mini-batch {size}", args.minibatch_lr, "--minibatch-lr", size,
            f"plain descent on the worst batch of {size} samples"),
        Run("SGD", args.sgd_lr, "--sgd-lr", 1, "plain descent on single samples")]
    bounds = {run.name: stability_bound(X, run.batch_size) for run in runs}
    steepest, shallowest = hessian_eigenvalues(X)
    ls_w, ls_b, ls_loss = least_squares(X, Y)
    print(f"data: {source}; {args.epochs} epoch{'' if args.epochs == 1 else 's'} "
          f"from w={W0:g} b={B0:g}")
    print(f"least squares: w={ls_w:+.6f} b={ls_b:+.6f} loss={ls_loss:.6f}")
    print(f"curvature of the loss: {steepest:.2f} in its steepest direction, "
          f"{shallowest:.2f} in its shallowest")
    print(f"stability bound of {batch.name}: {bounds[batch.name]:.4f} = 2 / {steepest:.2f}")
    print(f"stability bound of {minibatch.name}: {bounds[minibatch.name]:.4f}, "
          f"from its worst batch")
    print(f"stability bound of {sgd.name}: {bounds[sgd.name]:.4f} = "
          f"1 / (1 + {1 / bounds[sgd.name] - 1:.4g}), the largest x^2")
    for run in runs:
        if run.lr >= bounds[run.name]:
            print(f"warning: {run.flag} {run.lr:g} is at or above the stability bound "
                  f"{bounds[run.name]:.4f} of {run.rule}", flush=True)

    import matplotlib.pyplot as plt  # only now: the backend has been chosen

    from plots import step_size, surface
    from plots.style import run_style

    # the three runs, by the tutorial's functions
    histories, diverged = {}, {}
    if set(stages) & {"surface", "work", "animation"}:
        for run in runs:
            if run.batch_size == n:
                history = train_batch(X, Y, run.lr, args.epochs, W0, B0, verbose=False)
            else:
                history = train_sgd(X, Y, run.lr, args.epochs, W0, B0, run.batch_size,
                                    seed=args.order_seed, verbose=False)
            histories[run.name] = history
            report = divergence_report(history, -(-n // run.batch_size), run.lr,
                                       bounds[run.name], run.rule)
            if report is not None:  # drawn all the same; its one line ends the run
                diverged[run.label] = f"{run.name}: {report}"
                continue
            print(f"trained {run.label}: {history.updates} update"
                  f"{'' if history.updates == 1 else 's'}, final w={history.w:+.6f} "
                  f"b={history.b:+.6f} loss={final_loss(X, Y, history):.6f}")
    paths = {run.label: histories[run.name].path for run in runs if run.name in histories}
    styles = {run.label: run_style(run.batch_size, n) for run in runs}

    # the pictures, one stage each; written together at the end (the GIF drawn then)
    figures, files = {}, {}
    for number, stage in enumerate(stages, start=1):
        started = time.perf_counter()
        name = STAGES[stage]
        if stage == "surface":
            figures[name] = surface.plot_loss_surface(X, Y, paths, styles, diverged)
            across, along = step_factor(batch.lr, steepest), step_factor(batch.lr, shallowest)
            caption = [f"{batch.label} multiplies its distance to the minimum by "
                       f"1 - lr*curvature each step: {across[0]:.2f} in the steepest direction "
                       f"({across[1]}), {along[0]:.2f} in the shallowest ({along[1]})"]
        elif stage == "work":
            figures[name] = surface.plot_loss_vs_work(
                X, Y, paths, {run.label: run.batch_size for run in runs}, styles)
            target = NEAR * ls_loss
            reached = [(run.name, samples_until_near(X, Y, histories[run.name],
                                                     run.batch_size, target)) for run in runs]
            caption = [f"samples until the loss first fell to {NEAR:g} x least squares "
                       f"({target:.4f}): " + ", ".join(
                           f"{who} " + ("never" if count is None else f"{count:,}")
                           for who, count in reached)]
        elif stage == "sweep":
            sweep = sweep_step_sizes(X, Y, sweep_lrs(args.sweep_points, low, high), args.epochs,
                                     {run.name: run.batch_size for run in runs},
                                     seed=args.order_seed)
            start_loss = float(full_loss_along(X, Y, [(W0, B0)])[0])
            figures[name] = step_size.plot_step_size_sweep(
                sweep, bounds, start_loss, ls_loss, args.epochs,
                styles={run.name: run_style(run.batch_size, n) for run in runs})
            caption = [f"{label}: {sweep_summary(results, bounds[label])}"
                       for label, results in sweep.items()]
        else:
            animated = {run.label: histories[run.name].path for run in (batch, sgd)}
            figure, draw, frames = surface.animate_fit(
                X, Y, animated, {batch.label: 1, sgd.label: n}, styles)
            # save_gif(figure, draw, count, path): the output folder supplies the path.
            files[name] = functools.partial(surface.save_gif, figure, draw, len(frames))
            animation_figure = figure
            epochs = min(2, args.epochs)
            caption = [f"{len(frames)} frames, 10 a second; "
                       f"after {epochs} epoch{'' if epochs == 1 else 's'}: " + ", ".join(
                           f"{run.name} loss={loss_after(X, Y, histories[run.name], epochs):.3f}"
                           for run in (batch, sgd))]
        print(f"[{number}/{len(stages)}] {stage}: {time.perf_counter() - started:.1f} s")
        for line in caption:
            print(f"  {line}", flush=True)
    output.save_figures(out_dir, figures, files)  # a diverged run's too: its climb shows
    if files:
        plt.close(animation_figure)
    for report in diverged.values():
        exit_on(parser, report)
    output.show_figures(figures, args.show)


if __name__ == "__main__":
    run_as_command(main)
