"""Helpers of ``rules/reductions.py``: the adjoints of reductions (extrema with ties,
``prod``, ``var``/``std``, ``nan*`` reductions, cumulative sums and products, ``sort``,
``diff``, ``trace``/``diagonal``).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ADTransformError
from .elementwise import _finite_sum, over, quotient, times
from .values import (
    _axes,
    _dtype_of,
    _expand,
    _float_dtype,
    _scalar_like,
    plain_array,
    refuse_complex,
)


def expand_reduced(g, x, axis=None, keepdims=False):
    """Broadcast the adjoint of a reduction of ``x`` over ``axis`` back to ``x``'s shape.

    For a number (or 0-d) ``x`` it is a number: a read-only 0-d view would break the
    in-place accumulation of a scalar's adjoint (``dv += ...``)."""
    if axis is None and type(x) is np.ndarray and x.ndim:  # a whole array's reduction
        return _spread(g, x.shape) if type(g) is float else np.broadcast_to(g, x.shape)
    g, x = plain_array(g), plain_array(x)
    shape = np.shape(x)
    if not shape and isinstance(g, (np.ndarray, np.generic, float, int)) and np.ndim(g) == 0:
        return g[()] if isinstance(g, np.ndarray) else g
    if axis is not None and not keepdims:
        axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
        g = np.expand_dims(g, tuple(a % len(shape) for a in axes))
    return np.broadcast_to(g, shape)


def _spread(g: float, shape: tuple) -> np.ndarray:
    """``np.broadcast_to(g, shape)`` for a Python float (a read-only float64 view, every
    stride 0), without its argument checks."""
    spread = np.ndarray(shape, np.float64, np.array(g), 0, (0,) * len(shape))
    spread.flags.writeable = False
    return spread


def reduced_count(x, axis=None) -> int:
    """How many elements of ``x`` each result of a reduction over ``axis`` combines."""
    if axis is None and type(x) is np.ndarray:
        return x.size
    shape = np.shape(x)
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return int(np.prod([shape[a] for a in axes]))


def _divide_or_zero(num, den):
    """``num / den`` with 0 where ``den`` is 0 (the subgradient at the origin)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den == 0, num.dtype.type(0), num / np.where(den == 0, 1, den))


def _tied(values, extreme, axes):
    """1/k at the k elements of ``values`` equal to ``extreme`` along ``axes``, else 0."""
    mask = values == extreme
    if np.isnan(extreme).any():  # a NaN extreme: the NaN elements are the tied ones
        mask |= np.isnan(extreme) & np.isnan(values)
    count = np.add.reduce(mask, axis=axes, keepdims=True, dtype=np.intp)
    dtype = _float_dtype(np.result_type(values))
    if np.ndim(count) == 0 or count.size == 0 or count.max() <= 1:
        return mask.astype(dtype)  # no ties (the common case): the element that is the extreme
    return mask / np.maximum(count, 1).astype(dtype)


def extremum_adjoint(g, ans, x, axis=None, keepdims=False):
    """The adjoint of ``max``/``min`` over ``axis``: split equally among tied elements."""
    x = np.asarray(x)
    axes = _axes(axis, x.ndim)
    g = _expand(g, axes, keepdims)
    ans = _expand(ans, axes, keepdims)
    if type(g) is np.ndarray and g.dtype == x.dtype and x.dtype.kind == "f" and x.size:
        mask = x == ans
        # one element equal to each extreme, none NaN: no ties, the mask is the share
        if np.count_nonzero(mask) == np.size(ans) and not math.isnan(np.add.reduce(ans, None)):
            return g * mask
    return _scalar_like(g * _tied(x, ans, axes).astype(_dtype_of(x, g), copy=False), x)


def nan_extremum_adjoint(g, ans, x, axis=None, keepdims=False):
    """The adjoint of ``nanmax``/``nanmin``: NaN elements get nothing; ties split equally."""
    return extremum_adjoint(g, ans, x, axis, keepdims)


def nan_sum_adjoint(g, x, axis=None, keepdims=False):
    """The adjoint of ``np.nansum``: ``g`` at the numbers, 0 at the NaNs."""
    x = np.asarray(x)
    g = _expand(g, _axes(axis, x.ndim), keepdims)
    return _scalar_like(np.where(np.isnan(x), 0, g).astype(_dtype_of(x, g), copy=False), x)


def nan_mean_adjoint(g, x, axis=None, keepdims=False):
    """The adjoint of ``np.nanmean``: ``g / count`` at the numbers, 0 at the NaNs."""
    x = np.asarray(x)
    axes = _axes(axis, x.ndim)
    count = np.sum(~np.isnan(x), axis=axes, keepdims=True).astype(_dtype_of(x, g))
    g = _expand(g, axes, keepdims)
    # an all-NaN slice (count 0) has only masked elements: divide by 1 there, no warning
    share = g / np.maximum(count, 1)
    return _scalar_like(np.where(np.isnan(x), 0, share).astype(_dtype_of(x, g)), x)


def prod_adjoint(g, x, axis=None, keepdims=False):
    """The adjoint of ``np.prod``: ``g`` times the product of the *other* elements.

    Computed from exclusive cumulative products, so it is exact where ``x`` has zeros
    (``ans / x`` would be 0/0 there).
    """
    x = np.asarray(x)
    dtype = _dtype_of(x, g)
    axes = _axes(axis, x.ndim)
    g = _expand(g, axes, keepdims)
    moved = np.moveaxis(x.astype(dtype, copy=False), axes, range(x.ndim - len(axes), x.ndim))
    flat = moved.reshape(moved.shape[: x.ndim - len(axes)] + (-1,))
    left = np.ones_like(flat)
    right = np.ones_like(flat)
    if flat.shape[-1] > 1:
        left[..., 1:] = np.cumprod(flat[..., :-1], axis=-1)
        right[..., :-1] = np.cumprod(flat[..., :0:-1], axis=-1)[..., ::-1]
    others = np.moveaxis(
        (left * right).reshape(moved.shape), range(x.ndim - len(axes), x.ndim), axes
    )
    return _scalar_like(g * others, x)


def _inverse_count(count) -> float:
    """``1 / count``, ``inf`` for no degrees of freedom (``ddof == N``: NumPy's forward
    warns and gives ``inf``/NaN; the adjoint must not raise ``ZeroDivisionError``)."""
    return 1.0 / count if count else math.inf


def _count_after_ddof(x, axes, ddof, correction):
    if correction is not None:
        ddof = correction
    count = 1
    for a in axes:
        count *= np.shape(x)[a]
    return count - ddof


def var_adjoint(g, x, axis=None, ddof=0, keepdims=False, correction=None):
    """The adjoint of ``np.var``: ``2 g (x - mean) / (N - ddof)``."""
    x = np.asarray(x)
    refuse_complex(x, "np.var")
    axes = _axes(axis, x.ndim)
    g = _expand(g, axes, keepdims)
    centered = x - np.mean(x, axis=axes, keepdims=True)
    scale = _inverse_count(_count_after_ddof(x, axes, ddof, correction))
    with np.errstate(invalid="ignore"):  # no degrees of freedom: inf * 0, as np.var's NaN
        return _scalar_like(g * centered * (2.0 * scale), x)


def std_adjoint(g, ans, x, axis=None, ddof=0, keepdims=False, correction=None):
    """The adjoint of ``np.std``: ``g (x - mean) / ((N - ddof) std)``; 0 where std is 0."""
    x = np.asarray(x)
    refuse_complex(x, "np.std")
    axes = _axes(axis, x.ndim)
    g = _expand(g, axes, keepdims)
    ans = _expand(np.asarray(ans), axes, keepdims)
    centered = x - np.mean(x, axis=axes, keepdims=True)
    scale = _inverse_count(_count_after_ddof(x, axes, ddof, correction))
    with np.errstate(invalid="ignore"):  # no degrees of freedom: inf * 0, as np.std's NaN
        scaled = g * centered * scale
    return _scalar_like(_divide_or_zero(np.asarray(scaled), ans), x)


def cumsum_adjoint(g, x, axis=None):
    """The adjoint of ``np.cumsum``: a reversed cumulative sum of ``g``."""
    if axis is None:
        flat = np.cumsum(np.ravel(g)[::-1])[::-1]
        return _scalar_like(np.reshape(flat, np.shape(x)), x)
    return np.flip(np.cumsum(np.flip(g, axis), axis), axis)


def cumprod_adjoint(g, ans, x, axis=None):
    """The adjoint of ``np.cumprod``, exact where ``x`` has zeros.

    ``d_i = sum_{j >= i} g_j prod_{k <= j, k != i} x_k``; without zeros this is
    ``revcumsum(g * ans) / x``; where a row has a zero it is evaluated by the recurrence
    ``s_i = g_i + x_{i+1} s_{i+1}``, ``d_i = s_i prod_{k < i} x_k``.
    """
    shape = np.shape(x)
    xa = np.asarray(x)
    if axis is None:
        xa, g, ans, axis = np.ravel(xa), np.ravel(g), np.ravel(ans), 0
    dtype = _dtype_of(xa, g)
    xm = np.moveaxis(xa.astype(dtype, copy=False), axis, -1)
    gm = np.moveaxis(np.asarray(g, dtype=dtype), axis, -1)
    am = np.moveaxis(np.asarray(ans, dtype=dtype), axis, -1)
    if np.all(xm != 0):
        d = np.flip(np.cumsum(np.flip(gm * am, -1), -1), -1) / xm
    else:
        n = xm.shape[-1]
        before = np.ones_like(xm)
        if n > 1:
            before[..., 1:] = np.cumprod(xm[..., :-1], axis=-1)
        s = np.zeros_like(xm)
        running = np.zeros(xm.shape[:-1], dtype=dtype)
        for i in range(n - 1, -1, -1):
            running = gm[..., i] + (xm[..., i + 1] * running if i + 1 < n else 0)
            s[..., i] = running
        d = s * before
    d = np.moveaxis(d, -1, axis)
    return _scalar_like(np.reshape(d, shape), x)


def trace_adjoint(g, x, offset=0, axis1=0, axis2=1):
    """The adjoint of ``np.trace``: ``g`` on the ``offset`` diagonal, zeros elsewhere."""
    shape = np.shape(x)
    ndim = len(shape)
    axis1, axis2 = axis1 % ndim, axis2 % ndim
    eye = np.eye(shape[axis1], shape[axis2], k=offset, dtype=_dtype_of(x, g))
    d = np.asarray(g)[..., None, None] * eye
    return np.moveaxis(d, (-2, -1), (axis1, axis2))


def diagonal_adjoint(g, x, offset=0, axis1=0, axis2=1):
    """The adjoint of ``np.diagonal``: ``g`` written back on the diagonal, zeros elsewhere."""
    shape = np.shape(x)
    ndim = len(shape)
    axis1, axis2 = axis1 % ndim, axis2 % ndim
    rest = [n for i, n in enumerate(shape) if i not in (axis1, axis2)]
    d = np.zeros((*rest, shape[axis1], shape[axis2]), dtype=_dtype_of(x, g))
    k = np.shape(g)[-1]
    i = np.arange(k)
    d[..., i + max(-offset, 0), i + max(offset, 0)] = g
    return np.moveaxis(d, (-2, -1), (axis1, axis2))


def diag_adjoint(g, v, k=0):
    """The adjoint of ``np.diag``: the diagonal of ``g`` (1-D ``v``), or ``g`` put back on
    the diagonal of zeros shaped like ``v`` (2-D ``v``)."""
    if np.ndim(v) == 1:
        return np.diagonal(g, k).copy()
    return diagonal_adjoint(g, v, k, 0, 1)


def average_adjoint(g, ans, a, axis=None, weights=None, keepdims=False, returned=False):
    """The adjoints of ``a`` and ``weights`` in ``np.average(a, axis, weights)``.

    ``avg = sum(w a) / sum(w)``: ``d a = g w / sum(w)``, ``d w = g (a - avg) / sum(w)``
    (1-D weights along ``axis`` are broadcast and the result summed back).
    """
    if returned:
        raise ADTransformError("np.average(..., returned=True) is not differentiable")
    a = np.asarray(a)
    dtype = _dtype_of(a, g)
    axes = _axes(axis, a.ndim)
    g = _expand(np.asarray(g, dtype=dtype), axes, keepdims)
    ans = _expand(np.asarray(ans, dtype=dtype), axes, keepdims)
    if weights is None:
        return _scalar_like(
            np.broadcast_to(g / _count_after_ddof(a, axes, 0, None), a.shape), a
        ), None
    w = np.asarray(weights, dtype=dtype)
    if w.shape != a.shape:  # 1-D weights along one axis
        w = np.reshape(w, [w.size if i == axes[0] else 1 for i in range(a.ndim)])
    total = np.sum(np.broadcast_to(w, a.shape), axis=axes, keepdims=True)
    da = g * w / total
    dw = g * (a - ans) / total
    if np.shape(weights) != a.shape:
        dw = np.reshape(
            np.sum(dw, axis=tuple(i for i in range(a.ndim) if i != axes[0])), np.shape(weights)
        )
    return _scalar_like(np.broadcast_to(da, a.shape), a), dw


def ptp_adjoint(g, ans, x, axis=None, keepdims=False):
    """The adjoint of ``np.ptp`` (max - min): the max's adjoint minus the min's."""
    x = np.asarray(x)
    high = np.max(x, axis=axis, keepdims=keepdims)
    low = np.min(x, axis=axis, keepdims=keepdims)
    return extremum_adjoint(g, high, x, axis, keepdims) - extremum_adjoint(
        g, low, x, axis, keepdims
    )


def sort_adjoint(g, x, axis=-1):
    """The adjoint of ``np.sort``: ``g`` sent back to where each element came from."""
    xa = np.asarray(x)
    if axis is None:
        order = np.argsort(xa, axis=None, kind="stable")
        d = np.zeros(xa.size, dtype=_dtype_of(xa, g))
        d[order] = g
        return np.reshape(d, xa.shape)
    order = np.argsort(xa, axis=axis, kind="stable")
    d = np.zeros(xa.shape, dtype=_dtype_of(xa, g))
    np.put_along_axis(d, order, g, axis=axis)
    return d


def diff_adjoint(g, x, n=1, axis=-1):
    """The adjoint of ``np.diff``: each difference ``x[i+1] - x[i]`` sends ``g`` back
    with a plus and a minus sign (``n`` times over)."""
    g = np.asarray(g)
    for _ in range(n):
        pad = [(0, 0)] * g.ndim
        pad[axis % g.ndim] = (1, 1)
        padded = np.pad(g, pad)
        g = -np.diff(padded, axis=axis)
    return g


# -- issue 16: nan-aware products, spreads and cumulative reductions; order statistics --


def _nan_filled(x, fill):
    """``x`` with its NaNs replaced by ``fill`` (the neutral element of the reduction)."""
    x = np.asarray(x)
    return np.where(np.isnan(x), fill, x)


def nan_prod_adjoint(g, x, axis=None, keepdims=False):
    """The adjoint of ``np.nanprod``: ``prod``'s adjoint with NaNs counted as 1, and 0 at
    the NaNs themselves (exact where ``x`` has zeros, like ``prod_adjoint``)."""
    x = np.asarray(x)
    d = prod_adjoint(g, _nan_filled(x, 1), axis, keepdims)
    return _scalar_like(np.where(np.isnan(x), 0, d).astype(_dtype_of(x, g), copy=False), x)


def _nan_centered(x, axes, ddof, correction):
    """``x`` minus the mean of its numbers (0 at the NaNs), and ``1 / (count - ddof)``."""
    numbers = ~np.isnan(x)
    count = np.sum(numbers, axis=axes, keepdims=True)
    dtype = _dtype_of(x)
    filled = np.where(numbers, x, 0)
    mean = np.sum(filled, axis=axes, keepdims=True) / np.maximum(count, 1).astype(dtype)
    dof = count - (ddof if correction is None else correction)
    with np.errstate(divide="ignore"):  # no degrees of freedom: inf, as NumPy's forward
        scale = (1.0 / dof.astype(dtype)).astype(dtype)
    return np.where(numbers, x - mean, 0).astype(dtype), scale


def nan_var_adjoint(g, x, axis=None, ddof=0, keepdims=False, correction=None):
    """The adjoint of ``np.nanvar``: ``2 g (x - mean) / (count - ddof)`` at the numbers
    (mean and count over the numbers of each slice), 0 at the NaNs."""
    refuse_complex(x, "np.nanvar")
    x = np.asarray(x)
    axes = _axes(axis, x.ndim)
    g = _expand(g, axes, keepdims)
    centered, scale = _nan_centered(x, axes, ddof, correction)
    with np.errstate(invalid="ignore"):
        return _scalar_like((g * centered * (2 * scale)).astype(_dtype_of(x, g)), x)


def nan_std_adjoint(g, ans, x, axis=None, ddof=0, keepdims=False, correction=None):
    """The adjoint of ``np.nanstd``: ``g (x - mean) / ((count - ddof) std)`` at the
    numbers, 0 at the NaNs; 0 where the std is 0 (a subgradient, as ``std``)."""
    refuse_complex(x, "np.nanstd")
    x = np.asarray(x)
    axes = _axes(axis, x.ndim)
    g = _expand(g, axes, keepdims)
    ans = _expand(np.asarray(ans), axes, keepdims)
    centered, scale = _nan_centered(x, axes, ddof, correction)
    with np.errstate(invalid="ignore"):
        scaled = np.asarray(g * centered * scale).astype(_dtype_of(x, g))
    return _scalar_like(_divide_or_zero(scaled, ans), x)


def nan_cumsum_adjoint(g, x, axis=None):
    """The adjoint of ``np.nancumsum``: ``cumsum``'s, 0 at the NaNs (counted as 0)."""
    d = cumsum_adjoint(g, x, axis)
    return _scalar_like(np.where(np.isnan(x), 0, d).astype(_dtype_of(x, g), copy=False), x)


def nan_cumprod_adjoint(g, ans, x, axis=None):
    """The adjoint of ``np.nancumprod``: ``cumprod``'s with NaNs counted as 1, 0 at them."""
    d = cumprod_adjoint(g, ans, _nan_filled(x, 1), axis)
    return _scalar_like(np.where(np.isnan(x), 0, d).astype(_dtype_of(x, g), copy=False), x)


_ORDER_STATISTICS = {"quantile": np.quantile, "percentile": np.percentile}


def quantile_adjoint(g, x, q, axis=None, method="linear", keepdims=False, how="quantile"):
    """The adjoint of ``np.quantile``/``percentile``/``median`` and their ``nan`` forms.

    Every ``method`` NumPy offers computes, along the reduced axes of each slice sorted,
    ``(1 - t) s[i] + t s[i + 1]`` with ``i`` and ``t`` that depend only on ``q``, the
    slice's length and the method. So the adjoint sends ``(1 - t) g`` to the element
    sorted to place ``i`` and ``t g`` to the one at ``i + 1``. The "virtual index"
    ``i + t`` is read from NumPy itself: the same quantile of ``0, 1, ..., n - 1``.
    Tied elements share the adjoint of their sorted places equally (as ``max`` does);
    ``how`` is ``"quantile"``, ``"percentile"``, or with a ``"nan"`` prefix the NaN-
    ignoring forms (NaNs get 0, each slice counts its numbers). Without the prefix a slice
    with a NaN has the result NaN: its NaNs share the adjoint.
    """
    refuse_complex(x, "np.quantile/percentile/median")
    x = np.asarray(x)
    dtype = _dtype_of(x, g)
    skip_nan = how.startswith("nan")
    axes = _axes(axis, x.ndim)
    kept = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, kept + list(axes))
    flat = moved.reshape(-1, int(np.prod([x.shape[a] for a in axes], dtype=int)))
    q = np.asarray(q, dtype=np.float64)
    rows, n = flat.shape
    gk = np.reshape(np.asarray(g, dtype=dtype), (q.size, rows))
    order = np.argsort(flat, axis=-1, kind="stable")
    ordered = np.take_along_axis(flat, order, axis=-1)
    numbers = ~np.isnan(flat)
    counts = np.sum(numbers, axis=-1) if skip_nan else np.full(rows, n)
    placed = np.zeros((rows, n), dtype=dtype)  # the adjoint of each sorted place
    for count in np.unique(counts):
        if count == 0:
            continue  # an all-NaN slice: NaN result, no adjoint
        chosen = np.flatnonzero(counts == count)
        index = _virtual_index(int(count), q.ravel(), method, how.removeprefix("nan"))
        low = np.minimum(np.floor(index).astype(int), count - 1)
        t = (index - low).astype(dtype)
        high = np.minimum(low + 1, count - 1)
        for k in range(q.size):
            placed[chosen, low[k]] += gk[k, chosen] * (1 - t[k])
            placed[chosen, high[k]] += gk[k, chosen] * t[k]
    placed = _share_among_ties(placed, ordered)
    d = np.zeros((rows, n), dtype=dtype)
    np.put_along_axis(d, order, placed, axis=-1)
    if not skip_nan:
        d = _to_nans(d, numbers, gk)
    d = np.transpose(d.reshape(moved.shape), np.argsort(kept + list(axes)))
    return _scalar_like(d, x)


def _virtual_index(count: int, q, method: str, how: str):
    """Where ``q`` falls among ``count`` sorted elements: ``i + t`` (NumPy's own answer
    for the quantile of ``0, 1, ..., count - 1``)."""
    probe = np.arange(count, dtype=np.float64)
    return np.asarray(_ORDER_STATISTICS[how](probe, q, method=method), dtype=np.float64)


def _share_among_ties(placed, ordered):
    """Each run of equal sorted values gets the mean of its places' adjoints everywhere."""
    rows, n = ordered.shape
    if n < 2:
        return placed
    starts = np.ones((rows, n), dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    if starts.all():
        return placed
    labels = np.cumsum(starts.ravel()) - 1
    total = np.bincount(labels, weights=placed.ravel().astype(np.float64))
    size = np.bincount(labels)
    return (total / size)[labels].reshape(rows, n).astype(placed.dtype)


def _to_nans(d, numbers, gk):
    """Rows with a NaN (whose result is NaN): their NaNs share the row's adjoint."""
    has_nan = ~numbers.all(axis=-1)
    if not has_nan.any():
        return d
    nans = ~numbers[has_nan]
    share = np.sum(gk[:, has_nan], axis=0) / np.sum(nans, axis=-1)
    d[has_nan] = np.where(nans, share[:, None], 0)
    return d


def normalized_adjoint(g, p, s, axis):
    """The adjoint of ``e`` in ``p = e / s`` with ``s = np.sum(e, axis, keepdims=True)``
    (both paths: through ``e`` and through its sum): ``(g - sum(g p)) / s``.

    That is ``over(g, s)`` plus the sum's share ``sum(times(-g, p / s))``, up to rounding,
    where ``s`` is finite and nowhere zero and ``p`` is finite (no zero adjoint meets an
    infinite derivative); elsewhere those guarded terms themselves."""
    if _plain_normalisation(g, p, s) and _finite_sum(p):
        return (g - np.add.reduce(g * p, axis=axis, keepdims=True)) / s
    return over(g, s) + times(-g, quotient(p, s)).sum(axis=axis, keepdims=True)


def normalized_exp_adjoint(g, p, s, e, axis):
    """The adjoint of ``y`` in ``p = e / s``, ``e = np.exp(y)``, ``s = np.sum(e, axis,
    keepdims=True)``: ``p (g - sum(g p))``, what a person writes for a softmax; where the
    guards of :func:`normalized_adjoint` are needed, ``times(normalized_adjoint(...), e)``."""
    if _plain_normalisation(g, p, s):  # then e is finite, p in [0, 1]: e = exp(y) >= 0
        return p * (g - np.add.reduce(g * p, axis=axis, keepdims=True))
    return times(normalized_adjoint(g, p, s, axis), e)


def _plain_normalisation(g, p, s) -> bool:
    """Whether ``g`` and ``p`` are real float arrays of one shape and ``s`` is finite and
    nowhere zero (so every element of ``e`` is finite: a normalisation adjoint needs no
    guard where ``p`` is finite too)."""
    return (
        type(g) is np.ndarray
        and type(p) is np.ndarray
        and (type(s) is np.ndarray or isinstance(s, np.floating))
        and g.shape == p.shape
        and p.dtype.kind == "f"
        and s.dtype.kind == "f"
        and g.dtype.kind == "f"
        and s.size > 0
        and np.count_nonzero(s) == s.size
        and _finite_sum(s)
    )
