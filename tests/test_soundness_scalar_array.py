"""One semantics for the scalar and the array specialisations (issue 11, items 5, 6, 8).

The same function is differentiated with a Python float and with a 0-d array: the code
generated for them differs (plain arithmetic for floats, ``times``/``over`` for arrays),
the gradients must not. Each function of ``TABLE`` is evaluated at ordinary points
(where it is smooth: the gradient must also match central finite differences) and at
edge points (a singularity, an overflow, a tie, a masked branch), where the expected
value, when given, comes from calculus or from the documented convention:

* a zero adjoint contributes exactly 0, even through an infinite or NaN derivative (the
  where trap, a saturated sigmoid);
* a derivative that is infinite at a point the function accepts is ``inf`` (IEEE),
  an undefined one (``0 / 0``) NaN: never ``ZeroDivisionError`` from the adjoint code;
* ``d/dx x**0 = 0``, also at ``x == 0``.

The forward sweep is the function: where the user's function raises, the gradient
raises the same exception; where it warns, the gradient warns alike; where it does not
warn, neither does the gradient (except with a NaN gradient, an indeterminate
``0 * inf`` NumPy may report). Gradients have the type of their argument.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from gradcheck import numerical_gradient

from ad_transform import ADTransformError, grad, value_and_grad, vjp

inf, nan = math.inf, math.nan

# -- the functions ------------------------------------------------------------------------


def m_sqrt(x):
    return math.sqrt(x)


def m_sqrt_squared(x):
    return math.sqrt(x) ** 2


def m_log(x):
    return math.log(x)


def m_log_base(x):
    return math.log(x, 3.0)


def m_log2(x):
    return math.log2(x)


def m_log10(x):
    return math.log10(x)


def m_exp(x):
    return math.exp(x)


def m_sin(x):
    return math.sin(x) * 2.0


def m_cos(x):
    return math.cos(x)


def m_tan(x):
    return math.tan(x)


def m_asin(x):
    return math.asin(x)


def m_acos(x):
    return math.acos(x)


def m_atan(x):
    return math.atan(x)


def m_sinh(x):
    return math.sinh(x)


def m_cosh(x):
    return math.cosh(x)


def m_tanh(x):
    return math.tanh(x)


def m_pow_half(x):
    return math.pow(x, 0.5)


def m_pow_zero(x):
    return math.pow(x, 0.0)


def m_hypot(x):
    return math.hypot(x, 0.0)


def m_fabs(x):
    return math.fabs(x)


def b_abs(x):
    return abs(x)


def b_max(x):
    return max(x, 0.0)


def b_pow(x):
    return pow(x, 0.5)


def n_sqrt(x):
    return np.sqrt(x)


def n_cbrt(x):
    return np.cbrt(x)


def n_log(x):
    return np.log(x)


def n_log2(x):
    return np.log2(x)


def n_log10(x):
    return np.log10(x)


def n_log1p(x):
    return np.log1p(x)


def n_exp(x):
    return np.exp(x)


def n_exp2(x):
    return np.exp2(x)


def n_expm1(x):
    return np.expm1(x)


def n_sin(x):
    return np.sin(x)


def n_cos(x):
    return np.cos(x)


def n_tan(x):
    return np.tan(x)


def n_arcsin(x):
    return np.arcsin(x)


def n_arccos(x):
    return np.arccos(x)


def n_arctan(x):
    return np.arctan(x)


def n_sinh(x):
    return np.sinh(x)


def n_cosh(x):
    return np.cosh(x)


def n_tanh(x):
    return np.tanh(x)


def n_arcsinh(x):
    return np.arcsinh(x)


def n_arccosh(x):
    return np.arccosh(x)


def n_arctanh(x):
    return np.arctanh(x)


def n_reciprocal(x):
    return np.reciprocal(x)


def n_square(x):
    return np.square(x)


def n_abs(x):
    return np.abs(x)


def n_sinc(x):
    return np.sinc(x)


def divide(x):
    return 1.0 / x


def divide_by_constant(x):
    return x / 4.0


def quotient_of_both(x):
    return x / (x * x + 1.0)


def n_divide(x):
    return np.divide(1.0, x)


def power_zero(x):
    return x**0.0


def power_half(x):
    return x**0.5


def power_minus_one(x):
    return x**-1.0


def power_two(x):
    return x**2.0


def power_int(x):
    return x**3


def power_three_halves(x):
    return x**1.5


def exponent_active(x):
    return 2.0**x


def n_power_zero(x):
    return np.power(x, 0.0)


def n_power_half(x):
    return np.power(x, 0.5)


def n_float_power_zero(x):
    return np.float_power(x, 0.0)


def n_float_power_half(x):
    return np.float_power(x, 0.5)


def modulo(x):
    return x % 1.5


def n_fmod(x):
    return np.fmod(x, 1.5)


def where_trap(x):
    return np.where(x >= 0, x, np.sqrt(-x))


def where_sqrt(x):
    return np.where(x > 0, np.sqrt(x), 0.0)


def where_reciprocal(x):
    return np.where(x != 0, np.divide(1.0, x), 0.0)


def where_log(x):
    return np.where(x > 0, np.log(np.abs(x) + (x == 0)), x)


def clip(x):
    return np.clip(x, 0.0, 1.0)


def maximum(x):
    return np.maximum(x, 0.0)


def minimum(x):
    return np.minimum(x, 1.0)


def hypot(x):
    return np.hypot(x, 2.0)


def hypot_both(x):
    return np.hypot(x, x)


def arctan2(x):
    return np.arctan2(x, 1.0)


def arctan2_same(x):
    return np.arctan2(x, x)


def arctan2_masked(x):
    return np.where(x > 0, np.arctan2(x, x), 0.0)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softplus(x):
    return np.log1p(np.exp(x))


def logaddexp(x):
    return np.logaddexp(x, 0.0)


def norm_of_self(x):
    return math.sqrt(x * x)


def exp_times_zero_branch(x):
    big = np.exp(x)
    return np.where(x > 700, x, big * x)


def sum_of_float(x):
    return np.sum(x) * 3.0


def std_of_pair(x):
    return np.std(np.array([x, 1.0]))


def mean_of_float(x):
    return np.mean(x)


# name -> (function, ordinary points, edge points as (point, expected or None: agreement only))
TABLE = {
    "math.sqrt": (m_sqrt, [2.0, 0.3], [(0.0, inf)]),
    # d(v**2)/dv = 2v is exactly 0 at v = sqrt(0): a zero adjoint contributes 0
    "math.sqrt**2": (m_sqrt_squared, [2.0], [(0.0, 0.0)]),
    "math.log": (m_log, [2.0, 0.5], [(0.0, None)]),
    "math.log base": (m_log_base, [2.0], []),
    "math.log2": (m_log2, [2.0], []),
    "math.log10": (m_log10, [2.0], []),
    "math.exp": (m_exp, [0.5, -2.0], [(-800.0, 0.0), (800.0, None)]),
    "math.sin": (m_sin, [0.3, 2.0], []),
    "math.cos": (m_cos, [0.3], []),
    "math.tan": (m_tan, [0.3], []),
    "math.asin": (m_asin, [0.3, -0.5], [(1.0, inf), (-1.0, inf)]),
    "math.acos": (m_acos, [0.3], [(1.0, -inf)]),
    "math.atan": (m_atan, [0.3], [(1e100, 1e-200)]),
    "math.sinh": (m_sinh, [0.3], []),
    "math.cosh": (m_cosh, [0.3], []),
    "math.tanh": (m_tanh, [0.3], [(800.0, 0.0)]),
    "math.pow(x, 0.5)": (m_pow_half, [2.0], [(0.0, inf)]),
    "math.pow(x, 0)": (m_pow_zero, [2.0], [(0.0, 0.0)]),
    "math.hypot": (m_hypot, [2.0, -1.5], [(0.0, 0.0)]),
    "math.fabs": (m_fabs, [2.0, -1.5], [(0.0, 0.0)]),
    "abs": (b_abs, [2.0, -1.5], [(0.0, 0.0)]),
    "max": (b_max, [2.0, -1.5], [(0.0, 0.5)]),
    "pow(x, 0.5)": (b_pow, [2.0], [(0.0, inf)]),
    "np.sqrt": (n_sqrt, [2.0], [(0.0, inf)]),
    "np.cbrt": (n_cbrt, [2.0, -3.0], [(0.0, inf)]),
    "np.log": (n_log, [2.0], [(0.0, inf)]),
    "np.log2": (n_log2, [2.0], [(0.0, inf)]),
    "np.log10": (n_log10, [2.0], [(0.0, inf)]),
    "np.log1p": (n_log1p, [2.0], [(-1.0, inf)]),
    "np.exp": (n_exp, [0.5], [(-800.0, 0.0), (800.0, inf)]),
    "np.exp2": (n_exp2, [0.5], [(-2000.0, 0.0)]),
    "np.expm1": (n_expm1, [0.5], [(-800.0, 0.0)]),
    "np.sin": (n_sin, [0.3], []),
    "np.cos": (n_cos, [0.3], []),
    "np.tan": (n_tan, [0.3], []),
    "np.arcsin": (n_arcsin, [0.3], [(1.0, inf), (-1.0, inf)]),
    "np.arccos": (n_arccos, [0.3], [(1.0, -inf)]),
    "np.arctan": (n_arctan, [0.3], []),
    "np.sinh": (n_sinh, [0.3], []),
    "np.cosh": (n_cosh, [0.3], []),
    "np.tanh": (n_tanh, [0.3], [(800.0, 0.0)]),
    "np.arcsinh": (n_arcsinh, [0.3], []),
    "np.arccosh": (n_arccosh, [2.0], [(1.0, inf)]),
    "np.arctanh": (n_arctanh, [0.3], [(1.0, inf)]),
    "np.reciprocal": (n_reciprocal, [2.0], [(0.0, -inf)]),
    "np.square": (n_square, [2.0], [(0.0, 0.0)]),
    "np.abs": (n_abs, [2.0, -1.5], [(0.0, 0.0)]),
    "np.sinc": (n_sinc, [0.3], [(0.0, 0.0)]),
    "1 / x": (divide, [2.0, -0.5], [(0.0, None)]),
    "x / 4": (divide_by_constant, [2.0], []),
    "x / (x*x + 1)": (quotient_of_both, [2.0, 0.0], []),
    "np.divide(1, x)": (n_divide, [2.0], [(0.0, -inf)]),
    "x ** 0.0": (power_zero, [2.0], [(0.0, 0.0)]),
    "x ** 0.5": (power_half, [2.0], [(0.0, inf)]),
    "x ** -1.0": (power_minus_one, [2.0, -0.5], [(0.0, None)]),
    "x ** 2.0": (power_two, [2.0, -1.5], [(0.0, 0.0)]),
    "x ** 3": (power_int, [2.0, -1.5], [(0.0, 0.0)]),
    "x ** 1.5": (power_three_halves, [2.0], [(0.0, 0.0)]),
    "2 ** x": (exponent_active, [2.0, -1.5], [(-2000.0, 0.0)]),
    "np.power(x, 0)": (n_power_zero, [2.0], [(0.0, 0.0)]),
    "np.power(x, 0.5)": (n_power_half, [2.0], [(0.0, inf)]),
    "np.float_power(x, 0)": (n_float_power_zero, [2.0], [(0.0, 0.0)]),
    "np.float_power(x, 0.5)": (n_float_power_half, [2.0], [(0.0, inf)]),
    "x % 1.5": (modulo, [2.0, -0.7], []),
    "np.fmod": (n_fmod, [2.0, -0.7], []),
    "where trap": (where_trap, [2.0], [(1.0, 1.0), (-4.0, -0.25), (0.0, 1.0)]),
    "where sqrt": (where_sqrt, [2.0], [(-1.0, 0.0), (0.0, 0.0)]),
    "where reciprocal": (where_reciprocal, [2.0], [(0.0, 0.0)]),
    "where log": (where_log, [2.0, -1.0], [(0.0, 1.0)]),
    "np.clip": (clip, [0.5], [(0.0, 0.5), (1.0, 0.5), (-1.0, 0.0)]),
    "np.maximum": (maximum, [2.0, -1.0], [(0.0, 0.5)]),
    "np.minimum": (minimum, [0.5, 2.0], [(1.0, 0.5)]),
    "np.hypot": (hypot, [1.5, -1.0], [(0.0, 0.0)]),
    "np.hypot(x, x)": (hypot_both, [1.5], [(0.0, 0.0)]),
    "np.arctan2": (arctan2, [1.5], []),
    "np.arctan2(x, x)": (arctan2_same, [1.5], [(0.0, nan)]),
    "masked arctan2": (arctan2_masked, [1.5], [(0.0, 0.0), (-1.0, 0.0)]),
    "sigmoid": (sigmoid, [0.5, -3.0], [(-800.0, 0.0), (800.0, 0.0)]),
    "softplus": (softplus, [0.5, -3.0], [(-800.0, 0.0)]),
    "np.logaddexp": (logaddexp, [0.5], [(800.0, 1.0), (-800.0, 0.0)]),
    "sqrt(x * x)": (norm_of_self, [1.5, -2.0], [(0.0, nan)]),
    "masked overflow": (exp_times_zero_branch, [2.0], [(800.0, 1.0)]),
    "np.sum": (sum_of_float, [2.0], []),
    "np.std": (std_of_pair, [2.0], [(1.0, 0.0)]),
    "np.mean": (mean_of_float, [2.0], []),
}

ORDINARY = [(name, p) for name, (_, points, _) in TABLE.items() for p in points]
EDGES = [(name, p, expected) for name, (_, _, edges) in TABLE.items() for p, expected in edges]


def test_the_table_is_big_enough():
    assert len(TABLE) >= 40


# -- helpers --------------------------------------------------------------------------------


def _outcome(call):
    """``(value, exception type, warning messages)`` of ``call()``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value, error = call(), None
        except Exception as exc:  # the exception is the outcome
            value, error = None, type(exc)
    return value, error, sorted({str(w.message) for w in caught})


def _assert_same_number(a, b, context):
    assert (math.isnan(a) and math.isnan(b)) or a == b or math.isclose(a, b, rel_tol=1e-12), (
        f"{context}: {a!r} != {b!r}"
    )


def _gradients(name, point):
    """The gradient at ``point`` for a Python float and for a 0-d array; checks on the way
    that ``grad`` and ``value_and_grad`` raise where the function raises, that
    ``value_and_grad`` (which computes the value) warns as the function does, and that
    neither warns where the function does not (unless the gradient is NaN)."""
    fn = TABLE[name][0]
    results = {}
    for kind, arg in (("float", float(point)), ("0-d array", np.array(point))):
        value, f_error, f_warnings = _outcome(lambda: fn(arg))  # noqa: B023
        g, g_error, g_warnings = _outcome(lambda: grad(fn)(arg))  # noqa: B023
        both, vg_error, vg_warnings = _outcome(lambda: value_and_grad(fn)(arg))  # noqa: B023
        context = f"{name} at {point!r} ({kind})"
        assert g_error is f_error, f"{context}: the function raises {f_error}, grad {g_error}"
        assert vg_error is f_error, f"{context}: value_and_grad raises {vg_error}"
        if f_error is None:
            assert set(f_warnings) <= set(vg_warnings), f"{context}: {vg_warnings}"
            _assert_same_number(float(both[0]), float(value), f"{context}: the value")
            _assert_same_number(float(both[1]), float(g), f"{context}: value_and_grad")
            if not f_warnings and not math.isnan(float(g)):
                assert not g_warnings, f"{context}: the gradient warns {g_warnings}"
                assert not vg_warnings, f"{context}: value_and_grad warns {vg_warnings}"
        results[kind] = (arg, g, f_error)
    return results


def _check_types(results, context):
    (_, g, error), (_, ga, array_error) = results["float"], results["0-d array"]
    if error is None:
        assert type(g) is float, f"{context}: {type(g).__name__} for a Python float"
    if array_error is None:
        assert type(ga) is np.ndarray and ga.shape == () and ga.dtype == np.float64, context


# -- the table --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "point"), ORDINARY, ids=[f"{n}@{p}" for n, p in ORDINARY])
def test_ordinary_points_agree_with_finite_differences(name, point):
    results = _gradients(name, point)
    context = f"{name} at {point}"
    _check_types(results, context)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the function's own warnings (a masked branch)
        expected = numerical_gradient(TABLE[name][0], [float(point)])
    for kind in results:
        got = float(results[kind][1])
        assert math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-8), (
            f"{context} ({kind}): {got} != finite differences {expected}"
        )
    _assert_same_number(float(results["float"][1]), float(results["0-d array"][1]), context)


@pytest.mark.parametrize(
    ("name", "point", "expected"), EDGES, ids=[f"{n}@{p}" for n, p, _ in EDGES]
)
def test_edge_points_give_one_answer(name, point, expected):
    results = _gradients(name, point)
    context = f"{name} at {point}"
    _check_types(results, context)
    answers = [float(g) for _, g, error in results.values() if error is None]
    if len(answers) == 2:
        _assert_same_number(answers[0], answers[1], f"{context}: float vs 0-d array")
    if expected is not None:
        assert answers, f"{context}: both raised"
        for got in answers:
            _assert_same_number(got, expected, context)


# -- the examples -----------------------------------------------------------------------


def test_where_trap_on_floats():
    # np.sqrt(-1.0) is the function's own warning; the gradient adds none
    for x in (1.0, np.array(1.0)):
        with pytest.warns(RuntimeWarning, match="invalid value encountered in sqrt") as caught:
            assert grad(where_trap)(x) == 1.0
        assert len(caught) == 1


def test_zero_adjoint_through_overflowed_exp():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the function's own overflow in exp
        assert grad(sigmoid)(-800.0) == 0.0
        assert grad(sigmoid)(np.array(-800.0)) == 0.0


def radius(x, y):
    return math.sqrt(x * x + y * y)


def sum_of_power_zero(x):
    return np.sum(np.power(x, 0.0))


def test_no_exception_from_adjoint_code():
    assert grad(m_sqrt_squared)(0.0) == 0.0
    assert grad(power_zero)(0.0) == 0.0
    assert grad(power_zero)(np.array(0.0)) == 0.0
    assert np.array_equal(grad(sum_of_power_zero)(np.zeros(3)), np.zeros(3))
    gx, gy = grad(radius, wrt=(0, 1))(0.0, 0.0)  # d sqrt at 0 is inf, times x = 0: NaN
    assert math.isnan(gx) and math.isnan(gy)
    gx, gy = grad(radius, wrt=(0, 1))(3.0, 4.0)
    assert math.isclose(gx, 0.6, rel_tol=1e-15) and math.isclose(gy, 0.8, rel_tol=1e-15)


def test_forward_exception_is_kept():
    with pytest.raises(ZeroDivisionError):
        grad(divide)(0.0)
    with pytest.raises(ValueError):
        grad(m_log)(0.0)


def test_forward_warning_is_kept():
    with pytest.warns(RuntimeWarning, match="overflow encountered in exp"):
        value_and_grad(n_exp)(np.array([800.0]).reshape(()))


def row_norm_where(x):
    n = np.sqrt(np.sum(x * x, axis=1))
    return np.sum(np.where(n > 0, n, 0.0))


def test_no_warning_after_a_row_norm_with_a_zero_row():
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = grad(row_norm_where)(x)
    np.testing.assert_allclose(g, [[0.0, 0.0], [0.6, 0.8]], rtol=1e-15, atol=0)


def arctan2_masked_sum(a):
    return np.sum(np.where(a > 0, np.arctan2(a, a), 0.0))


def test_no_warning_from_masked_arctan2():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = grad(arctan2_masked_sum)(np.array([0.0, 1.0]))
    # d/da arctan2(a, a) = (a - a) / (2 a^2) = 0 where selected; 0 where masked
    assert np.array_equal(g, [0.0, 0.0])


def masked_quotient(x, y):
    return np.sum(np.where(y != 0, x / np.where(y != 0, y, 1.0), 0.0) + x / (y * y + 1.0))


def test_no_warning_from_masked_divisions_on_arrays():
    x, y = np.array([1.0, 2.0, 3.0]), np.array([0.0, 2.0, -1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gx, gy = grad(masked_quotient, wrt=(0, 1))(x, y)
    # by hand: d/dx = [y != 0] / y + 1 / (y^2 + 1), d/dy = -[y != 0] x / y^2 - 2xy / (y^2 + 1)^2
    safe = np.where(y != 0, y, 1.0)
    expected_x = np.where(y != 0, 1.0 / safe, 0.0) + 1.0 / (y * y + 1.0)
    expected_y = np.where(y != 0, -x / safe**2, 0.0) - 2.0 * x * y / (y * y + 1.0) ** 2
    np.testing.assert_allclose(gx, expected_x, rtol=1e-12)
    np.testing.assert_allclose(gy, expected_y, rtol=1e-12)
    away = [x, np.array([0.5, 2.0, -1.0])]  # and finite differences where f is smooth
    fd_x, fd_y = numerical_gradient(masked_quotient, away, wrt=(0, 1))
    got_x, got_y = grad(masked_quotient, wrt=(0, 1))(*away)
    np.testing.assert_allclose(got_x, fd_x, rtol=1e-6)
    np.testing.assert_allclose(got_y, fd_y, rtol=1e-6)


# -- return types --------------------------------------------------------------------------------


def sum_of_sin(x):
    return np.sum(np.sin(x))


def two_floats(x, y):
    return np.hypot(x, y) + np.sum(x) * np.std(np.array([x, y]))


def unused_second(x, y):
    return np.sin(x)


@pytest.mark.parametrize("fn", [sum_of_float, std_of_pair, mean_of_float, hypot, n_sin, m_sin])
def test_gradient_of_a_float_is_a_float(fn):
    assert type(grad(fn)(1.5)) is float
    assert type(value_and_grad(fn)(1.5)[1]) is float
    assert type(grad(fn)(2)) is float  # an int is differentiated as a float
    assert type(vjp(fn)(1.5)[1](1.0)) is float


def test_gradient_has_the_type_of_its_argument():
    assert type(grad(n_sin)(np.float32(0.5))) is np.float32
    assert type(grad(n_sin)(np.float64(0.5))) is np.float64
    zero_d = grad(n_sin)(np.array(0.5))
    assert type(zero_d) is np.ndarray and zero_d.shape == ()
    assert grad(sum_of_sin)(np.array([0.5], dtype=np.float32)).dtype == np.float32
    gx, gy = grad(two_floats, wrt=(0, 1))(1.0, 2.0)
    assert type(gx) is float and type(gy) is float
    gx, gy = grad(unused_second, wrt=(0, 1))(1.0, 2.0)
    assert type(gy) is float and gy == 0.0
    gx, gy = grad(unused_second, wrt=(0, 1))(1.0, np.float32(2.0))
    assert type(gy) is np.float32 and gy == 0.0
    assert math.isclose(gx, math.cos(1.0), rel_tol=1e-12)
    expected = numerical_gradient(two_floats, [1.0, 2.0], wrt=(0, 1))
    gx, gy = grad(two_floats, wrt=(0, 1))(1.0, 2.0)
    assert math.isclose(gx, expected[0], rel_tol=1e-6)
    assert math.isclose(gy, expected[1], rel_tol=1e-6)


# -- siblings in the reductions ---------------------------------------------------------------


def var_no_freedom(x):
    return np.var(x, ddof=2)


def std_no_freedom(x):
    return np.std(x, ddof=2)


def nanmean_rows(x):
    return np.sum(np.nanmean(x, axis=1) * np.array([2.0, 3.0]))


def test_reductions_without_degrees_of_freedom_do_not_raise():
    x = np.array([1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NumPy's own "Degrees of freedom <= 0"
        assert np.var(x, ddof=2) == inf  # the function: (1/4 + 1/4) / 0
        g = grad(var_no_freedom)(x)  # 2 (x - mean) / 0: -inf, inf
        assert list(g) == [-inf, inf]
        assert np.isnan(grad(std_no_freedom)(x)).all()  # inf / inf


def test_nanmean_of_an_all_nan_row_adds_no_warning():
    x = np.array([[np.nan, np.nan], [1.0, 4.0]])
    with pytest.warns(RuntimeWarning, match="Mean of empty slice") as caught:
        g = grad(nanmean_rows)(x)
    assert len(caught) == 1  # the function's own, nothing from the adjoint
    assert np.array_equal(g, [[0.0, 0.0], [1.5, 1.5]])  # 3 * 1/2 per element


class _TripledProduct(np.float64):
    """A NumPy float subclass whose product is not NumPy's."""

    def __mul__(self, other):
        return np.float64(float(self) * float(other) * 3.0)

    __rmul__ = __mul__


def _square(x):
    return x * x


def test_a_numpy_scalar_subclass_with_its_own_arithmetic_is_refused():
    """Its ``*`` is the user's code: taken for NumPy's, the gradient was 2x (4.0 at 2.0)
    where the function's derivative is 6x (12.0, central differences)."""
    x = _TripledProduct(2.0)
    h = 1e-6
    slope = (_square(_TripledProduct(2.0 + h)) - _square(_TripledProduct(2.0 - h))) / (2 * h)
    assert slope == pytest.approx(12.0, rel=1e-6)
    with pytest.raises(ADTransformError, match="_TripledProduct"):
        grad(_square)(x)


def test_numpy_scalar_types_stay_numbers():
    for kind in (np.float64, np.float32, np.int64, np.int32):
        assert grad(_square)(kind(3)) == pytest.approx(6.0)


class _TripledArray(np.ndarray):
    """An ndarray subclass whose product is not NumPy's."""

    def __mul__(self, other):
        return np.asarray(self) * np.asarray(other) * 3.0


def _sum_of_squares(x):
    return np.sum(x * x)


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a.view(_TripledArray),
        lambda a: np.ma.array(a, mask=[False, True]),
        lambda a: a.view(type("Plain", (np.ndarray,), {})),
    ],
    ids=["own-arithmetic", "masked", "plain-subclass"],
)
def test_a_differentiated_ndarray_subclass_is_refused_naming_it(make):
    """Array code would take the subclass's operators for ndarray's (np.matrix's ``*`` is a
    matrix product, a masked array skips masked elements): refused, not a wrong number."""
    x = make(np.array([1.0, 2.0]))
    with pytest.raises(ADTransformError, match=r"subclass of np\.ndarray"):
        grad(_sum_of_squares)(x)
    np.testing.assert_allclose(grad(_sum_of_squares)(np.asarray(x)), [2.0, 4.0])
