"""The lines the scripts print, each written once: the tutorial's epoch line, the summary,
the step-size bound's warning and the divergence line. The scripts and the playground
print them through these functions, so a format changes in one place.
Importing this module only defines things.
"""


def short(value):
    """A step size or bound in a message: four decimals (0.1200), or three significant
    digits once four decimals would show nothing (1.2e-06)."""
    return f"{value:.4f}" if abs(value) >= 0.001 else f"{value:.3g}"


def epoch_line(epoch, loss, w, b, step_size=None):
    """The tutorial's progress line: the epoch, its loss, and (w, b) where it ended."""
    line = f"epoch {epoch:3d}: loss={loss:.6f} w={w:+.6f} b={b:+.6f}"
    return line if step_size is None else f"{line} lr={step_size:.6g}"


def least_squares_line(w, b, loss):
    return f"least squares: w={w:+.6f} b={b:+.6f} loss={loss:.6f}"


def final_line(w, b, loss, updates, label="final"):
    """The run's last line: where it ended, the full-data loss there, and after how much."""
    return f"{label}: w={w:+.6f} b={b:+.6f} loss={loss:.6f} ({updates})"


def count(number, thing):
    """3 updates, 1 update."""
    return f"{number} {thing}{'' if number == 1 else 's'}"


def bound_warning(name, lr, bound, rule):
    """The warning of a step size at or above the bound of `rule` (a stable step is below)."""
    return (f"warning: {name}={lr:g} is at or above the stability bound {short(bound)} of "
            f"{rule}; the loss may blow up")


def divergence_line(where, loss, lr, bound, rule):
    """Where a run diverged, and the bound of `rule` it broke (bound None: the rule has no
    fixed bound, an adaptive method)."""
    if bound is None:
        cause = f"{rule} has no fixed stability bound; try a smaller step size than {lr:g}"
    elif lr >= bound:
        cause = (f"step size {lr:g} is at or above the stability bound {short(bound)} of "
                 f"{rule}; try a step size below {short(bound)}")
    else:
        # Inside the bound the loss cannot grow: the float32 numbers themselves overflowed.
        cause = (f"step size {lr:g} is inside the stability bound {short(bound)} of {rule}, so "
                 "the float32 arithmetic overflowed: try a start (w0, b0) nearer 0")
    return f"diverged at {where}: loss {loss:.3g}; {cause}"


def bound_rule(batch_size, n):
    """Whose stability bound plain descent on batches of `batch_size` of n samples keeps:
    the `rule` of bound_warning and divergence_line."""
    if batch_size == 1:
        return "plain descent on single samples"
    if batch_size >= n:
        return "batch descent"
    return f"plain descent on the worst batch of {batch_size} samples"
