"""Batch gradient descent, written by hand with autograd.

Every epoch takes one step down the mean gradient of all samples.
Run `python train_batch.py --help` for the knobs.
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
    stability_bound,
    summary_lines,
)


def train_batch(X, Y, lr=0.1, epochs=20, w0=-10.0, b0=-20.0, on_epoch=None):
    """Batch gradient descent from (w0, b0); returns a TrainingRecord.

    Raises DivergenceError if the loss stops being finite or grows far past its start.
    `on_epoch(epoch, record)` is called at the start (epoch 0) and after every epoch.
    """
    w = torch.tensor(float(w0), device=X.device, requires_grad=True)
    b = torch.tensor(float(b0), device=X.device, requires_grad=True)
    record = TrainingRecord(method="batch", lr=lr, batch_size=len(X), n_samples=len(X))
    record.path.append((w.item(), b.item()))
    loss_at = FullDataLoss(X, Y)
    record.epoch_losses.append(loss_at(*record.path[0]))
    if on_epoch is not None:
        on_epoch(0, record)
    started = time.perf_counter()

    for epoch in range(1, epochs + 1):
        # Step 1: forward pass over every sample.
        Y_pred = forward(X, w, b)
        # Step 2: the loss, averaged over all samples.
        loss = criterion(Y_pred, Y)
        # Step 3: autograd fills w.grad and b.grad with dloss/dw and dloss/db.
        loss.backward()
        # Step 4: the hand-written update, one step against the gradient.
        w.data = w.data - lr * w.grad.data
        b.data = b.data - lr * b.grad.data
        # Step 5: zero the gradients, or the next backward() adds to them.
        w.grad.data.zero_()
        b.grad.data.zero_()

        record.step_losses.append(loss.item())
        record.path.append((w.item(), b.item()))
        record.epoch_losses.append(loss_at(*record.path[-1]))
        if has_diverged(record.epoch_losses[-1], record.epoch_losses[0]):
            record.seconds = time.perf_counter() - started
            raise DivergenceError(record, stability_bound(X), f"epoch {epoch}",
                                  record.epoch_losses[-1])
        if on_epoch is not None:
            on_epoch(epoch, record)

    record.seconds = time.perf_counter() - started
    return record


def main(argv=None):
    parser = cli.Parser("Batch gradient descent on the tutorial's line, by hand with autograd.")
    cli.add_training_args(parser, lr=0.1, epochs=20)
    args, out_dir = cli.parse_args(parser, argv)

    X, Y = make_data(n=args.n, seed=args.seed)
    bound = stability_bound(X)
    print(f"batch gradient descent: n={args.n} lr={args.lr:g} epochs={args.epochs} "
          f"start w={args.w0:g} b={args.b0:g} (stable below lr={bound:.4f})")
    if args.lr >= bound:
        print(f"warning: lr={args.lr:g} is at or above the batch stability bound {bound:.4f} "
              "(2 / largest eigenvalue of the MSE Hessian); the loss will grow", flush=True)
    try:
        record = train_batch(X, Y, args.lr, args.epochs, args.w0, args.b0,
                             on_epoch=print_epoch)
    except DivergenceError as error:
        parser.exit(1, f"{parser.prog}: error: {error}\n")

    import plots  # only now: matplotlib's backend has been chosen

    reference = least_squares(X, Y)
    figures = {"batch_loss.png": plots.plot_batch_loss(record, reference[2])}
    cli.save_figures(out_dir, figures)
    for line in summary_lines(record, reference):
        print(line)
    cli.show_figures(figures, args.show)


if __name__ == "__main__":
    main()
