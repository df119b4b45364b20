"""Every count has a limit, and so does a command's work in all; a run that needs more
memory or threads than it can get says so in one line; a compiler that cannot load leaves
the other rungs working.

In-process where the behaviour allows; a subprocess only where it needs one: an
address-space limit, an environment that breaks torch's compiler."""

import os
import subprocess
import sys

import pytest
from conftest import ROOT, run_main

import noise_floor
import optimizers
import visualize
from plumbing.options import MAX_UPDATES


@pytest.mark.parametrize("module, args, runs", [
    # The sweep trains the three runs once at every step size: 201 step sizes (0.1 added).
    (visualize, ["--only", "sweep", "--epochs", "50", "--sweep-points", "200"], 3 * 201),
    # Every method side by side: seven runs.
    (optimizers, ["--epochs", "20_000", "--batch-size", "1", "--n", "10"], 7),
    # Every schedule side by side: six runs.
    (noise_floor, ["--epochs", "1000", "--n", "1000"], len(noise_floor.SCHEDULES)),
])
def test_a_commands_work_in_all_has_a_limit_stated_in_help_and_kept(tmp_path, capsys, module,
                                                                   args, runs):
    status, out, _ = run_main(module, capsys, "--help")
    assert status == 0 and "in all" in " ".join(out.split())
    epochs, n = int(args[args.index("--epochs") + 1]), 100
    n = int(args[args.index("--n") + 1]) if "--n" in args else n
    assert epochs * n <= MAX_UPDATES < runs * epochs * n  # each run alone is within it
    status, out, err = run_main(module, capsys, *args, "--out", tmp_path / "out")
    assert status == 2 and out == "" and not (tmp_path / "out").exists()
    assert len(err.splitlines()) == 1
    assert f"{runs:,} runs of {epochs:,} epochs" in err and "in all" in err


def run_step_cost(tmp_path, *args, env=None, limit=None, script="step_cost.py"):
    """step_cost.py (or `script`) as a learner runs it, in a process of its own (under an
    address-space limit of `limit` bytes where given): (exit status, stdout, stderr)."""
    def limited():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    done = subprocess.run([sys.executable, str(ROOT / script), *map(str, args),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True,
                          env={**os.environ, "MPLBACKEND": "Agg", **(env or {})},
                          preexec_fn=limited if limit else None, timeout=300)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="an address-space limit as Linux keeps it")
def test_a_size_that_needs_more_memory_than_there_is_is_one_line_naming_what_it_needed(
        tmp_path):
    import step_cost

    # 4 GB of address space: torch and the small size fit, n = 100,000,000 does not.
    status, out, err = run_step_cost(tmp_path, "--large", "--sizes", 1000, "--repeats", 1,
                                     "--no-compile", limit=4_000_000_000)
    assert (status, err) == (0, "")
    needed = step_cost.size_text(step_cost.BYTES_A_SAMPLE * step_cost.LARGE)
    assert f"n=100,000,000 needs about {needed}: not enough memory here\n" in out
    assert "n=1,000: " in out and (tmp_path / "out" / "step_cost.png").exists()


@pytest.mark.skipif(sys.platform != "linux", reason="an address-space limit as Linux keeps it")
def test_any_script_that_runs_out_of_memory_ends_in_one_line(tmp_path):
    # Room for torch, not for ten million samples' tensors.
    status, out, err = run_step_cost(tmp_path, "--n", 10_000_000, "--epochs", 2,
                                     limit=1_200_000_000, script="train_batch.py")
    assert status == 1 and len(err.splitlines()) == 1
    assert err.startswith("train_batch.py: error: not enough memory here")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(sys.platform != "linux", reason="an address-space limit as Linux keeps it")
def test_a_run_that_cannot_get_the_memory_it_needs_ends_in_one_line(tmp_path):
    # Room for torch, not for the bandwidth's 256 MB sum.
    status, out, err = run_step_cost(tmp_path, "--sizes", 1000, "--repeats", 1,
                                     "--no-compile", limit=1_000_000_000)
    assert status == 1
    assert err == "step_cost.py: error: the bandwidth's sum needs about 268 MB: not enough " \
                  "memory here\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("script", ["step_cost", "benchmark"])
def test_more_threads_than_cores_are_refused_in_one_line_stated_in_help(tmp_path, capsys,
                                                                        script):
    module = __import__(script)
    status, out, _ = run_main(module, capsys, "--help")
    assert "at most the machine's CPU cores" in " ".join(out.split())
    cores = os.cpu_count()
    status, out, err = run_main(module, capsys, "--threads", cores + 1,
                                "--out", tmp_path / "out")
    assert status == 2 and out == "" and len(err.splitlines()) == 1
    assert f"--threads {cores + 1}: this machine has {cores} CPU cores" in err


def test_a_compiler_that_cannot_load_leaves_the_other_rungs_working(tmp_path):
    # An inductor cache that cannot be made (inside a file): torch._dynamo, which
    # torch.compile and torch.optim load, fails as it is imported.
    (tmp_path / "a file").write_text("")
    status, out, err = run_step_cost(tmp_path, "--sizes", 1000, "--repeats", 1,
                                     env={"TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "a file"
                                                                         / "cache")})
    assert (status, err) == (0, "")
    assert "rungs 2 and 4, torch.optim and torch.compile: not available here" in out
    table = [line.split()[1] for line in out.splitlines() if line.startswith("       1,000  ")]
    assert table == ["1", "3", "5", "5"]  # the tutorial's, by hand, O(1) and the moments
    assert (tmp_path / "out" / "step_cost.png").exists()


@pytest.mark.parametrize("script", ["habits", "everyday_pytorch", "step_cost", "optimizers"])
def test_a_step_size_float32_cannot_hold_is_refused_and_the_largest_diverges_in_one_line(
        tmp_path, capsys, script):
    # torch.optim keeps lr in float32: 1e300 raised from inside its step; now the option's
    # interval ends at 1e38, and a run there diverges as any other does.
    module = __import__(script)
    method = ["--method", "momentum"] if script == "optimizers" else []
    status, out, err = run_main(module, capsys, *method, "--lr", "1e300", "--out", tmp_path)
    assert status == 2 and "'1e300' must be a number above 0, up to 1e38" in err
    if script in ("habits", "everyday_pytorch"):
        status, out, err = run_main(module, capsys, "--lr", "1e38", "--out", tmp_path / "out")
        assert status == 1 and len(err.splitlines()) == 1 and "diverged at" in err


def test_a_benchmarks_budgets_in_all_have_a_limit_stated_in_help(tmp_path, capsys):
    import benchmark

    status, out, _ = run_main(benchmark, capsys, "--help")
    assert status == 0 and "together at most an hour" in " ".join(out.split())
    # 20 sizes, 20 repeats, 600 s each: every count within its own limit, 67 hours in all.
    status, out, err = run_main(benchmark, capsys, "--sizes", *map(str, range(100, 120)),
                                "--repeats", "20", "--budget", "600", "--out", tmp_path / "out")
    assert status == 2 and out == "" and len(err.splitlines()) == 1
    assert "s of training; the limit is 3,600 s in all" in err


@pytest.mark.parametrize("module, args, said", [
    # Each within its own limit, together hours of timing.
    ("everyday_pytorch", ["--cost-updates", "10000", "--cost-repeats", "100"],
     "--cost-updates 10,000 x --cost-repeats 100 is 1,000,000 timed updates a rung; the "
     "limit is 10,000"),
    # An option given again for each value: its limit holds as it is read, not after.
    ("pitfalls", ["--only", "rebind"] * 8, "--only: 8 values; the limit is 7"),
    ("visualize", ["--only", "work"] * 5, "--only: 5 values; the limit is 4"),
    # A latency float64 can hold, but not the cost model's sums of it.
    ("parallel_costs", ["--latency-us", "1e308"], "'1e308' must be a number above 0, up to 1e6"),
])
def test_a_count_past_its_stated_limit_is_one_line_before_any_work(tmp_path, capsys, module,
                                                                    args, said):
    status, out, err = run_main(__import__(module), capsys, *args, "--out", tmp_path / "out")
    assert status == 2 and out == "" and len(err.splitlines()) == 1 and said in err
    assert not (tmp_path / "out").exists()


def test_an_allocation_cpp_refuses_is_one_line(capsys):
    """torch's C++ allocator may say std::bad_alloc rather than "can't allocate memory"."""
    import signal

    from plumbing.run import STOP_SIGNALS, run_as_command

    def main():
        raise RuntimeError("std::bad_alloc")

    handlers = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        with pytest.raises(SystemExit) as ended:
            run_as_command(main)
    finally:  # the command's handlers are for a command, not for the tests' process
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert ended.value.code == 1
    assert capsys.readouterr().err.endswith("error: not enough memory here\n")
