"""Stage 7: the callables users get: ``grad``, ``value_and_grad``, ``vjp``."""

from __future__ import annotations

import functools
import inspect
import numbers
import types
from collections.abc import Callable

import numpy as np

from .callables import derivative_origin, mark_derivative_code
from .errors import ADTransformError
from .objects import TheClass, is_user_class
from .pipeline import GRAD, VALUE_AND_GRAD, VJP, Generated, generate
from .rules.registry import ARRAY, SCALAR, UNKNOWN

Wrt = int | tuple[int, ...]


def _kind_of_type(cls: type) -> str | None:
    if cls is float or cls is int or issubclass(cls, (np.floating, np.integer)):
        return SCALAR
    if issubclass(cls, np.ndarray):
        return ARRAY
    return UNKNOWN


class _Transformed:
    """Common machinery: argument checks, specialization by argument types, ``.source``."""

    mode: str
    ad_transform_derivative = "a derivative"  # what callables.derivative_origin reports

    def __init__(self, func: Callable, wrt: Wrt) -> None:
        if (
            isinstance(wrt, bool)
            or not isinstance(wrt, (int, tuple))
            or (isinstance(wrt, tuple) and not all(isinstance(i, int) for i in wrt))
        ):
            raise TypeError(f"wrt must be an argument index or a tuple of indices, not {wrt!r}")
        if not callable(func):
            raise TypeError(f"{type(self).__name__.lower()} expects a function, got {func!r}")
        # name, doc and __wrapped__ of func, but not its __dict__: attributes of func
        # (another grad object's own state, say) must not replace this object's
        functools.update_wrapper(self, func, updated=())
        self.func = func
        self.wrt = wrt
        self._positions = (wrt,) if isinstance(wrt, int) else tuple(wrt)
        # a bound method (``grad(model.loss)``): its function is differentiated with the
        # object as first argument; wrt counts the arguments the caller passes
        self._receiver, self._function, self._offset = (), func, 0
        if _is_bound_user_method(func):
            self._receiver, self._function, self._offset = (func.__self__,), func.__func__, 1
        if isinstance(wrt, tuple) and not wrt:
            raise ValueError("wrt=() asks for no gradient at all")
        if len(set(self._positions)) != len(self._positions):
            raise ValueError(f"wrt={wrt!r} names the same argument more than once")
        if min(self._positions) < 0:
            raise ValueError(f"wrt={wrt!r}: argument indices must not be negative")
        self._positions = tuple(p + self._offset for p in self._positions)
        self._wrt = wrt + self._offset if isinstance(wrt, int) else self._positions
        try:  # func's own parameters: a wrapper's, not those of what it wraps
            self._signature = inspect.signature(func, follow_wrapped=False)
        except (TypeError, ValueError):
            self._signature = None
        if self._signature is not None:
            self.__signature__ = self._signature
        self._specialized: dict[tuple, Generated] = {}
        # argument types -> (generated function, positions of arrays whose dtype to check):
        # the call path for keys that need no conversion and no staleness check
        self._fast: dict[tuple, tuple] = {}
        self._last: Generated | None = None

    def _bind(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """Arguments given by keyword that the gradient is taken for become positional."""
        if kwargs and self._signature is not None:
            try:
                bound = self._signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"{self.func.__name__}(): {exc}") from None
            return self._receiver + bound.args, bound.kwargs
        return self._receiver + args, kwargs

    def _prepare(self, args: tuple) -> tuple:
        """Check the differentiated arguments; integers are differentiated as floats."""
        if max(self._positions) >= len(args):
            given = len(args) - self._offset
            raise TypeError(
                f"{self.func.__name__}() is differentiated with respect to argument "
                f"{max(self._positions) - self._offset}, but only {given} positional "
                f"argument{'s were' if given != 1 else ' was'} given"
            )
        converted = None
        for i in self._positions:
            value = args[i]
            kind = type(value)
            if kind is float or (kind is np.ndarray and value.dtype.kind == "f"):
                continue
            replacement = _as_differentiable(value, i - self._offset, self.func)
            if replacement is not value:
                converted = converted or list(args)
                converted[i] = replacement
        return tuple(converted) if converted is not None else args

    def _generated(self, args: tuple) -> Generated:
        return self._generated_for_key(tuple(map(type, args)))

    def _generated_for_key(self, key: tuple) -> Generated:
        generated = self._specialized.get(key)
        if generated is None:
            kinds = tuple(_kind_of_type(t) for t in key)
            classes = tuple(
                t if kind == UNKNOWN and is_user_class(t) else None for t, kind in zip(key, kinds)
            )
            if self._receiver and isinstance(self._receiver[0], type):  # a classmethod
                classes = (TheClass(self._receiver[0]), *classes[1:])
            generated = generate(self._function, self._wrt, kinds, self.mode, classes)
            self._specialized[key] = generated
            self._remember_fast_path(key, generated)
        elif generated.dependencies and generated.is_stale():
            del self._specialized[key]
            self._fast.pop(key, None)
            return self._generated_for_key(key)
        self._last = generated
        return generated

    def _remember_fast_path(self, key: tuple, generated: Generated) -> None:
        """Calls with these argument types may skip the checks: floats need no conversion,
        arrays only a dtype check, and no user function it calls can be redefined."""
        if generated.dependencies:
            return
        arrays = []
        for i in self._positions:
            if key[i] is np.ndarray:
                arrays.append(i)
            elif not (key[i] is float or issubclass(key[i], np.floating)):
                return
        self._fast[key] = (generated.function, tuple(arrays), generated)

    @property
    def source(self) -> str:
        """The generated Python source, specialised for the argument types of the latest call.

        Before the first call it is specialised for the parameters' annotations
        (``float``, ``int``, ``np.ndarray``, NumPy scalar types) and, for a parameter
        without a usable annotation, for a Python float: the plain-arithmetic code a
        reader wants to see. :attr:`generic_source` is the code that works for any
        argument types, :meth:`source_for` the code for arguments like given ones.
        """
        if self._last is None:
            types_ = _default_argument_types(self._function, self._wrt)
            receiver = tuple(map(type, self._receiver))
            self._generated_for_key(receiver + types_[len(receiver) :])
        return self._last.source

    @property
    def generic_source(self) -> str:
        """The generated source that works for any argument types (arrays, scalars, lists)."""
        kinds = (UNKNOWN,) * _positional_count(self._function, self._wrt)
        return generate(
            self._function, self._wrt, kinds, self.mode, self._receiver_classes()
        ).source

    def _receiver_classes(self) -> tuple | None:
        """The class of the object a bound method is bound to (None for a function)."""
        if not self._receiver:
            return None
        receiver = self._receiver[0]
        if isinstance(receiver, type):
            return (TheClass(receiver),)
        return (type(receiver),) if is_user_class(type(receiver)) else None

    def source_for(self, *args) -> str:
        """The generated source specialised for arguments like ``args`` (nothing is run)."""
        return self._generated(self._prepare(self._receiver + args)).source

    def __repr__(self) -> str:
        return f"<{self.mode}({self.func.__qualname__}, wrt={self.wrt!r})>"

    def __get__(self, instance, owner=None):
        return self if instance is None else functools.partial(self, instance)


class GradientFunction(_Transformed):
    """``grad(f, wrt)``: call it like ``f`` to get the gradient."""

    mode = GRAD
    ad_transform_derivative = "grad"

    def __call__(self, *args, **kwargs):
        if self._receiver:
            return self._call(args, kwargs)
        entry = self._fast.get(tuple(map(type, args)))
        if entry is not None and not kwargs:
            function, arrays, self._last = entry
            if not arrays or all(args[i].dtype.kind == "f" for i in arrays):
                return function(*args)
        return self._call(args, kwargs)

    def _call(self, args: tuple, kwargs: dict):
        args, kwargs = self._bind(args, kwargs)
        args = self._prepare(args)
        return self._generated(args).function(*args, **kwargs)


class ValueAndGradientFunction(GradientFunction):
    """``value_and_grad(f, wrt)``: call it like ``f`` to get ``(value, gradient)``."""

    mode = VALUE_AND_GRAD
    ad_transform_derivative = "value_and_grad"


class VJPFunction(_Transformed):
    """``vjp(f, wrt)``: call it like ``f`` to get ``(value, pullback)``."""

    mode = VJP
    ad_transform_derivative = "vjp"

    def __call__(self, *args, **kwargs):
        args, kwargs = self._bind(args, kwargs)
        args = self._prepare(args)
        generated = self._generated(args)
        # the pullback differentiates at the point of this call: later changes the caller
        # makes to its arrays must not reach the values the forward sweep saved
        args = tuple(a.copy() if type(a) is np.ndarray else a for a in args)
        value, saved = generated.function(*args, **kwargs)
        if value is None or isinstance(value, (str, bytes, bool)):
            raise ADTransformError(
                f"vjp needs a function with a numeric output, but {self.func.__name__} returned "
                f"{type(value).__name__} {value!r:.60}"
            )
        backward = generated.functions[generated.backward]
        if isinstance(value, np.ndarray) and any(v is value for v in saved):
            value = value.copy()  # the caller may change it; the pullback must not see that

        def pullback(cotangent):
            """Input cotangents (``J^T v``) for the output cotangent ``v``."""
            _check_cotangent(cotangent, value)
            if isinstance(cotangent, np.ndarray) and cotangent.ndim == 0:
                cotangent = cotangent[()]  # an immutable scalar: never written in place
            return backward(saved, cotangent)

        return value, pullback


mark_derivative_code(VJPFunction.__call__, "pullback")


def grad(func: Callable | None = None, *, wrt: Wrt = 0):
    """The gradient of a scalar-valued ``func`` with respect to argument(s) ``wrt``.

    Usable as ``grad(f)``, ``grad(f, wrt=(0, 1))``, ``@grad`` or ``@grad(wrt=1)``. An
    integer ``wrt`` gives one gradient, a tuple gives a tuple of gradients. The code is
    generated at the first call and cached; ``.source`` shows it.
    """
    if func is None:
        return lambda f: GradientFunction(f, wrt)
    return GradientFunction(func, wrt)


def value_and_grad(func: Callable | None = None, *, wrt: Wrt = 0):
    """Like :func:`grad`, returning ``(value, gradient)`` from one forward sweep."""
    if func is None:
        return lambda f: ValueAndGradientFunction(f, wrt)
    return ValueAndGradientFunction(func, wrt)


def vjp(func: Callable | None = None, *, wrt: Wrt = 0):
    """Split-mode reverse mode: ``vjp(f)(*args)`` returns ``(value, pullback)``.

    The forward sweep runs once; ``pullback(v)`` maps a cotangent ``v`` shaped like the
    value to the cotangents of the ``wrt`` arguments, and can be called several times.
    """
    if func is None:
        return lambda f: VJPFunction(f, wrt)
    return VJPFunction(func, wrt)


def _as_differentiable(value, position: int, func):
    if isinstance(value, bool) or (isinstance(value, np.ndarray) and value.dtype.kind == "b"):
        raise TypeError(
            f"argument {position} of {func.__name__} is boolean; booleans cannot be differentiated"
        )
    if isinstance(value, numbers.Integral):
        return float(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
        return value.astype(np.float64)
    if isinstance(value, (float, np.floating)) or (
        isinstance(value, np.ndarray) and value.dtype.kind == "f"
    ):
        return value
    raise TypeError(
        f"argument {position} of {func.__name__} must be a real number or a float ndarray "
        f"to be differentiated, not {type(value).__name__}"
        + (f" of dtype {value.dtype}" if isinstance(value, np.ndarray) else "")
    )


def _check_cotangent(cotangent, value) -> None:
    if np.shape(cotangent) != np.shape(value):
        raise ValueError(
            f"the cotangent has shape {np.shape(cotangent)} but the function's "
            f"value has shape {np.shape(value)}"
        )


_ANNOTATION_TYPES = {
    "float": float,
    "int": int,
    "np.ndarray": np.ndarray,
    "numpy.ndarray": np.ndarray,
    "ndarray": np.ndarray,
}


def _default_argument_types(func, wrt: Wrt = 0) -> tuple:
    """The argument types ``.source`` shows code for before any call: each positional
    parameter's annotation where it names a number or array type, else ``float`` (also
    for the arguments ``wrt`` names among ``*args``)."""
    count = _positional_count(func, wrt)
    try:
        parameters = list(inspect.signature(func, follow_wrapped=False).parameters.values())
    except (TypeError, ValueError):
        return (float,) * count
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    types_ = [_annotation_type(p.annotation, func) for p in parameters if p.kind in positional]
    return tuple(types_ + [float] * (count - len(types_)))


def _annotation_type(annotation, func) -> type:
    """``float`` for a missing or unknown annotation; the type an annotation names otherwise
    (``"np.ndarray"`` strings of ``from __future__ import annotations`` included)."""
    if isinstance(annotation, str):
        text = annotation.replace(" ", "").strip("'\"")  # '"x"' under future annotations
        if text in _ANNOTATION_TYPES:
            return _ANNOTATION_TYPES[text]
        head = text.split("[", 1)[0]  # NDArray[np.float64], npt.NDArray[...]
        if head.endswith("NDArray"):
            return np.ndarray
        scalar = (
            getattr(np, text.rsplit(".", 1)[-1], None)
            if text.startswith(("np.", "numpy."))
            else None
        )
        annotation = scalar if isinstance(scalar, type) else inspect.Parameter.empty
    origin = getattr(annotation, "__origin__", None)
    if origin is np.ndarray:  # numpy.typing.NDArray[...]
        return np.ndarray
    if isinstance(annotation, type) and _kind_of_type(annotation) != UNKNOWN:
        return annotation if annotation is not bool else float
    return float


def _is_bound_user_method(func) -> bool:
    """A method bound to an object or class (``model.loss``, ``Model.create`` of a
    classmethod) whose function is a plain ``def``; derivatives are not."""
    return (
        isinstance(func, types.MethodType)
        and isinstance(func.__func__, types.FunctionType)
        and derivative_origin(func) is None
    )


def _positional_count(func, wrt: Wrt = 0) -> int:
    """How many positional arguments ``.source`` assumes before any call: the parameters,
    and with ``*args`` as many more as ``wrt`` names (the spread of lower/signature.py)."""
    code = getattr(func, "__code__", None)
    if code is None:
        return 0
    if code.co_flags & inspect.CO_VARARGS:
        positions = (wrt,) if isinstance(wrt, int) else tuple(wrt)
        return max(code.co_argcount, max(positions, default=-1) + 1)
    return code.co_argcount


__all__ = ["ADTransformError", "grad", "value_and_grad", "vjp"]


for _transform in (grad, value_and_grad, vjp):
    _transform.ad_transform_transform = _transform.__name__  # callables.is_transform
