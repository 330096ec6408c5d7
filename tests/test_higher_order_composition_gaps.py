"""Derivatives made or held inside a differentiated function, and derivative objects called
there (issue 14, helper comp14; docs/architecture/higher_order_3.md).

``grad(h)(x)`` and ``jvp(h)(p, t)`` written inline or held in a local variable, and
``hvp``, ``hessian``, ``jacfwd``/``jacrev``/``jacobian`` and ``elementwise_grad`` objects
called inside a differentiated function (third derivatives). Expected values: central
finite differences (float64) of the lower-order derivative the API computes, calculus,
and the dot-product test between forward and reverse mode with random non-uniform
vectors.
"""

from __future__ import annotations

import numpy as np
import pytest

from ad_transform import (
    ADTransformError,
    elementwise_grad,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
)

RNG = np.random.default_rng(20261130)
X = np.array([0.5, 1.2, -0.4, 0.9])
V = np.array([0.3, -0.7, 1.1, 0.25])
W = np.array([1.3, -0.2, 0.6, -0.9])


def fd_gradient(f, x, eps=1e-5):
    """Central differences of the scalar ``f`` at the array ``x``."""
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = eps
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def fd_directional(f, x, u, eps=1e-5):
    """Central differences of ``f`` (any array output) at ``x`` along ``u``."""
    return (np.asarray(f(x + eps * u)) - np.asarray(f(x - eps * u))) / (2 * eps)


def check_against_fd(loss, x=X, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(grad(loss)(x), fd_gradient(loss, x), rtol=rtol, atol=atol)


# -- the functions differentiated ---------------------------------------------------------
def f(x):
    return np.sum(np.sin(x) * x)


def cubic(x):
    return np.sum(x**3) / 6.0  # H = diag(x)


def quartic(x):
    return np.sum(x**4) / 4.0  # g = x**3, H = diag(3 x**2)


def quadratic(x):
    a = np.array([[3.0, 0.5, 0.0, 0.2], [0.5, 2.0, 0.3, 0.0], [0.0, 0.3, 4.0, 0.1]])
    a = np.vstack([a, [0.2, 0.0, 0.1, 2.5]])
    b = np.array([1.0, -2.0, 0.5, 0.3])
    return 0.5 * x @ a @ x + b @ x


def fs(x):
    return np.sin(x) * x * x  # elementwise


def mixes(x):
    return np.array([x[0] * x[1], np.sin(x[2]) * x[3], x[1] ** 2 + x[3]])  # not elementwise


def two_args(x, y):
    return np.sum(np.tanh(x * y) + x**2 * y)


# -- 1. jvp and grad made inline or held in a local ---------------------------------------
def jvp_held_in_a_local(x):
    d = jvp(f)
    return d((x,), (V,))[1] ** 2


def jvp_made_inline(x):
    return jvp(f)((x,), (V,))[1] ** 2


def jvp_with_wrt_inline(x):
    return jvp(two_args, wrt=1)((W, x), (V,))[1] ** 2


def grad_held_in_a_local(x):
    g = grad(f)
    return np.sum(g(x) ** 2)


def grad_made_inline(x):
    return np.sum(grad(f)(x) * W)


def grad_with_wrt_inline(x):
    return np.sum(grad(two_args, wrt=1)(W, x) ** 2)


def grad_of_grad_inline(y):
    # d/dy of d/dy (y**4/4) = 3 y**2 (a scalar function)
    return grad(grad(scalar_quartic))(y)


def scalar_quartic(y):
    return y**4 / 4.0


@pytest.mark.parametrize(
    "loss",
    [
        jvp_held_in_a_local,
        jvp_made_inline,
        jvp_with_wrt_inline,
        grad_held_in_a_local,
        grad_made_inline,
        grad_with_wrt_inline,
    ],
)
def test_derivative_made_inline_or_held_in_a_local(loss):
    check_against_fd(loss)


def test_issue_examples_by_calculus():
    # jvp(f)(x, v)[1] = sum((cos(x) x + sin(x)) v) = s; d/dx s**2 = 2 s (2 cos(x) - x sin(x)) v
    s = np.sum((np.cos(X) * X + np.sin(X)) * V)
    expected = 2 * s * (2 * np.cos(X) - X * np.sin(X)) * V
    np.testing.assert_allclose(grad(jvp_held_in_a_local)(X), expected, rtol=1e-12)
    np.testing.assert_allclose(grad(jvp_made_inline)(X), expected, rtol=1e-12)


def test_third_derivative_of_a_grad_of_grad_made_inline():
    assert grad(grad_of_grad_inline)(0.7) == pytest.approx(6 * 0.7, rel=1e-12)


def test_forward_mode_over_a_derivative_made_inline():
    for loss in (jvp_made_inline, grad_held_in_a_local, grad_with_wrt_inline):
        u = RNG.standard_normal(X.shape)
        _, tangent = jvp(loss)((X,), (u,))
        assert tangent == pytest.approx(fd_directional(loss, X, u), rel=1e-6)


def test_value_and_grad_and_vjp_inside_are_differentiated():
    # refused by name until comp26 (higher_order_4.md); now differentiated, checked
    # against central differences
    def value_and_grad_inline(x):
        return value_and_grad(f)(x)[0]

    def value_and_grad_local(x):
        d = value_and_grad(f)
        return d(x)[0]

    def vjp_inline(x):
        _, pullback = vjp(f)(x)
        return np.sum(pullback(1.0))

    for loss in (value_and_grad_inline, value_and_grad_local, vjp_inline):
        check_against_fd(loss)


def test_vjp_inside_in_other_forms_is_refused_by_name():
    def vjp_result_held_whole(x):
        pair = vjp(f)(x)
        return np.sum(pair[1](1.0))

    with pytest.raises(ADTransformError, match=r"vjp\(\.\.\.\)\(\.\.\.\) here: .*'y, pb = vjp"):
        grad(vjp_result_held_whole)(X)


def scaled_by(c):
    def scaled(y):
        return np.sum(np.sin(y) * c)

    return scaled


def test_derivative_of_a_function_that_captures_values_is_refused():
    # inner and scaled capture the differentiated x: a derivative would take x for a
    # constant (d/dx sum(cos(x) * x) has a term the capture would lose)
    def captures(x):
        def inner(y):
            return np.sum(y * x)

        return np.sum(grad(inner)(x))

    def captures_through_a_factory(x):
        return np.sum(grad(scaled_by(x))(x))

    def closure_passed_in(x, fn):
        return np.sum(hessian(fn)(x))

    with pytest.raises(ADTransformError, match="inner function 'inner' used as a value"):
        grad(captures)(X)
    with pytest.raises(ADTransformError, match="inner function 'scaled' used as a value"):
        grad(captures_through_a_factory)(X)
    # a closure made outside: which values it captured is not known where it is called
    with pytest.raises(ADTransformError, match="not a function defined at module level"):
        grad(closure_passed_in)(X, scaled_by(2.0))
    with pytest.raises(ADTransformError, match="not a function defined at module level"):
        jvp(closure_passed_in, wrt=0)((X, scaled_by(2.0)), (V,))


# -- 2. hvp, hessian, Jacobians, elementwise_grad called inside ---------------------------
HVP_F = hvp(f)
HESSIAN_F = hessian(f)


def hvp_inline(x):
    return np.sum(hvp(f)(x, V) ** 2)


def hvp_global(x):
    return np.sum(HVP_F(x, V) * W)


def hvp_local(x):
    h = hvp(f)
    return np.sum(h(x, V) ** 2)


def hvp_second_argument(y):
    return np.sum(hvp(two_args, wrt=1)(W, y, V) ** 2)


def hessian_inline(x):
    return np.sum(hessian(f)(x) ** 2)


def hessian_global(x):
    return np.sum(HESSIAN_F(x) @ W)


def jacfwd_inline(x):
    return np.sum(jacfwd(mixes)(x) ** 2)


def jacrev_inline(x):
    return np.sum(jacrev(mixes)(x) @ W)


def jacobian_inline(x):
    j = jacobian(mixes)
    return np.sum(np.tanh(j(x)))


def elementwise_grad_inline(x):
    return np.sum(elementwise_grad(fs)(x) * W)


def elementwise_grad_of_a_mix(x):
    return np.sum(elementwise_grad(mixes)(x) ** 2)


def newton_step(x):
    return x - np.linalg.solve(hessian(f)(x), grad(f)(x))


def newton_residual(x):
    return np.sum(newton_step(x) ** 2)


@pytest.mark.parametrize(
    "loss",
    [
        hvp_inline,
        hvp_global,
        hvp_local,
        hvp_second_argument,
        hessian_inline,
        hessian_global,
        jacfwd_inline,
        jacrev_inline,
        jacobian_inline,
        elementwise_grad_inline,
        elementwise_grad_of_a_mix,
        newton_residual,
    ],
)
def test_derivative_objects_called_inside_against_finite_differences(loss):
    check_against_fd(loss, rtol=1e-6, atol=1e-7)


def test_third_derivatives_by_calculus():
    # cubic: H v = x * v, so d/dx sum(H v * w) = v * w
    def hv_cubic(x):
        return np.sum(hvp(cubic)(x, V) * W)

    np.testing.assert_allclose(grad(hv_cubic)(X), V * W, rtol=1e-12)

    # sum(sin): H = diag(-sin x); d/dx sum(H @ w) = -cos(x) w
    def hessian_sin(x):
        return np.sum(hessian(sum_sin)(x) @ W)

    np.testing.assert_allclose(grad(hessian_sin)(X), -np.cos(X) * W, rtol=1e-12)

    # a number: hessian(y**4/4)(y) = 3 y**2; its derivative 6 y
    def scalar_hessian(y):
        return hessian(scalar_quartic)(y)

    assert grad(scalar_hessian)(0.7) == pytest.approx(4.2, rel=1e-12)


def sum_sin(x):
    return np.sum(np.sin(x))


def test_newton_step_by_calculus():
    # quartic: x - x**3 / (3 x**2) = 2x/3, so the Jacobian of the Newton map is 2/3 I
    def newton_quartic(x):
        return x - np.linalg.solve(hessian(quartic)(x), grad(quartic)(x))

    np.testing.assert_allclose(jacfwd(newton_quartic)(X), np.eye(4) * 2 / 3, atol=1e-12)
    np.testing.assert_allclose(jacrev(newton_quartic)(X), np.eye(4) * 2 / 3, atol=1e-12)

    # a quadratic: the Newton step lands on the minimiser from anywhere: a zero Jacobian
    def newton_quadratic(x):
        return x - np.linalg.solve(hessian(quadratic)(x), grad(quadratic)(x))

    np.testing.assert_allclose(jacrev(newton_quadratic)(X), np.zeros((4, 4)), atol=1e-12)


def test_newton_step_forward_and_reverse_agree_by_the_dot_product():
    for _ in range(3):
        u, w = RNG.standard_normal(4), RNG.standard_normal(4)
        _, ju = jvp(newton_step)((X,), (u,))
        _, pullback = vjp(newton_step)(X)
        assert np.dot(ju, w) == pytest.approx(np.dot(u, pullback(w)), rel=1e-10)
        np.testing.assert_allclose(ju, fd_directional(newton_step, X, u), rtol=1e-6)


def test_jacobian_inside_forward_and_reverse_agree():
    def scaled_jacobian(x):
        return jacfwd(mixes)(x) @ x

    u, w = RNG.standard_normal(4), RNG.standard_normal(3)
    _, ju = jvp(scaled_jacobian)((X,), (u,))
    _, pullback = vjp(scaled_jacobian)(X)
    assert np.dot(ju, w) == pytest.approx(np.dot(u, pullback(w)), rel=1e-10)
    np.testing.assert_allclose(ju, fd_directional(scaled_jacobian, X, u), rtol=1e-6)


def test_hvp_inside_the_values_are_the_api_values():
    # the plain code computes what the objects return
    def values(x):
        return hvp(f)(x, V), hessian(f)(x), jacfwd(mixes)(x), elementwise_grad(mixes)(x)

    got = vjp(values)(X)[0]
    expected = values(X)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14)


def on_dict(p):
    return p["w"] ** 2


def test_container_argument_and_tuple_wrt_are_refused_by_name():
    def dict_hessian(x):
        return np.sum(hessian(on_dict)({"w": x}))

    with pytest.raises(ADTransformError, match=r"hessian\(on_dict\).*a dict"):
        grad(dict_hessian)(X)

    def tuple_wrt(x):
        return np.sum(hessian(two_args, wrt=(0, 1))(x, W)[0][0])

    with pytest.raises(ADTransformError, match="tuple wrt"):
        grad(tuple_wrt)(X)

    def dict_output(x):
        return np.sum(jacfwd(as_dict)(x)["a"])

    with pytest.raises(ADTransformError, match=r"jacfwd\(as_dict\).*returns a dict"):
        grad(dict_output)(X)


def as_dict(x):
    return {"a": x * 2.0}


# -- higher orders: a derivative made inline, or held in a local bound once in the body, is
# called by a static name (normalize: static_derivative, hold_derivative) -----------------
def fd_jacobian_of(g, x, eps=1e-5):
    """Central differences of the array-valued ``g``: column j is d g / d x_j."""
    columns = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e.flat[j] = eps
        columns.append((np.asarray(g(x + e)) - np.asarray(g(x - e))).ravel() / (2 * eps))
    return np.stack(columns, axis=-1)


@pytest.mark.parametrize("loss", [jvp_held_in_a_local, jvp_made_inline, hvp_inline, hvp_local])
def test_hessian_of_a_function_calling_a_derivative_against_its_gradient(loss):
    expected = fd_jacobian_of(grad(loss), X)
    np.testing.assert_allclose(hessian(loss)(X), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(hvp(loss)(X, W), expected @ W, rtol=1e-6, atol=1e-7)


def test_grad_of_grad_of_a_grad_of_grad_made_inline():
    # grad_of_grad_inline(y) = 3 y**2: second derivative 6
    assert grad(grad(grad_of_grad_inline))(0.7) == pytest.approx(6.0, rel=1e-12)


def constant_derivative_inside(x):
    # the derivative is taken at a constant: no derivative through it
    return x * grad(scalar_quartic)(2.0) + jvp(scalar_quartic)((1.0,), (1.0,))[1]


def test_derivative_made_inline_at_constants():
    assert grad(constant_derivative_inside)(0.3) == pytest.approx(8.0)
    assert constant_derivative_inside(0.3) == pytest.approx(0.3 * 8.0 + 1.0)
    _, tangent = jvp(constant_derivative_inside)((0.3,), (2.0,))
    assert tangent == pytest.approx(16.0)


def held_in_a_branch(x):
    if x[0] > 0:
        d = hvp(f)
    else:
        d = hvp(cubic)
    return np.sum(d(x, V) ** 2)


def test_derivative_held_in_a_branch_is_dispatched_when_it_runs():
    # one order through the run-time dispatcher, the next order refused by name
    check_against_fd(held_in_a_branch)
    with pytest.raises(ADTransformError, match=r"cannot differentiate the call 'd\(x, V\)'"):
        hessian(held_in_a_branch)(X)


def test_a_rebound_function_is_noticed():
    global REBOUND

    def loss(x):
        return np.sum(grad(REBOUND)(x) * W)

    REBOUND = sum_sin
    np.testing.assert_allclose(grad(loss)(X), -np.sin(X) * W, rtol=1e-12)
    REBOUND = cubic
    np.testing.assert_allclose(grad(loss)(X), X * W, rtol=1e-12)


REBOUND = sum_sin


# -- 3. lists of tuples (lists, dicts) of array elements under second order ----------------
# NOTE_stop24 reported a raw ValueError for an HVP through pairs.append((x[i], x[i + 1]));
# on this branch's base it no longer raises (commit 3dc9362 made adding adjoint containers
# elementwise): these pin the kind, with its siblings, under hvp, hessian, grad of grad
# and jvp of grad, against central differences of the gradient.
def pairs_by_index(x):
    total = 0.0
    pairs = []
    for i in range(x.shape[0] - 1):
        pairs.append((x[i], x[i + 1]))
    for k in range(len(pairs)):
        a, b = pairs[k]
        total = total + a * b * b
    return np.sum(total)


def pairs_unpacked_in_the_loop(x):
    pairs = []
    for i in range(len(x) - 1):
        pairs.append((x[i], x[i + 1]))
    s = 0.0
    for a, b in pairs:
        s = s + np.sum(np.sin(a) * b)
    return s


def pairs_read_by_position(x):
    pairs = []
    for i in range(len(x) - 1):
        pairs.append((x[i], x[i + 1]))
    s = 0.0
    for p in pairs:
        s = s + np.sum(p[0] * p[1] * p[1])
    return s


def pairs_reversed(x):
    pairs = []
    i = 0
    while i < len(x) - 1:
        pairs.append((x[i], 2.0 * x[i + 1]))
        i += 1
    s = 0.0
    for a, b in reversed(pairs):
        s = s * 0.5 + np.sum(a * b)
    return s


def lists_of_pairs(x):
    pairs = []
    for i in range(len(x) - 1):
        pairs.append([x[i], x[i + 1]])
    s = 0.0
    for p in pairs:
        s = s + np.sum(p[0] * p[1] ** 3)
    return s


def dicts_of_pairs(x):
    pairs = []
    for i in range(len(x) - 1):
        pairs.append({"a": x[i], "b": x[i + 1]})
    s = 0.0
    for p in pairs:
        s = s + np.sum(np.exp(p["a"]) * p["b"])
    return s


def pairs_summed_by_a_generator(x):
    pairs = []
    for i in range(x.shape[0] - 1):
        pairs.append((x[i], x[i + 1]))
    return np.sum(sum(a * b * b for a, b in pairs))


PAIR_FUNCTIONS = [
    pairs_by_index,
    pairs_unpacked_in_the_loop,
    pairs_read_by_position,
    pairs_reversed,
    lists_of_pairs,
    dicts_of_pairs,
    pairs_summed_by_a_generator,
]
PAIR_GRADIENTS = {fn.__name__: grad(fn) for fn in PAIR_FUNCTIONS}


def gradient_along(x, name, u):
    return np.sum(PAIR_GRADIENTS[name](x) * u)


@pytest.mark.parametrize("fn", PAIR_FUNCTIONS)
@pytest.mark.parametrize("shape", [(5,), (4, 2)])
def test_second_order_through_lists_of_pairs(fn, shape):
    x, u = RNG.standard_normal(shape), RNG.standard_normal(shape)
    g = grad(fn)
    h = fd_jacobian_of(g, x)  # rows: gradient elements, columns: x elements
    np.testing.assert_allclose(hvp(fn)(x, u).ravel(), h @ u.ravel(), rtol=1e-6, atol=1e-7)
    dense = hessian(fn)(x).reshape(x.size, x.size)
    np.testing.assert_allclose(dense, h, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dense, dense.T, rtol=1e-12, atol=1e-12)
    by_reverse = grad(gradient_along)(x, fn.__name__, u)
    np.testing.assert_allclose(by_reverse.ravel(), h.T @ u.ravel(), rtol=1e-6, atol=1e-7)
    _, by_forward = jvp(g)((x,), (u,))
    np.testing.assert_allclose(by_forward.ravel(), h @ u.ravel(), rtol=1e-6, atol=1e-7)


def pairs_extended(x):
    pairs = [(x[0], x[1])]
    pairs.extend([(x[1], x[2]), (x[2], x[3])])
    s = 0.0
    for a, b in pairs:
        s = s + a * np.exp(b)
    return s


def pairs_in_a_dict(x):
    d = {}
    for i in range(len(x) - 1):
        d[i] = (x[i], x[i + 1])
    s = 0.0
    for k in d:
        a, b = d[k]
        s = s + a * a * b
    return s


def pairs_to_numpy(x):
    pairs = []
    for i in range(len(x) - 1):
        pairs.append((x[i], x[i + 1]))
    return np.sum([a * b for a, b in pairs])


@pytest.mark.parametrize(
    "fn, what",
    [
        (pairs_extended, "extend_adjoint"),
        (pairs_in_a_dict, "restore_slot"),
        (pairs_to_numpy, "a list given to a NumPy function"),
    ],
)
def test_second_order_through_pairs_not_yet_supported_is_refused_by_name(fn, what):
    assert grad(fn)(X).shape == X.shape  # first order works
    for second in (lambda: hvp(fn)(X, V), lambda: hessian(fn)(X)):
        with pytest.raises(ADTransformError, match=what):
            second()


@pytest.mark.parametrize("fn", [*PAIR_FUNCTIONS, pairs_extended, pairs_in_a_dict, pairs_to_numpy])
def test_forward_mode_through_lists_of_pairs(fn):
    u = RNG.standard_normal(X.shape)
    value, tangent = jvp(fn)((X,), (u,))
    assert value == pytest.approx(fn(X), rel=1e-12)
    assert tangent == pytest.approx(fd_directional(fn, X, u), rel=1e-6)


# -- JAX's form jvp(h, primals, tangents) written inside ------------------------------------
def jvp_with_primals_inside(x):
    return jvp(f, (x,), (V,))[1] ** 2


def jvp_with_primals_and_wrt_inside(x):
    value, tangent = jvp(two_args, (W, x), (V,), wrt=1)
    return value * tangent


def test_jvp_with_primals_written_inside():
    check_against_fd(jvp_with_primals_inside)
    check_against_fd(jvp_with_primals_and_wrt_inside)
    # the issue's example by calculus (as test_issue_examples_by_calculus)
    s = np.sum((np.cos(X) * X + np.sin(X)) * V)
    expected = 2 * s * (2 * np.cos(X) - X * np.sin(X)) * V
    np.testing.assert_allclose(grad(jvp_with_primals_inside)(X), expected, rtol=1e-12)
    expected_hessian = fd_jacobian_of(grad(jvp_with_primals_and_wrt_inside), X)
    np.testing.assert_allclose(
        hessian(jvp_with_primals_and_wrt_inside)(X), expected_hessian, rtol=1e-6, atol=1e-7
    )
