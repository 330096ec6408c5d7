"""Reverse over forward (issue 14): ``jvp(f)`` differentiated again.

``vjp(jvp(f))``, a ``jvp`` function called inside a differentiated function
(``jf = jvp(f)``; ``def loss(x): return jf((x,), (v,))[1] ** 2``), ``jvp(jvp(f))`` and
depth-3 compositions. Expected values: central finite differences of the ``jvp`` (itself
checked against finite differences of ``f`` elsewhere), the dot-product identity between
``vjp(jvp(f))`` and ``jvp(jvp(f))`` with random non-uniform vectors, and calculus.
"""

import math

import numpy as np
import pytest

from ad_transform import ADTransformError, grad, jvp, vjp

try:
    from scipy import special
except ImportError:  # pragma: no cover - SciPy is an optional extra
    special = None

EPS = 1e-6
rng = np.random.default_rng(1414)


def fd_grad(f, x, eps=EPS):
    """Central differences of a scalar function of an array (or a number)."""
    if np.ndim(x) == 0:
        return (f(x + eps) - f(x - eps)) / (2 * eps)
    out = np.zeros(np.shape(x))
    for k in range(np.size(x)):
        e = np.zeros(np.shape(x))
        e.flat[k] = eps
        out.flat[k] = (f(x + e) - f(x - e)) / (2 * eps)
    return out


# -- functions differentiated in forward mode -------------------------------------------------


def sin_product(x):
    y = np.sin(x) * x
    return np.sum(y**2)


def softmax_loss(x):
    z = np.exp(x - np.max(x))
    p = z / np.sum(z)
    return np.sum(p * np.log(p + 1.0)) + np.log(np.sum(np.exp(x)))


def mlp(w, x):
    h = np.tanh(w @ x)
    return np.sum(h**2) + np.linalg.norm(h)


def layer(a, b):
    return np.tanh(a) * b


def looped(x, w):
    s = 0.0
    for i in range(3):
        s = s + np.sum(layer(x, w) ** 2) * (i + 1)
    return s


def rnn(h, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(h * 0.7 + xs[t])
    return np.sum(h**2)


def written(x):
    out = np.zeros(3)
    out[0] = x[0] * x[1]
    out[1:] = np.cos(x[1:]) ** 2
    out[2] += x[0] ** 3
    return np.sum(out * out)


def clipped(x):
    return np.sum(np.where(x > 0.0, x**3, np.sin(x)) + np.maximum(x, 0.2) ** 2)


def stacked(x):
    y = np.concatenate([x, x**2])
    z = np.stack([y, np.exp(y)])
    return np.sum(z[1] * z[0])


def power_rec(x, n):
    if n == 0:
        return 1.0
    return x * power_rec(x, n - 1)


def recursive(x):
    return np.sum(power_rec(x, 3) * np.sin(x))


ONE_ARGUMENT = [sin_product, softmax_loss, written, clipped, stacked, recursive]
X = np.array([0.3, -0.7, 1.1])


def tangent_of(f, v):
    """``x -> (J_f(x) v)``: the tangent output of ``jvp(f)`` as a function of ``x``."""
    jf = jvp(f)
    return lambda x: jf((x,), (v,))[1]


@pytest.mark.parametrize("f", ONE_ARGUMENT, ids=lambda f: f.__name__)
def test_vjp_of_jvp_against_finite_differences_of_the_jvp(f):
    """The cotangents of the primal and of the tangent from ``vjp(jvp(f))`` for the output
    cotangent ``(0, 1)`` are the gradients of ``x -> J_f(x) v`` and ``v -> J_f(x) v``."""
    v = rng.uniform(-1.0, 1.5, 3)
    value, pullback = vjp(jvp(f), wrt=(0, 1))((X,), (v,))
    assert value[0] == pytest.approx(f(X), rel=1e-12)
    primal_cot, tangent_cot = pullback((0.0, 1.0))
    np.testing.assert_allclose(primal_cot[0], fd_grad(tangent_of(f, v), X), rtol=1e-6, atol=1e-7)
    jf = jvp(f)
    by_v = fd_grad(lambda u: jf((X,), (u,))[1], v)
    np.testing.assert_allclose(tangent_cot[0], by_v, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("f", ONE_ARGUMENT, ids=lambda f: f.__name__)
def test_jvp_called_inside_a_differentiated_function(f):
    """The issue's example: ``def loss(x): return jvp(f)(x, v)[1] ** 2`` in the documented
    call form ``jf((x,), (v,))``."""
    v = rng.uniform(-1.0, 1.5, 3)
    jf = jvp(f)

    def loss(x):
        return jf((x,), (v,))[1] ** 2

    np.testing.assert_allclose(grad(loss)(X), fd_grad(loss, X), rtol=1e-6, atol=1e-7)


def test_vjp_and_jvp_of_jvp_agree_by_the_dot_product_test():
    """``<c, J (dx, dv)> = <J^T c, (dx, dv)>`` for ``jvp_call(x, v) = (f(x), J_f(x) v)``,
    forward mode ``jvp(jvp(f))`` on the left, reverse mode ``vjp(jvp(f))`` on the right,
    random non-uniform vectors."""
    f = softmax_loss
    v, dx, dv = (rng.uniform(-1.0, 2.0, 3) for _ in range(3))
    c = (rng.uniform(0.5, 2.0), rng.uniform(-2.0, -0.5))
    (value, tangent), (value_dot, tangent_dot) = jvp(jvp(f))(((X,), (v,)), (((dx,), (dv,))))
    assert value == pytest.approx(f(X), rel=1e-12)
    assert tangent == pytest.approx(jvp(f)((X,), (v,))[1], rel=1e-12)
    forward = c[0] * value_dot + c[1] * tangent_dot
    _, pullback = vjp(jvp(f), wrt=(0, 1))((X,), (v,))
    primal_cot, tangent_cot = pullback(c)
    reverse = primal_cot[0] @ dx + tangent_cot[0] @ dv
    assert forward == pytest.approx(reverse, rel=1e-10)
    # and forward mode against finite differences of the jvp
    jf = jvp(f)
    plus = jf((X + EPS * dx,), (v + EPS * dv,))
    minus = jf((X - EPS * dx,), (v - EPS * dv,))
    assert tangent_dot == pytest.approx((plus[1] - minus[1]) / (2 * EPS), rel=1e-6)


def test_two_arguments_helpers_and_loops():
    x, w = np.array([0.3, -0.7]), np.array([1.5, 0.2])
    v, u = np.array([1.0, -2.0]), np.array([0.3, 0.9])
    jf = jvp(looped)

    def loss(x, w):
        return jf((x, w), (v, u))[1] ** 2

    grads = grad(loss, wrt=(0, 1))(x, w)
    np.testing.assert_allclose(grads[0], fd_grad(lambda a: loss(a, w), x), rtol=1e-6)
    np.testing.assert_allclose(grads[1], fd_grad(lambda b: loss(x, b), w), rtol=1e-6)


def test_mlp_and_rnn_with_wrt():
    w = rng.standard_normal((3, 2))
    x = np.array([0.4, -0.6])
    dw = rng.uniform(-1.0, 1.0, (3, 2))
    jw = jvp(mlp, wrt=0)

    def loss_w(w):
        return jw((w, x), (dw,))[1]

    np.testing.assert_allclose(grad(loss_w)(w), fd_grad(loss_w, w), rtol=1e-6, atol=1e-8)
    xs = rng.standard_normal((4, 2))
    jr = jvp(rnn, wrt=0)
    u = np.array([0.5, -1.0])

    def loss_h(h):
        return jr((h, xs), (u,))[1]

    h0 = np.array([0.1, -0.2])
    np.testing.assert_allclose(grad(loss_h)(h0), fd_grad(loss_h, h0), rtol=1e-6, atol=1e-8)


def test_dict_argument_of_the_jvp():
    def f(p):
        return np.sum(np.sin(p["w"]) * p["b"]) ** 2

    p = {"w": np.array([0.2, -0.4]), "b": np.array([1.3, 0.6])}
    t = {"w": np.array([1.0, 0.5]), "b": np.array([-0.3, 0.8])}
    jf = jvp(f)

    def loss(w):
        return jf(({"w": w, "b": p["b"]},), (t,))[1]

    np.testing.assert_allclose(grad(loss)(p["w"]), fd_grad(loss, p["w"]), rtol=1e-6)


# -- depth 3 against calculus -------------------------------------------------------------


def sin_loop(x):
    y = 0.0
    for k in range(1, 4):
        y = y + math.sin(k * x)
    return y


def sin_loop_derivative(x, order):
    ks = (1, 2, 3)
    # d^n/dx^n sin(kx) = k^n sin(kx + n pi/2)
    return sum(k**order * math.sin(k * x + order * math.pi / 2) for k in ks)


sin_jvp = jvp(sin_loop)


def first_by_jvp(x):
    return sin_jvp((x,), (1.0,))[1]


def test_grad_of_jvp_is_the_second_derivative():
    for x in (0.3, -1.2, 2.0):
        assert grad(first_by_jvp)(x) == pytest.approx(sin_loop_derivative(x, 2), rel=1e-10)


def test_third_derivatives_through_jvp_against_calculus():
    """grad(grad(.)) of the jvp, jvp(grad(.)) of it, and jvp of jvp of jvp-made functions."""
    x = 0.7
    third = sin_loop_derivative(x, 3)
    assert grad(grad(first_by_jvp))(x) == pytest.approx(third, rel=1e-8)
    assert jvp(grad(first_by_jvp))((x,), (1.0,))[1] == pytest.approx(third, rel=1e-8)
    second = jvp(jvp(sin_loop))
    (_, _), (_, d2) = second(((x,), (1.0,)), (((1.0,), (0.0,))))
    assert d2 == pytest.approx(sin_loop_derivative(x, 2), rel=1e-10)


def test_jvp_of_grad_of_jvp_on_arrays():
    """``jvp(grad(loss))`` where ``loss`` calls a jvp function: against finite
    differences of ``grad(loss)`` (checked above against finite differences of loss)."""
    v = np.array([0.5, 1.0, -0.8])
    jf = jvp(sin_product)

    def loss(x):
        return jf((x,), (v,))[1] ** 2

    d = rng.uniform(-1.0, 1.0, 3)
    g = grad(loss)
    hv = jvp(g)((X,), (d,))[1]
    expected = (g(X + EPS * d) - g(X - EPS * d)) / (2 * EPS)
    np.testing.assert_allclose(hv, expected, rtol=1e-6, atol=1e-7)


# -- refusals ---------------------------------------------------------------------------------


def sorted_cubes(x):
    # np.gradient with coordinates that depend on x: the twin of gradient_tangent covers
    # number spacings only (tests/test_higher_order_helper_rules_5.py)
    return np.sum(np.gradient(x * x, np.cumsum(np.abs(x) + 0.5)) ** 3)


sorted_jvp = jvp(sorted_cubes)


def sorted_loss(x):
    return sorted_jvp((x,), (np.ones(3),))[1]


def test_a_forward_helper_without_a_rule_is_refused_by_name():
    with pytest.raises(ADTransformError, match=r"np\.gradient again with arrays of coordinates"):
        grad(sorted_loss)(X)


def test_hvp_object_called_inside_is_differentiated():
    # (higher_order_3.md: its plain code around jvp(grad(f))) against central differences
    from ad_transform import hvp

    h = hvp(sin_product)

    def loss(x):
        return np.sum(h(x, np.ones(3)))

    eps = 1e-5
    expected = [(loss(X + eps * e) - loss(X - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(grad(loss)(X), expected, rtol=1e-6, atol=1e-8)


# -- second derivatives of common code: three modes, one Hessian-vector product -------------
# H v three ways against central differences of the gradient: forward over reverse (hvp:
# the tangent rules of the gradient's helpers), reverse over reverse (grad of <grad f, v>:
# their adjoint rules) and reverse over forward (grad of the jvp: the adjoint rules of the
# forward-mode helpers). Each case reaches helpers that had no higher-order rule before.


def c_softmax(x):
    z = np.exp(x - np.max(x))
    p = z / np.sum(z)
    return -np.log(p[1]) + np.sum(p**2)


def c_scipy_softmax(x):
    return np.sum(special.softmax(x) ** 2) + np.sum(special.log_softmax(x) * x)


def c_expit_logaddexp(x):
    return np.sum(special.expit(x) ** 2) + np.sum(np.logaddexp(x, 0.3) * x)


def c_norms(x):
    return np.linalg.norm(x) ** 3 + np.linalg.norm(x, 1) * np.sum(x**2)


def c_clip_max(x):
    return np.sum(np.clip(x, -0.5, 0.9) ** 3) + np.sum(np.max(x.reshape(2, 2), axis=1) ** 2)


def c_dict_get(x):
    d = {"a": x * 2.0, "b": x**2}
    return np.sum(d.get("a") * d.get("b", x)) + np.sum(d.get("c", x) ** 3)


def c_sum_list(x):
    xs = [x[0] ** 2, x[1] * x[2], np.sin(x[3])]
    return sum(xs) ** 2


def c_sum_values(x):
    d = {"a": x[0] ** 2, "b": x[1] * x[2]}
    return sum(d.values()) ** 2


def c_dot(x):
    w = np.arange(8.0).reshape(2, 4) / 10
    h = np.tanh(np.dot(w, x))
    return np.dot(h, h) + np.sum(np.tensordot(h, x, 0) ** 2)


def c_shapes(x):
    a, b = np.split(x, 2)
    tiled = np.sum(np.take(x, [1, 3]) ** 3) + np.sum(np.repeat(x, 2) ** 2)
    return np.sum(a * b**2) + tiled + np.sum(np.tile(x, 2) ** 3)


def c_diagonals(x):
    m = np.outer(x, x**2)
    return np.trace(np.diag(x) @ m) + np.sum(np.diagonal(m, 1) ** 2) + np.sum(np.diag(m, 1) ** 2)


def c_moments(x):
    m = x.reshape(2, 2)
    spread = np.var(x) * np.sum(x) + np.var(m, axis=0, ddof=1)[1] ** 2
    return spread + np.std(x) ** 3 + np.std(m, axis=1)[0] * x[0] + np.mean(m, axis=0)[1] ** 3


def c_products(x):
    return np.prod(x) + np.sum(np.prod(x.reshape(2, 2), axis=1, keepdims=True) ** 2)


def c_appended(x):
    out = []
    for i in range(4):
        out.append(x[i] ** 2 * x[(i + 1) % 4])
    return sum(out)


def c_rnn(x):
    h = 0.0
    for t in range(4):
        h = np.tanh(0.5 * h + x[t])
    return h**2


COMMON = [
    c_softmax,
    c_scipy_softmax,
    c_expit_logaddexp,
    c_norms,
    c_clip_max,
    c_dict_get,
    c_sum_list,
    c_sum_values,
    c_dot,
    c_shapes,
    c_diagonals,
    c_moments,
    c_products,
    c_appended,
    c_rnn,
]
X4 = np.array([0.3, -0.7, 1.1, 0.5])


def fd_hessian_vector(f, x, v, eps=EPS):
    g = grad(f)
    return (g(x + eps * v) - g(x - eps * v)) / (2 * eps)


@pytest.mark.parametrize("f", COMMON, ids=lambda f: f.__name__)
def test_hessian_vector_products_three_ways(f):
    from ad_transform import hvp

    if special is None and f in (c_scipy_softmax, c_expit_logaddexp):
        pytest.skip("SciPy is not installed")

    v = rng.uniform(-1.0, 1.5, 4)
    expected = fd_hessian_vector(f, X4, v)
    g = grad(f)

    def projected(x):
        return np.sum(g(x) * v)

    jf = jvp(f)

    def directional(x):
        return jf((x,), (v,))[1]

    np.testing.assert_allclose(hvp(f)(X4, v), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(grad(projected)(X4), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(grad(directional)(X4), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("f", COMMON, ids=lambda f: f.__name__)
def test_hessian_is_symmetric_by_the_dot_product_test(f):
    """``u^T H v = v^T H u`` with random non-uniform vectors (forward over reverse)."""
    from ad_transform import hvp

    if special is None and f in (c_scipy_softmax, c_expit_logaddexp):
        pytest.skip("SciPy is not installed")

    u, v = rng.uniform(-1.0, 2.0, 4), rng.uniform(-2.0, 1.0, 4)
    h = hvp(f)
    assert u @ h(X4, v) == pytest.approx(v @ h(X4, u), rel=1e-9, abs=1e-12)


def test_hessian_of_a_product_with_zeros_against_calculus():
    """``d2/dx_i dx_j prod(x)`` is the product of the others than ``i`` and ``j`` (0 on the
    diagonal), exact where elements are 0 (no ``ans / x``)."""
    from ad_transform import hessian

    def product(x):
        return np.prod(x)

    x = np.array([2.0, 3.0, 0.0, 0.5])
    expected = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            if i != j:
                expected[i, j] = np.prod([x[k] for k in range(4) if k not in (i, j)])
    np.testing.assert_allclose(hessian(product)(x), expected, rtol=1e-14, atol=0)


def square(x):
    return x**2


def cube(x):
    return x**3


helper_now = square


def uses_helper(x):
    return np.sum(helper_now(x))


uses_helper_jvp = jvp(uses_helper)


def helper_loss(x):
    return uses_helper_jvp((x,), (np.ones(2),))[1]


def test_a_redefined_helper_is_noticed():
    """The derivative of the jvp is generated again when a function it calls changes."""
    global helper_now
    x = np.array([1.0, 2.0])
    g = grad(helper_loss)
    try:
        np.testing.assert_allclose(g(x), [2.0, 2.0], rtol=1e-14)  # d/dx sum(2x)
        helper_now = cube
        np.testing.assert_allclose(g(x), 6.0 * x, rtol=1e-14)  # d/dx sum(3x**2)
    finally:
        helper_now = square


def two_args(x, y):
    s = 0.0
    for i in range(3):
        s = s + np.sum(np.sin(x * y) * (i + 1))
    return s


def test_jvp_of_jvp_of_grad_against_finite_differences():
    """Depth 3, forward over forward over reverse: the tangent of ``jvp(grad(f))``."""
    x, y = np.array([0.3, -0.7]), np.array([1.2, 0.4])
    v, w = np.array([0.5, 1.5]), np.array([-0.8, 0.3])
    inner = jvp(grad(two_args))
    (_, hv), (_, d_hv) = jvp(inner)(((x, y), (v, w)), ((v, w), (w, v)))
    plus = inner((x + EPS * v, y + EPS * w), (v + EPS * w, w + EPS * v))[1]
    minus = inner((x - EPS * v, y - EPS * w), (v - EPS * w, w - EPS * v))[1]
    np.testing.assert_allclose(hv, inner((x, y), (v, w))[1], rtol=1e-12)
    np.testing.assert_allclose(d_hv, (plus - minus) / (2 * EPS), rtol=1e-6, atol=1e-8)


two_args_jvp = jvp(two_args, wrt=0)
V2 = np.array([0.5, 1.5])


def two_args_loss(x, y):
    return two_args_jvp((x, y), (V2,))[1]


def test_hessian_and_vjp_of_grad_of_a_function_calling_jvp():
    from ad_transform import hessian

    x, y = np.array([0.3, -0.7]), np.array([1.2, 0.4])
    g = grad(two_args_loss)
    expected = np.stack([(g(x + EPS * e, y) - g(x - EPS * e, y)) / (2 * EPS) for e in np.eye(2)])
    np.testing.assert_allclose(hessian(two_args_loss)(x, y), expected.T, rtol=1e-6, atol=1e-8)
    u = np.array([0.7, -1.3])
    _, pullback = vjp(g)(x, y)
    np.testing.assert_allclose(pullback(u), expected.T.T @ u, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        grad(two_args_loss, 1)(x, y),
        fd_grad(lambda b: two_args_loss(x, b), y),
        rtol=1e-6,
        atol=1e-8,
    )
