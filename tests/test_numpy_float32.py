"""float32 in, float32 out: every row of the rules table, run in single precision.

For each row of ``TABLE`` in ``test_rules.py``, on its first combination of argument
shapes made only of arrays, the arguments are cast to float32 and ``vjp`` is run with a
float32 cotangent. Then:

* every cotangent is a float32 ndarray shaped like its argument;
* where the function's value is float32 (the function itself does not promote to
  float64), every gradient reaching the final conversion ``runtime.as_gradient`` is
  already float32: the rules computed in single precision, and the conversion (which
  casts to the argument's dtype) did not have to hide a promotion;
* the cotangents agree with the same pullback run in float64 on the same (rounded)
  arguments and cotangent, to a single-precision tolerance: ``rtol = 1e-4`` (about 800
  float32 ulps, for a handful of rounded operations on O(1) values with condition
  numbers below ~10) and ``atol = 1e-4`` times the largest float64 cotangent (small
  entries of a sum that cancels are only known to that absolute precision).
"""

from __future__ import annotations

import types
import zlib

import numpy as np
import pytest
from test_rules import F64, TABLE, F, Row

from ad_transform import runtime, vjp

RTOL = 1e-4
ATOL_SCALE = 1e-4


def _array_shapes(row: Row):
    """The row's first combination of argument shapes with no scalar in it."""
    for shapes in row.shapes:
        if all(s is not F and s is not F64 for s in shapes):
            return shapes
    return None


ROWS = [row for row in TABLE if _array_shapes(row) is not None]


def _fresh_copy(fn):
    """A new function object with ``fn``'s code: transformed afresh (no cached code)."""
    copy = types.FunctionType(
        fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
    )
    copy.__qualname__ = fn.__qualname__
    return copy


def test_enough_rows_run_in_float32():
    assert len(ROWS) > 200


@pytest.mark.parametrize("row", [pytest.param(r, id=r.name) for r in ROWS])
def test_float32_in_float32_out(row: Row, monkeypatch):
    rng = np.random.default_rng(zlib.crc32(f"{row.name}/float32".encode()))
    shapes = _array_shapes(row)
    args64 = row.gen(rng, shapes)
    args32 = tuple(np.asarray(a, dtype=np.float32) for a in args64)
    rounded = tuple(a.astype(np.float64) for a in args32)
    positions = row.positions

    seen = []
    original = runtime.as_gradient

    def spy(dx, x, copy=False):
        if isinstance(x, np.ndarray) and x.dtype == np.float32:
            seen.append(np.result_type(dx))
        return original(dx, x, copy)

    monkeypatch.setattr(runtime, "as_gradient", spy)
    value, pullback = vjp(_fresh_copy(row.fn), wrt=positions)(*args32)
    v = rng.standard_normal(np.shape(value)).astype(np.float32)
    if np.ndim(value) == 0:
        v = np.float32(v)
    cotangents32 = pullback(v)
    monkeypatch.undo()

    value_dtype = np.result_type(value)
    if value_dtype == np.float32:
        assert seen, "as_gradient was not called: the spy no longer sees the conversion"
        promoted = [str(d) for d in seen if d != np.float32]
        assert not promoted, (
            f"{row.name}: gradients in {promoted} reached as_gradient for float32 arguments"
        )

    _, pullback64 = vjp(row.fn, wrt=positions)(*rounded)
    cotangents64 = pullback64(np.asarray(v, dtype=np.float64)[()])
    for i, c32, c64 in zip(positions, cotangents32, cotangents64, strict=True):
        assert isinstance(c32, np.ndarray), f"cotangent {i} is {type(c32).__name__}"
        assert c32.dtype == np.float32, f"cotangent {i} has dtype {c32.dtype}"
        assert c32.shape == args32[i].shape
        scale = max(1.0, float(np.max(np.abs(c64)))) if np.size(c64) else 1.0
        np.testing.assert_allclose(
            c32.astype(np.float64),
            c64,
            rtol=RTOL,
            atol=ATOL_SCALE * scale,
            err_msg=f"{row.name}: float32 cotangent {i} against float64",
        )
