"""Helpers of ``rules/fft.py``: the adjoints of NumPy's discrete Fourier transforms.

Convention (docs/conventions/complex.md): the adjoint of a complex value ``z = a + ib``
is ``dL/da - i dL/db`` (JAX's), so the pullback of a linear map is its transpose, not its
conjugate transpose. The DFT matrix is symmetric: the transpose of ``fft(., norm)`` is
``fft(., norm)`` itself and that of ``ifft`` is ``ifft``. Padding (``n``/``s`` larger
than the input) and truncation (smaller) are transposed into truncation and zero padding.
The adjoint of a real input is the real part (the transpose of the embedding of the reals
in the complex numbers), in the input's float dtype.
"""

from __future__ import annotations

import numpy as np

from ..errors import ADTransformError
from .values import ListAdjoint, _float_dtype


def fitted(a, lengths, axes):
    """``a`` cut or zero-padded at the end of each of ``axes`` to the given ``lengths``:
    the transpose of NumPy's own fitting of an FFT's input to ``n``/``s``."""
    a = np.asarray(a)
    for length, axis in zip(lengths, axes):
        have = a.shape[axis]
        if have > length:
            a = np.take(a, np.arange(length), axis=axis)
        elif have < length:
            widths = [(0, 0)] * a.ndim
            widths[axis] = (0, length - have)
            a = np.pad(a, widths)
    return a


def as_input_adjoint(d, x):
    """The adjoint ``d`` (complex) of the FFT input ``x``: its real part in ``x``'s float
    dtype for a real ``x``, a list of element adjoints for a list."""
    if isinstance(x, (list, tuple)):
        return ListAdjoint(as_input_adjoint(d[k], e) for k, e in enumerate(x))
    dtype = np.asarray(x).dtype
    if dtype.kind == "c":
        return d.astype(dtype, copy=False) if isinstance(d, np.ndarray) else d
    real = np.real(d).astype(_float_dtype(dtype), copy=False)
    return real if isinstance(x, np.ndarray) else real[()]


def _axes_and_lengths(x, s, axes, default_axes):
    """NumPy's resolution of ``s``/``axes`` for the n-dimensional transforms: the axes
    transformed and the length of each in the transform."""
    shape = np.shape(x)
    if axes is None:
        axes = default_axes if default_axes is not None else None
    if axes is None:
        axes = range(len(shape)) if s is None else range(len(shape) - len(s), len(shape))
    axes = [int(a) % len(shape) for a in axes]
    if s is None:
        s = [shape[a] for a in axes]
    if len(s) != len(axes):
        raise ADTransformError("np.fft: 's' and 'axes' have different lengths")
    return axes, [int(n) for n in s]


def _check_norm(norm):
    if norm not in (None, "backward", "ortho", "forward"):
        raise ADTransformError(f"np.fft: unknown norm {norm!r}")


def _like_result(g, ans):
    """The adjoint ``g`` of the transform's result ``ans`` as a full array (a plain 0
    where nothing has reached the result yet)."""
    return np.broadcast_to(g, np.shape(ans)) if np.ndim(g) == 0 else g


def fft_adjoint(g, ans, x, n=None, axis=-1, norm=None, inverse=False):
    """The adjoint of ``x`` in ``np.fft.fft(x, n, axis, norm)`` (``ifft``: ``inverse``)."""
    _check_norm(norm)
    g = _like_result(g, ans)
    transform = np.fft.ifft if inverse else np.fft.fft
    d = transform(g, axis=axis, norm=norm)
    return as_input_adjoint(fitted(d, [np.shape(x)[axis]], [axis]), x)


def fftn_adjoint(g, ans, x, s=None, axes=None, norm=None, inverse=False, default_axes=None):
    """The adjoint of ``x`` in ``np.fft.fftn``/``fft2`` (``ifftn``/``ifft2``: ``inverse``)."""
    _check_norm(norm)
    g = _like_result(g, ans)
    axes, _ = _axes_and_lengths(x, s, axes, default_axes)
    transform = np.fft.ifftn if inverse else np.fft.fftn
    d = transform(g, axes=axes, norm=norm)
    return as_input_adjoint(fitted(d, [np.shape(x)[a] for a in axes], axes), x)


def rfft_adjoint(g, ans, x, n=None, axis=-1, norm=None):
    """The adjoint of ``x`` in ``np.fft.rfft``: the half spectrum ``g`` zero-padded to the
    full length, transformed back by the (symmetric) DFT, real part."""
    _check_norm(norm)
    g = _like_result(g, ans)
    length = np.shape(x)[axis] if n is None else int(n)
    d = np.fft.fft(fitted(g, [length], [axis]), axis=axis, norm=norm)
    return as_input_adjoint(fitted(d, [np.shape(x)[axis]], [axis]), x)


def rfftn_adjoint(g, ans, x, s=None, axes=None, norm=None, default_axes=None):
    """The adjoint of ``x`` in ``np.fft.rfftn``/``rfft2`` (the last axis is the half one)."""
    _check_norm(norm)
    g = _like_result(g, ans)
    axes, lengths = _axes_and_lengths(x, s, axes, default_axes)
    full = fitted(g, [lengths[-1]], [axes[-1]])
    d = np.fft.fftn(full, axes=axes, norm=norm)
    return as_input_adjoint(fitted(d, [np.shape(x)[a] for a in axes], axes), x)


def _half_weights(length: int, kept: int, ndim: int, axis: int, dtype) -> np.ndarray:
    """The weights of a half spectrum of a real signal of ``length`` in ``irfft``: 1 for
    the zero frequency and (even lengths) the Nyquist one, 2 for the others, which stand
    for themselves and their conjugate mirror."""
    weights = np.full(kept, 2.0, dtype=dtype)
    weights[0] = 1.0
    if length % 2 == 0 and kept == length // 2 + 1:
        weights[-1] = 1.0
    shape = [1] * ndim
    shape[axis] = kept
    return weights.reshape(shape)


def irfft_adjoint(g, ans, y, n=None, axis=-1, norm=None):
    """The adjoint of ``y`` in ``np.fft.irfft(y, n, axis, norm)``.

    ``irfft`` is ``Re(sum_j c_j y_j exp(2 pi i jk / n))`` (scaled by the norm) with
    ``c_j`` 1 at the zero and Nyquist frequencies and 2 elsewhere (the imaginary parts of
    those two are ignored); its transpose is ``c * ifft(g)`` on the kept frequencies.
    """
    _check_norm(norm)
    m = np.shape(y)[axis]
    length = 2 * (m - 1) if n is None else int(n)
    return _half_spectrum_adjoint(_like_result(g, ans), y, [axis], [length], norm)


def irfftn_adjoint(g, ans, y, s=None, axes=None, norm=None, default_axes=None):
    """The adjoint of ``y`` in ``np.fft.irfftn``/``irfft2``: the transpose of ``ifft``
    over the leading axes, then of ``irfft`` over the last one."""
    _check_norm(norm)
    axes, lengths = _axes_and_lengths(y, s, axes, default_axes)
    if s is None:
        lengths[-1] = 2 * (np.shape(y)[axes[-1]] - 1)
    return _half_spectrum_adjoint(_like_result(g, ans), y, axes, lengths, norm)


def _half_spectrum_adjoint(g, y, axes, lengths, norm):
    d = np.fft.ifftn(g, axes=axes, norm=norm)
    last, kept = axes[-1], lengths[-1] // 2 + 1
    d = fitted(d, [kept], [last])
    d = d * _half_weights(lengths[-1], kept, d.ndim, last, d.real.dtype)
    return as_input_adjoint(fitted(d, [np.shape(y)[a] for a in axes], axes), y)


def fftshift_adjoint(g, ans, x, axes=None, inverse=False):
    """The adjoint of ``x`` in ``np.fft.fftshift`` (a permutation: undone by ``ifftshift``)."""
    shift = np.fft.fftshift if inverse else np.fft.ifftshift
    return as_input_adjoint(shift(_like_result(g, ans), axes=axes), x)
