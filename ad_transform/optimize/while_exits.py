"""``while test:`` written back as a person writes it, where nothing but the test ends it.

``desugar`` turns ``while test:`` into ``while True:`` whose body sets a flag where the
test fails and guards the rest by it, so that every exit is a ``break`` the backward
sweep can count. For a top-level loop with no other exit the finished sweeps are::

    broke = False                        iterations1 = 0
    iterations1 = 0                      while True:
    while True:                              <test statements>
        iterations1 += 1                     if v2:
        <test statements>          ->            break
        if v2:                               iterations1 += 1
            broke = True                     <body>
        v3 = not broke                   (``while E:`` if the test is ``v2 = not E``)
        if v3:                           for _ in range(iterations1):
            <body>                           <body's adjoint>
        v6 = broke
        if v6:
            break

    for _ in range(iterations1):
        if v3:
            <body's adjoint>
        v3 = True

The last forward trip (the one whose test fails) ran no body; the backward sweep
skipped it by ``v3`` (false then, true for every other trip: ``v3 = True``). Counting
only the trips that run the body gives the same adjoints in one trip fewer, with no
flag. Rewritten only where the statements are exactly these (names read nowhere else).
"""

from __future__ import annotations

import gast

from ..nodes import name_ids
from .walk import all_statements, target_name


def simplify_while_exits(program) -> None:
    """Rewrite each top-level loop of the shape above (in place)."""
    for loop in [s for s in program.forward if isinstance(s, gast.While)]:
        _rewrite(program, loop)


def _rewrite(program, loop: gast.While) -> None:
    shape = _loop_shape(loop)
    if shape is None:
        return
    counter, test, exit_test, broke, go_on, stop, body = shape
    back = next((s for s in program.backward if _replays(s, counter)), None)
    if back is None or not _guarded_by(back, go_on):
        return
    adjoint = back.body[0].body
    init = [s for s in program.forward if _assigns_constant(s, broke, False)]
    if len(init) != 1:
        return
    elsewhere = [s for s in program.forward if s is not loop and s is not init[0]]
    flags = {broke, go_on, stop, exit_test}
    if flags & name_ids([*elsewhere, *body, *program.backward[:0]]):
        return
    if flags & name_ids([s for s in program.backward if s is not back]) or flags & name_ids(
        adjoint
    ):
        return
    if counter in name_ids([*test, *body]):
        return
    if len(test) == 1 and isinstance(test[0].value, gast.UnaryOp) and _is_negation(test[0].value):
        loop.test = test[0].value.operand  # ``while E:``, E evaluated before each trip as before
        loop.body = [loop.body[0], *body]
    else:
        leave = _located(gast.If(test=_load(exit_test), body=[gast.Break()], orelse=[]), loop)
        loop.body = [*test, leave, loop.body[0], *body]
    program.forward.remove(init[0])
    back.body = list(adjoint) or [gast.Pass()]
    for stmt in (loop, back):
        for key in ("_ad_names", "_ad_loaded", "_ad_assigned"):
            stmt.__dict__.pop(key, None)


def _loop_shape(loop: gast.While):
    """(counter, test statements, exit test name, broke, go-on flag, stop flag, body) of a
    ``while True:`` loop of the desugared shape, else None."""
    if not (isinstance(loop.test, gast.Constant) and loop.test.value is True) or loop.orelse:
        return None
    if len(loop.body) < 7:
        return None
    first, *test, set_flag, guard, guarded, last, leave = loop.body
    counter = _increment(first)
    exit_test = _if_name(set_flag)
    if counter is None or exit_test is None or not test or target_name(test[-1]) != exit_test:
        return None
    if len(set_flag.body) != 1 or set_flag.orelse:
        return None
    broke = target_name(set_flag.body[0])
    if broke is None or not _assigns_constant(set_flag.body[0], broke, True):
        return None
    go_on = target_name(guard)
    if go_on is None or not _is_not(guard.value, broke) or _if_name(guarded) != go_on:
        return None
    if guarded.orelse:
        return None
    stop = target_name(last)
    if stop is None or not _is_name(last.value, broke) or _if_name(leave) != stop:
        return None
    if len(leave.body) != 1 or not isinstance(leave.body[0], gast.Break) or leave.orelse:
        return None
    if any(
        isinstance(s, (gast.Break, gast.Continue, gast.Return))
        for s in all_statements([*test, *guarded.body])
    ):
        return None
    return counter, test, exit_test, broke, go_on, stop, guarded.body


def _increment(stmt) -> str | None:
    """``name += 1``: the name."""
    if (
        isinstance(stmt, gast.AugAssign)
        and isinstance(stmt.op, gast.Add)
        and isinstance(stmt.target, gast.Name)
        and isinstance(stmt.value, gast.Constant)
        and stmt.value.value == 1
    ):
        return stmt.target.id
    return None


def _if_name(stmt) -> str | None:
    """``if name:``: the name."""
    if isinstance(stmt, gast.If) and isinstance(stmt.test, gast.Name):
        return stmt.test.id
    return None


def _assigns_constant(stmt, name: str, value: bool) -> bool:
    return (
        target_name(stmt) == name
        and isinstance(stmt.value, gast.Constant)
        and stmt.value.value is value
    )


def _is_not(expr, name: str) -> bool:
    return (
        isinstance(expr, gast.UnaryOp)
        and isinstance(expr.op, gast.Not)
        and _is_name(expr.operand, name)
    )


def _is_negation(expr: gast.UnaryOp) -> bool:
    return isinstance(expr.op, gast.Not)


def _is_name(expr, name: str) -> bool:
    return isinstance(expr, gast.Name) and expr.id == name


def _replays(stmt, counter: str) -> bool:
    """``for _ in range(counter):``."""
    return (
        isinstance(stmt, gast.For)
        and isinstance(stmt.iter, gast.Call)
        and len(stmt.iter.args) == 1
        and _is_name(stmt.iter.args[0], counter)
        and not stmt.orelse
    )


def _guarded_by(back: gast.For, flag: str) -> bool:
    """The backward loop's body is ``if flag: ...`` then ``flag = True``."""
    return (
        len(back.body) == 2
        and _if_name(back.body[0]) == flag
        and not back.body[0].orelse
        and _assigns_constant(back.body[1], flag, True)
    )


def _load(name: str) -> gast.Name:
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _located(node, like):
    for key, value in like.__dict__.items():
        if key.startswith("origin") or key in ("lineno", "col_offset"):
            setattr(node, key, value)
    return node
