"""Receivers of method calls: refusals where a method or attribute adjoint would meet an
object it was not written for (a user class, a class of another library).
"""

from __future__ import annotations

import numpy as np

from ..errors import ADTransformError


def method_of_class(obj, name: str) -> None:
    """Refuse, when it runs, ``obj.name(...)`` differentiated as the method of ``obj``'s
    class while ``obj`` has an attribute ``name`` of its own (which Python calls)."""
    if name in getattr(obj, "__dict__", ()):
        raise ADTransformError(
            f"cannot differentiate the call '.{name}(...)' on a {type(obj).__name__} object: "
            f"the object has its own attribute '{name}', which is called instead of the "
            "method of its class"
        )


def array_receiver(receiver, method: str, where: str) -> None:
    """Refuse to apply the adjoint of a NumPy method or attribute (``method``) to an object
    that is not a number or NumPy's own (a method of a user class of the same name)."""
    if not isinstance(receiver, (np.ndarray, np.generic, int, float, complex)) and not (
        type(receiver).__module__.split(".")[0] == "numpy"  # SlogdetResult.logabsdet
    ):
        raise ADTransformError(
            f"{where}: {method} was chosen by name for a {type(receiver).__name__} object; "
            "its adjoint is NumPy's, and methods of other classes are not differentiated"
        )
