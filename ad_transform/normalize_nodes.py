"""Tree-building helpers of the SSA form (stage 2, ``normalize.py``): names, assignments
and stores located at the statement they come from, the names a tree assigns."""

from __future__ import annotations

import gast

from .nodes import name_ids
from .parse import ParsedFunction


def _store(identifier: str) -> gast.Name:
    return gast.Name(id=identifier, ctx=gast.Store(), annotation=None, type_comment=None)


def _assign_node(target: gast.expr, value: gast.expr) -> gast.Assign:
    node = gast.Assign(targets=[target], value=value, type_comment=None)
    _copy_location(node, value)
    return node


def _copy_location_of(node: gast.AST, like: gast.AST) -> gast.AST:
    _copy_location(node, like)
    return node


def _is_builtin_call(node: gast.expr, name: str, parsed: ParsedFunction) -> bool:
    import builtins

    return (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Name)
        and node.func.id == name
        and parsed.lookup(name) is getattr(builtins, name)
    )


def _assigned_names(body: list[gast.stmt]) -> set[str]:
    """The names ``body`` binds or unbinds (``del``)."""
    return name_ids(body, (gast.Store, gast.Del))


def _name(identifier: str, like: gast.AST | None = None) -> gast.Name:
    node = gast.Name(id=identifier, ctx=gast.Load(), annotation=None, type_comment=None)
    if like is not None:
        _copy_location(node, like)
    return node


def _assign(target: str, value: gast.expr, like: gast.AST) -> gast.Assign:
    store = gast.Name(id=target, ctx=gast.Store(), annotation=None, type_comment=None)
    stmt = gast.Assign(targets=[store], value=value, type_comment=None)
    _copy_location(store, like)
    _copy_location(stmt, like)
    return stmt


def _copy_location(node: gast.AST, like: gast.AST | None) -> None:
    if like is None:
        return
    for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
        if getattr(node, attr, None) is None:
            value = getattr(like, attr, None)
            if value is not None:
                setattr(node, attr, value)
