"""SciPy's rules (issue 16, C5): ``scipy.special``, ``scipy.linalg``, ``scipy.stats.norm``.

A peer-style suite: every function, several shapes, axes and keyword settings, central
finite differences in float64 (``check_grad``) and the dot-product test with random
non-uniform vectors (``check_vjp_dot_product``); float32 in, float32 out where SciPy keeps
float32; values at the edges of the domains (no overflow in the derivative, checked
against independent formulas); the ways users name the functions; the refusals; and that
``import ad_transform`` does not import SciPy (the rules are registered lazily).
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import types
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

scipy = pytest.importorskip("scipy")

import scipy.linalg as sl  # noqa: E402
import scipy.special as sc  # noqa: E402
import scipy.stats as st  # noqa: E402
from gradcheck import check_grad, check_vjp_dot_product  # noqa: E402
from scipy.special import expit  # noqa: E402
from scipy.stats import norm  # noqa: E402
from test_rules import F64, F, Row, args_from, uniform, weighted  # noqa: E402

from ad_transform import ADTransformError, grad, runtime, vjp  # noqa: E402
from ad_transform.rules import all_rules, list_primitives, lookup  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
UNARY = ((F,), (F64,), ((5,),), ((3, 4),))
BINARY = ((F, F), ((5,), (5,)), ((3, 4), (4,)), ((3, 1), (1, 4)))


# -- the functions under test ------------------------------------------------------------------


def sp_expit(x):
    return expit(x)


def sp_logit(x):
    return sc.logit(x)


def sp_gammaln(x):
    return sc.gammaln(x)


def sp_gammaln_negative(x):
    return sc.gammaln(x)


def sp_digamma(x):
    return sc.digamma(x)


def sp_psi(x):
    return sc.psi(x)


def sp_polygamma(x):
    return sc.polygamma(2, x)


def sp_erf(x):
    return scipy.special.erf(x)


def sp_erfc(x):
    return sc.erfc(x)


def sp_erfinv(x):
    return sc.erfinv(x)


def sp_ndtr(x):
    return sc.ndtr(x)


def sp_log_ndtr(x):
    return sc.log_ndtr(x)


def sp_xlogy(x, y):
    return sc.xlogy(x, y)


def sp_xlog1py(x, y):
    return sc.xlog1py(x, y)


def sp_betaln(a, b):
    return sc.betaln(a, b)


def sp_log_expit(x):
    return sc.log_expit(x)


def sp_gamma(x):
    return sc.gamma(x)


def sp_loggamma(x):
    return sc.loggamma(x)


def sp_beta(a, b):
    return sc.beta(a, b)


def sp_erfcinv(x):
    return sc.erfcinv(x)


def sp_erfcx(x):
    return sc.erfcx(x)


def sp_ndtri(x):
    return sc.ndtri(x)


def sp_logsumexp(x):
    return sc.logsumexp(x)


def sp_logsumexp_axis(x):
    return sc.logsumexp(x, axis=1)


def sp_logsumexp_axes_keepdims(x):
    return sc.logsumexp(x, axis=(0, 2), keepdims=True)


def sp_logsumexp_b(x, b):
    return sc.logsumexp(x, axis=-1, b=b)


def sp_logsumexp_b_positional(x, b):
    return sc.logsumexp(x, 0, b)


def sp_logsumexp_sign(x, b):
    value, sign = sc.logsumexp(x, axis=1, b=b, return_sign=True)
    return value * sign


def sp_softmax(x):
    return sc.softmax(x)


def sp_softmax_axis(x):
    return sc.softmax(x, axis=0)


def sp_log_softmax(x):
    return sc.log_softmax(x)


def sp_log_softmax_axis(x):
    return sc.log_softmax(x, axis=-1)


def sl_solve_triangular_lower(a, b):
    return sl.solve_triangular(a, b, lower=True)


def sl_solve_triangular_upper_t(a, b):
    return sl.solve_triangular(a, b, trans="T")


def sl_solve_triangular_unit(a, b):
    return sl.solve_triangular(a, b, 2, True, True)


def sl_cholesky_upper(a):
    return sl.cholesky(a)


def sl_cholesky_lower(a):
    return sl.cholesky(a, lower=True)


def sl_cho_factor_c(a):
    c, _lower = sl.cho_factor(a)
    return c


def sl_cho_factor_c_lower(a):
    return sl.cho_factor(a, lower=True)[0]


def sl_cho_solve(a, b):
    c, lower = sl.cho_factor(a)
    return sl.cho_solve((c, lower), b)


def sl_cho_solve_lower(a, b):
    return sl.cho_solve(sl.cho_factor(a, lower=True), b)


def sl_solve(a, b):
    return sl.solve(a, b)


def sl_solve_sym_lower(a, b):
    return sl.solve(a, b, lower=True, assume_a="sym")


def sl_solve_pos_transposed(a, b):
    return sl.solve(a, b, assume_a="pos", transposed=True)


def sl_solve_transposed(a, b):
    return sl.solve(a, b, transposed=True)


def sl_inv(a):
    return sl.inv(a)


def sl_det(a):
    return sl.det(a)


def sl_expm(a):
    return sl.expm(a)


def sl_logm(a):
    return sl.logm(a)


def st_norm_logpdf(x, loc, scale):
    return norm.logpdf(x, loc, scale)


def st_norm_pdf(x, loc, scale):
    return st.norm.pdf(x, loc=loc, scale=scale)


def st_norm_cdf(x, loc, scale):
    return norm.cdf(x, loc, scale)


def st_norm_logcdf(x, loc, scale):
    return norm.logcdf(x, loc, scale)


def st_norm_sf(x, loc, scale):
    return norm.sf(x, loc, scale)


def st_norm_logsf(x, loc, scale):
    return norm.logsf(x, loc, scale)


def st_norm_logpdf_default(x):
    return norm.logpdf(x)


# -- argument generators -----------------------------------------------------------------------


def _matrix(kind: str):
    """A well-conditioned 4x4 (or a stack of them) of the given structure."""

    def draw(rng, shape):
        n = shape[-1]
        a = rng.uniform(-1, 1, size=shape)
        if kind == "lower":
            return np.tril(a) + np.eye(n) * (2.0 + rng.uniform(0, 1, n))
        if kind == "upper":
            return np.triu(a) + np.eye(n) * (2.0 + rng.uniform(0, 1, n))
        if kind == "spd":
            return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)
        if kind == "general":
            return a + n * np.eye(n)
        if kind == "small":  # ||a|| < 1: expm and logm(I + a) well conditioned
            return 0.6 * a / n
        if kind == "near_identity":
            return np.eye(n) + 0.6 * a / n
        raise ValueError(kind)

    return draw


def _rhs(rng, shape):
    return rng.uniform(-1.5, 1.5, size=shape)


MATRIX_AND_RHS = (((4, 4), (4,)), ((4, 4), (4, 2)))


def _positive(rng, shape):
    return uniform(0.5, 2.0)(rng, shape)


ROWS = [
    Row(expit, sp_expit, UNARY, args_from(uniform(-6, 6))),
    Row(sc.logit, sp_logit, UNARY, args_from(uniform(0.05, 0.95))),
    Row(sc.gammaln, sp_gammaln, UNARY, args_from(uniform(0.3, 5))),
    Row(sc.gammaln, sp_gammaln_negative, UNARY, args_from(uniform(-2.9, -2.1))),
    Row(sc.digamma, sp_digamma, UNARY, args_from(uniform(0.3, 5))),
    Row(sc.digamma, sp_psi, UNARY[2:], args_from(uniform(0.3, 5))),
    Row(sc.polygamma, sp_polygamma, UNARY, args_from(uniform(0.5, 4))),
    Row(sc.erf, sp_erf, UNARY, args_from(uniform(-2, 2))),
    Row(sc.erfc, sp_erfc, UNARY, args_from(uniform(-2, 2))),
    Row(sc.erfinv, sp_erfinv, UNARY, args_from(uniform(-0.9, 0.9))),
    Row(sc.ndtr, sp_ndtr, UNARY, args_from(uniform(-3, 3))),
    Row(sc.log_ndtr, sp_log_ndtr, UNARY, args_from(uniform(-8, 4))),
    Row(sc.xlogy, sp_xlogy, BINARY, args_from(uniform(-2, 2), uniform(0.2, 3))),
    Row(sc.xlog1py, sp_xlog1py, BINARY, args_from(uniform(-2, 2), uniform(-0.8, 3))),
    Row(sc.betaln, sp_betaln, BINARY, args_from(uniform(0.3, 4))),
    Row(sc.log_expit, sp_log_expit, UNARY, args_from(uniform(-6, 6))),
    Row(sc.gamma, sp_gamma, UNARY, args_from(uniform(0.3, 4))),
    Row(sc.loggamma, sp_loggamma, UNARY, args_from(uniform(0.3, 5))),
    Row(sc.beta, sp_beta, BINARY, args_from(uniform(0.5, 3))),
    Row(sc.erfcinv, sp_erfcinv, UNARY, args_from(uniform(0.1, 1.9))),
    Row(sc.erfcx, sp_erfcx, UNARY, args_from(uniform(-2, 3))),
    Row(sc.ndtri, sp_ndtri, UNARY, args_from(uniform(0.05, 0.95))),
    Row(sc.logsumexp, sp_logsumexp, ((F,), ((5,),), ((3, 4),)), args_from(uniform(-3, 3))),
    Row(sc.logsumexp, sp_logsumexp_axis, (((3, 4),), ((2, 3, 4),)), args_from(uniform(-3, 3))),
    Row(sc.logsumexp, sp_logsumexp_axes_keepdims, (((2, 3, 4),),), args_from(uniform(-3, 3))),
    Row(
        sc.logsumexp,
        sp_logsumexp_b,
        (((3, 4), (4,)), ((3, 4), (3, 4)), ((3, 4), F), ((4,), (2, 4))),
        args_from(uniform(-3, 3), uniform(0.2, 2)),
    ),
    Row(
        sc.logsumexp,
        sp_logsumexp_b_positional,
        (((3, 4), (3, 1)),),
        args_from(uniform(-3, 3), uniform(0.2, 2)),
    ),
    Row(
        sc.logsumexp,
        sp_logsumexp_sign,
        (((3, 4), (3, 4)),),
        # b of both signs, away from sums near 0
        args_from(uniform(-1, 1), uniform(-1, 1), accept=lambda x, b: _sums_away_from_0(x, b)),
        wrt=(0, 1),
    ),
    Row(sc.softmax, sp_softmax, (((5,),), ((3, 4),)), args_from(uniform(-3, 3))),
    Row(sc.softmax, sp_softmax_axis, (((3, 4),), ((2, 3, 4),)), args_from(uniform(-3, 3))),
    Row(sc.log_softmax, sp_log_softmax, (((5,),), ((3, 4),)), args_from(uniform(-3, 3))),
    Row(sc.log_softmax, sp_log_softmax_axis, (((3, 4),),), args_from(uniform(-3, 3))),
    Row(
        sl.solve_triangular,
        sl_solve_triangular_lower,
        MATRIX_AND_RHS,
        args_from(_matrix("lower"), _rhs),
    ),
    Row(
        sl.solve_triangular,
        sl_solve_triangular_upper_t,
        MATRIX_AND_RHS,
        args_from(_matrix("upper"), _rhs),
    ),
    Row(
        sl.solve_triangular,
        sl_solve_triangular_unit,
        MATRIX_AND_RHS,
        args_from(_matrix("lower"), _rhs),
    ),
    Row(sl.cholesky, sl_cholesky_upper, (((4, 4),),), args_from(_matrix("spd"))),
    Row(sl.cholesky, sl_cholesky_lower, (((3, 3),),), args_from(_matrix("spd"))),
    Row(sl.cho_factor, sl_cho_factor_c, (((4, 4),),), args_from(_matrix("spd"))),
    Row(sl.cho_factor, sl_cho_factor_c_lower, (((3, 3),),), args_from(_matrix("spd"))),
    Row(sl.cho_solve, sl_cho_solve, MATRIX_AND_RHS, args_from(_matrix("spd"), _rhs)),
    Row(sl.cho_solve, sl_cho_solve_lower, MATRIX_AND_RHS, args_from(_matrix("spd"), _rhs)),
    Row(sl.solve, sl_solve, MATRIX_AND_RHS, args_from(_matrix("general"), _rhs)),
    Row(sl.solve, sl_solve_transposed, MATRIX_AND_RHS, args_from(_matrix("general"), _rhs)),
    # not symmetric: SciPy reads one triangle, the other gets no gradient
    Row(sl.solve, sl_solve_sym_lower, MATRIX_AND_RHS, args_from(_matrix("general"), _rhs)),
    Row(
        sl.solve,
        sl_solve_pos_transposed,
        MATRIX_AND_RHS,
        args_from(lambda rng, s: _matrix("spd")(rng, s) + np.tril(rng.uniform(-1, 1, s)), _rhs),
    ),
    Row(sl.inv, sl_inv, (((4, 4),), ((2, 2),)), args_from(_matrix("general"))),
    Row(sl.det, sl_det, (((4, 4),), ((3, 3),)), args_from(_matrix("small"))),
    Row(sl.expm, sl_expm, (((4, 4),), ((2, 3, 3),), ((1, 1),)), args_from(_matrix("small"))),
    Row(sl.logm, sl_logm, (((4, 4),), ((2, 2),)), args_from(_matrix("near_identity"))),
    *(
        Row(
            getattr(norm, fn.__name__.removeprefix("st_norm_")),
            fn,
            ((F, F, F), ((5,), F, F), ((3, 4), (4,), (3, 1))),
            args_from(uniform(-2, 2), uniform(-1, 1), _positive),
        )
        for fn in (st_norm_logpdf, st_norm_pdf, st_norm_cdf, st_norm_logcdf, st_norm_sf)
    ),
    Row(
        norm.logsf,
        st_norm_logsf,
        ((F, F, F), ((3, 4), (4,), (3, 1))),
        args_from(uniform(-2, 2), uniform(-1, 1), _positive),
    ),
    Row(norm.logpdf, st_norm_logpdf_default, UNARY, args_from(uniform(-3, 3))),
]


def _sums_away_from_0(x, b) -> bool:
    return bool(np.all(np.abs(np.sum(b * np.exp(x), axis=1)) > 0.3))


def _rng(row: Row, salt: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{row.name}/{salt}".encode()))


def _params(rows):
    return [pytest.param(r, id=r.name) for r in rows]


# -- finite differences and the dot-product test -----------------------------------------------


@pytest.mark.parametrize("row", _params(ROWS))
def test_grad_against_finite_differences(row: Row):
    rng = _rng(row, "grad")
    for shapes in row.shapes:
        args = row.gen(rng, shapes)
        value = row.fn(*args)
        if np.ndim(value) == 0:
            check_grad(row.fn, args, row.positions)
        else:
            w = rng.uniform(-1.5, 1.5, size=np.shape(value))
            check_grad(weighted(row.fn, len(args)), (*args, w), row.positions)


@pytest.mark.parametrize("row", _params(ROWS))
def test_vjp_dot_product(row: Row):
    rng = _rng(row, "vjp")
    for shapes in row.shapes:
        args = row.gen(rng, shapes)
        check_vjp_dot_product(row.fn, args, row.positions, rng)


def test_every_scipy_rule_has_a_row():
    covered = {id(row.primitive) for row in ROWS} | {row.primitive for row in ROWS}
    missing = [
        rule.name
        for rule in all_rules()
        if rule.name.startswith("scipy.")
        and id(rule.primitive) not in covered
        and rule.primitive not in covered
    ]
    assert not missing, f"SciPy rules without a row: {missing}"


# -- float32 in, float32 out -------------------------------------------------------------------

# SciPy promotes these to float64 for float32 input: their gradient is cast back by
# as_gradient like any promoted value
_PROMOTE = {"sp_polygamma", "sl_det", "sl_logm"} | {
    r.name for r in ROWS if r.name.startswith("st_norm")
}
FLOAT32_ROWS = [
    r
    for r in ROWS
    if r.name not in _PROMOTE and any(all(s not in (F, F64) for s in ss) for ss in r.shapes)
]


def _fresh_copy(fn):
    copy = types.FunctionType(
        fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
    )
    copy.__qualname__ = fn.__qualname__
    return copy


@pytest.mark.parametrize("row", _params(FLOAT32_ROWS))
def test_float32_in_float32_out(row: Row, monkeypatch):
    rng = _rng(row, "float32")
    shapes = next(ss for ss in row.shapes if all(s not in (F, F64) for s in ss))
    args32 = tuple(np.asarray(a, dtype=np.float32) for a in row.gen(rng, shapes))
    rounded = tuple(a.astype(np.float64) for a in args32)
    seen = []
    original = runtime.as_gradient

    def spy(dx, x, copy=False):
        if isinstance(x, np.ndarray) and x.dtype == np.float32:
            seen.append(np.result_type(dx))
        return original(dx, x, copy)

    monkeypatch.setattr(runtime, "as_gradient", spy)
    value, pullback = vjp(_fresh_copy(row.fn), wrt=row.positions)(*args32)
    assert np.result_type(value) == np.float32, f"SciPy gave {np.result_type(value)}"
    v = rng.standard_normal(np.shape(value)).astype(np.float32)
    cotangents32 = pullback(v if np.ndim(value) else np.float32(v))
    monkeypatch.undo()
    assert seen and all(d == np.float32 for d in seen), f"promoted: {seen}"
    _, pullback64 = vjp(row.fn, wrt=row.positions)(*rounded)
    cotangents64 = pullback64(np.asarray(v, dtype=np.float64)[()])
    for c32, c64, a in zip(cotangents32, cotangents64, args32, strict=True):
        assert c32.dtype == np.float32 and c32.shape == a.shape
        scale = max(1.0, float(np.max(np.abs(c64))))
        np.testing.assert_allclose(c32, c64, rtol=1e-3, atol=1e-3 * scale)


# -- the edges of the domains ------------------------------------------------------------------


def _inverse_mills(x):
    """phi(x) / Phi(x), independently of the rule: sqrt(2/pi) / erfcx(-x / sqrt(2))."""
    return math.sqrt(2.0 / math.pi) / sc.erfcx(-np.asarray(x) / math.sqrt(2.0))


def f_expit_sum(x):
    return np.sum(expit(x))


def f_log_ndtr_sum(x):
    return np.sum(sc.log_ndtr(x))


def f_expit_scalar(x):
    return expit(x)


def test_expit_derivative_at_large_arguments():
    x = np.array([-800.0, -40.0, -5.0, 0.0, 5.0, 40.0, 700.0, 800.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gx = grad(f_expit_sum)(x)
    # calculus: expit'(x) = exp(-|x|) / (1 + exp(-|x|))^2, symmetric in x
    e = np.exp(-np.abs(x))
    np.testing.assert_allclose(gx, e / (1.0 + e) ** 2, rtol=1e-14, atol=0)
    assert gx[5] > 4e-18  # not 0 from 1 - expit(40) == 0
    assert grad(f_expit_scalar)(40.0) == pytest.approx(math.exp(-40.0), rel=1e-12)


def test_log_ndtr_derivative_across_the_whole_line():
    x = -np.logspace(-3, 10, 60)
    x = np.concatenate([x, [-40.0001, -39.9999], np.linspace(0.0, 40.0, 9)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gx = grad(f_log_ndtr_sum)(x)
    assert np.all(np.isfinite(gx))
    np.testing.assert_allclose(gx, _inverse_mills(x), rtol=1e-12, atol=1e-300)


def test_log_ndtr_derivative_float32():
    x = np.array([-1e6, -50.0, -3.0, 0.0, 3.0, 20.0], dtype=np.float32)
    gx = grad(f_log_ndtr_sum)(x)
    assert gx.dtype == np.float32
    expected = _inverse_mills(x.astype(np.float64)).astype(np.float32)  # 0 below 1e-45
    np.testing.assert_allclose(gx, expected, rtol=1e-6, atol=0)


def f_erfcx_sum(x):
    return np.sum(sc.erfcx(x))


def test_erfcx_derivative_for_large_arguments():
    # erfcx'(x) = 2 x erfcx(x) - 2/sqrt(pi), well conditioned for small x; for large x
    # the terms cancel, and calculus (A&S 7.1.23) gives -(1/sqrt(pi)) (1/x^2 - 3/(2x^4))
    # up to a relative 3.75/x^4
    x = np.array([0.5, 3.0, 49.0, 51.0, 1e3, 1e6, 1e150])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gx = grad(f_erfcx_sum)(x)
    np.testing.assert_allclose(gx[:2], 2 * x[:2] * sc.erfcx(x[:2]) - 2 / math.sqrt(math.pi))
    inverse_square = 1 / x[2:] ** 2
    leading = -(1 / math.sqrt(math.pi)) * inverse_square * (1 - 1.5 * inverse_square)
    np.testing.assert_allclose(gx[2:4], leading[:2], rtol=1e-6)  # 3.75/49^4 = 6.5e-7
    np.testing.assert_allclose(gx[4:], leading[2:], rtol=1e-11)  # 3.75/1e12


def f_logsumexp_large(x):
    return sc.logsumexp(x, axis=0)[1]


def test_logsumexp_of_large_values_does_not_overflow():
    x = np.array([[1000.0, -1000.0], [1001.0, -1001.0], [999.0, -np.inf]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gx = grad(f_logsumexp_large)(x)
    # the softmax of column 1: e^{-1000}, e^{-1001}, 0 normalised
    w = np.array([1.0, math.exp(-1.0), 0.0])
    # a - ans loses |ans| eps ~ 1e-13 (relative) in the exponent, as in logsumexp itself
    np.testing.assert_allclose(gx[:, 1], w / w.sum(), rtol=1e-12)
    np.testing.assert_array_equal(gx[:, 0], 0.0)


def f_xlogy_in_y(y):
    return sc.xlogy(np.array([0.0, 2.0, 0.0]), y)


def f_xlog1py_in_y(y):
    return np.sum(sc.xlog1py(np.array([0.0, 2.0]), y))


def test_xlogy_has_zero_derivative_in_y_where_x_is_0():
    # xlogy(0, y) = 0 for every y (SciPy's definition), so d/dy is 0 there, even at y = 0
    y = np.array([0.0, 0.5, 3.0])
    _, pullback = vjp(f_xlogy_in_y)(y)
    np.testing.assert_array_equal(pullback(np.array([1.0, 1.0, 1.0])), [0.0, 4.0, 0.0])
    np.testing.assert_allclose(grad(f_xlog1py_in_y)(np.array([-0.5, 1.0])), [0.0, 1.0])


def f_erfinv_sum(x):
    return np.sum(sc.erfinv(x))


def test_erfinv_boundary_is_infinite():
    # erfinv'(x) = sqrt(pi)/2 exp(erfinv(x)^2): infinite at +-1, as in calculus
    for x in ([-1.0, 0.0], [0.0, 1.0]):
        gx = grad(f_erfinv_sum)(np.array(x))
        assert gx[x.index(0.0)] == pytest.approx(math.sqrt(math.pi) / 2, rel=1e-15)
        assert gx[1 - x.index(0.0)] == np.inf


def test_unit_diagonal_and_the_unread_triangle_get_no_gradient():
    rng = np.random.default_rng(5)
    a = rng.uniform(-1, 1, (4, 4)) + 3 * np.eye(4)  # both triangles hold numbers
    b = rng.uniform(-1, 1, 4)

    def f(a, b):
        return np.sum(sl.solve_triangular(a, b, lower=True, unit_diagonal=True) ** 2)

    ga = grad(f)(a, b)
    np.testing.assert_array_equal(np.triu(ga), 0.0)  # SciPy reads none of these
    check_grad(f, (a, b), (0, 1))


def f_logm_negative(a):
    return np.real(np.sum(sl.logm(a)))  # real, so that the result itself is not refused


def f_logm_negative_complex_result(a):
    return np.sum(sl.logm(a))


def test_logm_with_a_complex_logarithm_is_refused():
    a = np.array([[-1.0, 0.2], [0.0, 2.0]])
    with pytest.raises(ValueError, match=r"logm.*real logarithm"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SciPy's own ComplexWarning in the forward
        grad(f_logm_negative)(a)
    with pytest.raises(ADTransformError, match="complex"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grad(f_logm_negative_complex_result)(a)


# -- the ways users name the functions ---------------------------------------------------------


def by_imported_name(x):
    return np.sum(expit(x))


def by_module_alias(x):
    return np.sum(sc.expit(x))


def by_full_path(x):
    return np.sum(scipy.special.expit(x))


def test_every_spelling_resolves_to_the_rule():
    x = np.array([-1.0, 0.5, 2.0])
    expected = sc.expit(x) * sc.expit(-x)
    for f in (by_imported_name, by_module_alias, by_full_path):
        np.testing.assert_allclose(grad(f)(x), expected, rtol=1e-14)
    assert lookup(sc.expit) is lookup(expit)
    assert lookup(st.norm.logpdf) is lookup(norm.logpdf) is not None


def _run(code: str, tmp_path: Path) -> str:
    """Run ``code`` as a script in a fresh interpreter (templates need a source file)."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_import_does_not_import_scipy_and_rules_load_at_first_use(tmp_path):
    module = tmp_path / "user_module.py"
    module.write_text(
        "import numpy as np\nimport scipy\n\n\n"
        "def f(x):\n    return np.sum(scipy.special.logsumexp(x) + scipy.special.expit(x))\n"
    )
    out = _run(
        f"""
        import sys
        import ad_transform
        print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))
        sys.path.insert(0, {str(tmp_path)!r})
        import user_module  # 'import scipy' only: scipy.special is imported in f's body
        import numpy as np
        g = ad_transform.grad(user_module.f)(np.array([0.5, -1.0]))
        print(np.round(g, 12).tolist())
        """,
        tmp_path,
    )
    first, second = out.splitlines()
    assert first == "[]"
    x = np.array([0.5, -1.0])
    # the scalar logsumexp is added to both elements before the sum: counted twice
    expected = 2 * np.exp(x) / np.exp(x).sum() + sc.expit(x) * sc.expit(-x)
    np.testing.assert_allclose(eval(second), expected, rtol=1e-11)


def test_a_rule_the_user_registered_first_is_kept(tmp_path):
    out = _run(
        """
        import numpy as np, scipy.special as sc
        from ad_transform import register_adjoint
        from ad_transform.rules import lookup

        def d_mine(g, ans, x):
            return g * 0.0

        register_adjoint(sc.expit, d_mine)
        print(lookup(sc.erf).name, lookup(sc.expit).template.fn.__name__)
        """,
        tmp_path,
    )
    assert out.split() == ["scipy.special.erf", "d_mine"]


def test_primitives_lists_the_scipy_rules():
    names = list_primitives(builtin_only=True)
    scipy_names = [n for n in names if n.startswith("scipy.")]
    assert len(scipy_names) >= 38, scipy_names
    for name in (
        "scipy.special.expit",
        "scipy.special.logsumexp",
        "scipy.linalg.solve_triangular",
        "scipy.linalg.expm",
        "scipy.stats.norm.logpdf",
    ):
        assert name in names


# -- refusals ----------------------------------------------------------------------------------


def refuse_overwrite(a, b):
    return np.sum(sl.solve_triangular(a, b, overwrite_b=True))


def refuse_positional_overwrite(a, b):
    return np.sum(sl.solve(a, b, False, False))


def refuse_frozen(x):
    return np.sum(norm(0.0, 2.0).logpdf(x))


def refuse_expm_frechet(a):
    return np.sum(sl.expm_frechet(a, a)[1])


@pytest.mark.parametrize(
    "fn, words",
    [
        (refuse_overwrite, "solve_triangular.*overwrite_b"),
        (refuse_positional_overwrite, "scipy.linalg.solve: too many positional"),
        (refuse_frozen, "logpdf"),
        (refuse_expm_frechet, "expm_frechet"),
    ],
)
def test_refused_calls_name_the_construct(fn, words):
    a = np.eye(3) * 2.0
    args = (a, np.ones(3)) if fn.__code__.co_argcount == 2 else (np.ones(3),)
    if fn is refuse_expm_frechet:
        args = (a,)
    with pytest.raises(ADTransformError, match=words):
        grad(fn)(*args)


def test_export_of_scipy_gradients_needs_no_ad_transform(tmp_path):
    (tmp_path / "scipy_user.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            import scipy.linalg as sl
            import scipy.special as sc
            from scipy.stats import norm


            def f(x, a):
                y = sc.logsumexp(x, b=x * x) + np.sum(sc.expit(x) + norm.logpdf(x, 0.5, 2.0))
                return y + np.sum(sl.solve_triangular(a, x, lower=True)) + np.sum(sl.expm(a))
            """
        )
    )
    out = _run(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import numpy as np
        import scipy_user
        from ad_transform import export
        export(scipy_user.f, {str(tmp_path / "grad_scipy_user.py")!r}, wrt=(0, 1))
        for name in [m for m in sys.modules if m.split(".")[0] == "ad_transform"]:
            del sys.modules[name]
        sys.modules["ad_transform"] = None  # the exported module must not import it
        import grad_scipy_user
        x = np.array([0.3, -0.5, 1.2])
        a = np.tril(np.full((3, 3), 0.3)) + np.eye(3)
        gx, ga = grad_scipy_user.grad_f(x, a)
        print(gx.tolist(), ga.tolist())
        """,
        tmp_path,
    )
    gx, ga = (np.array(v) for v in eval(out.replace("] [", "], [")))
    sys.path.insert(0, str(tmp_path))
    try:
        import scipy_user
    finally:
        sys.path.remove(str(tmp_path))
    x = np.array([0.3, -0.5, 1.2])
    a = np.tril(np.full((3, 3), 0.3)) + np.eye(3)
    check_grad(scipy_user.f, (x, a), (0, 1))
    expected = grad(scipy_user.f, wrt=(0, 1))(x, a)
    np.testing.assert_allclose(gx, expected[0], rtol=1e-13)
    np.testing.assert_allclose(ga, expected[1], rtol=1e-13)
