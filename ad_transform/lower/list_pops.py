"""``xs.pop()`` / ``xs.pop(i)`` on a list only the function holds becomes a read and a
rebinding.

``top = stack.pop()`` is rewritten as::

    top = stack[-1]
    stack = stack[:-1]

and ``stack.pop(i)`` (a constant ``i``) as ``stack[i]`` then ``stack = stack[:i] +
stack[i + 1:]`` (``stack[1:]`` for ``i == 0``). Reads, slices and joins of lists are
differentiated already: the popped element's adjoint goes back to its position through
the item read, the others' through the slices. A new list instead of a change in place
is the same program only when no other name, container or closure can see the list, so
the pass lowers the pops of a name only when:

- every binding of the name is ``name = [...]`` (a list display; comprehensions are
  lowered to one before this pass), and it is no parameter, ``global`` or ``nonlocal``;
- every read of it keeps no reference and is not an iteration: an item read or write
  (``name[i]``), a call of one of its methods in ``_METHODS``, the argument of a builtin
  in ``_READERS`` (resolved now, so a user's own ``len`` does not count), or a test
  (``if name:``, ``while name:``, ``not name``);
- no nested function or lambda mentions it.

``xs.insert(i, v)`` (a statement, ``i`` a constant) becomes ``xs = xs[:i] + [v] +
xs[i:]`` under the same conditions. Any other ``pop``/``insert`` is left alone: the
analysis refuses it as an unknown in-place change.
"""

from __future__ import annotations

import builtins

import gast

from ..nodes import int_constant, subnodes
from . import SCOPES, LoweringContext, method_statement, names_bound_otherwise

_METHODS = frozenset({"pop", "insert", "append", "extend", "index", "count", "copy"})
_READERS = frozenset({"len", "sum", "max", "min", "sorted", "list", "tuple", "bool"})


def run(context: LoweringContext) -> None:
    """Lower ``xs.pop(...)`` statements on lists only the function holds (in place)."""
    lists = _private_lists(context)
    if lists:
        context.tree.body = _block(context.tree.body, lists, context)


def _private_lists(context: LoweringContext) -> set[str]:
    tree = context.tree
    displays: set[str] = set()
    other = names_bound_otherwise(tree, inside_scopes=True)
    allowed: set[int] = set()  # ids of Name nodes in the positions listed above
    nodes = subnodes(tree.body)
    for node in nodes:
        if isinstance(node, SCOPES):
            continue
        if (
            isinstance(node, gast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], gast.Name)
            and isinstance(node.value, gast.List)
            and not any(isinstance(e, gast.Starred) for e in node.value.elts)
        ):
            displays.add(node.targets[0].id)
            allowed.add(id(node.targets[0]))
        elif isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name):
            allowed.add(id(node.value))
        elif (
            isinstance(node, gast.Call)
            and isinstance(node.func, gast.Attribute)
            and node.func.attr in _METHODS
            and isinstance(node.func.value, gast.Name)
        ):
            allowed.add(id(node.func.value))
        elif _is_builtin_reader(node, context):
            allowed.update(id(a) for a in node.args if isinstance(a, gast.Name))
        elif isinstance(node, (gast.If, gast.While)) and isinstance(node.test, gast.Name):
            allowed.add(id(node.test))
        elif (
            isinstance(node, gast.UnaryOp)
            and isinstance(node.op, gast.Not)
            and isinstance(node.operand, gast.Name)
        ):
            allowed.add(id(node.operand))
    for node in nodes:
        if isinstance(node, gast.Name) and id(node) not in allowed:
            other.add(node.id)
    return displays - other - context.removed_locals - set(context.cells)


def _is_builtin_reader(node: gast.AST, context: LoweringContext) -> bool:
    return (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Name)
        and node.func.id in _READERS
        and not node.keywords
        and context.parsed.lookup(node.func.id) is getattr(builtins, node.func.id)
    )


def _block(stmts: list[gast.stmt], lists: set[str], context: LoweringContext) -> list:
    out: list[gast.stmt] = []
    for stmt in stmts:
        if isinstance(stmt, SCOPES):
            out.append(stmt)
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                setattr(stmt, field, _block(inner, lists, context))
        for handler in getattr(stmt, "handlers", None) or []:
            handler.body = _block(handler.body, lists, context)
        found = _pop(stmt, lists)
        inserted = _insert(stmt, lists)
        if found is not None:
            out.extend(_lowered(stmt, *found))
        elif inserted is not None:
            out.append(_inserted(stmt, *inserted))
        else:
            out.append(stmt)
    return out


def _insert(stmt: gast.stmt, lists: set[str]):
    """(list name, index, value) of the statement ``xs.insert(i, v)``, ``i`` a constant."""
    found = method_statement(stmt, "insert", lists)
    if found is None or found[0] is not None:
        return None
    call = found[1]
    if call.keywords or len(call.args) != 2 or any(isinstance(a, gast.Starred) for a in call.args):
        return None
    index = int_constant(call.args[0])
    return None if index is None else (call.func.value.id, index, call.args[1])


def _inserted(stmt: gast.stmt, name: str, index: int, value: gast.expr) -> gast.stmt:
    """``xs = xs[:i] + [v] + xs[i:]``: ``insert``'s meaning for every integer ``i``
    (slices clamp as ``insert`` does)."""
    joined = gast.BinOp(
        left=gast.BinOp(
            left=_slice(name, None, _int(index)),
            op=gast.Add(),
            right=gast.List(elts=[value], ctx=gast.Load()),
        ),
        op=gast.Add(),
        right=_slice(name, _int(index), None),
    )
    return _assign(name, joined, stmt)


def _pop(stmt: gast.stmt, lists: set[str]):
    """(target name or None, list name, index) of ``t = xs.pop(i)`` / ``xs.pop(i)``."""
    found = method_statement(stmt, "pop", lists)
    if found is None:
        return None
    target, call = found
    if call.keywords or len(call.args) > 1:
        return None
    index = int_constant(call.args[0]) if call.args else -1
    if index is None:
        return None
    return target, call.func.value.id, index


def _lowered(stmt: gast.stmt, target: str | None, name: str, index: int) -> list[gast.stmt]:
    out = []
    if target is not None:
        read = gast.Subscript(value=_load(name), slice=_int(index), ctx=gast.Load())
        out.append(_assign(target, read, stmt))
    else:  # the popped value is dropped, but ``pop`` still raises on a missing index
        check = gast.Subscript(value=_load(name), slice=_int(index), ctx=gast.Load())
        out.append(_located(gast.Expr(value=check), stmt))
    if index == -1:
        rest: gast.expr = _slice(name, None, _int(-1))
    elif index == 0:
        rest = _slice(name, _int(1), None)
    else:
        rest = gast.BinOp(
            left=_slice(name, None, _int(index)),
            op=gast.Add(),
            right=_slice(name, _int(index + 1), None),
        )
    out.append(_assign(name, rest, stmt))
    return out


def _load(name: str) -> gast.Name:
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _int(value: int) -> gast.expr:
    if value < 0:
        return gast.UnaryOp(op=gast.USub(), operand=gast.Constant(value=-value, kind=None))
    return gast.Constant(value=value, kind=None)


def _slice(name: str, lower, upper) -> gast.Subscript:
    return gast.Subscript(
        value=_load(name), slice=gast.Slice(lower=lower, upper=upper, step=None), ctx=gast.Load()
    )


def _assign(name: str, value: gast.expr, like: gast.AST) -> gast.Assign:
    store = gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)
    return _located(gast.Assign(targets=[store], value=value, type_comment=None), like)


def _located(node: gast.AST, like: gast.AST) -> gast.AST:
    for part in subnodes(node):
        for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
            if getattr(part, attr, None) is None:
                setattr(part, attr, getattr(like, attr, None))
    return node
