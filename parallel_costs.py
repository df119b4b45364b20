"""What a step of data-parallel batch descent costs: measured here, then modelled.

`python parallel_costs.py`: one group of worker processes times a step
of batch descent at n = 100 to 10,000,000 samples, in turns (one process with one
thread, one process with all the cores' threads, K processes of one thread each), three
rounds of each so that a slow moment of the machine hits every column alike. Each step is
split into the local computation (forward, loss, backward: Steps 1 to 3) and the
all-reduce. A cost model fitted to the table predicts where K workers start to beat one,
and, labelled as a model, what K machines on a network would do.
Importing this module only defines things.
"""

from plumbing.run import run_as_command  # first: a stop while the libraries load is one line

# isort: split
import os
import statistics
import time

import numpy as np
import torch
import torch.distributed as dist

import data_parallel
from data_parallel import shard_bounds
from model import criterion, forward

TEST_ARGS = ["--costs-up-to", "100000"]
ROUNDS = 3
MACHINE_COUNTS = (2, 4, 8, 16, 64)  # the model's extrapolation to machines


def steps_for(n):
    """Timed steps a round at n samples: many for small n, where a step is microseconds."""
    return max(5, min(100, 10**6 // n))


def shard_data(n, first, last, seed):
    """Samples first..last-1 of the tutorial's line at n points on [-5, 5), made where they
    are used: no worker sends data to another."""
    x = (-5 + 10 * torch.arange(first, last, dtype=torch.float64) / n).float().reshape(-1, 1)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    return x, -5 * x + 0.4 * noise


def timed_steps(x, y, share, steps, group=None, lr=0.1):
    """Seconds of (local computation, all-reduce) of each of `steps` steps of the lesson's
    loop on this worker's samples (after one step untimed, to warm up)."""
    w = torch.tensor(-10.0, requires_grad=True)
    b = torch.tensor(-20.0, requires_grad=True)
    times = []
    for step in range(steps + 1):
        started = time.perf_counter()
        loss = criterion(forward(x, w, b), y) * share  # Steps 1 and 2
        loss.backward()  # Step 3
        gradient = torch.stack([w.grad, b.grad])
        computed = time.perf_counter()
        if group is not None:
            dist.all_reduce(gradient, group=group)
        reduced = time.perf_counter()
        w.data = w.data - lr * gradient[0]  # Step 4
        b.data = b.data - lr * gradient[1]
        w.grad.data.zero_()  # Step 5
        b.grad.data.zero_()
        if step:
            times.append((computed - started, reduced - computed))
    return times


def columns(worker_counts, cores):
    """The table's columns: (label, processes, threads each)."""
    return ([("1 process, 1 thread", 1, 1)] +
            ([(f"1 process, {cores} threads", 1, cores)] if cores > 1 else []) +
            [(f"{k} processes", k, 1) for k in worker_counts if k > 1])


def measure_in_group(sizes, worker_counts, cores, rounds=ROUNDS):
    """Run by every worker of a group of max(worker_counts) processes. Column by column,
    size by size, round by round, the workers a column uses take their steps and the rest
    wait. Returns {(label, n): [(compute, all-reduce) seconds, a step each]}, rank 0's."""
    rank = dist.get_rank()
    torch.set_num_threads(1)  # one thread a process, as torchrun sets it for many
    table = columns(worker_counts, cores)
    # Every worker must create every group, in the same order.
    groups = {k: dist.new_group(list(range(k))) for _, k, _ in table if k > 1}
    times = {}
    for n in sizes:
        data = {}
        for label, k, _ in table:
            if rank < k:
                first, last = shard_bounds(n, rank, k)
                data[label] = (*shard_data(n, first, last, seed=rank), (last - first) / n)
        for _ in range(rounds):
            for label, k, threads in table:
                dist.barrier()  # the columns never overlap
                if rank < k:
                    torch.set_num_threads(threads)
                    steps = timed_steps(*data[label], steps_for(n), groups.get(k))
                    torch.set_num_threads(1)
                    times.setdefault((label, n), []).extend(steps)
    dist.barrier()
    return times


def medians(times, table, sizes):
    """{label: (compute, all-reduce, step) medians, a size each}, in seconds."""
    result = {}
    for label, _, _ in table:
        rows = []
        for n in sizes:
            steps = times[(label, n)]
            rows.append((statistics.median(c for c, _ in steps),
                         statistics.median(r for _, r in steps),
                         statistics.median(c + r for c, r in steps)))
        result[label] = np.array(rows)
    return result


def fit_compute(sizes, seconds):
    """(fixed, per sample) seconds of the line fixed + per_sample * n through one process's
    step times, fitted by least squares on the relative error (every size counts alike)."""
    sizes, seconds = np.asarray(sizes, float), np.asarray(seconds, float)
    design = np.stack([np.ones_like(sizes), sizes], axis=1) / seconds[:, None]
    (fixed, per_sample), *_ = np.linalg.lstsq(design, np.ones_like(sizes), rcond=None)
    return fixed, per_sample


def predicted_step(n, workers, fixed, per_sample, latency):
    """The cost model: a step on `workers` workers is the fixed cost, the computation on
    n / workers samples, and (with more than one worker) the all-reduce's latency."""
    return fixed + per_sample * np.asarray(n, float) / workers + (latency if workers > 1 else 0)


def crossover(workers, per_sample, latency):
    """The model's n above which `workers` workers beat one: where the computation they
    save, per_sample * n * (1 - 1/workers), pays for the all-reduce's latency."""
    return latency / (per_sample * (1 - 1 / workers))


# The knobs, {name: (type, interval, help)}, beside their defaults; --port and --timeout
# are data_parallel.py's.
OPTIONS = {
    "workers": (int, "[1, 64]", "the largest number of worker processes timed"),
    "costs_up_to": (int, "[100_000, 10_000_000]", "the largest n timed (a step's time "
                    "grows with n from about 100,000 on)"),
    "latency_us": (float, "(0, 1e6]", "the network latency per message between machines that "
                   "the cost model assumes, in microseconds"),
}
DEFAULTS = {"workers": 2, "port": 0, "timeout": 60, "costs_up_to": 10_000_000,
            "latency_us": 50.0}


def fit_model(sizes, table, measured):
    """(fixed, per sample, {process count: latency}) seconds of the cost model: one
    thread's steps give the fixed cost and the cost per sample; each process count's
    all-reduce column gives its latency."""
    fixed, per_sample = fit_compute(sizes, measured["1 process, 1 thread"][:, 2])
    latencies = {k: float(np.median(measured[label][:, 1])) for label, k, _ in table if k > 1}
    return fixed, per_sample, latencies


def print_plan(sizes, table, cores, largest):
    print(f"timing a step of batch descent at n = {', '.join(f'{n:,}' for n in sizes)} on "
          f"this machine's {cores} core{'' if cores == 1 else 's'}: "
          f"{', '.join(label for label, _, _ in table)}; {ROUNDS} rounds", flush=True)
    if largest > cores:
        print(f"note: {largest} processes share {cores} cores: they take turns, and "
              "their all-reduce waits for the turn", flush=True)


def draw(sizes, table, measured, fixed, per_sample, latencies):
    """{file name: figure}: the measured step times beside the model's, and where the
    model says K processes start to beat one."""
    from plots import data_parallel as plots  # only now: matplotlib's backend is chosen

    model_columns = {"1 process, 1 thread": predicted_step(sizes, 1, fixed, per_sample, 0)}
    for label, k, _ in table:
        if k > 1:
            model_columns[label] = predicted_step(sizes, k, fixed, per_sample, latencies[k])
    crossovers = {label: crossover(k, per_sample, latencies[k]) for label, k, _ in table
                  if k > 1}
    return {"data_parallel_costs.png": plots.plot_costs(
        sizes, {label: measured[label][:, 2] for label, _, _ in table}, model_columns,
        crossovers)}


def print_table(sizes, table, measured, fixed, per_sample, latencies):
    """The measured medians, in ms, beside the model's prediction."""
    threads = [label for label, k, _ in table if k == 1]
    print()
    print("one process, the median time of one step in ms:")
    print(f"{'n':>12}" + "".join(f"{label[11:]:>11}" for label in threads) + f"{'model':>9}")
    for number, n in enumerate(sizes):
        print(f"{n:>12,}" + "".join(f"{measured[label][number, 2] * 1e3:11.3f}"
                                   for label in threads)
              + f"{predicted_step(n, 1, fixed, per_sample, 0) * 1e3:9.3f}")
    for label, k, _ in table:
        if k == 1:
            continue
        print(f"{label}, one thread each, the median time of one step in ms (compute, "
              "all-reduce and step, each its own median), and the speed against one process:")
        print(f"{'n':>12}{'compute':>10}{'all-reduce':>11}{'step':>9}{'model':>9}"
              + "".join(f"{'vs ' + name[11:]:>13}" for name in threads))
        for number, n in enumerate(sizes):
            compute, reduce, step = measured[label][number] * 1e3
            model = predicted_step(n, k, fixed, per_sample, latencies[k]) * 1e3
            print(f"{n:>12,}{compute:10.3f}{reduce:11.3f}{step:9.3f}{model:9.3f}"
                  + "".join(f"{measured[name][number, 2] * 1e3 / step:12.2f}x"
                            for name in threads))


def print_model(sizes, table, measured, fixed, per_sample, latencies, network_latency):
    single = measured["1 process, 1 thread"][:, 2]
    print()
    print(f"model, fitted to the table: a step on K processes = {fixed * 1e3:.3f} ms + "
          f"{per_sample * 1e9:.2f} ns x n / K + the all-reduce's latency (K > 1: the median "
          "of its column)")
    for label, k, _ in table:
        if k > 1:
            faster = measured[label][:, 2] < single
            beats = [n for number, n in enumerate(sizes) if faster[number:].all()]
            print(f"  {label}: latency {latencies[k] * 1e3:.3f} ms; the model says they beat "
                  f"one thread above n = {crossover(k, per_sample, latencies[k]):,.0f}; "
                  f"measured: {f'from n = {beats[0]:,} on' if beats else 'at no size here'}")
    print()
    print(f"a model, not a measurement: K machines, each computing as one thread here, "
          f"{network_latency * 1e6:g} us a message between machines, and a ring all-reduce "
          "(2(K-1) messages, one after another):")
    print(f"{'machines':>10}{'all-reduce ms':>15}{'faster above n':>16}"
          f"{'speed-up at n = 1e7':>21}{'at 1e9':>8}")
    for k in MACHINE_COUNTS:
        latency = 2 * (k - 1) * network_latency
        speedups = [predicted_step(n, 1, fixed, per_sample, 0) /
                    predicted_step(n, k, fixed, per_sample, latency) for n in (10**7, 10**9)]
        print(f"{k:>10}{latency * 1e3:15.3f}{crossover(k, per_sample, latency):16,.0f}"
              f"{speedups[0]:20.2f}x{speedups[1]:7.2f}x")


def main(argv=None):
    """Measure, print the table and the model, draw."""
    from plumbing import options, output
    from plumbing.workers import WorkerFailed, meeting_point, start_workers

    parser = options.Parser("What a step of data-parallel batch descent costs on 1, 2, ... "
                            "worker processes: measured, and a cost model fitted to it.")
    options.add_settings(parser, DEFAULTS, OPTIONS, data_parallel.OPTIONS)
    args, out_dir = options.parse(parser, argv)
    if "RANK" in os.environ:
        parser.error("this script starts its own workers: run it with python, not torchrun")
    try:  # the meeting point, taken before any work
        store = meeting_point(args.port, args.timeout)
    except OSError as error:
        parser.error(f"--port {args.port}: {error}")
    cores = os.cpu_count() or 1
    worker_counts = sorted({1, *(2**p for p in range(1, 7) if 2**p <= args.workers),
                            args.workers})
    sizes = [10**p for p in range(2, 9) if 10**p <= args.costs_up_to]
    table = columns(worker_counts, cores)
    print_plan(sizes, table, cores, args.workers)
    try:
        times = start_workers(args.workers, measure_in_group, (sizes, worker_counts, cores),
                              store, timeout=args.timeout)
    except WorkerFailed as failure:
        parser.exit(1, f"{parser.prog}: error: {failure}\n")
    measured = medians(times, table, sizes)
    fixed, per_sample, latencies = fit_model(sizes, table, measured)
    print_table(sizes, table, measured, fixed, per_sample, latencies)
    if per_sample <= 0:  # a machine so busy that larger steps were not slower
        parser.exit(1, f"{parser.prog}: error: the step times did not grow with n, so no "
                       "cost per sample can be fitted; run it again on a quieter machine\n")
    print_model(sizes, table, measured, fixed, per_sample, latencies, args.latency_us * 1e-6)
    figures = draw(sizes, table, measured, fixed, per_sample, latencies)
    output.save_figures(out_dir, figures)
    output.show_figures(figures, args.show)


if __name__ == "__main__":
    run_as_command(main)
