"""The model w*x + b, its loss, the best fit any descent can reach, and the record of a run.

Importing this module only defines things.
"""

import math
from dataclasses import dataclass, field

import torch

# A run whose loss grows past this many times its starting loss has left the basin for good.
DIVERGENCE_FACTOR = 1e6


def forward(x, w, b):
    """The model's prediction: a line with slope w and intercept b."""
    return w * x + b


def criterion(y_pred, y):
    """Mean squared error."""
    return torch.mean((y_pred - y) ** 2)


def least_squares(X, Y):
    """The exact minimiser of the MSE: (w, b, loss), solved in float64 by torch.linalg.lstsq."""
    x = X.reshape(-1).double()
    y = Y.reshape(-1).double()
    design = torch.stack([x, torch.ones_like(x)], dim=1)
    solution = torch.linalg.lstsq(design, y.unsqueeze(1), driver="gelsd").solution
    w, b = solution[0, 0].item(), solution[1, 0].item()
    loss = torch.mean((w * x + b - y) ** 2).item()
    return w, b, loss


def hessian_max_eigenvalue(mean_x2, mean_x):
    """Largest eigenvalue of the MSE Hessian 2 * [[mean x^2, mean x], [mean x, 1]].

    The loss is quadratic in (w, b), so this Hessian is the same everywhere; a gradient
    step with step size lr is stable only if lr < 2 / (this eigenvalue).
    """
    half_trace = (mean_x2 + 1.0) / 2.0
    return 2.0 * (half_trace + math.sqrt(((mean_x2 - 1.0) / 2.0) ** 2 + mean_x**2))


def stability_bound(X, batch_size=None):
    """The largest stable step size for descent on batches of `batch_size` samples.

    batch_size=None (or n) is batch descent: 2 / lambda_max of the full-data Hessian.
    batch_size=1 is per-sample descent: every sample's Hessian 2*[[x^2, x], [x, 1]] has
    largest eigenvalue 2*(1 + x^2), so the bound is 1 / (1 + max x^2).
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
    low = sum_x[j], sum_x2[j]
    high = sum_x[n] - sum_x[n - (size - j)], sum_x2[n] - sum_x2[n - (size - j)]
    mean_x = (low[0] + high[0]) / size
    mean_x2 = (low[1] + high[1]) / size
    # Same formula as hessian_max_eigenvalue, on all splits at once.
    lam = (mean_x2 + 1.0) + torch.sqrt((mean_x2 - 1.0) ** 2 + 4.0 * mean_x**2)
    return 2.0 / lam.max().item()


class FullDataLoss:
    """The full-data MSE at any (w, b) in O(1), from five moments of the data.

    The MSE is a quadratic in (w, b):
        mean((w x + b - y)^2) = w^2 <x^2> + 2wb <x> + b^2 - 2w <xy> - 2b <y> + <y^2>,
    so one pass over the data (in float64) gives its value anywhere. Recording the loss
    after every epoch then costs nothing next to the training step itself.
    """

    def __init__(self, X, Y):
        x = X.reshape(-1).double()
        y = Y.reshape(-1).double()
        moments = torch.stack([(x * x).mean(), x.mean(), (x * y).mean(), y.mean(), (y * y).mean()])
        self.xx, self.x, self.xy, self.y, self.yy = moments.tolist()

    def __call__(self, w, b):
        loss = (w * w * self.xx + 2 * w * b * self.x + b * b
                - 2 * w * self.xy - 2 * b * self.y + self.yy)
        # Rounding can push a loss at the exact minimum a hair below zero.
        return max(loss, 0.0)

    def along(self, path):
        """The loss at every (w, b) of a path (or any sequence of points)."""
        return [self(float(w), float(b)) for w, b in path]


def full_loss_along(X, Y, path):
    """The full-data MSE at every (w, b) of a path."""
    return FullDataLoss(X, Y).along(path)


@dataclass
class TrainingRecord:
    """What a run did. Tests and plots read these.

    epoch_losses: full-data MSE at the start and after each epoch (epochs + 1 floats).
    step_losses:  one per update, that update's own batch loss, before the update.
    path:         (w, b) at the start and after every update (updates + 1 pairs).
    """

    method: str
    lr: float
    batch_size: int
    n_samples: int
    epoch_losses: list = field(default_factory=list)
    step_losses: list = field(default_factory=list)
    path: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def w(self):
        return self.path[-1][0]

    @property
    def b(self):
        return self.path[-1][1]

    @property
    def updates(self):
        return len(self.step_losses)

    def samples_processed(self):
        """Gradient evaluations done by each point of `path`: 0, then after each update."""
        return [samples_after(self.n_samples, self.batch_size, updates)
                for updates in range(self.updates + 1)]


def samples_after(n, batch_size, updates):
    """Samples processed by `updates` steps on batches of `batch_size` from n samples.

    Every epoch is ceil(n / batch_size) updates; the last batch may be smaller.
    """
    per_epoch = -(-n // batch_size)
    epochs, rest = divmod(updates, per_epoch)
    return epochs * n + min(rest * batch_size, n)


class DivergenceError(RuntimeError):
    """The loss left every bound. `loss` is the value that tripped the check."""

    def __init__(self, record, bound, where, loss):
        self.record = record
        self.bound = bound
        self.loss = loss
        if record.lr >= bound:
            cause = (f"step size {record.lr:g} is above the stability bound {bound:.4f} for "
                     f"batches of {record.batch_size}; try a step size below {bound:.4f}")
        else:
            # Inside the bound descent cannot grow the loss: the numbers themselves overflowed.
            cause = (f"step size {record.lr:g} is inside the stability bound {bound:.4f}, so "
                     f"the float32 arithmetic overflowed: try a start (w0, b0) nearer 0")
        super().__init__(f"diverged at {where}: loss {loss:.3g}; {cause}")


def has_diverged(loss, start_loss):
    """True when a loss is not finite, or has grown far past where the run started."""
    return not math.isfinite(loss) or loss > DIVERGENCE_FACTOR * max(start_loss, 1e-12)


def progress_line(label, loss, w, b):
    """The one progress format every script prints."""
    return f"{label}: loss={loss:.6f} w={w:+.6f} b={b:+.6f}"


def print_epoch(epoch, record):
    """Print the progress line of an epoch: its full-data loss and where (w, b) ended."""
    w, b = record.path[-1]
    print(progress_line(f"epoch {epoch:3d}", record.epoch_losses[-1], w, b))


def summary_lines(record, reference):
    """The least-squares reference (w, b, loss), then the `final` line with the run's values."""
    ls_w, ls_b, ls_loss = reference
    return [
        f"least squares: w={ls_w:+.6f} b={ls_b:+.6f} loss={ls_loss:.6f}",
        f"final: w={record.w:+.6f} b={record.b:+.6f} loss={record.epoch_losses[-1]:.6f} "
        f"({record.updates} updates, {record.seconds:.3f} s)",
    ]
