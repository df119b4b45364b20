import os
import signal
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest
import torch

# A suite started in the background (`pytest &` in a script) inherits an ignored Ctrl-C and
# Ctrl-\ (SIGQUIT), and so would every program it starts: the interrupt tests need them back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
if hasattr(signal, "SIGQUIT") and signal.getsignal(signal.SIGQUIT) is signal.SIG_IGN:
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)

# Tests never open a window.
matplotlib.use("Agg")
os.environ["MPLBACKEND"] = "Agg"

# One thread for torch's operations in the tests' own processes: their tensors are small,
# and the suite's two workers already keep both cores busy, so a second thread per
# operation would only spend CPU waiting.
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    parser.addoption("--update-docs", action="store_true",
                     help="rewrite, in place, the shown output of every console block in the "
                          "docs whose command now prints something else (review: git diff)")


def run_script(script, *args, cwd=None, env=None):
    """Run one of the project's scripts as a person would, and capture what it prints."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *map(str, args)],
        capture_output=True, text=True, cwd=cwd or ROOT, timeout=120,
        env={**os.environ, "MPLBACKEND": "Agg", **(env or {})},
    )


@pytest.fixture
def data():
    from data import make_data

    return make_data()


def wrote_exactly(printed, folder):
    """Whether a run's `wrote PATH` lines name, as absolute paths, exactly the files in
    `folder`, and at least one."""
    announced = sorted(line.split(" ", 1)[1] for line in printed.splitlines()
                       if line.startswith("wrote "))
    return bool(announced) and announced == sorted(str(path) for path in folder.iterdir())


def run_main(module, capsys, *args):
    """A script's main() in this process: (exit status, printed output, printed errors)."""
    try:
        module.main([str(arg) for arg in args])
        status = 0
    except SystemExit as stop:
        status = stop.code
    printed = capsys.readouterr()
    return status, printed.out, printed.err
