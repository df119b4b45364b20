"""The batched runs behind noise_floor.py, the prediction it prints, and what the
measurement says about the two ways of drawing samples."""

import numpy as np
import pytest
import torch
from reference import torch_optim_run

import noise_floor
from descent import gd_update, train, train_cells
from model import averaged_point


@pytest.mark.parametrize("batch_size", [1, 7, 100])
def test_cells_in_order_take_trains_path(data, batch_size):
    X, Y = data
    lrs = torch.tensor([0.001, 0.01, 0.02])
    path = train_cells(X, Y, gd_update, {"lr": lrs}, 3, batch_size, sampling="in order")
    for cell, lr in enumerate(lrs.tolist()):
        history = train(X, Y, gd_update, {"lr": lr}, 3, batch_size, shuffle=False)
        np.testing.assert_allclose(path[:, cell], np.array(history.path), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sampling", ["reshuffle", "replacement"])
def test_each_cell_draws_its_own_order_from_the_seeded_generator(data, sampling):
    X, Y = data
    n, epochs = len(X), 2
    path = train_cells(X, Y, gd_update, {"lr": torch.tensor([0.01, 0.01])}, epochs, 5,
                       sampling, seed=9)
    generator = torch.Generator().manual_seed(9)
    draws = [torch.randint(n, (2, n), generator=generator) if sampling == "replacement"
             else torch.rand(2, n, generator=generator).argsort(dim=1) for _ in range(epochs)]
    for cell in range(2):
        expected = torch_optim_run(X, Y, [draw[cell] for draw in draws], batch_size=5, lr=0.01)
        np.testing.assert_allclose(path[:, cell], expected.path.numpy(), rtol=1e-5, atol=1e-5)
    assert not np.allclose(path[:, 0], path[:, 1]), "the two cells drew different orders"


def test_the_prediction_is_the_formula_on_numpys_least_squares(data):
    X, Y = data
    x, y = X.reshape(-1).double().numpy(), Y.reshape(-1).double().numpy()
    design = np.column_stack([x, np.ones_like(x)])
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    ls_loss = np.mean((design @ coef - y) ** 2)
    trace = 2 * (np.mean(x * x) + 1)
    assert noise_floor.predicted_floor(X, Y, 0.01, 5) == pytest.approx(
        0.01 * trace * ls_loss / (2 * 5), rel=1e-9)


@pytest.mark.parametrize("batch_size", [1, 5])
def test_the_with_replacement_floor_matches_the_prediction_at_small_steps(data, batch_size):
    X, Y = data
    lrs = [0.001, 0.002]
    every, at_ends = noise_floor.measured_floors(X, Y, lrs, batch_size, "replacement",
                                                 repeats=100, settle=1000, measure=1000)
    predicted = np.array([noise_floor.predicted_floor(X, Y, lr, batch_size) for lr in lrs])
    # docs/settling.md: within 15% at these steps, the spread of repeated measurements.
    np.testing.assert_allclose(every / predicted, 1, atol=0.15)
    np.testing.assert_allclose(at_ends / predicted, 1, atol=0.15)


def test_reshuffled_epochs_end_far_below_the_prediction_at_small_steps(data):
    X, Y = data
    lrs = [0.001, 0.002]
    _, at_ends = noise_floor.measured_floors(X, Y, lrs, 1, "reshuffle", repeats=50,
                                             settle=1000, measure=1000)
    predicted = np.array([noise_floor.predicted_floor(X, Y, lr, 1) for lr in lrs])
    assert (at_ends / predicted < 0.5).all()
    # It grows faster than the step: doubling lr more than doubles it.
    assert at_ends[1] / at_ends[0] > 3


def test_the_running_average_is_the_mean_of_the_points_so_far(data):
    X, Y = data
    from train_sgd import train_sgd

    history = train_sgd(X, Y, 0.01, 4, batch_size=10, verbose=False)
    running = noise_floor.running_average(history.path, 21)
    assert running[-1] == pytest.approx(averaged_point(history, 10, 3)[:2], rel=1e-12)
    assert running[4] == pytest.approx(np.mean(history.path[21:26], axis=0), rel=1e-12)


def test_a_step_past_the_single_sample_bound_is_refused_before_any_work(tmp_path, capsys):
    from conftest import run_main

    status, out, err = run_main(noise_floor, capsys, "--lr", 0.05, "--out", tmp_path / "o")
    assert status == 2 and out == ""
    assert "--lr 0.05 is at or above the stability bound 0.0385" in err
    assert not (tmp_path / "o").exists()
