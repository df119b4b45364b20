"""The benchmark on a tiny setting: its rules, its rows, its CSV and its figure."""

import csv
import itertools

import numpy as np
import pytest
import torch
from conftest import run_script

import benchmark
from data import make_data
from model import samples_after, stability_bound


def test_closed_form_row_equals_numpy_lstsq():
    closed_form = next(benchmark.benchmark_size(300, budget=0.5, seed=7, device="cpu"))
    X, Y = make_data(n=300, seed=7)
    x = X.reshape(-1).double().numpy()
    design = np.column_stack([x, np.ones_like(x)])
    (w, b), *_ = np.linalg.lstsq(design, Y.reshape(-1).double().numpy(), rcond=None)
    assert closed_form["method"] == "closed form"
    assert closed_form["w"] == pytest.approx(w, abs=1e-9)
    assert closed_form["b"] == pytest.approx(b, abs=1e-9)
    residual = design @ np.array([w, b]) - Y.reshape(-1).double().numpy()
    assert closed_form["ls_loss"] == pytest.approx(np.mean(residual**2), rel=1e-9)


def test_a_method_out_of_budget_is_reported_as_not_reaching_the_target():
    # SGD's rule-chosen step needs thousands of updates; a millisecond cannot hold them.
    rows = {row["method"]: row for row in benchmark.benchmark_size(100, 1e-3, 42, "cpu")}
    sgd = rows["SGD"]
    assert sgd["reached"] is False
    assert sgd["loss_over_ls"] > benchmark.TARGET
    assert 0 < sgd["updates"] < 5_000
    assert "NO" in benchmark.format_row(sgd).split()


def test_rows_reach_the_target_exactly_when_their_loss_is_within_one_percent():
    rows = {row["method"]: row for row in benchmark.benchmark_size(200, 0.3, 42, "cpu")}
    for row in rows.values():
        assert row["reached"] == (row["loss_over_ls"] <= benchmark.TARGET)
        if row["method"] != "closed form":
            assert row["samples"] == samples_after(
                200, row["batch_size"], row["updates"])
    # Batch descent needs a few dozen steps, far inside the budget.
    assert rows["batch GD"]["reached"]
    assert rows["batch GD"]["samples"] == 200 * rows["batch GD"]["updates"]


@pytest.mark.parametrize("batch_size", [1, 10, 32, 100])
def test_step_size_rule_stays_inside_the_stability_bound(batch_size):
    X, _ = make_data(n=100)
    lr = benchmark.step_size(X, batch_size)
    assert 0 < lr <= 0.5 * stability_bound(X, batch_size) + 1e-12


def test_mini_batch_1024_is_left_out_where_it_would_be_batch_descent():
    assert "mini-batch 1024" not in [label for label, _, _ in benchmark.methods_for(1024)]
    assert ("mini-batch 1024", 1024) in [
        (label, size) for label, size, _ in benchmark.methods_for(1025)]


def test_samples_after_counts_the_short_last_batch():
    # n=10 in batches of 4: 4, 4, 2 per epoch.
    assert [samples_after(10, 4, k) for k in range(7)] == [
        0, 4, 8, 10, 14, 18, 20]


def test_check_points_are_every_update_then_ninety_per_decade():
    points = list(itertools.islice(benchmark.check_points(), 300))
    assert points[:100] == list(range(1, 101))
    assert points[100:102] == [110, 120]
    assert 1_000 in points and 10_000 in points
    assert all(later > earlier for earlier, later in itertools.pairwise(points))
    # A target first met between two checks is seen at most 10% of the updates late.
    assert all(later - earlier <= max(1, earlier // 10)
               for earlier, later in itertools.pairwise(points))


def test_the_in_process_ratios_run_on_a_quick_setting():
    # The first three ratios; the fourth starts compare.py twice and is covered by its tests.
    ratios = list(itertools.islice(benchmark.promised_ratios(repeats=1, quick=True), 3))
    assert len(ratios) == 3
    for _claim, first, second, ratio, _promise, met in ratios:
        assert isinstance(met, bool)
        # The printed ratio is the printed measurements divided (up to their rounding).
        first_value, second_value = float(first.split()[0]), float(second.split()[0])
        assert first.split()[1] == second.split()[1]
        assert ratio == pytest.approx(first_value / second_value, rel=0.05)


def test_benchmark_script_writes_csv_and_figure(tmp_path):
    out = tmp_path / "out"
    result = run_script("benchmark.py", "--sizes", "100", "300", "--budget", "0.5",
                        "--skip-ratios", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    with open(out / "benchmark.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == benchmark.CSV_COLUMNS
        rows = list(reader)
    assert [(int(row["n"]), row["method"]) for row in rows] == [
        (n, method) for n in (100, 300)
        for method in ["closed form", *(label for label, _, _ in benchmark.methods_for(n))]]
    assert (out / "benchmark.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Every row is printed as it finishes, and each size names its fastest descent.
    assert result.stdout.count("fastest descent at n=") == 2
    assert sum(line.strip().startswith(("100 ", "300 ")) for line in result.stdout.splitlines()) \
        == len(rows)


def test_figure_has_a_line_per_method_and_crosses_for_missed_targets():
    rows = list(benchmark.benchmark_size(100, 1e-3, 42, "cpu"))
    rows += list(benchmark.benchmark_size(200, 1e-3, 42, "cpu"))
    figure = benchmark_figure(rows)
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    missed = {row["method"] for row in rows if not row["reached"]}
    assert "SGD" in missed
    for method in missed:
        assert f"{method}: not reached in 0.001 s" in labels
    for method in {row["method"] for row in rows if row["reached"]}:
        assert method in labels


def benchmark_figure(rows):
    import matplotlib.pyplot as plt

    import plots

    methods = ["closed form", *(label for label, _, _ in benchmark.methods_for(10**6))]
    figure = plots.plot_time_to_target(rows, budget=1e-3, methods=methods)
    plt.close(figure)
    return figure


def run_main_expecting_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        benchmark.main(argv)
    stderr = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert len(stderr.strip().splitlines()) == 1
    return stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_without_a_device_is_a_one_line_error(tmp_path, capsys):
    stderr = run_main_expecting_error(["--device", "cuda", "--out", str(tmp_path / "out")],
                                      capsys)
    assert "--device cuda: no CUDA device is available" in stderr
    assert not (tmp_path / "out" / "benchmark.png").exists()


@pytest.mark.parametrize("args, message", [
    (["--budget", "0"], "--budget"), (["--budget", "nan"], "--budget"),
    (["--sizes", "0"], "--sizes"), (["--sizes", "99"], "--sizes"),
    (["--sizes", "20000000"], "--sizes"), (["--repeats", "-1"], "--repeats"),
    (["--device", "tpu"], "--device")])
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, args, message):
    stderr = run_main_expecting_error([*args, "--out", str(tmp_path / "out")], capsys)
    assert message in stderr
