import math

import numpy as np
import pytest
from conftest import run_script
from PIL import Image

import plots
import visualize
from model import least_squares, stability_bound
from train_batch import train_batch
from train_sgd import train_sgd


@pytest.fixture
def runs(data):
    X, Y = data
    return {
        "batch GD": train_batch(X, Y, lr=0.1, epochs=3),
        "mini-batch 10": train_sgd(X, Y, lr=0.04, epochs=3, batch_size=10),
        "SGD": train_sgd(X, Y, lr=0.01, epochs=3),
    }


def labels(axes):
    return [line.get_label() for line in axes.get_lines()]


def test_loss_surface_draws_every_path_on_both_panels(data, runs):
    X, Y = data
    figure = plots.plot_loss_surface(X, Y, runs, least_squares(X, Y))
    assert len(figure.axes) == 2
    for axes in figure.axes:
        names = labels(axes)
        assert len(names) == 5
        assert {"batch GD, lr=0.1", "mini-batch 10, lr=0.04", "SGD, lr=0.01", "start"} < set(names)
        assert any(name.startswith("least squares") for name in names)
        assert axes.collections, "the loss contours"
        sgd_line = axes.get_lines()[names.index("SGD, lr=0.01")]
        assert len(sgd_line.get_xdata()) == runs["SGD"].updates + 1
    plots.plt.close(figure)


def test_loss_against_work_puts_each_method_on_samples_processed(data, runs):
    X, Y = data
    figure = plots.plot_loss_vs_work(X, Y, runs, least_squares(X, Y))
    axes = figure.axes[0]
    assert len(axes.get_lines()) == 4 and labels(axes)[-1].startswith("least-squares loss")
    batch_line = axes.get_lines()[0]
    # Batch descent processes all 100 samples per step.
    assert list(batch_line.get_xdata()) == [100, 200, 300]
    sgd_line = axes.get_lines()[2]
    assert sgd_line.get_xdata()[-1] == 300 and len(sgd_line.get_xdata()) == 300
    assert axes.get_xscale() == "log" and axes.get_yscale() == "log"
    plots.plt.close(figure)


def test_sweep_marks_divergent_step_sizes(data):
    X, Y = data
    sweep = visualize.sweep_step_sizes(X, Y, [0.01, 0.1, 0.2], epochs=5,
                                       batch_sizes={"batch GD": 100, "SGD": 1})
    assert [diverged for _, _, diverged in sweep["batch GD"]] == [False, False, True]
    assert [diverged for _, _, diverged in sweep["SGD"]] == [False, True, True]
    for _, loss, diverged in sweep["batch GD"] + sweep["SGD"]:
        assert diverged or math.isfinite(loss)


def test_sweep_step_sizes_are_log_spaced_and_include_the_tutorials():
    lrs = visualize.sweep_lrs(7)
    assert lrs[0] == pytest.approx(1e-3) and lrs[-1] == pytest.approx(1.0) and 0.1 in lrs
    assert np.allclose(np.diff(np.log(visualize.sweep_lrs(4))), np.log(10))


def test_step_size_figure_shows_bounds_and_divergence(data):
    X, Y = data
    sweep = {"batch GD": [(0.01, 5.0, False), (0.1, 0.2, False), (0.5, math.nan, True)],
             "SGD": [(0.01, 0.2, False), (0.1, math.nan, True), (0.5, math.nan, True)]}
    bounds = {"batch GD": stability_bound(X), "SGD": stability_bound(X, 1)}
    figure = plots.plot_step_size_sweep(sweep, bounds, 599.0, 0.154, epochs=5)
    names = labels(figure.axes[0])
    assert "batch GD: diverged (loss grew)" in names and "SGD: diverged (loss grew)" in names
    assert f"SGD: stability bound {bounds['SGD']:.4f}" in names
    assert f"batch GD: stability bound {bounds['batch GD']:.4f}" in names
    diverged = figure.axes[0].get_lines()[names.index("SGD: diverged (loss grew)")]
    assert list(diverged.get_xdata()) == [0.1, 0.5]
    plots.plt.close(figure)


def test_animation_frames_follow_the_runs(runs):
    frames = plots.fit_frames(runs["batch GD"], runs["SGD"])
    assert len(frames) == len(plots.animation_times(3, 100))
    # Fine frames while SGD moves fast, then coarse ones; it ends at the last update.
    assert frames[0] == (0.0, [(0, "epoch 0"), (0, "epoch 0.00 (step 0)")])
    assert frames[1][1][1][0] == 5
    epoch, states = frames[-1]
    assert epoch == 3.0 and states == [(3, "epoch 3"), (300, "epoch 3.00 (step 300)")]
    for epoch, ((batch_index, _), (sgd_index, _)) in frames:
        assert batch_index == int(epoch) and sgd_index == round(epoch * 100)


def test_visualize_writes_every_picture(tmp_path):
    result = run_script("visualize.py", "--epochs", "1", "--sweep-points", "3",
                        "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert [line[:5] for line in result.stdout.splitlines() if line.startswith("[")] == \
        ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    for name in ("loss_surface.png", "loss_vs_work.png", "step_sizes.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    with Image.open(tmp_path / "fit.gif") as gif:
        assert gif.format == "GIF"
        # One epoch of SGD's 100 steps: a frame every 5 steps, and the last point.
        assert gif.n_frames == 21


@pytest.mark.parametrize("args", [["--only", "nothing"], ["--minibatch-size", "100"],
                                  ["--sweep-points", "0"]])
def test_visualize_refuses_bad_input(tmp_path, capsys, args):
    with pytest.raises(SystemExit) as stopped:
        visualize.main([*args, "--out", str(tmp_path)])
    assert stopped.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_a_sweep_needs_two_step_sizes(tmp_path, capsys):
    import visualize

    with pytest.raises(SystemExit) as stopped:
        visualize.main(["--only", "sweep", "--sweep-points", "1", "--out", str(tmp_path / "o")])
    assert stopped.value.code == 2
    assert "--sweep-points" in capsys.readouterr().err
