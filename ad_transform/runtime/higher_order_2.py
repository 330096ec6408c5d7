"""Helpers for the rules of more runtime helpers (``rules/runtime_helpers_2.py``): the
transposes and partials that second derivatives through ``einsum``, selections and
permutations (``sort``, ``partition``, ``take_along_axis``, ``roll``, ``pad``) and the
FFTs need. Each is linear in its first argument (a cotangent or a tangent)."""

from __future__ import annotations

import numpy as np

from ..errors import ADTransformError
from .fft import _axes_and_lengths, _half_weights, fitted
from .linalg import einsum_adjoint
from .shape_indexing import along_axis_index
from .tangents import TangentTuple, einsum_tangent
from .values import ListAdjoint

__all__ = [
    "einsum_replaced_adjoint",
    "einsum_replaced_tangent",
    "fft_adjoint_cotangent",
    "fftn_adjoint_cotangent",
    "imag_adjoint_cotangent",
    "irfft_adjoint_cotangent",
    "irfftn_adjoint_cotangent",
    "list_adjoint",
    "pad_tangent_cotangent",
    "pad_value_cotangent",
    "rfft_adjoint_cotangent",
    "rfftn_adjoint_cotangent",
    "slogdet_tangent_cotangent",
    "slogdet_tangent_partial",
    "take_along_axis_cotangent",
    "tangent_tuple",
]


# -- einsum: multilinear -------------------------------------------------------------------------
# The arguments of np.einsum as one list: ``[subscripts, *operands]`` (the interleaved
# form's first operand arrives as ``subscripts``); operand ``k`` of the adjoint helpers is
# argument ``k + 1`` of that list.


def _replaced(subscripts, operands, position: int, value) -> tuple:
    """``subscripts`` and the operands (``None`` dropped) with argument ``position + 1`` of
    the einsum call replaced by ``value``."""
    given = [subscripts, *(o for o in operands if o is not None)]
    given[position + 1] = value
    return given[0], given[1:]


def einsum_replaced_adjoint(g, k: int, j: int, value, subscripts, *operands):
    """``einsum_adjoint(g, subscripts, k, ...)`` with operand ``j`` replaced by ``value``:
    the partial in operand ``j`` of the adjoint of operand ``k`` (zeros for ``j == k``,
    which the adjoint reads only for its shape)."""
    if j == k:
        return np.zeros(np.shape(_replaced(subscripts, operands, k, None)[1][k]))
    spec, rest = _replaced(subscripts, operands, j, value)
    return einsum_adjoint(g, spec, k, *rest)


def einsum_replaced_tangent(t, position: int, value, j: int, subscripts, *operands):
    """``einsum_tangent(t, position, subscripts, ...)`` with operand ``j`` replaced by
    ``value``: the einsum with two operands replaced (zeros for ``j == position``)."""
    if j == position:
        return np.zeros_like(einsum_tangent(t, position, subscripts, *operands), dtype=float)
    spec, rest = _replaced(subscripts, operands, j, value)
    return einsum_tangent(t, position, spec, *rest)


# -- selections ---------------------------------------------------------------------------------


def take_along_axis_cotangent(c, arr, indices, axis, g):
    """The transpose of ``take_along_axis_adjoint(., arr, indices, axis)`` (a scatter into
    zeros shaped like ``arr``) at ``c``: the gather of ``c`` at the same positions, shaped
    like the adjoint ``g`` it was applied to."""
    c = np.asarray(c)
    if axis is None:
        return np.reshape(np.ravel(c)[np.asarray(indices)], np.shape(g))
    aa = np.asarray(arr)
    index = along_axis_index(aa.shape, indices, axis % aa.ndim, np.shape(g))
    return c[index]


def pad_value_cotangent(c, x, pad_width):
    """The transpose of ``pad_value_adjoint(., x, pad_width)`` (the sum of a padded array
    over its padding) at the number ``c``: ``c`` on the padding, zeros inside."""
    inside = np.zeros(np.shape(x), dtype=np.result_type(c, float))
    return np.pad(inside, pad_width, constant_values=c)


# -- FFTs: linear maps whose transposes are transforms again (the DFT matrix is symmetric) ---


def _check_list(x, what: str) -> None:
    if isinstance(x, (list, tuple)):
        raise ADTransformError(
            f"cannot differentiate the adjoint of {what} of a list again: pass an array"
        )


def fft_adjoint_cotangent(c, ans, x, axis=-1, norm=None, inverse=False):
    """The transpose of ``fft_adjoint(., ans, x, n, axis, norm, inverse)`` at ``c`` (shaped
    like ``x``): ``c`` fitted to the result's length, transformed again."""
    _check_list(x, "np.fft.fft")
    transform = np.fft.ifft if inverse else np.fft.fft
    return transform(c, n=np.shape(ans)[axis], axis=axis, norm=norm)


def fftn_adjoint_cotangent(c, ans, x, s=None, axes=None, norm=None, inverse=False, default=None):
    """The transpose of ``fftn_adjoint(., ans, x, s, axes, norm, inverse, default)`` at ``c``."""
    _check_list(x, "np.fft.fftn")
    axes, _ = _axes_and_lengths(x, s, axes, default)
    transform = np.fft.ifftn if inverse else np.fft.fftn
    return transform(c, s=[np.shape(ans)[a] for a in axes], axes=axes, norm=norm)


def rfft_adjoint_cotangent(c, ans, x, n=None, axis=-1, norm=None):
    """The transpose of ``rfft_adjoint(., ans, x, n, axis, norm)`` at ``c``: the DFT of
    ``c`` fitted to the transform's length, cut to the half spectrum."""
    _check_list(x, "np.fft.rfft")
    length = np.shape(x)[axis] if n is None else int(n)
    full = np.fft.fft(c, n=length, axis=axis, norm=norm)
    return fitted(full, [np.shape(ans)[axis]], [axis])


def irfft_adjoint_cotangent(c, ans, y, n=None, axis=-1, norm=None):
    """The transpose of ``irfft_adjoint(., ans, y, n, axis, norm)`` at ``c``: the half
    weights, fitted to the full length, the inverse DFT; its real part (``irfft``'s result
    is real)."""
    _check_list(y, "np.fft.irfft")
    axis = axis % np.ndim(y)
    m = np.shape(y)[axis]
    length = 2 * (m - 1) if n is None else int(n)
    kept = length // 2 + 1
    d = fitted(np.asarray(c), [kept], [axis])
    d = d * _half_weights(length, kept, d.ndim, axis, np.real(d).dtype)
    return np.real(np.fft.ifft(fitted(d, [length], [axis]), axis=axis, norm=norm))


def rfftn_adjoint_cotangent(c, ans, x, s=None, axes=None, norm=None, default_axes=None):
    """The transpose of ``rfftn_adjoint(., ans, x, s, axes, norm, default_axes)`` at ``c``:
    ``c`` fitted to the transform's lengths, its DFT over the axes (symmetric), cut to the
    half spectrum along the last axis (``ans``'s length there)."""
    _check_list(x, "np.fft.rfftn")
    axes, lengths = _axes_and_lengths(x, s, axes, default_axes)
    full = np.fft.fftn(fitted(np.asarray(c), lengths, axes), axes=axes, norm=norm)
    return fitted(full, [np.shape(ans)[axes[-1]]], [axes[-1]])


def irfftn_adjoint_cotangent(c, ans, y, s=None, axes=None, norm=None, default_axes=None):
    """The transpose of ``irfftn_adjoint(., ans, y, s, axes, norm, default_axes)`` at ``c``:
    ``c`` fitted to the kept half spectrum, times the half weights along the last axis,
    zero-padded to the full length, its inverse DFT over the axes; the real part
    (``irfftn``'s result is real)."""
    _check_list(y, "np.fft.irfftn")
    axes, lengths = _axes_and_lengths(y, s, axes, default_axes)
    if s is None:
        lengths[-1] = 2 * (np.shape(y)[axes[-1]] - 1)
    kept = lengths[-1] // 2 + 1
    d = fitted(np.asarray(c), [*lengths[:-1], kept], axes)
    d = d * _half_weights(lengths[-1], kept, d.ndim, axes[-1], np.real(d).dtype)
    return np.real(np.fft.ifftn(fitted(d, lengths, axes), axes=axes, norm=norm))


# -- slogdet's tangent: tr(a^-1 t), linear in t ---------------------------------------------------


def slogdet_tangent_partial(g, t, ans, a):
    """The partial in ``a`` (direction ``g``) of ``slogdet_tangent(t, ans, a)``:
    ``(0, -tr(a^-1 g a^-1 t))``."""
    from .tangents import TangentTuple, zero_tangent

    t = np.broadcast_to(t, np.shape(a))
    product = np.linalg.solve(a, g) @ np.linalg.solve(a, t)
    return TangentTuple((zero_tangent(ans[0]), -np.trace(product, axis1=-2, axis2=-1)))


def slogdet_tangent_cotangent(c, t, a):
    """The cotangent of ``a`` in ``slogdet_tangent(t, ans, a)`` for the cotangent ``c`` of
    the pair: ``-c[1] (a^-1 t a^-1)^T``."""
    t = np.broadcast_to(t, np.shape(a))
    inverse = np.linalg.inv(a)
    scale = np.asarray(c[1])[..., None, None]
    return -scale * np.swapaxes(inverse @ t @ inverse, -1, -2)


# -- complex parts: real-linear maps and their transposes (JAX's convention) --------------------


def imag_adjoint_cotangent(c, z):
    """The transpose of ``imag_adjoint(., z)`` (``g -> -i Re(g)``) at ``c``: ``Im(c)``; 0 for
    a real ``z``."""
    from .complex_values import is_complex

    if not is_complex(z):
        return 0.0
    return np.imag(c)


def pad_tangent_cotangent(c, t, pad_width, mode="constant"):
    """The transpose of ``np_pad_tangent(., ans, pad_width, mode)`` in the array at ``c``:
    the interior of ``c`` (mode ``'constant'``; the other modes' transposes are not written)."""
    if mode != "constant":
        raise ADTransformError(
            f"cannot differentiate the tangent of np.pad with mode={mode!r} again (only "
            "mode='constant')"
        )
    from .shape_indexing import pad_adjoint

    return pad_adjoint(c, t, pad_width)


# -- a tuple result's tangent built by a differentiable twin ------------------------------------


def tangent_tuple(parts):
    """``parts`` (a tuple of tangents of a tuple result's fields) as one argument's term of
    the result's tangent: a ``TangentTuple``, which adds to another term field by field
    (what ``svd_tangent``, ``qr_tangent``, ``eigh_tangent`` return; their twins call this)."""
    return TangentTuple(parts)


def list_adjoint(parts):
    """``parts`` (the adjoints of a tuple's fields) as the ``ListAdjoint`` a helper returns
    for a tuple argument (``cho_solve_adjoints``' ``(c, lower)``; its twin calls this)."""
    return ListAdjoint(parts)
