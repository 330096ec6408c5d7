"""One finiteness check for the guards of several products (issue 15, nbody).

``times(g, d)`` checks that ``d`` is finite before it multiplies (a zero adjoint times
inf stays 0: the where-trap convention). Where the forward sweep computed
``p = d * e`` (or ``d + e``, ``d - e``, ``-d``, and full views ``(d * e)[:, :, None]``,
nested), a finite ``p`` with at least one element proves every element of ``d`` and
``e`` finite: inf or NaN in an operand makes the result inf or NaN, and broadcasting
into a nonempty result uses every element of each operand. So a backward loop whose
values come from one ``for (d, e, p) in reversed(saved):`` checks ``p`` once
(``finite_p = finite_nonempty(p)``) and each covered guard becomes
``g * d if finite_p else times(g, d)``.

Only values saved by one push of a loop body (``tape.give_loops_their_lists``) are paired,
and only where the statements binding them are bound once, in that body, in order
(``d`` before ``p`` before the push): ``p`` was computed from the same ``d``.
"""

from __future__ import annotations

import gast

from .. import runtime
from ..rules.registry import SCALAR
from .walk import all_statements, assignment_counts, forget, target_name


def share_finite_checks(program) -> None:
    """Rewrite the covered ``times`` guards of the loops the module describes."""
    if program.analysis.complex_values:
        return
    helper = program.bindings.existing("times", runtime.times)
    if helper is None:
        return
    counts = assignment_counts(program.forward)
    for back in program.backward:
        saved = _saved_names(back)
        if saved is None:
            continue
        body = _forward_body(program.forward, saved)
        if body is None or not _never_changed(saved, program.forward):
            continue
        covers = _covers(body, saved, counts)
        _rewrite(program, back, covers, helper)


def _saved_names(back: gast.stmt) -> list[str] | None:
    """The names of ``for (a, b, ...) in reversed(saved):`` (a loop list's backward loop)."""
    if not (isinstance(back, gast.For) and isinstance(back.target, gast.Tuple)):
        return None
    if not all(isinstance(e, gast.Name) for e in back.target.elts):
        return None
    iterated = back.iter
    if not (
        isinstance(iterated, gast.Call)
        and len(iterated.args) == 1
        and isinstance(iterated.args[0], gast.Name)
    ):
        return None
    return [e.id for e in back.target.elts]


def _forward_body(forward: list[gast.stmt], saved: list[str]) -> list[gast.stmt] | None:
    """The forward loop body (up to its push) whose push saves exactly ``saved``."""
    for stmt in all_statements(forward):
        if not isinstance(stmt, gast.For):
            continue
        for position, inner in enumerate(stmt.body):
            if _pushes(inner, saved):
                return stmt.body[:position]
    return None


def _never_changed(saved: list[str], forward: list[gast.stmt]) -> bool:
    """Whether no statement of the forward sweep may change a saved array in place: no
    item, slice or attribute store or augmented assignment names one, and no statement
    with effects (a user call, a tape push aside) reads one."""
    names = set(saved)
    for stmt in all_statements(forward):
        if isinstance(stmt, gast.AugAssign) and _root(stmt.target) in names:
            return False
        if isinstance(stmt, gast.Assign) and any(
            isinstance(n, (gast.Subscript, gast.Attribute)) and _root(n) in names
            for t in stmt.targets
            for n in gast.walk(t)
        ):
            return False
        if isinstance(stmt, (gast.Assign, gast.AugAssign, gast.Expr)):
            pure = getattr(stmt, "ad_pure", True) or getattr(stmt, "ad_tape_push", False)
            if not pure and names & {n.id for n in gast.walk(stmt) if isinstance(n, gast.Name)}:
                return False
    return True


def _root(target: gast.expr) -> str | None:
    while isinstance(target, (gast.Subscript, gast.Attribute)):
        target = target.value
    if isinstance(target, (gast.Tuple, gast.List)):
        return None
    return target.id if isinstance(target, gast.Name) else None


def _pushes(stmt: gast.stmt, saved: list[str]) -> bool:
    value = getattr(stmt, "value", None)
    if not (isinstance(stmt, gast.Expr) and isinstance(value, gast.Call) and len(value.args) == 1):
        return False
    pushed = value.args[0]
    return (
        isinstance(pushed, gast.Tuple)
        and [e.id if isinstance(e, gast.Name) else None for e in pushed.elts] == saved
    )


def _covers(body: list[gast.stmt], saved: list[str], counts: dict) -> dict[str, str]:
    """Each saved name -> a saved name whose finiteness proves its own; as few distinct
    ones as the greedy choice finds (the one proving most names first)."""
    bound_at = {}
    direct: dict[str, set[str]] = {}
    for position, stmt in enumerate(body):
        name = target_name(stmt)
        if name is None or counts.get(name) != 1:
            continue
        bound_at[name] = position
        if name not in saved:
            continue
        for operand in _strict_operands(stmt.value):
            if operand in saved and operand != name and bound_at.get(operand, position) < position:
                direct.setdefault(name, set()).add(operand)
    proves = {name: _closure(name, direct) for name in direct}
    result: dict[str, str] = {}
    for top in sorted(proves, key=lambda n: (-len(proves[n]), saved.index(n))):
        for name in proves[top]:
            result.setdefault(name, top)
    return result


def _closure(name: str, direct: dict[str, set[str]]) -> set[str]:
    """The names ``name``'s finiteness proves finite, through chains of ``direct``."""
    found: set[str] = set()
    pending = [name]
    while pending:
        for operand in direct.get(pending.pop(), ()):
            if operand not in found and operand != name:
                found.add(operand)
                pending.append(operand)
    return found


def _strict_operands(expr: gast.expr) -> list[str]:
    """The names whose every element reaches ``expr``'s value through ``+ - *``, signs and
    full views (``[:, None, :]``): inf or NaN in one makes the value inf or NaN there."""
    if isinstance(expr, gast.Name):
        return [expr.id]
    if isinstance(expr, gast.BinOp) and isinstance(expr.op, (gast.Add, gast.Sub, gast.Mult)):
        return _strict_operands(expr.left) + _strict_operands(expr.right)
    if isinstance(expr, gast.UnaryOp) and isinstance(expr.op, (gast.USub, gast.UAdd)):
        return _strict_operands(expr.operand)
    if isinstance(expr, gast.Subscript) and _full_view(expr.slice):
        return _strict_operands(expr.value)
    return []


def _full_view(index: gast.expr) -> bool:
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    return all(
        (isinstance(p, gast.Slice) and p.lower is None and p.upper is None and p.step is None)
        or (isinstance(p, gast.Constant) and p.value is None)
        for p in parts
    )


def _rewrite(program, back: gast.For, covers: dict[str, str], helper: str) -> None:
    used: dict[str, str] = {}

    def guarded(call: gast.Call) -> gast.expr:
        d = call.args[1]
        cover = covers[d.id]
        if cover not in used:
            used[cover] = program.fn.names.fresh(f"finite_{cover}")
        plain = gast.BinOp(left=call.args[0], op=gast.Mult(), right=d)
        test = gast.Name(used[cover], gast.Load(), None, None)
        return gast.IfExp(test=test, body=plain, orelse=call)

    for stmt in back.body:
        for node in gast.walk(stmt):
            for field, value in gast.iter_fields(node):
                if _covered(value, helper, covers):
                    setattr(node, field, guarded(value))
                elif isinstance(value, list):
                    value[:] = [guarded(v) if _covered(v, helper, covers) else v for v in value]
    if not used:
        return
    check = program.bindings.reference("finite_nonempty", runtime.finite_nonempty)
    checks = [
        gast.Assign(
            targets=[gast.Name(flag, gast.Store(), None, None)],
            value=gast.Call(gast.Name(check, gast.Load(), None, None), [_load(cover)], []),
        )
        for cover, flag in used.items()
    ]
    for stmt in checks:
        gast.copy_location(stmt, back.body[0])
    back.body[:0] = checks
    forget(back)


def _load(name: str) -> gast.Name:
    return gast.Name(name, gast.Load(), None, None)


def _covered(node, helper: str, covers: dict) -> bool:
    return (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Name)
        and node.func.id == helper
        and len(node.args) == 2
        and not node.keywords
        and isinstance(node.args[1], gast.Name)
        and node.args[1].id in covers
    )


def hoist_invariant_checks(program) -> None:
    """``times(g, d)`` in a backward loop, ``d`` a number parameter that no statement
    binds (``alpha`` of the heat stencil): its finiteness is checked once,
    before the loop (``finite_alpha = finite_nonempty(alpha)``), and each such guard
    becomes ``g * d if finite_alpha else times(g, d)``.

    Same value: ``d`` is the same object with the same elements at every step, and where
    it is finite ``times(g, d)`` is ``g * d`` (a zero of another type or sign at most,
    as ``share_finite_checks`` accepts). ``finite_nonempty`` is False for anything it
    cannot prove finite (integers, NumPy scalars, empty or complex arrays): the guard
    stays."""
    if program.analysis.complex_values:
        return
    helper = program.bindings.existing("times", runtime.times)
    if helper is None:
        return
    everything = [*program.forward, *program.backward]
    counts = assignment_counts(everything)
    parameters = set(program.fn.params)
    kinds = program.analysis.kinds
    for position in range(len(program.backward) - 1, -1, -1):
        loop = program.backward[position]
        if not isinstance(loop, (gast.For, gast.While)):
            continue
        invariant = {
            name
            for name in _guarded_factors(loop, helper)
            if name in parameters
            and kinds.get(name) == SCALAR  # a number: no alias can change its value
            and not counts.get(name)
            and _never_changed([name], everything)
        }
        if not invariant:
            continue
        flags = {name: program.fn.names.fresh(f"finite_{name}") for name in sorted(invariant)}
        _guard_with_flags(loop, helper, flags)
        check = program.bindings.reference("finite_nonempty", runtime.finite_nonempty)
        checks = [
            gast.copy_location(
                gast.Assign(
                    targets=[gast.Name(flag, gast.Store(), None, None)],
                    value=gast.Call(gast.Name(check, gast.Load(), None, None), [_load(name)], []),
                ),
                loop,
            )
            for name, flag in flags.items()
        ]
        program.backward[position:position] = checks


def _guarded_factors(loop: gast.stmt, helper: str) -> set[str]:
    """The names ``d`` of the ``times(g, d)`` calls in ``loop``."""
    return {
        node.args[1].id
        for node in gast.walk(loop)
        if isinstance(node, gast.Call)
        and isinstance(node.func, gast.Name)
        and node.func.id == helper
        and len(node.args) == 2
        and not node.keywords
        and isinstance(node.args[1], gast.Name)
    }


def _guard_with_flags(loop: gast.stmt, helper: str, flags: dict[str, str]) -> None:
    def guarded(call: gast.Call) -> gast.expr:
        plain = gast.BinOp(left=call.args[0], op=gast.Mult(), right=call.args[1])
        test = gast.Name(flags[call.args[1].id], gast.Load(), None, None)
        return gast.IfExp(test=test, body=plain, orelse=call)

    covers = dict.fromkeys(flags)
    for stmt in loop.body:
        for node in gast.walk(stmt):
            for field, value in gast.iter_fields(node):
                if _covered(value, helper, covers):
                    setattr(node, field, guarded(value))
                elif isinstance(value, list):
                    value[:] = [guarded(v) if _covered(v, helper, covers) else v for v in value]
    forget(loop)
