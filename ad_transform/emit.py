"""Stage 6: print generated functions as Python source and compile them.

The source text is what users read (``.source``), what tracebacks and debuggers
show (it is registered with ``linecache``; no file is written), and what
:func:`ad_transform.export` would save. Objects the generated code needs that are
not the user's (``np``, runtime helpers, other generated functions) are passed as
closure cells; the user's globals and closure cells are used as they are, live.
"""

from __future__ import annotations

import ast
import itertools
import linecache
import textwrap
import threading
import types
from dataclasses import dataclass, field

import gast

from .convert import to_ast

_counter = itertools.count(1)
_counter_lock = threading.Lock()


def expression_source(node: gast.AST) -> str:
    """One expression or statement of a gast tree as source text."""
    return ast.unparse(to_ast(node))


@dataclass
class FunctionText:
    """A generated function under construction: header, blocks with origin comments, return."""

    name: str
    params: str
    docstring: str
    lines: list[str] = field(default_factory=list)

    def statements(
        self, stmts: list[gast.stmt], file_lines: list[str], heading: str | None = None
    ) -> None:
        if heading and stmts:
            self.lines.append(f"# {heading}")
        self.lines.extend(block_lines(stmts, file_lines))

    def line(self, text: str) -> None:
        self.lines.append(text)

    def source(self) -> str:
        body = [f'"""{self.docstring}"""', *self.lines]
        return (
            f"def {self.name}({self.params}):\n" + textwrap.indent("\n".join(body), "    ") + "\n"
        )


def block_lines(stmts: list[gast.stmt], file_lines: list[str], previous=None) -> list[str]:
    """Source lines of a block, with a ``# line N: ...`` comment where the origin changes."""
    lines: list[str] = []
    for stmt in stmts:
        origin = getattr(stmt, "origin_line", None)
        if origin != previous and origin is not None:
            lines.append(f"# line {origin}: {_origin_text(file_lines, origin)}")
        previous = origin
        lines.extend(_statement_lines(stmt, file_lines, origin))
    return lines


def _statement_lines(stmt: gast.stmt, file_lines: list[str], origin) -> list[str]:
    if isinstance(stmt, gast.If) and getattr(stmt, "ad_catch", False):
        return _catching_lines(stmt, file_lines, origin)
    if isinstance(stmt, gast.If) and getattr(stmt, "ad_context", False):
        if isinstance(stmt.test, gast.Constant):  # the forward sweep: the body as it is
            return block_lines(stmt.body, file_lines, origin)
        lines = [f"with {expression_source(stmt.test)}:"]
        return lines + _indented(block_lines(stmt.body, file_lines, origin) or ["pass"])
    if isinstance(stmt, gast.If):
        lines = [f"if {expression_source(stmt.test)}:"]
        lines += _indented(block_lines(stmt.body, file_lines, origin) or ["pass"])
        orelse = stmt.orelse
        while (
            len(orelse) == 1
            and isinstance(orelse[0], gast.If)
            and getattr(orelse[0], "origin_line", None) == origin
        ):
            lines.append(f"elif {expression_source(orelse[0].test)}:")
            lines += _indented(block_lines(orelse[0].body, file_lines, origin) or ["pass"])
            orelse = orelse[0].orelse
        if orelse:
            lines.append("else:")
            lines += _indented(block_lines(orelse, file_lines, origin))
        return lines
    if isinstance(stmt, gast.For):
        header = f"for {_target_source(stmt.target)} in {expression_source(stmt.iter)}:"
        return [header, *_indented(block_lines(stmt.body, file_lines, origin) or ["pass"])]
    if isinstance(stmt, gast.While):
        header = f"while {expression_source(stmt.test)}:"
        return [header, *_indented(block_lines(stmt.body, file_lines, origin) or ["pass"])]
    return expression_source(stmt).splitlines()


def _target_source(target: gast.expr) -> str:
    """A ``for`` target as written: ``i, x``, not ``(i, x)`` (inner tuples keep theirs)."""
    if isinstance(target, gast.Tuple) and target.elts:
        return ", ".join(expression_source(e) for e in target.elts)
    return expression_source(target)


def _catching_lines(stmt: gast.If, file_lines: list[str], origin) -> list[str]:
    """A statement of a ``try``/``with`` body (lower/exceptions.py): its test is true when
    it starts; if it raises, the test becomes false and the ``else`` branch runs."""
    lines = ["try:", *_indented(block_lines(stmt.body, file_lines, origin) or ["pass"])]
    handler = block_lines(stmt.orelse, file_lines, origin)
    if isinstance(stmt.test, gast.Name):
        handler.insert(0, f"{stmt.test.id} = False")
    return [*lines, "except BaseException:", *_indented(handler or ["pass"])]


def _indented(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]


def _origin_text(file_lines: list[str], line: int) -> str:
    text = file_lines[line - 1].strip() if 0 < line <= len(file_lines) else ""
    return text if len(text) <= 72 else text[:69] + "..."


def parameters_source(args: gast.arguments) -> str:
    """A ``def``'s parameter list as written, without annotations."""
    clean = gast.gast_to_ast(args)
    for arg in (*clean.posonlyargs, *clean.args, *clean.kwonlyargs):
        arg.annotation = None
    return ast.unparse(clean)


def compile_functions(
    source: str,
    label: str,
    globals_: dict,
    cells: dict[str, types.CellType],
    defaults: dict[str, tuple] | None = None,
) -> dict[str, types.FunctionType]:
    """Compile the ``def`` statements in ``source`` into functions.

    Free names found in ``cells`` become closure variables bound to those cells; every
    other name resolves in ``globals_``. ``defaults`` gives ``(__defaults__,
    __kwdefaults__)`` per function name.
    """
    with _counter_lock:
        number = next(_counter)
    filename = f"<ad_transform {label} #{number}>"
    params = ", ".join(sorted(cells))
    factory = f"def __ad_factory__({params}):\n" + textwrap.indent(source, "    ")
    module_code = compile(factory, filename, "exec")
    factory_code = next(c for c in module_code.co_consts if isinstance(c, types.CodeType))
    linecache.cache[filename] = (len(source), None, ("\n" + source).splitlines(True), filename)
    functions = {}
    for code in factory_code.co_consts:
        if not isinstance(code, types.CodeType):
            continue
        closure = tuple(cells[name] for name in code.co_freevars)
        argdefs, kwdefaults = (defaults or {}).get(code.co_name, (None, None))
        fn = types.FunctionType(code, globals_, code.co_name, argdefs, closure)
        fn.__kwdefaults__ = kwdefaults
        functions[code.co_name] = fn
    return functions
