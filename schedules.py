"""Step-size schedules: the step size for each epoch, as a closed form.

A schedule starts from the step size lr and changes it once per epoch, as
`torch.optim.lr_scheduler` does when `scheduler.step()` is called after each epoch.
`epoch` counts the epochs already done: 0 during the first. tests/test_schedules.py holds
every one against its scheduler (StepLR, ExponentialLR, CosineAnnealingLR with T_max the
number of epochs, LambdaLR), step size for step size and along the whole path.

Importing this module only defines things.
"""

import math


def constant(lr, epoch, epochs, options):
    """The tutorial's: the same step all the way."""
    return lr


def step(lr, epoch, epochs, options):
    """StepLR: multiplied by gamma every step_size epochs."""
    return lr * options["gamma"] ** (epoch // options["step_size"])


def exponential(lr, epoch, epochs, options):
    """ExponentialLR: multiplied by gamma every epoch."""
    return lr * options["gamma"] ** epoch


def cosine(lr, epoch, epochs, options):
    """CosineAnnealingLR with T_max = epochs: half a cosine wave from lr down towards 0."""
    return lr * (1 + math.cos(math.pi * epoch / epochs)) / 2


def inverse_time(lr, epoch, epochs, options):
    """LambdaLR with lr_lambda = 1 / (1 + decay * epoch): the classic 1/t decay."""
    return lr / (1 + options["decay"] * epoch)


SCHEDULES = {"constant": constant, "step": step, "exponential": exponential,
             "cosine": cosine, "inverse-time": inverse_time}


def step_sizes(name, lr, epochs, options=None):
    """A function giving the step size of each epoch (0, 1, ...) under schedule `name`."""
    schedule = SCHEDULES[name]
    return lambda epoch: schedule(lr, epoch, epochs, options or {})
