"""Behaviour of the user-facing callables: ``grad``, ``value_and_grad``, ``vjp``.

Expected gradients are derived by hand (or by central finite differences in
float64), never taken from the tool's own output.
"""

import inspect
import math
import traceback
import types

import numpy as np
import pytest

from ad_transform import ADTransformError, grad, value_and_grad, vjp


def central_difference(f, args, position, eps=1e-6):
    """d f / d args[position] by central differences (float64, scalar or array argument)."""
    x = np.asarray(args[position], dtype=np.float64)
    out = np.zeros_like(x)
    flat = out.reshape(-1)
    for i in range(x.size):
        step = np.zeros_like(x)
        step.reshape(-1)[i] = eps
        hi, lo = list(args), list(args)
        hi[position] = x + step if x.ndim else float(x + step)
        lo[position] = x - step if x.ndim else float(x - step)
        flat[i] = (f(*hi) - f(*lo)) / (2 * eps)
    return out if x.ndim else float(out)


# --- functions under test ---------------------------------------------------------------


def product3(x, y=2.0, *, z=3.0):
    """The product of three numbers."""
    return x * y * z


def mul(x, y):
    return x * y


def square(x):
    return x * x


def sum_of_squares(x):
    return np.sum(x * x)


def weighted(x, w):
    return np.sum(x * w)


def only_second(x, y):
    return np.sum(y)


def affine_scalar(x):
    return x * 3.0


def vector_valued(x):
    return np.sin(x) * x[0]


def matvec(a, x):
    return a @ x


def array_output(x):
    return x * 2.0


SCALE = 3.0


def uses_global(x):
    return SCALE * x * x


def make_closure(c):
    def closed(x):
        return c * np.sin(x)

    return closed


def make_mutable_closure():
    c = 2.0

    def closed(x):
        return c * x * x

    def set_c(value):
        nonlocal c
        c = value

    return closed, set_c


def h_inner(a, b):
    return a * b + np.sin(a)


def h_outer(a, b):
    return h_inner(a, b) * h_inner(b, a)


def mutual_top(x, y):
    return h_outer(x, y) + h_inner(x, 2.0)


def cube_helper(a, b):
    return a * b * b


def helper_twice(x):
    # cube_helper(x, 2) = 4x (x active first), cube_helper(3, x) = 3x^2 (x active second)
    return cube_helper(x, 2.0) + cube_helper(3.0, x)


def scaled(a, scale=2.0):
    return a * scale


def helper_keywords(x):
    return scaled(x) + scaled(x, scale=3.0) + scaled(scale=x, a=4.0)


def arr_helper(v):
    return np.sum(v * v)


def array_helpers(v, w):
    return arr_helper(v) * arr_helper(w) + arr_helper(v * w)


def swappable(x):
    return x * x


def calls_swappable(x):
    return swappable(x) + 1.0


def indexes_out_of_bounds(x):
    y = np.log(x)
    return y[5]


# --- decorator forms, wrt, return structure ---------------------------------------------


def test_decorator_forms():
    @grad
    def d1(x):
        return x * x * x

    @grad(wrt=1)
    def d2(x, y):
        return x * y * y

    @grad(wrt=(0, 1))
    def d3(x, y):
        return x * y * y

    assert d1(2.0) == pytest.approx(12.0)
    assert d2(2.0, 3.0) == pytest.approx(12.0)
    assert d3(2.0, 3.0) == pytest.approx((9.0, 12.0))

    @value_and_grad
    def v1(x):
        return x * x * x

    @value_and_grad(wrt=(0, 1))
    def v2(x, y):
        return x * y * y

    assert v1(2.0) == pytest.approx((8.0, 12.0))
    value, (gx, gy) = v2(2.0, 3.0)
    assert value == pytest.approx(18.0)
    assert (gx, gy) == pytest.approx((9.0, 12.0))

    @vjp(wrt=1)
    def p1(x, y):
        return x * y * y

    value, pullback = p1(2.0, 3.0)
    assert value == pytest.approx(18.0)
    assert pullback(2.0) == pytest.approx(24.0)


def test_int_wrt_returns_one_gradient():
    g = grad(mul, wrt=1)(2.0, 5.0)
    assert not isinstance(g, tuple)
    assert g == pytest.approx(2.0)
    g0 = grad(mul)(2.0, 5.0)
    assert not isinstance(g0, tuple)
    assert g0 == pytest.approx(5.0)


def test_tuple_wrt_returns_tuple_in_wrt_order():
    g = grad(mul, wrt=(0, 1))(2.0, 5.0)
    assert isinstance(g, tuple) and len(g) == 2
    assert g == pytest.approx((5.0, 2.0))
    g = grad(mul, wrt=(1, 0))(2.0, 5.0)
    assert isinstance(g, tuple)
    assert g == pytest.approx((2.0, 5.0))


def test_one_element_tuple_wrt_returns_one_tuple():
    g = grad(mul, wrt=(0,))(2.0, 5.0)
    assert isinstance(g, tuple) and len(g) == 1
    assert g[0] == pytest.approx(5.0)
    value, g = value_and_grad(mul, wrt=(0,))(2.0, 5.0)
    assert value == pytest.approx(10.0)
    assert isinstance(g, tuple) and len(g) == 1


def test_one_element_tuple_wrt_vjp_returns_one_tuple():
    _, pullback = vjp(mul, wrt=(0,))(2.0, 5.0)
    g = pullback(1.0)
    assert isinstance(g, tuple) and len(g) == 1
    assert g[0] == pytest.approx(5.0)


def test_duplicate_wrt_is_rejected_or_gives_two_gradients():
    x = np.arange(3.0)
    y = np.array([2.0, -1.0, 0.5])
    try:
        result = grad(weighted, wrt=(0, 0))(x, y)
    except (ValueError, TypeError):
        return
    assert isinstance(result, tuple) and len(result) == 2
    np.testing.assert_allclose(result[0], y)
    np.testing.assert_allclose(result[1], y)


def test_value_and_grad_returns_value_and_gradient():
    value, g = value_and_grad(square)(3.0)
    assert value == pytest.approx(9.0)
    assert g == pytest.approx(6.0)
    value, (gx, gy) = value_and_grad(mul, wrt=(0, 1))(3.0, -2.0)
    assert value == pytest.approx(-6.0)
    assert (gx, gy) == pytest.approx((-2.0, 3.0))


# --- metadata -----------------------------------------------------------------------------


@pytest.mark.parametrize("transform", [grad, value_and_grad, vjp])
def test_wrapper_metadata_matches_original(transform):
    t = transform(product3)
    assert t.__wrapped__ is product3
    assert t.__name__ == "product3"
    assert t.__qualname__ == product3.__qualname__
    assert t.__doc__ == "The product of three numbers."
    assert inspect.signature(t) == inspect.signature(product3)
    assert str(inspect.signature(t)) == "(x, y=2.0, *, z=3.0)"


# --- arguments: keywords, defaults --------------------------------------------------------


def test_defaults_and_keywords():
    g = grad(product3)
    assert g(1.0) == pytest.approx(6.0)  # y=2, z=3
    assert g(1.0, 4.0) == pytest.approx(12.0)  # z=3
    assert g(1.0, z=5.0) == pytest.approx(10.0)  # y=2
    assert g(1.0, y=4.0, z=0.5) == pytest.approx(2.0)
    assert grad(product3, wrt=1)(7.0, 4.0, z=0.5) == pytest.approx(3.5)
    value, d = value_and_grad(product3)(2.0, z=5.0)
    assert value == pytest.approx(20.0)
    assert d == pytest.approx(10.0)


def test_differentiated_argument_passed_by_keyword():
    assert grad(product3, wrt=1)(7.0, y=4.0, z=0.5) == pytest.approx(3.5)


# --- argument types -----------------------------------------------------------------------


def test_int_scalar_is_differentiated_as_float():
    g = grad(square)(3)
    assert type(g) is float
    assert g == 6.0
    g = grad(square)(np.int64(3))
    assert isinstance(g, float)
    assert g == 6.0
    g = grad(affine_scalar)(2)
    assert isinstance(g, float) and g == 3.0


def test_int_array_is_differentiated_as_float64():
    x = np.array([[1, 2], [3, 4]])
    g = grad(sum_of_squares)(x)
    assert isinstance(g, np.ndarray)
    assert g.dtype == np.float64
    assert g.shape == (2, 2)
    np.testing.assert_array_equal(g, 2.0 * x)
    assert x.dtype.kind == "i"  # the argument itself is not converted in place


def test_int_array_inactive_gradient_is_float64_zeros():
    g = grad(only_second)(np.arange(3), np.ones(3))
    assert g.dtype == np.float64
    np.testing.assert_array_equal(g, np.zeros(3))


def test_float32_arrays_keep_float32_gradients():
    x = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    g = grad(sum_of_squares)(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 2 * x, rtol=1e-6)
    g = grad(only_second)(x, x)
    assert g.dtype == np.float32
    gx, gw = grad(weighted, wrt=(0, 1))(x, x[::-1].copy())
    assert gx.dtype == np.float32 and gw.dtype == np.float32


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 1, 4)])
def test_gradient_has_shape_and_type_of_argument(shape):
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape)
    g = grad(sum_of_squares)(x)
    assert type(g) is np.ndarray
    assert g.shape == x.shape
    np.testing.assert_allclose(g, 2 * x, rtol=1e-14)


@pytest.mark.parametrize("w_shape", [(4,), (1, 4), (3, 1), (1, 1)])
def test_broadcast_argument_gradient_is_unbroadcast(w_shape):
    x = np.arange(12.0).reshape(3, 4)
    w = np.linspace(-1.0, 1.0, int(np.prod(w_shape))).reshape(w_shape)
    gx, gw = grad(weighted, wrt=(0, 1))(x, w)
    assert gx.shape == x.shape and gw.shape == w.shape
    np.testing.assert_allclose(gx, np.broadcast_to(w, x.shape))
    expected = central_difference(weighted, (x, w), 1)
    np.testing.assert_allclose(gw, expected, rtol=1e-8, atol=1e-8)


def test_scalar_broadcast_against_array_gives_float():
    x = np.arange(12.0).reshape(3, 4)
    gw = grad(weighted, wrt=1)(x, 2.0)
    assert isinstance(gw, float) and not isinstance(gw, np.ndarray)
    assert gw == pytest.approx(66.0)


def test_zero_dimensional_array_gets_array_gradient():
    g = grad(sum_of_squares)(np.array(3.0))
    assert isinstance(g, np.ndarray) and g.shape == ()
    assert g == 6.0


def test_scalar_function_of_float_gives_float():
    g = grad(square)(1.5)
    assert isinstance(g, float) and not isinstance(g, np.ndarray)


# --- errors from the api ----------------------------------------------------------------


@pytest.mark.parametrize("transform", [grad, value_and_grad])
def test_array_output_raises_and_mentions_vjp(transform):
    with pytest.raises(ADTransformError, match="vjp"):
        transform(array_output)(np.ones(3))


def test_wrt_out_of_range():
    with pytest.raises((ValueError, TypeError)):
        grad(mul, wrt=2)(1.0, 2.0)
    with pytest.raises((ValueError, TypeError)):
        grad(square, wrt=1)(1.0)
    with pytest.raises((ValueError, TypeError)):
        grad(mul, wrt=(0, 5))(1.0, 2.0)
    with pytest.raises((ValueError, TypeError)):
        vjp(mul, wrt=3)(1.0, 2.0)
    with pytest.raises((ValueError, TypeError)):
        grad(mul, wrt=-1)(1.0, 2.0)


def test_invalid_wrt_type():
    with pytest.raises(TypeError):  # wrt="x" names a parameter since issue 13; "z" none
        grad(mul, wrt="z")
    with pytest.raises(TypeError):
        grad(mul, wrt=True)
    with pytest.raises(TypeError):
        grad(mul, wrt=1.0)


# a list of floats is a container argument since issue 13 (tests/test_params_containers.py)
@pytest.mark.parametrize("bad", ["a string", None, True, np.array([True, False])])
def test_non_numeric_argument_raises_type_error(bad):
    with pytest.raises(TypeError):
        grad(square)(bad)
    with pytest.raises(TypeError):
        grad(mul, wrt=1)(2.0, bad)


def test_non_numeric_argument_not_differentiated_is_fine():
    def pick(x, label):
        return x * 2.0

    assert grad(pick)(1.0, "label") == pytest.approx(2.0)


# --- vjp ------------------------------------------------------------------------------------


def test_vjp_matches_analytic_jacobian_transpose():
    x = np.array([0.3, -1.2, 2.5])
    value, pullback = vjp(vector_valued)(x)
    np.testing.assert_allclose(value, np.sin(x) * x[0])
    # f_i = sin(x_i) x_0:  J_ij = cos(x_i) x_0 delta_ij + sin(x_i) delta_j0
    jac = np.diag(np.cos(x) * x[0])
    jac[:, 0] += np.sin(x)
    for v in (np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]), np.array([0.5, -2.0, 3.0])):
        np.testing.assert_allclose(pullback(v), jac.T @ v, rtol=1e-13, atol=1e-15)


def test_vjp_two_arguments_matvec():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(3, 4))
    x = rng.normal(size=4)
    value, pullback = vjp(matvec, wrt=(0, 1))(a, x)
    np.testing.assert_allclose(value, a @ x)
    v = rng.normal(size=3)
    da, dx = pullback(v)
    np.testing.assert_allclose(da, np.outer(v, x), rtol=1e-13)
    np.testing.assert_allclose(dx, a.T @ v, rtol=1e-13)


def test_vjp_pullback_can_be_called_twice():
    x = np.array([0.3, -1.2, 2.5])
    _, pullback = vjp(vector_valued)(x)
    v1 = np.array([1.0, 2.0, 3.0])
    v2 = np.array([-1.0, 0.0, 4.0])
    first = pullback(v1).copy()
    second = pullback(v2)
    third = pullback(v1)
    np.testing.assert_array_equal(first, third)
    jac = np.diag(np.cos(x) * x[0])
    jac[:, 0] += np.sin(x)
    np.testing.assert_allclose(second, jac.T @ v2, rtol=1e-13)


def test_vjp_linear_in_cotangent():
    x = np.array([0.3, -1.2, 2.5])
    _, pullback = vjp(vector_valued)(x)
    v1 = np.array([1.0, 2.0, 3.0])
    v2 = np.array([-1.0, 0.0, 4.0])
    np.testing.assert_allclose(
        pullback(2.0 * v1 + v2), 2.0 * pullback(v1) + pullback(v2), rtol=1e-13
    )


def test_vjp_of_scalar_function():
    value, pullback = vjp(square)(3.0)
    assert value == pytest.approx(9.0)
    assert pullback(1.0) == pytest.approx(6.0)
    assert pullback(-0.5) == pytest.approx(-3.0)


@pytest.mark.parametrize("bad_shape", [(2,), (4,), (3, 1), (1, 3), ()])
def test_vjp_wrong_cotangent_shape(bad_shape):
    _, pullback = vjp(vector_valued)(np.array([0.3, -1.2, 2.5]))
    with pytest.raises(ValueError):
        pullback(np.ones(bad_shape))


# --- namespace: globals, closures ------------------------------------------------------------


def test_global_read():
    global SCALE
    old = SCALE
    g = grad(uses_global)
    try:
        assert g(2.0) == pytest.approx(2 * 3.0 * 2.0)
        SCALE = 5.0  # the generated code reads the global live
        assert g(2.0) == pytest.approx(2 * 5.0 * 2.0)
    finally:
        SCALE = old


def test_closure_read():
    for c in (2.0, -0.5):
        g = grad(make_closure(c))
        assert g(0.7) == pytest.approx(c * math.cos(0.7))


def test_closure_cell_read_live():
    closed, set_c = make_mutable_closure()
    g = grad(closed)
    assert g(1.5) == pytest.approx(2 * 2.0 * 1.5)
    set_c(10.0)
    assert g(1.5) == pytest.approx(2 * 10.0 * 1.5)


# --- user helper functions -------------------------------------------------------------------


def test_mutual_helper_calls():
    x, y = 0.7, -1.3
    p = x * y + math.sin(x)
    q = y * x + math.sin(y)
    dx = (y + math.cos(x)) * q + p * y + 2.0 + math.cos(x)
    dy = x * q + p * (x + math.cos(y))
    gx, gy = grad(mutual_top, wrt=(0, 1))(x, y)
    assert gx == pytest.approx(dx, rel=1e-13)
    assert gy == pytest.approx(dy, rel=1e-13)
    value, _ = value_and_grad(mutual_top, wrt=(0, 1))(x, y)
    assert value == pytest.approx(p * q + 2.0 * x + math.sin(x), rel=1e-13)


@pytest.mark.parametrize("x", [0.0, 1.0, 2.0, -3.5])
def test_helper_called_with_different_activity(x):
    # d/dx (4x + 3x^2) = 4 + 6x
    assert grad(helper_twice)(x) == pytest.approx(4.0 + 6.0 * x)
    value, d = value_and_grad(helper_twice)(x)
    assert value == pytest.approx(4.0 * x + 3.0 * x * x)
    assert d == pytest.approx(4.0 + 6.0 * x)


def test_helper_called_with_keywords_and_defaults():
    # 2x + 3x + 4x
    assert grad(helper_keywords)(1.3) == pytest.approx(9.0)


def test_array_helpers():
    v = np.array([1.0, 2.0])
    w = np.array([3.0, -1.0])
    gv, gw = grad(array_helpers, wrt=(0, 1))(v, w)
    np.testing.assert_allclose(gv, 2 * v * np.sum(w * w) + 2 * v * w * w)
    np.testing.assert_allclose(gw, 2 * w * np.sum(v * v) + 2 * w * v * v)


def test_helper_in_vjp():
    value, pullback = vjp(helper_twice)(2.0)
    assert value == pytest.approx(8.0 + 12.0)
    assert pullback(0.5) == pytest.approx(0.5 * (4.0 + 12.0))


def test_rebinding_a_global_helper_is_seen():
    global swappable
    original = swappable
    try:
        assert value_and_grad(calls_swappable)(3.0) == pytest.approx((10.0, 6.0))

        def cubed(x):
            return x * x * x

        swappable = cubed
        assert calls_swappable(3.0) == pytest.approx(28.0)
        assert value_and_grad(calls_swappable)(3.0) == pytest.approx((28.0, 27.0))
    finally:
        swappable = original


# --- generated source --------------------------------------------------------------------


def _copy_function(f):
    return types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__, f.__closure__)


@pytest.mark.parametrize(
    "f, args",
    [(mutual_top, (0.7, -1.3)), (weighted, (np.ones(3), np.arange(3.0))), (helper_twice, (1.0,))],
)
def test_source_is_deterministic(f, args):
    first, second = _copy_function(f), _copy_function(f)
    assert first is not second
    g1 = grad(first, wrt=tuple(range(len(args))))
    g2 = grad(second, wrt=tuple(range(len(args))))
    g1(*args)
    g2(*args)
    assert g1.source == g2.source
    assert g1.source_for(*args) == g2.source_for(*args)
    compile(g1.source, "<test>", "exec")


@pytest.mark.parametrize("transform", [grad, value_and_grad, vjp])
def test_source_compiles(transform):
    t = transform(mutual_top, wrt=(0, 1))
    t(0.7, -1.3)
    source = t.source
    assert isinstance(source, str) and source.strip()
    compile(source, "<test>", "exec")


def test_source_before_first_call_compiles():
    compile(grad(mutual_top, wrt=(0, 1)).source, "<test>", "exec")


def test_traceback_shows_generated_source_line():
    g = grad(indexes_out_of_bounds)
    with pytest.raises(IndexError) as info:
        g(np.array([1.0, 2.0, 3.0]))
    frames = traceback.extract_tb(info.value.__traceback__)
    generated = [fr for fr in frames if fr.filename.startswith("<ad_transform")]
    assert generated, [fr.filename for fr in frames]
    frame = generated[-1]
    assert frame.line, "the generated source line is not available to tracebacks"
    assert "[5]" in frame.line
    source_lines = g.source.splitlines()
    assert frame.line.strip() in (line.strip() for line in source_lines)
