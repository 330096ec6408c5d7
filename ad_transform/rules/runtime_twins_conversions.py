"""Differentiable twins of the conversion, constructor, numeric and SciPy-statistics helpers
(issue 14, fifth part): ``array_adjoint`` and ``cast_like`` (``np.array``/``np.asarray``/
``np.float64``), ``concatenator_adjoint``/``concatenator_tangent`` (``np.r_``, ``np.c_``),
``meshgrid_adjoint``, ``gradient_adjoints``/``gradient_spacing_adjoint``/``gradient_tangent``
(``np.gradient`` with number spacings), ``norm_adjoints``/``norm_tangent``
(``scipy.stats.norm``) and ``xlogy_derivatives`` (``scipy.special.xlogy``, ``xlog1py``).

As in ``rules/runtime_twins.py``: each twin computes its helper's value from primitives and
helpers that have rules, or raises ``ADTransformError`` naming what it does not cover.
The layouts the linear helpers read (where each item of ``np.r_`` went, the diagonals of
``np.gradient``'s stencil) are computed by functions registered without derivative: they
depend on shapes only. See docs/architecture/higher_order_rules_5.md.
"""

from __future__ import annotations

import numpy as np

from .. import runtime
from ..errors import ADTransformError
from ..runtime import irfftn_adjoint, normal_density, rfftn_adjoint, to_shape_of, unbroadcast
from ..runtime.higher_order_2 import (
    irfftn_adjoint_cotangent,
    list_adjoint,
    rfftn_adjoint_cotangent,
    tangent_tuple,
)
from ..runtime.scipy import norm_partials
from .registry import adjoint, register_nondifferentiable, tangent
from .runtime_twins import _PLAIN_HELPERS, twin

special = None  # SciPy's module, given to the twins when they are compiled (runtime_twins)


# -- kinds, layouts and checks (no derivative) ----------------------------------------------------
def value_kind(x) -> str:
    """``'sequence'`` (list or tuple), ``'array'``, ``'numpy number'`` or ``'number'``."""
    if isinstance(x, (list, tuple)):
        return "sequence"
    if isinstance(x, np.ndarray):
        return "array"
    if isinstance(x, np.generic):
        return "numpy number"
    return "number"


def truncated_result(ans, obj) -> bool:
    """Whether ``np.array(obj)`` gave the integer or boolean ``ans`` from non-integers."""
    from ..runtime.values import truncates

    return truncates(ans, obj)


def non_real_into_real(g, x) -> bool:
    """Whether ``g`` holds non-real numbers and ``x`` (not a sequence) is real."""
    from ..runtime.adjoints import _complex_value

    return _complex_value(g) and not _complex_value(x) and not isinstance(x, (list, tuple))


def check_float64_kind(x) -> None:
    """Refuse a cast back to a float dtype other than float64 or its non-real counterpart
    (its rounding has no rule here); integer and boolean inputs take float64 adjoints. No
    non-real dtype is named here: the analysis of non-real flows would take this check,
    and every twin calling it, as making non-real values."""
    dtype = np.asarray(x).dtype
    if (dtype.kind == "f" and dtype.itemsize != 8) or (dtype.kind == "c" and dtype.itemsize != 16):
        raise ADTransformError(
            "cannot differentiate the adjoint of np.array, np.asarray or np.float64 again "
            f"for a value of dtype {dtype} (float64 and its non-real counterpart only)"
        )


def concatenator_layout(concatenator, items):
    """Per item of ``np.r_[items]``/``np.c_[items]``: the flat places of the result its
    elements went to, shaped like the item (None for a slice or a directive string), and
    the result's shape. NumPy places the blocks itself: each item in turn is numbered
    1, 2, ... and all others zero, and the places are where the result changed."""
    if not isinstance(items, tuple):
        items = (items,)
    if any(isinstance(item, str) for item in items[1:]) or (
        isinstance(items[0], str) and items[0] in ("r", "c")
    ):
        raise ADTransformError(
            "a matrix directive string ('r', 'c') in np.r_/np.c_ is not supported; use "
            "np.concatenate"
        )
    zeros = [item if isinstance(item, (str, slice)) else np.zeros(np.shape(item)) for item in items]
    base = concatenator[tuple(zeros)]
    places = []
    for k, item in enumerate(items):
        if isinstance(item, (str, slice)):
            places.append(None)
            continue
        numbered = list(zeros)
        numbered[k] = np.arange(1.0, np.size(item) + 1.0).reshape(np.shape(item))
        where = np.ravel(np.asarray(concatenator[tuple(numbered)] - base, dtype=np.intp))
        order = np.argsort(where)[where.size - np.size(item) :]  # the places, by element number
        places.append(np.reshape(order, np.shape(item)))
    return places, np.shape(base)


def concatenator_sources(concatenator, items):
    """For ``np.r_``/``np.c_``'s tangent: the flat result as a gather from the items' flat
    tangents joined (in item order) with one zero at the end: per result place, the index
    it reads (places of slices read the zero), and the result's shape."""
    places, shape = concatenator_layout(concatenator, items)
    size = int(np.prod(shape))
    sources = np.full(size, -1, dtype=np.intp)
    offset = 0
    for where in places:
        if where is None:
            continue
        flat = np.ravel(where)
        sources[flat] = offset + np.arange(flat.size)
        offset += flat.size
    sources[sources < 0] = offset
    return sources, shape


def real_pieces(g, items, places):
    """Per item of ``np.r_[items]``: its places and whether its adjoint is the real part of
    ``g``'s (a real item, a non-real ``g``: as ``cast_like``)."""
    if not isinstance(items, tuple):
        items = (items,)
    return [(where, non_real_into_real(g, item)) for where, item in zip(places, items)]


def item_shapes(items):
    """The shapes of the items of ``np.r_[items]`` (a single item: a 1-tuple)."""
    if not isinstance(items, tuple):
        items = (items,)
    return [None if isinstance(item, (str, slice)) else np.shape(item) for item in items]


def meshgrid_axes(g, k, indexing, xi):
    """The axes to sum the ``k``-th grid's adjoint over (all but the one its array spans)."""
    count = sum(x is not None for x in xi)
    axis = 1 - k if indexing == "xy" and count > 1 and k < 2 else k
    return tuple(i for i in range(np.ndim(g[k])) if i != axis)


def zero_number(t) -> bool:
    return isinstance(t, (int, float)) and not isinstance(t, bool) and t == 0


def broadcast_shape(*values):
    return np.broadcast_shapes(*(np.shape(v) for v in values))


register_nondifferentiable(check_float64_kind, pure=False)
register_nondifferentiable(
    value_kind,
    truncated_result,
    non_real_into_real,
    concatenator_layout,
    concatenator_sources,
    real_pieces,
    item_shapes,
    meshgrid_axes,
    zero_number,
    broadcast_shape,
)


# -- np.array, np.asarray, np.float64: g back in the input's type and structure -------------------
@twin(runtime.array_adjoint)
def array_adjoint_twin(g, obj, ans=None):
    if truncated_result(ans, obj):
        return runtime.zeros_like(obj)
    if value_kind(obj) == "sequence":
        parts = []
        for i in range(len(obj)):
            parts.append(runtime.array_adjoint(g[i], obj[i]))
        return list_adjoint(parts)
    return runtime.cast_like(g, obj)


@twin(runtime.cast_like)
def cast_like_twin(g, x):
    if non_real_into_real(g, x):
        g = np.real(g)
    kind = value_kind(x)
    if kind == "sequence":
        return runtime.array_adjoint(g, x)
    if kind == "number":
        return g * 1.0
    check_float64_kind(x)
    return g * np.ones(np.shape(x))


# -- np.r_, np.c_: a gather of g at each item's places, and the transpose ------------------------
@twin(runtime.concatenator_adjoint)
def concatenator_adjoint_twin(g, concatenator, items):
    layout = concatenator_layout(concatenator, items)
    flat = np.ravel(g * np.ones(layout[1]))
    wanted = real_pieces(g, items, layout[0])
    if value_kind(items) != "sequence":
        if wanted[0][1]:
            return np.real(flat[layout[0][0]])
        return flat[layout[0][0]]
    pieces = []
    for piece in wanted:
        if piece[0] is None:
            pieces.append(None)
        elif piece[1]:
            pieces.append(np.real(flat[piece[0]]))
        else:
            pieces.append(flat[piece[0]] * 1.0)
    return list_adjoint(pieces)


@twin(runtime.concatenator_tangent)
def concatenator_tangent_twin(t, concatenator, items):
    layout = concatenator_sources(concatenator, items)
    shapes = item_shapes(items)
    pieces = []
    for k in range(len(shapes)):
        if shapes[k] is not None:
            if value_kind(items) != "sequence":
                tk = t
            elif zero_number(t):
                tk = 0.0
            else:
                tk = t[k]
            pieces.append(np.ravel(tk * np.ones(shapes[k])))
    pieces.append(np.zeros(1))
    return np.reshape(np.concatenate(pieces)[layout[0]], layout[1])


# -- np.meshgrid: each grid's adjoint summed over the axes its array does not span ----------------
@twin(runtime.meshgrid_adjoint)
def meshgrid_adjoint_twin(
    g, k, indexing, x0, x1=None, x2=None, x3=None, x4=None, x5=None, x6=None, x7=None
):
    xi = (x0, x1, x2, x3, x4, x5, x6, x7)
    x = xi[k]
    if zero_number(g[k]):
        return runtime.cast_like(np.zeros(np.shape(x)), x)
    summed = np.sum(g[k], axis=meshgrid_axes(g, k, indexing, xi))
    if np.ndim(x) == 0:
        return runtime.cast_like(np.reshape(summed, ())[()], x)
    return runtime.cast_like(np.reshape(summed, np.shape(x)), x)


# -- scipy.stats.norm: the partials of the six functions, from z = (x - loc) / scale --------------
@twin(norm_partials)
def norm_partials_twin(which, ans, x, loc, scale):
    z = (x - loc) / scale
    extra = 0.0
    if which == "logpdf":
        dz = -z
        extra = -1.0
    elif which == "pdf":
        dz = -z * ans
        extra = -ans
    elif which == "cdf":
        dz = normal_density(z)
    elif which == "sf":
        dz = -normal_density(z)
    elif which == "logcdf":
        dz = runtime.log_ndtr_derivative(z, special.log_ndtr(z))
    else:
        dz = -runtime.log_ndtr_derivative(-z, special.log_ndtr(-z))
    ones = np.ones(broadcast_shape(x, loc, scale))
    d_x = dz / scale * ones
    return d_x, -d_x, extra / scale * ones - d_x * z


@twin(runtime.norm_adjoints)
def norm_adjoints_twin(which, g, ans, x, loc, scale):
    partials = norm_partials(which, ans, x, loc, scale)
    return (
        unbroadcast(g * partials[0], x),
        unbroadcast(g * partials[1], loc),
        unbroadcast(g * partials[2], scale),
    )


@twin(runtime.norm_tangent)
def norm_tangent_twin(which, t, position, ans, x, loc, scale):
    partial = norm_partials(which, ans, x, loc, scale)[position]
    return partial * t * np.ones(np.shape(ans))


# -- xlogy, xlog1py: the derivatives of x log y, defined at x == 0 ---------------------------------
def check_xlogy_point(x, y, log1p) -> None:
    """Refuse ``x == 0`` with ``y == 0`` (``y == -1`` for ``xlog1py``): the mixed partial
    ``1 / y`` is infinite there, while the helper's ``d/dy`` is the convention 0."""
    at_pole = np.asarray(y) == (-1.0 if log1p else 0.0)
    if np.any((np.asarray(x) == 0) & at_pole):
        name = "xlog1py" if log1p else "xlogy"
        raise ADTransformError(
            f"cannot differentiate the derivative of scipy.special.{name}(x, y) again where "
            "x == 0 at the pole of the logarithm (the mixed partial is infinite)"
        )


register_nondifferentiable(check_xlogy_point, pure=False)


@twin(runtime.xlogy_derivatives)
def xlogy_derivatives_twin(x, y, log1p=False):
    """``d/dy = x / y`` with ``y`` replaced by 1 where ``x == 0`` and ``y == 0``: the same
    values as the helper's ``where(x == 0, 0, x / y)``, and the derivative ``1 / y`` in ``x``
    at ``x == 0`` (the true mixed partial; the helper's branch would give 0)."""
    check_xlogy_point(x, y, log1p)
    if log1p:
        d_x = np.log1p(y)
        shifted = 1.0 + y
    else:
        d_x = np.log(y)
        shifted = y * 1.0
    return d_x, x / np.where((x == 0) & (shifted == 0), 1.0, shifted)


# -- np.gradient with number spacings: a banded stencil per axis, scaled by 1 / h ----------------
def gradient_layout(f, spacings, axis, coordinates_allowed=False):
    """The axes ``np.gradient(f, *spacings, axis=axis)`` differentiates along and, per axis,
    the place in ``spacings`` of its spacing (None: unit spacing). Coordinate arrays are
    refused unless ``coordinates_allowed`` (their stencil's weights are not written here)."""
    ndim = np.ndim(f)
    if axis is None:
        axes = tuple(range(ndim))
    elif np.ndim(axis) == 0:
        axes = (int(axis) % ndim,)
    else:
        axes = tuple(int(a) % ndim for a in axis)
    given = [s for s in spacings if s is not None]
    if not coordinates_allowed and any(np.ndim(s) != 0 for s in given):
        raise ADTransformError(
            "cannot differentiate the derivative of np.gradient again with arrays of "
            "coordinates as spacings (number spacings only)"
        )
    if not given:
        places = [None] * len(axes)
    elif len(given) == 1:
        places = [0] * len(axes)
    else:
        places = list(range(len(axes)))
    return {"axes": axes, "single": len(axes) == 1, "places": places, "given": len(given)}


def gradient_diagonals(length, edge_order):
    """The transpose of ``np.gradient``'s stencil along an axis of ``length`` with unit
    spacing, by diagonals: ``(D^T g)_j = sum_o c_o[j] g[idx_o[j]]`` for the offsets
    ``o = -2..2`` (every row of the stencil has its entries within 2 of the diagonal).
    ``D[i, j]`` for ``|i - j| <= 2`` is ``np.gradient`` of the comb of ``j``'s colour
    modulo 5 at ``i`` (five consecutive columns have five colours). Returns pairs
    ``(idx_o, c_o)``, ``c_o`` 0 where ``j + o`` is outside the axis."""
    places = np.arange(length)
    combs = np.array(
        [np.gradient((places % 5 == r) * 1.0, edge_order=edge_order) for r in range(5)]
    )
    pairs = []
    for offset in range(-2, 3):
        rows = places + offset
        inside = (rows >= 0) & (rows < length)
        rows = np.clip(rows, 0, length - 1)
        weights = combs[places % 5, rows] * inside
        if np.any(weights != 0):
            pairs.append((rows, weights))
    return pairs


def gradient_elements(g, count):
    """The adjoints of the ``count`` results of ``np.gradient`` (None for a zero)."""
    if count == 1:
        return [None if zero_number(g) else g]
    if zero_number(g):
        return [None] * count
    return [None if zero_number(g[k]) else k for k in range(count)]


register_nondifferentiable(gradient_layout, gradient_diagonals, gradient_elements)


@twin(runtime.gradient_adjoints)
def gradient_adjoints_twin(g, ans, f, spacings, axis=None, edge_order=1):
    layout = gradient_layout(f, spacings, axis)
    axes = layout["axes"]
    present = gradient_elements(g, len(axes))
    d_f = np.zeros(np.shape(f))
    for k in range(len(axes)):
        if present[k] is not None:
            if layout["single"]:
                gk = g
            else:
                gk = g[k]
            a = axes[k]
            moved = np.moveaxis(gk * np.ones(np.shape(f)), a, -1)
            total = 0.0
            for pair in gradient_diagonals(np.shape(f)[a], edge_order):
                total = total + moved[..., pair[0]] * pair[1]
            term = np.moveaxis(total, -1, a)
            place = layout["places"][k]
            if place is not None:
                term = term / spacings[place]
            d_f = d_f + term
    return d_f, g, ans, f, spacings, axis


@twin(runtime.gradient_spacing_adjoint)
def gradient_spacing_adjoint_twin(parts, k, spacing):
    if spacing is None:
        return 0.0
    g = parts[1]
    ans = parts[2]
    layout = gradient_layout(parts[3], parts[4], parts[5])
    present = gradient_elements(g, len(layout["axes"]))
    total = 0.0
    for j in range(len(layout["axes"])):
        if present[j] is not None and layout["places"][j] == k:
            if layout["single"]:
                total = total - np.sum(g * ans) / spacing
            else:
                total = total - np.sum(g[j] * ans[j]) / spacing
    return total


@twin(runtime.gradient_tangent)
def gradient_tangent_twin(t, which, ans, f, spacings, axis=None, edge_order=1):
    if which == "f":
        layout = gradient_layout(f, spacings, axis, True)
        tf = t * np.ones(np.shape(f))
        count = layout["given"]
        if count == 0:
            out = np.gradient(tf, axis=axis, edge_order=edge_order)
        elif count == 1:
            out = np.gradient(tf, spacings[0], axis=axis, edge_order=edge_order)
        elif count == 2:
            out = np.gradient(tf, spacings[0], spacings[1], axis=axis, edge_order=edge_order)
        elif count == 3:
            out = np.gradient(
                tf, spacings[0], spacings[1], spacings[2], axis=axis, edge_order=edge_order
            )
        else:
            out = np.gradient(
                tf,
                spacings[0],
                spacings[1],
                spacings[2],
                spacings[3],
                axis=axis,
                edge_order=edge_order,
            )
        if layout["single"]:
            return out
        parts = []
        for k in range(len(layout["axes"])):
            parts.append(out[k])
        return tangent_tuple(parts)
    layout = gradient_layout(f, spacings, axis)
    terms = []
    for k in range(len(layout["axes"])):
        if layout["single"]:
            ans_k = ans
        else:
            ans_k = ans[k]
        if layout["places"][k] == which:
            terms.append(-ans_k * t / spacings[which])
        else:
            terms.append(np.zeros(np.shape(ans_k)))
    if layout["single"]:
        return terms[0]
    return tangent_tuple(terms)


# -- rfftn, irfftn: hand rules (linear in g; the transposes in runtime/higher_order_2.py) -------
# the transform's result and input are read for their shapes and dtype only (0.0)
@adjoint(rfftn_adjoint, kind=None, fresh=True)
def d_rfftn_adjoint(g, ans, a, result, x, s=None, axes=None, norm=None, default_axes=None):
    cotangent = rfftn_adjoint_cotangent(g, result, x, s, axes, norm, default_axes)
    return to_shape_of(cotangent, a), 0.0, 0.0, None, None, None, None


@tangent(rfftn_adjoint)
def t_rfftn_adjoint(g, ans, a, result, x, s=None, axes=None, norm=None, default_axes=None):
    return (
        rfftn_adjoint(g, result, x, s, axes, norm, default_axes),
        0.0,
        0.0,
        None,
        None,
        None,
        None,
    )


@adjoint(irfftn_adjoint, kind=None, fresh=True)
def d_irfftn_adjoint(g, ans, a, result, y, s=None, axes=None, norm=None, default_axes=None):
    cotangent = irfftn_adjoint_cotangent(g, result, y, s, axes, norm, default_axes)
    return to_shape_of(cotangent, a), 0.0, 0.0, None, None, None, None


@tangent(irfftn_adjoint)
def t_irfftn_adjoint(g, ans, a, result, y, s=None, axes=None, norm=None, default_axes=None):
    return (
        irfftn_adjoint(g, result, y, s, axes, norm, default_axes),
        0.0,
        0.0,
        None,
        None,
        None,
        None,
    )


# -- np.angle and complex(): atan2(Im z, Re z)'s partials from z, conj(z) and |z|^2 ---------------
def is_non_real(value) -> bool:
    from ..runtime.complex_values import is_complex

    return is_complex(value)


register_nondifferentiable(is_non_real)


def angle_slope(z, deg):
    """``conj(z) / |z|^2`` (1 in place of ``|z|^2`` at 0), times ``180 / pi`` for degrees:
    ``d angle(z) = Im(angle_slope(z) dz)``."""
    r2 = np.real(z * np.conj(z))
    slope = np.conj(z) / np.where(r2 == 0, 1.0, r2)
    if deg:
        return slope * (180.0 / np.pi)
    return slope


_PLAIN_HELPERS.update(angle_slope=angle_slope)


@twin(runtime.angle_adjoint)
def angle_adjoint_twin(g, z, deg=False):
    if not is_non_real(z):
        return np.zeros(np.shape(z))
    return np.real(g) * (-1j * angle_slope(z, deg))


@twin(runtime.angle_tangent)
def angle_tangent_twin(t, z, deg=False):
    if not is_non_real(z):
        return np.zeros(np.shape(z))
    return np.imag(t * angle_slope(z, deg))


@twin(runtime.complex_tangent)
def complex_tangent_twin(t, imaginary):
    if imaginary:
        return 1j * t
    return t + 0j


# the transposes (third derivatives): linear in c, each the other's transpose
@adjoint(rfftn_adjoint_cotangent, kind=None, fresh=True)
def d_rfftn_adjoint_cotangent(
    g, ans, c, result, x, s=None, axes=None, norm=None, default_axes=None
):
    adjoint_of_c = rfftn_adjoint(g, result, x, s, axes, norm, default_axes)
    return to_shape_of(adjoint_of_c, c), 0.0, 0.0, None, None, None, None


@tangent(rfftn_adjoint_cotangent)
def t_rfftn_adjoint_cotangent(
    g, ans, c, result, x, s=None, axes=None, norm=None, default_axes=None
):
    tangent_of_c = rfftn_adjoint_cotangent(g, result, x, s, axes, norm, default_axes)
    return tangent_of_c, 0.0, 0.0, None, None, None, None


@adjoint(irfftn_adjoint_cotangent, kind=None, fresh=True)
def d_irfftn_adjoint_cotangent(
    g, ans, c, result, y, s=None, axes=None, norm=None, default_axes=None
):
    adjoint_of_c = irfftn_adjoint(g, result, y, s, axes, norm, default_axes)
    return to_shape_of(adjoint_of_c, c), 0.0, 0.0, None, None, None, None


@tangent(irfftn_adjoint_cotangent)
def t_irfftn_adjoint_cotangent(
    g, ans, c, result, y, s=None, axes=None, norm=None, default_axes=None
):
    tangent_of_c = irfftn_adjoint_cotangent(g, result, y, s, axes, norm, default_axes)
    return tangent_of_c, 0.0, 0.0, None, None, None, None
