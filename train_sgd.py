"""Stochastic gradient descent, written by hand with autograd, as the tutorial writes it.

Every sample (or every mini-batch) takes its own step, so one epoch is many small, noisy
steps instead of one smooth one. Run `python train_sgd.py --help` for the knobs;
docs/sgd.md and docs/minibatches.md are the lessons.
"""

from plumbing.run import run_as_command  # first: a stop while the libraries load is one line

# isort: split
import torch

import schedules
from lines import bound_rule, bound_warning, epoch_line, short
from model import History, criterion, final_loss, forward, least_squares, stability_bound

# The command line's knobs and their defaults, each declared in OPTIONS below or in the
# options the training scripts share (plumbing/options.py); --schedule comes from
# schedules.py, the data's options from data.py.
KNOBS = {"lr": 0.01, "epochs": 20, "w0": -10.0, "b0": -20.0, "batch_size": 1,
         "no_shuffle": False, "order_seed": 42, "print_steps": False, "sampling": None,
         "average_from": None, "device": "cpu"}
OPTIONS = {
    "no_shuffle": (bool, None, "visit the samples in their stored order, as the tutorial does"),
    "print_steps": (bool, None, "also print every step: the (w, b) it starts from, its own "
                    "loss (the tutorial's long list) and the gradient autograd computed"),
    "sampling": (str, ["reshuffle", "replacement"], "each epoch every sample once in a fresh "
                 "order (the default), or n samples drawn at random with replacement"),
    "average_from": (int, "[1, inf)", "report the average of (w, b) over every update from "
                     "epoch E on (Polyak-Ruppert averaging), up to --epochs", {"metavar": "E"}),
}
# Each schedule's own options and their defaults (schedules.SCHEDULES).
SCHEDULE_DEFAULTS = {name: defaults for name, (_, defaults) in schedules.SCHEDULES.items()}


def train_sgd(X, Y, lr=0.01, epochs=20, w0=-10.0, b0=-20.0, batch_size=1, shuffle=True,
              seed=42, verbose=True, print_steps=False, step_sizes=None, replacement=False):
    """Stochastic (batch_size=1) or mini-batch gradient descent; returns the run's History.

    shuffle=True visits the samples in a fresh order every epoch, drawn from a generator
    seeded by `seed`; shuffle=False keeps their stored order, as the tutorial does.
    The last batch of an epoch may be smaller than batch_size.
    The settling lesson's two knobs (docs/settling.md): step_sizes, a function giving the
    step size of each epoch (0 for the first) in place of the constant lr, e.g.
    schedules.step_sizes("cosine", lr, epochs), its step shown on each epoch line; and
    replacement=True, each epoch n samples drawn at random with replacement from the same
    generator. With either, the path is descent.train's with the same settings.
    """
    w = torch.tensor(float(w0), requires_grad=True, device=X.device)  # where the data is
    b = torch.tensor(float(b0), requires_grad=True, device=X.device)
    loss_SGD = []  # the full-data loss at the start of every epoch, the tutorial's list
    step_losses = []  # each step's own loss, on its batch only
    path = [(w.item(), b.item())]  # (w, b) after every step, for the pictures
    generator = torch.Generator().manual_seed(seed)  # the order never touches global state

    for epoch in range(1, epochs + 1):
        # The tutorial's record: the loss on all the data, before this epoch's steps.
        with torch.no_grad():
            loss_SGD.append(criterion(forward(X, w, b), Y).item())
        step_size = lr if step_sizes is None else step_sizes(epoch - 1)
        if replacement:  # some samples twice, some not at all
            order = torch.randint(len(X), (len(X),), generator=generator)
        else:
            order = torch.randperm(len(X), generator=generator) if shuffle else torch.arange(len(X))
        X_epoch, Y_epoch = X[order], Y[order]
        for first in range(0, len(X), batch_size):
            x, y = X_epoch[first:first + batch_size], Y_epoch[first:first + batch_size]
            # Step 1: forward pass on this sample (or batch) only.
            y_pred = forward(x, w, b)
            # Step 2: its loss: a noisy estimate of the full-data loss.
            loss = criterion(y_pred, y)
            step_losses.append(loss.item())
            # Step 3: backward pass: autograd fills w.grad and b.grad.
            loss.backward()
            if print_steps:  # where this step starts, and the gradient autograd found there
                print(f"  step {len(step_losses):5d}: w={w.item():+.6f} b={b.item():+.6f} "
                      f"loss={loss.item():.6f} dloss/dw={w.grad.item():+.6f} "
                      f"dloss/db={b.grad.item():+.6f}")
            # Step 4: the update, the same rule as batch descent.
            w.data = w.data - step_size * w.grad.data
            b.data = b.data - step_size * b.grad.data
            # Step 5: zero the gradients, or the next backward() adds to them.
            w.grad.data.zero_()
            b.grad.data.zero_()

            path.append((w.item(), b.item()))
        if verbose:
            print(epoch_line(epoch, loss_SGD[-1], w.item(), b.item(),
                             None if step_sizes is None else step_size))

    return History(epoch_losses=loss_SGD, step_losses=step_losses, path=path)


def check_settings(parser, args, schedule_options):
    """Refuse, in one line, settings that cannot work together."""
    problem = schedules.problem(args.schedule, schedule_options, args.epochs)
    if problem is not None:
        parser.error(problem)
    if args.sampling is not None and args.no_shuffle:
        parser.error(f"--no-shuffle and --sampling {args.sampling}: the samples are either "
                     "in order or drawn at random")
    if args.average_from is not None and args.average_from > args.epochs:
        parser.error(f"--average-from {args.average_from} is past the last epoch, "
                     f"{args.epochs}")


def describe(n, batch_size):
    """The run's name, and the rule whose stability bound applies to it."""
    if batch_size == 1:
        name = "stochastic gradient descent"
    elif batch_size < n:
        name = f"mini-batch gradient descent, batch size {batch_size}"
    else:
        name = f"batch gradient descent, every step on all {n} samples"
    return name, bound_rule(batch_size, n)


def print_header(args, source, n, batch_size, bound, schedule_options):
    """The data, the run's settings, and the bound its step size should stay below."""
    name, rule = describe(n, batch_size)
    if args.sampling == "replacement":
        order = f"drawn with replacement with order seed {args.order_seed}"
    else:
        order = "in order" if args.no_shuffle else f"shuffled with order seed {args.order_seed}"
    print(f"data: {source}")
    if args.batch_size > n:
        print(f"note: --batch-size {args.batch_size} is more than the {n} samples")
    print(f"{name}: lr={args.lr:g} epochs={args.epochs} start w={args.w0:g} b={args.b0:g}, "
          f"samples {order} (stable below lr={short(bound)})")
    if args.schedule != "constant":
        print(f"schedule: {schedules.describe(args.schedule, schedule_options)}")
    if args.device != "cpu":
        print(f"device: {args.device} ({torch.cuda.get_device_name()})")
    if args.lr >= bound:
        print(bound_warning("lr", args.lr, bound, rule), flush=True)


def figures_of(X, Y, history, args, batch_size, diverged):
    """The run's loss figure: SGD's two panels, or batch descent's curve where every step
    takes all the samples."""
    from plots import tutorial  # only now: matplotlib's backend has been chosen

    # Mini-batch runs get a file of their own, so they never overwrite the SGD figure, and
    # so do runs with a schedule.
    name = "sgd" if batch_size == 1 else f"minibatch{batch_size}"
    name += "_loss.png" if args.schedule == "constant" else f"_loss_{args.schedule}.png"
    lr = args.lr if args.schedule == "constant" else f"{args.lr:g} ({args.schedule})"
    ls_loss = least_squares(X, Y)[2]
    if batch_size < len(X):
        return {name: tutorial.plot_sgd_loss(X, Y, history, lr, batch_size, ls_loss)}
    last = [final_loss(X, Y, history)] if diverged is None else []
    return {name: tutorial.plot_batch_loss(history.epoch_losses + last, lr, ls_loss)}


def main(argv=None):
    import data
    from descent import divergence_report, exit_on, print_summary
    from plumbing import options, output

    parser = options.Parser("Stochastic gradient descent on the tutorial's line, by hand.")
    options.add_settings(parser, KNOBS, OPTIONS)
    # Making SGD settle (docs/settling.md): a schedule, beside --sampling and --average-from.
    options.add_variants(parser, "schedule", SCHEDULE_DEFAULTS, schedules.OPTIONS,
                         default="constant",
                         help="how the step size changes, once per epoch (schedules.py)")
    options.add_data_args(parser, data)
    args, out_dir = options.parse(parser, argv)
    schedule_options = options.chosen_settings(parser, args, args.schedule, SCHEDULE_DEFAULTS,
                                               schedules.OPTIONS, "--schedule")
    check_settings(parser, args, schedule_options)
    options.check_device(parser, args.device)
    X, Y, source = data.load_data(parser, args)
    n, batch_size = len(X), min(args.batch_size, len(X))
    options.check_work(parser, args.epochs, n, batch_size)

    bound, rule = stability_bound(X, batch_size), describe(n, batch_size)[1]
    print_header(args, source, n, batch_size, bound, schedule_options)
    step_sizes = None if args.schedule == "constant" else schedules.step_sizes(
        args.schedule, args.lr, args.epochs, schedule_options)
    history = train_sgd(X.to(args.device), Y.to(args.device), args.lr, args.epochs, args.w0,
                        args.b0, batch_size, shuffle=not args.no_shuffle, seed=args.order_seed,
                        print_steps=args.print_steps, step_sizes=step_sizes,
                        replacement=args.sampling == "replacement")
    updates_per_epoch = -(-n // batch_size)
    diverged = divergence_report(history, updates_per_epoch, args.lr, bound, rule,
                                  final_loss(X, Y, history))
    if diverged is None:
        print_summary(X, Y, history, args.average_from, updates_per_epoch)
    figures = figures_of(X, Y, history, args, batch_size, diverged)
    output.save_figures(out_dir, figures)  # a diverged run's too: its climb is the lesson
    exit_on(parser, diverged)
    output.show_figures(figures, args.show)


if __name__ == "__main__":
    run_as_command(main)
