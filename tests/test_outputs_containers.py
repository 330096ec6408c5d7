"""Issue 13: functions returning containers (tuples, lists of differently shaped arrays,
dicts, named tuples, dataclasses); ``vjp`` takes a cotangent of the same structure, a
mismatch names the path of the leaf. Checked by the dot-product test ``<u, J^T v> ==
<J u, v>`` with random non-uniform cotangents ``v`` and directions ``u``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pytest

from ad_transform import grad, tree_leaves, tree_map, value_and_grad, vjp

RNG = np.random.default_rng(1313)


def random_cotangent(value):
    """A standard-normal cotangent of ``value``'s structure (floats for scalar leaves)."""

    def draw(leaf):
        if isinstance(leaf, np.ndarray):
            return RNG.normal(size=leaf.shape)
        return float(RNG.normal())

    return tree_map(draw, value)


def inner(a, b) -> float:
    return float(sum(np.sum(np.asarray(x) * np.asarray(y)) for x, y in zip(a, b)))


def dot_product_test(f, x, eps=1e-6):
    """``<u, J^T v>`` from ``vjp(f)`` equals ``<J u, v>`` from central differences."""
    value, pullback = vjp(f)(x)
    reference = f(x)
    for got, expected in zip(tree_leaves(value), tree_leaves(reference)):
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    v = random_cotangent(value)
    leaves_v = tree_leaves(v)
    assert len({round(float(np.ravel(leaf)[0]), 12) for leaf in leaves_v}) > 1 or all(
        np.ptp(np.ravel(leaf)) > 0 for leaf in leaves_v if np.size(leaf) > 1
    )
    u = RNG.normal(size=np.shape(x))
    jtv = pullback(v)
    plus, minus = tree_leaves(f(x + eps * u)), tree_leaves(f(x - eps * u))
    ju = [(np.asarray(p) - np.asarray(m)) / (2 * eps) for p, m in zip(plus, minus)]
    left, right = float(np.sum(u * jtv)), inner(ju, leaves_v)
    assert left == pytest.approx(right, rel=1e-6, abs=1e-8)
    return value, pullback


X = RNG.normal(size=5)


def test_split_into_differently_shaped_arrays():
    def f(v):
        return np.split(v, [1, 3])

    value, _ = dot_product_test(f, X)
    assert [part.shape for part in value] == [(1,), (2,), (2,)]


def test_tuple_of_a_scalar_and_an_array():
    def f(v):
        return np.sum(v**2), np.sin(v) * v[0]

    dot_product_test(f, X)


def test_dict_with_nested_tuple():
    def f(v):
        return {"a": v * 2.0, "b": (np.cos(v[:3]), v[0] * v[1])}

    dot_product_test(f, X)


class Stats(NamedTuple):
    mean: float
    centered: np.ndarray


def test_named_tuple_output():
    def f(v):
        m = np.mean(v)
        return Stats(m, (v - m) ** 2)

    value, _ = dot_product_test(f, X)
    assert type(value) is Stats


class Scaled(NamedTuple):
    values: np.ndarray
    scale: float = 2.0


def test_named_tuple_built_with_keywords_and_a_default():
    def f(v):
        first = Scaled(values=np.sin(v))
        second = Scaled(v**2, scale=v[0])
        return first.values * first.scale, second[0] * second.scale

    dot_product_test(f, X)


@dataclass
class Pair:
    first: np.ndarray
    second: float


def test_dataclass_output():
    def f(v):
        return Pair(np.exp(v), np.sum(v) ** 2)

    value, _ = dot_product_test(f, X)
    assert type(value) is Pair


def test_list_comprehension_output():
    def f(v):
        return [v[k] * v[k + 1] for k in range(4)]

    dot_product_test(f, X)


def test_none_is_a_zero_cotangent_of_a_leaf():
    def f(v):
        return v * 3.0, np.sum(v)

    _, pullback = vjp(f)(X)
    np.testing.assert_allclose(pullback((np.ones(5), None)), 3.0 * np.ones(5))


def test_pullback_of_dict_parameters_and_dict_output():
    def f(p):
        return {"y": p["w"] * p["s"], "z": np.sum(p["w"])}

    params = {"w": RNG.normal(size=3), "s": 0.5}
    _, pullback = vjp(f)(params)
    v = {"y": RNG.normal(size=3), "z": 0.7}
    got = pullback(v)
    np.testing.assert_allclose(got["w"], v["y"] * 0.5 + 0.7, rtol=1e-12)
    assert got["s"] == pytest.approx(float(np.sum(v["y"] * params["w"])), rel=1e-12)


@pytest.mark.parametrize(
    ("cotangent", "path"),
    [
        ({"a": np.ones(5), "b": (np.ones(3), np.ones(2))}, r"cotangent\['b'\]\[1\] has shape"),
        ({"a": np.ones(5), "b": [np.ones(3), 1.0]}, r"cotangent\['b'\] is a list"),
        ({"a": np.ones(5)}, r"cotangent has the keys \['a'\]"),
        ({"a": np.ones(4), "b": (np.ones(3), 1.0)}, r"cotangent\['a'\] has shape \(4,\)"),
        (np.ones(5), r"cotangent is an array of shape \(5,\) where the function's value has"),
    ],
)
def test_mismatched_cotangent_names_the_path(cotangent, path):
    def f(v):
        return {"a": v * 2.0, "b": (np.cos(v[:3]), v[0] * v[1])}

    _, pullback = vjp(f)(X)
    with pytest.raises(ValueError, match=path):
        pullback(cotangent)


def double(v):
    return v * 2.0


def test_array_output_given_a_container_cotangent():
    _, pullback = vjp(double)(X)
    with pytest.raises(ValueError, match="cotangent is a list"):
        pullback([1.0] * 5)


def test_value_and_grad_returns_the_value_as_the_function_returned_it():
    def f(v):
        return np.sum(v**2)

    value, gradient = value_and_grad(f)(X)
    assert type(value) is type(f(X)) and value == f(X)
    np.testing.assert_allclose(gradient, 2 * X, rtol=1e-12)


def pair_of(v):
    return np.sum(v), v


def test_grad_of_a_container_output_is_refused_with_the_vjp_hint():
    with pytest.raises(Exception, match="vjp"):
        grad(pair_of)(X)


def cube_and_square(v):
    c = v**3
    return c, v * v


def test_changing_a_returned_array_does_not_change_the_pullback():
    x = np.array([1.0, 2.0])
    value, pullback = vjp(cube_and_square)(x)
    first = pullback((np.ones(2), np.ones(2)))
    value[0][:] = 100.0
    value[1][:] = 100.0
    np.testing.assert_allclose(pullback((np.ones(2), np.ones(2))), first)
    np.testing.assert_allclose(first, 3 * x**2 + 2 * x)
