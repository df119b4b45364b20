"""One general training loop with a seam for the update rule, and the checks around a run.

`train_batch.py` and `train_sgd.py` write the tutorial's loop out in full: that is the lesson.
This module is the same loop with Step 4 handed to a function, in the shape Dive into Deep
Learning uses: `update(params, state, hyperparams)`. The plain update run through it takes
exactly the steps of `train_batch` and `train_sgd` (a test checks it), and a new method
(momentum, Adam, ...) is one more update function, not one more loop:

    def momentum_update(params, state, hyperparams):
        velocities = state.setdefault("velocity", [torch.zeros_like(p) for p in params])
        for p, velocity in zip(params, velocities):
            velocity.mul_(hyperparams["momentum"]).add_(p.grad)
            p.data = p.data - hyperparams["lr"] * velocity

    history = train(X, Y, momentum_update, {"lr": 0.05, "momentum": 0.5})

Importing this module only defines things.
"""

import math

import torch

from model import History, criterion, forward

# A run whose loss grows past this many times its starting loss has left the basin for good.
DIVERGENCE_FACTOR = 1e6


def gd_update(params, state, hyperparams):
    """The tutorial's update: a step of size lr against the gradient. It keeps no state."""
    for p in params:
        p.data = p.data - hyperparams["lr"] * p.grad.data


def train(X, Y, update, hyperparams, epochs=20, batch_size=None, shuffle=True, seed=42,
          w0=-10.0, b0=-20.0, verbose=False, schedule=None, replacement=False):
    """Descent on batches of `batch_size` samples (None: all of them) with Step 4 = `update`.

    The order of the samples, the batches and the record are those of `train_batch`
    (batch_size None or n: every sample, in order) and `train_sgd` (smaller batches, in a
    fresh order each epoch drawn from a generator seeded by `seed`, or in order with
    shuffle=False). `state` starts as an empty dict that `update` may fill.
    A run stops early, with its history so far, once a loss is not finite or has grown
    DIVERGENCE_FACTOR times past the start: `divergence_report` then says where.
    verbose=True prints the training scripts' epoch lines: the loss the epoch started from,
    then (w, b) where it ended.
    schedule and replacement are train_sgd's: a function giving each epoch's step size
    (hyperparams["lr"] is then replaced, epoch by epoch), and drawing each epoch's samples
    with replacement.
    """
    n = len(X)
    batch_size = n if batch_size is None else min(batch_size, n)
    w = torch.tensor(float(w0), requires_grad=True)
    b = torch.tensor(float(b0), requires_grad=True)
    params, state = [w, b], {}
    history = History(path=[(w.item(), b.item())])
    generator = torch.Generator().manual_seed(seed)

    for epoch in range(1, epochs + 1):
        with torch.no_grad():
            history.epoch_losses.append(criterion(forward(X, w, b), Y).item())
        if schedule is not None:
            hyperparams = {**hyperparams, "lr": schedule(epoch - 1)}
        if replacement:
            order = torch.randint(n, (n,), generator=generator)
            X_epoch, Y_epoch = X[order], Y[order]
        elif batch_size < n and shuffle:
            order = torch.randperm(n, generator=generator)
            X_epoch, Y_epoch = X[order], Y[order]
        else:
            X_epoch, Y_epoch = X, Y
        for first in range(0, n, batch_size):
            # Step 1: forward pass, and Step 2: the loss, on this batch.
            loss = criterion(forward(X_epoch[first:first + batch_size], w, b),
                             Y_epoch[first:first + batch_size])
            # Step 3: backward pass: autograd fills w.grad and b.grad.
            loss.backward()
            # Step 4: the update, by the rule handed in.
            update(params, state, hyperparams)
            # Step 5: zero the gradients.
            for p in params:
                p.grad.data.zero_()
            history.step_losses.append(loss.item())
            history.path.append((w.item(), b.item()))
            if has_diverged(history.step_losses[-1], history.epoch_losses[0]):
                return history
        if verbose:
            step_size = "" if schedule is None else f" lr={hyperparams['lr']:.6g}"
            print(f"epoch {epoch:3d}: loss={history.epoch_losses[-1]:.6f} w={w.item():+.6f} "
                  f"b={b.item():+.6f}{step_size}")
    return history


def has_diverged(loss, start_loss):
    """True when a loss is not finite, or has grown far past where the run started."""
    return not math.isfinite(loss) or loss > DIVERGENCE_FACTOR * max(start_loss, 1e-12)


def divergence_report(history, updates_per_epoch, lr, bound, rule):
    """None if the run stayed bounded; otherwise one line: where it diverged and why.

    `bound` is the stability bound of the method and batch size that ran, and `rule` says
    whose it is, e.g. "plain descent on batches of 1". A method with no fixed bound (the
    adaptive ones) passes bound=None.
    """
    start = history.epoch_losses[0]
    update, loss = next(((update, loss) for update, loss in enumerate(history.step_losses, 1)
                         if has_diverged(loss, start)), (None, None))
    if update is None:
        return None
    epoch = -(-update // updates_per_epoch)
    where = f"epoch {epoch}" if updates_per_epoch == 1 else f"epoch {epoch}, step {update}"
    if bound is None:
        cause = f"{rule} has no fixed stability bound; try a smaller step size than {lr:g}"
    elif lr >= bound:
        cause = (f"step size {lr:g} is at or above the stability bound {bound:.4f} of {rule}; "
                 f"try a step size below {bound:.4f}")
    else:
        # Inside the bound the loss cannot grow: the float32 numbers themselves overflowed.
        cause = (f"step size {lr:g} is inside the stability bound {bound:.4f} of {rule}, so "
                 "the float32 arithmetic overflowed: try a start (w0, b0) nearer 0")
    return f"diverged at {where}: loss {loss:.3g}; {cause}"
