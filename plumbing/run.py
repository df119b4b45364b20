"""A script as a command: stop signals, closed pipes and errors of the operating system
end it in one line, never a traceback. Every stop signal is handled here, and only here.

Ctrl-C (SIGINT), SIGTERM, SIGHUP (the terminal closed), SIGQUIT and Windows' Ctrl-Break
(SIGBREAK), where the system has them, raise an exception in the main thread, so that
clean-up code runs; the command ends with `interrupted` and the shell's status for that
signal (130, 143, 129, 131).
"""

import builtins
import contextlib
import errno
import os
import signal
import sys
import threading

STOP_SIGNALS = [getattr(signal, name) for name in
                ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGBREAK") if hasattr(signal, name)]


class Stopped(SystemExit):
    """A stop signal other than Ctrl-C (which raises KeyboardInterrupt): the code is the
    shell's exit status for it."""

    def __init__(self, signum=signal.SIGTERM):
        super().__init__(128 + signum)


def _stop(signum, frame):
    """A stop signal: KeyboardInterrupt for Ctrl-C, Stopped for the others, raised in the
    main thread; but not inside an import. An exception there can be swallowed by the
    library being imported, or leave it half made (torch and numpy then fail in confusing
    ways, or abort): the signal waits until the import statement ends (_Imports), or, in an
    import made some other way, is sent again a moment later."""
    if _imports.depth:
        _imports.pending.append(signum)
    elif _importing(frame):
        again = threading.Timer(0.05, signal.raise_signal, (signum,))
        again.daemon = True
        again.start()
    else:
        _act_on(signum)


def _act_on(signum):
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Stopped(signum)


def _importing(frame):
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


class _Imports:
    """builtins.__import__, counting the import statements running in the main thread; a
    stop signal that came during one is acted on as the outermost ends."""

    def __init__(self, original):
        self.original, self.depth, self.pending = original, 0, []

    def __call__(self, *args, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            return self.original(*args, **kwargs)
        self.depth += 1
        try:
            return self.original(*args, **kwargs)
        finally:
            self.depth -= 1
            if not self.depth and self.pending:
                _act_on(self.pending.pop(0))


_imports = _Imports(builtins.__import__)


@contextlib.contextmanager
def signals_held(ignore=False):
    """Within the block a stop signal is only noted, in the list it gives (or, with
    ignore=True, ignored: a child process started meanwhile inherits that); after it, the
    first one noted is acted on."""
    if threading.current_thread() is not threading.main_thread():
        yield []  # Python runs signal handlers in the main thread only
        return
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
        # The Python docs' recipe: point the descriptor at the null device, so that the
        # interpreter's last flush finds no broken pipe to complain about.
        self.closed_by_reader = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self.stream.fileno())
        os.close(devnull)

    def __getattr__(self, name):
        return getattr(self.stream, name)


def error_text(error):
    """An operating-system error in one line: the path, then the reason."""
    reason = error.strerror or errno.errorcode.get(error.errno, "") or str(error)
    return f"{error.filename}: {reason}" if error.filename else reason


def run_script(path):
    """Run the script at `path` as a command from its first line: called at its top, before
    its own imports (torch and matplotlib take seconds), so that a stop signal meanwhile ends
    it like any other; the script is then imported as a module and its main() run."""
    run(lambda: __import__(os.path.splitext(os.path.basename(path))[0]).main())
    # Done, files in place: a stop signal now could only interrupt the interpreter's exit.
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    sys.exit(0)


def run(main):
    """Run a script's main() as a command (see the module's docstring); an error of the
    operating system is one line naming the path and the reason, exit status 1."""
    builtins.__import__ = _imports
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:  # a background job ignores Ctrl-C
            signal.signal(signum, _stop)
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
        status = stop_status(error)
        if status is not None:
            sys.exit(_stopped(status, "interrupted"))
        if isinstance(error, OSError):
            sys.exit(_stopped(1, f"{os.path.basename(sys.argv[0])}: error: "
                                 f"{error_text(error)}"))
        raise


def stop_status(error):
    """The exit status of a stop signal behind `error`, or None. A library that fails while
    it cleans up after Ctrl-C (matplotlib's animation writer does) raises an error of its
    own: the interrupt is then its context."""
    while error is not None:
        if isinstance(error, KeyboardInterrupt):
            return 130
        if isinstance(error, Stopped):
            return error.code
        error = error.__context__
    return None


def _stopped(status, message):
    sys.stdout.flush()
    try:
        print(message, file=sys.stderr)
    except (OSError, ValueError):
        pass  # no one is reading the errors either: the exit status says it
    return status
