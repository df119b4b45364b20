"""The pictures beyond the tutorial: paths on the loss surface, loss against work, and the
line fitting the data as an animation.

Every function takes the data and the runs' paths, keyed by the label each run should have
in the legend: {label: [(w, b) at the start, after update 1, ...]}. `styles` gives a label
its line style (colour, width, marker); a label without one takes matplotlib's next colour.
A later lesson draws its own methods on the same surface by passing its own paths:

    figure = plot_loss_surface(X, Y, {"plain GD": plain.path, "momentum": momentum.path})
"""

import math

import matplotlib.pyplot as plt
import numpy as np

from model import full_loss_along, least_squares, samples_after
from plots.style import DATA_COLOR, finish, floor_line, loss_axis, plain_ticks


def loss_contours(axes, X, Y, w_range, b_range, levels=14):
    """Contours of the full-data MSE over the window w_range x b_range, in grey.

    The levels are spaced evenly in log(loss - least-squares loss), so the rings stay
    readable from the rim of the window down to the minimum.
    """
    w_grid, b_grid = np.meshgrid(np.linspace(*w_range, 200), np.linspace(*b_range, 200))
    grid = np.column_stack([w_grid.ravel(), b_grid.ravel()])
    excess = full_loss_along(X, Y, grid).reshape(w_grid.shape) - least_squares(X, Y)[2]
    top = max(excess.max(), 1e-9)
    return axes.contour(w_grid, b_grid, excess, levels=np.geomspace(top * 1e-4, top, levels),
                        colors="grey", linewidths=0.6, alpha=0.7)


def draw_paths(axes, paths, styles=None):
    """Each path as a line through its (w, b) points, a star at its start.

    The longest path (the noisiest, most often) goes first, so shorter, smoother ones stay
    visible on top of it.
    """
    styles = styles or {}
    for label, path in sorted(paths.items(), key=lambda item: -len(item[1])):
        points = np.asarray(path, dtype=float)
        axes.plot(points[:, 0], points[:, 1], label=label, **styles.get(label, {}))
    starts = {tuple(path[0]) for path in paths.values()}
    for number, start in enumerate(sorted(starts)):
        axes.plot(*start, "k*", markersize=12, label="start" if number == 0 else None)


def path_window(paths, pad=0.06):
    """(w_range, b_range) holding every point of every path, with `pad` of the span around."""
    points = np.concatenate([np.asarray(path, dtype=float) for path in paths.values()])
    low, high = points.min(axis=0), points.max(axis=0)
    span = np.maximum(high - low, 1e-6)
    return tuple((lo - pad * s, hi + pad * s) for lo, hi, s in zip(low, high, span, strict=True))


def overshoot_box(start, centre):
    """Two corners of the box around `centre` (least squares) that reaches as far past it
    as `start` is on this side, and a little more: a stable step can overshoot that far and
    no farther, so a path that leaves the box is diverging. Framing it keeps the picture
    put while the step size changes, and a diverging path is drawn until it leaves."""
    centre = np.asarray(centre, dtype=float)
    half = 1.2 * np.abs(np.asarray(start, dtype=float) - centre) + 0.5
    return [tuple(centre - half), tuple(centre + half)]


def zoom_window(paths, centre, tail=0.1, pad=0.15):
    """A square (w_range, b_range) around `centre` holding the last `tail` of every path:
    where the runs ended up, and the ball the noisy ones kept wandering in."""
    last = [np.asarray(path[-max(1, math.ceil(tail * (len(path) - 1))):], dtype=float)
            for path in paths.values()]
    half = max(np.abs(np.concatenate(last) - centre).max(), 1e-6) * (1 + pad)
    return tuple((c - half, c + half) for c in centre)


def plot_loss_surface(X, Y, paths, styles=None, diverged=()):
    """Left: every path over the contours of the MSE. Right: a zoom on the minimum, framed
    by where the runs spent their last tenth of updates. A path in `diverged` (labels) is
    framed by the box a stable step stays in (overshoot_box), and drawn until it leaves.

    Both panels use equal scales on w and b, so the bowl's true shape shows.
    """
    ls_w, ls_b, _ = least_squares(X, Y)
    figure, (whole, zoom) = plt.subplots(1, 2, figsize=(11, 6.4),
                                         gridspec_kw={"width_ratios": [1, 1.5]})
    figure.subplots_adjust(left=0.06, right=0.98, bottom=0.2, top=0.9, wspace=0.2)
    framed = {label: overshoot_box(path[0], (ls_w, ls_b)) if label in diverged else path
              for label, path in paths.items()}
    ending = {label: path for label, path in paths.items() if label not in diverged}
    windows = {whole: path_window(framed),
               zoom: zoom_window(ending or framed, np.array([ls_w, ls_b]))}
    for axes, (w_range, b_range) in windows.items():
        loss_contours(axes, X, Y, w_range, b_range)
        draw_paths(axes, paths, styles)
        axes.plot(ls_w, ls_b, "kX", markersize=10,
                  label=f"least squares ({ls_w:.3f}, {ls_b:.3f})")
        axes.set(xlim=w_range, ylim=b_range, xlabel="w (slope)", ylabel="b (intercept)",
                 aspect="equal")
        plain_ticks(axes)
    whole.set_title("Paths over the contours of the loss")
    zoom.set_title("Zoom on the minimum: where the runs end up")
    handles, labels = whole.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=3, fontsize=9)
    return figure


def plot_loss_vs_work(X, Y, paths, batch_sizes, styles=None):
    """The full-data loss after every update against the samples processed so far
    (gradient evaluations), log-log. batch_sizes: {label: samples per update}."""
    n = len(X)
    styles = styles or {}
    figure, axes = plt.subplots(figsize=(8, 5))
    figure.subplots_adjust(left=0.11, right=0.97, bottom=0.11, top=0.92)
    shown = []
    for label, path in paths.items():
        losses = full_loss_along(X, Y, path)
        samples = [samples_after(n, batch_sizes[label], updates)
                   for updates in range(len(path))]
        # The start (no samples yet) cannot sit on a log axis: begin after the first update.
        axes.plot(samples[1:], losses[1:], label=label, **styles.get(label, {}))
        shown.extend(losses[1:])
    floor_line(axes, least_squares(X, Y)[2])
    axes.set_xscale("log")
    loss_axis(axes, shown, "MSE on all the data")
    finish(axes, "Loss against work: the fair axis for speed", integer_x=False,
           xlabel="samples processed (gradient evaluations)")
    return figure


MAX_FRAMES = 200  # a GIF's frames stay in memory until it is written: about 5 MB each


def animation_times(epochs, updates_per_epoch):
    """Frame times in epochs: 20 a epoch (or one an update, if fewer) for the first 3
    epochs, while the fast runs move most; then one every half epoch, or evenly spaced
    ones where a long run would give more than MAX_FRAMES in all."""
    fine_until = min(3, epochs)
    fine = np.arange(0, fine_until, 1 / min(20, updates_per_epoch))
    coarse = np.arange(fine_until, epochs + 1e-9, 0.5)
    if len(fine) + len(coarse) > MAX_FRAMES:
        coarse = np.linspace(fine_until, epochs, MAX_FRAMES - len(fine))
    return np.concatenate([fine, coarse])


def fit_frames(epochs, updates_per_epoch):
    """For every frame: its time in epochs and, per run, the updates it has made by then.

    updates_per_epoch: one count per run (1 for batch descent, n for SGD), so the same time
    is a different point of each path.
    """
    frames = []
    for epoch in animation_times(epochs, max(updates_per_epoch)):
        # The small margin keeps a time like 0.15 epochs * 100 = 14.999... at 15 updates.
        frames.append((float(epoch), [min(math.floor(epoch * per_epoch + 1e-9), epochs * per_epoch)
                                      for per_epoch in updates_per_epoch]))
    return frames


def animate_fit(X, Y, paths, updates_per_epoch, styles=None):
    """The line w*x + b over the data, one panel per run, all at the same epoch.

    updates_per_epoch: {label: updates each epoch}; every run covers the same epochs.
    Returns (figure, draw, frames): draw(i) sets the figure to frame i of `frames`, the
    list fit_frames gives. Save it with save_gif.
    """
    styles = styles or {}
    x = X.reshape(-1).numpy()
    y = Y.reshape(-1).numpy()
    ends = np.array([x.min(), x.max()])
    labels = list(paths)
    losses = {label: full_loss_along(X, Y, paths[label]) for label in labels}
    first = labels[0]
    epochs = (len(paths[first]) - 1) // updates_per_epoch[first]
    frames = fit_frames(epochs, [updates_per_epoch[label] for label in labels])

    ls_w, ls_b, _ = least_squares(X, Y)
    figure, panels = plt.subplots(1, len(labels), figsize=(5 * len(labels), 4), sharey=True,
                                  squeeze=False)
    panels = panels[0]
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.8, wspace=0.08)
    lines = []
    for number, (axes, label) in enumerate(zip(panels, labels, strict=True)):
        axes.scatter(x, y, s=8, color=DATA_COLOR, alpha=0.6)
        axes.plot(ends, ls_w * ends + ls_b, "k--", linewidth=1, label="least squares")
        color = styles.get(label, {}).get("color", f"C{number}")
        (line,) = axes.plot(ends, ends * 0, color=color, linewidth=2.5)
        axes.set(xlabel="x", ylim=(y.min() - 8, y.max() + 8))
        plain_ticks(axes)
        axes.grid(alpha=0.3)
        axes.legend(loc="upper right", fontsize=8)
        lines.append(line)
    panels[0].set_ylabel("y")
    title = figure.suptitle("")

    def draw(frame):
        epoch, done = frames[frame]
        for axes, line, label, updates in zip(panels, lines, labels, done, strict=True):
            w, b = paths[label][updates]
            with np.errstate(over="ignore", invalid="ignore"):  # a diverged run's: inf, nan
                line.set_ydata(w * ends + b)
            axes.set_title(f"{label}\n{updates} update{'' if updates == 1 else 's'}: "
                           f"loss={losses[label][updates]:.3f}", fontsize=10)
        title.set_text(f"Fitting y = w*x + b to the data, epoch {epoch:.2f}")

    return figure, draw, frames


def save_gif(figure, draw, count, path, fps=10, dpi=80):
    """Draw frames 0 .. count-1 with draw(i) and write them to `path` as a GIF.

    Each frame is drawn once; FuncAnimation.save would draw each twice on a canvas that
    has no window.
    """
    from matplotlib.animation import PillowWriter
    from tqdm import tqdm

    writer = PillowWriter(fps=fps)
    with writer.saving(figure, path, dpi):
        # A bar on a terminal only (disable=None): quiet in pipes, logs and tests.
        for frame in tqdm(range(count), desc="animation frames", leave=False, disable=None):
            draw(frame)
            writer.grab_frame()
