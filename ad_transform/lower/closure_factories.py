"""Closure factories: a call of a user function whose body is only ``return lambda ...``
(or ``def g`` then ``return g``) is a function value, the returned function lifted once per
factory with the factory's parameters it reads as keyword-only parameters (part of the
functions pass, ``lower/functions.py``)."""

from __future__ import annotations

import inspect
import types
import weakref

import gast

from ..nodes import clone
from .function_registry import _LIFTED, _type_params, compile_lifted, lifted_entry
from .function_values import (
    FunctionValue,
    _assign,
    _free,
    _is_user_function,
    _locate,
    _own_nodes,
    _param,
    _parameters,
)


class ClosureFactories:
    """Methods of ``functions._Scope``: calls of closure factories as function values."""

    def factory_value(self, node: gast.Call, factory: types.FunctionType) -> FunctionValue:
        """``make_affine(x, y)`` whose body is ``return lambda t: a * t + b``: the lambda,
        lifted, whose captures are the factory's parameters it reads, bound to the
        arguments evaluated now (once, as the call would)."""
        if any(isinstance(a, gast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        ):
            raise self.error("unsupported construct: '*' or '**' in a call of a factory", node)
        function, parsed = returned_function(factory)
        try:
            raw = inspect.signature(factory).bind(
                *node.args, **{k.arg: k.value for k in node.keywords}
            )
        except TypeError as exc:
            message = f"this call of {factory.__name__} does not match it: {exc}"
            raise self.error(message, node) from None
        parameter_of = {id(a): p for p, a in raw.arguments.items()}
        snapshots = [self.argument_snapshot(a, parameter_of[id(a)]) for a in node.args]
        keywords = {
            k.arg: self.argument_snapshot(k.value, parameter_of[id(k.value)]) for k in node.keywords
        }
        bound = inspect.signature(factory).bind(*snapshots, **keywords)
        captured = sorted(_free(function) & set(_parameters(parsed.tree.args)))
        captures = []
        for parameter in captured:
            if parameter in bound.arguments:
                captures.append((parameter, bound.arguments[parameter].id))
                continue
            default = inspect.signature(factory).parameters[parameter].default
            if not isinstance(default, (int, float, complex, bool, str, type(None))):
                raise self.error(
                    f"unsupported construct: the function {factory.__name__} returns reads "
                    f"its parameter '{parameter}', whose default is not a constant",
                    node,
                )
            name = self.fresh(parameter)
            self.hoist([_assign(name, gast.Constant(value=default, kind=None))], node, "a call")
            captures.append((parameter, name))
        self.depend_on(node.func, factory)
        func = _lift_returned(factory, function, parsed, captured)
        label = f"the function {factory.__name__}(...) returns"
        name = self.reference(func.__name__, func)
        return FunctionValue(
            name, types.CellType(func), tuple(captures), label, lifted=True, inline=True
        )


def _may_return_function(obj: object) -> bool:
    """A user function with a lambda or def inside (cheap: its code's constants)."""
    return _is_user_function(obj) and any(
        isinstance(c, types.CodeType) for c in obj.__code__.co_consts
    )


_RETURNED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # factory -> found


def returned_function(obj: object):
    """``(the lambda or def, parsed factory)`` for a user function whose body is only
    ``return lambda ...`` or ``def g(...): ...`` then ``return g`` (a docstring allowed);
    None for anything else."""
    if not _may_return_function(obj) or lifted_entry(obj) is not None:
        return None
    if obj in _RETURNED:
        return _RETURNED[obj]
    found = _find_returned(obj)
    _RETURNED[obj] = found
    return found


def _find_returned(factory: types.FunctionType):
    from ..errors import ADTransformError
    from ..parse import parse_source

    try:
        parsed = parse_source(factory)
    except ADTransformError:
        return None
    args = parsed.tree.args
    if args.vararg is not None or args.kwarg is not None:
        return None
    body = list(parsed.tree.body)
    if body and isinstance(body[0], gast.Expr) and isinstance(body[0].value, gast.Constant):
        body = body[1:]
    if len(body) == 1 and isinstance(body[0], gast.Return):
        function = body[0].value
        if not isinstance(function, gast.Lambda):
            return None
    elif (
        len(body) == 2
        and isinstance(body[0], gast.FunctionDef)
        and not body[0].decorator_list
        and isinstance(body[1], gast.Return)
        and isinstance(body[1].value, gast.Name)
        and body[1].value.id == body[0].name
    ):
        function = body[0]
        if any(isinstance(n, (gast.Nonlocal, gast.Global)) for n in _own_nodes(function.body)):
            return None
        if function.name in _free(function):
            return None  # a recursive inner function (its name is a local of the factory)
    else:
        return None
    defaults = function.args.defaults + [d for d in function.args.kw_defaults if d]
    if not all(isinstance(d, gast.Constant) for d in defaults):
        return None
    return function, parsed


def _lift_returned(factory, function, parsed, captured: list[str]) -> types.FunctionType:
    """The function ``factory`` returns, compiled with the factory's parameters it reads
    as keyword-only parameters (memoised per factory)."""
    known = _LIFTED.setdefault(factory, {})
    key = ("returned", function.lineno, function.col_offset)
    if key in known and lifted_entry(known[key]) is not None:
        return known[key]
    args = clone(function.args)
    for capture in captured:
        args.kwonlyargs.append(_param(capture, function))
        args.kw_defaults.append(None)
    if isinstance(function, gast.FunctionDef):
        body, name = clone(function.body), function.name
    else:
        body = [_locate(gast.Return(value=clone(function.body)), function.body)]
        name = f"{factory.__name__}_lambda"
    tree = gast.FunctionDef(
        name=name,
        args=args,
        body=body,
        decorator_list=[],
        returns=None,
        type_comment=None,
        **_type_params(),
    )
    gast.copy_location(tree, function)
    positional = tuple(d.value for d in function.args.defaults) or None
    keyword = {
        a.id: d.value for a, d in zip(function.args.kwonlyargs, function.args.kw_defaults) if d
    } or None
    closure = dict(parsed.closure)
    func = compile_lifted(tree, parsed, factory.__globals__, closure, (positional, keyword))
    known[key] = func
    return func
