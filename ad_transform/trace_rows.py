"""The rows of the evaluation trace and the table they make (``trace.py``): :class:`Row`,
:class:`TraceTable` (its text, HTML and records), and the summary of long loops
(``summarized_rows``)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from .trace_text import _pad, display_width, format_value, snapshot


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
