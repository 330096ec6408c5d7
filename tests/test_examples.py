"""The examples run, in a few seconds each, and print what they promise.

Each example is run as a script in a fresh process (so it cannot rot); its printout
is checked against independent references: analytic derivatives, SciPy's hand-written
Rosenbrock gradient, finite differences. Examples whose optional dependencies
(scikit-learn, SciPy, matplotlib: the ``examples`` extra) are missing are skipped.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def _missing(*modules: str) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def run_example(name: str, cwd: Path, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found in:\n{text}"
    return float(match.group(1))


def test_seed_example(tmp_path):
    out = run_example("seed.py", tmp_path)
    assert number(r"df/dx1\s+= (\S+)", out) == pytest.approx(5.5, abs=1e-6)
    assert number(r"df/dx2\s+= (\S+)", out) == pytest.approx(2 - math.cos(5), abs=1e-6)
    assert "def grad_f(x1, x2):" in out and "v5 = v3 - v4" in out
    # the textbook table
    assert re.search(r"v1\s+= log\(v_-1\)\s+=\s+0\.693", out)
    assert re.search(r"v̄0\s+\+= v̄2 \* v_-1\s+=\s+1\.716", out)
    assert re.search(r"v̄-1\s+\+= v̄1 / v_-1\s+=\s+5\.500", out)


def test_bouncing_ball_example(tmp_path):
    out = run_example("bouncing_ball.py", tmp_path)
    rows = re.findall(
        r"^\s*([-\d.]+)\s+([-\d.]+)\s+(\d+)\s+([-\d.]+)\s+([-\d.]+) \|\s+([-\d.]+)\s+"
        r"([-\d.]+) \|\s+([-\d.]+)$",
        out,
        re.MULTILINE,
    )
    assert len(rows) == 4
    assert sorted(int(r[2]) for r in rows) == [0, 1, 2, 3]  # launches bouncing 0 to 3 times
    for row in rows:
        ad_height, fd_height, ad_velocity, fd_velocity = map(float, row[4:])
        assert ad_height == pytest.approx(fd_height, abs=2e-5)
        assert ad_velocity == pytest.approx(fd_velocity, abs=2e-5)
    # without a bounce, h(T) = h0 + v0 T - ...: d/dh0 = 1 and d/dv0 = T = 1.5 s
    first = rows[0]
    assert (float(first[4]), float(first[6])) == pytest.approx((1.0, 1.5), abs=1e-9)
    assert "iteration 2 of 3" in out and "the true branch" in out


@pytest.mark.skipif(bool(_missing("scipy")), reason="needs scipy (the examples extra)")
def test_rosenbrock_example(tmp_path):
    out = run_example("rosenbrock.py", tmp_path)
    assert number(r"rosen_der\(x0\)\|_max = (\S+)", out) < 1e-10
    exact = re.search(r"jac=grad\(rosenbrock\): success=True.*\|x - 1\|_max=(\S+),", out)
    assert exact and float(exact.group(1)) < 1e-6
    evaluations = re.findall(r"function evaluations=(\d+)", out)
    assert int(evaluations[0]) < int(evaluations[1])  # exact gradients: fewer calls of f


@pytest.mark.skipif(
    bool(_missing("sklearn", "scipy")), reason="needs scikit-learn (the examples extra)"
)
def test_nn_digits_example(tmp_path):
    plot = tmp_path / "loss.png"
    out = run_example("nn_digits.py", tmp_path, "--plot", str(plot))
    assert number(r"largest relative error (\S+)", out) < 1e-5
    assert number(r"test accuracy: (\S+)", out) > 0.9
    first = number(r"training loss: epoch 1 (\S+),", out)
    last = number(r"training loss: .*epoch \d+ (\S+)$", out.splitlines()[1])
    assert last < first / 5
    if _missing("matplotlib"):
        assert "no loss curve" in out
    else:
        assert plot.read_bytes().startswith(b"\x89PNG")
