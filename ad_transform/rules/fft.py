"""Adjoints of ``np.fft``: the discrete Fourier transforms and the shifts.

Each transform is linear; the pullback is its transpose under the complex convention
of docs/conventions/complex.md (JAX's: the adjoint of ``a + ib`` is ``dL/da - i dL/db``).
The DFT matrix is symmetric, so ``fft``'s pullback is ``fft`` with the same ``norm``
(and ``ifft``'s ``ifft``), followed by the transpose of NumPy's fitting of the input to
``n``/``s`` (a cut becomes zero padding and padding a cut). ``rfft`` pads the half
spectrum's adjoint back to the full one; ``irfft`` weighs the kept frequencies by 1 (zero
and Nyquist frequency) or 2 (the others stand for their mirror image too). The adjoint of
a real input is the real part, in the input's float dtype. ``out=`` is not supported (a
call giving it is refused). See ``runtime/fft.py``.
"""

import numpy as np

from ..runtime import (
    fft_adjoint,
    fftn_adjoint,
    fftshift_adjoint,
    irfft_adjoint,
    irfftn_adjoint,
    rfft_adjoint,
    rfftn_adjoint,
)
from .registry import ARRAY, adjoint, linear_tangents

LAST_TWO = (-2, -1)


@adjoint(np.fft.fft, kind=ARRAY, fresh=True)
def d_fft(g, ans, a, n=None, axis=-1, norm=None):
    return fft_adjoint(g, ans, a, n, axis, norm)


@adjoint(np.fft.ifft, kind=ARRAY, fresh=True)
def d_ifft(g, ans, a, n=None, axis=-1, norm=None):
    return fft_adjoint(g, ans, a, n, axis, norm, inverse=True)


@adjoint(np.fft.fft2, kind=ARRAY, fresh=True)
def d_fft2(g, ans, a, s=None, axes=LAST_TWO, norm=None):
    return fftn_adjoint(g, ans, a, s, axes, norm, default_axes=LAST_TWO)


@adjoint(np.fft.ifft2, kind=ARRAY, fresh=True)
def d_ifft2(g, ans, a, s=None, axes=LAST_TWO, norm=None):
    return fftn_adjoint(g, ans, a, s, axes, norm, inverse=True, default_axes=LAST_TWO)


@adjoint(np.fft.fftn, kind=ARRAY, fresh=True)
def d_fftn(g, ans, a, s=None, axes=None, norm=None):
    return fftn_adjoint(g, ans, a, s, axes, norm)


@adjoint(np.fft.ifftn, kind=ARRAY, fresh=True)
def d_ifftn(g, ans, a, s=None, axes=None, norm=None):
    return fftn_adjoint(g, ans, a, s, axes, norm, inverse=True)


@adjoint(np.fft.rfft, kind=ARRAY, fresh=True)
def d_rfft(g, ans, a, n=None, axis=-1, norm=None):
    return rfft_adjoint(g, ans, a, n, axis, norm)


@adjoint(np.fft.irfft, kind=ARRAY, fresh=True)
def d_irfft(g, ans, a, n=None, axis=-1, norm=None):
    return irfft_adjoint(g, ans, a, n, axis, norm)


@adjoint(np.fft.rfft2, kind=ARRAY, fresh=True)
def d_rfft2(g, ans, a, s=None, axes=LAST_TWO, norm=None):
    return rfftn_adjoint(g, ans, a, s, axes, norm, default_axes=LAST_TWO)


@adjoint(np.fft.irfft2, kind=ARRAY, fresh=True)
def d_irfft2(g, ans, a, s=None, axes=LAST_TWO, norm=None):
    return irfftn_adjoint(g, ans, a, s, axes, norm, default_axes=LAST_TWO)


@adjoint(np.fft.rfftn, kind=ARRAY, fresh=True)
def d_rfftn(g, ans, a, s=None, axes=None, norm=None):
    return rfftn_adjoint(g, ans, a, s, axes, norm)


@adjoint(np.fft.irfftn, kind=ARRAY, fresh=True)
def d_irfftn(g, ans, a, s=None, axes=None, norm=None):
    return irfftn_adjoint(g, ans, a, s, axes, norm)


@adjoint(np.fft.fftshift, kind=ARRAY, fresh=True)
def d_fftshift(g, ans, x, axes=None):
    return fftshift_adjoint(g, ans, x, axes)


@adjoint(np.fft.ifftshift, kind=ARRAY, fresh=True)
def d_ifftshift(g, ans, x, axes=None):
    return fftshift_adjoint(g, ans, x, axes, inverse=True)


# -- tangents (forward mode): every transform and shift is linear in ``a``/``x`` ------------
linear_tangents(
    np.fft.fft,
    np.fft.ifft,
    np.fft.fft2,
    np.fft.ifft2,
    np.fft.fftn,
    np.fft.ifftn,
    np.fft.rfft,
    np.fft.irfft,
    np.fft.rfft2,
    np.fft.irfft2,
    np.fft.rfftn,
    np.fft.irfftn,
    np.fft.fftshift,
    np.fft.ifftshift,
)
