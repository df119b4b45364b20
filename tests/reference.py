"""The independent reference the lessons' loops are held to: torch.optim's own optimizers,
and its lr_scheduler, on torch's own mean squared error, over given orders of the samples.
Written once; every test that compares a path with torch.optim's calls it."""

from typing import NamedTuple

import torch
import torch.nn.functional as F


class Run(NamedTuple):
    path: torch.Tensor  # (w, b) at the start and after every step
    losses: torch.Tensor  # each step's loss, on its batch
    lrs: list  # the step size of each epoch


def in_order(n, epochs):
    """The orders of an in-order run: 0 to n - 1, every epoch."""
    return [torch.arange(n)] * epochs


def torch_optim_run(X, Y, orders, batch_size=1, optimizer=torch.optim.SGD, scheduler=None,
                    w0=-10.0, b0=-20.0, **options):
    """torch.optim's run: `optimizer(**options)` stepping on each batch of each epoch's
    order, the scheduler (a function of the optimizer) stepped after each epoch."""
    w = torch.tensor(w0, requires_grad=True)
    b = torch.tensor(b0, requires_grad=True)
    stepper = optimizer([w, b], **options)
    schedule = scheduler(stepper) if scheduler else None
    path, losses, lrs = [(w.item(), b.item())], [], []
    for order in orders:
        lrs.append(stepper.param_groups[0]["lr"])
        for first in range(0, len(order), batch_size):
            batch = order[first:first + batch_size]
            stepper.zero_grad()
            loss = F.mse_loss(w * X[batch] + b, Y[batch])
            loss.backward()
            stepper.step()
            losses.append(loss.item())
            path.append((w.item(), b.item()))
        if schedule:
            schedule.step()
    return Run(torch.tensor(path), torch.tensor(losses), lrs)
