"""Stage 5: make the generated code what a careful person would write.

Passes, in order (one module per family):

* ``accumulation.drop_needless_zeros`` / ``first_contribution_assigns``: the first
  ``dx += e`` of an adjoint becomes ``dx = e`` (also inside a branch);
* ``propagation.propagate``: single-assignment copies and constants are substituted
  into their uses (``dv3 = dv5`` disappears), arithmetic with 0 and 1 is folded;
* ``loops.simplify_loop_adjoints``: in loop bodies, adjoints that start each iteration
  at zero are assigned, not reset and accumulated; block-local copies disappear;
* ``accumulation.guard_accumulation``: ``dx += e`` writes in place into an ndarray, so it
  is kept only where ``dx`` holds an array this code owns; else ``dx = dx + e``;
* ``dead_code.eliminate_dead_code``: statements nobody needs are removed, also inside
  the loops of the forward sweep.
"""

from __future__ import annotations

from ..reverse import AdjointProgram
from .accumulation import drop_needless_zeros, first_contribution_assigns, guard_accumulation
from .dead_code import eliminate_dead_code
from .loops import simplify_loop_adjoints
from .propagation import propagate


def optimize(program: AdjointProgram, keep: set[str]) -> AdjointProgram:
    """Run every pass; ``keep`` are names the emitted function returns or saves."""
    predefined = {program.seed_name} if program.seed_is_parameter else set()
    protected = keep | predefined
    backward = drop_needless_zeros(program.backward, program, protected)
    backward = first_contribution_assigns(backward, predefined)
    backward = propagate(backward, protected=protected)
    backward = simplify_loop_adjoints(backward, set(program.adjoint_kinds), protected)
    backward = guard_accumulation(backward, program, predefined)
    program.forward, program.backward = eliminate_dead_code(
        program.forward, backward, keep, program.analysis
    )
    return program


__all__ = [
    "drop_needless_zeros",
    "eliminate_dead_code",
    "first_contribution_assigns",
    "guard_accumulation",
    "optimize",
    "propagate",
    "simplify_loop_adjoints",
]
