"""``hvp``, ``hessian``, ``jacfwd``/``jacrev``/``jacobian`` and ``elementwise_grad`` objects
made differentiable: plain Python around the forward-mode code they run.

Each of these derivatives is, for one differentiated argument ``x`` (an integer ``wrt``),
a few calls of one ``jvp``: ``hvp(f)(x, v)`` is the tangent of ``grad(f)`` along ``v``;
``hessian(f)(x)`` and ``jacfwd(f)(x)`` stack the tangents along the unit vectors of
``x`` (one column each); ``elementwise_grad(f)(x)`` sums each column (``J^T 1``, element
``j`` is ``sum(J e_j)``). The generated function (:func:`plain_api_call`) writes exactly
that with the plain call function of the ``jvp`` (``higher_order.plain_jvp_call``), so
the pipeline differentiates it like a user function: a third derivative is reverse (or
forward) mode over forward over reverse. The numbers are the API's; the layouts are for
numbers and arrays (JAX's ``out.shape + x.shape``; a 0-d array where the API gives a
NumPy scalar). ``jacrev`` and ``jacobian`` are differentiated through the same forward
columns (the same Jacobian). A tuple ``wrt``, ``has_aux`` and a bound method are refused
by name; so is a container argument or output when the code runs
(``runtime.higher_order_calls.array_argument``)."""

from __future__ import annotations

import types
import weakref

import numpy as np

from .callables import mark_plain_code, source_location
from .errors import ADTransformError

# function -> {(kind, wrt, count): (plain function, the jvp call function it calls)}
_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def is_api_derivative(obj: object) -> bool:
    """Whether ``obj`` is an ``hvp``, ``hessian``, ``jacfwd``/``jacrev``/``jacobian`` or
    ``elementwise_grad`` object, or a ``value_and_grad`` object of a function without
    ``has_aux`` (made differentiable here)."""
    from .api import ValueAndGradientFunction
    from .higher_order_api import ElementwiseGradFunction, HessianFunction, HVPFunction
    from .jacobians import JacobianFunction

    if type(obj) is ValueAndGradientFunction:
        return not obj.has_aux and not obj._receiver
    return type(obj) in (HVPFunction, HessianFunction, JacobianFunction, ElementwiseGradFunction)


def plain_api_call(derivative) -> types.FunctionType:
    """The plain function computing ``derivative(*args)`` (cached per object kind,
    function and ``wrt``; rebuilt when the forward-mode code it calls is stale)."""
    from .api import _wrt_indices
    from .forward_api import JVPFunction
    from .higher_order import _positional_parameters, plain_jvp_call

    kind = _kind_of(derivative)
    if kind == "value_and_grad":
        return plain_value_and_grad(derivative)
    func = derivative.func
    what = f"{kind}({getattr(func, '__qualname__', func)})"
    wrt = _wrt_indices(func, derivative.wrt)
    if not isinstance(wrt, int):
        raise ADTransformError(
            f"cannot differentiate {what} with a tuple wrt={wrt!r} again: a derivative of "
            f"{kind} is made for one differentiated argument (an integer wrt)"
        )
    count = _positional_parameters(func)
    if wrt >= count:
        raise ADTransformError(f"cannot differentiate {what}: wrt={wrt} is not a parameter")
    inner = _inner_jvp(derivative, kind, wrt)
    key = (kind, wrt, count)
    call = plain_jvp_call(inner if inner is not None else JVPFunction(func, wrt))
    entries = _cache.setdefault(func, {})
    found = entries.get(key)
    if found is not None and found[1] is call:
        return found[0]
    function = _compile(kind, func, wrt, count, call)
    entries[key] = (function, call)
    return function


def plain_value_and_grad(derivative) -> types.FunctionType:
    """``value_and_grad(f, wrt)`` as plain code: ``f``'s value (a call of ``f``, which the
    pipeline differentiates like any user call) and the plain gradient of ``f``
    (``higher_order.differentiable_target`` of ``grad(f, wrt)``), returned as the pair
    ``(value, gradient)``; any ``wrt``, integer or tuple. The value is computed twice (once
    by ``f``, once inside the gradient's forward sweep): the plain gradient returns only
    the gradient. Cached per function, ``wrt`` and parameter count; rebuilt when the plain
    gradient it calls is (staleness of ``plain_gradient``)."""
    from .api import GradientFunction
    from .higher_order import _positional_parameters, differentiable_target
    from .rules.registry import UNKNOWN

    func, wrt = derivative._function, derivative._wrt
    count = _positional_parameters(func)
    gradient = differentiable_target(GradientFunction(func, wrt), (UNKNOWN,) * count)
    key = ("value_and_grad", wrt, count)
    entries = _cache.setdefault(derivative.func, {})
    found = entries.get(key)
    if found is not None and found[1] is gradient:
        return found[0]
    function = _compile_value_and_grad(derivative.func, func, count, gradient)
    entries[key] = (function, gradient)
    return function


def _compile_value_and_grad(user_func, func, count: int, gradient) -> types.FunctionType:
    from .emit import compile_functions

    names = ", ".join(f"a{i}" for i in range(count))
    label = f"value_and_grad({user_func.__name__})"
    name = f"value_and_grad_{user_func.__name__}"
    source = (
        f"def {name}({names}):\n"
        f'    """{label} as plain code around {user_func.__name__} and {gradient.__name__}; '
        'generated by ad_transform."""\n'
        f"    value = function({names})\n"
        f"    gradient = {gradient.__name__}({names})\n"
        "    return value, gradient\n"
    )
    globals_ = {"__builtins__": __builtins__}
    cells = {"function": types.CellType(func), gradient.__name__: types.CellType(gradient)}
    defaults = {name: (getattr(func, "__defaults__", None), None)}
    function = compile_functions(source, name, globals_, cells, defaults)[name]
    mark_plain_code(function)
    function.ad_transform_origin = f"{name} ({source_location(user_func)})"
    return function


def is_vjp_object(obj: object) -> bool:
    """Whether ``obj`` is ``vjp(f, wrt)`` of a plain function (no bound receiver), whose
    pullback ``hold_pullback`` (normalize) can write as plain code."""
    from .api import VJPFunction

    return type(obj) is VJPFunction and not obj._receiver and not getattr(obj, "has_aux", False)


def plain_pullback(derivative) -> types.FunctionType:
    """The pullback of ``vjp(f, wrt)`` as plain code taking the point first:
    ``pullback(a0, ..., an, c)`` is ``J^T c``, the plain gradient with respect to ``wrt`` of
    ``<f(a0, ..., an), c>`` (``np.sum(f(...) * c)``: the inner product of real numbers and
    arrays; ``array_output`` refuses any other output when the code runs). The pipeline
    differentiates it with respect to the point and the cotangent. Cached per function and
    parameter count (the inner-product function) and, through ``plain_gradient``, per
    ``wrt`` with its staleness."""
    from .api import GradientFunction
    from .higher_order import _positional_parameters, differentiable_target
    from .rules.registry import UNKNOWN

    func, wrt = derivative._function, derivative._wrt
    count = _positional_parameters(func)
    key = ("vjp", count)
    entries = _cache.setdefault(derivative.func, {})
    found = entries.get(key)
    if found is None:
        found = (_compile_inner_product(derivative.func, func, count), None)
        entries[key] = found
    return differentiable_target(GradientFunction(found[0], wrt), (UNKNOWN,) * (count + 1))


def _compile_inner_product(user_func, func, count: int) -> types.FunctionType:
    """``def pullback_<f>(a0, ..., an, cotangent): return np.sum(f(a0, ..., an) * c)``."""
    from .emit import compile_functions
    from .runtime.higher_order_calls import array_output

    names = ", ".join(f"a{i}" for i in range(count))
    label = f"vjp({user_func.__name__})"
    name = f"pullback_{user_func.__name__}"
    source = (
        f"def {name}({names}, cotangent):\n"
        f'    """The pullback of {label}: the inner product of {user_func.__name__}(...) '
        'with the cotangent, whose gradient is J^T cotangent; generated by ad_transform."""\n'
        f"    value = function({names})\n"
        f"    array_output(value, {label!r})\n"
        "    return np.sum(value * cotangent)\n"
    )
    globals_ = {"__builtins__": __builtins__, "np": np, "array_output": array_output}
    cells = {"function": types.CellType(func)}
    function = compile_functions(source, name, globals_, cells, None)[name]
    mark_plain_code(function)
    function.ad_transform_origin = f"{name} ({source_location(user_func)})"
    return function


def _kind_of(derivative) -> str:
    from .api import ValueAndGradientFunction
    from .higher_order_api import ElementwiseGradFunction, HessianFunction, HVPFunction

    if isinstance(derivative, ValueAndGradientFunction):
        return "value_and_grad"
    if isinstance(derivative, HVPFunction):
        return "hvp"
    if isinstance(derivative, HessianFunction):
        return "hessian"
    if isinstance(derivative, ElementwiseGradFunction):
        return "elementwise_grad"
    return {"forward": "jacfwd", "reverse": "jacrev"}.get(derivative.mode, "jacobian")


def _inner_jvp(derivative, kind: str, wrt: int):
    """The ``jvp`` whose columns the derivative is made of: of ``grad(f)`` for ``hvp`` and
    ``hessian`` (their own), of ``f`` for the others (None: a new ``jvp(f, wrt)``)."""
    if kind == "hvp":
        return derivative._rows[0]
    if kind == "hessian":
        return derivative._blocks[wrt, wrt]
    if kind in ("jacfwd", "jacrev", "jacobian"):
        return derivative._jvp
    return None


def _compile(kind: str, func, wrt: int, count: int, call) -> types.FunctionType:
    from .emit import compile_functions
    from .runtime.higher_order_calls import array_argument, array_output, unit_vector

    names = [f"a{i}" for i in range(count)]
    primals = "(" + ", ".join(names) + ("," if count == 1 else "") + ")"
    x = names[wrt]
    name = f"{kind}_{func.__name__}"
    label = f"{kind}({func.__name__})"
    parameters = ", ".join([*names, "v"] if kind == "hvp" else names)
    lines = [
        f"def {name}({parameters}):",
        f'    """{label} as plain code around {call.__name__}; generated by ad_transform."""',
        f"    array_argument({x}, {label!r})",
    ]
    if kind == "hvp":
        lines += [
            f"    product = {call.__name__}({primals}, (v,))[1]",
            f"    array_output(product, {label!r})",
            "    return product",
        ]
    else:
        summed = kind == "elementwise_grad"
        column = "np.sum(column)" if summed else "np.ravel(column)"
        shape = f"np.shape({x})" if summed else f"np.shape(value) + np.shape({x})"
        lines += [
            f"    n = np.size({x})",
            "    columns = []",
            "    for j in range(n):",
            f"        value, column = {call.__name__}({primals}, (unit_vector({x}, j),))",
            f"        array_output(column, {label!r})",
            f"        columns.append({column})",
            f"    return np.reshape(np.transpose(np.stack(columns)), {shape})",
        ]
    source = "\n".join(lines) + "\n"
    globals_ = {
        "__builtins__": __builtins__,
        "np": np,
        "array_argument": array_argument,
        "array_output": array_output,
        "unit_vector": unit_vector,
    }
    cells = {call.__name__: types.CellType(call)}
    defaults = {name: (func.__defaults__, None)} if kind != "hvp" else None
    function = compile_functions(source, name, globals_, cells, defaults)[name]
    mark_plain_code(function)
    function.ad_transform_origin = f"{name} ({source_location(func)})"
    return function
