"""Which names a loop's next iteration may read before assigning them.

The alias walk (``aliases.py``) refuses a change in place of an object that another name
still holds when that name is read afterwards. Inside a loop, "afterwards" includes the
next iterations; a name every iteration assigns before reading it (``g = 2 * x`` at the
top of the body, the adjoint temporaries ``dv1 = ...`` of generated code) holds nothing
the next iteration reads, whatever it held when the change happened.
"""

from __future__ import annotations

import gast

from .nodes import name_ids


def live_at_loop_head(loop: gast.For | gast.While) -> frozenset[str]:
    """The names an iteration of ``loop`` may read before the iteration assigns them: its
    test (or iterable) and the else block, and the body's reads not preceded, on every path
    from the top of the body, by an assignment of the name (backward liveness; only a
    plain assignment ``name = ...`` or the loop's own target kills a name; ``break`` and
    ``continue`` leave the body). What is read after the loop is not included: the caller
    adds it."""
    target = name_ids(loop.target, gast.Store) if isinstance(loop, gast.For) else set()
    header = loop.iter if isinstance(loop, gast.For) else loop.test
    head = set(name_ids(header, gast.Load))
    for stmt in loop.orelse:
        head |= name_ids(stmt, gast.Load)
    while True:
        inner = _block(loop.body, set(head), set(), head)
        widened = head | (inner - target)
        if widened == head:
            return frozenset(head)
        head = widened


def _block(stmts: list, live: set[str], after_loop: set[str], loop_head: set[str]) -> set[str]:
    """The names live before ``stmts`` given those live after them."""
    for stmt in reversed(stmts):
        live = _statement(stmt, live, after_loop, loop_head)
    return live


def _statement(stmt, live: set[str], after_loop: set[str], loop_head: set[str]) -> set[str]:
    if isinstance(stmt, gast.If):
        body = _block(stmt.body, set(live), after_loop, loop_head)
        orelse = _block(stmt.orelse, set(live), after_loop, loop_head)
        return body | orelse | name_ids(stmt.test, gast.Load)
    if isinstance(stmt, (gast.For, gast.While)):
        return live | live_at_loop_head(stmt)  # it may run no iteration
    if isinstance(stmt, gast.Break):
        return set(after_loop)
    if isinstance(stmt, gast.Continue):
        return set(loop_head)
    if isinstance(stmt, gast.Return):
        return set(name_ids(stmt, gast.Load))
    if isinstance(stmt, (gast.Assign, gast.AnnAssign)) and getattr(stmt, "value", None) is not None:
        targets = stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target]
        if all(isinstance(t, (gast.Name, gast.Tuple, gast.List)) for t in targets):
            live = live - name_ids(targets, gast.Store)
    return live | name_ids(stmt, gast.Load)
