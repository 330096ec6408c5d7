"""Containers in ``hvp`` and ``hessian`` (issue 14): dict, list, tuple, named tuple and
dataclass arguments, ``v`` of the argument's structure, JAX's nested Hessian layout; and
``elementwise_grad``.

Expected values: central finite differences of the gradient (``grad`` itself checked
against finite differences elsewhere), the symmetry ``u^T H v = v^T H u`` with random
non-uniform vectors, and calculus.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pytest

from ad_transform import elementwise_grad, grad, hessian, hvp, tree_leaves
from ad_transform.pytree import with_leaves

EPS = 1e-6
rng = np.random.default_rng(14)


def flat(tree) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(leaf, dtype=float)) for leaf in tree_leaves(tree)])


def unflat(tree, vector: np.ndarray):
    """``vector``'s elements placed in ``tree``'s structure (leaves of the same shapes)."""
    leaves, at = [], 0
    for leaf in tree_leaves(tree):
        size = np.size(leaf)
        part = vector[at : at + size]
        leaves.append(float(part[0]) if np.ndim(leaf) == 0 else part.reshape(np.shape(leaf)))
        at += size
    return with_leaves(tree, leaves, fresh=True)


def fd_hvp(f, tree, v, position=0, args=()):
    """Central difference of ``grad(f)`` along ``v`` (flat)."""
    g = grad(f, position)
    x = flat(tree)

    def at(point):
        full = list(args)
        full.insert(position, unflat(tree, point))
        return flat(g(*full))

    return (at(x + EPS * flat(v)) - at(x - EPS * flat(v))) / (2 * EPS)


def random_tree(tree):
    return unflat(tree, rng.uniform(-1.0, 2.0, flat(tree).size))


# -- functions of containers --------------------------------------------------------------


def mlp_loss(params):
    h = np.tanh(params["w1"] @ params["x"] + params["b1"])
    out = params["w2"] @ h
    return np.sum(out**2) + 0.5 * params["scale"] ** 2 * np.sum(h)


def mlp_params():
    return {
        "w1": rng.standard_normal((3, 2)),
        "x": rng.standard_normal(2),
        "b1": rng.standard_normal(3),
        "w2": rng.standard_normal((2, 3)),
        "scale": 0.7,
    }


def list_loss(xs):
    total = 0.0
    for x in xs:
        total = total + np.sum(np.sin(x) * x) ** 2
    return total + np.sum(xs[0] * xs[1])


class Pair(NamedTuple):
    a: np.ndarray
    b: float


def named_loss(p):
    return np.sum(np.exp(p.a * p.b)) + p.b**3


@dataclass
class Params:
    w: np.ndarray
    c: float


def dataclass_loss(p):
    return np.sum(np.log(1.0 + p.w**2)) * p.c


CASES = [
    (mlp_loss, mlp_params()),
    (list_loss, [np.array([0.3, -0.8]), np.array([1.2, 0.4])]),
    (list_loss, (np.array([0.3, -0.8]), np.array([1.2, 0.4]))),
    (named_loss, Pair(np.array([0.2, -0.5, 0.9]), 0.6)),
    (dataclass_loss, Params(np.array([0.2, -1.5]), 1.3)),
]
IDS = ["dict-mlp", "list", "tuple", "namedtuple", "dataclass"]


@pytest.mark.parametrize(("f", "tree"), CASES, ids=IDS)
def test_hvp_of_a_container_against_finite_differences_of_the_gradient(f, tree):
    v = random_tree(tree)
    result = hvp(f)(tree, v)
    assert type(result) is type(tree)
    np.testing.assert_allclose(flat(result), fd_hvp(f, tree, v), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("f", "tree"), CASES, ids=IDS)
def test_hvp_of_a_container_is_symmetric(f, tree):
    """``u^T H v = v^T H u`` with random non-uniform directions."""
    u, v = random_tree(tree), random_tree(tree)
    h = hvp(f)
    left = flat(u) @ flat(h(tree, v))
    right = flat(v) @ flat(h(tree, u))
    assert left == pytest.approx(right, rel=1e-10)


@pytest.mark.parametrize(("f", "tree"), CASES, ids=IDS)
def test_hessian_of_a_container_matches_hvp_and_its_layout(f, tree):
    """JAX's layout: ``H[k1][k2]`` of shape ``shape(k1) + shape(k2)``; ``H v`` assembled
    from the blocks equals ``hvp`` (which finite differences check above)."""
    h = hessian(f)(tree)
    v = random_tree(tree)
    hv = hvp(f)(tree, v)
    leaves = tree_leaves(tree)
    rows = tree_leaves(h)
    assert len(rows) == len(leaves) ** 2  # blocks, row by row
    for i, a in enumerate(leaves):
        total = np.zeros(np.shape(a))
        for j, b in enumerate(leaves):
            block = np.asarray(rows[i * len(leaves) + j])
            assert block.shape == np.shape(a) + np.shape(b)
            total = total + np.tensordot(block, np.asarray(tree_leaves(v)[j]), axes=np.ndim(b))
        np.testing.assert_allclose(total, np.asarray(tree_leaves(hv)[i]), rtol=1e-10, atol=1e-12)


def test_hessian_of_a_dict_is_nested_by_key_against_calculus():
    """f = a**2 * b + sin(b): H = [[2b, 2a], [2a, -sin b]], as ``H['a']['b']``."""

    def f(p):
        return p["a"] ** 2 * p["b"] + np.sin(p["b"])

    a, b = 0.7, -1.3
    h = hessian(f)({"a": a, "b": b})
    assert set(h) == {"a", "b"} and set(h["a"]) == {"a", "b"}
    assert h["a"]["a"] == pytest.approx(2 * b, rel=1e-12)
    assert h["a"]["b"] == pytest.approx(2 * a, rel=1e-12)
    assert h["b"]["a"] == pytest.approx(2 * a, rel=1e-12)
    assert h["b"]["b"] == pytest.approx(-np.sin(b), rel=1e-12)


def test_hvp_with_a_dict_among_other_arguments():
    """``wrt=1``: the dict is the second argument, the first a constant array."""

    def f(x, p):
        return np.sum((p["w"] * x - p["t"]) ** 2 * p["w"])

    x = np.array([0.5, -1.0, 2.0])
    p = {"w": np.array([0.3, 0.8, -0.2]), "t": np.array([1.0, 0.1, 0.4])}
    v = random_tree(p)
    result = hvp(f, wrt=1)(x, p, v)
    np.testing.assert_allclose(
        flat(result), fd_hvp(f, p, v, position=1, args=(x,)), rtol=1e-6, atol=1e-7
    )


def test_hessian_of_a_tuple_wrt_with_a_container():
    """A tuple ``wrt``, JAX's layout (``jacfwd(jacrev(f, (0, 1)), (0, 1))``): the gradient's
    structure outside (the tuple of arguments, then argument i's structure), then the
    tuple of arguments j, then argument j's structure. f = s * sum(d['w']**2) + s**3."""

    def f(s, d):
        return s * np.sum(d["w"] ** 2) + s**3

    s, d = 1.5, {"w": np.array([0.4, -0.9])}
    h = hessian(f, wrt=(0, 1))(s, d)
    assert h[0][0] == pytest.approx(6 * s, rel=1e-12)
    np.testing.assert_allclose(h[0][1]["w"], 2 * d["w"], rtol=1e-12)
    np.testing.assert_allclose(h[1]["w"][0], 2 * d["w"], rtol=1e-12)
    np.testing.assert_allclose(h[1]["w"][1]["w"], 2 * s * np.eye(2), rtol=1e-12)


def test_hessian_of_an_integer_leaf_is_none():
    def f(p):
        return p["x"] ** 3 * p["n"]

    h = hessian(f)({"x": 2.0, "n": 3})
    assert h["x"]["x"] == pytest.approx(6 * 2.0 * 3, rel=1e-12)
    assert h["x"]["n"] is None and h["n"]["x"] is None


def test_hvp_direction_of_another_structure_is_refused():
    with pytest.raises(ValueError, match="b"):
        hvp(mlp_loss)(mlp_params(), {"w1": np.ones((3, 2))})


# -- elementwise_grad -------------------------------------------------------------------------


def elementwise(x):
    return np.sin(x) * x + np.exp(-(x**2))


def test_elementwise_grad_of_an_elementwise_function_against_calculus():
    x = np.array([0.1, -0.7, 1.9, 3.0])
    expected = np.cos(x) * x + np.sin(x) - 2 * x * np.exp(-(x**2))
    np.testing.assert_allclose(elementwise_grad(elementwise)(x), expected, rtol=1e-13)


def test_elementwise_grad_is_the_gradient_of_the_sum():
    """Not elementwise: ``J^T 1`` is the gradient of ``sum(f(x))`` (documented)."""

    def mixing(x):
        return np.cumsum(x**2)

    def summed(x):
        return np.sum(np.cumsum(x**2))

    x = np.array([0.3, -1.2, 0.8])
    np.testing.assert_allclose(elementwise_grad(mixing)(x), grad(summed)(x), rtol=1e-13)


def test_elementwise_grad_of_a_number_and_of_a_second_argument():
    assert elementwise_grad(lambda_free_power)(3.0, 2.0) == pytest.approx(6.0)
    assert elementwise_grad(lambda_free_power, wrt=1)(3.0, 2.0) == pytest.approx(9 * np.log(3.0))


def lambda_free_power(x, y):
    return x**y


def test_elementwise_grad_called_inside_is_differentiated():
    # (higher_order_3.md) d/dx of cos(x) x + sin(x) - 2x exp(-x**2), by calculus
    x = np.array([0.5, 0.2])
    expected = -np.sin(x) * x + 2 * np.cos(x) - 2 * np.exp(-(x**2)) + 4 * x**2 * np.exp(-(x**2))
    np.testing.assert_allclose(grad(lambda_free_twice)(x), expected, rtol=1e-12)


eg = elementwise_grad(elementwise)


def lambda_free_twice(x):
    return np.sum(eg(x))
