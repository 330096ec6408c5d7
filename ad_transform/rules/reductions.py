"""Adjoints of reductions: the adjoint of the result is spread back over what was reduced.

Every reduction takes ``axis`` (None, an int, a tuple of ints) and ``keepdims`` like
NumPy; function and method forms (``np.sum(x, 0)``, ``x.sum(0)``) share their rules.

Conventions:

* ``max``/``min``/``amax``/``amin``/``nanmax``/``nanmin``/``ptp`` split the adjoint
  equally among tied elements (like ``np.maximum``); NaNs are never chosen by the
  ``nan`` variants.
* ``prod`` and ``cumprod`` are exact where ``x`` has zeros (products of the other
  elements, not ``ans / x``).
* ``std`` has gradient 0 where it is 0 (a subgradient); ``var``/``std`` take ``ddof``
  (and NumPy 2's ``correction``).
* ``np.linalg.norm``: vector norms ``ord`` None/2, 1, inf, -inf, 0 and any other real
  ``p`` (below 1: refused at an entry 0); matrix norms (2-D, or a 2-tuple ``axis``)
  ``'fro'``, ``'nuc'`` (zero singular values left out), 2, -2, 1, -1, inf, -inf;
  gradient 0 at the origin; ties split equally (also tied singular values for 2/-2).
* ``np.average`` is differentiable in ``a`` and in ``weights``.
"""

import numpy as np

from ..runtime import (
    average_adjoint,
    average_tangent,
    average_weights_tangent,
    cumprod_adjoint,
    cumprod_tangent,
    cumsum_adjoint,
    diagonal_adjoint,
    expand_reduced,
    extremum_adjoint,
    nan_cumprod_adjoint,
    nan_cumsum_adjoint,
    nan_extremum_adjoint,
    nan_mean_adjoint,
    nan_prod_adjoint,
    nan_std_adjoint,
    nan_sum_adjoint,
    nan_var_adjoint,
    norm_adjoint,
    prod_adjoint,
    ptp_adjoint,
    quantile_adjoint,
    quantile_tangent,
    reduced_count,
    reduced_tangent,
    sort_adjoint,
    sort_tangent,
    std_adjoint,
    trace_adjoint,
    var_adjoint,
)
from .registry import ARRAY, adjoint, register_nondifferentiable, tangent

# -- sums and means ---------------------------------------------------------------------


@adjoint(np.sum, kind=None, fresh=True)
def d_sum(g, ans, a, axis=None, dtype=None, keepdims=False):
    return expand_reduced(g, a, axis, keepdims)


@adjoint(("method", "sum"), kind=None, fresh=True)
def d_sum_method(g, ans, self, axis=None, dtype=None, keepdims=False):
    return expand_reduced(g, self, axis, keepdims)


@adjoint(np.mean, kind=None, fresh=True)
def d_mean(g, ans, a, axis=None, dtype=None, keepdims=False):
    # divided before it is spread: one division per result, not per element
    return expand_reduced(g / reduced_count(a, axis), a, axis, keepdims)


@adjoint(("method", "mean"), kind=None, fresh=True)
def d_mean_method(g, ans, self, axis=None, dtype=None, keepdims=False):
    return expand_reduced(g / reduced_count(self, axis), self, axis, keepdims)


@adjoint(np.nansum, kind=None, fresh=True)
def d_nansum(g, ans, a, axis=None, dtype=None, keepdims=False):
    return nan_sum_adjoint(g, a, axis, keepdims)


@adjoint(np.nanmean, kind=None, fresh=True)
def d_nanmean(g, ans, a, axis=None, dtype=None, keepdims=False):
    return nan_mean_adjoint(g, a, axis, keepdims)


@adjoint(np.average, kind=None, fresh=True)
def d_average(g, ans, a, axis=None, weights=None, returned=False, keepdims=False):
    da, dweights = average_adjoint(g, ans, a, axis, weights, keepdims, returned)
    return da, None, dweights


@adjoint(np.trace, kind=None, fresh=True)
def d_trace(g, ans, a, offset=0, axis1=0, axis2=1, dtype=None):
    return trace_adjoint(g, a, offset, axis1, axis2)


@adjoint(("method", "trace"), kind=None, fresh=True)
def d_trace_method(g, ans, self, offset=0, axis1=0, axis2=1, dtype=None):
    return trace_adjoint(g, self, offset, axis1, axis2)


@adjoint(np.diagonal, kind=ARRAY)
def d_diagonal(g, ans, a, offset=0, axis1=0, axis2=1):
    return diagonal_adjoint(g, a, offset, axis1, axis2)


@adjoint(("method", "diagonal"), kind=ARRAY)
def d_diagonal_method(g, ans, self, offset=0, axis1=0, axis2=1):
    return diagonal_adjoint(g, self, offset, axis1, axis2)


# -- products -----------------------------------------------------------------------------


@adjoint(np.prod, kind=None, fresh=True)
def d_prod(g, ans, a, axis=None, dtype=None, keepdims=False):
    return prod_adjoint(g, a, axis, keepdims)


@adjoint(("method", "prod"), kind=None, fresh=True)
def d_prod_method(g, ans, self, axis=None, dtype=None, keepdims=False):
    return prod_adjoint(g, self, axis, keepdims)


# -- extremes -----------------------------------------------------------------------------


@adjoint(np.max, kind=None, fresh=True)
def d_max(g, ans, a, axis=None, keepdims=False):
    return extremum_adjoint(g, ans, a, axis, keepdims)


@adjoint(np.amax, kind=None, fresh=True)
def d_amax(g, ans, a, axis=None, keepdims=False):
    return extremum_adjoint(g, ans, a, axis, keepdims)


@adjoint(("method", "max"), kind=None, fresh=True)
def d_max_method(g, ans, self, axis=None, keepdims=False):
    return extremum_adjoint(g, ans, self, axis, keepdims)


@adjoint(np.min, kind=None, fresh=True)
def d_min(g, ans, a, axis=None, keepdims=False):
    return extremum_adjoint(g, ans, a, axis, keepdims)


@adjoint(np.amin, kind=None, fresh=True)
def d_amin(g, ans, a, axis=None, keepdims=False):
    return extremum_adjoint(g, ans, a, axis, keepdims)


@adjoint(("method", "min"), kind=None, fresh=True)
def d_min_method(g, ans, self, axis=None, keepdims=False):
    return extremum_adjoint(g, ans, self, axis, keepdims)


@adjoint(np.nanmax, kind=None, fresh=True)
def d_nanmax(g, ans, a, axis=None, keepdims=False):
    return nan_extremum_adjoint(g, ans, a, axis, keepdims)


@adjoint(np.nanmin, kind=None, fresh=True)
def d_nanmin(g, ans, a, axis=None, keepdims=False):
    return nan_extremum_adjoint(g, ans, a, axis, keepdims)


@adjoint(np.ptp, kind=None, fresh=True)
def d_ptp(g, ans, a, axis=None, keepdims=False):
    return ptp_adjoint(g, ans, a, axis, keepdims)


@adjoint(np.sort, kind=ARRAY, fresh=True)
def d_sort(g, ans, a, axis=-1, kind=None, order=None, stable=None):
    return sort_adjoint(g, a, axis)


# -- spread -------------------------------------------------------------------------------


@adjoint(np.var, kind=None, fresh=True)
def d_var(g, ans, a, axis=None, dtype=None, ddof=0, keepdims=False, correction=None):
    return var_adjoint(g, a, axis, ddof, keepdims, correction)


@adjoint(("method", "var"), kind=None, fresh=True)
def d_var_method(g, ans, self, axis=None, dtype=None, ddof=0, keepdims=False, correction=None):
    return var_adjoint(g, self, axis, ddof, keepdims, correction)


@adjoint(np.std, kind=None, fresh=True)
def d_std(g, ans, a, axis=None, dtype=None, ddof=0, keepdims=False, correction=None):
    return std_adjoint(g, ans, a, axis, ddof, keepdims, correction)


@adjoint(("method", "std"), kind=None, fresh=True)
def d_std_method(g, ans, self, axis=None, dtype=None, ddof=0, keepdims=False, correction=None):
    return std_adjoint(g, ans, self, axis, ddof, keepdims, correction)


# -- cumulative ---------------------------------------------------------------------------


@adjoint(np.cumsum, kind=ARRAY, fresh=True)
def d_cumsum(g, ans, a, axis=None, dtype=None):
    return cumsum_adjoint(g, a, axis)


@adjoint(("method", "cumsum"), kind=ARRAY, fresh=True)
def d_cumsum_method(g, ans, self, axis=None, dtype=None):
    return cumsum_adjoint(g, self, axis)


@adjoint(np.cumprod, kind=ARRAY, fresh=True)
def d_cumprod(g, ans, a, axis=None, dtype=None):
    return cumprod_adjoint(g, ans, a, axis)


@adjoint(("method", "cumprod"), kind=ARRAY, fresh=True)
def d_cumprod_method(g, ans, self, axis=None, dtype=None):
    return cumprod_adjoint(g, ans, self, axis)


# -- norms --------------------------------------------------------------------------------


@adjoint(np.linalg.norm, kind=None, fresh=True)
def d_norm(g, ans, x, ord=None, axis=None, keepdims=False):
    return norm_adjoint(g, ans, x, ord, axis, keepdims)


register_nondifferentiable(
    np.argmax,
    np.argmin,
    np.argsort,
    np.nanargmax,
    np.nanargmin,
    np.any,
    np.all,
    np.count_nonzero,
    np.nonzero,
    np.flatnonzero,
    np.argwhere,
    np.searchsorted,
    np.digitize,
    ("method", "argmax"),
    ("method", "argmin"),
    ("method", "argsort"),
    ("method", "any"),
    ("method", "all"),
    ("method", "nonzero"),
)


# -- issue 16: nan-aware products, spreads and cumulative reductions ------------------


@adjoint(np.nanprod, kind=None, fresh=True)
def d_nanprod(g, ans, a, axis=None, dtype=None, keepdims=False):
    return nan_prod_adjoint(g, a, axis, keepdims)


@adjoint(np.nanvar, kind=None, fresh=True)
def d_nanvar(g, ans, a, axis=None, dtype=None, ddof=0, keepdims=False, correction=None):
    return nan_var_adjoint(g, a, axis, ddof, keepdims, correction)


@adjoint(np.nanstd, kind=None, fresh=True)
def d_nanstd(g, ans, a, axis=None, dtype=None, ddof=0, keepdims=False, correction=None):
    return nan_std_adjoint(g, ans, a, axis, ddof, keepdims, correction)


@adjoint(np.nancumsum, kind=ARRAY, fresh=True)
def d_nancumsum(g, ans, a, axis=None, dtype=None):
    return nan_cumsum_adjoint(g, a, axis)


@adjoint(np.nancumprod, kind=ARRAY, fresh=True)
def d_nancumprod(g, ans, a, axis=None, dtype=None):
    return nan_cumprod_adjoint(g, ans, a, axis)


# -- issue 16: order statistics (the selected elements get the adjoint) ----------------
# ``overwrite_input`` (which sorts the argument in place), ``out`` and ``weights`` are
# not parameters of these templates: a call that gives them is refused.


@adjoint(np.median, kind=None, fresh=True)
def d_median(g, ans, a, axis=None, keepdims=False):
    return quantile_adjoint(g, a, 0.5, axis, "linear", keepdims, "quantile")


@adjoint(np.nanmedian, kind=None, fresh=True)
def d_nanmedian(g, ans, a, axis=None, keepdims=False):
    return quantile_adjoint(g, a, 0.5, axis, "linear", keepdims, "nanquantile")


@adjoint(np.quantile, kind=None, fresh=True)
def d_quantile(g, ans, a, q, axis=None, method="linear", keepdims=False):
    return quantile_adjoint(g, a, q, axis, method, keepdims, "quantile")


@adjoint(np.nanquantile, kind=None, fresh=True)
def d_nanquantile(g, ans, a, q, axis=None, method="linear", keepdims=False):
    return quantile_adjoint(g, a, q, axis, method, keepdims, "nanquantile")


@adjoint(np.percentile, kind=None, fresh=True)
def d_percentile(g, ans, a, q, axis=None, method="linear", keepdims=False):
    return quantile_adjoint(g, a, q, axis, method, keepdims, "percentile")


@adjoint(np.nanpercentile, kind=None, fresh=True)
def d_nanpercentile(g, ans, a, q, axis=None, method="linear", keepdims=False):
    return quantile_adjoint(g, a, q, axis, method, keepdims, "nanpercentile")


# -- tangents (forward mode): ``g`` is the tangent of each parameter in turn --------------
# Linear reductions apply to the tangent; the others are sums of the tangent weighted by
# the partial derivatives (``reduced_tangent``), which their adjoint helpers compute when
# given an adjoint of ones.
@tangent(np.sum)
def t_sum(g, ans, a, axis=None, dtype=None, keepdims=False):
    return np.sum(g, axis=axis, dtype=dtype, keepdims=keepdims)


@tangent(("method", "sum"))
def t_sum_method(g, ans, self, axis=None, dtype=None, keepdims=False):
    return np.sum(g, axis=axis, dtype=dtype, keepdims=keepdims)


@tangent(np.mean)
def t_mean(g, ans, a, axis=None, dtype=None, keepdims=False):
    return np.mean(g, axis=axis, dtype=dtype, keepdims=keepdims)


@tangent(("method", "mean"))
def t_mean_method(g, ans, self, axis=None, dtype=None, keepdims=False):
    return np.mean(g, axis=axis, dtype=dtype, keepdims=keepdims)


@tangent(np.nansum)
def t_nansum(g, ans, a, axis=None, dtype=None, keepdims=False):
    return np.sum(np.where(np.isnan(a), 0.0, g), axis=axis, keepdims=keepdims)


@tangent(np.nanmean)
def t_nanmean(g, ans, a, axis=None, dtype=None, keepdims=False):
    return np.nanmean(np.where(np.isnan(a), np.nan, g), axis=axis, keepdims=keepdims)


@tangent(np.trace)
def t_trace(g, ans, a, offset=0, axis1=0, axis2=1, dtype=None):
    return np.trace(g, offset, axis1, axis2)


@tangent(("method", "trace"))
def t_trace_method(g, ans, self, offset=0, axis1=0, axis2=1, dtype=None):
    return np.trace(g, offset, axis1, axis2)


@tangent(np.diagonal)
def t_diagonal(g, ans, a, offset=0, axis1=0, axis2=1):
    return np.diagonal(g, offset, axis1, axis2)


@tangent(("method", "diagonal"))
def t_diagonal_method(g, ans, self, offset=0, axis1=0, axis2=1):
    return np.diagonal(g, offset, axis1, axis2)


@tangent(np.cumsum)
def t_cumsum(g, ans, a, axis=None, dtype=None):
    return np.cumsum(g, axis=axis)


@tangent(("method", "cumsum"))
def t_cumsum_method(g, ans, self, axis=None, dtype=None):
    return np.cumsum(g, axis=axis)


@tangent(np.prod)
def t_prod(g, ans, a, axis=None, dtype=None, keepdims=False):
    return reduced_tangent(g, prod_adjoint(np.ones_like(ans), a, axis, keepdims), axis, keepdims)


@tangent(("method", "prod"))
def t_prod_method(g, ans, self, axis=None, dtype=None, keepdims=False):
    weights = prod_adjoint(np.ones_like(ans), self, axis, keepdims)
    return reduced_tangent(g, weights, axis, keepdims)


@tangent(np.nanprod)
def t_nanprod(g, ans, a, axis=None, dtype=None, keepdims=False):
    weights = nan_prod_adjoint(np.ones_like(ans), a, axis, keepdims)
    return reduced_tangent(g, weights, axis, keepdims)


def t_extremum(g, ans, a, axis=None, keepdims=False):
    weights = extremum_adjoint(np.ones_like(ans), ans, a, axis, keepdims)
    return reduced_tangent(g, weights, axis, keepdims)


def t_extremum_method(g, ans, self, axis=None, keepdims=False):
    weights = extremum_adjoint(np.ones_like(ans), ans, self, axis, keepdims)
    return reduced_tangent(g, weights, axis, keepdims)


for _primitive in (np.max, np.amax, np.min, np.amin):
    tangent(_primitive)(t_extremum)
for _method in ("max", "min"):
    tangent(("method", _method))(t_extremum_method)


def t_nan_extremum(g, ans, a, axis=None, keepdims=False):
    weights = nan_extremum_adjoint(np.ones_like(ans), ans, a, axis, keepdims)
    return reduced_tangent(g, weights, axis, keepdims)


for _primitive in (np.nanmax, np.nanmin):
    tangent(_primitive)(t_nan_extremum)


@tangent(np.ptp)
def t_ptp(g, ans, a, axis=None, keepdims=False):
    weights = ptp_adjoint(np.ones_like(ans), ans, a, axis, keepdims)
    return reduced_tangent(g, weights, axis, keepdims)


@tangent(np.var)
def t_var(g, ans, a, axis=None, dtype=None, ddof=0, keepdims=False, correction=None):
    weights = var_adjoint(np.ones_like(ans), a, axis, ddof, keepdims, correction)
    return reduced_tangent(g, weights, axis, keepdims)


@tangent(("method", "var"))
def t_var_method(g, ans, self, axis=None, dtype=None, ddof=0, keepdims=False, correction=None):
    weights = var_adjoint(np.ones_like(ans), self, axis, ddof, keepdims, correction)
    return reduced_tangent(g, weights, axis, keepdims)


@tangent(np.std)
def t_std(g, ans, a, axis=None, dtype=None, ddof=0, keepdims=False, correction=None):
    weights = std_adjoint(np.ones_like(ans), ans, a, axis, ddof, keepdims, correction)
    return reduced_tangent(g, weights, axis, keepdims)


@tangent(("method", "std"))
def t_std_method(g, ans, self, axis=None, dtype=None, ddof=0, keepdims=False, correction=None):
    weights = std_adjoint(np.ones_like(ans), ans, self, axis, ddof, keepdims, correction)
    return reduced_tangent(g, weights, axis, keepdims)


@tangent(np.nanvar)
def t_nanvar(g, ans, a, axis=None, dtype=None, ddof=0, keepdims=False, correction=None):
    weights = nan_var_adjoint(np.ones_like(ans), a, axis, ddof, keepdims, correction)
    return reduced_tangent(g, weights, axis, keepdims)


@tangent(np.nanstd)
def t_nanstd(g, ans, a, axis=None, dtype=None, ddof=0, keepdims=False, correction=None):
    weights = nan_std_adjoint(np.ones_like(ans), ans, a, axis, ddof, keepdims, correction)
    return reduced_tangent(g, weights, axis, keepdims)


@tangent(np.linalg.norm)
def t_norm(g, ans, x, ord=None, axis=None, keepdims=False):
    weights = norm_adjoint(np.ones_like(ans), ans, x, ord, axis, keepdims)
    return reduced_tangent(g, weights, axis, keepdims)


@tangent(np.sort)
def t_sort(g, ans, a, axis=-1, kind=None, order=None, stable=None):
    return sort_tangent(g, a, axis)


@tangent(np.nancumsum)
def t_nancumsum(g, ans, a, axis=None, dtype=None):
    return np.cumsum(np.where(np.isnan(a), 0.0, g), axis=axis)


@tangent(np.median)
def t_median(g, ans, a, axis=None, keepdims=False):
    return quantile_tangent(g, ans, a, 0.5, axis, "linear", keepdims, "quantile")


@tangent(np.nanmedian)
def t_nanmedian(g, ans, a, axis=None, keepdims=False):
    return quantile_tangent(g, ans, a, 0.5, axis, "linear", keepdims, "nanquantile")


@tangent(np.quantile)
def t_quantile(g, ans, a, q, axis=None, method="linear", keepdims=False):
    return quantile_tangent(g, ans, a, q, axis, method, keepdims, "quantile"), None


@tangent(np.nanquantile)
def t_nanquantile(g, ans, a, q, axis=None, method="linear", keepdims=False):
    return quantile_tangent(g, ans, a, q, axis, method, keepdims, "nanquantile"), None


@tangent(np.percentile)
def t_percentile(g, ans, a, q, axis=None, method="linear", keepdims=False):
    return quantile_tangent(g, ans, a, q, axis, method, keepdims, "percentile"), None


@tangent(np.nanpercentile)
def t_nanpercentile(g, ans, a, q, axis=None, method="linear", keepdims=False):
    return quantile_tangent(g, ans, a, q, axis, method, keepdims, "nanpercentile"), None


@tangent(np.cumprod)
def t_cumprod(g, ans, a, axis=None, dtype=None):
    return cumprod_tangent(g, a, axis)


@tangent(("method", "cumprod"))
def t_cumprod_method(g, ans, self, axis=None, dtype=None):
    return cumprod_tangent(g, self, axis)


@tangent(np.nancumprod)
def t_nancumprod(g, ans, a, axis=None, dtype=None):
    return cumprod_tangent(g, a, axis, nan=True)


@tangent(np.average)
def t_average(g, ans, a, axis=None, weights=None, returned=False, keepdims=False):
    return (
        average_tangent(g, ans, a, axis, weights, returned, keepdims),
        None,
        average_weights_tangent(g, a, axis, weights, returned, keepdims),
    )
