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
from model import History, criterion, forward, least_squares, stability_bound

TEST_ARGS = ["--workers", "2", "--epochs", "3"]
TIMEOUT = datetime.timedelta(seconds=60)  # a worker waiting longer for the others gives up


def shard_bounds(n, rank, workers):
    """(first, last) of worker `rank`'s contiguous shard: sizes as equal as they can be,
    the first n % workers shards one sample larger (100 on 3 workers: 34, 33, 33)."""
    base, extra = divmod(n, workers)
    first = rank * base + min(rank, extra)
    return first, first + base + (rank < extra)


def train_data_parallel(X, Y, lr=0.1, epochs=20, w0=-10.0, b0=-20.0, verbose=True,
                        batch_size=None, seed=42):
    """This worker's part of the descent; every worker of the process group runs it.

    batch_size None is batch descent: each step on all samples, split across the workers.
    A smaller batch_size is mini-batch descent: each epoch every worker draws the same
    order (a generator seeded by `seed`, as train_sgd.py draws it), and each global batch
    of batch_size samples is split across the workers. Returns the run's History (the
    same on every worker); rank 0 prints the epoch lines.
    """
    rank, workers = dist.get_rank(), dist.get_world_size()
    n = len(X)
    batch_size = n if batch_size is None else min(batch_size, n)
    generator = torch.Generator().manual_seed(seed)  # the same order on every worker
    w = torch.tensor(float(w0), requires_grad=True)
    b = torch.tensor(float(b0), requires_grad=True)
    loss_BGD = []  # the full-data loss at the start of every epoch, the tutorial's list
    path = [(w.item(), b.item())]

    for epoch in range(1, epochs + 1):
        loss_BGD.append(full_data_loss(X, Y, w, b, rank, workers))
        order = torch.randperm(n, generator=generator) if batch_size < n else torch.arange(n)
        for first in range(0, n, batch_size):
            batch = order[first:first + batch_size]
            low, high = shard_bounds(len(batch), rank, workers)
            mine = batch[low:high]  # this worker's part of the batch
            # Step 1: forward pass on this worker's part only.
            y_pred = forward(X[mine], w, b)
            # Step 2: its mean loss, weighted by its share of the batch: summed over the
            # workers, the weighted losses are the batch's mean loss.
            loss = criterion(y_pred, Y[mine]) * (len(mine) / len(batch))
            # Step 3: backward pass: this worker's part of the batch's gradient.
            loss.backward()
            # The all-reduce: every worker receives the sum of all parts, the gradient of
            # the whole batch.
            gradient = torch.stack([w.grad, b.grad])
            dist.all_reduce(gradient)
            # Step 4: the tutorial's update, on every worker's own w and b: the same step.
            w.data = w.data - lr * gradient[0]
            b.data = b.data - lr * gradient[1]
            # Step 5: zero the gradients.
            w.grad.data.zero_()
            b.grad.data.zero_()
            path.append((w.item(), b.item()))
        if verbose and rank == 0:
            print(f"epoch {epoch:3d}: loss={loss_BGD[-1]:.6f} w={w.item():+.6f} "
                  f"b={b.item():+.6f}", flush=True)
    return History(epoch_losses=loss_BGD, path=path)


def full_data_loss(X, Y, w, b, rank, workers):
    """The loss on all the data at (w, b), for the record: each worker's shard of the
    samples, weighted by its share, summed by an all-reduce."""
    first, last = shard_bounds(len(X), rank, workers)
    with torch.no_grad():
        share = criterion(forward(X[first:last], w, b), Y[first:last]) * ((last - first) / len(X))
    dist.all_reduce(share)
    return share.item()


def free_port():
    """A port on the loopback address that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _worker(rank, workers, port, X, Y, settings, results):
    """One spawned worker: join the group over the loopback address, train, and hand rank
    0's history back to the parent."""
    import sys

    # Rank 0 prints; a reader that goes away (| head) must not crash it mid-run.
    sys.stdout = cli.QuietWhenClosed(sys.stdout)
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


def run_workers(X, Y, workers, lr=0.1, epochs=20, w0=-10.0, b0=-20.0, verbose=False,
                batch_size=None, seed=42):
    """Start `workers` processes on this machine, run batch descent across them, and
    return rank 0's History."""
    import torch.multiprocessing as mp

    results = mp.get_context("spawn").SimpleQueue()
    settings = dict(lr=lr, epochs=epochs, w0=w0, b0=b0, verbose=verbose,
                    batch_size=batch_size, seed=seed)
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
    parser.add_argument("--batch-size", type=cli.positive_int, default=None,
                        help="samples per step, split across the workers, at least one each "
                             "(default: all of them, batch descent)")
    parser.add_argument("--order-seed", type=cli.seed_int, default=42,
                        help="seed of the per-epoch shuffling, with --batch-size")
    args, out_dir = cli.parse_args(parser, argv)
    X, Y, source = cli.load_data(parser, args)
    launched = "RANK" in os.environ  # started by torchrun: this process is one worker
    workers = int(os.environ["WORLD_SIZE"]) if launched else args.workers
    if workers > len(X):
        parser.error(f"--workers {workers} is more than the {len(X)} samples: a worker "
                     "would hold none")
    batch_size = len(X) if args.batch_size is None else min(args.batch_size, len(X))
    if batch_size < workers:
        parser.error(f"--batch-size {batch_size} is less than the {workers} workers: a "
                     "worker would have no part of a batch")
    cli.check_work(parser, args.epochs, len(X), batch_size)
    settings = dict(lr=args.lr, epochs=args.epochs, w0=args.w0, b0=args.b0,
                    batch_size=batch_size, seed=args.order_seed)
    if not launched or os.environ["RANK"] == "0":
        sizes = [last - first for first, last in
                 (shard_bounds(batch_size, rank, workers) for rank in range(workers))]
        print(f"data: {source}")
        kind = ("batch gradient descent" if batch_size == len(X) else
                f"mini-batch gradient descent, batches of {batch_size} shuffled with order "
                f"seed {args.order_seed},")
        print(f"{kind} on {workers} worker process{'' if workers == 1 else 'es'} (each step's "
              f"samples split {', '.join(map(str, sizes))}): lr={args.lr:g} "
              f"epochs={args.epochs} start w={args.w0:g} b={args.b0:g}", flush=True)
    bound = stability_bound(X, batch_size)
    rule = ("batch descent" if batch_size == len(X) else
            f"plain descent on the worst batch of {batch_size} samples")
    if args.lr >= bound and (not launched or os.environ["RANK"] == "0"):
        print(f"warning: lr={args.lr:g} is at or above the stability bound {cli.short(bound)} "
              f"of {rule}; the loss may blow up", flush=True)
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
            history = run_workers(X, Y, workers, **settings)
        except WorkerFailed as failure:
            parser.exit(1, f"{parser.prog}: error: {failure}\n")
        # The epoch lines rank 0 would have printed, printed here from its record.
        per_epoch = -(-len(X) // batch_size)
        for epoch, loss in enumerate(history.epoch_losses, start=1):
            w, b = history.path[epoch * per_epoch]
            print(f"epoch {epoch:3d}: loss={loss:.6f} w={w:+.6f} b={b:+.6f}")
    # The divergence check reads the full-data loss at each epoch's start.
    history.step_losses = history.epoch_losses
    cli.exit_if_diverged(parser, history, 1, args.lr, bound, rule)

    from plots import tutorial  # only now: matplotlib's backend has been chosen

    cli.print_summary(X, Y, history)
    label = ("batch GD" if batch_size == len(X) else f"mini-batch {batch_size}") + \
        f" on {workers} workers, lr={args.lr:g}"
    name = ("data_parallel_loss.png" if batch_size == len(X) else
            f"data_parallel_minibatch{batch_size}_loss.png")
    figures = {name: tutorial.plot_losses(X, Y, {label: history}, least_squares(X, Y)[2],
                                          f"Data-parallel descent: {label}")}
    cli.save_figures(out_dir, figures)
    cli.show_figures(figures, args.show)


if __name__ == "__main__":
    cli.run(main)
