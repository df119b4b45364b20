"""See the descent: the runs' paths on the loss surface, loss against work, the step-size
sweep, and an animation of the line fitting the data.

Heavier than compare.py, so each stage prints a progress line, the file it wrote, and
what its picture shows in numbers; `--only` picks stages. Run `python visualize.py --help`
for the knobs; docs/pictures.md and docs/step_size.md are the lessons.
"""

from plumbing.run import run_as_command  # first: a stop while the libraries load is one line

# isort: split
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from descent import batches, divergence_report, exit_on, gd_update, has_diverged
from lines import bound_rule, bound_warning, count, final_line, least_squares_line, short
from model import (
    criterion,
    final_loss,
    forward,
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

# The command line's knobs and their defaults, each declared in OPTIONS below or in the
# options the training scripts share (plumbing/options.py); the data's options from data.py.
KNOBS = {"only": None, "epochs": 20, "batch_lr": 0.1, "sgd_lr": 0.01, "order_seed": 42,
         "minibatch_size": 10, "minibatch_lr": 0.04, "sweep_points": 25,
         "sweep_range": [1e-3, 1.0]}
OPTIONS = {
    "epochs": (int, "[1, 100_000]", "passes over the data (at most a million updates and a "
               "billion samples in all: the three runs, and the sweep's three at every step "
               "size, each counted as SGD's)"),
    "only": (str, list(STAGES), "draw only this picture (repeat for several); default: all",
             {"action": "append", "most": len(STAGES)}),
    "minibatch_size": (int, "[1, inf)", "batch size of the mini-batch run, below the number "
                       "of samples"),
    "minibatch_lr": (float, "(0, 1e38]", "step size of the mini-batch run"),
    "sweep_points": (int, "[2, 200]", "step sizes tried per method, log-spaced over "
                     "--sweep-range (the tutorial's 0.1 added when inside it)"),
    "sweep_range": (float, "[1e-6, 1e3]", "smallest and largest step size swept",
                    {"nargs": 2, "metavar": ("LOW", "HIGH")}),
}


@dataclass
class Run:
    """One of the three runs drawn: its name, step size and batch size, the rule whose
    stability bound applies to it and that bound; its History once trained."""

    name: str
    lr: float
    batch_size: int
    rule: str
    bound: float
    history: object = None

    @property
    def label(self):
        return f"{self.name}, lr={self.lr:g}"


def runs_of(X, args):
    """The three runs: batch descent, the mini-batch and SGD."""
    size = args.minibatch_size
    runs = [("batch GD", args.batch_lr, len(X)), (f"mini-batch {size}", args.minibatch_lr, size),
            ("SGD", args.sgd_lr, 1)]
    return [Run(name, lr, batch_size, bound_rule(batch_size, len(X)),
                stability_bound(X, batch_size)) for name, lr, batch_size in runs]


def check_settings(parser, args, n):
    """Refuse, in one line, a sweep that is no range and a mini-batch that is no mini-batch."""
    low, high = args.sweep_range
    if low >= high:
        parser.error(f"--sweep-range {low:g} {high:g}: the first must be below the second")
    if args.minibatch_size >= n:
        parser.error(f"--minibatch-size {args.minibatch_size} must be below the {n} samples "
                     "(a batch of all of them is batch descent)")


def sweep_lrs(points, low=1e-3, high=1.0):
    """`points` step sizes evenly spaced on a log scale from low to high, and the tutorial's
    0.1 if it falls between."""
    lrs = set(np.geomspace(low, high, points).round(12).tolist())
    return sorted(lrs | {0.1} if low <= 0.1 <= high else lrs)


def sweep_step_sizes(X, Y, lrs, epochs, batch_sizes, seed=42):
    """Train plain descent once per step size and batch size, from (W0, B0).

    The runs of one batch size go together: w and b hold one entry per step size, each
    entry's loss is its own batch mean, and the gradient of their sum is each run's own
    gradient, so every entry takes the steps descent.train would take alone (the batches
    in the same orders, drawn from a generator seeded by `seed`). A run counts as diverged
    when one of its losses did (descent.has_diverged), or when it ended above the loss it
    started from. batch_sizes: {label: samples per update}, len(X) for batch descent.
    Returns {label: [(lr, final full-data loss (nan if diverged), diverged), ...]}.
    """
    start = criterion(forward(X, W0, B0), Y).item()
    sweep = {}
    for label, batch_size in batch_sizes.items():
        lr = torch.tensor(lrs).reshape(-1, 1)
        w = torch.full_like(lr, W0).requires_grad_()
        b = torch.full_like(lr, B0).requires_grad_()
        generator = torch.Generator().manual_seed(seed)
        worst = torch.zeros_like(lr)  # each run's largest loss so far
        for _ in range(epochs):
            for X_batch, Y_batch in batches(X, Y, batch_size, generator):
                # Steps 1 and 2, for every step size: a row of predictions each, its mean loss.
                losses = ((forward(X_batch.T, w, b) - Y_batch.T) ** 2).mean(dim=1, keepdim=True)
                # Step 3: the runs share no parameter, so the sum's gradient is each one's own.
                losses.sum().backward()
                gd_update([w, b], {}, {"lr": lr})  # Step 4
                w.grad.zero_()  # Step 5
                b.grad.zero_()
                worst = torch.maximum(worst, losses.detach())  # a nan stays: it diverged
        final = full_loss_along(X, Y, torch.cat([w, b], dim=1).tolist())
        runs = []
        for step, loss, highest in zip(lrs, final.tolist(), worst.reshape(-1).tolist(),
                                       strict=True):
            if has_diverged(highest, start):
                runs.append((step, math.nan, True))
            else:
                runs.append((step, loss, not loss <= start))
        sweep[label] = runs
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


def print_theory(X, Y, source, epochs, runs):
    """What the data says before any run: the best fit, the shape of the loss, each run's
    stability bound, and a warning for each step size at or above its bound."""
    batch, minibatch, sgd = runs
    steepest, shallowest = hessian_eigenvalues(X)
    print(f"data: {source}; {count(epochs, 'epoch')} from w={W0:g} b={B0:g}")
    print(least_squares_line(*least_squares(X, Y)))
    print(f"curvature of the loss: {steepest:.2f} in its steepest direction, "
          f"{shallowest:.2f} in its shallowest")
    print(f"stability bound of {batch.name}: {short(batch.bound)} = 2 / {steepest:.2f}")
    print(f"stability bound of {minibatch.name}: {short(minibatch.bound)}, from its worst batch")
    print(f"stability bound of {sgd.name}: {short(sgd.bound)} = "
          f"1 / (1 + {1 / sgd.bound - 1:.4g}), the largest x^2")
    for run in runs:
        if run.lr >= run.bound:
            print(bound_warning(f"{run.name} lr", run.lr, run.bound, run.rule), flush=True)


def train_runs(X, Y, runs, epochs, seed):
    """Train each run by the tutorial's own loop (into run.history) and print where it
    ended. Returns {label: the line saying where it diverged} of the runs that did: they
    are drawn all the same, and the line then ends the script."""
    diverged = {}
    for run in runs:
        if run.batch_size == len(X):
            run.history = train_batch(X, Y, run.lr, epochs, W0, B0, verbose=False)
        else:
            run.history = train_sgd(X, Y, run.lr, epochs, W0, B0, run.batch_size, seed=seed,
                                    verbose=False)
        report = divergence_report(run.history, -(-len(X) // run.batch_size), run.lr,
                                   run.bound, run.rule, final_loss(X, Y, run.history))
        if report is not None:
            diverged[run.label] = f"{run.name}: {report}"
        else:
            print(final_line(run.history.w, run.history.b, final_loss(X, Y, run.history),
                             count(run.history.updates, "update"), f"trained {run.label}"))
    return diverged


def styles_of(runs, n, key="label"):
    """{run's label (or name): its line style, by its batch size}."""
    from plots.style import run_style

    return {getattr(run, key): run_style(run.batch_size, n) for run in runs}


def draw_surface(X, Y, runs, diverged, args):
    """The paths on the loss surface; in numbers, what a step of batch descent does to its
    distance from the minimum along each direction."""
    from plots import surface

    paths = {run.label: run.history.path for run in runs}
    figure = surface.plot_loss_surface(X, Y, paths, styles_of(runs, len(X)), diverged)
    batch, steepest, shallowest = runs[0], *hessian_eigenvalues(X)
    across, along = step_factor(batch.lr, steepest), step_factor(batch.lr, shallowest)
    return figure, [f"{batch.label} multiplies its distance to the minimum by "
                    f"1 - lr*curvature each step: {across[0]:.2f} in the steepest direction "
                    f"({across[1]}), {along[0]:.2f} in the shallowest ({along[1]})"]


def draw_work(X, Y, runs, diverged, args):
    """The loss against the samples processed; in numbers, how many each run took to come
    near the best fit."""
    from plots import surface

    figure = surface.plot_loss_vs_work(X, Y, {run.label: run.history.path for run in runs},
                                       {run.label: run.batch_size for run in runs},
                                       styles_of(runs, len(X)))
    target = NEAR * least_squares(X, Y)[2]
    reached = [(run.name, samples_until_near(X, Y, run.history, run.batch_size, target))
               for run in runs]
    return figure, [f"samples until the loss first fell to {NEAR:g} x least squares "
                    f"({target:.4f}): " + ", ".join(
                        f"{who} " + ("never" if samples is None else f"{samples:,}")
                        for who, samples in reached)]


def draw_sweep(X, Y, runs, diverged, args):
    """The final loss against the step size, for each run's batch size; in numbers, each
    one's best step size and where it stopped surviving."""
    from plots import step_size

    sweep = sweep_step_sizes(X, Y, sweep_lrs(args.sweep_points, *args.sweep_range),
                             args.epochs, {run.name: run.batch_size for run in runs},
                             seed=args.order_seed)
    bounds = {run.name: run.bound for run in runs}
    start_loss = float(full_loss_along(X, Y, [(W0, B0)])[0])
    figure = step_size.plot_step_size_sweep(sweep, bounds, start_loss, least_squares(X, Y)[2],
                                            args.epochs, styles=styles_of(runs, len(X), "name"))
    return figure, [f"{name}: {sweep_summary(results, bounds[name])}"
                    for name, results in sweep.items()]


def draw_animation(X, Y, runs, diverged, args):
    """The fit as an animation, batch descent beside SGD, drawn frame by frame as the GIF
    is written; in numbers, their losses after the first epochs."""
    import matplotlib.pyplot as plt

    from plots import surface

    batch, sgd = runs[0], runs[2]
    figure, draw, frames = surface.animate_fit(
        X, Y, {run.label: run.history.path for run in (batch, sgd)},
        {batch.label: 1, sgd.label: len(X)}, styles_of(runs, len(X)))

    def write(path):
        surface.save_gif(figure, draw, len(frames), path)
        plt.close(figure)

    epochs = min(2, args.epochs)
    return write, [f"{len(frames)} frames, 10 a second; after {count(epochs, 'epoch')}: "
                   + ", ".join(f"{run.name} loss={loss_after(X, Y, run.history, epochs):.3f}"
                               for run in (batch, sgd))]


# Each stage's drawing: a function of (X, Y, runs, diverged, args) returning the figure
# (or, for the GIF, the function that writes it) and the lines that say what it shows.
DRAW = {"surface": draw_surface, "work": draw_work, "sweep": draw_sweep,
        "animation": draw_animation}


def draw(X, Y, runs, diverged, stages, args):
    """Each stage's picture, with a progress line and what it shows in numbers. Returns
    ({name: figure}, {name: write(path)}), to be written together at the end."""
    figures, files = {}, {}
    for number, stage in enumerate(stages, start=1):
        started = time.perf_counter()
        drawn, caption = DRAW[stage](X, Y, runs, diverged, args)
        (files if callable(drawn) else figures)[STAGES[stage]] = drawn
        print(f"[{number}/{len(stages)}] {stage}: {time.perf_counter() - started:.1f} s")
        for line in caption:
            print(f"  {line}", flush=True)
    return figures, files


def main(argv=None):
    import data
    from plumbing import options, output

    parser = options.Parser("Pictures of the descent: loss surface, loss against work, "
                            "step-size sweep, and the fit as an animation.")
    options.add_settings(parser, KNOBS, OPTIONS)
    options.add_data_args(parser, data)
    args, out_dir = options.parse(parser, argv)
    X, Y, source = data.load_data(parser, args)
    check_settings(parser, args, len(X))
    stages = [stage for stage in STAGES if args.only is None or stage in args.only]
    # The three runs are trained once for the pictures, and once at every step size swept.
    trainings = (bool(set(stages) & {"surface", "work", "animation"})
                 + ("sweep" in stages) * len(sweep_lrs(args.sweep_points, *args.sweep_range)))
    options.check_work(parser, args.epochs, len(X), 1, runs=3 * trainings)

    runs = runs_of(X, args)
    print_theory(X, Y, source, args.epochs, runs)
    diverged = {}
    if set(stages) & {"surface", "work", "animation"}:  # the pictures of the three runs
        diverged = train_runs(X, Y, runs, args.epochs, args.order_seed)
    figures, files = draw(X, Y, runs, diverged, stages, args)
    output.save_figures(out_dir, figures, files)  # a diverged run's too: its climb shows
    for report in diverged.values():
        exit_on(parser, report)
    output.show_figures(figures, args.show)


if __name__ == "__main__":
    run_as_command(main)
