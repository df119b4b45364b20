"""SGD's noise floor, predicted and measured, and the cures that make SGD settle.

At a fixed step size SGD never settles: it jitters around the least-squares point in a
"noise ball" whose size the step and the batch set. This script measures that floor,
started at least squares so that nothing but the noise is measured, for several step
sizes, batch sizes and both ways of drawing samples, and holds it against the classic
prediction lr * tr(H) * L* / (2B). Then it runs the cures side by side: step sizes that
decay (schedules.py) and iterate averaging. Run `python noise_floor.py --help` for the
knobs; docs/settling.md is the lesson.
"""

from plumbing.run import run_as_command  # first: a stop while the libraries load is one line

# isort: split
import numpy as np
import torch

from descent import gd_update, train_cells
from lines import short
from model import full_loss_along, hessian, least_squares, stability_bound
from schedules import SCHEDULES, step_sizes

TEST_ARGS = ["--repeats", "4", "--settle", "100", "--measure", "100", "--epochs", "5"]
STEP_SIZES = [0.001, 0.002, 0.005, 0.01, 0.02, 0.03]
BATCH_SIZES = [1, 5, 20]
SAMPLINGS = ["replacement", "reshuffle"]


def predicted_floor(X, Y, lr, batch_size):
    """The classic noise floor of SGD: the expected full-data loss above the least-squares
    loss L*, lr * tr(H) * L* / (2 B), for small steps and samples drawn with replacement."""
    trace = hessian(X).trace().item()
    return lr * trace * least_squares(X, Y)[2] / (2 * batch_size)


def measured_floors(X, Y, lrs, batch_size, sampling, repeats, settle, measure, seed=42):
    """The stationary excess loss at each step size: `repeats` runs per step size, all at
    once, from least squares (so no transient is measured), each `settle` updates to settle
    and then `measure` more. Returns, per step size, the excess averaged over every update
    measured, and over the points at the ends of epochs only."""
    n = len(X)
    per_epoch = -(-n // batch_size)
    epochs = -(-(settle + measure) // per_epoch)
    ls_w, ls_b, ls_loss = least_squares(X, Y)
    cells = torch.tensor(lrs, dtype=torch.float32).repeat_interleave(repeats)
    path = train_cells(X, Y, gd_update, {"lr": cells}, epochs, batch_size, sampling,
                       seed=seed, w0=ls_w, b0=ls_b)
    excess = full_loss_along(X, Y, path.reshape(-1, 2)).reshape(path.shape[:2]) - ls_loss
    first = epochs * per_epoch - measure  # the last `measure` updates
    every = excess[first + 1:].reshape(-1, len(lrs), repeats).mean(axis=(0, 2))
    ends = np.arange(per_epoch, epochs * per_epoch + 1, per_epoch)
    ends = ends[ends > first]
    at_ends = excess[ends].reshape(-1, len(lrs), repeats).mean(axis=(0, 2))
    return every, at_ends


def schedule_runs(X, Y, lr, epochs, batch_size, schedule_options, seed=42, w0=-10.0, b0=-20.0):
    """Every schedule from the same start on the same sample order, all at once.

    Returns {name: path}; the paths are float64 arrays of (updates + 1, 2).
    """
    at = list(schedule_step_sizes(lr, epochs, schedule_options).values())
    names = list(schedule_step_sizes(lr, epochs, schedule_options))
    path = train_cells(X, Y, gd_update, {"lr": torch.full((len(names),), lr)}, epochs,
                       batch_size, "reshuffle", seed=seed, w0=w0, b0=b0, shared_order=True,
                       schedule=lambda epoch: torch.tensor([step(epoch) for step in at]))
    return {name: path[:, cell] for cell, name in enumerate(names)}


def schedule_step_sizes(lr, epochs, schedule_options=None):
    """{schedule: its step size as a function of the epoch}, with each schedule's default
    options unless schedule_options ({schedule: its options}) says otherwise."""
    options = schedule_options or {}
    return {name: step_sizes(name, lr, epochs, options.get(name)) for name in SCHEDULES}


def running_average(path, first):
    """The Polyak-Ruppert average after every update from update `first` on: the mean of
    the points path[first], ..., path[t] for each t >= first."""
    tail = np.asarray(path[first:], dtype=np.float64)
    return np.cumsum(tail, axis=0) / np.arange(1, len(tail) + 1)[:, None]


# The knobs, {name: (type, interval, help)}, beside their defaults; the data's are
# data.OPTIONS'.
OPTIONS = {
    "repeats": (int, "[1, 100]", "runs per step size, all at once"),
    "settle": (int, "[0, 5000]", "updates each run takes to settle before it is measured"),
    "measure": (int, "[1, 5000]", "updates measured, after settling"),
    "lr": (float, "(0, inf)", "step size the schedules start from"),
    "epochs": (int, "[2, 1000]", "epochs of the schedules' runs (at most a million updates in "
               "all, every schedule's run together)"),
    "average_from": (int, "[1, inf)", "epoch the averaged run starts averaging, by default "
                     "half way"),
    "order_seed": (int, f"[0, {2**63 - 1}]", "seed of the sample orders of every run"),
}
DEFAULTS = {"repeats": 50, "settle": 1000, "measure": 1000, "lr": 0.01, "epochs": 100,
            "average_from": None, "order_seed": 42}


def check(parser, args, X):
    """Refuse, in one line, averaging past the last epoch and a step size at which the
    single-sample runs would diverge. Returns the epoch the averaging starts."""
    average_from = args.average_from or args.epochs // 2 + 1
    if average_from > args.epochs:
        parser.error(f"--average-from {average_from} is past the last epoch, {args.epochs}")
    bound = stability_bound(X, 1)
    if args.lr >= bound:
        parser.error(f"--lr {args.lr:g} is at or above the stability bound {short(bound)} "
                     "of plain descent on single samples: the runs would diverge")
    return average_from


def print_header(X, Y, args):
    """The least-squares fit, the prediction, how the floor is measured, the table's head."""
    ls_w, ls_b, ls_loss = least_squares(X, Y)
    print(f"least squares: w={ls_w:+.6f} b={ls_b:+.6f} loss L*={ls_loss:.6f}; "
          f"Hessian trace tr(H)={hessian(X).trace().item():.4f}")
    print("predicted floor: lr * tr(H) * L* / (2B), the full-data loss above L* once SGD "
          "has settled")
    print(f"measured: {args.repeats} runs per step size from least squares, "
          f"{args.settle:,} updates to settle, then the mean over {args.measure:,} updates "
          "(and over the ends of epochs among them)")
    print(f"{'sampling':11} {'B':>3} {'lr':>6} {'predicted':>10} {'every update':>12} "
          f"{'ratio':>6} {'epoch ends':>11} {'ratio':>6}")


def print_floors(X, Y, args):
    """Measure the floor of every sampling, batch size and step size, printing each row as
    it is measured; returns {(sampling, batch size): the floors over every update}."""
    floors = {}
    for sampling in SAMPLINGS:
        for batch_size in [size for size in BATCH_SIZES if size < len(X)]:
            every, at_ends = measured_floors(X, Y, STEP_SIZES, batch_size, sampling,
                                             args.repeats, args.settle, args.measure,
                                             seed=args.order_seed)
            floors[sampling, batch_size] = every
            for lr, measured, ended in zip(STEP_SIZES, every, at_ends, strict=True):
                predicted = predicted_floor(X, Y, lr, batch_size)
                print(f"{sampling:11} {batch_size:3d} {lr:6g} {predicted:10.3e} "
                      f"{measured:12.3e} {measured / predicted:6.2f} {ended:11.3e} "
                      f"{ended / predicted:6.2f}", flush=True)
    return floors


def print_cures(X, Y, runs, averaged, args, average_from):
    """Where each schedule's run, and the averaged one, ended, and how far above L*."""
    n, last = len(X), min(10, args.epochs)
    ls_loss = least_squares(X, Y)[2]
    print(f"the cures, from w=-10 b=-20 at lr {args.lr:g} on single samples, reshuffled, "
          f"{args.epochs} epochs, every run on the same sample order ({schedule_options_text()}); "
          f"the loss above L* at the last point, and its median over the last {last} epoch "
          "ends:")
    ends = {name: path[n::n][-last:] for name, path in runs.items()}
    ends[f"constant, averaged from epoch {average_from}"] = averaged[n - 1::n][-last:]
    for name, points in ends.items():
        excess = full_loss_along(X, Y, points) - ls_loss
        w, b = points[-1]
        print(f"  {name:32} w={w:+.6f} b={b:+.6f} above L*: {excess[-1]:.2e}, "
              f"median {np.median(excess):.2e}")


def draw(X, Y, floors, runs, averaged, args, average_from):
    """{file name: figure}: the floors against the prediction, and the cures."""
    from plots import noise_floor as drawing  # only now: matplotlib's backend has been chosen

    return {
        "noise_floor.png": drawing.plot_noise_floor(
            STEP_SIZES, floors, lambda lr, size: predicted_floor(X, Y, lr, size)),
        "schedules.png": drawing.plot_schedules(
            X, Y, runs, {name: [at(epoch) for epoch in range(args.epochs)]
                         for name, at in schedule_step_sizes(args.lr, args.epochs).items()},
            averaged, average_from, len(X), predicted_floor(X, Y, args.lr, 1)),
    }


def schedule_options_text():
    """The schedules' options, as train_sgd.py's defaults set them."""
    return "; ".join(f"{name}: " + " ".join(f"{option}={value:g}" for option, value in
                                           defaults.items())
                     for name, (_, defaults) in SCHEDULES.items() if defaults)


def main(argv=None):
    import data
    from plumbing import options, output

    parser = options.Parser("SGD's noise floor, measured against the prediction "
                            "lr * tr(H) * L* / (2B), and the schedules and averaging that "
                            "cure it.")
    options.add_settings(parser, DEFAULTS, OPTIONS)
    options.add_data_args(parser, data)
    args, out_dir = options.parse(parser, argv)
    X, Y, source = data.load_data(parser, args)
    options.check_work(parser, args.epochs, len(X), 1, runs=len(SCHEDULES))  # one a schedule
    average_from = check(parser, args, X)
    # Tiny tensors: one thread is faster than two here, and gives the same numbers.
    torch.set_num_threads(1)

    print(f"data: {source}")
    print_header(X, Y, args)
    floors = print_floors(X, Y, args)
    runs = schedule_runs(X, Y, args.lr, args.epochs, 1, None, seed=args.order_seed)
    averaged = running_average(runs["constant"], (average_from - 1) * len(X) + 1)
    print_cures(X, Y, runs, averaged, args, average_from)
    figures = draw(X, Y, floors, runs, averaged, args, average_from)
    output.save_figures(out_dir, figures)
    output.show_figures(figures, args.show)


if __name__ == "__main__":
    run_as_command(main)
