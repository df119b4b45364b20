"""Command-line plumbing shared by the scripts: argument types, the output folder, figures.

Nothing here is about gradient descent; it keeps each script's main() short and makes
every script refuse bad input the same way (one line, exit status 2, no traceback).
"""

import argparse
import math
import os
import signal
import sys
import tempfile


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

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


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
                        help="number of data points on [-5, 5) (default: 100)")
    parser.add_argument("--slope", type=finite_float, default=None,
                        help="true slope of the line (default: -5)")
    parser.add_argument("--noise", type=nonnegative_float, default=None,
                        help="standard deviation of the Gaussian noise (default: 0.4)")
    parser.add_argument("--seed", type=seed_int, default=None,
                        help="seed of the data's noise (default: 42)")
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
        return X, Y, f"{len(X)} points from {args.data}"
    made = {name: DEFAULTS[name] if value is None else value for name, value in made.items()}
    X, Y = make_data(**made)
    return X, Y, (f"n={made['n']} points of y = {made['slope']:g}*x + N(0, {made['noise']:g}^2) "
                  f"noise, seed {made['seed']}")


def add_training_args(parser, lr, epochs):
    """The knobs every training script shares, with the script's own defaults."""
    parser.add_argument("--lr", type=positive_float, default=lr, help="step size")
    parser.add_argument("--epochs", type=positive_int, default=epochs,
                        help="passes over the data")
    parser.add_argument("--w0", type=finite_float, default=-10.0, help="starting slope w")
    parser.add_argument("--b0", type=finite_float, default=-20.0, help="starting intercept b")
    add_data_args(parser)
    add_output_args(parser)


def add_side_by_side_args(parser):
    """The knobs of scripts that run batch descent and SGD side by side on the same data."""
    parser.add_argument("--epochs", type=positive_int, default=20,
                        help="passes over the data, for every run")
    parser.add_argument("--batch-lr", type=positive_float, default=0.1,
                        help="step size of batch gradient descent")
    parser.add_argument("--sgd-lr", type=positive_float, default=0.01,
                        help="step size of SGD (batch size 1)")
    parser.add_argument("--order-seed", type=seed_int, default=42,
                        help="seed of the per-epoch shuffling (SGD and mini-batches)")
    add_data_args(parser)
    add_output_args(parser)


def exit_if_diverged(parser, history, updates_per_epoch, lr, bound, rule, label=""):
    """End the run with one line and exit status 1 if it diverged; no figure is written."""
    from descent import divergence_report

    report = divergence_report(history, updates_per_epoch, lr, bound, rule)
    if report is not None:
        parser.exit(1, f"{parser.prog}: error: {label}{report}\n")


def print_summary(X, Y, history):
    """Print the least-squares fit, then the run's final line: (w, b) and the loss there."""
    from model import final_loss, least_squares

    ls_w, ls_b, ls_loss = least_squares(X, Y)
    print(f"least squares: w={ls_w:+.6f} b={ls_b:+.6f} loss={ls_loss:.6f}")
    print(f"final: w={history.w:+.6f} b={history.b:+.6f} loss={final_loss(X, Y, history):.6f} "
          f"({history.updates} update{'' if history.updates == 1 else 's'})")


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

    Returns (args, out_dir). The figure backend is Agg unless --show asked for a window,
    so no run ever blocks or needs a display.
    """
    # Piping into `head` should end the output quietly, not with a BrokenPipeError;
    # set before parsing, since --help (and --list) print while parsing.
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = parser.parse_args(argv)
    import matplotlib

    if not args.show:
        matplotlib.use("Agg")
    return args, prepare_out_dir(parser, args.out)


def prepare_out_dir(parser, out):
    """Check, before any work, that the output folder can take files; create nothing yet.

    The folder (or, if it does not exist, the nearest folder above it that does) must be a
    writable folder. save_figures creates it when there is something to write.
    """
    existing = os.path.abspath(out)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        parser.error(f"--out {out!r}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        parser.error(f"cannot write figures to --out {out!r}: {existing} is not writable")
    return out


def write_atomically(path, write):
    """Call write(temporary_path) beside `path`, then rename: a failed write leaves no half file."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".partial-", suffix=suffix)
    os.close(handle)
    try:
        write(temporary)
        # mkstemp makes the file private (0600); give it the permissions a plain save would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def save_figure(figure, path):
    write_atomically(path, lambda temporary: figure.savefig(temporary, dpi=110))


def save_figures(out_dir, figures):
    """Save each named figure into out_dir (created if missing) and say where."""
    os.makedirs(out_dir, exist_ok=True)
    for name, figure in figures.items():
        path = os.path.join(out_dir, name)
        save_figure(figure, path)
        print(f"wrote {os.path.abspath(path)}")


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

