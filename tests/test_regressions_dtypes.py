"""Integer and boolean operands in derivative arithmetic (breaker findings W3-W6).

An operand the function does not differentiate may be an integer or boolean NumPy value
(uint8 image data, an int8 exponent, a ``True`` flag): the function computes in float64
(``np.int8(3) ** 0.7``, ``np.arctan2(x, k)``, ``np.interp``), so must its derivative.
The adjoint and tangent code once computed in the operand's own dtype: ``k * k``
overflowed in int8, ``k - 1`` wrapped in uint8, ``fp[j + 1] - fp[j]`` wrapped, and the
logarithm of an int8 or bool value is a float16 that rounded the whole gradient.

Expected values come from calculus (the regression examples) and from central finite
differences in float64 (the table over every registered primitive of ``test_rules``).
"""

from __future__ import annotations

import importlib.util
import math
import warnings

import numpy as np
import pytest
from gradcheck import numerical_gradient
from test_coverage2_statistics import TABLE as STATISTICS_TABLE
from test_rules import F64, TABLE, F, Row, _describe, rng_for, weighted

from ad_transform import ADTransformError, grad, jvp

# -- the breaker's examples ----------------------------------------------------------------

FLAG = True


def power_of_a_global_flag(x):
    return FLAG**x + x * 1.2345


def power_of_an_int8(x, k):
    return np.sum(k**x * 1.0) + x * 1.2345


def power_of_a_bool_in_a_loop(x):
    s = 0.0
    for _ in range(3):
        s = s + FLAG**x * x + x * 1.2345
    return s


def test_power_of_a_bool_is_not_rounded_to_float16():
    # 1 ** x = 1: the derivative is 1.2345 exactly (log(1) = 0)
    assert grad(power_of_a_global_flag)(0.7) == pytest.approx(1.2345, rel=1e-14, abs=0)
    # d/dx 3 (x + 1.2345 x) = 3 (1 + 1.2345)
    assert grad(power_of_a_bool_in_a_loop)(0.7) == pytest.approx(3 * 2.2345, rel=1e-14)


@pytest.mark.parametrize("k", [np.int8(3), np.uint8(3), np.int16(3), np.bool_(True), 3, True])
def test_power_of_an_integer_base(k):
    expected = math.log(int(k)) * int(k) ** 0.7 + 1.2345
    got = grad(power_of_an_int8)(0.7, k)
    assert got == pytest.approx(expected, rel=1e-13)
    assert type(got) is float


def sum_arctan2(x, k):
    return np.sum(np.arctan2(x, k))


def sum_arctan2_reversed(x, k):
    return np.sum(np.arctan2(k, x))


def test_arctan2_with_small_integer_operands_does_not_overflow():
    x = np.array([0.7, 0.2])
    k = np.array([100, 120], dtype=np.int8)
    expected = k / (x**2 + k.astype(float) ** 2)
    np.testing.assert_allclose(grad(sum_arctan2)(x, k), expected, rtol=1e-13)
    k = np.array([[200, 30]], dtype=np.uint8)
    expected = k[0] / (x**2 + k[0].astype(float) ** 2)
    np.testing.assert_allclose(grad(sum_arctan2)(x, k), expected, rtol=1e-13)
    assert grad(sum_arctan2)(0.7, np.int16(300)) == pytest.approx(300 / (0.49 + 90000), rel=1e-13)
    # d/dx arctan2(k, x) = -k / (x^2 + k^2)
    got = grad(sum_arctan2_reversed)(0.7, np.uint8(200))
    assert got == pytest.approx(-200 / (0.49 + 40000), rel=1e-13)


def atan2_of_a_number(x, k):
    return math.atan2(x, k) + math.atan2(k, x)


def test_math_atan2_with_numpy_integer_scalars():
    for k in (np.int8(100), np.uint8(200), np.int16(300)):
        kf = float(k)
        expected = (kf - kf) / (0.49 + kf * kf)  # k/r2 from the first, -k/r2 from the second
        assert grad(atan2_of_a_number)(0.7, k) == pytest.approx(expected, abs=1e-15)
        got = jvp(atan2_of_a_number, wrt=0)((0.7, k), (1.0,))[1]
        assert got == pytest.approx(expected, abs=1e-15)


def sum_interp(x, xp, fp):
    return np.sum(np.interp(x, xp, fp))


def sum_polyval(x, p):
    return np.sum(np.polyval(p, x))


def test_interp_slopes_with_unsigned_points_and_values():
    x = np.array([0.5, 1.5])
    xp = np.array([0, 1, 2], np.uint8)
    fp = np.array([250, 10, 200], np.uint8)
    np.testing.assert_allclose(grad(sum_interp)(x, xp, fp), [-240.0, 190.0], rtol=1e-14)
    # boolean values: NumPy refuses ``-`` on booleans, the adjoint must not use it
    fb = np.array([True, False, True])
    np.testing.assert_allclose(grad(sum_interp)(x, xp, fb), [-1.0, 1.0], rtol=1e-14)


def test_polyval_with_int8_coefficients():
    x = np.array([0.5, 1.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning from the adjoint either
        got = grad(sum_polyval)(x, np.array([100, 50, 3], np.int8))
    np.testing.assert_allclose(got, 200 * x + 50, rtol=1e-14)


def sum_power(x, k):
    return np.sum(x**k)


def power_of_a_number(x, k):
    return x**k + math.pow(x, k) + pow(x, k) + np.power(x, k)


@pytest.mark.parametrize("k", [np.uint8(0), np.uint16(0), np.uint64(0), np.bool_(False)])
def test_power_with_an_unsigned_zero_exponent(k):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert grad(sum_power)(20.0, k) == 0.0
        assert grad(power_of_a_number)(20.0, k) == 0.0
        assert jvp(power_of_a_number, wrt=0)((20.0, k), (1.0,))[1] == 0.0
        np.testing.assert_array_equal(grad(sum_power)(np.array([20.0, 0.0]), k), [0.0, 0.0])


@pytest.mark.parametrize("k", [np.uint8(1), np.uint8(3), np.bool_(True), np.int8(-2)])
def test_power_with_a_small_integer_exponent(k):
    n = int(k)
    expected = 4 * n * 1.5 ** (n - 1)
    assert grad(power_of_a_number)(1.5, k) == pytest.approx(expected, rel=1e-14)
    assert jvp(power_of_a_number, wrt=0)((1.5, k), (1.0,))[1] == pytest.approx(expected, rel=1e-14)


def test_float32_gradients_keep_their_dtype():
    x = np.array([0.7, 0.2], dtype=np.float32)
    for f, k in (
        (sum_arctan2, np.array([100, 120], np.int8)),
        (sum_power, np.uint8(3)),
        (sum_power, np.array([0, 2], np.uint8)),
    ):
        g = grad(f)(x, k)
        assert g.dtype == np.float32, f.__name__
        expected = numerical_gradient(f, (x.astype(np.float64), k), 0)
        np.testing.assert_allclose(g, expected, rtol=1e-3, atol=1e-5)
    g = grad(power_of_an_int8)(np.float32(0.7), np.int8(3))
    assert type(g) is np.float32
    assert g == pytest.approx(math.log(3) * 3**0.7 + 1.2345, rel=1e-6)


def pad_an_integer_array(a, v):
    return np.sum(np.pad(a, (1, 2), constant_values=v) * 1.5)


def full_like_an_integer_array(a, v):
    return np.sum(np.full_like(a, v) * np.array([1.0, 2.0]))


def full_with_an_integer_dtype(v):
    return np.sum(np.full(3, v, dtype=np.int16) * 1.5) + v


def linspace_with_an_integer_dtype(v):
    return np.sum(np.linspace(v, 10.0, 4, dtype=int) * 1.5) + v


def test_an_integer_result_truncates_the_value_it_is_made_from():
    # the result is an integer array: the derivative in the (truncated) value is 0
    a = np.array([3, 4], np.int8)
    assert grad(pad_an_integer_array, wrt=1)(a, 0.7) == 0.0
    assert grad(pad_an_integer_array, wrt=1)(a.astype(float), 0.7) == pytest.approx(4.5)
    assert grad(full_like_an_integer_array, wrt=1)(a, 0.7) == 0.0
    assert jvp(full_like_an_integer_array, wrt=1)((a, 0.7), (1.0,))[1] == 0.0
    assert jvp(full_like_an_integer_array, wrt=1)((a * 1.0, 0.7), (1.0,))[1] == 3.0
    for f in (full_with_an_integer_dtype, linspace_with_an_integer_dtype):
        assert grad(f)(2.5) == 1.0
        assert jvp(f)((2.5,), (1.0,))[1] == 1.0


# -- every registered primitive with two or more operands -----------------------------------
#
# Each row of ``test_rules.TABLE`` (and of the statistics and SciPy tables) with two or more
# arguments is called with one argument replaced by an integer or boolean value of the
# same shape (a NumPy scalar for a scalar argument), the others differentiated; the
# magnitudes are large enough to overflow int8/uint8/int16 products (``k * k``) and to
# wrap unsigned differences. Each replacement is checked for grad and jvp against central
# finite differences in float64. The dtypes rotate over the shape combinations of a row so
# that every row and argument meets every dtype while the test stays fast.

INTEGER_KINDS = (
    ("bool", np.bool_, 1.0),
    ("int8", np.int8, 60.0),
    ("uint8", np.uint8, 100.0),
    ("int16", np.int16, 150.0),
    ("int64", np.int64, 1.0),
)


def as_integer(value, dtype, scale: float):
    """``value`` scaled and rounded to ``dtype`` (nonzero; non-negative for unsigned)."""
    scaled = np.asarray(value, dtype=np.float64) * scale
    if dtype is np.bool_:
        result = (scaled > -0.5).astype(np.bool_)
    else:
        rounded = np.round(np.abs(scaled) if dtype is np.uint8 else scaled)
        result = np.where(rounded == 0, 1, rounded).astype(dtype)
    return result if isinstance(value, np.ndarray) else result[()]


def _scipy_rows() -> list:
    if importlib.util.find_spec("scipy") is None:
        return []
    from test_coverage2_scipy import ROWS

    return ROWS


def _rows_with_operands() -> list:
    tables = (*TABLE, *STATISTICS_TABLE, *_scipy_rows())
    rows = [row for row in tables if len(row.shapes[0]) >= 2]
    return [pytest.param(row, id=row.name) for row in rows]


def _cases(row: Row):
    """(shapes, arguments, replaced position, dtype name, arguments with the replacement)."""
    rng = rng_for(row, "integer operands")
    count = len(row.shapes[0])
    turn = 0
    for shapes in row.shapes:
        args = row.gen(rng, shapes)
        for position in range(count):
            if not [p for p in row.positions if p != position]:
                continue
            for _ in range(2):
                name, dtype, scale = INTEGER_KINDS[turn % len(INTEGER_KINDS)]
                turn += 1
                replaced = list(args)
                replaced[position] = as_integer(args[position], dtype, scale)
                yield shapes, position, name, tuple(replaced)


def _scalarised(row: Row, args: tuple):
    """The row's function and arguments, made scalar-valued with non-uniform weights."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = row.fn(*args)
        except (ArithmeticError, TypeError, ValueError, np.linalg.LinAlgError):
            return None  # the function itself does not take this operand
    if not np.all(np.isfinite(value)):
        return None
    if np.ndim(value) == 0:
        return row.fn, args
    weights = np.linspace(0.7, 1.3, np.size(value)).reshape(np.shape(value))
    return weighted(row.fn, len(args)), (*args, weights)


def _close(got, expected) -> bool:
    """Within 1e-5 of the largest expected entry: a sum of very different magnitudes (an
    integer power) leaves the finite difference of a small entry only that accurate."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    scale = np.max(np.abs(expected), initial=0.0)
    return bool(np.max(np.abs(got - expected), initial=0.0) <= 1e-5 * scale + 1e-7)


def _mod_jump_near(row: Row, args: tuple) -> bool:
    """``x % k`` within reach of a jump of the finite difference's step."""
    if row.name != "op_mod":
        return False
    x, y = (np.asarray(a, dtype=np.float64) for a in args[:2])
    frac = np.mod(x / y, 1.0)
    return bool(np.any((frac < 0.01) | (frac > 0.99)))


def _outcome(call):
    try:
        return call()
    except ADTransformError as error:
        if "jvp (forward mode)" in str(error):
            return None  # forward mode does not cover this primitive or construct yet
        raise


@pytest.mark.parametrize("row", _rows_with_operands())
def test_integer_and_boolean_operands(row: Row):
    checked = 0
    for shapes, position, dtype, args in _cases(row):
        made = _scalarised(row, args)
        if made is None or _mod_jump_near(row, args):
            continue
        fn, full_args = made
        wrt = tuple(p for p in row.positions if p != position)
        where = f"{row.name}({_describe(shapes)}) with argument {position} {dtype}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the function's own overflow warnings
            expected = numerical_gradient(fn, full_args, wrt)
            got = grad(fn, wrt=wrt)(*full_args)
            directions = tuple(
                np.linspace(0.4, 1.1, np.size(full_args[p])).reshape(np.shape(full_args[p]))
                if isinstance(full_args[p], np.ndarray)
                else 0.7
                for p in wrt
            )
            tangent = _outcome(lambda: jvp(fn, wrt=wrt)(full_args, directions)[1])  # noqa: B023
        for p, g, e in zip(wrt, got, expected, strict=True):
            assert _close(g, e), f"grad of {where}, argument {p}: {g} instead of {e}"
        if tangent is not None:
            total = sum(np.sum(e * d) for e, d in zip(expected, directions, strict=True))
            terms = [np.abs(e * d) for e, d in zip(expected, directions, strict=True)]
            scale = sum(np.max(t, initial=0.0) * np.size(t) for t in terms)
            assert abs(float(tangent) - total) <= 1e-5 * scale + 1e-7, (
                f"jvp of {where}: {tangent} instead of {total}"
            )
        checked += 1
    assert checked, f"no integer operand case of {row.name} could be checked"


# -- integer constants captured by the function -----------------------------------------------

K8 = np.int8(100)
U8 = np.array([200, 30], dtype=np.uint8)
B = True
XP = np.array([0, 1, 2], np.uint8)
FP = np.array([250, 10, 200], np.uint8)
P8 = np.array([100, 50, 3], np.int8)


def reads_integer_globals(x):
    s = np.sum(np.arctan2(x, U8)) + np.sum(np.arctan2(K8, x))
    return s + np.sum(B**x) + np.sum(K8**x * 1e-200) + np.sum(x ** np.uint8(0))


def reads_integer_global_tables(x):
    return np.sum(np.interp(x, XP, FP)) + np.sum(np.polyval(P8, x))


def closure_over_integers(k, flag):
    def f(x):
        return math.atan2(x, k) + flag**x + math.pow(x, k) * 1e-3 + x ** (k - k)

    return f


def test_integer_constants_captured_by_the_function():
    x = np.array([0.5, 1.5])
    expected = numerical_gradient(reads_integer_globals, (x,), 0)
    got = grad(reads_integer_globals)(x)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    tangent = jvp(reads_integer_globals)((x,), (np.array([0.3, -0.8]),))[1]
    assert tangent == pytest.approx(float(np.dot(expected, [0.3, -0.8])), rel=1e-6)
    expected = numerical_gradient(reads_integer_global_tables, (x,), 0)
    np.testing.assert_allclose(grad(reads_integer_global_tables)(x), expected, rtol=1e-6)
    for k, flag in ((np.int8(100), np.bool_(True)), (np.uint8(3), True), (np.int16(300), 1)):
        f = closure_over_integers(k, flag)
        expected = numerical_gradient(f, (0.7,), 0)
        assert grad(f)(0.7) == pytest.approx(expected, rel=1e-7)
        assert jvp(f)((0.7,), (1.0,))[1] == pytest.approx(expected, rel=1e-7)


def test_the_table_covers_the_operand_kinds():
    # the replacement values reach the magnitudes that overflowed: int8 100 * 100 > 127
    values = [as_integer(np.float64(1.9), dtype, scale) for _, dtype, scale in INTEGER_KINDS]
    assert values[1] == 114 and values[2] == 190 and values[3] == 285
    assert as_integer(np.float64(-0.2), np.uint8, 100.0) == 20
    assert as_integer(np.array([0.001]), np.int8, 60.0)[0] == 1
    assert F is None and F64 == "float64"  # the shapes the table draws scalars for


# -- a ``dtype=`` that makes the result integer ------------------------------------------------


def sum_as_int(x):
    return np.sum(x * 1.7, dtype=int) + np.sum(x)


def mean_as_int(x):
    return np.mean(x * 1.7, dtype=np.int64) + np.sum(x)


def prod_as_int(x):
    return np.prod(x * 1.7, dtype=int) + np.sum(x)


def cumsum_as_int(x):
    return np.sum(np.cumsum(x * 1.7, dtype=np.int16)) + np.sum(x)


def method_sum_as_int(x):
    return (x * 1.7).sum(dtype=int) + np.sum(x)


def nansum_as_bool(x):
    return np.nansum(x * 1.7, dtype=bool) + np.sum(x)


def asanyarray_as_int(x):
    return np.sum(np.asanyarray(x * 1.7, dtype=int)) + np.sum(x)


def sum_with_a_dtype_variable(x, dtype):
    return np.sum(x * 1.7, dtype=dtype) + np.sum(x)


@pytest.mark.parametrize(
    "f",
    [
        sum_as_int,
        mean_as_int,
        prod_as_int,
        cumsum_as_int,
        method_sum_as_int,
        nansum_as_bool,
        asanyarray_as_int,
    ],
)
def test_a_dtype_keyword_making_the_result_integer_has_no_derivative(f):
    # the integer part is piecewise constant: only ``np.sum(x)`` has a derivative
    x = np.array([1.2, 2.3, 0.4])
    np.testing.assert_array_equal(grad(f)(x), [1.0, 1.0, 1.0])
    assert jvp(f)((x,), (np.array([1.0, 2.0, -0.5]),))[1] == pytest.approx(2.5)


def test_a_float_dtype_keyword_keeps_the_derivative():
    x = np.array([1.2, 2.3, 0.4])
    for dtype, expected in ((np.float32, 2.7), (np.int8, 1.0), (float, 2.7), (bool, 1.0)):
        g = grad(sum_with_a_dtype_variable)(x, dtype)
        np.testing.assert_allclose(g, [expected] * 3, rtol=1e-6)
