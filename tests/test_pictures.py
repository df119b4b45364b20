"""The pictures beyond the tutorial: their lines and labels, the sweep, the animation, and
visualize.py run end to end. Every file is written into tmp_path."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image
from printed import shows_line

import visualize
from data import make_data
from model import final_loss, least_squares, stability_bound
from plots import step_size, surface
from train_batch import train_batch
from train_sgd import train_sgd

LABELS = {"batch": "batch GD, lr=0.1", "minibatch": "mini-batch 10, lr=0.04",
          "sgd": "SGD, lr=0.01"}


@pytest.fixture
def runs(data):
    X, Y = data
    return {
        LABELS["batch"]: train_batch(X, Y, lr=0.1, epochs=3, verbose=False),
        LABELS["minibatch"]: train_sgd(X, Y, lr=0.04, epochs=3, batch_size=10, verbose=False),
        LABELS["sgd"]: train_sgd(X, Y, lr=0.01, epochs=3, verbose=False),
    }


@pytest.fixture
def paths(runs):
    return {label: history.path for label, history in runs.items()}


def labels(axes):
    return [line.get_label() for line in axes.get_lines()]


def mse(X, Y, w, b):
    """The reference: the mean squared error in float64 NumPy."""
    x, y = X.reshape(-1).double().numpy(), Y.reshape(-1).double().numpy()
    return np.mean((w * x + b - y) ** 2)


def test_loss_surface_draws_every_path_on_both_panels(data, paths):
    X, Y = data
    figure = surface.plot_loss_surface(X, Y, paths, {LABELS["batch"]: {"color": "tab:blue"}})
    ls_w, ls_b, _ = least_squares(X, Y)
    assert len(figure.axes) == 2
    for axes in figure.axes:
        names = labels(axes)
        assert set(LABELS.values()) < set(names) and names.count("start") == 1
        assert f"least squares ({ls_w:.3f}, {ls_b:.3f})" in names
        assert axes.collections, "the loss contours"
        assert axes.get_aspect() == 1.0, "equal scales on w and b"
        sgd = axes.get_lines()[names.index(LABELS["sgd"])]
        assert len(sgd.get_xdata()) == len(paths[LABELS["sgd"]]) == 301
        assert axes.get_lines()[names.index(LABELS["batch"])].get_color() == "tab:blue"
    whole, zoom = figure.axes
    # The zoom is a square around the least-squares point; the whole window holds the start.
    assert np.mean(zoom.get_xlim()) == pytest.approx(ls_w)
    assert np.mean(zoom.get_ylim()) == pytest.approx(ls_b)
    assert np.ptp(zoom.get_xlim()) == pytest.approx(np.ptp(zoom.get_ylim()))
    assert whole.get_xlim()[0] < -10 and whole.get_ylim()[0] < -20
    plt.close(figure)


def test_surface_helpers_frame_the_paths_and_contour_the_loss(data, paths):
    X, Y = data
    (w_low, w_high), (b_low, b_high) = surface.path_window(paths)
    every_point = np.concatenate([np.array(path) for path in paths.values()])
    assert w_low < every_point[:, 0].min() and every_point[:, 0].max() < w_high
    assert b_low < every_point[:, 1].min() and every_point[:, 1].max() < b_high

    centre = np.array(least_squares(X, Y)[:2])
    (w_low, w_high), (b_low, b_high) = surface.zoom_window(paths, centre, tail=0.1)
    for path in paths.values():
        last_tenth = np.array(path[-math.ceil(0.1 * (len(path) - 1)):])
        assert (w_low < last_tenth[:, 0]).all() and (last_tenth[:, 0] < w_high).all()
        assert (b_low < last_tenth[:, 1]).all() and (last_tenth[:, 1] < b_high).all()
    # Three epochs of SGD end near the minimum, far inside the window of the paths.
    (b_low, b_high) = surface.zoom_window({LABELS["sgd"]: paths[LABELS["sgd"]]}, centre)[1]
    assert b_high - b_low < np.ptp(every_point[:, 1]) / 5

    figure, axes = plt.subplots()
    contours = surface.loss_contours(axes, X, Y, (-8.0, -2.0), (-3.0, 3.0))
    levels = np.asarray(contours.levels)
    # Evenly spaced in log(loss - least squares), up to the highest excess in the window.
    assert np.allclose(np.diff(np.log(levels)), np.log(levels[1] / levels[0]))
    ls_loss = least_squares(X, Y)[2]
    highest = max(mse(X, Y, w, b) for w in (-8.0, -2.0) for b in (-3.0, 3.0)) - ls_loss
    assert levels[-1] == pytest.approx(highest, rel=1e-6)
    plt.close(figure)


def test_loss_against_work_puts_each_run_on_samples_processed(data, paths):
    X, Y = data
    sizes = {LABELS["batch"]: 100, LABELS["minibatch"]: 10, LABELS["sgd"]: 1}
    figure = surface.plot_loss_vs_work(X, Y, paths, sizes)
    axes = figure.axes[0]
    names = labels(axes)
    assert names[:3] == list(LABELS.values()) and names[3].startswith("least-squares loss")
    lines = dict(zip(names, axes.get_lines(), strict=True))
    # Batch descent processes all 100 samples a step, mini-batches 10, SGD 1.
    assert list(lines[LABELS["batch"]].get_xdata()) == [100, 200, 300]
    assert list(lines[LABELS["minibatch"]].get_xdata()) == list(range(10, 301, 10))
    assert list(lines[LABELS["sgd"]].get_xdata()) == list(range(1, 301))
    # Each point is the full-data loss after that update.
    w, b = paths[LABELS["batch"]][2]
    assert lines[LABELS["batch"]].get_ydata()[1] == pytest.approx(mse(X, Y, w, b), rel=1e-9)
    assert axes.get_xscale() == "log" and axes.get_yscale() == "log"
    assert "log scale" in axes.get_ylabel()
    plt.close(figure)


def test_sweep_marks_divergent_step_sizes(data):
    X, Y = data
    sweep = visualize.sweep_step_sizes(X, Y, [0.01, 0.1, 0.2], epochs=5,
                                       batch_sizes={"batch GD": 100, "SGD": 1})
    assert [diverged for _, _, diverged in sweep["batch GD"]] == [False, False, True]
    assert [diverged for _, _, diverged in sweep["SGD"]] == [False, True, True]
    for _, loss, diverged in sweep["batch GD"] + sweep["SGD"]:
        assert diverged or math.isfinite(loss)
    # A finished run's loss is the one the tutorial's own loops reach, each step size alone
    # (SGD's samples in the same orders).
    for label, taught in [("batch GD", train_batch(X, Y, lr=0.01, epochs=5, verbose=False)),
                          ("SGD", train_sgd(X, Y, lr=0.01, epochs=5, verbose=False))]:
        assert sweep[label][0][1] == pytest.approx(final_loss(X, Y, taught), rel=1e-6)


def test_sweep_step_sizes_are_log_spaced_and_include_the_tutorials():
    lrs = visualize.sweep_lrs(7)
    assert lrs[0] == pytest.approx(1e-3) and lrs[-1] == pytest.approx(1.0) and 0.1 in lrs
    assert np.allclose(np.diff(np.log(visualize.sweep_lrs(4))), np.log(10))
    assert np.allclose(np.diff(np.log(visualize.sweep_lrs(3, 0.05, 0.2))), np.log(2))
    assert 0.1 in visualize.sweep_lrs(4, 0.05, 0.2)
    assert 0.1 not in visualize.sweep_lrs(4, 0.001, 0.01)


def test_step_size_figure_shows_bounds_and_divergence(data):
    X, Y = data
    sweep = {"batch GD": [(0.01, 5.0, False), (0.1, 0.2, False), (0.5, math.nan, True)],
             "SGD": [(0.01, 0.2, False), (0.1, math.nan, True), (0.5, math.nan, True)]}
    bounds = {"batch GD": stability_bound(X), "SGD": stability_bound(X, 1)}
    figure = step_size.plot_step_size_sweep(sweep, bounds, 599.0, 0.154, epochs=5,
                                            styles={"SGD": {"color": "tab:orange"}})
    crashed, axes = figure.axes
    # Diverged runs get a row each in the top panel, at their step sizes.
    marks = dict(zip(labels(crashed), crashed.get_lines(), strict=False))
    assert list(marks["SGD: diverged"].get_xdata()) == [0.1, 0.5]
    assert list(marks["SGD: diverged"].get_ydata()) == [1, 1]
    assert marks["SGD: diverged"].get_color() == "tab:orange"
    assert [tick.get_text() for tick in crashed.get_yticklabels()] == ["batch GD", "SGD"]
    # Finished runs are points on the loss axis; nothing diverged is drawn there.
    lines = dict(zip(labels(axes), axes.get_lines(), strict=False))
    assert list(lines["SGD"].get_xdata()) == [0.01]
    assert list(lines["batch GD"].get_ydata()) == [5.0, 0.2]
    assert f"SGD: stability bound {bounds['SGD']:.4f}" in lines
    assert f"batch GD: stability bound {bounds['batch GD']:.4f}" in lines
    assert "the tutorial's lr = 0.1" in lines and "starting loss 599" in lines
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert "SGD: diverged" in legend and "least-squares loss 0.1540" in legend
    plt.close(figure)


def test_animation_frames_follow_the_runs(data, runs):
    X, Y = data
    frames = surface.fit_frames(3, [1, 100])
    assert len(frames) == len(surface.animation_times(3, 100))
    # 20 frames an epoch while SGD moves fast, then one every half epoch, to the last update.
    assert frames[0] == (0.0, [0, 0]) and frames[1] == (pytest.approx(0.05), [0, 5])
    assert frames[3] == (pytest.approx(0.15), [0, 15])
    assert frames[-1] == (3.0, [3, 300])
    for epoch, (batch_updates, sgd_updates) in frames:
        assert batch_updates == int(epoch + 1e-9) and sgd_updates == round(epoch * 100)

    animated = {LABELS["batch"]: runs[LABELS["batch"]].path,
                LABELS["sgd"]: runs[LABELS["sgd"]].path}
    figure, draw, drawn_frames = surface.animate_fit(
        X, Y, animated, {LABELS["batch"]: 1, LABELS["sgd"]: 100})
    assert drawn_frames == frames
    draw(30)  # epoch 1.5: one batch step, 150 SGD steps
    for axes, (label, updates) in zip(figure.axes, [(LABELS["batch"], 1), (LABELS["sgd"], 150)],
                                      strict=True):
        w, b = animated[label][updates]
        line = axes.get_lines()[-1]
        assert np.allclose(line.get_ydata(), w * line.get_xdata() + b)
        assert axes.get_title().startswith(f"{label}\n{updates} update")
    assert figure._suptitle.get_text().endswith("epoch 1.50")
    plt.close(figure)


def test_visualize_uses_the_loaded_data(tmp_path, capsys):
    x = np.linspace(-2.0, 2.0, 40)
    y = 3.0 * x + 1.0 + 0.1 * np.sin(7 * x)
    (tmp_path / "line.csv").write_text("note,x,y\n" + "".join(
        f"p{i},{a:.17g},{b:.17g}\n" for i, (a, b) in enumerate(zip(x, y, strict=True))))
    visualize.main(["--data", str(tmp_path / "line.csv"), "--only", "surface",
                    "--epochs", "2", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    (w, b), *_ = np.linalg.lstsq(np.column_stack([x, np.ones_like(x)]), y, rcond=None)
    assert f"least squares: w={w:+.6f} b={b:+.6f}" in out
    # The per-sample bound comes from this file's largest x^2, 4.
    assert "stability bound of SGD: 0.2000 = 1 / (1 + 4)" in out
    assert "trained mini-batch 10, lr=0.04: w=" in out and "(8 updates)" in out
    assert (tmp_path / "out" / "loss_surface.png").exists()


@pytest.mark.parametrize("args", [
    ["--only", "nothing"], ["--minibatch-size", "100"], ["--minibatch-size", "0"],
    ["--sweep-range", "0.5", "0.1"], ["--sweep-range", "0", "1"],
    ["--data", "line.csv", "--n", "50"],
])
def test_visualize_refuses_bad_input_in_one_line(tmp_path, capsys, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "line.csv").write_text("x,y\n0,1\n1,3\n2,5\n")
    with pytest.raises(SystemExit) as stopped:
        visualize.main([*args, "--out", str(tmp_path / "out")])
    assert stopped.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and "error:" in captured.err
    assert not list(tmp_path.glob("out/*")), "no figure written"


@pytest.mark.parametrize("args, name, bound, rule", [
    (["--sgd-lr", "0.1"], "SGD", "0.0385", "plain descent on single samples"),
    (["--minibatch-lr", "0.5"], "mini-batch 10", "0.0442",
     "plain descent on the worst batch of 10 samples"),
])
def test_a_diverging_run_ends_in_one_line_naming_its_own_bound(tmp_path, capsys, args, name,
                                                                bound, rule):
    with pytest.raises(SystemExit) as stopped:
        visualize.main([*args, "--epochs", "1", "--only", "surface",
                        "--out", str(tmp_path / "out")])
    assert stopped.value.code == 1
    captured = capsys.readouterr()
    assert f"warning: {name} lr={args[1]} is at or above the stability bound {bound} of " \
        f"{rule}; the loss may blow up" in captured.out
    [error] = captured.err.strip().splitlines()
    assert "diverged at epoch 1" in error and f"stability bound {bound} of {rule}" in error
    # Its picture is drawn first: the climb is the lesson.
    assert [p.name for p in tmp_path.glob("out/*")] == ["loss_surface.png"]


def test_a_long_runs_animation_keeps_to_the_frame_limit_and_still_reaches_its_end():
    times = surface.animation_times(100_000, 100)
    assert len(times) == surface.MAX_FRAMES and times[0] == 0 and times[-1] == 100_000
    assert (np.diff(times) > 0).all()


def test_a_diverged_run_is_drawn_in_every_picture_then_ends_the_run(tmp_path, capsys,
                                                                     monkeypatch):
    # Run from a folder of its own: every stage runs and draws, the figures go in place
    # together at the end, each named by its absolute path, then the run ends in one line.
    # (tests/test_scripts.py leaves visualize.py to this; the pages run each stage.)
    from conftest import run_main, wrote_exactly

    monkeypatch.chdir(tmp_path)
    status, out, err = run_main(visualize, capsys, *visualize.TEST_ARGS, "--batch-lr", "1000",
                                "--epochs", "2", "--out", "out")
    assert status == 1
    assert [line[:5] for line in out.splitlines() if line.startswith("[")] == [
        "[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    folder = tmp_path / "out"
    assert wrote_exactly(out, folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(visualize.STAGES.values())
    for name in ("loss_surface.png", "loss_vs_work.png", "step_sizes.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(folder / "fit.gif") as gif:
        assert gif.n_frames == len(surface.animation_times(2, 100))
    assert shows_line("...batch GD: diverged at epoch 2: loss 5.63e+10; step size 1000 is at "
                      "or above the stability bound 0.1200 of batch descent; try a step size "
                      "below 0.1200", err) and err.count("\n") == 1
    assert "trained batch GD" not in out and "trained SGD" in out
    # The surface is framed by the box a stable step stays in, not by the diverged path.
    X, Y = make_data()
    climbing = train_batch(X, Y, 0.2, 12, verbose=False).path
    figure = surface.plot_loss_surface(X, Y, {"climbing": climbing}, diverged={"climbing"})
    whole = figure.axes[0]
    box = surface.overshoot_box(climbing[0], least_squares(X, Y)[:2])
    assert box[0][0] - 1 < whole.get_xlim()[0] and whole.get_xlim()[1] < box[1][0] + 1
    assert max(abs(w) for w, _ in climbing) > 1000  # far outside: drawn until it leaves
    plt.close(figure)
