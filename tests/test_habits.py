"""The everyday habits (habits.py): the class takes the hand-written loop's path, the
validation loss is the MSE of the held-out samples, and a run resumed from its checkpoint
ends on the bits of the run that never stopped; bad checkpoints are refused in one line."""

import contextlib
import io
import os
import threading
import zipfile

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


def made(change=None, momentum=0.9):
    """The bytes of a checkpoint as the script writes it (3 epochs of momentum on the
    tutorial's data), `change` (a function of its state) applied first."""
    from data import make_data

    settings = {**SETTINGS, "momentum": momentum}
    model, optimizer = fresh(0.1, momentum)
    habits.train(model, optimizer, *make_data(), 3)
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3,
             "settings": settings}
    if change is not None:
        change(state)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def setting(*keys, value):
    """A change to a checkpoint's state: the entry at state[keys[0]][keys[1]]... set."""
    def change(state):
        for key in keys[:-1]:
            state = state[key]
        state[keys[-1]] = value
    return change


def deflated(saved):
    """The same archive with its members compressed, as a zip may hold them: it inflates to
    the same bytes (torch.load reads it), from a far smaller file."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(saved)) as archive, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as packed:
        for member in archive.infolist():
            packed.writestr(member.filename, archive.read(member))
    return out.getvalue()


def wrong_checksum(saved):
    """The archive with the checksum its directory records for w's bytes changed: what a
    reader that checks finds in a damaged file, or in one whose member holds more than the
    directory says (torch.load reads it without checking)."""
    damaged = bytearray(saved)
    at = 0
    while (at := damaged.find(b"PK\x01\x02", at + 1)) != -1:  # each directory entry
        name_length = int.from_bytes(damaged[at + 28:at + 30], "little")
        if damaged[at + 46:at + 46 + name_length].endswith(b"data/0"):
            damaged[at + 16] ^= 0xFF  # the first byte of its CRC-32
    return bytes(damaged)


def big_w(state):
    state["model"]["w"] = torch.zeros(2**19)  # 2 MiB of zeros: a few KB deflated


BUFFER = ("optimizer", "state", 0, "momentum_buffer")
LR = ("optimizer", "param_groups", 0, "lr")
# (what is wrong, the checkpoint's bytes, the reason given)
NOT_OURS = [
    ("empty", lambda: b"", "not a file torch.save wrote, or a damaged one"),
    ("no zip", lambda: b"PK\x03\x04 not really a zip",
     "not a file torch.save wrote, or a damaged one"),
    ("another script's", lambda: made(lambda state: state.pop("optimizer")),
     "not a checkpoint of habits.py"),
    ("epoch a string", lambda: made(setting("epoch", value="5")),
     "its epoch, '5', is not a whole number from 1 to 100,000"),
    ("epoch True", lambda: made(setting("epoch", value=True)), "its epoch, True, is not a whole"),
    ("epoch past any run", lambda: made(setting("epoch", value=10**30)),
     f"its epoch, {10**30}, is not a whole number from 1 to 100,000"),
    ("other settings", lambda: made(setting("settings", "lr", value=0.05)),
     "written by a run of other settings: lr 0.05, not 0.1"),
    ("a tensor in the settings", lambda: made(setting("settings", "lr",
                                                      value=torch.tensor([0.1, 0.1]))),
     "written by a run of other settings: lr tensor([0.1000, 0.1000]), not 0.1"),
    ("w of shape (3,)", lambda: made(setting("model", "w", value=torch.zeros(3))),
     "its model.w is a torch.float32 tensor of shape (3,) on cpu, not a torch.float32 tensor "
     "of shape () on cpu"),
    ("w not finite", lambda: made(setting("model", "w", value=torch.tensor(float("nan")))),
     "its model.w is not a finite number"),
    ("b not finite", lambda: made(setting("model", "b", value=torch.tensor(float("-inf")))),
     "its model.b is not a finite number"),
    ("w int64", lambda: made(setting("model", "w", value=torch.tensor(3))),
     "its model.w is a torch.int64 tensor"),
    ("w bool", lambda: made(setting("model", "w", value=torch.tensor(True))),
     "its model.w is a torch.bool tensor"),
    ("w complex", lambda: made(setting("model", "w", value=torch.tensor(1 + 2j))),
     "its model.w is a torch.complex64 tensor"),
    ("w a number", lambda: made(setting("model", "w", value=1.0)),
     "its model.w is a float, not a torch.float32 tensor"),
    ("no b", lambda: made(lambda state: state["model"].pop("b")),
     "its model does not hold what this script writes there (w, b)"),
    ("momentum buffer nan", lambda: made(setting(*BUFFER, value=torch.tensor(float("nan")))),
     "its optimizer.state.0.momentum_buffer is not a finite number"),
    ("momentum buffer inf", lambda: made(setting(*BUFFER, value=torch.tensor(float("inf")))),
     "its optimizer.state.0.momentum_buffer is not a finite number"),
    ("momentum buffer of shape (3,)", lambda: made(setting(*BUFFER, value=torch.zeros(3))),
     "its optimizer.state.0.momentum_buffer is a torch.float32 tensor of shape (3,)"),
    ("momentum buffer a string", lambda: made(setting(*BUFFER, value="fast")),
     "its optimizer.state.0.momentum_buffer is a str, not a torch.float32 tensor"),
    ("lr 1e30 in the param group", lambda: made(setting(*LR, value=1e30)),
     "its optimizer.param_groups.0.lr is 1e+30, not 0.1"),
    ("lr a string", lambda: made(setting(*LR, value="0.1")),
     "its optimizer.param_groups.0.lr is '0.1', not 0.1"),
    ("a third parameter", lambda: made(setting("optimizer", "param_groups", 0, "params",
                                               value=[0, 1, 2])),
     "its optimizer.param_groups.0.params does not hold what this script writes there"),
    ("w inflating to 2 MiB", lambda: deflated(made(big_w)),
     "its archive inflates to 2,09"),
    ("a member failing its checksum", lambda: wrong_checksum(made()),
     "a damaged archive: its member "),
]


@pytest.mark.parametrize("make, reason", [case[1:] for case in NOT_OURS],
                         ids=[case[0] for case in NOT_OURS])
def test_a_checkpoint_not_as_this_script_writes_it_is_refused_with_its_reason(make, reason):
    with pytest.raises(ValueError) as refused:
        habits.resume(make(), SETTINGS)
    assert reason in str(refused.value) and "\n" not in str(refused.value)


def test_a_velocity_in_a_checkpoint_of_momentum_0_is_refused():
    settings = {**SETTINGS, "momentum": 0.0}
    assert habits.resume(made(momentum=0.0), settings)[2] == 3
    velocity = setting("optimizer", "state", 0, value={"momentum_buffer": torch.ones(())})
    with pytest.raises(ValueError, match="its optimizer.state does not hold what this script "
                                         "writes there"):
        habits.resume(made(velocity, momentum=0.0), settings)


def test_a_checkpoint_as_the_script_writes_it_is_read_back_bit_for_bit():
    model, optimizer, done = habits.resume(made(), SETTINGS)
    again = torch.load(io.BytesIO(made()), weights_only=True)
    assert done == 3 and torch.equal(model.w.detach(), again["model"]["w"])
    assert optimizer.state_dict()["state"][1]["momentum_buffer"].item() == \
        again["optimizer"]["state"][1]["momentum_buffer"].item()


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


def test_a_checkpoint_of_a_data_file_changed_since_is_refused(tmp_path, capsys):
    """The same file name holding other rows is other data: its checkpoint is not this
    run's (it was accepted, and the run ended "NOT the same")."""
    from data import make_data, write_csv

    X, Y = make_data()
    write_csv(tmp_path / "line.csv", X, Y)
    status, _, err = run_main(habits, capsys, "--data", tmp_path / "line.csv",
                              "--out", tmp_path / "first")
    assert status == 0, err
    write_csv(tmp_path / "line.csv", X, Y + 1)
    status, out, err = run_main(habits, capsys, "--data", tmp_path / "line.csv", "--epochs", 30,
                                "--resume", tmp_path / "first" / "habits_checkpoint.pt",
                                "--out", tmp_path / "later")
    assert status == 2 and out == "" and len(err.splitlines()) == 1
    assert "written by a run of other settings: data" in err
    assert not (tmp_path / "later").exists()
    # The same rows under another name are the same data.
    write_csv(tmp_path / "again.csv", X, Y)
    status, out, err = run_main(habits, capsys, "--data", tmp_path / "again.csv", "--epochs", 30,
                                "--resume", tmp_path / "first" / "habits_checkpoint.pt",
                                "--out", tmp_path / "later")
    assert status == 0 and "the same bits" in out, err


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
    (["--resume", "{tmp}"], "--resume {tmp}: not a plain file (a folder, a device or a pipe)"),
    (["--resume", "{tmp}/none.pt"], "--resume {tmp}/none.pt: No such file or directory"),
    (["--resume", "{tmp}/big.pt"], "2,000,000 bytes; the limit is 1,048,576"),
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


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX's")
@pytest.mark.parametrize("option", ["--resume", "--data"])
def test_a_name_swapped_for_a_pipe_after_any_check_is_refused_not_waited_on(
        tmp_path, capsys, monkeypatch, option):
    """The file is checked as opened, not by its name first: here every check of the name
    says "a plain file", as it did before the swap, and the pipe that is there when it is
    opened must still be refused at once. A writer stands by so that a reader that opened
    the pipe to wait on it (the old check-then-open) gets its empty end instead of waiting
    for ever."""
    pipe = tmp_path / "swapped"
    os.mkfifo(pipe)
    monkeypatch.setattr(os.path, "isfile", lambda path: True)
    monkeypatch.setattr(os.path, "exists", lambda path: True)
    monkeypatch.setattr(os.path, "getsize", lambda path: 0)
    writer = threading.Thread(target=lambda: os.close(os.open(pipe, os.O_WRONLY)), daemon=True)
    writer.start()
    try:
        status, out, err = run_main(habits, capsys, option, pipe, "--out", tmp_path / "out")
    finally:  # a reader held open until the writer is done releases it however it went
        reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
        writer.join()
        os.close(reader)
    assert status == 2 and out == ""
    assert err.endswith(f": error: {option} {pipe}: not a plain file (a folder, a device or a "
                        "pipe) (see --help)\n") and len(err.splitlines()) == 1


def test_a_run_that_diverged_writes_no_checkpoint_a_later_run_would_resume(tmp_path, capsys):
    """habits.py --lr 1 --epochs 100 checkpointed its NaN after epoch 50, then failed
    reading it back: now it draws its figure, writes no checkpoint, and names the bound."""
    status, out, err = run_main(habits, capsys, "--lr", "1", "--epochs", "100", "--out",
                                tmp_path)
    assert status == 1 and "Traceback" not in err and len(err.splitlines()) == 1
    assert "diverged at epoch" in err and "stability bound 0.1200 of plain descent" in err
    assert [p.name for p in tmp_path.iterdir()] == ["habits_validation.png"]
    assert "3. a checkpoint" not in out and "final:" not in out


@pytest.mark.parametrize("change", [setting("model", "w", value=torch.tensor(3e38)),
                                    setting(*BUFFER, value=torch.tensor(1e38))],
                         ids=["w", "momentum buffer"])
def test_a_resumed_run_that_diverges_from_finite_but_huge_numbers_says_so(
        earlier, tmp_path, capsys, change):
    """Finite numbers pass the reader, but no run survives them: the resumed part is held
    to the bound like the rest, not ended in nan with exit status 0."""
    state = torch.load(earlier / "run" / "habits_checkpoint.pt", weights_only=True)
    change(state)
    saved = tmp_path / "huge.pt"
    torch.save(state, saved)
    status, out, err = run_main(habits, capsys, "--momentum", "0.9", "--resume", saved,
                                "--out", tmp_path / "out")
    assert status == 1 and len(err.splitlines()) == 1
    assert "resumed after epoch 10, the run (its epochs counted from there) diverged at" \
        in err and "heavy ball" in err
    assert "the same bits" not in out and "NOT the same" not in out
