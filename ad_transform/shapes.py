"""Shape facts: what the transformer knows of each value's rank, dtype and unit axes.

The generated code is cached per argument types and, for each ndarray argument, its
dtype and which of its axes have length 1 (``argument_shapes``): one generated function
per rank, not per size. From these facts of the parameters, ``infer`` derives facts for
what the function computes (an element of a 1-D float array is a real scalar, ``A @ v``
with a 2-D ``A`` and a 1-D ``v`` is a 1-D array, a full reduction is a scalar ...), and
``reverse.py`` uses them to choose the direct adjoint forms: no ``unbroadcast`` where
nothing was broadcast, ``np.outer(g, v)`` and ``A.T @ g`` for a matrix-vector product,
``g[i]`` for the adjoint of an element written into a float array.

Every fact holds for *every* value of the argument types and ranks it was derived
from (any sizes, 0 included); where that cannot be shown the fact is ``None`` (not
known) and the generated code is the generic one. Facts:

* ``ArrayFact(ndim, dtype, units)``: an ``np.ndarray`` (never a NumPy scalar) of that
  rank; ``dtype`` the dtype's kind (``"f"`` a real float, ``"i"``, ``"c"``...) or None;
  ``units`` per axis: True (length 1), False (length other than 1) or None.
* ``IntFact(value)``: a Python or NumPy integer (never a bool), its value if known; or
  a number parameter used where only an integer works (see ``parameter_fact``).
* ``REAL``: a Python float or NumPy real floating scalar.
* ``ShapeOf(ndim)``: the ``shape`` tuple of an array of that rank (or any tuple of that
  many integers).
* ``Parts(facts)``: a list or tuple display, its elements' facts.
* ``ListOf(element)``: a list only ever appended to and read (the tape of plain
  derivative code): the join of the facts of what is appended.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field

import gast
import numpy as np

from . import runtime
from .dict_leaf_facts import DictFact, dict_entry, dict_fact, is_dict_entry
from .rules.registry import ARRAY, SCALAR


@dataclass(frozen=True)
class ArrayFact:
    ndim: int
    dtype: str | None
    units: tuple[bool | None, ...]
    # per axis, a symbol of its length (``lengths.py`` style tuples below) or None; two
    # axes with equal symbols have equal lengths in every call; () when none is known
    lengths: tuple = ()

    def length(self, axis: int) -> object:
        return self.lengths[axis] if self.lengths else None


# Length symbols: ("arg", name, axis, unit) the length of a parameter's axis (unit: its
# fact, True/False); ("minus", base, c) is max(0, base - c) (``x[1:-1]`` of an axis of
# length base: c = 2); ("min", base, c) is min(base, c) (``x[:1]``, ``x[-1:]``).


def _with_lengths(fact, lengths) -> object:
    if not isinstance(fact, ArrayFact):
        return fact
    lengths = tuple(lengths)
    if not any(x is not None for x in lengths) or len(lengths) != fact.ndim:
        lengths = ()
    return ArrayFact(fact.ndim, fact.dtype, fact.units, lengths)


def _sliced_length(base, part: gast.Slice, known: dict):
    """The symbol of the length of ``x[lower:upper]`` (step 1) of an axis of length
    ``base``, where it is one of the canonical forms; else None."""
    if base is None:
        return None
    bounds = []
    for bound in (part.lower, part.upper, part.step):
        if bound is None or _is_none(bound):
            bounds.append(None)
            continue
        fact = atom_fact(bound, known)
        if not isinstance(fact, IntFact) or fact.value is None:
            return None
        bounds.append(fact.value)
    lower, upper, step = bounds
    if step not in (None, 1):
        return None
    lower = 0 if lower is None else lower
    if lower >= 0 and (upper is None or upper < 0):
        return _minus(base, lower - (upper or 0))
    if lower == 0 and upper is not None and upper >= 0:
        return ("min", base, upper)
    if lower < 0 and upper is None:
        return ("min", base, -lower)
    return None


def _minus(base, c: int):
    if c == 0:
        return base
    if isinstance(base, tuple) and base[0] == "minus":
        return ("minus", base[1], base[2] + c)
    return ("minus", base, c)


@dataclass(frozen=True)
class IntFact:
    value: int | None = None


@dataclass(frozen=True)
class ShapeOf:
    ndim: int


@dataclass(frozen=True)
class Parts:
    """A list or tuple display never changed in place: the facts of its elements."""

    facts: tuple


@dataclass(frozen=True)
class ListOf:
    """A list bound once to ``[]`` and then only appended to, read by an integer index and
    measured (``len``): never changed otherwise, aliased or passed on. ``element``: the
    join of the facts of the values appended (``_BOTTOM`` while none is known)."""

    element: object


REAL = "real"
_BOTTOM = "bottom"


def argument_shapes(args: tuple) -> tuple:
    """The shape part of the cache key of a call with ``args``: for each ndarray its
    dtype and which axes have length 1 (their number is its rank), else None (the
    argument's type, in the key already, tells a number's kind)."""
    return tuple(map(_argument_shape, args))


def _argument_shape(value) -> object:
    if type(value) is np.ndarray:
        dtype, shape = value.dtype, value.shape
        entry = _SEEN.get((dtype, shape))
        if entry is None:  # the key is computed on every call: remembered per dtype, shape
            if len(_SEEN) > 1024:
                _SEEN.clear()
            entry = _SEEN[dtype, shape] = (dtype.str, tuple([n == 1 for n in shape]))
        return entry
    if type(value) is dict:  # its leaves' entries (dict_leaf_facts.py), or None
        return dict_entry(value, _argument_shape)
    return None


_SEEN: dict = {}  # (dtype, shape) -> the entry of argument_shapes


def number_fact(value) -> object:
    """The fact of a Python number held by a free name."""
    return IntFact(value) if type(value) is int else REAL


def parameter_fact(entry, kind: str | None) -> object:
    """The fact of a parameter from its entry in ``argument_shapes`` and its kind.

    A number (SCALAR kind: a Python or NumPy int or float) is an ``IntFact``: the facts
    use an integer only where the code needs one (an index, a length), and a float
    there raises, so ``x[n]`` is an element of ``x`` whenever it runs. Ints and floats
    thus share one specialisation."""
    if entry is None:
        return IntFact() if kind == SCALAR else None
    if is_dict_entry(entry):  # a dict of str keys and array or float leaves
        return dict_fact(entry, _array_fact, REAL)
    if isinstance(entry, tuple):
        return _array_fact(entry)
    return None


def _array_fact(entry: tuple) -> ArrayFact:
    dtype, units = entry
    return ArrayFact(len(units), np.dtype(dtype).kind, tuple(bool(u) for u in units))


# Primitives whose result has the broadcast shape of their operands and, for real
# floating operands (and real or integer scalars), a real floating dtype.
_FLOAT_ELEMENTWISE = {
    operator.add,
    operator.sub,
    operator.mul,
    operator.truediv,
    operator.pow,
    operator.neg,
    operator.pos,
    *(
        getattr(np, name)
        for name in [
            "add",
            "subtract",
            "multiply",
            "divide",
            "true_divide",
            "power",
            "negative",
            "positive",
            "tanh",
            "exp",
            "log",
            "sin",
            "cos",
            "tan",
            "sqrt",
            "square",
            "logaddexp",
            "expm1",
            "log1p",
            "sinh",
            "cosh",
            "arctan",
            "arcsin",
            "arccos",
            "arctanh",
            "arcsinh",
            "arccosh",
            "exp2",
            "log2",
            "log10",
            "maximum",
            "minimum",
            "fmax",
            "fmin",
            "absolute",
        ]
    ),
}
# ``math`` functions: a Python float whatever the argument (or they raise)
_MATH_FLOAT = {
    getattr(math, name)
    for name in [
        "sqrt",
        "exp",
        "log",
        "log2",
        "log10",
        "log1p",
        "expm1",
        "sin",
        "cos",
        "tan",
        "sinh",
        "cosh",
        "tanh",
        "asin",
        "acos",
        "atan",
        "atan2",
        "asinh",
        "acosh",
        "atanh",
        "hypot",
        "pow",
        "fabs",
        "erf",
        "erfc",
        "gamma",
        "lgamma",
        "degrees",
        "radians",
    ]
}
_INT_ARITHMETIC = {operator.add, operator.sub, operator.mul, operator.neg, operator.pos}
_MATMUL = {operator.matmul, np.matmul}
# np.dot of 1-D and 2-D operands is the matrix product; its operands' parameter names
_DOT_OPERANDS = {np.dot: ("a", "b"), ("method", "dot"): ("self", "b")}
_REDUCTIONS = {np.sum, np.mean, np.max, np.min, np.amax, np.amin}
_NEW_ARRAYS = {np.zeros, np.ones, np.empty}
_COPIES = {("method", "copy"), np.copy}


@dataclass
class ShapeFacts:
    """The facts of a function's names, and of each statement's result (by statement)."""

    names: dict[str, object]
    results: dict[int, object]
    # free names holding numbers whose facts were used -> that fact (``number_fact``):
    # the code depends on them holding a number of the same fact (pipeline.py)
    number_facts: dict = field(default_factory=dict)
    # of those, the names holding a finite number (their guards require one)
    finite_numbers: frozenset = frozenset()
    # the statements binding each name (in-place changes of an array not counted)
    bindings: dict[str, list] = field(default_factory=dict)
    parameters: frozenset = frozenset()

    def of(self, atom: gast.expr) -> object:
        return atom_fact(atom, self.names)

    def result(self, op) -> object:
        return self.results.get(id(op.stmt))


def atom_fact(atom: gast.expr, names: dict) -> object:
    if isinstance(atom, gast.Name):
        return names.get(atom.id)
    if isinstance(atom, gast.Constant):
        value = atom.value
        if type(value) is int:
            return IntFact(value)
        if type(value) is float:
            return REAL
    return None


def infer(ops: list, kinds: dict, params: dict, counters: set, assigned: set) -> ShapeFacts:
    """The facts of every name, joined over its bindings and iterated over loops.

    ``params``: the parameters' facts; ``counters``: the targets of ``for`` loops over
    ``range`` (integers); ``kinds``: the names' kinds (a SCALAR operand adds no axes)."""
    start = {name: _parameter_lengths(name, fact) for name, fact in params.items()}
    changed = {op.target for op in ops if op.form in _MUTATION_FORMS} | _passed_on(ops)
    appended = _append_only_lists(ops)
    start.update({name: IntFact() for name in counters})
    names: dict = dict(start)
    results: dict = {}
    for _ in range(20):
        new = dict(start)
        known = {**names, **new}
        results = {}
        for op in ops:
            if op.form == "append" and op.target in appended:
                fact = _appended_fact(op, known, assigned)
                if fact is not _BOTTOM:
                    new[op.target] = _join(new.get(op.target, ListOf(_BOTTOM)), fact)
                    known[op.target] = _join(known.get(op.target, ListOf(_BOTTOM)), fact)
                continue
            if op.target is None or op.form in _MUTATION_FORMS:
                continue
            if op.target in appended:  # its one binding, ``[]``
                fact = ListOf(_BOTTOM)
            else:
                fact = _output_fact(op, known, kinds, assigned, changed)
            if fact is _BOTTOM:
                continue
            results[id(op.stmt)] = fact
            previous = new.get(op.target, _BOTTOM)
            joined = fact if previous is _BOTTOM else _join(previous, fact)
            new[op.target] = joined
            # what later statements read: this pass's bindings so far joined with the last
            # pass's (a loop's back edge binds the name again after the statements reading it)
            before = names.get(op.target, _BOTTOM)
            known[op.target] = joined if before is _BOTTOM else _join(before, joined)
        if new == names:
            break
        names = new
    else:  # no fixpoint: nothing derived is known
        names, results = dict(start), {}
    bindings: dict[str, list] = {}
    for op in ops:
        if op.target is not None and op.form not in _MUTATION_FORMS:
            bindings.setdefault(op.target, []).append(op)
    return ShapeFacts(names, results, bindings=bindings, parameters=frozenset(params))


_MUTATION_FORMS = ("store_item", "append", "extend", "call_write")


def _parameter_lengths(name: str, fact) -> object:
    if not isinstance(fact, ArrayFact):
        return fact
    return _with_lengths(fact, [("arg", name, k, u) for k, u in enumerate(fact.units)])


def _append_only_lists(ops: list) -> set[str]:
    """The names bound once, to an empty list display, and otherwise only appended to
    (``xs.append(v)``), read by an index (``xs[k]``) and measured (``len(xs)``): the
    facts of their elements are the facts of what is appended (``ListOf``)."""
    bindings: dict[str, list] = {}
    for op in ops:
        if op.target is not None and op.form != "append":
            bindings.setdefault(op.target, []).append(op)
    found = {
        name
        for name, bound in bindings.items()
        if len(bound) == 1
        and bound[0].form == "build"
        and isinstance(bound[0].stmt.value, gast.List)
        and not bound[0].stmt.value.elts
    }
    for op in ops:
        for param, atom in op.inputs.items():
            if isinstance(atom, gast.Name) and atom.id in found and not _reads_list(op, param):
                found.discard(atom.id)
    return found


def _reads_list(op, param: str) -> bool:
    """Whether operand ``param`` of ``op`` is a list that ``op`` only reads: ``xs[k]``,
    ``len(xs)``."""
    if op.form != "rule":
        return False
    primitive = op.rule.primitive
    if primitive is operator.getitem:
        return param == "x"
    return primitive is len and param == "0" and len(op.inputs) == 1


def _appended_fact(op, known: dict, assigned: set):
    """``xs.append(v)`` of a list of ``_append_only_lists``: ``ListOf`` ``v``'s fact."""
    value = op.inputs.get("value")
    if isinstance(value, gast.Name) and value.id not in known and value.id in assigned:
        return _BOTTOM
    return ListOf(atom_fact(value, known))


def _join(a, b):
    if a == b:
        return a
    if isinstance(a, ListOf) and isinstance(b, ListOf):
        if a.element is _BOTTOM or b.element is _BOTTOM:
            return b if a.element is _BOTTOM else a
        return ListOf(_join(a.element, b.element))
    if isinstance(a, IntFact) and isinstance(b, IntFact):
        return IntFact()
    if isinstance(a, ArrayFact) and isinstance(b, ArrayFact) and a.ndim == b.ndim:
        units = tuple(x if x == y else None for x, y in zip(a.units, b.units))
        joined = ArrayFact(a.ndim, a.dtype if a.dtype == b.dtype else None, units)
        lengths = [a.length(k) if a.length(k) == b.length(k) else None for k in range(a.ndim)]
        return _with_lengths(joined, lengths)
    return None


def _passed_on(ops: list) -> set:
    """Names that may be changed in place other than by a mutation statement: given to
    user code, stored in a container, aliased by a copy, or the receiver of a method
    (``xs.sort()``). A list display's facts (``Parts``) hold only for the others."""
    found = set()
    for op in ops:
        names = {a.id for a in op.inputs.values() if isinstance(a, gast.Name)}
        method = op.form == "rule" and isinstance(op.rule.primitive, tuple)
        if op.form == "copy":
            found.update(names | {op.target})
        elif method or op.form not in ("rule", "constant"):
            found.update(names)
    return found


def _output_fact(op, known: dict, kinds: dict, assigned: set, changed: set = frozenset()):
    inputs = op.inputs
    if op.form == "constant" and _is_none(inputs.get("x")):
        return _BOTTOM  # a placeholder for a value bound on another path
    for atom in inputs.values():
        if isinstance(atom, gast.Name) and atom.id not in known and atom.id in assigned:
            return _BOTTOM
    if op.form in ("copy", "constant"):
        return atom_fact(inputs["x"], known)
    if op.form == "build" and isinstance(op.stmt.value, gast.Tuple):
        shape = _shape_tuple_fact(inputs, known)  # (m, n) of integers: a shape
        if shape is not None:
            return shape
    if op.form == "build" and isinstance(op.stmt.value, (gast.List, gast.Tuple)):
        facts = tuple(atom_fact(inputs[str(k)], known) for k in range(len(inputs)))
        if op.target in changed and not _immutable_tuple(op, facts):
            return None
        return Parts(facts)
    if op.form != "rule":
        return None
    primitive = op.rule.primitive
    changed_array = _changed_in_place(op, known)
    if changed_array is not None:
        return changed_array
    if primitive is operator.getitem:
        return _item_fact(atom_fact(inputs["x"], known), inputs["index"], known)
    if primitive == ("attribute", "T"):
        return _transposed(atom_fact(inputs.get("0", inputs.get("x")), known))
    if primitive == ("attribute", "shape"):
        array = atom_fact(inputs.get("0"), known)
        return ShapeOf(array.ndim) if isinstance(array, ArrayFact) else None
    if _in(primitive, _NEW_ARRAYS):
        return _new_array_fact(inputs, known)
    if _in(primitive, _MATMUL):
        return _matmul_fact(atom_fact(inputs.get("x"), known), atom_fact(inputs.get("y"), known))
    if _in(primitive, _DOT_OPERANDS):
        first, second = _DOT_OPERANDS[primitive]
        x, y = atom_fact(inputs.get(first), known), atom_fact(inputs.get(second), known)
        return _matmul_fact(x, y) if _dot_is_matmul(x, y) else None
    if _in(primitive, _REDUCTIONS):
        return _reduction_fact(inputs, known)
    if primitive is np.einsum:
        return _einsum_fact(inputs, known)
    if _in(primitive, _COPIES):
        return _copy_fact(inputs, known)
    if primitive is np.concatenate:
        return _concatenate_fact(inputs, known)
    if primitive is len:  # an int, or it raises
        return IntFact()
    if _in(primitive, _PLAIN_CODE_HELPERS):
        return _plain_code_fact(primitive, inputs, known)
    if _in(primitive, _MATH_FLOAT):
        return REAL
    if _in(primitive, _FLOAT_ELEMENTWISE) and op.rule.template is not None:
        return _elementwise_fact(op, known, kinds)
    return None


def _changed_in_place(op, known: dict):
    """``a += v`` of an array ``a`` (``ad_in_place``: ``runtime.in_place`` computes it on a
    copy of ``a``): the result has ``a``'s shape and dtype, or the statement raises."""
    if getattr(op.stmt, "ad_in_place", None) is None:
        return None
    target = atom_fact(op.inputs.get("x"), known)
    return target if isinstance(target, ArrayFact) else None


def _immutable_tuple(op, facts: tuple) -> bool:
    """A tuple display of numbers, shape tuples and arrays: nothing changes these facts,
    whoever holds the tuple (an array's shape and dtype are never changed in place)."""
    return isinstance(op.stmt.value, gast.Tuple) and all(
        f == REAL or isinstance(f, (IntFact, ShapeOf, ArrayFact)) for f in facts
    )


def _in(primitive, group: set) -> bool:
    try:
        return primitive in group
    except TypeError:  # an unhashable primitive
        return False


def _is_none(atom) -> bool:
    return isinstance(atom, gast.Constant) and atom.value is None


def _item_fact(base, index: gast.expr, known: dict):
    """``base[index]``: an item of a shape tuple, of a tuple display or of an append-only
    list, or a basic index of an array."""
    if isinstance(base, ListOf):
        if not isinstance(atom_fact(index, known), IntFact):
            return None
        return base.element  # ``_BOTTOM`` until something appended is known
    if isinstance(base, Parts):
        position = atom_fact(index, known)
        if isinstance(position, IntFact) and position.value is not None:
            inside = -len(base.facts) <= position.value < len(base.facts)
            return base.facts[position.value] if inside else None
        return None
    if isinstance(base, DictFact):  # ``p["W1"]`` of a dict parameter (dict_leaf_facts.py)
        return base.leaf(index.value) if isinstance(index, gast.Constant) else None
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    if isinstance(base, ShapeOf):
        position = atom_fact(index, known)
        if isinstance(position, IntFact) and position.value is not None:
            return IntFact() if -base.ndim <= position.value < base.ndim else None
        return None
    if not isinstance(base, ArrayFact) or not parts:
        return None
    units: list = []
    lengths: list = []
    axis = 0
    for part in parts:
        if isinstance(part, gast.Slice):
            full = part.lower is None and part.upper is None and part.step is None
            if axis >= base.ndim:
                return None
            units.append(base.units[axis] if full else None)
            length = base.length(axis)
            lengths.append(length if full else _sliced_length(length, part, known))
            axis += 1
        elif _is_none(part):
            units.append(True)
            lengths.append(None)
        elif isinstance(atom_fact(part, known), IntFact):
            axis += 1
        else:
            return None  # an index array, a bool, ``...``: not followed
    if axis > base.ndim:
        return None
    units.extend(base.units[axis:])
    lengths.extend(base.length(k) for k in range(axis, base.ndim))
    if not units:  # every axis taken by an integer: one element, a NumPy scalar
        if base.dtype == "f":
            return REAL
        return IntFact() if base.dtype in ("i", "u") else None
    return _with_lengths(ArrayFact(len(units), base.dtype, tuple(units)), lengths)


def _concatenate_fact(inputs: dict, known: dict):
    """``np.concatenate([a, b, c])`` (``axis`` a constant) of arrays of one rank."""
    parts = atom_fact(inputs.get("arrays"), known)
    axis = inputs.get("axis", gast.Constant(0, None))
    if set(inputs) - {"arrays", "axis"} or not isinstance(parts, Parts) or not parts.facts:
        return None
    if not (isinstance(axis, gast.Constant) and type(axis.value) is int):
        return None
    facts = parts.facts
    if not all(isinstance(f, ArrayFact) and f.ndim == facts[0].ndim for f in facts):
        return None
    ndim = facts[0].ndim
    if not -ndim <= axis.value < ndim:
        return None
    joined = axis.value % ndim
    units, lengths = [], []
    for k in range(ndim):
        if k == joined:
            length = _joined_length([f.length(k) for f in facts])
            unit = length[3] if isinstance(length, tuple) and length[0] == "arg" else None
            units.append(unit if len(facts) > 1 else facts[0].units[k])
            lengths.append(length)
            continue
        seen = [f.units[k] for f in facts]
        units.append(True if True in seen else False if False in seen else None)
        symbols = {f.length(k) for f in facts} - {None}
        lengths.append(symbols.pop() if len(symbols) == 1 else None)
    dtype = "f" if all(f.dtype == "f" for f in facts) else None
    return _with_lengths(ArrayFact(ndim, dtype, tuple(units)), lengths)


def _joined_length(lengths: list):
    """The length of pieces joined end to end, where it is a known symbol: one piece's;
    or ``x[:1]``, ``x[1:-1]``, ``x[-1:]`` (lengths min(n, 1), max(0, n - 2), min(n, 1))
    of an axis whose length n is not 1 (a parameter's): n again (0 for n = 0)."""
    if len(lengths) == 1:
        return lengths[0]
    mins = [x for x in lengths if isinstance(x, tuple) and x[0] == "min"]
    minus = [x for x in lengths if isinstance(x, tuple) and x[0] == "minus"]
    if len(mins) + len(minus) != len(lengths) or len(minus) != 1:
        return None
    base = minus[0][1]
    if not (isinstance(base, tuple) and base[0] == "arg" and base[3] is False):
        return None
    if any(m[1] != base or m[2] != 1 for m in mins) or minus[0][2] != len(mins) or len(mins) > 2:
        return None
    return base


def _transposed(fact):
    """``x.T``: the axes reversed."""
    if not isinstance(fact, ArrayFact):
        return None
    lengths = tuple(reversed(fact.lengths))
    return ArrayFact(fact.ndim, fact.dtype, tuple(reversed(fact.units)), lengths)


def _copy_fact(inputs: dict, known: dict):
    """``x.copy()``, ``np.copy(x)`` of an array (no ``order``/``subok``...): like ``x``."""
    operand = [a for p, a in inputs.items() if p in ("self", "a") and not _is_none(a)]
    others = [a for p, a in inputs.items() if p not in ("self", "a") and not _is_none(a)]
    if len(operand) != 1:
        return None
    fact = atom_fact(operand[0], known)
    if not isinstance(fact, ArrayFact) or any(
        not (isinstance(a, gast.Constant) and a.value in ("C", "K")) for a in others
    ):
        return None
    return fact


# runtime helpers that plain derivative code (higher_order.py) calls on what the user's
# function computed: differentiating it again (``hvp``) keeps the facts through them
_PLAIN_CODE_HELPERS = {
    runtime.fresh_copy,
    runtime.zeros_like,
    runtime.in_place,
    runtime.unpacked,
    runtime.held_constant,
}


def _plain_code_fact(primitive, inputs: dict, known: dict):
    """``fresh_copy(x)``: like ``x`` (an array is copied, a number or a shape tuple is
    ``x`` itself; a list display's facts do not hold for its copy, which is changed in
    place). ``zeros_like(x)`` of a real float array: float zeros of its shape.
    ``in_place(op, a, v)`` of an array ``a``: ``a op= v`` keeps its shape and dtype (or
    raises). ``held_constant(x)``: ``x`` itself, which nothing changed since it was saved."""
    if primitive is runtime.held_constant:
        return atom_fact(inputs.get("x", inputs.get("0")), known)
    if primitive is runtime.fresh_copy:
        fact = atom_fact(inputs.get("x"), known)
        return fact if isinstance(fact, (ArrayFact, IntFact, ShapeOf)) or fact == REAL else None
    if primitive is runtime.zeros_like:
        fact = atom_fact(inputs.get("0", inputs.get("x")), known)
        return fact if isinstance(fact, ArrayFact) and fact.dtype == "f" else None
    if primitive is runtime.unpacked:  # ``a, b = t`` of a tuple of that many elements
        return unpacked_fact(atom_fact(inputs.get("whole"), known), inputs.get("count"))
    fact = atom_fact(inputs.get("target"), known)
    return fact if isinstance(fact, ArrayFact) else None


def unpacked_fact(whole, count):
    """``unpacked(t, n)`` is ``t`` itself where ``t`` is a tuple of ``n`` elements."""
    if not (isinstance(count, gast.Constant) and type(count.value) is int):
        return None
    if isinstance(whole, ShapeOf) and whole.ndim == count.value:
        return whole
    if isinstance(whole, Parts) and len(whole.facts) == count.value:
        return whole
    return None


def _shape_tuple_fact(inputs: dict, known: dict):
    """A tuple display of integers, ``(m, n)``: usable as a shape, like ``x.shape``."""
    if inputs and all(isinstance(atom_fact(a, known), IntFact) for a in inputs.values()):
        return ShapeOf(len(inputs))
    return None


def _new_array_fact(inputs: dict, known: dict):
    """``np.zeros(n)`` (also ``ones``, ``empty``) with an integer ``n``: a 1-D float64
    array; with a shape (``(m, n)``, ``x.shape``) of rank k >= 1: a k-D float64 array."""
    if set(inputs) != {"0"}:
        return None
    size = atom_fact(inputs["0"], known)
    if isinstance(size, IntFact):
        return ArrayFact(1, "f", (None,))
    if isinstance(size, ShapeOf) and size.ndim >= 1:
        return ArrayFact(size.ndim, "f", (None,) * size.ndim)
    return None


def _matmul_fact(x, y):
    if not (isinstance(x, ArrayFact) and isinstance(y, ArrayFact)):
        return None
    dtype = "f" if x.dtype == y.dtype == "f" else None
    if x.ndim == 2 and y.ndim == 2:
        return _with_lengths(
            ArrayFact(2, dtype, (x.units[0], y.units[1])), (x.length(0), y.length(1))
        )
    if x.ndim == 2 and y.ndim == 1:
        return _with_lengths(ArrayFact(1, dtype, (x.units[0],)), (x.length(0),))
    if x.ndim == 1 and y.ndim == 2:
        return _with_lengths(ArrayFact(1, dtype, (y.units[1],)), (y.length(1),))
    if x.ndim == 1 and y.ndim == 1 and dtype == "f":
        return REAL
    return None


def _reduction_fact(inputs: dict, known: dict):
    """``np.sum(a)``, ``np.mean(a, axis=k)``, ``np.max(a, axis=k, keepdims=True)`` of an
    array (``keepdims`` a constant): a real float result for a real float array."""
    base = atom_fact(inputs.get("a"), known)
    if not isinstance(base, ArrayFact):
        return None
    if set(inputs) - {"a", "axis", "dtype", "keepdims"}:
        return None
    if not _is_none(inputs.get("dtype", gast.Constant(None, None))):
        return None
    keepdims = inputs.get("keepdims", gast.Constant(False, None))
    if not (isinstance(keepdims, gast.Constant) and type(keepdims.value) is bool):
        return None
    dtype = base.dtype if base.dtype == "f" else None
    axis = inputs.get("axis")
    if axis is None or _is_none(axis):
        if keepdims.value:
            return ArrayFact(base.ndim, dtype, (True,) * base.ndim) if base.ndim else None
        return REAL if base.dtype == "f" else None
    position = atom_fact(axis, known)
    if not isinstance(position, IntFact) or position.value is None:
        return None
    if not -base.ndim <= position.value < base.ndim:
        return None
    units = list(base.units)
    lengths = [base.length(k) for k in range(base.ndim)]
    if keepdims.value:
        units[position.value % base.ndim] = True
        lengths[position.value % base.ndim] = None
    else:
        del units[position.value % base.ndim]
        del lengths[position.value % base.ndim]
    if not units:
        return REAL if base.dtype == "f" else None
    return _with_lengths(ArrayFact(len(units), dtype, tuple(units)), lengths)


def einsum_terms(inputs: dict) -> tuple[list[str], str] | None:
    """The operands' labels and the result's of ``np.einsum("ij,jk->ik", ...)`` with the
    subscripts a string constant in the explicit form (``->``, no ``...``), and as many
    operands as terms: ``(["ij", "jk"], "ik")``; else None."""
    subscripts = inputs.get("subscripts")
    if not (isinstance(subscripts, gast.Constant) and type(subscripts.value) is str):
        return None
    spec = subscripts.value.replace(" ", "")
    if spec.count("->") != 1 or "." in spec:
        return None
    left, output = spec.split("->")
    terms = left.split(",")
    if not all(t.isalpha() for t in terms) or not (output.isalpha() or output == ""):
        return None
    operands = [inputs.get(f"o{k}") for k in range(8)]
    given = [a for a in operands if a is not None and not _is_none(a)]
    if len(given) != len(terms) or any(_is_none(a) for a in operands[: len(terms)]):
        return None
    return terms, output


def _einsum_fact(inputs: dict, known: dict):
    """``np.einsum`` in the explicit form of arrays of known ranks: the result's rank,
    and its unit axes where every operand's axis of that label agrees."""
    found = einsum_terms(inputs)
    if found is None:
        return None
    terms, output = found
    facts = [atom_fact(inputs[f"o{k}"], known) for k in range(len(terms))]
    units: dict[str, list] = {}
    for term, fact in zip(terms, facts):
        if not isinstance(fact, ArrayFact) or fact.ndim != len(term):
            return None
        for label, unit in zip(term, fact.units):
            units.setdefault(label, []).append(unit)
    if any(label not in units for label in output) or len(set(output)) != len(output):
        return None
    real = all(f.dtype == "f" for f in facts)
    if not output:
        return REAL if real else None
    result = []
    for label in output:
        seen = units[label]
        result.append(False if False in seen else True if all(seen) else None)
    return ArrayFact(len(output), "f" if real else None, tuple(result))


def einsum_matrix_terms(op, facts: ShapeFacts) -> tuple[list[str], str] | None:
    """``np.einsum`` of two real float matrices that is one matrix product (each label in
    exactly two of the operands and the result, one label contracted, of the same length
    in both operands by the facts: both "not 1" or both 1): its terms, for the direct
    adjoints of ``rules/shaped.py``."""
    if op.rule.primitive is not np.einsum:
        return None
    found = einsum_terms(op.inputs)
    if found is None:
        return None
    (a, b), output = found if len(found[0]) == 2 else ((None, None), None)
    if a is None or not (len(a) == len(b) == len(output) == 2):
        return None
    labels = a + b + output
    if any(labels.count(c) != 2 for c in labels) or len(set(a)) != 2 or len(set(b)) != 2:
        return None
    shared = set(a) & set(b)
    x, y = facts.of(op.inputs["o0"]), facts.of(op.inputs["o1"])
    if len(shared) != 1 or not (isinstance(x, ArrayFact) and isinstance(y, ArrayFact)):
        return None
    if x.dtype != "f" or y.dtype != "f" or x.ndim != 2 or y.ndim != 2:
        return None
    (c,) = shared
    ux, uy = x.units[a.index(c)], y.units[b.index(c)]
    if ux is None or ux != uy:
        return None
    return [a, b], output


def _elementwise_fact(op, known: dict, kinds: dict):
    """A broadcasting operation: the rank and unit axes of the broadcast shape."""
    params = op.rule.template.params
    if any(p not in params and not _is_none(a) for p, a in op.inputs.items()):
        return None  # ``out=``, ``where=``...: not followed
    operands = [op.inputs[p] for p in params if p in op.inputs]
    facts = [atom_fact(a, known) for a in operands]
    arrays = [f for f in facts if isinstance(f, ArrayFact)]
    if not arrays:
        if facts and all(isinstance(f, IntFact) for f in facts):
            return _int_arithmetic(op.rule.primitive, [f.value for f in facts])
        numbers = all(f == REAL or isinstance(f, IntFact) for f in facts)
        # real numbers give a real number, but for ``**`` (``(-8.0) ** (1 / 3)`` is complex)
        if facts and numbers and op.rule.primitive is not operator.pow:
            return REAL
        return None
    real = True
    for atom, fact in zip(operands, facts):
        if isinstance(fact, ArrayFact):
            real = real and fact.dtype == "f"
        elif fact == REAL or isinstance(fact, IntFact):
            continue
        elif isinstance(atom, gast.Name) and kinds.get(atom.id) == SCALAR:
            real = False  # a number adds no axes, but its type is not known
        else:
            return None
    ndim = max(f.ndim for f in arrays)
    if ndim == 0:
        return None  # 0-d operands give a NumPy scalar, not an array
    units = []
    lengths = []
    for axis in range(-ndim, 0):
        present = [f.units[axis] for f in arrays if f.ndim >= -axis]
        if all(u is True for u in present):
            units.append(True)
        elif any(u is False for u in present):
            units.append(False)
        else:
            units.append(None)
        # the length: the one every operand not of length 1 has, if all have the same
        symbols = {
            f.length(f.ndim + axis) for f in arrays if f.ndim >= -axis and f.units[axis] is not True
        }
        lengths.append(symbols.pop() if len(symbols) == 1 else None)
    return _with_lengths(ArrayFact(ndim, "f" if real else None, tuple(units)), lengths)


def _int_arithmetic(primitive, values: list):
    """``i - 1``, ``-1``: an integer, its value where the operands' are known."""
    if not _in(primitive, _INT_ARITHMETIC):
        return None
    if any(v is None for v in values):
        return IntFact()
    return IntFact(primitive(*values))


def derived_kinds(facts: ShapeFacts, kinds: dict) -> dict[int, str]:
    """The kinds the facts prove for statements whose kind is not known from their
    operands' kinds alone: SCALAR for numbers, ARRAY for arrays (by statement)."""
    found = {}
    for key, fact in facts.results.items():
        if fact == REAL or isinstance(fact, IntFact):
            found[key] = SCALAR
        elif isinstance(fact, ArrayFact) and fact.ndim >= 1:
            found[key] = ARRAY
    return found


def keeps_shape(op, param: str, facts: ShapeFacts, kinds: dict) -> bool:
    """Whether operand ``param`` of the broadcasting statement ``op`` has the result's
    shape for every value its facts allow: then its adjoint needs no ``unbroadcast``.

    Each axis of the operand either has a length other than 1 (the result's length on
    that axis is the same, or the statement raised), or has length 1 where the result's
    has too."""
    if not _in(op.rule.primitive, _FLOAT_ELEMENTWISE):
        return False
    result, operand = facts.result(op), facts.of(op.inputs[param])
    if not (isinstance(result, ArrayFact) and isinstance(operand, ArrayFact)):
        return False
    if operand.ndim != result.ndim:
        return False
    if _only_array_operand(op, param, facts, kinds):
        return True  # ``x * x``, ``2.0 * x``, ``np.tanh(x)``: nothing to broadcast against
    return all(
        u is False or (u is True and r is True) or _same_length(operand, result, k)
        for k, (u, r) in enumerate(zip(operand.units, result.units))
    )


def _same_length(a: ArrayFact, b: ArrayFact, axis: int) -> bool:
    return a.length(axis) is not None and a.length(axis) == b.length(axis)


def sums_to_number(op, param: str, facts: ShapeFacts, kinds: dict) -> bool:
    """Whether operand ``param`` of the broadcasting statement ``op`` is a number (by its
    facts or its kind) and the result an array: ``unbroadcast`` sums the adjoint whole
    (``e.sum()``)."""
    if not _in(op.rule.primitive, _FLOAT_ELEMENTWISE):
        return False
    atom = op.inputs[param]
    operand = facts.of(atom)
    number = operand == REAL or isinstance(operand, IntFact)
    number = number or (isinstance(atom, gast.Name) and kinds.get(atom.id) == SCALAR)
    result = facts.result(op)
    return number and isinstance(result, ArrayFact) and result.ndim >= 1


def summed_axes(op, param: str, facts: ShapeFacts) -> tuple[int, ...] | None:
    """The axes ``unbroadcast`` sums the adjoint of operand ``param`` of the broadcasting
    statement ``op`` over, where the facts know them for every value: the operand has
    the result's rank and each of its axes is "not 1" (nothing to sum) or 1 (summed,
    kept; a sum over an axis of length 1 that the result has too changes nothing):
    ``g.sum(axis=axes, keepdims=True)``; or it has a lower rank and no axis of length 1:
    the leading axes, summed away (``g.sum(axis=0)``). None where an axis is not known."""
    if not _in(op.rule.primitive, _FLOAT_ELEMENTWISE):
        return None
    result, operand = facts.result(op), facts.of(op.inputs[param])
    if not (isinstance(result, ArrayFact) and isinstance(operand, ArrayFact)):
        return None
    if operand.ndim > result.ndim or None in operand.units:
        return None
    extra = result.ndim - operand.ndim
    if extra:  # leading axes summed away (a bias added to a batch); no unit axes too
        return None if any(operand.units) else tuple(range(extra))
    axes = tuple(i for i, unit in enumerate(operand.units) if unit)
    return axes or None


def _only_array_operand(op, param: str, facts: ShapeFacts, kinds: dict) -> bool:
    """Every operand of ``op`` other than ``param`` (and than the same name) is a number:
    a constant, an integer or a real scalar by the facts, or a name of scalar kind."""
    name = op.inputs[param].id if isinstance(op.inputs[param], gast.Name) else None
    for p, atom in op.inputs.items():
        if p not in op.rule.template.params or _is_none(atom):
            continue
        if isinstance(atom, gast.Name) and atom.id == name:
            continue
        fact = facts.of(atom)
        scalar = isinstance(atom, gast.Name) and kinds.get(atom.id) == SCALAR
        if not (fact == REAL or isinstance(fact, IntFact) or scalar):
            return False
    return True


def _dot_is_matmul(x, y) -> bool:
    """``np.dot`` of arrays of ranks 1 and 2 computes what ``@`` does (0-d or 3-D: not)."""
    return (
        isinstance(x, ArrayFact)
        and isinstance(y, ArrayFact)
        and x.ndim in (1, 2)
        and y.ndim in (1, 2)
    )


def matmul_ranks(op, facts: ShapeFacts) -> tuple[int, int] | None:
    """``x @ y`` (or ``np.dot(a, b)``, ``a.dot(b)``) of real float arrays of ranks 1 or 2:
    their ranks."""
    primitive = op.rule.primitive
    if _in(primitive, _MATMUL):
        first, second = "x", "y"
    elif _in(primitive, _DOT_OPERANDS):
        first, second = _DOT_OPERANDS[primitive]
    else:
        return None
    x, y = facts.of(op.inputs.get(first)), facts.of(op.inputs.get(second))
    if not (isinstance(x, ArrayFact) and isinstance(y, ArrayFact)):
        return None
    if x.dtype != "f" or y.dtype != "f" or (x.ndim, y.ndim) not in _RANKS:
        return None
    return x.ndim, y.ndim


_RANKS = ((2, 2), (2, 1), (1, 2), (1, 1))


def is_element_store(op, facts: ShapeFacts, kinds: dict) -> bool:
    """``a[i] = v`` (``a[i, j] = v``...) of a number ``v`` into one element of a real float
    array: the element's old value is a NumPy scalar and ``v``'s adjoint is ``da[i]``."""
    array = facts.names.get(op.target)
    if not isinstance(array, ArrayFact) or array.dtype != "f" or array.ndim == 0:
        return False
    index = op.index
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    if len(parts) != array.ndim or not all(isinstance(facts.of(p), IntFact) for p in parts):
        return False
    value = op.inputs.get("value")
    return (
        facts.of(value) == REAL
        or (isinstance(value, gast.Name) and kinds.get(value.id) == SCALAR)
        or isinstance(facts.of(value), IntFact)
    )


def shape_source(name: str, facts: ShapeFacts, kinds: dict) -> str:
    """A name holding an array of the same shape as ``name`` whenever ``name`` is read:
    ``name`` itself, or a parameter or a name bound once outside loops that ``name`` is
    computed from by broadcasting statements each keeping the shape of the operand
    followed (``keeps_shape``). A template that reads an operand only for its shape (the
    adjoint of a sum or mean) may read it there, and the statements computing ``name``
    are left out if nothing else reads them (``np.mean(np.logaddexp(0, z) - y * z)``:
    the adjoint needs the shape of ``z``, not the logarithm).

    Each name on the way is bound by one statement, and the one returned (other than
    ``name``) holds one value for the whole call, the value every link was computed from:
    a parameter never rebound, or a name bound once and in no loop."""
    found = name
    seen = {name}
    while True:
        ops = facts.bindings.get(name, [])
        if len(ops) != 1 or ops[0].form != "rule" or ops[0].rule.template is None:
            return found
        op = ops[0]
        for param in op.rule.template.params:
            atom = op.inputs.get(param)
            if not isinstance(atom, gast.Name) or atom.id in seen:
                continue
            if atom.id in facts.parameters:
                followed = atom.id not in facts.bindings
            else:
                followed = len(facts.bindings.get(atom.id, [])) == 1
            if followed and keeps_shape(op, param, facts, kinds):
                name = atom.id
                seen.add(name)
                if name in facts.parameters or facts.bindings[name][0].depth == 0:
                    found = name
                break
        else:
            return found


def new_axes_index(op, facts: ShapeFacts) -> str | None:
    """``x[:, None, :]`` of a real float array, an index of full slices and ``None`` only
    (a view of ``x`` with new axes of length 1): the index of its adjoint ``g`` that gives
    ``x``'s shape, ``":, 0, :"`` (``"0, ..."`` for ``x[None]``); else None."""
    if op.rule.primitive is not operator.getitem:
        return None
    base, index = facts.of(op.inputs.get("x")), op.inputs.get("index")
    if not isinstance(base, ArrayFact) or base.dtype != "f" or index is None:
        return None
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    taken = []
    for part in parts:
        if _is_none(part):
            taken.append("0")
        elif _is_full_slice(part):
            taken.append(":")
        else:
            return None
    if taken.count(":") > base.ndim or "0" not in taken:
        return None
    return ", ".join(taken) + (", ..." if len(taken) == 1 else "")


def _is_full_slice(part) -> bool:
    return (
        isinstance(part, gast.Slice)
        and part.lower is None
        and part.upper is None
        and part.step is None
    )


def is_slice_store(op, facts: ShapeFacts) -> bool:
    """``a[1:-1] = v`` (a basic index: slices, integers, ``None``) of an array ``v`` of
    exactly the shape of ``a[1:-1]`` by the facts (every length symbol equal) into a real
    float array: ``v``'s adjoint is a copy of ``da[1:-1]``, nothing to un-broadcast."""
    array = facts.names.get(op.target)
    if not isinstance(array, ArrayFact) or array.dtype != "f" or op.index is None:
        return False
    view = _item_fact(array, op.index, facts.names)
    value = facts.of(op.inputs.get("value"))
    if not (isinstance(view, ArrayFact) and isinstance(value, ArrayFact)):
        return False
    return view.ndim == value.ndim and all(_same_length(value, view, k) for k in range(view.ndim))


def is_array_copy(op, facts: ShapeFacts) -> bool:
    """``x.copy()`` of an ndarray: its adjoint is ``g`` itself (``copy_adjoint`` is
    needed for sets, whose copies may iterate in another order)."""
    return op.rule.primitive == ("method", "copy") and isinstance(
        facts.of(op.inputs.get("self")), ArrayFact
    )


_SUMS = {np.sum: "a", ("method", "sum"): "self"}
_MEANS = {np.mean: "a", ("method", "mean"): "self"}


def reduced_axis(op, facts: ShapeFacts) -> tuple[str, str, int, bool] | None:
    """``np.sum(a, axis=k)`` (or ``mean``, or the methods; ``keepdims`` a constant) of
    an array of known rank whose result is an array: ``(kind, operand, k, keepdims)``
    with ``kind`` "sum" or "mean" and ``k`` >= 0, for the direct adjoint
    ``np.repeat(g[:, None], a.shape[k], axis=k)``; else None."""
    primitive = op.rule.primitive
    kind = "sum" if _in(primitive, set(_SUMS)) else "mean" if _in(primitive, set(_MEANS)) else None
    if kind is None:
        return None
    operand = (_SUMS if kind == "sum" else _MEANS)[primitive]
    base = facts.of(op.inputs.get(operand))
    axis = op.inputs.get("axis")
    keepdims = op.inputs.get("keepdims", gast.Constant(False, None))
    if not isinstance(base, ArrayFact) or not _is_none(
        op.inputs.get("dtype", gast.Constant(None, None))
    ):
        return None
    if set(op.inputs) - {operand, "axis", "dtype", "keepdims"}:
        return None
    position = facts.of(axis) if axis is not None else None
    if not (isinstance(position, IntFact) and position.value is not None):
        return None
    if not (isinstance(keepdims, gast.Constant) and type(keepdims.value) is bool):
        return None
    if not -base.ndim <= position.value < base.ndim or (base.ndim < 2 and not keepdims.value):
        return None
    return kind, operand, position.value % base.ndim, keepdims.value


def is_float_elementwise(primitive: object) -> bool:
    """A primitive whose result has its operands' broadcast shape, and a real float
    dtype for real float operands (``_FLOAT_ELEMENTWISE``)."""
    return _in(primitive, _FLOAT_ELEMENTWISE)
