"""Run-time check of the loop ``np.vectorize(f)(x)`` is lowered to."""

from __future__ import annotations

import numpy as np


def check_vectorized_outputs(outputs: list, construct: str) -> None:
    """Raise unless ``np.vectorize`` would make a float64 array of ``outputs``.

    Without ``otypes``, NumPy takes the output dtype from the first result (an int first
    result makes an int array that truncates the others, a bool one a bool array); the
    lowered loop stacks the results with ``np.array``, which agrees only when the first
    result is a float64 number and all others are real numbers."""
    from ..errors import ADTransformError

    if not outputs:
        raise ValueError("cannot call `vectorize` on size 0 inputs unless `otypes` is set")
    first = outputs[0]
    kinds = {np.asarray(output).dtype.kind for output in outputs}
    if np.asarray(first).dtype != np.float64 or np.ndim(first) or not kinds <= {"f", "i", "u", "b"}:
        raise ADTransformError(
            f"{construct}: the first result of the function is "
            f"{type(first).__name__} {first!r}, and NumPy's np.vectorize without otypes "
            "makes its output array of that type (the derivative of an int or bool array "
            "is zero, of other values undefined); return a float on every path, e.g. "
            "'0.0' instead of '0'"
        )
