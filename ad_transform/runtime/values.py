"""What adjoint values are: the sparse and container adjoints (``ListAdjoint``,
``DictAdjoint``, ``Item``, ``KeyItem``, ``Fields``) and the dtype and axis basics every
family of helpers uses (the float dtype of a result, a zero like a value).
"""

from __future__ import annotations

import numpy as np

from ..errors import ADTransformError


def _float_dtype(dtype: np.dtype) -> np.dtype:
    return dtype if np.issubdtype(dtype, np.inexact) else np.dtype(np.float64)


def own(x):
    """``x`` itself, or a copy if it is an array someone else may hold."""
    return x.copy() if isinstance(x, np.ndarray) else x


class ListAdjoint(list):
    """The adjoint of a list or tuple: one adjoint per element, added elementwise.

    ``+=`` adds in place (the backward sweep owns it); ``+`` makes a new one.
    """

    __slots__ = ()

    def __iadd__(self, other):
        if isinstance(other, Item):
            self[other.index] = _element_sum(self[other.index], other.value)
            return self
        if _is_zero(other):
            return self
        if len(other) != len(self):
            raise ValueError(f"adjoints of {len(self)} and {len(other)} elements do not add")
        for k, value in enumerate(other):
            self[k] = _element_sum(self[k], value)
        return self

    def __add__(self, other):
        return ListAdjoint(self).__iadd__(other)

    __radd__ = __add__


class DictAdjoint(dict):
    """The adjoint of a dict: the adjoint of each value under its key, added keywise.

    A key nothing has contributed to reads as zero; ``+=`` adds in place (the backward
    sweep owns it), ``+`` makes a new one. The gradient with respect to a dict (issue 13:
    dict parameters) is ``as_gradient`` of it, a plain dict with the argument's keys."""

    __slots__ = ()

    def __missing__(self, key):
        return 0.0

    def __iadd__(self, other):
        if isinstance(other, KeyItem):
            self[other.key] = self[other.key] + other.value
            return self
        if _is_zero(other):
            return self
        if not isinstance(other, dict):
            raise ValueError(f"cannot add the adjoint of a {type(other).__name__} to a dict's")
        for key, value in other.items():
            self[key] = self[key] + value
        return self

    def __add__(self, other):
        return DictAdjoint(self).__iadd__(other)

    __radd__ = __add__


class KeyItem:
    """A sparse dict adjoint: ``value`` under ``key`` (from ``d[key]``), zero elsewhere."""

    __slots__ = ("key", "value")

    def __init__(self, key, value) -> None:
        self.key, self.value = key, value

    def __getitem__(self, key):
        return self.value if key == self.key else 0.0

    def __add__(self, other):
        return DictAdjoint().__iadd__(self).__iadd__(other)

    __radd__ = __add__


class Fields:
    """The adjoint of an object of a user class: one adjoint per attribute read from it
    (``dp += Fields(x=dv)``); an attribute not in it has the adjoint 0.

    Only adding adjoints of the same kind (or a zero) and reading an attribute's adjoint
    (``dp['x']``) are defined: anything else means the object reached an operation that
    was differentiated as if it were a number or an array, which is refused loudly."""

    __slots__ = ("adjoints",)

    def __init__(self, **adjoints) -> None:
        self.adjoints = adjoints

    def __getitem__(self, name: str):
        return self.adjoints.get(name, 0.0)

    def __add__(self, other):
        if _is_zero(other):
            return self
        if not isinstance(other, Fields):
            raise _object_adjoint_error(other)
        adjoints = dict(self.adjoints)
        for name, value in other.adjoints.items():
            adjoints[name] = adjoints[name] + value if name in adjoints else value
        return Fields(**adjoints)

    __radd__ = __add__

    def __repr__(self) -> str:
        return "Fields(" + ", ".join(f"{k}={v!r}" for k, v in self.adjoints.items()) + ")"

    def _refuse(self, *args, **kwargs):
        raise _object_adjoint_error(self)

    __array__ = __array_ufunc__ = __array_function__ = _refuse
    __mul__ = __rmul__ = __sub__ = __rsub__ = __neg__ = __truediv__ = __matmul__ = _refuse
    __float__ = __len__ = __iter__ = _refuse


def plain_array(x):
    """``x`` as the adjoint helpers may compute with it: an exact ndarray, a number, a
    container. A memory map (``np.memmap``, whose arithmetic is ndarray's) becomes an
    ndarray view of its memory; another subclass of ``np.ndarray`` (``np.matrix``, a
    masked array, a user's) raises ``ADTransformError``: its arithmetic and reductions
    may not be ndarray's (a masked array's ``sum`` skips masked elements), and adjoints
    computed as for ndarrays would be wrong numbers. The API refuses such arguments;
    this catches them where they come from elsewhere (globals, container items, calls).
    """
    if type(x) is np.ndarray or not isinstance(x, np.ndarray):
        return x
    if type(x) is np.memmap:
        return x.view(np.ndarray)
    raise ADTransformError(
        f"a value the differentiated computation uses is a {type(x).__name__}, a subclass "
        "of np.ndarray whose arithmetic may not be ndarray's (np.matrix's * is a matrix "
        "product, a masked array's reductions skip masked elements): convert it with "
        "np.asarray (a masked array: .filled(value)) where it enters the function "
        "(a global, an item of a container, the result of a call)"
    )


def _object_adjoint_error(value) -> ADTransformError:
    return ADTransformError(
        "cannot differentiate this function: an object of a user class reached an operation "
        "that was differentiated as if it were a number or an array (its class was not "
        "known where it was used: an object returned by a helper, stored in a list, ...); "
        f"the adjoint met there was {type(value).__name__}"
    )


class Item:
    """A sparse list adjoint: ``value`` at ``index`` of ``length`` elements (from ``x[i]``)."""

    __slots__ = ("index", "length", "value")

    def __init__(self, index: int, value, length: int) -> None:
        self.index = index if index >= 0 else index + length
        self.value, self.length = value, length

    def __getitem__(self, k):
        return self.value if k == self.index or k + self.length == self.index else 0.0

    def __add__(self, other):
        return ListAdjoint([0.0] * self.length).__iadd__(self).__iadd__(other)

    __radd__ = __add__


def _element_sum(a, b):
    """The sum of two elements of list adjoints: a zero adds nothing, and two adjoints of
    lists (plain lists included: an element that is itself a pair) add elementwise, never
    by concatenation. None (an element without adjoint: a slice or a directive string of
    ``np.r_``, whose twin's adjoint gives it a zero) adds nothing."""
    if a is None or b is None:
        return b if a is None else a
    if isinstance(a, (list, tuple, dict, Item)) or isinstance(b, (list, tuple, dict, Item)):
        if _is_zero(a):
            return b
        if _is_zero(b):
            return a
        if isinstance(a, (list, tuple)):
            return ListAdjoint(a).__iadd__(b)
        if type(a) is dict:
            return DictAdjoint(a).__iadd__(b)
    return a + b


def _is_zero(value) -> bool:
    return isinstance(value, (int, float)) and value == 0


def _axes(axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, an int or a tuple) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int:
        return (axis % ndim,) if ndim else ()
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return tuple(sorted(int(a) % ndim for a in axes)) if ndim else ()


def _expand(value, axes: tuple[int, ...], keepdims: bool):
    """A reduction's result (or its adjoint) with the reduced ``axes`` put back as size 1."""
    return value if keepdims or not axes else np.expand_dims(value, axes)


def _dtype_of(*values) -> np.dtype:
    """The float dtype gradients of ``values`` are computed in (float32 stays float32).

    Python numbers are "weak", as in NumPy's own promotion: a float32 array with the
    bound ``0.5`` stays float32.
    """
    return _float_dtype(
        np.result_type(
            *[
                v if isinstance(v, (np.ndarray, np.generic, float, int)) else np.asarray(v)
                for v in values
            ]
        )
    )


def _scalar_like(d, x):
    """``d``, a NumPy scalar where ``x`` is a scalar and ``d`` a 0-d array."""
    if type(d) is np.ndarray and d.ndim == 0 and not isinstance(x, np.ndarray):
        return float(d) if type(x) is float else d[()]
    return d


def is_discrete(value) -> bool:
    """Whether ``value`` is an integer or boolean array (or NumPy scalar): what is stored
    into or converted to it is truncated, a piecewise-constant function (zero derivative)."""
    return isinstance(value, np.ndarray | np.generic) and value.dtype.kind in "biu"


def truncates(result, operand) -> bool:
    """Whether making the integer or boolean ``result`` from ``operand`` truncated it (a
    piecewise-constant function: zero derivative). An integer operand (an integer leaf of
    a container argument, differentiated as a float) is converted exactly: it keeps its
    derivative."""
    return is_discrete(result) and not integer_valued(operand)


def integer_valued(x) -> bool:
    """An integer or boolean number or array, or a list or tuple of them."""
    if isinstance(x, (int, np.integer, np.bool_)):
        return True
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "biu"
    if isinstance(x, (list, tuple)):
        return all(integer_valued(e) for e in x)
    return False


def refuse_complex(value, function: str) -> None:
    """Refuse, when it runs, the adjoint of ``function`` of a complex array: its rule is
    written for real values only (docs/conventions/complex.md lists those that are not)."""
    if isinstance(value, complex) or (
        isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind == "c"
    ):
        raise ADTransformError(
            f"cannot differentiate {function} of a complex array: its adjoint is defined "
            f"for real arrays only (see the complex-number convention in the README)"
        )
