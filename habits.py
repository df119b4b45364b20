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
import hashlib
import io
import reprlib
import zipfile
from pathlib import Path

import torch
from torch import nn

from descent import divergence_report, exit_on
from lines import bound_warning
from model import (
    History,
    criterion,
    final_loss,
    forward,
    largest_distance,
    least_squares,
    stability_bound,
)

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
# A checkpoint of two numbers and their velocity is about 2.5 KB: a file larger than this,
# or one that would inflate to more, is none of ours, and is refused before it is read.
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
    one-line reason for bytes that are not a checkpoint this script writes with these
    settings: every key, type, tensor dtype, shape and device, and the optimizer's param
    groups, as it writes them; every number finite."""
    state = load(saved)
    if not isinstance(state, dict) or set(state) != {"model", "optimizer", "epoch", "settings"}:
        raise ValueError("not a checkpoint of habits.py (it holds no model, optimizer, "
                         "epoch and settings)")
    theirs = state["settings"] if isinstance(state["settings"], dict) else {}
    differ = [f"{name} {shown(theirs.get(name))}, not {value!r}"
              for name, value in settings.items() if not same(theirs.get(name), value)]
    if differ or len(theirs) != len(settings):
        raise ValueError("written by a run of other settings: "
                         + ("; ".join(differ) or f"more than {', '.join(settings)}"))
    from plumbing.options import SHARED, limits, within

    epoch, interval = state["epoch"], SHARED["epochs"][1]  # --epochs' own interval
    if type(epoch) is not int or not within(epoch, int, interval):  # (True is an int too)
        raise ValueError(f"its epoch, {shown(epoch)}, is not {limits(int, interval)}")
    expected = written_state(settings)
    for part in ("model", "optimizer"):
        reason = mismatch(state[part], expected[part], part)
        if reason is not None:
            raise ValueError(reason)
    model, optimizer = fresh(settings)
    model.load_state_dict(state["model"])
    if optimizer_state:
        optimizer.load_state_dict(state["optimizer"])
    return model, optimizer, epoch


def load(saved):
    """What torch.load reads from the bytes `saved`: tensors and plain data only, and only
    once the archive's directory shows it inflates to at most MAX_CHECKPOINT_BYTES."""
    try:  # a torch.save file is a zip archive: its directory lists each member's size
        with zipfile.ZipFile(io.BytesIO(saved)) as archive:
            inflated = sum(member.file_size for member in archive.infolist())
            # Each member inflated, in chunks, only as far as the directory says, and its
            # checksum compared: a member that says less than it holds is refused here.
            damaged = inflated <= MAX_CHECKPOINT_BYTES and archive.testzip()
    except Exception as error:  # a damaged file fails in many ways: one line for them all
        raise ValueError("not a file torch.save wrote, or a damaged one (zipfile: "
                         f"{type(error).__name__})") from None
    if inflated > MAX_CHECKPOINT_BYTES:
        raise ValueError(f"its archive inflates to {inflated:,} bytes, more than a "
                         f"checkpoint's {MAX_CHECKPOINT_BYTES:,}")
    if damaged:
        raise ValueError(f"a damaged archive: its member {damaged} fails its checksum")
    try:
        return torch.load(io.BytesIO(saved), weights_only=True)  # no code to run
    except Exception as error:
        raise ValueError("not a file torch.save wrote, or a damaged one (torch.load: "
                         f"{type(error).__name__})") from None


def written_state(settings):
    """The model's and optimizer's state_dicts as a checkpoint of `settings` holds them, in
    keys, types and shapes: the optimizer's after one step (on zero gradients), as
    torch.optim.SGD keeps it once it has stepped."""
    model, optimizer = fresh(settings)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict()}


def same(value, expected):
    """Equal and of the same type: 1 is not 1.0, and a tensor is never a number."""
    return type(value) is type(expected) and value == expected


def shown(value):
    """A value in a one-line message: at most about 30 characters of it (reprlib)."""
    try:
        return reprlib.repr(value)
    except ValueError:  # a whole number past the 4,300 digits Python writes out
        return f"a {type(value).__name__} too long to show"


def mismatch(value, expected, where):
    """None where `value` is shaped as `expected` (a state_dict, and everything in it): the
    same keys, lengths and plain values, and tensors of the same dtype, layout, shape and
    device, every number finite. Otherwise a one-line reason, naming `where` in it."""
    if isinstance(expected, torch.Tensor):
        def kind(tensor):
            layout = "" if tensor.layout == torch.strided else f" {tensor.layout}"
            return (f"a {tensor.dtype}{layout} tensor of shape {tuple(tensor.shape)} on "
                    f"{tensor.device}")

        if type(value) is not torch.Tensor:
            return f"its {where} is a {type(value).__name__}, not {kind(expected)}"
        if kind(value) != kind(expected):  # looked at before any of its numbers is read
            return f"its {where} is {kind(value)}, not {kind(expected)}"
        return None if torch.isfinite(value).all() else f"its {where} is not a finite number"
    if isinstance(expected, dict | list):
        mapping = isinstance(expected, dict)  # (a state_dict is an OrderedDict: any dict will do)
        keys = list(expected) if mapping else range(len(expected))
        if not isinstance(value, dict if mapping else list) or len(value) != len(expected) or \
                mapping and set(value) != set(expected):
            held = ", ".join(map(str, keys)) if mapping else f"a list of {len(expected)}"
            return f"its {where} does not hold what this script writes there ({held})"
        return next((reason for key in keys
                     if (reason := mismatch(value[key], expected[key], f"{where}.{key}"))),
                    None)
    return None if same(value, expected) else f"its {where} is {shown(value)}, not {expected!r}"


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


def read_checkpoint(parser, path, data):
    """The bytes of the file `path`, refused in one line where it is no plain file or larger
    than a checkpoint: opened once and checked as opened (data.open_plain), and read no
    further than the limit."""
    try:
        with io.BufferedReader(data.open_plain(path, MAX_CHECKPOINT_BYTES)) as handle:
            saved = handle.read(MAX_CHECKPOINT_BYTES + 1)
    except (OSError, ValueError) as error:
        parser.error(f"--resume {path}: {getattr(error, 'strerror', None) or error}")
    if len(saved) > MAX_CHECKPOINT_BYTES:  # it grew after it was opened
        parser.error(f"--resume {path}: more than a checkpoint's {MAX_CHECKPOINT_BYTES:,} bytes")
    return saved


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


def bound_of(X, momentum):
    """(stability bound, whose) of torch.optim.SGD's batch descent on X: plain descent's,
    or heavy ball's with momentum (optimizers.py derives both)."""
    import optimizers

    method = "gd" if momentum == 0 else "momentum"
    return (optimizers.stability_edge(method, stability_bound(X), momentum),
            optimizers.describe(method, {"momentum": momentum}, len(X), len(X)))


def diverged(X, Y, path, losses, settings):
    """None for a run that stayed bounded, or the line saying where it diverged: `path` and
    `losses` are train's, of a run of `settings` on X, Y."""
    history = History(losses, losses, [(settings["w0"], settings["b0"]), *path])
    return divergence_report(history, 1, settings["lr"], *bound_of(X, settings["momentum"]),
                             final_loss(X, Y, history))


def habit_class(X, Y, settings, epochs):
    """The model as a class, against the hand-written loop of the same descent. Prints how
    far apart they end; returns the class's path, and the line saying where it diverged or
    None (a run that diverged prints nothing of its end)."""
    path, losses, _ = train(*fresh(settings), X, Y, epochs)
    report = diverged(X, Y, path, losses, settings)
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
    if report is None:
        print(f"final: w={path[-1][0]:+.6f} b={path[-1][1]:+.6f}; largest distance from "
              f"{whose} path: {largest_distance([(w0, b0), *path], reference.path):.1e}")
    return path, report


def habit_validation(X, Y, settings, args):
    """A validation split, its loss looked at every epoch, and least squares on each part.
    Prints them; returns the validation figure's numbers (plots.habits.plot_validation),
    and the line saying where the run diverged, or None."""
    n = len(X)
    training, validation = split(n, args.val_fraction, args.split_seed)
    held_out = len(validation)
    print(f"\n2. a validation split: {held_out} of the {n} samples held out (split seed "
          f"{args.split_seed}), training on the other {n - held_out}:")
    path, losses, val_losses = train(*fresh(settings), X[training], Y[training], args.epochs,
                                     X[validation], Y[validation])
    for epoch, (loss, val_loss) in enumerate(zip(losses, val_losses, strict=True), start=1):
        print(f"epoch {epoch:3d}: training loss={loss:.6f} validation loss={val_loss:.6f}")
    ls_w, ls_b, floor = least_squares(X[training], Y[training])
    beyond = criterion(forward(X[validation], ls_w, ls_b), Y[validation]).item()
    print(f"least squares of the training samples: w={ls_w:+.6f} b={ls_b:+.6f}, training "
          f"loss={floor:.6f} validation loss={beyond:.6f}")
    label = f"{n - held_out} training, {held_out} held out"
    return (losses, val_losses, floor, beyond, label), diverged(X[training], Y[training], path,
                                                                losses, settings)


def habit_checkpoint(X, Y, settings, args, saved, uninterrupted):
    """Stop after --checkpoint-at epochs, checkpoint, resume in a fresh model and optimizer;
    or resume from `saved`, a file an earlier run wrote. Prints how the resumed run ends
    against `uninterrupted`, habit_class's path (the same model, optimizer, data and epochs);
    returns the checkpoint to write, {name: write(path)}, or none, and the line saying where
    the resumed run diverged, or None."""
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
    resumed, losses, _ = train(model, optimizer, X, Y, args.epochs - done)
    report = diverged(X, Y, resumed, losses, settings)
    if report:  # a checkpoint's numbers can be finite and still far too large
        return written, (f"resumed after epoch {done}, the run (its epochs counted from "
                         f"there) {report}")
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
    return written, None


def main(argv=None):
    import data
    from plumbing import options, output

    parser = options.Parser("Everyday habits on the tutorial's batch descent: the model as "
                            "an nn.Module, a validation split, a checkpoint to resume from.")
    options.add_settings(parser, KNOBS, OPTIONS)
    options.add_data_args(parser, data)
    args, out_dir = options.parse(parser, argv)
    check_settings(parser, args)
    saved = None if args.resume is None else read_checkpoint(parser, args.resume, data)
    X, Y, source = data.load_data(parser, args)
    # The data by what it holds, not by its file's name: a file changed since is other data,
    # and the same rows under another name are the same.
    digest = hashlib.sha256(X.numpy())  # read in place, no copy of ten million rows
    digest.update(Y.numpy())
    held = digest.hexdigest()[:16]
    settings = {"lr": args.lr, "momentum": args.momentum, "w0": args.w0, "b0": args.b0,
                "data": f"sha256 {held} of {len(X)} points"}
    check_run(parser, args, len(X), saved, settings)
    options.check_work(parser, args.epochs, len(X), len(X))

    print(f"data: {source}")
    print(f"torch.optim.SGD(lr={args.lr:g}, momentum={args.momentum:g}), one step an epoch on "
          f"all the samples, from w={args.w0:g} b={args.b0:g}")
    bound, rule = bound_of(X, args.momentum)
    if args.lr >= bound:
        print(bound_warning("lr", args.lr, bound, rule), flush=True)
    path, report = habit_class(X, Y, settings, args.epochs)
    validation, validation_report = habit_validation(X, Y, settings, args)
    report = report or validation_report
    written = {}  # a run that diverged writes no checkpoint: none a later run would resume
    if not report:
        written, report = habit_checkpoint(X, Y, settings, args, saved, path)

    from plots import habits as drawing  # only now: matplotlib's backend has been chosen

    figures = {"habits_validation.png": drawing.plot_validation(*validation)}
    output.save_figures(out_dir, figures, files=written)  # a diverged run's too: its climb
    exit_on(parser, report)
    output.show_figures(figures, args.show)


if __name__ == "__main__":
    run_as_command(main)
