import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import in_order, torch_optim_run

import train_sgd as train_sgd_script
from data import make_data
from model import full_loss_along, samples_after, stability_bound
from train_batch import train_batch
from train_sgd import train_sgd


def test_batch_size_n_in_order_is_batch_descent_step_by_step(data):
    X, Y = data
    minibatch = train_sgd(X, Y, lr=0.1, epochs=15, shuffle=False, batch_size=len(X))
    batch = train_batch(X, Y, lr=0.1, epochs=15)
    torch.testing.assert_close(torch.tensor(minibatch.path), torch.tensor(batch.path))
    torch.testing.assert_close(torch.tensor(minibatch.step_losses),
                               torch.tensor(batch.step_losses))
    torch.testing.assert_close(torch.tensor(minibatch.epoch_losses),
                               torch.tensor(batch.epoch_losses))


def test_shuffled_mini_batches_equal_torch_optim_sgd_on_the_seeded_permutation(data):
    X, Y = data
    # Batches of 7: the last batch of each epoch holds the 2 samples left over.
    record = train_sgd(X, Y, lr=0.03, epochs=2, seed=11, batch_size=7)
    generator = torch.Generator().manual_seed(11)
    orders = [torch.randperm(len(X), generator=generator) for _ in range(2)]
    expected = torch_optim_run(X, Y, orders, batch_size=7, lr=0.03)
    assert record.updates == 2 * 15
    torch.testing.assert_close(torch.tensor(record.path), expected.path)
    torch.testing.assert_close(torch.tensor(record.step_losses), expected.losses)


def test_divergence_names_the_bound_of_the_batch_size(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        train_sgd_script.main(["--lr", "1", "--epochs", "5", "--batch-size", "10",
                               "--out", str(tmp_path)])
    assert stopped.value.code == 1
    X, _ = make_data()
    error = capsys.readouterr().err
    assert f"{stability_bound(X, 10):.4f} of plain descent on the worst batch of 10" in error
    # Its figure is drawn all the same: the climb is what the learner should see.
    assert [path.name for path in tmp_path.iterdir()] == ["minibatch10_loss.png"]


def test_warning_uses_the_mini_batch_bound(tmp_path, capsys):
    train_sgd_script.main(["--batch-size", "10", "--lr", "0.05", "--epochs", "1",
                           "--out", str(tmp_path)])
    out = capsys.readouterr().out
    X, _ = make_data()
    assert (f"stability bound {stability_bound(X, 10):.4f} of plain descent on the worst "
            "batch of 10") in out
    assert out.splitlines()[-2].startswith("final:") and "(10 updates)" in out


def test_samples_after_counts_a_smaller_last_batch():
    assert [samples_after(100, 30, k) for k in range(9)] == [
        0, 30, 60, 90, 100, 130, 160, 190, 200]


def test_full_loss_along_a_path_equals_torch_mse(data):
    X, Y = data
    path = [(-10.0, -20.0), (-5.0, 0.0), (3.5, -1.25)]
    expected = [F.mse_loss(w * X.double() + b, Y.double()).item() for w, b in path]
    assert full_loss_along(X, Y, path) == pytest.approx(expected, rel=1e-9)


# derandomize: the same examples on every run, so CI cannot go red by the luck of the draw.
@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    n=st.integers(2, 30),
    data_seed=st.integers(0, 2**31),
    w0=st.floats(-20, 20), b0=st.floats(-20, 20),
    lr_fraction=st.floats(0.05, 0.95),
    batch_fraction=st.floats(0, 1),
    scale=st.floats(0.2, 3.0),
)
def test_hand_update_matches_torch_optim_sgd_for_random_problems(
        n, data_seed, w0, b0, lr_fraction, batch_fraction, scale):
    generator = torch.Generator().manual_seed(data_seed)
    X = scale * (torch.rand(n, 1, generator=generator) * 10 - 5)
    Y = 3 * torch.randn(n, 1, generator=generator) - 2 * X
    batch_size = 1 + int(batch_fraction * (n - 1))
    lr = lr_fraction * stability_bound(X, batch_size)
    record = train_sgd(X, Y, lr=lr, epochs=2, w0=w0, b0=b0, shuffle=False,
                       batch_size=batch_size, verbose=False)
    expected = torch_optim_run(X, Y, in_order(n, 2), batch_size, w0=w0, b0=b0, lr=lr)
    torch.testing.assert_close(torch.tensor(record.path), expected.path)
    # A loss is a squared difference of nearly equal float32 numbers (prediction and target),
    # so a last-bit difference in (w, b) between the two updates shows up a few float32
    # epsilons larger in it: compare to 1e-5, not float32's default 1.3e-6.
    torch.testing.assert_close(torch.tensor(record.step_losses), expected.losses, rtol=1e-5,
                               atol=1e-5)
