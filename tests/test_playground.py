"""The playground (playground.py): its runs are the scripts' runs, number for number; it
runs as a plain script; and in a real browser, a learner's moves change what it shows.

The browser test drives Debian's Chromium through Playwright. CI sets PLAYGROUND_BROWSER=
required, so there it runs or fails, never skips; elsewhere, without Chromium, it skips.
"""

import html
import os
import runpy
import shutil
import socket
import subprocess
import sys

import marimo
import pytest
import torch
from conftest import ROOT, run_main

import optimizers
import playground
import schedules
import train_batch
import train_sgd
from data import make_data
from plumbing import options


def printed_summary(out):
    """The `least squares:` and `final:` lines a script printed."""
    return [line for line in out.splitlines() if line.startswith(("least squares:", "final:"))]


# (the script, its arguments, the same setting in the playground)
SAME_SETTINGS = [
    (train_batch, [], {}),
    (train_batch, ["--lr", "0.05", "--epochs", "30", "--w0", "3", "--b0", "4"],
     {"hyperparams": {"lr": 0.05}, "epochs": 30, "w0": 3.0, "b0": 4.0}),
    (train_sgd, [], {"hyperparams": {"lr": 0.01}, "batch_size": 1, "sampling": "reshuffled"}),
    (train_sgd, ["--batch-size", "10", "--no-shuffle", "--lr", "0.02"],
     {"hyperparams": {"lr": 0.02}, "batch_size": 10, "sampling": "in order"}),
    (train_sgd, ["--schedule", "cosine", "--epochs", "5"],
     {"hyperparams": {"lr": 0.01}, "batch_size": 1, "sampling": "reshuffled",
      "schedule": "cosine", "epochs": 5}),
    (train_sgd, ["--sampling", "replacement", "--epochs", "5"],
     {"hyperparams": {"lr": 0.01}, "batch_size": 1, "sampling": "with replacement",
      "epochs": 5}),
    (optimizers, ["--method", "momentum", "--epochs", "20"],
     {"method": "momentum", "epochs": 20}),
    (optimizers, ["--method", "adam", "--batch-size", "10", "--epochs", "10", "--beta1", "0.8"],
     {"method": "adam", "batch_size": 10, "epochs": 10, "sampling": "reshuffled",
      "hyperparams": {"betas": (0.8, 0.999)}}),
    (optimizers, ["--method", "nesterov", "--lr", "0.1", "--momentum", "0.3"],
     {"method": "nesterov", "epochs": 100, "hyperparams": {"lr": 0.1, "momentum": 0.3}}),
]


@pytest.mark.parametrize("script, args, setting", SAME_SETTINGS,
                         ids=[f"{script.__name__} {' '.join(args)}"
                              for script, args, _ in SAME_SETTINGS])
def test_the_playgrounds_run_is_the_scripts_number_for_number(tmp_path, capsys, script, args,
                                                              setting):
    status, out, err = run_main(script, capsys, *args, "--out", tmp_path)
    assert status == 0, err
    X, Y = make_data()
    _, summary, _ = playground.run_setting(X, Y, **setting)
    assert summary == printed_summary(out) and len(summary) == 2


def test_past_the_bound_the_playground_warns_in_the_scripts_words(tmp_path, capsys):
    _, out, _ = run_main(optimizers, capsys, "--method", "momentum", "--lr", "0.2",
                         "--epochs", "5", "--out", tmp_path)
    X, Y = make_data()
    _, _, facts = playground.run_setting(X, Y, "momentum", {"lr": 0.2}, epochs=5)
    assert facts["warning"] in out.splitlines()


def test_a_diverging_run_says_where_and_which_bound_it_broke(tmp_path, capsys):
    status, _, err = run_main(optimizers, capsys, "--method", "gd", "--lr", "0.2", "--epochs",
                              "20", "--out", tmp_path)
    X, Y = make_data()
    history, summary, facts = playground.run_setting(X, Y, hyperparams={"lr": 0.2})
    assert status == 1 and summary == [] and history.updates < 20
    assert err.strip().endswith(f": error: {facts['diverged']}")


def test_an_uploaded_csv_is_read_as_data_reads_it_and_refused_in_the_same_words(
        tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,4\n")
    _, _, err = run_main(train_batch, capsys, "--data", "bad.csv", "--out", tmp_path)
    loaded, refusal = playground.read_upload("bad.csv", b"a,b\n1,2\n3,4\n")
    assert loaded is None and err.strip().endswith(f": error: {refusal} (see --help)")
    (X, Y), refusal = playground.read_upload("line.csv", b"x,y\n1,2\n2,4.5\n")
    assert refusal is None and X.reshape(-1).tolist() == [1, 2]
    assert Y.reshape(-1).tolist() == [2, 4.5]


def test_the_playground_runs_as_a_plain_script(capsys, monkeypatch):
    # Its `if __name__ == "__main__":` block, run in this process (as python would run it):
    # every cell once, nothing on stderr.
    monkeypatch.setattr(sys, "argv", ["playground.py"])
    runpy.run_path(str(ROOT / "playground.py"), run_name="__main__")
    printed = capsys.readouterr()
    assert printed.err == ""
    # It says what it did: the scripts' summary of the default run, and where to play.
    assert printed.out.splitlines()[-2].startswith("final: w=-5.005440 b=-0.207838")
    assert printed.out.splitlines()[-1].startswith("every cell ran once")


def test_as_a_script_it_says_it_takes_no_options(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["playground.py", "--help"])
    runpy.run_path(str(ROOT / "playground.py"), run_name="__main__")
    assert "python -m marimo run playground.py" in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", ["playground.py", "--lr", "abc"])
    with pytest.raises(SystemExit) as stopped:
        runpy.run_path(str(ROOT / "playground.py"), run_name="__main__")
    printed = capsys.readouterr()
    assert stopped.value.code == 2 and printed.out == ""
    assert printed.err == ("playground.py: error: it takes no options: move its sliders in "
                           "`python -m marimo run playground.py` (see docs/playground.md)\n")


# In a real browser.

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
# How long the page may take to show what a move asks for, in ms. Every wait is on the
# page's own state, never a fixed sleep; on a loaded machine a recomputation takes seconds
# where it takes half a second on a quiet one, so the limit is generous.
WAIT = 120_000


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_playground():
    """`marimo run playground.py` on a free loopback port; returns (process, address) once
    it has printed its address."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "marimo", "run", str(ROOT / "playground.py"), "--headless",
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env={**os.environ, "MPLBACKEND": "Agg"})
    for line in server.stdout:
        if "URL:" in line:
            return server, f"http://127.0.0.1:{port}"
    server.kill()
    raise AssertionError("marimo ended without printing its address")


def open_page(driver, address):
    """Headless Chromium (Debian's) showing the page at `address`: (browser, page)."""
    browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
    page = browser.new_page(viewport={"width": 1400, "height": 1900})
    page.set_default_timeout(WAIT)  # actions (focus, press, select) wait for their element
    page.goto(address)
    return browser, page


def screenshot(page, name):
    """With PLAYGROUND_SCREENSHOTS=figures, the page as docs/playground.md shows it."""
    if os.environ.get("PLAYGROUND_SCREENSHOTS"):
        page.locator("h1").click()  # no slider's tooltip in the picture
        page.screenshot(path=os.path.join(os.environ["PLAYGROUND_SCREENSHOTS"], name),
                        full_page=True)


def test_a_learner_moves_the_knobs_in_a_real_browser(tmp_path, capsys):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("PLAYGROUND_BROWSER") == "required":
            pytest.fail(f"no Chromium at {CHROMIUM}, and CI requires the browser test")
        pytest.skip("no Chromium here (apt-get install chromium); CI runs this test")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT)  # every expect() waits for the page up to WAIT
    _, batch_out, _ = run_main(train_batch, capsys, "--out", tmp_path / "a")
    _, momentum_out, _ = run_main(optimizers, capsys, "--method", "momentum", "--lr", "0.1",
                                  "--epochs", "20", "--out", tmp_path / "b")
    _, sgd_out, _ = run_main(train_sgd, capsys, "--out", tmp_path / "d")
    status, _, diverged_err = run_main(train_batch, capsys, "--lr", "0.177828", "--out",
                                       tmp_path / "c")
    assert status == 1
    diverged_at = diverged_err.split("error: ")[1].split(";")[0]  # diverged at epoch 13: ...
    server, address = serve_playground()
    try:
        with sync_playwright() as driver:
            browser, page = open_page(driver, address)
            summary = page.locator("pre").filter(has_text="final: w=")
            expect(summary).to_have_text("\n".join(printed_summary(batch_out)) + "\n")

            method = page.locator("select").first
            if os.environ.get("PLAYGROUND_SCREENSHOTS"):
                # The page as docs/playground.md shows it first: momentum, gd's run faint
                # behind. (The same two moves are checked below, from a diverged run.)
                method.select_option("momentum")
                expect(summary).to_have_text("\n".join(printed_summary(momentum_out)) + "\n")
                screenshot(page, "playground.png")
                method.select_option("gd")
                expect(summary).to_have_text("\n".join(printed_summary(batch_out)) + "\n")

            page.get_by_role("slider").first.focus()
            page.keyboard.press("ArrowRight")  # one step up the log scale: 0.1 to 0.112
            expect(summary).not_to_contain_text(printed_summary(batch_out)[-1])
            expect(page.get_by_text("is at or above the stability bound")).to_have_count(0)
            page.keyboard.press("ArrowRight")  # 0.126: past batch descent's bound, 0.12
            expect(page.get_by_text("warning: gd lr=0.125893 is at or above the stability "
                                    "bound 0.1200 of plain descent on all 100 samples"
                                    )).to_be_visible()
            for _ in range(3):  # 0.141, 0.158, 0.178: this one blows up within 20 epochs
                page.keyboard.press("ArrowRight")
            expect(page.get_by_text(f"error: {diverged_at}; step size 0.177828 is at or "
                                    "above the stability bound 0.1200")).to_be_visible()
            screenshot(page, "playground_diverged.png")

            # Choosing a method sets lr to that method's default (0.1 for both): momentum's
            # run, and the error goes. Then SGD as train_sgd.py runs it: lr 0.01, batch
            # size 1, reshuffled.
            method.select_option("momentum")
            expect(summary).to_have_text("\n".join(printed_summary(momentum_out)) + "\n")
            expect(page.get_by_text("error: diverged")).to_have_count(0)
            method.select_option("gd")
            expect(summary).to_have_text("\n".join(printed_summary(batch_out)) + "\n")
            page.get_by_role("slider").first.focus()
            page.keyboard.press("PageDown")  # ten steps at a time: 0.1 to 0.01 is twenty
            page.keyboard.press("PageDown")
            page.get_by_role("slider").nth(2).focus()  # lr, epochs, batch size
            page.keyboard.press("Home")
            expect(summary).to_have_text("\n".join(printed_summary(sgd_out)) + "\n")
            screenshot(page, "playground_sgd.png")

            (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,4\n")
            page.locator("input[type=file]").set_input_files(tmp_path / "bad.csv")
            expect(page.get_by_text("--data bad.csv: no column named x or y in the header "
                                    "row (a, b)")).to_be_visible()

            assert "Traceback" not in page.content()
            browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def test_a_bad_number_in_a_data_box_is_refused_in_one_line_and_its_default_kept():
    made, refusal = playground.data_settings(n=None, slope=-5.0, noise=-1.0, seed=3.5)
    assert made == {**playground.data.DEFAULTS, "slope": -5.0}
    noise, seed = (playground.data.OPTIONS[name] for name in ("noise", "seed"))
    assert refusal == ("n is empty; using 100; "
                       f"noise: '-1.0' must be {options.limits(*noise[:2])}; using 0.4; "
                       "seed: '3.5' is not a whole number; using 42")
    made, refusal = playground.data_settings(n=50, slope=2.5, noise=0.0, seed=7)
    assert refusal is None and made == {"n": 50, "slope": 2.5, "noise": 0.0, "seed": 7}


@pytest.mark.parametrize("method", optimizers.METHODS)
def test_every_method_has_its_sliders_and_runs_under_every_schedule(method):
    """What the page builds for a method and a schedule, without a browser: a teacher's new
    method or setting that the playground cannot show fails here."""
    sliders = playground.setting_sliders(marimo, method)
    defaults = dict(optimizers.own_settings(optimizers.DEFAULTS[method]))
    assert sliders.value == {name: value for name, value in defaults.items() if name != "lr"}
    hyperparams = playground.chosen_hyperparams(method, defaults["lr"], sliders.value)
    assert hyperparams == optimizers.DEFAULTS[method]
    X, Y = make_data(n=20)
    for schedule in schedules.SCHEDULES:
        history, summary, facts = playground.run_setting(
            X, Y, method, hyperparams, epochs=3, batch_size=5, schedule=schedule)
        assert history.updates == 12 and facts["hyperparams"] == hyperparams
        assert summary or facts["diverged"]


def playground_with_step_4(tmp_path, body, seconds=None):
    """The playground, its Step 4 replaced by `body` (and its time limit by `seconds`), run
    once as a script: (the page's last output, the cells' definitions)."""
    import importlib.util

    source = (ROOT / "playground.py").read_text()
    tutorial_rule = '            p.data = p.data - hyperparams["lr"] * p.grad.data\n'
    assert source.count(tutorial_rule) == 1
    source = source.replace(tutorial_rule, body)
    if seconds is not None:
        limit = f"STEP_4_SECONDS = {playground.STEP_4_SECONDS}\n"
        assert source.count(limit) == 1
        source = source.replace(limit, f"STEP_4_SECONDS = {seconds}\n")
    copy = tmp_path / "playground_copy.py"
    copy.write_text(source)
    spec = importlib.util.spec_from_file_location("playground_copy", copy)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    outputs, definitions = module.app.run()
    return outputs[-1], definitions


@pytest.mark.parametrize("body, said", [
    ("            raise ValueError('my mistake')\n",
     ["your Step 4 failed (my_update, line 3: raise ValueError(", "ValueError: my mistake"]),
    ("            p.data = torch.zeros(3)\n",
     ["your Step 4 failed: RuntimeError: a Tensor with 3 elements cannot be converted"]),
    # What ends a program elsewhere ends only the Step 4 here.
    ("            raise SystemExit(3)\n", ["your Step 4 failed (my_update, line 3: raise Sys"]),
    ("            raise KeyboardInterrupt\n", ["your Step 4 failed (my_update, line 3: raise Key"]),
    # Any BaseException, and an error whose message fails or runs over many lines.
    ("            raise GeneratorExit('bye')\n",
     ["your Step 4 failed (my_update, line 3: raise Gen"]),
    ("            class Odd(Exception):\n                def __str__(self):\n"
     "                    raise RuntimeError\n            raise Odd()\n",
     ["Odd: (its message could not be read)"]),
    ("            raise ValueError('a\\nb' + 'c' * 10**6)\n", ["ValueError: a bccc"]),
])
def test_an_error_in_step_4_is_one_line_in_its_view_and_the_page_stays(tmp_path, body, said):
    page, defined = playground_with_step_4(tmp_path, body)
    for part in said:
        assert part in defined["mine_panel"].text
    # Every other view and every knob is there: the page is not blank.
    assert page is not None and type(defined["views"]).__name__ == "Figure"
    assert "failed" not in defined["facts_panel"].text
    for knob in ("method", "lr", "epochs", "batch_size", "schedule", "settings"):
        assert knob in defined


def test_any_error_is_one_line_of_at_most_400_characters_whatever_its_parts_do():
    class Meta(type):
        __name__ = property(lambda cls: 1 / 0)

    class NoName(Exception, metaclass=Meta):
        pass

    class NoTraceback(Exception):
        __traceback__ = property(lambda error: 1 / 0)

    odd = type("Bad\nName" + "N" * 2000, (Exception,), {})
    for error, said in [(NoName("x"), "your Step 4 failed: an error: x"),
                        (NoTraceback("y"), "your Step 4 failed: NoTraceback: y"),
                        (odd("short"), "your Step 4 failed: Bad NameNNN"),
                        (ValueError("v\n" * 1000), "your Step 4 failed: ValueError: v v v")]:
        shown = playground.failure(marimo, "your Step 4", error).text
        line = html.unescape(shown[shown.index("your Step 4"):shown.index("&#92;u003c/pre")])
        assert line.startswith(said) and "\n" not in line and len(line) <= 403, line


@pytest.mark.parametrize("body, said", [
    ("            while True:\n                pass\n",
     "StepStopped: still running after 0.5 s, so it was stopped"),
    # An `except Exception` of yours does not swallow the stop.
    ("            while True:\n                try:\n                    while True:\n"
     "                        pass\n                except Exception:\n"
     "                    pass\n", "StepStopped: still running after 0.5 s, so it was stopped"),
    # A call that does not come back to Python in time cannot be stopped there: the page
    # goes on without it.
    ("            import time\n            time.sleep(3)\n",
     "TimeoutError: still running after 0.5 s and could not be stopped: it runs on in the "
     "background"),
])
def test_an_endless_step_4_is_stopped_at_its_time_limit(tmp_path, body, said):
    """A Step 4 that never ends would hold the page (the layout waits on its view): after
    STEP_4_SECONDS its view says so in one line, naming the line where it was stopped, and
    the page stays."""
    page, defined = playground_with_step_4(tmp_path, body, seconds=0.5)
    shown = defined["mine_panel"].text
    assert said in shown
    if "StepStopped" in said:
        assert "your Step 4 failed (my_update, line " in shown
    assert page is not None and type(defined["views"]).__name__ == "Figure"
    for knob in ("method", "lr", "epochs", "batch_size", "schedule", "settings"):
        assert knob in defined


def test_a_move_of_more_updates_than_the_page_runs_is_refused_before_it_runs(monkeypatch):
    """The page's work (and the memory of a run's points) is bounded whatever the data's
    size: a setting past MAX_MOVE_UPDATES is refused before it runs (here a limit of 500)."""
    assert playground.MAX_MOVE_UPDATES >= 200 * 100  # the default data's largest setting
    monkeypatch.setattr(playground, "MAX_MOVE_UPDATES", 500)
    X, Y = make_data(n=100)
    with pytest.raises(ValueError, match="is 600 updates; the page runs at most 500 a move"):
        playground.run_setting(X, Y, "gd", {"lr": 0.01}, epochs=6, batch_size=1)
    history, _, _ = playground.run_setting(X, Y, "gd", {"lr": 0.01}, epochs=5, batch_size=1)
    assert history.updates == 500


def test_an_uploads_name_is_shown_as_text_and_any_name_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(playground.tempfile, "tempdir", str(tmp_path))
    long_name = "\u65e5\u672c" * 60 + ".csv"  # 364 bytes: too long for a file's name
    loaded, refusal = playground.read_upload(long_name, b"x,y\n1,2\n2,3\n3,5\n")
    assert refusal is None and loaded[0].reshape(-1).tolist() == [1.0, 2.0, 3.0]
    assert list(tmp_path.iterdir()) == []  # the copy and its folder are gone
    _, refusal = playground.read_upload("*bold* _x_ <i>y</i> [z](z.html).csv", b"x,z\n1,2\n")
    shown = playground.text_block(marimo, [refusal]).text
    assert "<i>" not in shown and "&lt;i&gt;y&lt;/i&gt;" in shown and "<a " not in shown
    assert "*bold* _x_" in shown and list(tmp_path.iterdir()) == []


def test_an_upload_over_the_pages_limit_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(playground.tempfile, "tempdir", str(tmp_path))
    rows = b"".join(b"%d,%d\n" % (i, -5 * i) for i in range(playground.MAX_UPLOAD_ROWS + 1))
    loaded, refusal = playground.read_upload("big.csv", b"x,y\n" + rows)
    assert loaded is None and refusal.startswith("--data big.csv: ")
    assert f"{playground.MAX_UPLOAD_ROWS:,}" in refusal and "\n" not in refusal
    assert list(tmp_path.iterdir()) == []


def test_the_phase_diagram_needs_memory_for_its_cells_not_cells_times_n():
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class Largest(TorchDispatchMode):
        """The most elements of any tensor an operation makes."""
        elements = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            made = func(*args, **(kwargs or {}))
            for value in tree_flatten(made)[0]:
                if isinstance(value, torch.Tensor):
                    Largest.elements = max(Largest.elements, value.numel())
            return made

    X, Y = make_data(n=5_000)
    with Largest():
        optimizers.phase_grid(X, Y, 16.7, 80)
    # 6,400 cells and n samples: the data's averages and a column per cell, never a
    # tensor of cells times n (32 million here, 64 billion for ten million samples).
    assert 0 < Largest.elements <= 2 * 80 * 80  # (w, b) of every cell
