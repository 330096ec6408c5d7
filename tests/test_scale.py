"""Scale: a loop writing 10^5 array elements, gradient right, memory bounded.

(The scalar loop of 10^6 iterations is ``test_long_loop_gradient_and_memory`` in
``test_control_flow.py``.) Peak memory is measured with ``tracemalloc`` around the
gradient call only; the bounds are generous (several times what was measured, see
the comments), so that the tests are not flaky, yet far below what a tape holding
whole copies of the array per iteration would need (10^5 copies of 800 kB: 80 GB).
The measured peaks are printed (``-s``).
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from ad_transform import grad, vjp

N = 100_000
MB = 2**20


def fill(x, w):
    n = x.shape[0]
    out = np.zeros(n)
    for i in range(n):
        xi = x[i]
        out[i] = xi * xi * 0.5 + math.sin(xi)
    return np.sum(out * w)


def recurrence(x, w):
    n = x.shape[0]
    out = np.zeros(n)
    out[0] = x[0]
    for i in range(1, n):
        out[i] = out[i - 1] * 0.5 + x[i]  # reads what the previous iteration wrote
    return np.sum(out * w)


def recurrence_gradient(w):
    """d/dx_j sum_i w_i out_i with out_i = sum_{j<=i} 0.5^(i-j) x_j: g_j = w_j + g_{j+1}/2."""
    g = np.empty_like(w)
    acc = 0.0
    for j in range(w.shape[0] - 1, -1, -1):
        acc = w[j] + 0.5 * acc
        g[j] = acc
    return g


def _peak(call):
    tracemalloc.start()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    return rng.standard_normal(N), rng.standard_normal(N)


def test_fill_array_of_1e5_elements(data):
    x, w = data
    df = grad(fill, wrt=(0, 1))
    (gx, gw), peak = _peak(lambda: df(x, w))
    print(f"\nfill, n = {N}: peak {peak / MB:.1f} MB")
    np.testing.assert_allclose(gx, (x + np.cos(x)) * w, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gw, x * x * 0.5 + np.sin(x), rtol=1e-12, atol=1e-14)
    # measured 48 MB (the tape: the old value and the operands of each write, the
    # adjoint arrays); a tape of whole array copies would need 80 GB
    assert peak < 400 * MB, f"peak memory {peak / MB:.0f} MB"


def test_recurrence_through_written_elements_1e5(data):
    # no tracemalloc here (it slows the loop down three times): the gradient only
    x, w = data
    gx = grad(recurrence)(x, w)
    np.testing.assert_allclose(gx, recurrence_gradient(w), rtol=1e-10, atol=1e-12)


def test_vjp_of_the_fill_loop_keeps_memory_bounded(data):
    # split mode keeps the tape from the forward sweep to the pullback; 10^4 elements
    x, w = data[0][: N // 10], data[1][: N // 10]
    (value, pullback), peak_forward = _peak(lambda: vjp(fill)(x, w))
    gx, peak_backward = _peak(lambda: pullback(2.0))
    print(f"\nvjp fill, n = {N // 10}: peaks {peak_forward / MB:.1f} MB forward, ", end="")
    print(f"{peak_backward / MB:.1f} MB pullback")
    assert value == pytest.approx(fill(x, w), rel=1e-12)
    np.testing.assert_allclose(gx, 2.0 * (x + np.cos(x)) * w, rtol=1e-12, atol=1e-14)
    # measured about 5 MB and 1 MB
    assert peak_forward < 40 * MB and peak_backward < 40 * MB
