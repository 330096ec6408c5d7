"""Per-leaf facts of container arguments: which reads of a differentiated container
cannot carry a derivative.

A differentiated argument that is a container (``grad(loss)(params)``) may hold leaves
that are never differentiated: booleans, boolean and integer arrays, integers, strings,
``None`` (README: their gradient is ``None``). At the call, :func:`describe` records the
argument's structure and, for each leaf, whether it is ``STATIC`` (one of those) or
``DIFF`` (a float, a float array, or anything else: differentiated or refused as
before). The description is part of the cache key (the ``LeafKinds`` field the API
appends), so code generated for one description is never run on another.

The analysis (:func:`static_reads`) follows reads with constant keys, positions and
attribute names (``p["mask"]``, ``layers[0]["idx"]``, ``c.k`` of a named tuple or a
dataclass), reads with keys known only when the code runs (``params[k]``, the element of
a loop over a list), copies, and ``values()``/``items()``/``get``; a name is static when
*every* definition of it gives a static value. Static names are never varied, exactly
like the same value passed as a separate argument. A read the description does not
cover (a key it does not have, an attribute that is not a field, a registered type,
anything written to) is ``DIFF``: the analysis treats it as it did before.
"""

from __future__ import annotations

import collections
import dataclasses
import inspect
import operator
import types
from collections.abc import Hashable

import gast
import numpy as np

from . import pytree, runtime

STATIC = "static"  # every leaf below is never differentiated
INT = "int"  # an integer: differentiated as a float, but no derivative as an index or count
DIFF = "diff"  # may carry a derivative (or not described)
_ATOMS = (STATIC, INT, DIFF)

# node descriptions: ("dict", ((key, facts), ...)), ("seq", (facts, ...)),
# ("seq*", facts) (a list or tuple whose elements all have these facts, any length),
# ("fields", ((name, facts), ...), indexable) for a dataclass (False) or named tuple (True)


@dataclasses.dataclass(frozen=True)
class LeafKinds:
    """The facts of each positional argument (``None`` where there are none), as the last
    element of an API cache key: separate from the argument types before it."""

    per_argument: tuple


_STATIC_DTYPES = frozenset("biuSU")


def describe(x) -> Hashable:
    """The facts of the value ``x``: ``STATIC``, ``DIFF`` or a node description."""
    kind = type(x)
    if kind is np.ndarray and kind not in pytree._REGISTERED:  # the common leaves first
        return STATIC if x.dtype.kind in _STATIC_DTYPES else DIFF
    if kind is float:
        return DIFF
    if kind in pytree._REGISTERED:
        return DIFF  # children are mapped to attributes by identity: not followed
    node = pytree._node_of(x)
    if node is None:
        if _is_integer_leaf(x):
            return INT
        return STATIC if _is_static_leaf(x) else DIFF
    keys, children = pytree._children(node, x)
    static = pytree.static_fields(x, keys)
    facts = tuple(STATIC if marked else describe(c) for c, marked in zip(children, static))
    if all(f == STATIC for f in facts):
        return STATIC
    if all(f == DIFF for f in facts):
        return DIFF
    if isinstance(node, pytree._DictNode):
        return ("dict", tuple(zip(keys, facts)))
    if isinstance(node, pytree._NamedTupleNode):
        if not _plain_fields(type(x), type(x)._fields, _TUPLE_GETTER):
            return ("seq", facts)  # a field read runs code of the class: not followed
        return ("fields", tuple(zip(type(x)._fields, facts)), True)
    if isinstance(node, pytree._DataclassNode):
        if not _plain_fields(type(x), keys, types.MemberDescriptorType):
            return DIFF
        return ("fields", tuple(zip(keys, facts)), False)
    if len(set(facts)) == 1:
        return ("seq*", facts[0])
    return ("seq", facts)


_TUPLE_GETTER = type(inspect.getattr_static(collections.namedtuple("_Pair", "a"), "a"))


def _plain_fields(cls: type, names, storage: type) -> bool:
    """Whether ``obj.name`` reads the stored field for every ``name`` of ``cls``: no
    ``__getattribute__`` of the class, and no data descriptor (a property) under that
    name other than the field's own storage (a named tuple's getter, a slot)."""
    if cls.__getattribute__ is not object.__getattribute__ and not issubclass(cls, tuple):
        return False
    if issubclass(cls, tuple) and cls.__getattribute__ is not tuple.__getattribute__:
        return False
    for name in names:
        found = inspect.getattr_static(cls, name, None)
        data = hasattr(type(found), "__set__") or hasattr(type(found), "__delete__")
        if (data or storage is _TUPLE_GETTER) and type(found) is not storage:
            return False
    return True


def _is_static_leaf(x) -> bool:
    """Booleans, strings, bytes, ``None`` and NumPy integers narrower than 64 bits; arrays
    of booleans, integers or text (integers that are differentiated are checked before).
    Floats, float arrays and every other object may carry a derivative (or are refused
    where the gradient is built)."""
    if x is None or isinstance(x, (bool, np.bool_, str, bytes, np.integer)):
        return True
    return isinstance(x, np.ndarray) and x.dtype.kind in "biuSU"


def _is_integer_leaf(x) -> bool:
    """A Python or 64-bit NumPy integer (not a boolean): differentiated as a float where
    it enters arithmetic, passed to the function as the integer it is."""
    return pytree.leaf_is_integer(x)


def argument_facts(args: tuple, positions: tuple[int, ...]) -> LeafKinds | None:
    """The ``LeafKinds`` of the container arguments at ``positions``; ``None`` when no
    such argument has a static leaf (the key stays the argument types alone)."""
    found = [None] * len(args)
    for i in positions:
        if args[i] is not None and pytree.is_node(args[i]):
            facts = describe(args[i])
            if facts != DIFF:
                found[i] = facts
    return LeafKinds(tuple(found)) if any(f is not None for f in found) else None


# -- the analysis side ---------------------------------------------------------------------


def join(a: Hashable, b: Hashable) -> Hashable:
    """Facts that hold for a value that is either ``a`` or ``b``."""
    if a == b:
        return a
    if {a, b} == {STATIC, INT}:
        return INT  # an integer or a static value: an index either way, varied when an int
    if a in _ATOMS or b in _ATOMS:
        return DIFF  # a described node has a DIFF or INT leaf, else it would be STATIC
    if a[0] == "seq*" or b[0] == "seq*":
        if a[0] in ("seq", "seq*") and b[0] in ("seq", "seq*"):
            return ("seq*", join(_any_element(a), _any_element(b)))
        return DIFF
    if a[0] != b[0] or len(a[1]) != len(b[1]):
        return DIFF
    if a[0] == "seq":
        return ("seq", tuple(join(x, y) for x, y in zip(a[1], b[1])))
    if [k for k, _ in a[1]] != [k for k, _ in b[1]] or a[2:] != b[2:]:
        return DIFF
    return (a[0], tuple((k, join(x, y)) for (k, x), (_, y) in zip(a[1], b[1])), *a[2:])


def _children_facts(facts: Hashable) -> list:
    if facts[0] == "seq*":
        return [facts[1]]
    if facts[0] == "seq":
        return list(facts[1])
    return [f for _, f in facts[1]]


def _any_element(facts: Hashable) -> Hashable:
    """The facts of an element read at a position known only when the code runs."""
    if facts in _ATOMS:
        return _part_of_atom(facts)
    if facts[0] in ("seq", "seq*"):
        return _join_all(_children_facts(facts))
    return DIFF


def _join_all(found: list) -> Hashable:
    result = found[0] if found else STATIC
    for f in found[1:]:
        result = join(result, f)
    return result


def _item(facts: Hashable, index: gast.expr) -> Hashable:
    """The facts of ``x[index]`` for ``x`` with ``facts``."""
    if facts in _ATOMS:
        return _part_of_atom(facts)
    kind = facts[0]
    if isinstance(index, gast.Constant):
        key = index.value
        if kind == "dict":
            return next((f for k, f in facts[1] if _same_key(k, key)), DIFF)
        if kind == "seq*" and type(key) is int:
            return facts[1]
        positional = kind == "seq" or (kind == "fields" and facts[2])
        if positional and type(key) is int:
            children = facts[1] if kind == "seq" else [f for _, f in facts[1]]
            if -len(children) <= key < len(children):
                return children[key]
        return DIFF
    if isinstance(index, gast.Name):
        if kind == "dict":
            return _join_all([f for _, f in facts[1]])  # ``params[k]``: any of the values
        if kind in ("seq", "seq*") or (kind == "fields" and facts[2]):
            return _join_all(_children_facts(facts))
        return DIFF
    if isinstance(index, gast.Slice) and kind in ("seq", "seq*"):
        return ("seq*", _join_all(_children_facts(facts)))
    return DIFF


def _same_key(k: Hashable, key: Hashable) -> bool:
    """Whether ``d[key]`` reads the entry stored under ``k`` (``1 == 1.0 == True``, as a
    dict compares; a mismatch of type only makes a read ``DIFF``)."""
    return type(k) is type(key) and k == key


def _part_of_atom(facts: Hashable) -> Hashable:
    """A part of a static value is static; of anything else, not followed."""
    return STATIC if facts == STATIC else DIFF


def _attribute(facts: Hashable, name: object) -> Hashable:
    if facts in _ATOMS:
        return _part_of_atom(facts)
    if facts[0] == "fields" and isinstance(name, str):
        return next((f for k, f in facts[1] if k == name), DIFF)
    return DIFF


def _values(facts: Hashable) -> Hashable:
    if facts in _ATOMS:
        return _part_of_atom(facts)
    return ("seq*", _join_all([f for _, f in facts[1]])) if facts[0] == "dict" else DIFF


def _items(facts: Hashable) -> Hashable:
    if facts == STATIC:
        return STATIC
    if facts in _ATOMS or facts[0] != "dict":
        return DIFF
    pairs = [("seq", (STATIC, f)) for _, f in facts[1]]
    return ("seq*", _join_all(pairs))


def _unpacked(facts: Hashable) -> Hashable:
    """The facts of what iterating a value gives, as a sequence (a dict gives its keys)."""
    if facts in _ATOMS:
        return _part_of_atom(facts)
    if facts[0] in ("seq", "seq*"):
        return facts
    if facts[0] == "dict":
        return STATIC
    if facts[0] == "fields" and facts[2]:  # a named tuple
        return ("seq", tuple(f for _, f in facts[1]))
    return DIFF


def _atom_facts(atom: gast.expr, env: dict) -> Hashable:
    if isinstance(atom, gast.Constant):
        return STATIC  # a constant never carries a derivative
    if isinstance(atom, gast.Name):
        return env.get(atom.id, DIFF)
    return DIFF


_NO_VALUE = "no value"  # ``x = None`` before a loop: a placeholder, never read as such


def _read_facts(op, env: dict, forms: tuple) -> Hashable:
    """The facts of the value ``op`` assigns (``DIFF`` unless it is a read followed here)."""
    copy, field, rule, constant = forms
    if op.form == constant:
        value = op.inputs["x"]
        if isinstance(value, gast.Constant) and value.value is None:
            return _NO_VALUE
        return _atom_facts(value, env)
    if op.form == copy:
        return _atom_facts(op.inputs["x"], env)
    if op.form == field:
        return _attribute(_atom_facts(op.inputs["obj"], env), op.attr)
    if op.form != rule:
        return DIFF
    primitive = op.rule.primitive
    inputs = op.inputs
    if primitive is runtime.dict_key:
        return STATIC  # a key of a dict: never differentiated
    if primitive is operator.getitem or primitive is runtime.iterated:
        source = _atom_facts(inputs["x"], env)
        if primitive is runtime.iterated and source not in _ATOMS and source[0] == "dict":
            return STATIC  # iterating a dict gives its keys
        return _item(source, inputs["index"])
    if primitive is runtime.unpacked:  # ``a, b = x`` of a value not known to be a tuple
        return _unpacked(_atom_facts(inputs["whole"], env))
    if primitive is runtime.attribute_of:
        name = inputs["name"]
        return _attribute(
            _atom_facts(inputs["x"], env), name.value if isinstance(name, gast.Constant) else None
        )
    if primitive in _INTEGER_ARITHMETIC:
        return _integer_arithmetic(inputs.values(), env)
    receiver = _atom_facts(inputs["self"], env) if "self" in inputs else DIFF
    if receiver not in _ATOMS and receiver[0] != "dict":
        return DIFF  # a method of another object, chosen by its name: not followed
    if primitive == ("method", "values"):
        return _values(receiver)
    if primitive == ("method", "items"):
        return _items(receiver)
    if primitive == ("method", "get") and "key" in inputs:
        found = _item(receiver, inputs["key"])
        default = inputs.get("default")
        return join(found, STATIC if default is None else _atom_facts(default, env))
    return DIFF


# integers in, an integer out: ``p["k"] + 1``, ``p["n"] // 2`` index or count like ``p["k"]``
_INTEGER_ARITHMETIC = frozenset(
    (operator.add, operator.sub, operator.mul, operator.floordiv, operator.mod, operator.neg)
)


def _integer_arithmetic(operands, env: dict) -> Hashable:
    """``INT`` when every operand is an integer leaf, an integer constant or a static
    value and one is an integer leaf (the result is an integer); else ``DIFF``."""
    facts = []
    for atom in operands:
        if isinstance(atom, gast.Constant):
            if type(atom.value) is not int:
                return DIFF
            continue
        facts.append(_atom_facts(atom, env))
    if INT in facts and all(f in (INT, STATIC) for f in facts):
        return INT
    return DIFF


def integer_valued(facts: Hashable) -> bool:
    """Whether a value with ``facts`` is an integer or a container of integers and static
    values (``p["shape"]`` = ``(2, 3)``): as an index, count or shape it has no derivative."""
    if facts in _ATOMS:
        return facts == INT
    return all(f == STATIC or integer_valued(f) for f in _children_facts(facts))


def static_reads(ops: list, start: dict[str, Hashable]) -> set[str]:
    """The names every definition of which (in ``ops``: each operation with a target,
    in-place changes included) gives a value without derivative, from the parameters'
    facts ``start``."""
    return {name for name, facts in facts_of_names(ops, start).items() if facts == STATIC}


def facts_of_names(ops: list, start: dict[str, Hashable]) -> dict[str, Hashable]:
    """The facts of every name that holds a part of a described parameter (``STATIC`` or
    a node description; other names are left out: ``DIFF``)."""
    if not start:
        return {}
    from .ops import CONSTANT, COPY, FIELD, RULE

    forms = (COPY, FIELD, RULE, CONSTANT)
    defined = [op for op in ops if op.target is not None]
    env = dict(start)
    for _ in range(50):
        new: dict[str, Hashable] = dict(start)
        for op in defined:
            facts = _read_facts(op, env, forms)
            name = op.target
            if facts is _NO_VALUE:
                continue
            new[name] = join(new[name], facts) if name in new else facts
        for name in start:  # a parameter assigned in the function: also what it was given
            if any(op.target == name for op in defined):
                new[name] = join(new[name], start[name])
        if new == env:
            return {name: facts for name, facts in env.items() if facts != DIFF}
        env = new
    return {}  # no fixpoint: nothing is claimed


def argument_facts_of_call(op, facts: dict[str, Hashable]) -> dict[str, Hashable]:
    """For a call of a user function: its parameter -> the facts of the atom the call
    gives it, where they are known (the helper's pair is generated for them)."""
    return {
        param: facts[atom.id]
        for param, atom in op.inputs.items()
        if isinstance(atom, gast.Name) and atom.id in facts
    }
