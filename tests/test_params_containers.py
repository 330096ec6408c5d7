"""Issue 13: differentiated arguments that are containers (dicts, lists, tuples, named
tuples, dataclasses, registered types, nests of them); the gradient has the argument's
structure. Expected values: central finite differences leaf by leaf (tests/tree_check.py)."""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pytest
from tree_check import check_tree_gradient

from ad_transform import (
    ADTransformError,
    grad,
    register_pytree_node,
    tree_leaves,
    tree_map,
    value_and_grad,
    vjp,
)

RNG = np.random.default_rng(13)
X = RNG.normal(size=(4, 3))


def mlp_loss(params, x):
    hidden = np.tanh(x @ params["w1"] + params["b1"])
    return np.sum((hidden @ params["w2"] + params["b2"]) ** 2) / len(x)


def mlp_params():
    return {
        "w1": RNG.normal(size=(3, 5)),
        "b1": RNG.normal(size=5),
        "w2": RNG.normal(size=(5, 2)),
        "b2": 0.3,
    }


def test_dict_parameters_of_a_network():
    params = mlp_params()
    gradient = grad(mlp_loss)(params, X)
    check_tree_gradient(mlp_loss, (params, X), gradient)
    assert type(gradient["b2"]) is float


def test_dict_key_order_is_kept_and_unreached_keys_get_zeros():
    def f(p):
        return np.sum(p["a"] ** 2) * p["c"]

    params = {"c": 1.5, "b": np.ones(3), "a": np.array([1.0, -2.0])}
    gradient = grad(f)(params)
    assert list(gradient) == ["c", "b", "a"]
    np.testing.assert_array_equal(gradient["b"], np.zeros(3))
    check_tree_gradient(f, (params,), gradient)


def test_generated_code_reads_the_leaves_where_they_are_used():
    source = grad(mlp_loss).source_for(mlp_params(), X)
    assert "params['w1']" in source and "params['b2']" in source
    assert "flatten" not in source and "leaves" not in source


def test_the_arguments_are_not_changed_and_gradients_do_not_alias_them():
    params = mlp_params()
    before = {k: np.copy(v) for k, v in params.items()}
    gradient = grad(mlp_loss)(params, X)
    for key, value in params.items():
        np.testing.assert_array_equal(value, before[key])
        if isinstance(value, np.ndarray):
            assert not np.shares_memory(value, gradient[key])


def test_list_of_layers_iterated():
    def f(layers, x):
        for layer in layers:
            x = np.tanh(x @ layer["w"] + layer["b"])
        return np.sum(x**2)

    layers = [
        {"w": RNG.normal(size=(3, 4)), "b": RNG.normal(size=4)},
        {"w": RNG.normal(size=(4, 2)), "b": 0.1},
    ]
    gradient = grad(f)(layers, X)
    check_tree_gradient(f, (layers, X), gradient)


def test_tuple_unpacking_and_len():
    def f(p):
        w, b = p
        return np.sum(np.sin(w) * b) * len(p)

    params = (RNG.normal(size=3), 0.7)
    gradient = grad(f)(params)
    assert type(gradient) is tuple
    check_tree_gradient(f, (params,), gradient)


class Linear(NamedTuple):
    w: np.ndarray
    b: float


def test_named_tuple_fields_indexing_and_unpacking():
    def f(p, x):
        w, b = p
        return np.sum(np.tanh(x @ p.w + p.b) ** 2) + p[1] * np.sum(w) + b

    params = Linear(RNG.normal(size=(3, 2)), 0.4)
    gradient = grad(f)(params, X)
    assert type(gradient) is Linear
    check_tree_gradient(f, (params, X), gradient)


def test_collections_namedtuple():
    Pair = collections.namedtuple("Pair", "a b")

    def f(p):
        return p.a * np.sum(p.b**2)

    params = Pair(1.5, RNG.normal(size=3))
    gradient = grad(f)(params)
    assert type(gradient) is Pair
    check_tree_gradient(f, (params,), gradient)


def test_named_tuple_methods_other_than_fields_are_refused():
    def f(p):
        return p._replace(b=2.0).b * p.b

    with pytest.raises(ADTransformError):
        grad(f)(Linear(np.ones(2), 1.0))


@dataclass
class Layer:
    w: np.ndarray
    b: float


@dataclass(frozen=True)
class Frozen:
    scale: float
    shift: np.ndarray


def test_dataclass_fields():
    def f(p, x):
        return np.sum(np.tanh(x @ p.w + p.b) ** 2)

    params = Layer(RNG.normal(size=(3, 2)), -0.2)
    gradient = grad(f)(params, X)
    assert type(gradient) is Layer
    check_tree_gradient(f, (params, X), gradient)


def test_frozen_dataclass():
    def f(p):
        return np.sum((p.scale * p.shift) ** 3)

    params = Frozen(0.8, RNG.normal(size=4))
    gradient = grad(f)(params)
    assert type(gradient) is Frozen
    check_tree_gradient(f, (params,), gradient)


def test_nested_dicts_lists_and_tuples_with_items_iteration():
    def f(p):
        total = 0.0
        for _name, (w, scale) in p["pairs"].items():
            total = total + scale * np.sum(np.cos(w))
        return total + p["extra"][0] * p["extra"][1][0]

    params = {
        "pairs": {"u": (RNG.normal(size=3), 2.0), "v": (RNG.normal(size=(2, 2)), -1.0)},
        "extra": [0.5, [3.0, 4.0]],
    }
    gradient = grad(f)(params)
    check_tree_gradient(f, (params,), gradient)


def test_integers_are_differentiated_as_floats_and_passed_as_they_are():
    # issue 13: ints differentiated as floats; F5: they reach f as ints; integer arrays
    # are index arrays and are not differentiated (leaf_kinds.md)
    def f(p):
        assert type(p["n"]) is int and p["v"].dtype.kind == "i"
        return p["n"] ** 2 * np.sum(p["v"] ** 2) * p["w"]

    params = {"n": 3, "v": np.array([1, 2, 3]), "w": 0.5}
    gradient = grad(f)(params)
    assert gradient["n"] == pytest.approx(2 * 3 * 14 * 0.5, rel=1e-12)  # 2 n sum(v^2) w
    assert type(gradient["n"]) is float and gradient["v"] is None
    assert type(gradient["w"]) is float
    check_tree_gradient(f, (params,), gradient)


def test_non_differentiable_leaves_get_none():
    def f(p):
        y = p["w"] * 2.0 if p["flag"] else p["w"]
        return np.sum(y**2) * len(p["name"])

    params = {"w": RNG.normal(size=3), "flag": True, "name": "layer1", "nothing": None}
    gradient = grad(f)(params)
    assert gradient["flag"] is None and gradient["name"] is None and gradient["nothing"] is None
    check_tree_gradient(f, (params,), gradient)


def test_float32_leaves_keep_their_dtype():
    def f(p):
        return np.sum(p["w"] ** 2) + p["s"]

    params = {"w": np.ones(3, dtype=np.float32), "s": np.float32(2.0)}
    gradient = grad(f)(params)
    assert gradient["w"].dtype == np.float32 and type(gradient["s"]) is np.float32
    np.testing.assert_allclose(gradient["w"], 2 * np.ones(3))


def test_complex_leaves_are_refused():
    with pytest.raises(TypeError, match=r"argument 0\['z'\]"):
        grad(lambda p: abs(p["z"]))({"z": 1j})


def test_object_of_an_unregistered_class_in_a_container_is_refused():
    class Holder:
        def __init__(self, a):
            self.a = a

    def f(p):
        return p["o"].a * 2.0

    with pytest.raises(ADTransformError):
        grad(f)({"o": Holder(3.0)})


def test_several_wrt_arguments_containers_and_arrays():
    params = mlp_params()
    dparams, dx = grad(mlp_loss, wrt=(0, 1))(params, X)
    check_tree_gradient(mlp_loss, (params, X), dparams)
    check_tree_gradient(lambda x, p: mlp_loss(p, x), (X, params), dx)


def test_value_and_grad_and_vjp_of_dict_parameters():
    params = mlp_params()
    value, gradient = value_and_grad(mlp_loss)(params, X)
    assert value == pytest.approx(mlp_loss(params, X), rel=1e-12)
    check_tree_gradient(mlp_loss, (params, X), gradient)
    value, pullback = vjp(mlp_loss)(params, X)
    pulled = pullback(2.0)
    for key in params:
        np.testing.assert_allclose(pulled[key], 2.0 * np.asarray(gradient[key]), rtol=1e-12)
    assert type(pulled["b2"]) is float


def test_vjp_saves_copies_of_the_arrays_in_container_arguments():
    def f(p):
        return np.sum(p["w"] ** 3)

    params = {"w": np.array([1.0, 2.0])}
    _, pullback = vjp(f)(params)
    params["w"][:] = 10.0  # the caller changes its array after the call
    np.testing.assert_allclose(pullback(1.0)["w"], [3.0, 12.0])


class Affine:
    """A user type registered as a container (not a dataclass)."""

    def __init__(self, weight, offset):
        self.weight, self.offset = weight, offset


register_pytree_node(Affine, lambda a: ((a.weight, a.offset), None), lambda _, c: Affine(*c))


def test_registered_custom_node():
    def f(a, x):
        return np.sum(np.sin(x @ a.weight) * a.offset)

    params = Affine(RNG.normal(size=(3, 2)), 1.3)
    gradient = grad(f)(params, X)
    assert type(gradient) is Affine
    numeric_w = _numeric(lambda w: f(Affine(w, params.offset), X), params.weight)
    numeric_b = _numeric(lambda b: f(Affine(params.weight, b), X), params.offset)
    np.testing.assert_allclose(gradient.weight, numeric_w, rtol=1e-6)
    assert gradient.offset == pytest.approx(numeric_b, rel=1e-6)
    assert type(gradient.offset) is float


def _numeric(f, x, eps=1e-6):
    if np.ndim(x) == 0:
        return (f(x + eps) - f(x - eps)) / (2 * eps)
    out = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        out[index] = (f(plus) - f(minus)) / (2 * eps)
    return out


# -- the tree helpers -------------------------------------------------------------------


def test_tree_map_over_two_trees_keeps_types_and_order():
    params = {"b": Linear(np.ones(2), 1.0), "a": [2.0, (3.0, Layer(np.ones(1), 4.0))], "n": None}
    grads = {"a": [1.0, (1.0, Layer(np.ones(1), 1.0))], "b": Linear(np.ones(2), 2.0), "n": None}
    new = tree_map(lambda p, g: p - 0.5 * g, params, grads)
    assert list(new) == ["b", "a", "n"]
    assert type(new["b"]) is Linear and type(new["a"][1]) is tuple
    assert type(new["a"][1][1]) is Layer and new["n"] is None
    assert new["b"].b == 0.0 and new["a"][0] == 1.5 and new["a"][1][1].b == 3.5
    np.testing.assert_array_equal(new["b"].w, [0.5, 0.5])
    assert tree_leaves(new)[0] is new["b"].w


def test_tree_map_names_the_path_of_a_mismatch():
    with pytest.raises(ValueError, match=r"tree 1\['a'\]\[1\]"):
        tree_map(lambda a, b: a + b, {"a": [1.0, (2.0, 3.0)]}, {"a": [1.0, [2.0, 3.0]]})
    with pytest.raises(ValueError, match=r"tree 1 has the keys"):
        tree_map(lambda a, b: a + b, {"a": 1.0}, {"b": 1.0})


def test_tree_map_of_a_registered_node():
    new = tree_map(lambda v: v * 2, Affine(np.ones(2), 3.0))
    assert type(new) is Affine and new.offset == 6.0


# -- containers passed on, methods, refusals ---------------------------------------------


def sum_of_fields(t):
    return np.sum(t.w) * t.b


def squared_norm_of_w(q):
    return np.sum(q["w"] ** 2)


def test_named_tuple_and_dict_passed_to_helpers():
    def f(t, q):
        return sum_of_fields(t) * 2.0 + squared_norm_of_w(q) * q["b"]

    t, q = Linear(RNG.normal(size=3), 0.6), {"w": RNG.normal(size=2), "b": 1.7}
    dt, dq = grad(f, wrt=(0, 1))(t, q)
    check_tree_gradient(f, (t, q), dt, position=0)
    check_tree_gradient(f, (t, q), dq, position=1)


@dataclass
class Scaler:
    w: np.ndarray
    b: float

    def apply(self, x):
        return np.sum(self.w * x) * self.b


def test_method_of_a_dataclass_parameter():
    def f(model, x):
        return model.apply(x) ** 2

    model, x = Scaler(RNG.normal(size=3), 0.9), RNG.normal(size=3)
    check_tree_gradient(f, (model, x), grad(f)(model, x))


def test_same_array_under_two_keys_gets_two_gradients():
    def f(p):
        return np.sum(p["a"] * p["b"] ** 2)

    w = np.array([1.0, 2.0])
    gradient = grad(f)({"a": w, "b": w})
    np.testing.assert_allclose(gradient["a"], w**2)
    np.testing.assert_allclose(gradient["b"], 2 * w * w)


def store_into_argument(p):
    p["w"] = p["w"] * 2.0
    return np.sum(p["w"])


def add_in_place_to_a_leaf(p):
    w = p["w"]
    w += 1.0
    return np.sum(w)


def append_to_argument(p):
    p.append(1.0)
    return p[0]


@pytest.mark.parametrize(
    ("f", "arg"),
    [
        (store_into_argument, {"w": np.ones(2)}),
        (add_in_place_to_a_leaf, {"w": np.ones(2)}),
        (append_to_argument, [1.0]),
    ],
)
def test_writes_into_container_arguments_are_refused(f, arg):
    before = repr(arg)
    with pytest.raises(ADTransformError, match="argument 'p'"):
        grad(f)(arg)
    assert repr(arg) == before


class Opaque:
    def __init__(self, a):
        self.a = a


register_pytree_node(Opaque, lambda o: ((o.a * 1.0,), None), lambda _, c: Opaque(*c))


def test_registered_node_whose_children_are_not_its_attributes_is_refused():
    def f(o):
        return np.sum(o.a) * 2.0

    with pytest.raises(ADTransformError, match="not an attribute"):
        grad(f)(Opaque(np.ones(2)))


# -- objects inside containers: the attribute read asks the object when it runs -----------


def test_list_of_dataclass_layers():
    def f(layers, x):
        for layer in layers:
            x = np.tanh(x @ layer.w + layer.b)
        return np.sum(x**2)

    layers = [Layer(RNG.normal(size=(3, 4)), 0.2), Layer(RNG.normal(size=(4, 2)), -0.1)]
    gradient = grad(f)(layers, X)
    check_tree_gradient(f, (layers, X), gradient)


def test_named_tuples_and_dataclasses_inside_a_dict():
    def f(p):
        return np.sum(p["lin"].w * p["lin"].b) + p["frozen"].scale * np.sum(p["frozen"].shift)

    params = {
        "lin": Linear(RNG.normal(size=3), 1.1),
        "frozen": Frozen(0.4, RNG.normal(size=2)),
    }
    check_tree_gradient(f, (params,), grad(f)(params))


@dataclass(slots=True)
class Slotted:
    w: np.ndarray
    b: float


def test_slotted_dataclass_in_a_list():
    def f(items):
        return sum(np.sum(item.w) * item.b for item in items)

    items = [Slotted(RNG.normal(size=2), 0.5), Slotted(RNG.normal(size=3), 2.0)]
    check_tree_gradient(f, (items,), grad(f)(items))


@dataclass
class WithProperty:
    w: np.ndarray

    @property
    def doubled(self):
        return self.w * 2.0


class Doubled(Linear):
    @property
    def w(self):
        return self[0] * 2.0


def read_doubled(items):
    return np.sum(items[0].doubled)


def read_overridden_field(items):
    return np.sum(items[0].w)


@pytest.mark.parametrize(
    ("f", "items", "attribute"),
    [
        (read_doubled, [WithProperty(np.ones(2))], "doubled"),
        (read_overridden_field, [Doubled(np.ones(2), 1.0)], "w"),
    ],
)
def test_computed_attributes_of_objects_inside_containers_are_refused(f, items, attribute):
    with pytest.raises(ADTransformError, match=rf"attribute read '\.{attribute}'"):
        grad(f)(items)
