"""The evaluation trace of the textbooks, with the values of one call.

``trace_table(f, *args)`` runs ``f`` at ``args`` the way ad_transform differentiates
it and records every primitive it executes: the forward primal trace
(``v_-1 = x1 = 2.000``, ``v1 = log(v_-1) = 0.693``, ...) and the reverse adjoint trace
(``v̄5 = 1``, ..., ``v̄0 += v̄2 * v_-1 = 1.716``), in the order they ran, loops unrolled
as they ran, with iteration numbers and the branches taken.

How: the function goes through the real pipeline (parse, normalize, analyze,
reverse) without the optimizer, so the adjoint trace is the textbook form with
``+=`` accumulation. The forward and backward sweeps are then interpreted one
statement at a time: every simple statement is executed as Python in a namespace
made of the function's globals, its closure cells and the objects the generated
code binds (rule helpers, helper pairs, the tape); ``if``/``for``/``while`` are
walked here so that iterations can be numbered. Each executed primitive gets a
textbook number: the parameters are ``v_-(n-1) ... v0``, results ``v1, v2, ...`` in
execution order; copies (``s_1 = s``, the joins of SSA) are not new values and keep
the number of what they copy. The adjoint of ``vk`` is ``v̄k``.
"""

from __future__ import annotations

from .trace_interpreter import _Tracer
from .trace_rows import Row, TraceTable

__all__ = ["Row", "TraceTable", "trace_table"]


def trace_table(
    func,
    *args,
    wrt=None,
    digits: int = 3,
    progress=None,
    full: bool | None = None,
    mode: str = "reverse",
    tangents=None,
    **kwargs,
) -> TraceTable:
    """Evaluate ``func(*args, **kwargs)`` and its gradient, recording the evaluation trace.

    ``mode="forward"`` records the forward-mode table instead: the primal trace beside
    the tangent trace ``v̇`` (``trace_forward.py``) in the direction ``tangents`` (one per
    differentiated argument; by default 1 for the first and 0 for the others); the
    table's ``tangent`` is the directional derivative.

    ``wrt`` is an argument index or a tuple of indices, as for :func:`grad`; by default
    the positional arguments that are floats or float arrays are differentiated (an
    integer, a loop count say, stays an integer), and when none is, every argument that
    is a number or a numeric array (as a float).
    Returns a :class:`TraceTable`; ``print`` it for the two-column textbook table (a
    long trace is summarised: see :meth:`TraceTable.to_text`). ``progress``, if given,
    is called as ``progress(phase, rows)`` (``phase`` is ``"forward"`` or
    ``"backward"``) every ``PROGRESS_EVERY`` statements, to report on a long trace.

    Every iteration is evaluated, but a long trace records only the rows its summary
    shows: once the forward trace passes ``SUMMARY_THRESHOLD`` rows, an iteration of a
    loop is recorded only while it may be among the first or last ``KEPT_ITERATIONS``
    (the last ones in a bounded buffer per loop), so time and memory follow the rows
    shown, not the trip count. ``full=True`` records every row; ``full=False``
    summarises from the first row on.
    """
    if mode == "forward":
        from .trace_forward import forward_trace_table

        return forward_trace_table(func, args, kwargs, wrt, digits, progress, full, tangents)
    if mode != "reverse":
        raise ValueError(f"trace_table: mode must be 'reverse' or 'forward', not {mode!r}")
    if tangents is not None:
        raise TypeError("trace_table: tangents= is for mode='forward'")
    return _Tracer(func, args, kwargs, wrt, digits, progress, full).run()
