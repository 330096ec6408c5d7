"""What is left to tidy once helper pairs are written into their caller.

``inline_pairs`` splices the halves of a helper pair into a loop of its caller as they
are: the forward half builds its returned tuple, the caller copies and indexes it
(``t = (a, b)``, ``r = t``, ``x = r[0]``); the backward half starts from zero
adjoints it overwrites at once and hands its gradients back as one tuple
(``dx, dy = (g1, g2)``). A person writing the helper inline writes none of this.

* ``split_result_tuples`` (forward sweep): a tuple display bound once whose only uses,
  directly or through copies bound once, are ``t[k]`` with a constant ``k`` becomes one
  name per element (``t_0 = a``, ``t_1 = b``) and ``r[k]`` reads the element's name.
  The elements are evaluated where and in the order they were; every name involved is
  bound exactly once in both sweeps, so ``t_k`` holds element ``k`` of ``t`` wherever
  ``t`` could have been read.
* ``split_tuple_assignments`` (backward sweep): ``a, b = (e1, e2)`` with distinct name
  targets none of which the right side reads is ``a = e1`` then ``b = e2``; the copies
  and dead zero stores that leaves are removed by the usual passes run again.
"""

from __future__ import annotations

from collections import Counter

import gast

from ..nodes import subnodes
from .walk import COMPOUND, all_statements, assigned, forget, forget_node, target_name


def split_result_tuples(program, protected: set[str]) -> bool:
    """Split the tuples of the forward sweep whose elements are only read one by one;
    ``protected`` names (returned or saved) are read whole and keep their tuple."""
    sweeps = [program.forward, program.backward]
    stores = Counter(n for sweep in sweeps for s in all_statements(sweep) for n in assigned(s))
    definitions = {}  # a tuple's name -> its statement
    copies = {}  # copy name -> the name it copies
    for stmt in all_statements(program.forward):
        name = target_name(stmt)
        if name is None or stores[name] != 1:
            continue
        if isinstance(stmt.value, gast.Tuple) and not any(
            isinstance(e, gast.Starred) for e in stmt.value.elts
        ):
            definitions[name] = stmt
        elif isinstance(stmt.value, gast.Name):
            copies[name] = stmt.value.id
    if not definitions:
        return False
    root = {name: name for name in definitions}
    changed = True
    while changed:  # copies of copies
        changed = False
        for copy, source in copies.items():
            if copy not in root and source in root:
                root[copy] = root[source]
                changed = True
    refused = _refused_roots(sweeps, root, definitions)
    refused |= {root[name] for name in root if name in protected}
    chosen = {name: r for name, r in root.items() if r not in refused}
    if not chosen:
        return False
    elements = {}
    for name, stmt in definitions.items():
        if name in refused:
            continue
        count = len(stmt.value.elts)
        elements[name] = [program.fn.names.fresh(f"{name}_{k}") for k in range(count)]
    for sweep in sweeps:
        _rewrite_block(sweep, chosen, elements, definitions)
    return True


def _refused_roots(sweeps, root: dict, definitions: dict) -> set[str]:
    """The tuples some name of whose chain is read otherwise than ``name[k]`` or a copy."""
    refused = set()
    for sweep in sweeps:
        for stmt in all_statements(sweep):
            if target_name(stmt) in root and isinstance(stmt.value, gast.Name):
                continue  # a copy in the chain (its value is a chain name too)
            allowed = set()
            nodes = subnodes(_header(stmt) if isinstance(stmt, COMPOUND) else [stmt])
            for node in nodes:
                if (
                    isinstance(node, gast.Subscript)
                    and _element_index(node, root, definitions) is not None
                ):
                    allowed.add(id(node.value))
            for node in nodes:
                if (
                    isinstance(node, gast.Name)
                    and node.id in root
                    and isinstance(node.ctx, gast.Load)
                    and id(node) not in allowed
                ):
                    refused.add(root[node.id])
    return refused


def _header(stmt) -> list:
    return [stmt.target, stmt.iter] if isinstance(stmt, gast.For) else [stmt.test]


def _element_index(node: gast.Subscript, root: dict, definitions: dict) -> int | None:
    if not (isinstance(node.value, gast.Name) and node.value.id in root):
        return None
    if not isinstance(node.ctx, gast.Load):
        return None
    index = node.slice
    size = len(definitions[root[node.value.id]].value.elts)
    if isinstance(index, gast.Constant) and type(index.value) is int and 0 <= index.value < size:
        return index.value
    return None


def _rewrite_block(block: list, chosen: dict, elements: dict, definitions: dict) -> None:
    index = 0
    while index < len(block):
        stmt = block[index]
        if isinstance(stmt, COMPOUND):
            _rewrite_block(stmt.body, chosen, elements, definitions)
            _rewrite_block(stmt.orelse, chosen, elements, definitions)
            for node in _header(stmt):
                _replace_reads(node, chosen, elements, definitions)
            forget_node(stmt)
            index += 1
            continue
        name = target_name(stmt)
        if name in elements and stmt is definitions[name]:
            split = [_assign(n, e, stmt) for n, e in zip(elements[name], stmt.value.elts)]
            block[index : index + 1] = split
            index += len(split)
            continue
        if name in chosen and isinstance(stmt.value, gast.Name):
            del block[index]  # a copy of the tuple: its reads now name the elements
            continue
        _replace_reads(stmt, chosen, elements, definitions)
        forget(stmt)
        index += 1


def _replace_reads(node, chosen: dict, elements: dict, definitions: dict):
    for field, value in gast.iter_fields(node):
        if isinstance(value, list):
            value[:] = [_replaced(v, chosen, elements, definitions) for v in value]
        elif isinstance(value, gast.AST):
            setattr(node, field, _replaced(value, chosen, elements, definitions))


def _replaced(node, chosen, elements, definitions):
    if (
        isinstance(node, gast.Subscript)
        and isinstance(node.value, gast.Name)
        and node.value.id in chosen
    ):
        k = _element_index(node, chosen, definitions)
        element = elements[chosen[node.value.id]][k]
        return gast.Name(id=element, ctx=gast.Load(), annotation=None, type_comment=None)
    if isinstance(node, gast.AST):
        _replace_reads(node, chosen, elements, definitions)
    return node


def _assign(name: str, value: gast.expr, like: gast.stmt) -> gast.Assign:
    stmt = gast.Assign(
        targets=[gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)],
        value=value,
        type_comment=None,
    )
    for key, attribute in like.__dict__.items():
        if key.startswith("origin") or key == "ad_pure":
            setattr(stmt, key, attribute)
    return stmt


def split_tuple_assignments(block: list[gast.stmt]) -> bool:
    """``a, b = (e1, e2)`` -> ``a = e1; b = e2`` where that is the same (in place)."""
    changed = False
    index = 0
    while index < len(block):
        stmt = block[index]
        if isinstance(stmt, COMPOUND):
            changed |= split_tuple_assignments(stmt.body) | split_tuple_assignments(stmt.orelse)
            if changed:
                forget_node(stmt)
        elif _splittable(stmt):
            targets = [t.id for t in stmt.targets[0].elts]
            split = [_assign(t, e, stmt) for t, e in zip(targets, stmt.value.elts)]
            block[index : index + 1] = split
            index += len(split)
            changed = True
            continue
        index += 1
    return changed


def _splittable(stmt) -> bool:
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
        return False
    target, value = stmt.targets[0], stmt.value
    if not (isinstance(target, gast.Tuple) and isinstance(value, gast.Tuple)):
        return False
    if len(target.elts) != len(value.elts):
        return False
    if not all(isinstance(t, gast.Name) for t in target.elts):
        return False
    names = [t.id for t in target.elts]
    if len(set(names)) != len(names) or any(isinstance(e, gast.Starred) for e in value.elts):
        return False
    read = {n.id for n in subnodes(value.elts) if isinstance(n, gast.Name)}
    return not read & set(names)
