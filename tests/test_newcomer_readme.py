"""Issue 17, item 9: every README code block marked runnable runs, and prints what the
README shows.

Markers are HTML comments on the line before a fence (invisible on GitHub):

* ``<!-- test: run -->`` or ``<!-- test: run NAME.py -->``: the block is saved as a file
  (``NAME.py``, or a numbered name) in a temporary directory, which is also the current
  directory, and executed; the blocks share one namespace, in README order, as a reader
  running them one after the other would. ``<!-- test: run, needs Graphviz -->`` runs
  only where Graphviz's ``dot`` program is installed; ``<!-- test: run, needs Numba -->``
  only where Numba is installed.
* ``<!-- test: output -->``: the block is what the preceding runnable block prints
  (trailing spaces ignored; with NumPy 1.x, ``np.float64(x)`` is printed as ``x``).
  ``<!-- test: output, numbers to 1e-6 -->`` compares the numbers in it to a relative
  1e-6 (numbers below 1e-8 in magnitude, such as rounding errors, only as being tiny).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import ad_transform

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARKER = re.compile(r"^<!-- test: (.+?) -->$")
NUMBER = re.compile(r"[-+]?\d+\.\d*(?:e[-+]?\d+)?|[-+]?\d+e[-+]?\d+")


@dataclass
class Block:
    directive: str
    language: str
    text: str
    line: int


def marked_blocks(markdown: str) -> list[Block]:
    """The fenced code blocks preceded by a ``<!-- test: ... -->`` marker."""
    lines = markdown.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = MARKER.match(lines[i].strip())
        if not match:
            i += 1
            continue
        fence = lines[i + 1]
        assert fence.startswith("```"), f"README line {i + 1}: a marker must precede a fence"
        end = next(k for k in range(i + 2, len(lines)) if lines[k].startswith("```"))
        text = "\n".join(lines[i + 2 : end]) + "\n"
        blocks.append(Block(match.group(1), fence[3:].strip(), text, i + 1))
        i = end + 1
    return blocks


def _normalised(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def assert_output(expected: str, printed: str, numbers: bool, where: str) -> None:
    if int(np.__version__.split(".")[0]) < 2:
        expected = re.sub(r"np\.float64\(([^()]*)\)", r"\1", expected)
    expected, printed = _normalised(expected), _normalised(printed)
    if not numbers:
        assert printed == expected, (
            f"{where}: the README shows\n{expected}\nbut it prints\n{printed}"
        )
        return
    assert NUMBER.sub("#", printed) == NUMBER.sub("#", expected), (
        f"{where}: the README shows\n{expected}\nbut it prints\n{printed}"
    )
    for shown, got in zip(NUMBER.findall(expected), NUMBER.findall(printed), strict=True):
        a, b = float(shown), float(got)
        if abs(a) < 1e-8 and abs(b) < 1e-8:
            continue
        assert b == pytest.approx(a, rel=1e-6), f"{where}: {shown} shown, {got} printed"


def run_blocks(blocks: list[Block], directory: Path) -> list[str]:
    """Run the marked blocks in order in ``directory``; returns what was skipped."""
    namespace: dict = {"__name__": "readme_example"}
    printed: str | None = None
    skipped = []
    for number, block in enumerate(blocks):
        where = f"README.md line {block.line}"
        if block.directive.startswith("run"):
            if "needs Graphviz" in block.directive and shutil.which("dot") is None:
                skipped.append(where)
                printed = None
                continue
            if "needs Numba" in block.directive and importlib.util.find_spec("numba") is None:
                skipped.append(where)  # compile="numba" needs the numba extra
                printed = None
                continue
            words = block.directive.split(",")[0].split()
            name = words[1] if len(words) > 1 else f"readme_block_{number}.py"
            path = directory / name
            path.write_text(block.text, encoding="utf-8")
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(block.text, str(path), "exec"), namespace)
            printed = out.getvalue()
        elif block.directive.startswith("output"):
            assert printed is not None, f"{where}: an output block needs a run block before it"
            assert_output(block.text, printed, "numbers" in block.directive, where)
            printed = None
        else:
            raise AssertionError(f"{where}: unknown marker {block.directive!r}")
    return skipped


def test_the_readme_blocks_marked_runnable_run_and_print_what_is_shown(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = marked_blocks(README.read_text(encoding="utf-8"))
    run_blocks(blocks, tmp_path)


def test_the_readme_marks_its_examples():
    blocks = marked_blocks(README.read_text(encoding="utf-8"))
    assert sum(b.directive.startswith("run") for b in blocks) >= 7
    assert sum(b.directive.startswith("output") for b in blocks) >= 4
    python_blocks = README.read_text(encoding="utf-8").count("```python")
    marked_python = sum(b.language == "python" and b.directive.startswith("run") for b in blocks)
    assert marked_python >= python_blocks - 3  # output blocks shown as python + the REPL-free


def test_a_wrong_shown_output_fails(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fake = (
        "<!-- test: run -->\n```python\nprint(1.5 + 1)\n```\n"
        "<!-- test: output -->\n```text\n2.6\n```\n"
    )
    with pytest.raises(AssertionError, match="the README shows"):
        run_blocks(marked_blocks(fake), tmp_path)
    approximate = fake.replace("test: output", "test: output, numbers to 1e-6")
    with pytest.raises(AssertionError, match=r"2\.6 shown, 2\.5 printed"):
        run_blocks(marked_blocks(approximate), tmp_path)
    right = approximate.replace("2.6", "2.5000000001")
    run_blocks(marked_blocks(right), tmp_path)


def test_the_graph_module_is_reachable_after_import_ad_transform():
    assert ad_transform.graph.computation_graph is ad_transform.computation_graph
    assert "computation_graph" in ad_transform.__all__


def test_the_fuzz_durations_the_readme_states_are_the_defaults():
    """The README's "300 programs" are what the fuzz tests run by default."""
    text = README.read_text(encoding="utf-8")
    for test_file, variable in (
        ("test_fuzz.py", "AD_FUZZ_EXAMPLES"),
        ("test_fuzz_arrays.py", "AD_FUZZ_ARRAY_EXAMPLES"),
    ):
        source = (ROOT / "tests" / test_file).read_text(encoding="utf-8")
        default = re.search(rf'{variable}", "?(\d+)', source)
        assert default, (test_file, variable)
        assert f"checks {default.group(1)}" in text, (test_file, default.group(1))
