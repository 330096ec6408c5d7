"""``hessian`` and ``hvp`` (issue 14, part 3): forward over reverse, JAX's layouts.

Expected values: analytic second derivatives (Rosenbrock), central finite differences of
the gradient (each Hessian also symmetric), ``hessian @ v`` for ``hvp``.
"""

import math

import numpy as np
import pytest
from test_control_flow import (
    bool_ops,
    computed_condition,
    if_elif_else,
    if_else,
    if_in_loop_by_index,
    nested_if,
    nested_loops_2,
)

from ad_transform import grad, hessian, hvp


def fd_hessian(f, args, position=0, eps=1e-5):
    """Central differences of ``grad(f, position)`` along each element of that argument:
    the layout ``s + s`` (a number for a number)."""
    gradient = grad(f, position)
    x = args[position]
    if np.ndim(x) == 0:
        plus, minus = list(args), list(args)
        plus[position], minus[position] = x + eps, x - eps
        return (gradient(*plus) - gradient(*minus)) / (2 * eps)
    x = np.asarray(x, dtype=float)
    columns = []
    for k in range(x.size):
        step = np.zeros(x.size)
        step[k] = eps
        plus, minus = list(args), list(args)
        plus[position] = x + step.reshape(x.shape)
        minus[position] = x - step.reshape(x.shape)
        columns.append((gradient(*plus) - gradient(*minus)) / (2 * eps))
    return np.stack(columns, axis=-1).reshape(x.shape + x.shape)


# -- scalar control flow ----------------------------------------------------------------------

SCALAR_CASES = [
    (if_else, (2.0,)),
    (if_else, (0.3,)),
    (if_elif_else, (-1.5,)),
    (if_elif_else, (0.4,)),
    (if_elif_else, (2.0,)),
    (if_in_loop_by_index, (0.7,)),
    (nested_loops_2, (0.6,)),
]


@pytest.mark.parametrize(
    "f, args", SCALAR_CASES, ids=[f"{f.__name__}-{a[0]}" for f, a in SCALAR_CASES]
)
def test_hessian_of_control_flow_against_finite_differences(f, args):
    assert hessian(f)(*args) == pytest.approx(fd_hessian(f, args), rel=1e-6, abs=1e-8)


TWO_ARGUMENT_CASES = [
    (nested_if, (0.8, 1.3)),
    (nested_if, (-0.4, -0.9)),
    (computed_condition, (1.2, 0.7)),
    (computed_condition, (0.3, 0.2)),
    (bool_ops, (0.6, 1.1)),
    (bool_ops, (-0.6, 1.1)),
]


@pytest.mark.parametrize(
    "f, args", TWO_ARGUMENT_CASES, ids=[f"{f.__name__}-{a}" for f, a in TWO_ARGUMENT_CASES]
)
def test_hessian_blocks_of_two_arguments(f, args):
    """A tuple ``wrt`` gives JAX's nested blocks ``H[i][j] = d/dx_j d/dx_i f``: against
    finite differences of each gradient, and symmetric."""
    blocks = hessian(f, (0, 1))(*args)
    eps = 1e-6
    for i in range(2):
        for j in range(2):
            plus, minus = list(args), list(args)
            plus[j] += eps
            minus[j] -= eps
            expected = (grad(f, i)(*plus) - grad(f, i)(*minus)) / (2 * eps)
            assert blocks[i][j] == pytest.approx(expected, rel=1e-6, abs=1e-7)
    assert blocks[0][1] == pytest.approx(blocks[1][0], rel=1e-12)


def polynomial(x, y):
    return x**3 * y - 2.0 * x * y**2 + math.exp(x * y)


def test_hessian_of_two_arguments_against_calculus():
    x, y = 0.4, -0.7
    e = math.exp(x * y)
    h = hessian(polynomial, (0, 1))(x, y)
    assert h[0][0] == pytest.approx(6 * x * y + y * y * e, rel=1e-12)
    assert h[0][1] == pytest.approx(3 * x * x - 4 * y + e + x * y * e, rel=1e-12)
    assert h[1][1] == pytest.approx(-4 * x + x * x * e, rel=1e-12)
    assert hvp(polynomial, (0, 1))(x, y, (1.0, 0.0)) == pytest.approx((h[0][0], h[1][0]))


# -- NumPy ------------------------------------------------------------------------------------


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_hessian(x):
    n = x.size
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0
        h[i + 1, i + 1] += 200.0
        h[i, i + 1] += -400.0 * x[i]
        h[i + 1, i] += -400.0 * x[i]
    return h


def test_rosenbrock_hessian_against_calculus():
    x = np.array([1.2, 0.8, -0.5, 0.3, 2.0])
    h = hessian(rosenbrock)(x)
    assert h.shape == (5, 5)
    np.testing.assert_allclose(h, rosenbrock_hessian(x), rtol=1e-12, atol=1e-9)


def test_hvp_is_hessian_times_v():
    rng = np.random.default_rng(7)
    x = rng.standard_normal(6)
    v = rng.standard_normal(6)
    np.testing.assert_allclose(hvp(rosenbrock)(x, v), hessian(rosenbrock)(x) @ v, rtol=1e-12)


def layer_loss(w, x, y):
    return np.sum((np.tanh(x @ w) - y) ** 2)


def test_hessian_layout_of_a_matrix_argument():
    """An argument of shape (3, 2) gives a (3, 2, 3, 2) Hessian, as JAX's."""
    rng = np.random.default_rng(1)
    w, x, y = rng.standard_normal((3, 2)), rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    h = hessian(layer_loss)(w, x, y)
    assert h.shape == (3, 2, 3, 2)
    np.testing.assert_allclose(h, fd_hessian(layer_loss, (w, x, y)), rtol=1e-6, atol=1e-8)
    flat = h.reshape(6, 6)
    np.testing.assert_allclose(flat, flat.T, rtol=1e-12, atol=1e-12)
    v = rng.standard_normal((3, 2))
    np.testing.assert_allclose(
        hvp(layer_loss)(w, x, y, v), np.tensordot(h, v, axes=2), rtol=1e-10, atol=1e-12
    )


def test_hessian_with_respect_to_a_later_argument():
    rng = np.random.default_rng(2)
    w, x, y = rng.standard_normal((3, 2)), rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    h = hessian(layer_loss, wrt="x")(w, x, y)
    assert h.shape == (5, 3, 5, 3)
    np.testing.assert_allclose(h, fd_hessian(layer_loss, (w, x, y), 1), rtol=1e-6, atol=1e-8)


def test_hessian_source_is_readable():
    h = hvp(rosenbrock)
    h(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 0.0]))
    # the tangent alone (higher_order_4.md): the gradient's own value is not computed
    assert "def tangent_of_grad_rosenbrock(x, *, x_dot):" in h.source
    assert h.source.rstrip().splitlines()[-1].strip().startswith("return v")
    assert "," not in h.source.rstrip().splitlines()[-1]


def test_hessian_of_a_container_argument():
    """Containers were refused before; now the nested layout (test_higher_order_containers.py):
    d/da d/da a**3 = 6a."""
    assert hessian(lambda_free_dict)({"a": 1.5})["a"]["a"] == pytest.approx(9.0, rel=1e-12)


def lambda_free_dict(d):
    return d["a"] ** 3


def test_trust_ncg_converges_on_rosenbrock():
    """The issue's example: ``scipy.optimize.minimize(method="trust-ncg", jac=..., hessp=...)``."""
    optimize = pytest.importorskip("scipy.optimize")
    start = np.array([-1.2, 1.0, -0.5, 0.8])
    result = optimize.minimize(
        rosenbrock,
        start,
        method="trust-ncg",
        jac=grad(rosenbrock),
        hessp=hvp(rosenbrock),
        options={"gtol": 1e-10},
    )
    assert result.success
    np.testing.assert_allclose(result.x, np.ones(4), atol=1e-6)


# -- the CLI ----------------------------------------------------------------------------------

SCRIPT = """
import math


def f(x, n: int = 3):
    y = x
    for _ in range(n):
        y = math.sin(y) * x
    return y
"""


def test_cli_show_order_two(tmp_path, capsys):
    from ad_transform.cli import main

    path = tmp_path / "second.py"
    path.write_text(SCRIPT)
    assert main(["show", f"{path}:f", "--order", "2", "--args", "0.5", "3"]) == 0
    out = capsys.readouterr().out
    assert "def grad_grad_f(x, n=3):" in out and "backward sweep" in out
    assert main(["show", f"{path}:f", "--order", "2", "--wrt", "0,1"]) == 1
    assert "one --wrt index" in capsys.readouterr().err
