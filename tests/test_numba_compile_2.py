"""Compiled gradients, part 2 (issue 18): compile time and the benchmarks' hook.

* the overloads of the runtime helpers' Numba versions are cached on disk like their
  kernels: a later process loads them instead of compiling them (each cost 0.1-0.3 s
  of every first call that used them);
* ``benchmarks.compiled.run_case`` takes the contenders and the ones to skip, and
  ``benchmarks.jax_compare`` runs its contenders through it (no copy of the loop).

The Numba tests are skipped where Numba is not installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from gradcheck import numerical_gradient

from benchmarks import compiled, jax_compare
from benchmarks.peers import HAND, JAX_JIT, OURS, prepare_hand, prepare_ours

ROOT = Path(__file__).resolve().parent.parent


def _never(case, args):
    raise AssertionError("a skipped contender was prepared")


def test_run_case_takes_the_contenders_and_the_ones_to_skip():
    prepare = {HAND: prepare_hand, OURS: prepare_ours, "never": _never}
    result = compiled.run_case("affine_loop", 1, 0.001, prepare=prepare, skip={"never": "why"})
    assert result["status"] == {"never": "why"}  # not prepared (it would fail)
    assert set(result["timings"]) == {HAND, OURS}
    assert result["case"].name == "affine_loop"


def test_jax_compare_runs_its_contenders_through_compiled_run_case(monkeypatch):
    calls = []
    monkeypatch.setattr(compiled, "run_case", lambda *args, **kw: calls.append((args, kw)))
    jax_compare.run_case("rk4_inline", 3, 0.5)
    jax_compare.run_case("rk4_inline", 3, 0.5, unrolled_rk4=True)
    jax_compare.run_case("sin_loop", 3, 0.5)
    skips = [kw["skip"] for _, kw in calls]
    assert skips == [{JAX_JIT: jax_compare.UNROLLED_SKIP["rk4_inline"]}, {}, {}]
    assert all(kw["prepare"] is jax_compare.PREPARE for _, kw in calls)
    assert [args for args, _ in calls] == [("rk4_inline", 3, 0.5)] * 2 + [("sin_loop", 3, 0.5)]


def test_first_call_cell_shows_cpu_and_wall_seconds():
    result = {"setup": {"a": 2.5, "b": 0.5}, "setup_cpu": {"a": 1.25}}
    assert compiled.first_call_cell(result, "a") == "1.25 s (2.50 s)"
    assert compiled.first_call_cell(result, "b") == "0.50 s"
    assert compiled.first_call_cell(result, "c") == "-"


# -- Numba: the overloads' implementations come from the disk cache in a later process

PROGRAM = """
import sys

import numpy as np
from numba.core import event

from ad_transform import grad


def energy(x, a):
    return np.sum(x * x) * a


compiled = []


class Listener(event.Listener):
    def on_start(self, ev):
        name = getattr(getattr(ev.data["dispatcher"], "py_func", None), "__qualname__", "")
        if name.startswith("define_"):
            compiled.append(name)

    def on_end(self, ev):
        pass


x = np.linspace(0.5, 1.5, 7)
with event.install_listener("numba:compile", Listener()):
    gradient = grad(energy, compile="numba")(x, 1.5)
print(repr(gradient.tolist()))
print(len(compiled))
"""


def _energy(x, a):
    return np.sum(x * x) * a


def test_a_later_process_loads_the_overloads_from_the_disk_cache(tmp_path):
    """This process compiles (or loads) the overloads ``np.sum(x * x) * a``'s gradient
    calls and caches them; a new process running the same gradient compiles none."""
    pytest.importorskip("numba")
    from ad_transform import grad
    from ad_transform.runtime import numba_versions

    x = np.linspace(0.5, 1.5, 7)
    here = grad(_energy, compile="numba")(x, 1.5)
    if type(numba_versions._masked_times._cache).__name__ != "FunctionCache":
        pytest.skip("Numba has no cache directory here")
    (tmp_path / "program.py").write_text(textwrap.dedent(PROGRAM))
    done = subprocess.run(
        [sys.executable, str(tmp_path / "program.py")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"},
        cwd=tmp_path,
        check=True,
    )
    gradient, compiled_there = done.stdout.split("\n")[:2]
    assert int(compiled_there) == 0  # every overload implementation came from the cache
    expected = numerical_gradient(_energy, [x, 1.5], 0)
    np.testing.assert_allclose(here, expected, rtol=1e-6)
    assert eval(gradient) == here.tolist()
