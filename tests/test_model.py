import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from descent import has_diverged
from model import History, criterion, forward, least_squares, stability_bound


def test_criterion_is_torch_mse(data):
    X, Y = data
    y_pred = forward(X, torch.tensor(-3.0), torch.tensor(1.5))
    torch.testing.assert_close(criterion(y_pred, Y), F.mse_loss(y_pred, Y), rtol=0, atol=0)


def test_autograd_gradient_equals_the_hand_derived_one(data):
    X, Y = data
    w = torch.tensor(-10.0, requires_grad=True)
    b = torch.tensor(-20.0, requires_grad=True)
    criterion(forward(X, w, b), Y).backward()
    # dL/dw = 2 mean((w x + b - y) x), dL/db = 2 mean(w x + b - y), computed in float64.
    x, y = X.double().numpy().ravel(), Y.double().numpy().ravel()
    residual = -10.0 * x - 20.0 - y
    assert w.grad.item() == pytest.approx(2 * np.mean(residual * x), rel=1e-5)
    assert b.grad.item() == pytest.approx(2 * np.mean(residual), rel=1e-5)


def test_least_squares_equals_numpy(data):
    X, Y = data
    design = np.column_stack([X.double().numpy().ravel(), np.ones(len(X))])
    (w_np, b_np), *_ = np.linalg.lstsq(design, Y.double().numpy().ravel(), rcond=None)
    w, b, loss = least_squares(X, Y)
    assert w == pytest.approx(w_np, abs=1e-10) and b == pytest.approx(b_np, abs=1e-10)
    assert loss == pytest.approx(np.mean((design @ [w_np, b_np] - Y.double().numpy().ravel()) ** 2))
    assert loss == pytest.approx(F.mse_loss(w * X + b, Y).item(), rel=1e-5)


def numpy_bound(x):
    """2 / largest eigenvalue of the MSE Hessian of the samples x, with NumPy."""
    hessian = 2 * np.array([[np.mean(x * x), np.mean(x)], [np.mean(x), 1.0]])
    return 2 / np.linalg.eigvalsh(hessian).max()


def test_batch_and_per_sample_bounds_are_numpys_and_the_readme_numbers(data):
    X, _ = data
    x = X.double().numpy().ravel()
    assert stability_bound(X) == pytest.approx(numpy_bound(x), rel=1e-12)
    assert stability_bound(X, batch_size=len(x)) == pytest.approx(numpy_bound(x), rel=1e-12)
    # The README's numbers: 1 / (1 + 25) on single samples (the largest x^2 is 25), and
    # about 0.12 on the full batch.
    assert stability_bound(X, batch_size=1) == pytest.approx(1 / (1 + 25.0), rel=1e-12)
    assert stability_bound(X) == pytest.approx(0.12, abs=5e-3)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5, 8])
def test_mini_batch_bound_is_the_worst_batch_found_by_brute_force(batch_size):
    X = torch.tensor([-3.0, -1.2, -0.5, 0.1, 0.4, 1.7, 2.2, 2.5]).reshape(-1, 1)
    x = X.double().numpy().ravel()
    worst = min(numpy_bound(x[list(batch)])
                for batch in itertools.combinations(range(len(x)), batch_size))
    assert stability_bound(X, batch_size) == pytest.approx(worst, rel=1e-12)


def test_has_diverged():
    assert has_diverged(float("nan"), 1.0) and has_diverged(float("inf"), 1.0)
    assert has_diverged(2e7, 10.0)
    assert not has_diverged(5e6, 10.0)


def test_record_reads_its_last_point():
    record = History(epoch_losses=[2.0], step_losses=[2.0], path=[(0.0, 0.0), (1.5, -2.5)])
    assert (record.w, record.b, record.updates) == (1.5, -2.5, 1)


def test_hessian_eigenvalues_equal_numpys_of_the_hand_written_hessian(data):
    from model import hessian_eigenvalues

    X, _ = data
    x = X.reshape(-1).double().numpy()
    by_hand = 2 * np.array([[np.mean(x * x), np.mean(x)], [np.mean(x), 1.0]])
    expected = sorted(np.linalg.eigvalsh(by_hand), reverse=True)
    assert hessian_eigenvalues(X) == pytest.approx(expected, rel=1e-12)


def test_least_squares_holds_at_any_scale_of_x():
    # x from 1e-20 to 1e-18 on the line y = 1e20 x - 1: lstsq's rank cut-off answered w = 0.
    k = torch.arange(1, 101, dtype=torch.float32)
    w, b, loss = least_squares(k * 1e-20, k - 1)
    assert w == pytest.approx(1e20, rel=1e-6) and b == pytest.approx(-1, abs=1e-4)
    assert loss < 1e-8
