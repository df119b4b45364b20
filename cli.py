"""Command-line plumbing shared by the scripts: argument types, the output folder, figures.

Nothing here is about gradient descent; it keeps each script's main() short and makes
every script behave the same way at its edges: bad input is refused in one line with exit
status 2 before any work; a run writes its files all at once or not at all (output.py);
Ctrl-C, SIGTERM and errors of the operating system end it in one line, never a traceback.
"""

import argparse
import errno
import math
import os
import re
import signal
import sys

from output import Output


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default in --help, except where there is none to show."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse, with every default shown in --help and errors kept to one line."""

    def __init__(self, description):
        super().__init__(description=description, formatter_class=DefaultsFormatter)
        # Read -1e30 and -inf as values, not as options (argparse only knows -1 and -1.5).
        self._negative_number_matcher = re.compile(
            r"^-(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def short(value):
    """A step size or bound in a message: four decimals (0.1200), or three significant
    digits once four decimals would show nothing (1.2e-06)."""
    return f"{value:.4f}" if abs(value) >= 0.001 else f"{value:.3g}"


def finite_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_float(text):
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number above 0")
    return value


def nonnegative_float(text):
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number of at least 0")
    return value


def bounded_float(smallest, largest, above=False):
    """An argparse type: a number from `smallest` (or, with above=True, above it) to `largest`."""
    def parse(text):
        value = finite_float(text)
        if value < smallest or (above and value == smallest) or value > largest:
            low = "above" if above else "from"
            raise argparse.ArgumentTypeError(
                f"{text!r} must be a number {low} {smallest:g} to {largest:g}")
        return value

    return parse


# The data must stay far inside float32 with its squared errors: |y| up to about 1e7.
slope_value = bounded_float(-1e6, 1e6)
noise_value = bounded_float(0.0, 1e6)


def _integer(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def positive_int(text):
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number of at least 1")
    return value


# Ten million points already take about a gigabyte in the benchmark; far more would fail
# deep inside torch's allocator instead of here.
MAX_DATA_SIZE = 10_000_000


def bounded_int(smallest, largest):
    """An argparse type: a whole number from `smallest` to `largest`."""
    def parse(text):
        value = _integer(text)
        if not smallest <= value <= largest:
            raise argparse.ArgumentTypeError(
                f"{text!r} must be a whole number from {smallest:,} to {largest:,}")
        return value

    return parse


# At least two points: one point lies on every line, so "the best fit" would mean nothing.
data_size = bounded_int(2, MAX_DATA_SIZE)


def seed_int(text):
    value = _integer(text)
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number from 0 to 2**63 - 1")
    return value


def add_data_args(parser):
    """Where the data comes from: the tutorial's line (--n, --slope, --noise, --seed) or a
    CSV file of one's own (--data). Read them with load_data."""
    parser.add_argument("--n", type=data_size, default=None,
                        help=f"number of data points on [-5, 5), 2 to {MAX_DATA_SIZE:,} "
                             "(default: 100)")
    parser.add_argument("--slope", type=slope_value, default=None,
                        help="true slope of the line, from -1e6 to 1e6 (default: -5)")
    parser.add_argument("--noise", type=noise_value, default=None,
                        help="standard deviation of the Gaussian noise, from 0 to 1e6 "
                             "(default: 0.4)")
    parser.add_argument("--seed", type=seed_int, default=None,
                        help="seed of the data's noise, 0 to 2**63 - 1 (default: 42)")
    parser.add_argument("--data", metavar="FILE.csv", default=None,
                        help="train on this CSV instead: a header row naming columns x and y")


def load_data(parser, args):
    """X, Y and a few words saying what they are, from the options of add_data_args.

    A file that cannot be used is refused in one line with exit status 2.
    """
    from data import DEFAULTS, make_data, read_csv

    made = {name: getattr(args, name) for name in DEFAULTS}
    if args.data is not None:
        given = [f"--{name}" for name, value in made.items() if value is not None]
        if given:
            parser.error(f"{', '.join(given)}: for generated data, not with --data")
        try:
            X, Y = read_csv(args.data)
        except ValueError as error:
            parser.error(f"--data {args.data}: {error}")
        if X.min() == X.max():
            parser.error(f"--data {args.data}: every x is {X[0].item():g}, so no single "
                         "line fits best (any line through their mean y does)")
        return X, Y, f"{len(X)} points from {args.data}"
    made = {name: DEFAULTS[name] if value is None else value for name, value in made.items()}
    X, Y = make_data(**made)
    return X, Y, (f"n={made['n']} points of y = {made['slope']:g}*x + N(0, {made['noise']:g}^2) "
                  f"noise, seed {made['seed']}")


# No run should go silent for hours: a cap on epochs, and on the updates of a run (at about
# 0.2 ms an update here, a million take a few minutes).
MAX_EPOCHS = 100_000
MAX_UPDATES = 1_000_000
MAX_SAMPLES = 1_000_000_000  # samples processed by a batch run: epochs * n


def check_work(parser, epochs, n, batch_size):
    """Refuse, in one line, a run of more than MAX_UPDATES updates (or MAX_SAMPLES samples)."""
    updates = epochs * -(-n // batch_size)
    if updates > MAX_UPDATES or epochs * n > MAX_SAMPLES:
        parser.error(f"{epochs:,} epochs on {n:,} samples in batches of {batch_size:,} is "
                     f"{updates:,} updates over {epochs * n:,} samples; the limit is "
                     f"{MAX_UPDATES:,} updates and {MAX_SAMPLES:,} samples (fewer --epochs)")


def add_training_args(parser, lr, epochs):
    """The knobs every training script shares, with the script's own defaults."""
    parser.add_argument("--lr", type=positive_float, default=lr, help="step size")
    parser.add_argument("--epochs", type=bounded_int(1, MAX_EPOCHS), default=epochs,
                        help=f"passes over the data, 1 to {MAX_EPOCHS:,} (and at most "
                             f"{MAX_UPDATES:,} updates)")
    parser.add_argument("--w0", type=finite_float, default=-10.0, help="starting slope w")
    parser.add_argument("--b0", type=finite_float, default=-20.0, help="starting intercept b")
    add_data_args(parser)
    add_output_args(parser)


def add_side_by_side_args(parser):
    """The knobs of scripts that run batch descent and SGD side by side on the same data."""
    parser.add_argument("--epochs", type=bounded_int(1, MAX_EPOCHS), default=20,
                        help=f"passes over the data, for every run, 1 to {MAX_EPOCHS:,} (and "
                             f"at most {MAX_UPDATES:,} updates of SGD)")
    parser.add_argument("--batch-lr", type=positive_float, default=0.1,
                        help="step size of batch gradient descent")
    parser.add_argument("--sgd-lr", type=positive_float, default=0.01,
                        help="step size of SGD (batch size 1)")
    parser.add_argument("--order-seed", type=seed_int, default=42,
                        help="seed of the per-epoch shuffling of the samples")
    add_data_args(parser)
    add_output_args(parser)


def exit_if_diverged(parser, history, updates_per_epoch, lr, bound, rule, label=""):
    """End the run with one line and exit status 1 if it diverged; no figure is written."""
    from descent import divergence_report

    report = divergence_report(history, updates_per_epoch, lr, bound, rule)
    if report is not None:
        parser.exit(1, f"{parser.prog}: error: {label}{report}\n")


def print_summary(X, Y, history, average_from=None, updates_per_epoch=1):
    """Print the least-squares fit, then the run's final line: (w, b) and the loss there.

    With average_from=E the run's result is the average of its points from epoch E on
    (model.averaged_point), and the final line says so.
    """
    from model import averaged_point, final_loss, full_loss_along, least_squares

    ls_w, ls_b, ls_loss = least_squares(X, Y)
    print(f"least squares: w={ls_w:+.6f} b={ls_b:+.6f} loss={ls_loss:.6f}")
    updates = f"{history.updates} update{'' if history.updates == 1 else 's'}"
    if average_from is None:
        print(f"final: w={history.w:+.6f} b={history.b:+.6f} "
              f"loss={final_loss(X, Y, history):.6f} ({updates})")
        return
    print(f"last point: w={history.w:+.6f} b={history.b:+.6f} "
          f"loss={final_loss(X, Y, history):.6f} ({updates})")
    w, b, count = averaged_point(history, updates_per_epoch, average_from)
    loss = float(full_loss_along(X, Y, [(w, b)])[0])
    print(f"final: w={w:+.6f} b={b:+.6f} loss={loss:.6f} (the average of the {count:,} points "
          f"from epoch {average_from} on)")


# Settling SGD: step-size schedules, the way samples are drawn, and iterate averaging.

# Each schedule option's value when its schedule is chosen without it.
SCHEDULE_DEFAULTS = {"step": {"step_size": 10, "gamma": 0.5}, "exponential": {"gamma": 0.95},
                     "inverse-time": {"decay": 0.1}}


def unit_gamma(text):
    value = finite_float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number above 0, up to 1")
    return value


def add_settling_args(parser):
    """--schedule and its options, --sampling and --average-from (train_sgd.py's knobs for
    making SGD settle). Check them with check_settling_args."""
    from schedules import SCHEDULES

    parser.add_argument("--schedule", choices=list(SCHEDULES), default="constant",
                        help="how the step size changes, once per epoch")
    parser.add_argument("--step-every", dest="step_size", type=positive_int, default=None,
                        metavar="K", help="step schedule: multiply the step size by --gamma "
                        "every K epochs (StepLR's step_size; default 10)")
    parser.add_argument("--gamma", type=unit_gamma, default=None,
                        help="step and exponential schedules: the factor, above 0 up to 1 "
                             "(default 0.5 for step, 0.95 for exponential)")
    parser.add_argument("--decay", type=positive_float, default=None,
                        help="inverse-time schedule: lr / (1 + decay * epoch) (default 0.1)")
    parser.add_argument("--sampling", choices=["reshuffle", "replacement"], default=None,
                        help="each epoch every sample once in a fresh order (the default), or "
                             "n samples drawn at random with replacement")
    parser.add_argument("--average-from", type=positive_int, default=None, metavar="E",
                        help="report the average of (w, b) over every update from epoch E on "
                             "(Polyak-Ruppert averaging), 1 to --epochs")


def check_settling_args(parser, args):
    """Refuse, in one line, settling options that do not fit together. Returns the
    schedule as a function of the epoch (None for a constant step); its options, defaults
    filled in, go to args.schedule_options."""
    from schedules import step_sizes

    flags = {"step_size": "--step-every", "gamma": "--gamma", "decay": "--decay"}
    for name, flag in flags.items():
        owners = [schedule for schedule, options in SCHEDULE_DEFAULTS.items() if name in options]
        if getattr(args, name) is not None and args.schedule not in owners:
            parser.error(f"{flag} is an option of --schedule {' or '.join(owners)}, "
                         f"not of {args.schedule}")
    if args.sampling is not None and args.no_shuffle:
        parser.error(f"--no-shuffle and --sampling {args.sampling}: the samples are either "
                     "in order or drawn at random")
    if args.step_size is not None and args.step_size >= args.epochs:
        parser.error(f"--step-every {args.step_size} is not before the last epoch, "
                     f"{args.epochs}: the step size would never change")
    if args.average_from is not None and args.average_from > args.epochs:
        parser.error(f"--average-from {args.average_from} is past the last epoch, "
                     f"{args.epochs}")
    args.schedule_options = {
        name: default if getattr(args, name) is None else getattr(args, name)
        for name, default in SCHEDULE_DEFAULTS.get(args.schedule, {}).items()}
    if args.schedule == "constant":
        return None
    return step_sizes(args.schedule, args.lr, args.epochs, args.schedule_options)


def schedule_text(args):
    """The schedule in words, with its options."""
    words = {"step": "multiplied by {gamma:g} every {step_size} epochs",
             "exponential": "multiplied by {gamma:g} every epoch",
             "cosine": f"a half cosine from {args.lr:g} towards 0 over {args.epochs} epochs",
             "inverse-time": f"{args.lr:g} / (1 + {{decay:g}} * epoch)"}
    return f"{args.schedule}, " + words[args.schedule].format(**args.schedule_options)


def add_output_args(parser, seed=False):
    """--out and --show; with seed=True also --seed, for scripts that make their own data."""
    if seed:
        parser.add_argument("--seed", type=seed_int, default=42, help="seed of the data's noise")
    parser.add_argument("--out", default="figures",
                        help="folder the figures are written to (created if missing)")
    parser.add_argument("--show", action="store_true",
                        help="also open the figures in a window (needs a display)")


def parse_args(parser, argv):
    """Parse, refuse bad input, and set up for the run before any work is done.

    Returns (args, out_dir). Figures are drawn with Agg, which needs no display, unless
    --show asked for a window; an MPLBACKEND naming a backend that does not exist then
    only costs the window.
    """
    args = parser.parse_args(argv)
    requested = os.environ.get("MPLBACKEND")
    # matplotlib reads MPLBACKEND when it is first imported, and an unknown name fails
    # there: so it starts on Agg, and --show switches to the asked-for backend afterwards
    # (or, with none asked for, lets matplotlib pick one that works here).
    if not args.show or requested:
        os.environ["MPLBACKEND"] = "Agg"
    import matplotlib

    if not args.show:
        matplotlib.use("Agg")
    elif requested:
        import matplotlib.pyplot as plt

        try:
            plt.switch_backend(requested)
        except (ValueError, ImportError, RuntimeError):
            # No usable window: show_figures says so in one line; the figures are saved.
            plt.switch_backend("Agg")
    return args, prepare_out_dir(parser, args.out)


def prepare_out_dir(parser, out, option="--out"):
    """Check, before any work, that the output folder can take files; leave nothing behind.

    The folder (or, if it does not exist, the nearest folder above it that does) must be a
    folder in which a file can be made: a trial folder is made there and removed. The
    files are put in place, all at once, when the run has made them.
    """
    import tempfile

    existing = os.path.abspath(out)
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        kind = "a link that leads to no folder" if os.path.islink(existing) else "a file"
        parser.error(f"{option} {out!r}: {existing} is {kind}, not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".write-check-", dir=existing))
    except OSError as error:
        parser.error(f"cannot write to {option} {out!r}: {existing}: "
                     f"{error.strerror or error}")
    return out


def save_figures(out_dir, figures, files=None):
    """Put other files ({name: write(path)}) and the figures ({name: figure}) into out_dir,
    all at once or not at all, and print the full path of each."""
    output = Output(out_dir)
    for name, write in (files or {}).items():
        output.add(name, write)
    for name, figure in figures.items():
        output.add_figure(name, figure)
    for path in output.commit():
        print(f"wrote {path}")


def show_figures(figures, show):
    """Open the figures in a window if asked (and possible), then close them."""
    import matplotlib.pyplot as plt

    if show:
        if plt.get_backend().lower() == "agg":
            print("note: no display available; the figures were saved only", file=sys.stderr)
        else:
            plt.show()
    for figure in figures.values():
        plt.close(figure)


# Running a script as a command.

class Terminated(Exception):
    """SIGTERM (or SIGHUP, the terminal closed, or SIGQUIT), raised like Ctrl-C's
    KeyboardInterrupt so that clean-up code runs. `status` is the shell's exit status for
    that signal."""

    def __init__(self, signum=signal.SIGTERM):
        super().__init__(signum)
        self.status = 128 + signum


def _raise_terminated(signum, frame):
    raise Terminated(signum)


class QuietWhenClosed:
    """Standard output that goes quiet once its reader is gone (`| head -1`), so the run
    still finishes and writes its files."""

    def __init__(self, stream):
        self.stream = stream
        self.closed_by_reader = False

    def write(self, text):
        if not self.closed_by_reader:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                self._close()
        return len(text)

    def flush(self):
        if not self.closed_by_reader:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._close()

    def _close(self):
        self.closed_by_reader = True
        # Point the descriptor at /dev/null: the interpreter's last flush then finds no
        # broken pipe to complain about.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self.stream.fileno())
        os.close(devnull)

    def __getattr__(self, name):
        return getattr(self.stream, name)


def error_text(error):
    """An operating-system error in one line: the path, then the reason."""
    reason = error.strerror or errno.errorcode.get(error.errno, "") or str(error)
    return f"{error.filename}: {reason}" if error.filename else reason


def run(main):
    """Run a script's main() as a command: Ctrl-C, SIGTERM, SIGHUP and SIGQUIT end it with
    `interrupted` (exit status 130, 143, 129 and 131), an error of the operating system with one
    line naming the path and the reason (exit status 1). Either way no file was changed
    (output.py)."""
    # A stream closed by the shell (`>&-`) is None: write to nowhere instead.
    sys.stdout = sys.stdout or open(os.devnull, "w")  # noqa: SIM115 (lives as long as the run)
    sys.stderr = sys.stderr or open(os.devnull, "w")  # noqa: SIM115
    for stream in (sys.stdout, sys.stderr):
        # A terminal that cannot show a character shows an escape instead of failing.
        stream.reconfigure(errors="backslashreplace")
    sys.stdout = QuietWhenClosed(sys.stdout)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, _raise_terminated)
    prog = os.path.basename(sys.argv[0])
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(_stopped(130, "interrupted"))
    except Terminated as stop:
        sys.exit(_stopped(stop.status, "interrupted"))
    except OSError as error:
        sys.exit(_stopped(1, f"{prog}: error: {error_text(error)}"))


def _stopped(status, message):
    sys.stdout.flush()
    try:
        print(message, file=sys.stderr)
    except (OSError, ValueError):
        pass  # no one is reading the errors either: the exit status says it
    return status
