"""The settling lesson's pictures: SGD's noise floor against the step size, measured and
predicted; and the schedules and averaging side by side."""

import matplotlib.pyplot as plt
import numpy as np

from model import full_loss_along, least_squares
from plots.style import finish, plain_ticks

BATCH_MARKERS = {1: "o", 5: "s", 20: "^"}
SAMPLING_STYLES = {"replacement": dict(color="tab:blue", linestyle="-"),
                   "reshuffle": dict(color="tab:orange", linestyle="--")}


def plot_noise_floor(lrs, floors, predicted):
    """The measured excess loss against the step size, log-log: a line per sampling scheme
    and batch size; the prediction lr * tr(H) * L* / (2B) as a thin grey line per batch
    size. floors: {(sampling, batch size): [excess per lr]}; predicted(lr, batch_size)."""
    figure, axes = plt.subplots(figsize=(8.5, 5.6))
    figure.subplots_adjust(left=0.11, right=0.7, bottom=0.11, top=0.92)
    lrs = np.asarray(lrs, dtype=float)
    for number, size in enumerate(sorted({size for _, size in floors})):
        line = [predicted(lr, size) for lr in lrs]
        axes.plot(lrs, line, color="grey", linewidth=4, alpha=0.35,
                  label="predicted, lr * tr(H) * L* / (2B)" if number == 0 else None)
        axes.annotate(f"B={size}", (lrs[-1], line[-1]), xytext=(6, -3),
                      textcoords="offset points", fontsize=8, color="dimgrey")
    for (sampling, size), excess in floors.items():
        excess = np.asarray(excess, dtype=float)
        shown = excess > 0
        axes.plot(lrs[shown], excess[shown], marker=BATCH_MARKERS.get(size, "o"),
                  markersize=5, label=f"{sampling}, B={size}", **SAMPLING_STYLES[sampling])
    axes.set(xscale="log", yscale="log")
    axes.set_ylabel("loss above least squares, once settled\n(mean over updates, log scale)")
    finish(axes, "SGD's noise floor: measured against lr * tr(H) * L* / (2B)",
           xlabel="step size lr (log scale)", integer_x=False, legend=False)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
    return figure


def plot_schedules(X, Y, runs, step_sizes, averaged, average_from, updates_per_epoch,
                   constant_floor):
    """Left: the step size each schedule takes, epoch by epoch. Right: the full-data loss
    above the least-squares floor at the end of every epoch, log scale, for each schedule
    and the averaged run, with the constant step's predicted noise floor.

    runs: {schedule: path}; step_sizes: {schedule: [step size of each epoch]};
    averaged: the running average's points from epoch average_from on
    (noise_floor.running_average).
    """
    ls_loss = least_squares(X, Y)[2]
    figure, (steps, excess) = plt.subplots(1, 2, figsize=(12.5, 5.2),
                                           gridspec_kw={"width_ratios": [1, 1.5]})
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.11, top=0.9, wspace=0.2)
    curves = {}
    for name, path in runs.items():
        ends = np.asarray(path[::updates_per_epoch])
        curves[name] = (np.arange(len(ends)), full_loss_along(X, Y, ends))
    start = (average_from - 1) * updates_per_epoch + 1
    ends = np.arange(updates_per_epoch - 1, len(averaged), updates_per_epoch)
    averaged_name = f"constant, averaged from epoch {average_from}"
    curves[averaged_name] = ((start + ends) / updates_per_epoch,
                             full_loss_along(X, Y, averaged[ends]))
    for number, (name, (epochs, losses)) in enumerate(curves.items()):
        style = dict(color=f"C{number}", linewidth=1.8 if name == averaged_name else 1.1,
                     linestyle=":" if name == averaged_name else "-")
        excess.plot(epochs, np.maximum(losses - ls_loss, 1e-12), label=name, **style)
        if name in step_sizes:
            steps.step(np.arange(len(step_sizes[name])), step_sizes[name], where="post",
                       label=name, **style)
    steps.axvspan(average_from - 1, len(step_sizes["constant"]), color="C5", alpha=0.08,
                  label=f"averaged: epochs {average_from} on")
    steps.set_yscale("log")
    steps.set_ylabel("step size lr (log scale)")
    finish(steps, "The step size, epoch by epoch", legend=False)
    steps.legend(fontsize=8, loc="lower left")
    excess.axhline(constant_floor, color="grey", linewidth=4, alpha=0.35,
                   label=f"predicted floor of the constant step, {constant_floor:.2e}")
    excess.set_yscale("log")
    excess.set_ylabel("loss above least squares\n(at each epoch's end, log scale)")
    finish(excess, "The loss: who settles", legend=False)
    averaged_line = [line for line in excess.get_lines() if line.get_label() == averaged_name]
    excess.legend(handles=averaged_line + excess.get_lines()[-1:], fontsize=8,
                  loc="upper right")
    plain_ticks(excess)
    return figure
