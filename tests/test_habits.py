"""The everyday habits (habits.py): the class takes the hand-written loop's path, the
validation loss is the MSE of the held-out samples, and a run resumed from its checkpoint
ends on the bits of the run that never stopped; bad checkpoints are refused in one line."""

import contextlib
import io

import pytest
import torch
import torch.nn.functional as F
from conftest import run_main

import habits
import optimizers
from descent import train as train_by_hand
from model import largest_distance
from train_batch import train_batch

SETTINGS = {"lr": 0.1, "momentum": 0.9, "w0": -10.0, "b0": -20.0, "data": "the tutorial's"}


def fresh(lr=0.1, momentum=0.0):
    model = habits.LinearRegression()
    return model, torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)


def test_the_class_model_is_an_nn_module_whose_parameters_are_w_and_b():
    model = habits.LinearRegression(3.0, 4.0)
    assert isinstance(model, torch.nn.Module)
    assert [name for name, _ in model.named_parameters()] == ["w", "b"]
    assert model(torch.tensor([[2.0]])).item() == 10.0


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_the_class_with_torch_optim_takes_the_hand_written_loops_path(data, momentum):
    path, losses, _ = habits.train(*fresh(0.1, momentum), *data, 30)
    if momentum == 0:
        reference = train_batch(*data, 0.1, 30, verbose=False)
    else:
        reference = train_by_hand(*data, optimizers.UPDATES["momentum"],
                                  {"lr": 0.1, "momentum": momentum}, 30)
    # torch.optim.SGD rounds w - lr * g in one fused operation: float32's last digit.
    assert largest_distance([(-10.0, -20.0), *path], reference.path) < 1e-5
    assert losses == pytest.approx(reference.epoch_losses, rel=1e-5)


def test_the_split_is_seeded_disjoint_and_whole():
    training, validation = habits.split(100, 0.2, 7)
    assert len(validation) == 20 and len(training) == 80
    assert sorted(torch.cat([training, validation]).tolist()) == list(range(100))
    again = habits.split(100, 0.2, 7)
    assert torch.equal(again[0], training) and torch.equal(again[1], validation)
    assert not torch.equal(habits.split(100, 0.2, 8)[1], validation)


def test_the_validation_loss_is_the_held_out_samples_mse_and_leaves_no_gradient(data):
    X, Y = data
    training, validation = habits.split(100, 0.3, 1)
    model, optimizer = fresh()
    path, losses, val_losses = habits.train(model, optimizer, X[training], Y[training], 5,
                                            X[validation], Y[validation])
    for (w, b), loss, val_loss in zip([(-10.0, -20.0), *path[:-1]], losses, val_losses,
                                      strict=True):
        assert val_loss == pytest.approx(
            F.mse_loss(w * X[validation] + b, Y[validation]).item(), rel=1e-5)
        assert loss == pytest.approx(F.mse_loss(w * X[training] + b, Y[training]).item(),
                                     rel=1e-5)
    # The validation samples never moved the model: the same run without them is the same.
    alone, _, _ = habits.train(*fresh(), X[training], Y[training], 5)
    assert alone == path


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_a_run_resumed_from_its_checkpoint_ends_on_the_same_bits(data, momentum):
    settings = {**SETTINGS, "momentum": momentum}
    uninterrupted, _, _ = habits.train(*fresh(0.1, momentum), *data, 20)
    model, optimizer = fresh(0.1, momentum)
    habits.train(model, optimizer, *data, 7)
    saved = habits.checkpoint(model, optimizer, 7, settings)
    model, optimizer, done = habits.resume(saved, settings)
    assert done == 7
    resumed, _, _ = habits.train(model, optimizer, *data, 13)
    assert resumed == uninterrupted[7:]  # bit for bit, every step
    # Without the optimizer's state, momentum's velocity starts again from 0.
    without, _, _ = habits.train(*habits.resume(saved, settings, optimizer_state=False)[:2],
                                 *data, 13)
    assert (without == uninterrupted[7:]) == (momentum == 0)


def checkpoint_file(tmp_path, **changes):
    model, optimizer = fresh(0.1, 0.9)
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 5,
             "settings": SETTINGS}
    state.update(changes)
    path = tmp_path / "made.pt"
    torch.save(state, path)
    return path.read_bytes()


def test_a_checkpoint_that_does_not_fit_is_refused_with_its_reason(tmp_path):
    cases = [
        (b"", "not a file torch.save wrote, or a damaged one"),
        (b"PK\x03\x04 not really a zip", "not a file torch.save wrote, or a damaged one"),
        (checkpoint_file(tmp_path, epoch="5"), "its epoch, '5', is not a whole number"),
        (checkpoint_file(tmp_path, epoch=True), "its epoch, True, is not a whole number"),
        (checkpoint_file(tmp_path, model={"w": torch.zeros(3), "b": torch.zeros(())}),
         "its model or optimizer does not fit"),
        (checkpoint_file(tmp_path, model={"w": torch.tensor(float("nan")),
                                          "b": torch.zeros(())}), "w or b is not a finite"),
        (checkpoint_file(tmp_path, settings={**SETTINGS, "lr": 0.05}),
         "written by a run of other settings: lr 0.05, not 0.1"),
    ]
    buffer = io.BytesIO()
    torch.save({"weights": torch.zeros(2)}, buffer)
    cases.append((buffer.getvalue(), "not a checkpoint of habits.py"))
    for saved, reason in cases:
        with pytest.raises(ValueError, match=reason.replace("(", r"\(")):
            habits.resume(saved, SETTINGS)


def test_the_script_writes_its_checkpoint_and_a_later_run_resumes_from_it(tmp_path, capsys):
    status, out, err = run_main(habits, capsys, "--momentum", "0.9", "--out", tmp_path)
    assert status == 0, err
    assert "largest distance from heavy ball by hand's" in out
    assert "resumed after epoch 10: final" in out and ": the same bits" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["habits_checkpoint.pt",
                                                          "habits_validation.png"]
    status, out, err = run_main(habits, capsys, "--momentum", "0.9", "--epochs", "30",
                                "--resume", tmp_path / "habits_checkpoint.pt", "--out",
                                tmp_path / "later")
    assert status == 0, err
    assert "resumed after epoch 10" in out and ": the same bits" in out
    assert [p.name for p in (tmp_path / "later").iterdir()] == ["habits_validation.png"]


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """A folder with an earlier run's checkpoint (momentum 0.9) in run/, and two files
    that are no checkpoints: big.pt (too large to read) and junk.pt."""
    folder = tmp_path_factory.mktemp("earlier")
    with contextlib.redirect_stdout(io.StringIO()):
        habits.main(["--momentum", "0.9", "--out", str(folder / "run")])
    (folder / "big.pt").write_bytes(b"0" * 2_000_000)
    (folder / "junk.pt").write_bytes(b"not a checkpoint")
    return folder


@pytest.mark.parametrize("args, complaint", [
    (["--resume", "{tmp}"], "--resume {tmp}: not a file"),
    (["--resume", "{tmp}/none.pt"], "no such file"),
    (["--resume", "{tmp}/big.pt"], "2,000,000 bytes, more than a checkpoint's 1,048,576"),
    (["--resume", "{tmp}/junk.pt"], "not a file torch.save wrote, or a damaged one"),
    (["--resume", "{tmp}/run/habits_checkpoint.pt"],
     "written by a run of other settings: momentum 0.9, not 0.0"),
    (["--resume", "{tmp}/run/habits_checkpoint.pt", "--momentum", "0.9", "--epochs", "10"],
     "it is at epoch 10, so --epochs 10 leaves nothing to run"),
    (["--resume", "{tmp}/run/habits_checkpoint.pt", "--momentum", "0.9", "--lr", "0.05"],
     "lr 0.1, not 0.05"),
    (["--checkpoint-at", "20"], "can stop only after epoch 1 to 19"),
    (["--epochs", "1"], "--epochs 1: habit 3 stops a run after one epoch and goes on, so it "
                        "needs 2 epochs at least"),
    (["--resume", "{tmp}/run/habits_checkpoint.pt", "--checkpoint-at", "5"],
     "--checkpoint-at and --resume: a resumed run goes on from its checkpoint's epoch"),
    (["--val-fraction", "0.001"], "holds out 0: each part needs one sample at least"),
    (["--val-fraction", "1"], "must be a number above 0, up to (not including) 1"),
    (["--momentum", "1"], "must be a number from 0 up to (not including) 1"),
])
def test_bad_settings_and_checkpoints_are_refused_in_one_line_before_any_work(
        earlier, tmp_path, capsys, args, complaint):
    args = [arg.format(tmp=earlier) for arg in args]
    status, out, err = run_main(habits, capsys, *args, "--out", tmp_path / "out")
    assert status == 2 and out == ""
    assert complaint.format(tmp=earlier) in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
