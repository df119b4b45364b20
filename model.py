"""The model w*x + b, its loss, and the facts about the loss that every lesson uses.

Importing this module only defines things.
"""

from dataclasses import dataclass, field

import numpy as np
import torch


def forward(x, w, b):
    """The model's prediction: a line with slope w and intercept b."""
    return w * x + b


def criterion(y_pred, y):
    """Mean squared error."""
    return torch.mean((y_pred - y) ** 2)


@dataclass
class History:
    """What a training run recorded, in the tutorial's terms.

    epoch_losses: the full-data loss at the start of each epoch (the tutorial's loss_BGD).
    step_losses:  each update's own loss, on the samples it used, before the update.
    path:         (w, b) at the start and after every update.
    """

    epoch_losses: list = field(default_factory=list)
    step_losses: list = field(default_factory=list)
    path: list = field(default_factory=list)

    @property
    def w(self):
        return self.path[-1][0]

    @property
    def b(self):
        return self.path[-1][1]

    @property
    def updates(self):
        return len(self.path) - 1


def averaged_point(history, updates_per_epoch, from_epoch):
    """Polyak-Ruppert averaging: the mean (w, b) of the points after every update from the
    start of epoch `from_epoch` (1 is the first) to the end of the run, in float64; and how
    many points that is. The noise of single steps averages out; the drift does not."""
    points = np.asarray(history.path[(from_epoch - 1) * updates_per_epoch + 1:],
                        dtype=np.float64)
    w, b = points.mean(axis=0).tolist()
    return w, b, len(points)


def largest_distance(path, reference):
    """The largest distance between two paths' (w, b), update by update: inf or nan, quietly,
    where a path diverged."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.max(np.hypot(*(np.asarray(path) - np.asarray(reference)).T)))


def least_squares(X, Y):
    """The exact minimiser of the MSE: (w, b, loss), from the centred normal equations in
    float64, exact at any scale of x (a least-squares solver's rank cut-off takes a column
    of x around 1e-20 for zero beside the column of ones, and answers w = 0)."""
    x = X.reshape(-1).double()
    y = Y.reshape(-1).double()
    dx, dy = x - x.mean(), y - y.mean()
    w = (dx @ dy / (dx @ dx)).item()
    b = (y.mean() - w * x.mean()).item()
    loss = torch.mean((w * x + b - y) ** 2).item()
    return w, b, loss


def mse_surface(X, Y):
    """A function giving the full-data MSE at every (w, b) of a path, as a float64 array.

    The MSE is a quadratic in (w, b):
        mean((w x + b - y)^2) = w^2 <x^2> + 2wb <x> + b^2 - 2w <xy> - 2b <y> + <y^2>,
    so five averages of the data, taken once, give it anywhere without another pass.
    """
    x = X.reshape(-1).double()
    y = Y.reshape(-1).double()
    xx, mx, xy, my, yy = torch.stack([(x * x).mean(), x.mean(), (x * y).mean(), y.mean(),
                                      (y * y).mean()]).tolist()

    def loss_at(path):
        points = np.asarray(path, dtype=np.float64).reshape(-1, 2)
        w, b = points[:, 0], points[:, 1]
        # A diverged path's points give inf or nan, quietly: the callers check for them.
        with np.errstate(over="ignore", invalid="ignore"):
            loss = w * w * xx + 2 * w * b * mx + b * b - 2 * w * xy - 2 * b * my + yy
        # Rounding can push a loss at the exact minimum a hair below zero.
        return np.maximum(loss, 0.0)

    return loss_at


def full_loss_along(X, Y, path):
    """The full-data MSE at every (w, b) of a path, as a float64 array."""
    return mse_surface(X, Y)(path)


def final_loss(X, Y, history):
    """The full-data loss at a run's last (w, b): the tutorial's list stops at the loss the
    last step started from."""
    return float(full_loss_along(X, Y, [history.path[-1]])[0])


def hessian(X):
    """The MSE's Hessian over (w, b), 2 * [[mean x^2, mean x], [mean x, 1]], in float64.

    The loss is quadratic in (w, b), so this is its curvature everywhere.
    """
    x = X.reshape(-1).double()
    return 2 * torch.stack([torch.stack([(x * x).mean(), x.mean()]),
                            torch.stack([x.mean(), torch.ones((), dtype=x.dtype)])])


def hessian_eigenvalues(X):
    """The MSE's curvatures, largest (the steepest direction, mostly along w) first."""
    return torch.linalg.eigvalsh(hessian(X)).flip(0).tolist()


def stability_bound(X, batch_size=None):
    """The largest stable step size of plain descent on batches of `batch_size` samples.

    The MSE's Hessian on a batch is 2 * [[mean x^2, mean x], [mean x, 1]], the same at every
    (w, b); a step is stable only if lr < 2 / (its largest eigenvalue).
    batch_size=None (or n) is batch descent, on the full-data Hessian.
    batch_size=1 is per-sample descent: 2 / (2 * (1 + x^2)) at the sample with the largest x^2.
    In between we take the worst batch that can be drawn. For a direction v = (v1, v2) the
    batch with the largest curvature v^T H v holds the samples with the largest
    (v1*x + v2)^2, a parabola in x, so it is always some of the smallest x together with the
    rest from the largest x; we check every such split exactly.
    """
    x = torch.sort(X.reshape(-1).double()).values
    n = x.numel()
    size = n if batch_size is None else min(batch_size, n)
    # Prefix sums let each split "j smallest + (size - j) largest" cost O(1).
    zero = x.new_zeros(1)
    sum_x = torch.cat([zero, torch.cumsum(x, 0)])
    sum_x2 = torch.cat([zero, torch.cumsum(x * x, 0)])
    j = torch.arange(size + 1)
    mean_x = (sum_x[j] + sum_x[n] - sum_x[n - (size - j)]) / size
    mean_x2 = (sum_x2[j] + sum_x2[n] - sum_x2[n - (size - j)]) / size
    # The larger eigenvalue of 2 * [[a, c], [c, 1]] is (a + 1) + sqrt((a - 1)^2 + 4c^2).
    largest = (mean_x2 + 1.0) + torch.sqrt((mean_x2 - 1.0) ** 2 + 4.0 * mean_x**2)
    return 2.0 / largest.max().item()


def samples_after(n, batch_size, updates):
    """Samples processed by `updates` steps on batches of `batch_size` from n samples.

    Every epoch is ceil(n / batch_size) updates; the last batch may be smaller.
    """
    per_epoch = -(-n // batch_size)
    epochs, rest = divmod(updates, per_epoch)
    return epochs * n + min(rest * batch_size, n)
