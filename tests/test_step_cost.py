"""The step-cost lesson (step_cost.py): every rung takes the tutorial's path to float32
rounding, the moments are the data's, the table's arithmetic is right, and the script runs,
refuses bad settings in one line, and says so where torch.compile cannot work."""

import numpy as np
import pytest
import torch
from conftest import run_main, wrote_exactly

import step_cost
from data import make_data
from model import largest_distance
from train_batch import train_batch


@pytest.mark.parametrize("n", [100, 1000])
@pytest.mark.parametrize("name", [name for name, make in step_cost.RUNGS.items() if make])
def test_every_rung_takes_the_tutorials_path_to_float32_rounding(n, name):
    X, Y = make_data(n=n)
    reference = train_batch(X, Y, 0.1, 15, *step_cost.START, verbose=False).path
    path = step_cost.path_of(step_cost.RUNGS[name], X, Y, 0.1, 15)
    gap = largest_distance(path, reference)
    assert gap == 0 if name.startswith("1 ") else gap < 1e-5  # w, b of size 5 to 20


def test_the_compiled_rungs_gradient_is_the_hand_gradient_where_torch_compile_works(
        tmp_path, monkeypatch):
    # A cache of its own: torch 2.13's inductor reuses a kernel compiled under another
    # ATEN_CPU_CAPABILITY, and that kernel's sums come out wrong (-79.95 for -39.95 here).
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    # In an empty cache inductor first builds a probe program for each vector instruction
    # set the CPU lists, and loads each in a fresh Python (7 s): take the CPU's word for
    # them, and compile in this process.
    import torch._inductor.config as inductor

    monkeypatch.setattr(inductor.cpp, "vec_isa_ok", True)
    monkeypatch.setattr(inductor, "compile_threads", 1)
    compiled, reason = step_cost.compile_gradient()
    X, Y = make_data(n=1000)
    x, y = X.reshape(-1), Y.reshape(-1)
    w, b = torch.tensor(-10.0), torch.tensor(-20.0)
    if compiled is None:  # no compiler: the reason is one short line
        assert reason and "\n" not in reason
    else:
        for got, want in zip(compiled(x, y, w, b), step_cost.gradient(x, y, w, b), strict=True):
            assert got.item() == pytest.approx(want.item(), rel=1e-5)


def test_the_moments_are_the_datas_means_and_give_the_gradient_derived_by_hand():
    X, Y = make_data(n=1000)
    x, y = X.reshape(-1).double().numpy(), Y.reshape(-1).double().numpy()
    assert step_cost.moments(X, Y) == pytest.approx(
        [np.mean(x * x), np.mean(x), np.mean(x * y), np.mean(y)], rel=1e-12)
    # One O(1) step from (-10, -20) is one step down the gradient of the mean squared error.
    step, where = step_cost.sufficient_statistics(X, Y, 0.1)
    step()
    r = -10 * x - 20 - y
    assert where() == pytest.approx((-10 - 0.1 * 2 * np.mean(r * x), -20 - 0.1 * 2 * np.mean(r)),
                                    rel=1e-12)


def test_a_row_states_the_bytes_the_rate_and_the_multiple_of_the_limit():
    row = dict(n=1_000_000, rung="3 gradient by hand, 6 operations", seconds=0.004, low=0.003,
               high=0.005, reads=8_000_000, limit=0.001)
    line = step_cost.format_row(row)
    # 8 MB in 4 ms is 2 GB/s, four times the 1 ms the limit allows.
    assert line.split()[-3:] == ["MB", "2.00", "4.0"] and "8.0 MB" in line
    assert "4,000.0 us" in line and "(3,000.0 us to 5,000.0 us)" in line
    # A spread across units keeps each end's unit.
    assert "(37.2 us to 16.0 ms)" in step_cost.format_row({**row, "low": 37.2e-6, "high": 0.016})
    o1 = step_cost.format_row({**row, "reads": 0, "seconds": 2e-7, "low": 2e-7, "high": 3e-7})
    assert o1.split()[-3:] == ["-", "-", "-"] and "0.2 us" in o1


def test_the_tutorials_step_is_the_operations_of_its_five_steps():
    names = step_cost.operations_of_a_step(*make_data(n=100), 0.1)
    # Forward: mul, add; loss: sub, pow, mean; its item; backward and update: the rest.
    assert names[:6] == ["mul", "add", "sub", "pow", "mean", "_local_scalar_dense"]
    assert names.count("zero_") == 2 and len(names) == 29


def test_the_script_prints_every_rung_at_every_size_and_draws_the_figure(tmp_path, capsys,
                                                                        monkeypatch):
    # Its fast setting, from a folder of its own (tests/test_scripts.py leaves it to this).
    monkeypatch.chdir(tmp_path)
    status, out, err = run_main(step_cost, capsys, *step_cost.TEST_ARGS, "--out", "out")
    assert status == 0, err
    assert wrote_exactly(out, tmp_path / "out")
    for n in ("1,000", "20,000"):
        rows = [line for line in out.splitlines() if line.lstrip().startswith(n + "  ")]
        assert [row.split("  ")[-1] for row in rows] and len(rows) == 5, out
    assert "4 gradient by hand, compiled" not in out  # --no-compile
    assert "memory bandwidth: " in out and "29 operations, forward and backward: about" in out
    distances = out.split("largest distance")[1].split("where the")[0].splitlines()[1:]
    assert len([line for line in distances if line.strip()]) == 4
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["step_cost.png"]


def test_where_torch_compile_fails_rung_4_is_not_available_in_one_line(tmp_path, capsys,
                                                                       monkeypatch):
    def no_compiler(*args, **kwargs):
        raise RuntimeError("Compiler: cc is not found.\nmore detail")

    monkeypatch.setattr(torch, "compile", no_compiler)
    status, out, err = run_main(step_cost, capsys, "--sizes", "1000", "--repeats", "1",
                                "--out", tmp_path)
    assert status == 0, err
    assert ("rung 4, torch.compile: not available here (RuntimeError: Compiler: cc is not "
            "found.)\n") in out
    assert "4 gradient by hand, compiled" not in out.split("not available here")[1]


@pytest.mark.parametrize("args, complaint", [
    (["--sizes", "abc"], "'abc' is not a whole number"),
    (["--threads", "0"], "'0' must be a whole number from 1 to 1,024"),
])
def test_bad_settings_are_refused_in_one_line(tmp_path, capsys, args, complaint):
    status, out, err = run_main(step_cost, capsys, *args, "--out", tmp_path / "out")
    assert status == 2 and out == "" and complaint in err and err.count("\n") == 1


def test_device_cuda_runs_on_a_gpu_and_is_refused_without_one(tmp_path, capsys):
    status, out, err = run_main(step_cost, capsys, *step_cost.TEST_ARGS, "--device", "cuda",
                                "--out", tmp_path / "cuda")
    if torch.cuda.is_available():  # the same table, timed with the GPU synchronised
        assert status == 0 and torch.cuda.get_device_name() in out
    else:
        assert status == 2 and out == "" and not (tmp_path / "cuda").exists()
        assert "--device cuda: torch finds no CUDA GPU here" in err and err.count("\n") == 1
