"""The command line: bounded numbers, the shared options declared once, one-line errors.

A setting is declared as (type, interval, help): `(float, "(0, inf)", "step size")`. The
interval is written as in mathematics, a bracket including its end and a parenthesis
excluding it, and becomes the check, the words of `--help` and the error message. Its flag
is the name with dashes: order_seed is --order-seed.
"""

import argparse
import contextlib
import math
import os
import re
import tempfile

from plumbing.output import nearest_existing

# No run should go silent for hours: a cap on epochs (in SHARED), and on the updates of a
# run (at about 0.2 ms an update here, a million take a few minutes).
MAX_UPDATES = 1_000_000
MAX_SAMPLES = 1_000_000_000  # samples processed by a run: epochs * n


def path(text):
    """An argparse type: a file or folder name, never empty (`--out ""` is no folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is empty: give a file or folder name")
    return text


# The options the scripts share, declared as add_settings reads them.
# A step size at most 1e38: torch.optim keeps it in float32 (whose largest is 3.4e38).
SHARED = {
    "lr": (float, "(0, 1e38]", "step size"),
    "epochs": (int, "[1, 100_000]",
               f"passes over the data (at most {MAX_UPDATES:,} updates and {MAX_SAMPLES:,} "
               "samples a run)"),
    "batch_size": (int, "[1, inf)", "samples per update: 1 is SGD, more is mini-batch descent; "
                   "a number above the data's size takes all the samples, batch descent"),
    "order_seed": (int, f"[0, {2**63 - 1}]", "seed of the per-epoch shuffling of the samples"),
    "w0": (float, "[-1e6, 1e6]", "starting slope w"),
    "b0": (float, "[-1e6, 1e6]", "starting intercept b"),
    "batch_lr": (float, "(0, 1e38]", "step size of batch gradient descent"),
    "sgd_lr": (float, "(0, 1e38]", "step size of SGD (batch size 1)"),
    "device": (str, ["cpu", "cuda"], "where the tensors live and the arithmetic runs: the CPU, "
               "or an NVIDIA GPU (cuda)"),
    "data": (path, None, "train on this CSV instead: a header row naming columns x and y",
             {"metavar": "FILE.csv"}),
    "out": (path, None, "folder the figures are written to (created if missing)"),
    "show": (bool, None, "also open the figures in a window (needs a display)"),
}


def ends(kind, interval):
    """(opening, low, high, closing) of an interval; the ends exact for whole numbers."""
    low, high = (float(end) if kind is float or "inf" in end else int(end)
                 for end in interval[1:-1].split(","))
    return interval[0], low, high, interval[-1]


def within(value, kind, interval):
    """Whether `value` lies in `interval`, its ends included or not as the brackets say."""
    opening, low, high, closing = ends(kind, interval)
    return low < value < high or (value, opening) == (low, "[") or (value, closing) == (high, "]")


def limits(kind, interval):
    """The interval in words, e.g. "a whole number from 1 to 100,000"."""
    opening, low, high, closing = ends(kind, interval)
    word = "whole number" if kind is int else "finite number" if math.isinf(high) else "number"
    show = "{:,}".format if kind is int else (
        lambda end: f"{end:g}".replace("e+0", "e").replace("e+", "e"))
    if math.isinf(high):
        return f"a {word} {'of at least' if opening == '[' else 'above'} {show(low)}"
    start = f"from {show(low)}" if opening == "[" else f"above {show(low)},"
    end = "up to (not including)" if closing == ")" else "to" if opening == "[" else "up to"
    return f"a {word} {start} {end} {show(high)}"


def number(kind, interval):
    """An argparse type: an int or a float within `interval`, refused in one line."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if not within(value, kind, interval):
            raise argparse.ArgumentTypeError(f"{text!r} must be {limits(kind, interval)}")
        return value

    return parse


def flag(name):
    return "--" + name.replace("_", "-")


def add_settings(parser, defaults, *declarations):
    """An option for each setting in `defaults` ({name: default}), as the first of
    `declarations` or SHARED declares it: (type, interval, help) for a number; (bool, None,
    help) for a switch; (str, [choices], help) for a choice (None: any text); (path, None,
    help) for a file. A fourth entry, a dict, holds more of argparse's keywords (nargs,
    action, metavar), `most`: the most values a list option takes, or `shown`: the default
    --help states where the default is None."""
    for name, default in defaults.items():
        kind, interval, text, *more = next(found[name] for found in (*declarations, SHARED)
                                           if name in found)
        more = dict(*more)
        shown, most = more.pop("shown", default), more.pop("most", None)
        if kind is bool:
            more["action"] = "store_true"
        elif kind in (int, float):
            text, more["type"] = f"{text}; {limits(kind, interval)}", number(kind, interval)
        else:
            more.update(type=kind, choices=interval)
        if most is not None:
            text, more["action"] = f"{text}; at most {most} of them", at_most(
                most, more.get("action") == "append")
        if shown is not None and shown is not False:
            text += f" (default: {shown})"
        parser.add_argument(flag(name), dest=name, default=default, help=text, **more)


def at_most(count, append=False):
    """An argparse action for a list option (or, with append=True, an option given again
    for each value): more than `count` values refused in one line, at once."""
    class AtMost(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            values = [*(getattr(namespace, self.dest) or []), values] if append else values
            if len(values) > count:
                parser.error(f"{option_string}: {len(values):,} values; the limit is {count}")
            setattr(namespace, self.dest, values)
    return AtMost


class Parser(argparse.ArgumentParser):
    """argparse, with errors kept to one line."""

    def __init__(self, description):
        super().__init__(description=description, allow_abbrev=False)  # --epoch is a typo
        # What argparse takes for a negative number, not an option: "-1" and "-1.5", but
        # not "-1e30" and "-inf" (before Python 3.13). No option here looks like a number.
        self._negative_number_matcher = re.compile(r"-(\d|\.\d|inf|nan)", re.IGNORECASE)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def add_data_args(parser, data):
    """Where the data comes from: a generated line, with the options `data.OPTIONS`
    declares (None where not given: `data.DEFAULTS`), or a CSV file of one's own (--data)."""
    add_settings(parser, dict.fromkeys([*data.OPTIONS, "data"]),
                 {name: (*declared, {"shown": f"{data.DEFAULTS[name]:g}"})
                  for name, declared in data.OPTIONS.items()})


def add_variants(parser, name, variants, declarations, help, default=None):
    """--NAME, one of `variants` ({choice: {setting: its default}}), and an option for each
    setting `declarations` declares, its help naming the choices that take it and their
    defaults."""
    add_settings(parser, {name: default}, {name: (str, list(variants), help)})
    for setting, declared in declarations.items():
        takers = [f"{choice} {defaults[setting]:g}" for choice, defaults in variants.items()
                  if setting in defaults]
        add_settings(parser, {setting: None},
                     {setting: (*declared, {"shown": ", ".join(takers) or None})})


def chosen_settings(parser, args, chosen, variants, declarations, what):
    """The settings of variant `chosen`: its defaults, with what the command line gave. A
    setting given for a variant that does not take it is refused in one line."""
    for setting in declarations:
        takers = [choice for choice, defaults in variants.items() if setting in defaults]
        if getattr(args, setting) is not None and chosen not in takers:
            parser.error(f"{flag(setting)} is an option of {what} {' or '.join(takers)}, "
                         f"not of {chosen}")
    return {setting: default if getattr(args, setting) is None else getattr(args, setting)
            for setting, default in variants[chosen].items()}


def check_device(parser, device):
    """Refuse --device cuda in one line where torch finds no GPU."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch finds no CUDA GPU here "
                     "(torch.cuda.is_available() is False); --device cpu runs everywhere")


def check_threads(parser, threads):
    """Refuse, in one line, more threads than the machine's cores (they would take turns)."""
    if threads is not None and threads > (os.cpu_count() or 1):
        parser.error(f"--threads {threads}: this machine has {os.cpu_count()} CPU cores "
                     "(os.cpu_count()); more threads than cores would only take turns")


def check_work(parser, epochs, n, batch_size, runs=1):
    """Refuse, in one line, `runs` runs of more than MAX_UPDATES updates (or MAX_SAMPLES
    samples) in all: a command's work is bounded, not only each run's."""
    updates, samples = runs * epochs * -(-n // batch_size), runs * epochs * n
    if updates > MAX_UPDATES or samples > MAX_SAMPLES:
        parser.error(f"{f'{runs:,} runs of ' if runs > 1 else ''}{epochs:,} epochs on {n:,} "
                     f"samples in batches of {batch_size:,} is {updates:,} updates over "
                     f"{samples:,} samples; the limit is {MAX_UPDATES:,} updates and "
                     f"{MAX_SAMPLES:,} samples{' in all' if runs > 1 else ''} (fewer --epochs)")


def parse(parser, argv):
    """Add --out and --show, parse, refuse bad input, and set up for the run before any
    work is done.

    Returns (args, out_dir). Figures are drawn with Agg, which needs no display, unless
    --show asked for a window; an MPLBACKEND naming a backend that does not exist then
    only costs the window.
    """
    add_settings(parser, {"out": "figures", "show": False})
    args = parser.parse_args(argv)
    requested = os.environ.get("MPLBACKEND")
    # matplotlib reads MPLBACKEND when it is first imported, and an unknown name fails
    # there: so it starts on Agg, and --show switches to the asked-for backend afterwards
    # (or, with none asked for, lets matplotlib pick one that works here).
    if not args.show or requested:
        os.environ["MPLBACKEND"] = "Agg"
        import matplotlib.pyplot as plt

        with contextlib.suppress(ValueError, ImportError, RuntimeError):  # show_figures says so
            plt.switch_backend(requested if args.show else "Agg")
    return args, prepare_out_dir(parser, args.out)


def prepare_out_dir(parser, out, option="--out"):
    """Check, before any work, that the output folder (or the nearest folder above it that
    exists) is a folder in which a file can be made; leave nothing behind."""
    existing = nearest_existing(out)
    if not os.path.isdir(existing):
        parser.error(f"{option} {out!r}: {existing} is not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".write-check-", dir=existing))
    except OSError as error:
        parser.error(f"cannot write to {option} {out!r}: {existing}: "
                     f"{error.strerror or error}")
    return out
