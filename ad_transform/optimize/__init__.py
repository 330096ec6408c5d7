"""Stage 5: make the generated code what a careful person would write.

Passes over the backward sweep, in order (one module per family):

* ``zeros.settle_zero_guards``: the reverse stage guards array adjoints with
  ``if not is_zero(g):``; where the dataflow knows whether ``g`` is the shapeless zero,
  the test (or the whole guarded block) goes;
* ``zeros.assign_known_zeros``: ``dx += e`` is ``dx = e`` where ``dx`` is certainly
  zero or not yet bound (a first contribution, also inside branches and loops);
* ``zeros.drop_dead_stores``: assignments no statement reads (resets, zero
  initialisations made needless by the first pass) go, also inside loops;
* ``propagation.propagate``: single-assignment copies and constants are substituted
  into their uses (``dv3 = dv5`` disappears), arithmetic with 0 and 1 is folded;
* ``copies.propagate_block_copies``: a copy of an adjoint used only in its own block
  (a branch, a loop body) disappears;
* ``accumulation.guard_accumulation``: ``dx += e`` writes in place into an ndarray, so
  it is kept only where ``dx`` holds an array this code owns; else ``dx = dx + e``;
* ``dead_code.eliminate_dead_code``: statements nobody needs are removed, also inside
  the loops of the forward sweep (not those that can raise on Python numbers:
  ``math`` functions, divisions and powers, so that the gradient raises where the
  function does);
* ``forward.fold_temporaries`` / ``coalesce_copies``: the forward sweep's single-use
  temporaries and join copies go back into whole expressions;
* ``inline_pairs.inline_pairs``: straight-line helper pairs are written into the caller;
* ``tape.compact_tape``: loop constants leave the tape, and the pushes of a block become
  one push of each value once (one pop).
"""

from __future__ import annotations

import numpy as np

from .. import runtime
from ..reverse import AdjointProgram
from ..shapes import ArrayFact
from .accumulation import guard_accumulation
from .copies import propagate_block_copies
from .dead_code import broadcast_operands, eliminate_dead_code, exposed_reads, may_raise
from .element_loops import dead_element_resets, first_element_writes
from .finite_covers import hoist_invariant_checks, share_finite_checks
from .forward import coalesce_copies, fold_temporaries
from .inline_pairs import inline_pairs
from .inlined_cleanup import split_result_tuples, split_tuple_assignments
from .propagation import propagate
from .spread_adjoints import negated_scales, negated_spreads, spread_products, spread_scalings
from .tape import compact_tape
from .while_exits import simplify_while_exits
from .zeros import assign_known_zeros, drop_dead_stores, settle_zero_guards


def optimize(
    program: AdjointProgram,
    keep: set[str],
    passes: bool = True,
    plain_tape: bool = False,
    recompute: bool = True,
) -> AdjointProgram:
    """Run every pass; ``keep`` are names the emitted function returns or saves.

    ``plain_tape``: the tape stays one push/pop list and loops keep their flags (no loop
    lists, replayed range indices or ``while`` exits rewritten): what the Numba variant
    (``numba_form``) and code differentiated again (``higher_order``) transform further.
    ``recompute=False``: ``math`` values are kept on the tape, never computed again after
    the pop (the Numba variant: ``compact_tape``).

    With ``passes=False`` only what the code needs to run right does: first contributions
    become assignments (the reverse stage leaves them unbound) and in-place accumulation is
    guarded. The tests compare the gradients of the two."""
    predefined = {program.seed_name} if program.seed_is_parameter else set()
    # the adjoints of arrays whose items the backward sweep zeroes must be arrays of
    # their own: their first contribution stays ``+=`` (which makes one from ``0.0``)
    adjoints = set(program.adjoint_kinds) - getattr(program, "item_adjoints", set())
    predefined |= set(getattr(program, "inout_adjoints", {}).values())  # given to bwd
    if not passes:
        backward = assign_known_zeros(program.backward, adjoints, predefined, resets=False)
        program.backward = guard_accumulation(backward, program, predefined)
        return program
    protected = keep | predefined
    splitters = {program.bindings.existing("concatenate_adjoint", runtime.concatenate_adjoint)}
    backward = settle_zero_guards(program.backward, set(program.adjoint_kinds), splitters - {None})
    backward = assign_known_zeros(backward, adjoints, predefined)
    backward = drop_dead_stores(backward, protected)
    backward = propagate(backward, protected=protected)
    backward = propagate_block_copies(backward, set(program.adjoint_kinds), protected)
    program.backward = backward
    negated_spreads(program)  # before the accumulation guard: a spread is read-only
    spread_products(program)
    if not plain_tape:
        spread_scalings(program)
    negated_scales(program)
    backward = guard_accumulation(program.backward, program, predefined)
    program.backward = backward
    # what is read after the forward sweep: by the backward sweep, or returned
    needed = keep | exposed_reads(backward)
    forward = eliminate_dead_code(
        program.forward,
        needed,
        may_raise(program.analysis),
        broadcasts=None if plain_tape else broadcast_operands(program.analysis),
        check=lambda: program.bindings.reference("broadcast_shapes", np.broadcast_shapes),
    )
    program.forward = coalesce_copies(fold_temporaries(forward, needed), needed)
    if inline_pairs(program):
        _tidy_inlined(program, protected, adjoints)
    compact_tape(program, protected, plain=plain_tape, recompute=recompute)
    if not plain_tape:
        first_element_writes(program)
        dead_element_resets(program, protected)
        _fold_element_reads(program, protected)
        share_finite_checks(program)
        hoist_invariant_checks(program)
        simplify_while_exits(program)
    return program


def _fold_element_reads(program: AdjointProgram, protected: set[str]) -> None:
    """After the tape is compact (replayed indices are no longer pushed): element reads
    of arrays and the index arithmetic go into the expressions that use them."""
    facts = program.analysis.shapes
    arrays = frozenset(
        name for name, fact in facts.names.items() if isinstance(fact, ArrayFact) and fact.ndim >= 1
    )
    if not arrays:
        return
    needed = protected | exposed_reads(program.backward)
    program.forward = coalesce_copies(fold_temporaries(program.forward, needed, arrays), needed)


def _tidy_inlined(program: AdjointProgram, protected: set[str], adjoints: set[str]) -> None:
    """After pairs were written into the caller: their result tuples, zero stores and
    copies go (``inlined_cleanup``), as the same passes do for the caller's own code."""
    split_result_tuples(program, protected)
    split_tuple_assignments(program.backward)
    backward = drop_dead_stores(program.backward, protected)
    inlined = getattr(program, "inlined_names", set())
    program.backward = propagate_block_copies(backward, adjoints | inlined, protected)
    needed = protected | exposed_reads(program.backward)
    program.forward = coalesce_copies(fold_temporaries(program.forward, needed), needed)


__all__ = [
    "assign_known_zeros",
    "coalesce_copies",
    "compact_tape",
    "drop_dead_stores",
    "eliminate_dead_code",
    "fold_temporaries",
    "guard_accumulation",
    "optimize",
    "propagate",
    "propagate_block_copies",
    "settle_zero_guards",
]
