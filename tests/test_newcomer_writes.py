"""Issue 17, items 5 and 8: nothing is written where the user did not ask, and a
missing optional dependency is one line naming it.

* the test suite writes its temporary files with pytest's ``tmp_path`` (or a
  ``TemporaryDirectory`` it removes), never with ``tempfile.mkdtemp``/``mkstemp`` or a
  file that outlives the run: checked on the tests' source;
* ``python -m benchmarks`` writes ``benchmarks/RESULTS.md`` only with ``--write`` and
  another file only with ``-o``;
* ``examples/nn_digits.py`` writes its PNG only with ``--plot``;
* an example whose extra is missing says which in one line (exit status 1).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"


# -- the test suite's own temporary files ------------------------------------------------
LEAKY_CALLS = {"mkdtemp", "mkstemp", "mktemp", "gettempdir"}


def _temp_writes_outside_tmp_path(source: str) -> list[str]:
    """Calls in ``source`` that create temporary files pytest does not clean up."""
    tree = ast.parse(source)
    with_items = {
        id(item.context_expr)
        for node in ast.walk(tree)
        if isinstance(node, ast.With)
        for item in node.items
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        receiver = func.value if isinstance(func, ast.Attribute) else None
        if isinstance(receiver, ast.Name) and receiver.id == "tmp_path_factory":
            continue  # pytest's own temporary directories
        if name in LEAKY_CALLS:
            found.append(f"line {node.lineno}: {name}()")
        elif name in ("NamedTemporaryFile", "TemporaryDirectory", "TemporaryFile"):
            keeps = any(
                k.arg == "delete" and isinstance(k.value, ast.Constant) and not k.value.value
                for k in node.keywords
            )
            if keeps or id(node) not in with_items:
                found.append(f"line {node.lineno}: {name}() outside a with block")
    return found


def test_the_checker_can_fail():
    leaky = "import tempfile\nD = tempfile.mkdtemp(prefix='x')\nT = tempfile.TemporaryDirectory()\n"
    assert len(_temp_writes_outside_tmp_path(leaky)) == 2
    clean = "import tempfile\nwith tempfile.TemporaryDirectory() as d:\n    pass\n"
    assert _temp_writes_outside_tmp_path(clean) == []


@pytest.mark.parametrize("path", sorted(TESTS.glob("*.py")), ids=lambda p: p.name)
def test_the_suite_writes_temporary_files_only_where_they_are_removed(path):
    assert _temp_writes_outside_tmp_path(path.read_text(encoding="utf-8")) == []


def test_tmp_path_is_where_a_test_writes(tmp_path):
    """The fixture the suite uses: a directory under pytest's base temp, per test."""
    assert tmp_path.is_dir() and not any(tmp_path.iterdir())
    assert tmp_path.is_relative_to(tmp_path.parent.parent)


# -- benchmarks ---------------------------------------------------------------------------
def _benchmark_args(*argv: str):
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.run import DEFAULT_OUTPUT, output_path, parse_args
    finally:
        sys.path.remove(str(ROOT))
    return output_path(parse_args(list(argv))), DEFAULT_OUTPUT


def test_benchmarks_write_nothing_unless_asked():
    assert _benchmark_args("--quick")[0] is None
    assert _benchmark_args()[0] is None
    path, default = _benchmark_args("--quick", "--write")
    assert path == default and default.name == "RESULTS.md"
    assert _benchmark_args("-o", "/somewhere/r.md")[0] == Path("/somewhere/r.md")
    assert _benchmark_args("--write", "--no-output")[0] is None


# -- examples -----------------------------------------------------------------------------
def _run_example(name: str, cwd: Path, *args: str, blocked: tuple[str, ...] = ()):
    """Run ``examples/name`` in ``cwd``; the modules in ``blocked`` fail to import."""
    paths = [str(ROOT)]
    if blocked:
        blocker = cwd / "_blocked"
        for module in blocked:
            package = blocker / module
            package.mkdir(parents=True)
            (package / "__init__.py").write_text(f"raise ImportError('{module} is blocked')\n")
        paths.insert(0, str(blocker))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), MPLBACKEND="Agg")
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("example", "module", "named"),
    [
        ("rosenbrock.py", "scipy", "SciPy"),
        ("nn_digits.py", "sklearn", "scikit-learn"),
    ],
)
def test_a_missing_extra_is_one_line(tmp_path, example, module, named):
    done = _run_example(example, tmp_path, blocked=(module,))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "pip install" in lines[0], done.stderr


def _has(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


@pytest.mark.skipif(not _has("sklearn"), reason="needs scikit-learn (the examples extra)")
def test_nn_digits_writes_no_png_without_plot(tmp_path):
    done = _run_example("nn_digits.py", tmp_path, "--epochs", "1")
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []
    assert "loss curve" not in done.stdout


@pytest.mark.skipif(not _has("sklearn"), reason="needs scikit-learn (the examples extra)")
def test_nn_digits_plot_without_matplotlib_names_it(tmp_path):
    done = _run_example(
        "nn_digits.py", tmp_path, "--epochs", "1", "--plot", blocked=("matplotlib",)
    )
    assert done.returncode == 0, done.stderr
    assert "--plot needs matplotlib" in done.stdout and "pip install" in done.stdout
    assert not (tmp_path / "nn_digits_loss.png").exists()
