"""Plot functions: each takes data or training records and returns a matplotlib figure.

The caller decides whether to save, show or close it (see cli.finish_figures).
"""

import matplotlib.pyplot as plt
import numpy as np

BATCH_COLOR = "tab:blue"
SGD_COLOR = "tab:orange"
FLOOR_COLOR = "black"


def new_axes(figsize=(7, 4.5)):
    """A figure with one axes and fixed margins (a layout engine would double the cost)."""
    figure, axes = plt.subplots(figsize=figsize)
    figure.subplots_adjust(left=0.11, right=0.97, bottom=0.11, top=0.92)
    return figure, axes


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
    _finish_loss_axes(axes, "Stochastic gradient descent: one noisy step per sample")
    return figure


def plot_compare(batch_record, sgd_record, ls_loss):
    figure, axes = new_axes(figsize=(8, 5))
    _draw_sgd(axes, sgd_record)
    _draw_batch(axes, batch_record)
    _floor(axes, ls_loss)
    _finish_loss_axes(axes, "Batch GD against SGD on the same data, per epoch")
    return figure
