"""Numba versions of the runtime helpers generated code calls (``compile="numba"`` only).

The helpers of the other runtime modules decide at run time what they were given
(``type(x) is np.ndarray``, containers, dtypes) and are written for the interpreter.
Numba compiles a function per argument types, so each helper here is an overload: for
the types of a call, a small implementation in Numba's subset (numbers, float arrays of
any rank). A helper given types it has no implementation for is a typing error, which
``numba_compile`` reports with the generated line and the user's line.

Nothing here imports Numba at import time: ``register()`` defines the overloads once,
when the first ``compile="numba"`` gradient is built. ``NUMBA_VERSIONS`` maps each
runtime helper to the stub generated code calls instead. Not re-exported from
``ad_transform.runtime`` (the names are those of the helpers they stand for).

To add one: a stub (``def helper(...): raise NotImplementedError``), an overload in
``_define_overloads`` with the same semantics as the runtime helper for numbers and
float arrays, and an entry in ``_pairs``.
"""

from __future__ import annotations

import threading

import numpy as np

from . import adjoints, elementwise, reductions


def zeros_like(x):
    """A zero gradient shaped like ``x`` (``runtime.zeros_like``)."""
    raise NotImplementedError("called only from Numba-compiled code")


def as_gradient(dx, x, copy=False, adjoint=False):
    """``dx`` with the shape of ``x``, copied where ``copy`` (``runtime.as_gradient``)."""
    raise NotImplementedError("called only from Numba-compiled code")


def times(g, d):
    """``g * d`` with 0 where ``g`` is 0 (``runtime.times``)."""
    raise NotImplementedError("called only from Numba-compiled code")


def expand_reduced(g, x, axis=None, keepdims=False):
    """The adjoint of a full reduction of ``x`` spread to its shape
    (``runtime.expand_reduced``, ``axis=None`` only)."""
    raise NotImplementedError("called only from Numba-compiled code")


def unbroadcast(g, x):
    """``g`` summed down to the shape of ``x`` (``runtime.unbroadcast``)."""
    raise NotImplementedError("called only from Numba-compiled code")


def is_zero(g):
    """Whether ``g`` is the number 0 (``runtime.is_zero``)."""
    raise NotImplementedError("called only from Numba-compiled code")


def seed(ans):
    """The adjoint 1 of a number (``runtime.seed``); an array result is a typing error."""
    raise NotImplementedError("called only from Numba-compiled code")


def scalar_over(g, d):
    """``g / d`` between numbers: 0 where ``g`` is 0, IEEE where ``d`` is 0."""
    raise NotImplementedError("called only from Numba-compiled code")


def scalar_times_ratio(g, n, d):
    """``g * (n / d)`` between numbers: 0 where ``g`` is 0, IEEE where ``d`` is 0."""
    raise NotImplementedError("called only from Numba-compiled code")


def scalar_power_adjoint(g, x, y):
    """``g * y * x**(y - 1)`` between numbers: 0 where ``g`` or ``y`` is 0."""
    raise NotImplementedError("called only from Numba-compiled code")


def _pairs() -> dict:
    return {
        adjoints.zeros_like: zeros_like,
        adjoints.as_gradient: as_gradient,
        elementwise.times: times,
        reductions.expand_reduced: expand_reduced,
        adjoints.unbroadcast: unbroadcast,
        adjoints.is_zero: is_zero,
        adjoints.seed: seed,
        elementwise.scalar_over: scalar_over,
        elementwise.scalar_times_ratio: scalar_times_ratio,
        elementwise.scalar_power_adjoint: scalar_power_adjoint,
    }


NUMBA_VERSIONS: dict = _pairs()

_registered = False
_lock = threading.Lock()


def register() -> None:
    """Define the overloads (once); imports Numba."""
    global _registered
    with _lock:
        if not _registered:
            _define_overloads()
            _registered = True


def _define_overloads() -> None:
    from numba import types
    from numba.extending import overload

    def is_array(t) -> bool:
        return isinstance(t, types.Array)

    def is_number(t) -> bool:
        return isinstance(t, (types.Float, types.Integer, types.Boolean))

    @overload(zeros_like)
    def _zeros_like(x):
        if is_array(x):
            dtype = x.dtype if isinstance(x.dtype, types.Float) else types.float64
            return lambda x: np.zeros(x.shape, dtype)
        if is_number(x):
            return lambda x: 0.0
        return None

    @overload(as_gradient)
    def _as_gradient(dx, x, copy=False, adjoint=False):
        if is_array(x) and is_array(dx):

            def same_or_spread(dx, x, copy=False, adjoint=False):
                if dx.shape == x.shape:
                    return dx.copy() if copy else dx
                return np.zeros(x.shape) + dx

            return same_or_spread
        if is_array(x) and is_number(dx):
            return lambda dx, x, copy=False, adjoint=False: np.full(x.shape, float(dx))
        if is_number(x) and is_number(dx):
            return lambda dx, x, copy=False, adjoint=False: dx
        return None

    @overload(times)
    def _times(g, d):
        if is_number(g) and is_number(d):
            return lambda g, d: g * d if g != 0 else 0.0 * g
        if is_number(g):

            def number_times_array(g, d):
                if g != 0:
                    return g * d
                return np.zeros_like(g * d)

            return number_times_array
        if is_array(g):

            def masked(g, d):
                product = g * d  # a new array; np.where compiles ten times slower
                spread = (np.zeros_like(product) + g).ravel()
                flat = product.ravel()
                for i in range(flat.size):
                    if spread[i] == 0:
                        flat[i] = 0.0
                return flat.reshape(product.shape)

            return masked
        return None

    @overload(expand_reduced)
    def _expand_reduced(g, x, axis=None, keepdims=False):
        whole = axis is None or isinstance(axis, (types.NoneType, types.Omitted))
        if not whole or not is_number(g):
            return None
        if is_array(x):
            return lambda g, x, axis=None, keepdims=False: np.full(x.shape, float(g))
        if is_number(x):
            return lambda g, x, axis=None, keepdims=False: g
        return None

    @overload(unbroadcast)
    def _unbroadcast(g, x):
        if is_number(x):
            if is_array(g):
                return lambda g, x: np.sum(g)
            return lambda g, x: g
        if not is_array(x):
            return None
        if is_number(g):
            return lambda g, x: np.full(x.shape, float(g))
        if is_array(g) and g.ndim == x.ndim:

            def same_shape(g, x):
                if g.shape != x.shape:
                    raise ValueError("unbroadcast: axes of length 1 are not compiled")
                return g

            return same_shape
        if is_array(g) and g.ndim == x.ndim + 1:

            def leading_axis(g, x):
                summed = np.sum(g, axis=0)
                if summed.shape != x.shape:
                    raise ValueError("unbroadcast: axes of length 1 are not compiled")
                return summed

            return leading_axis
        return None

    @overload(is_zero)
    def _is_zero(g):
        if is_number(g):
            return lambda g: g == 0
        return lambda g: False

    # IEEE results where the divisor is 0 (``error_model="python"`` would raise)
    ieee = {"error_model": "numpy"}

    @overload(seed)
    def _seed(ans):
        if is_number(ans):
            return lambda ans: 1.0
        return None

    @overload(scalar_over, jit_options=ieee)
    def _scalar_over(g, d):
        if is_number(g) and is_number(d):
            return lambda g, d: 0.0 * g if g == 0 else g / d
        return None

    @overload(scalar_times_ratio, jit_options=ieee)
    def _scalar_times_ratio(g, n, d):
        if is_number(g) and is_number(n) and is_number(d):
            return lambda g, n, d: 0.0 * g if g == 0 else g * (n / d)
        return None

    @overload(scalar_power_adjoint, jit_options=ieee)
    def _scalar_power_adjoint(g, x, y):
        if not (is_number(g) and is_number(x) and is_number(y)):
            return None

        def power_adjoint(g, x, y):
            if g == 0 or y == 0:
                return 0.0 * g
            return g * (y * float(x) ** (y - 1))

        return power_adjoint
