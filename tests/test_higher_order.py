"""Composition (issue 14, part 2): derivatives of the code ad_transform generates.

``grad(grad(f))``, ``jvp(grad(f))``, ``vjp(grad(f))``, depth 3, and gradients called inside
a differentiated function. Expected values come from calculus (analytic derivatives),
central finite differences of the lower-order derivative, or the dot-product identity
``u^T H v = v^T H u`` with random non-uniform vectors.
"""

import math
import os
from pathlib import Path

import numpy as np
import pytest
from golden_functions import decay

from ad_transform import ADTransformError, grad, hvp, jvp, value_and_grad, vjp
from ad_transform.higher_order import plain_gradient, plain_source
from ad_transform.rules.registry import SCALAR

GOLDEN = Path(__file__).parent / "golden"
EPS = 1e-5


def central(f, x, eps=EPS):
    """The central difference of a scalar function of a scalar."""
    return (f(x + eps) - f(x - eps)) / (2 * eps)


def directional(f, args, position, v, eps=1e-6):
    """The central difference of ``f`` along ``v`` in argument ``position``."""
    plus, minus = list(args), list(args)
    plus[position] = args[position] + eps * v
    minus[position] = args[position] - eps * v
    return (np.asarray(f(*plus)) - np.asarray(f(*minus))) / (2 * eps)


# -- scalar functions with loops and branches: analytic derivatives ------------------------


def sin_sum(x):
    y = 0.0
    for k in range(1, 4):
        y = y + math.sin(k * x)
    return y


def sin_sum_derivatives(x):
    ks = (1, 2, 3)
    return (
        sum(k * math.cos(k * x) for k in ks),
        -sum(k**2 * math.sin(k * x) for k in ks),
        -sum(k**3 * math.cos(k * x) for k in ks),
    )


def power_loop(x):
    y = 1.0
    for _ in range(5):
        y = y * x
    return y  # x**5


def power_loop_derivatives(x):
    return 5 * x**4, 20 * x**3, 60 * x**2


def exp_while(x):
    s = 0.0
    k = 1
    while k <= 3:
        s = s + math.exp(k * x) / k
        k += 1
    return s


def exp_while_derivatives(x):
    ks = (1, 2, 3)
    return (
        sum(math.exp(k * x) for k in ks),
        sum(k * math.exp(k * x) for k in ks),
        sum(k * k * math.exp(k * x) for k in ks),
    )


def branchy(x):
    if x > 0.0:
        y = x**3 - math.log(x)
    else:
        y = -(x**4)
    return y / (1.0 + x * x)


def branchy_positive(x):
    return (x**3 - math.log(x)) / (1.0 + x * x)


def cube_sin(x):
    return x**3 * math.sin(x)


def cube_sin_derivatives(x):
    s, c = math.sin(x), math.cos(x)
    return (
        3 * x * x * s + x**3 * c,
        6 * x * s + 6 * x * x * c - x**3 * s,
        6 * s + 18 * x * c - 9 * x * x * s - x**3 * c,
    )


ANALYTIC = [
    (sin_sum, sin_sum_derivatives),
    (power_loop, power_loop_derivatives),
    (exp_while, exp_while_derivatives),
    (cube_sin, cube_sin_derivatives),
]


@pytest.mark.parametrize("f, derivatives", ANALYTIC, ids=[f.__name__ for f, _ in ANALYTIC])
@pytest.mark.parametrize("x", [0.37, 1.3])
def test_third_derivative_of_a_loop_is_exact(f, derivatives, x):
    """The issue's target: grad(grad(grad(f))) within 1e-8 relative of calculus."""
    first, second, third = derivatives(x)
    assert grad(f)(x) == pytest.approx(first, rel=1e-12)
    assert grad(grad(f))(x) == pytest.approx(second, rel=1e-10)
    assert grad(grad(grad(f)))(x) == pytest.approx(third, rel=1e-8)


@pytest.mark.parametrize("f, derivatives", ANALYTIC, ids=[f.__name__ for f, _ in ANALYTIC])
def test_forward_over_reverse_equals_reverse_over_reverse(f, derivatives):
    x = 0.81
    second = derivatives(x)[1]
    value, tangent = jvp(grad(f), (x,), (1.0,))
    assert value == pytest.approx(derivatives(x)[0], rel=1e-12)
    assert tangent == pytest.approx(second, rel=1e-10)
    assert hvp(f)(x, 2.0) == pytest.approx(2.0 * second, rel=1e-10)
    _, pullback = vjp(grad(f))(x)
    assert pullback(3.0) == pytest.approx(3.0 * second, rel=1e-10)


@pytest.mark.parametrize("x", [0.6, -0.4, 1.7])
def test_second_derivative_through_a_branch(x):
    second = grad(grad(branchy))(x)
    assert second == pytest.approx(central(grad(branchy), x), rel=1e-7)
    if x > 0:
        assert second == pytest.approx(
            central(lambda t: central(branchy_positive, t, 1e-4), x, 1e-4), rel=1e-5
        )


def test_third_derivative_mixes_modes():
    x = 0.9
    third = cube_sin_derivatives(x)[2]
    assert jvp(grad(grad(cube_sin)), (x,), (1.0,))[1] == pytest.approx(third, rel=1e-10)
    assert hvp(grad(cube_sin))(x, 1.0) == pytest.approx(third, rel=1e-10)


def test_value_and_grad_of_a_gradient():
    x = 1.1
    value, second = value_and_grad(grad(cube_sin))(x)
    assert value == pytest.approx(cube_sin_derivatives(x)[0], rel=1e-12)
    assert second == pytest.approx(cube_sin_derivatives(x)[1], rel=1e-12)


def test_second_derivative_with_another_argument():
    def f(x, y):
        return x * x * y + math.sin(x * y)

    x, y = 0.7, 1.9
    d2_dydx = grad(grad(f, 0), 1)(x, y)  # d/dy (2xy + y cos(xy))
    assert d2_dydx == pytest.approx(2 * x + math.cos(x * y) - x * y * math.sin(x * y), rel=1e-12)
    d2_dx2 = grad(grad(f, 0), 0)(x, y)
    assert d2_dx2 == pytest.approx(2 * y - y * y * math.sin(x * y), rel=1e-12)


# -- helpers, recursion, gradients called inside -----------------------------------------


def inner_helper(u, k):
    return u * math.exp(k * u)


def calls_a_helper(x):
    total = 0.0
    for k in range(3):
        total = total + inner_helper(x, 0.5 * k)
    return total


def recursive_power(x, n):
    if n == 0:
        return 1.0
    return x * recursive_power(x, n - 1)


def test_second_derivative_through_a_helper():
    x = 0.45
    expected = central(grad(calls_a_helper), x)
    assert grad(grad(calls_a_helper))(x) == pytest.approx(expected, rel=1e-7)
    assert hvp(calls_a_helper)(x, 1.0) == pytest.approx(expected, rel=1e-7)


def test_second_derivative_through_recursion():
    x = 1.3
    assert grad(grad(recursive_power))(x, 4) == pytest.approx(12 * x * x, rel=1e-12)
    assert hvp(recursive_power)(x, 4, 0.5) == pytest.approx(6 * x * x, rel=1e-12)


def energy(x):
    return math.sin(x) * x**3


force = grad(energy)


def force_loss(x):
    return force(x) ** 2


def test_gradient_called_inside_a_differentiated_function():
    """``force = grad(energy)``; ``d/dx force(x)**2 = 2 E'(x) E''(x)``."""
    x = 0.8
    first, second, _ = cube_sin_derivatives(x)
    assert grad(force_loss)(x) == pytest.approx(2 * first * second, rel=1e-12)
    assert jvp(force_loss, (x,), (1.0,))[1] == pytest.approx(2 * first * second, rel=1e-12)


def array_energy(w):
    return np.sum(np.tanh(w) ** 2) + 0.5 * np.sum(w * w)


array_force = grad(array_energy)


def array_force_loss(w):
    return np.sum(array_force(w) ** 2)


def test_array_gradient_called_inside():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((3, 2))
    g = grad(array_force_loss)(w)
    for _ in range(3):
        v = rng.standard_normal(w.shape)
        expected = directional(array_force_loss, (w,), 0, v)
        assert np.sum(g * v) == pytest.approx(float(expected), rel=1e-6)


# -- arrays: an MLP loss, in-place writes ---------------------------------------------------


def mlp_loss(w1, b1, w2, x, y):
    h = np.tanh(x @ w1 + b1)
    z = h @ w2
    return np.sum((z - y) ** 2) / x.shape[0]


def mlp_args(rng):
    return (
        rng.standard_normal((4, 5)),
        rng.standard_normal(5),
        rng.standard_normal((5, 2)),
        rng.standard_normal((6, 4)),
        rng.standard_normal((6, 2)),
    )


def filter_writes(x, a):
    out = np.zeros(x.shape[0])
    out[0] = x[0]
    for i in range(1, x.shape[0]):
        out[i] = a * out[i - 1] + x[i] * x[i]
    return np.sum(out * out)


@pytest.mark.parametrize("position", [0, 1, 2])
def test_mlp_hessian_vector_products(position):
    rng = np.random.default_rng(position)
    args = mlp_args(rng)
    v = rng.standard_normal(np.shape(args[position]))
    expected = directional(grad(mlp_loss, position), args, position, v)
    forward = hvp(mlp_loss, position)(*args, v)
    _, pullback = vjp(grad(mlp_loss, position), position)(*args)
    np.testing.assert_allclose(forward, expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(pullback(v), forward, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("position", [0, 2])
def test_hvp_dot_product_symmetry(position):
    """u^T H v = v^T H u for random non-uniform u, v (H is symmetric)."""
    rng = np.random.default_rng(10 + position)
    args = mlp_args(rng)
    u = rng.standard_normal(np.shape(args[position]))
    v = rng.standard_normal(np.shape(args[position]))
    h = hvp(mlp_loss, position)
    assert np.sum(u * h(*args, v)) == pytest.approx(np.sum(v * h(*args, u)), rel=1e-10)


def test_second_derivative_through_in_place_writes():
    rng = np.random.default_rng(5)
    x, a = rng.standard_normal(6), 0.7
    v = rng.standard_normal(6)
    expected = directional(grad(filter_writes), (x, a), 0, v)
    np.testing.assert_allclose(hvp(filter_writes)(x, a, v), expected, rtol=1e-6)
    _, pullback = vjp(grad(filter_writes))(x, a)
    np.testing.assert_allclose(pullback(v), expected, rtol=1e-6)
    _, mixed_pullback = vjp(grad(filter_writes), 1)(x, a)  # d/da of the gradient
    expected = central(lambda t: grad(filter_writes)(x, t), a)
    np.testing.assert_allclose(mixed_pullback(v), np.sum(v * expected), rtol=1e-6)


# -- refusals -------------------------------------------------------------------------------


def test_derivatives_that_cannot_be_differentiated_again_are_refused_by_name():
    with pytest.raises(ADTransformError, match="value_and_grad"):
        grad(value_and_grad(cube_sin))(1.0)
    with pytest.raises(ADTransformError, match="has_aux"):
        grad(grad(lambda_aux, has_aux=True))(1.0)


def lambda_aux(x):
    return x * x, "aux"


def without_rule(x):
    return np.sum(np.gradient(x * x, np.array([0.0, 0.5, 1.5])) ** 3)


def test_a_helper_without_a_rule_is_refused_by_name():
    """The plain gradient of ``np.gradient`` with coordinates calls ``gradient_adjoints``,
    whose twin covers number spacings only (tests/test_higher_order_helper_rules_5.py;
    ``quantile_adjoint`` has a rule now: tests/test_higher_order_helper_rules_3.py)."""
    x = np.array([0.3, -0.2, 0.9])
    with pytest.raises(ADTransformError, match=r"np\.gradient again with arrays of coordinates"):
        grad(lambda_sorted_loss)(x)


def lambda_sorted_loss(x):
    return np.sum(sorted_gradient(x) ** 2)


sorted_gradient = grad(without_rule)


def test_zero_adjoint_at_a_point_is_not_a_zero_derivative():
    """The optimized gradient guards ``dv * x if dv else 0.0``; differentiated, the guard
    would give 0 where the adjoint ``dv`` is 0 at one point. Here ``v = x*x - 1`` and
    ``dv = v`` is 0 at ``x = 1``, where the second derivative ``4x**2 + 2v`` is 4."""

    def f(x):
        v = x * x - 1.0
        return 0.5 * v**2

    assert grad(grad(f))(1.0) == pytest.approx(4.0, rel=1e-14)
    assert jvp(grad(f), (1.0,), (1.0,))[1] == pytest.approx(4.0, rel=1e-14)
    assert grad(grad(grad(f)))(1.0) == pytest.approx(12.0, rel=1e-14)  # third: 12x


# -- source -----------------------------------------------------------------------------------


def test_plain_gradient_source_has_no_zero_guards_and_an_indexed_tape():
    source = plain_source(plain_gradient(decay, 0, (SCALAR, SCALAR), None)).source
    assert " if d" not in source and "pop()" not in source
    assert "tape.append(" in source and "= tape[top" in source


def test_second_order_source_is_golden():
    """Read and checked by a person; regenerate with AD_UPDATE_GOLDEN=1 and review."""
    text = grad(grad(decay)).source_for(0.7, 4)
    path = GOLDEN / "decay_grad_grad.py.txt"
    if os.environ.get("AD_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()
    assert "def grad_grad_decay(x, n):" in text
    assert grad(grad(decay))(0.7, 4) == pytest.approx(
        central(lambda t: grad(decay)(t, 4), 0.7, 1e-6), rel=1e-7
    )


def quartic_well(x):
    v = x * x - 1.0
    return 0.25 * v * v


quartic_force = grad(quartic_well)


def scaled_quartic_force(x):
    return 3.0 * quartic_force(x)


def test_gradient_called_inside_at_a_zero_adjoint():
    """The called gradient's code is generic (any kinds): its guards on adjoints of unknown
    kind go too. At x = 1 the adjoint of ``v = x*x - 1`` is 0; the derivative of
    ``3 E'(x)`` is ``3 (3x**2 - 1) = 6``."""
    assert grad(scaled_quartic_force)(1.0) == pytest.approx(6.0, rel=1e-14)
    assert jvp(scaled_quartic_force, (1.0,), (1.0,))[1] == pytest.approx(6.0, rel=1e-14)


def norm_well(w):
    return 0.25 * (np.sum(w * w) - 3.0) ** 2


norm_force = grad(norm_well)


def weighted_norm_force(w):
    return np.sum(norm_force(w) * np.array([1.0, 2.0, 3.0]))


def test_array_gradient_called_inside_at_a_zero_adjoint():
    """At w = (1, 1, 1) the adjoint of ``np.sum(w * w) - 3`` is a computed 0 (a number in
    code generated for any kinds); the Hessian there is ``2 w w^T``, so the gradient of
    ``force(w) . c`` is ``2 w (w . c) = 12`` in each element."""
    w = np.ones(3)
    np.testing.assert_allclose(grad(weighted_norm_force)(w), np.full(3, 12.0), rtol=1e-14)


# -- the linear helpers of shapes, products and sums, in second order --------------------


def reshaped(x):
    m = np.reshape(x, (2, 3)).T
    return np.sum(np.sin(m @ np.ones(2)) * np.arange(3.0)) + np.sum(np.ravel(m) ** 3)


def outer_products(x):
    return np.sum(np.tanh(np.outer(x[:3], x[3:])) ** 2)


def cumulative(x):
    return np.sum(np.cumsum(x * x) ** 2) + np.sum(np.cumsum(np.reshape(x, (2, 3)), axis=1) ** 3)


def joined(x):
    c = np.concatenate([x[:2] ** 2, np.sin(x[2:])])
    s = np.stack([x[:3], x[3:] ** 2], axis=1)
    return np.sum(c * c) + np.sum(np.exp(s) * s)


def array_power(x):
    return np.sum(np.abs(x) ** x[::-1])


@pytest.mark.parametrize(
    "f", [reshaped, outer_products, cumulative, joined, array_power], ids=lambda f: f.__name__
)
def test_second_order_through_shape_and_product_helpers(f):
    rng = np.random.default_rng(21)
    x = rng.uniform(0.3, 1.2, 6)
    v = rng.standard_normal(6)
    expected = directional(grad(f), (x,), 0, v)
    np.testing.assert_allclose(hvp(f)(x, v), expected, rtol=1e-6, atol=1e-8)
    _, pullback = vjp(grad(f))(x)
    np.testing.assert_allclose(pullback(v), expected, rtol=1e-6, atol=1e-8)


def redefined_helper(x):
    return x**3


def calls_redefined(x):
    return redefined_helper(x) * 2.0


def test_second_derivative_follows_a_redefined_helper():
    """The plain gradient depends on the helpers of ``f``: redefining one makes the second
    derivative's code stale (regenerated), as for a first derivative."""
    global redefined_helper
    second = grad(grad(calls_redefined))
    assert second(1.5) == pytest.approx(12 * 1.5)  # 2 * 6x
    original = redefined_helper

    def redefined_helper(x):
        return x**4

    try:
        assert second(1.5) == pytest.approx(24 * 1.5**2)  # 2 * 12x**2
        assert hvp(calls_redefined)(1.5, 1.0) == pytest.approx(24 * 1.5**2)
    finally:
        redefined_helper = original


def nested_loops(x):
    y = x
    for _ in range(3):
        w = y * 0.5
        for _ in range(2):
            w = math.sin(w) * x
        y = y * math.cos(w)
    return y


def test_nested_loops_second_and_third_order():
    x = 0.7
    second = grad(grad(nested_loops))(x)
    assert second == pytest.approx(central(grad(nested_loops), x), rel=1e-7)
    assert hvp(nested_loops)(x, 1.0) == pytest.approx(second, rel=1e-12)
    third = grad(grad(grad(nested_loops)))(x)
    assert third == pytest.approx(central(grad(grad(nested_loops)), x), rel=1e-7)
