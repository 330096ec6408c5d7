"""``f(x, **options)`` with ``options`` a dict display the function never changes becomes
``f(x, scale=options["scale"], shift=options["shift"])``.

Named keywords are bound to the callee's parameters (or spread into a helper's
``**kwargs``, ``lower/signature.py``), so they are differentiated like any argument;
``**`` of a dict whose keys cannot be known is refused by the analysis. The rewrite is
the same program when:

- the name is bound by exactly one statement, ``options = {"scale": ..., ...}``, whose
  keys are distinct string constants that are identifiers (no ``**`` inside), and it is
  no parameter, ``global``, ``nonlocal`` or name a nested function or lambda mentions;
- every other use of it is ``**options`` in a call or an item read ``options[k]``
  (nothing can change the dict or keep a reference to it);
- no key is also given by name, or by another ``**``, in the same call (Python raises
  ``TypeError`` then; the call is left for the analysis to refuse).
"""

from __future__ import annotations

import gast

from ..nodes import subnodes
from . import SCOPES, LoweringContext, names_bound_otherwise


def run(context: LoweringContext) -> None:
    """Rewrite ``**name`` of unchanged dict displays as named keywords (in place)."""
    known = _known_dicts(context)
    if not known:
        return
    for node in subnodes(context.tree.body):
        if isinstance(node, gast.Call) and any(k.arg is None for k in node.keywords):
            _spread_call(node, known)


def _known_dicts(context: LoweringContext) -> dict[str, list[str]]:
    """Name -> keys of the dicts the rewrite applies to."""
    tree = context.tree
    keys: dict[str, list[str]] = {}
    bindings: dict[str, int] = {}
    other = names_bound_otherwise(tree, inside_scopes=True)
    allowed: set[int] = set()
    nodes = subnodes(tree.body)
    for node in nodes:
        if isinstance(node, SCOPES):
            continue
        if (
            isinstance(node, gast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], gast.Name)
            and isinstance(node.value, gast.Dict)
        ):
            name = node.targets[0].id
            bindings[name] = bindings.get(name, 0) + 1
            allowed.add(id(node.targets[0]))
            found = _constant_keys(node.value)
            if found is None:
                other.add(name)
            else:
                keys[name] = found
        elif isinstance(node, gast.keyword) and node.arg is None:
            if isinstance(node.value, gast.Name):
                allowed.add(id(node.value))
        elif (
            isinstance(node, gast.Subscript)
            and isinstance(node.ctx, gast.Load)
            and isinstance(node.value, gast.Name)
        ):
            allowed.add(id(node.value))
    for node in nodes:
        if isinstance(node, gast.Name) and id(node) not in allowed:
            other.add(node.id)
    excluded = other | context.removed_locals | set(context.cells)
    return {n: k for n, k in keys.items() if bindings[n] == 1 and n not in excluded}


def _constant_keys(display: gast.Dict) -> list[str] | None:
    keys = []
    for key in display.keys:
        if not (isinstance(key, gast.Constant) and isinstance(key.value, str)):
            return None
        if not key.value.isidentifier() or key.value in keys:
            return None
        keys.append(key.value)
    return keys


def _spread_call(call: gast.Call, known: dict[str, list[str]]) -> None:
    given = [k.arg for k in call.keywords if k.arg is not None]
    for keyword in call.keywords:
        if keyword.arg is None:
            if not (isinstance(keyword.value, gast.Name) and keyword.value.id in known):
                return
            given += known[keyword.value.id]
    if len(given) != len(set(given)):
        return  # Python raises TypeError: left for the analysis
    keywords = []
    for keyword in call.keywords:
        if keyword.arg is not None:
            keywords.append(keyword)
            continue
        for key in known[keyword.value.id]:
            read = gast.Subscript(
                value=gast.Name(
                    id=keyword.value.id, ctx=gast.Load(), annotation=None, type_comment=None
                ),
                slice=gast.Constant(value=key, kind=None),
                ctx=gast.Load(),
            )
            for part in (read, read.value, read.slice):
                gast.copy_location(part, keyword.value)
                part.end_lineno = getattr(keyword.value, "end_lineno", None)
                part.end_col_offset = getattr(keyword.value, "end_col_offset", None)
            keywords.append(gast.keyword(arg=key, value=read))
    call.keywords = keywords
