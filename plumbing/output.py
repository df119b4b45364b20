"""A run's files go into their folder all at once or not at all.

A script collects what it will write (figures, a GIF, a CSV); `write_files` renders
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

from plumbing.run import done, signals_held

OWNER = ".owner.lock"  # in a staging folder, held by the run that made it


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


def remove_dead_staging(folder):
    """Remove the staging folders in `folder` whose run is gone: their lock is free."""
    for entry in os.scandir(folder):
        owner = os.path.join(entry.path, OWNER)
        if entry.name.startswith(".staging-") and os.path.isfile(owner):
            with contextlib.suppress(Timeout, OSError):  # its run is at work, or not ours
                with FileLock(owner, blocking=False):
                    pass  # free: its run is gone
                shutil.rmtree(entry.path, ignore_errors=True)


class MovedBack(Exception):
    """A stop signal came while the files moved in: they were moved back out."""


def write_files(folder, writers, then=None):
    """Write every file ({name: write(path)}, each write called with the path to write to),
    then put them all in `folder` at once; return their final paths. `then()`, if given,
    runs between the two (another folder's files put in place, say): if it fails, nothing
    is moved here.

    Raises OSError (naming the path, or whatever a writer raised, or KeyboardInterrupt)
    with the folder left as it was.
    """
    folder = os.path.abspath(folder)
    existing = nearest_existing(folder)
    if not os.path.isdir(existing):
        raise NotADirectoryError(20, "not a folder", existing)
    # A killed run's staging folder: beside the folder's files, or, if the folder did not
    # exist then, in the folder above.
    for place in {existing, os.path.dirname(folder)}:
        if os.path.isdir(place):
            remove_dead_staging(place)
    staging = owner = None
    try:
        with signals_held():  # made and named as one step: the clean-up below finds it
            staging = tempfile.mkdtemp(prefix=".staging-", dir=existing)
        owner = FileLock(os.path.join(staging, OWNER))
        owner.acquire()
        for name, write in writers.items():
            try:
                write(os.path.join(staging, name))
            except OSError as error:  # a full disk, say: name the file it was for
                error.filename = error.filename or os.path.join(folder, name)
                raise
        if then is not None:
            then()
        lock = folder_lock(folder)
        try:
            held = lock.acquire(blocking=False)
        except Timeout:  # another run is moving its files in: wait (a stop signal ends it)
            print(f"waiting for another run to finish writing into {folder}",
                  file=sys.stderr, flush=True)
            held = lock.acquire()
        # While files move, a stop signal waits: acted on between two renames, it could
        # lose a file. One that came meanwhile moves them back, then acts.
        with held, signals_held() as noted:
            moved = move_in(staging, folder, list(writers), noted)
            done()  # a stop noted from here on is one that came after the files were in
            return moved
    finally:
        with signals_held():  # the clean-up is not cut short either
            if owner is not None:
                owner.release()
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)


def move_in(staging, folder, names, noted):
    """Move the staged files into `folder`, each earlier file aside first. A failure, or a
    stop signal noted meanwhile, undoes every move, the last first, and the folders made."""
    targets = [os.path.join(folder, name) for name in names]
    for target in targets:
        if os.path.isdir(target) and not os.path.islink(target):
            raise IsADirectoryError(21, "a folder is in the way", target)
    moves = []  # (from, to), each noted before it is made: the undo must find it
    try:
        os.makedirs(folder, exist_ok=True)
        for name, target in zip(names, targets, strict=True):
            if os.path.lexists(target):
                moves.append((target, os.path.join(staging, f".earlier-{name}")))
                os.rename(*moves[-1])
            moves.append((os.path.join(staging, name), target))
            os.rename(*moves[-1])
        if noted:
            raise MovedBack  # the folder as it was; signals_held then acts on the signal
    except BaseException:
        for source, target in reversed(moves):
            if os.path.lexists(target):
                os.replace(target, source)
        # The folders made for the files, now empty; the staging folder keeps the one that
        # was there (and every one above it).
        with contextlib.suppress(OSError):
            os.removedirs(nearest_existing(folder))
        raise
    return targets


def save_figures(out_dir, figures, files=None, then=None):
    """Put other files ({name: write(path)}) and the figures ({name: figure}) into out_dir,
    all at once or not at all (`then` as write_files runs it), and print the full path of
    each."""
    drawn = {name: lambda path, figure=figure: figure.savefig(path, dpi=110)
             for name, figure in figures.items()}
    for path in write_files(out_dir, {**(files or {}), **drawn}, then):
        print(f"wrote {path}")


def show_figures(figures, show):
    """Open the figures in a window if asked (and possible), then close them."""
    import matplotlib.pyplot as plt

    if show and plt.get_backend().lower() == "agg":
        print("note: no display available; the figures were saved only", file=sys.stderr)
    elif show:
        plt.show()
    for figure in figures.values():
        plt.close(figure)
