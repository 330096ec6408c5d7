"""Lowering of the zero-argument ``super()`` of a method into its explicit form.

``super()`` in a method means ``super(C, self)``: ``C`` the class whose body defines the
method (the ``__class__`` cell Python gives the method), ``self`` its first parameter.
The lowered code calls ``runtime.super_of(C, self)`` (the same proxy), which the
generated functions can run outside the class, and whose class the analysis knows:
``super_of(C, self).m(...)`` on a ``self`` of a known class is the call of the ``m``
found after ``C`` in that class's MRO (``objects``). A ``super()`` outside a method
defined in a class body (no ``__class__`` cell, or no parameter) is left as it is; the
explicit ``super(C, obj)`` becomes ``super_of(C, obj)`` wherever it is.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

import gast

from .. import runtime
from ..nodes import children, subnodes

if TYPE_CHECKING:
    from . import LoweringContext


def _is_super(node: gast.AST, count: int) -> bool:
    return (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Name)
        and node.func.id == "super"
        and len(node.args) == count
        and not any(isinstance(a, gast.Starred) for a in node.args)
        and not node.keywords
    )


def _is_bare_super(node: gast.AST) -> bool:
    return _is_super(node, 0)


def _receiver(tree: gast.FunctionDef) -> str | None:
    positional = [*tree.args.posonlyargs, *tree.args.args]
    return positional[0].id if positional else None


def applies(tree: gast.FunctionDef) -> bool:
    """Whether ``tree`` calls ``super()`` or ``super(C, obj)`` anywhere."""
    return any(_is_super(node, 0) or _is_super(node, 2) for node in subnodes(tree))


def run(context: LoweringContext) -> None:
    """Rewrite each ``super()`` of the method ``context.tree`` (not of functions nested in
    it) into ``super_of(C, self)``, and each ``super(C, obj)`` into ``super_of(C, obj)``."""
    if context.parsed.lookup("super") is not super:
        return  # the user's own ``super``
    helper = context.bind("super_of", runtime.super_of)
    _rewrite_explicit(context.tree.body, helper)
    cell = context.parsed.closure.get("__class__")
    receiver = _receiver(context.tree)
    if cell is None or receiver is None:
        return
    defining = context.parsed.lookup("__class__")
    owner = context.bind(f"{defining.__name__}_class", defining)
    _rewrite(context.tree.body, helper, owner, receiver)


def _rewrite_explicit(stmts: list, helper: str) -> None:
    """``super(C, obj)`` -> ``super_of(C, obj)`` (the same proxy, whose class is known)."""
    for stmt in stmts:
        for node in _walk_outside_functions(stmt):
            if _is_super(node, 2):
                node.func = gast.Name(
                    id=helper, ctx=gast.Load(), annotation=None, type_comment=None
                )


run.applies = applies


def _rewrite(stmts: list, helper: str, owner: str, receiver: str) -> None:
    for stmt in stmts:
        for node in _walk_outside_functions(stmt):
            for field, value in gast.iter_fields(node):
                if _is_bare_super(value):
                    setattr(node, field, _explicit(value, helper, owner, receiver))
                elif isinstance(value, list):
                    for i, item in enumerate(value):
                        if _is_bare_super(item):
                            value[i] = _explicit(item, helper, owner, receiver)


def _walk_outside_functions(node: gast.AST):
    """``node`` and what it contains, without entering nested functions and classes."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for child in children(current):
            if not isinstance(child, (gast.FunctionDef, gast.Lambda, gast.ClassDef)):
                stack.append(child)


def _explicit(call: gast.Call, helper: str, owner: str, receiver: str) -> gast.Call:
    def load(name: str) -> gast.Name:
        return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)

    explicit = gast.Call(func=load(helper), args=[load(owner), load(receiver)], keywords=[])
    return ast.copy_location(explicit, call)
