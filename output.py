"""A run's files go into their folder all at once or not at all.

Nothing here is about gradient descent. A script collects what it will write (figures, a
GIF, a CSV), and `Output.commit()` renders every file into a hidden staging folder first;
only when all of them are complete does it move them into place, together, holding a lock
on the folder and with Ctrl-C and the other stopping signals held back for that moment. A
failure or an interrupt before then leaves the folder exactly as it was, and the staging
folder is removed. Two runs into one folder end with one run's complete set.
"""

import fcntl
import os
import shutil
import signal
import tempfile
import threading


def nearest_existing(path):
    """`path` itself if it exists, else the nearest folder above it that does."""
    path = os.path.abspath(path)
    while not os.path.lexists(path):
        path = os.path.dirname(path)
    return path


class Output:
    """The files a run will write into `folder`, by name."""

    def __init__(self, folder):
        self.folder = os.path.abspath(folder)
        self.writers = {}

    def add(self, name, write):
        """Stage a file: `write(path)` will be called to write it, at commit."""
        self.writers[name] = write

    def add_figure(self, name, figure, dpi=110):
        self.add(name, lambda path: figure.savefig(path, dpi=dpi))

    def commit(self):
        """Write every file, then put them all in place; return their final paths.

        Raises OSError (or whatever a writer raised, or KeyboardInterrupt) with the folder
        left as it was.
        """
        existing = nearest_existing(self.folder)
        if not os.path.isdir(existing):
            raise NotADirectoryError(20, "not a folder", existing)
        # Staged beside the files' final place, on the same file system, so that putting
        # a file in place is a rename: instant, and needing no space.
        staging = tempfile.mkdtemp(prefix=".staging-", dir=existing)
        try:
            umask = os.umask(0)
            os.umask(umask)
            for name, write in self.writers.items():
                path = os.path.join(staging, name)
                write(path)
                # mkdtemp's folder is private; give each file what a plain save would.
                os.chmod(path, 0o666 & ~umask)
            return self._place(staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _place(self, staging):
        # While files move, a stopping signal is only noted, then acted on once they are all
        # in place (or all back): an exception raised between two renames could lose a file.
        noted = []
        stopping = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT]
        if threading.current_thread() is not threading.main_thread():
            stopping = []  # Python runs signal handlers in the main thread only
        earlier = {signum: signal.signal(signum, lambda signum, frame: noted.append(signum))
                   for signum in stopping}
        created = []
        try:
            missing = self.folder
            while not os.path.lexists(missing):
                created.append(missing)
                missing = os.path.dirname(missing)
            os.makedirs(self.folder, exist_ok=True)
            lock = os.open(self.folder, os.O_RDONLY)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX)
                return self._swap_in(staging)
            except BaseException:
                for folder in created:  # deepest first
                    if os.path.isdir(folder) and not os.listdir(folder):
                        os.rmdir(folder)
                raise
            finally:
                os.close(lock)
        finally:
            for signum, handler in earlier.items():
                signal.signal(signum, handler)
            for signum in noted[:1]:
                handler = earlier[signum]
                if callable(handler):
                    handler(signum, None)
                elif handler == signal.SIG_DFL:
                    os.kill(os.getpid(), signum)

    def _swap_in(self, staging):
        targets = {name: os.path.join(self.folder, name) for name in self.writers}
        for target in targets.values():
            if os.path.isdir(target) and not os.path.islink(target):
                raise IsADirectoryError(21, "a folder is in the way", target)
        moved_aside, placed = {}, []
        try:
            for name, target in targets.items():
                if os.path.lexists(target):
                    aside = os.path.join(staging, f".earlier-{name}")
                    moved_aside[target] = aside  # noted first: a rollback must find it
                    os.rename(target, aside)
                placed.append(target)
                os.rename(os.path.join(staging, name), target)
        except BaseException:
            for target in placed:
                if target not in moved_aside and os.path.lexists(target):
                    os.remove(target)
            for target, aside in moved_aside.items():
                if os.path.lexists(aside):
                    os.replace(aside, target)
            raise
        return list(targets.values())
