"""The mistakes learners make in the hand-written loop, each run next to the correct one.

Every pitfall runs on the tutorial's data from the tutorial's start (w = -10, b = -20) and
prints what you see, why, and the one-line fix. `python pitfalls.py --list` names them;
`--only NAME` runs one. Run `python pitfalls.py --help` for the knobs; docs/pitfalls.md is
the lesson.
"""

from plumbing.run import run_as_command  # first: a stop while the libraries load is one line

# isort: split
import math
import traceback
import warnings
from dataclasses import dataclass, field

import torch

import data
from data import make_data, standardise
from descent import has_diverged
from model import criterion, forward, stability_bound

START = (-10.0, -20.0)
LR = 0.1  # the tutorial's batch step size
SUMMED_LR = 0.001  # inside the summed loss's bound at n = 100, far outside at n = 10,000
BIG_LR = 0.5  # past the tutorial data's bound, 0.12
UNTIL_NAN = 200  # steps the lr-too-big run may take to reach NaN


# The correct step, as the tutorial writes it, and the wrong ones beside it. Each takes the
# parameters and returns them, so that a step which rebinds w can hand back its new w.

def correct_step(w, b, X, Y, lr):
    # Step 1: forward pass: predict every sample.
    Y_pred = forward(X, w, b)
    # Step 2: the loss, averaged over all samples.
    loss = criterion(Y_pred, Y)
    # Step 3: backward pass: autograd fills w.grad and b.grad.
    loss.backward()
    # Step 4: the update: one step of size lr against the gradient.
    w.data = w.data - lr * w.grad.data
    b.data = b.data - lr * b.grad.data
    # Step 5: zero the gradients, or the next backward() adds to them.
    w.grad.data.zero_()
    b.grad.data.zero_()
    return w, b


def step_without_zeroing(w, b, X, Y, lr):
    loss = criterion(forward(X, w, b), Y)  # Steps 1 and 2
    loss.backward()  # Step 3
    w.data = w.data - lr * w.grad.data  # Step 4
    b.data = b.data - lr * b.grad.data
    # Step 5 forgotten: the next backward() adds its gradient to this one.
    return w, b


def step_rebinding(w, b, X, Y, lr):
    loss = criterion(forward(X, w, b), Y)  # Steps 1 and 2
    loss.backward()  # Step 3
    # Step 4, wrong: a new tensor named w, computed by autograd from the old one.
    w = w - lr * w.grad
    b = b - lr * b.grad
    w.grad.data.zero_()  # Step 5
    b.grad.data.zero_()
    return w, b


def step_in_place_with_grad(w, b, X, Y, lr):
    loss = criterion(forward(X, w, b), Y)  # Steps 1 and 2
    loss.backward()  # Step 3
    # Step 4, wrong: an in-place change of a leaf that autograd is tracking.
    w -= lr * w.grad
    b -= lr * b.grad
    w.grad.zero_()  # Step 5
    b.grad.zero_()
    return w, b


def step_no_grad(w, b, X, Y, lr):
    loss = criterion(forward(X, w, b), Y)  # Steps 1 and 2
    loss.backward()  # Step 3
    # Step 4 as PyTorch's documentation writes it: an in-place update autograd is told of.
    with torch.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad
    w.grad.zero_()  # Step 5
    b.grad.zero_()
    return w, b


def step_summed_loss(w, b, X, Y, lr):
    Y_pred = forward(X, w, b)  # Step 1
    # Step 2, wrong: the summed squared error, n times the mean, so n times the gradient.
    loss = torch.sum((Y_pred - Y) ** 2)
    loss.backward()  # Step 3
    w.data = w.data - lr * w.grad.data  # Step 4
    b.data = b.data - lr * b.grad.data
    w.grad.data.zero_()  # Step 5
    b.grad.data.zero_()
    return w, b


# Running a step over and over, and recording what happened.

@dataclass
class Run:
    """A loop's history: the full-data MSE at the start and after each step, the path, the
    gradient left in w.grad and b.grad after each step, and how it ended."""

    label: str
    losses: list = field(default_factory=list)
    path: list = field(default_factory=list)
    grads: list = field(default_factory=list)
    stopped: str = ""  # why the run ended early: "", "diverged" or "nan"

    @property
    def steps(self):
        return len(self.losses) - 1


def start():
    """Fresh leaf tensors at the tutorial's start."""
    return (torch.tensor(START[0], requires_grad=True),
            torch.tensor(START[1], requires_grad=True))


def full_loss(X, Y, w, b):
    """The full-data MSE in float32, as the training computes it, so overflow shows as inf."""
    with torch.no_grad():
        return criterion(forward(X, w, b), Y).item()


def run_loop(step, X, Y, lr, steps, label, until_nan=False):
    """Apply `step` up to `steps` times from START and record the run.

    Stops at the first loss that is not finite or has grown a millionfold (the project's
    divergence rule); with until_nan=True only at NaN, to show a loss overflowing.
    """
    w, b = start()
    run = Run(label, [full_loss(X, Y, w, b)], [START])
    for _ in range(steps):
        w, b = step(w, b, X, Y, lr)
        loss = full_loss(X, Y, w, b)
        run.path.append((w.item(), b.item()))
        run.losses.append(loss)
        run.grads.append((w.grad.item(), b.grad.item()) if w.grad is not None else None)
        if math.isnan(loss):
            run.stopped = "nan"
            break
        if not until_nan and has_diverged(loss, run.losses[0]):
            run.stopped = "diverged"
            break
    return run


@dataclass
class Failure:
    """How a loop whose step should fail ended: the error (None if it did not fail), where
    it was raised, and the first sentence of each warning PyTorch gave on the way."""

    error: Exception | None
    where: str = ""
    warned: list = field(default_factory=list)


def caught(step, X, Y, steps):
    """Run `step` up to `steps` times from START, stopping at the first error it raises."""
    w, b = start()
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        for number in range(1, steps + 1):
            try:
                w, b = step(w, b, X, Y, LR)
            except Exception as error:  # the pitfall's own failure is its result
                # The line of ours that raised, without its comment.
                line = [frame.line for frame in traceback.extract_tb(error.__traceback__)
                        if frame.filename == __file__][-1].split("#")[0].strip()
                return Failure(error, f"in step {number}, at {line}",
                               [first_sentence(warning.message) for warning in raised])
    return Failure(None, warned=[first_sentence(warning.message) for warning in raised])


def first_sentence(message):
    return str(message).split(". ")[0].rstrip(".") + "."


def first_line(error):
    return f"{type(error).__name__}: {str(error).splitlines()[0]}"


def steps_text(count):
    return f"{count} step{'' if count == 1 else 's'}"


def describe(run):
    """What a run's loss did, in a few words."""
    first, last = run.losses[0], run.losses[-1]
    if run.stopped == "nan":
        return f"loss NaN at step {run.steps}"
    if run.stopped == "diverged":
        return f"diverged at step {run.steps}: loss {last:.3g} (from {first:.3g})"
    return f"loss {first:.4g} -> {last:.4g} after {steps_text(run.steps)}"


# The pitfalls. Each takes the Setting and returns a Result.

@dataclass(frozen=True)
class Setting:
    """What the pitfalls run on: the data, the batch steps of each loop, and how the data
    was made (make_data's seed, slope and noise), for the pitfalls that make more of it."""

    X: torch.Tensor
    Y: torch.Tensor
    steps: int
    made: dict


@dataclass
class Result:
    """What a pitfall printed, and the runs to draw (wrong first), if it has any."""

    seen: str
    runs: list = field(default_factory=list)
    details: list = field(default_factory=list)


def no_zero_grad(setting):
    X, Y, steps = setting.X, setting.Y, setting.steps
    wrong = run_loop(step_without_zeroing, X, Y, LR, steps, "gradients never zeroed")
    right = run_loop(correct_step, X, Y, LR, steps, "zeroed after every step")
    swings = wrong.losses[1:]
    if wrong.steps < 2:
        seen = ("after one step nothing has accumulated yet: the same as the correct loop "
                "(run two steps or more)")
    else:
        seen = (f"the loss never settles: it swings between {min(swings):.3g} and "
                f"{max(swings):.3g}, ending at {swings[-1]:.4g} after "
                f"{steps_text(wrong.steps)}; the correct loop: {describe(right)}")
    # The summed gradients act like momentum, which can look better for a step or two.
    ahead = next((step for step in range(1, len(swings) + 1)
                  if wrong.losses[step] < right.losses[step]), None)
    details = [] if ahead is None else [
        f"at step {ahead} it is even below the correct loop ({wrong.losses[ahead]:.3g} "
        f"against {right.losses[ahead]:.3g}): a lucky swing, not progress"]
    return Result(seen, [wrong, right], details)


def rebind(setting):
    failure = caught(step_rebinding, setting.X, setting.Y, setting.steps)
    if failure.error is None:
        return Result("no error")
    details = [f"PyTorch warns: {failure.warned[0]}"] if failure.warned else []
    return Result(f"{first_line(failure.error)} ({failure.where})", details=details)


def in_place_leaf(setting):
    failure = caught(step_in_place_with_grad, setting.X, setting.Y, setting.steps)
    if failure.error is None:
        return Result("no error")
    return Result(f"{first_line(failure.error)} ({failure.where})")


def data_vs_no_grad(setting):
    X, Y, steps = setting.X, setting.Y, setting.steps
    with_data = run_loop(correct_step, X, Y, LR, steps, ".data")
    with_no_grad = run_loop(step_no_grad, X, Y, LR, steps, "torch.no_grad()")
    same = with_data.path == with_no_grad.path
    silent, loud = update_before_backward(True), update_before_backward(False)
    details = ["where they differ: change w from 2 to 6 after w * w saved it, then backward()",
               f"  through .data: gradient {silent:g}, silently (the true d(w*w)/dw at 2 is 4)",
               f"  under torch.no_grad(): {type(loud).__name__}: {str(loud).split(':')[0]}"]
    return Result(f"the two paths are {'identical, bit for bit,' if same else 'DIFFERENT'} "
                  f"over {steps_text(with_data.steps)}: final w={with_data.path[-1][0]:+.6f} "
                  f"b={with_data.path[-1][1]:+.6f}", details=details)


def update_before_backward(through_data):
    """The mistake the two forms treat differently: changing w (from 2 to 6) after a
    forward pass that saved it, then calling backward(). d(w*w)/dw at w = 2 is 4.
    Returns the gradient autograd gives, or the error it raises."""
    w = torch.tensor(2.0, requires_grad=True)
    square = w * w  # saves w for the backward pass
    if through_data:
        w.data = w.data * 3
    else:
        with torch.no_grad():
            w *= 3
    try:
        square.backward()
    except RuntimeError as error:
        return error
    return w.grad.item()


def summed_bound(X):
    """The stability bound of the summed loss: its Hessian is n times the mean's."""
    return stability_bound(X) / len(X)


def summed_loss(setting):
    X, Y, steps = setting.X, setting.Y, setting.steps
    X_big, Y_big = make_data(n=100 * len(X), **setting.made)
    n, n_big = len(X), len(X_big)
    small = run_loop(step_summed_loss, X, Y, SUMMED_LR, steps,
                     f"summed loss, lr {SUMMED_LR:g}, n={n}")
    big = run_loop(step_summed_loss, X_big, Y_big, SUMMED_LR, steps,
                   f"summed loss, lr {SUMMED_LR:g}, n={n_big:,}")
    right = run_loop(correct_step, X_big, Y_big, LR, steps, f"mean loss, lr {LR:g}, n={n_big:,}")
    tutorial_lr = [run_loop(step_summed_loss, data, targets, LR, steps, "")
                   for data, targets in ((X, Y), (X_big, Y_big))]
    details = [f"stability bound, summed loss: {summed_bound(X):.3g} at n={n}, "
               f"{summed_bound(X_big):.3g} at n={n_big:,}; mean loss: {stability_bound(X):.3g} "
               f"and {stability_bound(X_big):.3g}",
               f"lr {LR:g} with the summed loss: {describe(tutorial_lr[0])} at n={n}; "
               f"{describe(tutorial_lr[1])} at n={n_big:,}",
               f"(lr {SUMMED_LR:g} on the sum of {n} losses is lr {SUMMED_LR * n:g} on their mean)"]
    seen = (f"lr {SUMMED_LR:g} works at n={n} ({describe(small)}) and fails at n={n_big:,} "
            f"({describe(big)})")
    return Result(seen, [big, small, right], details)


def scaled_data(seed=42, slope=-5.0, noise=0.4, scale=10.0):
    """The same line y = slope*x over x times `scale`: x on [-50, 50) for scale 10."""
    X, Y = make_data(seed=seed, slope=slope * scale, noise=noise)
    return X * scale, Y


def unscaled_inputs(setting):
    X_wide, Y_wide = scaled_data(**setting.made)
    X_standard = standardise(X_wide)
    wrong = run_loop(correct_step, X_wide, Y_wide, LR, setting.steps,
                     f"x in [-50, 50), lr {LR:g}")
    right = run_loop(correct_step, X_standard, Y_wide, LR, setting.steps,
                     f"x standardised, lr {LR:g}")
    details = [f"stability bound: {stability_bound(setting.X):.4g} for x in [-5, 5), "
               f"{stability_bound(X_wide):.4g} for x in [-50, 50), "
               f"{stability_bound(X_standard):.4g} once standardised",
               f"standardised: {describe(right)}"]
    return Result(f"x in [-50, 50), lr {LR:g}: {describe(wrong)}", [wrong, right], details)


def step_too_big(setting):
    X, Y = setting.X, setting.Y
    bound = stability_bound(X)
    wrong = run_loop(correct_step, X, Y, BIG_LR, UNTIL_NAN, f"lr {BIG_LR:g} (bound {bound:.3g})",
                     until_nan=True)
    right = run_loop(correct_step, X, Y, LR, setting.steps, f"lr {LR:g}")
    first_huge = next((i for i, loss in enumerate(wrong.losses)
                       if has_diverged(loss, wrong.losses[0])), None)
    first_inf = next((i for i, loss in enumerate(wrong.losses) if math.isinf(loss)), None)
    if first_inf is None or wrong.stopped != "nan":
        seen = f"lr {BIG_LR:g}: {describe(wrong)}"
    else:
        seen = (f"lr {BIG_LR:g}: the loss passes a million times its start at step "
                f"{first_huge}, overflows to inf at step {first_inf}, NaN at step {wrong.steps}")
        wrong.label += f": inf at step {first_inf}, NaN at step {wrong.steps}"
    details = [f"stability bound from the data: 2 / largest Hessian eigenvalue = {bound:.4f}",
               f"lr {LR:g}, inside it: {describe(right)}"]
    return Result(seen, [wrong, right], details)


@dataclass
class Pitfall:
    name: str
    title: str
    run: object  # a function of the Setting, returning a Result
    why: str
    fix: str


PITFALLS = [
    Pitfall("no-zero-grad", "Gradients never zeroed", no_zero_grad,
            "backward() adds into .grad, so step k moves along the sum of all k gradients "
            "so far: the descent keeps all its past speed (momentum with no friction) and "
            "circles the minimum instead of settling",
            "zero after each update: w.grad.data.zero_() (or w.grad = None)"),
    Pitfall("rebind", "w = w - lr * w.grad (rebinding)", rebind,
            "w now names a new tensor computed from the old one: not a leaf, so autograd "
            "keeps no .grad for it and the next line that reads w.grad finds None",
            "update the tensor itself: w.data = w.data - lr * w.grad.data, or "
            "`with torch.no_grad(): w -= lr * w.grad`"),
    Pitfall("in-place-leaf", "w -= lr * w.grad outside torch.no_grad()", in_place_leaf,
            "w is a leaf, where autograd's graph starts; an in-place change of it would "
            "itself have to be recorded in the graph, making w a computed tensor, so "
            "autograd refuses it",
            "wrap the update: `with torch.no_grad(): w -= lr * w.grad`"),
    Pitfall("data-vs-no-grad", "w.data = ... against torch.no_grad()", data_vs_no_grad,
            "both change w's values without recording the change; torch.no_grad() is "
            "preferred because autograd still counts the change and will object if a saved "
            "tensor was modified, while a change through .data goes unseen and a mistake "
            "there is silent",
            "none needed here (same numbers); in new code prefer "
            "`with torch.no_grad(): w -= lr * w.grad`"),
    Pitfall("summed-loss", "Summed loss instead of mean", summed_loss,
            "the summed loss is n times the mean, so its gradient and Hessian are n times "
            "larger and the stable step size n times smaller: a step that works at one n "
            "diverges at another",
            "average: torch.mean(...) (or divide the sum by n), so lr does not depend on n"),
    Pitfall("unscaled-x", "Unscaled inputs", unscaled_inputs,
            "x ten times wider makes the Hessian's largest eigenvalue (about 2 * mean x^2) "
            "about 100 times larger, and the stable step 100 times smaller",
            "standardise x: (x - x.mean()) / x.std(), then map w and b back if needed"),
    Pitfall("lr-too-big", "A step size past the bound", step_too_big,
            "past 2 / largest Hessian eigenvalue each step overshoots the minimum by more "
            "than it started, so the error is multiplied every step until float32 overflows",
            "keep lr below the bound (train_batch.py warns when it is not); halve it until "
            "the loss falls"),
]
BY_NAME = {pitfall.name: pitfall for pitfall in PITFALLS}


def report(number, pitfall, result):
    lines = [f"{number}. {pitfall.name}: {pitfall.title}",
             f"   you see: {result.seen}"]
    lines += [f"            {detail}" for detail in result.details]
    lines += [f"   why:     {pitfall.why}", f"   fix:     {pitfall.fix}"]
    return lines


TEST_ARGS = ["--epochs", "2"]  # the fast setting the smoke tests run
# The knobs, {name: (type, interval, help)}, beside their defaults; the data's are
# data.OPTIONS'. --only, a name given as often as one likes, is main()'s own.
OPTIONS = {
    "list": (bool, None, "list the pitfalls' names and exit"),
    # Each pitfall runs whole loops on up to 10,000 points: keep a run to seconds.
    "epochs": (int, "[1, 1000]", "steps of each loop (the step-size pitfall runs until NaN)"),
}
DEFAULTS = {"list": False, "epochs": 20,
            **{name: data.DEFAULTS[name] for name in ("slope", "noise", "seed")}}


def print_list():
    for number, pitfall in enumerate(PITFALLS, 1):
        print(f"{number}. {pitfall.name:<16} {pitfall.title}")


def run_and_report(chosen, setting):
    """Run each chosen pitfall and print its report as it ends; returns the runs to draw,
    {"N. title": runs}."""
    drawn = {}
    for pitfall in chosen:
        number = PITFALLS.index(pitfall) + 1
        result = pitfall.run(setting)
        print("\n".join(report(number, pitfall, result)), end="\n\n", flush=True)
        if result.runs:
            drawn[f"{number}. {pitfall.title}"] = result.runs
    return drawn


def draw(chosen, drawn):
    """{file name: figure}: a run of some pitfalls gets a file of its own, so it never
    overwrites the full figure."""
    from plots.pitfalls import plot_pitfalls  # only now: matplotlib's backend has been chosen

    name = "pitfalls.png" if len(chosen) == len(PITFALLS) else (
        "pitfalls-" + "+".join(pitfall.name for pitfall in chosen) + ".png")
    return {name: plot_pitfalls(drawn)}


def main(argv=None):
    from plumbing import options, output

    parser = options.Parser("The mistakes learners make in the hand-written loop, run and "
                            "explained beside the correct loop.")
    parser.add_argument("--only", choices=list(BY_NAME), metavar="NAME",
                        action=options.at_most(len(BY_NAME), append=True),
                        help=f"run only this pitfall (repeat for several, at most {len(BY_NAME)}; "
                             "see --list)")
    options.add_settings(parser, DEFAULTS, OPTIONS, data.OPTIONS)
    args, out_dir = options.parse(parser, argv)
    if args.list:
        print_list()
        return
    chosen = [pitfall for pitfall in PITFALLS if args.only is None or pitfall.name in args.only]
    made = {"seed": args.seed, "slope": args.slope, "noise": args.noise}
    X, Y = make_data(**made)
    print(f"data: n={len(X)} points of y = {args.slope:g}*x + N(0, {args.noise:g}^2) noise, "
          f"seed {args.seed}; start w={START[0]:g} b={START[1]:g}, "
          f"{steps_text(args.epochs)} of batch descent\n")
    drawn = run_and_report(chosen, Setting(X, Y, steps=args.epochs, made=made))
    if not drawn:
        print(f"no figure: {'this pitfall has' if len(chosen) == 1 else 'these pitfalls have'} "
              "no loss history to draw")
        return
    figures = draw(chosen, drawn)
    output.save_figures(out_dir, figures)
    output.show_figures(figures, args.show)


if __name__ == "__main__":
    run_as_command(main)
