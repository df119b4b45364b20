"""A run's files go into their folder all at once or not at all.

A script collects what it will write (figures, a GIF, a CSV); `Output.commit()` renders
every file into a hidden staging folder beside their final place first, and only when all
of them are complete moves them in, together (a rename each: instant, and needing no
space), holding a lock on the folder and with the stop signals held back for that moment.
A failure or an interrupt before then leaves the folder exactly as it was. Two runs into
one folder end with one run's complete set. A staging folder is locked by its run while the
run lives: one left by a killed run is unlocked, and the next run beside it removes it.
"""

import contextlib
import hashlib
import os
import shutil
import sys
import tempfile

from filelock import FileLock, Timeout

from plumbing.run import signals_held


def nearest_existing(path):
    """`path` itself if it exists, else the nearest folder above it that does."""
    path = os.path.abspath(path)
    while not os.path.lexists(path):
        path = os.path.dirname(path)
    return path


def folder_lock(folder):
    """A lock for one folder, kept outside it (the folder gets no file of its own)."""
    key = hashlib.sha256(os.path.realpath(folder).encode()).hexdigest()[:24]
    return FileLock(os.path.join(tempfile.gettempdir(), f"gradient-descent-{key}.lock"))


OWNER = ".owner.lock"  # in a staging folder, held by the run that made it


def remove_dead_staging(folder):
    """Remove the staging folders in `folder` whose run is gone: their lock is free."""
    for entry in os.scandir(folder):
        if not entry.name.startswith(".staging-"):
            continue
        owner = FileLock(os.path.join(entry.path, OWNER), blocking=False)
        if os.path.isfile(owner.lock_file):
            try:
                owner.acquire()
            except (Timeout, OSError):
                continue  # its run is still at work, or it is not ours to remove
            owner.release()
            shutil.rmtree(entry.path, ignore_errors=True)


@contextlib.contextmanager
def waiting_for(lock, folder):
    """Hold `lock`, saying so if another run has it; a stop signal ends the wait."""
    try:
        lock.acquire(blocking=False)
    except Timeout:
        print(f"waiting for another run to finish writing into {folder}", file=sys.stderr,
              flush=True)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


class MovedBack(Exception):
    """A stop signal came while the files moved in: they were moved back out."""


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

        Raises OSError (naming the path, or whatever a writer raised, or KeyboardInterrupt)
        with the folder left as it was.
        """
        existing = nearest_existing(self.folder)
        if not os.path.isdir(existing):
            raise NotADirectoryError(20, "not a folder", existing)
        # A killed run's staging folder: beside the folder's files, or, if the folder did
        # not exist then, in the folder above.
        for folder in {existing, os.path.dirname(self.folder)}:
            if os.path.isdir(folder):
                remove_dead_staging(folder)
        staging = tempfile.mkdtemp(prefix=".staging-", dir=existing)
        owner = FileLock(os.path.join(staging, OWNER))
        try:
            owner.acquire()
            umask = os.umask(0)
            os.umask(umask)
            for name, write in self.writers.items():
                path = os.path.join(staging, name)
                try:
                    write(path)
                except OSError as error:  # a full disk, say: name the file it was for
                    error.filename = error.filename or os.path.join(self.folder, name)
                    raise
                os.chmod(path, 0o666 & ~umask)  # what a plain save would give
            with waiting_for(folder_lock(self.folder), self.folder):
                # While files move, a stop signal waits: acted on between two renames, it
                # could lose a file. One that came meanwhile moves them back, then acts.
                with signals_held() as noted:
                    return self._place(staging, noted)
        finally:
            with signals_held():  # the clean-up is not cut short either
                owner.release()
                shutil.rmtree(staging, ignore_errors=True)

    def _place(self, staging, noted):
        created = []  # the folders made for the files, deepest first
        missing = self.folder
        while not os.path.lexists(missing):
            created.append(missing)
            missing = os.path.dirname(missing)
        try:
            os.makedirs(self.folder, exist_ok=True)
            return self._swap_in(staging, noted)
        except BaseException:
            for folder in created:
                if os.path.isdir(folder) and not os.listdir(folder):
                    os.rmdir(folder)
            raise

    def _swap_in(self, staging, noted):
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
            if noted:
                raise MovedBack  # the folder as it was; signals_held then acts on the signal
        except BaseException:
            for target in placed:
                if target not in moved_aside and os.path.lexists(target):
                    os.remove(target)
            for target, aside in moved_aside.items():
                if os.path.lexists(aside):
                    os.replace(aside, target)
            raise
        return list(targets.values())


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
    import sys

    import matplotlib.pyplot as plt

    if show:
        if plt.get_backend().lower() == "agg":
            print("note: no display available; the figures were saved only", file=sys.stderr)
        else:
            plt.show()
    for figure in figures.values():
        plt.close(figure)
