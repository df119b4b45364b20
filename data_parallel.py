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
- what a step costs on 1, 2, ... workers, measured and modelled: parallel_costs.py.

Run `python data_parallel.py --help` for the knobs. Importing this module only defines
things.
"""

from plumbing.run import run_as_command  # first: a stop while the libraries load is one line

# isort: split
import math
import os

import torch
import torch.distributed as dist

from descent import divergence_report, exit_on, print_summary
from lines import bound_rule, bound_warning, count, epoch_line
from model import (
    History,
    criterion,
    final_loss,
    forward,
    largest_distance,
    least_squares,
    stability_bound,
)

TEST_ARGS = ["--workers", "2", "--epochs", "3"]


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


def ddp_shards(n, workers):
    """(samples per worker, samples repeated) of DistributedSampler's padded shards."""
    each = math.ceil(n / workers)
    return each, each * workers - n


def run_workers(X, Y, workers, ddp=False, store=None, device="cpu", timeout=60, **settings):
    """Batch descent (train_data_parallel, or train_ddp with ddp=True) on `workers`
    processes started here, meeting at `store`; with no store, on this process as one
    worker of torchrun's group. Either way rank 0's epoch lines are printed: as it goes
    under torchrun, from its record once it is back here. Returns rank 0's History (None
    on torchrun's other ranks). settings: the train function's."""
    from plumbing.workers import join_group, start_workers

    train = train_ddp if ddp else train_data_parallel
    if store is None:
        join_group(device, timeout=timeout)
        try:
            history = _train_on(train, X, Y, device, settings)
        finally:
            dist.destroy_process_group()
        return history if os.environ["RANK"] == "0" else None
    history = start_workers(workers, _train_on, (train, X, Y, device, {**settings,
                            "verbose": False}), store, device, timeout=timeout)
    per_epoch = (len(history.path) - 1) // len(history.epoch_losses)
    for epoch, loss in enumerate(history.epoch_losses, start=1):
        print(epoch_line(epoch, loss, *history.path[epoch * per_epoch]))
    return history


def _train_on(train, X, Y, device, settings):
    """One worker's run, on its device."""
    return train(X.to(device), Y.to(device), **settings)


# The command. The knobs, {name: (type, interval, help)}, beside their defaults; --lr,
# --epochs, --w0 and --b0 are the shared ones (plumbing/options.py), the data's are
# data.OPTIONS'. parallel_costs.py takes --port and --timeout from here.
OPTIONS = {
    "workers": (int, "[1, 64]", "worker processes to start on this machine, at most the "
                "number of samples; by default 3 (under torchrun, the launcher's)"),
    "port": (int, "[0, 65535]", "the workers' meeting port on 127.0.0.1 (0: a free one)"),
    "timeout": (float, "[1, 3600]", "seconds a worker waits for the others before the run "
                "ends (one stopped or stuck)"),
    "batch_size": (int, "[1, inf)", "samples per step, split across the workers; by default "
                   "all of them, batch descent"),
    "order_seed": (int, f"[0, {2**63 - 1}]",
                   "seed of the per-epoch shuffling, with --batch-size or --ddp"),
    "ddp": (bool, None, "the everyday form: nn.Linear in DistributedDataParallel, "
            "torch.optim.SGD and a DistributedSampler (batch descent only)"),
    "weights": (str, list(WEIGHTINGS), "how each worker's loss is weighted before the "
                "gradients are added up: by-share (batch descent) or none (a mistake)"),
    "device": (str, ["cpu", "cuda"], "cpu (gloo) or cuda (NCCL, one GPU per worker)"),
}
DEFAULTS = {"lr": 0.1, "epochs": 20, "w0": -10.0, "b0": -20.0, "workers": None, "port": 0,
            "timeout": 60, "batch_size": None, "order_seed": 42, "ddp": False,
            "weights": "by-share", "device": "cpu"}


def check(parser, args, n, launched):
    """Refuse, in one line, the settings that cannot run together. Returns (workers, batch
    size)."""
    if launched and (args.workers is not None or args.port):
        parser.error("--workers and --port start workers here; under torchrun, the "
                     "launcher's options set them")
    workers = int(os.environ["WORLD_SIZE"]) if launched else args.workers or 3
    # A GPU for each worker on this machine (under torchrun, the ones this node starts).
    here = int(os.environ.get("LOCAL_WORLD_SIZE", workers))
    if args.device == "cuda" and torch.cuda.device_count() < here:
        parser.error(f"--device cuda needs a GPU for each of the {here} workers; this "
                     f"machine has {torch.cuda.device_count()}")
    if workers > n:
        parser.error(f"--workers {workers} is more than the {n} samples: a worker would hold "
                     "none")
    if args.ddp and args.batch_size is not None:
        parser.error("--ddp runs batch descent (each worker's whole shard a step); leave out "
                     "--batch-size")
    if args.ddp and args.weights != "by-share":
        parser.error("--weights is for the hand-written loop; DDP weights by itself (a "
                     "plain mean)")
    return workers, n if args.batch_size is None else min(args.batch_size, n)


def bound_of(X, batch_size, weights):
    """(stability bound, whose) of the run: None where the losses are weighted otherwise
    than by share, a gradient other than the batch's, with no bound known."""
    if weights != "by-share":
        return None, f"descent on losses weighted by {weights}"
    return stability_bound(X, batch_size), bound_rule(batch_size, len(X))


def settings_of(args, batch_size):
    """The train function's settings: train_data_parallel's, or train_ddp's with --ddp."""
    settings = dict(lr=args.lr, epochs=args.epochs, w0=args.w0, b0=args.b0, seed=args.order_seed)
    if not args.ddp:
        settings.update(batch_size=batch_size, weigh=WEIGHTINGS[args.weights])
    return settings


def print_header(source, args, workers, n, batch_size, bound, rule):
    """The data, what runs (which descent, on how many workers, split how) and, where the
    step size is at or above the stability bound, the warning."""
    processes = f"{workers} worker process{'' if workers == 1 else 'es'}"
    settings = f"lr={args.lr:g} epochs={args.epochs} start w={args.w0:g} b={args.b0:g}"
    if args.ddp:
        each, repeated = ddp_shards(n, workers)
        padding = f", {count(repeated, 'sample')} repeated" if repeated else ""
        run = (f"batch gradient descent with DistributedDataParallel on {processes} "
               f"(DistributedSampler's shards: {each} samples each{padding}): {settings}")
    else:
        sizes = ", ".join(str(last - first) for first, last in
                          (shard_bounds(batch_size, rank, workers) for rank in range(workers)))
        kind = ("batch gradient descent" if batch_size == n else
                f"mini-batch gradient descent, batches of {batch_size} shuffled with order "
                f"seed {args.order_seed},")
        weights = "" if args.weights == "by-share" else f", losses weighted by {args.weights}"
        run = f"{kind} on {processes} (each step's samples split {sizes}{weights}): {settings}"
    print(f"data: {source}")
    print(run, flush=True)
    if bound is not None and args.lr >= bound:
        print(bound_warning("lr", args.lr, bound, rule), flush=True)


def print_distance(history, reference):
    distance = largest_distance(history.path, reference.path)
    print(f"{reference.name} on one process ends at w={reference.w:+.6f} b={reference.b:+.6f}; "
          f"the largest distance between the two paths: {distance:.1e}")


def draw(X, Y, history, reference, args, workers, batch_size):
    """{file name: figure}: the run's loss and its distance from one process's path, and
    with batch descent by share, the shards."""
    from plots import data_parallel as plots  # only now: matplotlib's backend has been chosen

    plain, batch = args.weights == "by-share", batch_size == len(X)
    label = (("DDP" if args.ddp else "batch GD") if batch else f"mini-batch {batch_size}") + \
        f" on {workers} workers, lr={args.lr:g}" + ("" if plain else f", weights {args.weights}")
    name = ("data_parallel" + (f"_ddp{workers}" if args.ddp else "") +
            ("" if plain else f"_weights-{args.weights}{workers}") +
            ("" if batch else f"_minibatch{batch_size}") + "_loss.png")
    figures = {name: plots.plot_run(X, Y, history, reference, label, least_squares(X, Y)[2])}
    if not args.ddp and plain and batch:
        figures["data_parallel_shards.png"] = plots.plot_shards(
            X, Y, workers, args.w0, args.b0, shard_bounds)
    return figures


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


def main(argv=None):
    import data
    from plumbing import options, output
    from plumbing.workers import WorkerFailed, meeting_point

    parser = options.Parser("Batch gradient descent across worker processes: each holds a "
                            "shard of the samples, and an all-reduce sums their gradients.")
    options.add_settings(parser, DEFAULTS, OPTIONS)
    options.add_data_args(parser, data)
    args, out_dir = options.parse(parser, argv)
    launched = "RANK" in os.environ  # started by torchrun: this process is one worker
    X, Y, source = data.load_data(parser, args)
    workers, batch_size = check(parser, args, len(X), launched)
    options.check_work(parser, args.epochs, len(X), batch_size)
    try:  # the meeting point, taken before any work
        store = None if launched else meeting_point(args.port, args.timeout)
    except OSError as error:
        parser.error(f"--port {args.port}: {error}")
    bound, rule = bound_of(X, batch_size, args.weights)
    if os.environ.get("RANK", "0") == "0":
        print_header(source, args, workers, len(X), batch_size, bound, rule)

    try:
        history = run_workers(X, Y, workers, args.ddp, store, args.device, args.timeout,
                              **settings_of(args, batch_size))
    except WorkerFailed as failure:
        parser.exit(1, f"{parser.prog}: error: {failure}\n")
    if history is None:  # another rank than 0, under torchrun: rank 0 prints and draws
        return
    history.step_losses = history.epoch_losses  # what the divergence check reads
    diverged = divergence_report(history, 1, args.lr, bound, rule, final_loss(X, Y, history))
    reference = single_process_path(X, Y, args, batch_size)
    if diverged is None:  # a diverged run's figure shows its climb; its one line ends it
        print_summary(X, Y, history)
        print_distance(history, reference)
    figures = draw(X, Y, history, reference, args, workers, batch_size)
    output.save_figures(out_dir, figures)  # a diverged run's too: its climb is the lesson
    exit_on(parser, diverged)
    output.show_figures(figures, args.show)


if __name__ == "__main__":
    run_as_command(main)
