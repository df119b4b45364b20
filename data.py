"""The tutorial's data: a noisy line y = slope * x + noise. Or a CSV file of your own.

Importing this module only defines things; `python data.py` draws the data figure.
"""

from plumbing.run import run_as_command  # first: a stop while the libraries load is one line

# isort: split
import csv
import io
import math
import os
import reprlib
import stat
from array import array

import torch

# The tutorial's data: 100 points, y = -5x + N(0, 0.4^2) noise.
DEFAULTS = {"n": 100, "slope": -5.0, "noise": 0.4, "seed": 42}
# Ten million points already take about a gigabyte in the benchmark; far more would fail
# deep inside torch's allocator. The data must stay far inside float32 with its squared
# errors: |y| up to about 1e7.
MAX_SIZE = 10_000_000
# A CSV file of one's own (--data) is refused past these, before its values are read.
MAX_BYTES = 2**31  # 2 GiB: ten million rows of full-precision x, y and a few more columns
MAX_LINE = 10_000  # characters in one line
# The loss adds up the squared errors of every row in float32 (largest about 3.4e38). With
# values within 1e9 and a start within the starting options' 1e6, an error is at most about
# 1e15, its square 1e30, and ten million of them 1e37: the start's loss is finite whatever
# the file, and the bound's step size then trains. Larger values are refused.
MAX_VALUE = 1e9
# The data's command-line options: {name: (type, interval, help)} (plumbing/options.py).
OPTIONS = {
    "n": (int, f"[2, {MAX_SIZE}]", "number of data points on [-5, 5)"),
    "slope": (float, "[-1e6, 1e6]", "true slope of the line"),
    "noise": (float, "[0, 1e6]", "standard deviation of the Gaussian noise"),
    "seed": (int, f"[0, {2**63 - 1}]", "seed of the data's noise"),
}


def make_data(n=100, seed=42, slope=-5.0, noise=0.4):
    """Return X, Y of shape (n, 1), float32.

    X holds n evenly spaced points on [-5, 5): for n=100 that is -5.0, -4.9, ..., 4.9,
    the tutorial's `torch.arange(-5, 5, 0.1)`. The noise comes from its own generator
    seeded by `seed`, so the global random state is never touched.
    """
    if n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    # Build the grid in float64 and round once, so x is as close to -5 + 10*i/n as float32
    # allows (summing 0.1 steps in float32 drifts).
    x = -5.0 + 10.0 * torch.arange(n, dtype=torch.float64) / n
    X = x.to(torch.float32).reshape(n, 1)
    generator = torch.Generator().manual_seed(seed)
    Y = slope * X + noise * torch.randn(X.shape, generator=generator)
    return X, Y


def standardise(X):
    """x minus its mean, over its standard deviation: mean 0, mean square 1."""
    return (X - X.mean()) / X.std(correction=0)


def read_csv(path, max_rows=MAX_SIZE):
    """X, Y of shape (n, 1), float32, from the columns named x and y of a CSV file.

    Other columns are ignored. Raises ValueError, with a one-line reason, for a file that
    cannot be read, is not a plain file, is larger than the limits (MAX_BYTES, max_rows
    rows after the header, MAX_LINE characters a line), has no x or y column (or two), a
    row of more or fewer fields than the header, a value that is not a finite number or is
    past MAX_VALUE in size, or fewer than 2 rows. The file is opened once, and what was
    opened is checked (a name swapped for a pipe meanwhile cannot make it wait); the limits
    hold while it is read, so a file that grows, or says it is empty as /proc's files do, is
    refused at the limit.
    The values go straight into float32 arrays.
    """
    try:
        with open_plain(path, MAX_BYTES) as raw:
            count_lines(Bounded(raw), max_rows + 1)  # by the byte: a long file goes at once
            raw.seek(0)
            # utf-8-sig: a "CSV UTF-8" file saved by a spreadsheet starts with a byte-order mark.
            text = io.TextIOWrapper(io.BufferedReader(Bounded(raw)), encoding="utf-8-sig",
                                    newline="")
            X, Y = parse_csv(csv.reader(bounded_lines(text, max_rows + 1)))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ValueError(getattr(error, "strerror", None) or str(error)) from None
    if len(X) < 2:
        raise ValueError(f"{len(X)} data row{'' if len(X) == 1 else 's'}; "
                         "a line needs at least 2")
    X, Y = (torch.frombuffer(column, dtype=torch.float32).clone().reshape(-1, 1)
            for column in (X, Y))
    return X, Y


def open_plain(path, max_bytes):
    """The file `path` opened once, unbuffered, for reading bytes, and checked as opened:
    a plain file of at most max_bytes. Checking the open file, not its name, leaves no gap
    in which the name could be swapped for a pipe that makes the reader wait. Raises
    ValueError with a one-line reason, or OSError where it cannot be opened."""
    # O_NONBLOCK: opening a pipe does not wait for a writer (POSIX; Windows has none).
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                         | getattr(os, "O_BINARY", 0))
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode) or status.st_size > max_bytes:
        os.close(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise ValueError("not a plain file (a folder, a device or a pipe)")
        raise ValueError(f"{status.st_size:,} bytes; the limit is {max_bytes:,}")
    return open(descriptor, "rb", buffering=0)


class Bounded(io.RawIOBase):
    """A file read up to MAX_BYTES, and refused past them, however large it said it was."""

    def __init__(self, raw):
        self.raw, self.count = raw, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        read = self.raw.readinto(buffer)
        self.count += read or 0
        if self.count > MAX_BYTES:
            raise ValueError(f"more than {MAX_BYTES:,} bytes; the limit is {MAX_BYTES:,}")
        return read


def too_many_lines(max_lines):
    return ValueError(f"more than {max_lines:,} lines; the limit is {max_lines - 1:,} rows "
                      "after the header")


def count_lines(handle, max_lines):
    """Count a file's lines by the byte, refusing it past max_lines."""
    lines, last = 0, b""  # the chunk before's last byte: a CR LF may straddle two chunks
    while chunk := handle.read(1 << 20):
        # A line ends in LF, CR LF or a lone CR (the csv module reads all three).
        joined = last + chunk
        lines += chunk.count(b"\n") + joined.count(b"\r") - joined.count(b"\r\n") - (last == b"\r")
        last = chunk[-1:]
        if lines > max_lines:
            raise too_many_lines(max_lines)


def bounded_lines(handle, max_lines):
    """The lines of a text file, refusing one longer than MAX_LINE characters and any past
    the first max_lines."""
    for number, line in enumerate(iter(lambda: handle.readline(MAX_LINE + 2), ""), start=1):
        if number > max_lines:
            raise too_many_lines(max_lines)
        if len(line.rstrip("\r\n")) > MAX_LINE:
            raise ValueError(f"line {number} is longer than {MAX_LINE:,} characters")
        yield line


def parse_csv(rows):
    """The x and y columns of CSV rows (the first names them) as two float32 arrays."""
    header = [name.strip() for name in next(rows, [])]
    if not header:
        raise ValueError("the file is empty")
    missing = [name for name in ("x", "y") if name not in header]
    if missing:
        raise ValueError(f"no column named {' or '.join(missing)} in the header row "
                         f"({', '.join(header) or 'empty'})")
    twice = [name for name in ("x", "y") if header.count(name) > 1]
    if twice:
        raise ValueError(f"two columns named {twice[0]} in the header row: which is meant?")
    columns = {"x": header.index("x"), "y": header.index("y")}
    values = {"x": array("f"), "y": array("f")}
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        if len(row) != len(header):  # 1,5,2,5 is a decimal comma, not x=1 and y=5
            raise ValueError(f"line {rows.line_num} has {len(row)} field"
                             f"{'s' if len(row) != 1 else ''}, the header "
                             f"{len(header)}: a decimal comma, or a comma inside a value?")
        for name, column in columns.items():
            cell = row[column].strip()
            try:
                value = float(cell)
            except ValueError:
                value = None
            wrong = ("is not a number" if value is None else
                     "is not a finite number" if not math.isfinite(value) else
                     f"is too large: values must stay within +-{MAX_VALUE:,.0f}, so that the "
                     "loss over all the rows fits in float32 (rescale the column)"
                     if abs(value) > MAX_VALUE else None)
            if wrong:  # the cell shortened: 9,990 digits are said in 30 characters
                raise ValueError(f"line {rows.line_num}: {name} = {reprlib.repr(cell)} {wrong}")
            values[name].append(value)
    return values["x"], values["y"]


def write_csv(path, X, Y):
    """Write X, Y as a CSV with columns x and y, the format --data reads."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x", "y"])
        # Every float32 value written in full: reading the file back gives the same tensors.
        writer.writerows(zip(X.reshape(-1).tolist(), Y.reshape(-1).tolist(), strict=True))


def load_data(parser, args):
    """X, Y and a few words saying what they are, from the command line's data options:
    the line they describe, or the file --data names. A file that cannot be used is
    refused in one line with exit status 2."""
    made = {name: getattr(args, name) for name in DEFAULTS}
    if args.data is not None:
        given = [f"--{name}" for name, value in made.items() if value is not None]
        if given:
            parser.error(f"{', '.join(given)}: for generated data, not with --data")
        try:
            X, Y = read_csv(args.data)
        except ValueError as error:
            parser.error(f"--data {args.data}: {error}")
        if no_line_fits(X):
            parser.error(f"--data {args.data}: {no_line_fits(X)}")
        return X, Y, f"{len(X)} points from {args.data}"
    made = {name: DEFAULTS[name] if value is None else value for name, value in made.items()}
    return *make_data(**made), describe(**made)


def describe(n, slope, noise, seed):
    """The generated data in a few words, as the scripts print it after `data:`."""
    return f"n={n} points of y = {slope:g}*x + N(0, {noise:g}^2) noise, seed {seed}"


def no_line_fits(X):
    """Why no single line fits best (every x the same), or None."""
    if X.min() == X.max():
        return (f"every x is {X.reshape(-1)[0].item():g}, so no single line fits best (any line "
                "through their mean y does)")
    return None


def main(argv=None):
    import data
    from plumbing import options, output

    parser = options.Parser("Draw the tutorial's data: y = slope*x + Gaussian noise.")
    options.add_data_args(parser, data)
    parser.add_argument("--csv", metavar="FILE.csv", type=options.path,
                        help="also write the data to this CSV file (columns x, y), "
                             "to edit and train on with --data")
    args, out_dir = options.parse(parser, argv)
    if args.csv is not None:
        if os.path.isdir(args.csv) or args.csv.endswith(("/", os.sep)):
            parser.error(f"--csv {args.csv!r} is a folder; give a file name, like data.csv")
        if os.path.lexists(args.csv) and not os.path.isfile(args.csv) or os.path.islink(args.csv):
            parser.error(f"--csv {args.csv!r} is not a plain file; it would be replaced")
        options.prepare_out_dir(parser, os.path.dirname(args.csv) or ".", option="--csv")
    X, Y, source = load_data(parser, args)
    print(f"data: {source}; x in [{X.min().item():g}, {X.max().item():g}]")

    from plots import tutorial  # only now: matplotlib's backend has been chosen

    slope = None if args.data else (DEFAULTS["slope"] if args.slope is None else args.slope)
    figures = {"data.png": tutorial.plot_data(X, Y, slope)}
    if args.csv:
        # The CSV's own folder, written all at once like the figures', and moved in only
        # once the figures are in: a failure of either leaves both folders as they were.
        output.save_figures(os.path.dirname(args.csv) or ".", {},
                            files={os.path.basename(args.csv): lambda path: write_csv(path, X, Y)},
                            then=lambda: output.save_figures(out_dir, figures))
    else:
        output.save_figures(out_dir, figures)
    output.show_figures(figures, args.show)


if __name__ == "__main__":
    run_as_command(main)
