"""``d.update(...)`` on a dict the function made becomes item stores.

``params.update({"b": x * y}, c=z)`` is rewritten, when every binding of ``params`` in
the function is ``params = {...}`` (a dict display, so ``params`` is surely a dict), as::

    params["b"] = x * y
    params["c"] = z

Item stores into a dict the function created are already differentiated exactly: the
old value (or the key's absence) is saved and restored in the backward sweep, and the
value's adjoint is the dict adjoint's entry under the key. With several entries, every
key and value that is not a constant or a name is evaluated into a fresh local first,
in Python's order, so nothing the stores change is read by a later value.

``d.update(other)`` where ``other`` is such a dict too (every binding a display; a dict
comprehension is one after ``lower/dict_comprehensions.py``) becomes the loop
``for key, value in other.items(): d[key] = value``, the order ``update`` stores in.

``t = d.setdefault(k, v)`` (or the bare call) on such a dict becomes ``k`` and ``v``
evaluated (both, as the call does), ``if k not in d: d[k] = v`` and ``t = d[k]``.

Left alone (the analysis refuses them as before): an argument that is neither a dict
display nor such a name (``d.update(pairs)``, a parameter), ``**`` in it, a receiver
that may not be a dict (a parameter, a name bound any other way), the call used as a
value.
"""

from __future__ import annotations

import gast

from ..nodes import subnodes
from . import SCOPES, LoweringContext, method_statement, names_bound_otherwise


def run(context: LoweringContext) -> None:
    """Lower ``d.update({...})`` / ``d.update(k=v)`` on dict displays (in place)."""
    dicts = _dict_only_names(context.tree)
    if dicts:
        context.tree.body = _block(context.tree.body, dicts, context)


def _dict_only_names(tree: gast.FunctionDef) -> set[str]:
    """Local names every binding of which is ``name = {...}`` (a dict display)."""
    displays: set[str] = set()
    copies: dict[str, set[str]] = {}  # name -> the names it is a copy of (``a = b``)
    other = names_bound_otherwise(tree)
    plain_stores: set[int] = set()
    for node in subnodes(tree.body):
        if (
            isinstance(node, gast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], gast.Name)
            and isinstance(node.value, gast.Dict)
        ):
            displays.add(node.targets[0].id)
            plain_stores.add(id(node.targets[0]))
        elif (
            isinstance(node, gast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], gast.Name)
            and isinstance(node.value, gast.Name)
        ):  # ``d = result``: a dict comprehension built under another name
            copies.setdefault(node.targets[0].id, set()).add(node.value.id)
            plain_stores.add(id(node.targets[0]))
    for node in subnodes(tree.body):
        if (
            isinstance(node, gast.Name)
            and isinstance(node.ctx, (gast.Store, gast.Del))
            and id(node) not in plain_stores
        ):
            other.add(node.id)
    dicts = displays - other - set(copies)
    changed = True
    while changed:  # a name every binding of which is a display or a copy of such a name
        changed = False
        for name, sources in copies.items():
            if name not in dicts and name not in other and sources <= dicts:
                dicts.add(name)
                changed = True
    return dicts


def _block(stmts: list[gast.stmt], dicts: set[str], context: LoweringContext) -> list:
    out: list[gast.stmt] = []
    for stmt in stmts:
        if isinstance(stmt, SCOPES):
            out.append(stmt)  # its names are its own
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                setattr(stmt, field, _block(inner, dicts, context))
        for handler in getattr(stmt, "handlers", None) or []:
            handler.body = _block(handler.body, dicts, context)
        entries = _update_entries(stmt, dicts)
        default = _setdefault(stmt, dicts)
        merged = _merged_dict(stmt, dicts)
        if merged is not None:
            out.append(_merge_loop(stmt, *merged, context))
        elif entries is not None:
            out.extend(_stores(stmt, entries, context))
        elif default is not None:
            out.extend(_defaulted(stmt, *default, context))
        else:
            out.append(stmt)
    return out


def _merged_dict(stmt: gast.stmt, dicts: set[str]) -> tuple[str, str] | None:
    """``(d, other)`` of the statement ``d.update(other)`` with both dicts of ``dicts``."""
    found = method_statement(stmt, "update", dicts)
    if found is None or found[0] is not None:
        return None
    call = found[1]
    if call.keywords or len(call.args) != 1:
        return None
    other = call.args[0]
    if not (isinstance(other, gast.Name) and other.id in dicts):
        return None
    return call.func.value.id, other.id


def _merge_loop(stmt, name: str, other: str, context: LoweringContext) -> gast.For:
    """``for key, value in other.items(): name[key] = value``."""
    key, value = context.fresh("key"), context.fresh("value")

    def store(n: str) -> gast.Name:
        return gast.Name(id=n, ctx=gast.Store(), annotation=None, type_comment=None)

    items = gast.Call(
        func=gast.Attribute(value=_load(other), attr="items", ctx=gast.Load()),
        args=[],
        keywords=[],
    )
    target = gast.Subscript(value=_load(name), slice=_load(key), ctx=gast.Store())
    loop = gast.For(
        target=gast.Tuple(elts=[store(key), store(value)], ctx=gast.Store()),
        iter=items,
        body=[gast.Assign(targets=[target], value=_load(value), type_comment=None)],
        orelse=[],
        type_comment=None,
    )
    return _located(loop, stmt)


def _setdefault(stmt: gast.stmt, dicts: set[str]):
    """(target name or None, dict name, key, default) of ``t = d.setdefault(k, v)`` or
    the bare call, or None."""
    found = method_statement(stmt, "setdefault", dicts)
    if found is None:
        return None
    target, call = found
    if (
        call.keywords
        or not 1 <= len(call.args) <= 2
        or any(isinstance(a, gast.Starred) for a in call.args)
    ):
        return None
    default = call.args[1] if len(call.args) == 2 else gast.Constant(value=None, kind=None)
    return target, call.func.value.id, call.args[0], default


def _defaulted(stmt, target, name, key, default, context: LoweringContext) -> list:
    """``d.setdefault(k, v)``: ``k`` and ``v`` evaluated first (both, always, as the call
    does), then ``if k not in d: d[k] = v`` and ``t = d[k]``."""
    out: list[gast.stmt] = []
    key = _evaluated(key, "key", out, context, stmt)
    default = _evaluated(default, "default", out, context, stmt)
    missing = gast.Compare(left=key, ops=[gast.NotIn()], comparators=[_load(name)])
    store = gast.Subscript(value=_load(name), slice=key, ctx=gast.Store())
    fill = gast.Assign(targets=[store], value=default, type_comment=None)
    out.append(_located(gast.If(test=missing, body=[fill], orelse=[]), stmt))
    if target is not None:
        read = gast.Subscript(value=_load(name), slice=key, ctx=gast.Load())
        bound = gast.Name(id=target, ctx=gast.Store(), annotation=None, type_comment=None)
        out.append(_located(gast.Assign(targets=[bound], value=read, type_comment=None), stmt))
    return out


def _load(name: str) -> gast.Name:
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _update_entries(stmt: gast.stmt, dicts: set[str]):
    """The (key, value) expressions of ``d.update(...)`` in order, or None when
    ``stmt`` is not such a call this pass lowers."""
    found = method_statement(stmt, "update", dicts)
    if found is None or found[0] is not None or len(found[1].args) > 1:
        return None
    call = found[1]
    func = call.func
    entries = []
    if call.args:
        display = call.args[0]
        if not isinstance(display, gast.Dict) or any(k is None for k in display.keys):
            return None
        entries += list(zip(display.keys, display.values, strict=True))
    for keyword in call.keywords:
        if keyword.arg is None:
            return None
        entries.append((gast.Constant(value=keyword.arg, kind=None), keyword.value))
    return func.value.id, entries


def _stores(stmt: gast.Expr, found, context: LoweringContext) -> list[gast.stmt]:
    name, entries = found
    out: list[gast.stmt] = []
    stores: list[tuple[gast.expr, gast.expr]] = []
    for key, value in entries:
        if len(entries) > 1:
            key = _evaluated(key, "key", out, context, stmt)
            value = _evaluated(value, _base(key), out, context, stmt)
        stores.append((key, value))
    for key, value in stores:
        target = gast.Subscript(
            value=gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None),
            slice=key,
            ctx=gast.Store(),
        )
        out.append(_located(gast.Assign(targets=[target], value=value, type_comment=None), stmt))
    return out


def _evaluated(expr, base: str, out: list, context: LoweringContext, stmt) -> gast.expr:
    """``expr`` itself when reading it later gives the same value, else a fresh local
    assigned to it now (appended to ``out``)."""
    if isinstance(expr, (gast.Constant, gast.Name)):
        return expr
    name = context.fresh(base)
    store = gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)
    out.append(_located(gast.Assign(targets=[store], value=expr, type_comment=None), stmt))
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _base(key: gast.expr) -> str:
    if isinstance(key, gast.Constant) and isinstance(key.value, str) and key.value.isidentifier():
        return key.value
    return "value"


def _located(node: gast.AST, like: gast.AST) -> gast.AST:
    for part in subnodes(node):
        for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
            if getattr(part, attr, None) is None:
                setattr(part, attr, getattr(like, attr, None))
    return node
