"""Stage 1: from a function object to its gast tree and its namespace."""

from __future__ import annotations

import ast
import builtins
import dataclasses
import textwrap
import types
from dataclasses import dataclass, field

import gast

from .callables import derivative_origin, describe, higher_order_error_text
from .convert import function_to_gast
from .errors import ADTransformError, located_error
from .lower import lower
from .lower.function_registry import lifted_entry
from .nodes import clone
from .transform_memo import remembered, source_lines

_MISSING = object()


@dataclass
class ParsedFunction:
    """A user function's syntax tree together with everything needed to resolve its names."""

    func: types.FunctionType
    tree: gast.FunctionDef
    filename: str
    file_lines: list[str]
    closure: dict[str, types.CellType] = field(default_factory=dict)
    lowered_locals: frozenset[str] = frozenset()  # local names the lowering passes made
    # names the lowered code reads that are bound to these objects, never looked up in
    # the user's namespace (runtime helpers, modules imported inside the function)
    lowered_objects: dict[str, object] = field(default_factory=dict)
    lowered_flags: frozenset[str] = frozenset()  # of those, control flags (never versioned)
    # locals the lowering bound to closure cells instead (inner functions it lifted)
    lifted_names: frozenset[str] = frozenset()
    function_values: dict = field(default_factory=dict)  # name -> lower.functions value
    # (namespace, name, object) the lowering resolved (a function passed by its global name)
    dependencies: tuple = ()

    @property
    def local_names(self) -> frozenset[str]:
        """Every name the function binds itself (parameters, assignments, loop targets,
        names its inner functions capture, names lowering introduced): never a global,
        whatever the globals hold."""
        code = self.func.__code__
        own = frozenset(code.co_varnames) | frozenset(code.co_cellvars) | self.lowered_locals
        return own - self.lowered_objects.keys() - self.lifted_names

    @property
    def name(self) -> str:
        return self.func.__name__

    @property
    def globals(self) -> dict:
        return self.func.__globals__

    def lookup(self, name: str) -> object:
        """The object a free name refers to now (closure, then globals, then builtins).

        A name the function binds locally is not free: it is missing here, so that a
        global or builtin of the same name (``act``, ``sin``, ``abs``) is never taken for it.
        """
        if name in self.lowered_objects:
            return self.lowered_objects[name]
        if name in self.local_names:
            return _MISSING
        if name in self.closure:
            try:
                return self.closure[name].cell_contents
            except ValueError:
                return _MISSING
        if name in self.globals:
            return self.globals[name]
        return getattr(builtins, name, _MISSING)

    def error(self, message: str, node: gast.AST | None = None) -> ADTransformError:
        """An ``ADTransformError`` located at ``node`` in the user's file."""
        line = getattr(node, "lineno", None) if node is not None else None
        col = getattr(node, "col_offset", None) if node is not None else None
        text = None
        if line is not None and 0 < line <= len(self.file_lines):
            text = self.file_lines[line - 1]
        return located_error(message, self.filename, line, col, text)


def is_missing(obj: object) -> bool:
    return obj is _MISSING


def parse_function(func: object) -> ParsedFunction:
    """Parse ``func``'s source into a gast ``FunctionDef`` with line numbers of its file.

    The function's own code is parsed, never what its ``__wrapped__`` points to: a
    wrapper made by ``functools.wraps`` is a closure whose code is what runs.
    """
    if not isinstance(func, types.FunctionType) or derivative_origin(func) is not None:
        raise not_a_function_error(func)
    lifted = lifted_entry(func)
    if lifted is not None and lifted.lowered:  # a specialisation: its tree is final
        return _registered(func, lifted)
    # what the tree is made from: the code (whose source is read) or the registered tree
    origin = lifted.tree if lifted is not None else func.__code__
    return _copy_of(remembered(func, origin, lambda: _parsed_and_lowered(func, lifted)))


def _registered(func: types.FunctionType, lifted) -> ParsedFunction:
    """The function made by lowering (an inner function or a specialisation), from the
    registry (``lower.function_registry``)."""
    return ParsedFunction(
        func,
        clone(lifted.tree),
        lifted.filename,
        lifted.file_lines,
        dict(lifted.closure),
        function_values=dict(lifted.function_values),
    )


def _parsed_and_lowered(func: types.FunctionType, lifted) -> ParsedFunction:
    return lower(_registered(func, lifted) if lifted is not None else _parsed_source(func))


def _copy_of(parsed: ParsedFunction) -> ParsedFunction:
    """A copy of ``parsed`` its receiver may change: its own tree and dictionaries."""
    return dataclasses.replace(
        parsed,
        tree=clone(parsed.tree),
        closure=dict(parsed.closure),
        lowered_objects=dict(parsed.lowered_objects),
        function_values=dict(parsed.function_values),
    )


def parse_source(func: types.FunctionType) -> ParsedFunction:
    """``func``'s source as a gast tree with its file's line numbers, not lowered."""
    parsed = remembered(("source", func), func.__code__, lambda: _parsed_source(func))
    return _copy_of(parsed)


def _no_source(func: types.FunctionType, where: str, reason: str) -> ADTransformError:
    return ADTransformError(
        f"cannot differentiate {func.__qualname__} ({where}): its source is not "
        f"available ({reason}); functions typed at the plain Python prompt (3.10-3.12) or "
        "created with exec have no source to read: put the function in a file, or use "
        "IPython/Jupyter or the Python 3.13 prompt, which keep what was typed"
    )


def _parsed_source(func: types.FunctionType) -> ParsedFunction:
    code = func.__code__
    where = f"{code.co_filename}:{code.co_firstlineno}"
    if func.__name__ == "<lambda>":
        import linecache

        text = linecache.getline(code.co_filename, code.co_firstlineno) or None
        raise located_error(
            "cannot differentiate a lambda; define the function with 'def'",
            code.co_filename,
            code.co_firstlineno,
            None,
            text,
        )
    try:
        lines, first_line = source_lines(code)
    except (OSError, TypeError) as exc:
        raise _no_source(func, where, str(exc)) from None
    file_lines = _file_lines(code.co_filename, lines, first_line)
    raw = "".join(lines)
    dedented = textwrap.dedent(raw)
    indent = _indent_width(raw) - _indent_width(dedented)
    try:
        module = ast.parse(dedented)
    except SyntaxError as exc:
        raise ADTransformError(
            f"{where}: cannot parse the source of {func.__qualname__}: {exc}"
        ) from None
    tree = module.body[0]
    if isinstance(tree, ast.AsyncFunctionDef):
        line = tree.lineno + first_line - 1
        raise located_error(
            "unsupported construct: 'async def' functions cannot be differentiated",
            code.co_filename,
            line,
            tree.col_offset + indent,
            linecache_line(code.co_filename, line),
        )
    if isinstance(tree, ast.FunctionDef) and tree.name != code.co_name and where[:1] == "<":
        # exec'd code (``<string>``): the lines cached under that name are another text's
        raise _no_source(func, where, "the text found there is not its definition")
    if not isinstance(tree, ast.FunctionDef):
        if where[:1] == "<":
            raise _no_source(func, where, "the text found there is not its definition")
        raise ADTransformError(f"{where}: expected a 'def' statement for {func.__qualname__}")
    tree.decorator_list = []
    tree = function_to_gast(tree, first_line - 1, indent)
    closure = dict(zip(code.co_freevars, func.__closure__ or ()))
    return ParsedFunction(func, tree, code.co_filename, file_lines, closure)


def not_a_function_error(obj: object) -> ADTransformError:
    """The refusal for anything that is not a plain function (a derivative, a cache...)."""
    higher_order = higher_order_error_text(obj)
    if higher_order is not None:
        return ADTransformError(f"cannot differentiate {higher_order}")
    return ADTransformError(
        f"cannot differentiate {describe(obj)}: only plain Python functions defined with "
        "'def' can be transformed (builtins, C functions and other callables have no "
        "Python source to differentiate; register an adjoint for them with register_adjoint)"
    )


def linecache_line(filename: str, line: int) -> str | None:
    import linecache

    return linecache.getline(filename, line) or None


def _indent_width(text: str) -> int:
    for line in text.splitlines():
        if line.strip():
            return len(line) - len(line.lstrip())
    return 0


def _file_lines(filename: str, lines: list[str], first_line: int) -> list[str]:
    """The file's lines, or the function's own lines padded to their real positions."""
    import linecache

    all_lines = linecache.getlines(filename)
    if all_lines:
        return all_lines
    return [""] * (first_line - 1) + list(lines)
