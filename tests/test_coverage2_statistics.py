"""Issue 16, statistics and signal (C3): the peer-style suite of ``nanprod``, ``nanvar``,
``nanstd``, ``nancumsum``, ``nancumprod``, ``median``/``nanmedian``,
``quantile``/``percentile`` (and their ``nan`` forms, every ``method``), ``diff`` with
``n``/``prepend``/``append``, ``trapezoid``, ``polyval``, ``gradient``, ``interp``,
``convolve``/``correlate`` and ``unwrap``.

``TABLE`` has rows like ``test_rules.TABLE`` (several shapes, axes and keyword
settings); each row is checked against central finite differences in float64 and with
the dot-product test ``<u, J^T v> = <J u, v>`` (random non-uniform ``u``, ``v``), and
run in float32 (float32 cotangents agreeing with float64). Points are away from kinks
and ties; the documented behaviour at them (ties in order statistics, NaNs, the sample
points of ``interp``) and the refusals are tested separately below.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from gradcheck import check_grad, check_vjp_dot_product
from test_rules import F, Row, _describe, args_from, distinct, uniform, weighted

from ad_transform import ADTransformError, grad, vjp
from ad_transform.rules import all_rules

REAL = uniform(-2.0, 2.0)
POSITIVE = uniform(0.5, 2.0)
N_POINTS = 2
METHODS = [
    "inverted_cdf",
    "averaged_inverted_cdf",
    "closest_observation",
    "interpolated_inverted_cdf",
    "hazen",
    "weibull",
    "linear",
    "median_unbiased",
    "normal_unbiased",
    "lower",
    "higher",
    "midpoint",
    "nearest",
]


def distinct_values(rng, shape):
    """Values no two of which are within 1e-3 (order statistics have kinks at ties)."""
    return args_from(REAL, accept=distinct)(rng, (shape,))[0]


def distinct_args(rng, shapes):
    return args_from(REAL, accept=distinct)(rng, shapes)


def increasing(rng, shape):
    """Strictly increasing sample points, steps in [0.3, 1.0]."""
    return np.cumsum(rng.uniform(0.3, 1.0, size=shape), axis=-1) - 1.0


def steps_apart(low, high):
    """Points in ``[low, high]``, each at least 0.05 from the sample points of
    ``INTERP_XP`` (where ``interp`` has kinks)."""

    def draw(rng, shape):
        for _ in range(1000):
            x = rng.uniform(low, high, size=shape)
            if np.min(np.abs(np.asarray(x)[..., None] - INTERP_XP)) > 0.05:
                return x
        raise RuntimeError("no point away from the sample points")

    return draw


INTERP_XP = np.array([-1.0, -0.2, 0.5, 1.3, 2.0])


# -- statistics ------------------------------------------------------------------------


def nanprod_all(x):
    return np.nanprod(x)


def nanprod_axis0(x):
    return np.nanprod(x, axis=0)


def nanprod_axis1_keepdims(x):
    return np.nanprod(x, axis=1, keepdims=True)


def nanvar_all(x):
    return np.nanvar(x)


def nanvar_axis1_ddof1(x):
    return np.nanvar(x, axis=1, ddof=1)


def nanvar_axes_keepdims(x):
    return np.nanvar(x, axis=(0, 2), keepdims=True)


def nanstd_all(x):
    return np.nanstd(x)


def nanstd_axis0(x):
    return np.nanstd(x, axis=0)


def nanstd_axis_last_ddof1_keepdims(x):
    return np.nanstd(x, axis=-1, ddof=1, keepdims=True)


def nancumsum_flat(x):
    return np.nancumsum(x)


def nancumsum_axis0(x):
    return np.nancumsum(x, axis=0)


def nancumprod_flat(x):
    return np.nancumprod(x)


def nancumprod_axis1(x):
    return np.nancumprod(x, axis=1)


def median_all(x):
    return np.median(x)


def median_axis0(x):
    return np.median(x, axis=0)


def median_axis_last_keepdims(x):
    return np.median(x, axis=-1, keepdims=True)


def median_axes(x):
    return np.median(x, axis=(0, 2))


def nanmedian_all(x):
    return np.nanmedian(x)


def nanmedian_axis1(x):
    return np.nanmedian(x, axis=1)


def quantile_scalar(x):
    return np.quantile(x, 0.3)


def quantile_list_axis0(x):
    return np.quantile(x, [0.15, 0.5, 0.8], axis=0)


def quantile_keepdims(x):
    return np.quantile(x, 0.65, axis=1, keepdims=True)


def nanquantile_axis0(x):
    return np.nanquantile(x, [0.2, 0.7], axis=0)


def percentile_scalar(x):
    return np.percentile(x, 42.0)


def percentile_axis1_nearest(x):
    return np.percentile(x, [10.0, 90.0], axis=1, method="nearest")


def nanpercentile_weibull(x):
    return np.nanpercentile(x, 33.0, axis=0, method="weibull")


# -- signal ----------------------------------------------------------------------------


def diff_default(x):
    return np.diff(x)


def diff_n2_axis0(x):
    return np.diff(x, n=2, axis=0)


def diff_n3(x):
    return np.diff(x, 3)


def diff_prepend_append(x, p, q):
    return np.diff(x, axis=0, prepend=p, append=q)


def diff_n2_prepend(x, p):
    return np.diff(x, n=2, prepend=p)


def diff_append_scalar(x, q):
    return np.diff(x, append=q)


def trapezoid_y(y):
    return np.trapezoid(y)


def trapezoid_x(y, x):
    return np.trapezoid(y, x)


def trapezoid_x_axis0(y, x):
    return np.trapezoid(y, x, axis=0)


def trapezoid_dx(y, dx):
    return np.trapezoid(y, dx=dx)


def polyval_p_x(p, x):
    return np.polyval(p, x)


def gradient_default(f):
    return np.gradient(f)


def gradient_spacing(f, h):
    return np.gradient(f, h)


def gradient_spacing_edge2(f, h):
    return np.gradient(f, h, edge_order=2)


def gradient_2d(f):
    rows, columns = np.gradient(f)
    return rows * 1.5 - columns


def gradient_2d_spacings_edge2(f, h, k):
    rows, columns = np.gradient(f, h, k, edge_order=2)
    return rows * columns


def gradient_one_spacing_all_axes(f, h):
    rows, columns = np.gradient(f, h)
    return rows + 2.0 * columns


def gradient_axis1(f, h):
    return np.gradient(f, h, axis=1)


def gradient_coordinates(f):
    return np.gradient(f, np.array([0.0, 0.4, 0.5, 1.3, 2.0, 2.2]), axis=-1, edge_order=2)


def gradient_coordinates_axis0(f):
    return np.gradient(f, np.array([0.0, 0.4, 0.5, 1.3]), axis=0)


def gradient_in_coordinates(f, x):
    return np.gradient(f, x)


def gradient_in_coordinates_edge2_axis0(f, x):
    return np.gradient(f, x, axis=0, edge_order=2)


def gradient_in_both_coordinates(f, x, y):
    rows, columns = np.gradient(f, x, y, edge_order=2)
    return rows - 0.5 * columns


def gradient_coordinates_and_spacing(f, x, h):
    rows, columns = np.gradient(f, x, h)
    return rows * columns


def coordinates_args(rng, shapes):
    """``f`` and increasing coordinates (scalar spacings positive)."""
    rest = [increasing(rng, s) if s is not F else float(rng.uniform(0.5, 2.0)) for s in shapes[1:]]
    return (REAL(rng, shapes[0]), *rest)


def interp_all(x, xp, fp):
    return np.interp(x, xp, fp)


def interp_x_fp(x, fp):
    return np.interp(x, INTERP_XP, fp)


def interp_left_right(x, fp, left, right):
    return np.sum(np.interp(x, INTERP_XP, fp, left=left, right=right) * np.arange(1.0, 8.0))


def convolve_full(a, v):
    return np.convolve(a, v)


def convolve_same(a, v):
    return np.convolve(a, v, mode="same")


def convolve_valid(a, v):
    return np.convolve(a, v, "valid")


def correlate_valid(a, v):
    return np.correlate(a, v)


def correlate_same(a, v):
    return np.correlate(a, v, "same")


def correlate_full(a, v):
    return np.correlate(a, v, mode="full")


def unwrap_default(p):
    return np.unwrap(p)


def unwrap_period(p, period):
    return np.unwrap(p, period=period, axis=0)


def wrapped_phases(rng, shapes):
    """Phases with jumps well away from the threshold ``period / 2`` (``period`` in
    [3, 4]; steps of ``period / 2`` exactly are kinks)."""
    period = rng.uniform(3.0, 4.0)
    steps = rng.choice([-1.0, 1.0], size=shapes[0]) * rng.uniform(0.1, 0.3, size=shapes[0])
    steps += rng.choice([-1.0, 0.0, 1.0], size=shapes[0]) * period * 0.8
    p = np.cumsum(steps, axis=0)
    return (p, period) if len(shapes) == 2 else (p,)


def increasing_x(rng, shapes):
    """(y, x) with x increasing along the last axis of y (1-D) or shaped like y."""
    y = REAL(rng, shapes[0])
    return y, increasing(rng, shapes[1])


def interp_args(rng, shapes):
    xp = increasing(rng, shapes[1])
    x = rng.uniform(xp[0] - 0.5, xp[-1] + 0.5, size=shapes[0])
    while np.min(np.abs(x[..., None] - xp)) < 0.05:
        x = rng.uniform(xp[0] - 0.5, xp[-1] + 0.5, size=shapes[0])
    return x, xp, REAL(rng, shapes[2])


def interp_fixed_args(rng, shapes):
    return (steps_apart(-1.6, 2.6)(rng, shapes[0]), *(REAL(rng, s) for s in shapes[1:]))


MATRIX = (((4, 5),), ((6, 3),))
MATRIX_3D = (((3, 4, 5),),)
VECTOR_MATRIX = (((7,),), ((4, 5),))
TABLE = [
    Row(np.nanprod, nanprod_all, VECTOR_MATRIX, args_from(POSITIVE)),
    Row(np.nanprod, nanprod_axis0, MATRIX, args_from(REAL)),
    Row(np.nanprod, nanprod_axis1_keepdims, MATRIX, args_from(REAL)),
    Row(np.nanvar, nanvar_all, VECTOR_MATRIX, args_from(REAL)),
    Row(np.nanvar, nanvar_axis1_ddof1, MATRIX, args_from(REAL)),
    Row(np.nanvar, nanvar_axes_keepdims, MATRIX_3D, args_from(REAL)),
    Row(np.nanstd, nanstd_all, VECTOR_MATRIX, args_from(REAL)),
    Row(np.nanstd, nanstd_axis0, MATRIX, args_from(REAL)),
    Row(np.nanstd, nanstd_axis_last_ddof1_keepdims, MATRIX_3D, args_from(REAL)),
    Row(np.nancumsum, nancumsum_flat, VECTOR_MATRIX, args_from(REAL)),
    Row(np.nancumsum, nancumsum_axis0, MATRIX, args_from(REAL)),
    Row(np.nancumprod, nancumprod_flat, VECTOR_MATRIX, args_from(REAL)),
    Row(np.nancumprod, nancumprod_axis1, MATRIX, args_from(REAL)),
    Row(np.median, median_all, (((7,),), ((6,),), ((4, 5),)), distinct_args),
    Row(np.median, median_axis0, MATRIX, distinct_args),
    Row(np.median, median_axis_last_keepdims, MATRIX, distinct_args),
    Row(np.median, median_axes, MATRIX_3D, distinct_args),
    Row(np.nanmedian, nanmedian_all, VECTOR_MATRIX, distinct_args),
    Row(np.nanmedian, nanmedian_axis1, MATRIX, distinct_args),
    Row(np.quantile, quantile_scalar, VECTOR_MATRIX, distinct_args),
    Row(np.quantile, quantile_list_axis0, MATRIX, distinct_args),
    Row(np.quantile, quantile_keepdims, MATRIX_3D, distinct_args),
    Row(np.nanquantile, nanquantile_axis0, MATRIX, distinct_args),
    Row(np.percentile, percentile_scalar, VECTOR_MATRIX, distinct_args),
    Row(np.percentile, percentile_axis1_nearest, MATRIX, distinct_args),
    Row(np.nanpercentile, nanpercentile_weibull, MATRIX, distinct_args),
    Row(np.diff, diff_default, VECTOR_MATRIX, args_from(REAL)),
    Row(np.diff, diff_n2_axis0, MATRIX, args_from(REAL)),
    Row(np.diff, diff_n3, (((7,),), ((3, 6),)), args_from(REAL)),
    Row(
        np.diff,
        diff_prepend_append,
        (((4, 3), (2, 3), (1, 3)), ((5,), (1,), (3,))),
        args_from(REAL),
    ),
    Row(np.diff, diff_n2_prepend, (((3, 5), (3, 2)), ((6,), F)), args_from(REAL)),
    Row(np.diff, diff_append_scalar, (((3, 5), F), ((6,), F)), args_from(REAL)),
    Row(np.trapezoid, trapezoid_y, VECTOR_MATRIX, args_from(REAL)),
    Row(np.trapezoid, trapezoid_x, (((7,), (7,)), ((3, 5), (5,)), ((3, 5), (3, 5))), increasing_x),
    Row(np.trapezoid, trapezoid_x_axis0, (((6, 3), (6,)),), increasing_x),
    Row(np.trapezoid, trapezoid_dx, (((7,), F), ((3, 5), F)), args_from(REAL, POSITIVE)),
    Row(
        np.polyval,
        polyval_p_x,
        (((4,), F), ((5,), (6,)), ((3,), (2, 3)), ((1,), (4,))),
        args_from(REAL),
    ),
    Row(np.gradient, gradient_default, (((7,),),), args_from(REAL)),
    Row(np.gradient, gradient_spacing, (((7,), F), ((2,), F)), args_from(REAL, POSITIVE)),
    Row(np.gradient, gradient_spacing_edge2, (((7,), F), ((3,), F)), args_from(REAL, POSITIVE)),
    Row(np.gradient, gradient_2d, (((4, 5),), ((3, 2),)), args_from(REAL)),
    Row(
        np.gradient,
        gradient_2d_spacings_edge2,
        (((4, 5), F, F),),
        args_from(REAL, POSITIVE, POSITIVE),
    ),
    Row(np.gradient, gradient_one_spacing_all_axes, (((4, 5), F),), args_from(REAL, POSITIVE)),
    Row(np.gradient, gradient_axis1, (((3, 6), F),), args_from(REAL, POSITIVE)),
    Row(np.gradient, gradient_coordinates, (((6,),), ((2, 6),)), args_from(REAL)),
    Row(np.gradient, gradient_coordinates_axis0, (((4, 3),),), args_from(REAL)),
    Row(np.gradient, gradient_in_coordinates, (((6,), (6,)), ((3,), (3,))), coordinates_args),
    Row(np.gradient, gradient_in_coordinates_edge2_axis0, (((5, 2), (5,)),), coordinates_args),
    Row(np.gradient, gradient_in_both_coordinates, (((4, 5), (4,), (5,)),), coordinates_args),
    Row(np.gradient, gradient_coordinates_and_spacing, (((4, 3), (4,), F),), coordinates_args),
    Row(np.interp, interp_all, (((7,), (5,), (5,)), ((2, 3), (4,), (4,))), interp_args),
    Row(np.interp, interp_x_fp, (((9,), (5,)), (F, (5,))), interp_fixed_args),
    Row(np.interp, interp_left_right, (((7,), (5,), F, F),), interp_fixed_args),
    Row(np.convolve, convolve_full, (((5,), (3,)), ((2,), (6,)), ((1,), (4,))), args_from(REAL)),
    Row(np.convolve, convolve_same, (((5,), (3,)), ((4,), (7,)), ((6,), (4,))), args_from(REAL)),
    Row(np.convolve, convolve_valid, (((5,), (3,)), ((3,), (6,))), args_from(REAL)),
    Row(np.correlate, correlate_valid, (((6,), (3,)), ((2,), (5,))), args_from(REAL)),
    Row(np.correlate, correlate_same, (((5,), (4,)), ((4,), (7,)), ((7,), (4,))), args_from(REAL)),
    Row(np.correlate, correlate_full, (((5,), (2,)), ((3,), (6,))), args_from(REAL)),
    Row(np.unwrap, unwrap_default, (((8,),),), wrapped_phases),
    Row(np.unwrap, unwrap_period, (((8,), F), ((6, 2), F)), wrapped_phases),
]
if hasattr(np, "trapz"):  # NumPy 1.x and 2.0-2.3

    def trapz_x(y, x):
        return np.trapz(y, x)

    TABLE.append(Row(np.trapz, trapz_x, (((7,), (7,)),), increasing_x))


def _rng(row: Row, salt: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{row.name}/{salt}".encode()))


def _params(rows):
    return [pytest.param(row, id=row.name) for row in rows]


@pytest.mark.parametrize("row", _params(TABLE))
def test_grad_against_finite_differences(row: Row):
    rng = _rng(row, "grad")
    positions = row.positions
    wrts = [positions, *positions] if len(positions) > 1 else [positions[0]]
    for shapes in row.shapes:
        for k in range(N_POINTS):
            args = row.gen(rng, shapes)
            wrt = wrts[k % len(wrts)]
            value = row.fn(*args)
            try:
                if np.ndim(value) == 0:
                    check_grad(row.fn, args, wrt)
                else:
                    w = rng.uniform(-1.5, 1.5, size=np.shape(value))
                    check_grad(weighted(row.fn, len(args)), (*args, w), wrt)
            except Exception as error:
                error.add_note(f"row {row.name}: arguments ({_describe(shapes)}), wrt={wrt}")
                raise


@pytest.mark.parametrize("row", _params(TABLE))
def test_vjp_dot_product(row: Row):
    rng = _rng(row, "vjp")
    for shapes in row.shapes:
        for _ in range(N_POINTS):
            args = row.gen(rng, shapes)
            try:
                check_vjp_dot_product(row.fn, args, row.positions, rng)
            except Exception as error:
                error.add_note(f"row {row.name}: arguments ({_describe(shapes)})")
                raise


def _array_shapes(row: Row):
    for shapes in row.shapes:
        if all(s is not F for s in shapes):
            return shapes
    return None


@pytest.mark.parametrize("row", _params([r for r in TABLE if _array_shapes(r) is not None]))
def test_float32_in_float32_out(row: Row):
    """float32 arguments: float32 cotangents, agreeing with the float64 pullback on the
    same rounded arguments to single precision (as ``test_numpy_float32``)."""
    rng = _rng(row, "float32")
    args64 = row.gen(rng, _array_shapes(row))
    args32 = tuple(np.asarray(a, dtype=np.float32) for a in args64)
    rounded = tuple(a.astype(np.float64) for a in args32)
    value, pullback = vjp(row.fn, wrt=row.positions)(*args32)
    v = rng.standard_normal(np.shape(value)).astype(np.float32)
    cotangents32 = pullback(np.float32(v) if np.ndim(value) == 0 else v)
    _, pullback64 = vjp(row.fn, wrt=row.positions)(*rounded)
    cotangents64 = pullback64(np.asarray(v, dtype=np.float64)[()])
    for i, c32, c64 in zip(row.positions, cotangents32, cotangents64, strict=True):
        assert isinstance(c32, np.ndarray) and c32.dtype == np.float32, (i, type(c32))
        assert c32.shape == args32[i].shape
        scale = max(1.0, float(np.max(np.abs(c64))))
        np.testing.assert_allclose(c32, c64, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("how", [np.quantile, np.nanquantile])
def test_every_quantile_method(method, how):
    def quantiles(x):
        return np.sum(how(x, [0.05, 0.3, 0.5, 0.77, 1.0], axis=0, method=method) * WEIGHTS)

    rng = np.random.default_rng(zlib.crc32(method.encode()))
    for rows in (1, 2, 5, 8):
        x = distinct_values(rng, (rows, 3))
        check_grad(quantiles, (x,))
        check_vjp_dot_product(quantiles, (x,), 0, rng)


WEIGHTS = np.array([[0.4, -1.1, 0.9]]) * np.array([[1.0], [-0.7], [1.3], [0.6], [-1.9]])


def _rule_keys(module_name: str) -> set:
    return {
        id(rule.primitive)
        for rule in all_rules()
        if rule.differentiable and rule.template.fn.__module__ == module_name
    }


def test_every_new_rule_has_a_row():
    """Every rule of ``rules/signal.py`` and every issue-16 reduction is in ``TABLE``."""
    new_reductions = [np.nanprod, np.nanvar, np.nanstd, np.nancumsum, np.nancumprod]
    new_reductions += [np.median, np.nanmedian, np.quantile, np.nanquantile]
    new_reductions += [np.percentile, np.nanpercentile]
    wanted = _rule_keys("ad_transform.rules.signal") | {id(p) for p in new_reductions}
    covered = {id(row.primitive) for row in TABLE}
    assert wanted <= covered
    assert len(_rule_keys("ad_transform.rules.signal")) >= 8


# -- NaNs: the nan forms ignore them ---------------------------------------------------


def nan_functions():
    def nanprod_weighted(x):
        return np.sum(np.nanprod(x, axis=0) * np.array([1.0, -2.0, 0.5, 1.5]))

    def nanvar_weighted(x):
        return np.sum(np.nanvar(x, axis=1, ddof=1) * np.array([1.0, -2.0, 0.5, 1.5, 0.3]))

    def nanstd_weighted(x):
        return np.sum(np.nanstd(x, axis=0) * np.array([1.0, -2.0, 0.5, 1.5]))

    def nancumsum_weighted(x):
        return np.sum(np.nancumsum(x, axis=0) ** 2)

    def nancumprod_weighted(x):
        return np.sum(np.nancumprod(x) * np.linspace(-1.0, 2.0, 20))

    def nanmedian_weighted(x):
        return np.sum(np.nanmedian(x, axis=0) * np.array([1.0, -2.0, 0.5, 1.5]))

    def nanquantile_weighted(x):
        return np.sum(np.nanquantile(x, [0.2, 0.9], axis=1) ** 2)

    def nanpercentile_all(x):
        return np.nanpercentile(x, 63.0, method="median_unbiased")

    return [
        nanprod_weighted,
        nanvar_weighted,
        nanstd_weighted,
        nancumsum_weighted,
        nancumprod_weighted,
        nanmedian_weighted,
        nanquantile_weighted,
        nanpercentile_all,
    ]


@pytest.mark.parametrize("fn", nan_functions(), ids=lambda f: f.__name__)
def test_nan_forms_ignore_nans(fn):
    """Finite differences in the numbers; exactly 0 at the NaNs; dot-product test."""
    rng = np.random.default_rng(7)
    x = distinct_values(rng, (5, 4))
    x[[0, 2, 2, 4], [1, 0, 3, 1]] = np.nan
    gradient = grad(fn)(x)
    numbers = ~np.isnan(x)
    assert np.all(gradient[~numbers] == 0)
    expected = np.zeros_like(x)
    for index in zip(*np.nonzero(numbers), strict=True):
        step = np.zeros_like(x)
        step[index] = 1e-6
        expected[index] = (fn(x + step) - fn(x - step)) / 2e-6
    np.testing.assert_allclose(gradient, expected, rtol=1e-6, atol=1e-8)
    check_vjp_dot_product(fn, (x,), 0, rng)


def median_of(x):
    return np.median(x)


def median_rows(x):
    return np.sum(np.median(x, axis=1) * np.array([1.0, 3.0]))


def nanmedian_rows(x):
    return np.sum(np.nanmedian(x, axis=1) * np.array([2.0, -1.0]))


def test_median_of_a_slice_with_a_nan_is_nan_and_its_nans_share_the_adjoint():
    x = np.array([[1.0, np.nan, 3.0, np.nan], [4.0, 2.0, 0.5, 1.0]])
    assert np.isnan(median_rows(x))
    np.testing.assert_array_equal(
        grad(median_rows)(x), [[0.0, 0.5, 0.0, 0.5], [0.0, 1.5, 0.0, 1.5]]
    )


def test_nanmedian_of_an_all_nan_slice_gets_no_adjoint():
    x = np.array([[np.nan, np.nan, np.nan], [4.0, 2.0, 0.5]])
    with pytest.warns(RuntimeWarning):
        gradient = grad(nanmedian_rows)(x)
    np.testing.assert_array_equal(gradient, [[0.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


# -- ties: tied elements share the adjoint equally (as max does) -----------------------


def test_median_even_length_splits_between_the_two_middle_elements():
    np.testing.assert_array_equal(grad(median_of)(np.array([4.0, 1.0, 3.0, 2.0])), [0, 0, 0.5, 0.5])


def test_median_ties_share_the_adjoint_equally():
    # sorted [0, 1, 3, 3, 3]: the middle place belongs to a run of three 3s
    np.testing.assert_allclose(
        grad(median_of)(np.array([3.0, 1.0, 3.0, 3.0, 0.0])), [1 / 3, 0, 1 / 3, 1 / 3, 0]
    )
    # sorted [1, 2, 2, 5]: both middle places are 2s
    np.testing.assert_array_equal(grad(median_of)(np.array([2.0, 5.0, 1.0, 2.0])), [0.5, 0, 0, 0.5])


def test_median_tie_adjoint_is_the_mean_of_the_one_sided_derivatives():
    # [2, 5, 1, 2]: raising either 2 alone raises the median by h/2, lowering it lowers
    # the median by h/2; the shared adjoint 1/2 equals both one-sided derivatives
    x = np.array([2.0, 5.0, 1.0, 2.0])
    h = 1e-7
    for i in (0, 3):
        up = x.copy()
        up[i] += h
        down = x.copy()
        down[i] -= h
        one_sided = [(median_of(up) - median_of(x)) / h, (median_of(x) - median_of(down)) / h]
        assert grad(median_of)(x)[i] == pytest.approx(np.mean(one_sided), rel=1e-6)


def max_quantile(x):
    return np.quantile(x, 1.0)


def test_top_quantile_ties_split_like_max():
    x = np.array([0.5, 2.0, -1.0, 2.0])
    np.testing.assert_array_equal(grad(max_quantile)(x), [0, 0.5, 0, 0.5])


# -- what is refused -------------------------------------------------------------------


def median_overwriting(x):
    return np.median(x, overwrite_input=True)


def quantile_weighted(x, w):
    return np.quantile(x, 0.5, method="inverted_cdf", weights=w)


def quantile_in_q(x, q):
    return np.quantile(x, q)


def test_median_overwrite_input_is_refused():
    with pytest.raises(ADTransformError, match="median"):
        grad(median_overwriting)(np.array([1.0, 3.0, 2.0]))


def test_quantile_weights_are_refused():
    with pytest.raises(ADTransformError, match="quantile"):
        grad(quantile_weighted)(np.array([1.0, 3.0, 2.0]), np.array([1.0, 2.0, 1.0]))


def test_quantile_in_q_is_refused():
    with pytest.raises(ADTransformError, match="'q'"):
        grad(quantile_in_q, wrt=1)(np.array([1.0, 3.0, 2.0]), 0.3)


def interp_periodic(x, fp):
    return np.sum(np.interp(x, np.array([0.0, 1.0, 2.0]), fp, period=3.0))


def test_interp_period_is_refused():
    with pytest.raises(ADTransformError, match="period"):
        grad(interp_periodic, wrt=(0, 1))(np.array([0.5, 2.5]), np.array([1.0, 2.0, 0.0]))


def unwrap_discont(p, discont):
    return np.sum(np.unwrap(p, discont=discont))


def test_unwrap_discont_is_refused():
    with pytest.raises(ADTransformError, match="discont"):
        grad(unwrap_discont, wrt=(0, 1))(np.array([0.0, 3.0, 6.5]), 3.5)


def _central(fn, x, eps=1e-6):
    out = np.zeros_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step.flat[i] = eps
        out.flat[i] = (fn(x + step) - fn(x - step)) / (2 * eps)
    return out


# -- interp at and beyond its sample points --------------------------------------------


def interp_sum(x, fp):
    return np.sum(np.interp(x, INTERP_XP, fp))


def test_interp_at_sample_points_uses_the_interval_to_the_right():
    fp = np.array([0.0, 1.6, 0.2, 1.0, 3.1])
    slopes = np.diff(fp) / np.diff(INTERP_XP)
    d_x = grad(interp_sum)(INTERP_XP.copy(), fp)
    # at xp_j the slope of [xp_j, xp_{j+1}]; at the last point, the last interval's
    np.testing.assert_allclose(d_x, [*slopes, slopes[-1]])
    # each is a one-sided derivative of the function
    h = 1e-7
    for j in range(4):
        x = np.array([INTERP_XP[j]])
        right = (interp_sum(x + h, fp) - interp_sum(x, fp)) / h
        assert grad(interp_sum)(x, fp)[0] == pytest.approx(right, rel=1e-6)


def test_interp_outside_the_table_is_constant():
    fp = np.array([0.0, 1.6, 0.2, 1.0, 3.1])
    x = np.array([-3.0, 5.0])
    np.testing.assert_array_equal(grad(interp_sum)(x, fp), [0.0, 0.0])
    np.testing.assert_array_equal(grad(interp_sum, wrt=1)(x, fp), [1.0, 0, 0, 0, 1.0])


# -- diff and its neighbours -----------------------------------------------------------


def diff_n0_written(x):
    d = np.diff(x, n=0)
    d[0] = 2.0 * d[1]
    return np.sum(d * x)


def test_diff_n0_returns_its_argument_so_writing_into_it_is_refused():
    """``np.diff(x, n=0)`` is ``x`` itself: a call giving ``n`` is not known to return a
    new array, so a write into its result is refused (as for any view of an argument)."""
    x = np.array([1.0, -2.0, 0.5])
    assert np.diff(x, n=0) is x
    with pytest.raises(ADTransformError, match="share memory"):
        grad(diff_n0_written)(x)


def unwrap_sum(p):
    return np.sum(np.unwrap(p) * np.arange(1.0, 6.0))


def test_unwrap_adjoint_is_the_identity_away_from_the_threshold():
    p = np.array([0.0, 3.0, 6.5, 0.2, -2.9])
    np.testing.assert_array_equal(grad(unwrap_sum)(p), np.arange(1.0, 6.0))


def test_convolve_adjoints_are_the_transposed_products():
    """``J`` of ``convolve(a, v, mode)`` in ``a`` is a Toeplitz matrix of ``v``: the
    adjoint is ``J^T g``, built here from the definition, for every mode and length."""
    rng = np.random.default_rng(3)
    for mode in ("full", "same", "valid"):
        for na, nv in ((5, 3), (3, 5), (4, 4), (2, 7), (6, 1)):
            a, v = rng.normal(size=na), rng.normal(size=nv)
            out, pullback = vjp(_convolve_mode(mode))(a, v)
            g = rng.normal(size=out.shape)
            jac_a = np.stack([np.convolve(e, v, mode) for e in np.eye(na)], axis=1)
            np.testing.assert_allclose(pullback(g), jac_a.T @ g, rtol=1e-12, atol=1e-12)


def convolve_mode_full(a, v):
    return np.convolve(a, v, "full")


def convolve_mode_same(a, v):
    return np.convolve(a, v, "same")


def convolve_mode_valid(a, v):
    return np.convolve(a, v, "valid")


def _convolve_mode(mode):
    return {"full": convolve_mode_full, "same": convolve_mode_same, "valid": convolve_mode_valid}[
        mode
    ]
