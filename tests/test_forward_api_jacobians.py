"""Issue 14's API: ``jacfwd``, ``jacrev``, ``jacobian`` against finite-difference Jacobians
and against each other (random programs with loops and branches), and ``jvp`` with
container arguments and outputs (dicts, lists, tuples, named tuples, dataclasses)."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from typing import NamedTuple

import numpy as np
import pytest

from ad_transform import ADTransformError, grad, jacfwd, jacobian, jacrev, jvp, vjp


def fd_jacobian(f, x, eps=1e-6):
    """The Jacobian of ``f`` at the array ``x`` by central differences (shape out + in)."""
    x = np.asarray(x, dtype=float)
    out = np.asarray(f(x))
    J = np.zeros(out.shape + x.shape)
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = eps
        e = e.reshape(x.shape)
        column = (np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps)
        J.reshape(out.size, x.size)[:, k] = column.ravel()
    return J


# -- functions ----------------------------------------------------------------------------
W = np.array([[0.5, -1.0, 0.3], [0.2, 0.8, -0.6]])


def layer(x):
    return np.tanh(W @ x) * x[0]


def elementwise(x):
    return np.sin(x) * x[0] + np.exp(-x)


def with_loop_and_branch(x):
    y = x * 1.0
    for i in range(3):
        if np.sum(y) > 0.5:
            y = np.sin(y) * x + 0.1 * i
        else:
            y = y[::-1] * 2.0 - x
    return y


def matrix_out(x):
    return np.outer(x, x) + np.diag(np.cos(x))


def matrix_in(a):
    return a @ np.array([1.0, -2.0, 0.5]) + np.sum(a**2, axis=0)[:2]


def scalar_out(x):
    return np.sum(x**3) + x[0] * x[2]


@pytest.mark.parametrize(
    ("f", "x"),
    [
        (layer, np.array([0.3, -0.7, 1.1])),
        (elementwise, np.array([0.3, -0.7, 1.1, 0.4])),
        (with_loop_and_branch, np.array([0.3, -0.7, 1.1])),
        (with_loop_and_branch, np.array([0.1, -0.7, 0.2])),
        (matrix_out, np.array([0.3, -0.7, 1.1])),
        (matrix_in, np.array([[0.3, -0.7, 1.1], [0.5, 0.2, -0.4]])),
        (scalar_out, np.array([0.3, -0.7, 1.1])),
    ],
)
def test_jacobians_against_finite_differences(f, x):
    expected = fd_jacobian(f, x)
    for transform in (jacfwd, jacrev, jacobian):
        J = transform(f)(x)
        assert np.shape(J) == np.shape(f(x)) + x.shape
        np.testing.assert_allclose(J, expected, rtol=1e-6, atol=1e-8)


def test_scalar_functions_and_several_arguments():
    def f(a, b):
        return a * b**2 + np.sin(a)

    for transform in (jacfwd, jacrev, jacobian):
        da, db = transform(f, wrt=(0, 1))(2.0, 3.0)
        assert da == pytest.approx(9.0 + np.cos(2.0), rel=1e-14)
        assert db == pytest.approx(12.0, rel=1e-14)
        assert np.ndim(da) == 0
    # wrt by name; argnums; an integer argument differentiated as a float
    assert jacfwd(f, wrt="b")(2.0, 3) == pytest.approx(12.0, rel=1e-14)
    assert jacrev(f, argnums=1)(2.0, 3) == pytest.approx(12.0, rel=1e-14)


def test_mixed_arguments_layout():
    def f(x, s):
        return x * s + np.array([s, s * s, 1.0])

    x = np.array([0.3, -0.7, 1.1])
    for transform in (jacfwd, jacrev):
        jx, js = transform(f, wrt=(0, 1))(x, 1.5)
        np.testing.assert_allclose(jx, 1.5 * np.eye(3), rtol=1e-14)
        np.testing.assert_allclose(js, x + np.array([1.0, 3.0, 0.0]), rtol=1e-14)
        assert jx.shape == (3, 3) and js.shape == (3,)


def test_jacobian_chooses_the_mode_by_sizes():
    def wide(x):  # 3 -> 1: reverse
        return np.sum(x**2)

    def tall(s):  # 1 -> 4: forward
        return np.array([s, s * s, s**3, 1.0])

    def square(x):  # 3 -> 3: a tie, reverse
        return x * x

    j = jacobian(wide)
    j(np.array([1.0, 2.0, 3.0]))
    assert j.last_mode == "reverse"
    j = jacobian(tall)
    np.testing.assert_allclose(j(2.0), [1.0, 4.0, 12.0, 0.0], rtol=1e-14)
    assert j.last_mode == "forward"
    j = jacobian(square)
    j(np.array([1.0, 2.0, 3.0]))
    assert j.last_mode == "reverse"


# -- containers in and out ------------------------------------------------------------------
def dict_model(params, x):
    h = np.tanh(params["w"] @ x + params["b"])
    return {"out": h * params["scale"], "norm": np.sum(h**2)}


def test_jacobians_of_containers_nest_output_then_argument():
    params = {"w": W.copy(), "b": np.array([0.1, -0.2]), "scale": 1.5}
    x = np.array([0.3, -0.7, 1.1])
    for transform in (jacfwd, jacrev):
        J = transform(dict_model)(params, x)
        assert set(J) == {"out", "norm"}
        assert set(J["out"]) == {"w", "b", "scale"}
        assert J["out"]["w"].shape == (2, 2, 3)
        assert J["out"]["b"].shape == (2, 2)
        assert J["out"]["scale"].shape == (2,)
        assert J["norm"]["w"].shape == (2, 3)
        for out in ("out", "norm"):
            for key in ("w", "b", "scale"):

                def leaf(v, key=key, out=out):
                    p = dict(params)
                    p[key] = v if np.ndim(params[key]) else float(v)
                    return dict_model(p, x)[out]

                expected = fd_jacobian(leaf, params[key])
                np.testing.assert_allclose(J[out][key], expected, rtol=1e-6, atol=1e-9)


def test_jacfwd_equals_jacrev_with_containers_and_several_arguments():
    params = {"w": W.copy(), "b": np.array([0.1, -0.2]), "scale": 1.5}
    x = np.array([0.3, -0.7, 1.1])
    forward = jacfwd(dict_model, wrt=(0, 1))(params, x)
    reverse = jacrev(dict_model, wrt=(0, 1))(params, x)
    for out in ("out", "norm"):
        for key in ("w", "b", "scale"):
            np.testing.assert_allclose(forward[out][0][key], reverse[out][0][key], rtol=1e-12)
        np.testing.assert_allclose(forward[out][1], reverse[out][1], rtol=1e-12)


# -- jacfwd == jacrev on random programs with loops and branches --------------------------
STATEMENTS = [
    "y = np.sin(y) * x + {c}",
    "y = np.tanh(y * {c}) - x * y",
    "y = y[::-1] * {c} + x",
    "y = np.exp(-y * y) + y * {c}",
    "y = y * np.sum(x) * {c}",
    "y = np.roll(y, 1) * x + {c}",
    "y = np.maximum(y, {c}) * x",
    "y = y / (1.0 + y * y) + {c} * x",
]


def random_program(seed: int) -> str:
    rng = np.random.default_rng(seed)

    def statement(indent: str) -> str:
        template = STATEMENTS[rng.integers(len(STATEMENTS))]
        return indent + template.format(c=round(float(rng.uniform(-1.5, 1.5)), 2))

    lines = [f"def random_{seed}(x):", "    y = x * 1.0"]
    for _ in range(int(rng.integers(1, 4))):
        form = rng.integers(3)
        if form == 0:
            lines.append(statement("    "))
        elif form == 1:
            lines.append(f"    for i in range({int(rng.integers(1, 4))}):")
            lines.append(statement("        "))
            lines.append(statement("        "))
        else:
            lines.append(f"    if np.sum(y) > {round(float(rng.uniform(-1, 1)), 2)}:")
            lines.append(statement("        "))
            lines.append("    else:")
            lines.append(statement("        "))
    out = int(rng.integers(1, 4))
    lines.append(f"    return y[:{out}] * y[-1] + x[:{out}]")
    return "\n".join(lines) + "\n"


def load_function(source: str, name: str, directory):
    path = directory / f"{name}_{abs(hash(source))}.py"
    path.write_text("import numpy as np\n\n\n" + source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return getattr(module, name)


def test_jacfwd_equals_jacrev_on_random_programs(tmp_path):
    compared = 0
    for seed in range(12):
        source = random_program(seed)
        f = load_function(source, f"random_{seed}", tmp_path)
        x = np.random.default_rng(100 + seed).uniform(-1.0, 1.0, 4)
        forward = jacfwd(f)(x)
        reverse = jacrev(f)(x)
        scale = 1.0 + np.max(np.abs(reverse))
        assert np.max(np.abs(forward - reverse)) <= 1e-10 * scale, source
        np.testing.assert_allclose(forward, fd_jacobian(f, x), rtol=1e-5, atol=1e-6 * scale)
        compared += 1
    assert compared == 12


# -- jvp with containers --------------------------------------------------------------------
class Pair(NamedTuple):
    w: float
    b: np.ndarray


@dataclasses.dataclass
class Params:
    w: float
    b: np.ndarray
    name: str = "p"
    steps: int = 2


def use_pair(p, x):
    return p.w * np.sum(p.b * x) + p[0] ** 2


def use_params(p, x):
    s = 0.0
    for _ in range(p.steps):
        s = s + p.w * np.sum(np.sin(p.b) * x)
    return s


def use_dict(d):
    return d["a"] * d["b"][0] + np.sum(d["c"] ** 2) * d["b"][1]


def returns_containers(x, y):
    return {"sum": x + y, "parts": (x * y, [np.sin(x), y**2])}


def directional(f, primals, tangents, eps=1e-6):
    """Central difference of ``f`` along container tangents (leaf by leaf)."""
    from ad_transform import tree_map

    plus = [tree_map(lambda p, t: p + eps * t, a, u) for a, u in zip(primals, tangents)]
    minus = [tree_map(lambda p, t: p - eps * t, a, u) for a, u in zip(primals, tangents)]
    return tree_map(lambda a, b: (np.asarray(a) - np.asarray(b)) / (2 * eps), f(*plus), f(*minus))


def test_jvp_of_a_named_tuple_argument():
    p = Pair(1.5, np.array([0.3, -0.2]))
    u = Pair(0.7, np.array([1.0, -0.5]))
    x = np.array([2.0, 1.0])
    value, tangent = jvp(use_pair, wrt=0)((p, x), (u,))
    assert value == use_pair(p, x)
    assert tangent == pytest.approx(directional(lambda q: use_pair(q, x), (p,), (u,)), rel=1e-7)
    gradient = grad(use_pair)(p, x)  # the dot-product test against reverse mode
    expected = gradient.w * u.w + np.sum(gradient.b * u.b)
    assert tangent == pytest.approx(expected, rel=1e-12)


def test_jvp_of_a_dataclass_with_integer_and_string_fields():
    p = Params(1.5, np.array([0.3, -0.2]))
    u = Params(0.7, np.array([1.0, -0.5]), "ignored", 0)
    x = np.array([2.0, 1.0])
    value, tangent = jvp(use_params, wrt=0)((p, x), (u,))
    assert value == use_params(p, x)
    gradient = grad(use_params)(p, x)
    expected = gradient.w * u.w + np.sum(gradient.b * u.b)
    assert tangent == pytest.approx(expected, rel=1e-12)


def test_jvp_of_dicts_lists_and_tuples_without_wrt():
    d = {"a": 1.2, "b": [0.5, -1.5], "c": np.array([0.1, 0.2, 0.3])}
    u = {"a": 1.0, "b": [0.3, 0.2], "c": np.array([1.0, -1.0, 0.5])}
    value, tangent = jvp(use_dict, (d,), (u,))
    assert value == use_dict(d)
    assert tangent == pytest.approx(directional(use_dict, (d,), (u,)), rel=1e-7)


def test_jvp_container_outputs_have_the_outputs_structure():
    value, tangent = jvp(returns_containers, (0.5, 2.0), (1.0, -0.5))
    assert value == returns_containers(0.5, 2.0)
    assert isinstance(tangent, dict) and isinstance(tangent["parts"], tuple)
    assert isinstance(tangent["parts"][1], list)
    expected = directional(returns_containers, (0.5, 2.0), (1.0, -0.5))
    assert tangent["sum"] == pytest.approx(expected["sum"], rel=1e-8)
    assert tangent["parts"][0] == pytest.approx(expected["parts"][0], rel=1e-8)
    assert tangent["parts"][1][0] == pytest.approx(np.cos(0.5), rel=1e-14)
    assert tangent["parts"][1][1] == pytest.approx(-2.0, rel=1e-14)
    # the dot-product test against vjp with a container cotangent
    _, pullback = vjp(returns_containers, wrt=(0, 1))(0.5, 2.0)
    v = {"sum": 0.3, "parts": (-1.1, [0.7, 0.25])}
    gx, gy = pullback(v)
    left = 0.3 * tangent["sum"] - 1.1 * tangent["parts"][0]
    left += 0.7 * tangent["parts"][1][0] + 0.25 * tangent["parts"][1][1]
    assert left == pytest.approx(gx * 1.0 + gy * -0.5, rel=1e-12)


def test_container_tangent_of_another_structure_is_refused():
    d = {"a": 1.2, "b": [0.5, -1.5], "c": np.array([0.1, 0.2, 0.3])}
    with pytest.raises(ValueError, match="tangent of argument 0"):
        jvp(use_dict, (d,), ({"a": 1.0, "b": [0.3], "c": np.ones(3)},))
    with pytest.raises(ValueError, match="shape"):
        jvp(use_dict, (d,), ({"a": 1.0, "b": [0.3, 0.1], "c": np.ones(2)},))


class Model:
    def __init__(self, w):
        self.w = w

    def energy(self, x):
        return self.w * x**2


def calls_a_method(model, x):
    return model.energy(x) + x


def test_methods_of_objects_given_as_arguments():
    value, tangent = jvp(calls_a_method, wrt=1)((Model(3.0), 2.0), (1.0,))
    assert (value, tangent) == (14.0, 13.0)  # 3 x^2 + x: 6 x + 1


MODEL = Model(3.0)


class Units:
    @staticmethod
    def triple(x):
        return 3.0 * x

    @classmethod
    def made(cls, w):
        return Model(w)


def global_object_method(x):
    return MODEL.energy(x) + Units.triple(x) + Units.made(2.0).energy(x)


def test_methods_of_global_objects_static_and_class_methods():
    value, tangent = jvp(global_object_method, (1.5,), (1.0,))
    assert value == global_object_method(1.5)
    assert tangent == pytest.approx(6.0 * 1.5 + 3.0 + 4.0 * 1.5, rel=1e-15)


@dataclasses.dataclass
class Layer:
    w: np.ndarray
    b: float

    def __call__(self, x):
        return np.tanh(self.w * x + self.b)

    def energy(self, x):
        return np.sum(self(x) ** 2) + self.b * self.total(x)

    def total(self, x):
        return np.sum(x)


def network(layers, x):
    for layer in layers:
        x = layer(x)
    return np.sum(x)


def layer_energy(layer, x):
    return layer.energy(x)


def test_lists_of_dataclass_layers_with_call_and_methods():
    layers = [Layer(np.array([0.5, -1.0]), 0.1), Layer(np.array([1.5, 0.3]), -0.2)]
    directions = [Layer(np.array([1.0, 0.5]), 0.3), Layer(np.array([-0.5, 0.2]), 1.0)]
    x, u = np.array([0.3, 0.7]), np.array([1.0, -2.0])
    value, tangent = jvp(network, (layers, x), (directions, u))
    assert value == network(layers, x)
    g_layers, g_x = grad(network, wrt=(0, 1))(layers, x)
    expected = np.sum(g_x * u) + sum(
        np.sum(g.w * d.w) + g.b * d.b for g, d in zip(g_layers, directions)
    )
    assert tangent == pytest.approx(expected, rel=1e-12)
    value, tangent = jvp(layer_energy, (layers[0], x), (directions[0], u))
    g_layer, g_x = grad(layer_energy, wrt=(0, 1))(layers[0], x)
    expected = np.sum(g_layer.w * directions[0].w) + g_layer.b * directions[0].b
    assert tangent == pytest.approx(expected + np.sum(g_x * u), rel=1e-12)


def creates_an_object(x):
    m = Model(x)
    return m.energy(2.0)


def test_creating_objects_from_differentiated_values_is_refused_by_name():
    with pytest.raises(ADTransformError, match="creating or changing objects of user classes"):
        jvp(creates_an_object, (1.5,), (1.0,))
