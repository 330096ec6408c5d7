"""Helpers of ``rules/signal.py``: the adjoints of ``diff`` (with ``prepend``/``append``),
``trapezoid``, ``polyval``, ``gradient``, ``interp``, ``convolve``/``correlate`` and
``unwrap``.
"""

from __future__ import annotations

import numpy as np

from ..errors import ADTransformError
from .adjoints import unbroadcast
from .reductions import diff_adjoint
from .values import _dtype_of, _scalar_like


def _edge_part(part, a, axis):
    """``prepend``/``append`` as ``np.diff`` joins it to ``a``: a scalar becomes a slab of
    length 1 along ``axis``."""
    part = np.asarray(part)
    if part.ndim == 0:
        shape = list(np.shape(a))
        shape[axis] = 1
        part = np.broadcast_to(part, shape)
    return part


def diff_adjoints(g, a, n=1, axis=-1, prepend=None, append=None):
    """The adjoints of ``a``, ``prepend`` and ``append`` in ``np.diff(a, n, axis, ...)``.

    The differences are those of ``a`` with ``prepend`` joined before and ``append``
    after it along ``axis``: ``diff_adjoint`` of the joined array, cut back into its
    three parts (a scalar ``prepend``/``append`` gets the sum of its slab's adjoint).
    """
    a = np.asarray(a)
    axis = axis % a.ndim
    parts = [_edge_part(p, a, axis) for p in (prepend, append) if p is not None]
    lengths = [np.shape(p)[axis] for p in parts]
    before = lengths[0] if prepend is not None else 0
    joined_length = a.shape[axis] + sum(lengths)
    shape = list(a.shape)
    shape[axis] = joined_length
    d = diff_adjoint(g, np.broadcast_to(np.zeros((), dtype=a.dtype), shape), n, axis)
    d = np.asarray(d, dtype=_dtype_of(a, g))
    pieces = np.split(d, [before, before + a.shape[axis]], axis=axis)
    d_prepend = unbroadcast(pieces[0], prepend) if prepend is not None else None
    d_append = unbroadcast(pieces[2], append) if append is not None else None
    return pieces[1], d_prepend, d_append


def trapezoid_adjoints(g, y, x=None, dx=1.0, axis=-1):
    """The adjoints of ``y``, ``x`` and ``dx`` in ``np.trapezoid(y, x, dx, axis)``.

    ``T = sum_i h_i (y_i + y_{i+1}) / 2`` with ``h = diff(x)`` (or ``dx``):
    ``dT/dy_i = (h_{i-1} + h_i) / 2``, ``dT/dx_i = m_{i-1} - m_i`` with the means
    ``m_i = (y_i + y_{i+1}) / 2`` (``h``, ``m`` are 0 beyond the ends), and
    ``dT/d dx = sum_i m_i``.
    """
    y = np.asarray(y)
    dtype = _dtype_of(y, g)
    axis = axis % y.ndim
    g = np.expand_dims(np.asarray(g, dtype=dtype), axis)
    n = y.shape[axis]
    means = (_along(y, axis, 1, n) + _along(y, axis, 0, n - 1)) / 2
    if x is None:
        steps = np.asarray(dx)
    else:
        xa = np.asarray(x)
        if xa.ndim == 1:
            xa = np.reshape(xa, [-1 if i == axis else 1 for i in range(y.ndim)])
        steps = np.diff(xa, axis=axis)
    steps_g = steps * g
    steps_g = np.broadcast_to(steps_g, np.broadcast_shapes(means.shape, steps_g.shape))
    d_y = _pad_along(steps_g, axis, (1, 0)) + _pad_along(steps_g, axis, (0, 1))
    d_y = np.broadcast_to(d_y / 2, y.shape).astype(dtype)
    d_x = d_dx = None
    if x is not None:
        mg = np.broadcast_to(means * g, np.broadcast_shapes(means.shape, steps.shape))
        d_points = _pad_along(mg, axis, (1, 0)) - _pad_along(mg, axis, (0, 1))
        if np.ndim(x) == 1:
            d_points = np.sum(d_points, axis=tuple(i for i in range(y.ndim) if i != axis))
        d_x = unbroadcast(d_points.astype(dtype), x)
    else:
        d_dx = unbroadcast((means * g).astype(dtype), dx)
    return _scalar_like(d_y, y), d_x, d_dx


def _along(a, axis, start, stop):
    index = [slice(None)] * a.ndim
    index[axis] = slice(start, stop)
    return a[tuple(index)]


def _pad_along(a, axis, widths):
    pad = [(0, 0)] * a.ndim
    pad[axis] = widths
    return np.pad(a, pad)


def polyval_adjoints(g, p, x):
    """The adjoints of ``p`` and ``x`` in ``np.polyval(p, x) = sum_k p_k x^(N-1-k)``:
    ``d p_k = g x^(N-1-k)`` and ``d x = g sum_k (N-1-k) p_k x^(N-2-k)`` (the
    derivative polynomial), each summed back to its argument's shape."""
    dtype = _dtype_of(p, x, g)
    coefficients = np.asarray(p, dtype=dtype)  # integer coefficients would overflow
    xa = np.asarray(x, dtype=dtype)
    count = coefficients.shape[0]
    g = np.asarray(g, dtype=dtype)
    d_p = np.stack(
        [unbroadcast(g * xa ** (count - 1 - k), coefficients[k]) for k in range(count)]
    ).astype(dtype)
    slope = np.zeros((), dtype=dtype)
    for k in range(count - 1):  # Horner's rule on the derivative polynomial
        slope = slope * xa + (count - 1 - k) * coefficients[k]
    d_x = unbroadcast(g * slope, x)
    return _scalar_like(d_p, p), _scalar_like(np.asarray(d_x, dtype=dtype), x)


def _stencil(length: int, spacing, edge_order: int):
    """The banded matrix of ``np.gradient`` along one axis, compressed: ``np.gradient`` of
    three comb vectors (1 at every third place) gives, for each output ``i`` and colour
    ``r``, the weight of the one input of colour ``r`` in its window of 3 places (every
    row of the stencil lies in one such window: Curtis, Powell and Reid's colouring)."""
    args = () if spacing is None else (spacing,)
    places = np.arange(length)
    window = np.clip(places - 1, 0, max(length - 3, 0))
    weights, columns = [], []
    for colour in range(3):
        comb = (places % 3 == colour).astype(np.float64)
        weights.append(np.gradient(comb, *args, edge_order=edge_order))
        column = window + (colour - window) % 3
        columns.append(np.minimum(column, length - 1))
    return weights, columns


def gradient_adjoints(g, ans, f, spacings, axis=None, edge_order=1):
    """The adjoint of ``f`` in ``np.gradient(f, *spacings, axis, edge_order)``, and what
    ``gradient_spacing_adjoint`` needs for the spacings' (``None`` in ``spacings``: not
    given).

    ``np.gradient`` is linear in ``f``: along each axis a banded stencil (from NumPy
    itself, see ``_stencil``), whose transpose is applied to that axis's adjoint.
    """
    fa = np.asarray(f)
    axes = tuple(range(fa.ndim)) if axis is None else (axis,) if np.ndim(axis) == 0 else axis
    axes = tuple(a % fa.ndim for a in axes)
    single = len(axes) == 1
    gs = [g] if single else _elements(g, len(axes))
    answers = [ans] if single else list(ans)
    dtype = _dtype_of(fa, *[v for v in gs if not _zero(v)])
    spacings = [s for s in spacings if s is not None]
    given = len(spacings)
    if given <= 1:
        spacings = (spacings or [None]) * len(axes)
    d_f = np.zeros(fa.shape, dtype=dtype)
    per_axis = []
    for a, gk, ans_k, spacing in zip(axes, gs, answers, spacings, strict=True):
        if _zero(gk):
            per_axis.append(None)
            continue
        gk = np.asarray(gk, dtype=dtype)
        weights, columns = _stencil(fa.shape[a], spacing, edge_order)
        moved = np.moveaxis(d_f, a, -1)  # a view: written in place
        gm = np.moveaxis(np.broadcast_to(gk, fa.shape), a, -1)
        for weight, column in zip(weights, columns, strict=True):
            np.add.at(moved, (Ellipsis, column), gm * weight.astype(dtype))
        per_axis.append((gk, ans_k, spacing, a))
    return d_f, per_axis, given, fa, edge_order


def gradient_spacing_adjoint(parts, k, spacing):
    """The adjoint of the ``k``-th spacing argument of ``np.gradient`` (``parts`` from
    ``gradient_adjoints``).

    A scalar spacing ``h`` divides the result along its axis: ``d h = -sum(g ans) / h``
    (one scalar for every axis: summed over the axes). An array of coordinates ``x``
    enters the stencil's weights, rational functions of the steps: their derivatives
    come from NumPy's own ``np.gradient`` by the complex step (Squire and Trapp 1998,
    "Using complex variables to estimate derivatives of real functions"), exact to
    rounding since the weights are analytic, with the same colouring as ``_stencil``
    (three evaluations: every output depends on three consecutive coordinates).
    """
    _, per_axis, given, f, edge_order = parts
    chosen = per_axis if given == 1 and np.ndim(spacing) == 0 else [per_axis[k]]
    total = 0.0
    for item in chosen:
        if item is None:
            continue
        gk, ans_k, h, axis = item
        if np.ndim(h) == 0:
            total = total - np.sum(gk * ans_k) / h
        else:
            total = total + _coordinates_adjoint(gk, f, h, axis, edge_order)
    if np.ndim(spacing) == 0:
        return _scalar_like(np.asarray(total, dtype=_dtype_of(spacing, total)), spacing)
    total = np.broadcast_to(np.asarray(total), np.shape(spacing))
    return total.astype(_dtype_of(spacing, total))


_COMPLEX_STEP = 1e-30


def _coordinates_adjoint(g, f, x, axis, edge_order):
    """``sum_i g_i d out_i / d x_j`` for ``out = np.gradient(f, x, axis=axis)``."""
    x = np.asarray(x, dtype=np.float64)
    length = x.shape[0]
    places = np.arange(length)
    window = np.clip(places - 1, 0, max(length - 3, 0))
    moved_g = np.moveaxis(np.asarray(g, dtype=np.float64), axis, -1)
    f_complex = np.asarray(f, dtype=np.complex128)
    d_x = np.zeros(length)
    for colour in range(3):
        comb = places % 3 == colour
        stepped = np.gradient(
            f_complex, x + 1j * _COMPLEX_STEP * comb, axis=axis, edge_order=edge_order
        )
        slope = np.moveaxis(stepped.imag / _COMPLEX_STEP, axis, -1)
        column = np.minimum(window + (colour - window) % 3, length - 1)
        per_output = np.sum(moved_g * slope, axis=tuple(range(moved_g.ndim - 1)))
        np.add.at(d_x, column, per_output)
    return d_x


def _elements(g, count):
    """The adjoints of the ``count`` results of ``np.gradient`` (a tuple of arrays)."""
    return [g[k] for k in range(count)] if not _zero(g) else [0.0] * count


def _zero(value) -> bool:
    return isinstance(value, (int, float)) and value == 0


def interp_adjoints(g, x, xp, fp, left=None, right=None, period=None):
    """The adjoints of ``x``, ``xp``, ``fp``, ``left`` and ``right`` in ``np.interp``.

    Inside ``[xp_0, xp_-1]``, with ``j`` the interval NumPy's lookup picks
    (``xp_j <= x < xp_{j+1}``; the last interval at ``x = xp_-1``), ``t = (x - xp_j) /
    h``, ``h = xp_{j+1} - xp_j`` and the slope ``s = (fp_{j+1} - fp_j) / h``:
    ``d x = g s``, ``d fp_j = g (1 - t)``, ``d fp_{j+1} = g t``, ``d xp_j = -g s (1 - t)``,
    ``d xp_{j+1} = -g s t``. Outside, the value is ``left``/``right`` (or the end value
    of ``fp``), which gets ``g``; ``x`` gets 0 there.
    """
    if period is not None:
        raise ADTransformError("np.interp(..., period=...) is not differentiable here")
    dtype = _dtype_of(x, xp, fp, g)
    # in a float dtype: differences of integer points and values would wrap or overflow
    xa = np.asarray(x, dtype=dtype)
    xpa = np.asarray(xp, dtype=dtype)
    fpa = np.asarray(fp, dtype=dtype)
    g = np.broadcast_to(np.asarray(g, dtype=dtype), xa.shape).ravel()
    xs = xa.ravel()
    count = xpa.shape[0]
    j = np.clip(np.searchsorted(xpa, xs, side="right") - 1, 0, max(count - 2, 0))
    below = xs < xpa[0]
    above = xs > xpa[-1]
    inside = ~(below | above)
    if count > 1:
        h = xpa[j + 1] - xpa[j]
        safe = np.where(h == 0, 1, h)
        t = np.where(inside, (xs - xpa[j]) / safe, 0)
        slope = np.where(h == 0, 0, (fpa[j + 1] - fpa[j]) / safe)
    else:
        t = np.zeros(xs.shape)
        slope = np.zeros(xs.shape)
    gi = np.where(inside, g, 0)
    d_x = (gi * slope).astype(dtype).reshape(xa.shape)
    d_fp = np.zeros(count, dtype=dtype)
    d_xp = np.zeros(count, dtype=dtype)
    np.add.at(d_fp, j, gi * (1 - t))
    np.add.at(d_xp, j, -gi * slope * (1 - t))
    if count > 1:
        np.add.at(d_fp, j + 1, gi * t)
        np.add.at(d_xp, j + 1, -gi * slope * t)
    d_left = d_right = None
    if left is None:
        d_fp[0] += np.sum(g[below])
    else:
        d_left = _scalar_like(np.sum(g[below]).astype(dtype), left)
    if right is None:
        d_fp[-1] += np.sum(g[above])
    else:
        d_right = _scalar_like(np.sum(g[above]).astype(dtype), right)
    return _scalar_like(d_x, x), d_xp, d_fp, d_left, d_right


def _full_offset(length_a: int, length_v: int, mode: str, correlate: bool) -> int:
    """Where ``np.convolve``/``np.correlate``'s ``mode`` result starts in the full one."""
    shorter = min(length_a, length_v)
    if mode == "full":
        return 0
    if mode == "valid":
        return shorter - 1
    if mode == "same":
        return shorter // 2 if correlate and length_a < length_v else (shorter - 1) // 2
    raise ADTransformError(f"np.convolve/np.correlate: unknown mode {mode!r}")


def convolve_adjoints(g, a, v, mode="full", correlate=False):
    """The adjoints of ``a`` and ``v`` in ``np.convolve(a, v, mode)`` (or ``np.correlate``).

    The full convolution ``c_k = sum_i a_i v_{k-i}`` has ``d a = correlate(g, v,
    'valid')`` and ``d v = correlate(g, a, 'valid')`` with ``g`` the full result's
    adjoint (the ``mode`` result's, put at its offset among zeros). ``correlate(a, v)``
    is the convolution of ``a`` with ``v`` reversed.
    """
    a = np.asarray(a)
    v = np.asarray(v)
    dtype = _dtype_of(a, v, g)
    full = np.zeros(a.size + v.size - 1, dtype=dtype)
    start = _full_offset(a.size, v.size, mode, correlate)
    g = np.asarray(g, dtype=dtype)
    full[start : start + g.size] = g
    kernel = v[::-1] if correlate else v
    d_a = np.correlate(full, kernel.astype(dtype), "valid")
    d_v = np.correlate(full, a.astype(dtype), "valid")
    if correlate:
        d_v = d_v[::-1].copy()
    return d_a.astype(dtype), d_v.astype(dtype)


def unwrap_period_adjoint(g, ans, p, period):
    """The adjoint of ``period`` in ``np.unwrap``: the result adds ``k * period`` to
    ``p`` with integers ``k`` (piecewise constant), so ``d period = sum(g k)``."""
    steps = np.rint((np.asarray(ans) - np.asarray(p)) / period)
    return _scalar_like(np.asarray(np.sum(g * steps)), period)
