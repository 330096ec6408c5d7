"""The tree helpers (``ad_transform.tree_leaves``, ``tree_map``) inside a differentiated
function: the adjoints that move leaf adjoints between a tree and the flat list of its
leaves (in ``pytree``'s flatten order), in the forms generated code reads (``DictAdjoint``
for a dict, ``ListAdjoint`` for a list, tuple or named tuple, ``Fields`` for a dataclass
or a registered object). ``tree_map(f, t, *rest)`` is lowered to
``tree_rebuilt(tree_structure(t), [f(a, ...) for a, ... in zip(tree_leaves(t),
tree_leaves_like(r, shape), ...)])`` (``lower/builtin_loops.py``).
"""

from __future__ import annotations

from .operators import element_adjoints
from .values import DictAdjoint, Fields, ListAdjoint, _is_zero


def _pytree():
    from .. import pytree  # pytree imports the runtime: imported when first used

    return pytree


class TreeShape:
    """The structure of a tree (the tree itself: its leaves are not read)."""

    __slots__ = ("tree",)

    def __init__(self, tree) -> None:
        self.tree = tree


def tree_structure(tree) -> TreeShape:
    """The structure of ``tree``, for ``tree_rebuilt`` and ``tree_leaves_like``."""
    return TreeShape(tree)


def tree_rebuilt(shape: TreeShape, leaves: list):
    """A tree of ``shape``'s structure and container types holding ``leaves`` in order
    (what ``tree_map`` returns)."""
    remaining = iter(leaves)
    return _pytree().tree_map(lambda _: next(remaining), shape.tree)


def tree_rebuilt_adjoint(g, shape: TreeShape):
    """The adjoint of ``leaves`` in ``tree_rebuilt(shape, leaves)``: the adjoint of each
    leaf place of ``g`` (the tree's adjoint), in flatten order."""
    if _is_zero(g):
        return 0.0
    found: list = []
    _read_leaf_adjoints(g, shape.tree, found)
    return ListAdjoint(found)


def _read_leaf_adjoints(adjoint, tree, found: list) -> None:
    pytree = _pytree()
    node = pytree._node_of(tree)
    if node is None:
        found.append(adjoint)
        return
    keys, children = pytree._children(node, tree)
    if isinstance(node, (pytree._DataclassNode, pytree._RegisteredNode)) and not _is_zero(adjoint):
        keys_read = list(_attribute_parts(pytree, node, tree, keys, children, keys))
    else:
        keys_read = keys
    for position, (key, child) in enumerate(zip(keys_read, children)):
        _read_leaf_adjoints(pytree._part(adjoint, key, position), child, found)


def tree_leaves_adjoint(g, tree):
    """The adjoint of ``tree`` in ``tree_leaves(tree)``: each leaf's adjoint (an element
    of ``g``) at its place."""
    if _is_zero(g):
        return 0.0
    pytree = _pytree()
    adjoints = iter(element_adjoints(g, len(pytree.tree_leaves(tree))))
    return _placed(tree, tree, lambda: next(adjoints))


def tree_leaves_like(other, shape: TreeShape) -> list:
    """The parts of ``other`` at the leaf places of ``shape`` (subtrees where ``other`` is
    deeper), with ``tree_map``'s structure checks."""
    parts: list = []
    _pytree().tree_map(lambda _, part: parts.append(part), shape.tree, other)
    return parts


def tree_leaves_like_adjoint(g, other, shape: TreeShape):
    """The adjoint of ``other`` in ``tree_leaves_like(other, shape)``."""
    if _is_zero(g):
        return 0.0
    count = len(tree_leaves_like(other, shape))
    adjoints = iter(element_adjoints(g, count))
    return _placed(shape.tree, other, lambda: next(adjoints))


def _placed(tree, other, next_adjoint):
    """The adjoint of ``other`` (of ``tree``'s structure down to ``tree``'s leaves) whose
    parts at ``tree``'s leaf places get ``next_adjoint()`` in flatten order."""
    pytree = _pytree()
    node = pytree._node_of(tree)
    if node is None:
        return next_adjoint()
    if tree is None:
        return 0.0
    keys, children = pytree._children(node, tree)
    other_keys, other_children = pytree._children(node, other)
    if isinstance(node, pytree._DictNode):
        parts = [_placed(child, other[key], next_adjoint) for key, child in zip(keys, children)]
        return DictAdjoint(zip(keys, parts))
    parts = [_placed(c, o, next_adjoint) for c, o in zip(children, other_children)]
    if isinstance(node, pytree._SequenceNode):  # lists, tuples, named tuples
        return ListAdjoint(parts)
    return Fields(**_attribute_parts(pytree, node, other, other_keys, other_children, parts))


def _attribute_parts(pytree, node, x, keys: list, children: list, parts: list) -> dict:
    """The adjoint of each attribute of the dataclass or registered object ``x`` from its
    children's ``parts``: a child stored in an item of an attribute's container is
    refused here (the tree helpers inside a function place children on attributes)."""
    from ..errors import ADTransformError

    locations = pytree._child_locations(x, node, keys, children, "")
    if any(steps for _, steps in locations):
        raise ADTransformError(
            f"tree_leaves/tree_map inside a differentiated function: the children of a "
            f"{type(x).__name__} object are stored inside containers it holds; read its "
            "attributes instead"
        )
    return {name: part for (name, _), part in zip(locations, parts)}
