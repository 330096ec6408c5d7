"""The tracer behind ``trace_table`` (``trace.py``): it prepares the function (the
arguments it differentiates, the analysis and the reverse program with each adjoint
statement tagged with its operation), then interprets the primal and adjoint statements
one at a time, recording values. The sweeps' rows are built by its parts
``trace_forward_sweep.py`` and ``trace_backward_sweep.py``."""

from __future__ import annotations

import ast
import contextlib
import copy
import inspect
import numbers
import types

import gast
import numpy as np

from . import reverse as _reverse_module
from .analyze import analyze
from .emit import expression_source
from .lower.signature import spread_signature, spread_varargs
from .normalize import normalize
from .parse import parse_function
from .pipeline import _Builder
from .reverse import JOINT
from .rules.registry import ARRAY, SCALAR, UNKNOWN
from .trace_backward_sweep import BackwardSweep
from .trace_display import _Display
from .trace_events import _Event, _location, _loop_key, _names_loaded
from .trace_forward_sweep import ForwardSweep
from .trace_rows import Row, TraceTable
from .trace_text import _MISSING, format_value, primal_label


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

        def forward_statement(self, op):
            # a helper call is rebuilt as ``v, v_saved = h_fwd(x)``: a new statement,
            # tagged here so the call gets its row (and ``v`` its label)
            out = super().forward_statement(op)
            saved = self.pairs.get(id(op), (None, None))[1]
            for stmt in out:
                if _assigns_call_result(stmt, saved):
                    tag(stmt, op)
            return out

    reverser = _Tagging(analysis, JOINT, helper_pair)
    program = reverser.run()
    return program, dict(getattr(reverser, "adjoints", {}))


def _assigns_call_result(stmt: gast.stmt, saved: str | None) -> bool:
    """Whether ``stmt`` is ``v, saved = h_fwd(...)``, a helper call's forward statement
    (``v`` a fresh name for a call made for its changes in place)."""
    if saved is None or not isinstance(stmt, gast.Assign) or len(stmt.targets) != 1:
        return False
    names = stmt.targets[0]
    return (
        isinstance(names, gast.Tuple)
        and len(names.elts) == 2
        and isinstance(names.elts[1], gast.Name)
        and names.elts[1].id == saved
    )


# -- the interpreter -----------------------------------------------------------------------
class _Tracer(ForwardSweep, BackwardSweep):
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
