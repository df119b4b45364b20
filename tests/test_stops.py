"""Safe at every moment: a stop signal while a script starts (its heavy imports) and while
its main() imports a library, while it waits for another run's lock and inside a library's
writer; a program that merely imports a script keeps Python's own handling of the signals;
no staging folder outlives a killed run; an error of the system names its path; no empty
path is taken for a folder.

The tests synchronise on what a program prints, never on time."""

import contextlib
import errno
import os
import signal
import subprocess
import sys
import threading

import pytest
from conftest import ROOT
from test_output import NEW, STANDIN, earlier_files, snapshot, start, wait_for_line

from plumbing.output import folder_lock, write_files
from plumbing.run import run_as_command

STOPS = [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
if hasattr(signal, "SIGHUP"):
    STOPS.append((signal.SIGHUP, 129))


def start_probed(module, *args, script=ROOT / "train_batch.py"):
    """Start train_batch.py so that it waits as it first imports `module` (tests/probe):
    torch among the imports at its top, matplotlib inside its main()."""
    env = {**os.environ, "MPLBACKEND": "Agg", "STARTUP_PROBE": module,
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests" / "probe"),
                                          os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, str(script), *map(str, args)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32",
                    reason="symbolic links need privileges on Windows")
def test_a_script_started_through_a_link_is_stopped_in_one_line_while_it_starts(tmp_path):
    link = tmp_path / "elsewhere" / "my_train_batch.py"
    link.parent.mkdir()
    link.symlink_to(ROOT / "train_batch.py")
    process = start_probed("torch", "--epochs", 2, "--out", tmp_path / "out", script=link)
    assert process.stderr.readline() == "importing torch\n"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate("go\n", timeout=120)
    assert (process.returncode, stderr) == (130, "interrupted\n")


@pytest.mark.parametrize("module", ["torch", "matplotlib"])
@pytest.mark.parametrize("sent, status", STOPS, ids=lambda value: str(value))
def test_a_stop_signal_while_a_script_imports_its_libraries_is_one_line(tmp_path, module,
                                                                        sent, status):
    out = tmp_path / "out"
    before = earlier_files(out, ["batch_loss.png"])
    process = start_probed(module, "--epochs", 2, "--out", out)
    assert process.stderr.readline() == f"importing {module}\n"
    process.send_signal(sent)
    stdout, stderr = process.communicate("go\n", timeout=120)
    assert (process.returncode, stderr) == (status, "interrupted\n")
    assert "final:" not in stdout and snapshot(out) == before


IMPORTER = """
import signal, sys
sys.path[0] = {root!r}
sys.modules["__main__"].__file__ = {main!r}  # this program, as if it were that file
before = [signal.getsignal(signum) for signum in signal.valid_signals()]
import {modules}
print([signal.getsignal(signum) for signum in signal.valid_signals()] == before)
"""


@pytest.mark.parametrize("folder, modules", [
    ("project", "train_batch"),  # a program of your own beside the scripts
    ("elsewhere", "plumbing.output, train_batch"),  # as the tests import them
], ids=["yours", "tests"])
def test_a_program_that_imports_a_script_keeps_pythons_handling_of_the_stop_signals(
        tmp_path, folder, modules):
    main = (ROOT if folder == "project" else tmp_path) / "yours.py"
    result = subprocess.run(
        [sys.executable, "-c", IMPORTER.format(root=str(ROOT), main=str(main), modules=modules)],
        capture_output=True, text=True, timeout=120)
    assert (result.stdout, result.stderr) == ("True\n", "")


def first_line(stream):
    """The first line of a child's stream; "" if none comes within a minute (a hang guard)."""
    lines = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(60)
    return lines[0] if lines else ""


def test_a_stop_while_waiting_for_another_runs_lock_ends_the_wait_and_changes_nothing(
        tmp_path):
    out = tmp_path / "out"
    before = earlier_files(out, ["a.txt"])
    with folder_lock(str(out)):  # another run is moving its files in
        process = start(STANDIN, out, "plain")
        try:
            assert first_line(process.stderr).startswith("waiting for another run")
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=60)
        finally:
            process.kill()
        assert (process.returncode, stderr) == (130, "interrupted\n")
        assert snapshot(out) == before


def staging_folders(folder):
    return sorted(path.name for path in folder.iterdir() if path.name.startswith(".staging-"))


def test_the_next_run_removes_a_killed_runs_staging_folder_but_not_a_live_ones(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    killed = start(STANDIN, out, "staging")
    wait_for_line(killed, "staging")  # b.txt half written
    killed.kill()  # SIGKILL: no clean-up runs
    killed.wait(timeout=60)
    [left] = staging_folders(out)
    alive = start(STANDIN, out, "staging", "alive")
    wait_for_line(alive, "staging")
    alives = next(name for name in staging_folders(out) if name != left)

    result = subprocess.run([sys.executable, str(ROOT / STANDIN), out, "plain"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == ""
    assert staging_folders(out) == [alives]  # the dead one gone, the live one kept
    _, stderr = alive.communicate("go\n", timeout=60)
    assert alive.returncode == 0 and stderr == ""
    assert staging_folders(out) == [] and snapshot(out) == dict.fromkeys(NEW, b"alive")


def test_an_error_without_a_path_is_given_the_path_of_the_file_it_was_for(tmp_path, capsys,
                                                                          monkeypatch):
    def full_disk(path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as a failed write raises

    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", ["train_batch.py"])
    with pytest.raises(SystemExit) as stop:
        run_as_command(lambda: write_files(out, {"a.txt": lambda path: open(path, "w").close(),
                                                 "b.png": full_disk}))
    assert stop.value.code == 1
    assert capsys.readouterr().err == (f"train_batch.py: error: {out / 'b.png'}: "
                                       f"{os.strerror(errno.ENOSPC)}\n")
    assert not out.exists()


def test_an_interrupt_inside_a_librarys_writer_is_still_an_interrupt(tmp_path, capsys):
    import matplotlib.pyplot as plt

    from plots.surface import save_gif

    def draw(frame):
        raise KeyboardInterrupt  # Ctrl-C as the first frame is drawn

    figure = plt.figure()
    # matplotlib's writer, cleaning up a GIF with no frame, raises an IndexError of its own.
    with pytest.raises(SystemExit) as stop:
        run_as_command(lambda: save_gif(figure, draw, 3, tmp_path / "fit.gif"))
    plt.close(figure)
    assert stop.value.code == 130 and capsys.readouterr().err == "interrupted\n"


@pytest.mark.parametrize("script, args", [
    ("train_batch.py", ["--out", ""]), ("train_batch.py", ["--out", "  "]),
    ("train_batch.py", ["--data", ""]), ("data.py", ["--csv", " "]),
    ("compare.py", ["--out="])])
def test_an_empty_path_is_refused_in_one_line(tmp_path, capsys, script, args):
    import importlib

    from conftest import run_main

    status, out, err = run_main(importlib.import_module(script[:-3]), capsys, *args)
    assert status == 2 and out == "" and len(err.splitlines()) == 1
    assert "is empty: give a file or folder name" in err


def test_a_killed_runs_staging_folder_beside_a_folder_it_was_making_is_removed_too(tmp_path):
    out = tmp_path / "new"  # not there yet: the files are staged in tmp_path
    killed = start(STANDIN, out, "staging")
    wait_for_line(killed, "staging")
    killed.kill()
    killed.wait(timeout=60)
    assert len(staging_folders(tmp_path)) == 1
    out.mkdir()  # made since, by hand or by another run
    result = subprocess.run([sys.executable, str(ROOT / STANDIN), out, "plain"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and staging_folders(tmp_path) == []
    assert snapshot(out) == NEW


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX's")
def test_a_closed_terminals_sighup_to_every_process_of_a_run_with_workers_is_one_line(tmp_path):
    # A closed terminal sends SIGHUP to every process of the job: the script, its workers,
    # the fork server and multiprocessing's resource tracker. Only the script may answer.
    run = subprocess.Popen([sys.executable, str(ROOT / "tests" / "standin.py"),
                            str(tmp_path / "out"), "workers"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert run.stdout.readline() == "working\n"
        os.killpg(run.pid, signal.SIGHUP)
        _, err = run.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
    assert (err, run.returncode) == ("interrupted\n", 129)
    assert not (tmp_path / "out").exists()
