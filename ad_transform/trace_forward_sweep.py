"""The forward sweep of the evaluation trace (part of the tracer, ``trace_interpreter.py``):
each primal statement run and given its row ``vk = ...``, branches and loops with their
marker rows, long loops summarised while they run (:class:`_LoopRecording`). Not the
forward-mode table, which is ``trace_forward.py``."""

from __future__ import annotations

import bisect
import collections
from typing import TYPE_CHECKING

import gast
import numpy as np

from . import trace_rows
from .emit import expression_source
from .ops import CONSTANT, COPY, MUTATIONS, RETURN, STORE_ITEM
from .trace_events import _Event, _is_middle, _loop_key, _names_loaded, _outside
from .trace_rows import Row

if TYPE_CHECKING:
    from .trace_interpreter import _Tracer


_BREAK = "break"


PROGRESS_EVERY = 1000


def _known_length(iterable: object, loop: gast.stmt) -> int | None:
    """The trip count of ``for ... in iterable`` before it runs: for a range, tuple or
    array (whose length the body cannot change) when the body has no ``break``."""
    if not isinstance(iterable, (range, tuple, np.ndarray)):
        return None
    if isinstance(iterable, np.ndarray) and iterable.ndim == 0:
        return None
    body = gast.Module(body=list(loop.body), type_ignores=[])
    if any(isinstance(n, (gast.Break, gast.Return)) for n in gast.walk(body)):
        return None
    return len(iterable)


class _LoopRecording:
    """What the forward sweep keeps of one loop instance (one run of a loop statement).

    The first ``KEPT_ITERATIONS`` iterations are recorded. With a known trip count the
    last ``KEPT_ITERATIONS`` are recorded and, once the tracer summarises, the middle
    ones are run without rows (``leave_out``). Without one, the latest
    ``KEPT_ITERATIONS + 1`` iterations stay in ``buffer`` (number, first row, first
    event, first label, full-trace rows before it); when the tracer summarises, an
    iteration pushed out loses its rows and its events are compacted. One marker row
    (``Row.elided``) stands for all the iterations left out.
    """

    def __init__(self, tracer: _Tracer, instance: tuple, text: str, trips: int | None):
        self.tracer, self.instance, self.text, self.trips = tracer, instance, text, trips
        self.recording = tracer.recording  # the loop itself is in a recorded iteration
        self.buffer: collections.deque = collections.deque()
        self.markers: dict[int, Row] = {}  # iteration number -> its recorded marker row
        self.elided: Row | None = None
        self.first = self.last = 0
        self.rows_left = 0  # non-marker rows of the full trace left out
        self.region = 0  # the first label of the iterations left out
        self.current: tuple = ()
        self.left_out = False

    def marker_row(self, inner: tuple, line: int | None) -> Row:
        number = inner[-1][1]
        row = Row("marker", expression=self.text, line=line, iteration=inner, loop=inner[-1])
        self.markers[number] = row
        return row

    def elided_marker(self, number: int, first_label: int) -> Row:
        if self.elided is None:
            self.elided = Row("marker", expression=self.text, iteration=self.instance[0])
            self.first, self.region = number, first_label
        self.last = max(self.last, number)
        return self.elided

    def leave_out(self, number: int) -> None:
        """Run iteration ``number`` (a middle one of a known trip count) without rows."""
        tracer = self.tracer
        if self.elided is None:
            tracer.forward_rows.append(self.elided_marker(number, tracer.counter + 1))
        else:
            self.elided_marker(number, tracer.counter + 1)
        tracer.recording, tracer.region_start = False, self.region
        self.left_out = True

    def begin(self, number: int) -> None:
        tracer = self.tracer
        self.current = (
            number,
            len(tracer.forward_rows),
            len(tracer.event_log),
            tracer.counter + 1,
            tracer.forward_plain,
        )
        if self.recording and self.trips is None and number > trace_rows.KEPT_ITERATIONS:
            self.buffer.append(self.current)

    def end_of_iteration(self) -> None:
        if self.left_out:
            self.rows_left += self.tracer.forward_plain - self.current[4]
            self.left_out = False
        while len(self.buffer) > trace_rows.KEPT_ITERATIONS + 1:
            self.push_out()

    def push_out(self) -> None:
        """The oldest buffered iteration cannot be among the last: drop its rows and
        compact its events when summarising, else keep them (a short trace)."""
        entry = self.buffer.popleft()
        tracer = self.tracer
        if not tracer.summarising:
            return
        number, row_start, event_start, first_label, plain_start = entry
        following = self.buffer[0] if self.buffer else None
        row_end = following[1] if following else len(tracer.forward_rows)
        event_end = following[2] if following else len(tracer.event_log)
        plain_end = following[4] if following else tracer.forward_plain
        rows = tracer.forward_rows
        if self.elided is None:
            rows[row_start:row_end] = [self.elided_marker(number, first_label)]
            row_shift = row_end - row_start - 1
        else:
            self.elided_marker(number, first_label)
            del rows[row_start:row_end]
            row_shift = row_end - row_start
        self.markers.pop(number, None)
        self.rows_left += plain_end - plain_start
        for key in tracer.event_log[event_start:event_end]:
            event = tracer.events.pop(key, None)
            if event is not None:
                tracer.compact_event(key[0], key[1], event, self.region)
        del tracer.event_log[event_start:event_end]
        event_shift = event_end - event_start
        self.buffer = collections.deque(
            (n, r - row_shift, e - event_shift, f, p) for n, r, e, f, p in self.buffer
        )

    def finish(self, trips: int) -> None:
        if self.trips is None and _is_middle(trips - trace_rows.KEPT_ITERATIONS, trips):
            while len(self.buffer) > trace_rows.KEPT_ITERATIONS:
                self.push_out()
        for number, row in self.markers.items():
            line = row.line
            row.text = f"── {self.text}: iteration {number} of {trips} (line {line})"
        if self.elided is not None:
            self.elided.elided = (self.instance, self.first, self.last, self.rows_left)
            self.elided.text = (
                f"── ⋯ iterations {self.first} to {self.last} of {trips} of {self.text} "
                f"elided ({self.rows_left} rows; --full shows them)"
            )


class ForwardSweep:
    """Methods of ``trace_interpreter._Tracer``: the primal rows."""

    # -- the forward sweep ----------------------------------------------------------------------
    def add_forward_row(self, make, marker: bool = False) -> None:
        """Count a row of the full forward trace; build and record it (``make()``) only
        where the summary may show it."""
        self.forward_count += 1
        self.forward_plain += not marker
        if self.recording:
            self.forward_rows.append(make())
        if self.full is not True and self.forward_count > trace_rows.SUMMARY_THRESHOLD:
            self.summarising = True

    def record_event(self, k: int, path: tuple, event: _Event) -> None:
        """The labels op ``k`` saw at ``path``, for the backward sweep: kept whole where its
        rows may be shown, compacted where they are not (see ``compact_event``)."""
        if self.recording:
            self.events[(k, path)] = event
            self.event_log.append((k, path))
        else:
            self.compact_event(k, path, event, self.region_start)

    def compact_event(self, k: int, path: tuple, event: _Event, start: int) -> None:
        """Store the event of an iteration left out, relative to its elided region (whose
        first label is ``v{start}``).

        Its backward statements record no rows; they only add to the totals of the
        adjoints shown later in the backward sweep, which are adjoints of values defined
        before the region. So a label defined inside the region is stored as ``_INSIDE``
        and the event is kept only where it differs from the op's previous one: a loop
        that reads the same outer values every iteration stores one event, not one per
        iteration."""
        label = _outside(event.label, start)
        inputs = {n: _outside(v, start) for n, v in event.inputs.items()}
        compact = _Event(label, inputs)
        paths, events = self.compacted.setdefault(k, ([], []))
        at = bisect.bisect_right(paths, path)
        before = events[at - 1] if at else None
        if before is not None and before.label == label and before.inputs == inputs:
            return  # the lookup of ``path`` finds an equal event already
        paths.insert(at, path)
        events.insert(at, compact)
        if before is not None and at + 1 < len(paths):
            # An iteration of an outer loop pushed out after inner iterations of later
            # ones were compacted: the paths after ``path`` that found ``before`` must
            # still find it (``path + (0,)`` sorts after ``path``, before any later path).
            paths.insert(at + 1, (*path, 0))
            events.insert(at + 1, before)

    def event_at(self, k: int, path: tuple) -> _Event | None:
        """The event of op ``k`` at ``path``: recorded whole, or compacted."""
        event = self.events.get((k, path))
        if event is not None or k not in self.compacted:
            return event
        paths, events = self.compacted[k]
        at = bisect.bisect_right(paths, path) - 1
        return events[at] if at >= 0 else None

    def forward_block(self, stmts: list, path: tuple) -> str | None:
        for stmt in stmts:
            if isinstance(stmt, gast.If) and getattr(stmt, "ad_catch", False):
                signal = self.forward_catching(stmt, path)
                if signal:
                    return signal
            elif isinstance(stmt, gast.If):
                test = self.evaluate(stmt.test)
                flag = isinstance(stmt.test, gast.Name) and stmt.test.id in self.flags
                if not flag and getattr(stmt, "ad_zero_guard", None) is None:  # user branches
                    self.add_forward_row(
                        lambda stmt=stmt, test=test: self.branch_marker(
                            stmt, test, path, "forward"
                        ),
                        marker=True,
                    )
                signal = self.forward_block(stmt.body if test else stmt.orelse, path)
                if signal:
                    return signal
            elif isinstance(stmt, (gast.For, gast.While)):
                self.forward_loop(stmt, path)
            elif isinstance(stmt, gast.Break):
                return _BREAK
            elif isinstance(stmt, gast.Pass):
                continue
            else:
                self.forward_statement(stmt, path)
        return None

    def forward_catching(self, stmt: gast.If, path: tuple) -> str | None:
        """A statement of a ``try``/``with`` body (lower/exceptions.py): its ``else``
        branch runs, with the exception being handled, if it raises."""
        try:
            return self.forward_block(stmt.body, path)
        except BaseException:
            if isinstance(stmt.test, gast.Name):
                self.ns[stmt.test.id] = False
            return self.forward_block(stmt.orelse, path)

    def forward_loop(self, stmt, path: tuple) -> None:
        """Run a loop, recording the iterations a summary may show: the first
        ``KEPT_ITERATIONS`` and, in a buffer of ``KEPT_ITERATIONS + 1``, the latest ones
        (the last are known only at the end). Once summarising, an iteration pushed out
        of the buffer loses its rows (one ``elided`` marker row stands for them all) and
        its events are compacted. A ``for`` over a range, tuple or array without
        ``break`` knows its trip count: its middle iterations are never recorded."""
        key = _loop_key(stmt)
        line = getattr(stmt, "origin_line", None) or key[0]
        outer = self.recording, self.region_start
        iterable = self.evaluate(stmt.iter) if isinstance(stmt, gast.For) else None
        trips = _known_length(iterable, stmt)
        loop = _LoopRecording(self, (path, key), self.source_text(line).rstrip(":"), trips)
        count = 0
        iterator = iter(iterable) if isinstance(stmt, gast.For) else None
        while True:
            if iterator is not None:
                try:
                    item = next(iterator)
                except StopIteration:
                    break
                self.bind_target(stmt.target, item)
            elif not self.evaluate(stmt.test):
                break
            count += 1
            inner = (*path, (key, count))
            middle = trips is not None and _is_middle(count, trips)
            if outer[0] and middle and self.summarising:
                loop.leave_out(count)  # sets self.recording and self.region_start
            loop.begin(count)
            self.add_forward_row(lambda inner=inner: loop.marker_row(inner, line), marker=True)
            for k in self.headers.get(key, []):
                self.header_event(k, inner)
            broke = self.forward_block(stmt.body, inner) == _BREAK
            self.recording, self.region_start = outer
            loop.end_of_iteration()
            if broke:
                break
        loop.finish(count)

    def branch_marker(self, stmt, test, path, side) -> Row:
        line = getattr(stmt, "origin_line", None) or getattr(stmt, "lineno", None)
        taken = "true" if test else "false"
        source = self.source_text(line)
        if side == "forward":
            test_text = self.display(stmt.test, lambda name: self.primal_text(name, None))
            text = f"── if {test_text}: the {taken} branch ({source}, line {line})"
        else:
            text = f"── the {taken} branch, in reverse ({source}, line {line})"
        return Row("marker", line=line, iteration=path, text=text)

    def header_event(self, k: int, path: tuple) -> None:
        op = self.ops[k]
        inputs = {n: self.labels.get(n) for n in self.names_read(k, op.stmt.value)}
        line = getattr(op.stmt, "origin_line", None)
        self.primal_row(k, path, op.stmt, op.target, inputs, line, show_value=True)

    def names_read(self, k: int, node: gast.AST) -> list[str]:
        names = self.names_of.get(k)
        if names is None:
            names = self.names_of[k] = _names_loaded(node)
        return names

    def report_progress(self, phase: str) -> None:
        self.statements_run += 1
        if self.progress is not None and self.statements_run % PROGRESS_EVERY == 0:
            rows = self.forward_count if phase == "forward" else self.reverse_count
            self.progress(phase, rows)

    def forward_statement(self, stmt: gast.stmt, path: tuple) -> None:
        self.report_progress("forward")
        k = getattr(stmt, "ad_trace_op", None)
        if k is None:  # bookkeeping of the sweep: trip counters, the tape, snapshots
            self.execute(stmt)
            return
        op = self.ops[k]
        original = op.stmt
        inputs = {n: self.labels.get(n) for n in self.names_read(k, original)}
        self.execute(stmt)
        line = getattr(original, "origin_line", None)
        target = op.target
        if op.form in MUTATIONS:
            label = self.labels.get(target)
            self.record_event(k, path, _Event(label, inputs))
            self.add_forward_row(lambda: self.mutation_row(op, inputs, path, line))
            return
        if target is None:  # a call for its effect
            self.record_event(k, path, _Event(None, inputs))
            if op.form != RETURN:
                self.add_forward_row(
                    lambda: Row(
                        "effect",
                        "",
                        "",
                        self.display(original.value, lambda n: self.primal_text(n, inputs)),
                        None,
                        False,
                        line,
                        path,
                        label=None,
                    )
                )
            return
        if (
            op.form == COPY
            or target in self.flags
            or (
                op.form == CONSTANT
                and isinstance(op.value, gast.Constant)
                and op.value.value is None
            )
        ):
            source = op.inputs.get("x")
            label = (
                inputs.get(source.id) if op.form == COPY and isinstance(source, gast.Name) else None
            )
            self.labels[target] = label
            self.record_event(k, path, _Event(label, inputs))
            return
        show_value = not isinstance(original.value, gast.Constant)
        self.primal_row(k, path, original, target, inputs, line, show_value)

    def primal_row(self, k, path, stmt, target, inputs: dict, line, show_value: bool) -> None:
        """A new label for ``target``, its event, and its row of the forward table."""
        label = self.new_label()
        self.labels[target] = label
        self.record_event(k, path, _Event(label, inputs))
        self.add_forward_row(
            lambda: Row(
                "primal",
                label,
                "=",
                self.display(stmt.value, lambda n: self.primal_text(n, inputs)),
                self.ns.get(target),
                show_value=show_value,
                line=line,
                iteration=path,
                code=expression_source(stmt),
                label=label,
                sources=tuple(dict.fromkeys(v for v in inputs.values() if v)),
            )
        )

    def mutation_row(self, op, inputs, path, line) -> Row:
        text = lambda n: self.primal_text(n, inputs)  # noqa: E731
        original = op.stmt
        if op.form == STORE_ITEM:
            target = self.display(original.targets[0], text)
            expression = self.display(original.value, text)
            value = self.ns.get(op.target)
        else:  # append
            target = ""
            expression = self.display(original.value, text)
            value = self.ns.get(op.target)
        label = self.labels.get(op.target)
        return Row(
            "effect",
            target,
            "=" if target else "",
            expression,
            value,
            line=line,
            iteration=path,
            code=expression_source(original),
            label=label,
            sources=tuple(dict.fromkeys(v for v in inputs.values() if v and v != label)),
        )
