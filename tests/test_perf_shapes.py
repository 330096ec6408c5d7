"""Specialisation by shape facts (issue 15): code generated per rank, dtype and unit axes.

Each specialised form is checked against central differences (``check_grad``) and, where
the output is an array, the dot-product test of ``vjp``; the generated source is checked
for the direct form (and for the generic one where the facts do not prove it). The same
function called with other ranks, unit axes or dtypes gets other code, also checked.
"""

from __future__ import annotations

import numpy as np
import pytest

from ad_transform import ADTransformError, grad, vjp
from ad_transform.shapes import argument_shapes
from benchmarks.cases import iir_filter as iir
from benchmarks.cases_applied import logistic, nbody, rnn_matvec
from tests.gradcheck import check_grad, check_vjp_dot_product, numerical_gradient

RNG = np.random.default_rng(1515)


def _source(f, wrt, *args) -> str:
    return grad(f, wrt=wrt).source_for(*args)


# -- the cache key -------------------------------------------------------------------------


def test_argument_shapes_record_rank_dtype_and_unit_axes_not_sizes():
    a, b = np.zeros((3, 1)), np.zeros((5, 1))
    assert argument_shapes((a,)) == argument_shapes((b,))  # one function per rank
    assert argument_shapes((a,)) != argument_shapes((np.zeros((3, 2)),))
    assert argument_shapes((a,)) != argument_shapes((a.astype(np.float32),))
    assert argument_shapes((np.zeros(3),)) != argument_shapes((np.zeros((3, 2)),))
    assert argument_shapes((1, 2.0, True, None)) == (None, None, None, None)


def broadcast_sum(x, y):
    return np.sum((x + y) * (x + y))


def test_same_function_other_unit_axes_gets_other_code_and_right_gradients():
    """``x + y`` with y of the same shape needs no ``unbroadcast``; with a unit axis in
    y (broadcast over x) its adjoint is summed over that axis (the facts know which:
    ``.sum(axis=0, keepdims=True)``). The first call's code must not serve the second."""
    g = grad(broadcast_sum, wrt=(0, 1))
    x, y = RNG.standard_normal(4), RNG.standard_normal(4)
    assert "unbroadcast" not in g.source_for(x, y)
    check_grad(broadcast_sum, (x, y), wrt=(0, 1))
    y1 = RNG.standard_normal(1)
    assert ".sum(axis=0, keepdims=True)" in g.source_for(x, y1)
    dx, dy = g(x, y1)
    ndx, ndy = numerical_gradient(broadcast_sum, (x, y1), wrt=(0, 1))
    np.testing.assert_allclose(dx, ndx, rtol=1e-6)
    np.testing.assert_allclose(dy, ndy, rtol=1e-6)
    assert dy.shape == (1,)
    # and back: the first specialisation again, with other sizes
    x5, y5 = RNG.standard_normal(5), RNG.standard_normal(5)
    check_grad(broadcast_sum, (x5, y5), wrt=(0, 1))


@pytest.mark.parametrize(
    "shapes",
    [
        ((3, 4), (4,)),  # ranks differ
        ((3, 1), (1, 4)),  # unit axes on both sides
        ((3, 4), (3, 1)),  # a unit axis against a longer one
        ((1, 4), (1, 4)),  # unit axes on both: nothing broadcast
        ((), (3,)),  # a 0-d array against a vector
        ((), ()),  # two 0-d arrays: a NumPy scalar comes out
        ((0,), (1,)),  # an empty axis against a unit one
    ],
)
def test_broadcasting_shapes_are_right(shapes):
    x, y = (RNG.standard_normal(s) + 2.0 for s in shapes)
    x, y = np.asarray(x), np.asarray(y)
    dx, dy = grad(broadcast_sum, wrt=(0, 1))(x, y)
    assert np.shape(dx) == x.shape and np.shape(dy) == y.shape
    if x.size and y.size:
        check_grad(broadcast_sum, (x, y), wrt=(0, 1))
    else:
        assert np.all(dx == 0) and np.all(dy == 0)


def test_unit_axes_on_both_sides_need_no_unbroadcast():
    x, y = RNG.standard_normal((1, 4)), RNG.standard_normal((1, 4))
    assert "unbroadcast" not in _source(broadcast_sum, (0, 1), x, y)
    summed = _source(broadcast_sum, (0, 1), x, RNG.standard_normal((3, 4)))
    assert "unbroadcast" not in summed and ".sum(axis=0, keepdims=True)" in summed


def elementwise_chain(x, y):
    z = np.tanh(x * y + 2.0 * x) / (1.5 + y * y)
    return np.sum(np.exp(z) - x)


def test_elementwise_chain_same_rank():
    x, y = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    source = _source(elementwise_chain, (0, 1), x, y)
    assert "unbroadcast" not in source
    assert "times(" in source  # the where-trap convention stays
    check_grad(elementwise_chain, (x, y), wrt=(0, 1))


def vector_out(x, y):
    return np.tanh(x * y) + x


def test_elementwise_vjp_dot_product():
    for shape_x, shape_y in (((5,), (5,)), ((2, 3), (2, 3)), ((2, 3), (1, 3)), ((4,), ())):
        x, y = RNG.standard_normal(shape_x), np.asarray(RNG.standard_normal(shape_y))
        check_vjp_dot_product(vector_out, (x, y), wrt=(0, 1))


# -- elements of float arrays: scalar arithmetic ---------------------------------------------


def test_iir_element_loop_is_scalar_code():
    x = RNG.standard_normal(7)
    source = _source(iir, (0, 1), x, 0.7)
    for generic in ("item_adjoint", "fresh_copy", "unbroadcast", ".copy()"):
        assert generic not in source, generic
    assert "dx[i] = " in source  # its first write: dx[i] is still zero (element_loops.py)
    check_grad(iir, (x, 0.7), wrt=(0, 1))


def test_iir_float32_gradient_is_float32_and_right():
    x = RNG.standard_normal(6)
    dx = grad(iir, wrt=0)(x.astype(np.float32), 0.7)
    assert dx.dtype == np.float32 and dx.shape == (6,)
    expected = numerical_gradient(iir, (x.astype(np.float32).astype(np.float64), 0.7), 0)
    np.testing.assert_allclose(dx, expected, rtol=1e-4, atol=1e-5)  # float32 arithmetic


def test_iir_with_an_integer_coefficient_and_one_element():
    x = RNG.standard_normal(5)
    check_grad(iir, (x, 2), wrt=0)
    check_grad(iir, (RNG.standard_normal(1), 0.5), wrt=(0, 1))


def element_products(A, v):
    total = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            total = total + A[i, j] * v[j] * v[i]
    return total


def test_2d_element_reads():
    A, v = RNG.standard_normal((3, 3)), RNG.standard_normal(3)
    check_grad(element_products, (A, v), wrt=(0, 1))
    A1 = RNG.standard_normal((1, 3))
    check_grad(element_products, (A1, v), wrt=(0, 1))


def store_into_int_array(x):
    counts = np.zeros(3, dtype=int)
    out = np.zeros(3)
    for i in range(3):
        counts[i] = x[i] * 10.0  # truncated: no derivative
        out[i] = x[i] * counts[i]
    return np.sum(out)


def store_into_int_parameter_copy(x, start):
    counts = start * 1  # an integer array of the parameter's shape facts
    out = np.zeros(3)
    for i in range(3):
        counts[i] = x[i] * 10.0  # truncated: no derivative
        out[i] = x[i] * counts[i]
    return np.sum(out)


def test_integer_array_elements_carry_no_derivative():
    x = np.array([0.37, 0.52, 0.71])
    source = _source(store_into_int_array, 0, x)
    assert "item_adjoint" in source  # the int array's store stays generic
    dx = grad(store_into_int_array, wrt=0)(x)
    np.testing.assert_allclose(dx, np.floor(x * 10.0))
    start = np.array([1, 2, 3])
    assert "item_adjoint" in _source(store_into_int_parameter_copy, 0, x, start)
    dx = grad(store_into_int_parameter_copy, wrt=0)(x, start)
    np.testing.assert_allclose(dx, np.floor(x * 10.0))
    # a float array of the same facts: the derivative flows through the store
    check_grad(store_into_int_parameter_copy, (x, start.astype(float)), wrt=0)


def indexed_by_int_array(x, idx):
    total = 0.0
    for k in range(idx.shape[0]):
        total = total + x[idx[k]] ** 2
    return total


def test_elements_chosen_by_an_integer_array():
    x, idx = RNG.standard_normal(5), np.array([0, 3, 3, 1])
    check_grad(indexed_by_int_array, (x, idx), wrt=0)


def element_of_2d_row(X, t):
    row = X[t]
    return np.sum(row * row) + X[t, 0]


def test_row_of_matrix_and_element():
    X = RNG.standard_normal((4, 3))
    check_grad(element_of_2d_row, (X, 2), wrt=0)


def zero_d(x, y):
    return np.sum(x * y) + np.sum(np.tanh(x))


def test_zero_d_arrays():
    x, y = np.array(0.3), np.array(1.7)
    dx, dy = grad(zero_d, wrt=(0, 1))(x, y)
    assert isinstance(dy, np.ndarray) and dy.shape == ()
    assert isinstance(dx, np.ndarray) and dx.shape == ()
    check_grad(zero_d, (x, y), wrt=(0, 1))
    check_grad(zero_d, (x, RNG.standard_normal(3)), wrt=(0, 1))


# -- matrix products ---------------------------------------------------------------------------


def test_matrix_vector_rnn_direct_forms():
    Wh, Wx = RNG.standard_normal((4, 4)) * 0.5, RNG.standard_normal((4, 3))
    b, xs = RNG.standard_normal(4), RNG.standard_normal((5, 3))
    source = _source(rnn_matvec, (0, 1, 2), Wh, Wx, b, xs)
    assert "np.outer(" in source and "Wh.T @ " in source
    assert "matmul_adjoint" not in source and "unbroadcast" not in source
    check_grad(rnn_matvec, (Wh, Wx, b, xs), wrt=(0, 1, 2))
    # one hidden unit: unit axes everywhere
    check_grad(
        rnn_matvec,
        (np.array([[0.5]]), RNG.standard_normal((1, 3)), np.array([0.1]), xs),
        wrt=(0, 1, 2),
    )


def products(A, B, v, w):
    return A @ B, A @ v, w @ A


@pytest.mark.parametrize("n", [1, 3])
def test_matmul_forms_dot_product(n):
    A, B = RNG.standard_normal((n, n)), RNG.standard_normal((n, 2))
    v, w = RNG.standard_normal(n), RNG.standard_normal(n)

    def f(A, B, v, w):
        p, q, r = products(A, B, v, w)
        return np.sum(p * p) + np.sum(np.sin(q)) + np.sum(r * q)

    assert "matmul_adjoint" not in _source(f, (0, 1, 2, 3), A, B, v, w)
    check_grad(f, (A, B, v, w), wrt=(0, 1, 2, 3))

    def g(A, B, v):
        return (A @ B)[:, 0] + A @ v + v @ A

    check_vjp_dot_product(g, (A, B, v), wrt=(0, 1, 2))


def vector_dot(v, w):
    return v @ w + np.sum(v)


def test_vector_vector_product_stays_generic_and_right():
    v, w = RNG.standard_normal(3), RNG.standard_normal(3)
    check_grad(vector_dot, (v, w), wrt=(0, 1))


def batched(A, B):
    return np.sum(np.tanh(A @ B))


def test_batched_matmul_stays_generic_and_right():
    A, B = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((4, 2))
    assert "matmul_adjoint" in _source(batched, (0, 1), A, B)
    check_grad(batched, (A, B), wrt=(0, 1))


def tanh_matvec(A, v):
    return np.sum(np.tanh(A @ v))


def test_matmul_float32_and_int_operands():
    A32, v32 = RNG.standard_normal((3, 3)).astype(np.float32), RNG.standard_normal(3)
    dA = grad(tanh_matvec, wrt=0)(A32, v32)
    assert dA.dtype == np.float32
    expected = numerical_gradient(tanh_matvec, (A32.astype(np.float64), v32), 0)
    np.testing.assert_allclose(dA, expected, rtol=1e-4, atol=1e-5)  # float32 arithmetic
    dA, dv = grad(tanh_matvec, wrt=(0, 1))(A32, v32.astype(np.float32))
    assert dA.dtype == dv.dtype == np.float32
    Aint = np.array([[1, 2], [3, -1]])
    check_grad(tanh_matvec, (Aint, RNG.standard_normal(2)), wrt=1)
    check_grad(tanh_matvec, (Aint, RNG.standard_normal(2)), wrt=(0, 1))


def test_logistic_direct_forms():
    X, w = RNG.standard_normal((20, 3)), RNG.standard_normal(3)
    y = (RNG.standard_normal(20) > 0).astype(np.float64)
    source = _source(logistic, (0, 1), w, 0.1, X, y)
    assert "X.T @ " in source and "matmul_adjoint" not in source
    check_grad(logistic, (w, 0.1, X, y), wrt=(0, 1))


# -- the where-trap and the generic path ---------------------------------------------------------


def where_trap(x):
    return np.sum(np.where(x > 0, np.sqrt(np.abs(x)) * x, 0.0))


def test_where_trap_keeps_zero_gradient():
    x = np.array([-1.0, 0.0, 4.0])
    dx = grad(where_trap, wrt=0)(x)
    assert np.all(np.isfinite(dx))
    np.testing.assert_allclose(dx, [0.0, 0.0, 1.5 * 2.0])


def test_vjp_of_element_loop():
    def f(x):
        out = np.zeros(x.shape[0])
        for i in range(x.shape[0]):
            out[i] = x[i] * x[i] + 1.0
        return out

    check_vjp_dot_product(f, (RNG.standard_normal(4),), wrt=0)
    value, pullback = vjp(f, wrt=0)(np.arange(3.0))
    np.testing.assert_allclose(value, np.arange(3.0) ** 2 + 1.0)
    np.testing.assert_allclose(pullback(np.ones(3)), 2.0 * np.arange(3.0))


SCALE = np.array([1.0, 2.0, -1.5])


def scaled_by_global(x):
    return np.sum(np.tanh(x * SCALE))


def test_values_of_unknown_kind_use_the_generic_path():
    """A module global's type may change between calls: its kind is unknown, and the
    code is the shape-generic one."""
    x = RNG.standard_normal(3)
    assert "mul_adjoint_left" in _source(scaled_by_global, 0, x)
    check_grad(scaled_by_global, (x,), wrt=0)
    check_grad(scaled_by_global, (RNG.standard_normal((2, 3)),), wrt=0)


# -- numbers held by globals ---------------------------------------------------------------------

STEP = 0.1


def scaled_step(x):
    return np.sum(np.tanh(x + STEP * x) * x)


def test_global_float_is_a_scalar_and_rebinding_it_regenerates(monkeypatch):
    """A global holding a float is a scalar to the specialised code; the code depends on
    it, so binding an array to it makes the code stale: the new code broadcasts."""
    x = RNG.standard_normal(3)
    g = grad(scaled_step, wrt=0)
    assert "unbroadcast" not in g.source_for(x)
    check_grad(scaled_step, (x,), wrt=0)
    monkeypatch.setitem(globals(), "STEP", np.array([[0.5], [-0.25]]))
    dx = g(x)
    assert dx.shape == (3,)
    np.testing.assert_allclose(dx, numerical_gradient(scaled_step, (x,), 0), rtol=1e-6)
    monkeypatch.setitem(globals(), "STEP", 2)
    check_grad(scaled_step, (x,), wrt=0)


def test_nbody_broadcasting_keeps_unbroadcast_only_where_broadcast():
    pos, vel = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3)) * 0.1
    masses = RNG.uniform(0.5, 1.5, 4)
    source = _source(nbody, (0, 1, 2), pos, vel, masses, 3)
    assert "add_adjoint_left" not in source and "mul_adjoint" not in source
    assert "ddiff_1.sum(axis=1, keepdims=True)" in source  # pos[:, None, :] was broadcast: summed
    check_grad(nbody, (pos, vel, masses, 3), wrt=(0, 1, 2))
    check_grad(nbody, (pos[:1], vel[:1], masses[:1], 2), wrt=(0, 1, 2))  # one body


def _closure_over_a_number():
    scale = 0.5

    def f(x):
        return np.sum(np.tanh(x * scale) * x)

    def set_scale(value):
        nonlocal scale
        scale = value

    return f, set_scale


def test_closure_number_rebound_to_an_array_regenerates():
    f, set_scale = _closure_over_a_number()
    x = RNG.standard_normal(3)
    g = grad(f, wrt=0)
    assert "unbroadcast" not in g.source_for(x)
    check_grad(f, (x,), wrt=0)
    set_scale(np.array([[1.0], [-2.0]]))
    dx = g(x)
    assert dx.shape == (3,)
    np.testing.assert_allclose(dx, numerical_gradient(f, (x,), 0), rtol=1e-6)


def test_one_gradient_object_called_with_every_rank():
    """The call path that skips the checks is keyed by the shape facts too."""
    g = grad(elementwise_chain, wrt=(0, 1))
    for shape in ((4,), (2, 3), (), (1,), (3, 1), (4,)):
        x, y = np.asarray(RNG.standard_normal(shape)), np.asarray(RNG.standard_normal(shape))
        dx, dy = g(x, y)
        ndx, ndy = numerical_gradient(elementwise_chain, (x, y), wrt=(0, 1))
        np.testing.assert_allclose(dx, ndx, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(dy, ndy, rtol=1e-6, atol=1e-9)
        assert np.shape(dx) == shape and np.shape(dy) == shape


GAIN = 0.5


def _rebind_gain():
    global GAIN
    GAIN = np.array([[1.0], [2.0]])


def rebinds_a_global_while_running(x):
    y = x * GAIN
    _rebind_gain()
    return np.sum(y * y)


def test_global_read_by_a_function_calling_user_code_that_rebinds_it_is_refused(monkeypatch):
    """A helper rebinds the global during the call: the backward sweep would read the new
    value where the forward sweep read the old one."""
    monkeypatch.setitem(globals(), "GAIN", 0.5)
    with pytest.raises(ADTransformError, match="'global GAIN'"):
        _source(rebinds_a_global_while_running, 0, RNG.standard_normal(3))


def reduction_of_a_number_after_other_uses(v):
    b = np.tanh(v) * v
    a = np.sum(v) * 0.3
    return a + b


def test_reduction_of_a_number_accumulates_into_a_number():
    """``np.sum(v)`` of a number (an element of a float array, or a float): its adjoint
    is a number, never a read-only 0-d view that the next ``dv += ...`` would write."""
    for v in (0.5, np.float64(0.5), np.float32(0.5)):
        dv = grad(reduction_of_a_number_after_other_uses)(v)
        expected = np.tanh(0.5) + 0.5 * (1 - np.tanh(0.5) ** 2) + 0.3
        np.testing.assert_allclose(dv, expected, rtol=1e-6)
    check_grad(reduction_of_a_number_after_other_uses, (np.array(0.5),))
