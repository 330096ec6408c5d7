"""Accumulation must never alias: inputs stay untouched, gradients are independent arrays."""

import numpy as np
import pytest

from ad_transform import grad, value_and_grad, vjp


def sum_x_plus_x(x):
    return np.sum(x + x)


def sum_scaled_plus_y(x, y):
    return np.sum(x * 1.0 + y)


def sum_x_plus_y(x, y):
    return np.sum(x + y)


def sum_x(x):
    return np.sum(x)


def sum_xy_plus_x(x, y):
    return np.sum(x * y + x)


def sum_x_minus_y_plus_x(x, y):
    return np.sum(x - y + x)


def two_sums(x):
    return np.sum(x + 0.0) + np.sum(x)


def dot_plus_sum(x, y):
    return np.dot(x, y) + np.sum(x)


def sum_of_squares(x):
    return np.sum(x * x)


def mean_x(x):
    return np.mean(x)


def first_element(x):
    return x[0]


def row_sums(x, y):
    return np.sum(x + y) + np.sum(x[0] * y[0])


def passthrough(a):
    return a


def sum_through_helper(x, y):
    return np.sum(passthrough(x) + passthrough(y))


def identity(x):
    return x


def identity_like(x):
    return x * 1.0 + 0.0


def plus_zero(x):
    return x + 0.0


def unary_plus(x):
    return +x


def negate(x):
    return -x


def transposed(x):
    return x.T


def sliced(x):
    return x[0:3]


def add_xy(x, y):
    return x + y


def helper_identity(x):
    return passthrough(x)


def helper_twice(x):
    return passthrough(x) + passthrough(x)


def exp_of(x):
    return np.exp(x)


def _args(n, shape=(3,)):
    rng = np.random.default_rng(n)
    return tuple(rng.normal(size=shape) for _ in range(n))


SCALAR_LOSSES = [
    (sum_x_plus_x, (0,)),
    (sum_scaled_plus_y, (0, 1)),
    (sum_x_plus_y, (0, 1)),
    (sum_x, (0,)),
    (sum_xy_plus_x, (0, 1)),
    (sum_x_minus_y_plus_x, (0, 1)),
    (two_sums, (0,)),
    (dot_plus_sum, (0, 1)),
    (sum_of_squares, (0,)),
    (mean_x, (0,)),
    (first_element, (0,)),
    (row_sums, (0, 1)),
    (sum_through_helper, (0, 1)),
]


def _arity(f):
    return f.__code__.co_argcount


# --- (a) inputs are never modified --------------------------------------------------------


@pytest.mark.parametrize("f, wrt", SCALAR_LOSSES, ids=[f.__name__ for f, _ in SCALAR_LOSSES])
@pytest.mark.parametrize("transform", [grad, value_and_grad])
def test_inputs_not_modified(f, wrt, transform):
    args = _args(_arity(f))
    copies = [a.copy() for a in args]
    transform(f, wrt=wrt)(*args)
    transform(f, wrt=wrt)(*args)  # and again, with the cached code
    for a, c in zip(args, copies, strict=True):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("f, wrt", SCALAR_LOSSES, ids=[f.__name__ for f, _ in SCALAR_LOSSES])
def test_inputs_not_modified_by_vjp(f, wrt):
    args = _args(_arity(f))
    copies = [a.copy() for a in args]
    _, pullback = vjp(f, wrt=wrt)(*args)
    pullback(1.0)
    pullback(2.0)
    for a, c in zip(args, copies, strict=True):
        np.testing.assert_array_equal(a, c)


def test_same_array_passed_twice_not_modified():
    x = np.array([1.0, 2.0, 3.0])
    copy = x.copy()
    gx, gy = grad(sum_x_plus_y, wrt=(0, 1))(x, x)
    np.testing.assert_array_equal(x, copy)
    gx += 1.0
    np.testing.assert_array_equal(x, copy)
    np.testing.assert_array_equal(gy, np.ones(3))


# --- (b) returned gradients are independent, writable arrays -------------------------------


@pytest.mark.parametrize("f, wrt", SCALAR_LOSSES, ids=[f.__name__ for f, _ in SCALAR_LOSSES])
def test_gradients_are_fresh_writable_arrays(f, wrt):
    args = _args(_arity(f))
    copies = [a.copy() for a in args]
    result = grad(f, wrt=wrt)(*args)
    grads = result if isinstance(wrt, tuple) else (result,)
    expected = [g.copy() for g in grads]
    for g in grads:
        assert isinstance(g, np.ndarray)
        assert g.flags.writeable
        for a in args:
            assert not np.shares_memory(g, a)
    for i, g in enumerate(grads):
        for other in grads[i + 1 :]:
            assert g is not other
            assert not np.shares_memory(g, other)
    # writing into each gradient changes nothing else
    for i, g in enumerate(grads):
        g += 100.0 * (i + 1)
        expected[i] += 100.0 * (i + 1)
        for j, other in enumerate(grads):
            if j != i:
                np.testing.assert_array_equal(other, expected[j])
        for a, c in zip(args, copies, strict=True):
            np.testing.assert_array_equal(a, c)


def test_sum_x_plus_y_gradients_independent():
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([-1.0, 0.5, 4.0])
    gx, gy = grad(sum_x_plus_y, wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(gx, np.ones(3))
    np.testing.assert_array_equal(gy, np.ones(3))
    gx += 1
    np.testing.assert_array_equal(gy, np.ones(3))
    gy *= 5
    np.testing.assert_array_equal(gx, np.full(3, 2.0))
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(y, [-1.0, 0.5, 4.0])


def test_gradients_of_successive_calls_are_independent():
    g = grad(sum_x)
    x = np.array([1.0, 2.0])
    first = g(x)
    second = g(x)
    assert first is not second
    first += 10.0
    np.testing.assert_array_equal(second, np.ones(2))
    np.testing.assert_array_equal(g(x), np.ones(2))


def test_value_and_grad_value_and_gradient_independent():
    x = np.array([1.0, 2.0])
    value, gx = value_and_grad(sum_x_plus_x)(x)
    gx += 1.0
    assert value == pytest.approx(6.0)
    np.testing.assert_array_equal(x, [1.0, 2.0])


# --- (c) vjp: the cotangent passed in is never modified nor returned -------------------------

IDENTITY_LIKE = [
    identity,
    identity_like,
    plus_zero,
    unary_plus,
    transposed,
    sliced,
    helper_identity,
]


@pytest.mark.parametrize("f", IDENTITY_LIKE, ids=[f.__name__ for f in IDENTITY_LIKE])
def test_pullback_returns_new_array(f):
    x = np.array([1.0, -2.0, 3.0])
    _, pullback = vjp(f)(x)
    v = np.array([0.5, 1.5, -2.5])
    v_copy = v.copy()
    ct = pullback(v)
    np.testing.assert_array_equal(v, v_copy)
    np.testing.assert_array_equal(ct, v_copy)  # each of these is the identity on x
    assert ct is not v
    assert not np.shares_memory(ct, v)
    assert not np.shares_memory(ct, x)
    assert ct.flags.writeable
    ct += 1.0
    np.testing.assert_array_equal(v, v_copy)
    np.testing.assert_array_equal(x, [1.0, -2.0, 3.0])
    np.testing.assert_array_equal(pullback(v), v_copy)


def test_pullback_of_negation_and_double():
    x = np.array([1.0, -2.0, 3.0])
    v = np.array([0.5, 1.5, -2.5])
    v_copy = v.copy()
    _, pullback = vjp(negate)(x)
    np.testing.assert_array_equal(pullback(v), -v_copy)
    _, pullback = vjp(helper_twice)(x)
    np.testing.assert_array_equal(pullback(v), 2.0 * v_copy)
    np.testing.assert_array_equal(v, v_copy)


def test_pullback_two_arguments_not_aliased():
    x = np.array([1.0, 2.0])
    y = np.array([3.0, 4.0])
    _, pullback = vjp(add_xy, wrt=(0, 1))(x, y)
    v = np.array([1.0, -1.0])
    dx, dy = pullback(v)
    assert dx is not dy and not np.shares_memory(dx, dy)
    assert not np.shares_memory(dx, v) and not np.shares_memory(dy, v)
    dx += 10.0
    np.testing.assert_array_equal(dy, [1.0, -1.0])
    np.testing.assert_array_equal(v, [1.0, -1.0])


def test_pullback_result_mutation_does_not_affect_next_call():
    x = np.array([1.0, 2.0, 3.0])
    _, pullback = vjp(sum_x)(x)
    first = pullback(1.0)
    first += 100.0
    np.testing.assert_array_equal(pullback(1.0), np.ones(3))
    _, pullback = vjp(sum_of_squares)(x)
    first = pullback(1.0)
    first *= 0.0
    np.testing.assert_array_equal(pullback(1.0), 2.0 * x)


def test_modifying_vjp_value_does_not_change_pullback():
    x = np.array([0.0, 1.0])
    value, pullback = vjp(exp_of)(x)
    v = np.ones(2)
    expected = np.exp(x)
    np.testing.assert_allclose(pullback(v), expected)
    value -= 1.0
    np.testing.assert_allclose(pullback(v), expected)


def x_plus_x_squared(x):
    return x + x * x


def test_pullback_with_float_cotangent_for_scalar_function():
    _, pullback = vjp(x_plus_x_squared)(2.0)
    assert pullback(1.0) == pytest.approx(1.0 + 2 * 2.0)
    assert pullback(0.5) == pytest.approx(0.5 * (1.0 + 2 * 2.0))


def test_pullback_zero_dim_cotangent_for_scalar_function_not_modified():
    _, pullback = vjp(x_plus_x_squared)(2.0)
    v = np.array(1.0)
    ct = pullback(v)
    assert v == 1.0
    assert ct is not v
    assert ct == pytest.approx(5.0)


def test_pullback_zero_dim_cotangent_two_scalar_arguments_not_aliased():
    _, pullback = vjp(add_xy, wrt=(0, 1))(2.0, 3.0)
    v = np.array(1.0)
    dx, dy = pullback(v)
    assert dx is not v and dy is not v
    # Two results may share an object only if it is immutable (a scalar, not an ndarray).
    assert dx is not dy or not isinstance(dx, np.ndarray)
    assert dx == 1.0 and dy == 1.0
