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

from lines import (
    count,
    divergence_line,
    epoch_line,
    final_line,
    least_squares_line,
)
from model import (
    History,
    averaged_point,
    criterion,
    final_loss,
    forward,
    full_loss_along,
    least_squares,
)

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
    w = torch.tensor(float(w0), requires_grad=True, device=X.device)
    b = torch.tensor(float(b0), requires_grad=True, device=X.device)
    params, state = [w, b], {}
    history = History(path=[(w.item(), b.item())])
    generator = torch.Generator().manual_seed(seed)

    for epoch in range(1, epochs + 1):
        with torch.no_grad():
            history.epoch_losses.append(criterion(forward(X, w, b), Y).item())
        if schedule is not None:
            hyperparams = {**hyperparams, "lr": schedule(epoch - 1)}
        for X_batch, Y_batch in batches(X, Y, batch_size, generator, shuffle, replacement):
            # Step 1: forward pass, and Step 2: the loss, on this batch.
            loss = criterion(forward(X_batch, w, b), Y_batch)
            # Step 3: backward pass: autograd fills w.grad and b.grad.
            loss.backward()
            # Step 4: the update, by the rule handed in.
            update(params, state, hyperparams)
            # Step 5: zero the gradients.
            for p in params:
                p.grad.zero_()
            history.step_losses.append(loss.item())
            history.path.append((w.item(), b.item()))
            if has_diverged(history.step_losses[-1], history.epoch_losses[0]):
                return history
        if verbose:
            print(epoch_line(epoch, history.epoch_losses[-1], w.item(), b.item(),
                             None if schedule is None else hyperparams["lr"]))
    return history


def batches(X, Y, batch_size, generator, shuffle=True, replacement=False):
    """One epoch's batches (X_batch, Y_batch) of `batch_size` samples (the last may have
    fewer). With replacement=True, n samples drawn at random from `generator`; otherwise
    every sample once, in a fresh order drawn from `generator` where the batches are
    smaller than n and shuffle is True, in the stored order where not."""
    n = len(X)
    if replacement:
        order = torch.randint(n, (n,), generator=generator)
    elif batch_size < n and shuffle:
        order = torch.randperm(n, generator=generator)
    else:
        order = None
    X_epoch, Y_epoch = (X, Y) if order is None else (X[order], Y[order])
    for first in range(0, n, batch_size):
        yield X_epoch[first:first + batch_size], Y_epoch[first:first + batch_size]


def train_cells(X, Y, update, hyperparams, epochs, batch_size=None, sampling="reshuffle",
                seed=42, w0=-10.0, b0=-20.0, shared_order=False, schedule=None):
    """Many runs at once, one per cell of a grid: the loop of `train`, on a (w, b) per cell.

    hyperparams holds one tensor of values per cell (e.g. "lr" of shape (cells,)); w and b
    get one entry per cell, and the same update function moves them all. Thousands of runs
    cost about what one does: the time goes to Python's per-step overhead, not the cells.
    For speed the gradient is written out, the MSE's derived by hand (d/dw = 2 mean(r x),
    d/db = 2 mean(r), r = w x + b - y): autograd's bookkeeping would cost three times the
    rest of the step (tests/test_descent.py holds the cells to `train`).
    sampling: "reshuffle" (every sample once an epoch, in a fresh order), "replacement"
    (n draws at random) or "in order"; each cell draws its own order, or with
    shared_order=True all cells take the same. schedule: a function of the epoch (0, 1,
    ...) giving each cell's step size, or None. w0, b0: numbers, or one per cell.
    Returns the path: a float64 array of shape (updates + 1, cells, 2).
    """
    cells = len(hyperparams["lr"])
    n = len(X)
    batch_size = n if batch_size is None else min(batch_size, n)
    w = torch.zeros(cells, 1).add_(torch.as_tensor(w0).reshape(-1, 1))
    b = torch.zeros(cells, 1).add_(torch.as_tensor(b0).reshape(-1, 1))
    params, state = [w, b], {}
    x, y = X.reshape(-1), Y.reshape(-1)
    columns = {name: torch.as_tensor(value).reshape(-1, 1) for name, value in hyperparams.items()}
    generator = torch.Generator().manual_seed(seed)
    draws = 1 if shared_order else cells
    path = [torch.cat([w, b], dim=1).double()]
    for epoch in range(epochs):
        if schedule is not None:
            columns["lr"] = torch.as_tensor(schedule(epoch)).reshape(-1, 1)
        if sampling == "replacement":
            order = torch.randint(n, (draws, n), generator=generator)
        elif sampling == "reshuffle":
            order = torch.rand(draws, n, generator=generator).argsort(dim=1)
        else:
            order = torch.arange(n).expand(draws, n)
        x_epoch, y_epoch = x[order], y[order]
        for first in range(0, n, batch_size):
            x_batch = x_epoch[:, first:first + batch_size]
            y_batch = y_epoch[:, first:first + batch_size]
            # Steps 1 to 3: every cell's forward pass, and its gradient, by hand.
            residual = forward(x_batch, w, b) - y_batch
            w.grad = 2 * (residual * x_batch).mean(dim=1, keepdim=True)
            b.grad = 2 * residual.mean(dim=1, keepdim=True)
            update(params, state, columns)  # Step 4
            path.append(torch.cat([w, b], dim=1).double())  # (Step 5: the next step sets them)
    return torch.stack(path).numpy()


def has_diverged(loss, start_loss):
    """True when a loss is not finite, or has grown far past where the run started."""
    return not math.isfinite(loss) or loss > DIVERGENCE_FACTOR * max(start_loss, 1e-12)


def divergence_report(history, updates_per_epoch, lr, bound, rule, end_loss=None):
    """None if the run stayed bounded; otherwise one line: where it diverged and why.

    `bound` is the stability bound of the method and batch size that ran, and `rule` says
    whose it is, e.g. "plain descent on batches of 1". A method with no fixed bound (the
    adaptive ones) passes bound=None. `end_loss`, the full-data loss where the run ended
    (model.final_loss), catches a run whose last update blew up: the history's losses
    are each taken before an update.
    """
    start = history.epoch_losses[0]
    losses = history.step_losses + ([] if end_loss is None else [end_loss])
    update, loss = next(((update, loss) for update, loss in enumerate(losses, 1)
                         if has_diverged(loss, start)), (None, None))
    if update is None:
        return None
    updates = len(history.step_losses)
    epoch = -(-min(update, updates) // updates_per_epoch)
    where = f"epoch {epoch}" if update <= updates else f"the end of epoch {epoch}"
    if updates_per_epoch > 1:
        where += f", step {update}" if update <= updates else f", after step {updates}"
    return divergence_line(where, loss, lr, bound, rule)


def exit_on(parser, report, label=""):
    """End the run with divergence_report's line, exit status 1, if there is one."""
    if report is not None:
        parser.exit(1, f"{parser.prog}: error: {label}{report}\n")


def print_summary(X, Y, history, average_from=None, updates_per_epoch=1):
    """Print the least-squares fit, then the run's final line: (w, b) and the loss there.

    With average_from=E the run's result is the average of its points from epoch E on
    (model.averaged_point), and the final line says so.
    """
    print(least_squares_line(*least_squares(X, Y)))
    updates = count(history.updates, "update")
    last = final_line(history.w, history.b, final_loss(X, Y, history), updates,
                      "final" if average_from is None else "last point")
    print(last)
    if average_from is not None:
        w, b, points = averaged_point(history, updates_per_epoch, average_from)
        loss = float(full_loss_along(X, Y, [(w, b)])[0])
        print(final_line(w, b, loss, f"the average of the {points:,} points from epoch "
                                     f"{average_from} on"))
