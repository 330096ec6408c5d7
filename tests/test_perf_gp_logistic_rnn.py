"""Issue 15, the gp, logistic and rnn_matvec cases (docs/architecture/perf_gp_logistic_rnn.md).

* the Cholesky adjoint by BLAS ``trmm``/``trsm`` (one 2-D real matrix, SciPy present),
  against the NumPy path it replaces and central finite differences;
* a triangular matrix told by a mask of its other triangle (``solve_cotangent``);
* ``optimize/spread_adjoints.spread_scalings``: ``times(spread of c, d)`` as ``d * c``
  where the facts show ``d`` keeps its shape, and where they do not, ``times`` stays.

Expected values come from central finite differences and the dot-product test; no
timing is asserted.
"""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest
from gradcheck import check_grad, check_vjp_dot_product

import ad_transform.optimize as optimize_stage
from ad_transform import grad, runtime
from ad_transform.runtime import linalg as runtime_linalg
from benchmarks.cases_applied import gp_nll

RNG = np.random.default_rng(2626)


def _code(g, *args) -> str:
    """The generated source for ``args`` without its comment lines."""
    lines = g.source_for(*args).splitlines()
    return "\n".join(line for line in lines if not line.strip().startswith("#"))


def _fresh(func: types.FunctionType) -> types.FunctionType:
    """The same code as a new function object (nothing cached for it)."""
    return types.FunctionType(
        func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__
    )


# -- the Cholesky adjoint by BLAS level 3 -----------------------------------------------------


def _spd(n: int, dtype=np.float64) -> np.ndarray:
    b = RNG.standard_normal((n, n))
    return (b @ b.T + n * np.eye(n)).astype(dtype)


def _murray_by_inverses(gL: np.ndarray, L: np.ndarray) -> np.ndarray:
    """Murray's formula (arXiv:1602.07527, section 3.1) with explicit inverses, in float64:
    Phi(L^-T Phi(L^T gL) L^-1 symmetrised), Phi the lower triangle with half the diagonal."""
    L, gL = L.astype(np.float64), gL.astype(np.float64)
    phi = np.tril(L.T @ gL)
    phi -= 0.5 * np.diag(np.diag(phi))
    inv = np.linalg.inv(L)
    s = inv.T @ phi @ inv
    sym = s + s.T
    return np.tril(sym, -1) + 0.5 * np.diag(np.diag(sym))


@pytest.mark.parametrize("n", [1, 2, 7, 40])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cholesky_adjoint_by_blas_is_murrays_formula(n, dtype):
    a = _spd(n, dtype)
    L = np.linalg.cholesky(a)
    gL = RNG.standard_normal((n, n)).astype(dtype)
    assert runtime_linalg._triangular_blas(L, gL) is not None  # the BLAS path is taken
    got = runtime.cholesky_adjoint(gL, L, a)
    assert got.dtype == dtype
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    expected = _murray_by_inverses(gL, L)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


@pytest.mark.parametrize("order", ["C", "F", "transposed view"])
def test_cholesky_adjoint_leaves_the_adjoint_it_is_given_unchanged(order):
    n = 9
    a = _spd(n)
    L = np.linalg.cholesky(a)
    base = RNG.standard_normal((n, n))
    gL = {"C": base, "F": np.asfortranarray(base), "transposed view": base.T}[order]
    before = gL.copy()
    got = runtime.cholesky_adjoint(gL, L, a)
    np.testing.assert_array_equal(gL, before)  # trmm writes into a new array
    np.testing.assert_allclose(got, _murray_by_inverses(before, L), rtol=1e-12, atol=1e-12)


def test_cholesky_adjoint_upper_and_mixed_dtypes():
    n = 8
    a = _spd(n)
    L = np.linalg.cholesky(a)
    gL = RNG.standard_normal((n, n))
    upper = runtime.cholesky_adjoint(gL.T, L.T, a, upper=True)
    np.testing.assert_allclose(upper, _murray_by_inverses(gL, L).T, rtol=1e-12, atol=1e-12)
    mixed = runtime.cholesky_adjoint(gL, L.astype(np.float32), a.astype(np.float32))
    assert mixed.dtype == np.float64  # the common type, as L.T @ gL gives
    expected = _murray_by_inverses(gL, L.astype(np.float32))
    np.testing.assert_allclose(mixed, expected, rtol=1e-10, atol=1e-10)


def test_cholesky_adjoint_takes_numpy_for_stacks_and_without_scipy(monkeypatch):
    a = np.stack([_spd(5), _spd(5)])
    L = np.linalg.cholesky(a)
    gL = RNG.standard_normal(a.shape)
    assert runtime_linalg._triangular_blas(L, gL) is None
    for k in range(2):
        expected = _murray_by_inverses(gL[k], L[k])
        got = runtime.cholesky_adjoint(gL, L, a)[k]
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    monkeypatch.setattr(runtime_linalg, "_scipy_get_blas_funcs", lambda: None)
    assert runtime_linalg._triangular_blas(L[0], gL[0]) is None
    np.testing.assert_allclose(
        runtime.cholesky_adjoint(gL[0], L[0], a[0]),
        _murray_by_inverses(gL[0], L[0]),
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.parametrize("n", [5, 1030])  # 1030: a mask made per call, not cached
@pytest.mark.parametrize("lower", [True, False])
def test_keep_triangle_is_tril_or_triu(n, lower):
    m = RNG.standard_normal((n, n))
    expected = np.tril(m) if lower else np.triu(m)
    runtime_linalg._keep_triangle(m, lower=lower)
    np.testing.assert_array_equal(m, expected)


def weighted_cholesky(a, w):
    return np.sum(w * np.linalg.cholesky(a))


def weighted_cholesky_upper(a, w):
    return np.sum(w * np.linalg.cholesky(a, upper=True))


@pytest.mark.parametrize("f", [weighted_cholesky, weighted_cholesky_upper])
def test_cholesky_gradient_of_a_40_by_40_matrix(f):
    a = _spd(40)
    w = RNG.standard_normal(a.shape)
    check_grad(f, (a, w), wrt=(0, 1))
    check_vjp_dot_product(f, (a, w), wrt=(0, 1))


def test_gp_gradient_at_100_points():
    X = RNG.uniform(-3.0, 3.0, (100, 2))
    y = np.sin(X[:, 0]) * np.cos(X[:, 1]) + 0.1 * RNG.standard_normal(100)
    args = (np.log(1.2), np.log(0.9), np.log(0.3), X, y)
    check_grad(gp_nll, args, wrt=(0, 1, 2), rtol=1e-5)


# -- triangular matrices told by a mask ---------------------------------------------------------


@pytest.mark.parametrize("n", [32, 40, 1030])
def test_triangle_of_lower_upper_and_full_matrices(n):
    L = np.tril(RNG.standard_normal((n, n))) + n * np.eye(n)
    assert runtime_linalg._triangle_of(L) == "lower"
    assert runtime_linalg._triangle_of(L.T) == "upper"  # a Fortran-ordered view
    assert runtime_linalg._triangle_of(np.ascontiguousarray(L.T)) == "upper"
    assert runtime_linalg._triangle_of(np.asfortranarray(L)) == "lower"
    for bad in (1e-300, np.nan, -0.5):
        M = L.copy()
        M[2, n - 3] = bad  # one element of the other triangle, not the corner
        assert runtime_linalg._triangle_of(M) is None
        assert runtime_linalg._triangle_of(M.T) is None
    M = L.copy()
    M[2, n - 3] = -0.0  # a zero all the same
    assert runtime_linalg._triangle_of(M) == "lower"


def triangular_solve(t, b):
    return np.sum(np.linalg.solve(t, b) ** 2)


@pytest.mark.parametrize("transpose", [False, True])
def test_solve_gradient_with_a_matrix_that_is_almost_triangular(transpose):
    n = 40
    t = np.tril(RNG.standard_normal((n, n))) + n * np.eye(n)
    t[3, n - 5] = 0.7  # one element above the diagonal: a general solve
    if transpose:
        t = t.T
    b = RNG.standard_normal(n)
    check_grad(triangular_solve, (t, b), wrt=(0, 1))


# -- spread adjoints as scalings ------------------------------------------------------------------


def logistic(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z)


def _logistic_args(y_shape=None, y_dtype=np.float64):
    X = RNG.standard_normal((12, 3))
    w = RNG.standard_normal(3) * 0.3
    y = (RNG.standard_normal(y_shape or 12) > 0).astype(y_dtype)
    return w, 0.1, X, y


def test_logistic_adjoint_is_scaled_not_spread():
    args = _logistic_args()
    g = grad(logistic, wrt=(0, 1))
    source = _code(g, *args)
    assert "times(" not in source and "expand_reduced(" not in source
    assert "dz = y * dv3" in source
    check_grad(logistic, args, wrt=(0, 1))


def test_logistic_with_a_broadcast_label_keeps_times_for_it():
    """``y`` of shape (1,): ``times(spread, y)`` has the spread's shape, ``y * c`` would
    not: that product stays."""
    args = _logistic_args(y_shape=1)
    g = grad(logistic, wrt=(0, 1, 3))
    assert "times(dv3, y)" in _code(g, *args)
    check_grad(logistic, args, wrt=(0, 1, 3))


def test_logistic_with_float32_labels_keeps_float64_adjoints():
    """The scale is a float64 NumPy number, like the spread's elements: ``y * dv3`` of a
    float32 ``y`` is float64, so the float64 adjoint added into it keeps its precision."""
    args = _logistic_args(y_dtype=np.float32)
    w, b, X, y = args
    got = grad(logistic, wrt=(0, 1))(*args)
    z = X @ w + b
    dz = (1.0 / (1.0 + np.exp(-z)) - y.astype(np.float64)) / z.shape[0]
    np.testing.assert_allclose(got[0], X.T @ dz, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(got[1], np.sum(dz), rtol=1e-13, atol=1e-15)


def test_the_scalings_give_the_spread_products_bit_for_bit(monkeypatch):
    args = _logistic_args()
    scaled = grad(_fresh(logistic), wrt=(0, 1, 3))(*args)
    monkeypatch.setattr(optimize_stage, "spread_scalings", lambda program: None)
    g = grad(_fresh(logistic), wrt=(0, 1, 3))
    assert "times(" in _code(g, *args)
    spread = g(*args)
    for a, b in zip(scaled, spread, strict=True):
        np.testing.assert_array_equal(a, b)


def sum_of_products(x, w):
    return np.sum(x * w)


def test_sum_of_a_product_of_same_shaped_arrays():
    x, w = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    g = grad(sum_of_products, wrt=(0, 1))
    source = _code(g, x, w)
    assert "times(" not in source and "dx = w * dv1" in source
    dx, dw = check_grad(sum_of_products, (x, w), wrt=(0, 1))
    assert not np.shares_memory(dx, w) and not np.shares_memory(dw, x)


def test_sum_of_a_product_with_a_broadcast_row_keeps_times():
    x, w = RNG.standard_normal((4, 3)), RNG.standard_normal((1, 3))
    g = grad(sum_of_products, wrt=(0, 1))
    assert "times(dv1, w)" in _code(g, x, w)
    check_grad(sum_of_products, (x, w), wrt=(0, 1))


def mean_of_tanh_times(x, y):
    return np.mean(np.tanh(x) * y) - np.sum(x / y)


@pytest.mark.parametrize("shapes", [((5,), (5,)), ((4, 5), (5,)), ((4, 5), (4, 5))])
def test_mean_and_sum_of_several_products(shapes):
    x = RNG.standard_normal(shapes[0])
    y = RNG.standard_normal(shapes[1]) + 3.0
    check_grad(mean_of_tanh_times, (x, y), wrt=(0, 1))
    check_vjp_dot_product(mean_of_tanh_times, (x, y), wrt=(0, 1))


def mean_scaled_by_a_number(x, s):
    return np.mean(s * np.exp(x))


def test_a_number_factor_keeps_times():
    """``times(spread, s)`` of a number ``s`` has the spread's shape; ``s * c`` is a number."""
    x = RNG.standard_normal(6)
    g = grad(mean_scaled_by_a_number, wrt=(0, 1))
    assert "times(dv2, s)" in _code(g, x, 2.0)
    check_grad(mean_scaled_by_a_number, (x, 2.0), wrt=(0, 1))


def mean_of_a_root_where_positive(x):
    return np.mean(np.where(x > 0, np.sqrt(np.abs(x)), 0.0))


def test_the_where_trap_still_holds_under_a_mean():
    """A zero adjoint times an infinite derivative contributes 0 (sqrt at 0): d/dx of
    sqrt(x) / 4 is 1 / (8 sqrt(x)) where x > 0, else 0."""
    x = np.array([0.0, 4.0, -1.0, 9.0])
    got = grad(mean_of_a_root_where_positive)(x)
    np.testing.assert_allclose(got, [0.0, 0.25 / 4, 0.0, 0.25 / 6], rtol=1e-12)
    y = RNG.uniform(0.5, 2.0, 5)
    check_grad(mean_of_a_root_where_positive, (y,))


def mean_in_a_loop(x, n):
    total = 0.0
    for _ in range(n):
        total = total + np.mean(x * x) + np.sum(np.sin(x) * x)
    return total


def test_spreads_inside_a_loop():
    x = RNG.standard_normal(7)
    check_grad(mean_in_a_loop, (x, 3))


# -- times: the check of a float64 vector ---------------------------------------------------------


@pytest.mark.parametrize("length", [3, 4096, 4097])  # 4097: the general check
@pytest.mark.parametrize("strided", [False, True])
def test_times_of_vectors_keeps_the_where_trap(length, strided):
    g = RNG.standard_normal(length * (2 if strided else 1))
    d = RNG.standard_normal(g.shape)
    if strided:
        g, d = g[::2], d[::2]
    g[0], d[0] = 0.0, np.inf  # a zero adjoint times inf: 0
    g[1], d[1] = 0.0, np.nan  # a zero adjoint times NaN: 0
    g[2], d[2] = 2.0, np.inf  # a nonzero one: inf
    expected = np.where(g == 0, 0.0, g * np.where(np.isfinite(d), d, 1.0))
    expected[2] = np.inf
    with np.errstate(all="raise"):  # no warning of its own
        got = runtime.times(g, d)
    np.testing.assert_array_equal(got, expected)
    finite = RNG.standard_normal(g.shape)
    np.testing.assert_array_equal(runtime.times(g, finite), g * finite)


@pytest.mark.parametrize("spread", [False, True])
def test_times_of_a_vector_holding_both_infinities_warns_nothing(spread):
    d = np.array([np.inf, -np.inf, 2.0, np.nan])
    g = np.broadcast_to(0.5, (4,)) if spread else np.array([0.0, 1.0, 3.0, 0.0])
    with np.errstate(invalid="ignore"):
        expected = np.where(g == 0, 0.0, g * d)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = runtime.times(g, d)
    np.testing.assert_array_equal(got, expected)


def test_times_of_a_spread_and_a_vector_with_nan():
    """A spread of a nonzero number masks nothing: NaN stays NaN, as ``g * d``."""
    g = np.broadcast_to(0.25, (4,))
    d = np.array([1.0, np.nan, np.inf, -2.0])
    with np.errstate(invalid="ignore"):
        expected = g * d
    np.testing.assert_array_equal(runtime.times(g, d), expected)


def rnn_tanh(Wh, h, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(Wh @ h + xs[t])
    return np.sum(h * h)


def test_rnn_gradient_and_a_saturated_step():
    Wh = RNG.standard_normal((5, 5)) * 0.4
    h = RNG.standard_normal(5)
    xs = RNG.standard_normal((6, 5))
    check_grad(rnn_tanh, (Wh, h, xs), wrt=(0, 1, 2))
    check_vjp_dot_product(rnn_tanh, (Wh, h, xs), wrt=(0, 1, 2))
    big = xs.copy()
    big[2, 0] = np.inf  # tanh(inf) = 1: a derivative of 0, finite gradients
    dWh, dh, dxs = grad(rnn_tanh, wrt=(0, 1, 2))(Wh, h, big)
    assert np.isfinite(dWh).all() and np.isfinite(dh).all()
    assert dxs[2, 0] == 0.0
