"""What the two sweeps of the tracer (``trace_interpreter.py``) share: the event recorded
for each evaluated statement (its label and the labels of its inputs), compacted events
of elided iterations, loop keys and statement locations."""

from __future__ import annotations

from dataclasses import dataclass

import gast

from . import trace_rows


@dataclass
class _Event:
    label: str | None
    inputs: dict[str, str | None]


def _names_loaded(node: gast.AST) -> list[str]:
    seen: dict[str, None] = {}
    for n in gast.walk(node):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
            seen.setdefault(n.id)
    return list(seen)


def _loop_key(stmt: gast.stmt) -> tuple:
    return (getattr(stmt, "lineno", None), getattr(stmt, "col_offset", None))


_INSIDE = "v⋯"  # a compacted event's label for a value defined inside its elided region


def _outside(label: str | None, start: int) -> str | None:
    """``label`` if it names a value defined before label ``v{start}``, else ``_INSIDE``."""
    if label is None or label == _INSIDE or label[1] == "_":  # v_-1, v_-2: parameters
        return label
    return label if int(label[1:]) < start else _INSIDE


def _is_middle(number: int, trips: int) -> bool:
    """Whether iteration ``number`` of ``trips`` is one a summary leaves out."""
    keep = trace_rows.KEPT_ITERATIONS
    return trips > 2 * keep + 1 and keep < number <= trips - keep


def _location(node: gast.AST) -> tuple:
    return tuple(
        getattr(node, a, None) for a in ("lineno", "col_offset", "end_lineno", "end_col_offset")
    )
