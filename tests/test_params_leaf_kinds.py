"""Issue 13, breaker findings F9, F5, F2: leaves of a differentiated container that are
never differentiated (booleans, strings, None, boolean and integer arrays) are read as
constants; integers are differentiated as floats (issue 13) but reach the function as the
caller gave them, and as an index, a count or a shape they carry no derivative (their
gradient is 0.0 there: the function is constant in them between integers); nested loop
targets over ``enumerate``/``zip`` are unpacked like flat ones.

Expected values: calculus where it is short, else central finite differences leaf by
leaf (tests/tree_check.py) or element by element (tests/gradcheck.py)."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import pytest
from gradcheck import check_grad
from tree_check import check_tree_gradient

from ad_transform import ADTransformError, grad, leaf_kinds, value_and_grad, vjp

RNG = np.random.default_rng(1309)
W = np.array([0.3, -0.8, 1.1])
MASK = np.array([True, False, True])


# -- F9: boolean and integer leaves used as masks, conditions and indices ---------------


def test_boolean_mask_leaf_in_where_is_a_constant():  # breaker p66
    def f(p):
        return np.sum(np.where(p["mask"], p["w"] ** 2, np.sin(p["w"])))

    gradient = grad(f)({"w": W, "mask": MASK})
    assert gradient["mask"] is None
    np.testing.assert_allclose(gradient["w"], [2 * 0.3, np.cos(-0.8), 2 * 1.1], rtol=1e-12)


def test_boolean_mask_leaf_as_an_index():
    def f(p):
        return np.sum(p["w"][p["mask"]] ** 2)

    gradient = grad(f)({"w": W, "mask": MASK})
    np.testing.assert_allclose(gradient["w"], [0.6, 0.0, 2.2], rtol=1e-12)
    assert gradient["mask"] is None


def test_integer_leaf_as_an_index_and_range_count():  # breaker p44
    def f(p):
        x = p["w"]
        for _ in range(p["n_steps"]):
            x = np.sin(x)
        return np.sum(x) + x[p["idx"]]

    params = {"w": W, "n_steps": 3, "idx": 1}
    gradient = grad(f)(params)
    assert gradient["n_steps"] == 0.0 and gradient["idx"] == 0.0  # a count, an index
    assert type(gradient["n_steps"]) is float and type(gradient["idx"]) is float
    s1 = np.sin(W)
    s2 = np.sin(s1)
    chain = np.cos(s2) * np.cos(s1) * np.cos(W)  # d sin(sin(sin(w))) / dw
    np.testing.assert_allclose(gradient["w"], chain * [1.0, 2.0, 1.0], rtol=1e-12)
    check_tree_gradient(f, (params,), gradient)


class Config(NamedTuple):
    w: np.ndarray
    k: int


def test_named_tuple_integer_field_as_a_slice_bound():  # breaker p44
    def g(c):
        return np.sum(c.w[: c.k] ** 2) + c[0][c[1]]

    c = Config(np.array([0.5, -1.0, 2.0, 0.25]), 2)
    gradient = grad(g)(c)
    assert type(gradient) is Config and gradient.k == 0.0  # a slice bound, an index
    np.testing.assert_allclose(gradient.w, [1.0, -2.0, 1.0, 0.0], rtol=1e-12)


def test_flag_and_string_leaves_in_conditions():
    def f(p):
        y = p["w"] * 2.0 if p["flag"] else p["w"]
        if p["act"] == "tanh":
            y = np.tanh(y)
        return np.sum(y**2)

    params = {"w": W, "flag": True, "act": "tanh", "nothing": None}
    gradient = grad(f)(params)
    assert gradient["flag"] is None and gradient["act"] is None and gradient["nothing"] is None
    check_tree_gradient(f, (params,), gradient)


@dataclasses.dataclass
class Masked:
    w: np.ndarray
    mask: np.ndarray
    n: int


def test_dataclass_with_mask_and_integer_fields():
    def f(c):
        return np.sum(np.where(c.mask, c.w, 0.0)) * c.n

    c = Masked(W, MASK, 3)
    gradient = grad(f)(c)
    assert type(gradient) is Masked and gradient.mask is None
    assert gradient.n == pytest.approx(0.3 + 1.1, rel=1e-12)  # d/dn of sum(masked w) * n
    np.testing.assert_allclose(gradient.w, [3.0, 0.0, 3.0], rtol=1e-12)


def test_list_of_dataclasses_read_in_a_loop():
    def f(cs):
        total = 0.0
        for c in cs:
            total = total + np.sum(np.where(c.mask, c.w**2, 0.0)) * c.n
        return total

    cs = [Masked(W, MASK, 3), Masked(2 * W, np.array([False, False, True]), 1)]
    gradient = grad(f)(cs)
    np.testing.assert_allclose(gradient[0].w, 2 * W * MASK * 3, rtol=1e-12)
    np.testing.assert_allclose(gradient[1].w, [0.0, 0.0, 2 * 2 * 1.1], rtol=1e-12)
    assert gradient[0].mask is None
    assert gradient[0].n == pytest.approx(0.3**2 + 1.1**2, rel=1e-12)
    assert gradient[1].n == pytest.approx(2.2**2, rel=1e-12)


def test_list_of_layer_dicts_with_masks():
    def f(layers, x):
        for layer in layers:
            x = np.where(layer["mask"], np.tanh(x * layer["w"]), x)
        return np.sum(x**2)

    layers = [
        {"w": RNG.normal(size=3), "mask": MASK},
        {"w": RNG.normal(size=3), "mask": np.array([False, True, True])},
    ]
    x = RNG.normal(size=3)
    gradient = grad(f)(layers, x)
    check_tree_gradient(f, (layers, x), gradient)
    check_grad(f, (layers, x), wrt=1)


def test_enumerated_layers_with_integer_positions():
    def f(layers, x):
        for i, layer in enumerate(layers):
            x = np.sin(x * layer["w"]) + layer["w"][layer["first"]] * i
        return np.sum(x)

    layers = [{"w": RNG.normal(size=3), "first": k} for k in (0, 2)]
    x = RNG.normal(size=3)
    gradient = grad(f)(layers, x)
    check_tree_gradient(f, (layers, x), gradient)
    assert gradient[0]["first"] == 0.0 and gradient[1]["first"] == 0.0  # indices


def test_nested_constant_paths_and_negative_positions():
    def f(p):
        inner = p["cfg"]["inner"]
        return np.sum(p["layers"][-1][0] * inner[1]) * p["layers"][0][-1]

    params = {
        "cfg": {"inner": (True, 2), "name": "net"},
        "layers": [(W, 2.0), (2 * W, 3)],
    }
    gradient = grad(f)(params)
    # d/d inner[1] of sum(2w * inner[1]) * 2.0 = sum(2w) * 2.0; layers[1][1] is not read
    assert gradient["cfg"]["inner"][0] is None and gradient["cfg"]["name"] is None
    assert gradient["cfg"]["inner"][1] == pytest.approx(np.sum(2 * W) * 2.0, rel=1e-12)
    assert gradient["layers"][1][1] == 0.0
    check_tree_gradient(f, (params,), gradient)


def test_get_with_default_and_items_of_a_static_sub_dict():
    def f(p):
        y = np.where(p.get("mask", True), p["w"], 0.0)
        for _name, on in p["switches"].items():
            if on:
                y = y * 2.0
        return np.sum(y**2)

    params = {"w": W, "mask": MASK, "switches": {"a": True, "b": False}}
    gradient = grad(f)(params)
    np.testing.assert_allclose(gradient["w"], 2 * W * MASK * 4, rtol=1e-12)
    assert gradient["switches"] == {"a": None, "b": None}


def test_tuple_argument_unpacked():
    def f(p):
        w, mask = p
        return np.sum(np.where(mask, w, 0.0) ** 2)

    gradient = grad(f)((W, MASK))
    np.testing.assert_allclose(gradient[0], 2 * W * MASK, rtol=1e-12)
    assert gradient[1] is None


def test_loop_over_keys_with_a_static_leaf():
    def f(p):
        s = 0.0
        for k in p:
            if k != "on":
                s = s + np.sum(p[k] ** 2)
        return s

    params = {"a": W, "b": 2 * W, "on": True}
    gradient = grad(f)(params)
    check_tree_gradient(f, (params,), gradient)


def test_read_at_a_key_known_only_when_it_runs_stays_differentiated():
    # params[k] may be the float leaf or the int leaf: both differentiated
    def f(p):
        s = 0.0
        for k in ["a", "n"]:
            s = s + p[k] * 2.0
        return s

    assert grad(f)({"a": 1.5, "n": 3}) == {"a": 2.0, "n": 2.0}


def test_mask_in_a_helper_function():
    def masked(layer, x):
        return np.where(layer["mask"], x * layer["w"], 0.0)

    def f(p, x):
        return np.sum(masked(p["l1"], x) ** 2) + np.sum(masked(p["l2"], x))

    params = {
        "l1": {"w": RNG.normal(size=3), "mask": MASK},
        "l2": {"w": RNG.normal(size=3), "mask": ~MASK},
    }
    x = RNG.normal(size=3)
    gradient = grad(f)(params, x)
    check_tree_gradient(f, (params, x), gradient)


def test_vjp_value_and_grad_and_has_aux():
    def f(p):
        return np.sum(np.where(p["mask"], p["w"], 0.0) ** 2)

    def with_aux(p):
        return np.sum(p["w"][p["idx"]] ** 2), p["n"]

    params = {"w": W, "mask": MASK}
    expected = 2 * W * MASK
    value, pullback = vjp(f)(params)
    np.testing.assert_allclose(pullback(2.0)["w"], 2 * expected, rtol=1e-12)
    value2, gradient = value_and_grad(f)(params)
    assert value == value2 == pytest.approx(np.sum((W * MASK) ** 2))
    np.testing.assert_allclose(gradient["w"], expected, rtol=1e-12)
    gradient, aux = grad(with_aux, has_aux=True)({"w": W, "idx": 2, "n": 4})
    assert aux == 4 and gradient["idx"] == 0.0 and gradient["n"] == 0.0
    np.testing.assert_allclose(gradient["w"], [0.0, 0.0, 2.2], rtol=1e-12)


def test_code_is_generated_for_each_kind_of_leaf():
    # the same function with a float "m": differentiated; with a boolean "m": a constant
    def f(p):
        return np.sum(p["m"] * p["w"])

    g = grad(f)
    assert g({"w": W, "m": MASK})["m"] is None
    floats = np.array([2.0, 3.0, 4.0])
    gradient = g({"w": W, "m": floats})
    np.testing.assert_allclose(gradient["m"], W, rtol=1e-12)
    np.testing.assert_allclose(gradient["w"], floats, rtol=1e-12)
    assert g({"w": W, "m": MASK})["m"] is None


def test_writes_into_the_argument_are_still_refused():
    def through_alias(p):
        q = p["cfg"]
        q["scale"] = p["w"]
        return np.sum(p["cfg"]["scale"] * 2.0)

    def appended(p):
        flags = p["flags"]
        flags.append(p["w"])
        return np.sum(p["flags"][-1])

    with pytest.raises(ADTransformError, match="share memory with the argument"):
        grad(through_alias)({"w": W, "cfg": {"scale": True}})
    with pytest.raises(ADTransformError, match="share memory with the argument"):
        grad(appended)({"w": W, "flags": [True, False]})


def test_a_parameter_rebound_in_the_function_is_followed():
    def f(p):
        s = 0.0
        for _ in range(2):
            s = s + np.sum(p["m"] * p["w"])
            p = {"m": p["w"], "w": p["w"]}
        return s

    params = {"w": W, "m": True}
    gradient = grad(f)(params)
    np.testing.assert_allclose(gradient["w"], 1.0 + 2 * W, rtol=1e-12)


def test_descriptions():
    describe = leaf_kinds.describe
    assert describe({"w": W, "b": 0.5}) == leaf_kinds.DIFF  # the key stays the types
    assert describe({"flag": True, "name": "x", "z": None, "v": np.arange(2)}) == "static"
    assert describe({"n": 3, "flag": True}) == ("dict", (("n", "int"), ("flag", "static")))
    assert describe([{"w": W, "m": MASK}] * 3) == (
        "seq*",
        ("dict", (("w", "diff"), ("m", "static"))),
    )
    assert describe(Config(W, 2)) == ("fields", (("w", "diff"), ("k", "int")), True)
    assert describe({"w": W, "f": np.float32(1.0), "i": np.int64(2)})[1][2] == ("i", "int")
    assert leaf_kinds.argument_facts(({"w": W},), (0,)) is None


# -- F5: integers reach the function as they were given ----------------------------------


def test_integer_leaves_are_ints_inside_the_function():  # breaker p49
    def f(p):
        assert type(p["n"]) is int and type(p["i"]) is np.int64 and p["idx"].dtype.kind == "i"
        x = p["w"] + np.sum(np.zeros(p["n"]))
        for _ in range(p["n"]):
            x = np.sin(x)
        return np.sum(x[p["idx"]]) * p["w"][p["i"]]

    params = {"w": W, "n": 2, "i": np.int64(0), "idx": np.array([0, 2])}
    gradient = grad(f)(params)
    # n: a shape and a count; i: an index; idx: an integer array (never differentiated)
    assert gradient["n"] == 0.0 and gradient["i"] == 0.0 and gradient["idx"] is None
    check_tree_gradient(f, (params,), gradient)


@dataclasses.dataclass
class Layer:
    w: np.ndarray
    fan_in: int

    def __post_init__(self):
        self.scale = 1.0 / np.sqrt(self.fan_in)


def test_dataclass_with_an_integer_field_is_passed_as_it_is():  # breaker p71
    # the field itself, not 'layer.scale' derived from it in __post_init__: reading a
    # derived attribute is refused (what it was computed from is not known)
    def loss(layer, x):
        assert type(layer.fan_in) is int
        return np.sum(np.tanh(x @ layer.w) / np.sqrt(layer.fan_in))

    layer, x = Layer(RNG.normal(size=(3, 2)), 3), RNG.normal(size=(4, 3))
    gradient = grad(loss)(layer, x)
    # d/dn of sum(tanh(x w)) / sqrt(n) = -sum(tanh(x w)) / (2 n^1.5)
    expected_fan_in = -np.sum(np.tanh(x @ layer.w)) / (2 * 3**1.5)
    assert gradient.fan_in == pytest.approx(expected_fan_in, rel=1e-12)
    expected = x.T @ (1 - np.tanh(x @ layer.w) ** 2) / np.sqrt(3)
    np.testing.assert_allclose(gradient.w, expected, rtol=1e-12)


def test_top_level_integer_is_still_differentiated_as_a_float():
    def f(x):
        return x**3

    assert grad(f)(3) == 27.0 and type(grad(f)(3)) is float


# -- F2: nested loop targets -------------------------------------------------------------


def test_enumerate_with_nested_target_over_a_list_of_pairs():  # breaker p34, p31
    def f(layers, x):
        for i, (w, b) in enumerate(layers):
            x = np.sin(x * w + b * (i + 1))
        return x

    layers = [(0.3, 0.2), (1.1, -0.4)]
    gradient = grad(f)(layers, 0.5)
    check_tree_gradient(f, (layers, 0.5), gradient)
    check_grad(f, (layers, 0.5), wrt=1)


def test_zip_with_nested_target():  # breaker p35
    def f(layers, x):
        for (w, b), s in zip(layers, [1.0, 2.0]):
            x = np.sin(x * w * s + b)
        return x

    layers = [(0.3, 0.2), (1.1, -0.4)]
    check_tree_gradient(f, (layers, 0.5), grad(f)(layers, 0.5))


def test_nested_target_over_a_list_built_in_the_function():  # breaker p35
    def f(x):
        pairs = [(x, 2.0 * x), (x * x, 1.0)]
        s = 0.0
        for i, (a, b) in enumerate(pairs):
            s = s + a * b * (i + 1)
        return s

    # s = 2 x^2 + 2 x^2: 8 x
    assert grad(f)(0.7) == pytest.approx(8 * 0.7, rel=1e-12)


def test_nested_targets_in_comprehensions_and_other_loops():
    def comprehension(x):
        layers = [(x, 2.0), (x * x, 3.0)]
        return sum(w * b * (i + 1) for i, (w, b) in enumerate(layers))  # 2x + 6x^2

    def items(x):
        d = {"a": (x, 2.0), "b": (x * x, 3.0)}
        s = 0.0
        for _, (w, b) in d.items():
            s = s + w * b  # 2x + 3x^2
        return s

    def starred(x):
        layers = [(x, 2.0, 1.0), (x * x, 3.0, 2.0)]
        s = 0.0
        for i, (w, *rest) in enumerate(layers):
            s = s + w * rest[0] * rest[1] * (i + 1)  # 2x + 12x^2
        return s

    def deep(x):
        layers = [((x, 2.0), 1.5), ((x * x, 3.0), 0.5)]
        s = 0.0
        for i, ((w, b), c) in enumerate(layers, 1):
            s = s + w * b * c * i  # 3x + 3x^2
        return s

    def two_nested(x):
        s = 0.0
        for (p, q), [r, t] in zip([(x, 2.0), (x * x, 3.0)], [[1.0, x], [2.0, 3.0]]):
            s = s + p * q * r * t  # 2x^2 + 18x^2
        return s

    def broken(x):
        s = 0.0
        for i, (p, q) in enumerate([(x, 2.0), (x * x, 3.0), (x, 5.0)]):
            if i == 2:
                break
            s = s + p * q  # 2x + 3x^2
        return s

    def dict_comprehension(x):
        d = {"a": (x, 2.0), "b": (x * x, 3.0)}
        e = {k: w * b for k, (w, b) in d.items()}
        return e["a"] + e["b"]  # 2x + 3x^2

    def list_targets(x):
        s = 0.0
        for [i, w] in enumerate([x, x * x]):
            s = s + w * (i + 1)  # x + 2x^2
        for [a, b] in zip([x, x * x], [1.0, 2.0]):
            s = s + a * b  # x + 2x^2
        return s

    def rows(x):
        ls = [[(x, 1.0), (2.0, x)], [(x * x, 3.0)]]
        return sum(a * b for row in ls for _, (a, b) in enumerate(row))  # 3x + 3x^2

    x = 0.7
    for f, expected in [
        (dict_comprehension, 2 + 6 * x),
        (list_targets, 2 + 8 * x),
        (rows, 3 + 6 * x),
        (comprehension, 2 + 12 * x),
        (items, 2 + 6 * x),
        (starred, 2 + 24 * x),
        (deep, 3 + 6 * x),
        (two_nested, 40 * x),
        (broken, 2 + 6 * x),
    ]:
        assert grad(f)(x) == pytest.approx(expected, rel=1e-12), f.__name__


def test_nested_target_over_parameters_in_a_list_comprehension():
    def f(layers, x):
        return np.sum([np.sum(np.tanh(x @ w + b)) for _, (w, b) in enumerate(layers)])

    layers = [(RNG.normal(size=(3, 2)), RNG.normal(size=2)) for _ in range(2)]
    x = RNG.normal(size=(4, 3))
    check_tree_gradient(f, (layers, x), grad(f)(layers, x))
