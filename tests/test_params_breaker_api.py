"""Issue 13, the breaker's findings in the API, pytree and checker layer: check_grads on
container arguments and values (F11), objects nothing read (F8), tree_map with ``None``
gradients (F6), dataclass copies keeping their other attributes (F10), registered types
whose attributes share an object or hold the children in a list (F13), and the call-form
messages (F15). Expected values: calculus, or central differences leaf by leaf
(tests/tree_check.py)."""

from __future__ import annotations

import collections
import dataclasses
from typing import ClassVar, NamedTuple

import numpy as np
import pytest
from tree_check import check_tree_gradient

import ad_transform.api
from ad_transform import (
    ADTransformError,
    GradientCheckError,
    check_grads,
    grad,
    register_adjoint,
    register_pytree_node,
    tree_map,
    value_and_grad,
    vjp,
)

RNG = np.random.default_rng(1313)
X = RNG.normal(size=(4, 3))


def dict_loss(p, x):
    return np.sum(np.tanh(x @ p["w"] + p["b"]) ** 2)


def dict_params():
    return {"w": RNG.normal(size=(3, 2)), "b": RNG.normal(size=2)}


# -- F11: check_grads checks container arguments leaf by leaf ------------------------------


def _checked_names(report) -> list[str]:
    return [c.name for c in report.checks]


def test_check_grads_default_wrt_checks_the_dict_of_parameters_leaf_by_leaf():
    report = check_grads(dict_loss, (dict_params(), X))
    names = _checked_names(report)
    assert "gradient wrt argument 0 (p)['w']" in names
    assert "gradient wrt argument 0 (p)['b']" in names
    assert "gradient wrt argument 1 (x)" in names
    assert "argument 0 (p)" in names[-1]  # the dot-product test covers it too


def test_check_grads_wrt_a_container_argument():
    report = check_grads(dict_loss, (dict_params(), X), wrt=0)
    assert _checked_names(report)[:2] == [
        "gradient wrt argument 0 (p)['w']",
        "gradient wrt argument 0 (p)['b']",
    ]
    assert report.passed


def off_by_two_sin(x):
    return np.sin(x)


def d_off_by_two_sin(g, ans, x):
    return 2.0 * g * np.cos(x)  # wrong on purpose: the checker must catch it


register_adjoint(off_by_two_sin, d_off_by_two_sin)


def wrong_in_one_leaf(p, x):
    return np.sum(off_by_two_sin(p["w"]) * x[0, :2]) + np.sum(p["b"] ** 2)


@pytest.mark.parametrize("wrt", [None, 0, "p", [0]])
def test_check_grads_finds_a_wrong_gradient_in_one_leaf(wrt):
    with pytest.raises(GradientCheckError) as caught:
        check_grads(wrong_in_one_leaf, (dict_params(), X), wrt=wrt)
    report = caught.value.report
    failed = [c.name for c in report.checks if not c.passed]
    assert any(name.endswith("(p)['w']") for name in failed), str(report)
    assert not any(name.endswith("(p)['b']") for name in failed), str(report)


@dataclasses.dataclass
class Layer:
    w: np.ndarray
    b: float
    name: str = "layer"


def layers_loss(layers, x):
    for layer in layers:
        x = np.tanh(x @ layer.w + layer.b)
    return np.sum(x**2)


def wrong_layers_loss(layers, x):
    return np.sum(off_by_two_sin(layers[1].w)) + layers_loss(layers, x)


def _layers():
    return [Layer(RNG.normal(size=(3, 3)), 0.1), Layer(RNG.normal(size=(3, 2)), -0.4, "out")]


def test_check_grads_on_a_list_of_dataclasses_checks_every_field_and_skips_the_string():
    report = check_grads(layers_loss, (_layers(), X), wrt=0)
    names = _checked_names(report)
    for path in ("[0].w", "[0].b", "[1].w", "[1].b"):
        assert f"gradient wrt argument 0 (layers){path}" in names
    assert not any(".name" in n for n in names)
    with pytest.raises(GradientCheckError, match=r"\[1\]\.w"):
        check_grads(wrong_layers_loss, (_layers(), X), wrt=0)


def vector_of_dict(p, x):
    return [x @ p["w"], p["b"] * 2.0, {"s": np.sum(p["w"] ** 2), "tag": "t"}]


def wrong_vector_of_dict(p, x):
    return [x @ p["w"], off_by_two_sin(p["b"])]


def test_check_grads_with_a_container_value_uses_the_dot_product_test():
    report = check_grads(vector_of_dict, (dict_params(), X), wrt=0)
    assert [c.name for c in report.checks] == [
        "dot-product test <u, Jᵀv> = <J u, v> wrt argument 0 (p)"
    ]
    with pytest.raises(GradientCheckError, match="dot-product"):
        check_grads(wrong_vector_of_dict, (dict_params(), X), wrt=0)


def test_check_grads_reports_a_float_leaf_whose_gradient_is_none(monkeypatch):
    real_grad = ad_transform.api.grad

    def grad_dropping_b(f, wrt=0, **kwargs):
        def call(*args):
            g = real_grad(f, wrt, **kwargs)(*args)
            return {**g, "b": None}

        return call

    monkeypatch.setattr(ad_transform.api, "grad", grad_dropping_b)
    with pytest.raises(GradientCheckError, match=r"\(p\)\['b'\]: None for a float"):
        check_grads(dict_loss, (dict_params(), X), wrt=0)


def uses_string(p, label, x):
    return np.sum(p["w"]) * len(label) + np.sum(x)


@pytest.mark.parametrize(
    "args, wrt, message",
    [
        (({"w": np.ones(2)}, "abc", 1.0), 1, r"cannot check argument 1 \(label\): it is str"),
        (({"w": "s", "n": None}, "abc", 1.0), 0, r"argument 0 \(p\): it is a dict with no number"),
        (({"w": np.ones(2)}, "abc", 1.0), 5, "wrt names argument 5, but only 3"),
    ],
)
def test_check_grads_refuses_what_it_cannot_check_with_a_clear_type_error(args, wrt, message):
    with pytest.raises(TypeError, match=message):
        check_grads(uses_string, args, wrt=wrt)


def test_check_grads_leaves_non_numeric_leaves_alone():
    p = {"w": RNG.normal(size=2), "act": np.tanh, "flag": True, "name": "n", "none": None}

    def f(p):
        return np.sum(p["w"] ** 3)

    report = check_grads(f, (p,))
    assert report.checks[0].name == "gradient wrt argument 0 (p)['w']"
    assert len(report.checks) == 2


def test_numerical_gradient_of_a_container_argument():
    from ad_transform.check import numerical_gradient

    p = {"w": np.array([0.3, -0.7]), "b": 0.2, "name": "x"}

    def f(p):
        return np.sum(np.sin(p["w"])) * p["b"] ** 2

    numeric = numerical_gradient(f, (p,), 0)
    np.testing.assert_allclose(numeric["w"], np.cos(p["w"]) * 0.04, rtol=1e-8)
    np.testing.assert_allclose(numeric["b"], np.sum(np.sin(p["w"])) * 0.4, rtol=1e-8)
    assert numeric["name"] is None


# -- F8: an object nothing reads gets None, not a refusal ----------------------------------


class Plain:
    def __init__(self, v):
        self.v = v


class WithAct(NamedTuple):
    w: np.ndarray
    act: object = np.tanh


@pytest.mark.parametrize(
    "other",
    [np.tanh, np.random.default_rng(0), {1, 2}, Plain(np.array([2.0, -1.0])), max, slice(1)],
    ids=["ufunc", "generator", "set", "plain-object", "builtin", "slice"],
)
def test_an_object_leaf_the_function_never_reads_gets_none(other):
    w = np.array([0.5, 1.5])

    def f(p):
        return np.sum(p["w"] ** 2)

    gradient = grad(f)({"w": w, "other": other})
    np.testing.assert_allclose(gradient["w"], 2 * w)
    assert gradient["other"] is None


def test_object_leaves_never_read_in_a_list_of_layers_and_a_named_tuple():
    w1, w2 = RNG.normal(size=(3, 2)), RNG.normal(size=2)

    def f(layers):
        return np.sum(np.tanh(X @ layers[0]["w"]) * layers[1].w)

    layers = [{"w": w1, "act": np.tanh}, WithAct(w2)]
    gradient = grad(f)(layers)
    assert gradient[0]["act"] is None and gradient[1].act is None
    check_tree_gradient(f, (layers,), gradient)


def test_an_object_leaf_that_reaches_the_result_is_still_refused():
    def f(p):
        return np.sum(p["w"] * p["obj"].v)

    with pytest.raises(ADTransformError, match=r"argument 0\['obj'\]: it is a Plain object"):
        grad(f)({"w": np.array([0.5, 1.5]), "obj": Plain(np.array([2.0, -1.0]))})


def test_an_object_array_leaf_nothing_reads_gets_none_and_one_that_is_read_is_refused():
    p = {"w": np.array([0.5, 1.0], dtype=object), "b": 0.3}

    def reads_b(p):
        return p["b"] ** 2

    def reads_w(p):
        return np.sum(p["w"] * p["b"])

    gradient = grad(reads_b)(p)
    assert gradient["w"] is None and gradient["b"] == pytest.approx(0.6)
    with pytest.raises(TypeError, match=r"argument 0\['w'\].*dtype object"):
        grad(reads_w)(p)


# -- F6: tree_map and gradients with None ---------------------------------------------------


class Q(NamedTuple):
    w: np.ndarray
    name: str = "q"


def test_the_readme_update_works_with_string_bool_and_none_leaves():
    def f(q, p):
        return np.sum(q.w**2) + p["b"] * 3.0

    q = Q(np.array([0.5, -1.0]))
    p = {"b": 0.25, "flag": True, "act": "tanh", "nothing": None}
    gq, gp = grad(f, wrt=(0, 1))(q, p)
    assert gq.name is None and gp["flag"] is None and gp["act"] is None
    new_q = tree_map(lambda x, g: x - 0.1 * g, q, gq)
    new_p = tree_map(lambda x, g: x - 0.1 * g, p, gp)
    assert isinstance(new_q, Q) and new_q.name == "q"
    np.testing.assert_allclose(new_q.w, q.w - 0.1 * 2 * q.w)
    assert new_p.pop("b") == pytest.approx(0.25 - 0.1 * 3.0)
    assert new_p == {"flag": True, "act": "tanh", "nothing": None}


def test_tree_map_errors_name_the_path():
    with pytest.raises(TypeError) as caught:
        tree_map(lambda p, g: p - g, {"a": [1.0, "s"]}, {"a": [1.0, 2.0]})
    assert any("['a'][1]" in note for note in caught.value.__notes__)
    with pytest.raises(ValueError, match=r"tree 1\['l'\] is a list of 1 where the first tree has"):
        tree_map(lambda p, g: p - g, {"l": [1.0, 2.0]}, {"l": [1.0]})
    with pytest.raises(ValueError, match=r"tree 1\['s'\] is a float where the first tree has None"):
        tree_map(lambda p, g: p, {"s": None}, {"s": 1.0})


# -- F10: copies of dataclass arguments keep their other attributes ---------------------------


@dataclasses.dataclass
class Config:
    w: np.ndarray
    steps: int

    def __post_init__(self):
        self.repeat = 2  # a count, not differentiated
        self.label = f"cfg{self.steps}"


@dataclasses.dataclass(frozen=True)
class FrozenConfig:
    w: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "repeat", 2)


class _Slots:
    __slots__ = ("repeat",)


@dataclasses.dataclass
class SlotsConfig(_Slots):
    __slots__ = ("w",)
    w: np.ndarray

    def __post_init__(self):
        self.repeat = 2


def repeated(c, x):
    s = 0.0
    for _ in range(c.repeat):
        s = s + np.sum(np.sin(c.w * x))
    return s


def repeated_aux(c, x):
    return repeated(c, x), c.repeat


def _expected(c, x):
    return 2 * np.cos(c.w * x) * x, 2 * np.cos(c.w * x) * c.w


@pytest.mark.parametrize(
    "c",
    [
        Config(np.array([0.3, -0.6]), 3),
        FrozenConfig(np.array([0.3, -0.6])),
        SlotsConfig(np.array([0.3, -0.6])),
    ],
    ids=["plain", "frozen", "slots"],
)
def test_vjp_and_has_aux_copies_keep_post_init_attributes(c):
    x = np.array([1.5, 0.5])
    dw, dx = _expected(c, x)
    value, pullback = vjp(repeated)(c, x)
    assert value == pytest.approx(2 * np.sum(np.sin(c.w * x)))
    np.testing.assert_allclose(pullback(1.0).w, dw)
    np.testing.assert_allclose(vjp(repeated, wrt=1)(c, x)[1](1.0), dx)
    gradient, aux = grad(repeated_aux, has_aux=True)(c, x)
    np.testing.assert_allclose(gradient.w, dw)
    assert aux == 2
    assert type(gradient) is type(c)


def test_int_field_conversion_keeps_post_init_attributes():
    c = Config(np.array([0.3, -0.6]), 3)

    def f(c):
        return np.sum(c.w**2) * len(c.label)

    gradient = grad(f)(c)
    np.testing.assert_allclose(gradient.w, 2 * c.w * 4)


def test_tree_map_keeps_post_init_attributes_of_the_first_tree():
    c = Config(np.array([0.3, -0.6]), 3)
    updated = tree_map(lambda p, g: p - 0.5 * g, c, grad(repeated)(c, np.ones(2)))
    assert updated.repeat == 2 and updated.label == "cfg3"
    np.testing.assert_allclose(updated.w, c.w - 0.5 * 2 * np.cos(c.w))


@dataclasses.dataclass
class Scaled:
    w: np.ndarray
    fan_in: float

    def __post_init__(self):
        self.scale = 1.0 / np.sqrt(self.fan_in)
        self.wT = self.w.T


def reads_scale(layer, x):
    return np.sum(np.tanh(x @ layer.w) * layer.scale)


def reads_transpose(layers):
    return np.sum(layers[0].wT * np.arange(2.0))


def test_a_derived_attribute_read_by_the_function_is_refused_not_dropped():
    # its value was computed from the fields in __post_init__: the derivative through it
    # is not known, and dropping it gave silent zeros
    layer = Scaled(np.full((3, 2), 0.3), 3.0)
    with pytest.raises(ADTransformError, match="attribute 'scale', which is not one of its fields"):
        grad(reads_scale)(layer, X)
    with pytest.raises(ADTransformError, match=r"argument 0\[0\].*attribute 'wT'"):
        grad(reads_transpose)([Scaled(np.ones(2), 1.0)])
    dx = vjp(reads_scale, wrt=1)(layer, X)[1](1.0)  # not differentiated: fine
    expected = (1 - np.tanh(X @ layer.w) ** 2) * layer.scale @ layer.w.T
    np.testing.assert_allclose(dx, expected)


class Doubled:
    def __init__(self, w):
        self.w = w
        self.w2 = w * 2.0


register_pytree_node(Doubled, lambda d: ((d.w,), None), lambda aux, ch: Doubled(*ch))


def test_a_registered_objects_attribute_that_is_not_a_child_is_refused_when_read():
    def f(d):
        return d.w2 * 3.0

    with pytest.raises(ADTransformError, match="'w2', which is not one of its registered"):
        grad(f)(Doubled(1.0))


# -- F13: registered types: children found by position ------------------------------------


class Affine:
    def __init__(self, w, b):
        self.w = w
        self.b = b


register_pytree_node(Affine, lambda a: ((a.w, a.b), None), lambda aux, ch: Affine(*ch))


def affine_loss(m):
    return m.w * 2.0 + m.b**2 * 3.0


def test_registered_attributes_holding_the_same_float():
    half = 0.5
    gradient = grad(affine_loss)(Affine(half, half))
    assert isinstance(gradient, Affine)
    assert gradient.w == pytest.approx(2.0) and gradient.b == pytest.approx(3.0)


def test_registered_attributes_holding_the_same_array():
    z = np.array([0.3, -1.2])

    def f(m):
        return np.sum(np.sin(m.w) * m.b)

    gradient = grad(f)(Affine(z, z))
    np.testing.assert_allclose(gradient.w, np.cos(z) * z)
    np.testing.assert_allclose(gradient.b, np.sin(z))


class Box:
    def __init__(self, items, tag):
        self.items = items
        self.tag = tag


register_pytree_node(Box, lambda b: (b.items, b.tag), lambda tag, ch: Box(list(ch), tag))


def test_registered_children_inside_a_list_attribute():
    box = Box([np.array([0.4, 0.9]), 1.5], "t")

    def f(b):
        return np.sum(b.items[0] ** 2) * b.items[1]

    gradient = grad(f)(box)
    assert isinstance(gradient, Box) and gradient.tag == "t"
    np.testing.assert_allclose(gradient.items[0], 2 * box.items[0] * 1.5)
    assert gradient.items[1] == pytest.approx(np.sum(box.items[0] ** 2))


def test_registered_output_with_children_inside_a_list_attribute():
    def f(x):
        return Box([x * 2.0, np.sum(x**2)], "out")

    x = np.array([0.5, -1.0])
    _, pullback = vjp(f)(x)
    v0, v1 = np.array([0.7, -0.2]), 1.3
    np.testing.assert_allclose(pullback(Box([v0, v1], "out")), 2.0 * v0 + v1 * 2 * x)


class Checked:
    def __init__(self, w, b):
        if not isinstance(w, (float, np.ndarray)):
            raise TypeError("w must be a number")
        self.w, self.b = w, b


register_pytree_node(Checked, lambda a: ((a.w, a.b), None), lambda aux, ch: Checked(*ch))


def test_registered_type_unflatten_cannot_take_stand_ins():
    def f(m):
        return np.sum(m.w * 2.0 + m.b**2)

    w, b = np.array([0.3, 0.2]), np.array([1.0, -2.0])
    gradient = grad(f)(Checked(w, b))  # the children are told apart by identity
    np.testing.assert_allclose(gradient.w, [2.0, 2.0])
    np.testing.assert_allclose(gradient.b, 2 * b)
    with pytest.raises(ADTransformError, match=r"child 0 .* is not an attribute of it"):
        grad(f)(Checked(w, w))  # one object in two attributes, and no stand-ins: refused


# -- F15: call forms and messages ------------------------------------------------------------


def two_args(x, p):
    return np.sum(x * p["a"])


@pytest.mark.parametrize("transform", [grad, value_and_grad, vjp])
def test_an_index_where_the_function_goes_names_the_transform(transform):
    name = transform.__name__
    with pytest.raises(TypeError, match=rf"^{name} got 1 where the function goes; write {name}"):
        transform(1)


@pytest.mark.parametrize(
    "wrt, message",
    [
        ([], r"wrt=\[\] asks for no gradient"),
        ((0, "x"), r"wrt=\(0, 'x'\) names the same argument more than once"),
        ([1, "p"], r"wrt=\[1, 'p'\] names the same argument"),
        ((-1,), r"wrt=\(-1,\): argument indices must not be negative"),
    ],
)
def test_wrt_messages_echo_what_was_typed(wrt, message):
    with pytest.raises(ValueError, match=message):
        grad(two_args, wrt=wrt)


def test_wrt_accepts_numpy_integers():
    x, p = np.array([0.5, 2.0]), {"a": np.array([3.0, -1.0])}
    gradient = grad(two_args, np.int64(1))(x, p)
    np.testing.assert_allclose(gradient["a"], x)
    gx, _ = grad(two_args, wrt=[np.int32(0), np.int64(1)])(x, p)
    np.testing.assert_allclose(gx, p["a"])
    with pytest.raises(TypeError, match="wrt must be"):
        grad(two_args, wrt=np.bool_(True))


def test_cotangent_length_mismatch_reads_as_lengths():
    def split(x):
        return np.split(x, [1, 3])

    _, pullback = vjp(split)(np.arange(4.0))
    with pytest.raises(
        ValueError, match="cotangent is a list of 2 where the function's value has a list of 3"
    ):
        pullback([np.ones(1), np.ones(2)])


def dict_sum(p):
    return np.sum(p["w"] ** 2) * p["b"]


def test_defaultdict_and_ordered_dict_parameters_keep_their_type():
    w = np.array([0.2, -0.4])
    dd = collections.defaultdict(float, {"w": w, "b": 1.5})
    gradient = grad(dict_sum)(dd)
    assert type(gradient) is collections.defaultdict and gradient.default_factory is float
    np.testing.assert_allclose(gradient["w"], 2 * w * 1.5)
    assert gradient["b"] == pytest.approx(np.sum(w**2))
    od = collections.OrderedDict([("b", 1.5), ("w", w)])
    gradient = grad(dict_sum)(od)
    assert type(gradient) is collections.OrderedDict and list(gradient) == ["b", "w"]


class MyParams(dict):
    def describe(self):
        return ", ".join(self)


class Scaling(dict):
    def __getitem__(self, key):
        return dict.__getitem__(self, key) * 2.0


def test_dict_subclasses_reading_items_as_dict_does_are_dicts():
    w = np.array([0.2, -0.4])
    gradient = grad(dict_sum)(MyParams(w=w, b=1.5))
    assert type(gradient) is MyParams
    np.testing.assert_allclose(gradient["w"], 2 * w * 1.5)
    assert gradient["b"] == pytest.approx(np.sum(w**2))


def test_a_dict_subclass_changing_reads_and_a_plain_class_name_the_accepted_containers():
    with pytest.raises(TypeError, match=r"Scaling is a dict subclass .*register_pytree_node"):
        grad(dict_sum)(Scaling(w=np.ones(2), b=1.0))
    with pytest.raises(TypeError, match=r"dict .*dataclass.*register_pytree_node"):
        grad(dict_sum)(Plain(1.0))


def returns_dict(x):
    return {"loss": np.sum(x**2)}


def test_value_and_grad_of_a_dict_valued_function_suggests_vjp():
    with pytest.raises(ADTransformError, match=r"value_and_grad need .*use vjp\(f\)"):
        value_and_grad(returns_dict)(np.ones(2))


@dataclasses.dataclass
class WithClassConstant:
    w: np.ndarray
    scale: ClassVar[float] = 2.0


def test_a_class_attribute_read_with_the_fields_is_a_constant():
    w = np.array([0.5, -1.5])
    gradient = grad(lambda_free_direct)(WithClassConstant(w))
    np.testing.assert_allclose(gradient.w, 2 * w * 2.0)


def lambda_free_direct(layer):
    return np.sum(layer.w**2) * layer.scale
