"""The pages cannot go stale: every command shown in README.md and docs/ is run, its output
checked against the page, and every exercise's answer checked against its real output.

How a page is written (docs/README.md says the same for authors):
- A ```console block holds commands (`$ python SCRIPT.py ARGS`) each followed by what it
  prints, stdout and stderr together as a terminal shows them. Sybil finds the blocks.
- In the printed lines, `...` stands for any text within a line, and a line that is only
  `...` for any number of lines. Timings (`0.42 s`, `12.5 ms`, `98.1 us`) are masked.
- Numbers are compared as numbers (tests/printed.py): a result shown to three digits or
  more may differ by float32's rounding on another CPU (a relative 1e-5, or two units of
  its last digit); integers and short settings must be exact, and the text around them
  too. Where a run's digits depend on rounding chaotically, the page shows `...` there.
- A ```pycon block is a Python session (`>>>` lines and what they print), run as a doctest.
- `<!-- skip: next -->` before a block leaves it unrun (Sybil's skip): for output that
  was measured once and cannot be repeated in a test, like the full benchmark.
- Every command runs in a fresh temporary folder (one per page), so figures never land in
  figures/.
- A figure a command saves is built, every line and label of it, but not drawn: its file is
  written empty (built_not_drawn), which saves a third of the pages' time. Drawing is the
  other tests' business: every function that makes a figure the pages show is saved as a
  real PNG by another test too (checked, when this was written, by tagging each figure
  with the function that made it and comparing the tags saved here and in the rest of the
  suite). A page's new kind of figure needs such a test. So with the GIF: its frames are
  made, not drawn (tests/test_pictures.py draws one and reads it back).
- `pytest tests/test_docs.py --update-docs` rewrites, in place, the shown output of every
  command that now prints something else (lines that still match, `...` included, stay as
  they are): review the change with `git diff`. Without it a changed output fails.
- A page whose text, whose scripts (every project file they can import), this file, the
  reader of numbers (printed.py) and the versions of Python, torch, numpy and matplotlib
  are unchanged since its last passing run is checked against the outputs recorded then,
  instead of running its commands again.
  The record lives in the system's temporary folder, outside the project; CI (CI=true) and
  DOCS_CACHE=0 never use it, so a clean clone's CI runs every command.
- Under `## Try this`, each `### ` heading is an exercise: a question, then an answer
  inside `<details><summary>Answer</summary> ... </details>`. Every number in an answer
  must appear in a command or output of a console block of the same exercise.
"""

import ast
import contextlib
import hashlib
import importlib
import io
import json
import os
import re
import runpy
import shlex
import sys
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from conftest import ROOT
from matplotlib.animation import PillowWriter
from matplotlib.figure import Figure
from printed import shows
from sybil import Sybil
from sybil.evaluators.doctest import DocTestEvaluator
from sybil.parsers.abstract import DocTestStringParser
from sybil.parsers.markdown import CodeBlockParser, SkipParser

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A timing, with the spaces before it: a column of timings keeps its width only while the
# numbers keep their number of digits.
TIMING = re.compile(r" *\b\d[\d,]*(\.\d+)? (s|ms|us)\b")


def run_command(command, cwd):
    """Run `python SCRIPT.py ARGS` in this process, as from a shell in `cwd`.

    Returns what it printed (stdout and stderr interleaved) and its exit status.
    """
    words = shlex.split(command)
    assert words[0] in ("python", "python3") and words[1].endswith(".py"), (
        f"a documented command runs one of the scripts: {command!r}")
    script = ROOT / words[1]
    # tutorial.py is the tutorial's code as a plain file, no main(): run it top to bottom.
    module = importlib.import_module(script.stem) if "def main(" in script.read_text() else None
    printed = io.StringIO()
    saved = os.getcwd(), sys.argv
    os.chdir(cwd)
    sys.argv = [words[1], *words[2:]]  # argparse names the script from argv[0]
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed), \
                built_not_drawn():
            if module is None:
                runpy.run_path(str(script), run_name="__main__")
            else:
                module.main(words[2:])
        status = 0
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        os.chdir(saved[0])
        sys.argv = saved[1]
    return printed.getvalue(), status


@contextlib.contextmanager
def built_not_drawn():
    """While it lasts, a figure saved to a file, or as a GIF's frames, is built as the
    script builds it (every frame's lines moved, for a GIF) but not drawn: the file is
    written empty."""
    def save(figure, target, *args, **kwargs):
        Path(target).touch()

    with mock.patch.object(Figure, "savefig", save), \
            mock.patch.object(PillowWriter, "grab_frame", lambda writer, **options: None), \
            mock.patch.object(PillowWriter, "finish", lambda writer: Path(writer.outfile).touch()):
        yield


def masked(text):
    return TIMING.sub(" <time>", text)


def commands_in(block):
    """[(command, expected lines)] of a console block."""
    pairs = []
    for line in block.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], []))
        else:
            assert pairs, f"output before any command in:\n{block}"
            pairs[-1][1].append(line)
    return pairs


def check_console_block(example):
    namespace = example.namespace
    failure, rewritten = None, []
    for command, expected in commands_in(example.parsed):
        if namespace["replay"] is not None:
            printed = next(namespace["replay"])
        else:
            printed, _ = run_command(command, namespace["cwd"])
        namespace["printed"].append(printed)
        actual = "".join(masked(line).rstrip() + "\n" for line in printed.splitlines())
        matches = shows([masked(line) for line in expected], actual)
        if not matches and failure is None:
            failure = (f"{command}: the page shows\n" + "\n".join(expected)
                       + f"\n\nbut it printed\n{printed}")
        shown = printed.replace(str(namespace["cwd"]), "...").splitlines()
        rewritten += [f"$ {command}", *(expected if matches else merged(expected, shown))]
    if failure is not None and namespace["update"]:
        namespace["rewrites"].append((example.parsed, "\n".join(rewritten) + "\n"))
        return None
    return failure


def merged(expected, printed):
    """The lines to show for a command that printed `printed` where the page shows
    `expected`: each shown line that still matches a printed line (and every `...`) kept,
    the rest replaced, dropped or added; the fewest changes (an edit distance)."""
    def fits(pattern, line):
        return shows([masked(pattern)], masked(line).rstrip() + "\n")

    E, P = len(expected), len(printed)
    cost = [[0] * (P + 1) for _ in range(E + 1)]
    for i in range(E, -1, -1):
        for j in range(P, -1, -1):
            if i == E:
                cost[i][j] = P - j
            elif expected[i].strip() == "...":
                cost[i][j] = min(cost[i + 1][j], cost[i][j + 1] if j < P else E)
            else:
                options = [cost[i + 1][j] + 1]  # drop the shown line
                if j < P:
                    options += [cost[i][j + 1] + 1,  # add the printed line
                                cost[i + 1][j + 1] + (0 if fits(expected[i], printed[j]) else 1)]
                cost[i][j] = min(options)
    lines, i, j = [], 0, 0
    while i < E or j < P:
        if i == E:
            lines.append(printed[j])
            j += 1
        elif expected[i].strip() == "...":
            if j < P and cost[i][j] == cost[i][j + 1]:
                j += 1
            else:
                lines.append(expected[i])
                i += 1
        elif j < P and cost[i][j] == cost[i + 1][j + 1] + (0 if fits(expected[i], printed[j])
                                                             else 1):
            lines.append(expected[i] if fits(expected[i], printed[j]) else printed[j])
            i, j = i + 1, j + 1
        elif cost[i][j] == cost[i + 1][j] + 1:
            i += 1
        else:
            lines.append(printed[j])
            j += 1
    return lines


def imported_files(path):
    """The project's files that the module at `path` can import, itself included."""
    found, todo = set(), [path]
    while todo:
        path = todo.pop()
        if path in found or not path.exists():
            continue
        found.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                     [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
                     if isinstance(node, ast.ImportFrom) and node.module else [])
            for name in names:
                parts = name.split(".")
                todo += [ROOT.joinpath(*parts).with_suffix(".py"),
                         ROOT.joinpath(*parts, "__init__.py")]
    return found


def cache_file(page):
    """Where a page's recorded outputs are kept, named by everything they depend on; None
    where the record is not to be used."""
    if os.environ.get("CI") or os.environ.get("DOCS_CACHE") == "0":
        return None
    import matplotlib
    import numpy
    import torch

    text = page.read_text()
    files = {Path(__file__).resolve(), Path(__file__).resolve().with_name("printed.py")}
    for script in set(re.findall(r"^\$ python3? (\S+\.py)", text, flags=re.M)):
        files |= imported_files(ROOT / script)
    key = hashlib.sha256(text.encode())
    for path in sorted(files):
        key.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    key.update(f"{sys.version} {torch.__version__} {numpy.__version__} "
               f"{matplotlib.__version__}".encode())
    folder = Path(tempfile.gettempdir()) / "gradient-descent-docs" / hashlib.sha256(
        str(ROOT).encode()).hexdigest()[:16]
    return folder / f"{page.stem}-{key.hexdigest()[:32]}.json"


class PyconParser:
    """```pycon blocks: Python sessions (`>>>` lines and what they print), run as doctests."""

    def __init__(self):
        self.blocks = CodeBlockParser(language="pycon")
        self.doctests = DocTestStringParser(DocTestEvaluator())

    def __call__(self, document):
        for block in self.blocks(document):
            for region in self.doctests(block.parsed, document.path):
                region.adjust(block, block.parsed)
                yield region


SYBIL = Sybil(parsers=[CodeBlockParser(language="console", evaluator=check_console_block),
                       PyconParser(), SkipParser()])


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_command_prints_what_the_page_shows(page, tmp_path, request):
    update = request.config.getoption("--update-docs")
    record = None if update else cache_file(page)
    replay = json.loads(record.read_text()) if record and record.exists() else None
    document = SYBIL.parse(page)
    document.namespace.update(cwd=tmp_path, update=update, rewrites=[], printed=[],
                              replay=None if replay is None else iter(replay))
    for example in document:
        example.evaluate()
    text = page.read_text()
    for old, new in document.namespace["rewrites"]:
        text = text.replace(f"```console\n{old}```", f"```console\n{new}```", 1)
    if document.namespace["rewrites"]:
        page.write_text(text)
    elif record is not None and replay is None:  # passed: keep what it printed
        record.parent.mkdir(parents=True, exist_ok=True)
        staged = record.with_suffix(f".{os.getpid()}.tmp")
        staged.write_text(json.dumps(document.namespace["printed"]))
        os.replace(staged, record)
        for older in record.parent.glob(f"{page.stem}-*.json"):  # records of older texts
            if older != record:
                older.unlink(missing_ok=True)


def exercises(text):
    """{title: text} of the `### ` sections under a page's `## Try this`."""
    match = re.search(r"^## Try this\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    if match is None:
        return {}
    sections = re.split(r"^### (.+)\n", match.group(1), flags=re.M)[1:]
    return dict(zip(sections[::2], sections[1::2], strict=True))


NUMBER = re.compile(r"(?<![\w.])-?\d(?:[\d,]*\d)?(?:\.\d+)?(?:e[+-]?\d+)?")


def numbers_to_check(answer):
    """The numbers an answer states, less single digits (counts like "2 workers")."""
    return [number for number in NUMBER.findall(answer)
            if "." in number or len(number.lstrip("-")) > 1]


# Every page of docs/ is a lesson, but the index, the teachers' page and the scripts' reference.
DOC_PAGES = [page for page in PAGES if page.parent.name == "docs"
             and page.name not in ("README.md", "extending.md", "scripts.md")]


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_lesson_page_has_three_to_five_exercises_with_answers(page):
    found = exercises(page.read_text())
    assert 3 <= len(found) <= 5, f"{page.name}: {len(found)} exercises under '## Try this'"
    for title, section in found.items():
        assert "```console" in section, f"{page.name}, {title!r}: no command to run"
        assert "<summary>Answer</summary>" in section, f"{page.name}, {title!r}: no answer"


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_number_in_an_answer_comes_from_its_commands_output(page):
    for title, section in exercises(page.read_text()).items():
        answer = section.split("<summary>Answer</summary>", 1)[1].split("</details>", 1)[0]
        shown = "\n".join(re.findall(r"```console\n(.*?)```", section, flags=re.S))
        prose = re.sub(r"```.*?```", "", answer, flags=re.S)
        missing = [number for number in numbers_to_check(prose) if number not in shown]
        assert not missing, f"{page.name}, {title!r}: {missing} are not in its outputs"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_link_to_a_file_of_the_project_exists(page):
    text = re.sub(r"`[^`\n]*`", "", page.read_text())  # links shown as code are examples
    for target in re.findall(r"\]\(([^)#\s]+)", text):
        if "://" not in target:
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def stripped_lines(text):
    return [line.strip() for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_python_excerpt_is_the_projects_code_as_it_is(page):
    """A ```python block on a page is a quotation: its lines stand, in order, in a file."""
    sources = [stripped_lines(path.read_text()) for path in ROOT.glob("**/*.py")
               if ".venv" not in path.parts]
    for excerpt in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S):
        lines = stripped_lines(excerpt)
        assert any(source[start:start + len(lines)] == lines
                   for source in sources for start in range(len(source))), (
            f"{page.name}: this excerpt is not in the code any more:\n{excerpt}")


def test_the_reader_understands_its_own_notation():
    shown = ["epoch   1: loss=...", "...", "final: w=-5.0 ..."]
    assert shows(shown, "epoch   1: loss=3.2\nepoch   2: x\nfinal: w=-5.0 b=1\n")
    assert shows(shown, "epoch   1: loss=3.2\nfinal: w=-5.0 b=1\n")
    assert not shows(shown, "epoch   1: loss=3.2\nfinal: w=-4.0 b=1\n")
    # Numbers as numbers: a result within float32's rounding of the shown one (a relative
    # 1e-5, or two units of its last digit), in the same shape; integers and short
    # settings exactly; the text around them exactly.
    shown = ["epoch 865: loss=11.658217 w=-4.945607 b=+0.000581 lr=0.1 (20 updates)"]
    assert shows(shown, "epoch 865: loss=11.658219 w=-4.945605 b=+0.000583 lr=0.1 (20 updates)\n")
    assert shows(shown, "epoch 865: loss=11.658317 w=-4.945607 b=+0.000581 lr=0.1 (20 updates)\n")
    for wrong in ("epoch 866: loss=11.658217 w=-4.945607 b=+0.000581 lr=0.1 (20 updates)",
                  "epoch 865: loss=11.658417 w=-4.945607 b=+0.000581 lr=0.1 (20 updates)",
                  "epoch 865: loss=11.658217 w=-4.945607 b=+0.000584 lr=0.1 (20 updates)",
                  "epoch 865: loss=11.658217 w=-4.945607 b=-0.000581 lr=0.1 (20 updates)",
                  "epoch 865: loss=11.65822 w=-4.945607 b=+0.000581 lr=0.1 (20 updates)",
                  "epoch 865: loss=11.658217 w=-4.945607 b=+0.000581 lr=0.2 (20 updates)",
                  "epoch 865: loss=11.658217 w=-4.945607 b=+0.000581 lr=0.1 (21 updates)",
                  "epoch 865: loss=11.658217 w=-4.945607 b=+0.000581 lr=0.1 (20 steps)"):
        assert not shows(shown, wrong + "\n"), wrong
    assert shows(["loss 3.21e+09, 1,240 samples, 0.0e+00 apart, torch 2.13.0"],
                 "loss 3.22e+09, 1,240 samples, 0.0e+00 apart, torch 2.13.0\n")
    assert not shows(["loss 3.21e+09"], "loss 3.24e+09\n")
    assert not shows(["0.0e+00 apart"], "1.0e-07 apart\n")
    assert not shows(["torch 2.13.0"], "torch 2.14.0\n")
    assert masked("(20 updates, 0.003 s) 98.1 us 2.86 ms") == (
        "(20 updates, <time>) <time> <time>")
    assert masked("  355.8 us  6251.0 us") == masked("  544.0 us 11426.7 us")
    assert numbers_to_check("lr 0.13 gives 2 lines over 20 epochs, -5.0 and 1,240, then") == [
        "0.13", "20", "-5.0", "1,240"]


def reading_minutes(page):
    """A page's reading time as the lists state it: its words outside code blocks, at 200
    a minute, to the nearest minute (at least 1)."""
    prose = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return max(1, round(len(prose.split()) / 200))


def test_the_lesson_lists_show_two_parts_and_each_pages_needs_and_reading_time():
    lessons = {page.name for page in DOC_PAGES} | {"extending.md"}
    # docs/README.md: a table row a page, in part 1, part 2 or beside them.
    index = (ROOT / "docs" / "README.md").read_text()
    assert index.index("## Part 1: the tutorial") < index.index("## Part 2: beyond the tutorial")
    part1 = index.split("## Part 1: the tutorial")[1].split("## Part 2")[0]
    assert "tutorial.py" in part1 and "The tutorial ends with the comparison." in part1
    rows = re.findall(r"^\| [^|]+ \| \[([\w.]+)\]\(\1\) \| [^|]+ \| ([^|]+) \| about (\d+) min \|$",
                      index, re.M)
    assert sorted(name for name, _, _ in rows) == sorted(lessons)
    assert [name for name, _, _ in rows[:4]] == ["data_and_model.md", "batch.md", "sgd.md",
                                                 "compare.md"]
    for name, needs, minutes in rows:
        words = reading_minutes(ROOT / "docs" / name)
        assert needs.strip() and int(minutes) == words, (
            f"{name}: the list says about {minutes} min, its words now make {words}")
        # The page says the same under its title.
        title, blank, line = (ROOT / "docs" / name).read_text().splitlines()[:3]
        unit = "minute" if minutes == "1" else "minutes"
        assert title.startswith("# ") and blank == "", name
        assert line == f"*Needs: {needs.strip()}. About {minutes} {unit} to read.*", name
    # The README: the tutorial's table, then one bullet a page beyond it.
    readme = (ROOT / "README.md").read_text()
    tutorial = readme.split("## The tutorial, part by part")[1].split("## Beyond")[0]
    for name, minutes in re.findall(r"\(docs/([\w.]+)\) \| [^|]+ \| about (\d+) min \|",
                                    tutorial):
        assert int(minutes) == reading_minutes(ROOT / "docs" / name), name
    beyond = readme.split("## Beyond the tutorial")[1].split("\n\n[docs/README.md]")[0]
    bullets = re.findall(r"^- \[[^]]+\]\(docs/([\w.]+)\)[^*]*\*Needs:\s+[^;*]+; about\s+(\d+)"
                         r"\s+min\.\*", beyond, re.M | re.S)
    assert sorted(name for name, _ in bullets) == sorted(
        lessons - {"data_and_model.md", "batch.md", "sgd.md", "compare.md"})
    for name, minutes in bullets:
        assert int(minutes) == reading_minutes(ROOT / "docs" / name), name
    # The comparison page says where the tutorial ends, and links every page after it.
    compare = (ROOT / "docs" / "compare.md").read_text()
    ending = compare.split("## The tutorial ends here")[1]
    assert set(re.findall(r"\]\(([\w.]+\.md)\)", ending)) >= {
        name for name, _ in bullets if name != "extending.md"}
