"""Batch gradient descent, written by hand with autograd, as the tutorial writes it.

Every epoch takes one step down the mean gradient of all samples.
Run `python train_batch.py --help` for the knobs; docs/batch.md is the lesson.
"""

from plumbing.run import run_as_command  # first: a stop while the libraries load is one line

# isort: split
import torch

from lines import bound_warning, epoch_line, short
from model import History, criterion, final_loss, forward, least_squares, stability_bound

# The command line's knobs and their defaults, each declared in the options the training
# scripts share (plumbing/options.py); the data's options come from data.py.
KNOBS = {"lr": 0.1, "epochs": 20, "w0": -10.0, "b0": -20.0, "device": "cpu"}


def train_batch(X, Y, lr=0.1, epochs=20, w0=-10.0, b0=-20.0, verbose=True):
    """Batch gradient descent from (w0, b0); returns the run's History.

    With verbose=True it prints, like the tutorial, each epoch's loss and (w, b) after the
    epoch's step.
    """
    # The parameters live where the data does: the CPU, or a GPU (--device cuda).
    w = torch.tensor(float(w0), requires_grad=True, device=X.device)
    b = torch.tensor(float(b0), requires_grad=True, device=X.device)
    loss_BGD = []  # the loss at every epoch, the tutorial's list
    path = [(w.item(), b.item())]  # (w, b) after every step, for the pictures

    for epoch in range(1, epochs + 1):
        # Step 1: forward pass: predict every sample.
        Y_pred = forward(X, w, b)
        # Step 2: the loss, averaged over all samples; store it.
        loss = criterion(Y_pred, Y)
        loss_BGD.append(loss.item())
        # Step 3: backward pass: autograd fills w.grad and b.grad with dloss/dw and dloss/db.
        loss.backward()
        # Step 4: the update: one step of size lr against the gradient.
        w.data = w.data - lr * w.grad.data
        b.data = b.data - lr * b.grad.data
        # Step 5: zero the gradients, or the next backward() adds to them.
        w.grad.data.zero_()
        b.grad.data.zero_()

        path.append((w.item(), b.item()))
        if verbose:
            print(epoch_line(epoch, loss.item(), w.item(), b.item()))

    # Each step's loss is the full-data loss, so the two lists are one.
    return History(epoch_losses=loss_BGD, step_losses=loss_BGD, path=path)


def main(argv=None):
    import data
    from descent import divergence_report, exit_on, print_summary
    from plumbing import options, output

    parser = options.Parser("Batch gradient descent on the tutorial's line, by hand with "
                            "autograd.")
    options.add_settings(parser, KNOBS)
    options.add_data_args(parser, data)
    args, out_dir = options.parse(parser, argv)
    options.check_device(parser, args.device)
    X, Y, source = data.load_data(parser, args)
    options.check_work(parser, args.epochs, len(X), len(X))

    bound = stability_bound(X)
    print(f"data: {source}")
    print(f"batch gradient descent: lr={args.lr:g} epochs={args.epochs} "
          f"start w={args.w0:g} b={args.b0:g} (stable below lr={short(bound)})")
    if args.lr >= bound:
        print(bound_warning("lr", args.lr, bound, "batch descent"), flush=True)
    if args.device != "cpu":
        print(f"device: {args.device} ({torch.cuda.get_device_name()})")
    history = train_batch(X.to(args.device), Y.to(args.device), args.lr, args.epochs, args.w0,
                          args.b0)
    diverged = divergence_report(history, 1, args.lr, bound, "batch descent",
                                  final_loss(X, Y, history))

    from plots import tutorial  # only now: matplotlib's backend has been chosen

    if diverged is None:
        print_summary(X, Y, history)
    losses = history.epoch_losses + ([final_loss(X, Y, history)] if diverged is None else [])
    figures = {"batch_loss.png": tutorial.plot_batch_loss(losses, args.lr, least_squares(X, Y)[2])}
    output.save_figures(out_dir, figures)  # a diverged run's too: its climb is the lesson
    exit_on(parser, diverged)
    output.show_figures(figures, args.show)


if __name__ == "__main__":
    run_as_command(main)
