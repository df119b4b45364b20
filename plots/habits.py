"""The everyday habits' picture: the training and validation losses, epoch by epoch."""

import numpy as np

from plots.style import BATCH_COLOR, FLOOR_COLOR, finish, loss_axis, new_axes


def plot_validation(losses, val_losses, floor, beyond, label):
    """The training loss and the validation loss before each step, and where each would
    end at the training samples' least squares: the training floor, and the validation
    loss there (the gap no more training closes)."""
    figure, axes = new_axes()
    epochs = np.arange(1, len(losses) + 1)  # as the script prints them
    axes.plot(epochs, losses, "o-", color=BATCH_COLOR, markersize=3, linewidth=1.5,
              label="training loss")
    axes.plot(epochs, val_losses, "s-", color="tab:green", markersize=3, linewidth=1.5,
              label="validation loss (under torch.no_grad)")
    axes.axhline(floor, color=FLOOR_COLOR, linestyle="--", linewidth=1,
                 label=f"training samples' least squares: {floor:.4f}")
    axes.axhline(beyond, color="tab:green", linestyle=":", linewidth=1,
                 label=f"the validation loss there: {beyond:.4f}")
    loss_axis(axes, [*losses, *val_losses, floor, beyond])
    finish(axes, f"Training and validation loss ({label})",
           xlabel="epoch (the losses as it starts)")
    return figure
