"""Every script run as a person would run it, into tmp_path, and fed bad input.

The scripts are found, not listed: any .py file at the project's top whose
`if __name__ == "__main__":` block runs its main() is run on its tiny setting (its
TEST_ARGS, if it has them).
"""

import ast
import importlib
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT, run_main, wrote_exactly

import compare
import data
import train_batch
import train_sgd
from lines import bound_warning
from model import least_squares, stability_bound


def runs_main(path):
    """Whether the file runs its main() when run: a command. (The playground, a notebook
    served as a page, runs its app instead: tests/test_playground.py tests it.)"""
    for statement in ast.parse(path.read_text()).body:
        if isinstance(statement, ast.If) and ast.unparse(statement.test) == \
                "__name__ == '__main__'":
            return any(isinstance(node, ast.Name) and node.id == "main"
                       for node in ast.walk(statement))
    return False


SCRIPTS = sorted(path.name for path in ROOT.glob("*.py") if runs_main(path))
TRAINING = {"train_batch.py": train_batch, "train_sgd.py": train_sgd, "compare.py": compare}
# Slow scripts whose own tests run them on their TEST_ARGS from another folder and check
# what they announce: one run each, not two.
ANNOUNCED_IN_THEIR_OWN_TESTS = {"benchmark.py", "parallel_costs.py", "step_cost.py",
                                "visualize.py"}


def test_the_scripts_are_found():
    assert {"data.py", "train_batch.py", "train_sgd.py", "compare.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", [script for script in SCRIPTS
                                    if script not in ANNOUNCED_IN_THEIR_OWN_TESTS])
def test_script_runs_in_another_folder_and_says_where_every_file_went(tmp_path, capsys,
                                                                      monkeypatch, script):
    module = importlib.import_module(script[:-3])
    monkeypatch.chdir(tmp_path)
    status, out, err = run_main(module, capsys, *getattr(module, "TEST_ARGS", []),
                                "--out", "out")
    assert status == 0, err
    # Absolute paths, inside the folder it was run from, and exactly the files it wrote.
    assert wrote_exactly(out, tmp_path / "out"), out


def test_every_script_starts_from_another_folder_as_python_runs_it(tmp_path):
    # `python SCRIPT.py` puts the script's folder first on the path, and nothing else of
    # the project: every script's imports resolve from there, from any folder.
    modules = ", ".join(script[:-3] for script in SCRIPTS)
    result = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path[0] = {str(ROOT)!r}; import {modules}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={key: value for key, value in os.environ.items() if key != "PYTHONPATH"})
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_tutorial_scripts_write_their_figures(tmp_path):
    cases = [(train_batch, ["--epochs", "5"], ["batch_loss.png"]),
             (train_sgd, ["--epochs", "2", "--batch-size", "10"], ["minibatch10_loss.png"]),
             (compare, ["--epochs", "3"], ["batch_loss.png", "sgd_loss.png",
                                           "compare_loss.png"])]
    for number, (module, args, figures) in enumerate(cases):
        out = tmp_path / str(number)
        module.main([*args, "--out", str(out)])
        # Exactly these: a mini-batch run, say, never overwrites the SGD figure.
        assert sorted(path.name for path in out.iterdir()) == sorted(figures)


def test_print_steps_prints_every_steps_own_loss_and_the_gradient_derived_by_hand(
        tmp_path, capsys, data):
    train_sgd.main(["--epochs", "2", "--no-shuffle", "--print-steps", "--out", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    steps = [line for line in lines if line.startswith("  step ")]
    assert len(steps) == 200
    assert lines[-3].startswith("least squares: w=") and lines[-2].startswith("final: w=")
    pattern = re.compile(r"  step +(\d+): w=(\S+) b=(\S+) loss=(\S+) dloss/dw=(\S+) "
                         r"dloss/db=(\S+)$")
    X, Y = (values.reshape(-1).double() for values in data)
    for number, line in enumerate(steps):
        step, w, b, loss, dw, db = (float(part) for part in pattern.match(line).groups())
        assert step == number + 1
        # For one sample, loss = r^2 with r = w*x + b - y: dloss/dw = 2*r*x, dloss/db = 2*r.
        # In the stored order, step k is sample (k - 1) mod n. w and b are printed to six
        # decimals, so r is known to about 3e-6 and the gradients to about 1e-4.
        x, y = X[number % 100].item(), Y[number % 100].item()
        r = w * x + b - y
        assert loss == pytest.approx(r * r, rel=1e-5, abs=1e-4)
        assert dw == pytest.approx(2 * r * x, rel=1e-5, abs=1e-4)
        assert db == pytest.approx(2 * r, rel=1e-5, abs=1e-4)
    # Each step starts where the last one's update, w - lr * dloss/dw, left it.
    first, second = (pattern.match(line).groups() for line in steps[:2])
    assert float(second[1]) == pytest.approx(float(first[1]) - 0.01 * float(first[4]), abs=2e-6)


def test_epoch_lines_share_one_format(tmp_path, capsys):
    pattern = re.compile(r"^epoch +\d+: loss=\d+\.\d{6} w=[+-]\d+\.\d{6} b=[+-]\d+\.\d{6}$")
    for script in ("train_batch.py", "train_sgd.py"):
        TRAINING[script].main(["--epochs", "2", "--out", str(tmp_path)])
        out = capsys.readouterr().out.splitlines()
        epoch_lines = [line for line in out if line.startswith("epoch")]
        assert len(epoch_lines) == 2 and all(pattern.match(line) for line in epoch_lines)


# Bad values for the options the scripts share. Every script found is fed each one that its
# --help lists, so a new script is held to the same rules without editing this file.
BAD_VALUES = {
    "--lr": ["0", "-0.1", "nan", "inf", "fast"], "--epochs": ["0", "2.5", "-3"],
    "--n": ["0", "1", "10000001"], "--seed": ["-1", "x"], "--w0": ["nan"], "--b0": ["inf"],
    "--noise": ["-1", "1e308"], "--slope": ["inf", "1e308"], "--batch-size": ["0"],
    "--sizes": ["1"], "--repeats": ["0"], "--budget": ["0"], "--sweep-points": ["1"],
    "--workers": ["0"], "--costs-up-to": ["99999"], "--latency-us": ["0"],
    "--batch-lr": ["0"], "--sgd-lr": ["-1"],
    # A file that cannot be used is one line, whatever is wrong with it (tests/test_data.py
    # holds each reason): here, one that is not there.
    "--data": [str(ROOT / "no-such-file.csv")],
}


def refused(module, args, capsys):
    """A run of `args` refused in one line with exit status 2: the line."""
    with pytest.raises(SystemExit) as stopped:
        module.main(args)
    captured = capsys.readouterr()
    assert stopped.value.code == 2 and captured.out == "", args
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    return captured.err


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_shows_the_options_and_bad_input_is_one_line_before_any_work(tmp_path, capsys,
                                                                          script):
    module = importlib.import_module(script[:-3])
    with pytest.raises(SystemExit) as stopped:
        module.main(["--help"])
    shown = capsys.readouterr().out
    assert stopped.value.code == 0 and "--out" in shown
    out = str(tmp_path / "out")
    assert "--bogus" in refused(module, ["--bogus", "--out", out], capsys)
    # Each bad value of every shared option its --help lists.
    options = set(re.findall(r"--[a-z][a-z0-9-]*", shown))
    tried = [(option, value) for option, values in BAD_VALUES.items() if option in options
             for value in values]
    for option, value in tried:
        assert option in refused(module, [option, value, "--out", out], capsys)
    assert tried, f"{script} shares none of the common options"
    assert not (tmp_path / "out").exists(), "refused before any work"
    # An output folder that is a file, or inside one.
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    for folder in (blocker, blocker / "sub"):
        assert "--out" in refused(module, ["--out", str(folder)], capsys)


def test_step_size_above_the_bound_is_warned_about(tmp_path, capsys):
    train_batch.main(["--lr", "0.125", "--epochs", "3", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    X, _ = data.make_data()
    assert bound_warning("lr", 0.125, stability_bound(X), "batch descent") in out.splitlines()


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


def test_a_comparison_that_diverges_draws_both_runs_then_stops_with_one_line(tmp_path,
                                                                             capsys):
    out = tmp_path / "out"
    earlier = earlier_figures(out)
    with pytest.raises(SystemExit) as stopped:
        compare.main(["--sgd-lr", "0.5", "--out", str(out)])
    assert stopped.value.code == 1
    stdout, stderr = capsys.readouterr()
    check_divergence_report(stdout, stderr)
    assert ": error: SGD: diverged at epoch 1, step " in stderr
    assert "least squares" not in stdout  # no table of a run that blew up
    now = {p.name: p.read_bytes() for p in out.iterdir()}
    assert now.keys() == earlier.keys()
    assert all(now[name] != earlier[name] and now[name].startswith(b"\x89PNG") for name in now)


def only_the_diverged_runs_figure_is_new(out, earlier, name):
    now = {p.name: p.read_bytes() for p in out.iterdir()}
    assert now.keys() == earlier.keys() and now[name].startswith(b"\x89PNG")
    assert {key: value for key, value in now.items() if key != name} == {
        key: value for key, value in earlier.items() if key != name}


def test_a_tutorial_run_that_diverges_draws_its_climb_then_stops_with_one_line(tmp_path,
                                                                              capsys):
    out = tmp_path / "out"
    earlier = earlier_figures(out)
    with pytest.raises(SystemExit) as stopped:
        train_batch.main(["--lr", "0.2", "--epochs", "100", "--out", str(out)])
    assert stopped.value.code == 1
    stdout, stderr = capsys.readouterr()
    check_divergence_report(stdout, stderr)
    assert "final:" not in stdout and f"wrote {out / 'batch_loss.png'}" in stdout
    only_the_diverged_runs_figure_is_new(out, earlier, "batch_loss.png")


def test_sgd_at_the_tutorials_step_size_draws_its_climb_then_stops_with_one_line(tmp_path,
                                                                              capsys):
    out = tmp_path / "out"
    earlier = earlier_figures(out)
    status, stdout, stderr = run_main(train_sgd, capsys, "--lr", "0.1", "--out", out)
    assert status == 1
    check_divergence_report(stdout, stderr)
    only_the_diverged_runs_figure_is_new(out, earlier, "sgd_loss.png")


def write_csv(path, X, Y, extra_column=True):
    rows = ["label,x,y" if extra_column else "x,y"]
    rows += [(f"p{i}," if extra_column else "") + f"{x:.9g},{y:.9g}"
             for i, (x, y) in enumerate(zip(X.reshape(-1).tolist(), Y.reshape(-1).tolist(),
                                            strict=True))]
    path.write_text("\n".join(rows) + "\n")


def test_data_from_a_file_trains_to_the_files_least_squares(tmp_path, capsys):
    import torch

    generator = torch.Generator().manual_seed(3)
    X = torch.rand(60, 1, generator=generator) * 4 - 2
    Y = 1.5 * X + 3.0 + 0.2 * torch.randn(60, 1, generator=generator)
    write_csv(tmp_path / "mine.csv", X, Y)
    train_batch.main(["--data", str(tmp_path / "mine.csv"), "--epochs", "300",
                      "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert "60 points from" in out and "mine.csv" in out
    ls_w, ls_b, _ = least_squares(*data.read_csv(tmp_path / "mine.csv"))
    final = re.search(r"final: w=(\S+) b=(\S+)", out)
    assert abs(float(final[1]) - ls_w) < 1e-4 and abs(float(final[2]) - ls_b) < 1e-4
    # The bound comes from the file's x (in [-2, 2)), not the tutorial's [-5, 5).
    from model import stability_bound

    assert f"stable below lr={stability_bound(X):.4f}" in out


@pytest.mark.parametrize("script", ["train_batch.py", "train_sgd.py", "compare.py"])
def test_device_cpu_is_the_default_and_cuda_needs_a_gpu(tmp_path, capsys, script):
    import torch

    module = TRAINING[script]
    outputs = [run_main(module, capsys, *args, "--epochs", "2", "--out", tmp_path)
               for args in ([], ["--device", "cpu"])]
    assert outputs[0][0] == 0 and outputs[0] == outputs[1]
    status, out, err = run_main(module, capsys, "--device", "cuda", "--epochs", "2", "--out",
                                tmp_path / "cuda")
    if torch.cuda.is_available():  # the same run on the GPU, which it names
        assert status == 0 and f"device: cuda ({torch.cuda.get_device_name()})" in out
    else:  # refused before any work, in one line
        assert status == 2 and out == "" and not (tmp_path / "cuda").exists()
        assert err.endswith(": error: --device cuda: torch finds no CUDA GPU here "
                            "(torch.cuda.is_available() is False); --device cpu runs "
                            "everywhere (see --help)\n") and err.count("\n") == 1


@pytest.mark.parametrize("script", ["benchmark", "step_cost"])
def test_a_list_of_sizes_has_a_limit_stated_in_help_and_kept(tmp_path, capsys, script):
    module = importlib.import_module(script)
    most = module.OPTIONS["sizes"][3]["most"]
    status, out, err = run_main(module, capsys, "--help")
    assert status == 0 and f"at most {most} of them" in " ".join(out.split())
    sizes = [str(100 + size) for size in range(most + 1)]
    status, out, err = run_main(module, capsys, "--sizes", *sizes, "--out", tmp_path / "out")
    assert status == 2 and out == "" and not (tmp_path / "out").exists()
    assert len(err.splitlines()) == 1
    assert err.endswith(f": error: --sizes: {most + 1:,} values; the limit is {most} "
                        "(see --help)\n")
