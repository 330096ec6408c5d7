"""The textbook's forward-mode table: the primal trace beside the tangent trace ``v̇``.

``trace_table(f, *args, mode="forward")`` runs the forward-mode code of ``f``
(``forward.py``, the code ``jvp`` runs, unoptimised) one statement at a time with the
machinery of ``trace.py``: each primal statement gets its row ``vk = ...`` as in the
reverse table, and the tangent statement that follows it the row ``v̇k = ...`` beside
it, computed by the same tangent rules ``jvp`` uses. The columns are aligned row by row
(loop and branch markers in both); a value whose tangent is not needed (nothing
differentiated flows into it, or it does not reach the output) has an empty tangent row.

Direction: ``tangents=`` gives one tangent per differentiated argument (``wrt``, by
default the float arguments as in the reverse table); without it the first
differentiated argument is seeded with 1 (ones for an array) and the others with 0, so
the last row is the partial derivative by the first argument.
"""

from __future__ import annotations

import gast
import numpy as np

from . import forward as _forward_module
from .errors import ADTransformError
from .ops import COPY, MUTATIONS
from .trace_interpreter import _Tracer
from .trace_rows import Row, TraceTable
from .trace_text import format_value

DOT = "\u0307"  # combining dot above: v̇

__all__ = ["dot", "tangent_label"]


def tangent_label(label: str) -> str:
    """``v3`` -> ``v̇3``; ``v_-1`` -> ``v̇-1`` (as the adjoint labels drop the underscore)."""
    if label.startswith("v_"):
        return "v" + DOT + label[2:]
    if label.startswith("v"):
        return "v" + DOT + label[1:]
    return dot(label)


def dot(name: str) -> str:
    """The tangent of an input or the output: ``x1`` -> ``ẋ1``, ``y`` -> ``ẏ``."""
    return name[:1] + DOT + name[1:]


def _tagging_forward(analysis, tangent_params: dict[str, str]):
    """``forward.forward`` with each tangent statement tagged ``ad_trace_tangent`` (the
    index of its op) and each call of a helper's forward-mode function
    ``ad_trace_jvp_call``; returns the program and the tangent names (primal -> tangent)."""
    index = {id(op): k for k, op in enumerate(analysis.ops)}

    class _Tagging(_forward_module._Forward):
        coalesce = False  # each SSA statement as the analysis has it, as in the reverse table

        def statement(self, op):
            stmts = super().statement(op)
            if op.form == "user_call" and op.active and stmts:
                stmts[-1].ad_trace_jvp_call = index[id(op)]
                return stmts
            tangents = {id(s) for s in self.code}
            for stmt in stmts:
                if id(stmt) in tangents:
                    stmt.ad_trace_tangent = index[id(op)]
            return stmts

    forwarder = _Tagging(analysis, _forward_module._helper_jvp, tangent_params)
    program = forwarder.run()
    return program, dict(forwarder.tangents)


class _ForwardTracer(_Tracer):
    """The tracer of ``trace.py`` on the forward-mode program: the right column is the
    tangent trace, one row beside each row of the primal trace."""

    def __init__(self, func, args, kwargs, wrt, digits, progress, full, tangents) -> None:
        super().__init__(func, args, kwargs, wrt, digits, progress, full)
        self.seed = tangents
        self.row_of_label: dict[str, Row] = {}  # label -> its latest row of the primal trace
        self.tangent_rows: dict[int, Row] = {}  # id of a primal row -> the tangent row

    def run(self) -> TraceTable:
        analysis = self.analysed()
        fn, parsed, values, wrt_names = self.fn, self.parsed, self.values, analysis.wrt
        tangent_params = {p: fn.names.fresh(p + "_dot") for p in wrt_names}
        program, tangents = _tagging_forward(analysis, tangent_params)
        self.program = program
        self.tangent_names = tangents  # primal name -> tangent name
        self.primal_of_tangent = {t: p for p, t in tangents.items()}
        self.primal_of = {}
        self.flags = self.flag_names(fn.tree)
        self.headers = self.header_ops(fn.tree)
        self.location_ops = self.ops_by_location()
        self.ns = self.namespace(parsed, program, values)
        directions = self.directions(values, wrt_names)
        for param, direction in directions.items():
            self.ns[tangent_params[param]] = direction
        self.inputs(fn, values)
        for param in wrt_names:
            label = self.labels[param]
            self.set_tangent_row(
                label,
                Row(
                    "seed",
                    tangent_label(label),
                    "=",
                    dot(param),
                    directions[param],
                    label=label,
                    line=getattr(fn.tree, "lineno", None),
                ),
            )
        self.forward_block(program.body, ())
        result = self.evaluate(program.result)
        tangent = self.evaluate(program.result_tangent)
        result_label = (
            self.labels.get(program.result.id) if isinstance(program.result, gast.Name) else None
        )
        line = getattr(fn.body[-1], "origin_line", None)
        self.add_forward_row(
            lambda: Row(
                "output",
                "y",
                "=",
                result_label or format_value(result, self.digits),
                result,
                label=result_label,
                sources=(result_label,) if result_label else (),
                line=line,
            )
        )
        output = self.forward_rows[-1]
        self.tangent_rows[id(output)] = Row(
            "output",
            dot("y"),
            "=",
            tangent_label(result_label) if result_label else "0",
            tangent,
            label=result_label,
            line=line,
        )
        self.reverse_rows = self.tangent_column()
        call = f"{self.func.__name__}({', '.join(self.argument_texts(fn, values))})"
        inputs = {p: self.labels.get(p) or p for p in fn.params}
        table = ForwardTraceTable(
            self.func.__name__,
            call,
            self.forward_rows,
            self.reverse_rows,
            result,
            {},
            inputs,
            self.digits,
            summarised=self.summarising,
        )
        table.tangent = tangent
        table.directions = directions
        return table

    def directions(self, values: dict, wrt_names: list[str]) -> dict:
        """The tangent of each differentiated parameter: ``tangents=`` checked against the
        arguments, or 1 (ones) for the first and 0 (zeros) for the others."""
        from .forward_api import _tangent_for

        if self.seed is None:
            return {
                p: (np.ones_like(values[p]) if isinstance(values[p], np.ndarray) else 1.0)
                if i == 0
                else (np.zeros_like(values[p]) if isinstance(values[p], np.ndarray) else 0.0)
                for i, p in enumerate(wrt_names)
            }
        seed = self.seed if isinstance(self.seed, (tuple, list)) else (self.seed,)
        if len(seed) != len(wrt_names):
            raise TypeError(
                f"trace_table of {self.func.__name__}: {len(seed)} tangent(s) for the "
                f"{len(wrt_names)} differentiated argument(s) {', '.join(wrt_names)}"
            )
        return {p: _tangent_for(t, values[p], p, self.func) for p, t in zip(wrt_names, seed)}

    # -- rows ----------------------------------------------------------------------------------
    def add_forward_row(self, make, marker: bool = False) -> None:
        """A row of the primal trace; its tangent row is found by its label later."""
        recorded = self.recording
        super().add_forward_row(make, marker)
        if recorded and not marker:
            row = self.forward_rows[-1]
            if row.label and row.kind in ("input", "primal", "effect", "output"):
                self.row_of_label[row.label] = row

    def set_tangent_row(self, label: str | None, row: Row) -> None:
        primal = self.row_of_label.get(label) if label else None
        if primal is not None and self.recording:
            self.tangent_rows[id(primal)] = row

    def tangent_column(self) -> list[Row]:
        """The tangent trace, row by row beside the primal trace as it was kept (loops
        summarised): the same markers, each value's tangent row or an empty row."""
        column = []
        for row in self.forward_rows:
            if row.is_marker:
                column.append(row)
                continue
            tangent = self.tangent_rows.get(id(row))
            if tangent is None:
                tangent = Row("tangent", "", "", "", None, False, iteration=row.iteration)
            column.append(tangent)
        return column

    def forward_statement(self, stmt, path: tuple) -> None:
        k = getattr(stmt, "ad_trace_tangent", None)
        if k is not None:
            self.report_progress("forward")
            self.execute(stmt)
            self.tangent_row(stmt, self.ops[k], path)
            return
        k = getattr(stmt, "ad_trace_jvp_call", None)
        if k is not None:  # ``y, y_dot = h_jvp(...)``: both rows
            self.report_progress("forward")
            op = self.ops[k]
            inputs = {n: self.labels.get(n) for n in self.names_read(k, op.stmt)}
            self.execute(stmt)
            line = getattr(op.stmt, "origin_line", None)
            self.primal_row(k, path, op.stmt, op.target, inputs, line, True)
            tangent = self.tangent_names.get(op.target)
            label = self.labels.get(op.target)
            self.set_tangent_row(
                label,
                Row(
                    "tangent",
                    tangent_label(label),
                    "=",
                    f"jvp of {self.display(op.stmt.value.func, lambda n: None)}",
                    self.ns.get(tangent),
                    line=line,
                    iteration=path,
                    label=label,
                ),
            )
            return
        super().forward_statement(stmt, path)

    def tangent_row(self, stmt, op, path: tuple) -> None:
        """The row of a tangent statement, beside its value's row (a copy has none of its
        own: it fills the row of the value it copies only where that row has none, as the
        zero tangent of ``s = 0.0`` given at the copy before a loop)."""
        if op.target is None or op.target in self.flags:
            return
        label = self.labels.get(op.target)
        if label is None:
            return
        if op.form == COPY:
            primal = self.row_of_label.get(label)
            if primal is None or id(primal) in self.tangent_rows:
                return
        line = getattr(op.stmt, "origin_line", None)
        tangent = self.tangent_names.get(op.target)
        if op.form in MUTATIONS:
            target = stmt.targets[0] if hasattr(stmt, "targets") else None  # else append
            head = self.display(target, self.tangent_text) if target is not None else ""
            expression = self.display(stmt.value, self.tangent_text)
            row = Row(
                "tangent",
                head,
                "=" if head else "",
                expression,
                self.ns.get(tangent),
                line=line,
                iteration=path,
                label=label,
            )
        else:
            row = Row(
                "tangent",
                tangent_label(label),
                "=",
                self.display(stmt.value, self.tangent_text),
                self.ns.get(tangent),
                line=line,
                iteration=path,
                label=label,
            )
        self.set_tangent_row(label, row)

    def tangent_text(self, name: str):
        """A tangent name as ``v̇k`` (the label of its primal), a primal as ``vk``."""
        primal = self.primal_of_tangent.get(name)
        if primal is not None:
            label = self.labels.get(primal)
            return tangent_label(label) if label else dot(primal)
        return self.primal_text(name, None)


class ForwardTraceTable(TraceTable):
    """The forward-mode table: ``forward`` is the primal trace, ``reverse`` the tangent
    trace beside it (row by row), ``tangent`` the directional derivative of the output
    and ``directions`` the tangent each differentiated parameter was seeded with."""

    mode = "forward"
    tangent: object = None
    directions: dict | None = None

    def tangent_of(self, label: str) -> object:
        """The tangent ``v̇`` of the value ``label`` (``"v_-1"``, ``"v3"``), or None."""
        for row in self.reverse:
            if row.kind in ("seed", "tangent") and row.label == label and row.show_value:
                return row.value
        return None

    def heading(self, side: str) -> str:
        return "Forward primal trace" if side == "forward" else "Forward tangent trace"

    def graph(self, **options):
        raise ADTransformError(
            "the computation graph is drawn from the reverse table: trace_table(f, ...) "
            "without mode='forward'"
        )


def forward_trace_table(func, args, kwargs, wrt, digits, progress, full, tangents):
    """``trace_table(..., mode="forward")``: see the module docstring."""
    return _ForwardTracer(func, args, kwargs, wrt, digits, progress, full, tangents).run()
