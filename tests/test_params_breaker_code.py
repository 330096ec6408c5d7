"""Issue 13, breaker findings on how differentiated code uses a container parameter:
keys from iterating a dict (F1), ``d.copy()`` of a parameter (F3), ``dict(...)`` (F4),
``p["w"].copy()`` changed in place (F12), the tree helpers inside the function (F7), and
lists of differentiated values given to NumPy (breaker16 C4/C8). Expected values:
central finite differences leaf by leaf (tests/tree_check.py, tests/gradcheck.py) or
calculus."""

from __future__ import annotations

import copy
import dataclasses
from typing import NamedTuple

import numpy as np
import pytest
import scipy.special as sp
from gradcheck import check_grad
from tree_check import check_tree_gradient

from ad_transform import ADTransformError, grad, tree_leaves, tree_map

RNG = np.random.default_rng(1313)


def arrays():
    return {"a": RNG.normal(size=2), "b": RNG.normal(size=3)}


def check(f, *args, position=0):
    """grad(f) with respect to ``args[position]`` against central differences."""
    gradient = grad(f, wrt=position)(*args)
    check_tree_gradient(f, args, gradient, position)
    return gradient


# -- F1: keys from iterating a dict parameter carry no derivative --------------------------


def loop_over_dict(params):
    s = 0.0
    for k in params:
        s = s + np.sum(params[k] ** 2)
    return s


def sorted_keys(params):
    return sum(np.sum(np.sin(params[k])) * (i + 1) for i, k in enumerate(sorted(params)))


def first_key_of_list(params):
    keys = list(params)
    return np.sum(params[keys[0]]) * np.sum(params[keys[1]] ** 3)


def generator_over_dict(params):
    return sum(np.sum(params[k]) ** 2 for k in params)


def get_with_iterated_keys(params):
    return sum(np.sum(params.get(k) ** 2) for k in params)


def comprehension_over_dict(params):
    return sum([np.prod(params[k]) for k in params])


@pytest.mark.parametrize(
    "f",
    [
        loop_over_dict,
        sorted_keys,
        first_key_of_list,
        generator_over_dict,
        get_with_iterated_keys,
        comprehension_over_dict,
    ],
)
def test_keys_of_a_dict_parameter_carry_no_derivative(f):
    check(f, arrays())


def test_loop_over_dict_is_twice_each_leaf():
    p = arrays()
    g = grad(loop_over_dict)(p)
    np.testing.assert_allclose(g["a"], 2 * p["a"])
    np.testing.assert_allclose(g["b"], 2 * p["b"])


def nested_loop(p):
    s = 0.0
    for k in p["enc"]:
        s = s + np.sum(p["enc"][k] ** 2)
    return s * p["c"]


def nested_get(p):
    enc = p["enc"]
    return sum(np.sum(enc.get(k) ** 2) for k in enc) * p["c"]


def nested_keys_into_new_dict(p):
    out = {}
    for k in p["enc"]:
        out[k] = p["enc"][k] * p["c"]
    return np.sum(out["x"]) + np.sum(out["y"] ** 2)


@pytest.mark.parametrize("f", [nested_loop, nested_get, nested_keys_into_new_dict])
def test_keys_of_a_dict_inside_a_dict_parameter(f):
    check(f, {"enc": {"x": RNG.normal(size=2), "y": RNG.normal(size=3)}, "c": 1.3})


def loop_over_list_of_values(p):
    s = 0.0
    for v in p["vals"]:  # elements used as values: differentiated
        s = s + v * v * p["c"]
    return s


def test_elements_of_an_unknown_container_used_as_values_stay_differentiated():
    p = {"vals": [0.4, -1.1, 2.0], "c": 0.7}
    g = check(loop_over_list_of_values, p)
    assert g["vals"] == pytest.approx([2 * 0.4 * 0.7, 2 * -1.1 * 0.7, 2 * 2.0 * 0.7])


def get_with_differentiated_key(p):
    return p["table"].get(p["b"], 1.0) * 2.0


def test_dict_get_refusal_names_dict_not_numpy():
    with pytest.raises(ADTransformError, match="taken for dict's") as info:
        grad(get_with_differentiated_key)({"table": {0.5: 3.0}, "b": 0.5})
    assert "NumPy" not in str(info.value)


# -- F3: copies of a container parameter --------------------------------------------------


def copy_and_store(params):
    q = params.copy()
    q["b"] = q["b"] ** 2
    return np.sum(q["b"] * params["w"])


def copy_without_store(params):
    q = params.copy()
    return np.sum(q["b"] ** 2 * q["w"])


def copy_and_add_key(params):
    q = params.copy()
    q["z"] = q["b"] * 3.0
    return np.sum(q["w"] * q["z"])


def test_dict_copy_of_floats_is_the_breakers_value():
    g = grad(copy_and_store)({"w": 1.5, "b": 0.4})
    assert g == {"w": pytest.approx(0.16), "b": pytest.approx(1.2)}


@pytest.mark.parametrize("f", [copy_and_store, copy_without_store, copy_and_add_key])
@pytest.mark.parametrize("values", ["floats", "arrays"])
def test_dict_copy_of_a_parameter(f, values):
    p = {"w": 1.5, "b": 0.4} if values == "floats" else arrays_wb()
    check(f, p)


def arrays_wb():
    return {"w": RNG.normal(size=3), "b": RNG.normal(size=3)}


def nested_copy_new_key(p):
    q = p["enc"].copy()
    q["z"] = q["b"] * 3.0
    q["b"] = q["b"] ** 2
    return np.sum(q["a"]) * q["z"] * q["b"] * p["c"]


def test_copy_of_a_dict_inside_a_dict_parameter():
    check(nested_copy_new_key, {"enc": {"a": RNG.normal(size=2), "b": 0.5}, "c": 2.0})


def list_copy(layers):
    m = layers.copy()
    m[1] = m[1] ** 2
    m.append(m[0] * 2.0)
    return np.sum(m[0] * m[1]) + np.sum(m[2])


def test_copy_of_a_list_parameter():
    check(list_copy, [RNG.normal(size=2), RNG.normal(size=2)])


def shallow_copy_element_in_place(layers):
    m = layers.copy()
    w = m[0]
    w += 1.0  # changes layers[0] too: a list's copy holds the same arrays
    return np.sum(w * layers[0])


def test_in_place_change_through_a_shallow_copy_of_a_list_argument_is_refused():
    # it was a wrong gradient: the copy was taken for a new array holding nothing
    with pytest.raises(ADTransformError, match="caller's data in place"):
        grad(shallow_copy_element_in_place)([np.array([1.0, 2.0]), np.array([3.0, 0.5])])


def copy_module_copy(params):
    q = copy.copy(params)
    q["b"] = q["b"] ** 2
    return np.sum(q["w"] * q["b"])


def copy_module_deepcopy(params):
    q = copy.deepcopy(params)
    q["b"] = q["w"] * q["b"]
    return np.sum(q["b"] ** 2)


@pytest.mark.parametrize("f", [copy_module_copy, copy_module_deepcopy])
def test_copy_module_copies_of_a_parameter(f):
    check(f, arrays_wb())


# -- F4: dict(...) ------------------------------------------------------------------------


def dict_of_params(params, x):
    q = dict(params)
    q["w"] = q["w"] * 2.0
    return np.sum(q["w"] * x) + q["b"]


def dict_with_keyword(params, x):
    q = dict(params, b=params["b"] ** 2)
    return np.sum(q["w"] * x) * q["b"]


def dict_of_spread(params, x):
    q = dict(**params)
    return np.sum(q["w"] ** 2 * x) + q["b"] * 3.0


def dict_of_keywords(params, x):
    q = dict(w=params["w"] * x, c=params["b"])
    return np.sum(q["w"]) * q["c"]


def dict_spread_and_keyword(params, x):
    q = dict(**params, c=params["b"])
    return np.sum(q["w"]) * q["c"] + q["b"]


def dict_keyword_replaces(params, x):
    q = dict(params, w=x)
    return np.sum(q["w"] * q["b"])


def dict_in_an_expression(params, x):
    return dict(params)["b"] * np.sum(x)


def display_with_spread(params, x):
    q = {**params, "b": params["b"] ** 2}
    q["w"] = q["w"] * x
    return np.sum(q["w"]) * q["b"]


@pytest.mark.parametrize(
    "f",
    [
        dict_of_params,
        dict_with_keyword,
        dict_of_spread,
        dict_of_keywords,
        dict_spread_and_keyword,
        dict_keyword_replaces,
        dict_in_an_expression,
        display_with_spread,
    ],
)
def test_dict_call_copies(f):
    params, x = {"w": RNG.normal(size=3), "b": 0.4}, RNG.normal(size=3)
    check(f, params, x)
    check(f, params, x, position=1)


def test_dict_keyword_replaces_value_gets_zero():
    g = grad(dict_keyword_replaces)({"w": np.ones(3), "b": 0.4}, np.arange(3.0))
    np.testing.assert_array_equal(g["w"], np.zeros(3))
    assert g["b"] == pytest.approx(3.0)


def dict_of_scalars(x):
    d = dict(a=x, b=x * x)
    return d["a"] * 2.0 + d["b"]


DEFAULTS = {"b": 1.0, "a": 0.0}


def display_over_a_global(x):
    d = {**DEFAULTS, "a": x}
    return d["a"] * 2.0 + d["b"] * x


def dict_spread_of_a_display(x):
    d = {"a": x}
    e = {**d, "b": x * x}
    return e["a"] + e["b"]


def test_display_spreading_a_dict_first():
    assert grad(display_over_a_global)(0.7) == pytest.approx(3.0)
    assert grad(dict_spread_of_a_display)(0.7) == pytest.approx(1.0 + 1.4)
    assert DEFAULTS == {"b": 1.0, "a": 0.0}


def test_dict_of_keywords_of_a_number():
    assert grad(dict_of_scalars)(0.7) == pytest.approx(2.0 + 1.4)


def dict_of_pairs(x):
    d = dict([("a", x), ("b", 2.0 * x)])
    return d["a"] * d["b"]


def test_dict_of_pairs_is_refused_with_advice():
    with pytest.raises(ADTransformError, match="dict comprehension"):
        grad(dict_of_pairs)(1.5)


def list_and_tuple_of_layers(layers):
    a = list(layers)
    b = tuple(layers)
    return np.sum(a[0] * b[1]) + np.sum(a[1])


def test_list_and_tuple_of_a_list_parameter():
    check(list_and_tuple_of_layers, [RNG.normal(size=2), RNG.normal(size=2)])


# -- F12: p["w"].copy() is a fresh array ---------------------------------------------------


def leaf_copy_in_place(p):
    w = p["w"].copy()
    w += p["b"]
    return np.sum(w**2)


def leaf_copy_item_and_in_place(p):
    w = p["w"].copy()
    w[0] = 0.0
    w += p["b"] * 2.0
    w *= p["b"]
    return np.sum(w**2)


@pytest.mark.parametrize("f", [leaf_copy_in_place, leaf_copy_item_and_in_place])
def test_copy_of_a_leaf_may_be_changed_in_place(f):
    p = arrays_wb()
    before = {k: v.copy() for k, v in p.items()}
    g = check(f, p)
    for k in p:
        np.testing.assert_array_equal(p[k], before[k])
    if f is leaf_copy_in_place:
        np.testing.assert_allclose(g["w"], 2 * (p["w"] + p["b"]))


def leaf_written_in_place(p):
    w = p["w"]
    w[0] = 5.0
    return np.sum(w)


def test_item_write_into_a_leaf_advises_copying_the_leaf():
    with pytest.raises(ADTransformError, match=r"'w = p\['w'\]\.copy\(\)'"):
        grad(leaf_written_in_place)({"w": np.array([0.3, -0.5, 1.2])})


def leaf_alias_in_place(p):
    w = p["w"]
    w += 1.0
    return np.sum(w**2)


def test_in_place_change_of_a_leaf_itself_stays_refused():
    with pytest.raises(ADTransformError, match="caller's data in place"):
        grad(leaf_alias_in_place)({"w": np.array([0.3, -0.5, 1.2])})


# -- F7: tree_leaves / tree_map inside the differentiated function --------------------------


def weight_decay(p):
    return sum(np.sum(v**2) for v in tree_leaves(p))


def first_leaf(p):
    return np.sum(tree_leaves(p)[0]) * 2.0


def squares_by_lambda(p):
    sq = tree_map(lambda v: v**2, p)
    return np.sum(sq["w"]) + np.sum(sq["b"]) * 3.0


def cube(v):
    return v**3


def cubes_by_def(p):
    out = tree_map(cube, p)
    return np.sum(out["w"]) + out["b"]


def squares_by_ufunc(p):
    sq = tree_map(np.square, p)
    return sum(np.sum(v) for v in tree_leaves(sq))


def scaled(p, s):
    r = tree_map(lambda a: a * s, p)
    return sum(np.sum(v) for v in tree_leaves(r))


def products_of_two_trees(p, q):
    r = tree_map(lambda a, b: a * b, p, q)
    return np.sum(r["w"]) + r["b"]


def sgd_step_inside(p, g):
    new = tree_map(lambda a, b: a - 0.1 * b, p, g)
    return np.sum(new["w"] ** 2) + new["b"] ** 2


def tree_params():
    return {"w": RNG.normal(size=3), "b": 0.5}


@pytest.mark.parametrize(
    "f", [weight_decay, first_leaf, squares_by_lambda, cubes_by_def, squares_by_ufunc]
)
def test_tree_helpers_on_a_dict_parameter(f):
    check(f, tree_params())


def test_tree_leaves_of_a_nest():
    nest = [RNG.normal(size=2), (0.5, {"z": 2.0, "y": RNG.normal(size=3)}), None]
    check(weight_decay, nest)


def test_weight_decay_is_twice_each_leaf():
    p = tree_params()
    g = grad(weight_decay)(p)
    np.testing.assert_allclose(g["w"], 2 * p["w"])
    assert g["b"] == pytest.approx(1.0)


@pytest.mark.parametrize("position", [0, 1])
def test_tree_map_over_two_trees(position):
    args = (tree_params(), tree_params())
    check(products_of_two_trees, *args, position=position)
    check(sgd_step_inside, *args, position=position)


def test_tree_map_capturing_a_differentiated_value():
    p, s = tree_params(), 1.7
    check(scaled, p, s)
    assert grad(scaled, wrt=1)(p, s) == pytest.approx(np.sum(p["w"]) + p["b"])


@dataclasses.dataclass
class Layer:
    w: np.ndarray
    b: float


class Model(NamedTuple):
    scale: float
    layer: Layer


def squares_of_objects(m):
    r = tree_map(lambda v: v**2, m)
    return np.sum(r.layer.w) + r.scale + r.layer.b * 3.0 + weight_decay(m)


def test_tree_helpers_on_named_tuples_and_dataclasses():
    m = Model(0.5, Layer(RNG.normal(size=2), 0.3))
    g = grad(squares_of_objects)(m)
    assert isinstance(g, Model) and isinstance(g.layer, Layer)
    assert g.scale == pytest.approx(2 * 0.5 + 2 * 0.5)
    np.testing.assert_allclose(g.layer.w, 4 * m.layer.w)
    assert g.layer.b == pytest.approx(6 * 0.3 + 2 * 0.3)


FUNCTIONS = [np.sin, np.cos]


def tree_map_of_a_held_function(p, i):
    f = FUNCTIONS[i]
    return np.sum(tree_map(f, p)["w"])


def test_tree_map_left_refused_says_what_to_write():
    with pytest.raises(ADTransformError, match="tree helpers are otherwise for outside") as info:
        grad(tree_map_of_a_held_function)(tree_params(), 0)
    assert "register" not in str(info.value)


# -- lists of differentiated values given to NumPy (breaker16 p153/p154/p174-p176) -------


def square_and_dot_of_a_list(x):  # p153
    values = [x[0], x[1], x[2]]
    return np.sum(np.square(values)) + np.dot(values, values)


def erf_maximum_power_of_a_list(x):  # p154
    values = [x[0], x[1], x[2]]
    return np.sum(sp.erf(values)) + np.sum(np.maximum(values, 0.7)) + np.sum(np.power(values, 3))


def array_times_list(x):  # p175
    return np.sum(x * [x[0], x[1]])


def softmax_of_a_list_in_a_dict(v):  # p176
    p = {"w": [v[0], v[1], v[2]]}
    w = sp.softmax(p["w"])
    return np.sum(w * p["w"])


def arithmetic_with_a_list(x):
    values = [x[0], 2.0 * x[1]]
    return np.sum(x - values) + np.sum(values / x) + np.sum(x**values)


def reductions_of_a_list(x):
    return np.sum([x[0], x[1] * x[0]]) * np.mean([x[1], x[0] ** 2])


@pytest.mark.parametrize(
    "f, x",
    [
        (square_and_dot_of_a_list, np.array([0.6, 0.8, 1.1])),
        (erf_maximum_power_of_a_list, np.array([0.6, 0.8, 1.1])),
        (array_times_list, np.array([0.5, 0.7])),
        (softmax_of_a_list_in_a_dict, np.array([0.5, 0.7, -0.2])),
        (arithmetic_with_a_list, np.array([0.6, 0.8])),
        (reductions_of_a_list, np.array([0.6, 0.8])),
    ],
)
def test_list_given_to_numpy(f, x):
    check_grad(f, [x])


def test_array_times_list_is_twice_x():
    np.testing.assert_allclose(grad(array_times_list)(np.array([0.5, 0.7])), [1.0, 1.4])


def square_of_list_argument(values):
    return np.sum(np.square(values)) + np.dot(values, values)


def square_of_list_leaf(p):
    return np.sum(np.square(p["w"])) + np.sum(np.power(p["w"], 3)) + np.dot(p["w"], p["w"])


def squares_of_list_layers(layers):
    return sum(np.sum(np.maximum(layer, 0.7) ** 2) for layer in layers)


def test_list_argument_and_list_leaves_given_to_numpy():
    check(square_of_list_argument, [0.6, 0.8])
    check(square_of_list_argument, (0.6, 0.8))
    check(square_of_list_leaf, {"w": [0.6, 0.8]})
    check(squares_of_list_layers, [[0.6, 0.8], [1.0]])


# -- sibling refusals: dict and list methods that change a differentiated container --------


def dict_pop_of_copy(p):
    q = p.copy()
    v = q.pop("w")
    return np.sum(v) * q["b"]


def list_sort_of_copy(layers):
    q = layers.copy()
    q.sort()
    return q[0] * 2.0


@pytest.mark.parametrize(
    "f, arg, words",
    [
        (dict_pop_of_copy, {"w": np.ones(2), "b": 0.3}, r"'\.pop' of 'q', a dict.*comprehension"),
        (list_sort_of_copy, [0.5, 0.2], r"'\.sort' of 'q', a list.*sorted\(xs\)"),
    ],
)
def test_container_methods_refused_with_advice(f, arg, words):
    with pytest.raises(ADTransformError, match=words) as info:
        grad(f)(arg)
    assert "register" not in str(info.value)
