"""Stage 7: the callables users get: ``grad``, ``value_and_grad``, ``vjp``."""

from __future__ import annotations

import functools
import inspect
import numbers
import operator
import types
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from . import leaf_kinds, pytree, runtime
from .callables import derivative_origin, mark_derivative_code
from .errors import ADTransformError
from .runtime import ListAdjoint
from .value_kinds import ARRAY, DICT, GRAD, SCALAR, SEQUENCE, UNKNOWN, VALUE_AND_GRAD, VJP

if TYPE_CHECKING:
    from .pipeline import Generated

# The pipeline (parse ... emit, the rules) is imported at the first transformation, not
# here: ``import ad_transform`` stays cheap (architecture.md, "Import time"). The paths
# that import it below are those that transform; the fast call path imports nothing.

Wrt = int | str | tuple[int | str, ...] | list[int | str]


def _is_object_class(cls: type) -> bool:
    """A user class whose objects the analysis knows by class (its methods and fields); a
    dict subclass that reads its items as ``dict`` does is a dict instead."""
    from .user_classes import is_user_class

    return is_user_class(cls) and not (issubclass(cls, dict) and pytree.reads_like_dict(cls))


class _Shapes(tuple):
    """The last entry of a specialisation key with array arguments: their shape facts
    (``shapes.argument_shapes``), so that code is generated per rank, dtype and unit axes."""


def _call_key(args: tuple) -> tuple:
    """The specialisation key of a call: the argument types and, where an argument is an
    ndarray, the arguments' shape facts."""
    key = tuple(map(type, args))
    if np.ndarray in key:
        from .shapes import argument_shapes

        return (*key, _Shapes(argument_shapes(args)))
    return key


_ndarray = np.ndarray


def _exact_key(args: tuple) -> tuple:
    """The key of the fast call path: the argument types, and for each ndarray its dtype
    and shape instead of its type. It determines ``_call_key`` (which keeps of a shape
    only the rank and the axes of length 1) and is cheaper to build: no per-argument
    function call, no strings. One entry per shape seen, so the table is bounded
    (``_FAST_ENTRIES``)."""
    key = tuple(map(type, args))
    if _ndarray in key:
        return tuple([(a.dtype, a.shape) if type(a) is _ndarray else type(a) for a in args])
    return key


_FAST_ENTRIES = 256  # exact keys remembered per derivative before the table starts again


def _is_numpy_number_type(cls: type) -> bool:
    """NumPy's own real scalar types (``np.float64``, ``np.int32``, ...), not a subclass
    of the user's: its arithmetic may be any code, which plain-number code would skip."""
    return issubclass(cls, (np.floating, np.integer)) and cls.__module__ == "numpy"


# An ndarray subclass is no ARRAY: np.matrix's ``*`` is a matrix product, a masked
# array's arithmetic skips masked elements, a user's subclass may define its operators,
# and the runtime helpers' fast paths want exact ndarrays; array code would take them for
# ndarray's. They are objects (refused where their operators would be differentiated;
# ``np.asarray(x)`` first is the way).


def _annotated_shape(cls: type) -> object:
    """The shape facts ``.source`` shows an annotated parameter with: an ``np.ndarray``
    annotation names no rank, and is shown as a 1-D float64 array."""
    from .shapes import argument_shapes

    return argument_shapes((np.zeros(2),))[0] if cls is np.ndarray else None


def _kind_of_type(cls: type) -> str | None:
    if cls is float or cls is int or _is_numpy_number_type(cls):
        return SCALAR
    if cls is np.ndarray:
        return ARRAY
    if cls is dict or cls is OrderedDict:  # iterating gives keys; d.copy() is a dict
        return DICT
    if cls is list or cls is tuple:  # NumPy converts it; + joins, * repeats
        return SEQUENCE
    return UNKNOWN


class _Transformed:
    """Common machinery: argument checks, specialization by argument types, ``.source``."""

    mode: str
    ad_transform_derivative = "a derivative"  # what callables.derivative_origin reports

    def __init__(
        self, func: Callable, wrt: Wrt, has_aux: bool = False, compile: str | None = None
    ) -> None:
        if not callable(func):
            raise TypeError(f"{self.ad_transform_derivative} expects a function, got {func!r}")
        self.compile = _compile_option(compile, has_aux)
        typed = list(wrt) if isinstance(wrt, list) else wrt  # as the caller wrote it
        wrt = _wrt_indices(func, wrt)
        self.has_aux = bool(has_aux)
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
            raise ValueError(f"wrt={typed!r} asks for no gradient at all")
        if len(set(self._positions)) != len(self._positions):
            raise ValueError(
                f"wrt={typed!r} names the same argument more than once (as positions: {wrt!r})"
            )
        if min(self._positions) < 0:
            raise ValueError(f"wrt={typed!r}: argument indices must not be negative")
        self._positions = tuple(p + self._offset for p in self._positions)
        self._wrt = wrt + self._offset if isinstance(wrt, int) else self._positions
        try:  # func's own parameters: a wrapper's, not those of what it wraps
            self._signature = inspect.signature(func, follow_wrapped=False)
        except (TypeError, ValueError):
            self._signature = None
        if self._signature is not None:
            self.__signature__ = self._signature
        self._specialized: dict[tuple, Generated] = {}
        # specialisation key -> (generated function, Generated, whether to check its
        # staleness), for the keys whose calls need no conversion: see _remember_fast_path
        self._fast_entries: dict[tuple, tuple] = {}
        # ``_exact_key`` of a call seen -> its entry of _fast_entries: the fast call path
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
        for i, value in enumerate(args):  # a memory map computes as an ndarray view
            if type(value) is np.memmap:
                converted = converted or list(args)
                converted[i] = value.view(np.ndarray)
        if converted is not None:
            args, converted = tuple(converted), None
        for i in self._positions:
            value = args[i]
            kind = type(value)
            if kind is float or (kind is np.ndarray and value.dtype.kind == "f"):
                continue
            if value is not None and pytree.is_node(value):
                replacement = _as_differentiable_tree(value, i - self._offset, self.func)
            else:
                replacement = _as_differentiable(value, i - self._offset, self.func)
            if replacement is not value:
                converted = converted or list(args)
                converted[i] = replacement
        return tuple(converted) if converted is not None else args

    def _generated(self, args: tuple) -> Generated:
        return self._generated_for_key(self._key(args))

    def _key(self, args: tuple) -> tuple:
        """The argument types, then the ``LeafKinds`` of container arguments with leaves
        that are never differentiated (booleans, integers, strings...), then the shape
        facts of array arguments: each only where there are any."""
        key = _call_key(args)
        facts = leaf_kinds.argument_facts(args, self._positions)
        if facts is None:
            return key
        if key and type(key[-1]) is _Shapes:
            return (*key[:-1], facts, key[-1])
        return (*key, facts)

    def _generated_for_key(self, key: tuple) -> Generated:
        generated = self._specialized.get(key)
        if generated is None:
            from .higher_order import differentiable_target
            from .pipeline import generate
            from .user_classes import TheClass

            types_, facts, shapes = _split_key(key)
            kinds = tuple(_kind_of_type(t) for t in types_)
            classes = tuple(
                t if kind == UNKNOWN and _is_object_class(t) else None
                for t, kind in zip(types_, kinds)
            )
            if self._receiver and isinstance(self._receiver[0], type):  # a classmethod
                classes = (TheClass(self._receiver[0]), *classes[1:])
            target = differentiable_target(self._function, kinds, shapes)
            generated = generate(
                target, self._wrt, kinds, self.mode, classes, facts, shapes, self.compile
            )
            self._specialized[key] = generated
            self._remember_fast_path(key, generated)
        elif generated.dependencies and generated.is_stale():
            del self._specialized[key]
            self._fast_entries.pop(key, None)
            self._fast.clear()  # exact keys of the stale code
            return self._generated_for_key(key)
        self._last = generated
        return generated

    def _remember_fast_path(self, key: tuple, generated: Generated) -> None:
        """Calls with these argument types may skip the checks: floats and float arrays
        need no conversion, and no user function it calls can be redefined. Numbers it
        read from globals (``kinds.NumberGuard``) are checked (``Generated.is_stale``)."""
        from .kinds import NumberGuard

        numbers_only = all(
            isinstance(obj, NumberGuard) or (self.compile and _is_number(obj))
            for _, _, obj in generated.dependencies
        )
        # compiled code froze every name it resolved: a check of them all is cheaper than
        # the general path, which makes the same check
        if not (numbers_only or self.compile) or self.has_aux:
            return
        shapes = key[-1] if key and type(key[-1]) is _Shapes else ()
        for i in self._positions:
            if key[i] is np.ndarray:  # its dtype is in the key: a float one needs no conversion
                if not (shapes and np.dtype(shapes[i][0]).kind == "f"):
                    return
            elif not (key[i] is float or issubclass(key[i], np.floating)):
                return
        checked = bool(generated.dependencies)
        self._fast_entries[key] = (generated.function, generated, checked)

    def _remember_exact_key(self, args: tuple, key: tuple) -> None:
        """``args`` (as the caller gave them: positional, no conversion made) took the
        general path to the code of ``key``: later calls with the same ``_exact_key`` go
        straight to it, if its key allows the fast path."""
        entry = self._fast_entries.get(key)
        if entry is None or dict in map(type, args):
            return  # a dict's leaves are in the key (dict_leaf_facts.py), not in _exact_key
        if len(self._fast) >= _FAST_ENTRIES:
            self._fast.clear()
        self._fast[_exact_key(args)] = entry

    @property
    def source(self) -> str:
        """The generated Python source, specialised for the argument types of the latest call.

        Before the first call it is specialised for the parameters' annotations
        (``float``, ``int``, ``np.ndarray``, NumPy scalar types) and, for a parameter
        without a usable annotation, for a Python float: the plain-arithmetic code a
        reader wants to see; an ``np.ndarray`` annotation is shown as a 1-D float64
        array (code is specialised per rank, and an annotation names none).
        :attr:`generic_source` is the code that works for any argument types,
        :meth:`source_for` the code for arguments like given ones.
        """
        if self._last is None:
            types_ = _default_argument_types(self._function, self._wrt)
            receiver = tuple(map(type, self._receiver))
            key = receiver + types_[len(receiver) :]
            if np.ndarray in key:
                key = (*key, _Shapes(map(_annotated_shape, key)))
            self._generated_for_key(("aux", *key) if self.has_aux else key)
        return self._last.source

    @property
    def generic_source(self) -> str:
        """The generated source that works for any argument types (arrays, scalars, lists)."""
        from .pipeline import generate

        kinds = (UNKNOWN,) * _positional_count(self._function, self._wrt)
        mode = VJP if self.has_aux else self.mode
        classes = self._receiver_classes()
        return generate(
            self._function, self._wrt, kinds, mode, classes, compile=self.compile
        ).source

    def _receiver_classes(self) -> tuple | None:
        """The class of the object a bound method is bound to (None for a function)."""
        if not self._receiver:
            return None
        from .user_classes import TheClass, is_user_class

        receiver = self._receiver[0]
        if isinstance(receiver, type):
            return (TheClass(receiver),)
        return (type(receiver),) if is_user_class(type(receiver)) else None

    def source_for(self, *args) -> str:
        """The generated source specialised for arguments like ``args`` (nothing is run)."""
        return self._generated(self._prepare(self._receiver + args)).source

    def __repr__(self) -> str:
        aux = ", has_aux=True" if self.has_aux else ""
        return f"<{self.mode}({self.func.__qualname__}, wrt={self.wrt!r}{aux})>"

    def _containers(self, args: tuple) -> tuple[int, ...]:
        """The positions of differentiated arguments that are containers (pytree nodes)."""
        return tuple(i for i in self._positions if args[i] is not None and pytree.is_node(args[i]))

    def _shaped_gradients(self, gradients, args: tuple, containers: tuple[int, ...]):
        """The generated code's gradients with each container argument's gradient given
        that argument's structure and types (``pytree.gradient_like``)."""
        if not containers:
            return gradients
        single = isinstance(self.wrt, (int, str))
        found = [gradients] if single else list(gradients)
        for k, i in enumerate(self._positions):
            if i in containers:
                what = f"argument {i - self._offset}"
                found[k] = pytree.gradient_like(found[k], args[i], "", what)
        return found[0] if single else tuple(found)

    def __get__(self, instance, owner=None):
        return self if instance is None else functools.partial(self, instance)


class GradientFunction(_Transformed):
    """``grad(f, wrt)``: call it like ``f`` to get the gradient."""

    mode = GRAD
    ad_transform_derivative = "grad"

    def __call__(self, *args, **kwargs):
        if not kwargs and not self._receiver:  # the fast path: the code for these exact
            # argument types, dtypes and shapes (``_remember_exact_key``); _exact_key inline
            key = tuple(map(type, args))
            if _ndarray in key:
                key = tuple([(a.dtype, a.shape) if type(a) is _ndarray else type(a) for a in args])
            entry = self._fast.get(key)
            if entry is not None:
                function, self._last, checked = entry
                if not checked or not self._last.is_stale():
                    return function(*args)
        return self._call(args, kwargs)

    def _call(self, args: tuple, kwargs: dict):
        given = args
        args, kwargs = self._bind(args, kwargs)
        args = self._prepare(args)
        containers = self._containers(args)
        if self.has_aux:
            return self._call_with_aux(args, kwargs, containers)
        key = self._key(args)
        generated = self._generated_for_key(key)
        if args is given and not kwargs:  # no receiver, nothing converted
            self._remember_exact_key(given, key)
        result = generated.function(*args, **kwargs)
        if not containers:
            return result
        if self.mode == VALUE_AND_GRAD:
            value, gradients = result
            return value, self._shaped_gradients(gradients, args, containers)
        return self._shaped_gradients(result, args, containers)

    def _call_with_aux(self, args: tuple, kwargs: dict, containers: tuple[int, ...]):
        """``f`` returns ``(output, aux)``: the split-mode code of ``f`` pulls back the
        seed of ``output`` and a zero for ``aux``, which is returned as it is."""
        output, aux, backward, saved = _run_forward_with_aux(self, args, kwargs)
        seed = runtime.seed(output)
        gradients = backward(saved, ListAdjoint([seed, 0.0]))
        gradients = self._shaped_gradients(gradients, args, containers)
        if self.mode == VALUE_AND_GRAD:
            return (output, aux), gradients
        return gradients, aux

    def _generated(self, args: tuple) -> Generated:
        if self.has_aux:  # the forward and backward sweeps of f, as for vjp
            return self._generated_for_key(("aux", *self._key(args)))
        return super()._generated(args)

    def _generated_for_key(self, key: tuple) -> Generated:
        if key[:1] != ("aux",):
            return super()._generated_for_key(key)
        generated = self._specialized.get(key)
        if generated is None or (generated.dependencies and generated.is_stale()):
            from .pipeline import generate

            types_, facts, shapes = _split_key(key[1:])
            kinds = tuple(_kind_of_type(t) for t in types_)
            classes = tuple(
                t if kind == UNKNOWN and _is_object_class(t) else None
                for t, kind in zip(types_, kinds)
            )
            generated = generate(self._function, self._wrt, kinds, VJP, classes, facts, shapes)
            self._specialized[key] = generated
        self._last = generated
        return generated


class ValueAndGradientFunction(GradientFunction):
    """``value_and_grad(f, wrt)``: call it like ``f`` to get ``(value, gradient)``."""

    mode = VALUE_AND_GRAD
    ad_transform_derivative = "value_and_grad"


def _split_key(key: tuple) -> tuple[tuple, tuple | None, tuple | None]:
    """A cache key's argument types, the facts of its container arguments' leaves and the
    shape facts of its array arguments (None where the key has none)."""
    shapes = facts = None
    if key and type(key[-1]) is _Shapes:
        key, shapes = key[:-1], tuple(key[-1])
    if key and isinstance(key[-1], leaf_kinds.LeafKinds):
        key, facts = key[:-1], key[-1].per_argument
    return key, facts, shapes


def _run_forward_with_aux(transformed: _Transformed, args: tuple, kwargs: dict) -> tuple:
    """Run the forward sweep of a ``has_aux`` function: ``(output, aux, backward, saved)``;
    an error unless it returned a pair."""
    generated = transformed._generated(args)
    args = _copied_arguments(args)
    value, saved = generated.function(*args, **kwargs)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ADTransformError(
            f"{transformed.func.__name__} is differentiated with has_aux=True, so it must return "
            f"a pair (output, aux), but it returned {type(value).__name__} {value!r:.60}"
        )
    backward = generated.functions[generated.backward]
    return value[0], value[1], backward, saved


def _copied_arguments(args: tuple) -> tuple:
    """Arrays among ``args`` (also inside containers) copied: the pullback differentiates
    at the point of the call, whatever the caller later changes in its arrays."""
    return tuple(
        a.copy()
        if type(a) is np.ndarray
        else pytree.map_with_path(_copy_array, a)
        if pytree.is_node(a)
        else a
        for a in args
    )


def _copy_array(path: str, leaf):
    return leaf.copy() if type(leaf) is np.ndarray else leaf


class VJPFunction(_Transformed):
    """``vjp(f, wrt)``: call it like ``f`` to get ``(value, pullback)``."""

    mode = VJP
    ad_transform_derivative = "vjp"

    def __call__(self, *args, **kwargs):
        args, kwargs = self._bind(args, kwargs)
        args = self._prepare(args)
        containers = self._containers(args)
        if self.has_aux:
            value, aux, backward, saved = _run_forward_with_aux(self, args, kwargs)
            generated = self._last
        else:
            generated = self._generated(args)
            # the pullback differentiates at the point of this call: later changes the
            # caller makes to its arrays must not reach the values the forward sweep saved
            value, saved = generated.function(*_copied_arguments(args), **kwargs)
            backward = generated.functions[generated.backward]
        bindings = generated.bindings_now() if generated.dependencies else ()
        if value is None or isinstance(value, (str, bytes, bool)):
            raise ADTransformError(
                f"vjp needs a function with a numeric output, but {self.func.__name__} returned "
                f"{type(value).__name__} {value!r:.60}"
            )
        if isinstance(value, np.ndarray) and any(v is value for v in saved):
            value = value.copy()  # the caller may change it; the pullback must not see that
        elif pytree.is_node(value):  # its arrays may be saved values too
            value = _copied_arguments((value,))[0]
        if self.has_aux:
            aux = _copied_arguments((aux,))[0]
        shaped, has_aux, func_name = self._shaped_gradients, self.has_aux, self.func.__name__

        def pullback(cotangent):
            """Input cotangents (``J^T v``) for the output cotangent ``v``."""
            _check_cotangent(cotangent, value)
            if bindings:
                _refuse_rebound(generated, bindings, func_name)
            if pytree.is_node(value):
                cotangent = pytree.adjoint_of(cotangent, value)
            elif isinstance(cotangent, np.ndarray) and cotangent.ndim == 0:
                cotangent = cotangent[()]  # an immutable scalar: never written in place
            if has_aux:  # f returned (output, aux): aux's cotangent is zero
                cotangent = ListAdjoint([cotangent, 0.0])
            return shaped(backward(saved, cotangent), args, containers)

        if self.has_aux:
            return value, pullback, aux
        return value, pullback


mark_derivative_code(VJPFunction.__call__, "pullback")


def _refuse_rebound(generated: Generated, bindings: tuple, func_name: str) -> None:
    """A pullback whose backward sweep would read a global (a number, a user function)
    rebound since its forward sweep ran: it would differentiate another function."""
    name = generated.rebound_since(bindings)
    if name is not None:
        raise ADTransformError(
            f"the pullback of {func_name} reads '{name}' when it runs, and '{name}' was "
            "rebound after the forward sweep (the vjp call): call vjp again for the new "
            "value (the pullback would mix the two)"
        )


def grad(
    func: Callable | None = None,
    wrt: Wrt | None = None,
    *,
    argnums: Wrt | None = None,
    has_aux: bool = False,
    compile: str | None = None,
):
    """The gradient of a scalar-valued ``func`` with respect to argument(s) ``wrt``.

    Usable as ``grad(f)``, ``grad(f, 1)``, ``grad(f, wrt=(0, 1))``, ``@grad`` or
    ``@grad(wrt=1)``. An integer ``wrt`` (or a parameter name, ``wrt="params"``) gives one
    gradient, a tuple or list gives a tuple of gradients; ``argnums`` is another name for
    ``wrt``. A differentiated argument may be a container (dict, list, tuple, named tuple,
    dataclass, registered type) of floats and float arrays: its gradient has the same
    structure. With ``has_aux=True``, ``func`` returns ``(output, aux)`` and the call
    returns ``(gradient, aux)``. The code is generated at the first call and cached;
    ``.source`` shows it. With ``compile="numba"`` the same code (its Numba variant: one
    typed tape per value saved) is compiled by ``numba.njit`` at the first call, for
    that call's argument types (the ``numba`` extra; see the README's "Compiled
    gradients").
    """
    return _make_transformed(GradientFunction, func, wrt, argnums, has_aux, compile)


def value_and_grad(
    func: Callable | None = None,
    wrt: Wrt | None = None,
    *,
    argnums: Wrt | None = None,
    has_aux: bool = False,
    compile: str | None = None,
):
    """Like :func:`grad`, returning ``(value, gradient)`` from one forward sweep (with
    ``has_aux=True``: ``((value, aux), gradient)``)."""
    return _make_transformed(ValueAndGradientFunction, func, wrt, argnums, has_aux, compile)


def vjp(
    func: Callable | None = None,
    wrt: Wrt | None = None,
    *,
    argnums: Wrt | None = None,
    has_aux: bool = False,
    compile: str | None = None,
):
    """Split-mode reverse mode: ``vjp(f)(*args)`` returns ``(value, pullback)``.

    The forward sweep runs once; ``pullback(v)`` maps a cotangent ``v`` shaped like the
    value (a container of the same structure for a container value) to the cotangents of
    the ``wrt`` arguments, and can be called several times. With ``has_aux=True``,
    ``func`` returns ``(output, aux)`` and the call returns ``(output, pullback, aux)``.
    ``compile="numba"``: both sweeps compiled by Numba, as for :func:`grad`.
    """
    return _make_transformed(VJPFunction, func, wrt, argnums, has_aux, compile)


def _compile_option(compile: str | None, has_aux: bool) -> str | None:
    """``compile=None`` (the Python code) or ``"numba"`` (Numba must be installed)."""
    if compile is None:
        return None
    if compile != "numba":
        raise ValueError(f"compile={compile!r}: the choices are None and 'numba'")
    if has_aux:
        raise ValueError("compile='numba' does not support has_aux=True yet")
    from .numba_compile import require_numba

    require_numba()
    return compile


def _is_number(obj) -> bool:
    """A number compiled code depends on (Numba froze the global holding it)."""
    return type(obj) in (float, int, bool)


def _make_transformed(kind: type, func, wrt, argnums, has_aux: bool, compile: str | None = None):
    if wrt is not None and argnums is not None:
        raise TypeError("give wrt or argnums (another name for it), not both")
    wrt = argnums if wrt is None else wrt
    wrt = 0 if wrt is None else wrt
    if func is None:
        return lambda f: kind(f, wrt, has_aux, compile)
    if not callable(func) and _is_wrt_like(func):
        raise TypeError(
            f"{kind.ad_transform_derivative} got {func!r} where the function goes; write "
            f"{kind.ad_transform_derivative}(f, wrt={func!r}) or "
            f"@{kind.ad_transform_derivative}(wrt={func!r})"
        )
    return kind(func, wrt, has_aux, compile)


def _is_wrt_like(value) -> bool:
    return _is_wrt_item(value) or (
        isinstance(value, (tuple, list)) and all(_is_wrt_item(v) for v in value)
    )


def _is_wrt_item(value) -> bool:
    """A parameter name, or an argument index: an int or anything ``operator.index``
    accepts (``np.int64``), not a bool."""
    if isinstance(value, str):
        return True
    if isinstance(value, (bool, np.bool_)):
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def _wrt_indices(func: Callable, wrt) -> Wrt:
    """``wrt`` as an index or a tuple of indices: a list becomes a tuple, a parameter name
    its position among ``func``'s positional parameters, an ``np.int64`` an int."""
    single = _is_wrt_item(wrt)
    items = [wrt] if single else list(wrt) if isinstance(wrt, (tuple, list)) else None
    if items is None or not all(_is_wrt_item(i) for i in items):
        raise TypeError(
            "wrt must be an argument index, a parameter name, or a tuple or list of them, "
            f"not {wrt!r}"
        )
    indices = tuple(
        _parameter_index(func, i) if isinstance(i, str) else operator.index(i) for i in items
    )
    return indices[0] if single else indices


def _parameter_index(func: Callable, name: str) -> int:
    """The position of the positional parameter ``name`` of ``func`` (for ``wrt="name"``)."""
    try:
        parameters = list(inspect.signature(func, follow_wrapped=False).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [p.name for p in parameters if p.kind in positional]
    if name not in names:
        raise TypeError(
            f"wrt={name!r}: {getattr(func, '__qualname__', func)!r} has no positional "
            f"parameter of that name (its positional parameters: {', '.join(names) or 'none'})"
        )
    return names.index(name)


def _as_plain_array(value: np.ndarray, position, func) -> np.ndarray:
    """A differentiated argument of a subclass of ``np.ndarray``: a memory map
    (``np.memmap``, whose arithmetic is ndarray's) becomes an ndarray view of the same
    memory; another subclass is refused, as its arithmetic may not be ndarray's and the
    generated code would compute with it as if it were (wrong numbers, not an error).
    Arguments that are not differentiated are checked where they meet differentiated
    values (``runtime.plain_operand``).

    Raises ``ADTransformError`` naming the argument and its class."""
    if type(value) is np.memmap:
        return value.view(np.ndarray)
    raise ADTransformError(
        f"argument {position} of {func.__name__} is a {type(value).__name__}, a subclass "
        "of np.ndarray whose arithmetic may not be ndarray's (np.matrix's * is a matrix "
        "product, a masked array skips masked elements, another subclass may define its "
        "operators): pass np.asarray(it) (a masked array: it.filled(value), or its data and "
        "mask as two arrays) to compute with it as an array"
    )


def _as_differentiable(value, position: int, func):
    if isinstance(value, np.ndarray) and type(value) is not np.ndarray:
        return _as_differentiable(_as_plain_array(value, position, func), position, func)
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
        + _containers_accepted(value)
    )


def _containers_accepted(value) -> str:
    """For an object of a class that is not a container: which containers a
    differentiated argument may be, and how to make a class one."""
    if isinstance(value, (numbers.Number, np.ndarray, np.generic, str, bytes)) or value is None:
        return ""
    if isinstance(value, dict):
        return (
            f"; {type(value).__name__} is a dict subclass that changes how items are read "
            "(it overrides __getitem__, get, items, ...), so its items are not known to be "
            "what the function gets: pass dict(it), or register the class with "
            "ad_transform.register_pytree_node(cls, flatten, unflatten)"
        )
    return (
        "; a differentiated argument may also be a dict (OrderedDict, defaultdict), list, "
        "tuple, named tuple or dataclass of numbers and float arrays; make "
        f"{type(value).__name__} a dataclass or register it with "
        "ad_transform.register_pytree_node(cls, flatten, unflatten)"
    )


def _as_differentiable_tree(value, position: int, func):
    """A container argument checked: complex leaves are refused. Integers, integer arrays,
    strings, booleans, ``None`` and other objects are passed as they are (the function
    gets what the caller gave: ``range(p["n"])``, ``x[p["idx"]]``); they are not
    differentiated and their gradient is ``None`` (``leaf_kinds.py``)."""

    def convert(path: str, leaf):
        if isinstance(leaf, (bool, np.bool_, str, bytes, numbers.Integral)) or leaf is None:
            return leaf
        if isinstance(leaf, np.ndarray) and type(leaf) is not np.ndarray:
            leaf = _as_plain_array(leaf, f"{position}{path}", func)
        if isinstance(leaf, np.ndarray) and leaf.dtype.kind in "biuSUO":
            return leaf
        if isinstance(leaf, (numbers.Number, np.ndarray)):
            return _as_differentiable(leaf, f"{position}{path}", func)
        return leaf

    return pytree.map_with_path(convert, value)


def _check_cotangent(cotangent, value) -> None:
    """A ``ValueError`` where the cotangent's structure or a leaf's shape is not the
    value's, naming the path of the first mismatch (``cotangent['b'][1]``)."""
    if pytree.is_node(value) or (cotangent is not None and pytree.is_node(cotangent)):
        pytree.check_cotangent(value, cotangent)
    elif np.shape(cotangent) != np.shape(value):
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
    if isinstance(annotation, type) and _kind_of_type(annotation) in (SCALAR, ARRAY):
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
