"""Helpers of the elementwise rules (``rules/numpy_elementwise.py``, ``rules/math_builtins.py``):
``times``/``over`` (the guard behind the where trap), the rare branches of the guarded
scalar templates, and the weights of ties, ``clip`` and ``fmax``.
"""

from __future__ import annotations

import cmath
import math

import numpy as np

from ..errors import ADTransformError
from .values import _dtype_of, plain_array


def safe_log(x):
    """``log(x)`` with ``0`` at ``x == 0``: the factor in d/dy x**y, whose limit there is 0.

    NaN for ``x < 0`` (no warning): ``x**y`` has no real derivative in ``y`` there."""
    if isinstance(x, np.ndarray):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x == 0, 0.0, np.log(np.where(x == 0, 1.0, x)))
    if x == 0:
        return 0.0
    if isinstance(x, complex) or np.iscomplexobj(x):
        return np.log(x)  # the principal branch, as x**y itself
    if x < 0:
        return math.nan
    if type(x) is float or type(x) is int or type(x) is bool:
        return math.log(x)
    return np.log(inexact(x))


def inexact(x):
    """``x`` itself if it is a float or complex value; an integer or boolean NumPy value
    (array or scalar) as float64.

    Adjoint arithmetic on an operand the function did not differentiate must not run in
    its integer dtype (``k * k`` overflows in int8, ``k - 1`` wraps in uint8, ``fp[1] -
    fp[0]`` wraps in uint8) nor in the float16 NumPy gives the logarithm of an int8 or
    bool value. float64 holds every such value exactly; Python numbers never overflow.
    """
    dtype = getattr(x, "dtype", None)
    if dtype is None or dtype.kind not in "biu":
        return x
    return x.astype(np.float64) if type(x) is np.ndarray else np.float64(x)


def times(g, d):
    """``g * d``: the adjoint ``g`` times a local derivative ``d``, and 0 where ``g`` is 0.

    A zero adjoint contributes nothing, even where ``d`` is infinite or NaN. This is what
    keeps ``np.where(x > 0, np.sqrt(x), 0.0)`` from having a NaN gradient at ``x < 0``:
    the branch that was not selected gets a zero adjoint, and ``0 * nan`` would otherwise
    be NaN. In the common case (a finite ``d``) the check costs one sum, made before the
    product so that no ``invalid value`` warning is raised for the masked elements.
    """
    if type(d) is np.ndarray:
        if d.ndim == 1 and d.dtype.char == "d" and d.shape[0] <= _Ones.size:
            # a float64 vector (a loop's step): the check with the least overhead, by
            # np.vdot, which warns nothing where inf meets -inf (``.dot`` does)
            ones = _Ones.by_length.get(d.shape[0])
            if ones is None:
                ones = _ones_of_length(d.shape[0])
            if math.isfinite(np.vdot(d, ones)) or _nowhere_zero(g):
                return g * d
            return _masked_product(g, d)
        if d.dtype.kind != "f" or _nowhere_zero(g) or _finite_sum(d):
            return g * d
        return _masked_product(g, d)
    if isinstance(d, np.ndarray) or (isinstance(g, np.ndarray) and type(g) is not np.ndarray):
        return times(plain_array(g), plain_array(d))  # a subclass: refused, or a view
    if type(g) is np.ndarray:
        if _finite_number(d):
            return g * d
        return _masked_product(g, d)
    return g * d if g else scalar_zero(g, d)


def finite_nonempty(p) -> bool:
    """Whether the real float array (or float) ``p`` has elements and all are finite: then
    so are the operands of the sums, differences, products and full views it was computed
    from (``optimize/finite_covers.py``), each of whose elements reached ``p``."""
    if type(p) is float:
        return math.isfinite(p)
    if type(p) is not np.ndarray or not p.size or p.dtype.kind != "f":
        return False
    return _finite_sum(p)


def _nowhere_zero(g) -> bool:
    """Whether ``g`` is one nonzero number spread over an array (every stride 0: the
    adjoint of a mean or a sum, ``expand_reduced``), so no element of ``g * d`` is masked."""
    if type(g) is not np.ndarray or g.size <= 1 or any(g.strides):
        return False
    first = g.flat[0]
    return bool(first != 0)


def times_sum(g, d):
    """``times(g, d).sum()`` for real float arrays ``g`` and ``d`` of one shape, as one
    dot product.

    The dot product comes first, without a finiteness check of ``d``: if it is finite,
    every term ``g[i] * d[i]`` was, so no zero adjoint met an infinite or NaN ``d[i]``
    (``0 * inf`` is NaN) and the guarded sum is this sum. ``np.vdot`` raises no
    floating-point warnings (``@`` does), so a masked ``0 * inf`` warns nothing. Else (an
    infinite or NaN term, or an overflow) the guarded product, summed: where ``d`` is
    finite it is ``g * d``, so this is ``times(g, d).sum()`` in every case, without the
    warning ``times``'s check gives for ``d`` holding both ``inf`` and ``-inf``."""
    if d.dtype.kind == "f":
        total = np.vdot(g, d)
        if math.isfinite(total):
            return total
    return _masked_product(g, d).sum()


def logaddexp_share(x, y):
    """``exp(x - logaddexp(x, y))``, the derivative of ``np.logaddexp(x, y)`` in ``x``,
    as ``1 / (1 + exp(y - x))``: without the logarithm of the forward value, which the
    gradient then need not compute. Where ``exp(y - x)`` overflows the share is 0 (its
    true value is below 1e-308); no overflow warning. NaN where ``x - y`` is NaN, as
    ``exp(x - ans)``."""
    with np.errstate(over="ignore"):
        e = np.exp(np.subtract(y, x))
    if type(e) is np.ndarray:
        e += 1.0
        return np.reciprocal(e, out=e)
    return 1.0 / (1.0 + e)


def _finite_number(d) -> bool:
    """Whether the scalar ``d`` (real or complex) is finite."""
    if isinstance(d, complex):  # NumPy's complex scalars too (math would drop the imaginary part)
        return cmath.isfinite(d)
    try:
        return math.isfinite(d)
    except TypeError:  # a complex number
        return bool(np.isfinite(d))


def over(g, d):
    """``g / d``, with 0 where ``g`` is 0 (see :func:`times`) and IEEE ``inf``/``nan``
    where ``d`` is 0: no ``ZeroDivisionError`` for Python numbers, no NumPy warning."""
    if type(d) is float and type(g) is np.ndarray and d and math.isfinite(d):
        return g / d  # a finite nonzero number: g / d is 0 where g is, with no warning
    if type(d) is np.ndarray or type(g) is np.ndarray:
        if np.count_nonzero(d) == np.size(d):
            return _zero_without_adjoint(g, g / d)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.true_divide(g, d)
        return np.where(g == 0, r.dtype.type(0), r)
    return g / d if g and d else scalar_over(g, d)


def quotient(a, b):
    """``a / b`` with IEEE results where ``b`` is 0 (``inf``, or NaN for ``0 / 0``), without
    ``ZeroDivisionError`` or NumPy warnings: a local derivative that is infinite or
    undefined at a point, for :func:`times` to multiply by the adjoint."""
    if type(a) is not np.ndarray and type(b) is not np.ndarray:
        return a / b if b else _ieee(np.true_divide, a, b)
    if np.count_nonzero(b) == np.size(b):
        return a / b
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.true_divide(a, b)


def power_derivative(x, y, power=np.power):
    """``d/dx x**y = y * x**(y - 1)``, exactly 0 where ``y == 0`` (also at ``x == 0``, as
    autograd: ``x**0`` is the constant 1), IEEE ``inf``/NaN elsewhere (``0**-0.5``), with
    no exception or warning. ``power`` is ``np.float_power`` for that function."""
    if (type(y) is float or type(y) is int) and y >= 1 and power is np.power:
        return y * x ** (y - 1)  # x**2 and the like: no division, finite for finite x
    if type(y) is float and y and type(x) is np.ndarray and power is np.power and x.all():
        return y * x ** (y - 1)  # r2 ** -1.5 away from 0: what the general path computes
    if type(x) is int or isinstance(x, np.integer):  # an integer leaf: 3 ** -3 must not fail
        x = float(x)
    y = _exponent(x, y)
    arrays = type(x) is np.ndarray or type(y) is np.ndarray
    if not arrays and not y:
        return scalar_zero(x, y)
    if arrays and np.count_nonzero(x) == np.size(x) and power is np.power:
        d = y * x ** (y - 1)
    else:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            d = y * power(x, y - 1)
    if not arrays:
        return _like_operands(d, x, y)
    if np.count_nonzero(y) != np.size(y):
        d = np.where(y == 0, np.asarray(d).dtype.type(0), d)
    return d


def _exponent(x, y):
    """The exponent ``y`` of ``x ** y`` in the dtype of the power when it is an integer or
    boolean NumPy value: ``y - 1`` must not wrap (``np.uint8(0) - 1`` is 255) nor fail
    (NumPy refuses ``-`` on booleans)."""
    dtype = getattr(y, "dtype", None)
    if dtype is None or dtype.kind not in "biu":
        return y
    return np.asarray(y, dtype=np.result_type(x, y, 1.0))[()]


def _masked_product(g, d):
    """``g * d`` with 0 where ``g`` is 0, ``d`` having infinite or NaN elements."""
    with np.errstate(invalid="ignore", over="ignore"):
        r = np.multiply(g, d)
    return np.where(g == 0, r.dtype.type(0), r)


def _zero_without_adjoint(g, r):
    if type(r) is np.ndarray:
        if r.dtype.kind == "f" and not _finite_sum(r):
            return np.where(g == 0, r.dtype.type(0), r)
        return r
    if g == 0 and r != 0:  # NaN or an infinity times a zero adjoint
        return type(r)(0)
    return r


# -- scalar semantics: the rare branches of the guarded scalar templates -------------------
#
# The scalar templates (Python and NumPy scalars) are plain arithmetic guarded where the
# rule can meet a zero adjoint times an infinite or NaN derivative, or a division by 0:
# ``g / d if g and d else scalar_over(g, d)``. These helpers give those branches the
# semantics of the array templates (a zero adjoint contributes exactly 0; IEEE ``inf`` and
# NaN instead of ``ZeroDivisionError``; no NumPy warning) and keep Python floats floats.


def scalar_zero(a, b):
    """A zero of the type ``a * b`` would have (a Python float between Python numbers)."""
    if _is_python_number(a) and _is_python_number(b):
        return 0.0
    return np.result_type(a, b, 0.0).type(0)


def scalar_over(g, d):
    """``g / d`` between scalars: 0 where ``g`` is 0, IEEE ``±inf``/NaN where ``d`` is 0."""
    if not g:
        return scalar_zero(g, d)
    return _ieee(np.true_divide, g, d)


def scalar_times_ratio(g, n, d):
    """``g * (n / d)`` between scalars: 0 where ``g`` is 0, IEEE where ``d`` is 0."""
    if not g:
        return scalar_zero(g, d)
    return g * _ieee(np.true_divide, n, d)


def scalar_power_adjoint(g, x, y):
    """``g * y * x**(y - 1)`` between scalars: 0 where ``g`` or ``y`` is 0, IEEE at ``x == 0``."""
    if not g:
        return scalar_zero(g, x)
    return g * power_derivative(x, y)


def _is_python_number(a) -> bool:
    return type(a) is float or type(a) is int or type(a) is bool


def _ieee(ufunc, a, b):
    """``ufunc(a, b)`` with IEEE results and no warning; a Python float between Python numbers."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = ufunc(a, b)
    return _like_operands(r, a, b)


def _like_operands(r, a, b):
    if _is_python_number(a) and _is_python_number(b):
        return float(r)
    return r


def _finite_sum(r: np.ndarray) -> bool:
    """Whether the sum of the float array ``r`` is finite (so that no element is inf or
    NaN). For small float64/float32 arrays, where the call overhead is most of the cost,
    the sum is a BLAS dot product with ones (``np.vdot``: half the overhead of
    ``np.add.reduce``). Neither raises nor warns: ``inf + -inf`` (NaN) and an overflow
    only make the answer False, so a check the user's function did not ask for gives no
    ``RuntimeWarning`` and no ``FloatingPointError`` under ``np.errstate(all="raise")``
    (``np.vdot`` sets no floating-point flags; ``.dot`` and ``@`` do)."""
    char, size = r.dtype.char, r.size
    if size <= _Ones.size and (char == "d" or char == "f"):
        ones = _Ones.float64 if char == "d" else _Ones.float32
        return math.isfinite(np.vdot(r.ravel("K"), ones[:size]))
    with np.errstate(invalid="ignore", over="ignore"):
        return math.isfinite(np.add.reduce(r, axis=None))


class _Ones:
    """Read-only vectors of ones for :func:`_finite_sum`."""

    size = 4096
    float64 = np.ones(size, dtype=np.float64)
    float32 = np.ones(size, dtype=np.float32)
    float64.flags.writeable = float32.flags.writeable = False
    by_length: dict = {}  # length -> the view float64[:length] (``times``)


def _ones_of_length(n: int) -> np.ndarray:
    """The first ``n`` of ``_Ones.float64`` (``n <= _Ones.size``), made once per length."""
    ones = _Ones.by_length[n] = _Ones.float64[:n]
    return ones


def sinc_derivative(x):
    """d/dx sin(pi x)/(pi x): (cos(pi x) - sinc(x)) / x, and its Taylor series near 0."""
    xa = np.asarray(x)
    px = np.pi * xa
    with np.errstate(divide="ignore", invalid="ignore"):
        general = (np.cos(px) - np.sinc(xa)) / xa
    p2 = px * px
    series = -np.pi * px / 3.0 * (1.0 - p2 / 10.0 + p2 * p2 / 280.0)
    return np.where(np.abs(xa) < 1e-3, series, general)[()]


def tie_weight(x, y):
    """The share of ``x`` in the adjoint of ``np.maximum(x, y)``: 1, 1/2 at a tie, else 0."""
    dtype = _dtype_of(x, y)
    return np.asarray((x > y) + 0.5 * (x == y), dtype=dtype)[()]


def tie_share(g, x, y):
    """``g * tie_weight(x, y)``: ``g`` where ``x > y``, half of it at a tie, else 0.

    Without ties (the common case) this is what a hand-written ReLU adjoint does: ``g``
    times the mask ``x > y``, here made a float array and multiplied into in place.
    With ties (rare, but real: ``np.maximum(relu, 0.0)``) it is ``g * tie_weight(x, y)``
    itself. The values and the dtype are those of ``g * tie_weight(x, y)`` either way.
    """
    ties = x == y
    if ties.any() if type(ties) is np.ndarray else ties:
        return g * tie_weight(x, y)
    if type(x) is np.ndarray and type(y) is float and x.dtype.kind == "f":
        dtype = x.dtype  # _dtype_of(x, y): a Python float does not promote
    else:
        dtype = _dtype_of(x, y)
    if isinstance(g, (np.ndarray, np.generic)) and g.dtype != dtype:
        dtype = np.promote_types(g.dtype, dtype)
    wins = x > y
    if type(g) is np.ndarray and type(wins) is np.ndarray and g.shape == wins.shape:
        share = wins.astype(dtype)  # a float mask: no mixed-type multiplication loop
        np.multiply(share, g, out=share)
        return share
    return np.multiply(g, wins, dtype=dtype)


def fmax_weights(x, y, larger=True):
    """The shares of ``x`` and ``y`` in the adjoint of ``np.fmax`` (``np.fmin``: ``larger=False``).

    Like ``np.maximum`` (ties split equally), except that a NaN never wins over a number;
    where both are NaN neither gets anything.
    """
    dtype = _dtype_of(x, y)
    nan_x, nan_y = np.isnan(x), np.isnan(y)
    wins, loses = ((x > y), (y > x)) if larger else ((x < y), (y < x))
    tie = 0.5 * (x == y)
    wx = np.asarray((wins | (nan_y & ~nan_x)) + tie, dtype=dtype)[()]
    wy = np.asarray((loses | (nan_x & ~nan_y)) + tie, dtype=dtype)[()]
    return wx, wy


def clip_weights(a, a_min, a_max, min=None, max=None):
    """Shares of ``a``, ``a_min``, ``a_max`` in the adjoint of ``np.clip(a, a_min, a_max)``.

    ``np.clip`` is differentiated as ``np.minimum(np.maximum(a, a_min), a_max)``, so a
    tie at a bound splits the adjoint equally, as for ``np.maximum``. ``min``/``max`` are
    NumPy 2's keyword spellings of the bounds.
    """
    if min is not None or max is not None:
        if a_min is not None or a_max is not None:
            raise ADTransformError(
                "np.clip: pass the bounds either as a_min/a_max or as min/max, not both "
                "(an 'out' array is not supported)"
            )
        a_min, a_max = min, max
    lower = a if a_min is None else np.maximum(a, a_min)
    w_a = 1.0 if a_min is None else tie_weight(a, a_min)
    w_lo = 0.0 if a_min is None else tie_weight(a_min, a)
    w_upper = 1.0 if a_max is None else tie_weight(a_max, lower)
    w_hi = 0.0 if a_max is None else tie_weight(lower, a_max)
    return w_upper * w_a, w_upper * w_lo, w_hi


def nan_to_num_adjoint(g, x, copy=True, replaced=None):
    """The adjoint of ``np.nan_to_num(x, copy, nan, posinf, neginf)``: of ``x`` (``replaced``
    None) ``g`` where ``x`` is finite, 0 where it was replaced; of a replacement value
    (``replaced``: ``'nan'``, ``'posinf'``, ``'neginf'``) ``g`` summed over the elements it
    replaced. ``copy=False`` (a change of ``x`` in place) is refused."""
    if copy is False and isinstance(x, np.ndarray):
        raise ADTransformError(
            "np.nan_to_num(x, copy=False) changes x in place, which cannot be differentiated "
            "here; use np.nan_to_num(x) (copy=True)"
        )
    xa = np.asarray(x)
    if replaced is None:
        d = np.where(np.isfinite(xa), g, 0).astype(_dtype_of(x, g), copy=False)
        if isinstance(x, np.ndarray):
            return d
        return float(d) if isinstance(x, float) else _dtype_of(x, g).type(d)
    test = {"nan": np.isnan, "posinf": np.isposinf, "neginf": np.isneginf}[replaced]
    return float(np.sum(np.where(test(xa), g, 0)))
