"""No data loss: inputs are never changed by a gradient call, and a failing call leaves
nothing behind.

* Arrays, lists (of floats and of arrays), tuples and views passed to ``grad``,
  ``value_and_grad`` and ``vjp`` (forward sweep and pullbacks) are left exactly as
  they were, bit for bit, also when the function writes into arrays it created from
  them (copies, ``np.zeros``, ``x * 1.0``) and appends to lists built from them. An
  attempt to write into an argument (also through ``np.asarray``) is refused.
* A gradient call that fails (a ``ValueError`` raised by the user's code for some
  inputs only, a math domain error in the forward sweep, a ``ZeroDivisionError`` in
  the backward sweep, a failure half-way through a loop that filled the tape, or in a
  helper) leaves no state behind: inputs unchanged, NumPy's error state, the
  recursion limit and the warning filters as they were, the same cached code, and
  the next call gives the right result, identical to that of a fresh process-wide
  first call.
* A failed transformation (a helper with an unsupported construct) leaves no
  half-built entry in the cache: fixing the helper makes the next call work.
"""

from __future__ import annotations

import copy
import math
import sys
import warnings

import numpy as np
import pytest
from gradcheck import numerical_gradient

from ad_transform import ADTransformError, grad, pipeline, value_and_grad, vjp

RNG = np.random.default_rng(5)


def _same(a, b) -> bool:
    """Deep, exact equality, dtypes and shapes included."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            type(a) is type(b)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.tobytes() == b.tobytes()
        )
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


def _all_modes(f, args, wrt):
    """Run every entry point; return the gradient of ``grad``."""
    g = grad(f, wrt=wrt)(*args)
    value_and_grad(f, wrt=wrt)(*args)
    for cotangent in (1.0, -2.0):  # (one pullback called twice: test_regressions.py)
        _, pullback = vjp(f, wrt=wrt)(*args)
        pullback(cotangent)
    return g


# --- functions writing into arrays and lists they create ------------------------------------


def writes_into_copy(x):
    out = x.copy()
    for i in range(1, out.shape[0]):
        out[i] = out[i - 1] * 0.5 + math.sin(out[i])
    return np.sum(out * out)


def writes_into_arithmetic_result(x, w):
    out = x * 1.0  # a new array with x's values
    out[0] = w * 2.0
    out[1:] += w * out[:-1]
    return np.sum(np.tanh(out))


def writes_into_zeros(x):
    out = np.zeros(x.shape)
    for i in range(x.shape[0]):
        out[i] = x[i] * x[i]
    out[0] = out[-1]
    return np.sum(out)


def appends_to_list_from_input(x, values):
    acc = []
    for v in values:
        acc.append(v * x)
        acc.append(v)  # the caller's floats in a list of the function's own
    return sum(acc)


def sums_list_of_arrays(w, arrays):
    total = 0.0
    for a in arrays:
        b = a * w
        b[0] = 0.0
        total = total + np.sum(b * b)
    return total


def reads_tuple(x, pair):
    a, b = pair
    return np.sum(x * a) + np.sum(x * x * b)


CASES = [
    (writes_into_copy, lambda: (RNG.standard_normal(6),), 0),
    (writes_into_arithmetic_result, lambda: (RNG.standard_normal(5), 0.3), (0, 1)),
    (writes_into_zeros, lambda: (RNG.standard_normal(4),), 0),
    (appends_to_list_from_input, lambda: (0.7, [0.5, -1.0, 2.0]), 0),
    (sums_list_of_arrays, lambda: (0.9, [RNG.standard_normal(3), RNG.standard_normal(3)]), 0),
    (reads_tuple, lambda: (RNG.standard_normal(3), (RNG.standard_normal(3), 0.5)), 0),
]


@pytest.mark.parametrize("f, make_args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_inputs_unchanged(f, make_args, wrt):
    args = make_args()
    before = copy.deepcopy(args)
    g = _all_modes(f, args, wrt)
    assert _same(list(args), list(before)), f"{f.__name__} changed its inputs"
    # and the gradient is right (finite differences on untouched copies)
    expected = numerical_gradient(f, copy.deepcopy(list(args)), wrt)
    for a, e in zip(
        g if isinstance(wrt, tuple) else (g,), expected if isinstance(wrt, tuple) else (expected,)
    ):
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-8)


def test_views_of_a_larger_array_unchanged():
    big = RNG.standard_normal((4, 6))
    before = big.copy()
    x = big[1, ::2]  # a strided view
    _all_modes(writes_into_copy, (x,), 0)
    _all_modes(writes_into_arithmetic_result, (big[:, 0], 0.2), (0, 1))
    assert _same(big, before)


def writes_through_asarray(x):
    y = np.asarray(x)  # the argument itself
    y[0] = 5.0
    return np.sum(y * y)


def writes_into_argument_in_loop(x):
    for i in range(x.shape[0]):
        x[i] = x[i] * 2.0
    return np.sum(x)


@pytest.mark.parametrize("f", [writes_through_asarray, writes_into_argument_in_loop])
@pytest.mark.parametrize("transform", [grad, value_and_grad, vjp], ids=lambda t: t.__name__)
def test_writing_into_an_argument_is_refused_and_changes_nothing(f, transform):
    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ADTransformError):
        transform(f)(x)
    assert _same(x, np.array([1.0, 2.0, 3.0]))


# --- failing calls leave nothing behind -------------------------------------------------------


def validate(n):
    if n < 0:
        raise ValueError("n must not be negative")
    return n


def raises_for_some_inputs(x, n):
    k = validate(n)  # user code raising a ValueError for some inputs
    y = x
    for _ in range(k):
        y = math.sin(y) * x
    return y


def domain_error_half_way(x, c):
    y = x
    for _ in range(5):  # fails at the third iteration for c = -1, x = 3
        y = math.log(y) + c
    return y * x


def norm_of_order(v, p):
    return np.linalg.norm(v, ord=p) * 2.0  # the backward sweep refuses ord=0.5 at a 0


def log_helper(t, c):
    y = t
    for _ in range(4):
        y = math.log(y) + c
    return y


def fails_in_helper(x, c):
    total = 0.0
    for i in range(3):
        total = total + log_helper(x + i, c)
    return total


def array_loop_failing_late(x, stop):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = math.sqrt(x[i] - stop)  # raises once x[i] < stop
    return np.sum(out * out)


def _global_state():
    return (
        np.geterr(),
        sys.getrecursionlimit(),
        list(warnings.filters),
        sys.getswitchinterval(),
    )


FAILURES = [
    # f, failing args, exception, good args, wrt
    (raises_for_some_inputs, (0.7, -1), ValueError, (0.7, 4), 0),
    (domain_error_half_way, (3.0, -1.0), ValueError, (3.0, 1.0), 0),
    (
        norm_of_order,
        (np.array([1.0, 0.0]), 0.5),
        ADTransformError,
        (np.array([1.0, 2.0]), 2),
        0,
    ),
    (fails_in_helper, (0.5, -2.0), ValueError, (1.5, 1.0), 0),
    (
        array_loop_failing_late,
        (np.array([4.0, 3.0, 0.5, 2.0]), 1.0),
        ValueError,
        (np.array([4.0, 3.0, 1.5, 2.0]), 1.0),
        0,
    ),
]


@pytest.mark.parametrize("transform", [grad, value_and_grad, vjp], ids=lambda t: t.__name__)
@pytest.mark.parametrize(
    "f, bad, exception, good, wrt", FAILURES, ids=[c[0].__name__ for c in FAILURES]
)
def test_failing_call_leaves_no_state(f, bad, exception, good, wrt, transform):
    fresh_result = _all_modes(f, copy.deepcopy(good), wrt)  # what a good call gives
    transformed = transform(f, wrt=wrt)
    state = _global_state()
    bad_before = copy.deepcopy(bad)
    cached = dict(pipeline._cache.get(f, {}))
    for _ in range(3):  # fail several times in a row
        with pytest.raises(exception):
            result = transformed(*bad)
            if transform is vjp:
                result[1](1.0)
        assert _same(list(bad), list(bad_before)), "a failing call changed its inputs"
        assert _global_state() == state
    # the same cached code, no entry added or dropped
    assert {k: id(v) for k, v in pipeline._cache.get(f, {}).items()} == {
        k: id(v) for k, v in cached.items()
    }
    result = transformed(*good)
    gradient = result[1] if transform is value_and_grad else result
    if transform is vjp:
        gradient = result[1](1.0)
    np.testing.assert_array_equal(gradient, fresh_result)
    expected = numerical_gradient(f, copy.deepcopy(list(good)), wrt)
    np.testing.assert_allclose(gradient, expected, rtol=1e-6, atol=1e-8)


def test_failures_from_other_calls_do_not_reach_a_pullback():
    # a pullback made before other calls fail still gives its own gradient
    _, pullback = vjp(domain_error_half_way)(3.0, 1.0)
    for _ in range(3):
        with pytest.raises(ValueError):
            vjp(domain_error_half_way)(3.0, -1.0)
    expected = numerical_gradient(domain_error_half_way, [3.0, 1.0])
    assert pullback(1.0) == pytest.approx(expected, rel=1e-6)


# --- a failed transformation leaves no half-built cache entry ---------------------------------


def broken_helper(t):
    y = yield t
    return y * 2.0


def fixed_helper(t):
    return t * 3.0


def calls_helper(x):
    return broken_helper(x) * x


def test_failed_transformation_leaves_no_partial_cache_entry(monkeypatch):
    with pytest.raises(ADTransformError) as info:
        grad(calls_helper)(0.5)
    assert "'yield'" in str(info.value)
    assert not pipeline._cache.get(broken_helper), "a half-built helper pair was kept"
    with pytest.raises(ADTransformError):  # again: the same error, nothing half-cached
        grad(calls_helper)(0.5)
    monkeypatch.setitem(globals(), "broken_helper", fixed_helper)  # the user fixes it
    assert grad(calls_helper)(0.5) == pytest.approx(6 * 0.5, rel=1e-12)  # d/dx 3x^2
