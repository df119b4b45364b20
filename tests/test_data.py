import numpy as np
import torch

from data import make_data


def test_grid_shape_and_dtype():
    X, Y = make_data()
    assert X.shape == (100, 1) and Y.shape == (100, 1)
    assert X.dtype == torch.float32 and Y.dtype == torch.float32
    expected = np.round(np.arange(-50, 50) / 10, 1).astype(np.float32)
    np.testing.assert_array_equal(X.reshape(-1).numpy(), expected)
    assert X[0].item() == -5.0 and abs(X[-1].item() - 4.9) < 1e-6


def test_same_seed_same_data_other_seed_other_noise():
    X1, Y1 = make_data(seed=7)
    X2, Y2 = make_data(seed=7)
    _, Y3 = make_data(seed=8)
    assert torch.equal(X1, X2) and torch.equal(Y1, Y2)
    assert not torch.equal(Y1, Y3)


def test_global_random_state_untouched():
    before = torch.get_rng_state()
    make_data(seed=3)
    assert torch.equal(before, torch.get_rng_state())


def test_noise_has_the_requested_spread_around_the_line():
    X, Y = make_data(n=20_000, seed=1, slope=2.0, noise_std=0.4)
    residual = (Y - 2.0 * X).reshape(-1)
    assert abs(residual.mean().item()) < 0.02
    assert abs(residual.std().item() - 0.4) < 0.01
