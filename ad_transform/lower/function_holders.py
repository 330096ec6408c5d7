"""Inner functions stored in a list or a dict the function makes (closures created in a loop).

``for k in ...: def scaler(t, k=k): ...; scalers.append(scaler)`` and later
``sum(s(x) for s in scalers)``: the functions pass (``lower/functions.py``) lifts
``scaler`` into a plain function whose computed default ``k`` is passed by each call
(``k_default=scaler_k``, the snapshot taken where the ``def`` ran). A stored function
is that snapshot: the list holds it instead of the function (``scalers.append(scaler_k)``;
a tuple of snapshots for several computed defaults, ``None`` for none), and a call
through an element passes it (``scaler(x, k_default=s)``). The captures of the inner
function are read at the call, as Python's closure reads its cells then.

A *holder* is a name bound once, to ``[]`` or ``{}``, into which this scope stores one
inner function (``h.append(g)``, ``h.append(lambda t, k=k: ...)``, ``h[key] = g``). Its
other uses must be calls of an element (``h[i](x)``), loops over it (``for s in h``,
``for s in h.values()``, also in comprehensions) whose target is only called, and
``len(h)``; anything else is refused, naming the holder.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field

import gast

from ..nodes import parents, subnodes
from ..rules.registry import register_nondifferentiable


def element_taken(element) -> None:
    """Nothing: the call ``element_taken(h[i])`` evaluates ``h[i]`` (which may raise) for
    an element call whose inner function has no computed defaults to pass."""


register_nondifferentiable(element_taken, pure=False)


@dataclass
class Holder:
    """A list or dict of this scope that holds one inner function."""

    name: str
    kind: str  # "list" or "dict"
    function: str  # the name of the inner function it holds
    binding: gast.stmt
    elements: set[str] = field(default_factory=set)  # loop targets over it


def _parents(tree: gast.AST) -> dict[int, gast.AST]:
    return parents(tree)


def _is_name(node, identifier: str | None = None) -> bool:
    return isinstance(node, gast.Name) and (identifier is None or node.id == identifier)


def _stored_function(node: gast.AST, parent_of: dict) -> tuple[str, gast.expr] | None:
    """``(holder, stored value)`` of ``h.append(v)`` (a statement) or ``h[k] = v``."""
    if (
        isinstance(node, gast.Expr)
        and isinstance(node.value, gast.Call)
        and isinstance(node.value.func, gast.Attribute)
        and node.value.func.attr == "append"
        and _is_name(node.value.func.value)
        and len(node.value.args) == 1
        and not node.value.keywords
    ):
        return node.value.func.value.id, node.value.args[0]
    if (
        isinstance(node, gast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], gast.Subscript)
        and _is_name(node.targets[0].value)
    ):
        return node.targets[0].value.id, node.value
    return None


def name_lambda_stores(scope, statements: list[gast.stmt]) -> None:
    """``h.append(lambda ...)`` becomes ``lambda_1 = lambda ...`` then ``h.append(lambda_1)``
    (in every block), so the lambda is an inner function of its own name."""
    from .function_values import _assign, _locate, _name, _own_nodes

    for node in [scope.tree, *_own_nodes(statements)]:
        for attribute in ("body", "orelse", "finalbody"):
            block = getattr(node, attribute, None)
            if not (isinstance(block, list) and block and isinstance(block[0], gast.stmt)):
                continue
            out = []
            for stmt in block:
                stored = _stored_function(stmt, {})
                if stored is not None and isinstance(stored[1], gast.Lambda):
                    name = scope.context.names.numbered("lambda")
                    out.append(_locate(_assign(name, stored[1]), stmt))
                    if isinstance(stmt, gast.Expr):
                        stmt.value.args[0] = _name(name, stmt)
                    else:
                        stmt.value = _name(name, stmt)
                out.append(stmt)
            setattr(node, attribute, out)


def find_holders(scope, defined: set[str]) -> dict[str, Holder]:
    """The holders of ``scope``'s body (see the module docstring); refuses the uses of a
    holder and of its loop targets that cannot be followed."""
    from .function_values import _own_nodes

    body = scope.tree.body
    nodes = _own_nodes(body)
    parent_of = _parents(gast.Module(body=body, type_ignores=[]))
    stores: dict[str, list[tuple[gast.stmt, gast.expr]]] = {}
    for node in nodes:
        stored = _stored_function(node, parent_of)
        if stored is not None and _is_name(stored[1]) and stored[1].id in defined:
            stores.setdefault(stored[0], []).append((node, stored[1]))
    holders = {}
    for name, stored in stores.items():
        bindings = [
            n
            for n in nodes
            if (_is_name(n, name) and isinstance(n.ctx, (gast.Store, gast.Del)))
            or (isinstance(n, gast.FunctionDef) and n.name == name)
        ]
        binding = parent_of.get(id(bindings[0])) if len(bindings) == 1 else None
        empty = (
            isinstance(binding, gast.Assign)
            and len(binding.targets) == 1
            and isinstance(binding.value, (gast.List, gast.Dict))
            and not (getattr(binding.value, "elts", None) or getattr(binding.value, "keys", None))
        )
        if not empty:
            raise scope.error(
                f"unsupported construct: the inner function '{stored[0][1].id}' stored into "
                f"'{name}', which is not a list or dict the function makes once (bound "
                "once to [] or {}); store inner functions only into such a container",
                stored[0][1],
            )
        kind = "list" if isinstance(binding.value, gast.List) else "dict"
        functions = {value.id for _, value in stored}
        if len(functions) > 1:
            raise scope.error(
                f"unsupported construct: '{name}' holds several inner functions "
                f"({', '.join(sorted(functions))}); a list or dict may hold one inner function "
                "(created many times, e.g. in a loop)",
                stored[-1][1],
            )
        holders[name] = Holder(name, kind, functions.pop(), binding)
    for holder in holders.values():
        _check_uses(scope, holder, nodes, parent_of)
    return holders


def _iterated_holder(loop: gast.AST, holder: Holder) -> bool:
    """``for s in h`` (a list) or ``for s in h.values()`` (a dict), also a comprehension."""
    iterable = loop.iter
    if holder.kind == "list":
        return _is_name(iterable, holder.name)
    return (
        isinstance(iterable, gast.Call)
        and isinstance(iterable.func, gast.Attribute)
        and iterable.func.attr == "values"
        and _is_name(iterable.func.value, holder.name)
        and not iterable.args
        and not iterable.keywords
    )


def _check_uses(scope, holder: Holder, nodes: list, parent_of: dict) -> None:
    what = f"the {holder.kind} '{holder.name}', which holds the inner function '{holder.function}'"
    own = {id(n) for n in nodes}
    for node in subnodes(scope.tree.body):
        if _is_name(node, holder.name) and id(node) not in own:
            raise scope.error(
                f"unsupported construct: {what}, used inside a nested function or lambda "
                "(it holds what the inner function's calls need, not the function)",
                node,
            )
    for node in nodes:
        if not (_is_name(node, holder.name) and isinstance(node.ctx, gast.Load)):
            continue
        parent = parent_of.get(id(node))
        grand = parent_of.get(id(parent))
        looped = isinstance(parent, (gast.For, gast.comprehension)) and parent.iter is node
        if looped and holder.kind == "list" and _is_name(parent.target):
            holder.elements.add(parent.target.id)
            continue
        if isinstance(parent, gast.Attribute) and isinstance(grand, gast.Call):
            loop = parent_of.get(id(grand))
            if (
                parent.attr == "append"
                and holder.kind == "list"
                and isinstance(parent_of.get(id(grand)), gast.Expr)
            ):
                continue  # a store: its value was checked by find_holders
            if (
                parent.attr == "values"
                and isinstance(loop, (gast.For, gast.comprehension))
                and _iterated_holder(loop, holder)
                and _is_name(loop.target)
            ):
                holder.elements.add(loop.target.id)
                continue
        if isinstance(parent, gast.Subscript) and parent.value is node:
            if isinstance(parent.ctx, gast.Store) and holder.kind == "dict":
                continue
            if isinstance(grand, gast.Call) and grand.func is parent:
                continue
        if (
            isinstance(parent, gast.Call)
            and _is_name(parent.func, "len")
            and "len" not in scope.locals
            and scope.parsed.lookup("len") is builtins.len
            and len(parent.args) == 1
        ):
            continue
        raise scope.error(
            f"unsupported construct: {what}, used here other than by calling an element "
            f"({holder.name}[i](...)), looping over it and calling each element, storing "
            "the inner function into it, or len()",
            node,
        )
    for element in holder.elements:
        for node in nodes:
            if not _is_name(node, element):
                continue
            parent = parent_of.get(id(node))
            if isinstance(parent, gast.Call) and parent.func is node:
                continue
            if (
                isinstance(parent, (gast.For, gast.comprehension))
                and parent.target is node
                and _iterated_holder(parent, holder)
            ):
                continue
            raise scope.error(
                f"unsupported construct: '{element}', an element of {what}, used here other "
                "than by calling it (or bound otherwise)",
                node,
            )


def element_value(scope, holder: Holder, like: gast.AST) -> gast.expr:
    """What the holder stores for its inner function defined here: the snapshots of its
    computed defaults (one name, a tuple of several, ``None`` for none)."""
    from .function_values import _locate, _name

    snapshots = [snapshot for _, _, snapshot, _ in _dynamic(scope, holder)]
    scope.check_dominated(holder.function, like)
    if not snapshots:
        return _locate(gast.Constant(value=None, kind=None), like)
    if len(snapshots) == 1:
        return _name(snapshots[0], like)
    names = [_name(s, like) for s in snapshots]
    return _locate(gast.Tuple(elts=names, ctx=gast.Load()), like)


def _dynamic(scope, holder: Holder) -> list:
    from .function_registry import lifted_entry

    value = scope.values[holder.function]
    entry = lifted_entry(value.obj)
    return list(getattr(entry, "dynamic_defaults", []) or [])


def element_call(scope, holder: Holder, element: gast.expr, node: gast.Call) -> gast.expr:
    """``s(x)`` (``element`` the name ``s``) or ``h[i](x)`` (``element`` the rewritten
    ``h[i]``): a call of the held inner function passing the element's snapshots."""
    import dataclasses

    from .function_values import _locate, _name

    value = scope.values[holder.function]
    if value.rebinds:
        raise scope.error(
            f"unsupported construct: the inner function '{holder.function}' rebinds "
            f"'{', '.join(value.rebinds)}' with 'nonlocal' and is stored in '{holder.name}'",
            node,
        )
    if any(isinstance(a, gast.Starred) for a in node.args):
        raise scope.error("unsupported construct: '*' unpacking in this call", node)
    dynamic = _dynamic(scope, holder)
    keywords = {keyword for _, keyword, _, _ in dynamic}
    plain = dataclasses.replace(
        value, captures=tuple(c for c in value.captures if c[0] not in keywords)
    )
    if not dynamic and not _is_name(element):
        # nothing to pass, but ``h[i]`` must still be evaluated (and may raise)
        taken = scope.reference("element_taken", element_taken)
        check = gast.Call(func=_name(taken, node), args=[element], keywords=[])
        scope.hoist([gast.Expr(value=check)], node, f"a call of an element of '{holder.name}'")
    passed = []
    for position, (_, keyword, _, _) in enumerate(dynamic):
        if len(dynamic) == 1:
            given = element
        else:
            given = gast.Subscript(
                value=element, slice=gast.Constant(value=position, kind=None), ctx=gast.Load()
            )
        passed.append(gast.keyword(arg=keyword, value=_locate(given, node)))
    reached = getattr(scope, "needs", {}).get(holder.function, set())
    for needed in sorted(reached - {holder.function}):
        scope.check_defined(needed, node)
    scope.arguments(node)
    return scope.call_value(plain, node.args, node.keywords + passed, node)


def element_of_call(scope, node: gast.Call) -> tuple[Holder, gast.expr] | None:
    """The holder and element a call ``s(...)`` or ``h[i](...)`` goes through, or None."""
    holders = getattr(scope, "holders", {})
    func = node.func
    if isinstance(func, gast.Name):
        for holder in holders.values():
            if func.id in holder.elements:
                return holder, func
        return None
    if isinstance(func, gast.Subscript) and _is_name(func.value) and func.value.id in holders:
        func.slice = scope.expression(func.slice)
        return holders[func.value.id], func
    return None


def stored_value(scope, stmt: gast.stmt) -> bool:
    """Rewrite ``h.append(g)`` / ``h[k] = g`` of a holder to store ``g``'s element; True if
    ``stmt`` was such a store."""
    holders = getattr(scope, "holders", {})
    stored = _stored_function(stmt, {})
    if stored is None or stored[0] not in holders or not _is_name(stored[1]):
        return False
    holder = holders[stored[0]]
    if stored[1].id != holder.function:
        return False
    element = element_value(scope, holder, stored[1])
    if isinstance(stmt, gast.Expr):
        stmt.value.args[0] = element
    else:
        stmt.targets[0].slice = scope.expression(stmt.targets[0].slice)
        stmt.value = element
    return True
