"""Helpers of the plain code that makes ``hvp``, ``hessian``, ``jacfwd``/``jacrev``/
``jacobian`` and ``elementwise_grad`` differentiable (``higher_order_calls.py``): the
unit vectors its columns are taken along, and the checks that its argument and the
columns are numbers or float arrays (the layouts it writes are those of arrays)."""

from __future__ import annotations

import numpy as np

from ..errors import ADTransformError


def unit_vector(x, j: int):
    """The unit vector ``e_j`` shaped like ``x`` (flat index ``j``): ``1.0`` for a number,
    else an array of ``x``'s float precision (float64 for an integer array)."""
    if np.ndim(x) == 0:
        return 1.0
    dtype = x.dtype if isinstance(x, np.ndarray) and x.dtype.kind == "f" else np.float64
    e = np.zeros(np.shape(x), dtype=dtype)
    e.flat[j] = 1.0
    return e


def _is_array_like(value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind in "iuf"


def array_argument(x, what: str) -> None:
    """Refuse, when it runs, a differentiated argument of ``what`` (``hessian(f)``) that is
    not a real number or a non-empty real array."""
    if not _is_array_like(x) or np.size(x) == 0:
        raise ADTransformError(
            f"cannot differentiate {what} here: its differentiated argument is a "
            f"{type(x).__name__}{' of size 0' if _is_array_like(x) else ''}; inside a "
            "differentiated function its argument must be a real number or a non-empty "
            "real array (containers and complex values are not supported there)"
        )


def array_output(value, what: str) -> None:
    """Refuse, when it runs, a column (a tangent) of ``what`` that is not a real number or
    real array (a container output, complex values)."""
    if not _is_array_like(value):
        raise ADTransformError(
            f"cannot differentiate {what} here: its function returns a "
            f"{type(value).__name__}; inside a differentiated function its output must be a "
            "real number or a real array (containers and complex values are not supported "
            "there)"
        )
