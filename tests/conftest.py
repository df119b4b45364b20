import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

# Tests never open a window.
matplotlib.use("Agg")
os.environ["MPLBACKEND"] = "Agg"

ROOT = Path(__file__).resolve().parent.parent


def run_script(script, *args, cwd=None):
    """Run one of the project's scripts as a person would, and capture what it prints."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *map(str, args)],
        capture_output=True, text=True, cwd=cwd or ROOT, timeout=120,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )


@pytest.fixture
def data():
    from data import make_data

    return make_data()
