"""Issue 15, the iir_filter, nbody and logistic cases: what brings them near hand-written
code, each form checked against central finite differences, and the same ``grad`` object
called again with values that break each assumption (docs/architecture/perf_iir_nbody_logistic.md).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ad_transform import grad
from benchmarks.cases import iir_filter as iir
from tests.gradcheck import check_grad, numerical_gradient

RNG = np.random.default_rng(1515)


def _code(g, *args) -> str:
    """The generated source for ``args`` without its comment lines (the user's code)."""
    lines = g.source_for(*args).splitlines()
    return "\n".join(line for line in lines if not line.strip().startswith("#"))


def _matches_differences(g, f, args, wrt, rtol=1e-6, atol=1e-8):
    """``g`` (one grad object, called again) against central differences."""
    got = g(*args)
    positions = (wrt,) if isinstance(wrt, int) else wrt
    got_all = (got,) if isinstance(wrt, int) else got
    for position, value in zip(positions, got_all, strict=True):
        expected = numerical_gradient(f, args, position)
        np.testing.assert_allclose(value, expected, rtol=rtol, atol=atol)


# -- unneeded elementwise trees: a broadcast check in their place --------------------------


def logistic(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z)


def _logistic_args(rows=12, features=3, y_shape=None):
    X = RNG.standard_normal((rows, features))
    w = RNG.standard_normal(features) * 0.3
    y = (RNG.standard_normal(y_shape or rows) > 0).astype(np.float64)
    return w, 0.1, X, y


def test_logistic_loss_value_is_not_computed_but_its_broadcast_is_checked():
    w, b, X, y = _logistic_args()
    g = grad(logistic, wrt=(0, 1))
    source = _code(g, w, b, X, y)
    assert "np.logaddexp(" not in source  # the loss value itself is not needed
    assert "broadcast_shapes(y.shape, z.shape)" in source
    _matches_differences(g, logistic, (w, b, X, y), (0, 1))


def test_logistic_raises_where_the_function_does():
    g = grad(logistic, wrt=(0, 1))
    w, b, X, y = _logistic_args()
    g(w, b, X, y)
    wrong = y[:5]
    with pytest.raises(ValueError):
        logistic(w, b, X, wrong)
    with pytest.raises(ValueError):
        g(w, b, X, wrong)  # the same code (same ranks): the check raises


def test_logistic_same_object_other_unit_axes_ranks_and_dtypes():
    g = grad(logistic, wrt=(0, 1))
    w, b, X, y = _logistic_args()
    _matches_differences(g, logistic, (w, b, X, y), (0, 1))
    # y of length 1 broadcasts against z
    _matches_differences(g, logistic, (w, b, X, y[:1].copy()), (0, 1))
    # y of shape (rows, 1): y * z is a (rows, rows) matrix
    _matches_differences(g, logistic, (w, b, X, y[:, None].copy()), (0, 1))
    # one row: z has a unit axis
    _matches_differences(g, logistic, (w, b, X[:1].copy(), y[:1].copy()), (0, 1))
    # float32 data
    dw, _ = g(w.astype(np.float32), b, X.astype(np.float32), y.astype(np.float32))
    expected = numerical_gradient(logistic, (w, b, X, y), 0)
    np.testing.assert_allclose(dw, expected, rtol=1e-4, atol=1e-5)


def partly_needed(a, c):
    u = a * 2.0
    unused = np.tanh(u + c) * c  # noqa: F841 (raises where u and c do not broadcast)
    return np.sum(u * u)


def test_a_live_operand_is_a_leaf_of_the_check():
    a, c = RNG.standard_normal(4), RNG.standard_normal(4)
    g = grad(partly_needed, wrt=0)
    source = _code(g, a, c)
    assert "tanh" not in source and "broadcast_shapes(" in source
    _matches_differences(g, partly_needed, (a, c), 0)
    with pytest.raises(ValueError):
        g(a, RNG.standard_normal(3))
    _matches_differences(g, partly_needed, (a, RNG.standard_normal(1)), 0)
    # c a number: nothing can fail to broadcast
    _matches_differences(g, partly_needed, (a, 0.5), 0)


def in_a_loop(x, ys, steps):
    for k in range(steps):
        x = x * 0.9 + 0.1
        unused = x - ys[k] * x  # noqa: F841
    return np.sum(x * x)


def test_a_dead_tree_in_a_loop_is_checked_each_step():
    x, ys = RNG.standard_normal(4), RNG.standard_normal((3, 4))
    g = grad(in_a_loop, wrt=0)
    _matches_differences(g, in_a_loop, (x, ys, 3), 0)
    with pytest.raises(ValueError):
        g(x, RNG.standard_normal((3, 5)), 3)


def integer_operands(x, k):
    unused = x * k  # noqa: F841 (an integer array: the facts claim nothing)
    return np.sum(x * x)


def test_integer_arrays_keep_the_statement():
    x = RNG.standard_normal(4)
    g = grad(integer_operands, wrt=0)
    np.testing.assert_allclose(g(x, np.arange(4)), 2 * x)
    with pytest.raises(ValueError):
        g(x, np.arange(3))


# -- element loops: first writes and dead resets (optimize/element_loops.py) -------------


def test_iir_is_written_as_by_hand():
    x = RNG.standard_normal(7)
    g = grad(iir, wrt=0)
    source = _code(g, x, 0.7)
    assert "out[i] = a * out[i - 1] + x[i]" in source  # forward: one line
    assert "dx[i] = dv" in source  # the first write of dx[i]
    assert "dout[i] = 0.0" not in source  # nothing reads it again
    _matches_differences(g, iir, (x, 0.7), 0)
    for n in (1, 2, 3):  # the loop runs 0, 1, 2 times
        _matches_differences(g, iir, (RNG.standard_normal(n), 0.7), 0)
    dx = g(x.astype(np.float32), 0.7)
    assert dx.dtype == np.float32
    expected = numerical_gradient(iir, (x, 0.7), 0)
    np.testing.assert_allclose(dx, expected, rtol=1e-4, atol=1e-4)
    check_grad(iir, (x, 0.7), wrt=(0, 1))


def iir_rows(x, a):
    out = np.zeros(x.shape)
    out[0] = x[0]
    for i in range(1, x.shape[0]):
        out[i] = a * out[i - 1] + x[i]
    return np.sum(out * out)


def test_iir_of_rows():
    check_grad(iir_rows, (RNG.standard_normal((5, 3)), 0.8), wrt=(0, 1))


def iir_two_reads(x, a):
    n = x.shape[0]
    out = np.zeros(n)
    out[0] = x[0]
    for i in range(1, n):
        out[i] = a * out[i - 1] + x[i] + 0.5 * x[i - 1]
    return np.sum(out * out)


def test_two_reads_of_x_per_step_keep_accumulating():
    x = RNG.standard_normal(6)
    source = _code(grad(iir_two_reads, wrt=0), x, 0.6)
    assert "dx[i] = " not in source
    check_grad(iir_two_reads, (x, 0.6), wrt=(0, 1))


def iir_read_after(x, a):
    n = x.shape[0]
    out = np.zeros(n)
    out[0] = x[0]
    for i in range(1, n):
        out[i] = a * out[i - 1] + x[i]
    return np.sum(out * out) + x[3] * x[3]


def test_x_read_after_the_loop_keeps_accumulating():
    x = RNG.standard_normal(6)
    check_grad(iir_read_after, (x, 0.6), wrt=(0, 1))


def iir_overwrites(x, a):
    n = x.shape[0]
    out = np.zeros(n)
    out[0] = x[0]
    out[2] = x[1]  # overwritten by the loop: its adjoint must be reset there
    for i in range(1, n):
        out[i] = a * out[i - 1] + x[i]
    return np.sum(out * out)


def test_a_reset_read_after_the_loop_stays():
    x = RNG.standard_normal(6)
    check_grad(iir_overwrites, (x, 0.6), wrt=(0, 1))


def iir_from_zero(x, a):
    n = x.shape[0]
    out = np.zeros(n)
    for i in range(n):
        out[i] = a * out[i - 1] + x[i]  # out[-1] at i = 0: the last element
    return np.sum(out * out)


def iir_step_two(x, a):
    n = x.shape[0]
    out = np.zeros(n)
    out[0] = x[0]
    out[1] = x[1]
    for i in range(2, n, 2):
        out[i] = a * out[i - 2] + x[i] * out[i - 1]
    return np.sum(out * out)


def iir_descending(x, a):
    n = x.shape[0]
    out = np.zeros(n)
    out[n - 1] = x[n - 1]
    for i in range(n - 2, -1, -1):
        out[i] = a * out[i + 1] + x[i]
    return np.sum(out * out)


@pytest.mark.parametrize("f", [iir_from_zero, iir_step_two, iir_descending])
def test_other_ranges(f):
    for n in (2, 3, 5, 6):
        check_grad(f, (RNG.standard_normal(n), 0.7), wrt=(0, 1))


def reads_ahead(x, a):
    n = x.shape[0]
    out = np.zeros(n)
    for i in range(1, n - 1):
        out[i] = a * out[i + 1] + x[i] + out[i - 1]
    return np.sum(out * out)


def test_a_read_ahead_keeps_the_reset():
    check_grad(reads_ahead, (RNG.standard_normal(6), 0.7), wrt=(0, 1))


def moved_past_store(x):
    n = x.shape[0]
    out = np.zeros(n)
    for i in range(1, n):
        t = out[i - 1] + 0.0
        out[i - 1] = x[i]
        out[i] = t + 2.0 * x[i]
    return np.sum(out * out)


def test_an_element_read_does_not_move_past_a_store():
    x = RNG.standard_normal(6)
    source = _code(grad(moved_past_store, wrt=0), x)
    assert "out[i] = out[i - 1]" not in source
    check_grad(moved_past_store, (x,), wrt=0)


# -- free names holding finite numbers: e * DT, guarded ----------------------------------

STEP = 0.01


def scaled_where(x):
    return np.sum(np.where(x > 0, x * STEP, 0.0))


def test_finite_free_number_multiplies_and_is_guarded():
    global STEP
    x = np.array([1.0, -2.0, 3.0, -0.5])
    g = grad(scaled_where, wrt=0)
    source = _code(g, x)
    assert "* STEP" in source
    assert not any("times(" in line and "STEP" in line for line in source.splitlines())
    np.testing.assert_allclose(g(x), [0.01, 0.0, 0.01, 0.0])
    try:
        for value in (np.inf, np.nan):
            STEP = value
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                dx = g(x)
            # the where-trap convention: the branch not taken contributes 0, not 0 * inf
            assert dx[1] == 0.0 and dx[3] == 0.0
            assert np.isnan(dx[0]) or dx[0] == value
        STEP = 0.5
        np.testing.assert_allclose(g(x), [0.5, 0.0, 0.5, 0.0])
    finally:
        STEP = 0.01


# -- power derivative away from zero ------------------------------------------------------


def inverse_power(r):
    return np.sum(r**-1.5)


def test_power_derivative_fast_and_general_paths():
    r = RNG.uniform(0.5, 2.0, 5)
    g = grad(inverse_power, wrt=0)
    np.testing.assert_allclose(g(r), -1.5 * r**-2.5)
    with_zero = r.copy()
    with_zero[2] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning from the derivative itself
        with np.errstate(divide="ignore"):
            dr = g(with_zero)
    assert dr[2] == -np.inf
    np.testing.assert_allclose(np.delete(dr, 2), -1.5 * np.delete(r, 2) ** -2.5)


# -- one finiteness check for the guards of several products (optimize/finite_covers.py) --


def nbody_like(pos, masses, steps):
    for _ in range(steps):
        diff = pos[:, None, :] - pos[None, :, :]
        r2 = np.sum(diff * diff, axis=-1) + 0.01
        weights = r2**-1.5 * masses[None, :]
        acc = -np.sum(diff * weights[:, :, None], axis=1)
        pos = pos + 0.01 * acc
    return np.sum(pos * pos)


def test_nbody_checks_one_product_per_step():
    pos, masses = RNG.standard_normal((4, 3)), RNG.uniform(0.5, 1.5, 4)
    g = grad(nbody_like, wrt=(0, 1))
    source = _code(g, pos, masses, 3)
    assert source.count("finite_nonempty(") == 1
    assert source.count("times(") >= 4  # each guard keeps its general form
    _matches_differences(g, nbody_like, (pos, masses, 3), (0, 1), rtol=1e-5, atol=1e-7)
    check_grad(nbody_like, (pos[:2].copy(), masses[:2].copy(), 2), wrt=(0, 1))


def masked_products(x, w, steps):
    total = 0.0
    for k in range(steps):
        u = x * (k + 1.0)
        v = w * (k + 1.0)
        s = u * v
        total = total + np.sum(np.where(u > 0, s, 0.0))
    return total


def test_an_infinite_factor_keeps_the_where_trap():
    g = grad(masked_products, wrt=(0, 1))
    x = np.array([1.0, -2.0, 3.0, -4.0])
    w = np.array([0.5, np.inf, 2.0, 1.5])
    assert "finite_nonempty(s" in _code(g, x, w, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        dx, dw = g(x, w, 2)
    # u[1] < 0: the branch holding u[1] * inf is not taken, its adjoint is 0, not 0 * inf
    np.testing.assert_array_equal(dx, [0.5 * 5, 0.0, 2.0 * 5, 0.0])
    np.testing.assert_array_equal(dw, [1.0 * 5, 0.0, 3.0 * 5, 0.0])
    finite = np.array([0.5, 0.7, 2.0, 1.5])
    _matches_differences(g, masked_products, (x, finite, 3), (0, 1))


# -- a mean's spread adjoint stays spread when negated (optimize/spread_adjoints.py) -----


def mean_difference(a, b):
    return np.mean(a - b * a) + np.sum(b * b)


def test_negated_spread_adjoint():
    a, b = RNG.standard_normal(5), RNG.standard_normal(5)
    g = grad(mean_difference, wrt=(0, 1))
    source = _code(g, a, b)
    # the negation goes into the spread number (negated_spreads), which then scales the
    # products that read it (spread_scalings, tests/test_perf_gp_logistic_rnn.py)
    assert "dv1 = float64(-(1.0 / reduced_count(a, None)))" in source
    assert "db += a * dv1" in source
    _matches_differences(g, mean_difference, (a, b), (0, 1))
    _matches_differences(g, mean_difference, (a[:1].copy(), b), (0, 1))  # a broadcast
    _matches_differences(g, mean_difference, (a.reshape(5, 1), b), (0, 1))  # a matrix
    check_grad(mean_difference, (RNG.standard_normal((2, 3)), RNG.standard_normal(3)), wrt=(0, 1))


def check_reads_a_computed_leaf(a, b, c):
    r = a * b
    q = r  # not elementwise: q is a leaf of the tree below, r must stay
    unused = q * c  # noqa: F841
    return np.sum(a * a)


def test_a_check_keeps_what_computes_its_leaves():
    a, b, c = RNG.standard_normal(4), RNG.standard_normal(4), RNG.standard_normal(4)
    g = grad(check_reads_a_computed_leaf, wrt=0)
    source = _code(g, a, b, c)
    assert "broadcast_shapes(" in source
    _matches_differences(g, check_reads_a_computed_leaf, (a, b, c), 0)
    for wrong_b, wrong_c in ((b[:3].copy(), c), (b, c[:3].copy())):
        with pytest.raises(ValueError):
            g(a, wrong_b, wrong_c)
