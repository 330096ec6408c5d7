"""Concatenations whose adjoint is slices of the result's adjoint (issue 15).

``np.concatenate([a, b, c])`` has the adjoint ``concatenate_adjoint(g, arrays, axis)``:
``g`` cut at the pieces' lengths, read from the pieces (kept on the tape) when it runs.
Where the shape facts know the pieces' lengths as a pattern whose cuts are the same
constants for every length (``x[:1]``, ``x[1:-1]``, ``x[-1:]``: ``shapes._joined_length``),
the reverse stage writes the cuts into the code instead: ``da += g[:1]``, ``db +=
g[1:-1]``, ``dc += g[-1:]`` (views of ``g``), and the list display of the pieces gets no
adjoint of its own (``reverse.py``, ``_Reverser.concatenation_adjoint``). So the list is
neither kept on the tape nor split at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import gast
import numpy as np

from .ops import BUILD, Op
from .shapes import ArrayFact, IntFact, Parts, _joined_length, atom_fact
from .shift_invariance import _name_counts


@dataclass(frozen=True)
class SplitConcatenation:
    """A concatenation whose adjoint is written as slices: the display ``pieces`` of its
    list (read by nothing else), the joined ``axis`` and each piece's ``bounds``."""

    pieces: Op
    axis: int
    bounds: list


def split_concatenations(
    ops: list[Op], tree: gast.FunctionDef, facts
) -> dict[int, SplitConcatenation]:
    """The concatenations of ``ops`` (by ``id`` of their statement) whose list argument
    is a name bound once, by a list or tuple display, and read only by that call (so its
    elements are exactly the pieces and the display needs no adjoint of its own), with
    constant cuts (``concatenation_split``)."""
    stores, loads = _name_counts(tree)
    binders: dict[str, list[Op]] = {}
    for op in ops:
        if op.target is not None:
            binders.setdefault(op.target, []).append(op)
    found = {}
    for op in ops:
        split = concatenation_split(op, facts)
        listed = op.inputs.get("arrays")
        if split is None or not isinstance(listed, gast.Name):
            continue
        name = listed.id
        display = binders.get(name, [])
        if stores.get(name) != 1 or loads.get(name) != 1 or len(display) != 1:
            continue
        value = display[0].value
        if display[0].form != BUILD or not isinstance(value, (gast.List, gast.Tuple)):
            continue
        if len(value.elts) != len(split[1]) or any(isinstance(e, gast.Starred) for e in value.elts):
            continue
        found[id(op.stmt)] = SplitConcatenation(display[0], *split)
    return found


def concatenation_split(op, facts) -> tuple[int, list] | None:
    """Where each piece of ``np.concatenate(arrays, axis)`` lies in the result along the
    joined axis, as constant slice bounds that hold for every length the facts allow:
    ``(axis, [(start, stop), ...])``, ``axis`` normalised with the rank; None where the
    pieces' lengths are not a known pattern (``split_bounds``), the ranks differ, or the
    call has other arguments. Then the adjoint of piece ``k`` is ``g[start:stop]`` along
    ``axis`` (a view of the result's adjoint ``g``), with no list of pieces kept."""
    if getattr(op.rule, "primitive", None) is not np.concatenate:
        return None
    inputs = op.inputs
    parts = atom_fact(inputs.get("arrays"), facts.names)
    axis = inputs.get("axis", gast.Constant(0, None))
    if set(inputs) - {"arrays", "axis"} or not isinstance(parts, Parts):
        return None
    axis = atom_fact(axis, facts.names)  # a literal, or a name bound to one (``-1``)
    if not (isinstance(axis, IntFact) and axis.value is not None):
        return None
    pieces = parts.facts
    if not pieces or not all(isinstance(f, ArrayFact) for f in pieces):
        return None
    ndim = pieces[0].ndim
    if any(f.ndim != ndim for f in pieces) or not -ndim <= axis.value < ndim:
        return None
    joined = axis.value % ndim
    bounds = split_bounds([f.length(joined) for f in pieces])
    return None if bounds is None else (joined, bounds)


def split_bounds(lengths: list) -> list[tuple[int | None, int | None]] | None:
    """The constant slice bounds of pieces of these length symbols joined end to end,
    for the pattern ``_joined_length`` admits (``x[:1]``, ``x[1:-1]``, ``x[-1:]`` of an
    axis of length n, n never 1): the pieces before the ``x[1:-1]``-like one are one
    long each from the start, those after it one long each from the end, and it takes
    the rest: ``[(None, 1), (1, -1), (-1, None)]``. For n = 0 every slice is empty, as
    every piece is. None for any other pattern (and for one piece: nothing to split)."""
    if len(lengths) < 2 or _joined_length(lengths) is None:
        return None
    middle = next(k for k, x in enumerate(lengths) if x[0] == "minus")
    after = len(lengths) - middle - 1
    bounds: list[tuple[int | None, int | None]] = [(k or None, k + 1) for k in range(middle)]
    bounds.append((middle or None, -after or None))
    bounds.extend((-k, -(k - 1) or None) for k in range(after, 0, -1))
    return bounds
