"""From the tutorial's loop to everyday PyTorch: the same descent written five ways.

Each rung replaces one piece of the tutorial's loop with what everyday PyTorch code uses,
and changes nothing else: every rung starts where the tutorial starts, visits the samples
in the same order, and takes the same steps (tests/test_everyday_pytorch.py holds every
path to rung 2's). The script prints each rung's final (w, b) and how far its path ever
got from rung 2's, shows why a DataLoader's shuffling is not train_sgd.py's, and measures
what each rung costs per update. Run `python everyday_pytorch.py --help` for the knobs;
docs/everyday_pytorch.md is the lesson. Importing this module only defines things.
"""

from plumbing.run import run_as_command  # first: a stop while the libraries load is one line

# isort: split
import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from descent import divergence_report, exit_on, has_diverged
from lines import bound_rule, bound_warning, count
from model import (
    History,
    criterion,
    forward,
    full_loss_along,
    largest_distance,
    stability_bound,
)

TEST_ARGS = ["--epochs", "2", "--cost-updates", "5", "--cost-repeats", "1"]


# The five rungs. Rungs 1 to 4 take the data, the step size, the sample order of every
# epoch (one tensor of indices each), the batch size and the start; rung 5 makes one
# DataLoader that shuffles by itself, as everyday code does, and the others are handed the
# order it will visit (loader_orders). Each returns the path: (w, b) at the start and
# after every update.

def rung1_numpy(X, Y, lr, orders, batch_size, w0, b0):
    """NumPy, float32, with the gradient of the MSE derived by hand: no autograd."""
    x, y = X.numpy().reshape(-1), Y.numpy().reshape(-1)
    w, b = np.float32(w0), np.float32(b0)
    path = [(float(w), float(b))]
    for order in orders:
        for first in range(0, len(order), batch_size):
            batch = order[first:first + batch_size].numpy()
            # Step 1: forward pass.
            residual = (w * x[batch] + b) - y[batch]
            # Steps 2 and 3: the loss mean(residual^2) has gradient 2 mean(residual * x)
            # in w and 2 mean(residual) in b.
            grad_w = 2 * np.mean(residual * x[batch], dtype=np.float32)
            grad_b = 2 * np.mean(residual, dtype=np.float32)
            # Step 4: the update. (Step 5: nothing to zero; the gradient is new each time.)
            w, b = w - np.float32(lr) * grad_w, b - np.float32(lr) * grad_b
            path.append((float(w), float(b)))
    return path


def rung2_tutorial(X, Y, lr, orders, batch_size, w0, b0):
    """The tutorial's loop: autograd, and the update through .data."""
    w = torch.tensor(float(w0), requires_grad=True)
    b = torch.tensor(float(b0), requires_grad=True)
    path = [(w.item(), b.item())]
    for order in orders:
        for first in range(0, len(order), batch_size):
            batch = order[first:first + batch_size]
            loss = criterion(forward(X[batch], w, b), Y[batch])  # Steps 1 and 2
            loss.backward()  # Step 3
            w.data = w.data - lr * w.grad.data  # Step 4
            b.data = b.data - lr * b.grad.data
            w.grad.data.zero_()  # Step 5
            b.grad.data.zero_()
            path.append((w.item(), b.item()))
    return path


def rung3_no_grad(X, Y, lr, orders, batch_size, w0, b0):
    """The update in place, under torch.no_grad(): what torch.optim does inside."""
    w = torch.tensor(float(w0), requires_grad=True)
    b = torch.tensor(float(b0), requires_grad=True)
    path = [(w.item(), b.item())]
    for order in orders:
        for first in range(0, len(order), batch_size):
            batch = order[first:first + batch_size]
            loss = criterion(forward(X[batch], w, b), Y[batch])  # Steps 1 and 2
            loss.backward()  # Step 3
            with torch.no_grad():  # Step 4
                w -= lr * w.grad
                b -= lr * b.grad
            w.grad.zero_()  # Step 5
            b.grad.zero_()
            path.append((w.item(), b.item()))
    return path


def rung4_optimizer(X, Y, lr, orders, batch_size, w0, b0):
    """torch.optim.SGD takes Steps 4 and 5."""
    w = torch.tensor(float(w0), requires_grad=True)
    b = torch.tensor(float(b0), requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=lr)
    path = [(w.item(), b.item())]
    for order in orders:
        for first in range(0, len(order), batch_size):
            batch = order[first:first + batch_size]
            optimizer.zero_grad()  # Step 5, done first
            loss = criterion(forward(X[batch], w, b), Y[batch])  # Steps 1 and 2
            loss.backward()  # Step 3
            optimizer.step()  # Step 4
            path.append((w.item(), b.item()))
    return path


def rung5_everyday(X, Y, lr, epochs, batch_size, w0, b0, shuffle=True, seed=42):
    """The loop every PyTorch program uses: nn.Linear, nn.MSELoss, torch.optim.SGD and one
    DataLoader, shuffling by itself with a seeded generator and iterated each epoch. The
    other rungs take the order it visits, worked out by hand (loader_orders)."""
    model = nn.Linear(1, 1)  # w*x + b, with w as model.weight and b as model.bias
    with torch.no_grad():
        model.weight.fill_(w0)
        model.bias.fill_(b0)
    loss_fn = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loader = DataLoader(TensorDataset(X, Y), batch_size=batch_size, shuffle=shuffle,
                        generator=torch.Generator().manual_seed(seed))
    path = [(model.weight.item(), model.bias.item())]
    for _ in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            path.append((model.weight.item(), model.bias.item()))
    return path


RUNGS = {
    "1 NumPy, gradient by hand": rung1_numpy,
    "2 autograd, .data update (tutorial)": rung2_tutorial,
    "3 autograd, update under no_grad": rung3_no_grad,
    "4 torch.optim.SGD": rung4_optimizer,
    "5 nn.Linear, MSELoss, DataLoader": rung5_everyday,
}


def run_rung(rung, X, Y, lr, orders, batch_size, shuffle=True, seed=42, w0=-10.0, b0=-20.0):
    """A rung's path: rungs 1 to 4 on the given orders, rung 5 on its own DataLoader's
    (the same orders where they were worked out from its generator: loader_orders)."""
    if rung is rung5_everyday:
        return rung5_everyday(X, Y, lr, len(orders), batch_size, w0, b0, shuffle, seed)
    return rung(X, Y, lr, orders, batch_size, w0, b0)


def epoch_orders(n, epochs, shuffle=True, seed=42):
    """The sample order of every epoch, as train_sgd.py draws it: a fresh torch.randperm
    from a generator seeded by `seed`, or the stored order."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
            for _ in range(epochs)]


def loader_orders(n, epochs, shuffle=True, seed=42):
    """The orders a DataLoader(shuffle=True, generator seeded by `seed`) visits, epoch by
    epoch, worked out by hand from the generator: at the start of each epoch the loader
    draws one int64 from it (its base seed), then its sampler draws a permutation, and one
    more permutation (of which it keeps nothing) when it has yielded all n."""
    if not shuffle:
        return [torch.arange(n) for _ in range(epochs)]
    generator = torch.Generator().manual_seed(seed)
    orders = []
    for _ in range(epochs):
        torch.empty((), dtype=torch.int64).random_(generator=generator)
        orders.append(torch.randperm(n, generator=generator))
        torch.randperm(n, generator=generator)
    return orders


def dataloader_orders(n, epochs, seed=42):
    """The orders a DataLoader(shuffle=True, generator seeded by `seed`) visits, as it
    visits them."""
    loader = DataLoader(TensorDataset(torch.arange(n)), batch_size=n, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    return [torch.cat([batch[0] for batch in loader]) for _ in range(epochs)]


def cost_per_update(batch_size, updates, repeats):
    """Microseconds per update of each rung on batches of `batch_size`, measured side by
    side: the rungs take turns, `repeats` times, over one epoch of `updates` batches; the
    median."""
    from data import make_data

    X, Y = make_data(n=updates * batch_size)
    orders = loader_orders(len(X), 1, seed=0)
    times = {name: [] for name in RUNGS}
    for rung in RUNGS.values():  # once untimed: the first call pays for warming up
        run_rung(rung, X, Y, 1e-4, orders, batch_size, seed=0)
    for _ in range(repeats):
        for name, rung in RUNGS.items():
            started = time.perf_counter()
            run_rung(rung, X, Y, 1e-4, orders, batch_size, seed=0)
            times[name].append((time.perf_counter() - started) / updates * 1e6)
    return {name: float(np.median(values)) for name, values in times.items()}


# The knobs, {name: (type, interval, help)}, beside their defaults; --batch-size, --lr and
# --order-seed are the shared ones (plumbing/options.py), the data's are data.OPTIONS'.
# The cost table times every rung on both batch sizes: at up to about 10 ms an update (the
# DataLoader's, on batches of 1024), this many updates a rung keeps it to minutes.
MAX_TIMED = 10_000
OPTIONS = {
    "epochs": (int, "[1, 1000]", "passes over the data"),
    "no_shuffle": (bool, None, "visit the samples in their stored order, as the tutorial does"),
    "randperm_order": (bool, None, "rungs 1 to 4 visit the samples as train_sgd.py does (a "
                       "torch.randperm each epoch), not in the DataLoader's order"),
    "cost_updates": (int, "[1, 10_000]", "updates each rung is timed for, per repeat (at "
                     f"most {MAX_TIMED:,} with the repeats: --cost-updates x --cost-repeats)"),
    "cost_repeats": (int, "[1, 100]", "repeats of the cost measurement (the median is printed)"),
}
DEFAULTS = {"batch_size": 1, "epochs": 20, "lr": 0.01, "no_shuffle": False, "order_seed": 42,
            "randperm_order": False, "cost_updates": 200, "cost_repeats": 5}


def check(parser, args):
    """Refuse the settings that contradict each other, in one line."""
    if args.randperm_order and args.no_shuffle:
        parser.error("--randperm-order and --no-shuffle: the samples are either shuffled "
                     "or in order")
    if args.cost_updates * args.cost_repeats > MAX_TIMED:
        parser.error(f"--cost-updates {args.cost_updates:,} x --cost-repeats "
                     f"{args.cost_repeats:,} is {args.cost_updates * args.cost_repeats:,} timed "
                     f"updates a rung; the limit is {MAX_TIMED:,}")


def print_header(args, batch_size):
    """What runs: the epochs, the batches, the step, the start and the samples' order."""
    order = "in order" if args.no_shuffle else f"shuffled with order seed {args.order_seed}"
    print(f"{count(args.epochs, 'epoch')} on batches of {batch_size}, lr={args.lr:g}, from "
          f"w=-10 b=-20, samples {order}; rungs 1 to 4 in the order "
          + ("train_sgd.py draws (torch.randperm)" if args.randperm_order else
             "rung 5's DataLoader visits, worked out by hand"))


def run_rungs(X, Y, args, batch_size, bound, rule):
    """Every rung's path, the tutorial's (rung 2) first: (paths, rung 2's path, the
    divergence line or None). A run that diverges is cut, every rung's, at the end of the
    epoch it diverged in."""
    n, shuffle = len(X), not args.no_shuffle
    if args.randperm_order:  # train_sgd.py's order: rung 5's DataLoader keeps its own
        orders = epoch_orders(n, args.epochs, seed=args.order_seed)
    else:  # the order rung 5's DataLoader will visit, worked out by hand
        orders = loader_orders(n, args.epochs, shuffle, args.order_seed)
    reference = rung2_tutorial(X, Y, args.lr, orders, batch_size, -10.0, -20.0)
    losses = full_loss_along(X, Y, reference).tolist()
    per_epoch = -(-n // batch_size)
    # The loss before every update, as descent.train records it, and where the run ended.
    diverged = divergence_report(History([losses[0]], losses[:-1], reference), per_epoch,
                                 args.lr, bound, rule, losses[-1])
    if diverged is not None:
        epochs = -(-next(k for k, loss in enumerate(losses) if has_diverged(loss, losses[0]))
                   // per_epoch)
        orders, reference = orders[:epochs], reference[:epochs * per_epoch + 1]
    # NumPy warns where float32 overflows; torch, and the divergence line, say it once.
    with np.errstate(over="ignore", invalid="ignore"):
        paths = {name: reference if rung is rung2_tutorial else
                 run_rung(rung, X, Y, args.lr, orders, batch_size, shuffle, args.order_seed)
                 for name, rung in RUNGS.items()}
    return paths, reference, diverged


def print_finals(paths, reference):
    for name, path in paths.items():
        w, b = path[-1]
        print(f"rung {name:37} final w={w:+.6f} b={b:+.6f}; largest distance from rung 2 "
              f"along the path: {largest_distance(path, reference):.1e}")


def print_orders(n, seed):
    """The first samples of two epochs in train_sgd.py's order, the DataLoader's, and the
    DataLoader's worked out by hand."""
    shown = min(8, n)
    print(f"the first {shown} samples of epochs 1 and 2, with generators seeded {seed}:")
    for label, pair in [("torch.randperm (train_sgd.py)", epoch_orders(n, 2, True, seed)),
                        ("DataLoader(shuffle=True)", dataloader_orders(n, 2, seed)),
                        ("by hand: int64, randperm, randperm", loader_orders(n, 2, True, seed))]:
        print(f"  {label:35} " + " | ".join(
            " ".join(f"{i:2d}" for i in epoch[:shown].tolist()) for epoch in pair))


def print_costs(updates, repeats):
    """The table of each rung's cost per update, on single samples and batches of 1024."""
    costs = {size: cost_per_update(size, updates, repeats) for size in (1, 1024)}
    print(f"cost per update, the rungs taking turns (median of {repeats}, each over one epoch "
          f"of {updates} batches):")
    print(f"  {'rung':37} {'B=1':>10} {'B=1024':>10}")
    for name in RUNGS:
        print(f"  {name:37} {costs[1][name]:7.1f} us {costs[1024][name]:7.1f} us")


def draw(X, Y, paths, reference, args, diverged=False):
    """{file name: figure}: the rungs' paths on the loss surface."""
    from plots import everyday_pytorch as drawing  # only now: the backend has been chosen

    name = "everyday_pytorch_randperm_order.png" if args.randperm_order else \
        "everyday_pytorch.png"
    return {name: drawing.plot_rungs(X, Y, paths, reference, diverged=diverged)}


def main(argv=None):
    import data
    from plumbing import options, output

    parser = options.Parser("The tutorial's descent written five ways, from NumPy to "
                            "nn.Linear with a DataLoader: the same path every time, and what "
                            "each costs.")
    options.add_settings(parser, DEFAULTS, OPTIONS)
    options.add_data_args(parser, data)
    args, out_dir = options.parse(parser, argv)
    check(parser, args)
    X, Y, source = data.load_data(parser, args)
    batch_size = min(args.batch_size, len(X))
    options.check_work(parser, args.epochs, len(X), batch_size)

    print(f"data: {source}")
    print_header(args, batch_size)
    bound, rule = stability_bound(X, batch_size), bound_rule(batch_size, len(X))
    if args.lr >= bound:
        print(bound_warning("lr", args.lr, bound, rule), flush=True)
    paths, reference, diverged = run_rungs(X, Y, args, batch_size, bound, rule)
    if diverged is not None:  # drawn, then one line: its climb is the lesson
        output.save_figures(out_dir, draw(X, Y, paths, reference, args, diverged=True))
        exit_on(parser, diverged)
    print_finals(paths, reference)
    print_orders(len(X), args.order_seed)
    print_costs(args.cost_updates, args.cost_repeats)
    figures = draw(X, Y, paths, reference, args)
    output.save_figures(out_dir, figures)
    output.show_figures(figures, args.show)


if __name__ == "__main__":
    run_as_command(main)
