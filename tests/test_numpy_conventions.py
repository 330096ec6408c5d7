"""The documented conventions of the NumPy rules, with values worked out by hand.

Where finite differences cannot decide (kinks, ties, zeros, the boundary of a domain,
overflow), the expected gradients come from calculus and the conventions written in
``ad_transform/rules/*.py`` and in the README: the where trap, ties split equally,
exact products with zeros, stable formulas, subgradients at the origin.
"""

from __future__ import annotations

import decimal
import math
import warnings

import numpy as np
import pytest
from gradcheck import check_grad, check_like

from ad_transform import ADTransformError, grad, vjp


@pytest.fixture(autouse=True)
def _quiet_invalid_values():
    # The forward sweeps below evaluate sqrt(-1), log(0), exp(1000) on purpose.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# --------------------------------------------------------------------------------------
# The where trap: the branch np.where did not select must not make the gradient NaN
# --------------------------------------------------------------------------------------


def where_sqrt(x):
    return np.sum(np.where(x > 0, np.sqrt(x), 0.0))


def where_log(x):
    return np.sum(np.where(x > 0, np.log(x), -1.0))


def where_safe_division(x, y):
    return np.sum(np.where(y != 0, x / y, 0.0))


def where_softplus(x):
    # exp(1000) overflows to inf in the branch that is not selected
    return np.sum(np.where(x > 30.0, x, np.log1p(np.exp(x))))


def where_x_log_x(x):
    return np.sum(np.where(x > 0, x * np.log(x), 0.0))


def where_nan_chain(x):
    # log(-1) = nan flows through sin, then is discarded by where
    return np.sum(np.where(x > 0, np.sin(np.log(x)), 0.0))


def where_power(x):
    return np.sum(np.where(x > 0, x**0.5, 0.0) * 3.0)


def where_arcsin(x):
    return np.sum(np.where(np.abs(x) < 1, np.arcsin(x), 0.0))


def mask_sqrt(x):
    return np.sum(np.sqrt(x)[x > 0])


def where_selected_sqrt_at_zero(x):
    return np.sum(np.where(x >= 0, np.sqrt(x), 0.0))


def test_where_sqrt_not_selected_at_negative_and_zero():
    g = grad(where_sqrt)(np.array([-1.0, 0.0, 4.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.25])


def test_where_log_not_selected_at_zero():
    g = grad(where_log)(np.array([0.0, -2.0, math.e]))
    np.testing.assert_allclose(g, [0.0, 0.0, 1.0 / math.e], rtol=1e-15)


def test_where_safe_division():
    x = np.array([3.0, 3.0, -1.0])
    y = np.array([0.0, 2.0, 0.0])
    dx, dy = grad(where_safe_division, wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(dx, [0.0, 0.5, 0.0])
    np.testing.assert_array_equal(dy, [0.0, -3.0 / 4.0, 0.0])


def test_where_softplus_with_overflow_in_the_other_branch():
    g = grad(where_softplus)(np.array([1000.0, 0.0, -3.0]))
    np.testing.assert_allclose(g, [1.0, 0.5, 1.0 / (1.0 + math.exp(3.0))], rtol=1e-15)


def test_where_x_log_x_at_zero():
    g = grad(where_x_log_x)(np.array([0.0, 1.0, math.e]))
    # d/dx x log x = log x + 1
    np.testing.assert_allclose(g, [0.0, 1.0, 2.0], rtol=1e-15)


def test_where_nan_flowing_through_a_chain():
    g = grad(where_nan_chain)(np.array([-1.0, 1.0, 0.0]))
    # d/dx sin(log x) = cos(log x) / x = 1 at x = 1
    np.testing.assert_array_equal(g, [0.0, 1.0, 0.0])


def test_where_power_and_arcsin():
    g = grad(where_power)(np.array([-4.0, 4.0]))
    np.testing.assert_allclose(g, [0.0, 3.0 * 0.5 / 2.0], rtol=1e-15)
    g = grad(where_arcsin)(np.array([2.0, 0.6, -1.0]))
    np.testing.assert_allclose(g, [0.0, 1.0 / 0.8, 0.0], rtol=1e-15)


def test_boolean_mask_read_has_the_same_guarantee():
    g = grad(mask_sqrt)(np.array([-1.0, 4.0, 0.0]))
    np.testing.assert_array_equal(g, [0.0, 0.25, 0.0])


def test_where_trap_through_vjp_with_a_non_uniform_cotangent():
    def where_sqrt_vector(x):
        return np.where(x > 0, np.sqrt(x), 0.0)

    _, pullback = vjp(where_sqrt_vector)(np.array([-1.0, 4.0, 0.0, 9.0]))
    np.testing.assert_allclose(
        pullback(np.array([5.0, 2.0, -3.0, 6.0])), [0.0, 0.5, 0.0, 1.0], rtol=1e-15
    )


def test_selected_branch_keeps_its_own_infinite_derivative():
    # The guard only drops contributions with a zero adjoint: sqrt selected at 0 is inf.
    g = grad(where_selected_sqrt_at_zero)(np.array([0.0, 4.0]))
    assert g[0] == math.inf and g[1] == 0.25


# --------------------------------------------------------------------------------------
# Ties: split equally among the tied elements
# --------------------------------------------------------------------------------------


def max_all(x):
    return np.max(x)


def max_rows(x, w):
    return np.sum(np.max(x, axis=1) * w)


def amin_columns(x, w):
    return np.sum(np.amin(x, axis=0, keepdims=True) * w)


def method_max_all(x):
    return x.max()


def method_min_all(x):
    return x.min()


def nanmax_all(x):
    return np.nanmax(x)


def ptp_all(x):
    return np.ptp(x)


def norm_inf(x):
    return np.linalg.norm(x, np.inf)


def norm_1_matrix(x):
    return np.linalg.norm(x, 1)


def clip_all(a, lo, hi):
    return np.sum(np.clip(a, lo, hi))


def fmax_sum(x, y):
    return np.sum(np.fmax(x, y))


def fmin_sum(x, y):
    return np.sum(np.fmin(x, y))


def test_max_and_min_split_ties_equally():
    x = np.array([1.0, 3.0, 3.0, 2.0])
    np.testing.assert_array_equal(grad(max_all)(x), [0.0, 0.5, 0.5, 0.0])
    np.testing.assert_array_equal(grad(method_max_all)(x), [0.0, 0.5, 0.5, 0.0])
    y = np.array([4.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(grad(method_min_all)(y), [0.0, 1 / 3, 1 / 3, 1 / 3], rtol=1e-15)
    m = np.array([[1.0, 5.0, 5.0], [2.0, 2.0, 0.0]])
    g = grad(max_rows)(m, np.array([2.0, 4.0]))
    np.testing.assert_array_equal(g, [[0.0, 1.0, 1.0], [2.0, 2.0, 0.0]])
    g = grad(amin_columns)(m, np.array([[1.0, 10.0, 100.0]]))
    np.testing.assert_array_equal(g, [[1.0, 0.0, 0.0], [0.0, 10.0, 100.0]])


def test_nanmax_ignores_nans_and_ptp_splits_both_ends():
    np.testing.assert_array_equal(grad(nanmax_all)(np.array([np.nan, 2.0, 1.0])), [0.0, 1.0, 0.0])
    g = grad(ptp_all)(np.array([1.0, 3.0, 1.0, 3.0, 2.0]))
    np.testing.assert_array_equal(g, [-0.5, 0.5, -0.5, 0.5, 0.0])


def test_norm_ties():
    np.testing.assert_array_equal(grad(norm_inf)(np.array([3.0, -3.0, 1.0])), [0.5, -0.5, 0.0])
    # columns |.|-sums: 3, 3, 1 -> the first two tie
    x = np.array([[1.0, -2.0, 0.5], [-2.0, 1.0, 0.5]])
    np.testing.assert_array_equal(grad(norm_1_matrix)(x), [[0.5, -0.5, 0.0], [-0.5, 0.5, 0.0]])


def test_clip_splits_ties_at_the_bounds():
    # np.clip(a, lo, hi) = minimum(maximum(a, lo), hi)
    a = np.array([0.5, -1.0, 2.0, 0.0, 1.0])
    da, dlo, dhi = grad(clip_all, wrt=(0, 1, 2))(a, 0.0, 1.0)
    np.testing.assert_array_equal(da, [1.0, 0.0, 0.0, 0.5, 0.5])
    assert dlo == 1.5 and dhi == 1.5
    check_like(dlo, 0.0)


def test_fmax_fmin_never_choose_a_nan():
    x = np.array([np.nan, 1.0, 2.0, np.nan])
    y = np.array([2.0, np.nan, 2.0, np.nan])
    dx, dy = grad(fmax_sum, wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(dx, [0.0, 1.0, 0.5, 0.0])
    np.testing.assert_array_equal(dy, [1.0, 0.0, 0.5, 0.0])
    dx, dy = grad(fmin_sum, wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(dx, [0.0, 1.0, 0.5, 0.0])
    np.testing.assert_array_equal(dy, [1.0, 0.0, 0.5, 0.0])


# --------------------------------------------------------------------------------------
# Products with zeros are exact
# --------------------------------------------------------------------------------------


def prod_all(x):
    return np.prod(x)


def prod_columns(x, w):
    return np.sum(np.prod(x, axis=0) * w)


def cumprod_sum(x):
    return np.sum(np.cumprod(x))


def cumprod_rows(x, w):
    return np.sum(np.cumprod(x, axis=1) * w)


def test_prod_with_zeros():
    np.testing.assert_array_equal(grad(prod_all)(np.array([2.0, 0.0, 3.0])), [0.0, 6.0, 0.0])
    np.testing.assert_array_equal(grad(prod_all)(np.array([0.0, 0.0, 3.0])), [0.0, 0.0, 0.0])
    x = np.array([[0.0, 2.0], [3.0, 4.0]])
    g = grad(prod_columns)(x, np.array([1.0, 10.0]))
    np.testing.assert_array_equal(g, [[3.0, 40.0], [0.0, 20.0]])


def test_cumprod_with_zeros():
    # sum_j prod_{k<=j} x_k with x = (2, 0, 3, 4):
    # d/dx0 = 1 + x1 + x1 x2 + x1 x2 x3 = 1;  d/dx1 = x0 + x0 x2 + x0 x2 x3 = 2 + 6 + 24
    # d/dx2 = x0 x1 (1 + x3) = 0;  d/dx3 = x0 x1 x2 = 0
    g = grad(cumprod_sum)(np.array([2.0, 0.0, 3.0, 4.0]))
    np.testing.assert_array_equal(g, [1.0, 32.0, 0.0, 0.0])
    x = np.array([[2.0, 0.0, 3.0], [1.0, 2.0, 3.0]])
    w = np.array([[1.0, 1.0, 1.0], [1.0, 0.0, 2.0]])
    g = grad(cumprod_rows)(x, w)
    # row 2: y = (x0, x0 x1, x0 x1 x2) weighted (1, 0, 2): d = (1 + 2 x1 x2, 2 x0 x2, 2 x0 x1)
    np.testing.assert_array_equal(g, [[1.0, 8.0, 0.0], [13.0, 6.0, 4.0]])


# --------------------------------------------------------------------------------------
# Subgradients and boundaries
# --------------------------------------------------------------------------------------


def std_all(x):
    return np.std(x)


def hypot_sum(x, y):
    return np.sum(np.hypot(x, y))


def cbrt_sum(x):
    return np.sum(np.cbrt(x))


def copysign_sum(x, y):
    return np.sum(np.copysign(x, y))


def abs_sum(x):
    return np.sum(np.absolute(x))


def test_std_of_a_constant_is_zero_not_nan():
    np.testing.assert_array_equal(grad(std_all)(np.full(4, 2.5)), [0.0, 0.0, 0.0, 0.0])


def test_hypot_at_the_origin_is_zero():
    dx, dy = grad(hypot_sum, wrt=(0, 1))(np.array([0.0, 3.0]), np.array([0.0, 4.0]))
    np.testing.assert_array_equal(dx, [0.0, 0.6])
    np.testing.assert_array_equal(dy, [0.0, 0.8])


def test_cbrt_at_zero_is_infinite():
    with np.errstate(divide="ignore"):
        g = grad(cbrt_sum)(np.array([0.0, 8.0]))
    assert g[0] == math.inf
    assert g[1] == pytest.approx(1.0 / 12.0, rel=1e-15)


def test_copysign_and_abs_at_zero():
    dx, dy = grad(copysign_sum, wrt=(0, 1))(np.array([0.0, 2.0, -2.0]), np.array([1.0, -1.0, 3.0]))
    np.testing.assert_array_equal(dx, [0.0, -1.0, -1.0])
    np.testing.assert_array_equal(dy, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(grad(abs_sum)(np.array([0.0, -1.5])), [0.0, -1.0])


# --------------------------------------------------------------------------------------
# Stable formulas
# --------------------------------------------------------------------------------------


def logaddexp_sum(x, y):
    return np.sum(np.logaddexp(x, y))


def logaddexp2_sum(x, y):
    return np.sum(np.logaddexp2(x, y))


def tanh_sum(x):
    return np.sum(np.tanh(x))


def arcsinh_scalar(x):
    return np.arcsinh(x)


def arccos_sum(x):
    return np.sum(np.arccos(x))


def sinc_sum(x):
    return np.sum(np.sinc(x))


def test_logaddexp_does_not_overflow():
    x = np.array([1000.0, 800.0, -1000.0])
    y = np.array([0.0, 800.0, 1000.0])
    # exp(x) / (exp(x) + exp(y)): 1 / (1 + e^-1000) = 1, 1/2, e^-2000 = 0; the textbook
    # formula gives inf / inf = nan. (1/2 is off by the rounding of ans = 800 + log 2.)
    dx, dy = grad(logaddexp_sum, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(dx, [1.0, 0.5, 0.0], rtol=1e-13, atol=0)
    np.testing.assert_allclose(dy, [0.0, 0.5, 1.0], rtol=1e-13, atol=0)
    # base 2: 2^-1000 is a (tiny) normal number, 2^-2000 underflows
    dx, dy = grad(logaddexp2_sum, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(dx, [1.0, 0.5, 0.0], rtol=1e-13, atol=0)
    np.testing.assert_allclose(dy, [2.0**-1000, 0.5, 1.0], rtol=1e-13, atol=0)
    dx, dy = grad(logaddexp_sum, wrt=(0, 1))(np.array([1.0]), np.array([0.0]))
    np.testing.assert_allclose(dx, [math.e / (math.e + 1.0)], rtol=1e-15)


def test_tanh_from_its_output():
    x = np.array([0.3, 5.0, -8.0, 30.0, 400.0])
    expected = 1.0 / np.cosh(x) ** 2  # sech^2, computed without tanh (0 at 400)
    g = grad(tanh_sum)(x)
    # 1 - t*t with t = tanh(x) rounded: the error is a few ulps of 1, not of the result
    # (t itself is only known to half an ulp of 1); never inf or nan.
    np.testing.assert_allclose(g, expected, rtol=0, atol=4 * np.finfo(float).eps)
    assert np.all(g >= 0.0)


def test_arcsinh_of_a_huge_number():
    # 1 / sqrt(x^2 + 1) would overflow x^2 and give 0
    assert grad(arcsinh_scalar)(1e200) == pytest.approx(1e-200, rel=1e-15)


def test_arccos_near_one_uses_a_stable_difference():
    x = np.array([1.0 - 2.0**-40])
    # d/dx arccos = -1/sqrt((1 - x)(1 + x)), exact in binary: (1 - x) = 2^-40
    expected = -1.0 / math.sqrt(2.0**-40 * (2.0 - 2.0**-40))
    np.testing.assert_allclose(grad(arccos_sum)(x), [expected], rtol=1e-15)


def _sinc_derivative_reference(x: float) -> float:
    """d/dx sin(pi x)/(pi x) = sum_{k>=1} (-1)^k 2k pi^2k x^(2k-1) / (2k+1)!, summed in
    60-digit decimal arithmetic (no cancellation at this precision)."""
    with decimal.localcontext() as context:
        context.prec = 60
        pi = decimal.Decimal("3.14159265358979323846264338327950288419716939937510582097494")
        d = decimal.Decimal(x)
        total = decimal.Decimal(0)
        for k in range(1, 60):
            total += (
                (-1) ** k * 2 * k * pi ** (2 * k) * d ** (2 * k - 1) / math.factorial(2 * k + 1)
            )
        return float(total)


def test_sinc_near_zero_and_away_from_it():
    # |x| < 1e-3 takes the series, larger |x| the closed form (cos(pi x) - sinc(x)) / x
    x = np.array([0.0, 1e-9, -3e-5, 7e-4, 2e-3, 0.37, -1.5])
    expected = [_sinc_derivative_reference(v) for v in x]
    np.testing.assert_allclose(grad(sinc_sum)(x), expected, rtol=1e-12, atol=0)


# --------------------------------------------------------------------------------------
# Linear algebra at the edges
# --------------------------------------------------------------------------------------


def det_of(a):
    return np.linalg.det(a)


def det_sum(a):
    return np.sum(np.linalg.det(a))


def logdet(a):
    _sign, value = np.linalg.slogdet(a)
    return value


def cholesky_weighted(a, w):
    return np.sum(np.linalg.cholesky(a) * w)


def cholesky_of_gram(b, w):
    return np.sum(np.linalg.cholesky(b @ b.T + 3.0 * np.eye(3)) * w)


def test_det_of_a_singular_matrix_is_the_cofactor_matrix():
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    # d det / d a = cofactors: [[a11, -a10], [-a01, a00]]
    np.testing.assert_allclose(grad(det_of)(a), [[4.0, -2.0], [-2.0, 1.0]], atol=1e-14)
    stack = np.array([[[1.0, 2.0], [2.0, 4.0]], [[2.0, 1.0], [0.5, 3.0]]])
    np.testing.assert_allclose(
        grad(det_sum)(stack), [[[4.0, -2.0], [-2.0, 1.0]], [[3.0, -0.5], [-1.0, 2.0]]], atol=1e-14
    )


def test_slogdet_gradient_is_the_inverse_transposed():
    a = np.array([[2.0, 1.0, 0.0], [0.5, -3.0, 1.0], [0.0, 1.0, 4.0]])  # negative det
    np.testing.assert_allclose(grad(logdet)(a), np.linalg.inv(a).T, rtol=1e-13)


def test_cholesky_gradient_lies_in_the_triangle_numpy_reads():
    rng = np.random.default_rng(4)
    b = rng.uniform(-1.0, 1.0, (3, 3))
    a = b @ b.T + 3.0 * np.eye(3)
    w = rng.uniform(-1.0, 1.0, (3, 3))
    g = check_grad(cholesky_weighted, (a, w), 0)
    assert np.all(np.triu(g, 1) == 0.0)
    # built symmetrically, the result agrees with finite differences through b
    check_grad(cholesky_of_gram, (b, w), 0)


# --------------------------------------------------------------------------------------
# Constructors, conversions and non-differentiable helpers
# --------------------------------------------------------------------------------------


def arange_length(n, x):
    return np.sum(np.arange(n) * x)


def linspace_sum(a, b):
    return np.sum(np.linspace(a, b, 5))


def argmax_pick(x):
    return x[np.argmax(x)] * 2.0


def rounded(x):
    return np.sum(np.round(x) * x + np.sign(x) * x + np.floor(x) * np.ceil(x))


def compare_and_mask(x):
    mask = np.logical_and(np.greater(x, 0.0), np.isfinite(x))
    return np.sum(np.where(mask, x, 0.0) + np.zeros_like(x) + np.ones_like(x))


def astype_back_to_float32(x):
    return np.sum(x.astype(np.float64) * 2.0)


def array_from_scalars(x, y):
    return np.sum(np.array([x, x * y, 3.0]) ** 2)


def test_arange_does_not_depend_on_its_stop():
    x = np.ones(5)
    assert grad(arange_length, wrt=0)(5.0, x) == 0.0
    np.testing.assert_array_equal(grad(arange_length, wrt=1)(5.0, x), [0.0, 1.0, 2.0, 3.0, 4.0])


def test_linspace_ends():
    # samples a + t (b - a), t = 0, 1/4, ..., 1: sum(1 - t) = sum(t) = 2.5
    assert grad(linspace_sum, wrt=(0, 1))(0.5, 2.0) == (2.5, 2.5)


def test_nondifferentiable_helpers_pass_no_gradient():
    np.testing.assert_array_equal(grad(argmax_pick)(np.array([1.0, 5.0, 2.0])), [0.0, 2.0, 0.0])
    x = np.array([1.4, -2.6, 0.7])
    # d/dx [round(x) x + sign(x) x + floor(x) ceil(x)] = round(x) + sign(x)
    np.testing.assert_array_equal(grad(rounded)(x), np.round(x) + np.sign(x))
    np.testing.assert_array_equal(grad(compare_and_mask)(np.array([-1.0, 2.0])), [0.0, 1.0])


def test_astype_gives_the_gradient_in_the_input_dtype():
    x = np.array([1.0, 2.0], dtype=np.float32)
    g = grad(astype_back_to_float32)(x)
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, [2.0, 2.0])


def test_array_from_differentiated_scalars():
    # sum(x^2 + (x y)^2 + 9): d/dx = 2x + 2 x y^2, d/dy = 2 x^2 y
    dx, dy = grad(array_from_scalars, wrt=(0, 1))(1.5, -2.0)
    check_like(dx, 1.5)
    check_like(dy, -2.0)
    assert dx == pytest.approx(2 * 1.5 + 2 * 1.5 * 4.0, rel=1e-15)
    assert dy == pytest.approx(2 * 1.5**2 * -2.0, rel=1e-15)


def sum_with_out(x):
    buffer = np.zeros(3)
    return np.sum(np.sum(x, axis=0, out=buffer))


def mean_with_where(x):
    return np.mean(x, where=x > 0)


def test_out_and_unsupported_keywords_are_rejected_at_transformation_time():
    for fn in (sum_with_out, mean_with_where):
        with pytest.raises(ADTransformError, match="unsupported call"):
            grad(fn)(np.ones((2, 3)))
