"""Differentiable twins, fourth part: signal and polynomial helpers (``polyval``,
``trapezoid``), constructors (``linspace``, ``arange``), selections and conversions
(``np.select``, ``nan_to_num``, ``real_if_close`` of real values, ``rollaxis``, ``np.full``,
``astype``), ``np.interp``, ``np.unwrap``'s period,
``multi_dot``, ``abs``'s tangent of real values, and the derivative helpers of ``np.sinc``
and ``scipy.special``'s ``erfcx``, ``log_ndtr``, ``betaln``.

As in ``rules/runtime_twins.py``: each twin computes its helper's value from primitives and
helpers that have rules, or raises ``ADTransformError`` for what it does not cover. The
derivative helpers keep their helpers' two branches (a direct formula, a series where it
cancels: Abramowitz & Stegun 7.1.23, 26.2.12; the Taylor series of ``sinc'`` near 0),
chosen by ``np.where``, so their own derivatives are the branches' derivatives.
"""

from __future__ import annotations

import math

import numpy as np

from .. import runtime
from ..errors import ADTransformError
from ..runtime import unbroadcast
from ..runtime.higher_order_2 import list_adjoint
from .registry import register_nondifferentiable
from .runtime_twins import _PLAIN_HELPERS, twin

special = None  # SciPy's module, given to the twins when they are compiled (runtime_twins)

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# -- layouts and checks (no derivative) -----------------------------------------------------------
def check_coefficients(p) -> None:
    if np.ndim(p) != 1:
        raise ADTransformError(
            "cannot differentiate the derivative of np.polyval again with coefficients that "
            "are not one 1-D array"
        )


def last_axis_widths(a, widths):
    """``np.pad`` widths that pad the last axis of ``a`` by ``widths``."""
    return [(0, 0)] * (np.ndim(a) - 1) + [widths]


def leading_axes(a):
    """Every axis of ``a`` but the last."""
    return tuple(range(np.ndim(a) - 1))


def check_trapezoid(y, x, dx) -> None:
    if np.ndim(dx) != 0 or (x is not None and np.ndim(x) != 1 and np.shape(x) != np.shape(y)):
        raise ADTransformError(
            "cannot differentiate the derivative of np.trapezoid again except with a number "
            "dx, a 1-D x or an x shaped like y"
        )


def replaced_mask(x, replaced):
    """Where ``np.nan_to_num`` keeps ``x`` (``replaced`` None) or puts that replacement."""
    if replaced is None:
        return np.isfinite(x)
    return {"nan": np.isnan, "posinf": np.isposinf, "neginf": np.isneginf}[replaced](x)


def check_copy(x, copy) -> None:
    if copy is False and isinstance(x, np.ndarray):
        raise ADTransformError(
            "np.nan_to_num(x, copy=False) changes x in place, which cannot be differentiated "
            "here; use np.nan_to_num(x) (copy=True)"
        )


def check_real_values(*values) -> None:
    if any(np.iscomplexobj(v) for v in values):
        raise ADTransformError(
            "cannot differentiate the derivative of np.real_if_close or abs again for "
            "non-real values"
        )


def rollaxis_places(a, axis, start):
    """Where ``np.rollaxis(a, axis, start)`` put the axis, and where it came from."""
    n = np.ndim(a)
    axis = int(axis) % n if n else 0
    start = int(start) + n if int(start) < 0 else int(start)
    return (start - 1 if axis < start else start), axis


def linspace_weights(num, endpoint, of_stop):
    """The weight of ``start`` (or ``stop``) in each sample of ``np.linspace``."""
    num = int(num)
    div = (num - 1) if endpoint else num
    t = np.arange(num) / div if div > 0 else np.zeros(num)
    return t if of_stop else 1.0 - t


def select_taken(g, condlist, k):
    """Where choice ``k`` of ``np.select`` (``k == len(condlist)``: the default) is taken."""
    conditions = [np.asarray(c, dtype=bool) for c in condlist]
    shape = np.broadcast_shapes(np.shape(g), *[c.shape for c in conditions])
    taken = np.zeros(shape, dtype=bool)
    for condition in conditions[:k]:
        taken = taken | condition
    if k == len(conditions):
        return ~taken
    return ~taken & conditions[k]


def zero_number(t) -> bool:
    return isinstance(t, (int, float)) and t == 0


register_nondifferentiable(
    check_coefficients, check_trapezoid, check_copy, check_real_values, pure=False
)
register_nondifferentiable(
    last_axis_widths,
    leading_axes,
    replaced_mask,
    rollaxis_places,
    linspace_weights,
    select_taken,
    zero_number,
)


# -- polyval: Horner's rule and the powers of x, no negative powers --------------------------------
@twin(runtime.polyval_adjoints)
def polyval_adjoints_twin(g, p, x):
    check_coefficients(p)
    count = np.shape(p)[0]
    powers = [np.ones(np.shape(x))]
    for k in range(count - 1):
        powers.append(powers[k] * x)
    parts = []
    for k in range(count):
        parts.append(np.sum(g * powers[count - 1 - k]))
    slope = 0.0
    for k in range(count - 1):
        slope = slope * x + (count - 1 - k) * p[k]
    return np.stack(parts), unbroadcast(g * slope, x)


@twin(runtime.polyval_tangent)
def polyval_tangent_twin(t, which, p, x):
    check_coefficients(p)
    if which == "p":
        return np.polyval(t * np.ones(np.shape(p)), x)
    count = np.shape(p)[0]
    slope = 0.0
    for k in range(count - 1):
        slope = slope * x + (count - 1 - k) * p[k]
    return t * slope


# -- trapezoid: steps h and means m of neighbouring y along the axis (moved last) -----------------
@twin(runtime.trapezoid_adjoints)
def trapezoid_adjoints_twin(g, y, x=None, dx=1.0, axis=-1):
    check_trapezoid(y, x, dx)
    ym = np.moveaxis(y, axis, -1)
    gm = np.expand_dims(g, -1)
    means = (ym[..., 1:] + ym[..., :-1]) / 2
    if x is None:
        steps = dx
    elif np.ndim(x) == 1:
        steps = np.diff(x)
    else:
        steps = np.diff(np.moveaxis(x, axis, -1), axis=-1)
    weighted = steps * gm * np.ones(np.shape(means))
    before = last_axis_widths(weighted, (1, 0))
    after = last_axis_widths(weighted, (0, 1))
    d_y = np.moveaxis((np.pad(weighted, before) + np.pad(weighted, after)) / 2, -1, axis)
    if x is None:
        return d_y, None, np.sum(means * gm)
    mg = means * gm
    d_points = np.pad(mg, before) - np.pad(mg, after)
    if np.ndim(x) == 1:
        return d_y, np.sum(d_points, axis=leading_axes(d_points)), None
    return d_y, np.moveaxis(d_points, -1, axis), None


@twin(runtime.trapezoid_tangent)
def trapezoid_tangent_twin(t, which, y, x=None, dx=1.0, axis=-1):
    check_trapezoid(y, x, dx)
    if which == "y":
        return np.trapezoid(t * np.ones(np.shape(y)), x=x, dx=dx, axis=axis)
    ym = np.moveaxis(y, axis, -1)
    means = (ym[..., 1:] + ym[..., :-1]) / 2
    if which == "dx":
        return np.sum(means, axis=-1) * t
    tx = t * np.ones(np.shape(x))
    if np.ndim(x) == 1:
        return np.sum(means * np.diff(tx), axis=-1)
    return np.sum(means * np.diff(np.moveaxis(tx, axis, -1), axis=-1), axis=-1)


# -- selections, conversions, constructors: linear in g --------------------------------------------
@twin(runtime.nan_to_num_adjoint)
def nan_to_num_adjoint_twin(g, x, copy=True, replaced=None):
    check_copy(x, copy)
    kept = np.where(replaced_mask(x, replaced), g, 0.0)
    if replaced is None:
        return kept
    return np.sum(kept)


@twin(runtime.nan_to_num_tangent)
def nan_to_num_tangent_twin(t, x, copy=True, replaced=None):
    check_copy(x, copy)
    return np.where(replaced_mask(x, replaced), t, 0.0)


@twin(runtime.real_if_close_adjoint)
def real_if_close_adjoint_twin(g, ans, a):
    check_real_values(g, a)
    return g * 1.0


@twin(runtime.real_if_close_tangent)
def real_if_close_tangent_twin(t, ans):
    check_real_values(t, ans)
    return t * 1.0


@twin(runtime.rollaxis_adjoint)
def rollaxis_adjoint_twin(g, a, axis, start=0):
    places = rollaxis_places(a, axis, start)
    return np.moveaxis(g, places[0], places[1])


@twin(runtime.linspace_adjoint)
def linspace_adjoint_twin(g, start, stop, num=50, endpoint=True, axis=0, of_stop=False):
    d = np.moveaxis(g, axis, -1) @ linspace_weights(num, endpoint, of_stop)
    if of_stop:
        return unbroadcast(d, stop)
    return unbroadcast(d, start)


@twin(runtime.arange_adjoint)
def arange_adjoint_twin(g, start, stop=None, step=None, of_step=False):
    if stop is None:
        return 0.0
    if of_step:
        return np.sum(g * np.arange(np.shape(g)[0]))
    return np.sum(g)


@twin(runtime.select_adjoint)
def select_adjoint_twin(g, condlist, choicelist, k, default=0):
    mine = np.where(select_taken(g, condlist, k), g, 0.0)
    if k == len(condlist):
        return unbroadcast(mine, default)
    return unbroadcast(mine, choicelist[k])


@twin(runtime.select_choices_adjoint)
def select_choices_adjoint_twin(g, condlist, choicelist):
    parts = []
    for k in range(len(choicelist)):
        parts.append(runtime.select_adjoint(g, condlist, choicelist, k))
    return list_adjoint(parts)


# -- multi_dot: multilinear, each factor's adjoint the product of the others ----------------------
@twin(runtime.multi_dot_adjoint)
def multi_dot_adjoint_twin(g, ans, arrays):
    count = len(arrays)
    first_vector = np.ndim(arrays[0]) == 1
    last_vector = np.ndim(arrays[count - 1]) == 1
    mats = []
    for k in range(count):
        mats.append(arrays[k])
    if first_vector:
        mats[0] = np.expand_dims(arrays[0], 0)
    if last_vector:
        mats[count - 1] = np.expand_dims(arrays[count - 1], -1)
    g2 = g * np.ones(np.shape(ans))
    if first_vector and last_vector:
        g2 = np.reshape(g2, (1, 1))
    elif first_vector:
        g2 = np.expand_dims(g2, 0)
    elif last_vector:
        g2 = np.expand_dims(g2, -1)
    prefix = [np.eye(np.shape(mats[0])[0])]
    for k in range(count - 1):
        prefix.append(prefix[k] @ mats[k])
    suffix = [np.eye(np.shape(mats[count - 1])[1])]
    for k in range(count - 1):
        suffix.append(mats[count - 1 - k] @ suffix[k])
    adjoints = []
    for k in range(count):
        d = prefix[k].T @ g2 @ suffix[count - 1 - k].T
        adjoints.append(np.reshape(d, np.shape(arrays[k])))
    return adjoints


@twin(runtime.multi_dot_tangent)
def multi_dot_tangent_twin(t, arrays):
    count = len(arrays)
    if zero_number(t):
        return np.zeros(np.shape(np.linalg.multi_dot(arrays)))
    total = 0.0
    for position in range(count):
        if not zero_number(t[position]):
            if position == 0:
                term = t[0] * np.ones(np.shape(arrays[0]))
            else:
                term = arrays[0]
            for k in range(1, count):
                if k == position:
                    term = term @ (t[k] * np.ones(np.shape(arrays[k])))
                else:
                    term = term @ arrays[k]
            total = total + term
    return total


@twin(runtime.abs_tangent)
def abs_tangent_twin(t, z):
    check_real_values(t, z)
    return t * np.sign(z)


# -- derivative helpers of elementwise functions ------------------------------------------------
@twin(runtime.sinc_derivative)
def sinc_derivative_twin(x):
    px = np.pi * x
    near = np.abs(x) < 1e-3
    safe = np.where(near, 1.0, x)
    general = (np.cos(np.pi * safe) - np.sinc(safe)) / safe
    p2 = px * px
    series = -np.pi * px / 3.0 * (1.0 - p2 / 10.0 + p2 * p2 / 280.0)
    return np.where(near, series, general)


@twin(runtime.erfcx_derivative)
def erfcx_derivative_twin(x, ans):
    large = x > 50.0
    direct = 2.0 * x * ans - TWO_OVER_SQRT_PI
    u = 1.0 / np.where(large, x, 50.0) ** 2
    series = TWO_OVER_SQRT_PI * u * (-0.5 + u * (0.75 + u * (-1.875 + u * (6.5625 - u * 29.53125))))
    return np.where(large, series, direct)


@twin(runtime.log_ndtr_derivative)
def log_ndtr_derivative_twin(x, ans):
    near = x > -40.0
    direct = np.exp(-0.5 * np.where(near, x, 0.0) ** 2 - LOG_SQRT_2PI - np.where(near, ans, 0.0))
    t = np.where(near, 40.0, -x)
    u = 1.0 / (t * t)
    series = t + (1.0 / t) * (1.0 - u * (2.0 - u * (10.0 - u * (74.0 - u * 706.0))))
    return np.where(near, direct, series)


@twin(runtime.betaln_derivatives)
def betaln_derivatives_twin(a, b):
    both = special.digamma(a + b)
    return special.digamma(a) - both, special.digamma(b) - both


# -- interp: the interval NumPy's lookup picks is locally constant (one-hot matrices) -------------
def check_period(period) -> None:
    if period is not None:
        raise ADTransformError("np.interp(..., period=...) is not differentiable here")


def interp_layout(x, xp):
    """Per element of ``x`` (flattened): the interval ``j`` and its right end, whether it
    is inside ``[xp_0, xp_-1]``, below or above, the one-hot matrices of ``j`` and of the
    right end, those of the first and last points, and whether there are two points."""
    xpa = np.asarray(xp, dtype=np.float64)
    xs = np.ravel(np.asarray(x, dtype=np.float64))
    count = xpa.shape[0]
    j = np.clip(np.searchsorted(xpa, xs, side="right") - 1, 0, max(count - 2, 0))
    after = j + 1 if count > 1 else j
    below = xs < xpa[0]
    above = xs > xpa[-1]
    places = np.arange(count)
    return {
        "j": j,
        "after": after,
        "inside": ~(below | above),
        "below": below,
        "above": above,
        "at_j": (j[:, None] == places) * 1.0,
        "at_after": (after[:, None] == places) * 1.0,
        "first": (places == 0) * 1.0,
        "last": (places == count - 1) * 1.0,
        "two_points": count > 1,
    }


register_nondifferentiable(check_period, pure=False)
register_nondifferentiable(interp_layout)


def interp_weights(x, xp, fp, layout):
    """``t = (x - xp_j) / h`` (0 outside) and the slope ``(fp_{j+1} - fp_j) / h`` (0 on an
    interval of length 0), per element of ``x`` flattened."""
    if not layout["two_points"]:
        zeros = np.zeros(np.shape(layout["j"]))
        return zeros, zeros
    j = layout["j"]
    after = layout["after"]
    h = xp[after] - xp[j]
    empty = h == 0
    safe = np.where(empty, 1.0, h)
    t = np.where(layout["inside"], (np.ravel(x) - xp[j]) / safe, 0.0)
    slope = np.where(empty, 0.0, (fp[after] - fp[j]) / safe)
    return t, slope


_PLAIN_HELPERS.update(interp_weights=interp_weights)


@twin(runtime.interp_adjoints)
def interp_adjoints_twin(g, x, xp, fp, left=None, right=None, period=None):
    check_period(period)
    layout = interp_layout(x, xp)
    weights = interp_weights(x, xp, fp, layout)
    t = weights[0]
    slope = weights[1]
    gs = np.ravel(g * np.ones(np.shape(x)))
    gi = np.where(layout["inside"], gs, 0.0)
    d_x = np.reshape(gi * slope, np.shape(x))
    d_fp = (gi * (1.0 - t)) @ layout["at_j"] + (gi * t) @ layout["at_after"]
    d_xp = -((gi * slope * (1.0 - t)) @ layout["at_j"] + (gi * slope * t) @ layout["at_after"])
    outside_below = np.sum(np.where(layout["below"], gs, 0.0))
    outside_above = np.sum(np.where(layout["above"], gs, 0.0))
    d_left = None
    d_right = None
    if left is None:
        d_fp = d_fp + outside_below * layout["first"]
    else:
        d_left = outside_below
    if right is None:
        d_fp = d_fp + outside_above * layout["last"]
    else:
        d_right = outside_above
    return d_x, d_xp, d_fp, d_left, d_right


@twin(runtime.interp_tangent)
def interp_tangent_twin(t, which, x, xp, fp, left=None, right=None, period=None):
    check_period(period)
    layout = interp_layout(x, xp)
    weights = interp_weights(x, xp, fp, layout)
    weight = weights[0]
    slope = weights[1]
    inside = layout["inside"]
    if which == "x":
        d = np.where(inside, np.ravel(t * np.ones(np.shape(x))) * slope, 0.0)
    elif which == "xp" or which == "fp":
        tp = t * np.ones(np.shape(xp))
        along = (1.0 - weight) * tp[layout["j"]] + weight * tp[layout["after"]]
        if which == "xp":
            d = np.where(inside, -slope * along, 0.0)
        else:
            d = np.where(inside, along, 0.0)
            if left is None:
                d = np.where(layout["below"], np.sum(tp * layout["first"]), d)
            if right is None:
                d = np.where(layout["above"], np.sum(tp * layout["last"]), d)
    elif which == "left":
        d = np.where(layout["below"], t, 0.0)
    else:
        d = np.where(layout["above"], t, 0.0)
    return np.reshape(d, np.shape(x))


# -- unwrap's period, np.full's value, arange's tangent, astype: linear in g -----------------------
@twin(runtime.unwrap_period_adjoint)
def unwrap_period_adjoint_twin(g, ans, p, period):
    return np.sum(g * np.rint((ans - p) / period))


@twin(runtime.unwrap_period_tangent)
def unwrap_period_tangent_twin(t, ans, p, period):
    return np.rint((ans - p) / period) * t


def truncated(dtype, value) -> bool:
    """Whether a result of ``dtype`` made from ``value`` truncates it (no derivative)."""
    from ..runtime.values import integer_valued

    return dtype is not None and np.dtype(dtype).kind not in "fc" and not integer_valued(value)


def float_result(ans) -> bool:
    return np.asarray(ans).dtype.kind in "fc"


def check_float64(x) -> None:
    if np.asarray(x).dtype != np.float64:
        raise ADTransformError(
            "cannot differentiate the adjoint of astype again for a value that is not float64"
        )


register_nondifferentiable(truncated, float_result)
register_nondifferentiable(check_float64, pure=False)


@twin(runtime.full_adjoint)
def full_adjoint_twin(g, fill_value, dtype=None):
    if truncated(dtype, fill_value):
        return np.zeros(np.shape(fill_value))
    return unbroadcast(g, fill_value)


@twin(runtime.arange_tangent)
def arange_tangent_twin(t, ans, start, stop=None, step=None, of_step=False):
    if stop is None or not float_result(ans):
        return np.zeros(np.shape(ans))
    if of_step:
        return np.arange(np.shape(ans)[0]) * t
    return t * np.ones(np.shape(ans))


@twin(runtime.astype_adjoint)
def astype_adjoint_twin(g, x, dtype):
    if truncated(dtype, x):
        return np.zeros(np.shape(x))
    check_float64(x)
    return g * 1.0
