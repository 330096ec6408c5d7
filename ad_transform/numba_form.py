"""The Numba-friendly variant of a generated program's tape (``compile="numba"``).

The default code keeps one tape, a list that holds whatever the sweeps push: floats,
booleans, tuples, old array items together. Numba types a list by its elements, so such
a list cannot be compiled. This variant gives every tape slot (a push and the pop that
undoes it carry the same ``ad_tape_slot``, set by the reverse stage) a list of its own:
``tape1 = []``, ``push1 = tape1.append``, ``pop1 = tape1.pop``. Each slot pushes values
of one type, so each list is typable.

Why it is exact: the single tape is a stack whose pushes and pops are matched in
properly nested pairs (tape discipline, ``optimize/tape.py``). Keep only the events of
one slot: when its pop runs, the value on top of the single tape was pushed by the same
slot, and no later push of that slot is still on the tape (it would be above it). So the
slot's own stack has the same value on top. Runs after ``optimize`` (``compact_tape``
merges slots; the merged push and pop keep one slot).
"""

from __future__ import annotations

import gast

from .errors import ADTransformError
from .optimize.walk import COMPOUND, all_statements
from .runtime.statements import UNBOUND


def numba_variant(program) -> list[dict[str, str]]:
    """Make the optimized ``program`` Numba-friendly; its tapes (``split_tape``)."""
    drop_unbound_markers(program)
    fold_float_tests(program)
    array_zeros(program)
    return split_tape(program)


def array_zeros(program) -> None:
    """``dW = 0.0`` for an array parameter ``W`` becomes ``dW = zeros_like(W)``: Numba
    types a name once, so a float cannot become an array by ``dW += ...``. (The Python
    code keeps the number until the first contribution; both give the same gradient.)"""
    from . import runtime
    from .rules.registry import ARRAY

    kinds = program.analysis.kinds
    params = {
        adjoint: param
        for param, adjoint in program.grads.items()
        if adjoint is not None and kinds.get(param) == ARRAY
    }
    for stmt in program.backward:
        value = getattr(stmt, "value", None)
        if not (
            isinstance(stmt, gast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], gast.Name)
            and stmt.targets[0].id in params
            and isinstance(value, gast.Constant)
            and value.value == 0
        ):
            continue
        helper = program.bindings.reference("zeros_like", runtime.zeros_like)
        param = gast.Name(
            id=params[stmt.targets[0].id], ctx=gast.Load(), annotation=None, type_comment=None
        )
        func = gast.Name(id=helper, ctx=gast.Load(), annotation=None, type_comment=None)
        stmt.value = gast.Call(func=func, args=[param], keywords=[])
        _forget(stmt)


def fold_float_tests(program) -> None:
    """``a if type(x) is float else b`` (a rule's fast path for Python floats) becomes
    ``a``: Numba has one float type for Python and NumPy float64 scalars, on which ``a``
    is exact (the rules' other branch exists for NumPy's scalar types and dtypes).
    ``float(x > 0)`` becomes ``(1.0 if x > 0 else 0.0)``."""
    cells = program.bindings.cells

    def bound_to(node, obj) -> bool:
        if not isinstance(node, gast.Name):
            return False
        cell = cells.get(node.id)
        if cell is not None:
            return _contents(cell) is obj
        return node.id == obj.__name__

    def is_float_test(test) -> bool:
        return (
            isinstance(test, gast.Compare)
            and len(test.ops) == 1
            and isinstance(test.ops[0], gast.Is)
            and isinstance(test.left, gast.Call)
            and bound_to(test.left.func, type)
            and len(test.left.args) == 1
            and bound_to(test.comparators[0], float)
        )

    class Fold(gast.NodeTransformer):
        def visit_IfExp(self, node):
            self.generic_visit(node)
            return node.body if is_float_test(node.test) else node

        def visit_Call(self, node):  # float(x > 0): Numba has no float of a bool
            self.generic_visit(node)
            single = len(node.args) == 1 and not node.keywords
            if bound_to(node.func, float) and single and isinstance(node.args[0], gast.Compare):
                one, zero = (gast.Constant(value=v, kind=None) for v in (1.0, 0.0))
                return gast.IfExp(test=node.args[0], body=one, orelse=zero)
            return node

    for sweep in (program.forward, program.backward):
        for stmt in all_statements(sweep):
            for field in ("value", "test", "iter"):
                part = getattr(stmt, field, None)
                if isinstance(part, gast.expr):
                    setattr(stmt, field, Fold().visit(part))
            _forget(stmt)


def drop_unbound_markers(program) -> None:
    """Remove ``t = UNBOUND`` (a name the user's code binds on some paths only). Numba
    gives such a name a zero where it is unbound; reading it there is what ``check_bound``
    guards, and ``check_bound`` has no Numba version (refused), so no value is read."""
    cells = program.bindings.cells

    def is_marker(stmt: gast.stmt) -> bool:
        value = getattr(stmt, "value", None)
        if not isinstance(stmt, gast.Assign) or not isinstance(value, gast.Name):
            return False
        cell = cells.get(value.id)
        return cell is not None and _contents(cell) is UNBOUND

    def visit(block: list[gast.stmt]) -> None:
        block[:] = [stmt for stmt in block if not is_marker(stmt)]
        for stmt in block:
            if isinstance(stmt, COMPOUND):
                visit(stmt.body)
                visit(stmt.orelse)

    visit(program.forward)
    visit(program.backward)


def split_tape(program) -> list[dict[str, str]]:
    """Rename every push and pop of ``program`` to its slot's own tape; the tapes, in the
    order their slots are first pushed (``{"tape", "push", "pop"}`` names each).

    Refuses (``ADTransformError``) a tape use that is not a push or pop of a slot: the
    tape's length read around a ``try`` statement, a push without a slot."""
    tape = getattr(program, "tape", None)
    if not tape:
        return []
    names = program.fn.names
    tapes: dict[object, dict[str, str]] = {}

    def tape_of(slot) -> dict[str, str]:
        if slot not in tapes:
            number = len(tapes) + 1
            tapes[slot] = {role: names.fresh(f"{role}{number}") for role in ("tape", "push", "pop")}
        return tapes[slot]

    for sweep in (program.forward, program.backward):
        for stmt in all_statements(sweep):
            for node in _own_nodes(stmt):
                if not isinstance(node, gast.Name) or node.id not in tape.values():
                    continue
                slot = getattr(stmt, "ad_tape_slot", None)
                role = next(r for r, n in tape.items() if n == node.id)
                if role == "tape" or slot is None:
                    raise _refusal(program, stmt)
                node.id = tape_of(slot)[role]
            _forget(stmt)
    return list(tapes.values())


def _contents(cell) -> object:
    """What a closure cell holds (None while it is empty: a helper pair being built)."""
    try:
        return cell.cell_contents
    except ValueError:
        return None


def _own_nodes(stmt: gast.stmt):
    """The nodes of ``stmt`` itself: for a compound statement, its test or iterator only."""
    if isinstance(stmt, COMPOUND):
        parts = [getattr(stmt, field, None) for field in ("test", "iter", "target")]
        for part in parts:
            if part is not None:
                yield from gast.walk(part)
        return
    yield from gast.walk(stmt)


def _forget(stmt: gast.stmt) -> None:
    for key in ("_ad_names", "_ad_loaded", "_ad_assigned"):
        stmt.__dict__.pop(key, None)


def _refusal(program, stmt: gast.stmt) -> ADTransformError:
    where = gast.Pass()
    where.lineno = getattr(stmt, "origin_line", None) or getattr(stmt, "lineno", None)
    where.col_offset = 0
    return program.fn.parsed.error(
        "compile='numba' cannot give this statement's use of the tape a typed tape of its "
        "own (a try/with statement taking back what it pushed); use the Python code "
        "(compile=None)",
        where,
    )
