"""The five rungs take one path: every rung equals the tutorial's (rung 2) update for
update, for full batches, in-order single samples and shuffled mini-batches."""

import pytest
import torch
from conftest import run_main
from printed import shows_line

import everyday_pytorch as ladder
from train_batch import train_batch
from train_sgd import train_sgd

SETTINGS = {  # (batch size, shuffled, lr, epochs)
    "full-batch": (100, False, 0.1, 20),
    "single-samples-in-order": (1, False, 0.01, 2),
    "shuffled-mini-batches": (10, True, 0.02, 4),
}


@pytest.mark.parametrize("setting", sorted(SETTINGS))
@pytest.mark.parametrize("rung", sorted(ladder.RUNGS))
def test_every_rung_takes_the_tutorials_path(data, rung, setting):
    X, Y = data
    batch_size, shuffled, lr, epochs = SETTINGS[setting]
    # The order rung 5's DataLoader visits, worked out by hand, for every rung.
    orders = ladder.loader_orders(len(X), epochs, shuffled, seed=5)
    reference = ladder.rung2_tutorial(X, Y, lr, orders, batch_size, -10.0, -20.0)
    path = ladder.run_rung(ladder.RUNGS[rung], X, Y, lr, orders, batch_size, shuffled, seed=5)
    assert len(path) == len(reference) == epochs * -(-len(X) // batch_size) + 1
    torch.testing.assert_close(torch.tensor(path), torch.tensor(reference), rtol=1e-5,
                               atol=1e-5)


def test_rung_2_is_the_tutorials_own_scripts(data):
    X, Y = data
    orders = ladder.epoch_orders(len(X), 3, True, seed=42)
    path = ladder.rung2_tutorial(X, Y, 0.01, orders, 1, -10.0, -20.0)
    assert path == train_sgd(X, Y, 0.01, 3, verbose=False).path
    orders = ladder.epoch_orders(len(X), 20, False)
    path = ladder.rung2_tutorial(X, Y, 0.1, orders, len(X), -10.0, -20.0)
    assert path == train_batch(X, Y, 0.1, 20, verbose=False).path


def test_the_dataloaders_order_is_worked_out_and_is_not_ours():
    visited = ladder.dataloader_orders(100, 3, seed=42)
    by_hand = ladder.loader_orders(100, 3, seed=42)
    ours = ladder.epoch_orders(100, 3, True, seed=42)
    for epoch in range(3):
        assert torch.equal(visited[epoch], by_hand[epoch])
        assert not torch.equal(visited[epoch], ours[epoch])
        assert sorted(visited[epoch].tolist()) == list(range(100))


def test_batch_descent_through_the_script_and_the_cost_table(tmp_path, capsys):
    status, out, err = run_main(ladder, capsys, "--batch-size", 100, "--no-shuffle",
                                "--lr", 0.1, "--cost-updates", 3, "--cost-repeats", 1,
                                "--out", tmp_path)
    assert status == 0, err
    finals = [line for line in out.splitlines() if line.startswith("rung ")]
    assert len(finals) == 5
    assert all(shows_line("rung ... final w=-5.005440 b=-0.207838; ...", line) for line in finals)
    table = out.split("cost per update", 1)[1].splitlines()[2:7]
    assert [row.split()[0] for row in table] == ["1", "2", "3", "4", "5"]
    assert all(float(value) > 0 for row in table for value in row.split()[-4::2])
    assert [path.name for path in tmp_path.iterdir()] == ["everyday_pytorch.png"]


def test_a_cost_run_of_no_updates_is_refused_in_one_line(tmp_path, capsys):
    # The options it shares with the other scripts: tests/test_scripts.py.
    status, out, err = run_main(ladder, capsys, "--cost-updates", "0", "--out", tmp_path / "out")
    assert status == 2 and out == ""
    assert "--cost-updates: '0' must be a whole number from 1" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_the_dataloader_made_once_takes_the_order_worked_out_by_hand_and_not_ours(data):
    X, Y = data
    loader_path = ladder.rung5_everyday(X, Y, 0.01, 2, 1, -10.0, -20.0, seed=42)
    by_hand = ladder.rung2_tutorial(X, Y, 0.01, ladder.loader_orders(len(X), 2, seed=42), 1,
                                    -10.0, -20.0)
    torch.testing.assert_close(torch.tensor(loader_path), torch.tensor(by_hand), rtol=1e-5,
                               atol=1e-5)
    ours = ladder.rung2_tutorial(X, Y, 0.01, ladder.epoch_orders(len(X), 2), 1, -10.0, -20.0)
    assert ladder.largest_distance(loader_path, ours) > 1


def test_the_randperm_order_parts_the_rungs_from_the_dataloader(tmp_path, capsys):
    status, out, err = run_main(ladder, capsys, "--randperm-order", "--epochs", 2,
                                "--cost-updates", 2, "--cost-repeats", 1, "--out", tmp_path)
    assert status == 0, err
    distances = {line.split()[1]: float(line.rsplit(" ", 1)[1]) for line in out.splitlines()
                 if line.startswith("rung ")}
    assert distances["5"] > 1 and all(distances[rung] < 1e-5 for rung in "1234")
    assert [path.name for path in tmp_path.iterdir()] == ["everyday_pytorch_randperm_order.png"]


def test_the_randperm_order_with_rungs_in_order_is_refused(tmp_path, capsys):
    status, out, err = run_main(ladder, capsys, "--randperm-order", "--no-shuffle",
                                "--out", tmp_path / "out")
    assert status == 2 and "--randperm-order and --no-shuffle" in err and out == ""


def test_a_step_size_that_diverges_is_drawn_then_ends_the_run_in_one_line(tmp_path, capsys):
    status, out, err = run_main(ladder, capsys, "--lr", "0.1", "--out", tmp_path)
    assert status == 1 and "warning: lr=0.1 is at or above the stability bound" in out
    assert shows_line("...: error: diverged at epoch 1, step 79: loss 8.2e+08; step size 0.1 "
                      "is at or above the stability bound 0.0385 of plain descent on single "
                      "samples; try a step size below 0.0385", err) and err.count("\n") == 1
    assert "cost per update" not in out and "final w=" not in out  # no table, no timing
    assert (tmp_path / "everyday_pytorch.png").read_bytes().startswith(b"\x89PNG")
