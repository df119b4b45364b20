"""Batch gradient descent on several processes: data parallelism with torch.distributed.

Each worker holds a shard of the samples, computes its part of the full-data gradient with
autograd, and an all-reduce sums the parts, so that every worker takes the very step batch
descent takes, on its own copy of w and b. `python data_parallel.py --workers 2` starts
its own workers on this machine (gloo over the loopback address); under
`torchrun --standalone --nproc-per-node 2 data_parallel.py` the launcher starts them.
Only rank 0 prints and writes the figure. Run `python data_parallel.py --help` for the
knobs. (A first step of the lesson: tests/test_data_parallel.py holds the path to
train_batch's, and a killed worker ends the run in one line; the docs page, DDP,
mini-batches and the costs are still to come.)
Importing this module only defines things.
"""

import datetime
import logging
import os
import socket

import torch
import torch.distributed as dist

import cli
from model import History, criterion, final_loss, forward, least_squares, stability_bound

TEST_ARGS = ["--workers", "2", "--epochs", "3"]
TIMEOUT = datetime.timedelta(seconds=60)  # a worker waiting longer for the others gives up


def shard_bounds(n, rank, workers):
    """(first, last) of worker `rank`'s contiguous shard: sizes as equal as they can be,
    the first n % workers shards one sample larger (100 on 3 workers: 34, 33, 33)."""
    base, extra = divmod(n, workers)
    first = rank * base + min(rank, extra)
    return first, first + base + (rank < extra)


def train_data_parallel(X, Y, lr=0.1, epochs=20, w0=-10.0, b0=-20.0, verbose=True):
    """This worker's part of batch descent; every worker of the process group runs it.
    Returns the run's History (the same on every worker); rank 0 prints the epoch lines."""
    rank, workers = dist.get_rank(), dist.get_world_size()
    first, last = shard_bounds(len(X), rank, workers)
    x, y = X[first:last], Y[first:last]
    share = (last - first) / len(X)  # this shard's weight in the full-data mean
    w = torch.tensor(float(w0), requires_grad=True)
    b = torch.tensor(float(b0), requires_grad=True)
    loss_BGD = []  # the full-data loss at every epoch, the tutorial's list
    path = [(w.item(), b.item())]

    for epoch in range(1, epochs + 1):
        # Step 1: forward pass on this worker's shard only.
        y_pred = forward(x, w, b)
        # Step 2: the shard's mean loss, weighted by its share of the samples: summed over
        # the workers, the weighted losses are the full-data mean loss.
        loss = criterion(y_pred, y) * share
        # Step 3: backward pass: this shard's part of the full-data gradient.
        loss.backward()
        # The all-reduce: every worker receives the sum of all parts, the full-data mean
        # gradient (and the loss, for the record).
        parts = torch.stack([w.grad, b.grad, loss.detach()])
        dist.all_reduce(parts)
        loss_BGD.append(parts[2].item())
        # Step 4: the tutorial's update, on every worker's own w and b: the same step.
        w.data = w.data - lr * parts[0]
        b.data = b.data - lr * parts[1]
        # Step 5: zero the gradients.
        w.grad.data.zero_()
        b.grad.data.zero_()
        path.append((w.item(), b.item()))
        if verbose and rank == 0:
            print(f"epoch {epoch:3d}: loss={loss_BGD[-1]:.6f} w={w.item():+.6f} "
                  f"b={b.item():+.6f}", flush=True)
    return History(epoch_losses=loss_BGD, path=path)


def free_port():
    """A port on the loopback address that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _worker(rank, workers, port, X, Y, settings, results):
    """One spawned worker: join the group over the loopback address, train, and hand rank
    0's history back to the parent."""
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=workers, timeout=TIMEOUT)
    try:
        history = train_data_parallel(X, Y, **settings)
        if rank == 0:
            results.put((history.epoch_losses, history.path))
    finally:
        dist.destroy_process_group()


class WorkerFailed(Exception):
    """A worker process died or raised: the run cannot go on."""


def run_workers(X, Y, workers, lr=0.1, epochs=20, w0=-10.0, b0=-20.0, verbose=False):
    """Start `workers` processes on this machine, run batch descent across them, and
    return rank 0's History."""
    import torch.multiprocessing as mp

    results = mp.get_context("spawn").SimpleQueue()
    settings = dict(lr=lr, epochs=epochs, w0=w0, b0=b0, verbose=verbose)
    # spawn logs each worker it stops; the one line below says what happened.
    logging.getLogger("torch.multiprocessing.spawn").setLevel(logging.ERROR)
    try:
        # If a worker dies, spawn stops the others at once and raises here.
        mp.spawn(_worker, args=(workers, free_port(), X, Y, settings, results),
                 nprocs=workers, join=True)
    except mp.ProcessExitedException as error:
        raise WorkerFailed(f"worker {error.error_index} ended with exit code "
                           f"{error.exit_code}; the others were stopped") from None
    except mp.ProcessRaisedException as error:
        last = str(error).strip().splitlines()[-1]
        raise WorkerFailed(f"worker {error.error_index} failed: {last}") from None
    losses, path = results.get()
    return History(epoch_losses=losses, path=path)


def main(argv=None):
    parser = cli.Parser("Batch gradient descent across worker processes: each holds a shard "
                        "of the samples, and an all-reduce sums their gradients.")
    cli.add_training_args(parser, lr=0.1, epochs=20)
    parser.add_argument("--workers", type=cli.bounded_int(1, 64), default=2,
                        help="worker processes to start on this machine, 1 to 64 and at most "
                             "the number of samples (under torchrun, the launcher's count)")
    args, out_dir = cli.parse_args(parser, argv)
    X, Y, source = cli.load_data(parser, args)
    launched = "RANK" in os.environ  # started by torchrun: this process is one worker
    workers = int(os.environ["WORLD_SIZE"]) if launched else args.workers
    if workers > len(X):
        parser.error(f"--workers {workers} is more than the {len(X)} samples: a worker "
                     "would hold none")
    cli.check_work(parser, args.epochs, len(X), len(X))
    settings = dict(lr=args.lr, epochs=args.epochs, w0=args.w0, b0=args.b0)
    if not launched or os.environ["RANK"] == "0":
        sizes = [last - first for first, last in
                 (shard_bounds(len(X), rank, workers) for rank in range(workers))]
        print(f"data: {source}")
        print(f"batch gradient descent on {workers} worker process"
              f"{'' if workers == 1 else 'es'} (shards of {', '.join(map(str, sizes))} "
              f"samples): lr={args.lr:g} epochs={args.epochs} start w={args.w0:g} "
              f"b={args.b0:g}", flush=True)
    if launched:
        dist.init_process_group("gloo", timeout=TIMEOUT)
        try:
            history = train_data_parallel(X, Y, **settings)
        finally:
            dist.destroy_process_group()
        if int(os.environ["RANK"]) != 0:
            return
    else:
        try:
            history = run_workers(X, Y, workers, verbose=True, **settings)
        except WorkerFailed as failure:
            parser.exit(1, f"{parser.prog}: error: {failure}\n")
    # Each epoch's loss is the loss its step started from: the divergence check reads them.
    history.step_losses = history.epoch_losses
    cli.exit_if_diverged(parser, history, 1, args.lr, stability_bound(X), "batch descent")

    from plots import tutorial  # only now: matplotlib's backend has been chosen

    cli.print_summary(X, Y, history)
    ls_loss = least_squares(X, Y)[2]
    figures = {"data_parallel_loss.png": tutorial.plot_batch_loss(
        history.epoch_losses + [final_loss(X, Y, history)], args.lr, ls_loss)}
    cli.save_figures(out_dir, figures)
    cli.show_figures(figures, args.show)


if __name__ == "__main__":
    cli.run(main)
