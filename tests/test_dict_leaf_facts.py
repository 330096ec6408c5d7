"""Shape facts of dict parameters' leaves (docs/architecture/dict_leaf_facts.md): the
gradients are checked against central finite differences in float64, the code against
the direct forms it should use, and one gradient object against other leaves."""

import numpy as np
import pytest

from ad_transform import grad

RNG = np.random.default_rng(7)


def _numeric_dict_gradient(f, p, args, eps=1e-6):
    """Central differences of ``f(p, *args)`` for each leaf of the dict ``p`` (float64)."""
    result = {}
    for key, leaf in p.items():
        if isinstance(leaf, float):
            up, down = dict(p, **{key: leaf + eps}), dict(p, **{key: leaf - eps})
            result[key] = (f(up, *args) - f(down, *args)) / (2 * eps)
            continue
        flat = np.asarray(leaf, dtype=np.float64)
        g = np.zeros(flat.shape)
        for i in np.ndindex(flat.shape):
            up, down = flat.copy(), flat.copy()
            up[i] += eps
            down[i] -= eps
            g[i] = (f(dict(p, **{key: up}), *args) - f(dict(p, **{key: down}), *args)) / (2 * eps)
        result[key] = g
    return result


def _check(f, p, *args, rtol=1e-6, atol=1e-8):
    g = grad(f, wrt=0)
    got = g(p, *args)
    want = _numeric_dict_gradient(f, p, args)
    assert type(got) is dict and list(got) == list(p)
    for key in p:
        np.testing.assert_allclose(got[key], want[key], rtol=rtol, atol=atol, err_msg=key)
    return g, got


def mlp_d(p, X, Y):
    h = np.tanh(X @ p["W1"] + p["b1"])
    z = h @ p["W2"] + p["b2"]
    lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(Y * (z - lse)) / X.shape[0]


def _mlp_params(d_in=3, d_hidden=5, d_out=4, dtype=np.float64):
    return {
        "W1": (RNG.standard_normal((d_in, d_hidden)) * 0.5).astype(dtype),
        "b1": RNG.standard_normal(d_hidden).astype(dtype),
        "W2": (RNG.standard_normal((d_hidden, d_out)) * 0.5).astype(dtype),
        "b2": RNG.standard_normal(d_out).astype(dtype),
    }


def _data(n=6, d_in=3, d_out=4):
    X = RNG.standard_normal((n, d_in))
    Y = np.eye(d_out)[RNG.integers(0, d_out, n)]
    return X, Y


def test_dict_mlp_matches_finite_differences_and_uses_direct_forms():
    X, Y = _data()
    g, got = _check(mlp_d, _mlp_params(), X, Y)
    assert all(type(v) is np.ndarray for v in got.values())
    source = g.source
    assert "unbroadcast(" not in source
    assert "matmul_adjoint" not in source
    assert "X.T @" in source and ".sum(axis=0)" in source


def test_dict_mlp_gradient_equals_positional_gradient():
    def mlp(W1, b1, W2, b2, X, Y):
        h = np.tanh(X @ W1 + b1)
        z = h @ W2 + b2
        lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
        return -np.sum(Y * (z - lse)) / X.shape[0]

    X, Y = _data()
    p = _mlp_params()
    positional = grad(mlp, wrt=(0, 1, 2, 3))(p["W1"], p["b1"], p["W2"], p["b2"], X, Y)
    by_key = grad(mlp_d, wrt=0)(p, X, Y)
    for k, key in enumerate(["W1", "b1", "W2", "b2"]):
        np.testing.assert_allclose(by_key[key], positional[k], rtol=1e-12, atol=1e-14)


def mixed(p, x):
    """Leaves of rank 0, 1 and 2 and a float leaf."""
    y = p["A"] @ x + p["b"]
    return np.sum(np.sin(y) * p["s"]) + p["c"] * np.sum(y * y)


def _mixed_params():
    return {
        "A": RNG.standard_normal((4, 3)),
        "b": RNG.standard_normal(4),
        "s": np.array(RNG.standard_normal()),
        "c": float(RNG.standard_normal()),
    }


def test_leaves_of_rank_0_1_2_and_a_float_leaf():
    g, got = _check(mixed, _mixed_params(), RNG.standard_normal(3))
    assert isinstance(got["c"], float)
    assert type(got["A"]) is np.ndarray and got["A"].shape == (4, 3)
    assert "np.outer(" in g.source  # the 2-D @ 1-D direct form


def test_unit_axis_leaf_is_broadcast_back():
    def f(p, x):
        return np.sum(np.tanh(x * p["row"] + p["col"]))

    p = {"row": RNG.standard_normal((1, 4)), "col": RNG.standard_normal((3, 1))}
    _, got = _check(f, p, RNG.standard_normal((3, 4)))
    assert got["row"].shape == (1, 4) and got["col"].shape == (3, 1)


def test_float32_leaves():
    def f(p, x):
        return np.sum(np.tanh(x @ p["W"] + p["b"]))

    p = {
        "W": RNG.standard_normal((3, 2)).astype(np.float32),
        "b": RNG.standard_normal(2).astype(np.float32),
    }
    x = RNG.standard_normal((5, 3))
    got = grad(f, wrt=0)(p, x)
    p64 = {k: v.astype(np.float64) for k, v in p.items()}
    want = _numeric_dict_gradient(f, p64, (x,))
    for key in p:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-5)


def test_one_gradient_object_regenerates_for_other_leaves():
    def f(p, x):
        return np.sum(np.cos(p["a"] * x + p["b"]))

    g = grad(f, wrt=0)
    calls = [
        ({"a": RNG.standard_normal(3), "b": RNG.standard_normal(3)}, RNG.standard_normal(3)),
        ({"a": RNG.standard_normal((2, 3)), "b": RNG.standard_normal(3)}, RNG.standard_normal(3)),
        ({"a": np.array(0.7), "b": RNG.standard_normal((2, 3))}, RNG.standard_normal((2, 3))),
        ({"a": RNG.standard_normal(3), "b": 0.3}, RNG.standard_normal((4, 3))),
        ({"a": RNG.standard_normal((1, 3)), "b": RNG.standard_normal((4, 1))}, np.ones(3)),
        ({"a": RNG.standard_normal(3).astype(np.float32), "b": np.ones(3)}, np.ones(3)),
        ({"a": RNG.standard_normal(3), "b": [0.5, 0.25, 1.0]}, RNG.standard_normal(3)),
        ({"a": RNG.standard_normal(3), "b": RNG.standard_normal(3), "c": 1.0}, np.ones(3)),
    ]
    for p, x in calls * 2:  # twice: the cached code of each must still be right
        got = g(p, x)
        assert list(got) == list(p)
        p64 = {k: np.asarray(v, dtype=np.float64) if k == "a" else v for k, v in p.items()}
        want = _numeric_dict_gradient(f, {k: p64[k] for k in ("a", "b")}, (x,))
        for key in ("a", "b"):
            got_leaf = np.asarray(got[key], dtype=np.float64)
            np.testing.assert_allclose(got_leaf, want[key], rtol=1e-4, atol=1e-5, err_msg=key)
    with pytest.raises(KeyError):
        g({"a": np.ones(3)}, np.ones(3))


def test_dict_of_other_leaves_keeps_generic_code():
    def f(p, x):
        return np.sum(x * p["w"] + p["b"])

    p = {"w": RNG.standard_normal(3), "b": RNG.standard_normal(3), "tags": ["a"]}
    g = grad(f, wrt=0)
    x = RNG.standard_normal(3)
    got = g(p, x)
    assert set(got) == {"w", "b", "tags"}
    np.testing.assert_allclose(got["w"], x, rtol=1e-12)
    np.testing.assert_allclose(got["b"], np.ones(3), rtol=1e-12)
    generic = g.source
    arrays_only = g.source_for({"w": p["w"], "b": p["b"]}, x)
    assert "mul_adjoint_right(" in generic and "mul_adjoint_right(" not in arrays_only


def test_function_calling_a_helper_gets_no_leaf_facts():
    def helper(q):
        return q["w"] * 2.0

    def f(p, x):
        return np.sum(helper(p) * x + p["b"])

    p = {"w": RNG.standard_normal(3), "b": RNG.standard_normal(3)}
    g, _ = _check(f, p, RNG.standard_normal(3))
    source = g.source  # the dict could change inside the helper: generic forms
    assert "unbroadcast(" in source or "_adjoint_right(" in source


def test_non_differentiated_dict_argument_is_not_taken_by_the_fast_path():
    def f(x, cfg):
        return np.sum(np.tanh(x * cfg["scale"] + cfg["shift"]))

    g = grad(f, wrt=0)
    x = RNG.standard_normal(3)
    for cfg in [
        {"scale": RNG.standard_normal(3), "shift": RNG.standard_normal(3)},
        {"scale": RNG.standard_normal((2, 3)), "shift": RNG.standard_normal(3)},
        {"scale": RNG.standard_normal(3), "shift": RNG.standard_normal((4, 1))},
    ] * 2:
        got = g(x, cfg)
        eps = 1e-6
        want = np.zeros(3)
        for i in range(3):
            up, down = x.copy(), x.copy()
            up[i] += eps
            down[i] -= eps
            want[i] = (f(up, cfg) - f(down, cfg)) / (2 * eps)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


_SHARED: dict = {}


def _replace_shared_leaf():
    _SHARED["w"] = np.full((2, 3), 3.0)


def test_helper_changing_the_dict_through_a_global_gets_no_leaf_facts():
    """The helper replaces the rank-1 leaf by a 2-D one between the call and the read:
    code that kept the call's facts would give ``x`` a gradient of the wrong shape."""

    def f(p, x):
        _replace_shared_leaf()
        return np.sum(x * p["w"])

    _SHARED.clear()
    _SHARED["w"] = np.ones(3)
    got = grad(f, wrt=1)(_SHARED, np.ones(3))
    np.testing.assert_allclose(got, np.full(3, 6.0), rtol=1e-12)


def test_writes_into_a_dict_parameter_are_refused():
    from ad_transform import ADTransformError

    def through_alias(p, x):
        q = p
        q["w"] = np.ones((2, 3))
        return np.sum(x * p["w"])

    with pytest.raises(ADTransformError):
        grad(through_alias, wrt=1)({"w": np.ones(3)}, np.ones(3))


def test_element_loop_over_a_leaf_with_a_float_leaf():
    def f(p, x):
        s = 0.0
        for i in range(x.shape[0]):
            s = s + p["w"][i] * x[i] * p["c"] + np.sin(p["w"][i])
        return s

    _, got = _check(f, {"w": RNG.standard_normal(4), "c": 1.5}, RNG.standard_normal(4))
    assert isinstance(got["c"], float)
