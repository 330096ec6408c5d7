"""The backward sweep of the evaluation trace (part of the tracer, ``trace_interpreter.py``):
the adjoint statements run in reverse, each matched to the primal operation it belongs
to and given its row ``v̄k = ...``, loops run backwards, and the gradients read at the end."""

from __future__ import annotations

import copy

import gast
import numpy as np

from . import trace_rows
from .emit import expression_source
from .errors import ADTransformError
from .ops import COPY, MUTATIONS, RETURN
from .trace_events import _INSIDE, _Event, _is_middle, _location, _loop_key, _names_loaded
from .trace_rows import Row
from .trace_text import _MISSING, adjoint_label, bar, primal_label


def _is_zero_constant(node: gast.expr) -> bool:
    return (
        isinstance(node, gast.Constant)
        and not isinstance(node.value, bool)
        and isinstance(node.value, (int, float))
        and node.value == 0
    ) or (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Name)
        and node.func.id.startswith("zeros_like")
    )


def _as_load(node: gast.expr) -> gast.expr:
    """``node`` read instead of written; one copy per node, kept on it: the tracer caches
    compiled expressions by node id, so a fresh copy per call would grow that cache and
    could reuse the id of a freed copy of another node."""
    cached = getattr(node, "ad_trace_load", None)
    if cached is None:
        cached = copy.deepcopy(node)
        for n in gast.walk(cached):
            if hasattr(n, "ctx"):
                n.ctx = gast.Load()
        node.ad_trace_load = cached
    return cached


class BackwardSweep:
    """Methods of ``trace_interpreter._Tracer``: the adjoint rows and the gradients."""

    # -- the backward sweep ---------------------------------------------------------------------
    def backward_block(self, stmts: list, path: tuple) -> None:
        for stmt in stmts:
            if isinstance(stmt, gast.If) and getattr(stmt, "ad_context", False):
                with self.evaluate(stmt.test):  # ``with np.errstate(...):`` of a body
                    self.backward_block(stmt.body, path)
            elif isinstance(stmt, gast.If):
                test = self.evaluate(stmt.test)
                flag = isinstance(stmt.test, gast.Name) and stmt.test.id in self.flags
                if not flag and getattr(stmt, "ad_zero_guard", None) is None:  # user branches
                    self.add_reverse_row(
                        lambda stmt=stmt, test=test: self.branch_marker(
                            stmt, test, path, "reverse"
                        ),
                        marker=True,
                    )
                self.backward_block(stmt.body if test else stmt.orelse, path)
            elif isinstance(stmt, gast.For):
                self.backward_loop(stmt, path)
            elif isinstance(stmt, gast.While):  # pragma: no cover - replays are for-loops
                raise ADTransformError("trace_table: unexpected while loop in a backward sweep")
            elif isinstance(stmt, (gast.Pass, gast.Break)):
                continue
            else:
                self.backward_statement(stmt, path)

    def add_reverse_row(self, make, marker: bool = False) -> None:
        """Count a row of the full reverse trace; build and record it where it is shown."""
        self.reverse_count += 1
        self.reverse_plain += not marker
        if self.back_recording:
            self.reverse_rows.append(make())

    def backward_loop(self, stmt: gast.For, path: tuple) -> None:
        """The replay of a loop, last iteration first. When summarising, the middle
        iterations run without rows (their forward rows were not recorded either: the
        same rule decides), and one marker row stands for them."""
        key = _loop_key(stmt)
        trips = len(self.evaluate(stmt.iter))
        line = getattr(stmt, "origin_line", None) or key[0]
        loop_text = self.source_text(line).rstrip(":")
        outer = self.back_recording
        elided = None
        first_plain = 0
        for j in range(trips):
            number = trips - j
            inner = (*path, (key, number))
            self.bind_target(stmt.target, j)
            if outer and self.summarising and _is_middle(number, trips):
                if elided is None:
                    elided = Row("marker", expression=loop_text, iteration=path)
                    self.reverse_rows.append(elided)
                    first_plain = self.reverse_plain
                self.back_recording = False
            self.add_reverse_row(
                lambda number=number, inner=inner: Row(
                    "marker",
                    expression=loop_text,
                    line=line,
                    iteration=inner,
                    loop=(key, number),
                    text=f"── {loop_text}: iteration {number} of {trips}, in reverse (line {line})",
                ),
                marker=True,
            )
            self.backward_block(stmt.body, inner)
            self.back_recording = outer
            if (
                elided is not None
                and elided.elided is None
                and number == trace_rows.KEPT_ITERATIONS + 1
            ):
                first, last = number, trips - trace_rows.KEPT_ITERATIONS
                rows = self.reverse_plain - first_plain
                elided.elided = ((path, key), first, last, rows)
                elided.text = (
                    f"── ⋯ iterations {first} to {last} of {trips} of {loop_text} elided "
                    f"({rows} rows; --full shows them)"
                )

    def op_of_backward(self, stmt: gast.stmt) -> int | None:
        k = getattr(stmt, "ad_trace_op", None)
        if k is not None:
            return k
        candidates = self.location_ops.get(_location(stmt), [])
        if len(candidates) == 1:
            return candidates[0]
        read = set(_names_loaded(stmt))
        matching = [
            c
            for c in candidates
            if self.ops[c].target is not None
            and any(self.primal_of.get(n) == self.ops[c].target for n in read)
        ]
        return matching[0] if len(matching) == 1 else None

    def is_pop(self, stmt: gast.stmt) -> bool:
        value = getattr(stmt, "value", None)
        return (
            isinstance(stmt, gast.Assign)
            and isinstance(value, gast.Call)
            and isinstance(value.func, gast.Name)
            and value.func.id == self.pop_name
        )

    def backward_statement(self, stmt: gast.stmt, path: tuple) -> None:
        self.report_progress("backward")
        k = self.backward_ops.get(id(stmt), _MISSING)
        if k is _MISSING:  # the statement's op, decided once (the nodes outlive the tracer)
            k = self.backward_ops[id(stmt)] = self.shown_op(stmt)
        if k is None:
            self.execute(stmt)
            return
        event = self.event_at(k, path)
        increment = self.execute(stmt)
        self.adjoint_row(stmt, self.ops[k], event, path, increment)

    def shown_op(self, stmt: gast.stmt) -> int | None:
        """The op whose adjoint ``stmt`` computes, or None for a statement without a row:
        tape pops, copies (they keep their source's label), zero initialisations."""
        if self.is_pop(stmt) or isinstance(stmt, gast.Expr):
            return None
        k = self.op_of_backward(stmt)
        op = self.ops[k] if k is not None else None
        if (
            op is None
            or op.form == COPY
            or (
                isinstance(stmt, gast.Assign)
                and isinstance(stmt.targets[0], gast.Name)
                and stmt.targets[0].id in self.primal_of
                and _is_zero_constant(stmt.value)
                and op.form != RETURN
            )
        ):
            return None
        return k

    def resolve(self, name: str, op, event: _Event | None) -> str | None:
        """The label of the primal ``name`` as the statement of ``op`` saw it."""
        if event is not None:
            if op.target == name and op.form not in MUTATIONS:
                return event.label
            if name in event.inputs:
                return event.inputs[name]
        return self.labels.get(name)

    def primal_text(self, name: str, inputs: dict | None):
        """How a name is shown: its label, an integer's value, or the name itself."""
        if inputs is not None and name in inputs and inputs[name]:
            return inputs[name]
        if inputs is None and self.labels.get(name):
            return self.labels[name]
        return self._literal_or_name(name)

    def _literal_or_name(self, name: str):
        value = self.ns.get(name, _MISSING)
        if name in self.func.__globals__ and value is self.func.__globals__.get(name):
            return None
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            return int(value)
        return None

    def backward_text(self, op, event):
        def text(name: str):
            if name in self.primal_of:
                label = self.resolve(self.primal_of[name], op, event)
                return adjoint_label(label) if label else None
            label = self.resolve(name, op, event)
            if label:
                return label
            return self._literal_or_name(name)

        return text

    def adjoint_key(self, stmt, op, event) -> tuple[str | None, str | None]:
        """The adjoint name a statement writes (``dx`` or an item ``dx[i]``) and the label
        of the value it is the adjoint of."""
        target = stmt.target if isinstance(stmt, gast.AugAssign) else stmt.targets[0]
        if isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name):
            target = target.value
        if isinstance(target, gast.Name) and target.id in self.primal_of:
            label = self.resolve(self.primal_of[target.id], op, event)
            return target.id, label
        return None, None

    def adjoint_row(self, stmt, op, event: _Event | None, path, increment) -> None:
        """Accumulate the textbook adjoint ``stmt`` contributes to and add its row (only
        the totals where the row is not shown)."""
        if not isinstance(stmt, (gast.Assign, gast.AugAssign)):  # pragma: no cover
            text = self.backward_text(op, event)
            self.add_reverse_row(lambda: Row("temporary", "", "=", self.display(stmt, text)))
            return
        target_node = stmt.target if isinstance(stmt, gast.AugAssign) else stmt.targets[0]
        whole = target_node.value if isinstance(target_node, gast.Subscript) else None
        if isinstance(whole, gast.Name) and whole.id in self.primal_of:
            value = self.ns.get(whole.id)  # an item of an adjoint: show all of it
        elif isinstance(target_node, gast.Name):
            value = self.ns.get(target_node.id)
        else:
            value = self.evaluate(_as_load(target_node))
        adjoint, label = self.adjoint_key(stmt, op, event)
        key = adjoint_label(label) if label else adjoint  # what the row accumulates
        kind = "seed" if op.form == RETURN else ("adjoint" if adjoint else "temporary")
        op_text = "="
        item = not isinstance(target_node, gast.Name)
        inside = label == _INSIDE  # of a value of an elided region: no row shows its total
        if isinstance(stmt, gast.AugAssign):
            op_text = "+=" if key in self.contributed or item else "="
            if adjoint is not None and adjoint not in self.item_adjoints and not inside:
                # the textbook's v̄k sums every contribution, whichever copy received it
                total = self.totals[key] + increment if key in self.totals else increment
                self.totals[key] = value = total
        elif adjoint is not None and not inside:
            self.totals[key] = value
        if key is not None and not inside:
            self.contributed.add(key)
        if not self.back_recording:
            self.reverse_count += 1
            self.reverse_plain += 1
            return
        text = self.backward_text(op, event)
        via = event.label if event is not None else None
        self.add_reverse_row(
            lambda: Row(
                kind,
                self.display(target_node, text),
                op_text,
                (expression := self.display(stmt.value, text)),
                value,
                show_value=not (isinstance(stmt.value, gast.Constant) or expression == "1"),
                line=getattr(op.stmt, "origin_line", None),
                iteration=path,
                code=expression_source(stmt),
                label=label if adjoint else None,
                via=via,
                increment=increment if isinstance(stmt, gast.AugAssign) else value,
            )
        )

    def gradients(self, fn, values: dict, wrt_names: list[str]) -> dict:
        grads = {}
        for param in wrt_names:
            adjoint = self.program.grads.get(param)
            value = self.ns.get(adjoint, 0.0) if adjoint else 0.0
            original = values[param]
            if isinstance(original, np.ndarray):
                value = np.asarray(np.zeros(original.shape) + value)
            elif isinstance(value, np.ndarray) and value.ndim == 0:
                value = value[()]
            if isinstance(original, float) and isinstance(value, np.floating):
                value = float(value)
            grads[param] = value
            label = primal_label(fn.params.index(param) - len(fn.params) + 1)
            self.add_reverse_row(
                lambda param=param, label=label, value=value: Row(
                    "gradient", bar(param), "=", adjoint_label(label), value, label=label
                )
            )
        return grads
