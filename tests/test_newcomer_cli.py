"""Issue 17, items 7 and 8 (CLI part): module paths, --wrt errors, missing extras.

Every bad input is one line on stderr with exit status 1, never the "unexpected error"
hint (AD_TRANSFORM_DEBUG).
"""

from __future__ import annotations

import builtins
import sys

import pytest

from ad_transform.cli import main

SEED = "import numpy as np\n\ndef f(x1, x2):\n    return np.log(x1) + x1 * x2 - np.sin(x2)\n"


@pytest.fixture
def package(tmp_path, monkeypatch):
    """``mypkg/model.py`` importing ``sq`` relatively; the cwd is ``tmp_path``."""
    pkg = tmp_path / "nc17pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "helpers.py").write_text("def sq(x):\n    return x * x\n")
    (pkg / "model.py").write_text("from .helpers import sq\n\ndef f(x):\n    return sq(x) * 3.0\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield pkg
    for name in [m for m in sys.modules if m.startswith("nc17pkg")]:
        del sys.modules[name]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, *fragments):
    assert code == 1
    assert err.count("\n") == 1, err
    assert "AD_TRANSFORM_DEBUG" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def test_module_path_with_relative_imports(capsys, package):
    code, out, _ = run(capsys, "show", "nc17pkg.model:f", "--color", "never")
    assert code == 0 and "def grad_f(x):" in out
    code, out, _ = run(capsys, "table", "nc17pkg.model:f", "1.5")
    assert code == 0 and "x̄" in out and "9.000" in out  # d/dx 3x² = 6x = 9 at 1.5


def test_a_package_file_suggests_its_module_path(capsys, package):
    code, _, err = run(capsys, "show", "nc17pkg/model.py:f")
    one_line_error(code, err, "relative import", "nc17pkg.model:FUNC")


def test_a_missing_module(capsys, package):
    code, _, err = run(capsys, "show", "nc17pkg.nothing_here:f")
    one_line_error(code, err, "no such file or module: nc17pkg.nothing_here")


@pytest.fixture
def seed_file(tmp_path):
    path = tmp_path / "seedfile.py"
    path.write_text(SEED)
    return path


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["show", "{f}", "--wrt", "-1"], ["--wrt -1", "cannot be negative"]),
        (["show", "{f}", "--wrt=-1"], ["cannot be negative"]),
        (["show", "{f}", "--wrt", "0,0"], ["--wrt 0,0 names argument 0 more than once"]),
        (["show", "{f}", "--wrt", "5"], ["--wrt 5: f has 2 positional parameters: 0 (x1)"]),
        (["table", "{f}", "2", "5", "--wrt", "1,1"], ["more than once"]),
        (["table", "{f}", "2", "5", "--wrt", "2"], ["--wrt 2: f has 2 positional"]),
        (["graph", "{f}", "2", "5", "--wrt", "-1"], ["cannot be negative"]),
        (["export", "{f}", "--wrt", "3", "-o", "{out}"], ["--wrt 3"]),
    ],
)
def test_wrt_errors_are_one_line(capsys, seed_file, tmp_path, argv, fragments):
    argv = [a.format(f=f"{seed_file}:f", out=tmp_path / "g.py") for a in argv]
    code, _, err = run(capsys, *argv)
    one_line_error(code, err, *fragments)
    assert not (tmp_path / "g.py").exists()


def test_color_always_without_pygments_says_so(capsys, seed_file, monkeypatch):
    real_import = builtins.__import__

    def no_pygments(name, *args, **kwargs):
        if name == "pygments" or name.startswith("pygments."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pygments)
    code, out, err = run(capsys, "show", f"{seed_file}:f", "--color", "always")
    assert code == 0 and "def grad_f" in out  # the code is still printed, plain
    assert err.count("\n") == 1 and "pygments" in err and "pip install pygments" in err


def test_graphviz_missing_suggests_dot_output(capsys, seed_file, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no `dot` program
    code, _, err = run(capsys, "graph", f"{seed_file}:f", "2", "5", "-o", tmp_path / "f.svg")
    one_line_error(code, err, "Graphviz", "-o f.dot")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["table", "{f}", "2", "5", "--digits", "-1"], "--digits: -1 is out of range"),
        (["graph", "{f}", "2", "5", "--max-loop-nodes", "0"], "0 is out of range: at least 1"),
    ],
)
def test_numeric_options_out_of_range_are_one_line(capsys, seed_file, argv, fragment):
    argv = [a.format(f=f"{seed_file}:f") for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and fragment in err
