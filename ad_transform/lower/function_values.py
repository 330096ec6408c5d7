"""Function values known while lowering (``FunctionValue``) and the small tree helpers
the functions pass and its parts share (scopes of nested functions, names, locations)."""

from __future__ import annotations

import types
from dataclasses import dataclass

import gast
import numpy as np

from ..nodes import subnodes


@dataclass
class FunctionValue:
    """A function known while lowering: a name in scope, its object, its captures.

    ``captures`` are ``(keyword, name)`` pairs: each call passes ``keyword=name``.
    ``cell`` holds the object (filled later for a specialisation being built)."""

    name: str
    cell: types.CellType
    captures: tuple[tuple[str, str], ...] = ()
    label: str = ""
    lifted: bool = False  # an inner function or lambda (never a value of its own)
    inline: bool = False  # a lambda lifted where it is written (defined where it is used)
    # functools.partial: the arguments bound (names or constants of this scope)
    prefix: tuple[gast.expr, ...] = ()
    prefix_keywords: tuple[tuple[str, gast.expr], ...] = ()
    vectorized: bool = False  # np.vectorize(f): called elementwise
    static: gast.expr | None = None  # how this scope names a library or global function
    defined_at: tuple | None = None  # (line, column) of the statement binding it here
    table: dict | None = None  # a dict of functions: constant key -> FunctionValue
    rebinds: tuple[str, ...] = ()  # 'nonlocal' names: returned with the result, rebound

    @property
    def obj(self) -> object:
        return self.cell.cell_contents


def _own_nodes(nodes) -> list[gast.AST]:
    """Nodes of one scope: not inside the bodies of nested functions and lambdas (their
    defaults and decorators are evaluated in this scope and are included)."""
    found = list(nodes) if isinstance(nodes, list) else [nodes]
    result = []
    pop, push, keep = found.pop, found.append, result.append
    while found:
        node = pop()
        keep(node)
        if isinstance(node, _SCOPE_NODES):
            found.extend(node.args.defaults + [d for d in node.args.kw_defaults if d])
            if isinstance(node, gast.FunctionDef):
                found.extend(node.decorator_list)
            continue
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, _AST):
                push(value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, _AST):
                        push(item)
    return result


_SCOPE_NODES = (gast.FunctionDef, gast.Lambda)
_AST = gast.AST


def _parameters(args: gast.arguments) -> list[str]:
    names = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
    names += [a.id for a in (args.vararg, args.kwarg) if a is not None]
    return names


def _bound(function: gast.FunctionDef | gast.Lambda) -> set[str]:
    """The names a function binds itself (its locals)."""
    body = function.body if isinstance(function.body, list) else [function.body]
    names = set(_parameters(function.args))
    for node in _own_nodes(body):
        if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
            names.add(node.id)
        elif isinstance(node, gast.FunctionDef):
            names.add(node.name)
    return names


def _free(function: gast.FunctionDef | gast.Lambda) -> set[str]:
    """The names a function (and the functions inside it) reads but does not bind."""
    body = function.body if isinstance(function.body, list) else [function.body]
    loads = set()
    for node in _own_nodes(body):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            loads.add(node.id)
        elif isinstance(node, (gast.FunctionDef, gast.Lambda)):
            loads |= _free(node)
    return loads - _bound(function)


def _name(identifier: str, like: gast.AST | None = None, store: bool = False) -> gast.Name:
    node = gast.Name(
        id=identifier,
        ctx=gast.Store() if store else gast.Load(),
        annotation=None,
        type_comment=None,
    )
    if like is not None:
        gast.copy_location(node, like)
    return node


def _locate(node: gast.AST, like: gast.AST) -> gast.AST:
    for sub in subnodes(node):
        for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
            if getattr(sub, attr, None) is None and getattr(like, attr, None) is not None:
                setattr(sub, attr, getattr(like, attr))
    return node


def stmt_key(stmt: gast.stmt) -> tuple:
    return (getattr(stmt, "lineno", 0), getattr(stmt, "col_offset", 0))


def _bound_names(node: gast.AST) -> list[str]:
    """The names ``node`` itself binds or deletes (any binding form)."""
    if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
        return [node.id]
    if isinstance(node, gast.alias):
        return [node.asname or node.name.split(".")[0]]
    if isinstance(node, (gast.FunctionDef, gast.ClassDef)):
        return [node.name]
    if isinstance(node, (gast.MatchAs, gast.MatchStar)) and node.name:
        return [node.name]
    if isinstance(node, gast.MatchMapping) and node.rest:
        return [node.rest]
    return []


def _choice_leaves(node: gast.expr) -> list[gast.expr]:
    """The values ``a if c else (b if d else e)`` can take (the expression itself
    otherwise)."""
    if isinstance(node, gast.IfExp):
        return _choice_leaves(node.body) + _choice_leaves(node.orelse)
    return [node]


def _display(node: gast.expr) -> str:
    parts = []
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, gast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _is_user_function(obj: object) -> bool:
    from ..callables import is_library_file

    return isinstance(obj, types.FunctionType) and not is_library_file(obj.__code__.co_filename)


def _is_function(obj: object) -> bool:
    """Something a parameter can hold and call: a function, a NumPy ufunc or routine, a
    builtin (not a class, not a partial or other callable object)."""
    return isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, np.ufunc)) or type(
        obj
    ).__name__ in ("_ArrayFunctionDispatcher",)


def _assign(name: str, value: gast.expr) -> gast.Assign:
    return gast.Assign(targets=[_name(name, store=True)], value=value, type_comment=None)


def _append(name: str, value: gast.expr) -> gast.Expr:
    method = gast.Attribute(value=_name(name), attr="append", ctx=gast.Load())
    return gast.Expr(value=gast.Call(func=method, args=[value], keywords=[]))


def _param(identifier: str, like: gast.AST) -> gast.Name:
    node = gast.Name(id=identifier, ctx=gast.Param(), annotation=None, type_comment=None)
    return gast.copy_location(node, like)
