"""Everyday habits, the rungs after everyday PyTorch: the model as an nn.Module class, a
training/validation split, and a checkpoint a run resumes from.

Each habit runs the tutorial's batch descent and is held to the hand-written loop where it
should equal it: the class, trained by torch.optim.SGD, takes train_batch.py's path; a run
stopped after --checkpoint-at epochs and resumed from its checkpoint ends on the bits of the
run that never stopped. Run `python habits.py --help` for the knobs; docs/habits.md is the
lesson. Importing this module only defines things.
"""

from plumbing.run import run_as_command  # first: a stop while the libraries load is one line

# isort: split
import io
import os
from pathlib import Path

import torch
from torch import nn

from model import criterion, forward, largest_distance, least_squares

# The command line's knobs and their defaults, each declared in OPTIONS below or in the
# options the training scripts share (plumbing/options.py); the data's options from data.py.
KNOBS = {"lr": 0.1, "epochs": 20, "w0": -10.0, "b0": -20.0, "momentum": 0.0,
         "val_fraction": 0.2, "split_seed": 42, "checkpoint_at": None, "resume": None}
# This lesson's own options: {name: (type, interval, help)} (plumbing/options.py).
OPTIONS = {
    "momentum": (float, "[0, 1)", "momentum of torch.optim.SGD (0: the tutorial's step)"),
    "val_fraction": (float, "(0, 1)", "share of the samples held out for validation"),
    "split_seed": (int, f"[0, {2**63 - 1}]", "seed of the split into training and validation"),
    "checkpoint_at": (int, "[1, inf)", "the epoch after which the checkpoint is written",
                      {"shown": "half the epochs"}),
    "resume": (str, None, "resume habit 3 from this checkpoint (one an earlier run wrote)",
               {"metavar": "FILE"}),
}
# A checkpoint of two numbers and their velocity is about 1.5 KB: a larger file is none of
# ours, and is refused before it is read.
MAX_CHECKPOINT_BYTES = 1 << 20


class LinearRegression(nn.Module):
    """The tutorial's model, w * x + b, as a class: w and b are its parameters."""

    def __init__(self, w0=-10.0, b0=-20.0):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(float(w0)))
        self.b = nn.Parameter(torch.tensor(float(b0)))

    def forward(self, x):
        return self.w * x + self.b


def train(model, optimizer, X, Y, epochs, X_val=None, Y_val=None):
    """Batch descent: one step of `optimizer` an epoch on all of X, Y. Returns the path,
    (w, b) after every step; the training loss before each step; and, given X_val, Y_val,
    the validation loss at the same moment."""
    path, losses, val_losses = [], [], []
    for _ in range(epochs):
        optimizer.zero_grad()  # Step 5, done first
        loss = criterion(model(X), Y)  # Steps 1 and 2
        losses.append(loss.item())
        if X_val is not None:
            with torch.no_grad():  # only looked at: no graph, no gradient
                val_losses.append(criterion(model(X_val), Y_val).item())
        loss.backward()  # Step 3
        optimizer.step()  # Step 4
        path.append((model.w.item(), model.b.item()))
    return path, losses, val_losses


def split(n, fraction, seed):
    """A seeded random split of the samples' indices: (training, validation), the second
    holding round(fraction * n) of them."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    held_out = round(fraction * n)
    return order[held_out:], order[:held_out]


def checkpoint(model, optimizer, epoch, settings):
    """What a resumed run needs, as the bytes torch.save writes: the model's parameters, the
    optimizer's state (momentum's velocity), the epochs done and the run's settings."""
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "epoch": epoch, "settings": settings}, buffer)
    return buffer.getvalue()


def resume(saved, settings, optimizer_state=True):
    """(model, optimizer, epochs done): a fresh model and optimizer with a checkpoint's
    state loaded (the optimizer's only if optimizer_state). Raises ValueError with a
    one-line reason for bytes that are not such a checkpoint, or one of other settings."""
    try:
        state = torch.load(io.BytesIO(saved), weights_only=True)  # tensors and plain data only
    except Exception as error:  # a damaged file fails in many ways: one line for them all
        raise ValueError("not a file torch.save wrote, or a damaged one (torch.load: "
                         f"{type(error).__name__})") from None
    if not isinstance(state, dict) or set(state) != {"model", "optimizer", "epoch", "settings"}:
        raise ValueError("not a checkpoint of habits.py (it holds no model, optimizer, "
                         "epoch and settings)")
    if state["settings"] != settings:
        ours = state["settings"] if isinstance(state["settings"], dict) else {}
        differ = [f"{name} {ours.get(name)!r}, not {value!r}" for name, value in settings.items()
                  if ours.get(name) != value]
        raise ValueError("written by a run of other settings: " + "; ".join(differ))
    if type(state["epoch"]) is not int or state["epoch"] < 1:  # (True is an int too)
        raise ValueError(f"its epoch, {state['epoch']!r}, is not a whole number of at least 1")
    model = LinearRegression()
    optimizer = torch.optim.SGD(model.parameters(), lr=settings["lr"],
                                momentum=settings["momentum"])
    try:
        model.load_state_dict(state["model"])
        if optimizer_state:
            optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError, TypeError, AttributeError):
        raise ValueError("its model or optimizer does not fit this one: w and b, one number "
                         "each, and torch.optim.SGD's state for them") from None
    if not all(torch.isfinite(value).all() for value in model.state_dict().values()):
        raise ValueError("its w or b is not a finite number")
    return model, optimizer, state["epoch"]


def stop_epoch(args):
    """The epoch after which habit 3 stops its run: --checkpoint-at, or half the epochs."""
    return args.epochs // 2 if args.checkpoint_at is None else args.checkpoint_at


def check_settings(parser, args):
    """Refuse, in one line, a run habit 3 cannot stop and resume."""
    stop_at = stop_epoch(args)
    if args.resume is None and args.epochs < 2:
        parser.error(f"--epochs {args.epochs}: habit 3 stops a run after one epoch and goes "
                     "on, so it needs 2 epochs at least")
    if args.resume is None and not 1 <= stop_at < args.epochs:
        parser.error(f"--checkpoint-at {stop_at}: a run of {args.epochs} epochs can stop only "
                     f"after epoch 1 to {args.epochs - 1}")
    if args.resume is not None and args.checkpoint_at is not None:
        parser.error("--checkpoint-at and --resume: a resumed run goes on from its "
                     "checkpoint's epoch")


def read_checkpoint(parser, path):
    """The bytes of the file `path`, refused in one line where it is no file or larger than
    a checkpoint: bounded before it is read."""
    if not os.path.isfile(path):
        parser.error(f"--resume {path}: {'not a file' if os.path.exists(path) else 'no such file'}")
    if os.path.getsize(path) > MAX_CHECKPOINT_BYTES:
        parser.error(f"--resume {path}: {os.path.getsize(path):,} bytes, more than a "
                     f"checkpoint's {MAX_CHECKPOINT_BYTES:,}")
    with open(path, "rb") as handle:
        return handle.read(MAX_CHECKPOINT_BYTES + 1)


def check_run(parser, args, n, saved, settings):
    """Refuse, in one line, a split that leaves a part empty, and a checkpoint (`saved`)
    that is none of this run's or leaves nothing to run."""
    held_out = round(args.val_fraction * n)
    if not 1 <= held_out < n:
        parser.error(f"--val-fraction {args.val_fraction:g} of {n} samples holds out "
                     f"{held_out}: each part needs one sample at least")
    if saved is None:
        return
    try:
        done = resume(saved, settings)[2]
    except ValueError as error:
        parser.error(f"--resume {args.resume}: {error}")
    if done >= args.epochs:
        parser.error(f"--resume {args.resume}: it is at epoch {done}, so --epochs "
                     f"{args.epochs} leaves nothing to run")


def fresh(settings):
    """A new model at the run's start, and its optimizer: torch.optim.SGD."""
    model = LinearRegression(settings["w0"], settings["b0"])
    return model, torch.optim.SGD(model.parameters(), lr=settings["lr"],
                                  momentum=settings["momentum"])


def habit_class(X, Y, settings, epochs):
    """The model as a class, against the hand-written loop of the same descent. Prints how
    far apart they end; returns the class's path."""
    path, _, _ = train(*fresh(settings), X, Y, epochs)
    lr, momentum, w0, b0 = (settings[name] for name in ("lr", "momentum", "w0", "b0"))
    if momentum == 0:
        from train_batch import train_batch

        reference = train_batch(X, Y, lr, epochs, w0, b0, verbose=False)
        whose = "train_batch.py's (the tutorial's loop)"
    else:
        import optimizers
        from descent import train as train_by_hand

        reference = train_by_hand(X, Y, optimizers.UPDATES["momentum"],
                                  {"lr": lr, "momentum": momentum}, epochs, w0=w0, b0=b0)
        whose = "heavy ball by hand's (optimizers.py --method momentum)"
    print(f"\n1. the model as a class, LinearRegression(nn.Module), {epochs} epochs:")
    print(f"final: w={path[-1][0]:+.6f} b={path[-1][1]:+.6f}; largest distance from {whose} "
          f"path: {largest_distance([(w0, b0), *path], reference.path):.1e}")
    return path


def habit_validation(X, Y, settings, args):
    """A validation split, its loss looked at every epoch, and least squares on each part.
    Prints them; returns the validation figure's numbers (plots.habits.plot_validation)."""
    n = len(X)
    training, validation = split(n, args.val_fraction, args.split_seed)
    held_out = len(validation)
    print(f"\n2. a validation split: {held_out} of the {n} samples held out (split seed "
          f"{args.split_seed}), training on the other {n - held_out}:")
    _, losses, val_losses = train(*fresh(settings), X[training], Y[training], args.epochs,
                                  X[validation], Y[validation])
    for epoch, (loss, val_loss) in enumerate(zip(losses, val_losses, strict=True), start=1):
        print(f"epoch {epoch:3d}: training loss={loss:.6f} validation loss={val_loss:.6f}")
    ls_w, ls_b, floor = least_squares(X[training], Y[training])
    beyond = criterion(forward(X[validation], ls_w, ls_b), Y[validation]).item()
    print(f"least squares of the training samples: w={ls_w:+.6f} b={ls_b:+.6f}, training "
          f"loss={floor:.6f} validation loss={beyond:.6f}")
    return losses, val_losses, floor, beyond, f"{n - held_out} training, {held_out} held out"


def habit_checkpoint(X, Y, settings, args, saved, uninterrupted):
    """Stop after --checkpoint-at epochs, checkpoint, resume in a fresh model and optimizer;
    or resume from `saved`, a file an earlier run wrote. Prints how the resumed run ends
    against `uninterrupted`, habit_class's path (the same model, optimizer, data and epochs);
    returns the checkpoint to write, {name: write(path)}, or none."""
    written = {}
    if saved is None:
        stop_at = stop_epoch(args)
        model, optimizer = fresh(settings)
        train(model, optimizer, X, Y, stop_at)
        saved = checkpoint(model, optimizer, stop_at, settings)
        print(f"\n3. a checkpoint after epoch {stop_at} of {args.epochs} on all {len(X)} "
              f"samples, {len(saved):,} bytes, read back into a fresh model and optimizer:")
        written = {"habits_checkpoint.pt": lambda path: Path(path).write_bytes(saved)}
    else:
        print(f"\n3. resumed from {args.resume}:")
    model, optimizer, done = resume(saved, settings)
    resumed, _, _ = train(model, optimizer, X, Y, args.epochs - done)
    without, _, _ = train(*resume(saved, settings, optimizer_state=False)[:2], X, Y,
                          args.epochs - done)
    (w, b), (w_ref, b_ref) = resumed[-1], uninterrupted[-1]
    same = "the same bits" if (w, b) == (w_ref, b_ref) else "NOT the same"
    print(f"resumed after epoch {done}: final w={w:+.6f} b={b:+.6f}; never stopped: "
          f"w={w_ref:+.6f} b={b_ref:+.6f}: {same}")
    print(f"resumed with the model alone, no optimizer state: final w={without[-1][0]:+.6f} "
          f"b={without[-1][1]:+.6f}, {largest_distance(without[-1:], uninterrupted[-1:]):.1e} "
          "from the run that never stopped (at most "
          f"{largest_distance(without, uninterrupted[done:]):.1e} on the way)")
    return written


def main(argv=None):
    import data
    from plumbing import options, output

    parser = options.Parser("Everyday habits on the tutorial's batch descent: the model as "
                            "an nn.Module, a validation split, a checkpoint to resume from.")
    options.add_settings(parser, KNOBS, OPTIONS)
    options.add_data_args(parser, data)
    args, out_dir = options.parse(parser, argv)
    check_settings(parser, args)
    saved = None if args.resume is None else read_checkpoint(parser, args.resume)
    X, Y, source = data.load_data(parser, args)
    settings = {"lr": args.lr, "momentum": args.momentum, "w0": args.w0, "b0": args.b0,
                "data": source}
    check_run(parser, args, len(X), saved, settings)
    options.check_work(parser, args.epochs, len(X), len(X))

    print(f"data: {source}")
    print(f"torch.optim.SGD(lr={args.lr:g}, momentum={args.momentum:g}), one step an epoch on "
          f"all the samples, from w={args.w0:g} b={args.b0:g}")
    path = habit_class(X, Y, settings, args.epochs)
    validation = habit_validation(X, Y, settings, args)
    written = habit_checkpoint(X, Y, settings, args, saved, path)

    from plots import habits as drawing  # only now: matplotlib's backend has been chosen

    figures = {"habits_validation.png": drawing.plot_validation(*validation)}
    output.save_figures(out_dir, figures, files=written)
    output.show_figures(figures, args.show)


if __name__ == "__main__":
    run_as_command(main)
