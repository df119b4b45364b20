"""tutorial.py, the tutorial's complete code in one file: what it prints, and where its runs
end, are train_batch.py's and train_sgd.py --no-shuffle's, number for number."""

import ast
import contextlib
import io
import os
import runpy

import matplotlib.pyplot as plt
import pytest
from conftest import ROOT, run_main

import train_batch
import train_sgd


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    """(the batch lines, the SGD lines) tutorial.py printed, as numbers; its folder."""
    folder = tmp_path_factory.mktemp("tutorial")
    # As `python tutorial.py` runs it, from top to bottom, here in this process.
    out, err, saved = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            runpy.run_path(str(ROOT / "tutorial.py"), run_name="__main__")
    finally:
        os.chdir(saved)
        plt.close("all")
    assert err.getvalue() == ""
    *lines, wrote = out.getvalue().splitlines()
    assert wrote == "wrote figures/tutorial_loss.png"
    rows = [[float(part) for part in line.split(", \t")] for line in lines]
    return rows[:20], rows[20:], folder


def test_its_batch_lines_are_train_batchs_run_exactly(data, printed, tmp_path, capsys):
    batch, _, _ = printed
    history = train_batch.train_batch(*data, verbose=False)
    assert [row[0] for row in batch] == list(range(20))
    assert [row[1] for row in batch] == history.epoch_losses  # the loss before each step
    assert [tuple(row[2:]) for row in batch] == history.path[1:]  # (w, b) after it
    # And train_batch.py prints the same numbers, to its six decimals.
    status, out, _ = run_main(train_batch, capsys, "--out", tmp_path)
    assert status == 0
    epochs = [line for line in out.splitlines() if line.startswith("epoch")]
    assert epochs == [f"epoch {int(i) + 1:3d}: loss={loss:.6f} w={w:+.6f} b={b:+.6f}"
                      for i, loss, w, b in batch]


def test_its_sgd_lines_are_train_sgds_run_in_order_exactly(data, printed, tmp_path, capsys):
    _, sgd, _ = printed
    assert len(sgd) == 20 * 100 and [row[0] for row in sgd] == [i // 100 for i in range(2000)]
    history = train_sgd.train_sgd(*data, shuffle=False, verbose=False)
    assert [row[1] for row in sgd] == history.step_losses  # each sample's own loss
    assert [tuple(row[2:]) for row in sgd] == history.path[1:]
    status, out, _ = run_main(train_sgd, capsys, "--no-shuffle", "--out", tmp_path)
    assert status == 0
    _, w, b = sgd[-1][1:]
    assert f"final: w={w:+.6f} b={b:+.6f} " in out


def test_it_draws_the_tutorials_two_losses(printed):
    _, _, folder = printed
    assert (folder / "figures" / "tutorial_loss.png").read_bytes().startswith(b"\x89PNG")


def test_it_is_the_tutorials_code_alone_on_one_screen():
    source = (ROOT / "tutorial.py").read_text()
    assert len(source.splitlines()) <= 70
    tree = ast.parse(source)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"os", "matplotlib.pyplot", "torch"}  # no project module
    functions = [node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]
    assert functions == ["forward", "criterion"]
    for name in ("loss_BGD", "loss_SGD", "w.data = w.data - step_size * w.grad.data"):
        assert name in source
