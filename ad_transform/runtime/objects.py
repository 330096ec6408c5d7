"""Receivers of method calls and attribute reads: refusals where a method or attribute
adjoint would meet an object it was not written for (a user class, a class of another
library), and the adjoint of an attribute read on an object whose class is known only
when the code runs.
"""

from __future__ import annotations

import types
from collections import OrderedDict

import numpy as np

from ..errors import ADTransformError
from .values import Fields, Item, _is_zero


def method_of_class(obj, name: str) -> None:
    """Refuse, when it runs, ``obj.name(...)`` differentiated as the method of ``obj``'s
    class while ``obj`` has an attribute ``name`` of its own (which Python calls)."""
    if name in getattr(obj, "__dict__", ()):
        raise ADTransformError(
            f"cannot differentiate the call '.{name}(...)' on a {type(obj).__name__} object: "
            f"the object has its own attribute '{name}', which is called instead of the "
            "method of its class"
        )


# NumPy methods whose adjoint is also right for builtin containers' methods of the same
# name: ``x.copy()``'s adjoint is ``g`` (``copy_adjoint``) for a dict, a list or a set too.
_CONTAINER_RECEIVERS = {"ndarray.copy()": (dict, OrderedDict, list, set, frozenset)}


def array_receiver(receiver, method: str, where: str) -> None:
    """Refuse to apply the adjoint of a NumPy method or attribute (``method``) to an object
    that is not a number or NumPy's own (a method of a user class of the same name)."""
    if type(receiver) in _CONTAINER_RECEIVERS.get(method, ()):
        return
    if not isinstance(receiver, (np.ndarray, np.generic, int, float, complex)) and not (
        type(receiver).__module__.split(".")[0] == "numpy"  # SlogdetResult.logabsdet
    ):
        raise ADTransformError(
            f"{where}: {method} was chosen by name for a {type(receiver).__name__} object; "
            "its adjoint is NumPy's, and methods of other classes are not differentiated"
        )


def plain_operand(value, operation: str, where: str) -> None:
    """Refuse, when it runs, an operand of ``operation`` (differentiated by NumPy's rule)
    that is an array of another kind: a subclass of ``np.ndarray`` other than
    ``np.memmap`` (``np.matrix``'s ``*`` is a matrix product, a masked array's reductions
    skip masked elements), or an object of another array library (it defines
    ``__array_ufunc__``, ``__array_function__`` or ``__array_priority__``: SciPy's
    sparse matrices, pandas, PyTorch). Its arithmetic is not ndarray's, so NumPy's
    adjoint of ``operation`` would give wrong numbers. The operand carries no derivative
    (differentiated arguments are checked by the API): a global, an argument, a
    container's item or a call's result. Emitted by ``reverse.plain_operand_checks``
    before the statement, in the forward sweep, for operands of no known kind only.
    """
    cls = type(value)
    if cls is float or cls is np.ndarray or cls is int or cls is list or cls is tuple:
        return
    foreign = isinstance(value, np.ndarray) and cls is not np.memmap
    if not foreign and not isinstance(value, (np.ndarray, np.generic)):
        foreign = (
            hasattr(cls, "__array_ufunc__")
            or hasattr(cls, "__array_function__")
            or hasattr(cls, "__array_priority__")
        )
    if foreign:
        raise ADTransformError(
            f"{where}: {operation} is differentiated with NumPy's adjoint, but an operand is a "
            f"{cls.__module__}.{cls.__name__}, whose arithmetic is not ndarray's (np.matrix's "
            "* is a matrix product, a masked array's reductions skip masked elements): "
            "convert it with np.asarray (a masked array: .filled(value), a sparse matrix: "
            ".toarray()) before it meets differentiated values"
        )


# -- attributes of objects whose class is known only when the code runs -----------------


def attribute_of(x, name: str):
    """``x.name`` (never called: the forward sweep keeps the user's ``x.name``; the primal
    of an attribute read on an object whose class is not known, see
    ``attribute_adjoint``)."""
    return getattr(x, name)


def attribute_adjoint(g, x, name: str):
    """The adjoint of ``x`` in ``x.name`` for an object whose class was not known when the
    code was generated (a dataclass in a list of layers): a named tuple's field is its
    item, an attribute stored on the object gives ``Fields(name=g)``. Anything else (a
    property, another descriptor, ``__getattr__``, an array's attribute) is refused: its
    value was computed by code that was not differentiated."""
    if _is_zero(g):
        return 0.0
    cls = type(x)
    fields = getattr(cls, "_fields", None) if isinstance(x, tuple) else None
    if isinstance(fields, tuple) and name in fields:
        owner = next((c for c in cls.__mro__ if name in vars(c)), None)
        if owner is not None and "_make" in vars(owner) and "_fields" in vars(owner):
            return Item(fields.index(name), g, len(x))
    if _stored_attribute(x, cls, name):
        return Fields(**{name: g})
    raise ADTransformError(
        f"cannot differentiate the attribute read '.{name}' of a {cls.__name__} object: it "
        "is not a field of a named tuple nor an attribute stored on the object (a property, "
        "a method, a computed or a library attribute), so its derivative is not known"
    )


def _stored_attribute(x, cls: type, name: str) -> bool:
    """Whether ``x.name`` reads a value stored on ``x`` by Python's default lookup (the
    instance ``__dict__`` or a ``__slots__`` entry; no property or ``__getattr__``)."""
    if cls.__getattribute__ is not object.__getattribute__ or hasattr(cls, "__getattr__"):
        return False
    found = next((vars(c)[name] for c in cls.__mro__ if name in vars(c)), None)
    kind = type(found)
    if hasattr(kind, "__set__") or hasattr(kind, "__delete__"):  # a data descriptor wins
        return isinstance(found, types.MemberDescriptorType) and hasattr(x, name)  # a slot
    return name in getattr(x, "__dict__", {})
