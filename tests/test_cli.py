"""``python -m ad_transform``: every subcommand, and one clear line for bad input."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ad_transform import ssa_source
from ad_transform.cli import list_primitives, load_function, main, parse_arguments
from ad_transform.rules import all_rules

ROOT = Path(__file__).resolve().parent.parent

USER_FILE = textwrap.dedent(
    """
    import numpy as np


    def f(x1, x2):
        return np.log(x1) + x1 * x2 - np.sin(x2)


    def norm2(v):
        return np.sum(v * v)


    def bounded(x):
        y = yield x
        return y
    """
)


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "user_functions.py"
    path.write_text(USER_FILE, encoding="utf-8")
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_show_prints_the_adjoint_source(capsys, user_file):
    code, out, err = run(capsys, "show", f"{user_file}:f", "--wrt", "0,1")
    assert code == 0 and err == ""
    assert out.startswith("def grad_f(x1, x2):")
    assert "return " in out and "\x1b[" not in out  # not a terminal: no colours
    code, out, _ = run(capsys, "show", f"{user_file}:f", "--wrt", "0,1", "--args", "2", "5")
    assert code == 0 and "unbroadcast" not in out  # specialised for floats: plain arithmetic
    namespace = {"np": np}
    exec(out, namespace)  # the printed code is the code: run it
    d1, d2 = namespace["grad_f"](2.0, 5.0)
    assert (d1, d2) == pytest.approx((0.5 + 5.0, 2.0 - math.cos(5.0)), abs=1e-15)


def test_show_with_colour(capsys, user_file):
    pytest.importorskip("pygments")
    code, out, _ = run(capsys, "show", f"{user_file}:f", "--color", "always")
    assert code == 0 and "\x1b[" in out
    assert "grad_f" in re.sub(r"\x1b\[[0-9;]*m", "", out)


def test_ssa(capsys, user_file):
    code, out, _ = run(capsys, "ssa", f"{user_file}:f")
    assert code == 0
    assert out == ssa_source(load_function(f"{user_file}:f"))
    assert "v1 = np.log(x1)" in out


def test_table(capsys, user_file, tmp_path):
    html = tmp_path / "table.html"
    code, out, _ = run(capsys, "table", f"{user_file}:f", "2", "5", "--html", html)
    assert code == 0
    assert re.search(r"v̄0\s+\+= v̄2 \* v_-1\s+=\s+1\.716", out)
    assert re.search(r"v̄-1\s+\+= v̄1 / v_-1\s+=\s+5\.500", out)
    assert "<table" in html.read_text(encoding="utf-8")
    code, out, _ = run(capsys, "table", f"{user_file}:norm2", "[1, 2, 3]")
    assert code == 0 and "[2.000, 4.000, 6.000]" in out  # the gradient 2v


def test_graph_dot(capsys, user_file, tmp_path):
    code, out, _ = run(capsys, "graph", f"{user_file}:f", "2", "5")
    assert code == 0 and out.startswith('digraph "f"') and '"v0" -> "v2"' in out
    target = tmp_path / "f.dot"
    code, _, err = run(capsys, "graph", f"{user_file}:f", "2", "5", "-o", target)
    assert code == 0 and target.read_text(encoding="utf-8").startswith("digraph")
    assert "wrote" in err


def test_export(capsys, user_file, tmp_path):
    target = tmp_path / "grad_f_module.py"
    code, _, err = run(capsys, "export", f"{user_file}:f", "--wrt", "0,1", "-o", target)
    assert code == 0 and "wrote" in err
    namespace: dict = {}
    exec(compile(target.read_text(encoding="utf-8"), str(target), "exec"), namespace)
    d1, d2 = namespace["grad_f"](2.0, 5.0)
    assert (d1, d2) == pytest.approx((5.5, 2.0 - math.cos(5.0)), abs=1e-15)


def test_primitives(capsys):
    code, out, _ = run(capsys, "primitives")
    lines = out.splitlines()
    assert code == 0 and lines == list_primitives() and lines == sorted(lines)
    assert "numpy.sin" in lines and "operator.mul" in lines
    assert {r.name for r in all_rules() if r.differentiable} <= set(lines)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["show", "missing.py:f"], r"no such file: missing\.py"),
        (["show", "{file}:nope"], r"has no function 'nope' \(functions there: bounded, f, norm2\)"),
        (["show", "{file}"], r"expected FILE\.py:FUNCTION"),
        (["show", "{file}:bounded"], r"user_functions\.py:\d+:\d+: unsupported construct: 'yield'"),
        (["table", "{file}:f", "2", "five"], r"cannot parse argument 'five'"),
        (["table", "{file}:f", "2", "[1, [2]]"], r"cannot parse argument"),
        (["table", "{file}:f", "2"], r"missing a required argument: 'x2'"),
        (["show", "{file}:f", "--wrt", "x"], r"--wrt expects argument indices"),
        (["table", "{file}:f", "2", "5", "6"], r"f\(\): too many positional arguments"),
    ],
)
def test_bad_input_is_one_line_and_a_nonzero_exit(capsys, user_file, argv, message):
    argv = [a.replace("{file}", str(user_file)) for a in argv]
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("ad_transform: error: ")
    assert re.search(message, err), err
    assert "Traceback" not in err


def test_parse_arguments():
    positional, keywords = parse_arguments(["2", "-0.5", "[1, 2]", "[[1, 2], [3, 4]]", "n=3"])
    assert positional[:2] == [2, -0.5]
    assert positional[2].dtype == np.float64 and positional[2].tolist() == [1.0, 2.0]
    assert positional[3].shape == (2, 2)
    assert keywords == {"n": 3}


def test_python_dash_m_in_a_subprocess(user_file):
    """The real entry point: exit codes, and no traceback for bad input."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "ad_transform", "table", f"{user_file}:f", "2", "5"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "x̄1" in done.stdout and "5.500" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "ad_transform", "show", f"{user_file}:bounded"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "unsupported construct" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "ad_transform", "frobnicate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1
