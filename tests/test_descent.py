"""The update-rule seam: the general loop with the plain update is the taught loops, step
for step, and a new method is one update function."""

import pytest
import torch
from reference import in_order, torch_optim_run

from descent import gd_update, has_diverged, train
from train_batch import train_batch
from train_sgd import train_sgd


def same_run(general, taught):
    assert general.path == taught.path
    assert general.step_losses == taught.step_losses
    assert general.epoch_losses == taught.epoch_losses


def test_plain_update_through_the_seam_is_train_batch(data):
    X, Y = data
    same_run(train(X, Y, gd_update, {"lr": 0.1}, epochs=20),
             train_batch(X, Y, lr=0.1, epochs=20, verbose=False))


@pytest.mark.parametrize("batch_size, shuffle", [(1, False), (1, True), (10, True), (7, False)])
def test_plain_update_through_the_seam_is_train_sgd(data, batch_size, shuffle):
    X, Y = data
    same_run(train(X, Y, gd_update, {"lr": 0.01}, epochs=3, batch_size=batch_size,
                   shuffle=shuffle, seed=5, w0=2.0, b0=1.0),
             train_sgd(X, Y, lr=0.01, epochs=3, batch_size=batch_size, shuffle=shuffle,
                       seed=5, w0=2.0, b0=1.0, verbose=False))


def momentum_update(params, state, hyperparams):
    """PyTorch's heavy ball: buffer = momentum * buffer + grad (the gradient itself on the
    first step), then a step of lr along the buffer. Written as a teacher would add it."""
    if "velocity" not in state:
        state["velocity"] = [p.grad.detach().clone() for p in params]
    else:
        for velocity, p in zip(state["velocity"], params, strict=True):
            velocity.mul_(hyperparams["momentum"]).add_(p.grad)
    for velocity, p in zip(state["velocity"], params, strict=True):
        p.data = p.data - hyperparams["lr"] * velocity


def test_a_new_method_is_one_update_function(data):
    X, Y = data
    history = train(X, Y, momentum_update, {"lr": 0.02, "momentum": 0.8}, epochs=40)
    expected = torch_optim_run(X, Y, in_order(len(X), 40), len(X), lr=0.02, momentum=0.8)
    torch.testing.assert_close(torch.tensor(history.path), expected.path)


def test_the_general_loop_stops_once_the_loss_diverges(data):
    X, Y = data
    history = train(X, Y, gd_update, {"lr": 0.5}, epochs=1000)
    assert history.updates < 1000
    assert has_diverged(history.step_losses[-1], history.epoch_losses[0])
    assert not any(has_diverged(loss, history.epoch_losses[0])
                   for loss in history.step_losses[:-1])


def test_verbose_prints_the_taught_loops_epoch_lines(data, capsys):
    X, Y = data
    train(X, Y, gd_update, {"lr": 0.01}, epochs=3, batch_size=10, seed=4, verbose=True)
    general = capsys.readouterr().out
    train_sgd(X, Y, lr=0.01, epochs=3, batch_size=10, seed=4)
    assert general == capsys.readouterr().out and general.count("\n") == 3
