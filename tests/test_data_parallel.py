"""Data-parallel descent (data_parallel.py) is the descent of one process: the path across
2, 3 (unequal shards) and 4 worker processes equals train_batch's, and mini-batches
train_sgd's. DistributedDataParallel with a DistributedSampler is not, with unequal
shards: its path is the one of a mean of padded shard means, derived here by hand.

The runs on one worker count share one group of processes, and so one test: starting a
group costs seconds.
"""

import socket

import numpy as np
import pytest
import torch
from conftest import run_main, wrote_exactly
from printed import shows_line

import data_parallel
import parallel_costs
from plumbing.workers import WorkerFailed, start_workers
from train_batch import train_batch
from train_sgd import train_sgd


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


RUNS = {
    "batch": lambda X, Y: data_parallel.train_data_parallel(X, Y, verbose=False),
    "mini-batches": lambda X, Y: data_parallel.train_data_parallel(
        X, Y, lr=0.02, epochs=3, batch_size=10, seed=5, verbose=False),
    # DDP takes about 2 s a worker to set up (it imports torch._dynamo): on 3 workers only,
    # the unequal shards; docs/data_parallel.md runs it on 2, where it is batch descent.
    "ddp": lambda X, Y: data_parallel.train_ddp(X, Y, epochs=5, seed=7, verbose=False),
    "unweighted": lambda X, Y: data_parallel.train_data_parallel(
        X, Y, lr=0.02, epochs=3, verbose=False, weigh=data_parallel.unweighted),
    # Batches of 2 on 3 workers: one worker's part is always empty.
    "tiny batches": lambda X, Y: data_parallel.train_data_parallel(
        X, Y, lr=0.01, epochs=1, batch_size=2, seed=3, verbose=False),
}


def _runs_in_one_group(X, Y, names):
    """Run by every worker: the named runs, on this group of processes."""
    return {name: RUNS[name](X, Y) for name in names}


def descent_by_hand(X, Y, lr, w0, b0, shards_of_each_step, combine):
    """A path derived without torch.distributed, in float64: each step, the mean-loss
    gradient on each shard (2*mean(r*x), 2*mean(r), r the residual), combined over the
    shards (np.mean or np.sum), and a step against it."""
    x, y = X.reshape(-1).double().numpy(), Y.reshape(-1).double().numpy()
    w, b = w0, b0
    path = [(w, b)]
    for shards in shards_of_each_step:
        gradients = []
        for shard in shards:
            residual = w * x[shard] + b - y[shard]
            gradients.append((2 * np.mean(residual * x[shard]), 2 * np.mean(residual)))
        dw, db = combine(gradients, axis=0)
        w, b = w - lr * dw, b - lr * db
        path.append((w, b))
    return np.array(path)


def ddp_shards_by_hand(n, workers, epochs, seed):
    """DistributedSampler's shards, epoch by epoch: a shuffle (a generator seeded seed +
    epoch), padded to a multiple of `workers` by repeating its first samples, dealt
    round-robin."""
    size = -(-n // workers) * workers
    for epoch in range(1, epochs + 1):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))
        padded = (order.tolist() * (1 + size // n))[:size]
        yield [padded[rank::workers] for rank in range(workers)]


def test_the_shards_cover_the_samples_as_evenly_as_they_can():
    bounds = [data_parallel.shard_bounds(100, rank, 3) for rank in range(3)]
    assert bounds == [(0, 34), (34, 67), (67, 100)]
    for workers in (1, 2, 7, 100):
        sizes = [last - first for first, last in
                 (data_parallel.shard_bounds(100, rank, workers) for rank in range(workers))]
        assert sum(sizes) == 100 and max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("workers, names", [(2, ("batch", "mini-batches")),
                                            (3, tuple(RUNS)), (4, ("batch",))])
def test_across_workers_the_paths_are_one_processs_and_ddps_the_padded_mean_of_means(
        data, workers, names):
    X, Y = data
    runs = start_workers(workers, _runs_in_one_group, (X, Y, names))

    # Batch descent: train_batch's path. The sum over shards rounds differently from one
    # mean: the last bits may move.
    expected = train_batch(X, Y, 0.1, 20, verbose=False)
    history = runs["batch"]
    torch.testing.assert_close(torch.tensor(history.path), torch.tensor(expected.path),
                               rtol=1e-6, atol=1e-6)
    assert (history.w, history.b) == pytest.approx((-5.005440, -0.207838), abs=2e-6)
    torch.testing.assert_close(torch.tensor(history.epoch_losses),
                               torch.tensor(expected.epoch_losses), rtol=1e-5, atol=1e-6)

    if names == ("batch",):
        return
    # Mini-batches split across the workers: train_sgd's path on the same order.
    expected = train_sgd(X, Y, 0.02, 3, batch_size=10, seed=5, verbose=False)
    history = runs["mini-batches"]
    torch.testing.assert_close(torch.tensor(history.path), torch.tensor(expected.path),
                               rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(torch.tensor(history.epoch_losses),
                               torch.tensor(expected.epoch_losses), rtol=1e-5, atol=1e-6)

    if "ddp" in runs:
        # DDP: the plain mean of the padded shards' means (34, 34, 34 with 2 samples
        # twice), another path than batch descent's.
        ddp = np.array(runs["ddp"].path)
        by_hand = descent_by_hand(X, Y, 0.1, -10.0, -20.0,
                                  ddp_shards_by_hand(100, workers, 5, 7), np.mean)
        np.testing.assert_allclose(ddp, by_hand, rtol=1e-5, atol=1e-5)
        drift = np.abs(ddp - np.array(train_batch(X, Y, 0.1, 5, verbose=False).path)).max()
        assert drift > 1e-2

    if "tiny batches" in runs:
        # An empty part adds a zero gradient: still train_sgd's path.
        expected = train_sgd(X, Y, 0.01, 1, batch_size=2, seed=3, verbose=False)
        torch.testing.assert_close(torch.tensor(runs["tiny batches"].path),
                                   torch.tensor(expected.path), rtol=1e-6, atol=1e-6)

    if "unweighted" in runs:
        # The mistake: the workers' means added unweighted, a step about 3 times too long.
        plain = np.array(runs["unweighted"].path)
        shards = [list(range(*data_parallel.shard_bounds(100, rank, workers)))
                  for rank in range(workers)]
        np.testing.assert_allclose(
            plain, descent_by_hand(X, Y, 0.02, -10.0, -20.0, [shards] * 3, np.sum),
            rtol=1e-5, atol=1e-5)
        batch = np.array(train_batch(X, Y, 0.02, 3, verbose=False).path)
        ratio = np.hypot(*(plain[1] - plain[0])) / np.hypot(*(batch[1] - batch[0]))
        assert 2.9 < ratio < 3.1


@pytest.mark.parametrize("args, complaint", [
    (["--workers", "101"], "--workers: '101' must be a whole number from 1 to 64"),
    (["--workers", "3", "--n", "2"], "--workers 3 is more than the 2 samples"),
    (["--ddp", "--batch-size", "10"], "--ddp runs batch descent"),
    (["--workers", "2", "--device", "cuda"], "--device cuda needs a GPU for each of the 2"),
])
def test_bad_settings_are_refused_in_one_line(tmp_path, capsys, args, complaint):
    if "cuda" in args and torch.cuda.device_count() >= 2:
        pytest.skip("this machine has the GPUs")
    status, out, err = run_main(data_parallel, capsys, *args, "--out", tmp_path / "out")
    assert status == 2 and out == "" and complaint in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def _a_large_result(size):
    return [0.5] * size


def test_a_result_larger_than_a_pipe_comes_back_whole():
    # Rank 0 hands its result over a pipe, which holds 64 KB: the parent must read it while
    # the workers run, or rank 0 never ends (a long run's path is larger than that).
    result = start_workers(2, _a_large_result, (1_000_000,))
    assert result == [0.5] * 1_000_000


def test_a_busy_port_is_refused_in_one_line_and_a_free_one_is_the_default(tmp_path, capsys):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        status, out, err = run_main(data_parallel, capsys, "--port", port, "--out",
                                    tmp_path / "out")
    assert status == 2
    assert out == "" and len(err.strip().splitlines()) == 1 and err.strip().endswith(
        f"error: --port {port}: cannot listen on 127.0.0.1:{port}: address already in use "
        "(see --help)")
    assert not (tmp_path / "out").exists()


def test_a_killed_worker_ends_the_run_in_one_line_without_hanging(tmp_path, capfd):
    import os
    import signal
    import threading
    import time
    from pathlib import Path

    def children(pid):
        return sorted(int(child) for child in
                      Path(f"/proc/{pid}/task/{pid}/children").read_text().split())

    def kill_worker_1():
        """Wait until both workers run (for at most 60 s), then kill rank 1. They are
        forked, rank 0 first, by a server process that is a child of this one."""
        waited = time.monotonic()
        workers = []
        while len(workers) < 2 and time.monotonic() - waited < 60:
            time.sleep(0.2)
            workers = [worker for server in children(os.getpid())
                       if "forkserver" in Path(f"/proc/{server}/cmdline").read_text()
                       for worker in children(server)]
        time.sleep(1)  # into the training: each worker has joined the group
        os.kill(workers[1], signal.SIGKILL)

    threading.Thread(target=kill_worker_1, daemon=True).start()
    started = time.monotonic()
    # Unkilled, 20,000 epochs would take more than 10 s.
    status, out, err = run_main(data_parallel, capfd, "--workers", "2", "--epochs", "20000",
                                "--out", tmp_path / "out")
    assert time.monotonic() - started < 30
    assert status == 1
    # One line, from the parent: the surviving worker was stopped without a traceback.
    assert len(err.strip().splitlines()) == 1 and err.strip().endswith(
        ": error: worker 1 ended with exit code -9; the others were stopped")
    assert "epoch   1:" not in out and not (tmp_path / "out").exists()


def _freezes_at_rank_1():
    """Rank 1 stops itself (SIGSTOP, as Ctrl-Z or a debugger would) inside the group; rank 0
    then waits for it in an all-reduce."""
    import os
    import signal

    import torch.distributed as dist

    if dist.get_rank() == 1:
        os.kill(os.getpid(), signal.SIGSTOP)
    dist.all_reduce(torch.zeros(1))


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGSTOP"), reason="no SIGSTOP here")
def test_a_frozen_worker_ends_the_run_after_the_timeout_in_one_line():
    import multiprocessing

    with pytest.raises(WorkerFailed) as failure:
        start_workers(2, _freezes_at_rank_1, timeout=2)
    assert str(failure.value) == ("worker 0 waited 2 s for the others (--timeout) and gave up: "
                                  "one of them is stopped or stuck; all were stopped")
    # The frozen worker was killed too: none is left (the fork server is not a worker).
    assert [process for process in multiprocessing.active_children()
            if process.name != "ForkServer"] == []


def _torchrun(*launcher_args, cwd):
    """torchrun running data_parallel.py with the tutorial's settings, as a process."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    return subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", *launcher_args,
         str(ROOT / "data_parallel.py"), "--out", "out"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
        env={**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"})


FINAL = "final: w=-5.005440 b=-0.207838 loss=0.207722 (20 updates)"


def test_two_launchers_as_two_nodes_over_loopback_print_batch_descents_end(tmp_path):
    # Two launchers on this machine as two "nodes", meeting at a loopback address.
    port = free_port()
    nodes = []
    for node in ("a", "b"):
        (tmp_path / node).mkdir()
        nodes.append(_torchrun("--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend",
                               "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id",
                               "lesson", cwd=tmp_path / node))
    outputs = [node.communicate(timeout=120) for node in nodes]
    assert all(node.returncode == 0 for node in nodes), [err for _, err in outputs]
    printed = [out for out, _ in outputs]
    # Exactly one of the two processes is rank 0: it alone prints and writes the figure.
    assert sorted(any(shows_line(FINAL, line) for line in out.splitlines())
                  for out in printed) == [False, True]
    assert sorted((tmp_path / node / "out").exists() for node in ("a", "b")) == [False, True]


def test_the_cost_model_fits_exact_costs_and_its_crossover_is_where_the_costs_meet():
    sizes = [100, 1_000, 10_000, 100_000, 1_000_000]
    fixed, per_sample, latency = 2e-4, 7e-9, 5e-4
    seconds = [fixed + per_sample * n for n in sizes]
    np.testing.assert_allclose(parallel_costs.fit_compute(sizes, seconds), (fixed, per_sample),
                               rtol=1e-9)
    for workers in (2, 4, 64):
        meet = parallel_costs.crossover(workers, per_sample, latency)
        costs = [parallel_costs.predicted_step(n, k, fixed, per_sample, latency)
                 for n, k in ((meet, 1), (meet, workers), (2 * meet, workers), (2 * meet, 1))]
        assert costs[0] == pytest.approx(costs[1]) and costs[2] < costs[3]


def test_costs_prints_the_measured_table_and_the_models_prediction_from_one_run(
        tmp_path, capsys, monkeypatch):
    import re

    # Its fast setting, from a folder of its own (tests/test_scripts.py leaves it to this).
    monkeypatch.chdir(tmp_path)
    status, out, err = run_main(parallel_costs, capsys, *parallel_costs.TEST_ARGS,
                                "--out", "out")
    assert status == 0, err
    assert wrote_exactly(out, tmp_path / "out")
    lines = out.splitlines()
    fixed, per_sample = map(float, re.search(
        r"a step on K processes = ([\d.]+) ms \+ ([\d.]+) ns x n / K", out).groups())
    # One process: a row a size, each column a positive time, the model's column its line.
    start = lines.index("one process, the median time of one step in ms:") + 2
    for n, line in zip((100, 1000, 10_000, 100_000), lines[start:start + 4], strict=True):
        size, one_thread, two_threads, model = line.split()
        assert size == f"{n:,}" and float(one_thread) > 0 and float(two_threads) > 0
        assert float(model) == pytest.approx(fixed + per_sample * 1e-6 * n, abs=2e-3)
    # Two processes: compute and all-reduce measured apart; the crossover from the model.
    latency = float(re.search(r"2 processes: latency ([\d.]+) ms", out).group(1))
    said = int(re.search(r"they beat one thread above n = ([\d,]+)", out).group(1)
               .replace(",", ""))
    assert said == pytest.approx(latency * 1e6 / (per_sample * 0.5), rel=0.01)
    assert "a model, not a measurement: K machines" in out
    assert (tmp_path / "out" / "data_parallel_costs.png").exists()
