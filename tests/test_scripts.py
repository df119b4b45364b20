"""Every script run as a person would run it, into tmp_path, and fed bad input."""

import re

import pytest
from conftest import run_script

import compare
import data
import train_batch
import train_sgd

SCRIPTS = {"data.py": data, "train_batch.py": train_batch, "train_sgd.py": train_sgd,
           "compare.py": compare}


def without_timings(text):
    return re.sub(r"\d+\.\d+ s\)|\s+\d+\.\d+$", "<time>", text, flags=re.M)


@pytest.mark.parametrize("script, args, figures", [
    ("data.py", [], ["data.png"]),
    ("train_batch.py", ["--epochs", "5"], ["batch_loss.png"]),
    ("train_sgd.py", ["--epochs", "2", "--no-shuffle", "--print-steps"], ["sgd_loss.png"]),
    ("train_sgd.py", ["--epochs", "2", "--batch-size", "10"], ["minibatch10_loss.png"]),
    ("compare.py", ["--epochs", "3"], ["batch_loss.png", "sgd_loss.png", "compare_loss.png"]),
])
def test_script_runs_end_to_end(tmp_path, script, args, figures):
    result = run_script(script, *args, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for name in figures:
        assert (tmp_path / "out" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Exactly these: a mini-batch run, say, never overwrites the SGD figure.
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == sorted(figures)
    if script.startswith("train_"):
        lines = result.stdout.strip().splitlines()
        assert lines[-1].startswith("final: w=") and "loss=" in lines[-1]
        assert lines[-2].startswith("least squares: w=")
    if "--print-steps" in args:
        assert sum(line.startswith("step ") for line in result.stdout.splitlines()) == 200


@pytest.mark.parametrize("script", ["train_sgd.py", "compare.py"])
def test_same_command_prints_the_same_numbers(tmp_path, capsys, script):
    outputs = []
    for _ in range(2):
        SCRIPTS[script].main(["--epochs", "3", "--out", str(tmp_path)])
        outputs.append(without_timings(capsys.readouterr().out))
    assert outputs[0] == outputs[1] and "loss" in outputs[0]


def test_epoch_lines_share_one_format(tmp_path, capsys):
    pattern = re.compile(r"^epoch +\d+: loss=\d+\.\d{6} w=[+-]\d+\.\d{6} b=[+-]\d+\.\d{6}$")
    for script in ("train_batch.py", "train_sgd.py"):
        SCRIPTS[script].main(["--epochs", "2", "--out", str(tmp_path)])
        out = capsys.readouterr().out.splitlines()
        epoch_lines = [line for line in out if line.startswith("epoch")]
        assert len(epoch_lines) == 3 and all(pattern.match(line) for line in epoch_lines)


BAD_ARGS = [
    ["--lr", "0"], ["--lr", "-0.1"], ["--lr", "nan"], ["--lr", "inf"], ["--lr", "fast"],
    ["--epochs", "0"], ["--epochs", "2.5"], ["--epochs", "-3"], ["--n", "0"], ["--n", "1"],
    ["--n", "10000001"],
    ["--seed", "-1"], ["--seed", "x"], ["--w0", "nan"], ["--bogus"],
]


@pytest.mark.parametrize("script", ["train_batch.py", "train_sgd.py"])
@pytest.mark.parametrize("args", BAD_ARGS, ids=" ".join)
def test_bad_training_arguments_are_refused_in_one_line(tmp_path, capsys, script, args):
    with pytest.raises(SystemExit) as stopped:
        SCRIPTS[script].main([*args, "--out", str(tmp_path / "out")])
    assert stopped.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and "error:" in captured.err
    assert not (tmp_path / "out").exists(), "refused before any work"


@pytest.mark.parametrize("args", [["--batch-lr", "0"], ["--sgd-lr", "-1"], ["--epochs", "0"]])
def test_bad_compare_arguments_are_refused(capsys, tmp_path, args):
    with pytest.raises(SystemExit) as stopped:
        compare.main([*args, "--out", str(tmp_path)])
    assert stopped.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_output_folder_that_is_a_file_is_refused(tmp_path, capsys, script):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    for out in (blocker, blocker / "sub"):
        with pytest.raises(SystemExit) as stopped:
            SCRIPTS[script].main(["--out", str(out)])
        assert stopped.value.code == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "--out" in err


def test_step_size_above_the_bound_is_warned_about(tmp_path, capsys):
    train_batch.main(["--lr", "0.125", "--epochs", "3", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "warning: lr=0.125 is at or above the batch stability bound 0.1200" in out


def earlier_figures(out):
    out.mkdir()
    earlier = {name: f"earlier {name}".encode() for name in
               ("batch_loss.png", "sgd_loss.png", "compare_loss.png")}
    for name, content in earlier.items():
        (out / name).write_bytes(content)
    return earlier


def check_divergence_report(stdout, stderr):
    assert "Traceback" not in stderr
    assert "warning:" in stdout
    error_lines = stderr.strip().splitlines()
    assert len(error_lines) == 1 and "diverged" in error_lines[0]
    assert "stability bound" in error_lines[0] and "step size" in error_lines[0]


@pytest.mark.parametrize("script, args", [
    ("train_batch.py", ["--lr", "0.2", "--epochs", "100"]),
    ("compare.py", ["--sgd-lr", "0.5"]),
])
def test_divergence_stops_with_one_line_and_keeps_earlier_figures(tmp_path, capsys, script,
                                                                  args):
    out = tmp_path / "out"
    earlier = earlier_figures(out)
    with pytest.raises(SystemExit) as stopped:
        SCRIPTS[script].main([*args, "--out", str(out)])
    assert stopped.value.code == 1
    check_divergence_report(*capsys.readouterr())
    assert {p.name: p.read_bytes() for p in out.iterdir()} == earlier


def test_tutorial_step_size_per_sample_fails_cleanly_as_a_process(tmp_path):
    out = tmp_path / "out"
    earlier = earlier_figures(out)
    result = run_script("train_sgd.py", "--lr", "0.1", "--out", out)
    assert result.returncode == 1
    check_divergence_report(result.stdout, result.stderr)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == earlier
