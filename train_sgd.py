"""Stochastic gradient descent, written by hand with autograd.

Every sample (or every mini-batch) takes its own step, so one epoch is many small, noisy
steps instead of one smooth one. Run `python train_sgd.py --help` for the knobs.

Why the default step size is 0.01 and not batch descent's 0.1: a step on one sample at
position x is stable only below 1 / (1 + x^2). With x reaching -5 that is 1/26, about
0.038, so batch descent's 0.1 taken per sample blows up: in order, the loss passes a
million times its start at the 8th step, and a whole epoch left to run ends near 1e13.
"""

import time

import torch

import cli
from data import make_data
from model import (
    DivergenceError,
    FullDataLoss,
    TrainingRecord,
    criterion,
    forward,
    has_diverged,
    least_squares,
    print_epoch,
    progress_line,
    stability_bound,
    summary_lines,
)


def train_sgd(X, Y, lr=0.01, epochs=20, w0=-10.0, b0=-20.0, shuffle=True, seed=42,
              batch_size=1, on_epoch=None, on_step=None):
    """Stochastic (batch_size=1) or mini-batch gradient descent; returns a TrainingRecord.

    With shuffle=True every epoch visits the samples in a fresh order drawn from a generator
    seeded by `seed`; with shuffle=False in their stored order, as the tutorial does.
    The last batch of an epoch may be smaller than batch_size.
    Raises DivergenceError if a loss stops being finite or grows far past the start.
    `on_epoch(epoch, record)` runs at the start (epoch 0) and after each epoch,
    `on_step(step, record)` after each update.
    """
    n = len(X)
    w = torch.tensor(float(w0), device=X.device, requires_grad=True)
    b = torch.tensor(float(b0), device=X.device, requires_grad=True)
    record = TrainingRecord(method="sgd", lr=lr, batch_size=min(batch_size, n), n_samples=n)
    record.path.append((w.item(), b.item()))
    loss_at = FullDataLoss(X, Y)
    start_loss = loss_at(*record.path[0])
    record.epoch_losses.append(start_loss)
    if on_epoch is not None:
        on_epoch(0, record)
    # Its own generator: the order of the samples never depends on the global random state.
    generator = torch.Generator().manual_seed(seed)
    started = time.perf_counter()

    for epoch in range(1, epochs + 1):
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        # Reorder once per epoch; inside the loop each batch is then a cheap slice.
        X_epoch, Y_epoch = X[order], Y[order]
        for first in range(0, n, batch_size):
            x = X_epoch[first:first + batch_size]
            y = Y_epoch[first:first + batch_size]
            # Step 1: forward pass on this batch only.
            y_pred = forward(x, w, b)
            # Step 2: the loss on this batch only: a noisy estimate of the full-data loss.
            loss = criterion(y_pred, y)
            # Step 3: autograd fills w.grad and b.grad.
            loss.backward()
            # Step 4: the hand-written update, the same rule as batch descent.
            w.data = w.data - lr * w.grad.data
            b.data = b.data - lr * b.grad.data
            # Step 5: zero the gradients, or the next backward() adds to them.
            w.grad.data.zero_()
            b.grad.data.zero_()

            step_loss = loss.item()
            record.step_losses.append(step_loss)
            record.path.append((w.item(), b.item()))
            if has_diverged(step_loss, start_loss):
                record.seconds = time.perf_counter() - started
                where = f"epoch {epoch}, step {record.updates}"
                raise DivergenceError(record, stability_bound(X, batch_size), where, step_loss)
            if on_step is not None:
                on_step(record.updates, record)

        record.epoch_losses.append(loss_at(*record.path[-1]))
        if on_epoch is not None:
            on_epoch(epoch, record)

    record.seconds = time.perf_counter() - started
    return record


def print_step(step, record):
    w, b = record.path[-1]
    # The step's own batch loss, before its update: what the tutorial's long list shows.
    print(progress_line(f"step {step:5d}", record.step_losses[-1], w, b))


def main(argv=None):
    parser = cli.Parser("Stochastic gradient descent on the tutorial's line, by hand.")
    cli.add_training_args(parser, lr=0.01, epochs=20)
    parser.add_argument("--no-shuffle", action="store_true",
                        help="visit the samples in order every epoch, as the tutorial does")
    parser.add_argument("--order-seed", type=cli.seed_int, default=42,
                        help="seed of the per-epoch shuffling")
    parser.add_argument("--batch-size", type=cli.positive_int, default=1,
                        help="samples per step: 1 is SGD, more is mini-batch descent")
    parser.add_argument("--print-steps", action="store_true",
                        help="print one line per update (the tutorial's long list), "
                             "not one per epoch")
    args, out_dir = cli.parse_args(parser, argv)

    X, Y = make_data(n=args.n, seed=args.seed)
    batch_size = min(args.batch_size, args.n)
    if args.batch_size > args.n:
        print(f"note: --batch-size {args.batch_size} is more than the {args.n} samples; "
              f"each step uses all {args.n} (batch descent)")
    bound = stability_bound(X, batch_size)
    order = "in order" if args.no_shuffle else f"shuffled, order seed {args.order_seed}"
    if batch_size == 1:
        name = "stochastic gradient descent"
        rule = f"per-sample stability bound {bound:.4f} (1 / (1 + max x^2))"
    else:
        name = f"mini-batch gradient descent, batch size {batch_size}"
        rule = f"stability bound {bound:.4f} for the worst batch of {batch_size} samples"
    print(f"{name}: n={args.n} lr={args.lr:g} epochs={args.epochs} "
          f"start w={args.w0:g} b={args.b0:g} samples {order} (stable below lr={bound:.4f})")
    if args.lr >= bound:
        print(f"warning: lr={args.lr:g} is at or above the {rule}; "
              "the loss may blow up", flush=True)
    if args.print_steps:
        print("note: a step line shows that step's own batch loss (before its update), then w, b "
              "after it; an epoch line shows the full-data loss")
    try:
        record = train_sgd(X, Y, args.lr, args.epochs, args.w0, args.b0,
                           shuffle=not args.no_shuffle, seed=args.order_seed,
                           batch_size=batch_size,
                           on_epoch=print_epoch,
                           on_step=print_step if args.print_steps else None)
    except DivergenceError as error:
        parser.exit(1, f"{parser.prog}: error: {error}\n")

    import plots  # only now: matplotlib's backend has been chosen

    reference = least_squares(X, Y)
    # Mini-batch runs get a file of their own, so they never overwrite the SGD figure.
    name = "sgd_loss.png" if batch_size == 1 else f"minibatch{batch_size}_loss.png"
    figures = {name: plots.plot_sgd_loss(record, reference[2])}
    cli.save_figures(out_dir, figures)
    for line in summary_lines(record, reference):
        print(line)
    cli.show_figures(figures, args.show)


if __name__ == "__main__":
    main()
