"""The project's shape: lessons at the top, plumbing in one package that imports no lesson,
no import cycles, every script shaped alike; and every script running where POSIX's pieces
are missing (Windows)."""

import ast
import os
import subprocess
import sys

import pytest
from conftest import ROOT
from test_scripts import SCRIPTS

TAUGHT = {"model.py", "descent.py", "schedules.py", "lines.py"}  # modules a page quotes; no command
# The tutorial's code as one file, runnable with none of the scripts' conventions.
AS_WRITTEN = {"tutorial.py"}


def modules():
    """{module name: its file} of every project module outside tests/."""
    files = [*ROOT.glob("*.py"), *ROOT.glob("plots/*.py"), *ROOT.glob("plumbing/*.py")]
    return {".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"):
            path for path in files}


def imports(path, module_level_only=False):
    """The names a file imports: everywhere, or only at import time (outside functions and
    the `if __name__ == "__main__":` block)."""
    tree = ast.parse(path.read_text())
    if module_level_only:
        nodes = [node for statement in tree.body
                 if not isinstance(statement, (ast.FunctionDef, ast.ClassDef, ast.If))
                 for node in ast.walk(statement)]
    else:
        nodes = list(ast.walk(tree))
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return names


def project_graph():
    found = modules()
    return {name: {other for other in imports(path) if other in found and other != name}
            for name, path in found.items()}


def test_no_module_can_reach_itself_through_its_imports():
    graph = project_graph()
    for start in graph:
        seen, todo = set(), list(graph[start])
        while todo:
            name = todo.pop()
            assert name != start, f"an import cycle through {start}"
            if name not in seen:
                seen.add(name)
                todo += graph[name]


def test_the_plumbing_imports_no_lesson_and_a_lesson_imports_only_the_runner_at_import_time():
    runner = {"plumbing.run", "plumbing.run.run_as_command"}  # a script's first import
    for name, path in modules().items():
        project = {other for other in imports(path) if other.split(".")[0] in modules()}
        if name.startswith("plumbing"):
            assert all(other.startswith("plumbing") for other in project), name
        else:
            assert not any(other.startswith("plumbing")
                           for other in imports(path, module_level_only=True) - runner), name


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_script_imports_its_runner_first_and_ends_by_running_main_with_it(script):
    # First, before torch and matplotlib load: a stop signal meanwhile is one line.
    tree = ast.parse((ROOT / script).read_text())
    first, last = tree.body[1], tree.body[-1]  # body[0]: the docstring
    assert ast.get_docstring(tree)
    assert ast.unparse(first) == "from plumbing.run import run_as_command"
    assert ast.unparse(last) == "if __name__ == '__main__':\n    run_as_command(main)"
    # Read top to bottom: the definitions, then main(), then the block that runs it.
    before_last = tree.body[-2]
    assert isinstance(before_last, ast.FunctionDef) and before_last.name == "main"


def test_the_top_level_holds_the_lessons_scripts_and_the_taught_modules():
    for path in ROOT.glob("*.py"):
        runnable = 'if __name__ == "__main__":' in path.read_text()
        assert runnable or path.name in TAUGHT | AS_WRITTEN, \
            f"{path.name} is neither a lesson nor taught"


HIDE_POSIX = """
import multiprocessing, os, runpy, signal, sys, warnings
sys.modules["fcntl"] = None  # `import fcntl` fails, as on Windows
for name in ("SIGHUP", "SIGQUIT"):  # signals Windows does not have
    delattr(signal, name)
multiprocessing.get_all_start_methods = lambda: ["spawn"]  # no fork server either
# filelock then uses its portable lock (on Windows: its own), and says so once.
warnings.filterwarnings("ignore", "only soft file lock is available")
script, *args = sys.argv[1:]
sys.argv = [script, *args]
sys.path[0] = os.path.dirname(script)  # as `python SCRIPT.py` does
runpy.run_path(script, run_name="__main__")
"""


def test_a_script_runs_with_the_posix_only_pieces_hidden(tmp_path):
    # data_parallel.py takes the most of them: the stop signals, the output's lock, and
    # workers spawned (each a fresh Python) where there is no fork server.
    result = subprocess.run(
        [sys.executable, "-c", HIDE_POSIX, str(ROOT / "data_parallel.py"), "--workers", "2",
         "--epochs", "2", "--out", "out"],
        cwd=tmp_path, capture_output=True, text=True, timeout=180,
        env={**os.environ, "MPLBACKEND": "Agg"})
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "final: w=" in result.stdout
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "data_parallel_loss.png", "data_parallel_shards.png"]
