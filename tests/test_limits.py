"""Every count has a limit, and so does a command's work in all; a run that needs more
memory or threads than it can get says so in one line; a compiler that cannot load leaves
the other rungs working.

In-process where the behaviour allows; a subprocess only where it needs one: an
address-space limit, an environment that breaks torch's compiler."""


import pytest
from conftest import run_main

import optimizers
import visualize
from plumbing.options import MAX_UPDATES


@pytest.mark.parametrize("module, args, runs", [
    # The sweep trains the three runs once at every step size: 201 step sizes (0.1 added).
    (visualize, ["--only", "sweep", "--epochs", "50", "--sweep-points", "200"], 3 * 201),
    # Every method side by side: seven runs.
    (optimizers, ["--epochs", "20_000", "--batch-size", "1", "--n", "10"], 7),
])
def test_a_commands_work_in_all_has_a_limit_stated_in_help_and_kept(tmp_path, capsys, module,
                                                                   args, runs):
    status, out, _ = run_main(module, capsys, "--help")
    assert status == 0 and "in all" in " ".join(out.split())
    epochs, n = int(args[args.index("--epochs") + 1]), 100
    n = int(args[args.index("--n") + 1]) if "--n" in args else n
    assert epochs * n <= MAX_UPDATES < runs * epochs * n  # each run alone is within it
    status, out, err = run_main(module, capsys, *args, "--out", tmp_path / "out")
    assert status == 2 and out == "" and not (tmp_path / "out").exists()
    assert len(err.splitlines()) == 1
    assert f"{runs:,} runs of {epochs:,} epochs" in err and "in all" in err
