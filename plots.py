"""Plot functions: each takes data or training records and returns a matplotlib figure.

The caller decides whether to save, show or close it (see cli.save_figures, cli.show_figures).
"""

import re

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

from model import full_loss_along

BATCH_COLOR = "tab:blue"
SGD_COLOR = "tab:orange"
FLOOR_COLOR = "black"


def new_axes(figsize=(7, 4.5)):
    """A figure with one axes and fixed margins (a layout engine would double the cost)."""
    figure, axes = plt.subplots(figsize=figsize)
    figure.subplots_adjust(left=0.13, right=0.97, bottom=0.11, top=0.92)
    return figure, axes


class PlainLogFormatter(ticker.LogFormatter):
    """Log-axis tick labels as plain numbers (0.1, 1, 10, 1000).

    Matplotlib's default writes them as math text (10^-1), and building its math-text
    parser is a large share of a small script's drawing time.
    """

    def __call__(self, value, pos=None):
        if not super().__call__(value, pos):
            return ""
        text = f"{value:g}" if 1e-4 <= value < 1e5 else f"{value:.0e}"
        # 1e+09 -> 1e9, 1e-06 -> 1e-6
        return re.sub(r"e\+?(-?)0*(\d)", r"e\1\2", text)


def plain_log_labels(axes):
    """Plain tick labels on each log-scaled axis of `axes`; call after setting the scales."""
    for axis in (axes.xaxis, axes.yaxis):
        if axis.get_scale() == "log":
            axis.set_major_formatter(PlainLogFormatter())
            axis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False))


def plot_data(X, Y, slope):
    figure, axes = new_axes(figsize=(6, 4))
    x = X.reshape(-1).numpy()
    axes.scatter(x, Y.reshape(-1).numpy(), s=10, color="tab:red", label="data y")
    axes.plot(x, slope * x, color="black", linewidth=1, label=f"true line y = {slope:g}x")
    axes.set(xlabel="x", ylabel="y", title="The data: a line plus Gaussian noise")
    axes.legend()
    axes.grid(alpha=0.3)
    return figure


def epoch_axis(record):
    """Positions, in epochs, of each update (before it) and of each epoch-end loss."""
    epochs = len(record.epoch_losses) - 1
    steps_per_epoch = record.updates / epochs
    steps = np.arange(record.updates) / steps_per_epoch
    return steps, np.arange(epochs + 1)


def _floor(axes, ls_loss):
    axes.axhline(ls_loss, color=FLOOR_COLOR, linestyle="--", linewidth=1,
                 label=f"least-squares loss {ls_loss:.4f}")


def _finish_loss_axes(axes, title):
    axes.set(xlabel="epoch", ylabel="MSE loss (log scale)", yscale="log", title=title)
    plain_log_labels(axes)
    axes.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    axes.grid(alpha=0.3, which="both")
    axes.legend()


def _draw_batch(axes, record):
    _, at_epochs = epoch_axis(record)
    axes.plot(at_epochs, record.epoch_losses, "o-", color=BATCH_COLOR, markersize=4,
              label=f"batch GD, lr={record.lr:g}: full-data loss")


def _draw_sgd(axes, record):
    at_steps, at_epochs = epoch_axis(record)
    name = "SGD" if record.batch_size == 1 else f"mini-batch {record.batch_size}"
    axes.plot(at_steps, record.step_losses, color=SGD_COLOR, alpha=0.3, linewidth=0.7,
              label=f"{name}, lr={record.lr:g}: each step's own loss")
    axes.plot(at_epochs, record.epoch_losses, "s-", color="saddlebrown", markersize=4,
              label=f"{name}: full-data loss after each epoch")


def plot_batch_loss(record, ls_loss):
    figure, axes = new_axes()
    _draw_batch(axes, record)
    _floor(axes, ls_loss)
    _finish_loss_axes(axes, "Batch gradient descent: one smooth step per epoch")
    return figure


def plot_sgd_loss(record, ls_loss):
    figure, axes = new_axes()
    _draw_sgd(axes, record)
    _floor(axes, ls_loss)
    if record.batch_size == 1:
        title = "Stochastic gradient descent: one noisy step per sample"
    else:
        title = f"Mini-batch gradient descent: one step per {record.batch_size} samples"
    _finish_loss_axes(axes, title)
    return figure


def plot_compare(batch_record, sgd_record, ls_loss):
    figure, axes = new_axes(figsize=(8, 5))
    _draw_sgd(axes, sgd_record)
    _draw_batch(axes, batch_record)
    _floor(axes, ls_loss)
    _finish_loss_axes(axes, "Batch GD against SGD on the same data, per epoch")
    return figure


METHOD_STYLES = {"batch": dict(color=BATCH_COLOR, marker="o", markersize=3, linewidth=1.5),
                 "mini-batch": dict(color="tab:green", linewidth=0.9),
                 "sgd": dict(color=SGD_COLOR, linewidth=0.6)}


def method_label(record):
    if record.method == "batch":
        return f"batch GD, lr={record.lr:g}"
    if record.batch_size == 1:
        return f"SGD, lr={record.lr:g}"
    return f"mini-batch {record.batch_size}, lr={record.lr:g}"


def method_style(record):
    if record.method == "batch":
        return METHOD_STYLES["batch"]
    return METHOD_STYLES["sgd" if record.batch_size == 1 else "mini-batch"]


def _contours(axes, X, Y, w_range, b_range, ls_loss):
    """MSE contours over a (w, b) window, spaced evenly in log(loss - least-squares loss)."""
    w_grid, b_grid = np.meshgrid(np.linspace(*w_range, 200), np.linspace(*b_range, 200))
    grid = np.column_stack([w_grid.ravel(), b_grid.ravel()])
    excess = np.array(full_loss_along(X, Y, grid)).reshape(w_grid.shape) - ls_loss
    top = max(excess.max(), 1e-9)
    levels = np.geomspace(top * 1e-4, top, 14)
    axes.contour(w_grid, b_grid, excess, levels=levels, colors="grey", linewidths=0.6,
                 alpha=0.7)


def _window(points, pad, square_around=None):
    """An axis window around points; optionally a square one centred on a point."""
    if square_around is not None:
        half = max(np.abs(points - square_around).max(), 1e-6) * (1 + pad)
        return [(c - half, c + half) for c in square_around]
    low, high = points.min(axis=0), points.max(axis=0)
    span = np.maximum(high - low, 1e-6)
    return [(lo - pad * s, hi + pad * s) for lo, hi, s in zip(low, high, span, strict=True)]


def plot_loss_surface(X, Y, records, reference):
    """Contours of the MSE over (w, b) with each run's path; right: zoom on the minimum.

    Both panels use equal scales on w and b, so the bowl's true shape shows: steep across
    w, shallow along b.
    """
    ls_w, ls_b, ls_loss = reference
    figure, (whole, zoom) = plt.subplots(1, 2, figsize=(11, 6.4),
                                         gridspec_kw={"width_ratios": [1, 1.5]})
    figure.subplots_adjust(left=0.06, right=0.98, bottom=0.2, top=0.9, wspace=0.2)
    paths = {label: np.array(record.path) for label, record in records.items()}
    every_point = np.concatenate(list(paths.values()))
    # Zoom on where the noisy runs spend their second half (their noise ball), and on
    # where every run ended.
    late = np.concatenate([path[len(path) // 2:] for label, path in paths.items()
                           if records[label].method != "batch"]
                          + [path[-1:] for path in paths.values()])
    windows = {whole: _window(every_point, 0.06),
               zoom: _window(late, 0.15, square_around=np.array([ls_w, ls_b]))}
    for axes, (w_range, b_range) in windows.items():
        _contours(axes, X, Y, w_range, b_range, ls_loss)
        # The noisiest path first, so the smoother ones stay visible on top of it.
        for record in sorted(records.values(), key=lambda r: r.batch_size):
            path = np.array(record.path)
            axes.plot(path[:, 0], path[:, 1], label=method_label(record), **method_style(record))
        axes.plot(*records[next(iter(records))].path[0], "k*", markersize=12, label="start")
        axes.plot(ls_w, ls_b, "kX", markersize=10, label=f"least squares ({ls_w:.3f}, {ls_b:.3f})")
        axes.set(xlim=w_range, ylim=b_range, xlabel="w (slope)", ylabel="b (intercept)",
                 aspect="equal")
    whole.set_title("Paths over the MSE contours")
    zoom.set_title("Zoom on the minimum: where the noisy steps end up")
    handles, labels = whole.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=3, fontsize=9)
    return figure


def plot_loss_vs_work(X, Y, records, reference):
    """Full-data loss against gradient evaluations (samples processed), one line a method."""
    figure, axes = new_axes(figsize=(8, 5))
    for record in records.values():
        losses = full_loss_along(X, Y, record.path)
        samples = record.samples_processed()
        style = dict(method_style(record), marker=None)
        # Point 0 (no samples yet) cannot sit on a log axis; start after the first update.
        axes.plot(samples[1:], losses[1:], label=method_label(record), **style)
    _floor(axes, reference[2])
    axes.set(xscale="log", yscale="log", xlabel="samples processed (gradient evaluations)",
             ylabel="full-data MSE loss", title="Loss against work: the fair axis for speed")
    axes.grid(alpha=0.3, which="both")
    axes.legend()
    return figure


def plot_step_size_sweep(sweep, bounds, start_loss, ls_loss, epochs):
    """Loss after a fixed budget against step size; diverged runs marked above the rest.

    sweep: {label: [(lr, final_loss, diverged), ...]}; bounds: {label: bound}.
    """
    figure, axes = plt.subplots(figsize=(10.5, 5.2))
    figure.subplots_adjust(left=0.08, right=0.66, bottom=0.11, top=0.92)
    finite = [loss for runs in sweep.values() for _, loss, diverged in runs if not diverged]
    # Each method's diverged runs get a row of their own above every finished run.
    first_row = max(finite + [start_loss]) * 10
    colors = [BATCH_COLOR, "tab:green", SGD_COLOR, "tab:purple"]
    for row, (color, (label, runs)) in enumerate(zip(colors, sweep.items(), strict=False)):
        finished = [(lr, loss) for lr, loss, diverged in runs if not diverged]
        diverged = [lr for lr, _, diverged in runs if diverged]
        if finished:
            axes.plot(*zip(*finished, strict=True), "o-", color=color, markersize=4, label=label)
        if diverged:
            axes.plot(diverged, [first_row * 4**row] * len(diverged), "x", color=color,
                      markersize=8, markeredgewidth=2, label=f"{label}: diverged (loss grew)")
        axes.axvline(bounds[label], color=color, linestyle=":", linewidth=1.5,
                     label=f"{label}: stability bound {bounds[label]:.4f}")
    axes.axhline(start_loss, color="grey", linewidth=1, label=f"starting loss {start_loss:.0f}")
    _floor(axes, ls_loss)
    axes.axvline(0.1, color="red", alpha=0.25, linewidth=6, label="the tutorial's lr = 0.1")
    axes.set(xscale="log", yscale="log", xlabel="step size lr",
             ylabel=f"full-data loss after {epochs} epochs",
             title="Step size: crawl, converge, or explode",
             ylim=(ls_loss * 0.5, first_row * 4 ** len(sweep)))
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=8.5, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return figure


def animation_times(epochs, steps_per_epoch):
    """Frame times in epochs: fine while SGD moves fast (first 3 epochs), coarse after."""
    fine_until = min(3, epochs)
    fine = np.arange(0, fine_until, 1 / min(20, steps_per_epoch))
    coarse = np.arange(fine_until, epochs + 1e-9, 0.5)
    return np.concatenate([fine, coarse])


def fit_frames(batch_record, sgd_record):
    """For every animation frame: its time in epochs and, per run, (path index, caption).

    Batch GD moves once per epoch; SGD once per sample, so the same time picks a different
    point of each path.
    """
    epochs = len(batch_record.epoch_losses) - 1
    steps_per_epoch = sgd_record.updates // (len(sgd_record.epoch_losses) - 1)
    frames = []
    for epoch in animation_times(epochs, steps_per_epoch):
        step = min(int(round(epoch * steps_per_epoch)), sgd_record.updates)
        frames.append((epoch, [(int(epoch), f"epoch {int(epoch)}"),
                               (step, f"epoch {epoch:.2f} (step {step})")]))
    return frames


def animate_fit(X, Y, batch_record, sgd_record):
    """The line w*x + b fitting the data: batch GD epoch by epoch beside SGD step by step.

    Returns (figure, animation); save with animation.save(path, writer=PillowWriter(...)).
    """
    from matplotlib.animation import FuncAnimation

    x = X.reshape(-1).numpy()
    y = Y.reshape(-1).numpy()
    ends = np.array([x.min(), x.max()])
    records = [batch_record, sgd_record]
    losses = [full_loss_along(X, Y, record.path) for record in records]
    frames = fit_frames(batch_record, sgd_record)

    figure, panels = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.8, wspace=0.08)
    lines = []
    for axes, record in zip(panels, records, strict=True):
        axes.scatter(x, y, s=8, color="tab:red", alpha=0.6)
        (line,) = axes.plot(ends, ends * 0, color=method_style(record)["color"], linewidth=2.5)
        axes.set(xlabel="x", ylim=(y.min() - 8, y.max() + 8))
        axes.grid(alpha=0.3)
        lines.append(line)
    panels[0].set_ylabel("y")
    title = figure.suptitle("")

    def draw(frame):
        epoch, states = frames[frame]
        for axes, line, record, run_losses, (index, where) in zip(
                panels, lines, records, losses, states, strict=True):
            w, b = record.path[index]
            line.set_ydata(w * ends + b)
            axes.set_title(f"{method_label(record)}\n{where}: loss={run_losses[index]:.3f}",
                           fontsize=10)
        title.set_text(f"Fitting y = w*x + b to the data, epoch {epoch:.2f}")
        return lines

    animation = FuncAnimation(figure, draw, frames=len(frames), interval=100, blit=False)
    return figure, animation


def plot_time_to_target(rows, budget, methods):
    """Seconds to reach 1% of the best fit against n, log-log, one line per method.

    `methods` lists every method the benchmark can run, in order: each keeps its colour and
    marker whichever of them a run includes. Runs that ran out of budget are crosses at the
    time they spent, not points on the line.
    """
    figure, axes = plt.subplots(figsize=(10, 5.5))
    figure.subplots_adjust(left=0.09, right=0.7, bottom=0.11, top=0.92)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    markers = "os^vD<>p"
    descents = [method for method in methods if method != "closed form"]
    for method in methods:
        runs = [row for row in rows if row["method"] == method]
        reached = [(row["n"], row["seconds"]) for row in runs if row["reached"]]
        missed = [(row["n"], row["seconds"]) for row in runs if not row["reached"]]
        if method == "closed form":
            style = dict(color="black", linestyle="--", marker=".")
        else:
            index = descents.index(method)
            style = dict(color=colors[index % len(colors)], marker=markers[index % len(markers)],
                         markersize=5)
        if reached:
            axes.plot(*zip(*reached, strict=True), label=method, **style)
        if missed:
            axes.plot(*zip(*missed, strict=True), "x", color=style["color"], markersize=9,
                      markeredgewidth=2, label=f"{method}: not reached in {budget:g} s")
    axes.set(xscale="log", yscale="log", xlabel="data size n",
             ylabel="seconds to a loss within 1% of least squares",
             title="Time to the best fit as the data grows")
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=8.5, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return figure


def plot_pitfalls(panels):
    """One panel per pitfall: the wrong loop's loss (red) beside the right one's (blue).

    `panels` maps a title to runs (wrong first, right last), each with `label`, `losses`
    and `stopped`. Losses that are not finite cannot sit on a log axis; a run that stopped
    ends in a cross at its last finite loss (a run that ran into NaN says so in its label).
    """
    count = len(panels)
    columns = min(count, 2)
    rows = -(-count // columns)
    # A layout engine costs a little time, but panels of any count then keep their labels.
    figure, grid = plt.subplots(rows, columns, figsize=(6.2 * columns, 4.2 * rows),
                                squeeze=False, layout="constrained")
    for axes, (title, runs) in zip(grid.flat, panels.items(), strict=False):
        # Wrong in red, right in blue; any run between (orange) is drawn wide underneath,
        # so it shows even where it overlaps another.
        styles = [dict(color="tab:red", linewidth=1.3, zorder=3),
                  *[dict(color="tab:orange", linewidth=5, alpha=0.5, zorder=2)] * (len(runs) - 2),
                  dict(color=BATCH_COLOR, linewidth=1.3, zorder=3)]
        for run, style in zip(runs, styles, strict=True):
            steps = [step for step, loss in enumerate(run.losses) if np.isfinite(loss)]
            losses = [run.losses[step] for step in steps]
            label = run.label + (": diverged" if run.stopped == "diverged" else "")
            axes.plot(steps, losses, "o-", markersize=3, label=label, **style)
            if run.stopped:
                axes.plot(steps[-1], losses[-1], "x", color=style["color"], markersize=10,
                          markeredgewidth=2.5, zorder=4)
        axes.set(yscale="log", xlabel="step", ylabel="full-data MSE (log scale)", title=title)
        plain_log_labels(axes)
        axes.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        axes.grid(alpha=0.3, which="both")
        axes.legend(fontsize=8)
    for axes in list(grid.flat)[count:]:
        axes.set_visible(False)
    return figure
