"""Adjoints of the signal and numerical-calculus functions: ``diff``, ``trapezoid``
(``trapz`` where NumPy has it), ``polyval``, ``gradient``, ``interp``, ``convolve``,
``correlate`` and ``unwrap``.

All but ``interp`` and ``polyval`` (in ``x``) are linear in their data, so the adjoint
is the transposed operation; ``trapezoid``, ``interp`` and ``polyval`` are also
differentiated in their sample points / coefficients. Conventions:

* ``diff``: ``n`` (0 returns ``a`` itself), ``axis``, ``prepend``/``append`` (arrays or
  scalars; a scalar gets the sum of the adjoint of its broadcast slab).
* ``trapezoid(y, x, dx, axis)``: in ``y``, in ``x`` (1-D along ``axis`` or shaped like
  ``y``) and in a scalar ``dx``.
* ``gradient(f, *spacings, axis, edge_order)``: in ``f`` for every spacing form and
  both edge orders (the stencil is NumPy's own, read with three probes); in scalar
  spacings; an array of coordinates is refused when it is differentiated.
* ``interp(x, xp, fp, left, right)``: in ``x``, ``xp``, ``fp``, ``left``, ``right``. At a
  sample point ``x = xp_j`` the slope is that of the interval NumPy's lookup uses
  (to the right of ``xp_j``; at the last point, the last interval); ``period`` refused.
* ``convolve``/``correlate``: 1-D, every ``mode``, both arguments.
* ``unwrap``: the correction is a piecewise-constant multiple of ``period``, so ``p``'s
  adjoint is ``g``; ``period`` is differentiable, ``discont`` is not.
"""

import numpy as np

from ..runtime import (
    convolve_adjoints,
    diff_adjoints,
    gradient_adjoints,
    gradient_spacing_adjoint,
    gradient_tangent,
    interp_adjoints,
    interp_tangent,
    polyval_adjoints,
    polyval_tangent,
    trapezoid_adjoints,
    trapezoid_tangent,
    unwrap_period_adjoint,
    unwrap_period_tangent,
)
from .registry import ARRAY, adjoint, linear_tangents, register_adjoint, tangent


# ``np.diff(a, n=0)`` returns ``a`` itself: only a call without ``n`` is known fresh
@adjoint(np.diff, kind=ARRAY, fresh=lambda given: "n" not in given)
def d_diff(g, ans, a, n=1, axis=-1, prepend=None, append=None):
    parts = diff_adjoints(g, a, n, axis, prepend, append)
    return parts[0], None, None, parts[1], parts[2]


def d_trapezoid(g, ans, y, x=None, dx=1.0, axis=-1):
    parts = trapezoid_adjoints(g, y, x, dx, axis)
    return parts[0], parts[1], parts[2]


for _name in ("trapezoid", "trapz"):  # NumPy 2 has trapezoid, NumPy 1 trapz (both: 2.0)
    if hasattr(np, _name):
        register_adjoint(getattr(np, _name), d_trapezoid, kind=None, fresh=True)


@adjoint(np.polyval, kind=None, fresh=True)
def d_polyval(g, ans, p, x):
    parts = polyval_adjoints(g, p, x)
    return parts[0], parts[1]


# up to four spacings (one per axis), as ``einsum`` takes its operands
@adjoint(np.gradient, kind=None, fresh=True)
def d_gradient(g, ans, f, s0=None, s1=None, s2=None, s3=None, axis=None, edge_order=1):
    parts = gradient_adjoints(g, ans, f, (s0, s1, s2, s3), axis, edge_order)
    return (
        parts[0],
        gradient_spacing_adjoint(parts, 0, s0),
        gradient_spacing_adjoint(parts, 1, s1),
        gradient_spacing_adjoint(parts, 2, s2),
        gradient_spacing_adjoint(parts, 3, s3),
    )


@adjoint(np.interp, kind=None, fresh=True)
def d_interp(g, ans, x, xp, fp, left=None, right=None, period=None):
    parts = interp_adjoints(g, x, xp, fp, left, right, period)
    return parts[0], parts[1], parts[2], parts[3], parts[4]


@adjoint(np.convolve, kind=ARRAY, fresh=True)
def d_convolve(g, ans, a, v, mode="full"):
    parts = convolve_adjoints(g, a, v, mode, False)
    return parts[0], parts[1]


@adjoint(np.correlate, kind=ARRAY, fresh=True)
def d_correlate(g, ans, a, v, mode="valid"):
    parts = convolve_adjoints(g, a, v, mode, True)
    return parts[0], parts[1]


@adjoint(np.unwrap, kind=ARRAY, fresh=True)
def d_unwrap(g, ans, p, discont=None, axis=-1, period=2 * np.pi):
    return g, None, None, unwrap_period_adjoint(g, ans, p, period)


# -- tangents (forward mode): linear jointly (differences), or in each factor (convolutions)
linear_tangents(np.diff)
linear_tangents(np.convolve, np.correlate, separately=True)


def t_trapezoid(g, ans, y, x=None, dx=1.0, axis=-1):
    return (
        trapezoid_tangent(g, "y", y, x, dx, axis),
        trapezoid_tangent(g, "x", y, x, dx, axis),
        trapezoid_tangent(g, "dx", y, x, dx, axis),
    )


for _name in ("trapezoid", "trapz"):
    if hasattr(np, _name):
        tangent(getattr(np, _name))(t_trapezoid)


@tangent(np.polyval)
def t_polyval(g, ans, p, x):
    return polyval_tangent(g, "p", p, x), polyval_tangent(g, "x", p, x)


@tangent(np.gradient)
def t_gradient(g, ans, f, s0=None, s1=None, s2=None, s3=None, axis=None, edge_order=1):
    spacings = (s0, s1, s2, s3)
    return (
        gradient_tangent(g, "f", ans, f, spacings, axis, edge_order),
        gradient_tangent(g, 0, ans, f, spacings, axis, edge_order),
        gradient_tangent(g, 1, ans, f, spacings, axis, edge_order),
        gradient_tangent(g, 2, ans, f, spacings, axis, edge_order),
        gradient_tangent(g, 3, ans, f, spacings, axis, edge_order),
    )


@tangent(np.interp)
def t_interp(g, ans, x, xp, fp, left=None, right=None, period=None):
    return (
        interp_tangent(g, "x", x, xp, fp, left, right, period),
        interp_tangent(g, "xp", x, xp, fp, left, right, period),
        interp_tangent(g, "fp", x, xp, fp, left, right, period),
        interp_tangent(g, "left", x, xp, fp, left, right, period),
        interp_tangent(g, "right", x, xp, fp, left, right, period),
    )


@tangent(np.unwrap)
def t_unwrap(g, ans, p, discont=None, axis=-1, period=2 * np.pi):
    return g, None, None, unwrap_period_tangent(g, ans, p, period)
