"""A script as a command: stop signals, closed pipes and errors of the operating system
end it in one line, never a traceback. Every stop signal is handled here, and only here.

Ctrl-C (SIGINT), SIGTERM, SIGHUP (the terminal closed), SIGQUIT and Windows' Ctrl-Break
(SIGBREAK), where the system has them, end the command at any moment with `interrupted`
and the shell's status for that signal (130, 143, 129, 131), its output folder as it was,
until its files are in place (then the run is done, and a stop is ignored):

- A script imports this first, before its libraries (torch takes seconds to load):
  `from plumbing.run import run_as_command`, then `# isort: split`, which keeps ruff from
  sorting it below them. Until its main() starts the script has written nothing, so a stop
  signal meanwhile ends it at once, raising nothing inside a library's import. A program
  that imports a script (the tests, the playground, one of your own) has loaded the script
  before the script imports this, and keeps Python's own handling of the signals.
- run_as_command(main) then raises KeyboardInterrupt (Ctrl-C) or Stopped (the others) in
  the main thread, wherever main() is, so that clean-up code runs: the output's staging
  folder is removed, the worker processes are stopped.
"""

import contextlib
import os
import re
import signal
import sys

STOP_SIGNALS = [getattr(signal, name) for name in
                ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGBREAK") if hasattr(signal, name)]


def _handle_stops(handler):
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:  # a background job ignores Ctrl-C
            signal.signal(signum, handler)


def _started_as_a_command():
    """Whether the program is a file of the project's folder that imports this before any
    other module of the folder is loaded: a script run as `python SCRIPT.py`."""
    folder = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    files = {name: getattr(module, "__file__", None) for name, module in list(sys.modules.items())}
    return [name for name, path in files.items()
            if path and os.path.dirname(os.path.realpath(path)) == folder] == ["__main__"]


def _end_at_once(signum, frame):
    with contextlib.suppress(OSError):  # standard error closed by the shell (`2>&-`)
        os.write(2, b"interrupted\n")
    os._exit(128 + signum)


def out_of_memory(error):
    """The one line for an error that says memory ran out, or None."""
    said = str(error)
    if not (isinstance(error, MemoryError)
            or re.search(r"can't allocate memory|bad_alloc|failed to map segment", said)):
        return None
    asked = re.search(r"allocate (\d+) bytes", said)  # torch's allocator says
    return f"{os.path.basename(sys.argv[0])}: error: not enough memory here" + (
        f" for {int(asked[1]):,} bytes more (fewer samples?)" if asked else
        " to load a library" if isinstance(error, ImportError) else "")


def _said_in_one_line(kind, error, traceback):
    """While the libraries load: one that cannot be loaded for want of memory is one line."""
    message = out_of_memory(error)
    if message is None:
        sys.__excepthook__(kind, error, traceback)
    else:
        print(message, file=sys.stderr)


# A script run as a command is loading its libraries: nothing to undo yet.
if _started_as_a_command():
    _handle_stops(_end_at_once)
    sys.excepthook = _said_in_one_line


class Stopped(SystemExit):
    """A stop signal other than Ctrl-C (which raises KeyboardInterrupt): the code is the
    shell's exit status for it."""

    def __init__(self, signum=signal.SIGTERM):
        super().__init__(128 + signum)


_done = []  # not empty once the run's files are in place (done())


def done():
    """The run's files are in place: its work is done, and a stop signal from now on is
    ignored (acted on, it could only say "interrupted" of a folder already changed)."""
    _done.append(True)


def _stop(signum, frame):
    if not _done:
        _done.append(True)  # one stop is enough: a second, while it unwinds, is ignored
        raise KeyboardInterrupt if signum == signal.SIGINT else Stopped(signum)


@contextlib.contextmanager
def signals_held(ignore=False):
    """Within the block a stop signal is only noted, in the list it gives (or, with
    ignore=True, ignored: a child process started meanwhile inherits that); after it, the
    first one noted is acted on. For the main thread, where Python runs signal handlers."""
    noted = []
    held = signal.SIG_IGN if ignore else (lambda signum, frame: noted.append(signum))
    earlier = {signum: signal.signal(signum, held) for signum in STOP_SIGNALS}
    try:
        yield noted
    finally:
        for signum, handler in earlier.items():
            signal.signal(signum, handler)
        if noted:
            signal.raise_signal(noted[0])


class QuietWhenClosed:
    """Standard output that goes quiet once its reader is gone (`| head -1`), so the run
    still finishes and writes its files."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        return self._quietly(self.stream.write, text) or len(text)

    def flush(self):
        self._quietly(self.stream.flush)

    def _quietly(self, method, *args):
        try:
            return method(*args)
        except BrokenPipeError:
            # The Python docs' recipe: point the descriptor at the null device, so that what
            # follows, and the interpreter's last flush, find no broken pipe.
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), self.stream.fileno())

    def __getattr__(self, name):
        return getattr(self.stream, name)


def run_as_command(main):
    """Run a script's main() as a command (see the module's docstring); an error of the
    operating system is one line naming the path and the reason, exit status 1."""
    _done.clear()
    _handle_stops(_stop)
    # A stream closed by the shell (`>&-`) is None: write to nowhere instead.
    sys.stdout = sys.stdout or open(os.devnull, "w")  # noqa: SIM115 (lives as long as the run)
    sys.stderr = sys.stderr or open(os.devnull, "w")  # noqa: SIM115
    for stream in (sys.stdout, sys.stderr):
        # A terminal that cannot show a character shows an escape instead of failing.
        stream.reconfigure(errors="backslashreplace")
    sys.stdout = QuietWhenClosed(sys.stdout)
    try:
        main()
    except BaseException as error:
        _done.append(True)  # ending: a stop signal now would only cut the line short
        status = stop_status(error)
        if status is not None:
            message = "interrupted"
        elif isinstance(error, OSError):  # the path, then the reason
            reason = error.strerror or str(error)
            message = f"{os.path.basename(sys.argv[0])}: error: " + (
                f"{error.filename}: {reason}" if error.filename else reason)
        elif out_of_memory(error):
            message = out_of_memory(error)
        else:
            raise
        sys.stdout.flush()
        with contextlib.suppress(OSError, ValueError):  # no reader: the status says it all
            print(message, file=sys.stderr)
        sys.exit(status or 1)
    # Done, files in place: a stop signal now could only interrupt the interpreter's exit.
    _handle_stops(signal.SIG_IGN)


def stop_status(error):
    """The exit status of a stop signal behind `error`, or None. A library that fails while
    it cleans up after Ctrl-C (matplotlib's animation writer does) raises an error of its
    own: the interrupt is then its context."""
    while error is not None and not isinstance(error, KeyboardInterrupt | Stopped):
        error = error.__context__
    return None if error is None else getattr(error, "code", 130)  # Ctrl-C: 130
