"""Shape facts of the leaves of dict parameters (issue 15; docs/architecture/dict_leaf_facts.md).

``grad(loss)(params, X, Y)`` with ``params = {"W1": ..., "b1": ...}``: the cache key
records, for an argument that is a plain ``dict`` with ``str`` keys and leaves that are
all ndarrays or Python floats, each leaf's entry (an array's dtype and unit axes, like a
top-level array argument; ``"float"`` for a float). Any other dict (a list or an object
among its leaves, a non-str key, a dict subclass) has no entry and keeps the generic code.

The shape pass gives ``p["W1"]`` (a constant ``str`` key read from such a parameter) the
leaf's fact. That fact holds only while the dict is unchanged, so it is used only in a
function that provably changes no object and runs no code of the user's
(:func:`dicts_stay_unchanged`): every statement is a rule, a copy, a constant, a display
or the return, every name it reads is a value the function computed from such values
(or a parameter or free name that is an array, a number or such a dict), and no method
is called. Then nothing can write into the dict between the call and the read: no
store, no helper, no alias written through, no user ``__getattr__``/``__bool__``/``__add__``
run. Otherwise the dict parameters get no facts at all.
"""

from __future__ import annotations

import numbers
import types
from dataclasses import dataclass

import gast
import numpy as np

DICT = "dict"  # the tag of a dict argument's entry in ``shapes.argument_shapes``
FLOAT = "float"  # the entry of a Python float leaf


@dataclass(frozen=True)
class DictFact:
    """A dict parameter of ``str`` keys: each leaf's fact, in the dict's order
    (``shapes.ArrayFact`` for an ndarray leaf, ``shapes.REAL`` for a float leaf)."""

    leaves: tuple

    def leaf(self, key: object) -> object:
        """The fact of ``d[key]``; None for a key it does not have (the read raises)."""
        if type(key) is not str:
            return None
        return next((fact for k, fact in self.leaves if k == key), None)


def dict_entry(value: dict, array_entry) -> tuple | None:
    """The cache-key entry of a dict argument ``value``: ``(DICT, ((key, leaf entry),
    ...))`` with ``array_entry(leaf)`` for an ndarray leaf and ``FLOAT`` for a float; None
    when a key is not a ``str`` or a leaf is neither (the generic code)."""
    items = []
    for key, leaf in value.items():
        if type(key) is not str:
            return None
        kind = type(leaf)
        if kind is np.ndarray:
            items.append((key, array_entry(leaf)))
        elif kind is float:
            items.append((key, FLOAT))
        else:
            return None
    return (DICT, tuple(items)) if items else None


def is_dict_entry(entry: object) -> bool:
    return type(entry) is tuple and len(entry) == 2 and entry[0] == DICT


def dict_fact(entry: tuple, array_fact, real: object) -> DictFact:
    """The ``DictFact`` of a dict parameter from its entry (``dict_entry``);
    ``array_fact(entry)`` turns an array leaf's entry into its fact."""
    return DictFact(
        tuple((key, real if leaf == FLOAT else array_fact(leaf)) for key, leaf in entry[1])
    )


# -- when the facts may be used -------------------------------------------------------------

_SAFE_FORMS = ("rule", "copy", "constant", "return", "build")
# statements under which a read could run code or change an object the ops do not show
_REFUSED_NODES = (
    gast.Lambda,
    gast.FunctionDef,
    gast.AsyncFunctionDef,
    gast.ClassDef,
    gast.With,
    gast.AsyncWith,
    gast.Global,
    gast.Nonlocal,
    gast.Delete,
    gast.Yield,
    gast.YieldFrom,
    gast.Await,
)


def dicts_stay_unchanged(ops: list, fn, safe_params: set[str], counters: set[str]) -> bool:
    """Whether no dict parameter can change while the function runs (see the module
    docstring). ``safe_params``: the parameters holding arrays of a non-object dtype,
    numbers, or dicts with an entry; ``counters``: the ``range`` loop counters."""
    body = [node for stmt in fn.body for node in gast.walk(stmt)]
    if any(isinstance(node, _REFUSED_NODES) for node in body):
        return False
    locals_ = {op.target for op in ops if op.target is not None}
    safe = set(safe_params) | set(counters)
    free_ok: dict[str, bool] = {}

    def name_is_safe(name: str) -> bool:
        if name in safe:
            return True
        if name in locals_ or name in fn.params:
            return False
        if name not in free_ok:
            free_ok[name] = _safe_free_value(fn.parsed.lookup(name))
        return free_ok[name]

    def op_is_safe(op) -> bool:
        if op.form not in _SAFE_FORMS:
            return False
        if op.form == "rule":
            primitive = op.rule.primitive
            if isinstance(primitive, tuple) and primitive[0] != "attribute":
                return False  # a method: it may change its receiver
        return all(
            name_is_safe(node.id)
            for atom in op.inputs.values()
            for node in gast.walk(atom)
            if isinstance(node, gast.Name)
        )

    for _ in range(len(ops) + 1):  # names computed by safe ops from safe values are safe
        grown = {op.target for op in ops if op.target is not None and op_is_safe(op)} - safe
        if not grown:
            break
        safe |= grown
    if not all(op_is_safe(op) for op in ops):
        return False
    # every name the body reads (tests of ``if``/``while``, loop headers included)
    return all(
        name_is_safe(node.id)
        for node in body
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load)
    )


def _safe_free_value(value: object) -> bool:
    """A free name whose value runs no code of the user's when read, called as NumPy or
    Python does, or used in arithmetic: a module, a builtin, a NumPy function or ufunc, a
    number, an ndarray of a non-object dtype."""
    if isinstance(value, types.ModuleType | types.BuiltinFunctionType | np.ufunc):
        return True
    if isinstance(value, bool | numbers.Number) and type(value).__module__ in (
        "builtins",
        "numpy",
    ):
        return True
    if type(value) is np.ndarray:
        return value.dtype.kind in "biufc"
    if isinstance(value, type) and value.__module__ == "builtins":
        return True
    module = getattr(value, "__module__", None) or ""
    return isinstance(value, types.FunctionType) and (
        module == "numpy" or module.startswith("numpy.")
    )
