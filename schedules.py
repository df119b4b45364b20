"""Step-size schedules: the step size for each epoch, as a closed form.

A schedule starts from the step size lr and changes it once per epoch, as
`torch.optim.lr_scheduler` does when `scheduler.step()` is called after each epoch.
`epoch` counts the epochs already done: 0 during the first. tests/test_schedules.py holds
every one against its scheduler (StepLR, ExponentialLR, CosineAnnealingLR with T_max the
number of epochs, LambdaLR), step size for step size and along the whole path.

A new schedule is one function and one entry in SCHEDULES (and in OPTIONS, for an option
no schedule has yet); `train_sgd.py --schedule NAME` and its --help follow from them.
Importing this module only defines things.
"""

import math


def constant(lr, epoch, epochs, options):
    """the tutorial's: the same step all the way"""
    return lr


def step(lr, epoch, epochs, options):
    """StepLR: multiplied by gamma every step_every epochs"""
    return lr * options["gamma"] ** (epoch // options["step_every"])


def exponential(lr, epoch, epochs, options):
    """ExponentialLR: multiplied by gamma every epoch"""
    return lr * options["gamma"] ** epoch


def cosine(lr, epoch, epochs, options):
    """CosineAnnealingLR with T_max = epochs: half a cosine wave from lr down towards 0"""
    return lr * (1 + math.cos(math.pi * epoch / epochs)) / 2


def inverse_time(lr, epoch, epochs, options):
    """LambdaLR with lr_lambda = 1 / (1 + decay * epoch): the classic 1/t decay"""
    return lr / (1 + options["decay"] * epoch)


def warmup(lr, epoch, epochs, options):
    """lr * epoch / warmup up to epoch warmup, then lr * sqrt(warmup / epoch) (from 1)"""
    t, warm = epoch + 1, options["warmup"]
    return lr * min(t / warm, (warm / t) ** 0.5)


# Every schedule: {name: (its function, the defaults of its own options)}.
SCHEDULES = {
    "constant": (constant, {}),
    "step": (step, {"step_every": 10, "gamma": 0.5}),
    "exponential": (exponential, {"gamma": 0.95}),
    "cosine": (cosine, {}),
    "inverse-time": (inverse_time, {"decay": 0.1}),
    "warmup": (warmup, {"warmup": 5}),
}
# Every option a schedule can have: {name: (type, interval, help)}; --step-every, ...
OPTIONS = {
    "step_every": (int, "[1, inf)", "epochs between two changes of the step size"),
    "gamma": (float, "(0, 1]", "the factor the step size is multiplied by"),
    "decay": (float, "(0, inf)", "how fast the step size decays"),
    "warmup": (int, "[1, inf)", "epochs the step size takes to rise to lr"),
}


def step_sizes(name, lr, epochs, options=None):
    """A function giving the step size of each epoch (0, 1, ...) under schedule `name`."""
    schedule, defaults = SCHEDULES[name]
    options = {**defaults, **(options or {})}
    return lambda epoch: schedule(lr, epoch, epochs, options)


def describe(name, options):
    """The schedule in words: what it does, and its options."""
    settings = " ".join(f"{option}={value:g}" for option, value in options.items())
    return f"{name}, {SCHEDULES[name][0].__doc__}" + (f" ({settings})" if settings else "")


def problem(name, options, epochs):
    """Why these options cannot work over `epochs` epochs, or None."""
    if options.get("step_every", 0) >= epochs:
        return (f"--step-every {options['step_every']} is not before the last epoch, "
                f"{epochs}: the step size would never change")
    if options.get("warmup", 0) >= epochs:
        return (f"--warmup {options['warmup']} is not before the last epoch, {epochs}: the "
                "step size would never decay")
    return None
