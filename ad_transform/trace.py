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

import ast
import bisect
import collections
import contextlib
import copy
import html
import inspect
import numbers
import re
import types
import unicodedata
from dataclasses import dataclass, field

import gast
import numpy as np

from . import reverse as _reverse_module
from . import runtime
from .analyze import analyze
from .emit import expression_source
from .errors import ADTransformError
from .lower.signature import spread_signature, spread_varargs
from .normalize import normalize
from .ops import CONSTANT, COPY, MUTATIONS, RETURN, STORE_ITEM
from .parse import parse_function
from .pipeline import _Builder
from .reverse import JOINT
from .rules.registry import ARRAY, SCALAR, UNKNOWN

BAR = "\u0304"  # combining macron: v̄
_MISSING = object()
_BREAK = "break"

__all__ = ["Row", "TraceTable", "trace_table"]


# -- labels --------------------------------------------------------------------------------
def primal_label(index: int) -> str:
    """The textbook name of the ``index``-th value: ``v_-1``, ``v0``, ``v1``, ..."""
    return f"v_{index}" if index < 0 else f"v{index}"


def adjoint_label(label: str) -> str:
    """``v3`` -> ``v̄3``; ``v_-1`` -> ``v̄-1`` (the textbook writes the adjoint so)."""
    if label.startswith("v_"):
        return "v" + BAR + label[2:]
    if label.startswith("v"):
        return "v" + BAR + label[1:]
    return bar(label)


def bar(name: str) -> str:
    """The adjoint of an input: ``x1`` -> ``x̄1``, ``W`` -> ``W̄``; ``∂y/∂name`` for longer
    names (a bar over their first letter would read as another name)."""
    if re.fullmatch(r"[A-Za-z]_?[0-9]*", name):
        return name[:1] + BAR + name[1:]
    return f"∂y/∂{name}"


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal (combining marks take none)."""
    return sum(0 if unicodedata.combining(c) else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - display_width(text), 0)


# -- values --------------------------------------------------------------------------------
def format_value(value: object, digits: int = 3, max_items: int = 6) -> str:
    """A short text for a value: ``2.000``, ``[1.000, 2.000]``, ``<64x10 array>``."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return _format_float(float(value), digits)
    if isinstance(value, numbers.Complex):
        return f"{complex(value):.{digits}g}"
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return format_value(value[()], digits, max_items)
        if value.size <= max_items and value.dtype.kind in "biuf":
            return _format_nested(value.tolist(), digits)
        shape = "x".join(str(n) for n in value.shape)
        return f"<{shape} array>"
    if isinstance(value, (list, tuple)):
        if len(value) <= max_items and all(
            isinstance(v, (numbers.Number, np.generic)) for v in value
        ):
            inner = ", ".join(format_value(v, digits) for v in value)
            return (
                f"({inner}{',' if len(value) == 1 else ''})"
                if isinstance(value, tuple)
                else f"[{inner}]"
            )
        return f"<{type(value).__name__} of {len(value)}>"
    if value is None:
        return "None"
    if all(hasattr(value, a) for a in ("index", "value", "length")):  # a sparse list adjoint
        dense = [value.value if k == value.index else 0.0 for k in range(value.length)]
        return format_value(dense, digits, max_items)
    return f"<{type(value).__name__}>"


def snapshot(value: object) -> object:
    """A copy of a value that later statements may change in place (arrays, lists)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return type(value)(snapshot(v) for v in value) if type(value) is list else copy.copy(value)
    return value


def _format_float(x: float, digits: int) -> str:
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 10.0 ** (-digits)) and np.isfinite(x):
        return f"{x:.{digits}e}"
    return f"{x:.{digits}f}"


def _format_nested(value, digits: int) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_format_nested(v, digits) for v in value) + "]"
    return format_value(value, digits)


# -- rows and the table --------------------------------------------------------------------
@dataclass
class Row:
    """One line of the trace: ``target op expression = value``, or a marker."""

    kind: str  # input, primal, effect, output | seed, adjoint, temporary, gradient | marker
    target: str = ""
    op: str = "="
    expression: str = ""
    value: object = None
    show_value: bool = True
    line: int | None = None
    iteration: tuple = ()  # ((loop line, iteration number), ...) from the outermost loop
    code: str = ""  # the statement that ran, as Python
    label: str | None = None  # forward: the value this row defines; reverse: whose adjoint
    sources: tuple = ()  # forward: the labels this row reads (edges of the graph)
    via: str | None = None  # reverse: the value whose adjoint rule produced the contribution
    increment: object = None  # reverse: the value added by ``+=``
    text: str = ""  # markers: the text shown
    loop: tuple | None = None  # markers of iterations: (loop key, iteration number)
    # markers of iterations left out while recording: ((outer path, loop key), first and
    # last iteration left out, rows left out)
    elided: tuple | None = None

    def __post_init__(self) -> None:
        self.value = snapshot(self.value)
        self.increment = snapshot(self.increment)

    @property
    def is_marker(self) -> bool:
        return self.kind == "marker"

    def value_text(self, digits: int = 3) -> str:
        return format_value(self.value, digits) if self.show_value else ""

    def __str__(self) -> str:
        if self.is_marker:
            return self.text
        value = self.value_text()
        head = f"{self.target} {self.op} {self.expression}".rstrip()
        return f"{head} = {value}" if value else head


@dataclass
class TraceTable:
    """The two-column evaluation trace of one call of a function.

    ``forward`` and ``reverse`` are lists of :class:`Row`; ``value`` is the function's
    value and ``gradients`` maps each differentiated parameter to its gradient.
    ``str()`` gives the two-column text, ``_repr_html_`` an HTML table; ``graph()``
    the same trace as a computation graph.
    """

    function: str
    call: str
    forward: list[Row]
    reverse: list[Row]
    value: object
    gradients: dict[str, object]
    inputs: dict[str, str] = field(default_factory=dict)  # parameter -> label
    digits: int = 3
    summarised: bool = False  # middle iterations of long loops were not recorded

    @property
    def gradient(self):
        """The gradients as ``grad`` returns them: one value, or a tuple for several."""
        values = tuple(self.gradients.values())
        return values[0] if len(values) == 1 else values

    def adjoint_of(self, label: str) -> object:
        """The final adjoint of the value ``label`` (``"v_-1"``, ``"v3"``), or None."""
        for row in reversed(self.reverse):
            if row.kind in ("seed", "adjoint") and row.label == label:
                return row.value
        return None

    def rows(self, side: str) -> list[Row]:
        return self.forward if side == "forward" else self.reverse

    def heading(self, side: str) -> str:
        """The heading of a column (``trace_forward.ForwardTraceTable``: the tangents)."""
        return "Forward primal trace" if side == "forward" else "Reverse adjoint trace"

    # -- text ------------------------------------------------------------------------------
    def column_lines(self, side: str, full: bool = True) -> list[str]:
        """One column of the table as aligned lines, with its heading; ``full=False``
        summarises long loops (see :meth:`to_text`)."""
        rows = self.rows(side) if full else summarized_rows(self.rows(side))
        heading = self.heading(side)
        plain = [r for r in rows if not r.is_marker]
        values = {id(r): r.value_text(self.digits) for r in plain}
        target_w = max((display_width(r.target) for r in plain), default=0)
        expr_w = min(max((display_width(r.expression) for r in plain), default=0), 40)
        op_w = max((len(r.op) for r in plain), default=1)
        value_w = max((len(v) for v in values.values() if len(v) <= 12), default=0)
        lines = [heading, "─" * display_width(heading)]
        for row in rows:
            if row.is_marker:
                lines.append(row.text)
                continue
            head = f"{_pad(row.target, target_w)} {row.op:>{op_w}} "
            value = values[id(row)]
            if value:
                body = f"{_pad(row.expression, expr_w)} = {value:>{value_w}}"
            else:
                body = row.expression
            lines.append((head + body).rstrip())
        return lines

    def to_text(self, layout: str = "auto", width: int = 180, full: bool | None = None) -> str:
        """The table as text: ``"columns"`` side by side, ``"stacked"``, or ``"auto"``
        (side by side unless that is wider than ``width``).

        ``full=None`` (the default) shows every row of a trace of up to
        ``SUMMARY_THRESHOLD`` rows a side; a longer trace is summarised: each loop with
        more than ``2 * KEPT_ITERATIONS + 1`` iterations shows its first and last
        ``KEPT_ITERATIONS`` iterations and one line saying how many rows were elided.
        ``full=True`` shows everything, ``full=False`` always summarises. A long trace is
        recorded summarised (see :func:`trace_table`): ``full=True`` then needs a table
        made by ``trace_table(..., full=True)``.
        """
        if full and self.summarised:
            raise ValueError(
                "this trace was recorded summarised (only the rows it shows were kept); "
                "trace_table(..., full=True) records every row"
            )
        if full is None:
            longest = max(len(self.forward), len(self.reverse))
            full = not self.summarised and longest <= SUMMARY_THRESHOLD
        left = self.column_lines("forward", full)
        right = self.column_lines("reverse", full)
        title = f"Evaluation trace of {self.call}"
        left_w = max(display_width(s) for s in left)
        right_w = max(display_width(s) for s in right)
        if layout == "stacked" or (layout == "auto" and left_w + 3 + right_w > width):
            return "\n".join([title, "", *left, "", *right]) + "\n"
        lines = [title, ""]
        for i in range(max(len(left), len(right))):
            a = left[i] if i < len(left) else ""
            b = right[i] if i < len(right) else ""
            lines.append((_pad(a, left_w) + " │ " + b).rstrip())
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()

    # -- HTML ------------------------------------------------------------------------------
    def _html_column(self, side: str) -> str:
        out = ['<table class="ad-trace-column" style="border-collapse:collapse">']
        cell = 'style="padding:1px 6px;text-align:left;font-family:monospace;white-space:pre"'
        for row in self.rows(side):
            if row.is_marker:
                out.append(
                    f'<tr><td colspan="5" {cell}><i style="color:#666">'
                    f"{html.escape(row.text.strip())}</i></td></tr>"
                )
                continue
            line = f"line {row.line}" if row.line else ""
            out.append(
                "<tr>"
                f"<td {cell}>{html.escape(row.target)}</td>"
                f"<td {cell}>{html.escape(row.op)}</td>"
                f"<td {cell}>{html.escape(row.expression)}</td>"
                f"<td {cell}>{html.escape(row.value_text(self.digits))}</td>"
                f'<td {cell}><span style="color:#999">{line}</span></td>'
                "</tr>"
            )
        out.append("</table>")
        return "".join(out)

    def _repr_html_(self) -> str:
        head = 'style="text-align:left;padding:4px 8px;border-bottom:1px solid #999"'
        return (
            '<div class="ad-trace">'
            f"<p><b>Evaluation trace of</b> <code>{html.escape(self.call)}</code></p>"
            '<table style="border-collapse:collapse"><tr>'
            f"<th {head}>{self.heading('forward')}</th><th {head}>{self.heading('reverse')}</th>"
            '</tr><tr><td style="vertical-align:top">'
            + self._html_column("forward")
            + '</td><td style="vertical-align:top">'
            + self._html_column("reverse")
            + "</td></tr></table></div>"
        )

    def graph(self, **options):
        """The same trace as a computation graph (see :mod:`ad_transform.graph`); needs
        every row (a table recorded summarised has edges to rows it did not keep)."""
        from .graph import ComputationGraph

        if self.summarised:
            raise ValueError(
                "this trace was recorded summarised; a graph needs every row: use "
                "trace_table(..., full=True) or ad_transform.graph.computation_graph"
            )

        return ComputationGraph.from_trace(self, **options)


SUMMARY_THRESHOLD = 400  # rows a side above which to_text() summarises loops
KEPT_ITERATIONS = 2  # first and last iterations a summary keeps of each long loop


def summarized_rows(rows: list[Row], keep: int | None = None) -> list[Row]:
    """``rows`` with the middle iterations of every loop of more than ``2 * keep + 1``
    iterations replaced by one marker row saying what was elided.

    A loop instance is identified by the iterations of the loops around it and its own
    key; its trip count is the largest iteration number its rows carry. A marker of
    iterations left out while recording (``Row.elided``) joins the elided run of its
    loop instance, with the rows it stands for.
    """
    keep = KEPT_ITERATIONS if keep is None else keep
    trips: dict[tuple, int] = {}
    for row in rows:
        for depth, (key, number) in enumerate(row.iteration):
            instance = (row.iteration[:depth], key)
            trips[instance] = max(trips.get(instance, 0), number)
        if row.elided is not None:
            instance, _, last, _ = row.elided
            trips[instance] = max(trips.get(instance, 0), last)
    headers = {row.loop[0]: row.expression for row in rows if row.is_marker and row.loop}
    headers.update({r.elided[0][1]: r.expression for r in rows if r.elided and r.expression})
    out: list[Row] = []
    run: list | None = None  # [instance, first, last, rows] of the elided run being built

    def flush() -> None:
        nonlocal run
        if run is not None:
            (prefix, key), first, last, count = run
            header = headers.get(key) or "the loop"
            text = (
                f"── ⋯ iterations {first} to {last} of {trips[(prefix, key)]} of {header} "
                f"elided ({count} rows; --full shows them)"
            )
            out.append(Row("marker", text=text, iteration=prefix))
        run = None

    for row in rows:
        where = _elided_level(row, trips, keep)
        if where is not None:
            instance, number = where
            first, last = number, number
            count = row.elided[3] if row.elided else int(not row.is_marker)
        elif row.elided is not None:
            instance, first, last, count = row.elided
        else:
            flush()
            out.append(row)
            continue
        if run is not None and run[0] != instance:
            flush()
        if run is None:
            run = [instance, first, last, count]
        else:
            run[1], run[2], run[3] = min(run[1], first), max(run[2], last), run[3] + count
    flush()
    return out


def _elided_level(row: Row, trips: dict, keep: int) -> tuple | None:
    """The outermost loop instance whose iteration ``row`` belongs to is elided, with
    that iteration's number; None when the row is shown."""
    for depth, (key, number) in enumerate(row.iteration):
        instance = (row.iteration[:depth], key)
        count = trips[instance]
        if count > 2 * keep + 1 and keep < number <= count - keep:
            return instance, number
    return None


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


PROGRESS_EVERY = 1000


# -- preparation ---------------------------------------------------------------------------
def _kind_of(value: object) -> str | None:
    if isinstance(value, bool):
        return UNKNOWN
    if isinstance(value, (int, float, np.integer, np.floating)):
        return SCALAR
    if isinstance(value, np.ndarray):
        return ARRAY
    return UNKNOWN


def default_wrt(values: list) -> list[int]:
    """The positions ``trace_table`` differentiates when ``wrt`` is not given: the float
    arguments (Python and NumPy floats, float arrays), so that an integer such as a loop
    count stays an integer; when no argument is a float, every number and numeric array
    (``trace_table(f, 2, 5)`` differentiates both, as floats)."""
    floats = [i for i, v in enumerate(values) if _is_float(v)]
    return floats or [i for i, v in enumerate(values) if _differentiable(v)]


def _is_float(value: object) -> bool:
    if isinstance(value, (float, np.floating)):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def _differentiable(value: object) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (numbers.Real, np.floating, np.integer)):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind in "iuf"


def _as_float(value: object, position: int, name: str) -> object:
    if not _differentiable(value):
        raise TypeError(
            f"argument {position} ({name}) must be a real number or a float array to be "
            f"differentiated, not {type(value).__name__}"
        )
    if isinstance(value, numbers.Integral):
        return float(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
        return value.astype(np.float64)
    return value


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


def _reverse_tagged(analysis, helper_pair):
    """``reverse`` with every backward statement tagged with the index of its op.

    Uses the reverser's ``adjoint_code``/``located`` hooks when they exist; statements
    left untagged are matched by location later (see ``_Tracer.op_of_backward``).
    """
    index = {id(op): k for k, op in enumerate(analysis.ops)}
    base = getattr(_reverse_module, "_Reverser", None)

    def tag(stmt, op):
        if op is not None and id(op) in index and getattr(stmt, "ad_trace_op", None) is None:
            stmt.ad_trace_op = index[id(op)]

    if base is None:  # pragma: no cover - the reverse stage was restructured
        return _reverse_module.reverse(analysis, JOINT, helper_pair), {}

    class _Tagging(base):
        def adjoint_code(self, op, produce):
            code = super().adjoint_code(op, produce)
            for stmt in code:
                tag(stmt, op)
            return code

        def located(self, stmt, op):
            stmt = super().located(stmt, op)
            tag(stmt, op)
            return stmt

    reverser = _Tagging(analysis, JOINT, helper_pair)
    program = reverser.run()
    return program, dict(getattr(reverser, "adjoints", {}))


_INSIDE = "v⋯"  # a compacted event's label for a value defined inside its elided region


def _outside(label: str | None, start: int) -> str | None:
    """``label`` if it names a value defined before label ``v{start}``, else ``_INSIDE``."""
    if label is None or label == _INSIDE or label[1] == "_":  # v_-1, v_-2: parameters
        return label
    return label if int(label[1:]) < start else _INSIDE


def _is_middle(number: int, trips: int) -> bool:
    """Whether iteration ``number`` of ``trips`` is one a summary leaves out."""
    keep = KEPT_ITERATIONS
    return trips > 2 * keep + 1 and keep < number <= trips - keep


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
        if self.recording and self.trips is None and number > KEPT_ITERATIONS:
            self.buffer.append(self.current)

    def end_of_iteration(self) -> None:
        if self.left_out:
            self.rows_left += self.tracer.forward_plain - self.current[4]
            self.left_out = False
        while len(self.buffer) > KEPT_ITERATIONS + 1:
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
        if self.trips is None and _is_middle(trips - KEPT_ITERATIONS, trips):
            while len(self.buffer) > KEPT_ITERATIONS:
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


# -- the interpreter -----------------------------------------------------------------------
class _Tracer:
    def __init__(
        self, func, args: tuple, kwargs: dict, wrt, digits: int, progress=None, full=None
    ) -> None:
        self.func = func  # its own code: a wrapper is differentiated, not what it wraps
        self.args, self.kwargs, self.wrt, self.digits = args, kwargs, wrt, digits
        self.progress = progress
        # Bounded recording. ``summarising``: long loops keep only the iterations a summary
        # shows; it starts once the full forward trace would pass SUMMARY_THRESHOLD rows.
        self.full = full
        self.summarising = full is False
        self.recording = True  # the forward statements now running get rows and events
        self.back_recording = True  # the backward statements now running get rows
        self.region_start = 0  # first label number of the elided region now running
        self.forward_count = self.forward_plain = 0  # rows of the full trace, all / no markers
        self.reverse_count = self.reverse_plain = 0
        self.event_log: list[tuple] = []  # keys of self.events, in the order recorded
        # op index -> (iteration paths, events): the events of iterations left out, each
        # stored only where it differs from the one before (see ``compact_event``)
        self.compacted: dict[int, tuple[list, list]] = {}
        self.names_of: dict[int, list[str]] = {}
        self.backward_ops: dict[int, int | None] = {}  # id of a backward statement -> op
        self.statements_run = 0
        self.forward_rows: list[Row] = []
        self.reverse_rows: list[Row] = []
        self.labels: dict[str, str | None] = {}  # SSA name -> textbook label, now
        self.events: dict[tuple, _Event] = {}  # (op index, iteration path) -> event
        self.counter = 0
        self.codes: dict[int, types.CodeType] = {}
        self.eval_codes: dict[tuple, types.CodeType] = {}
        self.totals: dict[str, object] = {}  # adjoint label -> accumulated value
        self.contributed: set[str] = set()

    # -- setup -----------------------------------------------------------------------------
    def analysed(self):
        """The function parsed (``*args`` spread for the arguments given), normalized and
        analysed for this call's arguments, each operation numbered for the table."""
        parsed = parse_function(self.func)
        self.signature = inspect.signature(self.func, follow_wrapped=False)
        declared = parsed.tree.args
        if declared.vararg is not None:  # ``*args`` spread for the arguments given
            spread = max(len(self.args) - len(declared.posonlyargs) - len(declared.args), 0)
            self.signature = spread_signature(self.func, parsed, spread)
            parsed = spread_varargs(parsed, spread)
        fn = normalize(parsed)
        self.fn, self.file_lines, self.filename = fn, parsed.file_lines, parsed.filename
        values, wrt_names = self.bind_arguments(fn)
        self.parsed, self.values = parsed, values
        positional = [a.id for a in (*fn.tree.args.posonlyargs, *fn.tree.args.args)]
        kinds = {p: _kind_of(values[p]) for p in positional}
        analysis = analyze(fn, tuple(wrt_names), kinds)
        self.ops = analysis.ops
        for k, op in enumerate(analysis.ops):
            op.stmt.ad_trace_op = k
        return analysis

    def run(self) -> TraceTable:
        analysis = self.analysed()
        fn, parsed, values, wrt_names = self.fn, self.parsed, self.values, analysis.wrt
        program, adjoints = _reverse_tagged(analysis, _Builder().helper_pair)
        self.program = program
        self.primal_of = {a: p for p, a in adjoints.items()} or self.guess_adjoints(program)
        self.flags = self.flag_names(fn.tree)
        self.headers = self.header_ops(fn.tree)
        self.item_adjoints = {
            n.value.id
            for s in gast.walk(gast.Module(body=list(program.backward), type_ignores=[]))
            if isinstance(s, (gast.Assign, gast.AugAssign))
            for n in (s.targets if isinstance(s, gast.Assign) else [s.target])
            if isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name)
        }
        self.location_ops = self.ops_by_location()
        self.ns = self.namespace(parsed, program, values)
        self.inputs(fn, values)
        self.forward_block(program.forward, ())
        result = self.evaluate(program.result)
        result_label = (
            self.labels.get(program.result.id) if isinstance(program.result, gast.Name) else None
        )
        self.add_forward_row(
            lambda: Row(
                "output",
                "y",
                "=",
                result_label or format_value(result, self.digits),
                result,
                label=result_label,
                sources=(result_label,) if result_label else (),
                line=getattr(fn.body[-1], "origin_line", None),
            )
        )
        self.backward_block(program.backward, ())
        gradients = self.gradients(fn, values, wrt_names)
        call = f"{self.func.__name__}({', '.join(self.argument_texts(fn, values))})"
        inputs = {p: self.labels.get(p) or p for p in fn.params}
        return TraceTable(
            self.func.__name__,
            call,
            self.forward_rows,
            self.reverse_rows,
            result,
            gradients,
            inputs,
            self.digits,
            summarised=self.summarising,
        )

    def bind_arguments(self, fn) -> tuple[dict, list[str]]:
        try:
            bound = self.signature.bind(*self.args, **self.kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.func.__name__}(): {exc}") from None
        bound.apply_defaults()
        values = dict(bound.arguments)
        positional = [a.id for a in (*fn.tree.args.posonlyargs, *fn.tree.args.args)]
        if self.wrt is None:
            wrt = default_wrt([values.get(p) for p in positional])
            if not wrt:
                raise TypeError(
                    f"{self.func.__name__}: no argument is a number or a float array; "
                    "nothing to differentiate"
                )
        else:
            wrt = [self.wrt] if isinstance(self.wrt, int) else list(self.wrt)
        for i in wrt:
            if not 0 <= i < len(positional):
                raise ValueError(
                    f"wrt={i} is out of range: {self.func.__name__} has "
                    f"{len(positional)} positional parameters"
                )
            name = positional[i]
            values[name] = _as_float(values[name], i, name)
        return values, [positional[i] for i in wrt]

    def argument_texts(self, fn, values: dict) -> list[str]:
        return [f"{p}={format_value(values[p], self.digits)}" for p in fn.params if p in values]

    @staticmethod
    def guess_adjoints(program) -> dict[str, str]:
        """Adjoint name -> primal name, from the ``d`` prefix (when the reverser's map is
        not available)."""
        fn = program.fn
        names = set(fn.params) | {n.id for n in gast.walk(fn.tree) if isinstance(n, gast.Name)}
        found = {}
        for adjoint in program.adjoint_kinds:
            for primal in names:
                if adjoint == "d" + primal:
                    found[adjoint] = primal
        return found

    @staticmethod
    def flag_names(tree: gast.FunctionDef) -> set[str]:
        """Names that only ever hold booleans of the desugared control flow (``broke``,
        ``not broke``): bookkeeping that the table does not show."""
        assigned: dict[str, list] = {}
        for node in gast.walk(tree):
            if isinstance(node, gast.Assign) and isinstance(node.targets[0], gast.Name):
                assigned.setdefault(node.targets[0].id, []).append(node.value)
        flags: set[str] = set()
        changed = True
        while changed:
            changed = False
            for name, values in assigned.items():
                if name not in flags and all(_is_flag_value(v, flags) for v in values):
                    flags.add(name)
                    changed = True
        return flags

    def header_ops(self, tree: gast.FunctionDef) -> dict[tuple, list[int]]:
        """Loop -> the ops of its header statements (``x = X[k]`` of ``for x in X``)."""
        found: dict[tuple, list[int]] = {}
        for node in gast.walk(tree):
            if isinstance(node, (gast.For, gast.While)):
                found[_loop_key(node)] = [
                    s.ad_trace_op
                    for s in node.body
                    if getattr(s, "ad_header", False) and hasattr(s, "ad_trace_op")
                ]
        return found

    def ops_by_location(self) -> dict[tuple, list[int]]:
        found: dict[tuple, list[int]] = {}
        for k, op in enumerate(self.ops):
            found.setdefault(_location(op.stmt), []).append(k)
        return found

    def namespace(self, parsed, program, values: dict) -> dict:
        ns = dict(self.func.__globals__)
        for name, cell in parsed.closure.items():
            with contextlib.suppress(ValueError):  # an empty cell
                ns[name] = cell.cell_contents
        for name, cell in program.bindings.cells.items():
            ns[name] = cell.cell_contents
        tape = getattr(program, "tape", None) or {}
        if tape:
            ns[tape["tape"]] = []
            ns[tape["push"]] = ns[tape["tape"]].append
            ns[tape["pop"]] = ns[tape["tape"]].pop
        self.pop_name = tape.get("pop")
        ns.update(values)
        return ns

    def inputs(self, fn, values: dict) -> None:
        count = len(fn.params)
        for i, param in enumerate(fn.params):
            label = primal_label(i - count + 1)
            self.labels[param] = label
            self.add_forward_row(
                lambda param=param, label=label: Row(
                    "input",
                    label,
                    "=",
                    param,
                    values.get(param),
                    label=label,
                    line=getattr(fn.tree, "lineno", None),
                )
            )

    # -- executing statements ---------------------------------------------------------------
    def code(self, stmt: gast.stmt) -> types.CodeType:
        key = id(stmt)
        if key not in self.codes:
            module = ast.Module(body=[self.at_origin(stmt)], type_ignores=[])
            self.codes[key] = compile(module, self.filename, "exec")
        return self.codes[key]

    def at_origin(self, node: gast.AST) -> ast.AST:
        """``node`` as a standard AST located at the user's line it comes from, so that
        warnings and tracebacks point there."""
        tree = gast.gast_to_ast(copy.deepcopy(node))
        line = getattr(node, "origin_line", None) or getattr(node, "lineno", None) or 1
        for n in ast.walk(tree):
            if "lineno" in n._attributes:
                n.lineno = n.end_lineno = line
                n.col_offset, n.end_col_offset = 0, 0
        return ast.fix_missing_locations(tree)

    def evaluate(self, expr: gast.expr, origin: gast.AST | None = None) -> object:
        line = getattr(origin, "origin_line", None) if origin is not None else None
        key = (id(expr), line)  # the nodes live as long as the tracer: ids are stable
        code = self.eval_codes.get(key)
        if code is None:
            tree = ast.Expression(body=self.at_origin(expr))
            if line:
                for n in ast.walk(tree):
                    if "lineno" in n._attributes:
                        n.lineno = n.end_lineno = line
            code = self.eval_codes[key] = compile(tree, self.filename, "eval")
        return eval(code, self.ns)

    def execute(self, stmt: gast.stmt) -> object:
        """Run ``stmt``; ``x += e`` adds without writing in place (and starts an unset
        ``x`` at ``e``). Returns the value ``+=`` added, else None."""
        if isinstance(stmt, gast.AugAssign) and isinstance(stmt.op, gast.Add):
            increment = self.evaluate(stmt.value, stmt)
            if isinstance(stmt.target, gast.Name):
                old = self.ns.get(stmt.target.id, _MISSING)
                if old is _MISSING:
                    copied = isinstance(increment, (np.ndarray, list))
                    new = copy.copy(increment) if copied else increment
                else:
                    new = old + increment
                self.ns[stmt.target.id] = new
            else:  # an item of an adjoint: dx[i] += g, in place as the generated code does
                self.ns["__ad_trace_increment__"] = increment
                exec(self.code(_increment_by(stmt)), self.ns)
            return increment
        exec(self.code(stmt), self.ns)
        return None

    def bind_target(self, target: gast.expr, value: object) -> None:
        if isinstance(target, gast.Name):
            self.ns[target.id] = value
            return
        items = list(value)
        if len(items) != len(target.elts):
            raise ValueError(f"cannot unpack {len(items)} values into {len(target.elts)}")
        for sub, item in zip(target.elts, items):
            self.bind_target(sub, item)

    def new_label(self) -> str:
        self.counter += 1
        return primal_label(self.counter)

    def source_text(self, line: int | None) -> str:
        """The source line, without its comment."""
        if line is None or not 0 < line <= len(self.file_lines):
            return ""
        text = self.file_lines[line - 1].strip()
        if "#" in text and not any(q in text.split("#")[0] for q in "'\""):
            text = text.split("#")[0].rstrip()
        return text

    # -- the forward sweep ----------------------------------------------------------------------
    def add_forward_row(self, make, marker: bool = False) -> None:
        """Count a row of the full forward trace; build and record it (``make()``) only
        where the summary may show it."""
        self.forward_count += 1
        self.forward_plain += not marker
        if self.recording:
            self.forward_rows.append(make())
        if self.full is not True and self.forward_count > SUMMARY_THRESHOLD:
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
            if elided is not None and elided.elided is None and number == KEPT_ITERATIONS + 1:
                first, last = number, trips - KEPT_ITERATIONS
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

    # -- display --------------------------------------------------------------------------------
    def display(self, node: gast.AST, name_text) -> str:
        shown = _Display(name_text, self.ns).visit(copy.deepcopy(node))
        return expression_source(shown)


def _increment_by(stmt: gast.AugAssign) -> gast.AugAssign:
    """``target += __ad_trace_increment__``: the statement with its value computed."""
    cached = getattr(stmt, "ad_trace_increment", None)
    if cached is None:
        cached = gast.AugAssign(
            target=stmt.target,
            op=gast.Add(),
            value=gast.Name(
                id="__ad_trace_increment__", ctx=gast.Load(), annotation=None, type_comment=None
            ),
        )
        cached.origin_line = getattr(stmt, "origin_line", None)
        stmt.ad_trace_increment = cached
    return cached


def _is_flag_value(value: gast.expr, flags: set[str]) -> bool:
    if isinstance(value, gast.Constant):
        return isinstance(value.value, bool)
    names = _names_loaded(value)
    return bool(names) and all(n in flags for n in names) and not isinstance(value, gast.Call)


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


def _location(node: gast.AST) -> tuple:
    return tuple(
        getattr(node, a, None) for a in ("lineno", "col_offset", "end_lineno", "end_col_offset")
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


class _Display(gast.NodeTransformer):
    """Names become labels (``v3``, ``v̄3``) or values; ``np.log`` becomes ``log``."""

    def __init__(self, name_text, ns: dict) -> None:
        self.name_text, self.ns = name_text, ns

    def visit_Name(self, node: gast.Name) -> gast.expr:
        shown = self.name_text(node.id)
        if shown is None:
            return node
        if isinstance(shown, str):
            return gast.Name(id=shown, ctx=node.ctx, annotation=None, type_comment=None)
        return gast.Constant(value=shown, kind=None)

    def visit_Attribute(self, node: gast.Attribute) -> gast.expr:
        chain = []
        root = node
        while isinstance(root, gast.Attribute):
            chain.append(root)
            root = root.value
        if isinstance(root, gast.Name) and isinstance(self.ns.get(root.id), types.ModuleType):
            # drop the module: np.log -> log, np.linalg.norm -> linalg.norm
            innermost = chain[-1]
            replacement = gast.Name(
                id=innermost.attr, ctx=gast.Load(), annotation=None, type_comment=None
            )
            if innermost is node:
                return replacement
            parent = chain[-2]
            parent.value = replacement
            return node
        self.generic_visit(node)
        return node

    def visit_Call(self, node: gast.Call) -> gast.expr:
        """A runtime helper of the shape-generic code is shown as the textbook operation
        it computes (``matmul_adjoint_left(g, a, b)`` as ``g @ bᵀ``); only the text
        changes: the value shown is what the helper computed. The helpers of
        ``_TEXTBOOK_OF_VALUES`` also see the values of their arguments (a shape, whether
        there is a tie) and keep the call when no textbook form fits them."""
        values = [self.value_of(a) for a in node.args]  # before the names become labels
        self.generic_visit(node)
        func = node.func
        helper = self.ns.get(func.id) if isinstance(func, gast.Name) else None
        if not (getattr(helper, "__module__", None) or "").startswith(runtime.__name__ + "."):
            return node
        name = getattr(helper, "__name__", None)
        rewrite = _TEXTBOOK.get(name)
        try:
            if rewrite is not None:
                return rewrite(*node.args)
            by_value = _TEXTBOOK_OF_VALUES.get(name)
            if by_value is not None and not node.keywords:
                return by_value(node.args, values) or node
        except (TypeError, ValueError):  # another arity or argument: show the call
            pass
        return node

    def value_of(self, node: gast.expr) -> object:
        """The value of a name or constant argument, else ``_MISSING``."""
        if isinstance(node, gast.Constant):
            return node.value
        if isinstance(node, gast.Name):
            return self.ns.get(node.id, _MISSING)
        return _MISSING

    def visit_IfExp(self, node: gast.IfExp) -> gast.expr:
        """A scalar rule's guard (``g * d if g else 0.0``, ``g / d if g and d else
        scalar_over(g, d)``) is shown as its rule, ``g * d``: the table teaches the rule."""
        if _is_guard(node):
            return self.visit(node.body)
        self.generic_visit(node)
        return node

    def visit_Constant(self, node: gast.Constant) -> gast.expr:
        value = node.value
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            return gast.Constant(value=int(value), kind=None)
        return node


def _binary(left: gast.expr, op: gast.operator, right: gast.expr) -> gast.expr:
    return gast.BinOp(left=left, op=op, right=right)


def _transposed(node: gast.expr) -> gast.expr:
    """``vᵀ`` for a label, ``(...).T`` for anything else."""
    if isinstance(node, gast.Name):
        return gast.Name(id=node.id + "ᵀ", ctx=gast.Load(), annotation=None, type_comment=None)
    return gast.Attribute(value=node, attr="T", ctx=gast.Load())


def _first(g, *rest):
    return g


# runtime helper name -> the textbook expression of its arguments (display only)
_TEXTBOOK = {
    "seed": lambda ans: gast.Constant(value=1, kind=None),
    "unbroadcast": lambda g, x: g,
    "expand_reduced": _first,
    "as_gradient": _first,
    "times": lambda g, d: _binary(g, gast.Mult(), d),
    "over": lambda g, d: _binary(g, gast.Div(), d),
    "add_adjoint_left": _first,
    "add_adjoint_right": _first,
    "mul_adjoint_left": lambda g, x, y: _binary(g, gast.Mult(), y),
    "mul_adjoint_right": lambda g, x, y: _binary(g, gast.Mult(), x),
    "matmul_adjoint_left": lambda g, x, y: _binary(g, gast.MatMult(), _transposed(y)),
    "matmul_adjoint_right": lambda g, x, y: _binary(_transposed(x), gast.MatMult(), g),
    "dot_adjoint_left": lambda g, a, b: _binary(g, gast.MatMult(), _transposed(b)),
    "dot_adjoint_right": lambda g, a, b: _binary(_transposed(a), gast.MatMult(), g),
}


def _call(function: str, *args: gast.expr) -> gast.Call:
    return gast.Call(
        func=gast.Name(id=function, ctx=gast.Load(), annotation=None, type_comment=None),
        args=list(args),
        keywords=[],
    )


def _constant(value: object) -> gast.Constant:
    return gast.Constant(value=value, kind=None)


def _compare(left: gast.expr, op: gast.cmpop, right: gast.expr) -> gast.Compare:
    return gast.Compare(left=left, ops=[op], comparators=[right])


def _is_array(value: object, ndim: int | None = None) -> bool:
    return isinstance(value, np.ndarray) and (ndim is None or value.ndim == ndim)


def _is_default(rest: list, default: str) -> bool:
    """Whether the optional string argument is absent or its default."""
    return not rest or (len(rest) == 1 and isinstance(rest[0], str) and rest[0] == default)


def _count(x, ddof) -> int | None:
    if not (_is_array(x) and isinstance(ddof, int)):
        return None
    return x.size - ddof


def _norm_text(args, values):
    g, ans, x = args[:3]
    ord_, axis = (values[3:5] + [None, None])[:2]
    if axis is None and ord_ in (None, 2):
        return _binary(_binary(g, gast.Mult(), x), gast.Div(), ans)
    if axis is None and ord_ == 1:
        return _binary(g, gast.Mult(), _call("sign", x))
    return None


def _tie_share_text(args, values):
    g, x, y = args
    known = all(v is not _MISSING for v in values[1:])
    ties = np.equal(values[1], values[2]) if known else True
    return None if np.any(ties) else _binary(g, gast.Mult(), _compare(x, gast.Gt(), y))


def _sort_text(args, values):
    g, x, *_ = args
    if not _is_array(values[1], 1):
        return None
    inverse = _call("argsort", _call("argsort", x))
    return gast.Subscript(value=g, slice=inverse, ctx=gast.Load())


def _pad_text(args, values):
    g = args[0]
    if not _is_default(values[3:], "constant") or not _is_array(values[0]):
        return None
    try:
        widths = np.broadcast_to(np.asarray(values[2], dtype=np.intp), (values[0].ndim, 2))
    except (TypeError, ValueError):
        return None
    slices = [
        gast.Slice(
            lower=_constant(int(before)) if before else None,
            upper=_constant(-int(after)) if after else None,
            step=None,
        )
        for before, after in widths
    ]
    index = slices[0] if len(slices) == 1 else gast.Tuple(elts=slices, ctx=gast.Load())
    return gast.Subscript(value=g, slice=index, ctx=gast.Load())


def _reduced_count_text(args, values):
    x = values[0]
    axis = values[1] if len(values) > 1 else None
    if x is _MISSING or axis is _MISSING:
        return None
    return _constant(runtime.reduced_count(x, axis))


def _extremum_text(args, values):
    g, ans, x, *_ = args
    axis = values[3] if len(values) > 3 else None
    if axis is not None or not _is_array(values[2]) or values[1] is _MISSING:
        return None
    if np.count_nonzero(values[2] == values[1]) != 1:
        return None  # ties share the adjoint: keep the call
    return _binary(g, gast.Mult(), _compare(x, gast.Eq(), ans))


def _centered(x: gast.expr) -> gast.expr:
    return _binary(x, gast.Sub(), _call("mean", x))


def _var_text(args, values):
    g, x, *_ = args
    axis, ddof, _, correction = (values[2:6] + [None, 0, False, None])[:4]
    count = _count(values[1], ddof)
    if axis is not None or correction is not None or not count:
        return None
    scaled = _binary(_binary(g, gast.Mult(), _constant(2)), gast.Mult(), _centered(x))
    return _binary(scaled, gast.Div(), _constant(count))


def _std_text(args, values):
    g, ans, x, *_ = args
    axis, ddof, _, correction = (values[3:7] + [None, 0, False, None])[:4]
    count = _count(values[2], ddof)
    if axis is not None or correction is not None or not count:
        return None
    denominator = _binary(_constant(count), gast.Mult(), ans)
    return _binary(_binary(g, gast.Mult(), _centered(x)), gast.Div(), denominator)


def _cumsum_text(args, values):
    g = args[0]
    axis = values[2] if len(values) > 2 else None
    if axis not in (None, 0, -1) or not _is_array(values[1], 1):
        return None
    backwards = gast.Slice(lower=None, upper=None, step=_constant(-1))
    reversed_g = gast.Subscript(value=g, slice=backwards, ctx=gast.Load())
    return gast.Subscript(value=_call("cumsum", reversed_g), slice=backwards, ctx=gast.Load())


def _reshape_text(args, values):
    g = args[0]
    if not _is_default(values[2:], "C") or not _is_array(values[1]):
        return None
    return _call("reshape", g, _constant(values[1].shape))


def _power_derivative_text(args, values):
    """``y * x ** (y - 1)`` (folded for a number ``y``: ``2 * x``); the call where ``y``
    is 0 somewhere (the derivative is 0 there, even at ``x == 0``) or not a number."""
    x = args[0]
    exponent = values[1]
    if len(args) != 2 or not isinstance(exponent, (int, float)) or exponent == 0:
        return None
    lower = exponent - 1
    if lower == 1:
        return _binary(_constant(exponent), gast.Mult(), x)
    return _binary(_constant(exponent), gast.Mult(), _binary(x, gast.Pow(), _constant(lower)))


# runtime helper name -> its textbook expression, from the arguments (display nodes) and
# their values (``_MISSING`` when not a name or constant); None keeps the call
_TEXTBOOK_OF_VALUES = {
    "norm_adjoint": _norm_text,
    "tie_share": _tie_share_text,
    "sort_adjoint": _sort_text,
    "pad_adjoint": _pad_text,
    "reduced_count": _reduced_count_text,
    "extremum_adjoint": _extremum_text,
    "var_adjoint": _var_text,
    "std_adjoint": _std_text,
    "cumsum_adjoint": _cumsum_text,
    "reshape_adjoint": _reshape_text,
    "power_derivative": _power_derivative_text,
}


def _is_guard(node: gast.IfExp) -> bool:
    """Whether ``node`` is a guard of a scalar adjoint template (see ``rules/operators``)."""
    orelse = node.orelse
    if isinstance(orelse, gast.Constant) and orelse.value == 0:
        return True
    return (
        isinstance(orelse, gast.Call)
        and isinstance(orelse.func, gast.Name)
        and orelse.func.id.startswith("scalar_")
    )
