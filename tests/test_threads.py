"""Concurrency and re-entrancy: gradients from many threads, inside other gradients, and
in recursion.

* The same gradient function called from 16 threads at once (started together by a
  barrier, each calling it many times) gives results identical, bit for bit, to the
  single-threaded ones, and those are right (analytic derivatives). The functions use
  the tape (scalar loops), data-dependent ``while`` loops and item writes into arrays,
  so a tape or adjoint shared between calls would show.
* A function that is not transformed yet, called through ``grad`` from 16 threads at
  once, is transformed exactly once: the transformation is counted, the cache holds
  one entry, and every thread runs the very same generated function object.
* A gradient function called inside a function being differentiated (an opaque call
  whose result carries no derivative) works, also from threads; recursion works.
"""

from __future__ import annotations

import math
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from ad_transform import grad, pipeline, value_and_grad, vjp

THREADS = 16
CALLS = 25  # per thread


def run_together(work, threads: int = THREADS) -> list:
    """``work(k)`` in ``threads`` threads started at the same moment; their results."""
    barrier = threading.Barrier(threads)

    def task(k):
        barrier.wait()
        return work(k)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(task, range(threads)))


def _switch_often():
    """Make the interpreter switch threads far more often than by default."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    return old


@pytest.fixture(autouse=True)
def frequent_switches():
    old = _switch_often()
    yield
    sys.setswitchinterval(old)


# --- functions ---------------------------------------------------------------------------


def sin_recurrence(x, n):
    y = 0.0
    for _ in range(n):
        y = math.sin(y) * 0.5 + x
    return y


def sin_recurrence_derivative(x, n):
    """Forward mode by hand: y' <- 0.5 cos(y) y' + 1."""
    y, dy = 0.0, 0.0
    for _ in range(n):
        y, dy = math.sin(y) * 0.5 + x, 0.5 * math.cos(y) * dy + 1.0
    return dy


def halve_until_small(x):
    """A data-dependent trip count: x / 2**k with k the halvings until |t| < 0.1."""
    t = x
    while abs(t) > 0.1:
        t = t * 0.5
    return t * t


def fill_array(x, w):
    n = x.shape[0]
    out = np.zeros(n)
    for i in range(n):
        out[i] = math.tanh(w * x[i]) + x[i] * x[(i + 1) % n]
    return np.sum(out * out)


def fill_array_gradient(x, w):
    """d/dx and d/dw of sum(out_i^2), out_i = tanh(w x_i) + x_i x_{i+1} (cyclic)."""
    n = x.shape[0]
    nxt = np.roll(x, -1)
    out = np.tanh(w * x) + x * nxt
    sech2 = 1.0 - np.tanh(w * x) ** 2
    gx = 2 * out * (w * sech2 + nxt)
    gx += np.roll(2 * out * x, 1)  # out_{i-1} depends on x_i through x_{i-1} * x_i
    gw = float(np.sum(2 * out * x * sech2))
    assert gx.shape == (n,)
    return gx, gw


# --- the same gradient from 16 threads ------------------------------------------------------


def _args_for(k: int):
    return 0.2 + 0.05 * k, 100 + 10 * k


def test_scalar_loop_with_tape_from_16_threads():
    df = grad(sin_recurrence)
    expected = [df(*_args_for(k)) for k in range(THREADS)]  # single-threaded, one per k
    for k, g in enumerate(expected):
        assert g == pytest.approx(sin_recurrence_derivative(*_args_for(k)), rel=1e-12)

    def work(k):
        return [df(*_args_for((k + j) % THREADS)) for j in range(CALLS)]

    for k, results in enumerate(run_together(work)):
        for j, g in enumerate(results):
            assert g == expected[(k + j) % THREADS]  # bit for bit


def test_value_and_grad_and_vjp_from_16_threads():
    vg, pb = value_and_grad(sin_recurrence), vjp(sin_recurrence)
    expected = [vg(*_args_for(k)) for k in range(THREADS)]

    def work(k):
        out = []
        for j in range(CALLS):
            args = _args_for((k + j) % THREADS)
            value, pullback = pb(*args)
            out.append((vg(*args), value, pullback(1.0), pullback(-3.0)))
        return out

    for k, results in enumerate(run_together(work)):
        for j, (value_and_gradient, value, g1, g3) in enumerate(results):
            want = expected[(k + j) % THREADS]
            assert value_and_gradient == want
            assert value == want[0] and g1 == want[1]
            assert g3 == pytest.approx(-3.0 * want[1], rel=1e-14)


def test_data_dependent_while_from_16_threads():
    dh = grad(halve_until_small)
    xs = [0.15 * (k + 1) * (-1) ** k for k in range(THREADS)]
    # t = x / 2**k with k fixed near x: d/dx t^2 = 2 x / 4**k
    expected = []
    for x in xs:
        k = 0
        while abs(x / 2**k) > 0.1:
            k += 1
        expected.append(2 * x / 4**k)

    def work(k):
        return [dh(xs[(k + j) % THREADS]) for j in range(CALLS)]

    for k, results in enumerate(run_together(work)):
        for j, g in enumerate(results):
            assert g == pytest.approx(expected[(k + j) % THREADS], rel=1e-14)


def test_array_item_writes_from_16_threads():
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal(40) for _ in range(THREADS)]
    ws = [0.5 + 0.1 * k for k in range(THREADS)]
    df = grad(fill_array, wrt=(0, 1))
    expected = [df(x, w) for x, w in zip(xs, ws)]
    for (gx, gw), x, w in zip(expected, xs, ws):
        ref_x, ref_w = fill_array_gradient(x, w)
        np.testing.assert_allclose(gx, ref_x, rtol=1e-12, atol=1e-14)
        assert gw == pytest.approx(ref_w, rel=1e-12)
    copies = [x.copy() for x in xs]

    def work(k):
        return [df(xs[(k + j) % THREADS], ws[(k + j) % THREADS]) for j in range(CALLS)]

    for k, results in enumerate(run_together(work)):
        for j, (gx, gw) in enumerate(results):
            want_x, want_w = expected[(k + j) % THREADS]
            np.testing.assert_array_equal(gx, want_x)
            assert gw == want_w
    for x, copy in zip(xs, copies):
        np.testing.assert_array_equal(x, copy)  # no thread wrote into an input


# --- one transformation, however many threads ask for it at once -----------------------


def _fresh_function():
    """A new function object (not in any cache) with a helper, a loop and a branch."""

    def helper(t, k):
        s = 0.0
        for i in range(k):
            if i % 2 == 0:
                s = s + math.sin(t * i)
            else:
                s = s - t * t
        return s

    def fresh(x, k):
        return helper(x, k) * x

    return fresh


def fresh_reference(x, k):
    """d/dx [x * sum_i (sin(x i) if i even else -x^2)]."""
    s = ds = 0.0
    for i in range(k):
        if i % 2 == 0:
            s, ds = s + math.sin(x * i), ds + i * math.cos(x * i)
        else:
            s, ds = s - x * x, ds - 2 * x
    return s + x * ds


@pytest.mark.parametrize("shared", [True, False], ids=["one-grad-object", "grad-per-thread"])
def test_first_transformation_from_16_threads_happens_once(shared, monkeypatch):
    fresh = _fresh_function()
    # the nested def is only a factory here: the differentiated functions are plain
    # module-level-like functions with source
    calls = []
    original = pipeline._Builder.top_level

    def counting_top_level(self, func, *args, **kwargs):
        if func is fresh:
            calls.append(threading.get_ident())
        return original(self, func, *args, **kwargs)

    monkeypatch.setattr(pipeline._Builder, "top_level", counting_top_level)
    shared_grad = grad(fresh)

    def work(k):
        df = shared_grad if shared else grad(fresh)
        g = df(0.3 + 0.01 * k, 7)
        return g, df._generated((0.3, 7)).function

    results = run_together(work)
    assert len(calls) == 1, f"transformed {len(calls)} times"
    functions = {id(function) for _, function in results}
    assert len(functions) == 1, "threads got different generated functions"
    assert len(pipeline._cache[fresh]) == 1
    for k, (g, _) in enumerate(results):
        assert g == pytest.approx(fresh_reference(0.3 + 0.01 * k, 7), rel=1e-12)


# --- gradients inside gradients, recursion ----------------------------------------------------


def inner(t):
    y = t
    for _ in range(3):
        y = math.sin(y) + t
    return y


d_inner = grad(inner)


def inner_derivative(t):
    y, dy = t, 1.0
    for _ in range(3):
        y, dy = math.sin(y) + t, math.cos(y) * dy + 1.0
    return dy


def uses_gradient_as_constant(x, c):
    slope = d_inner(c)  # c is not differentiated: an opaque, inactive call
    return x * x * slope


def uses_gradient_in_condition(x):
    if d_inner(x) > 1.5:  # a gradient deciding the branch: no derivative flows
        return x * x
    return -x


def uses_gradient_actively(x):
    return d_inner(x) * x


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def test_gradient_called_inside_a_differentiated_function():
    x, c = 0.7, 0.4
    assert grad(uses_gradient_as_constant)(x, c) == pytest.approx(
        2 * x * inner_derivative(c), rel=1e-12
    )
    for x in (0.2, 1.3):
        expected = 2 * x if inner_derivative(x) > 1.5 else -1.0
        assert grad(uses_gradient_in_condition)(x) == pytest.approx(expected, rel=1e-12)


def test_gradient_called_inside_with_an_active_argument_is_the_second_derivative():
    # d/dx (inner'(x) x) = inner''(x) x + inner'(x) (tests/test_higher_order.py)
    x, eps = 0.7, 1e-6
    second = (inner_derivative(x + eps) - inner_derivative(x - eps)) / (2 * eps)
    expected = second * x + inner_derivative(x)
    assert grad(uses_gradient_actively)(x) == pytest.approx(expected, rel=1e-7)


def test_nested_gradients_from_16_threads():
    outer = grad(uses_gradient_as_constant, wrt=0)

    def work(k):
        c = 0.1 * k
        return [outer(0.7, c) for _ in range(5)], c

    for results, c in run_together(work):
        want = 2 * 0.7 * inner_derivative(c)
        for g in results:
            assert g == pytest.approx(want, rel=1e-12)


def test_recursion_from_16_threads():
    dp = grad(power)

    def work(k):
        n = 20 + k
        return [dp(1.01, n) for _ in range(5)], n

    for results, n in run_together(work):
        for g in results:
            assert g == pytest.approx(n * 1.01 ** (n - 1), rel=1e-12)


def test_deep_recursion():
    # 400 levels of the user's recursion (each with its forward/backward pair frames)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 5000))
    try:
        assert grad(power)(1.001, 400) == pytest.approx(400 * 1.001**399, rel=1e-12)
    finally:
        sys.setrecursionlimit(old)
