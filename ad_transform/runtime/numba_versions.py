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

To add one: a stub (``def helper(...): raise NotImplementedError``), a definer
``define_<helper>`` registering its overload, with the same semantics as the runtime
helper for numbers and float arrays (self-contained: the export copies its source), and
entries in ``_pairs`` and ``OVERLOADS``.
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
    """Define the overloads (once); imports Numba. The array kernels become Numba
    functions with a disk cache (this is a real file, unlike generated code): a later
    process loads their machine code instead of compiling them again."""
    global _registered
    with _lock:
        if not _registered:
            import numba

            namespace = globals()
            cached = True
            for name in _KERNELS:
                namespace[name], works = _cached_jit(numba, namespace[name])
                cached = cached and works
            for define in OVERLOADS.values():
                define(cache=cached)
            _registered = True


def _cached_jit(numba, kernel):
    """``numba.njit(cache=True)(kernel)`` and True; without the cache (and False) where
    Numba finds no place to write it (no source file, no writable cache directory)."""
    try:
        return numba.njit(cache=True)(kernel), True
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(kernel), False


# -- array kernels: the work of the overloads on arrays, compiled once per argument types
# and cached on disk (``register``). The overloads' implementations only call them.


def _zeros_float64(x):
    return np.zeros(x.shape)


def _zeros_same_dtype(x):
    return np.zeros(x.shape, x.dtype)


def _full_of(x, value):
    return np.full(x.shape, value)


def _same_or_spread(dx, x, copy):
    if dx.shape == x.shape:
        return dx.copy() if copy else dx
    return np.zeros(x.shape) + dx


def _number_times_array(g, d):
    if g != 0:
        return g * d
    return np.zeros_like(g * d)


def _masked_times(g, d):
    product = g * d  # a new array; np.where compiles ten times slower
    spread = (np.zeros_like(product) + g).ravel()
    flat = product.ravel()
    for i in range(flat.size):
        if spread[i] == 0:
            flat[i] = 0.0
    return flat.reshape(product.shape)


def _sum_all(g):
    return np.sum(g)


def _unbroadcast_same(g, x):
    if g.shape != x.shape:
        raise ValueError("unbroadcast: axes of length 1 are not compiled")
    return g


def _unbroadcast_leading(g, x):
    summed = np.sum(g, axis=0)
    if summed.shape != x.shape:
        raise ValueError("unbroadcast: axes of length 1 are not compiled")
    return summed


_KERNELS = (
    "_zeros_float64",
    "_zeros_same_dtype",
    "_full_of",
    "_same_or_spread",
    "_number_times_array",
    "_masked_times",
    "_sum_all",
    "_unbroadcast_same",
    "_unbroadcast_leading",
)


def _is_array(t) -> bool:
    """Whether the Numba type ``t`` is an array type."""
    from numba import types

    return isinstance(t, types.Array)


def _is_number(t) -> bool:
    """Whether the Numba type ``t`` is a float, integer or boolean."""
    from numba import types

    return isinstance(t, (types.Float, types.Integer, types.Boolean))


def _is_whole(axis) -> bool:
    """Whether the Numba type of an ``axis`` argument means the whole array (None)."""
    from numba import types

    return axis is None or isinstance(axis, (types.NoneType, types.Omitted))


# Each definer below registers the overload of one stub. They are separate functions so
# that ``export(..., compile="numba")`` copies the definers of the stubs its code calls
# (and calls them when the exported module is imported). ``cache``: the implementations
# an overload picks are cached on disk like the kernels (keyed by this file, the
# lambda's line and the argument types), so a later process loads them instead of
# compiling them (about 0.1-0.3 s each per process).


def define_zeros_like(cache: bool = True) -> None:
    """The Numba version of ``zeros_like``."""
    from numba import types
    from numba.extending import overload

    @overload(zeros_like, jit_options={"cache": cache})
    def _zeros_like(x):
        if _is_array(x) and isinstance(x.dtype, types.Float):
            return lambda x: _zeros_same_dtype(x)
        if _is_array(x):
            return lambda x: _zeros_float64(x)
        if _is_number(x):
            return lambda x: 0.0
        return None


def define_as_gradient(cache: bool = True) -> None:
    """The Numba version of ``as_gradient``."""
    from numba.extending import overload

    @overload(as_gradient, jit_options={"cache": cache})
    def _as_gradient(dx, x, copy=False, adjoint=False):
        if _is_array(x) and _is_array(dx):
            return lambda dx, x, copy=False, adjoint=False: _same_or_spread(dx, x, copy)
        if _is_array(x) and _is_number(dx):
            return lambda dx, x, copy=False, adjoint=False: _full_of(x, float(dx))
        if _is_number(x) and _is_number(dx):
            return lambda dx, x, copy=False, adjoint=False: dx
        return None


def define_times(cache: bool = True) -> None:
    """The Numba version of ``times``."""
    from numba.extending import overload

    @overload(times, jit_options={"cache": cache})
    def _times(g, d):
        if _is_number(g) and _is_number(d):
            return lambda g, d: g * d if g != 0 else 0.0 * g
        if _is_number(g):
            return lambda g, d: _number_times_array(g, d)
        if _is_array(g):
            return lambda g, d: _masked_times(g, d)
        return None


def define_expand_reduced(cache: bool = True) -> None:
    """The Numba version of ``expand_reduced`` (``axis=None`` only)."""
    from numba.extending import overload

    @overload(expand_reduced, jit_options={"cache": cache})
    def _expand_reduced(g, x, axis=None, keepdims=False):
        if not _is_whole(axis) or not _is_number(g):
            return None
        if _is_array(x):
            return lambda g, x, axis=None, keepdims=False: _full_of(x, float(g))
        if _is_number(x):
            return lambda g, x, axis=None, keepdims=False: g
        return None


def define_unbroadcast(cache: bool = True) -> None:
    """The Numba version of ``unbroadcast``."""
    from numba.extending import overload

    @overload(unbroadcast, jit_options={"cache": cache})
    def _unbroadcast(g, x):
        if _is_number(x):
            if _is_array(g):
                return lambda g, x: _sum_all(g)
            return lambda g, x: g
        if not _is_array(x):
            return None
        if _is_number(g):
            return lambda g, x: _full_of(x, float(g))
        if _is_array(g) and g.ndim == x.ndim:
            return lambda g, x: _unbroadcast_same(g, x)
        if _is_array(g) and g.ndim == x.ndim + 1:
            return lambda g, x: _unbroadcast_leading(g, x)
        return None


def define_is_zero(cache: bool = True) -> None:
    """The Numba version of ``is_zero``."""
    from numba.extending import overload

    @overload(is_zero, jit_options={"cache": cache})
    def _is_zero(g):
        if _is_number(g):
            return lambda g: g == 0
        return lambda g: False


def define_seed(cache: bool = True) -> None:
    """The Numba version of ``seed`` (numbers only)."""
    from numba.extending import overload

    @overload(seed, jit_options={"cache": cache})
    def _seed(ans):
        if _is_number(ans):
            return lambda ans: 1.0
        return None


# IEEE results where the divisor is 0 (``error_model="python"`` would raise): the
# overloads below pass ``jit_options={"error_model": "numpy"}``


def define_scalar_over(cache: bool = True) -> None:
    """The Numba version of ``scalar_over``."""
    from numba.extending import overload

    @overload(scalar_over, jit_options={"error_model": "numpy", "cache": cache})
    def _scalar_over(g, d):
        if _is_number(g) and _is_number(d):
            return lambda g, d: 0.0 * g if g == 0 else g / d
        return None


def define_scalar_times_ratio(cache: bool = True) -> None:
    """The Numba version of ``scalar_times_ratio``."""
    from numba.extending import overload

    @overload(scalar_times_ratio, jit_options={"error_model": "numpy", "cache": cache})
    def _scalar_times_ratio(g, n, d):
        if _is_number(g) and _is_number(n) and _is_number(d):
            return lambda g, n, d: 0.0 * g if g == 0 else g * (n / d)
        return None


def define_scalar_power_adjoint(cache: bool = True) -> None:
    """The Numba version of ``scalar_power_adjoint``."""
    from numba.extending import overload

    @overload(scalar_power_adjoint, jit_options={"error_model": "numpy", "cache": cache})
    def _scalar_power_adjoint(g, x, y):
        if not (_is_number(g) and _is_number(x) and _is_number(y)):
            return None

        def power_adjoint(g, x, y):
            if g == 0 or y == 0:
                return 0.0 * g
            return g * (y * float(x) ** (y - 1))

        return power_adjoint


# stub -> the function that defines its overload
OVERLOADS: dict = {
    zeros_like: define_zeros_like,
    as_gradient: define_as_gradient,
    times: define_times,
    expand_reduced: define_expand_reduced,
    unbroadcast: define_unbroadcast,
    is_zero: define_is_zero,
    seed: define_seed,
    scalar_over: define_scalar_over,
    scalar_times_ratio: define_scalar_times_ratio,
    scalar_power_adjoint: define_scalar_power_adjoint,
}
