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


def lr_text(lr):
    """A step size as a title shows it: 0.01, or a text such as "0.01 (cosine)"."""
    return lr if isinstance(lr, str) else f"{lr:g}"


def plot_batch_loss(losses, lr, ls_loss):
    """The tutorial's plot of batch descent: the loss at the start of each epoch (and after
    the last), against the epoch."""
    figure, axes = new_axes()
    axes.plot(range(len(losses)), losses, "o-", color=BATCH_COLOR, markersize=4,
              label=f"batch GD, lr={lr_text(lr)}: loss on all the data")
    floor_line(axes, ls_loss)
    loss_axis(axes, losses)
    axes.set_xlim(-0.5, len(losses) - 0.5)
    finish(axes, f"Batch gradient descent, lr={lr_text(lr)}: one step per epoch",
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
    shown = draw_sgd(whole, X, Y, history, f"{name}, lr={lr_text(lr)}")
    floor_line(whole, ls_loss)
    loss_axis(whole, shown, "MSE on all the data")
    whole.set_xlim(-0.5, len(history.epoch_losses) + 0.5)
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
                    f"lr={lr_text(lr)}: one step per {'sample' if batch_size == 1 else 'batch'}")
    return figure


def plot_losses(X, Y, histories, ls_loss, title, styles=None):
    """Several runs' loss on all the data against the epoch, on one axes.

    histories: {label: History}. A run of one update an epoch is drawn as points joined
    epoch to epoch; a run of many, after every update (thin) and at each epoch (squares).
    styles: {label: colour}; by default matplotlib's colour cycle, in order.
    """
    figure, axes = new_axes(figsize=(8, 5))
    draw_losses(axes, X, Y, histories, ls_loss, title, styles)
    return figure


def draw_losses(axes, X, Y, histories, ls_loss, title, styles=None):
    """plot_losses's drawing, on the given axes."""
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    shown = []
    for number, (label, history) in enumerate(histories.items()):
        colour = (styles or {}).get(label, colours[number % len(colours)])
        epoch_losses = history.epoch_losses + [final_loss(X, Y, history)]
        if history.updates == len(history.epoch_losses):
            axes.plot(range(len(epoch_losses)), epoch_losses, "o-", color=colour,
                      markersize=4, label=f"{label}: at each epoch")
        else:
            at, losses = updates_in_epochs(X, Y, history)
            axes.plot(at, losses, color=colour, linewidth=0.8, alpha=0.8,
                      label=f"{label}: after every update")
            axes.plot(range(len(epoch_losses)), epoch_losses, "s", color=colour,
                      markeredgecolor="black", markeredgewidth=0.5, markersize=4,
                      label=f"{label}: at each epoch")
            shown.append(losses)
        shown.append(epoch_losses)
    floor_line(axes, ls_loss)
    loss_axis(axes, np.concatenate(shown), "MSE on all the data")
    axes.set_xlim(-0.5, max(len(h.epoch_losses) for h in histories.values()) + 0.5)
    finish(axes, title, xlabel="epoch (0 = the start)")


def plot_compare(X, Y, batch, sgd, labels, ls_loss):
    """The tutorial's comparison: both runs' loss on all the data against the epoch.

    batch, sgd: Histories; labels: one each, batch first.
    """
    return plot_losses(X, Y, {labels[0]: batch, labels[1]: sgd}, ls_loss,
                       "Batch gradient descent against SGD, on the same data",
                       styles={labels[0]: BATCH_COLOR, labels[1]: SGD_COLOR})
