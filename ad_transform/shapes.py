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
* ``ShapeOf(ndim)``: the ``shape`` tuple of an array of that rank.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import gast
import numpy as np

from .rules.registry import ARRAY, SCALAR


@dataclass(frozen=True)
class ArrayFact:
    ndim: int
    dtype: str | None
    units: tuple[bool | None, ...]


@dataclass(frozen=True)
class IntFact:
    value: int | None = None


@dataclass(frozen=True)
class ShapeOf:
    ndim: int


REAL = "real"
_BOTTOM = "bottom"


def argument_shapes(args: tuple) -> tuple:
    """The shape part of the cache key of a call with ``args``: for each ndarray its
    dtype and which axes have length 1 (their number is its rank), else None (the
    argument's type, in the key already, tells a number's kind)."""
    return tuple(map(_argument_shape, args))


def _argument_shape(value) -> object:
    if type(value) is np.ndarray:
        return (value.dtype.str, tuple([n == 1 for n in value.shape]))
    return None


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
    if isinstance(entry, tuple):
        dtype, units = entry
        return ArrayFact(len(units), np.dtype(dtype).kind, tuple(bool(u) for u in units))
    return None


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
_INT_ARITHMETIC = {operator.add, operator.sub, operator.mul, operator.neg, operator.pos}
_MATMUL = {operator.matmul, np.matmul}
# np.dot of 1-D and 2-D operands is the matrix product; its operands' parameter names
_DOT_OPERANDS = {np.dot: ("a", "b"), ("method", "dot"): ("self", "b")}
_REDUCTIONS = {np.sum, np.mean}
_NEW_ARRAYS = {np.zeros, np.ones, np.empty}


@dataclass
class ShapeFacts:
    """The facts of a function's names, and of each statement's result (by statement)."""

    names: dict[str, object]
    results: dict[int, object]
    # free names holding numbers whose facts were used -> that fact (``number_fact``):
    # the code depends on them holding a number of the same fact (pipeline.py)
    number_facts: dict = field(default_factory=dict)

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
    start = dict(params)
    start.update({name: IntFact() for name in counters})
    names: dict = dict(start)
    results: dict = {}
    for _ in range(20):
        new = dict(start)
        known = {**names, **new}
        results = {}
        for op in ops:
            if op.target is None or op.form in _MUTATION_FORMS:
                continue
            fact = _output_fact(op, known, kinds, assigned)
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
    return ShapeFacts(names, results)


_MUTATION_FORMS = ("store_item", "append", "extend", "call_write")


def _join(a, b):
    if a == b:
        return a
    if isinstance(a, IntFact) and isinstance(b, IntFact):
        return IntFact()
    if isinstance(a, ArrayFact) and isinstance(b, ArrayFact) and a.ndim == b.ndim:
        units = tuple(x if x == y else None for x, y in zip(a.units, b.units))
        return ArrayFact(a.ndim, a.dtype if a.dtype == b.dtype else None, units)
    return None


def _output_fact(op, known: dict, kinds: dict, assigned: set):
    inputs = op.inputs
    if op.form == "constant" and _is_none(inputs.get("x")):
        return _BOTTOM  # a placeholder for a value bound on another path
    for atom in inputs.values():
        if isinstance(atom, gast.Name) and atom.id not in known and atom.id in assigned:
            return _BOTTOM
    if op.form in ("copy", "constant"):
        return atom_fact(inputs["x"], known)
    if op.form == "build" and isinstance(op.stmt.value, gast.Tuple):
        return _shape_tuple_fact(inputs, known)
    if op.form != "rule":
        return None
    primitive = op.rule.primitive
    if primitive is operator.getitem:
        return _item_fact(atom_fact(inputs["x"], known), inputs["index"], known)
    if primitive == ("attribute", "T"):  # a view with the axes in reverse order
        array = atom_fact(inputs.get("x"), known)
        if isinstance(array, ArrayFact):
            return ArrayFact(array.ndim, array.dtype, tuple(reversed(array.units)))
        return None
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
    if _in(primitive, _FLOAT_ELEMENTWISE) and op.rule.template is not None:
        return _elementwise_fact(op, known, kinds)
    return None


def _in(primitive, group: set) -> bool:
    try:
        return primitive in group
    except TypeError:  # an unhashable primitive
        return False


def _is_none(atom) -> bool:
    return isinstance(atom, gast.Constant) and atom.value is None


def _item_fact(base, index: gast.expr, known: dict):
    """``base[index]``: an item of a shape tuple, or a basic index of an array."""
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    if isinstance(base, ShapeOf):
        position = atom_fact(index, known)
        if isinstance(position, IntFact) and position.value is not None:
            return IntFact() if -base.ndim <= position.value < base.ndim else None
        return None
    if not isinstance(base, ArrayFact) or not parts:
        return None
    units: list = []
    axis = 0
    for part in parts:
        if isinstance(part, gast.Slice):
            full = part.lower is None and part.upper is None and part.step is None
            if axis >= base.ndim:
                return None
            units.append(base.units[axis] if full else None)
            axis += 1
        elif _is_none(part):
            units.append(True)
        elif isinstance(atom_fact(part, known), IntFact):
            axis += 1
        else:
            return None  # an index array, a bool, ``...``: not followed
    if axis > base.ndim:
        return None
    units.extend(base.units[axis:])
    if not units:  # every axis taken by an integer: one element, a NumPy scalar
        if base.dtype == "f":
            return REAL
        return IntFact() if base.dtype in ("i", "u") else None
    return ArrayFact(len(units), base.dtype, tuple(units))


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
        return ArrayFact(2, dtype, (x.units[0], y.units[1]))
    if x.ndim == 2 and y.ndim == 1:
        return ArrayFact(1, dtype, (x.units[0],))
    if x.ndim == 1 and y.ndim == 2:
        return ArrayFact(1, dtype, (y.units[1],))
    if x.ndim == 1 and y.ndim == 1 and dtype == "f":
        return REAL
    return None


def _reduction_fact(inputs: dict, known: dict):
    """``np.sum(a)``, ``np.mean(a, axis=k)`` of a real float array."""
    base = atom_fact(inputs.get("a"), known)
    if not isinstance(base, ArrayFact):
        return None
    if set(inputs) - {"a", "axis", "dtype", "keepdims"}:
        return None
    if not _is_none(inputs.get("dtype", gast.Constant(None, None))):
        return None
    keepdims = inputs.get("keepdims")
    if keepdims is not None and not (
        isinstance(keepdims, gast.Constant) and keepdims.value is False
    ):
        return None
    axis = inputs.get("axis")
    if axis is None or _is_none(axis):
        return REAL if base.dtype == "f" else None
    position = atom_fact(axis, known)
    if not isinstance(position, IntFact) or position.value is None:
        return None
    if not -base.ndim <= position.value < base.ndim:
        return None
    units = list(base.units)
    del units[position.value % base.ndim]
    if not units:
        return REAL if base.dtype == "f" else None
    return ArrayFact(len(units), base.dtype if base.dtype == "f" else None, tuple(units))


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
    for axis in range(-ndim, 0):
        present = [f.units[axis] for f in arrays if f.ndim >= -axis]
        if all(u is True for u in present):
            units.append(True)
        elif any(u is False for u in present):
            units.append(False)
        else:
            units.append(None)
    return ArrayFact(ndim, "f" if real else None, tuple(units))


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
    return all(u is False or (u is True and r is True) for u, r in zip(operand.units, result.units))


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
