"""A run changes its output folder all at once or not at all, and ends in one line, never a
traceback: failures and interrupts between two files, signals, the backend, the terminal's
encoding, closed pipes, runaway counts, and two runs into one folder at the same time."""

import errno
import os
import signal
import subprocess
import sys
import tempfile

import pytest
from conftest import ROOT, run_script

import compare
import data
from plumbing.output import write_files
from plumbing.run import Stopped


def earlier_files(folder, names=("batch_loss.png", "sgd_loss.png", "compare_loss.png")):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(f"earlier {name}".encode())
    return snapshot(folder)


def snapshot(folder):
    """Every entry of the folder, hidden ones too, with its bytes (None for a folder)."""
    return {path.name: None if path.is_dir() else path.read_bytes()
            for path in folder.iterdir()}


def no_staging_left(*folders):
    return not any(path.name.startswith(".staging-")
                   for folder in folders for path in folder.iterdir())


def writer(content):
    def write(path):
        with open(path, "wb") as handle:
            handle.write(content)
    return write


def failing(error):
    def write(path):
        with open(path, "wb") as handle:
            handle.write(b"half a fi")
        raise error
    return write


def test_files_are_put_in_place_together(tmp_path):
    out = tmp_path / "out"
    earlier_files(out)
    written = write_files(out, {"batch_loss.png": writer(b"new batch"),
                                "new.csv": writer(b"new csv")})
    assert written == [str(out / "batch_loss.png"), str(out / "new.csv")]
    assert snapshot(out) == {"batch_loss.png": b"new batch", "new.csv": b"new csv",
                             "sgd_loss.png": b"earlier sgd_loss.png",
                             "compare_loss.png": b"earlier compare_loss.png"}
    assert no_staging_left(out, tmp_path)


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"),
                                   PermissionError(errno.EACCES, "Permission denied"),
                                   KeyboardInterrupt(), Stopped()],
                         ids=["disk-full", "permission", "ctrl-c", "sigterm"])
def test_a_failure_between_two_files_leaves_the_folder_as_it_was(tmp_path, error):
    out = tmp_path / "out"
    before = earlier_files(out)
    with pytest.raises(type(error)):
        write_files(out, {"batch_loss.png": writer(b"new batch"),
                          "sgd_loss.png": failing(error),
                          "compare_loss.png": writer(b"new compare")})
    assert snapshot(out) == before
    assert no_staging_left(out, tmp_path)


def test_a_folder_that_did_not_exist_is_not_left_behind(tmp_path):
    with pytest.raises(OSError):
        write_files(tmp_path / "new" / "deeper", {
            "a.png": writer(b"a"),
            "b.png": failing(OSError(errno.ENOSPC, "No space left on device"))})
    assert list(tmp_path.iterdir()) == []


def test_a_folder_in_the_way_is_found_before_anything_moves(tmp_path):
    out = tmp_path / "out"
    before = earlier_files(out)
    (out / "sgd_loss.png").unlink()
    (out / "sgd_loss.png").mkdir()
    before = snapshot(out)
    with pytest.raises(IsADirectoryError):
        write_files(out, dict.fromkeys(["batch_loss.png", "sgd_loss.png"], writer(b"new")))
    assert snapshot(out) == before and no_staging_left(out)


def test_a_failed_figure_in_a_script_leaves_no_trace(tmp_path, monkeypatch):
    out = tmp_path / "out"
    before = earlier_files(out)
    import matplotlib.figure

    saves = []

    def save_then_fail(figure, path, **options):
        saves.append(path)
        if len(saves) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", path)
        with open(path, "wb") as handle:
            handle.write(b"new figure")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", save_then_fail)
    with pytest.raises(OSError):
        compare.main(["--epochs", "2", "--out", str(out)])
    assert len(saves) == 2
    assert snapshot(out) == before and no_staging_left(out, tmp_path)


def test_a_failed_figure_leaves_the_csv_written_beside_it_unwritten_too(tmp_path,
                                                                       monkeypatch):
    """data.py --csv writes two folders: a figure that fails leaves neither changed (the
    CSV was written, then the figure failed)."""
    import matplotlib.figure

    import data

    def fail(figure, path, **options):
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", fail)
    with pytest.raises(OSError):
        data.main(["--csv", str(tmp_path / "csv" / "line.csv"), "--out", str(tmp_path / "out")])
    assert sorted(path.name for path in tmp_path.iterdir()) == []


# As a person runs them: one line, the right exit status, nothing half-written.

def start(script, *args, cwd=None, env=None):
    return subprocess.Popen([sys.executable, str(ROOT / script), *map(str, args)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd,
                            env={**os.environ, "MPLBACKEND": "Agg", **(env or {})})


def wait_for_line(process, prefix):
    for line in process.stdout:
        if line.startswith(prefix):
            return line
    raise AssertionError(f"no line starting {prefix!r}; stderr: {process.stderr.read()}")


# The stand-in (tests/standin.py) runs the scripts' own plumbing without their imports,
# and waits where it is told to: these tests synchronise on what it prints, never on time.
STANDIN = "tests/standin.py"
NEW = {"a.txt": b"new", "b.txt": b"new", "c.txt": b"new"}


def test_a_folder_in_the_way_is_one_line_with_exit_status_1(tmp_path):
    out = tmp_path / "out"
    earlier_files(out, ["a.txt", "c.txt"])
    (out / "b.txt").mkdir()
    before = snapshot(out)
    result = run_script(STANDIN, out, "plain")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"standin.py: error: {out / 'b.txt'}: a folder is in the way"]
    assert snapshot(out) == before and no_staging_left(out)


@pytest.mark.parametrize("sent, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143),
                                          (signal.SIGHUP, 129), (signal.SIGQUIT, 131)],
                         ids=["ctrl-c", "sigterm", "sighup", "sigquit"])
def test_a_signal_during_the_work_is_one_line_and_changes_nothing(tmp_path, sent, status):
    out = tmp_path / "out"
    before = earlier_files(out, ["a.txt", "b.txt"])
    process = start(STANDIN, out, "wait")
    wait_for_line(process, "ready")
    process.send_signal(sent)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == status
    assert stderr == "interrupted\n"
    assert snapshot(out) == before and no_staging_left(out)


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_after_the_files_are_in_place_is_ignored_the_run_is_done(tmp_path, sent):
    """Once the files are in, "interrupted" (and 130) would say the folder is as it was, and
    it is not: the run is done, and ends as done."""
    out = tmp_path / "out"
    earlier_files(out, ["a.txt", "b.txt"])
    process = start(STANDIN, out, "after")
    wait_for_line(process, "in place")
    process.send_signal(sent)
    _, stderr = process.communicate(input="\n", timeout=60)
    assert process.returncode == 0 and stderr == ""
    assert snapshot(out) == NEW and no_staging_left(out)


def test_ctrl_c_during_a_real_training_run_is_one_line_and_changes_nothing(tmp_path):
    out = tmp_path / "out"
    before = earlier_files(out, ["sgd_loss.png"])
    process = start("train_sgd.py", "--epochs", "5000", "--out", out)
    wait_for_line(process, "epoch   1:")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and stderr == "interrupted\n"
    assert snapshot(out) == before and no_staging_left(out)


def test_sigterm_while_a_file_is_half_written_leaves_no_partial_file(tmp_path):
    out = tmp_path / "out"
    before = earlier_files(out, ["b.txt"])
    process = start(STANDIN, out, "staging")
    wait_for_line(process, "staging")  # b.txt is half written, in the staging folder
    assert not no_staging_left(out)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143 and stderr == "interrupted\n"
    assert snapshot(out) == before and no_staging_left(out, tmp_path)


def test_two_runs_into_one_folder_end_with_one_runs_complete_set(tmp_path):
    out = tmp_path / "out"
    first = start(STANDIN, out, "staging", "first")
    wait_for_line(first, "staging")
    # The second run starts and ends while the first is half way through its files.
    second = run_script(STANDIN, out, "plain", "second")
    assert second.returncode == 0
    assert snapshot(out) == dict.fromkeys(NEW, b"second")
    _, stderr = first.communicate("go\n", timeout=60)
    assert first.returncode == 0 and stderr == ""
    assert snapshot(out) == dict.fromkeys(NEW, b"first")


def test_a_closed_pipe_ends_printing_but_not_the_run(tmp_path):
    process = start(STANDIN, tmp_path / "out", "chatty")
    first = process.stdout.readline()
    process.stdout.close()  # as `| head -1` does
    process.stdin.write("go\n")
    process.stdin.close()
    stderr = process.stderr.read()
    process.wait(timeout=60)
    assert first == "line 0\n" and process.returncode == 0 and stderr == ""
    assert snapshot(tmp_path / "out") == NEW


def test_an_unknown_backend_does_not_matter_without_show(tmp_path):
    result = run_script("data.py", "--out", tmp_path, env={"MPLBACKEND": "bogus"})
    assert result.returncode == 0 and result.stderr == ""
    assert (tmp_path / "data.png").exists()


def test_an_unknown_backend_with_show_is_one_line(tmp_path):
    result = run_script("data.py", "--out", tmp_path, "--show", env={"MPLBACKEND": "bogus"})
    assert result.returncode == 0 and (tmp_path / "data.png").exists()
    assert len(result.stderr.splitlines()) == 1 and "figures were saved only" in result.stderr


def test_a_path_the_terminal_cannot_encode_does_not_raise(tmp_path):
    out = tmp_path / "grafiken-überall"
    result = run_script(STANDIN, out, "plain", env={"PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert snapshot(out) == NEW
    assert "grafiken-\\xfcberall" in result.stdout


@pytest.mark.parametrize("script, args", [
    (data, ["--slope", "-2e6"]), (compare, ["--epochs", "20000"]), (compare, ["--n", "100000"]),
], ids=lambda value: " ".join(value) if isinstance(value, list) else value.__name__)
def test_runaway_counts_and_values_are_refused_before_any_work(tmp_path, capsys, script,
                                                                 args):
    with pytest.raises(SystemExit) as refused:
        script.main([*args, "--out", str(tmp_path / "out")])
    assert refused.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("script, args", [
    ("train_batch.py", ["--epochs", str(10**30)]),
    ("train_sgd.py", ["--epochs", "200000"]),
    ("benchmark.py", ["--repeats", str(10**30)]),
    ("visualize.py", ["--sweep-points", "1000"]),
    ("pitfalls.py", ["--epochs", "5000"]),
])
def test_every_count_has_a_limit_stated_in_help(tmp_path, capsys, script, args):
    module = __import__(script[:-3])
    with pytest.raises(SystemExit) as refused:
        module.main([*args, "--out", str(tmp_path / "out")])
    assert refused.value.code == 2
    assert len(capsys.readouterr().err.splitlines()) == 1
    assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit):
        module.main(["--help"])
    option = args[0]
    described = " ".join(capsys.readouterr().out.split(option, 2)[-1].split()[:40])
    assert " to " in described, f"{script} {option}: no limit in --help: {described}"


def test_a_negative_number_in_exponent_form_is_a_value(tmp_path, capsys):
    import train_batch

    # argparse would read "-1e30" as an option of its own ("expected one argument"); it is
    # the value of --w0, refused as past its limit, in both spellings alike.
    with pytest.raises(SystemExit) as stopped:
        train_batch.main(["--w0=-1e30", "--epochs", "2", "--out", str(tmp_path)])
    first = capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped_again:
        train_batch.main(["--w0", "-1e30", "--epochs", "2", "--out", str(tmp_path)])
    assert stopped.value.code == stopped_again.value.code == 2
    assert capsys.readouterr().err == first
    assert "argument --w0: '-1e30' must be a number from -1e6 to 1e6" in first
    train_batch.main(["--w0", "-1e5", "--epochs", "2", "--out", str(tmp_path)])
    assert "start w=-100000" in capsys.readouterr().out


def test_a_link_that_loops_is_not_a_folder(tmp_path, capsys):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(SystemExit) as refused:
        data.main(["--out", str(loop)])
    assert refused.value.code == 2
    assert "not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("csv", ["{tmp}", "{tmp}/new/", "/proc/x.csv"],
                         ids=["a-folder", "ends-with-slash", "cannot-write-there"])
def test_a_csv_that_cannot_be_written_is_refused_before_any_work(tmp_path, capsys, csv):
    with pytest.raises(SystemExit) as refused:
        data.main(["--csv", csv.format(tmp=tmp_path), "--out", str(tmp_path / "out")])
    assert refused.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "new").exists()


def test_an_out_folder_that_cannot_be_made_is_refused_before_training(tmp_path, capsys):
    with pytest.raises(SystemExit) as refused:
        compare.main(["--out", "/proc/figures"])
    assert refused.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "/proc" in captured.err


def test_data_whose_x_are_all_equal_is_refused(tmp_path, capsys):
    (tmp_path / "flat.csv").write_text("x,y\n1,2\n1,3\n1,4\n")
    with pytest.raises(SystemExit) as refused:
        compare.main(["--data", str(tmp_path / "flat.csv"), "--out", str(tmp_path / "out")])
    assert refused.value.code == 2
    assert "every x is 1" in capsys.readouterr().err


def test_ctrl_c_between_two_renames_waits_then_puts_the_folder_back_as_it_was(tmp_path,
                                                                             monkeypatch):
    out = tmp_path / "out"
    before = earlier_files(out)
    rename = os.rename
    renames = []

    def rename_then_interrupt(source, target):
        rename(source, target)
        renames.append(target)
        if len(renames) == 2:  # the first old file is aside, the first new one in place
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(os, "rename", rename_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_files(out, {name: writer(f"new {name}".encode())
                          for name in ("batch_loss.png", "sgd_loss.png", "compare_loss.png")})
    assert len(renames) == 6, "every rename ran before the interrupt was acted on"
    # Interrupted means unchanged: the new files were moved back out, the earlier ones in.
    assert snapshot(out) == before
    assert no_staging_left(out, tmp_path)


def test_ctrl_c_while_the_files_move_into_a_new_folder_leaves_no_folder(tmp_path,
                                                                       monkeypatch):
    out = tmp_path / "new" / "out"
    rename = os.rename

    def rename_then_interrupt(source, target):
        rename(source, target)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(os, "rename", rename_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_files(out, {"a.txt": writer(b"new")})
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_a_csv_path_that_is_not_a_plain_file_is_refused(tmp_path, capsys):
    (tmp_path / "target").write_text("keep")
    (tmp_path / "link.csv").symlink_to(tmp_path / "target")
    with pytest.raises(SystemExit) as refused:
        data.main(["--csv", str(tmp_path / "link.csv"), "--out", str(tmp_path / "out")])
    assert refused.value.code == 2 and "not a plain file" in capsys.readouterr().err
    assert (tmp_path / "target").read_text() == "keep"


def test_a_closed_standard_output_is_not_a_traceback(tmp_path):
    result = subprocess.run(f'"{sys.executable}" "{ROOT / STANDIN}" "{tmp_path}" plain >&-',
                            shell=True, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == ""
    assert snapshot(tmp_path) == NEW


def test_a_stop_right_after_the_staging_folder_is_made_leaves_none(tmp_path, monkeypatch):
    """A signal the moment the staging folder exists (before a try could remove it) left it
    behind: it is made and named with the signals held, then the signal is acted on."""
    from plumbing import output

    made = tempfile.mkdtemp

    def made_then_signalled(*args, **kwargs):
        folder = made(*args, **kwargs)
        signal.raise_signal(signal.SIGINT)  # Python's own handler: KeyboardInterrupt
        return folder

    monkeypatch.setattr(output.tempfile, "mkdtemp", made_then_signalled)
    with pytest.raises(KeyboardInterrupt):
        output.write_files(tmp_path / "out", {"a.txt": lambda path: open(path, "w").close()})
    assert list(tmp_path.iterdir()) == []


def test_a_second_stop_while_the_first_unwinds_is_ignored():
    """SIGTERM then Ctrl-C a millisecond later: the second raised inside the first's
    clean-up and ended in a traceback."""
    from plumbing import run

    run._done.clear()
    try:
        with pytest.raises(run.Stopped):
            run._stop(signal.SIGTERM, None)
        run._stop(signal.SIGINT, None)  # ignored: no KeyboardInterrupt
    finally:
        run._done.clear()


def test_a_library_that_cannot_load_for_want_of_memory_is_one_line(capsys):
    """Under a tight address-space limit torch itself may not load, before main() runs."""
    from plumbing import run

    error = ImportError("libtorch_cpu.so: failed to map segment from shared object")
    run._said_in_one_line(ImportError, error, None)
    assert capsys.readouterr().err.endswith(
        ": error: not enough memory here to load a library\n")
