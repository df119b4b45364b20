"""Data-parallel batch descent (data_parallel.py) is batch descent: the path across 2, 3
(unequal shards) and 4 worker processes equals train_batch's."""

import pytest
import torch
from conftest import run_main

import data_parallel
from train_batch import train_batch


def test_the_shards_cover_the_samples_as_evenly_as_they_can():
    bounds = [data_parallel.shard_bounds(100, rank, 3) for rank in range(3)]
    assert bounds == [(0, 34), (34, 67), (67, 100)]
    for workers in (1, 2, 7, 100):
        sizes = [last - first for first, last in
                 (data_parallel.shard_bounds(100, rank, workers) for rank in range(workers))]
        assert sum(sizes) == 100 and max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_the_path_across_workers_is_batch_descents(data, workers):
    X, Y = data
    history = data_parallel.run_workers(X, Y, workers, lr=0.1, epochs=20)
    expected = train_batch(X, Y, 0.1, 20, verbose=False)
    # The sum over shards rounds differently from one mean: the last bits may move.
    torch.testing.assert_close(torch.tensor(history.path), torch.tensor(expected.path),
                               rtol=1e-6, atol=1e-6)
    assert f"{history.w:+.6f} {history.b:+.6f}" == "-5.005440 -0.207838"
    torch.testing.assert_close(torch.tensor(history.epoch_losses),
                               torch.tensor(expected.epoch_losses), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("args, complaint", [
    (["--workers", "0"], "--workers: '0' must be a whole number from 1 to 64"),
    (["--workers", "101"], "--workers: '101' must be a whole number from 1 to 64"),
    (["--workers", "3", "--n", "2"], "--workers 3 is more than the 2 samples"),
    (["--workers", "3", "--batch-size", "2"], "--batch-size 2 is less than the 3 workers"),
])
def test_bad_worker_counts_are_refused_in_one_line(tmp_path, capsys, args, complaint):
    status, out, err = run_main(data_parallel, capsys, *args, "--out", tmp_path / "out")
    assert status == 2 and out == "" and complaint in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_a_killed_worker_ends_the_run_in_one_line_without_hanging(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from conftest import ROOT

    run = subprocess.Popen(
        [sys.executable, str(ROOT / "data_parallel.py"), "--workers", "2", "--epochs",
         "100000", "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "MPLBACKEND": "Agg"})
    try:
        # Wait until both workers run (for at most 60 s), then kill one of them.
        assert run.stdout.readline().startswith("data:")
        waited = time.monotonic()
        workers = []
        while len(workers) < 2 and time.monotonic() - waited < 60:
            time.sleep(0.5)
            workers = [int(pid) for pid in
                       Path(f"/proc/{run.pid}/task/{run.pid}/children").read_text().split()
                       if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]
        assert len(workers) == 2
        time.sleep(3)  # into the training: each worker has joined the group
        os.kill(workers[1], signal.SIGKILL)
        started = time.monotonic()
        _, err = run.communicate(timeout=60)
        assert time.monotonic() - started < 30
    finally:
        run.kill()
    assert run.returncode == 1
    assert err.strip().splitlines() == [
        "data_parallel.py: error: worker 1 ended with exit code -9; the others were stopped"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("workers", [2, 3])
def test_mini_batches_split_across_workers_take_train_sgds_path(data, workers):
    from train_sgd import train_sgd

    X, Y = data
    history = data_parallel.run_workers(X, Y, workers, lr=0.02, epochs=3, batch_size=10,
                                        seed=5)
    expected = train_sgd(X, Y, 0.02, 3, batch_size=10, seed=5, verbose=False)
    torch.testing.assert_close(torch.tensor(history.path), torch.tensor(expected.path),
                               rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(torch.tensor(history.epoch_losses),
                               torch.tensor(expected.epoch_losses), rtol=1e-5, atol=1e-6)


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


def test_torchrun_standalone_and_two_nodes_over_loopback_print_batch_descents_end(tmp_path):
    final = "final: w=-5.005440 b=-0.207838 loss=0.207722 (20 updates)"
    (tmp_path / "one").mkdir()
    standalone = _torchrun("--standalone", "--nproc-per-node", "2", cwd=tmp_path / "one")
    out, err = standalone.communicate(timeout=120)
    assert standalone.returncode == 0, err
    assert final in out.splitlines()
    # Two launchers on this machine as two "nodes", meeting at a loopback address.
    port = data_parallel.free_port()
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
    assert sorted(final in out.splitlines() for out in printed) == [False, True]
    assert sorted((tmp_path / node / "out").exists() for node in ("a", "b")) == [False, True]
