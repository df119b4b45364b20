"""The look every figure shares: colours, one style of tick label, and loss axes.

Public, so that a new lesson's figures look like the others without copying code.
"""


import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

BATCH_COLOR = "tab:blue"
SGD_COLOR = "tab:orange"
MINIBATCH_COLOR = "tab:green"
DATA_COLOR = "tab:red"
FLOOR_COLOR = "black"


def new_axes(figsize=(7, 4.5)):
    """A figure with one axes and fixed margins (a layout engine would double the cost)."""
    figure, axes = plt.subplots(figsize=figsize)
    figure.subplots_adjust(left=0.13, right=0.97, bottom=0.12, top=0.91)
    return figure, axes


def number_text(value, exponent=False):
    """A tick label: a plain number (0.1, 250, 10000), or with exponent=True a short
    exponent form (1e5, 2e-4, 1e0)."""
    if exponent and value != 0:
        mantissa, power = f"{value:.6e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(power)}"
    return f"{value:g}"


class AxisNumbers(ticker.LogFormatter):
    """One style of tick label per axis: plain numbers while every value on the axis is
    between 0.0001 and 100000, exponents (1e5) for all of them once any is not.

    On log axes the parent class decides which ticks get a label at all. (Matplotlib's own
    log labels are math text, whose parser costs a small script a noticeable share of its
    drawing time.)
    """

    def __call__(self, value, pos=None):
        if self.axis.get_scale() == "log" and not super().__call__(value, pos):
            return ""
        low, high = sorted(abs(limit) for limit in self.axis.get_view_interval())
        smallest = low if self.axis.get_scale() == "log" else 1.0
        return number_text(value, exponent=high >= 1e5 or smallest < 1e-4)


def plain_ticks(axes):
    """One style of tick label on every axis of `axes`; call after setting the scales."""
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_formatter(AxisNumbers())
        if axis.get_scale() == "log":
            axis.set_minor_formatter(AxisNumbers(labelOnlyBase=False))


def spans_decades(values, decades=2):
    """True when the positive finite values span more than `decades` powers of ten."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    return values.size > 0 and values.max() > 10**decades * values.min()


def loss_axis(axes, values, label="MSE loss"):
    """A linear loss axis, as the tutorial draws it, unless the values span decades: then a
    log axis, and the label says so."""
    if spans_decades(values):
        axes.set_yscale("log")
        label += " (log scale)"
    axes.set_ylabel(label)


def floor_line(axes, ls_loss):
    """The least-squares loss: the floor no descent can go below."""
    axes.axhline(ls_loss, color=FLOOR_COLOR, linestyle="--", linewidth=1,
                 label=f"least-squares loss {ls_loss:.4f}")


def finish(axes, title, xlabel="epoch", integer_x=True, legend=True):
    """Title, labels, grid, one tick style, whole-number ticks on an epoch axis."""
    axes.set(title=title, xlabel=xlabel)
    plain_ticks(axes)
    if integer_x:
        axes.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    axes.grid(alpha=0.3, which="both")
    if legend:
        axes.legend(fontsize=9)


def run_style(batch_size, n):
    """Colour and line of a run by its batch size: batch descent, mini-batches or SGD."""
    if batch_size >= n:
        return dict(color=BATCH_COLOR, marker="o", markersize=3, linewidth=1.5)
    if batch_size > 1:
        return dict(color=MINIBATCH_COLOR, linewidth=0.9)
    return dict(color=SGD_COLOR, linewidth=0.6)


# Below this a distance between two float32 paths is rounding: float32 resolves about
# 6e-8 of a number, and w and b are of size 5 to 20.
ROUNDING = 1e-6


def draw_distances(axes, paths, reference, styles=None, rounding=ROUNDING,
                   rounding_label="float32 rounding"):
    """Each path's distance from the reference path after every update, on a log scale,
    with float32 rounding (up to `rounding`) shaded; a distance of exactly 0 is drawn at
    the bottom edge. paths: {label: [(w, b), ...]}; styles: {label: plot keywords}.
    Returns the largest distance."""
    floor = ROUNDING / 100
    largest = 0.0
    for name, path in paths.items():
        with np.errstate(over="ignore", invalid="ignore"):  # a diverged path's: inf, nan
            gap = np.hypot(*(np.asarray(path) - np.asarray(reference)).T)
        largest = max(largest, float(gap.max()))
        axes.plot(np.arange(len(gap)), np.maximum(gap, floor), label=name,
                  **(styles or {}).get(name, {}))
    axes.axhspan(floor, rounding, color="grey", alpha=0.15,
                 label=f"{rounding_label} (0 drawn at the bottom)")
    axes.set_yscale("log")
    axes.set_ylim(floor / 2, max(1, 2 * largest))
    return largest
