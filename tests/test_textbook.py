"""The seed examples of the textbooks, checked against hand-derived derivatives."""

import ast
import math

import numpy as np
import pytest

from ad_transform import grad, ssa_source, value_and_grad


def f_seed(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def f_seed_math(x1, x2):
    return math.log(x1) + x1 * x2 - math.sin(x2)


def f_poly(x1, x2):
    return x1**2 + 5 * x1 * x2


def f_chain(x, y):
    c = x + y
    d = c**2
    return x * d


def squared_loss(w, phi, y):
    return (np.dot(w, phi) - y) ** 2


def sigmoid_log2(v):
    return 1 / (1 + np.exp(-np.log2(v)))


def sigmoid_log2_math(v):
    return 1.0 / (1.0 + math.exp(-math.log2(v)))


# --- f = log(x1) + x1*x2 - sin(x2) at (2, 5) -------------------------------------------


@pytest.mark.parametrize("f", [f_seed, f_seed_math], ids=["numpy", "math"])
def test_seed_gradient_at_2_5(f):
    d1, d2 = grad(f, wrt=(0, 1))(2.0, 5.0)
    assert d1 == pytest.approx(5.5, abs=1e-14)
    # 2 - cos(5) = 1.7163378145367738...
    assert d2 == pytest.approx(1.71633781453677, abs=1e-13)
    assert d2 == pytest.approx(2.0 - math.cos(5.0), abs=1e-14)


@pytest.mark.parametrize("f", [f_seed, f_seed_math], ids=["numpy", "math"])
def test_seed_value_and_grad(f):
    value, (d1, d2) = value_and_grad(f, wrt=(0, 1))(2.0, 5.0)
    expected = math.log(2.0) + 10.0 - math.sin(5.0)  # 11.652071...
    assert value == pytest.approx(expected, abs=1e-13)
    assert d1 == pytest.approx(5.5, abs=1e-14)
    assert d2 == pytest.approx(2.0 - math.cos(5.0), abs=1e-14)


def test_seed_single_partials():
    assert grad(f_seed, wrt=0)(2.0, 5.0) == pytest.approx(1 / 2.0 + 5.0, abs=1e-14)
    assert grad(f_seed, wrt=1)(2.0, 5.0) == pytest.approx(2.0 - math.cos(5.0), abs=1e-14)


@pytest.mark.parametrize("x1, x2", [(0.5, -3.0), (7.0, 0.25), (1e-3, 100.0)])
def test_seed_at_other_points(x1, x2):
    d1, d2 = grad(f_seed, wrt=(0, 1))(x1, x2)
    assert d1 == pytest.approx(1 / x1 + x2, rel=1e-13)
    assert d2 == pytest.approx(x1 - math.cos(x2), rel=1e-12, abs=1e-14)


def test_seed_ssa_trace_has_one_primitive_per_line():
    text = ssa_source(f_seed)
    tree = ast.parse(text)
    body = tree.body[0].body[1:]  # skip the docstring
    atoms = (ast.Name, ast.Constant, ast.Attribute)
    assigns = [s for s in body if isinstance(s, ast.Assign)]
    # log, *, +, sin, -: five primitives, each on its own line with atomic operands
    assert len(assigns) == 5
    for stmt in assigns:
        value = stmt.value
        if isinstance(value, ast.Call):
            assert all(isinstance(a, atoms) for a in value.args), ast.unparse(stmt)
        else:
            assert isinstance(value, ast.BinOp), ast.unparse(stmt)
            assert isinstance(value.left, atoms) and isinstance(value.right, atoms)
    assert isinstance(body[-1], ast.Return) and isinstance(body[-1].value, ast.Name)


# --- f = x1**2 + 5*x1*x2 ----------------------------------------------------------------


@pytest.mark.parametrize("x1, x2", [(1.0, 2.0), (3.0, -1.0), (0.0, 0.0), (-2.5, 4.0), (10.0, 0.1)])
def test_polynomial(x1, x2):
    d1, d2 = grad(f_poly, wrt=(0, 1))(x1, x2)
    assert d1 == pytest.approx(2 * x1 + 5 * x2, abs=1e-12)
    assert d2 == pytest.approx(5 * x1, abs=1e-12)
    value, (e1, e2) = value_and_grad(f_poly, wrt=(0, 1))(x1, x2)
    assert value == pytest.approx(x1**2 + 5 * x1 * x2, abs=1e-12)
    assert (e1, e2) == pytest.approx((2 * x1 + 5 * x2, 5 * x1), abs=1e-12)


# --- c = x + y; d = c**2; return x * d ----------------------------------------------------


def test_chain_at_3_minus_1():
    # f = x (x + y)^2; df/dx = (x+y)^2 + 2x(x+y) = 4 + 12 = 16; df/dy = 2x(x+y) = 12
    dx, dy = grad(f_chain, wrt=(0, 1))(3.0, -1.0)
    assert dx == pytest.approx(16.0, abs=1e-12)
    assert dy == pytest.approx(12.0, abs=1e-12)
    value, _ = value_and_grad(f_chain, wrt=(0, 1))(3.0, -1.0)
    assert value == pytest.approx(12.0, abs=1e-12)


@pytest.mark.parametrize("x, y", [(0.5, 0.5), (-2.0, 7.0), (1.5, -4.0)])
def test_chain_elsewhere(x, y):
    dx, dy = grad(f_chain, wrt=(0, 1))(x, y)
    assert dx == pytest.approx((x + y) ** 2 + 2 * x * (x + y), abs=1e-12)
    assert dy == pytest.approx(2 * x * (x + y), abs=1e-12)


# --- squared loss (w . phi - y)^2 -------------------------------------------------------


def test_squared_loss_textbook_point():
    w = np.array([3.0, 1.0])
    phi = np.array([1.0, 2.0])
    # residual = 3 + 2 - 2 = 3; gradient = 2 * 3 * phi = [6, 12]
    g = grad(squared_loss)(w, phi, 2.0)
    assert isinstance(g, np.ndarray)
    assert g.shape == (2,)
    np.testing.assert_allclose(g, [6.0, 12.0], rtol=0, atol=1e-12)
    value, g2 = value_and_grad(squared_loss)(w, phi, 2.0)
    assert value == pytest.approx(9.0, abs=1e-12)
    np.testing.assert_allclose(g2, [6.0, 12.0], rtol=0, atol=1e-12)


def test_squared_loss_all_arguments():
    rng = np.random.default_rng(0)
    w, phi, y = rng.normal(size=5), rng.normal(size=5), 0.7
    dw, dphi, dy = grad(squared_loss, wrt=(0, 1, 2))(w, phi, y)
    r = w @ phi - y
    np.testing.assert_allclose(dw, 2 * r * phi, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dphi, 2 * r * w, rtol=1e-12, atol=1e-14)
    assert dy == pytest.approx(-2 * r, rel=1e-12)


# --- sigmoid(log2(v)) -------------------------------------------------------------------


def _sigmoid_log2_derivative(v):
    # s(u) = 1 / (1 + e^-u), u = log2 v:  ds/dv = s (1 - s) / (v ln 2)
    s = 1.0 / (1.0 + math.exp(-math.log2(v)))
    return s * (1.0 - s) / (v * math.log(2.0))


@pytest.mark.parametrize("f", [sigmoid_log2, sigmoid_log2_math], ids=["numpy", "math"])
@pytest.mark.parametrize("v", [0.25, 1.0, 2.0, 3.7, 100.0])
def test_sigmoid_of_log2(f, v):
    d = grad(f)(v)
    assert d == pytest.approx(_sigmoid_log2_derivative(v), rel=1e-12)
    value, d2 = value_and_grad(f)(v)
    # e^(-log2 v) = v^(-1/ln 2)
    assert value == pytest.approx(1.0 / (1.0 + v ** (-1.0 / math.log(2.0))), rel=1e-13)
    assert d2 == pytest.approx(d, rel=1e-15)


def test_sigmoid_of_log2_at_1_exact():
    # at v = 1: u = 0, s = 1/2, ds/dv = 1/4 / ln 2
    assert grad(sigmoid_log2)(1.0) == pytest.approx(0.25 / math.log(2.0), rel=1e-14)


def test_sigmoid_of_log2_elementwise_array():
    v = np.array([0.5, 1.0, 4.0])

    d = grad(_sum_sigmoid_log2)(v)
    expected = np.array([_sigmoid_log2_derivative(float(t)) for t in v])
    np.testing.assert_allclose(d, expected, rtol=1e-12)


def _sum_sigmoid_log2(v):
    return np.sum(1 / (1 + np.exp(-np.log2(v))))
