"""Helpers of the rules of complex values (``abs``, ``real``, ``imag``, ``conj``,
``angle``, ``real_if_close``) and the projection of an adjoint on the reals.

Convention (docs/conventions/complex.md, JAX's): the adjoint of ``z = a + ib`` is
``dL/da - i dL/db``. A holomorphic function's pullback is ``g * f'(z)`` (the rules written
for real values are right as they are); a real-linear one's is its transpose under the
pairing ``Re(u * v)``. The adjoint of a real value is real: where a complex adjoint
reaches a real value (``x * 1j`` with a real ``x``), its real part is the adjoint.
"""

from __future__ import annotations

import numpy as np

from .adjoints import zeros_like
from .elementwise import times


def is_complex(value) -> bool:
    """Whether ``value`` is a complex number or an array or NumPy scalar of complex dtype
    (without converting lists)."""
    if isinstance(value, complex):
        return True
    return isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind == "c"


def real_part(g):
    """``g`` projected on the reals: the adjoint of a real value (or of a real result)."""
    return g.real if is_complex(g) else g


def real_adjoint(g, z):
    """The adjoint of ``z`` in ``np.real(z)`` / ``z.real``: the real part of ``g``."""
    return real_part(g)


def imag_adjoint(g, z):
    """The adjoint of ``z`` in ``np.imag(z)`` / ``z.imag``: ``-i Re(g)`` (transpose of
    ``Re(-i z)``); 0 for a real ``z`` (its imaginary part is the constant 0)."""
    if not is_complex(z):
        return zeros_like(z)
    return -1j * real_part(g)


def conjugate_adjoint(g):
    """The adjoint of ``z`` in ``np.conjugate(z)``: ``conj(g)`` (the identity on reals)."""
    return np.conjugate(g) if is_complex(g) else g


def abs_adjoint(g, z):
    """The adjoint of ``z`` in ``abs(z)``: ``Re(g) conj(z) / |z|`` for complex ``z``, 0 at
    ``z == 0`` (a subgradient, as ``sign`` at 0 for reals); ``g sign(z)`` for real ``z``."""
    if not is_complex(z):
        return times(g, np.sign(z))
    r = np.abs(z)
    unit = np.conjugate(z) / np.where(r == 0, 1.0, r)
    return times(real_part(g), unit[()])


def angle_adjoint(g, z, deg=False):
    """The adjoint of ``z`` in ``np.angle(z, deg)``: ``-i Re(g) conj(z) / |z|**2`` (the
    transpose of ``d atan2(b, a) = Im(conj(z) dz) / |z|**2``), 0 at ``z == 0``; 0 for a
    real ``z`` (its angle is piecewise constant: 0 or pi)."""
    if not is_complex(z):
        return zeros_like(z)
    r2 = np.abs(z) ** 2
    d = -1j * np.conjugate(z) / np.where(r2 == 0, 1.0, r2)
    if deg:
        d = d * (180.0 / np.pi)
    return times(real_part(g), d[()])


def real_if_close_adjoint(g, ans, a):
    """The adjoint of ``a`` in ``np.real_if_close(a)``: as ``np.real`` where the result
    dropped the imaginary part, else the identity."""
    if is_complex(a) and not is_complex(ans):
        return real_part(g)
    return g
