"""The optimizers lesson's pictures: every method's path on the loss surface beside its loss
against the updates, with the rate the theory predicts; and heavy ball's phase diagram.

The surface is drawn by the surface lesson's functions (plots/surface.py).
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors
from matplotlib.patches import Patch

from model import full_loss_along, least_squares
from plots.style import finish, plain_ticks
from plots.surface import draw_paths, loss_contours, overshoot_box, path_window

# One colour per method, the same in every figure of the lesson.
METHOD_COLORS = {"gd": "tab:blue", "momentum": "tab:orange", "nesterov": "tab:green",
                 "adagrad": "tab:red", "rmsprop": "tab:purple", "adam": "tab:brown"}
SKIP = 10  # the predicted line starts where the measured rate does (optimizers.measured_rate)
# Below this the loss above least squares is float32's rounding of w and b, not the descent.
ROUNDING = 1e-13


def method_colors(methods):
    """{method: colour}: each method's own, and matplotlib's unused ones for new methods."""
    spare = iter(f"C{index}" for index in range(6, 100))
    return {method: METHOD_COLORS.get(method) or next(spare) for method in methods}


def excess_losses(X, Y, path):
    """The full-data loss above least squares at every point of a path (at least ROUNDING,
    so that a loss at the minimum still sits on a log axis)."""
    return np.maximum(full_loss_along(X, Y, path) - least_squares(X, Y)[2], ROUNDING)


def predicted_line(excess, rate):
    """(steps, loss above least squares) the theory predicts, through the measured loss at
    step SKIP, down to float32's rounding: the loss is quadratic in the distance, so it
    shrinks by rate^2 a step. `excess`: the measured loss above least squares, each update."""
    steps = np.arange(len(excess))
    line = excess[SKIP] * rate ** (2.0 * (steps - SKIP))
    shown = line >= ROUNDING
    return steps[shown], line[shown]


def plot_methods(X, Y, paths, predicted, labels, updates_per_epoch, diverged=()):
    """Left: each method's path over the contours of the loss, from the same start.
    Right: each method's loss above least squares against the updates, log scale; where
    the theory applies, its predicted rate as a dashed line of the same colour.

    paths: {method: path}; predicted: {method: rate per step}; labels: {method: legend};
    diverged: the methods whose runs diverged.
    """
    figure, (surface, losses) = plt.subplots(1, 2, figsize=(12, 5.6),
                                             gridspec_kw={"width_ratios": [1, 1.4]})
    figure.subplots_adjust(left=0.06, right=0.98, bottom=0.11, top=0.91, wspace=0.16)
    full_batch = updates_per_epoch == 1
    palette = method_colors(paths)
    styles = {labels[method]: dict(color=palette[method], linewidth=1.2,
                                   marker="o" if full_batch else None, markersize=2.5)
              for method in paths}
    if "adagrad" in paths:  # a wide band: at their defaults RMSprop takes its first step
        styles[labels["adagrad"]].update(linewidth=4, alpha=0.45, zorder=1)
    ls_w, ls_b, _ = least_squares(X, Y)
    # A diverged path would stretch the window to where it flew off: it is framed by the
    # box a stable step stays in instead, and drawn until it leaves the picture.
    framed = {method: overshoot_box(path[0], (ls_w, ls_b))
              if method in diverged else path for method, path in paths.items()}
    w_range, b_range = path_window({**framed, "least squares": [(ls_w, ls_b)]})
    loss_contours(surface, X, Y, w_range, b_range)
    draw_paths(surface, {labels[method]: path for method, path in paths.items()}, styles)
    surface.plot(ls_w, ls_b, "kX", markersize=10, label="least squares")
    surface.set(xlim=w_range, ylim=b_range, xlabel="w (slope)", ylabel="b (intercept)",
                aspect="equal", title="Paths from the same start" if len(paths) > 1
                else "The path from the start")
    plain_ticks(surface)
    # The methods' colours are named in the other panel's legend.
    points = [line for line in surface.get_lines()
              if line.get_label() in ("start", "least squares")]
    surface.legend(handles=points, fontsize=8, loc="lower right")

    for method, path in paths.items():
        excess = excess_losses(X, Y, path)
        steps = np.arange(len(excess))
        losses.plot(steps, excess, color=palette[method], linewidth=1.4,
                    label=labels[method])
        if method in predicted and len(excess) > SKIP:
            losses.plot(*predicted_line(excess, predicted[method]), color=palette[method],
                        linestyle="--", linewidth=1,
                        label=f"predicted: {predicted[method]:.4f} a step")
    lowest = min(excess_losses(X, Y, path).min() for path in paths.values())
    if lowest <= ROUNDING:
        losses.axhspan(ROUNDING / 10, ROUNDING, color="grey", alpha=0.2,
                       label="float32 rounding: no lower")
    losses.set_yscale("log")
    losses.set_ylim(max(ROUNDING, lowest) / 10, None)
    losses.set_ylabel("loss above least squares (log scale)")
    xlabel = "update (one an epoch: full batches)" if full_batch else "update"
    dashed = any(line.get_linestyle() == "--" for line in losses.get_lines())
    title = "Loss against updates" + ("; dashed: the rate the theory predicts"
                                      if dashed else "")
    if diverged:  # named, as the run's last line names the bound each broke
        title = "Loss against updates: " + ", ".join(diverged) + " diverged"
    finish(losses, title, xlabel=xlabel, legend=False)
    # Below the panels, in two columns, so that no curve hides behind it however many
    # methods there are.
    entries = len(losses.get_legend_handles_labels()[0])
    rows = -(-entries // 2)
    height = 5.6 + 0.2 * rows
    figure.set_size_inches(12, height)
    figure.subplots_adjust(bottom=(0.6 + 0.2 * rows) / height, top=1 - 0.5 / height)
    losses.legend(fontsize=8, loc="upper right", ncol=2, bbox_to_anchor=(1, -0.1))
    return figure


def plot_phase(lrs, betas, excess, start_excess, lam_max, best, steps, default,
               marker="default"):
    """Heavy ball's loss above least squares after `steps` full-batch steps over a grid of
    step sizes (x) and momenta (y), log colour scale; cells still above the starting loss
    (diverged, or swung out and not yet back) grey. Drawn over it:
    the stability edge lr * lam_max = 2 + 2 beta, the best pair, and the `default` pair,
    labelled `marker`.

    excess: array of shape (len(betas), len(lrs)); start_excess: the loss above least
    squares at the start (a cell above it has diverged); best: optimizers.best_settings.
    """
    lrs, betas = np.asarray(lrs, dtype=float), np.asarray(betas, dtype=float)
    excess = np.asarray(excess, dtype=float)
    diverged = ~np.isfinite(excess) | (excess >= start_excess)
    shown = np.ma.masked_where(diverged, np.maximum(excess, ROUNDING))
    figure, axes = plt.subplots(figsize=(8, 5.8))
    figure.subplots_adjust(left=0.1, right=0.93, bottom=0.1, top=0.92)
    palette = plt.get_cmap("viridis").with_extremes(bad="lightgrey")
    mesh = axes.pcolormesh(lrs, betas, shown, cmap=palette, shading="nearest",
                           norm=colors.LogNorm(vmin=max(shown.min(), ROUNDING), vmax=start_excess))
    bar = figure.colorbar(mesh, ax=axes)
    bar.set_label(f"loss above least squares after {steps} steps (log scale)")
    plain_ticks(bar.ax)
    edge_betas = np.linspace(0, betas.max(), 100)
    axes.plot((2 + 2 * edge_betas) / lam_max, edge_betas, color="white", linewidth=2,
              label="stability edge: lr * lmax = 2 + 2 * momentum")
    axes.plot(best["momentum lr"], best["momentum beta"], "*", color="red", markersize=15,
              markeredgecolor="black",
              label=f"best: lr={best['momentum lr']:.4f}, momentum={best['momentum beta']:.4f} "
                    f"(rate {best['momentum rate']:.4f})")
    off = "" if default["lr"] <= lrs.max() and default["momentum"] <= betas.max() else (
        " (off the chart)")
    axes.plot(default["lr"], default["momentum"], "o", color="white", markeredgecolor="black",
              label=f"{marker}: lr={default['lr']:g}, momentum={default['momentum']:g}{off}")
    handles, _ = axes.get_legend_handles_labels()
    handles.append(Patch(color="lightgrey", label=f"above the starting loss after {steps} steps"))
    axes.set(xlim=(lrs.min(), lrs.max()), ylim=(betas.min(), betas.max()))
    finish(axes, "Heavy ball on your data: where each step size and momentum gets in "
           f"{steps} steps", xlabel="step size lr", integer_x=False, legend=False)
    axes.set_ylabel("momentum")
    axes.legend(handles=handles, fontsize=8, loc="lower right")  # over the diverged corner
    return figure
