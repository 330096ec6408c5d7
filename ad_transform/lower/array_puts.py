"""``np.put`` and ``np.place`` statements become item writes.

``np.put(a, ind, v, mode)`` writes ``v`` (flattened, repeated as needed) at the flat
indices ``ind`` of ``a``; ``np.place(arr, mask, vals)`` writes ``vals`` (likewise) where
``mask`` (of ``arr``'s size) is true. Both are item writes into an array, so the pass
spells them as one::

    a[put_index(a, ind, mode)] = put_values(v, put_count(ind))
    arr[place_index(arr, mask)] = put_values(vals, place_count(mask))

(runtime helpers: the index unravels the flat indices, or reshapes the mask, in C order;
``put_values`` is ``np.resize`` of the flattened values, differentiable in them). The
write then goes through the machinery of every item write: only an array the function
created may be written (``ownership``), another live name of it is refused, the
backward sweep reads the written elements' adjoint and zeroes it (the last write wins
at a repeated index, as in NumPy), a write into an integer array has no derivative.

Only the statement form with a plain name as the array is lowered; any other use
(``r = np.put(...)``, ``np.put(self.buf, ...)``, the method ``a.put(...)``) is left
alone, and refused by the analysis when it is given a differentiated value. Arguments
that are not names or constants are evaluated once, in order, into fresh names.
"""

from __future__ import annotations

import inspect

import gast
import numpy as np

from .. import runtime
from ..nodes import subnodes

_SCOPES = (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Lambda)

# the parameters of each function, in order (NumPy's names)
_PARAMETERS = {np.put: ("a", "ind", "v", "mode"), np.place: ("arr", "mask", "vals")}
_DEFAULTS = {"mode": "raise"}


def applies(tree: gast.FunctionDef) -> bool:
    """Whether the function mentions ``put`` or ``place`` at all (the pass's quick test)."""
    return any(
        isinstance(node, gast.Attribute | gast.Name)
        and (getattr(node, "attr", None) or getattr(node, "id", None)) in ("put", "place")
        for node in subnodes(tree.body)
    )


def run(context) -> None:
    """Lower the ``np.put``/``np.place`` statements of ``context.tree`` in place."""
    context.tree.body = _block(context.tree.body, context)


run.applies = applies


def _block(stmts: list, context) -> list:
    out: list = []
    for stmt in stmts:
        if isinstance(stmt, _SCOPES):
            out.append(stmt)
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                setattr(stmt, field, _block(inner, context))
        for handler in getattr(stmt, "handlers", ()) or ():
            handler.body = _block(handler.body, context)
        for case in getattr(stmt, "cases", ()) or ():
            case.body = _block(case.body, context)
        lowered = _lowered(stmt, context)
        out.extend(lowered if lowered is not None else [stmt])
    return out


def _resolve(node: gast.expr, context) -> object:
    """The object a static callee (``np.put``, ``numpy.place``) refers to, or None."""
    chain = []
    while isinstance(node, gast.Attribute):
        chain.append(node.attr)
        node = node.value
    if not isinstance(node, gast.Name):
        return None
    if node.id in context.objects:
        obj = context.objects[node.id]
    elif node.id in context.parsed.local_names:
        return None
    else:
        obj = context.parsed.lookup(node.id)
    for attr in reversed(chain):
        obj = getattr(obj, attr, None)
    return obj


def _arguments(call: gast.Call, names: tuple[str, ...]) -> dict | None:
    """The call's arguments by parameter name, or None if they do not fit."""
    if any(isinstance(a, gast.Starred) for a in call.args) or any(
        kw.arg is None for kw in call.keywords
    ):
        return None
    signature = inspect.Signature(
        [
            inspect.Parameter(
                n,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=_DEFAULTS.get(n, inspect.Parameter.empty),
            )
            for n in names
        ]
    )
    try:
        bound = signature.bind(*call.args, **{kw.arg: kw.value for kw in call.keywords})
    except TypeError:
        return None
    return dict(bound.arguments)


def _lowered(stmt: gast.stmt, context) -> list | None:
    if not (isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call)):
        return None
    call = stmt.value
    function = _resolve(call.func, context)
    names = next((p for f, p in _PARAMETERS.items() if f is function), None)
    if names is None:
        return None
    arguments = _arguments(call, names)
    if arguments is None or not isinstance(arguments[names[0]], gast.Name):
        return None
    before: list = []
    atoms = {}
    for name in names:
        node = arguments.get(name)
        if node is None:
            atoms[name] = _located(gast.Constant(value=_DEFAULTS[name], kind=None), stmt)
        elif isinstance(node, gast.Name | gast.Constant):
            atoms[name] = node
        else:  # evaluated once, in the order of the call
            fresh = context.fresh(f"{name}_arg")
            before.append(
                _located(gast.Assign(targets=[_name(fresh, stmt, True)], value=node), stmt)
            )
            atoms[name] = _name(fresh, stmt)
    target = atoms[names[0]]
    if function is np.put:
        index = _call(
            context, "put_index", runtime.put_index, [target, atoms["ind"], atoms["mode"]], stmt
        )
        count = _call(context, "put_count", runtime.put_count, [atoms["ind"]], stmt)
        values = atoms["v"]
    else:
        index = _call(context, "place_index", runtime.place_index, [target, atoms["mask"]], stmt)
        count = _call(context, "place_count", runtime.place_count, [atoms["mask"]], stmt)
        values = atoms["vals"]
    written = _call(context, "put_values", runtime.put_values, [values, count], stmt)
    store = gast.Subscript(value=_name(target.id, stmt), slice=index, ctx=gast.Store())
    return [*before, _located(gast.Assign(targets=[_located(store, stmt)], value=written), stmt)]


def _located(node: gast.AST, like: gast.AST) -> gast.AST:
    for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
        value = getattr(like, attr, None)
        if value is not None and getattr(node, attr, None) is None:
            setattr(node, attr, value)
    return node


def _name(identifier: str, like: gast.AST, store: bool = False) -> gast.Name:
    ctx = gast.Store() if store else gast.Load()
    return _located(gast.Name(id=identifier, ctx=ctx, annotation=None, type_comment=None), like)


def _call(context, base: str, helper, args: list, like: gast.AST) -> gast.Call:
    """A call of the runtime ``helper`` through a name the analysis resolves to it."""
    func = _name(context.bind(base, helper), like)
    return _located(gast.Call(func=func, args=args, keywords=[]), like)
