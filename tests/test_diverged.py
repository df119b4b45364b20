"""Every script that trains ends a diverged run the same way: its figure drawn, then one
line naming the stability bound it broke, exit status 1. Huge step sizes, and runs whose
very last update blows up (every loss before it still in bounds), included."""

import importlib
import re

import matplotlib.pyplot as plt
import pytest
from conftest import run_main

import optimizers
from descent import divergence_report, train
from lines import short
from model import History, final_loss, stability_bound

STEP_SIZE = (r"step size \S+ is at or above the stability bound (?P<bound>\S+) of .+; "
             r"try a step size below (?P=bound)")
NO_FIXED_BOUND = r".+ has no fixed stability bound; try a smaller step size than \S+"

# (script, its arguments): huge step sizes, and runs of 9 steps at lr 0.2 whose loss
# passes a million times the start only after the 9th update (8.33e+08 > 599 * 1e6).
RUNS = [
    ("train_batch", ["--lr", "0.2", "--epochs", "9"]),
    ("train_batch", ["--lr", "1e38", "--epochs", "1"]),
    ("train_sgd", ["--lr", "0.2", "--epochs", "9", "--batch-size", "100"]),
    ("train_sgd", ["--lr", "100", "--epochs", "1"]),
    ("compare", ["--batch-lr", "0.2", "--epochs", "9"]),
    ("compare", ["--batch-lr", "1e38", "--epochs", "1"]),
    ("optimizers", ["--method", "gd", "--lr", "0.2", "--epochs", "9"]),
    ("optimizers", ["--method", "gd", "--lr", "1e38", "--epochs", "1"]),
    ("optimizers", ["--method", "adam", "--lr", "1e38", "--epochs", "2"]),
    ("visualize", ["--only", "surface", "--batch-lr", "1e38", "--epochs", "1"]),
    ("visualize", ["--only", "animation", "--batch-lr", "1e38", "--epochs", "1"]),
    ("data_parallel", ["--lr", "1e38", "--epochs", "1", "--workers", "1"]),
    ("everyday_pytorch", ["--lr", "1e38", "--epochs", "1", "--batch-size", "100"]),
    ("habits", ["--lr", "100"]),
    ("habits", ["--lr", "0.2", "--epochs", "9"]),
    ("step_cost", ["--lr", "100", "--sizes", "1000", "--repeats", "1", "--no-compile"]),
]


@pytest.fixture(autouse=True)
def closed_figures():
    """A run that ends on its divergence line exits before it closes its figures, as a
    process ends; run in this one, its figures are closed here."""
    yield
    plt.close("all")


@pytest.mark.filterwarnings("error::RuntimeWarning")  # NumPy's overflow warnings included
@pytest.mark.parametrize("script, args", RUNS, ids=[" ".join([s, *a]) for s, a in RUNS])
def test_a_diverged_run_draws_its_figure_then_names_the_bound_it_broke(tmp_path, capsys,
                                                                        script, args):
    module = importlib.import_module(script)
    status, out, err = run_main(module, capsys, *args, "--out", tmp_path)
    assert status == 1, err
    assert len(err.splitlines()) == 1 and ": error: " in err
    assert re.fullmatch(r"([^:]+: )?diverged at (the end of )?epoch \d+(, (after )?step \d+)?: "
                        rf"loss \S+; ({STEP_SIZE}|{NO_FIXED_BOUND})",
                        err.split(": error: ", 1)[1].strip()), err
    assert not re.search(r"^(final|last point):", out, re.MULTILINE)  # no end of a blow-up
    written = [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("wrote ")]
    assert written and all(name.endswith((".png", ".gif")) for name in written)
    assert sorted(map(str, tmp_path.iterdir())) == sorted(written)


def test_a_blow_up_on_the_last_update_is_named_where_the_run_ended(data):
    X, Y = data
    history = train(X, Y, optimizers.gd, {"lr": 0.2}, epochs=9)
    start = history.epoch_losses[0]
    assert max(history.step_losses) < 1e6 * start < final_loss(X, Y, history)
    bound = stability_bound(X)
    assert divergence_report(history, 1, 0.2, bound, "batch descent") is None
    line = divergence_report(history, 1, 0.2, bound, "batch descent", final_loss(X, Y, history))
    assert line.startswith(f"diverged at the end of epoch 9: loss {final_loss(X, Y, history):.3g};")
    steps = train(X, Y, optimizers.gd, {"lr": 0.2}, epochs=3, batch_size=34)
    assert divergence_report(steps, 3, 0.2, bound, "rule", 1e30).startswith(
        "diverged at the end of epoch 3, after step 9: loss 1e+30;")
    assert divergence_report(History([1.0], [1.0], [(0, 0), (0, 0)]), 1, 0.2, bound, "rule",
                             1.0) is None


@pytest.mark.parametrize("weight_decay", [0.01, 1.0, 1e30])
def test_adamws_bound_is_its_decays_and_its_line_names_it(data, tmp_path, capsys,
                                                         weight_decay):
    X, Y = data
    edge = optimizers.stability_edge("adamw", stability_bound(X), weight_decay=weight_decay)
    assert edge == pytest.approx(2 / weight_decay)
    # Its decay multiplies w and b by 1 - lr * weight_decay a step: below -1 they grow.
    for lr, grows in [(0.9 * edge, False), (1.1 * edge, True)]:
        hyperparams = {**optimizers.DEFAULTS["adamw"], "lr": lr, "weight_decay": weight_decay}
        history = train(X, Y, optimizers.adamw, hyperparams, epochs=300)
        report = divergence_report(history, 1, lr, edge, "adamw", final_loss(X, Y, history))
        assert (report is not None) == grows
    status, _, err = run_main(optimizers, capsys, "--method", "adamw", "--weight-decay",
                              str(weight_decay), "--lr", str(1.1 * edge), "--epochs", "300",
                              "--out", tmp_path)
    assert status == 1 and err.endswith(
        f"of adamw with weight decay {weight_decay:g} on all 100 samples, 2 / weight_decay; "
        f"try a step size below {short(edge)}\n"), err
