"""Measure the tutorial's claim: which method reaches the best fit fastest as the data grows.

For each data size n it runs batch descent, SGD, mini-batches, a torch.optim.SGD loop and
the closed-form least-squares solve, and records the wall-clock time and the samples
processed until the full-data loss is within 1% of the least-squares loss. Every timing is
repeated, the methods taking turns, and a method is named fastest only when all its
repeats beat all of every other method's, by a margin. Last, it measures the project's
cost promises.
Run `python benchmark.py --help` for the knobs; docs/benchmark.md is the lesson.
"""

from plumbing.run import run_as_command  # first: a stop while the libraries load is one line

# isort: split
import csv
import itertools
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import torch

import data
import optimizers
import step_cost
from data import MAX_SIZE, make_data
from descent import batches
from model import (
    criterion,
    forward,
    hessian,
    least_squares,
    mse_surface,
    samples_after,
    stability_bound,
)
from train_batch import train_batch
from train_sgd import train_sgd

TARGET = 1.01  # reach a full-data loss within 1% of the least-squares loss
START = (-10.0, -20.0)
# Repeats of one method further apart than this (slowest / fastest) say the machine was
# busy: on a quiet machine they stay within a few tens of percent. Timings shorter than
# BUSY_FLOOR seconds are left out: a tenth of a millisecond of jitter is a large share of them.
BUSY_SPREAD = 1.5
BUSY_FLOOR = 0.01
# A method is named faster only if its slowest repeat beat the other's fastest by this
# factor. Three repeats of two equally fast methods fall apart by chance one time in ten,
# and a busy machine shifts one method against another by a few percent.
MARGIN = 1.1
CSV_COLUMNS = ["n", "method", "batch_size", "lr", "repeats", "reached", "repeats_reached",
               "seconds", "seconds_min", "seconds_max", "samples", "updates",
               "seconds_per_update", "final_loss", "ls_loss", "loss_over_ls"]


def step_size(X, Y, batch_size, seed=42):
    """The stated rule: the largest step, up to half the stability bound for this batch
    size, whose noise floor, under the sampling the runs use (a fresh order of the samples
    each epoch), is at most a quarter of the 1% target. Batch descent has no sampling
    noise and takes half its bound.

    Drawn with replacement, constant-step descent on batches of B samples settles at an
    average excess loss of lr * tr(H) * L* / (2B) (H the MSE Hessian, L* the least-squares
    loss; docs/settling.md measures it to hold at small steps). A quarter of the target,
    0.0025 * L*, then gives lr0 = 0.005 * B / tr(H). Reshuffled epochs end with their noise
    nearly cancelled, so their floor is lower, by a lot when an epoch is short next to the
    time a run takes to forget a step (1 / (2 lr0 lam_min) updates): reshuffled_step
    measures it there. Where an epoch lasts ten such times or more, reshuffling draws like
    sampling with replacement for as long as the floor can tell, and lr0 stands.
    """
    lr = 0.5 * stability_bound(X, batch_size)
    if batch_size >= len(X):
        return lr
    lr0 = 0.005 * batch_size / hessian(X).trace().item()
    if lr0 >= lr:
        return lr
    return reshuffled_step(X.cpu(), Y.cpu(), batch_size, lr0, lr, seed)


STEP_FACTORS = (1, 2, 4, 8, 16, 32)  # the steps reshuffled_step tries: lr0 times these
SMALLER_FACTORS = (1 / 2, 1 / 4, 1 / 8)  # and these, when lr0 itself floors too high


def reshuffled_step(X, Y, batch_size, lr0, largest, seed=42, repeats=40):
    """The largest of lr0 * STEP_FACTORS, up to `largest`, whose measured floor under
    reshuffling (the mean excess loss once settled, noise_floor.measured_floors, 40 runs
    from least squares) is at most a quarter of the 1% target, every smaller one's too;
    lr0 where an epoch is ten times the forgetting time or more (see step_size). If even
    lr0 floors too high (an uneven last batch can make it), the largest of
    lr0 * SMALLER_FACTORS that does not."""
    from model import hessian_eigenvalues
    from noise_floor import measured_floors

    n = len(X)
    forget = 1 / (2 * lr0 * min(hessian_eigenvalues(X)))
    if -(-n // batch_size) >= 10 * forget:
        return lr0
    quarter = 0.0025 * least_squares(X, Y)[2]

    def measured(factors):
        """[(lr, its measured floor)] for lr0 times each factor, up to `largest`."""
        lrs = [lr0 * factor for factor in factors if lr0 * factor <= largest]
        # Long enough for the smallest step to settle three times over, and to measure.
        updates = math.ceil(3 * forget / min(factors))
        floors, _ = measured_floors(X, Y, lrs, batch_size, "reshuffle", repeats, updates,
                                    updates, seed=seed)
        return list(zip(lrs, floors, strict=True))

    larger = measured(STEP_FACTORS)
    if larger[0][1] <= quarter:
        # The last step before the first that floors too high.
        within = itertools.takewhile(lambda pair: pair[1] <= quarter, larger)
        return list(within)[-1][0]
    within = [lr for lr, floor in measured(SMALLER_FACTORS) if floor <= quarter]
    return max(within) if within else lr0 * min(SMALLER_FACTORS)


def check_points():
    """Update counts at which the loss is checked: every update up to 100, then 90 checks
    per decade (every 10 to 1,000, every 100 to 10,000, ...): at most 10% late."""
    step = 1
    while True:
        yield step
        step += max(1, 10 ** (len(str(step)) - 2))


@dataclass
class Run:
    """One timed run: did it reach the target, in how many seconds of training and updates,
    and the full-data loss and (w, b) at its last check."""

    reached: bool
    seconds: float
    updates: int
    loss: float
    w: float
    b: float


def time_to_target(X, Y, batch_size, lr, target_loss, budget, seed=42, library=False,
                   checks=None):
    """Descend from START on batches of `batch_size` until the full-data loss is at most
    `target_loss`, more than `budget` seconds of training are spent, or `checks` runs out.

    The steps are train_batch's (batch_size >= n: all samples, in order) or train_sgd's
    (smaller batches, in a fresh order each epoch drawn from a generator seeded by `seed`);
    library=True takes Step 4 with torch.optim.SGD instead. The loss is checked after the
    update counts in `checks` (default: check_points()), with the clock paused meanwhile.
    """
    loss_at = mse_surface(X, Y)  # O(1) per check, whatever n is
    checks = iter(check_points() if checks is None else checks)
    next_check = next(checks)
    w = torch.tensor(START[0], device=X.device, requires_grad=True)
    b = torch.tensor(START[1], device=X.device, requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=lr) if library else None
    generator = torch.Generator().manual_seed(seed)
    updates, seconds = 0, 0.0
    started = time.perf_counter()

    # descent.train's loop, without its record: a loss and a point kept at every update
    # would be timed too (and, on a GPU, wait for every step).
    while True:  # every epoch; a check ends the run
        for X_batch, Y_batch in batches(X, Y, batch_size, generator):
            # Steps 1 and 2: forward pass and loss, on this batch only.
            loss = criterion(forward(X_batch, w, b), Y_batch)
            # Step 3: backward pass.
            loss.backward()
            if optimizer is None:
                # Step 4: the tutorial's update. Step 5: zero the gradients.
                w.data = w.data - lr * w.grad.data
                b.data = b.data - lr * b.grad.data
                w.grad.data.zero_()
                b.grad.data.zero_()
            else:
                # Steps 4 and 5, by the library.
                optimizer.step()
                optimizer.zero_grad()
            updates += 1
            if updates < next_check:
                continue
            # The check. Reading w and b waits for any steps still queued (on a GPU); then
            # the clock stops, and starts again only if the run goes on.
            w_now, b_now = w.item(), b.item()
            seconds += time.perf_counter() - started
            full_loss = float(loss_at([(w_now, b_now)])[0])
            next_check = next(checks, None)
            if full_loss <= target_loss or seconds > budget or next_check is None:
                return Run(full_loss <= target_loss, seconds, updates, full_loss, w_now, b_now)
            started = time.perf_counter()


def methods_for(n):
    """(label, batch size, library step?) for every descent, at data size n.

    Mini-batch 1024 is left out where n <= 1024: there it is batch descent, step for step.
    The torch.optim.SGD peer stays, on batches of min(1024, n).
    """
    methods = [("batch GD", n, False), ("SGD", 1, False), ("mini-batch 32", min(32, n), False)]
    if n > 1024:
        methods.append(("mini-batch 1024", 1024, False))
    methods.append(("torch.optim.SGD 1024", min(1024, n), True))
    return methods


def closed_form_run(X, Y):
    started = time.perf_counter()
    w, b, loss = least_squares(X, Y)
    return Run(True, time.perf_counter() - started, 0, loss, w, b)


def benchmark_size(n, budget, repeats, seed=42, device="cpu", slope=data.DEFAULTS["slope"],
                   noise=data.DEFAULTS["noise"], checks=None):
    """Every method at one data size, `repeats` times with the methods taking turns (so a
    slow spell of the machine hits all of them alike). Returns one row per method.
    checks: the update counts a run checks its loss at (time_to_target's)."""
    X, Y = make_data(n=n, seed=seed, slope=slope, noise=noise)
    X, Y = X.to(device), Y.to(device)
    ls_loss = least_squares(X, Y)[2]
    lrs = {label: step_size(X, Y, size, seed) for label, size, _ in methods_for(n)}
    runs = {"closed form": [], **{label: [] for label in lrs}}
    for _ in range(repeats):
        runs["closed form"].append(closed_form_run(X, Y))
        for label, batch_size, library in methods_for(n):
            runs[label].append(time_to_target(X, Y, batch_size, lrs[label], TARGET * ls_loss,
                                              budget, seed, library, checks))
    rows = []
    for label, batch_size, _ in [("closed form", n, None), *methods_for(n)]:
        seconds = [run.seconds for run in runs[label]]
        # The row shows the median repeat: with an even count, the lower of the middle two.
        median = next(run for run in runs[label] if run.seconds == statistics.median_low(seconds))
        rows.append({
            "n": n, "method": label, "batch_size": batch_size, "lr": lrs.get(label, ""),
            "repeats": repeats, "reached": median.reached,
            "repeats_reached": sum(run.reached for run in runs[label]),
            "seconds": median.seconds, "seconds_min": min(seconds), "seconds_max": max(seconds),
            "samples": n if label == "closed form" else samples_after(n, batch_size,
                                                                      median.updates),
            "updates": median.updates,
            "seconds_per_update": median.seconds / median.updates if median.updates else "",
            "final_loss": median.loss, "ls_loss": ls_loss, "loss_over_ls": median.loss / ls_loss,
            "w": median.w, "b": median.b,
            # A repeat that missed the target counts as slower than any that reached it.
            "times": [run.seconds if run.reached else math.inf for run in runs[label]]})
    return rows


# The verdicts: only what every repeat agrees on.

def verdict(n, times):
    """One line naming the fastest descent at size n, or saying it is too close to call.

    times: {method: seconds of each repeat, math.inf where it missed the target}, with the
    closed form under "closed form". The descent with the smallest median leads; it is
    named fastest only if its slowest repeat, times MARGIN, is still below the fastest
    repeat of every other descent. Otherwise it is too close to call between the leader
    and every descent that comes that near it.
    """
    descents = {method: t for method, t in times.items() if method != "closed form"}
    ranked = sorted(descents, key=lambda method: statistics.median(descents[method]))
    leader = ranked[0]
    slowest = max(descents[leader])
    if not math.isfinite(statistics.median(descents[leader])):
        return f"verdict at n={n:,}: no descent reached the target within the budget"
    rivals = [method for method in ranked[1:] if min(descents[method]) <= MARGIN * slowest]
    if rivals:
        names = ", ".join([leader, *rivals[:-1]]) + f" and {rivals[-1]}"
        line = f"verdict at n={n:,}: too close to call between {names}"
    elif len(ranked) > 1:
        line = (f"verdict at n={n:,}: fastest descent {leader}: its slowest repeat "
                f"({slowest:.4f} s) beat the fastest of {ranked[1]} "
                f"({min(descents[ranked[1]]):.4f} s)")
    else:
        line = f"verdict at n={n:,}: fastest descent {leader}, the only one"
    if "closed form" in times:
        closed = times["closed form"]
        if MARGIN * max(closed) < min(min(t) for t in descents.values()):
            line += "; the closed form beat every descent"
        elif min(closed) > MARGIN * slowest:
            line += f"; {leader} beat the closed form"
        else:
            line += f"; the closed form and {leader} too close to call"
    return line


def busy_warning(n, times):
    """One line naming the methods whose repeats spread past BUSY_SPREAD, or None.

    Only methods that reached the target every time in at least BUSY_FLOOR seconds count.
    """
    spread = {method: max(t) / min(t) for method, t in times.items()
              if math.isfinite(max(t)) and min(t) >= BUSY_FLOOR}
    busy = [f"{method} x{ratio:.1f}" for method, ratio in spread.items() if ratio > BUSY_SPREAD]
    if not busy:
        return None
    return (f"warning: at n={n:,} a slowest repeat took over {BUSY_SPREAD:g} times the fastest "
            f"({', '.join(busy)}): the machine may have been busy; read the verdicts, "
            "not the medians")


# The promised costs, measured side by side.

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
    train_sgd(X[:steps], Y[:steps], lr=1e-3, epochs=1, shuffle=False, verbose=False)
    return (time.perf_counter() - started) / steps


def _update_steps(X, Y, steps, update=None, optimizer_class=None, **hyperparams):
    """Seconds per step of one-sample descent, the update taken either by a hand-written
    update function of optimizers.py or by the torch.optim optimizer it reproduces; the
    rest of the loop is the same for both, so the ratio is the cost of the update."""
    w = torch.tensor(START[0], requires_grad=True)
    b = torch.tensor(START[1], requires_grad=True)
    params, state = [w, b], {}
    optimizer = optimizer_class(params, **hyperparams) if optimizer_class else None
    started = time.perf_counter()
    for i in range(steps):
        loss = criterion(forward(X[i:i + 1], w, b), Y[i:i + 1])
        loss.backward()
        if optimizer is None:
            update(params, state, hyperparams)
        else:
            optimizer.step()
        w.grad = None  # what optimizer.zero_grad() does, for both
        b.grad = None
        loss.item()
    return (time.perf_counter() - started) / steps


def _sgd_seconds_per_sample(n, epochs):
    X, Y = make_data(n=n)
    started = time.perf_counter()
    train_sgd(X, Y, lr=1e-3, epochs=epochs, verbose=False)
    return (time.perf_counter() - started) / (n * epochs)


def _plain_autograd_step(X, Y, steps):
    """train_batch's five steps, written the same way, with nothing else: no record and no
    print. (Written the same way matters at large n: naming Y_pred keeps last step's
    prediction alive into the next, which changes how memory is reused.)"""
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
    """Seconds per epoch of train_batch, as a learner runs it (without the prints)."""
    started = time.perf_counter()
    train_batch(X, Y, lr=1e-3, epochs=epochs, verbose=False)
    return (time.perf_counter() - started) / epochs


def _no_sync():
    """On the CPU a timing waits for nothing."""


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
    hand, optim = _side_by_side(
        lambda: _hand_sgd_steps(X, Y, steps),
        lambda: _update_steps(X, Y, steps, optimizer_class=torch.optim.SGD, lr=1e-3), repeats)
    yield ("hand-written SGD step / torch.optim.SGD step", f"{hand * 1e6:.1f} us",
           f"{optim * 1e6:.1f} us", hand / optim, "at most 1", hand / optim <= 1)

    for name, update, optimizer_class, hyperparams in [
            ("momentum", optimizers.momentum, torch.optim.SGD, {"lr": 1e-3, "momentum": 0.9}),
            ("Adam", optimizers.adam, torch.optim.Adam, {"lr": 1e-3})]:
        hand, optim = _side_by_side(
            lambda u=update, h=hyperparams: _update_steps(X, Y, steps, update=u, **h),
            lambda c=optimizer_class, h=hyperparams: _update_steps(X, Y, steps,
                                                                  optimizer_class=c, **h),
            repeats)
        yield (f"hand-written {name} step / torch.optim {name} step", f"{hand * 1e6:.1f} us",
               f"{optim * 1e6:.1f} us", hand / optim, "at most 1", hand / optim <= 1)

    # The same samples on both sides (one epoch of the large data, as many of the small as
    # add up to it), so both take as long and a slow spell of the machine hits them alike.
    small, large = (200, 2_000) if quick else (1_000, 10_000)
    epochs = large // small
    per_large, per_small = _side_by_side(lambda: _sgd_seconds_per_sample(large, 1),
                                         lambda: _sgd_seconds_per_sample(small, epochs), repeats)
    yield (f"SGD cost per sample, 1 epoch of n={large:,} / {epochs} epochs of n={small:,}",
           f"{per_large * 1e6:.1f} us", f"{per_small * 1e6:.1f} us", per_large / per_small,
           "between 0.8 and 1.25 (linear in n)", 0.8 <= per_large / per_small <= 1.25)

    big = 100_000 if quick else 1_000_000
    X, Y = make_data(n=big)
    epochs = 20 if quick else 100
    batch, plain = _side_by_side(lambda: _batch_epoch(X, Y, epochs),
                                 lambda: _plain_autograd_step(X, Y, epochs), repeats)
    yield (f"batch epoch (train_batch) / plain autograd step, n={big:,}",
           f"{batch * 1e3:.2f} ms", f"{plain * 1e3:.2f} ms", batch / plain,
           "at most 1.1 (1, give or take timing noise)", batch / plain <= 1.1)

    # The step-cost lesson's (step_cost.py). The fastest exact rung that streams the data,
    # one pass a step (compiled, where torch.compile works; else the gradient by hand),
    # against the limit: 8n bytes at the bandwidth of a 256 MB read-only sum, side by side.
    # (Only a step of one pass can keep this promise: where torch.compile cannot make one,
    # the line says so instead of measuring a step that reads the data many times.)
    n = 100_000 if quick else 10_000_000
    X, Y = make_data(n=n)
    claim = f"one-pass step (compiled) / the bandwidth limit of 8n bytes, n={n:,}"
    compiled, reason = (None, "the quick run does not compile") if quick else \
        step_cost.compile_gradient()
    if compiled is None:
        yield claim, None, None, None, f"at most 2; not measured: {reason}", False
    else:
        step = step_cost.by_hand(X, Y, 1e-3, grad=compiled)[0]
        big = torch.ones(step_cost.BANDWIDTH_BYTES // 4)
        per_step, per_read = _side_by_side(
            lambda: step_cost.seconds_per_step(step, 5, _no_sync),
            lambda: step_cost.seconds_per_step(big.sum, 1, _no_sync), repeats)
        limit = 8 * n / (step_cost.BANDWIDTH_BYTES / per_read)
        yield (claim, f"{per_step * 1e3:.3f} ms", f"{limit * 1e3:.3f} ms", per_step / limit,
               "at most 2", per_step / limit <= 2)
    # The O(1) step: the same cost whatever n its moments came from.
    small = step_cost.sufficient_statistics(*make_data(n=1_000), 1e-3)[0]
    large = step_cost.sufficient_statistics(*make_data(n=n), 1e-3)[0]
    at_large, at_small = _side_by_side(lambda: step_cost.seconds_per_step(large, 1000, _no_sync),
                                       lambda: step_cost.seconds_per_step(small, 1000, _no_sync),
                                       repeats)
    yield (f"sufficient-statistics step, n={n:,} / n=1,000", f"{at_large * 1e6:.2f} us",
           f"{at_small * 1e6:.2f} us", at_large / at_small, "at most 1.5 (O(1): no n in it)",
           at_large / at_small <= 1.5)

    here = os.path.dirname(os.path.abspath(__file__))
    imports = [sys.executable, "-c", "import torch, matplotlib.pyplot"]
    for script, most in [("compare.py", 1.5), ("optimizers.py", 2.0)]:
        with tempfile.TemporaryDirectory() as scratch:
            command = [sys.executable, os.path.join(here, script), "--out", scratch]
            with_script, bare = _side_by_side(lambda c=command: _process_seconds(c),
                                              lambda: _process_seconds(imports), repeats)
        yield (f"python {script} / bare import torch, matplotlib.pyplot",
               f"{with_script:.2f} s", f"{bare:.2f} s", with_script / bare,
               f"at most {most:g}", with_script / bare <= most)


# The table, the CSV.

def write_csv(path, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def ratio_text(ratio):
    """loss / least-squares loss: four decimals near the target, three digits far from it."""
    return f"{ratio:.4f}" if ratio < 1e4 else f"{ratio:.3g}"


def format_row(row):
    if row["repeats_reached"] == row["repeats"]:
        reached = "yes"
    elif row["repeats_reached"] == 0:
        reached = "NO"
    else:
        reached = f"{row['repeats_reached']}/{row['repeats']}"
    lr = f"{row['lr']:.3g}" if row["lr"] != "" else "-"
    spread = f"{row['seconds_min']:.4f}-{row['seconds_max']:.4f}"
    per_update = (f"{row['seconds_per_update'] * 1e6:9.1f}" if row["seconds_per_update"] != ""
                  else f"{'-':>9}")
    return (f"{row['n']:>10,} {row['method']:<21} {row['batch_size']:>9,} {lr:>8} {reached:>7} "
            f"{row['seconds']:>9.4f} {spread:>15} {row['samples']:>12,} {per_update} "
            f"{ratio_text(row['loss_over_ls']):>9}")


HEADER = (f"{'n':>10} {'method':<21} {'batch':>9} {'lr':>8} {'reached':>7} {'seconds':>9} "
          f"{'min-max':>15} {'samples':>12} {'us/update':>9} {'loss/LS':>9}")


TEST_ARGS = ["--sizes", "100", "--budget", "0.05", "--repeats", "1",
             "--skip-ratios"]  # the fast setting the smoke tests run

# Below this the least-squares loss of a handful of points is near zero (two points fit
# exactly), so "within 1% of it" is not a target any descent can measurably reach.
SMALLEST_SIZE = 100


# The knobs, {name: (type, interval, help)}, beside their defaults; --slope is the data's
# (data.OPTIONS), --device and --out the shared ones (plumbing/options.py).
OPTIONS = {
    "sizes": (int, f"[{SMALLEST_SIZE}, {MAX_SIZE}]", "data sizes n, one or more",
              {"nargs": "+", "most": 20}),
    "large": (bool, None, "also run n = 10,000,000"),
    "budget": (float, "(0, 600]", "seconds of training each run may spend (every run's "
               "budget together at most an hour)"),
    "repeats": (int, "[1, 20]", "timed runs of every method (and of each cost ratio); the "
                "median is shown, the spread decides the verdicts"),
    "skip_ratios": (bool, None, "skip the last section, the promised cost ratios"),
    "threads": (int, "[1, 1024]", "threads torch may use for one operation, at most the "
                "machine's CPU cores (os.cpu_count()); 1 keeps the "
                "verdicts steady when another program is busy"),
    # Without noise the best loss is 0 and "within 1% of it" is never reached.
    "noise": (float, "(0, 1e6]", "standard deviation of the Gaussian noise"),
    "seed": (int, f"[0, {2**63 - 1}]", "seed of the data's noise and of the samples' order"),
}
SIZES = [100, 1_000, 10_000, 100_000, 1_000_000]  # --sizes, several at once
DEFAULTS = {"sizes": SIZES, "large": False, "budget": 4.0, "repeats": 3, "skip_ratios": False,
            "threads": 1, **{name: data.DEFAULTS[name] for name in ("slope", "noise", "seed")},
            "device": "cpu"}


def run_benchmark(args, sizes, out_dir):
    """The benchmark itself, for main(), once the arguments are checked: the table, the
    promised ratios, the figure and the CSV."""
    from plumbing import output

    made = dict(seed=args.seed, device=args.device, slope=args.slope, noise=args.noise)
    print_header(args)
    # One untimed round on small data first: the first call of each code path pays one-off
    # costs (library start-up, first allocations) that belong to no method.
    benchmark_size(SMALLEST_SIZE, 0.05, 1, **made)
    rows = []
    for n in sizes:
        size_rows = benchmark_size(n, args.budget, args.repeats, **made)
        print_size(n, size_rows)
        rows += size_rows
    if not args.skip_ratios:
        print_ratios(args.repeats, quick=max(sizes) < 10_000)
    figures = draw(rows, args.budget)
    # The table and its figure are put in place together, or neither is.
    output.save_figures(out_dir, figures,
                        files={"benchmark.csv": lambda path: write_csv(path, rows)})
    output.show_figures(figures, args.show)


def print_header(args):
    """The machine, the data, and the table's head."""
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread{'' if args.threads == 1 else 's'} per operation, "
          f"device {args.device}", flush=True)
    print(f"data: y = {args.slope:g}*x + N(0, {args.noise:g}^2) noise, seed {args.seed}, "
          "n points on [-5, 5) for each n below", flush=True)
    print(f"\ntime to a full-data loss within 1% of least squares: median of {args.repeats} "
          f"repeat{'' if args.repeats == 1 else 's'}, the methods taking turns (budget "
          f"{args.budget:g} s per run; seconds exclude the loss checks):", flush=True)
    print(HEADER, flush=True)


def print_size(n, size_rows):
    """A size's rows, its verdict, and the busy machine's warning if there is one."""
    for row in size_rows:
        print(format_row(row), flush=True)
    times = {row["method"]: row["times"] for row in size_rows}
    print(f"{'':>10} {verdict(n, times)}", flush=True)
    warning = busy_warning(n, times)
    if warning:
        print(f"{'':>10} {warning}", flush=True)


def print_ratios(repeats, quick):
    print("\nthe project's cost promises, each a ratio of two timings measured side by "
          f"side (median of {repeats}):", flush=True)
    for claim, first, second, ratio, promise, met in promised_ratios(repeats, quick):
        if ratio is None:  # a promise that cannot be measured here: it says why
            print(f"  {claim}: promised {promise}", flush=True)
            continue
        print(f"  {claim}: {first} / {second} = {ratio:.2f}; promised {promise}: "
              f"{'met' if met else 'NOT MET'}", flush=True)


def draw(rows, budget):
    """{file name: figure}: each method's time to the target, as n grows."""
    from plots import benchmark as plots  # only now: matplotlib's backend has been chosen

    methods = ["closed form", *(label for label, _, _ in methods_for(MAX_SIZE))]
    return {"benchmark.png": plots.plot_time_to_target(rows, budget, methods)}


# No command runs silently for hours: all its runs' budgets together at most an hour.
MOST_SECONDS = 3600


def check_budget(parser, args, sizes):
    """Refuse, in one line, runs whose budgets add up to more than MOST_SECONDS."""
    methods = len(methods_for(MAX_SIZE))
    seconds = len(sizes) * args.repeats * methods * args.budget
    if seconds > MOST_SECONDS:
        parser.error(f"{len(sizes)} sizes x {args.repeats} repeats x {methods} methods x "
                     f"--budget {args.budget:g} s is up to {seconds:,.0f} s of training; the "
                     f"limit is {MOST_SECONDS:,} s in all (fewer --sizes or --repeats, or a "
                     "smaller --budget)")


def main(argv=None):
    from plumbing import options

    parser = options.Parser("Time and samples to 1% of the best fit, for each method, as n "
                            "grows.")
    options.add_settings(parser, DEFAULTS, OPTIONS, data.OPTIONS)
    args, out_dir = options.parse(parser, argv)
    options.check_device(parser, args.device)
    options.check_threads(parser, args.threads)
    sizes = sorted(set(args.sizes + ([10_000_000] if args.large else [])))
    check_budget(parser, args, sizes)
    # One thread by default: then every method runs on one core, and another program busy
    # on the other core slows them alike. With two threads on two cores, the big tensors'
    # operations wait for the thread that shares its core, and the verdicts can flip.
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        run_benchmark(args, sizes, out_dir)
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    run_as_command(main)
