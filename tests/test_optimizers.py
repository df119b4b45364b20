"""Every hand-written update equals torch.optim's along the whole path: full batches,
in-order single samples and in-order mini-batches, and random settings by hypothesis."""

import pytest
import torch
import torch.nn.functional as F
from conftest import run_main
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import in_order, torch_optim_run

import optimizers
from data import make_data
from descent import train
from model import final_loss
from plumbing import options

# The reference: torch.optim on torch's own MSE. {method: (torch.optim class and its
# keyword arguments from the hyperparameters)}.
REFERENCES = {
    "gd": lambda h: (torch.optim.SGD, {"lr": h["lr"]}),
    "momentum": lambda h: (torch.optim.SGD, {"lr": h["lr"], "momentum": h["momentum"]}),
    "nesterov": lambda h: (torch.optim.SGD, {"lr": h["lr"], "momentum": h["momentum"],
                                             "nesterov": True}),
    "adagrad": lambda h: (torch.optim.Adagrad, {"lr": h["lr"]}),
    "rmsprop": lambda h: (torch.optim.RMSprop, {"lr": h["lr"], "alpha": h.get("alpha", 0.99),
                                                "momentum": h.get("momentum", 0.0)}),
    "adam": lambda h: (torch.optim.Adam, {"lr": h["lr"], "betas": h.get("betas", (0.9, 0.999))}),
    "adamw": lambda h: (torch.optim.AdamW, {"lr": h["lr"], "betas": h.get("betas", (0.9, 0.999)),
                                            "weight_decay": h.get("weight_decay", 1e-2)}),
}
SETTINGS = {
    "gd": {"lr": 0.05},
    "momentum": {"lr": 0.02, "momentum": 0.8},
    "nesterov": {"lr": 0.02, "momentum": 0.8},
    "adagrad": {"lr": 2.0},
    "rmsprop": {"lr": 0.05, "alpha": 0.99, "momentum": 0.3},
    "adam": {"lr": 0.5, "betas": (0.9, 0.999)},
    "adamw": {"lr": 0.5, "betas": (0.9, 0.999), "weight_decay": 0.1},
}


def optim_path(X, Y, method, hyperparams, epochs, batch_size):
    """torch.optim's path over the samples in their stored order, batch after batch."""
    optimizer, options = REFERENCES[method](hyperparams)
    return torch_optim_run(X, Y, in_order(len(X), epochs), batch_size, optimizer,
                           **options).path


@pytest.mark.parametrize("batch_size, epochs", [(100, 60), (1, 2), (7, 4)],
                         ids=["full-batch", "single-samples", "batches-of-7"])
@pytest.mark.parametrize("method", sorted(SETTINGS))
def test_each_update_takes_torch_optims_path(data, method, batch_size, epochs):
    X, Y = data
    hyperparams = SETTINGS[method]
    if batch_size == 1 and method in ("gd", "momentum", "nesterov"):
        hyperparams = {**hyperparams, "lr": 0.005}  # inside the per-sample bound
    history = train(X, Y, optimizers.UPDATES[method], hyperparams, epochs, batch_size,
                    shuffle=False)
    assert history.updates == epochs * -(-len(X) // batch_size), "it did not diverge"
    torch.testing.assert_close(torch.tensor(history.path),
                               optim_path(X, Y, method, hyperparams, epochs, batch_size))


# derandomize: the same examples on every run, so CI cannot go red by the luck of the draw.
@pytest.mark.parametrize("method", sorted(SETTINGS))
@settings(max_examples=6, deadline=None, derandomize=True)
@given(lr=st.floats(1e-3, 0.02), beta=st.floats(0.01, 0.95),  # torch's Nesterov needs beta > 0
       beta1=st.floats(0.0, 0.99), beta2=st.floats(0.5, 0.9999), alpha=st.floats(0.5, 0.999),
       batch_size=st.sampled_from([1, 5, 100]))
def test_random_settings_take_torch_optims_path(method, lr, beta, beta1, beta2, alpha,
                                                batch_size):
    X, Y = make_data()
    drawn = {"lr": lr, "momentum": beta, "alpha": alpha, "betas": (beta1, beta2)}
    # Each method's own settings, drawn; any other keeps its default on both sides.
    hyperparams = {name: drawn[name] for name in optimizers.DEFAULTS[method] if name in drawn}
    history = train(X, Y, optimizers.UPDATES[method], hyperparams, 2, batch_size,
                    shuffle=False)
    expected = optim_path(X, Y, method, hyperparams, 2, batch_size)
    torch.testing.assert_close(torch.tensor(history.path), expected[:len(history.path)])


def test_the_best_settings_are_the_formulas_on_numpys_eigenvalues(data):
    import numpy as np

    from model import hessian_eigenvalues

    X, _ = data
    x = X.reshape(-1).double().numpy()
    lam_min, lam_max = np.linalg.eigvalsh(2 * np.array([[np.mean(x * x), np.mean(x)],
                                                        [np.mean(x), 1.0]]))
    kappa = lam_max / lam_min
    best = optimizers.best_settings(hessian_eigenvalues(X))
    expected = {"condition number": kappa, "gd lr": 2 / (lam_min + lam_max),
                "gd rate": (kappa - 1) / (kappa + 1),
                "momentum lr": (2 / (np.sqrt(lam_min) + np.sqrt(lam_max))) ** 2,
                "momentum beta": ((np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)) ** 2,
                "momentum rate": (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)}
    assert best == pytest.approx(expected, rel=1e-12)
    # On the tutorial's data: curvatures about 2.0 and 16.7, a condition number near 8.3.
    assert best["condition number"] == pytest.approx(8.34, abs=0.01)


@pytest.mark.parametrize("method, hyperparams", [
    ("gd", {"lr": 0.1}), ("gd", {"lr": 0.05}), ("gd", "best"),
    ("momentum", {"lr": 0.05, "momentum": 0.5}), ("momentum", {"lr": 0.02, "momentum": 0.8}),
    ("nesterov", {"lr": 0.05, "momentum": 0.5}), ("nesterov", {"lr": 0.02, "momentum": 0.8}),
])
def test_measured_full_batch_rates_match_the_predicted_within_five_percent(data, method,
                                                                           hyperparams):
    from model import hessian_eigenvalues, least_squares

    X, Y = data
    curvatures = hessian_eigenvalues(X)
    if hyperparams == "best":
        hyperparams = {"lr": optimizers.best_settings(curvatures)["gd lr"]}
    history = train(X, Y, optimizers.UPDATES[method], hyperparams, epochs=400)
    predicted = optimizers.predicted_rate(method, hyperparams["lr"], curvatures,
                                          hyperparams.get("momentum", 0.0))
    measured = optimizers.measured_rate(history.path, least_squares(X, Y)[:2])
    assert measured == pytest.approx(predicted, rel=0.05)


def test_a_step_past_the_edge_is_predicted_to_diverge_and_does(data):
    from model import hessian_eigenvalues

    X, Y = data
    curvatures = hessian_eigenvalues(X)
    # Heavy ball's edge: lr * lam_max < 2 + 2 * beta; at beta = 0.9 about 0.228 here.
    edge = (2 + 2 * 0.9) / max(curvatures)
    assert edge == pytest.approx(0.228, abs=0.001)
    assert optimizers.predicted_rate("momentum", 0.99 * edge, curvatures, 0.9) < 1
    assert optimizers.predicted_rate("momentum", 0.5, curvatures, 0.9) > 1
    history = train(X, Y, optimizers.momentum, {"lr": 0.5, "momentum": 0.9}, epochs=400)
    assert history.updates < 400, "stopped by the divergence check"


def test_rmsprop_left_running_leaves_least_squares_climbs_and_comes_back(data):
    # docs/optimizers.md, exercise 4. When it leaves depends on how the CPU rounds float32
    # (the page shows `...` there); that it leaves, climbs and comes back does not.
    from model import least_squares

    X, Y = data
    ls_loss = least_squares(X, Y)[2]
    losses = train(X, Y, optimizers.rmsprop, optimizers.DEFAULTS["rmsprop"], 1000).epoch_losses
    assert losses[99] == pytest.approx(ls_loss, rel=1e-5)  # epoch 100: on least squares
    peak = max(range(100, 1000), key=losses.__getitem__)
    assert losses[peak] > 100 * ls_loss
    assert min(losses[peak:]) == pytest.approx(ls_loss, rel=1e-5)


# The stability edges and the phase diagram's batched run.

@pytest.mark.parametrize("method, beta", [("gd", 0.0)] + [
    (method, beta) for method in ("momentum", "nesterov") for beta in (0.0, 0.3, 0.5, 0.9, 0.99)])
def test_the_stability_edge_is_where_the_iteration_starts_to_grow(data, method, beta):
    from model import hessian_eigenvalues, stability_bound

    X, _ = data
    curvatures = hessian_eigenvalues(X)
    edge = optimizers.stability_edge(method, stability_bound(X), beta)
    # The spectral radius of the iteration, computed numerically, crosses 1 at the edge.
    assert optimizers.predicted_rate(method, 0.999 * edge, curvatures, beta) < 1
    assert optimizers.predicted_rate(method, 1.001 * edge, curvatures, beta) > 1


def test_the_grid_run_gives_every_cell_torch_optims_result(data):
    X, Y = data
    lrs = torch.tensor([0.02, 0.1, 0.13, 0.3])
    betas = torch.tensor([0.9, 0.5, 0.24, 0.0])
    losses = optimizers.grid_losses(X, Y, optimizers.momentum,
                                    {"lr": lrs, "momentum": betas}, steps=15)
    for cell, (lr, beta) in enumerate(zip(lrs.tolist(), betas.tolist(), strict=True)):
        path = optim_path(X, Y, "momentum", {"lr": lr, "momentum": beta}, 15, len(X))
        expected = F.mse_loss(path[-1, 0] * X + path[-1, 1], Y)
        torch.testing.assert_close(losses[cell], expected.double(), rtol=1e-5, atol=1e-6)


# The command line.


def number_after(text, label):
    """The number printed after `label` (e.g. "lmax=" or "= ")."""
    import re

    return float(re.search(re.escape(label) + r"\s*([-+0-9.e]+)", text).group(1))


def test_the_printed_theory_is_the_formulas_on_numpys_eigenvalues(data, tmp_path, capsys):
    import numpy as np

    status, out, _ = run_main(optimizers, capsys, "--epochs", 20, "--phase-points", 3,
                              "--out", tmp_path)
    assert status == 0
    X, _ = data
    x = X.reshape(-1).double().numpy()
    lam_min, lam_max = np.linalg.eigvalsh(2 * np.array([[np.mean(x * x), np.mean(x)],
                                                        [np.mean(x), 1.0]]))
    kappa, root = lam_max / lam_min, np.sqrt(lam_max / lam_min)
    expected = {"lmax=": lam_max, "lmin=": lam_min, "lmax/lmin = ": kappa,
                "2/(lmin+lmax) = ": 2 / (lam_min + lam_max),
                "(k-1)/(k+1) = ": (kappa - 1) / (kappa + 1),
                "(2/(sqrt(lmin)+sqrt(lmax)))^2 = ": (2 / (np.sqrt(lam_min) + np.sqrt(lam_max)))**2,
                "((sqrt(k)-1)/(sqrt(k)+1))^2 = ": ((root - 1) / (root + 1)) ** 2,
                "rate (sqrt(k)-1)/(sqrt(k)+1) = ": (root - 1) / (root + 1)}
    for label, value in expected.items():
        assert number_after(out, label) == pytest.approx(value, abs=5e-5), label


def test_the_table_shows_each_runs_result_and_rates_that_match(data, tmp_path, capsys):
    from model import hessian_eigenvalues, least_squares

    X, Y = data
    status, out, _ = run_main(optimizers, capsys, "--out", tmp_path, "--phase-points", 3)
    assert status == 0
    rows = {line.split()[0]: line for line in out.splitlines()
            if line.split() and line.split()[0] in optimizers.UPDATES}
    assert list(rows) == list(optimizers.UPDATES)
    ls_w, ls_b, _ = least_squares(X, Y)
    for method, row in rows.items():
        hyperparams = optimizers.DEFAULTS[method]
        history = train(X, Y, optimizers.UPDATES[method], hyperparams, 100)
        # method, updates, w, b, loss, distance, predicted, measured, then the settings
        fields = row.split()
        assert row.split("  ")[-1] == optimizers.settings_text(hyperparams)
        w, b = float(fields[2]), float(fields[3])
        assert (w, b) == pytest.approx((history.w, history.b), abs=1e-6)
        assert float(fields[5]) == pytest.approx(((w - ls_w)**2 + (b - ls_b)**2)**0.5,
                                                 rel=0.01, abs=1e-6)
        if method in ("gd", "momentum", "nesterov"):
            predicted, measured = float(fields[6]), float(fields[7])
            assert predicted == pytest.approx(optimizers.predicted_rate(
                method, hyperparams["lr"], hessian_eigenvalues(X),
                hyperparams.get("momentum", 0.0)), abs=5e-5)
            assert measured == pytest.approx(predicted, rel=0.05)
        else:
            assert fields[6:8] == ["-", "-"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["momentum_phase.png",
                                                                "optimizers.png"]


def test_one_method_ends_with_the_final_line_and_writes_its_own_figure(data, tmp_path,
                                                                       capsys):
    X, Y = data
    status, out, _ = run_main(optimizers, capsys, "--method", "adam", "--lr", 0.3, "--beta1", 0.8,
                              "--epochs", 30, "--out", tmp_path)
    assert status == 0
    history = train(X, Y, optimizers.adam, {"lr": 0.3, "betas": (0.8, 0.999)}, 30)
    assert out.splitlines()[-2] == (f"final: w={history.w:+.6f} b={history.b:+.6f} "
                                    f"loss={final_loss(X, Y, history):.6f} (30 updates)")
    assert [path.name for path in tmp_path.iterdir()] == ["optimizer_adam.png"]


def outside(name, text):
    """The refusal of `text` for the setting `name`, from its declared interval."""
    kind, interval, _ = optimizers.SETTINGS[name]
    return f"{options.flag(name)}: '{text}' must be {options.limits(kind, interval)}"


def not_of(name, method):
    """The refusal of a setting given to a method that does not take it, from METHODS."""
    takers = [other for other, defaults in optimizers.DEFAULTS.items()
              if name in optimizers.own_settings(defaults)]
    return f"{options.flag(name)} is an option of --method {' or '.join(takers)}, not of {method}"


@pytest.mark.parametrize("args, complaint", [
    (["--method", "momentum", "--momentum", "1"], outside("momentum", "1")),
    (["--method", "rmsprop", "--alpha", "1.5"], outside("alpha", "1.5")),
    (["--method", "adam", "--beta1", "nan"], "--beta1: 'nan' is not a finite number"),
    (["--method", "adam", "--beta2", "1"], outside("beta2", "1")),
    (["--method", "adam", "--eps", "0"], outside("eps", "0")),
    (["--method", "adamw", "--weight-decay", "-1"], outside("weight_decay", "-1")),
    (["--method", "sgd"], "--method: invalid choice: 'sgd'"),
    (["--method", "adam", "--momentum", "0.5"], not_of("momentum", "adam")),
    (["--method", "gd", "--eps", "1e-8"], not_of("eps", "gd")),
    (["--lr", "0.1"], "--lr needs --method"),
    (["--method", "nesterov", "--momentum", "0"], "nesterov needs a momentum above 0"),
])
def test_bad_settings_are_refused_in_one_line_before_any_work(tmp_path, capsys, args,
                                                              complaint):
    status, out, err = run_main(optimizers, capsys, *args, "--out", tmp_path / "out")
    assert status == 2
    assert out == "" and len(err.strip().splitlines()) == 1 and complaint in err
    assert not (tmp_path / "out").exists()


def test_a_heavy_ball_past_its_edge_draws_its_climb_then_stops_naming_the_edge(tmp_path,
                                                                              capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "optimizer_momentum.png").write_text("an earlier figure")
    (tmp_path / "out" / "optimizers.png").write_text("another")
    status, out, err = run_main(optimizers, capsys, "--method", "momentum", "--lr", 0.5,
                                "--momentum", 0.9, "--out", tmp_path / "out")
    assert status == 1
    assert len(err.strip().splitlines()) == 1
    assert "stability bound 0.2279 of heavy ball with momentum 0.9 on all 100 samples" in err
    assert "final:" not in out and "rate per step" not in out
    # The climb is drawn (the figure is replaced by a PNG); nothing else is touched.
    assert (tmp_path / "out" / "optimizer_momentum.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "out" / "optimizers.png").read_text() == "another"


def test_every_method_runs_and_a_diverged_one_is_named_after_the_figure(tmp_path, capsys):
    # On single samples, gd's and momentum's default steps are past their bounds.
    status, out, err = run_main(optimizers, capsys, "--batch-size", "1", "--epochs", "5",
                                "--out", tmp_path)
    assert status == 1
    assert "error: gd: diverged at epoch 1, step 23: loss" in err
    assert len(err.strip().splitlines()) == 1
    assert "final:" not in out and "distance  predicted" not in out
    assert (tmp_path / "optimizers.png").read_bytes().startswith(b"\x89PNG")


def test_a_run_that_starts_on_least_squares_has_no_rate_to_measure(data, tmp_path, capsys):
    from model import least_squares

    ls_w, ls_b, _ = least_squares(*data)
    status, out, err = run_main(optimizers, capsys, "--method", "momentum", "--w0", ls_w,
                                "--b0", ls_b, "--out", tmp_path)
    assert status == 0, err
    assert "measured - (too few steps to measure)" in out
