"""Standalone export: the generated gradient code as a module that needs no ad_transform.

``export(f, "grad_f.py", wrt=(0, 1))`` writes a Python module with ``f``, its gradient
function ``grad_f`` and everything they call: the runtime helpers of
``ad_transform.runtime`` the generated code uses (their source copied in, with what
they need in turn), the forward/backward pairs generated for the user functions ``f``
calls, the user functions and module-level constants the code reads, and the import
statements of ``f``'s own module that bind the modules and library objects it uses.
The module imports NumPy and what ``f``'s module imported, never ``ad_transform``.

Names are resolved from the generated functions themselves: every free name of a
generated function is either one of its closure cells (``Generated.cells``: rule
helpers, helper pairs, the user's closure variables) or a global of the user's
module, and it is written out under the same name.

``compile="numba"`` writes the Numba variant of the code (``numba_form``: one typed tape
per slot) with ``@numba.njit(cache=True)`` on each generated function, on each helper
pair's halves and on each user function the code calls without a derivative: the module
compiles them at their first call, as ``grad(f, compile="numba")`` does, and Numba keeps
the machine code in ``__pycache__`` beside the module (a real file, unlike the
in-process code, whose source exists only in ``linecache``), so later processes skip
the compilation; editing the file invalidates it. The runtime helpers are their
Numba versions (``runtime/numba_versions.py``: the stub and the definer of its overload,
called when the module is imported). Importing the module without Numba raises an
``ImportError`` that says so.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import io
import numbers
import symtable
import sys
import textwrap
import tokenize
import types
from pathlib import Path

import numpy as np

from .callables import derivative_origin
from .errors import ADTransformError
from .parse import parse_function
from .pipeline import GRAD, VALUE_AND_GRAD, generate
from .rules.registry import ARRAY, SCALAR, UNKNOWN

__all__ = ["export", "export_source"]

_OWN_PACKAGE = __name__.split(".")[0]


def export(
    func,
    path,
    wrt=0,
    example_args: tuple | None = None,
    value_and_grad: bool = False,
    compile: str | None = None,
) -> Path:
    """Write the gradient of ``func`` as a standalone module at ``path``; return the path.

    ``wrt`` is as for :func:`ad_transform.grad`. With ``example_args`` the code is
    specialised for arguments of those types (plain arithmetic for Python floats);
    without, it works for any argument types. ``value_and_grad=True`` also writes
    ``value_and_grad_<name>``. The module defines ``func`` itself too.
    ``compile="numba"`` (needs ``example_args``): the module compiles the gradient with
    ``numba.njit`` at its first call, as ``grad(func, compile="numba")`` does.
    """
    text = export_source(
        func,
        wrt=wrt,
        example_args=example_args,
        value_and_grad=value_and_grad,
        compile=compile,
    )
    path = Path(path)
    path.write_text(text, encoding="utf-8")
    return path


def export_source(
    func,
    wrt=0,
    example_args: tuple | None = None,
    value_and_grad: bool = False,
    compile: str | None = None,
) -> str:
    """The text :func:`export` writes."""
    parse_function(func)  # the ADTransformError for anything that is not a plain def
    # (a grad(...) object included: exporting its .func would be a lower order)
    numba = _numba_option(compile, example_args)
    kinds = _kinds(func, wrt, example_args)
    modes = [GRAD] + ([VALUE_AND_GRAD] if value_and_grad else [])
    shapes = _numba_shapes(example_args) if numba is not None else None
    generated = [generate(func, wrt, kinds, mode, shapes=shapes, compile=compile) for mode in modes]
    writer = _Writer(func, numba)
    writer.require(func.__name__, func)
    main_names = []
    for product in generated:
        main = product.compiled[product.main] if numba else product.function
        name = writer.require(product.main, main)
        main_names.append(name)
    return writer.module_text(func, wrt, kinds, [func.__name__, *main_names])


def _numba_option(compile: str | None, example_args: tuple | None):
    """The ``numba`` module for ``compile="numba"`` (None for the Python code)."""
    if compile is None:
        return None
    if compile != "numba":
        raise ValueError(f"compile={compile!r}: the choices are None and 'numba'")
    if example_args is None:
        raise ValueError(
            "export(..., compile='numba') needs example_args: Numba compiles code "
            "specialised for the argument types (floats, float arrays)"
        )
    from .numba_compile import require_numba

    return require_numba()


def _numba_shapes(example_args: tuple) -> tuple | None:
    """The shape facts of the example arrays (rank, dtype, unit axes): Numba compiles
    element code for arrays of a known rank, as for ``grad(f, compile="numba")``."""
    from .shapes import argument_shapes

    shapes = argument_shapes(tuple(example_args))
    return shapes if any(s is not None for s in shapes) else None


def _kinds(func, wrt, example_args) -> tuple:
    count = func.__code__.co_argcount
    if example_args is None:
        return (UNKNOWN,) * count
    positions = (wrt,) if isinstance(wrt, int) else tuple(wrt)
    kinds = []
    for i, value in enumerate(example_args):
        if i in positions and isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool):
            kinds.append(UNKNOWN)
        elif isinstance(value, (int, float, np.integer, np.floating)):
            kinds.append(SCALAR)
        elif isinstance(value, np.ndarray):
            kinds.append(ARRAY)
        else:
            kinds.append(UNKNOWN)
    return tuple(kinds)


class _Writer:
    """Collects the definitions and imports the exported module needs, in dependency order."""

    def __init__(self, func, numba: types.ModuleType | None = None) -> None:
        self.func = func
        self.numba = numba  # compile="numba": the numba module (bound to ``numba``)
        self.bound: dict[str, object] = {"numba": numba} if numba is not None else {}
        self.exported: dict[int, str] = {}  # id of a function or class -> its name here
        self.imports: list[str] = []
        self.constants: list[str] = []
        self.definitions: list[str] = []
        self.user_imports = _module_imports(func)

    # -- what a name needs ----------------------------------------------------------------
    def require(self, name: str, obj: object) -> str:
        """Make ``obj`` available in the module; returns the name it has there (``name``
        unless that is taken by something else)."""
        if name in self.bound and (
            self.bound[name] is obj or _same_constant(self.bound[name], obj)
        ):
            return name
        if name not in self.bound and getattr(builtins, name, _NOTHING) is obj:
            return name
        self.refuse_derivative(name, obj)
        shared = isinstance(obj, (types.FunctionType, type)) or self.is_dispatcher(obj)
        if shared and id(obj) in self.exported:
            return self.exported[id(obj)]
        if name in self.bound:
            name = self.fresh(name)
        self.bound[name] = obj
        self.exported[id(obj)] = name
        if self.is_dispatcher(obj):
            self.function(name, obj.py_func, decorator="numba.njit(cache=True)")
        elif isinstance(obj, types.ModuleType):
            self.import_module(name, obj)
        elif (
            _is_generated(obj)
            or _from_own_package(obj)
            or (isinstance(obj, types.FunctionType) and not _is_library_function(obj))
        ):
            self.function(name, obj)
        elif name in self.user_imports and _imports(self.user_imports[name], obj):
            self.add_import(self.user_imports[name])
        elif obj is self.func.__globals__:  # ``global g; g = v``: the module's own globals
            self.constants.append(f"{name} = globals()")
        elif _is_literal(obj) or isinstance(obj, (np.ndarray, np.generic)):
            self.constant(name, obj)
        else:
            self.library_object(name, obj)
        return name

    def refuse_derivative(self, name: str, obj: object) -> None:
        """Refuse a derivative made by ad_transform (``grad(h)`` held in ``name`` or called
        inside the function) or one of its transforms (``grad``, ``jvp``, ...): the exported
        module cannot make it without importing ad_transform.

        Raises:
            ADTransformError: naming the object and what to do instead.
        """
        if _is_public_transform(obj):
            what = f"ad_transform's {obj.__name__} (a derivative made inside it)"
        else:
            origin = derivative_origin(obj) or _api_derivative_origin(obj)
            if origin is None or origin.startswith("the generated function"):
                return
            what = f"{origin}, a derivative made by ad_transform, as {name!r}"
        raise ADTransformError(
            f"cannot export {self.func.__qualname__}: it uses {what}; export writes a "
            "module that does not import ad_transform, and derivatives made or held inside "
            "the exported function are not supported there. Export the inner function's "
            "derivative on its own (export(h, ...)) and call it from a function written "
            f"without ad_transform, or differentiate {self.func.__name__} in this process "
            f"(grad({self.func.__name__}))"
        )

    def is_dispatcher(self, obj) -> bool:
        """Whether ``obj`` is a Numba-compiled function (``compile="numba"`` only)."""
        return self.numba is not None and isinstance(obj, self.numba.core.dispatcher.Dispatcher)

    def fresh(self, name: str) -> str:
        k = 1
        while f"{name}_{k}" in self.bound or hasattr(builtins, f"{name}_{k}"):
            k += 1
        return f"{name}_{k}"

    def import_module(self, name: str, module: types.ModuleType) -> None:
        if module.__name__.split(".")[0] == _OWN_PACKAGE:
            raise ADTransformError(
                f"cannot export {self.func.__qualname__}: it uses the module "
                f"{module.__name__} as {name!r}, and the export must not import ad_transform"
            )
        if name in self.user_imports and _imports(self.user_imports[name], module):
            self.add_import(self.user_imports[name])
        elif module.__name__ == name:
            self.add_import(f"import {name}")
        else:
            self.add_import(f"import {module.__name__} as {name}")

    def library_object(self, name: str, obj: object) -> None:
        spec = getattr(obj, "__self__", None)
        if type(spec).__module__ == f"{_OWN_PACKAGE}.dispatch":
            raise ADTransformError(
                f"cannot export {self.func.__qualname__}: it calls "
                f"'{spec.method.expression}', whose method is found when the call runs (the "
                "object's class is not known when the code is generated), through "
                "ad_transform"
            )
        module_name = getattr(obj, "__module__", None)
        qualname = getattr(obj, "__qualname__", getattr(obj, "__name__", None))
        if isinstance(obj, np.ufunc) or module_name in (None, "numpy.core.multiarray"):
            module_name = (
                "numpy" if getattr(np, getattr(obj, "__name__", ""), None) is obj else None
            )
            qualname = getattr(obj, "__name__", None)
        if module_name and qualname and "." not in qualname and "<" not in qualname:
            try:
                found = getattr(importlib.import_module(module_name), qualname, None)
            except ImportError:
                found = None
            if found is obj and module_name.split(".")[0] != _OWN_PACKAGE:
                alias = "" if qualname == name else f" as {name}"
                self.add_import(f"from {module_name} import {qualname}{alias}")
                return
        raise ADTransformError(
            f"cannot export {self.func.__qualname__}: the code uses {name!r}, "
            f"{_describe(obj)}, which cannot be written as Python source or imported"
        )

    def add_import(self, line: str) -> None:
        if line not in self.imports:
            self.imports.append(line)

    def constant(self, name: str, value: object) -> None:
        if _is_literal(value):
            self.constants.append(f"{name} = {value!r}")
            return
        if isinstance(value, (np.ndarray, np.generic)):
            numpy_name = self.numpy_name()
            array = np.asarray(value)
            text = f"{numpy_name}.array({array.tolist()!r}, dtype={numpy_name}.{array.dtype.name})"
            if isinstance(value, np.generic):
                text = f"{numpy_name}.{array.dtype.name}({value.item()!r})"
            self.constants.append(f"{name} = {text}")
            return
        raise ADTransformError(
            f"cannot export {self.func.__qualname__}: the code uses {name!r}, "
            f"{_describe(value)}, which cannot be written as Python source"
        )

    def numpy_name(self) -> str:
        for name, obj in self.bound.items():
            if obj is np:
                return name
        name = "numpy" if "numpy" not in self.bound else "_numpy"
        self.require(name, np)
        return name

    # -- definitions -------------------------------------------------------------------------
    def function(self, name: str, obj, decorator: str | None = None) -> None:
        """Copy the source of a function or class, then what its free names refer to;
        ``decorator``: written above the definition (``numba.njit``)."""
        source = _definition_source(obj)
        # the name its source defines: a wrapper's __name__ is that of what it wraps
        defined = obj.__code__.co_name if isinstance(obj, types.FunctionType) else obj.__name__
        renames = {} if defined == name else {defined: name}
        for free in _free_names(source):
            value = _resolve(obj, free)
            if value is not _NOTHING:
                used = self.require(free, value)
                if used != free:
                    renames[free] = used
        decorated = f"@{decorator}\n" if decorator else ""
        self.definitions.append(decorated + _rename(source, renames))
        self.define_overload(obj)

    def define_overload(self, obj) -> None:
        """After the stub of a runtime helper's Numba version: its definer, and the call
        that registers the overload when the module is imported."""
        if self.numba is None:
            return
        from .runtime.numba_versions import OVERLOADS

        definer = OVERLOADS.get(obj) if isinstance(obj, types.FunctionType) else None
        if definer is not None and id(definer) not in self.exported:
            name = self.require(definer.__name__, definer)
            self.definitions.append(f"{name}()")

    # -- the module ----------------------------------------------------------------------------
    def module_text(self, func, wrt, kinds, public: list[str]) -> str:
        code = func.__code__
        where = f"{Path(code.co_filename).name}:{code.co_firstlineno}"
        from . import __version__

        kinds_text = ", ".join(
            f"{p}: {k or 'any'}" for p, k in zip(code.co_varnames[: code.co_argcount], kinds)
        )
        signature = inspect.signature(func, follow_wrapped=False)
        compiled = (
            "The gradient is compiled by Numba (numba.njit) at its first call, for the "
            "argument types\nof that call, and cached on disk (cache=True: __pycache__ "
            "beside this file), so that\nlater processes load the compiled code.\n"
            if self.numba is not None
            else ""
        )
        needs = "NumPy, Numba" if self.numba is not None else "NumPy"
        doc = (
            f'"""Gradient of {func.__name__} ({where}), exported by ad_transform {__version__}.\n\n'
            f"{public[1]}{signature} returns the gradient with respect to "
            f"argument(s) {wrt!r}.\n"
            f"Argument kinds the code was generated for: {kinds_text}.\n{compiled}"
            f"This module needs {needs} and the modules the original imported; it does not "
            'import ad_transform.\n"""'
        )
        parts = [doc, "", "from __future__ import annotations", ""]
        plain = [i for i in self.imports if i.startswith("import ")]
        other = [i for i in self.imports if not i.startswith("import ")]
        parts.extend(plain + other)
        if self.numba is not None:
            parts.extend(["", *_NUMBA_IMPORT])
        if self.constants:
            parts.extend(["", *self.constants])
        for definition in self.definitions:
            parts.extend(["", "", definition.rstrip("\n")])
        parts.extend(["", "", f"__all__ = {public!r}", ""])
        text = "\n".join(parts)
        compile(text, "<exported module>", "exec")  # a syntax check of what is written
        return text


_NOTHING = object()

_NUMBA_IMPORT = (
    "try:",
    "    import numba",
    "except ImportError as exc:  # exported with compile='numba'",
    "    raise ImportError(",
    "        f\"{__name__} was exported with compile='numba' and needs Numba: pip install numba\"",
    "    ) from exc",
)


def _resolve(obj, name: str) -> object:
    """What ``name`` means inside ``obj`` (a function or class): closure, globals, module."""
    if isinstance(obj, types.FunctionType):
        code = obj.__code__
        if name in code.co_freevars and obj.__closure__:
            cell = obj.__closure__[code.co_freevars.index(name)]
            try:
                return cell.cell_contents
            except ValueError:
                return _NOTHING
        namespace = obj.__globals__
    else:
        namespace = vars(sys.modules.get(obj.__module__, types.ModuleType("empty")))
    if name in namespace:
        return namespace[name]
    return _NOTHING


def _imports(statement: str, obj: object) -> bool:
    """Whether the import ``statement`` (of the user's module) binds ``obj``."""
    namespace: dict = {}
    try:
        exec(statement, namespace)
    except Exception:
        return False
    values = [v for k, v in namespace.items() if k != "__builtins__"]
    return len(values) == 1 and values[0] is obj


def _rename(source: str, renames: dict[str, str]) -> str:
    """``source`` with the names in ``renames`` replaced (not attributes, not keywords)."""
    if not renames:
        return source
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    significant = [
        t
        for t in tokens
        if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT)
        and t.type != tokenize.DEDENT
    ]
    edits = []
    depth = 0
    for i, tok in enumerate(significant):
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        if tok.type != tokenize.NAME or tok.string not in renames:
            continue
        before = significant[i - 1] if i else None
        after = significant[i + 1] if i + 1 < len(significant) else None
        if before is not None and before.type == tokenize.OP and before.string == ".":
            continue
        if depth and after is not None and after.type == tokenize.OP and after.string == "=":
            continue  # a keyword argument
        edits.append((tok.start, tok.end, renames[tok.string]))
    lines = source.splitlines(True)
    for (row, col), (_, end), new in reversed(edits):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + new + line[end:]
    return "".join(lines)


def _definition_source(obj) -> str:
    """The source of a ``def`` or ``class``, dedented, without decorators."""
    try:
        # a function's own code: inspect.getsource(function) would follow __wrapped__
        code = obj.__code__ if isinstance(obj, types.FunctionType) else obj
        source = textwrap.dedent(inspect.getsource(code))
    except (OSError, TypeError) as exc:
        raise ADTransformError(
            f"cannot export: the source of {getattr(obj, '__qualname__', obj)!r} is not "
            f"available ({exc})"
        ) from None
    tree = ast.parse(source)
    node = tree.body[0]
    name = getattr(code, "co_name", None)
    if name == "<lambda>" or not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        # the source inspect finds for a lambda is the whole statement holding it
        where = f"{Path(code.co_filename).name}:{code.co_firstlineno}"
        raise ADTransformError(
            f"cannot export: the code calls the lambda at {where} "
            f"({source.strip().splitlines()[0]!r}); define it with 'def' to export"
        )
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.decorator_list:
        lines = source.splitlines(True)
        source = "".join(lines[node.lineno - 1 :])
    if getattr(obj, "__name__", None) == "<lambda>":
        raise ADTransformError("cannot export a lambda; define the function with 'def'")
    return source


def _free_names(source: str) -> list[str]:
    """Global names a definition reads (in order of first appearance)."""
    table = symtable.symtable(source, "<export>", "exec")
    found: dict[str, None] = {}

    def visit(t: symtable.SymbolTable, top: bool) -> None:
        for symbol in t.get_symbols():
            if not symbol.is_referenced():
                continue
            if (top and not symbol.is_assigned() and not symbol.is_imported()) or (
                not top and symbol.is_global()
            ):
                found.setdefault(symbol.get_name())
        for child in t.get_children():
            visit(child, False)

    visit(table, True)
    own = {n.name for n in ast.parse(source).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    return [n for n in found if n not in own]


def _module_imports(func) -> dict[str, str]:
    """Names bound by the module-level imports of ``func``'s file -> one import statement."""
    try:
        source = Path(func.__code__.co_filename).read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError):
        return {}
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                text = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                found.setdefault(bound, text)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "__future__":
                continue
            for alias in node.names:
                if alias.name == "*":
                    continue
                bound = alias.asname or alias.name
                text = f"from {node.module} import {alias.name}" + (
                    f" as {alias.asname}" if alias.asname else ""
                )
                found.setdefault(bound, text)
    return {
        name: text for name, text in found.items() if text.split()[1].split(".")[0] != _OWN_PACKAGE
    }


def _is_generated(obj) -> bool:
    code = getattr(obj, "__code__", None)
    return code is not None and code.co_filename.startswith("<ad_transform")


def _from_own_package(obj) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module.split(".")[0] == _OWN_PACKAGE and isinstance(obj, (types.FunctionType, type))


def _api_derivative_origin(obj) -> str | None:
    """``jacfwd(h)`` for a Jacobian object (which has no ``ad_transform_derivative``)."""
    from .higher_order_calls import _kind_of, is_api_derivative

    if not is_api_derivative(obj):
        return None
    return f"{_kind_of(obj)}({getattr(obj.func, '__qualname__', obj.func)})"


_DERIVATIVE_MAKERS = (
    "grad",
    "value_and_grad",
    "vjp",
    "jvp",
    "hvp",
    "hessian",
    "jacfwd",
    "jacrev",
    "jacobian",
    "elementwise_grad",
)


def _is_public_transform(obj) -> bool:
    """Whether ``obj`` is one of ad_transform's functions that make derivatives (``grad``,
    ``jvp``, ``hessian``, ...)."""
    package = sys.modules[_OWN_PACKAGE]
    name = getattr(obj, "__name__", None)
    return name in _DERIVATIVE_MAKERS and getattr(package, name, None) is obj


def _is_library_function(obj) -> bool:
    from .resolve import is_user_function

    return not is_user_function(obj)


def _is_literal(value) -> bool:
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        try:
            return ast.literal_eval(repr(value)) == value or value != value
        except (ValueError, SyntaxError):
            return False
    if isinstance(value, (tuple, list, frozenset, set)):
        return all(_is_literal(v) for v in value)
    if isinstance(value, dict):
        return all(_is_literal(k) and _is_literal(v) for k, v in value.items())
    return False


def _same_constant(a, b) -> bool:
    try:
        return _is_literal(a) and _is_literal(b) and type(a) is type(b) and a == b
    except Exception:  # pragma: no cover - odd __eq__
        return False


def _describe(obj) -> str:
    if isinstance(obj, types.ModuleType):
        return f"the module {obj.__name__}"
    name = getattr(obj, "__qualname__", None)
    module = getattr(obj, "__module__", None)
    if name:
        return f"{module}.{name}" if module else name
    return f"a {type(obj).__name__} object"
