"""Stochastic gradient descent, written by hand with autograd, as the tutorial writes it.

Every sample (or every mini-batch) takes its own step, so one epoch is many small, noisy
steps instead of one smooth one. Run `python train_sgd.py --help` for the knobs;
docs/sgd.md and docs/minibatches.md are the lessons.
"""

import torch

import cli
from model import History, criterion, final_loss, forward, least_squares, stability_bound


def train_sgd(X, Y, lr=0.01, epochs=20, w0=-10.0, b0=-20.0, batch_size=1, shuffle=True,
              seed=42, verbose=True, print_steps=False, schedule=None, replacement=False):
    """Stochastic (batch_size=1) or mini-batch gradient descent; returns the run's History.

    shuffle=True visits the samples in a fresh order every epoch, drawn from a generator
    seeded by `seed`; shuffle=False keeps their stored order, as the tutorial does.
    replacement=True draws each epoch's n samples at random instead, with replacement.
    The last batch of an epoch may be smaller than batch_size.
    schedule: None for the same lr all the way, or a function giving the step size of each
    epoch (0, 1, ...), e.g. schedules.step_sizes("cosine", lr, epochs).
    """
    w = torch.tensor(float(w0), requires_grad=True)
    b = torch.tensor(float(b0), requires_grad=True)
    loss_SGD = []  # the full-data loss at the start of every epoch, the tutorial's list
    step_losses = []  # each step's own loss, on its batch only
    path = [(w.item(), b.item())]  # (w, b) after every step, for the pictures
    generator = torch.Generator().manual_seed(seed)  # the order never touches global state

    for epoch in range(1, epochs + 1):
        # The tutorial's record: the loss on all the data, before this epoch's steps.
        with torch.no_grad():
            loss_SGD.append(criterion(forward(X, w, b), Y).item())
        if schedule is not None:  # this epoch's step size, from the schedule
            lr = schedule(epoch - 1)
        if replacement:  # n draws at random: some samples twice, some not at all
            order = torch.randint(len(X), (len(X),), generator=generator)
        elif shuffle:  # every sample once, in a fresh order
            order = torch.randperm(len(X), generator=generator)
        else:
            order = torch.arange(len(X))
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
            # Step 4: the update, the same rule as batch descent.
            w.data = w.data - lr * w.grad.data
            b.data = b.data - lr * b.grad.data
            # Step 5: zero the gradients, or the next backward() adds to them.
            w.grad.data.zero_()
            b.grad.data.zero_()

            path.append((w.item(), b.item()))
            if print_steps:
                print(f"  step {len(step_losses):5d}: loss={loss.item():.6f} "
                      f"w={w.item():+.6f} b={b.item():+.6f}")
        if verbose:
            print(f"epoch {epoch:3d}: loss={loss_SGD[-1]:.6f} w={w.item():+.6f} b={b.item():+.6f}"
                  + ("" if schedule is None else f" lr={lr:.6g}"))

    return History(epoch_losses=loss_SGD, step_losses=step_losses, path=path)


def main(argv=None):
    parser = cli.Parser("Stochastic gradient descent on the tutorial's line, by hand.")
    cli.add_training_args(parser, lr=0.01, epochs=20)
    parser.add_argument("--batch-size", type=cli.positive_int, default=1,
                        help="samples per step: 1 is SGD, more is mini-batch descent")
    parser.add_argument("--no-shuffle", action="store_true",
                        help="visit the samples in their stored order, as the tutorial does")
    parser.add_argument("--order-seed", type=cli.seed_int, default=42,
                        help="seed of the per-epoch shuffling")
    parser.add_argument("--print-steps", action="store_true",
                        help="also print every step's own loss (the tutorial's long list)")
    cli.add_settling_args(parser)
    args, out_dir = cli.parse_args(parser, argv)
    schedule = cli.check_settling_args(parser, args)
    X, Y, source = cli.load_data(parser, args)

    n = len(X)
    batch_size = min(args.batch_size, n)
    cli.check_work(parser, args.epochs, n, batch_size)
    bound = stability_bound(X, batch_size)
    if batch_size == 1:
        name, rule = "stochastic gradient descent", "plain descent on single samples"
    elif batch_size < n:
        name = f"mini-batch gradient descent, batch size {batch_size}"
        rule = f"plain descent on the worst batch of {batch_size} samples"
    else:
        name, rule = f"batch gradient descent, every step on all {n} samples", "batch descent"
    if args.sampling == "replacement":
        order = f"drawn with replacement with order seed {args.order_seed}"
    else:
        order = "in order" if args.no_shuffle else f"shuffled with order seed {args.order_seed}"
    print(f"data: {source}")
    if args.batch_size > n:
        print(f"note: --batch-size {args.batch_size} is more than the {n} samples")
    print(f"{name}: lr={args.lr:g} epochs={args.epochs} start w={args.w0:g} b={args.b0:g}, "
          f"samples {order} (stable below lr={cli.short(bound)})")
    if schedule is not None:
        print(f"schedule: {cli.schedule_text(args)}")
    if args.lr >= bound:
        print(f"warning: lr={args.lr:g} is at or above the stability bound {cli.short(bound)} of "
              f"{rule}; the loss may blow up", flush=True)
    history = train_sgd(X, Y, args.lr, args.epochs, args.w0, args.b0, batch_size,
                        shuffle=not args.no_shuffle, seed=args.order_seed,
                        print_steps=args.print_steps, schedule=schedule,
                        replacement=args.sampling == "replacement")
    cli.exit_if_diverged(parser, history, -(-n // batch_size), args.lr, bound, rule)

    from plots import tutorial  # only now: matplotlib's backend has been chosen

    cli.print_summary(X, Y, history, average_from=args.average_from,
                      updates_per_epoch=-(-n // batch_size))
    # Mini-batch runs get a file of their own, so they never overwrite the SGD figure, and
    # so do runs with a schedule.
    name = "sgd" if batch_size == 1 else f"minibatch{batch_size}"
    name += "_loss.png" if schedule is None else f"_loss_{args.schedule}.png"
    lr = args.lr if schedule is None else f"{args.lr:g} ({args.schedule})"
    if batch_size < n:
        figure = tutorial.plot_sgd_loss(X, Y, history, lr, batch_size, least_squares(X, Y)[2])
    else:  # one step an epoch: batch descent's figure
        figure = tutorial.plot_batch_loss(history.epoch_losses + [final_loss(X, Y, history)],
                                          lr, least_squares(X, Y)[2])
    figures = {name: figure}
    cli.save_figures(out_dir, figures)
    cli.show_figures(figures, args.show)


if __name__ == "__main__":
    cli.run(main)
