"""Dead code in the forward sweep: statements whose results nobody reads, and that have
no effect, go.

Raising an exception is an effect: a statement that can raise on the values it gets (a
``math`` function outside its domain, a division or power of Python numbers by 0) is
kept, so that the gradient raises where the function does (``1.0 / x`` at ``x = 0.0``
raises ``ZeroDivisionError`` in both). NumPy on arrays and NumPy scalars warns instead
of raising; such a statement whose value nothing needs still goes, with its warning
(``value_and_grad`` computes the value, and warns as the function does).

The forward sweep is swept through its loops and branches (mark and sweep from what
the backward sweep and the returned values read, and from every statement with an
effect). Dead stores in the backward sweep are ``zeros.drop_dead_stores``'s.
"""

from __future__ import annotations

import builtins
import math
import operator
from collections import Counter
from collections.abc import Callable

import gast
import numpy as np

from ..kinds import atom_kind
from ..nodes import name_ids
from ..ops import BUILD, CONSTANT, COPY, RETURN, RULE, Analysis
from ..rules.registry import ARRAY, SCALAR
from .walk import COMPOUND, all_statements, assigned, header_reads, loaded, target_name

# Primitives that raise on some Python numbers (ZeroDivisionError, OverflowError, complex
# results aside); on NumPy arrays they warn instead.
_RAISING_ON_NUMBERS = (
    operator.truediv,
    operator.floordiv,
    operator.mod,
    operator.pow,
    builtins.pow,
    builtins.divmod,
)


def eliminate_dead_code(
    forward: list[gast.stmt],
    needed: set[str],
    raising: frozenset[str] = frozenset(),
    broadcasts: dict[str, tuple[str, ...]] | None = None,
    check: Callable[[], str] | None = None,
) -> list[gast.stmt]:
    """The forward sweep without the statements nothing needs; ``needed`` are the names
    read after it (by the backward sweep, or returned); statements assigning a name in
    ``raising`` (see :func:`may_raise`) are kept as if they had an effect.

    ``broadcasts`` (:func:`broadcast_operands`) with ``check`` (the name of
    ``np.broadcast_shapes`` in the generated code, bound when first asked): an unneeded
    tree of elementwise operations on real float arrays, which can raise only where its
    arrays do not broadcast together, goes and leaves ``check(a.shape, b.shape)`` of
    those arrays in its place, so the gradient still raises where the function does."""
    if broadcasts and check is not None:
        forward, kept = _broadcast_checks(forward, set(needed), raising, broadcasts, check)
        return _prune(forward, set(needed), kept)
    return _prune(forward, set(needed), raising)


def exposed_reads(block: list[gast.stmt], defined: frozenset[str] = frozenset()) -> set[str]:
    """The names ``block`` may read before assigning them itself (its upward-exposed
    reads): what must be bound when it starts. A name assigned on every path before a
    read is not exposed; assignments in a loop body count only after them in the same
    iteration (a read earlier in the body may see the previous value), and not after the
    loop (it may run zero times); a branch's only where both branches assign."""
    exposed, _ = _exposed(block, set(defined))
    return exposed


def _exposed(block: list[gast.stmt], defined: set[str]) -> tuple[set[str], set[str]]:
    exposed: set[str] = set()
    defined = set(defined)
    for stmt in block:
        if isinstance(stmt, gast.If):
            exposed |= header_reads(stmt) - defined
            taken, after_body = _exposed(stmt.body, defined)
            other, after_else = _exposed(stmt.orelse, defined)
            exposed |= taken | other
            defined = after_body & after_else
        elif isinstance(stmt, (gast.For, gast.While)):
            exposed |= header_reads(stmt) - defined
            inside = defined | (
                name_ids(stmt.target, gast.Store) if isinstance(stmt, gast.For) else set()
            )
            exposed |= _exposed(stmt.body, inside)[0] | _exposed(stmt.orelse, defined)[0]
        else:
            exposed |= loaded(stmt) - defined
            defined |= set(assigned(stmt))
    return exposed, defined


def may_raise(analysis: Analysis) -> frozenset[str]:
    """The names assigned by operations that can raise a Python exception on the values
    they get, so that the gradient raises where the function does, also from a line whose
    value nothing needs (``unused = x + "a"``, ``np.reshape(x, (5,))``). Only what cannot
    raise on any value of the kinds found may go (:func:`_cannot_raise`); of the rest,
    ``math`` functions and divisions and powers of numbers raise on some numbers."""
    names = set()
    for op in analysis.ops:
        if op.target is None:
            continue
        if _raises_on_numbers(op, analysis) or not _cannot_raise(op, analysis):
            names.add(op.target)
    return frozenset(names)


def _raises_on_numbers(op, analysis: Analysis) -> bool:
    """A ``math`` function, or a division or power whose result is not an array."""
    primitive = op.rule.primitive if op.rule is not None else op.callee
    if primitive is None:
        return False
    return getattr(primitive, "__module__", None) == "math" or (
        _is_one_of(primitive, _RAISING_ON_NUMBERS)
        and analysis.kinds.get(op.target) != ARRAY
        and not _by_nonzero_constant(op, primitive)
    )


# Arithmetic that never raises between numbers (IEEE inf/nan instead) or an array and
# numbers (NumPy warns): ``+ - *`` and the signs; ``/``, ``**`` and ``%`` raise on Python
# numbers (``_raises_on_numbers``), and two arrays may not broadcast together.
_TOTAL_ARITHMETIC = (operator.add, operator.sub, operator.mul, operator.neg, operator.pos)
_ARRAY_BY_NUMBER = (*_TOTAL_ARITHMETIC, operator.truediv, operator.pow)
_SIGNS = (operator.neg, operator.pos, np.negative, np.positive)  # TypeError on booleans
# of every element (no axis); not max/min, which raise on an empty array
_WHOLE_REDUCTIONS = ("sum", "mean", "prod")
# NumPy functions of two real values defined (or IEEE inf/nan) everywhere, booleans
# included: of one array and numbers they warn at most
_TOTAL_BINARY_UFUNCS = (
    *(np.logaddexp, np.logaddexp2, np.maximum, np.minimum, np.fmax, np.fmin),
    *(np.arctan2, np.hypot, np.copysign),
)


def _cannot_raise(op, analysis: Analysis) -> bool:
    """Whether the operation surely does not raise on the values it gets, by their kinds:
    copies, constants and displays; ``+ - *`` between numbers; a NumPy ufunc of one number
    or array; arithmetic of one array with numbers; the sum (mean, ...) of all
    elements of an array. Anything else (a user call, an attribute, two arrays that may
    not broadcast, a string) may raise and is kept."""
    if op.form in (COPY, CONSTANT, BUILD, RETURN):
        return True
    if op.form != RULE or op.rule is None:
        return False
    primitive = op.rule.primitive
    if _whole_reduction(primitive):
        argument = _one_argument(op)
        return argument is not None and _kind(argument, analysis) == ARRAY
    kinds = [_kind(atom, analysis) for atom in op.inputs.values()]
    if None in kinds:
        return False  # not a number nor an array (a string, a list...), or not known
    if _is_in(primitive, _TOTAL_ARITHMETIC) and all(k == SCALAR for k in kinds):
        return True
    if len(kinds) == 1 and _is_unary_ufunc(primitive) and not _call_has_keywords(op):
        # a ufunc of one number or array warns, never raises; except signs of booleans
        return not _is_in(primitive, _SIGNS) or kinds == [SCALAR]
    if _is_in(primitive, (operator.add, operator.mul)) and _same_name_twice(op):
        return True  # ``x * x``, ``x + x``: one shape, nothing to broadcast (booleans too)
    if _is_in(primitive, _ARRAY_BY_NUMBER) and kinds.count(ARRAY) == 1:
        return primitive is not operator.pow or _nonnegative_constant(op.inputs.get("y"))
    if _is_in(primitive, _TOTAL_BINARY_UFUNCS) and kinds.count(ARRAY) <= 1:
        return not _call_has_keywords(op)  # one array at most: nothing to broadcast
    return False


def _same_name_twice(op) -> bool:
    """Both operands of a binary operator are the same name."""
    x, y = op.inputs.get("x"), op.inputs.get("y")
    return (
        len(op.inputs) == 2
        and isinstance(x, gast.Name)
        and isinstance(y, gast.Name)
        and x.id == y.id
    )


def _is_unary_ufunc(primitive: object) -> bool:
    return isinstance(primitive, np.ufunc) or _is_in(primitive, (*_SIGNS, builtins.abs))


def _whole_reduction(primitive: object) -> bool:
    return (
        getattr(primitive, "__name__", None) in _WHOLE_REDUCTIONS
        and getattr(primitive, "__module__", None) == "numpy"
    )


def _kind(atom: gast.expr, analysis: Analysis) -> str | None:
    """SCALAR or ARRAY for a number or an array the analysis knows, else None."""
    if isinstance(atom, gast.Constant):
        value = atom.value
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return SCALAR if ok else None
    kind = atom_kind(atom, analysis.kinds, analysis.fn)
    return kind if kind in (SCALAR, ARRAY) else None


def _nonnegative_constant(atom) -> bool:
    """``a ** 2``, ``a ** 0.5``: an integer array to a negative integer power raises."""
    return (
        isinstance(atom, gast.Constant)
        and isinstance(atom.value, (int, float))
        and not isinstance(atom.value, bool)
        and atom.value >= 0
    )


def _one_argument(op) -> gast.expr | None:
    """The argument of a call with exactly one, given by position (``np.sum(a)``)."""
    value = getattr(op.stmt, "value", None)
    if isinstance(value, gast.Call) and len(value.args) == 1 and not value.keywords:
        return value.args[0]
    return None


def _call_has_keywords(op) -> bool:
    value = getattr(op.stmt, "value", None)
    return isinstance(value, gast.Call) and bool(value.keywords)


def _by_nonzero_constant(op, primitive) -> bool:
    """``x / 4.0``, ``x % 2``: a division by a nonzero number cannot raise."""
    if primitive not in (operator.truediv, operator.floordiv, operator.mod):
        return False
    divisor = op.inputs.get("y")
    return (
        isinstance(divisor, gast.Constant)
        and isinstance(divisor.value, (int, float))
        and math.isfinite(divisor.value)
        and divisor.value != 0
    )


def _is_one_of(callee: object, primitives: tuple) -> bool:
    return any(callee is p for p in primitives) or callee is math.pow


def _is_in(callee: object, primitives: tuple) -> bool:
    return any(callee is p for p in primitives)


class _Liveness:
    """Flow-sensitive liveness over the forward sweep: the simple statements without an
    effect whose names no later read can see (each is assigned again first on every path).
    The sweep's SSA names are assigned once, except at joins and loop edges and for the
    placeholders of unbound variables; those are what this finds (a comprehension's
    variable carried around an outer loop, ``x = UNBOUND`` for a loop target read only
    inside its loop). ``_prune`` then removes what nothing needs, flow-insensitively."""

    def __init__(self, has_effect) -> None:
        self.has_effect = has_effect
        self.dead: set[int] = set()

    def block(self, stmts, live: set[str], exit_live, head_live, record: bool) -> set[str]:
        for stmt in reversed(stmts):
            live = self.statement(stmt, live, exit_live, head_live, record)
        return live

    def statement(self, stmt, live: set[str], exit_live, head_live, record: bool) -> set[str]:
        if isinstance(stmt, gast.If) and not getattr(stmt, "ad_catch", False):
            # (a catching statement of a lowered 'try' may run its handler after part of
            # its body: it is taken as a whole, below)
            taken = self.block(stmt.body, live, exit_live, head_live, record)
            other = self.block(stmt.orelse, live, exit_live, head_live, record)
            return taken | other | header_reads(stmt)
        if isinstance(stmt, (gast.For, gast.While)) and not stmt.orelse:
            return self.loop(stmt, live, record)
        if isinstance(stmt, gast.Break) and exit_live is not None:
            return set(exit_live)
        if isinstance(stmt, gast.Continue) and head_live is not None:
            return set(head_live)
        if isinstance(stmt, (gast.Assign, gast.AugAssign, gast.Expr)):
            targets = set(assigned(stmt))
            if targets and targets.isdisjoint(live) and not self.has_effect(stmt):
                if record:
                    self.dead.add(id(stmt))
                return live
            return (live - targets) | loaded(stmt)
        # anything else (a loop with 'else', ...): every name in it may be read
        return live | name_ids(stmt, gast.Load)

    def loop(self, stmt, live: set[str], record: bool) -> set[str]:
        targets = name_ids(stmt.target, gast.Store) if isinstance(stmt, gast.For) else set()
        exit_live = set(live)
        head = exit_live | header_reads(stmt)
        while True:
            inside = self.block(stmt.body, set(head), exit_live, head, False)
            new_head = exit_live | header_reads(stmt) | (inside - targets)
            if new_head == head:
                break
            head = new_head
        self.block(stmt.body, set(head), exit_live, head, record)
        return head


def _prune(forward: list[gast.stmt], needed: set[str], raising: frozenset[str]) -> list[gast.stmt]:
    live = _live_statements(forward, needed, raising)
    return _rebuild(forward, live, needed)


def _live_statements(forward: list[gast.stmt], needed: set[str], raising: frozenset[str]) -> set:
    """The ids of the simple statements that stay; ``needed`` grows by what they read."""
    simple = []

    def has_effect(stmt) -> bool:
        return (
            not getattr(stmt, "ad_pure", True)
            or getattr(stmt, "ad_may_raise", False)  # in a try body: raising is a path
            or isinstance(stmt, gast.Break)
            or (not raising.isdisjoint(assigned(stmt)) and not _is_copy(stmt))
        )

    liveness = _Liveness(has_effect)
    liveness.block(forward, set(needed), None, None, True)
    for stmt in all_statements(forward):
        if id(stmt) in liveness.dead:
            continue
        if isinstance(stmt, COMPOUND):
            needed |= header_reads(stmt)
        else:
            effects = has_effect(stmt)
            simple.append((id(stmt), effects, frozenset(assigned(stmt)), loaded(stmt)))
    live: set[int] = set()
    changed = True
    while changed:
        changed = False
        for key, effects, targets, reads in simple:
            if key not in live and (effects or not targets.isdisjoint(needed)):
                live.add(key)
                needed |= reads
                changed = True
    return live


def _is_copy(stmt) -> bool:
    """``x = y``, ``x = 1.0``, ``x = UNBOUND``: another binding of a name (a placeholder, a
    join) that cannot raise itself, even where the operation binding it elsewhere can."""
    return isinstance(stmt, gast.Assign) and isinstance(stmt.value, (gast.Name, gast.Constant))


def _rebuild(block: list[gast.stmt], live: set[int], needed: set[str]) -> list[gast.stmt]:
    out = []
    for stmt in block:
        if isinstance(stmt, gast.If):
            stmt.body = _rebuild(stmt.body, live, needed)
            stmt.orelse = _rebuild(stmt.orelse, live, needed)
            if stmt.body or stmt.orelse:
                stmt.body = stmt.body or [gast.Pass()]
                out.append(stmt)
        elif isinstance(stmt, (gast.For, gast.While)):
            stmt.body = _rebuild(stmt.body, live, needed)
            # a loop that runs only to bind its target, which is read later (``return i``)
            binds_needed = isinstance(stmt, gast.For) and bool(name_ids(stmt.target) & needed)
            if stmt.body or binds_needed or not _is_range_loop(stmt):
                stmt.body = stmt.body or [gast.Pass()]
                out.append(stmt)
        elif id(stmt) in live:
            out.append(stmt)
    return out


def _is_range_loop(stmt) -> bool:
    """A ``for`` over ``range(...)``: running it with an empty body does nothing."""
    return (
        isinstance(stmt, gast.For)
        and isinstance(stmt.iter, gast.Call)
        and isinstance(stmt.iter.func, gast.Name)
        and stmt.iter.func.id == "range"
        and getattr(stmt, "ad_range_is_builtin", False)
    )


# -- unneeded elementwise trees: a broadcast check in their place -----------------------


def _augmented(op) -> bool:
    """Whether ``op`` comes from an augmented assignment (``a += b``)."""
    return getattr(op.stmt, "ad_mutation", None) is not None


def broadcast_operands(analysis: Analysis) -> dict[str, tuple[str, ...]]:
    """The names bound once by an elementwise operation (``shapes._FLOAT_ELEMENTWISE``)
    whose operands are numbers and real float arrays, by the facts of the cache key,
    and whose result is such an array -> the names of its array operands. On these
    values the operation can raise only where its arrays do not broadcast together
    (NumPy warns on the rest); a tree of them raises exactly where its leaves' shapes
    do not broadcast together. Empty without shape facts."""
    from ..shapes import REAL, ArrayFact, IntFact, is_float_elementwise

    facts = analysis.shapes
    found: dict[str, tuple[str, ...]] = {}
    for op in analysis.ops:
        if op.form != RULE or op.rule is None or op.target is None:
            continue
        if not is_float_elementwise(op.rule.primitive) or _call_has_keywords(op):
            continue
        if _augmented(op):
            continue  # a += b raises also where the broadcast shape is not a's
        if len(facts.bindings.get(op.target, ())) != 1:
            continue
        result = facts.result(op)
        if not (isinstance(result, ArrayFact) and result.dtype == "f"):
            continue
        arrays = []
        for atom in op.inputs.values():
            fact = facts.of(atom)
            if isinstance(fact, ArrayFact) and fact.dtype == "f" and isinstance(atom, gast.Name):
                arrays.append(atom.id)
            elif not (fact == REAL or isinstance(fact, IntFact) or _kind(atom, analysis) == SCALAR):
                break
        else:
            found[op.target] = tuple(arrays)
    return found


def _broadcast_checks(
    forward: list[gast.stmt],
    needed: set[str],
    raising: frozenset[str],
    broadcasts: dict[str, tuple[str, ...]],
    check: Callable[[], str],
) -> tuple[list[gast.stmt], frozenset[str]]:
    """``forward`` with each unneeded tree of ``broadcasts`` statements (the root: one no
    other unneeded one reads) replaced by a check of its leaves' shapes, where two or
    more distinct arrays meet in it; the rest of the tree is left to the pruning. Also
    the names still counted as raising: ``raising`` but for the tree statements, whose
    roots may be kept as they are (leaves that may be bound again before the root runs,
    a loop-carried name).

    Iterated: the checks read their leaves, which keeps alive what computes them; until
    the unneeded statements, with every check's leaves needed, no longer change (so no
    statement a check keeps alive reads a replaced root)."""
    binding = {}
    for stmt in all_statements(forward):
        name = target_name(stmt)
        if name in broadcasts and set(broadcasts[name]) <= loaded(stmt):
            binding[name] = stmt
    relaxed = raising - set(binding)
    bound = Counter(name for stmt in all_statements(forward) for name in assigned(stmt))
    unchecked: set[str] = set()
    read_by_checks: set[str] = set()
    while True:
        before = len(unchecked)
        live = _live_statements(forward, set(needed) | read_by_checks, relaxed | unchecked)
        dead = {name for name, stmt in binding.items() if id(stmt) not in live}
        read_by_dead = {operand for name in dead for operand in broadcasts[name]}
        checks = {}
        for root in dead - read_by_dead:
            leaves = _tree_leaves(root, dead, broadcasts)
            if len(leaves) < 2:
                continue
            if any(bound[leaf] > 1 for leaf in leaves):
                unchecked.add(root)
            else:
                checks[root] = leaves
        read = {leaf for leaves in checks.values() for leaf in leaves}
        if read <= read_by_checks and len(unchecked) == before:
            break
        read_by_checks |= read
    replacements = {
        id(binding[root]): _shape_check(binding[root], leaves, check())
        for root, leaves in checks.items()
        if root not in unchecked
    }
    forward = _replaced(forward, replacements) if replacements else forward
    return forward, relaxed | frozenset(unchecked)


def _tree_leaves(root: str, dead: set[str], broadcasts: dict) -> list[str]:
    """The arrays a tree of unneeded elementwise statements starts from, each once."""
    leaves: list[str] = []
    pending = [root]
    seen = set()
    while pending:
        name = pending.pop()
        for operand in broadcasts[name]:
            if operand in dead and operand not in seen:
                seen.add(operand)
                pending.append(operand)
            elif operand not in dead and operand not in leaves:
                leaves.append(operand)
    return sorted(leaves)


def _shape_check(root: gast.stmt, leaves: list[str], check: str) -> gast.stmt:
    """``check(a.shape, b.shape)``: raises ``ValueError`` where the arrays do not broadcast."""
    shapes = [
        gast.Attribute(gast.Name(leaf, gast.Load(), None, None), "shape", gast.Load())
        for leaf in leaves
    ]
    call = gast.Call(gast.Name(check, gast.Load(), None, None), shapes, [])
    stmt = gast.copy_location(gast.Expr(call), root)
    stmt.ad_pure = False
    stmt.origin_line = getattr(root, "origin_line", None)
    return stmt


def _replaced(block: list[gast.stmt], replacements: dict[int, gast.stmt]) -> list[gast.stmt]:
    out = []
    for stmt in block:
        if isinstance(stmt, COMPOUND):
            stmt.body = _replaced(stmt.body, replacements)
            stmt.orelse = _replaced(stmt.orelse, replacements)
        out.append(replacements.get(id(stmt), stmt))
    return out
