import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from reference import in_order, torch_optim_run

from data import make_data
from descent import divergence_report
from model import criterion, final_loss, forward, least_squares, stability_bound
from train_batch import train_batch
from train_sgd import train_sgd


def test_batch_descent_reaches_least_squares(data):
    X, Y = data
    record = train_batch(X, Y, lr=0.1, epochs=150, verbose=False)
    ls_w, ls_b, ls_loss = least_squares(X, Y)
    assert record.w == pytest.approx(ls_w, abs=1e-3)
    assert record.b == pytest.approx(ls_b, abs=1e-3)
    assert final_loss(X, Y, record) == pytest.approx(ls_loss, rel=1e-4)


def test_batch_descent_equals_torch_optim_sgd_on_the_full_batch(data):
    X, Y = data
    record = train_batch(X, Y, lr=0.05, epochs=30)
    expected = torch_optim_run(X, Y, in_order(len(X), 30), batch_size=len(X), lr=0.05)
    torch.testing.assert_close(torch.tensor(record.path), expected.path)
    torch.testing.assert_close(torch.tensor(record.step_losses), expected.losses)


def test_in_order_sgd_equals_torch_optim_sgd_step_by_step(data):
    X, Y = data
    record = train_sgd(X, Y, lr=0.01, epochs=3, shuffle=False)
    expected = torch_optim_run(X, Y, in_order(len(X), 3), lr=0.01)
    assert len(record.path) == 301
    torch.testing.assert_close(torch.tensor(record.path), expected.path)
    torch.testing.assert_close(torch.tensor(record.step_losses), expected.losses)


def test_shuffled_sgd_equals_torch_optim_sgd_over_the_same_seeded_orders(data):
    X, Y = data
    record = train_sgd(X, Y, lr=0.02, epochs=3, shuffle=True, seed=5)
    generator = torch.Generator().manual_seed(5)
    orders = [torch.randperm(len(X), generator=generator) for _ in range(3)]
    torch.testing.assert_close(torch.tensor(record.path),
                               torch_optim_run(X, Y, orders, lr=0.02).path)


def test_shuffled_sgd_is_reproducible_and_depends_on_its_seed(data):
    X, Y = data
    first = train_sgd(X, Y, epochs=2, seed=3)
    again = train_sgd(X, Y, epochs=2, seed=3)
    other = train_sgd(X, Y, epochs=2, seed=4)
    assert first.path == again.path and first.step_losses == again.step_losses
    assert first.path != other.path


def visited_samples(X, Y, record):
    """Which sample each step used: the one whose loss at that step's start is the step loss."""
    visited = []
    for (w, b), step_loss in zip(record.path[:-1], record.step_losses, strict=True):
        losses = ((w * X + b - Y) ** 2).reshape(-1)
        gaps = (losses - step_loss).abs()
        index = int(gaps.argmin())
        assert gaps[index] <= 1e-5 * max(1.0, step_loss)
        visited.append(index)
    return visited


def test_shuffled_sgd_visits_every_sample_once_per_epoch():
    X, Y = make_data(n=40, seed=2)
    record = train_sgd(X, Y, lr=0.01, epochs=3, seed=9)
    visited = visited_samples(X, Y, record)
    epochs = [visited[k:k + 40] for k in range(0, 120, 40)]
    for order in epochs:
        assert sorted(order) == list(range(40))
    assert epochs[0] != epochs[1] != epochs[2], "each epoch draws a fresh order"
    assert epochs[0] != list(range(40))


def test_record_meaning_batch(data):
    X, Y = data
    record = train_batch(X, Y, lr=0.1, epochs=5, verbose=False)
    assert len(record.epoch_losses) == 5 and len(record.step_losses) == 5
    assert len(record.path) == 6 and record.path[0] == (-10.0, -20.0)
    for k, (w, b) in enumerate(record.path[:-1]):
        # The tutorial's list: the full-data loss where each epoch's step starts.
        loss = F.mse_loss(w * X + b, Y).item()
        assert record.epoch_losses[k] == pytest.approx(loss, rel=1e-5)
        assert record.step_losses[k] == pytest.approx(loss, rel=1e-5)
    w, b = record.path[-1]
    assert final_loss(X, Y, record) == pytest.approx(F.mse_loss(w * X + b, Y).item(), rel=1e-5)


def test_record_meaning_sgd(data):
    X, Y = data
    record = train_sgd(X, Y, lr=0.01, epochs=2, shuffle=False, verbose=False)
    assert len(record.epoch_losses) == 2 and len(record.step_losses) == 200
    assert len(record.path) == 201 and record.path[0] == (-10.0, -20.0)
    for epoch in range(2):
        w, b = record.path[100 * epoch]
        full = F.mse_loss(w * X + b, Y).item()
        assert record.epoch_losses[epoch] == pytest.approx(full, rel=1e-5)
    for k in (0, 57, 199):
        w, b = record.path[k]
        sample = k % 100
        own = criterion(forward(X[sample], torch.tensor(w), torch.tensor(b)), Y[sample]).item()
        assert record.step_losses[k] == pytest.approx(own, rel=1e-5)
    assert (record.w, record.b) == record.path[-1]


@pytest.mark.parametrize("lr", [0.01, 0.05, 0.1, 0.115])
def test_batch_loss_falls_every_epoch_inside_the_bound(data, lr):
    X, Y = data
    assert lr < stability_bound(X)
    losses = train_batch(X, Y, lr=lr, epochs=40, verbose=False).epoch_losses
    assert all(later < earlier for earlier, later in itertools.pairwise(losses))


def test_batch_divergence_is_reported_above_the_bound(data):
    X, Y = data
    bound = stability_bound(X)
    record = train_batch(X, Y, lr=1.2 * bound, epochs=200, verbose=False)
    message = divergence_report(record, 1, 1.2 * bound, bound, "batch descent")
    # The first epoch whose loss passed a million times the start is the one named.
    epoch = next(k for k, loss in enumerate(record.epoch_losses, 1)
                 if not math.isfinite(loss) or loss > 1e6 * record.epoch_losses[0])
    assert message.startswith(f"diverged at epoch {epoch}: loss "
                              f"{record.epoch_losses[epoch - 1]:.3g};")
    assert f"{bound:.4f} of batch descent" in message and f"step size {1.2 * bound:g}" in message


def test_a_run_inside_the_bound_is_not_reported(data):
    X, Y = data
    record = train_batch(X, Y, lr=0.11, epochs=50, verbose=False)
    assert divergence_report(record, 1, 0.11, stability_bound(X), "batch descent") is None


def test_sgd_divergence_names_the_step_that_tripped_it(data):
    X, Y = data
    record = train_sgd(X, Y, lr=0.1, epochs=1, shuffle=False, verbose=False)
    message = divergence_report(record, 100, 0.1, stability_bound(X, 1), "single samples")
    step = next(k for k, loss in enumerate(record.step_losses, 1)
                if loss > 1e6 * record.epoch_losses[0])
    assert message.startswith(f"diverged at epoch 1, step {step}: ")
    assert step < len(X), "it blows up within the first epoch"


def test_overflow_inside_the_bound_is_not_blamed_on_the_step_size(data):
    X, Y = data
    record = train_sgd(X, Y, lr=0.01, epochs=1, w0=1e30, verbose=False)
    message = divergence_report(record, 100, 0.01, stability_bound(X, 1), "single samples")
    assert "inside the stability bound" in message and "overflowed" in message
    assert "above" not in message


def test_default_sgd_is_stable_and_lands_near_least_squares(data):
    X, Y = data
    record = train_sgd(X, Y, verbose=False)
    ls_w, ls_b, ls_loss = least_squares(X, Y)
    assert math.hypot(record.w - ls_w, record.b - ls_b) < 0.2
    assert final_loss(X, Y, record) < 2 * ls_loss


def test_a_whole_in_order_epoch_at_the_tutorial_step_size_ends_past_1e12(data):
    """The README's claim, with the stopping check left out: the tutorial's loop, one epoch."""
    X, Y = data
    w = torch.tensor(-10.0, requires_grad=True)
    b = torch.tensor(-20.0, requires_grad=True)
    for i in range(len(X)):
        criterion(forward(X[i], w, b), Y[i]).backward()
        w.data = w.data - 0.1 * w.grad.data
        b.data = b.data - 0.1 * b.grad.data
        w.grad.data.zero_()
        b.grad.data.zero_()
    assert 1e12 < F.mse_loss(w.detach() * X + b.detach(), Y).item() < 1e14
