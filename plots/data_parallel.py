"""The data-parallel lesson's pictures: the shards and their gradients, a run against
batch descent on one process, and what a step costs."""

import matplotlib.pyplot as plt
import numpy as np

from plots.style import ROUNDING, draw_distances, finish, plain_ticks
from plots.tutorial import draw_losses


def shard_gradients(X, Y, w, b, bounds):
    """Each shard's mean-loss gradient (dL/dw, dL/db) at (w, b), derived by hand in
    float64: the gradient of mean((w*x + b - y)^2) is 2*mean(r*x), 2*mean(r), r the
    residual."""
    x, y = X.reshape(-1).double().numpy(), Y.reshape(-1).double().numpy()
    parts = []
    for first, last in bounds:
        residual = w * x[first:last] + b - y[first:last]
        parts.append((2 * np.mean(residual * x[first:last]), 2 * np.mean(residual)))
    return np.array(parts)


def plot_shards(X, Y, workers, w, b, shard_bounds):
    """Left: the samples, coloured by the worker that holds them. Right: at (w, b), each
    worker's gradient weighted by its share, stacked: together they are the full-data
    gradient (the all-reduce's sum). Beside them, the plain sum of the workers' means,
    about `workers` times too large."""
    n = len(X)
    bounds = [shard_bounds(n, rank, workers) for rank in range(workers)]
    shares = np.array([(last - first) / n for first, last in bounds])
    parts = shard_gradients(X, Y, w, b, bounds)
    full = shard_gradients(X, Y, w, b, [(0, n)])[0]

    figure, (samples, bars) = plt.subplots(1, 2, figsize=(12, 4.8),
                                           gridspec_kw={"width_ratios": [1, 1.2]})
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.86, wspace=0.25)
    x, y = X.reshape(-1).numpy(), Y.reshape(-1).numpy()
    for rank, (first, last) in enumerate(bounds):
        samples.scatter(x[first:last], y[first:last], s=12, color=f"C{rank}",
                        label=f"worker {rank}: {last - first} samples")
    ends = np.array([x.min(), x.max()])
    samples.plot(ends, w * ends + b, color="black", linewidth=1,
                 label=f"the model at the start, y = {w:g}x {b:+g}")
    finish(samples, "Each worker holds a shard of the samples", xlabel="x", integer_x=False)
    samples.set_ylabel("y")

    # For each of the two derivatives, side by side: the workers' weighted parts, their
    # sum (what the all-reduce hands every worker), and the unweighted sum of the means.
    width = 0.8 / (workers + 2)
    for component in range(2):
        weighted = shares * parts[:, component]
        bars_at = component + width * (np.arange(workers + 2) - (workers + 1) / 2)
        first = component == 0
        for rank in range(workers):
            bars.bar(bars_at[rank], weighted[rank], width, color=f"C{rank}",
                     label=f"worker {rank}: its mean's gradient x {shares[rank]:.2f}"
                     if first else None)
        bars.bar(bars_at[workers], weighted.sum(), width, color="white", edgecolor="black",
                 linewidth=1.5, label="their sum, the all-reduce's: the full-data gradient"
                 if first else None)
        bars.bar(bars_at[workers + 1], parts[:, component].sum(), width, color="lightgrey",
                 hatch="//", edgecolor="grey",
                 label=f"the plain sum of the {workers} means (no weights)" if first else None)
        bars.plot(bars_at[workers], full[component], "k_", markersize=18)
    bars.axhline(0, color="black", linewidth=0.8)
    low, high = bars.get_ylim()
    bars.set_ylim(low - 0.7 * (high - low), high)  # room for the legend beneath the bars
    bars.set_ylabel("gradient at the start")
    finish(bars, "The all-reduce adds the weighted parts", xlabel="", integer_x=False,
           legend=False)
    bars.set_xticks(range(2), ["dL/dw", "dL/db"])  # after finish, which sets number ticks
    bars.legend(fontsize=8, loc="lower right")
    figure.suptitle(f"Data parallelism on {workers} workers: the step of batch descent, "
                    "computed in parts")
    return figure


def plot_run(X, Y, history, reference, label, ls_loss):
    """Left: the run's loss on all the data. Right: its distance from the same descent
    on one process (reference, a History with a `name`), after every update, on a log
    scale: within float32 rounding the two are the same path."""
    figure, (losses, distances) = plt.subplots(1, 2, figsize=(12, 4.8))
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.86, wspace=0.22)
    draw_losses(losses, X, Y, {label: history}, ls_loss, "Its loss on all the data")
    # Adding the workers' parts rounds differently from one sum: a few of float32's last
    # digits (about 1e-6 at w and b's sizes) may move.
    largest = draw_distances(distances, {label: history.path}, reference.path,
                             {label: dict(color="C0", linewidth=1.5)}, rounding=10 * ROUNDING,
                             rounding_label="float32 rounding, a few last digits")
    distances.set_ylabel("distance of (w, b) from the one-process path (log scale)")
    finish(distances, f"Against {reference.name}", xlabel="update")
    verdict = ("the same path, to float32 rounding" if largest <= 10 * ROUNDING else
               "a different path") + f": {largest:.1e} apart at most"
    figure.suptitle(f"{label}: {verdict}")
    return figure


def plot_costs(sizes, columns, model_columns, crossovers):
    """The cost of a step against the number of samples, log-log: each measured column
    (points joined), the fitted model's line (dashed), and where the model says K
    processes start to beat one thread (dotted). columns, model_columns: {label: [seconds
    per step, a size each]}; crossovers: {label: n}."""
    figure, axes = plt.subplots(figsize=(8, 5))
    figure.subplots_adjust(left=0.11, right=0.97, bottom=0.12, top=0.9)
    for number, (label, seconds) in enumerate(columns.items()):
        axes.plot(sizes, np.asarray(seconds) * 1e3, "o-", color=f"C{number}", label=label)
        if label in model_columns:
            axes.plot(sizes, np.asarray(model_columns[label]) * 1e3, "--", color=f"C{number}",
                      linewidth=1, label=f"{label}: the model")
        if label in crossovers:
            axes.axvline(crossovers[label], color=f"C{number}", linestyle=":",
                         label=f"the model: {label} beat one thread above "
                               f"n = {crossovers[label]:,.0f}")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_ylabel("time of one step (ms, log scale)")
    finish(axes, "What a step of batch descent costs, on this machine",
           xlabel="samples n (log scale)", integer_x=False)
    plain_ticks(axes)
    return figure
