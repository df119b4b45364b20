"""Batch gradient descent on several processes: data parallelism with torch.distributed.

Each worker holds a shard of the samples, computes its part of the full-data gradient with
autograd, and an all-reduce sums the parts, so that every worker takes the very step batch
descent takes, on its own copy of w and b. `python data_parallel.py --workers 2` starts
its own workers on this machine (gloo over the loopback address); under
`torchrun --standalone --nproc-per-node 2 data_parallel.py` the launcher starts them.
Only rank 0 prints and writes the figure.

- train_data_parallel: the tutorial's loop, with the all-reduce (the lesson).
- train_ddp: the same descent as everyday PyTorch writes it, DistributedDataParallel and a
  DistributedSampler, and its trap with unequal shards.
- --costs: what a step costs on 1, 2, ... workers, measured and modelled (parallel_costs.py).

Run `python data_parallel.py --help` for the knobs. Importing this module only defines
things.
"""

import datetime
import logging
import math
import os
import re

import torch
import torch.distributed as dist

import cli
from model import History, criterion, forward, largest_distance, least_squares, stability_bound

TEST_ARGS = ["--workers", "2", "--epochs", "3"]
TIMEOUT = datetime.timedelta(seconds=60)  # a worker waiting longer for the others gives up


def shard_bounds(n, rank, workers):
    """(first, last) of worker `rank`'s contiguous shard: sizes as equal as they can be,
    the first n % workers shards one sample larger (100 on 3 workers: 34, 33, 33)."""
    base, extra = divmod(n, workers)
    first = rank * base + min(rank, extra)
    return first, first + base + (rank < extra)


def by_share(loss, share):
    """The lesson's weighting: each worker's mean loss times its share of the batch.
    Summed over the workers, the weighted losses are the batch's mean loss, and their
    gradients its mean gradient."""
    return loss * share


def unweighted(loss, share):
    """A mistake, for the exercise: each worker's mean loss as it is. Summed over K
    workers, the gradients are about K times the batch's."""
    return loss


# How each worker's loss is weighted before the all-reduce adds the gradients up:
# --weights NAME. A teacher's variant is one function weigh(loss, share) and an entry.
WEIGHTINGS = {"by-share": by_share, "none": unweighted}


def train_data_parallel(X, Y, lr=0.1, epochs=20, w0=-10.0, b0=-20.0, verbose=True,
                        batch_size=None, seed=42, weigh=by_share):
    """This worker's part of the descent; every worker of the process group runs it.

    batch_size None is batch descent: each step on all samples, split across the workers.
    A smaller batch_size is mini-batch descent: each epoch every worker draws the same
    order (a generator seeded by `seed`, as train_sgd.py draws it), and each global batch
    of batch_size samples is split across the workers. `weigh` weights each worker's loss
    (by_share: so that the sum is the batch's mean loss). Returns the run's History (the
    same on every worker); rank 0 prints the epoch lines.
    """
    rank, workers = dist.get_rank(), dist.get_world_size()
    n = len(X)
    batch_size = n if batch_size is None else min(batch_size, n)
    generator = torch.Generator().manual_seed(seed)  # the same order on every worker
    w = torch.tensor(float(w0), requires_grad=True, device=X.device)
    b = torch.tensor(float(b0), requires_grad=True, device=X.device)
    loss_BGD = []  # the full-data loss at the start of every epoch, the tutorial's list
    path = [(w.item(), b.item())]

    for epoch in range(1, epochs + 1):
        loss_BGD.append(full_data_loss(X, Y, w, b))
        order = torch.randperm(n, generator=generator) if batch_size < n else torch.arange(n)
        for first in range(0, n, batch_size):
            batch = order[first:first + batch_size]
            low, high = shard_bounds(len(batch), rank, workers)
            mine = batch[low:high]  # this worker's part (empty: it adds a zero gradient)
            # Step 1: forward pass on this worker's part only.
            y_pred = forward(X[mine], w, b)
            # Step 2: its mean loss, weighted by its share of the batch (by_share): summed
            # over the workers, the weighted losses are the batch's mean loss.
            loss = weigh(criterion(y_pred, Y[mine]), len(mine) / len(batch))
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
            print(epoch_line(epoch, loss_BGD[-1], w.item(), b.item()), flush=True)
    return History(epoch_losses=loss_BGD, path=path)


def train_ddp(X, Y, lr=0.1, epochs=20, w0=-10.0, b0=-20.0, verbose=True, seed=42):
    """The same descent as everyday PyTorch writes it: nn.Linear(1, 1) wrapped in
    DistributedDataParallel, torch.optim.SGD, and a DistributedSampler that deals each
    worker its shard, taken as one batch per step.

    The trap: DDP averages the workers' gradients with equal weights, each the mean over
    its own shard, and the sampler pads the shards to equal size by repeating samples.
    Unless the workers divide the samples evenly, that is not batch descent.
    """
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

    model = nn.Linear(1, 1).to(X.device)  # w*x + b, with w as model.weight and b as model.bias
    with torch.no_grad():
        model.weight.fill_(w0)
        model.bias.fill_(b0)
    ddp_model = DistributedDataParallel(model)  # hooks backward() to all-reduce the gradients
    optimizer = torch.optim.SGD(ddp_model.parameters(), lr=lr)
    dataset = TensorDataset(X, Y)
    sampler = DistributedSampler(dataset, seed=seed)  # shuffles, and pads to equal shards
    loader = DataLoader(dataset, batch_size=len(sampler), sampler=sampler)  # a shard a batch
    loss_BGD = []
    path = [(model.weight.item(), model.bias.item())]

    for epoch in range(1, epochs + 1):
        loss_BGD.append(full_data_loss(X, Y, model.weight.view(()), model.bias.view(())))
        sampler.set_epoch(epoch)  # a new shuffle, so a new choice of repeated samples
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(ddp_model(x), y)  # the mean over this worker's shard
            loss.backward()  # DDP's all-reduce: the plain mean of the workers' gradients
            optimizer.step()
            path.append((model.weight.item(), model.bias.item()))
        if verbose and dist.get_rank() == 0:
            print(epoch_line(epoch, loss_BGD[-1], *path[-1]), flush=True)
    return History(epoch_losses=loss_BGD, path=path)


def full_data_loss(X, Y, w, b):
    """The loss on all the data at (w, b), for the record: each worker's shard of the
    samples, weighted by its share, summed by an all-reduce."""
    first, last = shard_bounds(len(X), dist.get_rank(), dist.get_world_size())
    with torch.no_grad():
        share = criterion(forward(X[first:last], w, b), Y[first:last]) * ((last - first) / len(X))
    dist.all_reduce(share)
    return share.item()


def epoch_line(epoch, loss, w, b):
    return f"epoch {epoch:3d}: loss={loss:.6f} w={w:+.6f} b={b:+.6f}"


def ddp_shards(n, workers):
    """(samples per worker, samples repeated) of DistributedSampler's padded shards."""
    each = math.ceil(n / workers)
    return each, each * workers - n


# Starting the workers.

class WorkerFailed(Exception):
    """A worker process died or raised: the run cannot go on."""


def _worker(rank, workers, port, device, function, args, results):
    """One spawned worker: join the group at the parent's store, run function(*args), and
    hand rank 0's result back to the parent."""
    import multiprocessing
    import sys
    import threading

    # Rank 0 may print; a reader that goes away (| head) must not crash it mid-run.
    sys.stdout = cli.QuietWhenClosed(sys.stdout)
    # A worker whose parent is gone (killed, say) ends at once, instead of training on.
    parent = multiprocessing.parent_process()
    threading.Thread(target=lambda: (parent.join(), os._exit(1)), daemon=True).start()
    store = dist.TCPStore("127.0.0.1", port, is_master=False, timeout=TIMEOUT)
    join_group(device, rank, workers, store=store)
    try:
        result = function(*args)
        if rank == 0:
            results.put(result)
    finally:
        dist.destroy_process_group()


def join_group(device, rank=None, workers=None, store=None):
    """Join the process group: gloo on the CPU, NCCL and this worker's own GPU with cuda.
    With no store, from torchrun's environment."""
    if device == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", rank)))
    joining = dict(store=store, rank=rank, world_size=workers) if store else {}
    dist.init_process_group("nccl" if device == "cuda" else "gloo", timeout=TIMEOUT, **joining)


def meeting_point(port=0):
    """The group's meeting point, held by the parent: a TCPStore on 127.0.0.1:port (port 0:
    one the system says is free). Taken before any worker starts, it cannot be taken by
    another program in between. A port that cannot be had raises OSError, with the
    system's reason."""
    try:
        return dist.TCPStore("127.0.0.1", port, is_master=True, wait_for_workers=False,
                             timeout=TIMEOUT)
    except dist.DistNetworkError as error:
        reason = re.search(r"message: ([^\n]+)", str(error))  # e.g. address already in use
        raise OSError(f"cannot listen on 127.0.0.1:{port}: "
                      f"{reason.group(1) if reason else 'refused'}") from None


def start_workers(workers, function, args=(), store=None, device="cpu"):
    """Run function(*args) on `workers` processes of one group on this machine, meeting at
    `store` (by default a new meeting_point()), and return rank 0's result.

    A worker that dies or fails raises WorkerFailed, once the others are stopped; Ctrl-C
    or SIGTERM stops the workers, then goes on as usual.
    """
    import multiprocessing
    import signal
    import threading
    from multiprocessing import forkserver

    import torch.multiprocessing as mp

    store = meeting_point() if store is None else store
    # The workers are forked from a server process that has imported torch once (the first
    # time this process starts workers): a worker then starts in a fraction of a second,
    # instead of importing torch again. (The server looks for modules by the standard
    # path only: torch is there, this project's modules may not be.)
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(["torch", "torch.distributed"])
    results = context.SimpleQueue()
    # spawn logs each worker it stops; the one line of WorkerFailed says what happened.
    logging.getLogger("torch.multiprocessing.spawn").setLevel(logging.ERROR)
    # Ctrl-C is for this process alone: the server (and so the workers it forks) starts
    # with SIGINT ignored, which lasts through the exec. While the workers start, a signal
    # waits (a worker half-started would print a traceback); then the workers are stopped.
    stops = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT]
    held, handlers = [], {}
    if threading.current_thread() is threading.main_thread():
        handlers = {signum: signal.signal(signum, signal.SIG_IGN) for signum in stops}
        try:
            forkserver.ensure_running()
        finally:
            for signum in stops:
                signal.signal(signum, lambda signum, frame: held.append(signum))
    result = None
    try:
        try:
            workers_running = mp.start_processes(
                _worker, args=(workers, store.port, device, function, args, results),
                nprocs=workers, join=False, start_method="forkserver")
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
        for signum in held[:1]:
            signal.raise_signal(signum)  # now, with its own handler
        # Read rank 0's result while waiting: a result larger than the pipe's buffer
        # would otherwise keep rank 0 from ending. If a worker dies, join stops the
        # others at once and raises.
        while not workers_running.join(timeout=0.05):
            if result is None and not results.empty():
                result = results.get()
    except mp.ProcessExitedException as error:
        raise WorkerFailed(f"worker {error.error_index} ended with exit code "
                           f"{error.exit_code}; the others were stopped") from None
    except mp.ProcessRaisedException as error:
        last = str(error).strip().splitlines()[-1]
        raise WorkerFailed(f"worker {error.error_index} failed: {last}") from None
    except BaseException:  # Ctrl-C, SIGTERM: no worker outlives the run
        for process in multiprocessing.active_children():
            process.kill()
        raise
    return results.get() if result is None else result


def run_workers(X, Y, workers, ddp=False, store=None, device="cpu", **settings):
    """Batch descent (train_data_parallel, or train_ddp with ddp=True) on `workers`
    processes started here; returns rank 0's History. settings: the train function's."""
    train = train_ddp if ddp else train_data_parallel
    settings.setdefault("verbose", False)
    return start_workers(workers, _train_on, (train, X, Y, device, settings), store, device)


def _train_on(train, X, Y, device, settings):
    """One worker's run, on its device."""
    return train(X.to(device), Y.to(device), **settings)


# The command.

def main(argv=None):
    parser = cli.Parser("Batch gradient descent across worker processes: each holds a shard "
                        "of the samples, and an all-reduce sums their gradients.")
    cli.add_training_args(parser, lr=0.1, epochs=20)
    parser.add_argument("--workers", type=cli.bounded_int(1, 64), default=None,
                        help="worker processes to start on this machine, 1 to 64 and at most "
                             "the number of samples (default: 3; with --costs, the largest "
                             "count timed, default 2; under torchrun, the launcher's count)")
    parser.add_argument("--batch-size", type=cli.positive_int, default=None,
                        help="samples per step, split across the workers (default: all of "
                             "them, batch descent)")
    parser.add_argument("--order-seed", type=cli.seed_int, default=42,
                        help="seed of the per-epoch shuffling, with --batch-size or --ddp")
    parser.add_argument("--ddp", action="store_true",
                        help="the everyday form: nn.Linear in DistributedDataParallel, "
                             "torch.optim.SGD and a DistributedSampler (batch descent only)")
    parser.add_argument("--weights", choices=list(WEIGHTINGS), default="by-share",
                        help="how each worker's loss is weighted before the gradients are "
                             "added up: by-share (batch descent) or none (a mistake)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="cpu (gloo) or cuda (NCCL, one GPU per worker)")
    parser.add_argument("--port", type=cli.bounded_int(0, 65535), default=0,
                        help="the workers' meeting port on 127.0.0.1; 0 takes a free one")
    parser.add_argument("--costs", action="store_true",
                        help="instead of training, time a step on 1 to --workers workers at "
                             "n = 100 to --costs-up-to, and fit a cost model")
    parser.add_argument("--costs-up-to", type=cli.bounded_int(10**5, 10**7), default=None,
                        metavar="N", help="with --costs, the largest n timed, 100,000 (where a "
                        "step's time starts to grow with n) to 10,000,000 (default: "
                        "10,000,000)")
    parser.add_argument("--latency-us", type=cli.positive_float, default=None,
                        help="with --costs, the network latency per message between machines "
                             "that the cost model assumes, in microseconds (default: 50)")
    args, out_dir = cli.parse_args(parser, argv)
    launched = "RANK" in os.environ  # started by torchrun: this process is one worker
    plain = args.weights == "by-share"  # the lesson's own weighting
    given = [f"--{name.replace('_', '-')}" for name in ("costs_up_to", "latency_us")
             if getattr(args, name) is not None]
    if given and not args.costs:
        parser.error(f"{' and '.join(given)}: only with --costs")
    training = [option for option, used in (("--ddp", args.ddp),
                                            ("--batch-size", args.batch_size is not None),
                                            ("--weights", not plain)) if used]
    if args.costs and training:
        parser.error(f"{', '.join(training)}: not with --costs, which times batch descent "
                     "by hand")
    if launched and (args.workers is not None or args.port):
        parser.error("--workers and --port start workers here; under torchrun, the "
                     "launcher's options set them")
    workers = int(os.environ["WORLD_SIZE"]) if launched else args.workers or 3
    # A GPU for each worker on this machine (under torchrun, the ones this node starts).
    check_device(parser, args.device, int(os.environ.get("LOCAL_WORLD_SIZE", workers)))
    if args.costs:
        import parallel_costs

        return parallel_costs.main(parser, args, out_dir, launched)

    X, Y, source = cli.load_data(parser, args)
    if workers > len(X):
        parser.error(f"--workers {workers} is more than the {len(X)} samples: a worker "
                     "would hold none")
    if args.ddp and args.batch_size is not None:
        parser.error("--ddp runs batch descent (each worker's whole shard a step); leave out "
                     "--batch-size")
    if args.ddp and not plain:
        parser.error("--weights is for the hand-written loop; DDP weights by itself (a "
                     "plain mean)")
    batch_size = len(X) if args.batch_size is None else min(args.batch_size, len(X))
    cli.check_work(parser, args.epochs, len(X), batch_size)
    settings = dict(lr=args.lr, epochs=args.epochs, w0=args.w0, b0=args.b0, seed=args.order_seed)
    if not args.ddp:
        settings.update(batch_size=batch_size, weigh=WEIGHTINGS[args.weights])
    rank0 = not launched or os.environ["RANK"] == "0"
    if not launched:  # the meeting point, taken before any work
        try:
            store = meeting_point(args.port)
        except OSError as error:
            parser.error(f"--port {args.port}: {error}")
    bound = stability_bound(X, batch_size)
    rule = ("batch descent" if batch_size == len(X) else
            f"plain descent on the worst batch of {batch_size} samples")
    if not plain:  # another gradient than the batch's: no bound known
        bound, rule = None, f"descent on losses weighted by {args.weights}"
    if rank0:
        print(f"data: {source}")
        print(run_header(args, workers, len(X), batch_size), flush=True)
        if bound is not None and args.lr >= bound:
            print(f"warning: lr={args.lr:g} is at or above the stability bound "
                  f"{cli.short(bound)} of {rule}; the loss may blow up", flush=True)

    if launched:
        join_group(args.device)
        try:
            train = train_ddp if args.ddp else train_data_parallel
            history = _train_on(train, X, Y, args.device, settings)
        finally:
            dist.destroy_process_group()
        if not rank0:
            return
    else:
        try:
            history = run_workers(X, Y, workers, args.ddp, store, args.device, **settings)
        except WorkerFailed as failure:
            parser.exit(1, f"{parser.prog}: error: {failure}\n")
        # The epoch lines rank 0 would have printed, printed here from its record.
        per_epoch = (len(history.path) - 1) // len(history.epoch_losses)
        for epoch, loss in enumerate(history.epoch_losses, start=1):
            print(epoch_line(epoch, loss, *history.path[epoch * per_epoch]))
    # The divergence check reads the full-data loss at each epoch's start.
    history.step_losses = history.epoch_losses
    cli.exit_if_diverged(parser, history, 1, args.lr, bound, rule)

    from plots import data_parallel as plots  # only now: matplotlib's backend has been chosen

    cli.print_summary(X, Y, history)
    reference = single_process_path(X, Y, args, batch_size)
    distance = largest_distance(history.path, reference.path)
    print(f"{reference.name} on one process ends at w={reference.w:+.6f} "
          f"b={reference.b:+.6f}; the largest distance between the two paths: "
          f"{distance:.1e}")
    label = (("DDP" if args.ddp else "batch GD") if batch_size == len(X) else
             f"mini-batch {batch_size}") + f" on {workers} workers, lr={args.lr:g}" + \
        ("" if plain else f", weights {args.weights}")
    name = ("data_parallel" + (f"_ddp{workers}" if args.ddp else "") +
            ("" if plain else f"_weights-{args.weights}{workers}") +
            ("" if batch_size == len(X) else f"_minibatch{batch_size}") + "_loss.png")
    figures = {name: plots.plot_run(X, Y, history, reference, label, least_squares(X, Y)[2])}
    if not args.ddp and plain and batch_size == len(X):
        figures["data_parallel_shards.png"] = plots.plot_shards(
            X, Y, workers, args.w0, args.b0, shard_bounds)
    cli.save_figures(out_dir, figures)
    cli.show_figures(figures, args.show)


def check_device(parser, device, workers):
    if device == "cuda" and torch.cuda.device_count() < workers:
        parser.error(f"--device cuda needs a GPU for each of the {workers} workers; this "
                     f"machine has {torch.cuda.device_count()}")


def run_header(args, workers, n, batch_size):
    """The line that says what runs: which descent, on how many workers, split how."""
    processes = f"{workers} worker process{'' if workers == 1 else 'es'}"
    settings = f"lr={args.lr:g} epochs={args.epochs} start w={args.w0:g} b={args.b0:g}"
    if args.ddp:
        each, repeated = ddp_shards(n, workers)
        padding = f", {repeated} sample{'' if repeated == 1 else 's'} repeated" if repeated else ""
        return (f"batch gradient descent with DistributedDataParallel on {processes} "
                f"(DistributedSampler's shards: {each} samples each{padding}): {settings}")
    sizes = ", ".join(str(last - first) for first, last in
                      (shard_bounds(batch_size, rank, workers) for rank in range(workers)))
    kind = ("batch gradient descent" if batch_size == n else
            f"mini-batch gradient descent, batches of {batch_size} shuffled with order "
            f"seed {args.order_seed},")
    weights = "" if args.weights == "by-share" else f", losses weighted by {args.weights}"
    return f"{kind} on {processes} (each step's samples split {sizes}{weights}): {settings}"


def single_process_path(X, Y, args, batch_size):
    """The same descent on one process, the reference: train_batch's, or train_sgd's on
    the same batches. Its History gets a `name`."""
    if batch_size == len(X):
        from train_batch import train_batch

        reference = train_batch(X, Y, args.lr, args.epochs, args.w0, args.b0, verbose=False)
        reference.name = "batch descent (train_batch.py)"
    else:
        from train_sgd import train_sgd

        reference = train_sgd(X, Y, args.lr, args.epochs, args.w0, args.b0, verbose=False,
                              batch_size=batch_size, seed=args.order_seed)
        reference.name = f"mini-batch descent (train_sgd.py --batch-size {batch_size})"
    return reference


if __name__ == "__main__":
    cli.run(main)
