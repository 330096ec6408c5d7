"""Derivatives inside differentiated functions, part 4 (issue 14, helper comp26;
docs/architecture/higher_order_4.md): the trace table and export of functions that use a
derivative, the kinds of integer axes at fourth order, and ``value_and_grad``/``vjp``
made or held inside a differentiated function.

Expected values: central finite differences (float64) of the lower-order derivative the
API computes, and calculus.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from ad_transform import (
    ADTransformError,
    export,
    grad,
    hessian,
    hvp,
    jacfwd,
    jvp,
    trace_table,
    value_and_grad,
    vjp,
)

X = np.array([0.5, 1.2, -0.4, 0.9])
V = np.array([0.3, -0.7, 1.1, 0.25])


def fd_gradient(f, x, eps=1e-5):
    """Central differences of the scalar ``f`` at the array ``x``."""
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = eps
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def h(x):
    return np.sin(x) * x


def h_sum(x):
    return np.sum(np.sin(x) * x)


# -- 1a: the trace table of a function holding a jvp ---------------------------------------
JH = jvp(h)


def holds_a_jvp(x):
    jf = jvp(h)
    return jf((x,), (1.0,))[1] * x


def calls_a_module_jvp(x):
    return JH((x,), (2.0,))[1] + x


def _defined_in_terms_of_itself(table) -> list[str]:
    return [
        f"{r.label} = {r.expression}"
        for r in table.forward
        if r.kind == "primal"
        and re.search(rf"(?<![\w-]){re.escape(r.label)}(?![\w])", r.expression)
    ]


@pytest.mark.parametrize(
    "f, t", [(holds_a_jvp, 1.0), (calls_a_module_jvp, 2.0)], ids=["local", "module"]
)
def test_trace_table_of_a_held_jvp_reads_correctly(f, t):
    x = 0.7
    table = trace_table(f, x)
    assert _defined_in_terms_of_itself(table) == []
    call = [r for r in table.forward if r.kind == "primal" and isinstance(r.value, tuple)]
    pairs = [r for r in call if len(r.value) == 2 and r.expression.endswith(")")]
    assert pairs, str(table)
    # the call's row holds (h(x), h'(x) t), h'(x) = sin x + x cos x (calculus)
    value, tangent = pairs[-1].value
    assert value == pytest.approx(np.sin(x) * x)
    assert tangent == pytest.approx((np.sin(x) + x * np.cos(x)) * t)
    eps = 1e-6
    expected = (f(x + eps) - f(x - eps)) / (2 * eps)
    assert table.gradient == pytest.approx(expected, rel=1e-7)


# -- 1b: export of a function that uses a derivative --------------------------------------
HG = grad(h_sum)


def uses_a_module_gradient(x):
    return np.sum(HG(x) ** 2)


JF = jacfwd(h)


def uses_a_module_jacobian(x):
    return np.sum(JF(x))


def makes_a_gradient(x):
    return np.sum(grad(h_sum)(x) * x)


def makes_an_hvp(x):
    return np.sum(hvp(h_sum)(x, x))


@pytest.mark.parametrize(
    "f, named",
    [
        (uses_a_module_gradient, r"grad\(h_sum\), a derivative made by ad_transform, as 'HG'"),
        (makes_a_gradient, "ad_transform's grad"),
        (uses_a_module_jacobian, r"jacfwd\(h\), a derivative made by ad_transform, as 'JF'"),
        (makes_an_hvp, "ad_transform's hvp"),
    ],
)
def test_export_refuses_derivatives_inside_by_name(f, named, tmp_path):
    with pytest.raises(ADTransformError, match=named) as info:
        export(f, tmp_path / "out.py", example_args=(X,))
    message = str(info.value)
    assert "Wrt" not in message and "UnionType" not in message
    assert "export(h, ...)" in message and f"grad({f.__name__})" in message


# -- 1c: np.stack(..., axis=k) at fourth order --------------------------------------------
def _fourth_of_stack_terms(x):
    """d^4/dx^4 of x^6 + sin(x)^3 (sin^3 x = (3 sin x - sin 3x) / 4)."""
    return 360 * x**2 + (3 * np.sin(x) - 81 * np.sin(3 * x)) / 4


def stacked_axis_0(x):
    s = np.stack([x * x, np.sin(x)], axis=0)
    return np.sum(s**3)


def stacked_axis_1(x):
    v = np.array([1.0, 2.0]) * x
    s = np.stack([v * v, np.sin(v)], axis=1)
    return np.sum(s**3)


def stacked_axis_k(x):
    k = 1
    s = np.stack([x * x, np.sin(x)], axis=k)
    return np.sum(s**3)


@pytest.mark.parametrize(
    "f, scales", [(stacked_axis_0, (1.0,)), (stacked_axis_1, (1.0, 2.0))], ids=["0", "1"]
)
def test_fourth_derivative_through_stack_against_calculus(f, scales):
    x = 0.7
    g3 = grad(grad(grad(f)))
    g4 = grad(g3)
    expected = sum(c**4 * _fourth_of_stack_terms(c * x) for c in scales)
    assert g4(x) == pytest.approx(expected, rel=1e-9)
    eps = 1e-5
    assert g4(x) == pytest.approx((g3(x + eps) - g3(x - eps)) / (2 * eps), rel=1e-6)


def hvp_of_stacked(x):
    return np.sum(hvp(stacked_axis_k)(x, V[:3]) * X[:3])


def test_hessian_of_an_hvp_with_an_integer_axis_variable():
    # k reached the fourth order through a helper pair's saved tuple, of unknown kind
    x = np.array([0.5, 1.2, -0.4])
    H = hessian(hvp_of_stacked)(x)
    expected = np.diag(_fourth_of_stack_terms(x) * V[:3] * X[:3])  # separable: diagonal
    np.testing.assert_allclose(H, expected, rtol=1e-9, atol=1e-9)
    u = np.array([0.2, -1.1, 0.7])
    grad_of = grad(hvp_of_stacked)
    eps = 1e-5
    fd = (grad_of(x + eps * u) - grad_of(x - eps * u)) / (2 * eps)
    np.testing.assert_allclose(hvp(hvp_of_stacked)(x, u), fd, rtol=1e-6, atol=1e-7)


# -- 2: value_and_grad and vjp made or held inside -----------------------------------------
def two_args(a, b):
    return np.sum(np.sin(a) * b)


VG = value_and_grad(h_sum)
VJ = vjp(h)


def value_and_grad_inline(x):
    v, g = value_and_grad(h_sum)(x)
    return v * np.sum(g**2)


def value_and_grad_local(x):
    vg = value_and_grad(h_sum)
    v, g = vg(x)
    return v + np.sum(g * x)


def value_and_grad_module(x):
    v, g = VG(x)
    return v * np.sum(g)


def value_and_grad_tuple_wrt(x):
    v, (g0, g1) = value_and_grad(two_args, wrt=(0, 1))(x, x * x)
    return v + np.sum(g0 * g1)


def vjp_inline(x):
    y, pb = vjp(h)(x)
    return np.sum(pb(y))


def vjp_local(x):
    v = vjp(h)
    y, pb = v(x)
    return np.sum(pb(np.cos(x)) * y)


def vjp_module(x):
    y, pb = VJ(x)
    return np.sum(pb(y) ** 2)


def _hp(x):
    """h'(x) for h(x) = sin(x) x (elementwise)."""
    return np.sin(x) + x * np.cos(x)


def _hpp(x):
    return 2 * np.cos(x) - x * np.sin(x)


INSIDE = [
    value_and_grad_inline,
    value_and_grad_local,
    value_and_grad_module,
    value_and_grad_tuple_wrt,
    vjp_inline,
    vjp_local,
    vjp_module,
]


@pytest.mark.parametrize("loss", INSIDE, ids=[f.__name__ for f in INSIDE])
def test_derivatives_inside_against_finite_differences(loss):
    np.testing.assert_allclose(grad(loss)(X), fd_gradient(loss, X), rtol=1e-6, atol=1e-8)


def test_vjp_inside_against_calculus():
    # sum(h'(x) h(x)): the Jacobian of h is diagonal, so pb(y) = h'(x) y
    expected = _hpp(X) * np.sin(X) * X + _hp(X) ** 2
    np.testing.assert_allclose(grad(vjp_inline)(X), expected, rtol=1e-12)
    # value_and_grad: v = sum(h), g = h'; d/dx [v sum(g^2)] = h' sum(g^2) + v 2 g h''
    v, g = np.sum(np.sin(X) * X), _hp(X)
    expected = g * np.sum(g**2) + v * 2 * g * _hpp(X)
    np.testing.assert_allclose(grad(value_and_grad_inline)(X), expected, rtol=1e-12)


@pytest.mark.parametrize("loss", [vjp_inline, value_and_grad_inline], ids=["vjp", "vg"])
def test_second_order_through_them_against_differences_of_the_gradient(loss):
    H = hessian(loss)(X)
    g = grad(loss)
    for j in range(X.size):
        e = np.zeros_like(X)
        e[j] = 1e-5
        np.testing.assert_allclose(H[:, j], (g(X + e) - g(X - e)) / 2e-5, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)


def vjp_of_two(x):
    y, pb = vjp(two_args, wrt=(0, 1))(x, 2.0 * x)
    a, b = pb(np.cos(y))
    return np.sum(a * b)


def test_vjp_inside_with_a_tuple_wrt_and_a_scalar_output():
    np.testing.assert_allclose(
        grad(vjp_of_two)(X), fd_gradient(vjp_of_two, X), rtol=1e-6, atol=1e-8
    )


def vjp_pullback_passed_on(x):
    y, pb = vjp(h)(x)
    q = pb
    return np.sum(q(y))


def vjp_in_a_loop(x):
    s = 0.0
    for _ in range(2):
        y, pb = vjp(h)(x)
        s = s + np.sum(pb(y))
    return s


def vjp_module_held_whole(x):
    pair = VJ(x)
    return np.sum(pair[1](pair[0]))


@pytest.mark.parametrize("loss", [vjp_pullback_passed_on, vjp_in_a_loop, vjp_module_held_whole])
def test_other_forms_of_vjp_inside_are_refused_with_what_to_write(loss):
    with pytest.raises(
        ADTransformError,
        match=r"here: a vjp is differentiated inside a function only as 'y, pb = vjp\(h\)\(x\)'",
    ):
        grad(loss)(X)


@pytest.mark.parametrize("loss", [*INSIDE, vjp_of_two], ids=[*(f.__name__ for f in INSIDE), "two"])
def test_forward_mode_over_them_against_central_differences(loss):
    u = np.array([0.2, -1.1, 0.7, 0.4])
    _, tangent = jvp(loss)((X,), (u,))
    expected = (loss(X + 1e-5 * u) - loss(X - 1e-5 * u)) / 2e-5
    assert tangent == pytest.approx(expected, rel=1e-6)


# -- 3: hvp from tangent-only forward code -------------------------------------------------
def layer_loss(W, X, Y):
    h = np.tanh(X @ W)
    return np.sum((h - Y) ** 2)


def test_hvp_code_computes_the_tangent_alone():
    rng = np.random.default_rng(7)
    W, Xs, Y = rng.standard_normal((4, 3)), rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    V2 = rng.standard_normal(W.shape)
    product = hvp(layer_loss)
    got = product(W, Xs, Y, V2)
    # the same product by reverse over reverse, and by differences of the gradient
    expected = vjp(grad(layer_loss))(W, Xs, Y)[1](V2)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    g = grad(layer_loss)
    fd = (g(W + 1e-6 * V2, Xs, Y) - g(W - 1e-6 * V2, Xs, Y)) / 2e-6
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-7)
    # the gradient's last product (X.T @ dh) is not computed, only its tangent's
    source = product.source
    products = [line.strip() for line in source.splitlines() if "@" in line and "#" not in line]
    assert len(products) == 3, source  # X @ W, its tangent, the gradient's tangent
    assert not any(line.startswith("dW =") for line in products), source
