"""Generated gradient code compiled by Numba (``grad(f, compile="numba")``).

The pipeline emits the Numba variant of the code (``numba_form``: one typed tape per
slot; gradients returned as computed, no ``type(x)(dx)``) and compiles its text as
usual; this module then

* checks what the code names: its closure cells (runtime helpers are replaced by their
  Numba versions, ``runtime/numba_versions.py``; helper pairs are the pairs' compiled
  halves) and the user's globals it reads (modules, numbers, builtins Numba knows), and
  refuses anything else at build time, naming the line that reads it;
* wraps each function in ``numba.njit`` (compiled at the first call, for that call's
  argument types) inside a ``CompiledFunction`` that turns a Numba compile error into
  one ``ADTransformError`` naming the user's line and the generated line.

Numba freezes the values of globals and closure variables when it compiles: the numbers
the code reads are recorded as dependencies on the objects themselves (a rebinding,
even to another number, makes the code stale: it is built and compiled again), and
other objects (arrays, lists: their contents could change unseen) are refused.
"""

from __future__ import annotations

import builtins
import dis
import linecache
import re
import types
import warnings
import weakref

from .errors import ADTransformError

EXTRA_HINT = "compile='numba' needs Numba: pip install 'ad_transform[numba]'"

# builtins the generated code may call that Numba compiles
_BUILTINS = frozenset(
    ["len", "range", "abs", "min", "max", "float", "int", "bool", "round", "reversed", "list"]
)


def require_numba():
    """The ``numba`` module, or an ``ImportError`` that names the extra to install."""
    try:
        import numba
    except ImportError as exc:
        raise ImportError(EXTRA_HINT) from exc
    return numba


def numba_cells(cells: dict[str, types.CellType], source: str, label: str) -> dict:
    """The closure cells of the Numba variant: runtime helpers replaced by their Numba
    versions; anything Numba cannot take (or would freeze while it may change) refused."""
    from .kinds import NumberGuard
    from .runtime.numba_versions import NUMBA_VERSIONS, register

    numba = require_numba()
    register()
    replaced = {}
    for name, cell in cells.items():
        try:
            value = cell.cell_contents
        except ValueError:  # filled later: a helper pair being built (recursion)
            raise _build_error(label, source, name, "is a recursive call") from None
        if value in _hashable_versions(NUMBA_VERSIONS, value):
            replaced[name] = types.CellType(NUMBA_VERSIONS[value])
            continue
        if _numba_takes(value, numba) or isinstance(value, NumberGuard):
            replaced[name] = cell
            continue
        raise _build_error(label, source, name, f"names {_describe(value)}")
    return replaced


def _hashable_versions(versions: dict, value) -> dict:
    try:
        hash(value)
    except TypeError:
        return {}
    return versions


def _numba_takes(value, numba) -> bool:
    """Whether Numba compiles a reference to ``value`` and it cannot change unseen."""
    if isinstance(value, types.ModuleType):
        return True
    if type(value) in (float, int, bool):
        return True
    if isinstance(value, numba.core.dispatcher.Dispatcher):
        return True
    if (
        isinstance(value, types.BuiltinFunctionType | type)
        and getattr(builtins, getattr(value, "__name__", ""), None) is value
    ):
        return value.__name__ in _BUILTINS
    return False


def numba_globals(functions: dict, globals_: dict, source: str, label: str):
    """The globals the compiled code sees, and ``(globals_, name, object)`` for each one
    it reads (Numba freezes them: any rebinding makes the code stale).

    A user function the forward sweep calls without a derivative (its result inactive)
    is compiled by Numba too (in a copy of the globals); globals Numba would freeze
    though they may change (arrays, lists) or cannot compile are refused."""
    numba = require_numba()
    found = []
    seen = dict(globals_)
    for fn in functions.values():
        for name in sorted(_global_loads(fn.__code__)):
            if name in globals_:
                value = globals_[name]
            elif hasattr(builtins, name):
                value = getattr(builtins, name)
            else:
                continue  # unbound: Numba reports it at the call
            if isinstance(value, types.FunctionType) and name in globals_:
                seen[name] = _jitted_user_function(value, numba)
            elif not _numba_takes(value, numba):
                raise _build_error(label, source, name, f"reads the global {_describe(value)}")
            if name in globals_ and not isinstance(value, types.ModuleType):
                found.append((globals_, name, value))
    return seen, found


_user_functions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _jitted_user_function(fn: types.FunctionType, numba):
    """``numba.njit(fn)``, once per function object (its compilations are kept)."""
    if fn not in _user_functions:
        _user_functions[fn] = numba.njit(fn)
    return _user_functions[fn]


def _global_loads(code: types.CodeType) -> set[str]:
    names = {ins.argval for ins in dis.get_instructions(code) if ins.opname in ("LOAD_GLOBAL",)}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_loads(const)
    return {n for n in names if isinstance(n, str)}


def _describe(value) -> str:
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    kind = type(value).__name__
    return f"{name} ({kind})" if name else f"a {kind}"


def _build_error(label: str, source: str, name: str, what: str) -> ADTransformError:
    lines = source.splitlines()
    where = next(
        (i for i, text in enumerate(lines) if re.search(rf"\b{re.escape(name)}\b", text)), None
    )
    place = _place(lines, where) if where is not None else f"the gradient of {label}"
    return ADTransformError(
        f"compile='numba': {place}: `{name}` {what}, which Numba cannot compile (or would "
        "freeze while it may change); use the Python code (compile=None)"
    )


def _place(lines: list[str], index: int) -> str:
    """``line N (user code), generated line: code`` for line ``index`` of the source."""
    generated = lines[index].strip()
    for text in reversed(lines[: index + 1]):
        found = re.match(r"\s*# line (\d+): (.*)", text)
        if found:
            return f"line {found[1]} ({found[2]}), generated code `{generated}`"
    return f"generated code `{generated}`"


def jit(functions: dict[str, types.FunctionType]) -> dict:
    """Each function as a Numba dispatcher (compiled lazily, per argument types)."""
    numba = require_numba()
    return {name: numba.njit(fn) for name, fn in functions.items()}


class CompiledFunction:
    """A Numba-compiled generated function; a compile error at the first call becomes an
    ``ADTransformError`` naming the user's line (``# line N`` above the generated line)."""

    def __init__(self, dispatcher, label: str) -> None:
        self.dispatcher = dispatcher
        self.label = label
        self.__name__ = dispatcher.py_func.__name__
        self.__doc__ = dispatcher.py_func.__doc__

    def __call__(self, *args, **kwargs):
        try:
            # the first call compiles (``overloads``, a dict: ``signatures`` builds a list)
            if not self.dispatcher.overloads:
                return self._compile_and_call(args, kwargs)
            return self.dispatcher(*args, **kwargs)
        except ADTransformError:
            raise
        except Exception as exc:
            numba = require_numba()
            if isinstance(exc, numba.core.errors.NumbaError):
                raise compile_error(exc, self.label) from None
            raise

    def _compile_and_call(self, args: tuple, kwargs: dict):
        """The first call: vjp's tapes come back from Python as reflected lists, which
        Numba warns it will stop supporting one day; that is ours to handle, not the
        user's to see at every compilation."""
        numba = require_numba()
        with warnings.catch_warnings():
            category = numba.core.errors.NumbaPendingDeprecationWarning
            warnings.filterwarnings("ignore", "(?s).*reflected list", category)
            return self.dispatcher(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<numba-compiled {self.__name__}>"


def compile_error(exc: Exception, label: str) -> ADTransformError:
    """The first reason Numba gives, at the innermost generated line it names."""
    message = str(exc)
    places = re.findall(r'File "(<ad_transform [^"]*>)", line (\d+)', message)
    place = f"the gradient of {label}"
    if places:
        filename, line = places[-1]
        lines = [text.rstrip("\n") for text in linecache.getlines(filename)]
        index = int(line) - 2  # the factory's ``def`` line comes first
        if 0 <= index < len(lines) - 1:
            place = _place(lines[1:], index)
    return ADTransformError(
        f"compile='numba': Numba cannot compile {place}: {_reason(message)}; use the "
        "Python code (compile=None)"
    )


def _reason(message: str) -> str:
    """The first informative line of Numba's message (without its ANSI colours)."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", message)
    skip = ("Failed in", "During:", "File ", "<source", "^")
    for raw in plain.splitlines():
        text = raw.strip()
        if text and not text.startswith(skip):
            return text[:300]
    return plain.strip()[:300]
