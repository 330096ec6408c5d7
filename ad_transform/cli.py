"""``python -m ad_transform``: look at what ad_transform does to a function in a file.

Subcommands::

    show FILE.py:FUNC [--wrt 0,1] [--args ARG ... | --generic] [--mode forward] [--order 2]
                                                      the generated adjoint (or jvp) source
    ssa FILE.py:FUNC                                  the primal SSA trace
    table FILE.py:FUNC ARG ... [--mode forward [--tangents T ...]]
                                                      the evaluation-trace table
    graph FILE.py:FUNC ARG ... [-o out.svg|.png|.dot] the computation graph
    export FILE.py:FUNC -o grad_module.py [--args ARG ... --compile numba]
                                                      a standalone gradient module
    primitives                                        every primitive with an adjoint rule

Arguments are Python literals (``2``, ``-0.5``, ``[1, 2]``, ``(1, 2)``); lists become
float arrays; ``name=value`` passes a keyword argument. Bad input gets one line on
stderr and exit status 1 (2 for a command line argparse cannot read).
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from .errors import ADTransformError

__all__ = ["main"]


class UsageError(Exception):
    """Bad input from the command line: reported as one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not the usage block
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.run(args)
    except (UsageError, ADTransformError) as exc:
        return _fail(str(exc))
    except BrokenPipeError:  # pragma: no cover - e.g. piped into head
        return 0
    except Exception as exc:
        if os.environ.get("AD_TRANSFORM_DEBUG"):
            raise
        return _fail(f"{type(exc).__name__}: {exc} (set AD_TRANSFORM_DEBUG=1 to see the traceback)")


def _fail(message: str) -> int:
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    print(f"ad_transform: error: {first}", file=sys.stderr)
    return 1


# -- the parser ------------------------------------------------------------------------------
def _build_parser() -> argparse.ArgumentParser:
    script = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    parser = _Parser(
        prog=script if script == "ad-transform" else "python -m ad_transform",
        description="Look at the derivative code ad_transform generates for a function.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def target(p):
        p.add_argument(
            "target",
            metavar="FILE.py:FUNC",
            help="the function: file.py:name, or package.module:name (imported)",
        )

    def wrt(p):
        p.add_argument(
            "--wrt", default=None, help="argument indices to differentiate, e.g. 0 or 0,1"
        )

    show = sub.add_parser("show", help="print the generated adjoint source")
    target(show)
    wrt(show)
    show.add_argument(
        "--args",
        nargs="*",
        default=None,
        metavar="ARG",
        help="example arguments: specialise the code for their types",
    )
    show.add_argument(
        "--generic",
        action="store_true",
        help="the code for any argument types (default without --args: the parameters' "
        "annotations, else Python floats)",
    )
    show.add_argument(
        "--mode",
        choices=["grad", "value_and_grad", "vjp", "forward"],
        default="grad",
        help="which transformation (default: grad; forward: jvp, the forward-mode code)",
    )
    show.add_argument(
        "--order",
        type=int,
        choices=[1, 2],
        default=1,
        help="2: the transformation of the gradient (a second derivative; one --wrt argument)",
    )
    _color(show)
    show.set_defaults(run=_show)

    ssa = sub.add_parser("ssa", help="print the primal trace in SSA form")
    target(ssa)
    _color(ssa)
    ssa.set_defaults(run=_ssa)

    table = sub.add_parser("table", help="print the evaluation-trace table at ARGS")
    target(table)
    table.add_argument("args", nargs="*", metavar="ARG", help="the arguments of the call")
    wrt(table)
    table.add_argument(
        "--digits", type=_count(0, 17), default=3, help="decimals shown, 0 to 17 (default 3)"
    )
    table.add_argument(
        "--layout",
        choices=["auto", "columns", "stacked"],
        default="auto",
        help="two columns side by side, one after the other, or auto (by width)",
    )
    table.add_argument(
        "--full",
        action="store_true",
        help="every row; by default a trace of more than 400 rows shows the first and "
        "last iterations of each long loop and how many rows were elided",
    )
    table.add_argument(
        "--mode",
        choices=["reverse", "forward"],
        default="reverse",
        help="reverse: the primal and adjoint traces (default); forward: the primal and "
        "tangent traces",
    )
    table.add_argument(
        "--tangents",
        nargs="+",
        default=None,
        metavar="T",
        help="--mode forward: the tangent of each differentiated argument (default: 1 for "
        "the first, 0 for the others)",
    )
    table.add_argument(
        "--html",
        metavar="FILE",
        help="also write the table as HTML (the rows recorded: every row with --full)",
    )
    table.set_defaults(run=_table)

    graph = sub.add_parser("graph", help="write the computation graph at ARGS")
    target(graph)
    graph.add_argument("args", nargs="*", metavar="ARG", help="the arguments of the call")
    wrt(graph)
    graph.add_argument(
        "-o", "--output", help="out.svg, out.png, out.pdf or out.dot (default: DOT on stdout)"
    )
    graph.add_argument(
        "--max-loop-nodes",
        type=_count(1, None),
        default=20,
        help="summarise the middle iterations of loops with more nodes (default 20)",
    )
    graph.set_defaults(run=_graph)

    export = sub.add_parser("export", help="write a standalone gradient module")
    target(export)
    wrt(export)
    export.add_argument("-o", "--output", required=True, help="the module to write")
    export.add_argument(
        "--args", nargs="*", default=None, metavar="ARG", help="specialise for these types"
    )
    export.add_argument(
        "--value-and-grad",
        action="store_true",
        help="also write value_and_grad_<name>",
    )
    export.add_argument(
        "--compile",
        choices=["numba"],
        default=None,
        help="compile the gradient with numba.njit when the module is used (needs --args)",
    )
    export.set_defaults(run=_export)

    primitives = sub.add_parser("primitives", help="list every primitive with a rule")
    primitives.set_defaults(run=_primitives)
    return parser


def _count(low: int, high: int | None):
    """An argparse type: an integer from ``low`` to ``high`` (inclusive; None: no bound)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, not {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: {bound}")
        return value

    return parse


def _color(p) -> None:
    p.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="syntax highlighting (auto: when writing to a terminal and pygments is installed)",
    )


# -- commands --------------------------------------------------------------------------------
def _show(args) -> int:
    from .api import grad, value_and_grad, vjp
    from .forward_api import jvp

    func = load_function(args.target)
    wrt = _wrt_of(func, args.wrt, default=0)
    make = {"grad": grad, "value_and_grad": value_and_grad, "vjp": vjp, "forward": jvp}[args.mode]
    if args.order == 2 and not isinstance(wrt, int):
        raise UsageError("--order 2 differentiates one argument: give one --wrt index")
    inner = grad(func, wrt=wrt) if args.order == 2 else func  # its plain gradient code
    transformed = make(inner, wrt=wrt)
    if args.args is not None:
        positional, keywords = parse_arguments(args.args)
        if keywords:
            raise UsageError("--args takes positional arguments only")
        _check_count(func, positional, wrt)
        if args.generic:
            raise UsageError("--generic and --args exclude each other")
        source = _guarded(lambda: transformed.source_for(*positional), func)
    elif args.generic:
        source = transformed.generic_source
    else:  # specialised for the annotations, else for Python floats
        source = transformed.source
    _print_code(source, args.color)
    return 0


def _ssa(args) -> int:
    from .pipeline import ssa_source

    _print_code(ssa_source(load_function(args.target)), args.color)
    return 0


def _table(args) -> int:
    from .trace import trace_table

    func = load_function(args.target)
    positional, keywords = parse_arguments(args.args)
    wrt = _wrt_of(func, args.wrt)
    tangents = None
    if args.tangents is not None:
        if args.mode != "forward":
            raise UsageError("--tangents is for --mode forward")
        tangents, named = parse_arguments(args.tangents)
        if named:
            raise UsageError("--tangents takes one value per differentiated argument")
    with _Progress(func.__name__) as progress:
        table = _guarded(
            lambda: trace_table(
                func,
                *positional,
                wrt=wrt,
                digits=args.digits,
                progress=progress,
                full=args.full or None,
                mode=args.mode,
                tangents=tangents,
                **keywords,
            ),
            func,
            _wrt_hint(positional, wrt),
        )
    width = shutil.get_terminal_size().columns
    print(table.to_text(layout=args.layout, width=width, full=args.full or None), end="")
    if args.html:
        Path(args.html).write_text(table._repr_html_(), encoding="utf-8")
    return 0


def _graph(args) -> int:
    from .graph import GraphvizNotFoundError
    from .trace import trace_table

    func = load_function(args.target)
    positional, keywords = parse_arguments(args.args)
    wrt = _wrt_of(func, args.wrt)
    with _Progress(func.__name__) as progress:
        table = _guarded(
            lambda: trace_table(
                func, *positional, wrt=wrt, progress=progress, full=True, **keywords
            ),
            func,
            _wrt_hint(positional, wrt),
        )
    graph = table.graph(max_loop_nodes=args.max_loop_nodes)
    if not args.output:
        print(graph.to_dot(), end="")
        return 0
    try:
        graph.render(args.output)
    except GraphvizNotFoundError:
        dot = Path(args.output).with_suffix(".dot").name
        raise UsageError(
            f"cannot write {args.output}: rendering needs Graphviz's 'dot' program "
            "(https://graphviz.org/download/, e.g. 'apt install graphviz'); without it "
            f"write the DOT text: -o {dot}"
        ) from None
    except (OSError, RuntimeError) as exc:
        raise UsageError(f"cannot write {args.output}: {exc}") from None
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _export(args) -> int:
    from .export import export

    func = load_function(args.target)
    wrt = _wrt_of(func, args.wrt, default=0)
    example = None
    if args.args is not None:
        example, keywords = parse_arguments(args.args)
        if keywords:
            raise UsageError("--args takes positional arguments only")
    if args.compile is not None and example is None:
        raise UsageError("--compile numba needs --args (the code is compiled for their types)")
    try:
        path = export(
            func,
            args.output,
            wrt=wrt,
            example_args=example,
            value_and_grad=args.value_and_grad,
            compile=args.compile,
        )
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"wrote {path}", file=sys.stderr)
    return 0


def _primitives(args) -> int:
    for name in list_primitives():
        print(name)
    return 0


def list_primitives() -> list[str]:
    """The primitives with adjoint rules, one name each (sorted)."""
    from . import rules

    listed = getattr(rules, "list_primitives", None)
    if listed is not None:
        return list(listed())
    return sorted({rule.name for rule in rules.all_rules()})  # pragma: no cover


class _Progress:
    """``progress(phase, rows)`` for :func:`trace_table`: once a trace has taken more than
    ``delay`` seconds, a status line on stderr (rewritten in place on a terminal)."""

    def __init__(self, name: str, delay: float = 1.0, stream=None) -> None:
        self.name, self.delay = name, delay
        self.stream = stream if stream is not None else sys.stderr
        self.shown: str | None = None  # the phase last reported

    def __enter__(self) -> _Progress:
        self.start = time.monotonic()
        return self

    def __call__(self, phase: str, rows: int) -> None:
        if time.monotonic() - self.start < self.delay:
            return
        text = f"tracing {self.name}: {phase} sweep, {rows:,} rows"
        if self.stream.isatty():
            self.stream.write(f"\r{text}\x1b[K")
        elif phase != self.shown:  # not a terminal: one line per sweep
            self.stream.write(text + "\n")
        self.stream.flush()
        self.shown = phase

    def __exit__(self, *exc) -> None:
        if self.shown and self.stream.isatty():
            self.stream.write("\r\x1b[K")
            self.stream.flush()


# -- input -----------------------------------------------------------------------------------
def load_function(spec: str):
    """The function named by ``FILE.py:FUNC`` or ``package.module:FUNC`` (``FUNC`` may be
    dotted: ``Class.method``). A module path is imported as ``python -m`` would, from the
    current directory or the installed packages, so relative imports work."""
    path_text, sep, name = spec.rpartition(":")
    if not sep or not path_text or not name:
        raise UsageError(f"expected FILE.py:FUNCTION or package.module:FUNCTION, got {spec!r}")
    path = Path(path_text)
    if path.is_file():
        module = _import_file(path)
    elif _is_module_path(path_text):
        module = _import_module(path_text)
    else:
        raise UsageError(f"no such file: {path_text}")
    obj = module
    for part in name.split("."):
        if not hasattr(obj, part):
            available = sorted(
                n
                for n, v in vars(module).items()
                if inspect.isfunction(v) and v.__module__ == module.__name__
            )
            hint = f" (functions there: {', '.join(available)})" if available else ""
            raise UsageError(f"{path_text} has no function {name!r}{hint}")
        obj = getattr(obj, part)
    if not inspect.isfunction(obj):
        if callable(obj):  # a grad(...) object, a cache, a callable instance: say which
            from .parse import not_a_function_error

            raise not_a_function_error(obj)
        raise UsageError(f"{path_text}:{name} is a {type(obj).__name__}, not a function")
    return obj  # its own code: a decorated function is the wrapper the decorator made


def _is_module_path(text: str) -> bool:
    return not text.endswith(".py") and all(part.isidentifier() for part in text.split("."))


def _import_module(name: str):
    """``package.module`` imported with the current directory first on ``sys.path``."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise UsageError(
                f"no such file or module: {name} (a module path is imported from the "
                "current directory or the installed packages)"
            ) from None
        raise UsageError(f"importing {name} failed: {type(exc).__name__}: {exc}") from None
    except SyntaxError as exc:
        raise UsageError(f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:
        raise UsageError(f"importing {name} failed: {type(exc).__name__}: {exc}") from None


def _import_file(path: Path):
    path = path.resolve()
    module_name = "_ad_transform_cli_" + "".join(c if c.isalnum() else "_" for c in path.stem)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    directory = str(path.parent)
    added = directory not in sys.path
    if added:
        sys.path.insert(0, directory)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise UsageError(f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:
        where = _innermost_frame(exc, str(path))
        hint = ""
        if isinstance(exc, ImportError) and "relative import" in str(exc):
            hint = f"; name it by its module path instead: {_module_path(path)}:FUNC"
        raise UsageError(
            f"importing {path.name} failed{where}: {type(exc).__name__}: {exc}{hint}"
        ) from None
    return module


def _module_path(path: Path) -> str:
    """``pkg.sub.mod`` for ``pkg/sub/mod.py`` (the packages are the folders holding an
    ``__init__.py``)."""
    parts = [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


def _innermost_frame(exc: BaseException, filename: str) -> str:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if os.path.abspath(tb.tb_frame.f_code.co_filename) == os.path.abspath(filename):
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" at line {line}" if line else ""


def parse_wrt(text: str | None, default=None):
    """``"0"`` -> 0, ``"0,1"`` -> (0, 1), None -> ``default``."""
    if text is None:
        return default
    try:
        parts = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise UsageError(f"--wrt expects argument indices like 0 or 0,1, not {text!r}") from None
    if not parts:
        raise UsageError("--wrt needs at least one argument index")
    negative = [p for p in parts if p < 0]
    if negative:
        raise UsageError(
            f"--wrt {text}: argument indices count from 0 and cannot be negative ({negative[0]})"
        )
    repeated = sorted({p for p in parts if parts.count(p) > 1})
    if repeated:
        raise UsageError(f"--wrt {text} names argument {repeated[0]} more than once")
    if "," in text:
        return tuple(parts)
    return parts[0]


def _wrt_of(func, text: str | None, default=None):
    """``--wrt`` parsed and checked against ``func``'s positional parameters."""
    wrt = parse_wrt(text, default)
    if wrt is None:
        return None
    try:
        parameters = list(inspect.signature(func, follow_wrapped=False).parameters.values())
    except (TypeError, ValueError):  # pragma: no cover - a function always has one
        return wrt
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return wrt  # *args: the transformation says what it makes of it
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [p.name for p in parameters if p.kind in kinds]
    for index in (wrt,) if isinstance(wrt, int) else wrt:
        if index >= len(names):
            listed = ", ".join(f"{i} ({n})" for i, n in enumerate(names)) or "none"
            raise UsageError(
                f"--wrt {index}: {func.__name__} has {len(names)} positional "
                f"parameter{'' if len(names) == 1 else 's'}: {listed}"
            )
    return wrt


def parse_arguments(texts: list[str]) -> tuple[list, dict]:
    """Python literals; lists become float arrays; ``name=value`` is a keyword argument."""
    positional, keywords = [], {}
    for text in texts:
        name, value_text = None, text
        head, sep, rest = text.partition("=")
        if sep and head.isidentifier() and not rest.startswith("="):
            name, value_text = head, rest
        value = parse_value(value_text)
        if name is None:
            if keywords:
                raise UsageError(f"positional argument {text!r} after a keyword argument")
            positional.append(value)
        else:
            keywords[name] = value
    return positional, keywords


_SPECIAL = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}


def parse_value(text: str):
    if text.strip().lower() in _SPECIAL:
        return _SPECIAL[text.strip().lower()]
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise UsageError(
            f"cannot parse argument {text!r}: expected a Python literal such as 2.0, -1, "
            "[1, 2] or [[1, 2], [3, 4]]"
        ) from None
    return _arrays(value, text)


def _arrays(value, text: str):
    if isinstance(value, list):
        try:
            return np.asarray(value, dtype=np.float64)
        except (ValueError, TypeError):
            raise UsageError(
                f"cannot parse argument {text!r}: a list must be a (nested, rectangular) "
                "list of numbers"
            ) from None
    if isinstance(value, tuple):
        return tuple(_arrays(v, text) for v in value)
    return value


def _check_count(func, positional: list, wrt) -> None:
    try:
        inspect.signature(func, follow_wrapped=False).bind(*positional)
    except TypeError as exc:
        raise UsageError(f"{func.__name__}(): {exc}") from None


def _guarded(run, func, hint: str = ""):
    """Run the call; an error of the user's function (or of the arguments) is one line,
    followed by ``hint`` where the error may come from how the arguments were taken."""
    try:
        return run()
    except ADTransformError:
        raise
    except (TypeError, ValueError, ArithmeticError, IndexError, KeyError) as exc:
        message = f"{func.__name__}: {type(exc).__name__}: {exc}"
        if hint and isinstance(exc, TypeError):
            message += f" ({hint})"
        raise UsageError(message) from None


def _wrt_hint(positional: list, wrt) -> str:
    """What to say when the function fails at the arguments the table differentiates:
    the integer arguments among them were made floats; ``--wrt`` picks others."""
    from .trace_interpreter import default_wrt

    chosen = default_wrt(positional) if wrt is None else ([wrt] if isinstance(wrt, int) else wrt)
    integers = [i for i in chosen if i < len(positional) and _is_integer(positional[i])]
    if not integers:
        return ""
    others = [i for i in chosen if i not in integers]
    plural = len(integers) > 1
    named = f"argument{'s' if plural else ''} {', '.join(map(str, integers))}"
    said = f"integer {named} {'were' if plural else 'was'} differentiated as a float"
    if not others:
        return (
            f"{said}; choose the argument to differentiate with --wrt (e.g. --wrt "
            f"{chosen[0]}) or write it as a float (2.0)"
        )
    keep = "them" if plural else "it"
    return f"{said}; to keep {keep} an integer: --wrt {','.join(map(str, others))}"


def _is_integer(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind in "iu"


def _print_code(source: str, color: str) -> None:
    """``source`` on stdout, highlighted by pygments for ``always`` (or ``auto`` on a
    terminal); ``always`` without pygments prints plain code and says so on stderr."""
    if color == "always" or (color == "auto" and sys.stdout.isatty()):
        highlighted = _highlight(source)
        if highlighted is not None:
            sys.stdout.write(highlighted)
            return
        if color == "always":
            print(
                "ad_transform: --color always needs pygments (pip install pygments); "
                "printing without color",
                file=sys.stderr,
            )
    sys.stdout.write(source if source.endswith("\n") else source + "\n")


def _highlight(source: str) -> str | None:
    try:
        from pygments import highlight
        from pygments.formatters import TerminalFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return None
    return highlight(source, PythonLexer(), TerminalFormatter())


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
