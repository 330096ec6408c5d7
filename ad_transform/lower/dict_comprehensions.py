"""Dict comprehensions become a loop that stores items into a new dict.

``d = {k: f(v) for k, v in pairs.items() if v > 0}`` is rewritten, before the statement
that holds it, as::

    result = {}
    for k_1, v_1 in pairs.items():
        if v_1 > 0:
            result[k_1] = f(v_1)
    d = result

The comprehension's own variables get fresh names (they do not leak, as in Python), the
first iterable is evaluated where the comprehension was, the others in the loop. Item
stores into a dict the function created are differentiated like any other (the value's
adjoint is the dict adjoint's entry under the key). A comprehension whose evaluation the
hoisting would change (inside ``a if c else b``, ``and``/``or``, a lambda, another
comprehension, or a ``while`` test, each evaluated conditionally or repeatedly) is refused.
"""

from __future__ import annotations

import gast

from . import LoweringContext

# Expressions whose parts Python evaluates conditionally, repeatedly or later.
_DEFERRING = (
    gast.IfExp,
    gast.BoolOp,
    gast.Lambda,
    gast.ListComp,
    gast.SetComp,
    gast.GeneratorExp,
    gast.DictComp,
)


def run(context: LoweringContext) -> None:
    """Lower every dict comprehension of ``context.tree`` (in place)."""
    context.tree.body = _block(context.tree.body, context)


def _block(stmts: list[gast.stmt], context: LoweringContext) -> list[gast.stmt]:
    out: list[gast.stmt] = []
    for stmt in stmts:
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                setattr(stmt, field, _block(inner, context))
        for handler in getattr(stmt, "handlers", None) or []:
            handler.body = _block(handler.body, context)
        if isinstance(stmt, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            out.append(stmt)  # refused or lowered by their own passes
            continue
        before: list[gast.stmt] = []
        for owner, field, node in _own_expressions(stmt):
            setattr_or_replace(owner, field, node, _lower_in(node, before, context, stmt))
        out.extend(before)
        out.append(stmt)
    return out


def _own_expressions(stmt: gast.stmt):
    """(owner, field, expression) for the expressions a statement evaluates itself (not
    those of the statements in its body)."""
    for field, value in gast.iter_fields(stmt):
        if field in ("body", "orelse", "finalbody", "handlers", "decorator_list"):
            continue
        if isinstance(value, gast.expr):
            yield stmt, field, value
        elif isinstance(value, list):
            for position, item in enumerate(value):
                if isinstance(item, gast.expr):
                    yield stmt, (field, position), item


def setattr_or_replace(owner, field, old: gast.expr, new: gast.expr) -> None:
    if new is old:
        return
    if isinstance(field, tuple):
        getattr(owner, field[0])[field[1]] = new
    else:
        setattr(owner, field, new)


def _lower_in(node: gast.expr, before: list, context: LoweringContext, stmt) -> gast.expr:
    """``node`` with each dict comprehension in it replaced by the name of its result,
    the statements computing it appended to ``before`` (innermost first)."""
    if isinstance(node, gast.DictComp):
        if isinstance(stmt, gast.While) and node is stmt.test:
            raise context.error(
                "unsupported construct: a dict comprehension in a 'while' test", node
            )
        return _lowered(node, before, context)
    if isinstance(node, _DEFERRING):
        for inner in gast.walk(node):
            if isinstance(inner, gast.DictComp):
                raise context.error(
                    "unsupported construct: a dict comprehension inside a conditional "
                    "expression, 'and'/'or', a lambda or another comprehension",
                    inner,
                )
        return node
    if isinstance(stmt, gast.While) and node is stmt.test:
        for inner in gast.walk(node):
            if isinstance(inner, gast.DictComp):
                raise context.error(
                    "unsupported construct: a dict comprehension in a 'while' test", inner
                )
        return node
    for field, value in gast.iter_fields(node):
        if isinstance(value, gast.expr):
            setattr(node, field, _lower_in(value, before, context, None))
        elif isinstance(value, list):
            for position, item in enumerate(value):
                if isinstance(item, gast.expr):
                    value[position] = _lower_in(item, before, context, None)
    return node


def _lowered(comp: gast.DictComp, before: list, context: LoweringContext) -> gast.Name:
    for inner in gast.walk(comp):
        if inner is not comp and isinstance(inner, _DEFERRING):
            raise context.error(
                "unsupported construct: a dict comprehension containing a conditional "
                "expression, 'and'/'or', a lambda or another comprehension",
                inner,
            )
    result = context.fresh("result")
    renames: dict[str, str] = {}
    loops: list[tuple[gast.expr, gast.expr, list[gast.expr]]] = []
    for position, generator in enumerate(comp.generators):
        if getattr(generator, "is_async", 0):
            raise context.error("unsupported construct: 'async for' in a comprehension", comp)
        iterable = generator.iter if position == 0 else _renamed(generator.iter, renames)
        for name in gast.walk(generator.target):
            if isinstance(name, gast.Name):
                renames[name.id] = context.fresh(name.id)
        target = _renamed(generator.target, renames)
        conditions = [_renamed(test, renames) for test in generator.ifs]
        loops.append((target, iterable, conditions))
    key, value = _renamed(comp.key, renames), _renamed(comp.value, renames)
    store = gast.Subscript(value=_name(result, gast.Load()), slice=key, ctx=gast.Store())
    body: list[gast.stmt] = [gast.Assign(targets=[store], value=value, type_comment=None)]
    for target, iterable, conditions in reversed(loops):
        for test in reversed(conditions):
            body = [gast.If(test=test, body=body, orelse=[])]
        body = [gast.For(target=target, iter=iterable, body=body, orelse=[], type_comment=None)]
    empty = gast.Dict(keys=[], values=[])
    start = gast.Assign(targets=[_name(result, gast.Store())], value=empty, type_comment=None)
    made = [start, *body]
    for stmt in made:
        for node in gast.walk(stmt):
            _locate(node, comp)
    before.extend(made)
    loaded = _name(result, gast.Load())
    _locate(loaded, comp)
    return loaded


def _renamed(node: gast.expr, renames: dict[str, str]) -> gast.expr:
    """A copy of ``node`` with the comprehension's variables renamed."""
    import copy

    node = copy.deepcopy(node)
    for inner in gast.walk(node):
        if isinstance(inner, gast.Name) and inner.id in renames:
            inner.id = renames[inner.id]
    return node


def _name(identifier: str, ctx) -> gast.Name:
    return gast.Name(id=identifier, ctx=ctx, annotation=None, type_comment=None)


def _locate(node: gast.AST, like: gast.AST) -> None:
    for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
        if getattr(node, attr, None) is None and hasattr(like, attr):
            setattr(node, attr, getattr(like, attr))
