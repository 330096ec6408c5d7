"""Nests of containers ("pytrees"): parameters and outputs shaped as dicts, lists, tuples,
named tuples, dataclass instances and registered types, with numbers and arrays as leaves.

A *node* is a ``dict`` (or ``OrderedDict``, ``defaultdict`` or another dict subclass
that reads its items as ``dict`` does), a ``list``, a ``tuple``, a named tuple, a
dataclass instance, ``None`` (a node with no children, as in JAX) or an object of a type
given to :func:`register_pytree_node`; anything else is a *leaf*. Dict keys keep their
order. The API uses this module to accept container arguments (``grad(loss)(params)``),
to give their gradients the argument's structure, and to check and convert the
cotangents of container outputs; :func:`tree_map` is for users (``tree_map(lambda p, g:
p - lr * g, params, grads)``).
"""

from __future__ import annotations

import copy
import dataclasses
import numbers
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from .errors import ADTransformError
from .runtime import DictAdjoint, Fields, Item, KeyItem, ListAdjoint

_REGISTERED: dict[type, tuple[Callable, Callable]] = {}


def register_pytree_node(cls: type, flatten: Callable, unflatten: Callable) -> None:
    """Make objects of ``cls`` containers: ``flatten(obj)`` returns ``(children, aux)``
    (a sequence of children and any hashable data that is not a child) and
    ``unflatten(aux, children)`` builds an object from them, as in
    ``jax.tree_util.register_pytree_node``.

    An argument of such a type can be differentiated when each child ``flatten`` returns
    is stored on the object: an attribute (``self.w``) or an item of a list, tuple or
    dict attribute (``self.items[0]``). Which attribute holds which child is found by
    position: ``unflatten`` is called once with stand-ins for the children, so attributes
    holding the same object (``Affine(0.5, 0.5)``) each get their own gradient.
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_pytree_node expects a class, got {cls!r}")
    if not callable(flatten) or not callable(unflatten):
        raise TypeError("register_pytree_node expects flatten and unflatten functions")
    _REGISTERED[cls] = (flatten, unflatten)


def is_namedtuple(x: object) -> bool:
    """Whether ``x`` is an instance of a named tuple class (``typing.NamedTuple`` too)."""
    return isinstance(x, tuple) and isinstance(getattr(type(x), "_fields", None), tuple)


def is_node(x: object) -> bool:
    """Whether ``x`` is a container node (not a leaf)."""
    return _node_of(x) is not None


class _Node:
    """How to take one kind of container apart and build it again."""

    def keys(self, x) -> list:
        """The children's keys (dict keys, positions, field names), in order."""
        raise NotImplementedError

    def child(self, x, key):
        raise NotImplementedError

    def build(self, x, keys: list, children: list):
        """A container like ``x`` holding ``children`` under ``keys``."""
        raise NotImplementedError

    def path(self, key) -> str:
        return f"[{key!r}]"

    def same_kind(self, x, other) -> bool:
        return type(other) is type(x)


class _DictNode(_Node):
    def keys(self, x):
        return list(x)

    def child(self, x, key):
        return dict.__getitem__(x, key)

    def build(self, x, keys, children):
        if type(x) is dict:
            return dict(zip(keys, children))
        # a dict subclass (OrderedDict, defaultdict...): a copy keeps its type, its
        # default_factory and its instance attributes
        built = copy.copy(x)
        dict.clear(built)
        dict.update(built, zip(keys, children))
        return built


class _SequenceNode(_Node):
    def keys(self, x):
        return list(range(len(x)))

    def child(self, x, key):
        return x[key]

    def build(self, x, keys, children):
        return type(x)(children)

    def path(self, key):
        return f"[{key}]"


class _NamedTupleNode(_SequenceNode):
    def build(self, x, keys, children):
        return type(x)._make(children)


class _DataclassNode(_Node):
    def keys(self, x):
        return [f.name for f in dataclasses.fields(x)]

    def child(self, x, key):
        return getattr(x, key)

    def build(self, x, keys, children, fresh: bool = False):
        # the fields set on a copy of x, so that attributes __post_init__ derived stay
        # (frozen and slots classes too); a gradient (fresh) is a new object holding the
        # fields only. __init__ is not run: it may compute, and a gradient's fields are
        # not arguments of the constructor
        obj = _fresh_object(x) if fresh else _shallow_copy(x)
        for key, child in zip(keys, children):
            object.__setattr__(obj, key, child)
        return obj

    def path(self, key):
        return f".{key}"


class _NoneNode(_Node):
    def keys(self, x):
        return []

    def build(self, x, keys, children):
        return None


class _RegisteredNode(_Node):
    def __init__(self, flatten: Callable, unflatten: Callable) -> None:
        self.flatten, self.unflatten = flatten, unflatten

    def keys(self, x):
        return list(range(len(self.flatten(x)[0])))

    def child(self, x, key):
        return list(self.flatten(x)[0])[key]

    def build(self, x, keys, children):
        return self.unflatten(self.flatten(x)[1], list(children))

    def path(self, key):
        return f"[{key}]"

    def same_kind(self, x, other):
        return type(other) is type(x) and self.flatten(other)[1] == self.flatten(x)[1]


def _fresh_object(x):
    return object.__new__(type(x))


def _shallow_copy(x):
    try:
        return copy.copy(x)
    except Exception:  # a class copy cannot handle: a new object with the fields only
        return _fresh_object(x)


_DICT, _SEQUENCE, _NAMEDTUPLE = _DictNode(), _SequenceNode(), _NamedTupleNode()
_DATACLASS, _NONE = _DataclassNode(), _NoneNode()


def _node_of(x) -> _Node | None:
    kind = type(x)
    registered = _REGISTERED.get(kind)
    if registered is not None:
        return _RegisteredNode(*registered)
    if kind is dict or (isinstance(x, dict) and reads_like_dict(kind)):
        return _DICT
    if kind is list or kind is tuple:
        return _SEQUENCE
    if x is None:
        return _NONE
    if is_namedtuple(x):
        return _NAMEDTUPLE
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return _DATACLASS
    return None


_DICT_READS = ("__getitem__", "__iter__", "keys", "values", "items", "get", "__len__")


def reads_like_dict(cls: type) -> bool:
    """A dict subclass whose items are read by ``dict``'s own methods (``OrderedDict``,
    ``defaultdict``, a subclass adding methods): it is a dict node. One that overrides
    how items are read computes values no derivative is known for: it stays a leaf."""
    for klass in cls.__mro__:
        if klass is dict:
            return True
        if klass is OrderedDict or klass is defaultdict:
            continue
        if any(name in vars(klass) for name in _DICT_READS):
            return False
    return True


def _children(node: _Node, x) -> tuple[list, list]:
    """(keys, children) of the node ``x``; one ``flatten`` call for a registered type."""
    if isinstance(node, _RegisteredNode):
        children = list(node.flatten(x)[0])
        return list(range(len(children))), children
    keys = node.keys(x)
    return keys, [node.child(x, k) for k in keys]


def _build(node: _Node, x, keys: list, children: list, fresh: bool = False):
    """A container like ``x`` holding ``children``; ``fresh``: a gradient, whose dataclass
    objects hold their fields only (not a copy of ``x``'s other attributes)."""
    if isinstance(node, _RegisteredNode):
        return node.unflatten(node.flatten(x)[1], list(children))
    if isinstance(node, _DataclassNode):
        return node.build(x, keys, children, fresh)
    return node.build(x, keys, children)


# -- the public helpers ----------------------------------------------------------------


def tree_leaves(tree) -> list:
    """The leaves of ``tree`` in order (dict keys in their order; ``None`` has none)."""
    leaves: list = []
    _collect(tree, leaves)
    return leaves


def _collect(tree, leaves: list) -> None:
    node = _node_of(tree)
    if node is None:
        leaves.append(tree)
        return
    for child in _children(node, tree)[1]:
        _collect(child, leaves)


def tree_map(f: Callable, tree, *rest):
    """``f`` applied to each leaf of ``tree`` (and the leaves at the same places of the
    trees ``rest``), in a tree of the same structure and container types.

    ``tree_map(lambda p, g: p - lr * g, params, grads)`` is a gradient step on a dict (or
    list, tuple, named tuple, dataclass...) of parameters. Each tree of ``rest`` must have
    the structure of ``tree`` (dicts: the same keys, in any order); where ``tree`` has a
    leaf, ``f`` gets the whole subtree of the others there. ``None`` is a container with
    no leaves: where ``tree`` has ``None`` it stays ``None`` and ``f`` is not called.
    Where ``tree`` has a leaf and a tree of ``rest`` has ``None`` (the gradient of a
    string, boolean or other leaf that is not differentiated), ``f`` is not called either:
    the leaf of ``tree`` is kept as it is, so the update above leaves a model's names and
    flags alone. A mismatch raises ``ValueError`` naming the path of the first place the
    trees differ; an exception ``f`` raises carries a note naming the leaf's path.
    """
    return _map(f, tree, rest, "")


def _map(f: Callable, tree, rest: tuple, path: str):
    node = _node_of(tree)
    if node is None:
        if any(other is None for other in rest):
            return tree  # not differentiated (a None gradient): kept as it is
        try:
            return f(tree, *rest)
        except Exception as exc:
            if hasattr(exc, "add_note"):
                exc.add_note(f"tree_map: raised by the function at the leaf {path or '(root)'}")
            raise
    keys, children = _children(node, tree)
    others = [
        _children_like(node, tree, keys, other, path, f"tree {i + 1}")
        for i, other in enumerate(rest)
    ]
    mapped = [
        _map(f, child, tuple(o[k] for o in others), path + node.path(key))
        for k, (key, child) in enumerate(zip(keys, children))
    ]
    return _build(node, tree, keys, mapped)


def _children_like(
    node: _Node, tree, keys: list, other, path: str, name: str, against: str = "the first tree"
) -> list:
    """The children of ``other`` under the keys of ``tree``'s node, or a ``ValueError``
    naming ``path`` when ``other`` is not a container of the same kind and keys."""
    where = f"{name}{path}"
    other_node = _node_of(other)
    if other_node is None or type(other_node) is not type(node) or not node.same_kind(tree, other):
        raise ValueError(f"{where} is {_describe(other)} where {against} has {_describe(tree)}")
    other_keys, other_children = _children(other_node, other)
    if isinstance(node, _DictNode) and set(other_keys) != set(keys):
        raise ValueError(f"{where} has the keys {other_keys!r} where {against} has {keys!r}")
    if len(other_keys) != len(keys):
        if isinstance(node, _RegisteredNode):
            raise ValueError(
                f"{where} is a {type(other).__name__} of {len(other_keys)} children where "
                f"{against} has a {type(tree).__name__} of {len(keys)}"
            )
        raise ValueError(f"{where} is {_describe(other)} where {against} has {_describe(tree)}")
    if isinstance(node, _DictNode):
        return [other[k] for k in keys]
    return other_children


def _describe(x) -> str:
    if x is None:
        return "None"
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    if isinstance(x, (list, tuple, dict)) and _node_of(x) is not None:
        return f"a {type(x).__name__} of {len(x)}"
    return f"a {type(x).__name__}"


# -- used by the API ------------------------------------------------------------------


def leaves_with_paths(tree, path: str = "") -> list[tuple[str, Any]]:
    """``(path, leaf)`` for each leaf of ``tree``: ``['w']``, ``[1]``, ``.field``."""
    node = _node_of(tree)
    if node is None:
        return [(path, tree)]
    found = []
    keys, children = _children(node, tree)
    for key, child in zip(keys, children):
        found.extend(leaves_with_paths(child, path + node.path(key)))
    return found


def map_with_path(f: Callable, tree, path: str = "", fresh: bool = False):
    """``f(path, leaf)`` at each leaf, in a tree of the same structure. Dataclass objects
    are copies of ``tree``'s (their other attributes kept) unless ``fresh`` (a gradient:
    the fields only)."""
    node = _node_of(tree)
    if node is None:
        return f(path, tree)
    keys, children = _children(node, tree)
    mapped = [map_with_path(f, c, path + node.path(k), fresh) for k, c in zip(keys, children)]
    if all(m is c for m, c in zip(mapped, children)) and not fresh:
        return tree  # nothing changed: the caller's own container
    return _build(node, tree, keys, mapped, fresh)


def with_leaves(tree, leaves: list, fresh: bool = False):
    """``tree`` with its leaves replaced, in order, by ``leaves`` (as many as
    :func:`leaves_with_paths` gives)."""
    remaining = iter(leaves)
    return map_with_path(lambda path, leaf: next(remaining), tree, fresh=fresh)


def leaf_pairs(tree, other, path: str = "", name: str = "the gradient") -> list[tuple]:
    """``(path, leaf, part)`` for each leaf of ``tree``, with ``part`` what ``other`` (a
    tree of the same structure, ``None`` allowed where ``tree`` has a leaf) holds there;
    a ``ValueError`` naming the path where ``other`` has another structure."""
    node = _node_of(tree)
    if node is None:
        return [(path, tree, other)]
    keys, children = _children(node, tree)
    others = _children_like(node, tree, keys, other, path, name, "the argument")
    found = []
    for key, child, part in zip(keys, children, others):
        found.extend(leaf_pairs(child, part, path + node.path(key), name))
    return found


def check_cotangent(value, cotangent, path: str = "", name: str = "cotangent") -> None:
    """Raise ``ValueError`` naming ``name + path`` (``cotangent['b'][1]``) at the first
    place where ``cotangent`` is not a container of the kind and keys of ``value`` or a
    leaf's shape differs; ``None`` stands for a zero cotangent of any leaf."""
    node = _node_of(value)
    if node is None:
        if cotangent is None:
            return
        if _node_of(cotangent) is not None:
            raise ValueError(
                f"{name}{path} is {_describe(cotangent)} where the function's value has "
                f"{_describe(value)}"
            )
        if np.shape(cotangent) != np.shape(value):
            raise ValueError(
                f"{name}{path} has shape {np.shape(cotangent)} but the function's value has "
                f"shape {np.shape(value)} there"
            )
        return
    keys, children = _children(node, value)
    others = _children_like(node, value, keys, cotangent, path, name, "the function's value")
    for key, child, other in zip(keys, children, others):
        check_cotangent(child, other, path + node.path(key), name)


def adjoint_of(cotangent, value):
    """The cotangent of a container output in the form generated code reads it: dicts as
    dicts, sequences and named tuples as ``ListAdjoint``, dataclass and registered
    objects as ``Fields``, ``None`` as zero; leaves as they are (a 0-d array as a
    scalar). ``value`` is the output, whose structure ``cotangent`` has."""
    node = _node_of(value)
    if node is None:
        if cotangent is None:
            return 0.0
        if isinstance(cotangent, np.ndarray) and cotangent.ndim == 0:
            return cotangent[()]  # an immutable scalar: never written in place
        return cotangent
    if value is None:
        return 0.0
    keys, children = _children(node, value)
    others = _children_like(node, value, keys, cotangent, "", "cotangent", "the value")
    adjoints = [adjoint_of(o, c) for o, c in zip(others, children)]
    if isinstance(node, _DictNode):
        return DictAdjoint(zip(keys, adjoints))
    if isinstance(node, (_SequenceNode, _NamedTupleNode)):
        return ListAdjoint(adjoints)
    locations = _child_locations(x=value, node=node, keys=keys, children=children, what="")
    by_attribute: dict[str, list] = {}
    for (name, steps), adjoint in zip(locations, adjoints):
        by_attribute.setdefault(name, []).append((steps, adjoint))
    return Fields(
        **{
            name: _nested_adjoint(getattr(value, name), placed)
            for name, placed in by_attribute.items()
        }
    )


def _nested_adjoint(value, placed: list):
    """The adjoint of ``value`` holding each ``(steps, adjoint)`` of ``placed`` at the
    place ``steps`` lead to (zero elsewhere), in the form generated code reads."""
    for steps, adjoint in placed:
        if not steps:
            return adjoint
    node = _node_of(value)
    keys, children = _children(node, value)
    parts = []
    for position, child in enumerate(children):
        inner = [(steps[1:], a) for steps, a in placed if steps[0][1] == position]
        parts.append(_nested_adjoint(child, inner) if inner else 0.0)
    if isinstance(node, _DictNode):
        return DictAdjoint(zip(keys, parts))
    if isinstance(node, _DataclassNode):
        return Fields(**dict(zip(keys, parts)))
    return ListAdjoint(parts)


# -- where the children of a dataclass or registered object are stored -------------------

# (attribute name, steps into the containers that attribute holds: (key, position) pairs)
Location = tuple[str, tuple[tuple[Hashable, int], ...]]


class _StandIn:
    """A stand-in for one child, given to a registered type's ``unflatten`` to see which
    attribute it stores each child in."""

    __slots__ = ()


def _child_locations(x, node: _Node, keys: list, children: list, what: str) -> list[Location]:
    """Where each child of ``x`` is stored: a dataclass's fields; for a registered type,
    the attribute (or the item of a list, tuple or dict attribute) where ``unflatten``
    puts the child at that position, checked to hold that very child in ``x``. Found by
    position, so two attributes holding one object (``Affine(0.5, 0.5)``) are told apart;
    by identity in ``x`` when ``unflatten`` cannot build an object of stand-ins."""
    if isinstance(node, _DataclassNode):
        return [(key, ()) for key in keys]
    stand_ins = [_StandIn() for _ in children]
    try:
        probe = node.unflatten(node.flatten(x)[1], list(stand_ins))
        locations = _locate(probe, stand_ins)
    except Exception:
        locations = [None] * len(children)
    if not _hold(x, locations, children):
        locations = _locate(x, children)
    for position, (location, child) in enumerate(zip(locations, children)):
        if location is None or _value_at(x, location) is not child:
            subject = f"{what}, a" if what else "a"
            raise ADTransformError(
                f"cannot differentiate with respect to {subject} {type(x).__name__} "
                f"object: child {position} that its registered flatten function returns is "
                "not an attribute of it (nor an item of a list, tuple or dict attribute) at "
                "the place its unflatten function puts it; the gradient of a "
                "registered type is read from the adjoints of the attributes holding its "
                "children, so flatten must return what the object stores"
            )
    return locations


def _hold(x, locations: list, children: list) -> bool:
    """Whether ``x`` holds each child, the very object, at its location."""
    return all(
        location is not None and _value_at(x, location) is child
        for location, child in zip(locations, children)
    )


def _locate(obj, targets: list) -> list[Location | None]:
    """The one place among the attributes of ``obj`` (and the containers they hold) where
    each of ``targets`` is stored, by identity; ``None`` where it is in none or several."""
    positions: dict[int, int] = {}
    for target in targets:
        positions[id(target)] = positions.get(id(target), 0) + 1
    found: dict[int, list[Location]] = {}

    def visit(value, name: str, steps: tuple, depth: int) -> None:
        if id(value) in positions:
            found.setdefault(id(value), []).append((name, steps))
            return
        node = _node_of(value)
        if node is None or value is None or isinstance(node, _RegisteredNode) or depth > 8:
            return
        keys, children = _children(node, value)
        for position, (key, child) in enumerate(zip(keys, children)):
            visit(child, name, (*steps, (key, position)), depth + 1)

    for name, value in _stored_attributes(obj).items():
        visit(value, name, (), 0)
    return [
        found[id(t)][0] if positions[id(t)] == 1 and len(found.get(id(t), ())) == 1 else None
        for t in targets
    ]


def _stored_attributes(obj) -> dict[str, Any]:
    """The attributes stored on ``obj``: its instance ``__dict__`` and filled slots."""
    attributes = dict(getattr(obj, "__dict__", {}))
    for klass in type(obj).__mro__:
        slots = vars(klass).get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if slot not in ("__dict__", "__weakref__") and hasattr(obj, slot):
                attributes.setdefault(slot, getattr(obj, slot))
    return attributes


def _value_at(x, location: Location):
    """What ``x`` holds at ``location`` (a stand-in where it holds nothing there)."""
    name, steps = location
    try:
        value = getattr(x, name)
        for _key, position in steps:
            value = _children(_node_of(value), value)[1][position]
    except (AttributeError, IndexError, TypeError):
        return _StandIn()
    return value


def _part_at(adjoint, location: Location):
    """The adjoint at ``location`` in the adjoint of an object (``Fields`` by attribute)."""
    name, steps = location
    if _is_zero_adjoint(adjoint):
        return 0.0
    if isinstance(adjoint, Fields):
        part = adjoint[name]
    elif dataclasses.is_dataclass(adjoint) or type(adjoint) in _REGISTERED:
        part = getattr(adjoint, name)
    else:
        raise ADTransformError(
            f"internal error: the adjoint of an object argument is a {type(adjoint).__name__}"
        )
    for key, position in steps:
        part = _part(part, key, position)
    return part


def _refuse_unread(adjoint, x, locations: list[Location], where: str, node: _Node) -> None:
    """An ``ADTransformError`` where the adjoint of the object ``x`` has a non-zero part
    that is not one of its children (a value ``__init__`` or ``__post_init__`` derived
    from the fields, read by the function): its derivative would be dropped silently."""
    if not isinstance(adjoint, Fields):
        return
    stored = _stored_attributes(x)
    for name, part in adjoint.adjoints.items():
        steps = [s for n, s in locations if n == name]
        if name not in stored:
            unexplained = False  # a class attribute (a ClassVar): the same for every object
        elif not steps:
            unexplained = not _is_zero_adjoint(part)
        else:
            unexplained = not _rest_is_zero(part, getattr(x, name), steps)
        if unexplained:
            kind = "fields" if isinstance(node, _DataclassNode) else "registered children"
            raise ADTransformError(
                f"cannot differentiate with respect to {where}: the function reads its "
                f"attribute '{name}', which is not one of its {kind} (a value computed from "
                "them, in __init__ or __post_init__ say); the derivative through it is not "
                "known. Read the fields inside the function (compute the value there), or "
                "make the attribute a field"
            )


def _rest_is_zero(adjoint, value, steps: list) -> bool:
    """Whether ``adjoint`` (of ``value``) is zero everywhere except at ``steps``."""
    if () in steps or _is_zero_adjoint(adjoint):
        return True
    node = _node_of(value)
    if node is None or value is None:
        return False
    keys, children = _children(node, value)
    for position, (key, child) in enumerate(zip(keys, children)):
        inner = [s[1:] for s in steps if s[0][1] == position]
        part = _part(adjoint, key, position)
        if not (_rest_is_zero(part, child, inner) if inner else _is_zero_adjoint(part)):
            return False
    return True


def gradient_like(adjoint, x, path: str, what: str):
    """The gradient of the container argument ``x`` from its ``adjoint`` as the generated
    code returns it (a dict, a list, ``Fields``, a sparse item or zero): the structure and
    container types of ``x``, a float (or NumPy float) for a float, an array of the same
    shape and dtype for a float array, ``None`` for a leaf that is not differentiated
    (strings, booleans, ``None``, objects nothing reached)."""
    node = _node_of(x)
    if node is None:
        return _leaf_gradient(adjoint, x, path, what)
    keys, children = _children(node, x)
    if isinstance(node, (_DataclassNode, _RegisteredNode)) and not _is_zero(adjoint):
        locations = _child_locations(x, node, keys, children, what + path)
        parts = [_part_at(adjoint, location) for location in locations]
        _refuse_unread(adjoint, x, locations, what + path, node)
    else:
        parts = [_part(adjoint, key, position) for position, key in enumerate(keys)]
    grads = [
        None if static else gradient_like(part, child, path + node.path(key), what)
        for part, child, key, static in zip(parts, children, keys, static_fields(x, keys))
    ]
    return _build(node, x, keys, grads, fresh=True)


def static_fields(x, keys: list) -> list[bool]:
    """For each child of ``x``: whether it is a dataclass field marked static,
    ``dataclasses.field(metadata={"static": True})``: passed as given, never
    differentiated, its gradient ``None``."""
    if not dataclasses.is_dataclass(x) or isinstance(x, type):
        return [False] * len(keys)
    marked = {f.name for f in dataclasses.fields(x) if f.metadata.get("static")}
    return [key in marked for key in keys]


def _part(adjoint, key: Hashable, position: int):
    """The adjoint of one child in a container's adjoint (zero where nothing reached it)."""
    if _is_zero(adjoint):
        return 0.0
    if isinstance(adjoint, Fields):
        return adjoint[key]
    if isinstance(adjoint, (dict, KeyItem)):
        return adjoint[key] if not isinstance(adjoint, dict) or key in adjoint else 0.0
    if isinstance(adjoint, (list, tuple, Item)):
        return adjoint[position]
    if dataclasses.is_dataclass(adjoint) or type(adjoint) in _REGISTERED:
        return getattr(adjoint, key)
    raise ADTransformError(
        f"internal error: the adjoint of a container argument is a {type(adjoint).__name__}"
    )


def _is_zero(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0


def _is_zero_adjoint(adjoint) -> bool:
    """Whether ``adjoint`` is structurally zero: the number 0, or a container adjoint
    (``Fields``, dict, list, a sparse item) holding only zeros (an empty ``Fields`` is
    the adjoint of an object nothing read)."""
    if _is_zero(adjoint):
        return True
    if isinstance(adjoint, Fields):
        return all(_is_zero_adjoint(a) for a in adjoint.adjoints.values())
    if isinstance(adjoint, dict):
        return all(_is_zero_adjoint(a) for a in adjoint.values())
    if isinstance(adjoint, (list, tuple)):
        return all(_is_zero_adjoint(a) for a in adjoint)
    if isinstance(adjoint, (Item, KeyItem)):
        return _is_zero_adjoint(adjoint.value)
    return False


def _all_zeros(adjoint) -> bool:
    return isinstance(adjoint, np.ndarray) and adjoint.dtype.kind in "fc" and not adjoint.any()


def _leaf_gradient(adjoint, x, path: str, what: str):
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        if _is_zero(adjoint):
            return np.zeros(x.shape, dtype=x.dtype)
        result = np.asarray(adjoint)
        if result.shape != x.shape:
            result = np.broadcast_to(result, x.shape)
        return np.array(result, dtype=x.dtype)  # a copy: no two gradients share memory
    if isinstance(x, (float, np.floating)) and not isinstance(x, bool):
        return type(x)(adjoint)
    if leaf_is_integer(x):
        return 0.0 if _is_zero_adjoint(adjoint) else float(adjoint)
    if _is_zero_adjoint(adjoint):
        return None  # not differentiated, or nothing reached it
    if isinstance(x, np.ndarray) and x.dtype.kind in "Oc" and _all_zeros(adjoint):
        return None  # the zeros generated code starts an array's adjoint with
    if isinstance(x, np.ndarray) and x.dtype.kind in "Oc":
        raise TypeError(
            f"cannot differentiate with respect to {what}{path}: an array of dtype "
            f"{x.dtype} reached the result; differentiated leaves must be real numbers or "
            "float arrays (convert it with .astype(float))"
        )
    if is_differentiable_leaf(x) is False and not _is_discrete(x):
        raise ADTransformError(
            f"cannot differentiate with respect to {what}{path}: it is a "
            f"{type(x).__name__} object that reached the result; make its class a dataclass "
            "or register it with register_pytree_node"
        )
    return None


def _is_discrete(x) -> bool:
    return (
        x is None
        or isinstance(x, (str, bytes, bool, np.bool_))
        or (isinstance(x, np.ndarray) and x.dtype.kind in "biuSUO")
    )


def is_differentiable_leaf(x) -> bool:
    """Whether the leaf ``x`` gets a gradient: a float, a NumPy float, a float array, or
    an integer (differentiated as a float; integer arrays are index arrays and are not)."""
    if isinstance(x, np.ndarray):
        return x.dtype.kind == "f"
    return isinstance(x, (float, np.floating)) or leaf_is_integer(x)


def leaf_is_integer(x) -> bool:
    """A Python integer or a 64-bit NumPy integer (not a boolean): differentiated as a
    float. A narrower NumPy integer (``np.int8`` ... ``np.int32``) is not: derivative
    arithmetic in its own dtype (``2 * k``) would wrap around."""
    if isinstance(x, np.integer):
        return x.dtype.itemsize >= 8
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


__all__ = ["is_node", "register_pytree_node", "tree_leaves", "tree_map"]
