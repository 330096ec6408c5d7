"""Nests of containers ("pytrees"): parameters and outputs shaped as dicts, lists, tuples,
named tuples, dataclass instances and registered types, with numbers and arrays as leaves.

A *node* is a ``dict`` (or ``OrderedDict``), a ``list``, a ``tuple``, a named tuple, a
dataclass instance, ``None`` (a node with no children, as in JAX) or an object of a type
given to :func:`register_pytree_node`; anything else is a *leaf*. Dict keys keep their
order. The API uses this module to accept container arguments (``grad(loss)(params)``),
to give their gradients the argument's structure, and to check and convert the
cotangents of container outputs; :func:`tree_map` is for users (``tree_map(lambda p, g:
p - lr * g, params, grads)``).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
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
    is an attribute of the object (the same object, ``self.w``): the gradient of a child
    is the adjoint of that attribute.
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
        return x[key]

    def build(self, x, keys, children):
        return type(x)(zip(keys, children))


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

    def build(self, x, keys, children):
        # a new object of the class with these field values; __init__ is not run (it may
        # compute, and a gradient's fields are not arguments of the constructor)
        obj = object.__new__(type(x))
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


_DICT, _SEQUENCE, _NAMEDTUPLE = _DictNode(), _SequenceNode(), _NamedTupleNode()
_DATACLASS, _NONE = _DataclassNode(), _NoneNode()


def _node_of(x) -> _Node | None:
    kind = type(x)
    registered = _REGISTERED.get(kind)
    if registered is not None:
        return _RegisteredNode(*registered)
    if kind is dict or kind is OrderedDict:
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


def _children(node: _Node, x) -> tuple[list, list]:
    """(keys, children) of the node ``x``; one ``flatten`` call for a registered type."""
    if isinstance(node, _RegisteredNode):
        children = list(node.flatten(x)[0])
        return list(range(len(children))), children
    keys = node.keys(x)
    return keys, [node.child(x, k) for k in keys]


def _build(node: _Node, x, keys: list, children: list):
    if isinstance(node, _RegisteredNode):
        return node.unflatten(node.flatten(x)[1], list(children))
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
    no leaves: it stays ``None`` and ``f`` is not called for it. A mismatch raises
    ``ValueError`` naming the path of the first place the trees differ.
    """
    return _map(f, tree, rest, "")


def _map(f: Callable, tree, rest: tuple, path: str):
    node = _node_of(tree)
    if node is None:
        return f(tree, *rest)
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
    if set(other_keys) != set(keys) or len(other_keys) != len(keys):
        raise ValueError(f"{where} has the keys {other_keys!r} where {against} has {keys!r}")
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


def map_with_path(f: Callable, tree, path: str = ""):
    """``f(path, leaf)`` at each leaf, in a tree of the same structure."""
    node = _node_of(tree)
    if node is None:
        return f(path, tree)
    keys, children = _children(node, tree)
    mapped = [map_with_path(f, c, path + node.path(k)) for k, c in zip(keys, children)]
    if all(m is c for m, c in zip(mapped, children)):
        return tree  # nothing changed: the caller's own container
    return _build(node, tree, keys, mapped)


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
    names = _attribute_names(value, keys, children)
    return Fields(**{n: a for n, a in zip(names, adjoints)})


def _attribute_names(x, keys: list, children: list) -> list[str]:
    """The attribute of ``x`` each child is (dataclass fields; the attribute holding the
    very object for a registered type)."""
    if dataclasses.is_dataclass(x):
        return list(keys)
    attributes = dict(getattr(x, "__dict__", {}))
    for slot in getattr(type(x), "__slots__", ()):
        if hasattr(x, slot):
            attributes[slot] = getattr(x, slot)
    names = []
    for position, child in enumerate(children):
        found = [name for name, v in attributes.items() if v is child]
        if len(found) != 1:
            what = "not an attribute of it" if not found else f"its attributes {', '.join(found)}"
            raise ADTransformError(
                f"cannot differentiate with respect to a {type(x).__name__} object: child "
                f"{position} that its registered flatten function returns is {what}; the "
                "gradient of a registered type is read from the adjoints of its attributes"
            )
        names.append(found[0])
    return names


def gradient_like(adjoint, x, path: str, what: str):
    """The gradient of the container argument ``x`` from its ``adjoint`` as the generated
    code returns it (a dict, a list, ``Fields``, a sparse item or zero): the structure and
    container types of ``x``, a float (or NumPy float) for a float, an array of the same
    shape and dtype for a float array, ``None`` for a leaf that is not differentiated
    (strings, booleans, ``None``)."""
    node = _node_of(x)
    if node is None:
        return _leaf_gradient(adjoint, x, path, what)
    keys, children = _children(node, x)
    if isinstance(node, (_DataclassNode, _RegisteredNode)) and not _is_zero(adjoint):
        names = _attribute_names(x, keys, children)
        parts = [_part(adjoint, name, position) for position, name in enumerate(names)]
    else:
        parts = [_part(adjoint, key, position) for position, key in enumerate(keys)]
    grads = [
        gradient_like(part, child, path + node.path(key), what)
        for part, child, key in zip(parts, children, keys)
    ]
    return _build(node, x, keys, grads)


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
    if isinstance(x, np.ndarray) and x.dtype.kind in "Oc" and not _is_zero(adjoint):
        raise TypeError(
            f"cannot differentiate with respect to {what}{path}: an array of dtype "
            f"{x.dtype} reached the result; differentiated leaves must be real numbers or "
            "float arrays (convert it with .astype(float))"
        )
    if is_differentiable_leaf(x) is False and not _is_zero(adjoint) and not _is_discrete(x):
        raise ADTransformError(
            f"cannot differentiate with respect to {what}{path}: it is a "
            f"{type(x).__name__} object that reached the result; make its class a dataclass "
            "or register it with register_pytree_node"
        )
    return None


def _is_discrete(x) -> bool:
    return (
        x is None
        or isinstance(x, (str, bytes, bool, np.bool_, int, np.integer))
        or (isinstance(x, np.ndarray) and x.dtype.kind in "biuSUO")
    )


def is_differentiable_leaf(x) -> bool:
    """Whether the leaf ``x`` gets a gradient: a float, a NumPy float or a float array
    (integer leaves of a container are passed as they are and not differentiated)."""
    if isinstance(x, np.ndarray):
        return x.dtype.kind == "f"
    return isinstance(x, (float, np.floating))


__all__ = ["is_node", "register_pytree_node", "tree_leaves", "tree_map"]
