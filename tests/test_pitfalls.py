"""Each pitfall's claim, checked against an independent computation."""

import math
import re

import numpy as np
import pytest
import torch
from conftest import ROOT, run_main

import pitfalls
from data import make_data

TUTORIAL = {"seed": 42, "slope": -5.0, "noise": 0.4}  # how make_data() makes the data


def hand_gradient(X, Y, w, b):
    """d/dw and d/db of mean((w x + b - y)^2), derived by hand, in float64."""
    x = X.reshape(-1).double().numpy()
    y = Y.reshape(-1).double().numpy()
    residual = w * x + b - y
    return 2 * np.mean(residual * x), 2 * np.mean(residual)


def numpy_bound(X, summed=False):
    """2 / the largest eigenvalue of the (mean or summed) squared-error Hessian, by NumPy."""
    x = X.reshape(-1).double().numpy()
    hessian = 2 * np.array([[np.sum(x * x), np.sum(x)], [np.sum(x), len(x)]])
    if not summed:
        hessian /= len(x)
    return 2 / np.linalg.eigvalsh(hessian).max()


def test_without_zeroing_each_step_uses_the_sum_of_all_gradients_so_far(data):
    X, Y = data
    run = pitfalls.run_loop(pitfalls.step_without_zeroing, X, Y, 0.1, 12, "wrong")
    true_gradients = np.array([hand_gradient(X, Y, w, b) for w, b in run.path[:-1]])
    # run.grads[k] is what w.grad and b.grad held when step k+1 was taken.
    np.testing.assert_allclose(np.array(run.grads), np.cumsum(true_gradients, axis=0),
                               rtol=1e-4, atol=1e-3)
    # And the step taken was lr times that sum.
    steps = -np.diff(np.array(run.path), axis=0) / 0.1
    np.testing.assert_allclose(steps, np.cumsum(true_gradients, axis=0), rtol=1e-3, atol=1e-2)


def test_the_correct_loop_uses_each_gradient_once(data):
    X, Y = data
    run = pitfalls.run_loop(pitfalls.correct_step, X, Y, 0.1, 5, "right")
    steps = -np.diff(np.array(run.path), axis=0) / 0.1
    true_gradients = np.array([hand_gradient(X, Y, w, b) for w, b in run.path[:-1]])
    np.testing.assert_allclose(steps, true_gradients, rtol=1e-4, atol=1e-3)


def test_rebinding_leaves_w_without_a_gradient(data):
    X, Y = data
    failure = pitfalls.caught(pitfalls.step_rebinding, X, Y, 3)
    assert isinstance(failure.error, AttributeError) and "NoneType" in str(failure.error)
    assert failure.where == "in step 1, at w.grad.data.zero_()"
    assert any("not a leaf Tensor" in message for message in failure.warned)
    # The cause, checked directly: the rebound w is no leaf and autograd gives it no .grad.
    w = torch.tensor(-10.0, requires_grad=True)
    (w * 2).backward()
    w = w - 0.1 * w.grad
    assert not w.is_leaf
    with pytest.warns(UserWarning):
        assert w.grad is None


def test_in_place_update_of_a_leaf_raises_what_pytorch_raises(data):
    X, Y = data
    failure = pitfalls.caught(pitfalls.step_in_place_with_grad, X, Y, 3)
    w = torch.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError) as reference:
        w -= 0.1
    assert type(failure.error) is RuntimeError
    assert str(failure.error) == str(reference.value)
    assert failure.where == "in step 1, at w -= lr * w.grad"


def test_data_and_no_grad_updates_give_the_same_path_exactly(data):
    X, Y = data
    with_data = pitfalls.run_loop(pitfalls.correct_step, X, Y, 0.1, 20, ".data")
    with_no_grad = pitfalls.run_loop(pitfalls.step_no_grad, X, Y, 0.1, 20, "no_grad")
    assert with_data.path == with_no_grad.path
    assert with_data.losses == with_no_grad.losses


def test_a_change_through_data_goes_silent_where_no_grad_raises():
    # d(w*w)/dw at the saved w = 2 is 4; autograd, not told of the change to 6, gives 2*6.
    assert pitfalls.update_before_backward(through_data=True) == 12.0
    error = pitfalls.update_before_backward(through_data=False)
    assert isinstance(error, RuntimeError) and "modified by an inplace operation" in str(error)


def test_summed_loss_gradient_is_n_times_the_mean_loss_gradient(data):
    X, Y = data
    # One step with lr = 1 moves (w, b) by exactly minus the gradient it used.
    summed = pitfalls.run_loop(pitfalls.step_summed_loss, X, Y, 1.0, 1, "summed")
    mean = pitfalls.run_loop(pitfalls.step_without_zeroing, X, Y, 1.0, 1, "mean")
    summed_gradient = np.array(summed.path[0]) - np.array(summed.path[1])
    np.testing.assert_allclose(summed_gradient, len(X) * np.array(mean.grads[0]), rtol=1e-3)
    np.testing.assert_allclose(np.array(mean.grads[0]), hand_gradient(X, Y, *pitfalls.START),
                               rtol=1e-5)


@pytest.mark.parametrize("n", [100, 10_000])
def test_summed_loss_bound_is_two_over_the_numpy_eigenvalue(n):
    X, _ = make_data(n=n)
    assert pitfalls.summed_bound(X) == pytest.approx(numpy_bound(X, summed=True), rel=1e-9)


def test_scaled_and_standardised_bounds_are_two_over_the_numpy_eigenvalue():
    X_wide, _ = pitfalls.scaled_data()
    X_standard = pitfalls.standardise(X_wide)
    from model import stability_bound

    assert stability_bound(X_wide) == pytest.approx(numpy_bound(X_wide), rel=1e-9)
    assert stability_bound(X_standard) == pytest.approx(numpy_bound(X_standard), rel=1e-6)
    # Ten times wider x: about a hundred times smaller bound.
    X, _ = make_data()
    assert stability_bound(X) / stability_bound(X_wide) == pytest.approx(100, rel=0.02)


def printed_numbers(line):
    numbers = re.findall(r"\d[\d,]*(?:\.\d+)?(?:e[-+]\d+)?", line)
    return [float(number.replace(",", "")) for number in numbers]


def test_printed_bounds_equal_the_numpy_bounds(capsys, tmp_path):
    pitfalls.main(["--only", "summed-loss", "--out", str(tmp_path)])
    pitfalls.main(["--only", "unscaled-x", "--out", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    summed_line = next(line for line in lines if "stability bound, summed loss" in line)
    X, _ = make_data()
    X_big, _ = make_data(n=10_000)
    expected = [numpy_bound(X, summed=True), numpy_bound(X_big, summed=True),
                numpy_bound(X), numpy_bound(X_big)]
    printed = [value for value in printed_numbers(summed_line) if value not in (100, 10_000)]
    assert printed == pytest.approx(expected, rel=5e-3)
    scaled_line = next(line for line in lines if "for x in [-50, 50)" in line)
    X_wide, _ = pitfalls.scaled_data()
    values = printed_numbers(scaled_line)
    assert values[0] == pytest.approx(numpy_bound(X), rel=1e-3)
    assert values[3] == pytest.approx(numpy_bound(X_wide), rel=1e-3)
    assert values[-1] == pytest.approx(numpy_bound(pitfalls.standardise(X_wide)), rel=1e-3)


def test_diverging_runs_are_reported_as_such_and_the_right_ones_converge(data):
    X, Y = data
    setting = pitfalls.Setting(X, Y, steps=20, made=TUTORIAL)
    result = pitfalls.summed_loss(setting)
    big, small, right = result.runs
    assert big.stopped == "diverged" and big.losses[-1] > 1e6 * big.losses[0]
    assert small.stopped == "" and small.losses[-1] < small.losses[0] / 1000
    assert right.stopped == "" and right.losses[-1] < right.losses[0] / 1000

    wrong, standardised = pitfalls.unscaled_inputs(setting).runs
    assert wrong.stopped == "diverged"
    assert not (math.isfinite(wrong.losses[-1]) and wrong.losses[-1] < 1e6 * wrong.losses[0])
    assert standardised.losses[-1] < standardised.losses[0] / 1000

    wrong, right = pitfalls.step_too_big(setting).runs
    assert wrong.stopped == "nan" and math.isnan(wrong.losses[-1])
    assert any(math.isinf(loss) for loss in wrong.losses)
    assert right.losses[-1] < 1.0


def test_figure_has_a_panel_per_drawn_pitfall_with_each_run_labelled(data):
    import matplotlib.pyplot as plt

    from plots.pitfalls import plot_pitfalls

    X, Y = data
    setting = pitfalls.Setting(X, Y, steps=5, made=TUTORIAL)
    panels = {"1": pitfalls.no_zero_grad(setting).runs,
              "7": pitfalls.step_too_big(setting).runs}
    figure = plot_pitfalls(panels)
    visible = [axes for axes in figure.axes if axes.get_visible()]
    assert len(visible) == 2
    for axes, runs in zip(visible, panels.values(), strict=True):
        labels = [text.get_text() for text in axes.get_legend().get_texts()]
        assert labels[0].startswith(runs[0].label) and labels[-1] == runs[-1].label
        # A log axis only where the losses span more than two powers of ten.
        finite = [loss for run in runs for loss in run.losses if math.isfinite(loss)]
        assert axes.get_yscale() == ("log" if max(finite) > 100 * min(finite) else "linear")
    assert [axes.get_yscale() for axes in visible] == ["linear", "log"]
    plt.close(figure)


def test_script_reports_every_pitfall(tmp_path, capsys):
    # In this process, to stay quick; tests/test_scripts.py runs it as a command too.
    pitfalls.main(["--out", str(tmp_path / "out")])
    stdout = capsys.readouterr().out
    for number, pitfall in enumerate(pitfalls.PITFALLS, 1):
        assert f"{number}. {pitfall.name}: {pitfall.title}" in stdout
    for heading in ("you see:", "why:", "fix:"):
        assert stdout.count(heading) == len(pitfalls.PITFALLS)
    assert ("AttributeError: 'NoneType' object has no attribute 'data' "
            "(in step 1, at w.grad.data.zero_())") in stdout
    assert "RuntimeError: a leaf Variable that requires grad" in stdout
    assert "identical, bit for bit" in stdout
    assert (tmp_path / "out" / "pitfalls.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_name_is_a_one_line_error_listing_the_names(tmp_path, capsys):
    status, _, err = run_main(pitfalls, capsys, "--only", "forgot-to-zero", "--out",
                              tmp_path / "out")
    assert status == 2 and len(err.strip().splitlines()) == 1
    for pitfall in pitfalls.PITFALLS:
        assert pitfall.name in err
    assert not (tmp_path / "out").exists()


def test_list_names_every_pitfall_and_writes_nothing(tmp_path, capsys):
    pitfalls.main(["--list", "--out", str(tmp_path / "out")])
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in listed] == [p.name for p in pitfalls.PITFALLS]
    assert not (tmp_path / "out").exists()


def test_list_does_not_hide_a_bad_name(tmp_path, capsys):
    with pytest.raises(SystemExit) as refused:
        pitfalls.main(["--list", "--only", "bogus", "--out", str(tmp_path)])
    assert refused.value.code == 2 and "bogus" in capsys.readouterr().err


def test_only_one_pitfall_writes_its_own_figure_or_none(tmp_path, capsys):
    pitfalls.main(["--only", "lr-too-big", "--out", str(tmp_path)])
    pitfalls.main(["--only", "rebind", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert out.count("you see:") == 2
    assert "no figure" in out
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pitfalls-lr-too-big.png"]


def test_the_lesson_page_has_a_row_per_pitfall():
    page = (ROOT / "docs" / "pitfalls.md").read_text()
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    for pitfall in pitfalls.PITFALLS:
        assert any(line.startswith(f"| `{pitfall.name}`") for line in rows), pitfall.name


def test_several_only_names_run_in_order_into_a_figure_of_their_own(tmp_path, capsys):
    pitfalls.main(["--only", "unscaled-x", "--only", "no-zero-grad", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert out.index("1. no-zero-grad") < out.index("6. unscaled-x")
    assert out.count("you see:") == 2
    assert [path.name for path in tmp_path.iterdir()] == [
        "pitfalls-no-zero-grad+unscaled-x.png"]


def test_one_step_without_zeroing_is_not_called_a_swing(data):
    X, Y = data
    for steps, seen in ((1, "nothing has accumulated yet"), (2, "never settles")):
        assert seen in pitfalls.no_zero_grad(pitfalls.Setting(X, Y, steps, made=TUTORIAL)).seen


def test_a_lucky_swing_below_the_correct_loop_is_named_as_such(data):
    X, Y = data
    result = pitfalls.no_zero_grad(pitfalls.Setting(X, Y, steps=20, made=TUTORIAL))
    wrong, right = result.runs
    first_below = next(step for step in range(1, 21) if wrong.losses[step] < right.losses[step])
    assert f"at step {first_below} it is even below the correct loop" in result.details[0]
