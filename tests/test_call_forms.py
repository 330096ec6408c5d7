"""Issue 13: ``has_aux`` and the call forms JAX and autograd users type: ``grad(f, 1)``,
``wrt=[0, 1]``, ``argnums=``, ``wrt="name"``. Expected values from calculus and central
finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import numerical_gradient
from tree_check import check_tree_gradient

from ad_transform import ADTransformError, grad, value_and_grad, vjp

RNG = np.random.default_rng(7)
W = RNG.normal(size=(3, 2))
X = RNG.normal(size=(4, 3))


def mul(x, y):
    return x * y * y


def loss_with_aux(w, x):
    prediction = np.tanh(x @ w)
    loss = np.sum(prediction**2)
    return loss, {"prediction": prediction, "count": len(x), "label": "train"}


def loss_only(w, x):
    return loss_with_aux(w, x)[0]


def test_grad_has_aux_returns_the_gradient_and_the_aux_unchanged():
    gradient, aux = grad(loss_with_aux, has_aux=True)(W, X)
    np.testing.assert_allclose(gradient, numerical_gradient(loss_only, (W, X)), rtol=1e-6)
    np.testing.assert_allclose(aux["prediction"], np.tanh(X @ W), rtol=1e-15)
    assert aux["count"] == 4 and aux["label"] == "train"


def test_value_and_grad_has_aux_layout():
    (value, aux), gradient = value_and_grad(loss_with_aux, has_aux=True)(W, X)
    assert value == pytest.approx(loss_only(W, X), rel=1e-12)
    np.testing.assert_allclose(aux["prediction"], np.tanh(X @ W), rtol=1e-15)
    np.testing.assert_allclose(gradient, numerical_gradient(loss_only, (W, X)), rtol=1e-6)


def vector_with_aux(v):
    return np.sin(v) * v[0], v * 10.0


def test_vjp_has_aux_dot_product():
    v0 = RNG.normal(size=4)
    value, pullback, aux = vjp(vector_with_aux, has_aux=True)(v0)
    np.testing.assert_allclose(aux, v0 * 10.0)
    cotangent, u, eps = RNG.normal(size=4), RNG.normal(size=4), 1e-6
    ju = (vector_with_aux(v0 + eps * u)[0] - vector_with_aux(v0 - eps * u)[0]) / (2 * eps)
    assert float(u @ pullback(cotangent)) == pytest.approx(float(ju @ cotangent), rel=1e-6)
    np.testing.assert_allclose(value, vector_with_aux(v0)[0])


def test_has_aux_with_dict_parameters():
    def f(p, x):
        out = np.sum(np.tanh(x @ p["w"]) * p["s"])
        return out, np.tanh(x @ p["w"])

    params = {"w": W, "s": 0.5}
    gradient, aux = grad(f, has_aux=True)(params, X)
    check_tree_gradient(lambda p, x: f(p, x)[0], (params, X), gradient)
    np.testing.assert_allclose(aux, np.tanh(X @ W))


def not_a_pair(w, x):
    return np.sum(w)


def test_has_aux_needs_a_pair():
    with pytest.raises(ADTransformError, match=r"has_aux=True.*pair"):
        grad(not_a_pair, has_aux=True)(W, X)


def test_has_aux_source_and_decorator():
    @grad(has_aux=True)
    def g(w):
        return np.sum(w**2), w.shape

    gradient, aux = g(W)
    np.testing.assert_allclose(gradient, 2 * W)
    assert aux == W.shape
    assert "def g_fwd" in g.source


def test_positional_wrt():
    assert grad(mul, 1)(2.0, 3.0) == pytest.approx(12.0)
    assert value_and_grad(mul, 1)(2.0, 3.0) == pytest.approx((18.0, 12.0))
    _, pullback = vjp(mul, 0)(2.0, 3.0)
    assert pullback(1.0) == pytest.approx(9.0)


def test_wrt_list_like_a_tuple():
    gradients = grad(mul, wrt=[0, 1])(2.0, 3.0)
    assert isinstance(gradients, tuple) and gradients == pytest.approx((9.0, 12.0))


def test_argnums_is_another_name_for_wrt():
    assert grad(mul, argnums=1)(2.0, 3.0) == pytest.approx(12.0)
    assert grad(mul, argnums=(0, 1))(2.0, 3.0) == pytest.approx((9.0, 12.0))

    @grad(argnums=1)
    def h(x, y):
        return x * y

    assert h(2.0, 3.0) == pytest.approx(2.0)
    with pytest.raises(TypeError, match="not both"):
        grad(mul, wrt=0, argnums=1)


def test_wrt_by_parameter_name():
    assert grad(mul, wrt="y")(2.0, 3.0) == pytest.approx(12.0)
    assert grad(mul, wrt=("y", "x"))(2.0, 3.0) == pytest.approx((12.0, 9.0))
    assert grad(mul, wrt=["x", 1])(2.0, 3.0) == pytest.approx((9.0, 12.0))
    with pytest.raises(TypeError, match="no positional parameter"):
        grad(mul, wrt="z")


def test_wrt_by_name_of_a_bound_method():
    class Model:
        def loss(self, w, x):
            return np.sum((x @ w) ** 2)

    model = Model()
    gradient = grad(model.loss, wrt="w")(W, X)
    np.testing.assert_allclose(gradient, 2 * X.T @ (X @ W), rtol=1e-12)


def test_an_index_where_the_function_goes_names_the_right_spelling():
    with pytest.raises(TypeError, match=r"grad\(f, wrt=1\)"):
        grad(1)
