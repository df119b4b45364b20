"""Measure the tutorial's claim: which method reaches the best fit fastest as the data grows.

First it prints the cost ratios the project promises, measured side by side in this run.
Then, for each data size n, it runs batch descent, SGD, mini-batches, a torch.optim.SGD
loop and the closed-form least-squares solve, and records the wall-clock time and the
samples processed until the full-data loss is within 1% of the least-squares loss.
Run `python benchmark.py --help` for the knobs.
"""

import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

import cli
from data import make_data
from model import (
    FullDataLoss,
    criterion,
    forward,
    least_squares,
    samples_after,
    stability_bound,
)
from train_batch import train_batch
from train_sgd import train_sgd

TARGET = 1.01  # reach a full-data loss within 1% of the least-squares loss
START = (-10.0, -20.0)
CSV_COLUMNS = ["n", "method", "batch_size", "lr", "reached", "seconds", "samples", "updates",
               "seconds_per_update", "final_loss", "ls_loss", "loss_over_ls"]


def step_size(X, batch_size):
    """The stated rule: the smaller of half the stability bound for this batch size, and the
    step whose predicted noise floor is a quarter of the 1% target.

    Near the minimum, constant-step descent on batches of B samples jitters with an average
    excess loss of about (lr / B) * tr(H) * L* / 2 (H the MSE Hessian, L* the least-squares
    loss). Asking for a quarter of the target, 0.0025 * L*, gives lr = 0.005 * B / tr(H):
    no knowledge of the noise is needed. Batch descent has no sampling noise.
    """
    lr = 0.5 * stability_bound(X, batch_size)
    if batch_size < len(X):
        trace = 2.0 * (X.double().pow(2).mean().item() + 1.0)
        lr = min(lr, 0.005 * batch_size / trace)
    return lr


def check_points():
    """Update counts at which the loss is checked: every update up to 100, then 90 checks
    per decade (every 10 to 1,000, every 100 to 10,000, ...): at most 10% late."""
    step = 1
    while True:
        yield step
        step += max(1, 10 ** (len(str(step)) - 2))


class Stop(Exception):
    """Raised from a training callback to end a run early."""


class TargetWatch:
    """Checks the full-data loss at fixed update counts, with the clock paused meanwhile.

    `seconds` is training time alone: the wall time less every check's own cost.
    """

    def __init__(self, X, Y, target_loss, budget):
        self.loss_at = FullDataLoss(X, Y)
        self.target_loss = target_loss
        self.budget = budget
        self.points = check_points()
        self.next_check = next(self.points)
        self.check_seconds = 0.0
        self.reached = False
        self.loss = None
        self.updates = 0
        self.started = time.perf_counter()

    @property
    def seconds(self):
        return time.perf_counter() - self.started - self.check_seconds

    def after_update(self, updates, w, b):
        # updates == 0 is the start (train_batch reports it as epoch 0): nothing to check.
        if updates < self.next_check:
            return
        paused = time.perf_counter()
        self.next_check = next(self.points)
        self.loss, self.updates = self.loss_at(w, b), updates
        self.reached = self.loss <= self.target_loss
        out_of_time = paused - self.started - self.check_seconds > self.budget
        self.check_seconds += time.perf_counter() - paused
        if self.reached or out_of_time:
            raise Stop

    def on_record(self, updates, record):
        self.after_update(updates, *record.path[-1])


def run_hand_written(X, Y, batch_size, lr, watch, seed):
    """The project's own train_batch / train_sgd, stopped by the watch."""
    epochs = 10**9  # the watch's budget or target ends the run, never the epoch count
    try:
        if batch_size >= len(X):
            train_batch(X, Y, lr=lr, epochs=epochs, w0=START[0], b0=START[1],
                        on_epoch=watch.on_record)
        else:
            train_sgd(X, Y, lr=lr, epochs=epochs, w0=START[0], b0=START[1], seed=seed,
                      batch_size=batch_size, on_step=watch.on_record)
    except Stop:
        pass


def run_torch_optim(X, Y, batch_size, lr, watch, seed):
    """The library peer: the same batches, drawn the same way, stepped by torch.optim.SGD."""
    w = torch.tensor(START[0], device=X.device, requires_grad=True)
    b = torch.tensor(START[1], device=X.device, requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=lr)
    generator = torch.Generator().manual_seed(seed)
    updates = 0
    try:
        while True:
            order = torch.randperm(len(X), generator=generator)
            X_epoch, Y_epoch = X[order], Y[order]
            for first in range(0, len(X), batch_size):
                optimizer.zero_grad()
                loss = criterion(forward(X_epoch[first:first + batch_size], w, b),
                                 Y_epoch[first:first + batch_size])
                loss.backward()
                optimizer.step()
                updates += 1
                watch.after_update(updates, w.item(), b.item())
    except Stop:
        pass


def methods_for(n):
    """(label, batch size, runner) for every descent, at data size n.

    Mini-batch 1024 is left out where n <= 1024: there it is batch descent, step for step.
    The torch.optim.SGD peer stays, on batches of min(1024, n).
    """
    methods = [("batch GD", n, run_hand_written),
               ("SGD", 1, run_hand_written),
               ("mini-batch 32", min(32, n), run_hand_written)]
    if n > 1024:
        methods.append(("mini-batch 1024", 1024, run_hand_written))
    methods.append(("torch.optim.SGD 1024", min(1024, n), run_torch_optim))
    return methods


def benchmark_size(n, budget, seed, device):
    """All methods at one data size; yields one result row per method as it finishes."""
    X, Y = make_data(n=n, seed=seed)
    X, Y = X.to(device), Y.to(device)
    started = time.perf_counter()
    ls_w, ls_b, ls_loss = least_squares(X, Y)
    closed_form_seconds = time.perf_counter() - started
    yield {"n": n, "method": "closed form", "batch_size": n, "lr": "", "reached": True,
           "seconds": closed_form_seconds, "samples": n, "updates": 0,
           "seconds_per_update": "", "final_loss": ls_loss, "ls_loss": ls_loss,
           "loss_over_ls": 1.0, "w": ls_w, "b": ls_b}
    for label, batch_size, runner in methods_for(n):
        lr = step_size(X, batch_size)
        watch = TargetWatch(X, Y, TARGET * ls_loss, budget)
        runner(X, Y, batch_size, lr, watch, seed)
        seconds = watch.seconds
        samples = samples_after(n, batch_size, watch.updates)
        yield {"n": n, "method": label, "batch_size": batch_size, "lr": lr,
               "reached": watch.reached, "seconds": seconds, "samples": samples,
               "updates": watch.updates,
               "seconds_per_update": seconds / watch.updates if watch.updates else "",
               "final_loss": watch.loss, "ls_loss": ls_loss,
               "loss_over_ls": watch.loss / ls_loss}


# The promised ratios, measured side by side.

def _side_by_side(first, second, repeats):
    """Medians of two timings taken side by side: one untimed warm-up run of each, then
    pairs in alternating order, so neither always pays for running first after the other
    (fresh memory to fault in, cold caches) and a slow spell of the machine hits both."""
    first(), second()
    timings = {first: [], second: []}
    for repeat in range(repeats):
        for function in (first, second) if repeat % 2 == 0 else (second, first):
            timings[function].append(function())
    return statistics.median(timings[first]), statistics.median(timings[second])


def _hand_sgd_steps(X, Y, steps):
    started = time.perf_counter()
    train_sgd(X[:steps], Y[:steps], lr=1e-3, epochs=1, shuffle=False)
    return (time.perf_counter() - started) / steps


def _optim_sgd_steps(X, Y, steps):
    w = torch.tensor(START[0], requires_grad=True)
    b = torch.tensor(START[1], requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=1e-3)
    started = time.perf_counter()
    for i in range(steps):
        optimizer.zero_grad()
        loss = criterion(forward(X[i:i + 1], w, b), Y[i:i + 1])
        loss.backward()
        optimizer.step()
        loss.item()
    return (time.perf_counter() - started) / steps


def _sgd_epoch_per_sample(n):
    X, Y = make_data(n=n)
    started = time.perf_counter()
    train_sgd(X, Y, lr=1e-3, epochs=1)
    return (time.perf_counter() - started) / n


def _plain_autograd_step(X, Y, steps):
    """train_batch's five steps, written the same way, with nothing else: no record, no
    loss check, no callback. (Written the same way matters at large n: naming Y_pred keeps
    last step's prediction alive into the next, which changes how memory is reused.)"""
    w = torch.tensor(START[0], requires_grad=True)
    b = torch.tensor(START[1], requires_grad=True)
    started = time.perf_counter()
    for _ in range(steps):
        Y_pred = forward(X, w, b)
        loss = criterion(Y_pred, Y)
        loss.backward()
        w.data = w.data - 1e-3 * w.grad.data
        b.data = b.data - 1e-3 * b.grad.data
        w.grad.data.zero_()
        b.grad.data.zero_()
    return (time.perf_counter() - started) / steps


def _batch_epoch(X, Y, epochs):
    """Seconds per train_batch epoch, timed from its start callback (epoch 0, after the
    one-off set-up of the record) to its last one: the loop alone, as a learner runs it."""
    stamps = {}

    def stamp(epoch, record):
        stamps[epoch] = time.perf_counter()

    train_batch(X, Y, lr=1e-3, epochs=epochs, on_epoch=stamp)
    return (stamps[epochs] - stamps[0]) / epochs


def _process_seconds(command):
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True,
                   env={**os.environ, "MPLBACKEND": "Agg"})
    return time.perf_counter() - started


def promised_ratios(repeats, quick):
    """Yields (claim, measured A, measured B, ratio A/B, the promise, whether it was met),
    with A and B run side by side."""
    steps = 500 if quick else 5000
    X, Y = make_data(n=steps)
    hand, optim = _side_by_side(lambda: _hand_sgd_steps(X, Y, steps),
                                lambda: _optim_sgd_steps(X, Y, steps), repeats)
    yield ("hand-written SGD step / torch.optim.SGD step", f"{hand * 1e6:.1f} us",
           f"{optim * 1e6:.1f} us", hand / optim, "at most 1", hand / optim <= 1)

    small, large = (500, 5_000) if quick else (1_000, 20_000)
    per_large, per_small = _side_by_side(lambda: _sgd_epoch_per_sample(large),
                                         lambda: _sgd_epoch_per_sample(small), repeats)
    yield (f"SGD epoch cost per sample, n={large:,} / n={small:,}", f"{per_large * 1e6:.1f} us",
           f"{per_small * 1e6:.1f} us", per_large / per_small, "between 0.8 and 1.25 (linear in n)",
           0.8 <= per_large / per_small <= 1.25)

    big = 100_000 if quick else 1_000_000
    X, Y = make_data(n=big)
    epochs = 20 if quick else 100
    batch, plain = _side_by_side(lambda: _batch_epoch(X, Y, epochs),
                                 lambda: _plain_autograd_step(X, Y, epochs), repeats)
    yield (f"batch epoch (train_batch) / plain autograd step, n={big:,}",
           f"{batch * 1e3:.2f} ms", f"{plain * 1e3:.2f} ms", batch / plain,
           "at most 1.1 (1, give or take timing noise)", batch / plain <= 1.1)

    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as scratch:
        compare = [sys.executable, os.path.join(here, "compare.py"), "--out", scratch]
        imports = [sys.executable, "-c", "import torch, matplotlib.pyplot"]
        with_compare, bare = _side_by_side(lambda: _process_seconds(compare),
                                           lambda: _process_seconds(imports), repeats)
    yield ("python compare.py / bare import torch, matplotlib.pyplot", f"{with_compare:.2f} s",
           f"{bare:.2f} s", with_compare / bare, "at most 1.5",
           with_compare / bare <= 1.5)


def write_csv(path, rows):
    def write(temporary):
        with open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, CSV_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    cli.write_atomically(path, write)


def ratio_text(ratio):
    """loss / least-squares loss: four decimals near the target, three digits far from it."""
    return f"{ratio:.4f}" if ratio < 1e4 else f"{ratio:.3g}"


def format_row(row):
    reached = "yes" if row["reached"] else "NO"
    lr = f"{row['lr']:.3g}" if row["lr"] != "" else "-"
    per_update = (f"{row['seconds_per_update'] * 1e6:9.1f}" if row["seconds_per_update"] != ""
                  else f"{'-':>9}")
    return (f"{row['n']:>10,} {row['method']:<21} {row['batch_size']:>9,} {lr:>8} {reached:>7} "
            f"{row['seconds']:>9.4f} {row['samples']:>12,} {per_update} "
            f"{ratio_text(row['loss_over_ls']):>9}")


HEADER = (f"{'n':>10} {'method':<21} {'batch':>9} {'lr':>8} {'reached':>7} {'seconds':>9} "
          f"{'samples':>12} {'us/update':>9} {'loss/LS':>9}")


# Below this the least-squares loss of a handful of points is near zero (two points fit
# exactly), so "within 1% of it" is not a target any descent can measurably reach.
SMALLEST_SIZE = 100


def main(argv=None):
    parser = cli.Parser("Time and samples to 1% of the best fit, for each method, as n grows.")
    parser.add_argument("--sizes", nargs="+",
                        type=cli.bounded_int(SMALLEST_SIZE, cli.MAX_DATA_SIZE),
                        default=[100, 1_000, 10_000, 100_000, 1_000_000],
                        help=f"data sizes n, from {SMALLEST_SIZE} to {cli.MAX_DATA_SIZE:,}")
    parser.add_argument("--large", action="store_true", help="also run n = 10,000,000")
    parser.add_argument("--budget", type=cli.positive_float, default=4.0,
                        help="seconds of training each method may spend per data size")
    parser.add_argument("--repeats", type=cli.positive_int, default=3,
                        help="repeats of each side-by-side ratio measurement (median kept)")
    parser.add_argument("--skip-ratios", action="store_true",
                        help="skip the first section, the promised cost ratios")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="where the data and parameters live")
    cli.add_output_args(parser, seed=True)
    args, out_dir = cli.parse_args(parser, argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available here (use --device cpu)")
    sizes = sorted(set(args.sizes + ([10_000_000] if args.large else [])))

    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {args.device}", flush=True)
    if not args.skip_ratios:
        print("\nthe project's cost promises, each a ratio of two timings measured side by "
              f"side (median of {args.repeats}):", flush=True)
        quick = max(sizes) < 10_000
        for claim, first, second, ratio, promise, met in promised_ratios(args.repeats, quick):
            print(f"  {claim}: {first} / {second} = {ratio:.2f}; promised {promise}: "
                  f"{'met' if met else 'NOT MET'}", flush=True)

    print(f"\ntime to a full-data loss within 1% of least squares (budget "
          f"{args.budget:g} s per run; seconds exclude the loss checks):", flush=True)
    print(HEADER, flush=True)
    # One untimed round on small data first: the first call of each code path pays one-off
    # costs (library start-up, first allocations) that belong to no method.
    for _ in benchmark_size(100, 0.05, args.seed, args.device):
        pass
    rows = []
    for n in sizes:
        for row in benchmark_size(n, args.budget, args.seed, args.device):
            rows.append(row)
            print(format_row(row), flush=True)
        descents = sorted((row for row in rows if row["n"] == n and row["reached"]
                           and row["method"] != "closed form"), key=lambda row: row["seconds"])
        if descents:
            runner_up = (f"; next {descents[1]['method']} ({descents[1]['seconds']:.4f} s)"
                         if len(descents) > 1 else "")
            print(f"{'':>10} fastest descent at n={n:,}: {descents[0]['method']} "
                  f"({descents[0]['seconds']:.4f} s){runner_up}", flush=True)
        else:
            print(f"{'':>10} no descent reached the target at n={n:,}", flush=True)

    import plots  # only now: matplotlib's backend has been chosen

    csv_path = os.path.join(out_dir, "benchmark.csv")
    write_csv(csv_path, rows)
    print(f"wrote {csv_path}")
    methods = ["closed form", *(label for label, _, _ in methods_for(cli.MAX_DATA_SIZE))]
    figures = {"benchmark.png": plots.plot_time_to_target(rows, args.budget, methods)}
    cli.save_figures(out_dir, figures)
    cli.show_figures(figures, args.show)


if __name__ == "__main__":
    main()
