"""The tutorial's figures: the data, batch descent's loss, SGD's loss, and the two compared.

Each takes the data and a run's numbers and returns a figure.
"""

import matplotlib.pyplot as plt
import numpy as np

from model import final_loss, full_loss_along, least_squares
from plots.style import (
    BATCH_COLOR,
    DATA_COLOR,
    SGD_COLOR,
    finish,
    floor_line,
    loss_axis,
    new_axes,
)


def plot_data(X, Y, slope=None):
    """The data as points, with the true line y = slope*x (or, not knowing it, the best fit)."""
    figure, axes = new_axes(figsize=(6, 4))
    x = X.reshape(-1).numpy()
    axes.scatter(x, Y.reshape(-1).numpy(), s=10, color=DATA_COLOR, label="data y")
    ends = np.array([x.min(), x.max()])
    if slope is None:
        w, b, _ = least_squares(X, Y)
        axes.plot(ends, w * ends + b, color="black", linewidth=1,
                  label=f"best fit y = {w:.3g}x {b:+.3g}")
    else:
        axes.plot(ends, slope * ends, color="black", linewidth=1,
                  label=f"true line y = {slope:g}x")
    finish(axes, "The data: a line plus Gaussian noise", xlabel="x", integer_x=False)
    axes.set_ylabel("y")
    return figure


def plot_batch_loss(losses, lr, ls_loss):
    """The tutorial's plot of batch descent: the loss at the start of each epoch (and after
    the last), against the epoch."""
    figure, axes = new_axes()
    axes.plot(range(len(losses)), losses, "o-", color=BATCH_COLOR, markersize=4,
              label=f"batch GD, lr={lr:g}: loss on all the data")
    floor_line(axes, ls_loss)
    loss_axis(axes, losses)
    finish(axes, f"Batch gradient descent, lr={lr:g}: one step per epoch",
           xlabel="epoch (0 = the start)")
    return figure


def run_name(batch_size):
    return "SGD" if batch_size == 1 else f"mini-batch {batch_size}"


def updates_in_epochs(X, Y, history):
    """(x, loss): the full-data loss after every update, x counted in epochs."""
    per_epoch = history.updates / len(history.epoch_losses)
    return np.arange(history.updates + 1) / per_epoch, full_loss_along(X, Y, history.path)


def draw_sgd(axes, X, Y, history, label):
    """SGD's full-data loss after every update (thin) and at each epoch (the tutorial's)."""
    at, losses = updates_in_epochs(X, Y, history)
    axes.plot(at, losses, color=SGD_COLOR, linewidth=0.8, alpha=0.8,
              label=f"{label}: after every update")
    epoch_losses = history.epoch_losses + [final_loss(X, Y, history)]
    axes.plot(range(len(epoch_losses)), epoch_losses, "s", color="saddlebrown", markersize=4,
              label=f"{label}: at each epoch (the tutorial's list)")
    return np.concatenate([losses, epoch_losses])


def plot_sgd_loss(X, Y, history, lr, batch_size, ls_loss):
    """Left: SGD's loss on all the data, after every update and at each epoch.
    Right: what the tutorial prints, each step's own loss, in the last epoch, on a linear
    axis beside the full-data loss over the same steps."""
    name = run_name(batch_size)
    figure, (whole, last) = plt.subplots(1, 2, figsize=(12, 4.8),
                                         gridspec_kw={"width_ratios": [1.4, 1]})
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.84, wspace=0.22)
    shown = draw_sgd(whole, X, Y, history, f"{name}, lr={lr:g}")
    floor_line(whole, ls_loss)
    loss_axis(whole, shown, "MSE on all the data")
    finish(whole, "The model: its loss on all the data", xlabel="epoch (0 = the start)")

    per_epoch = history.updates // len(history.epoch_losses)
    first = history.updates - per_epoch
    steps = np.arange(1, per_epoch + 1)
    full = full_loss_along(X, Y, history.path[first + 1:])
    last.plot(steps, history.step_losses[first:], ".", color=SGD_COLOR, markersize=5,
              label="each step's own loss, before its update")
    last.plot(steps, full, color="saddlebrown", linewidth=1.5,
              label="loss on all the data, after each update")
    floor_line(last, ls_loss)
    last.set_ylabel("MSE")
    finish(last, "The samples: each step's own loss", xlabel="step of the last epoch")
    figure.suptitle(f"{'Stochastic' if batch_size == 1 else 'Mini-batch'} gradient descent, "
                    f"lr={lr:g}: one step per {'sample' if batch_size == 1 else 'batch'}")
    return figure


def plot_compare(X, Y, batch, sgd, labels, ls_loss):
    """The tutorial's comparison: both runs' loss on all the data against the epoch.

    batch, sgd: Histories; labels: one each, batch first.
    """
    figure, axes = new_axes(figsize=(8, 5))
    shown = draw_sgd(axes, X, Y, sgd, labels[1])
    batch_losses = batch.epoch_losses + [final_loss(X, Y, batch)]
    axes.plot(range(len(batch_losses)), batch_losses, "o-", color=BATCH_COLOR, markersize=4,
              label=f"{labels[0]}: at each epoch")
    floor_line(axes, ls_loss)
    loss_axis(axes, np.concatenate([shown, batch_losses]), "MSE on all the data")
    finish(axes, "Batch gradient descent against SGD, on the same data",
           xlabel="epoch (0 = the start)")
    return figure
