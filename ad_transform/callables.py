"""What a callable that is not a plain user ``def`` is, said in words for error messages.

ad_transform differentiates a function object's *own* code. It never looks through
``__wrapped__`` (``functools.wraps``), ``functools.partial``, caches or callable objects:
a wrapper's code is what runs, so a wrapper made by a decorator written in Python is an
ordinary closure and is differentiated as one. Everything else is described here so that
the refusal names what the object is.

The callables ad_transform itself returns (``grad(f)``, ``value_and_grad(f)``,
``vjp(f)`` and the pullback ``vjp(f)(x)`` returns) are derivatives; differentiating them
again is a higher-order derivative, which is not supported yet. They are recognised by
:func:`derivative_origin`, never by their ``__wrapped__`` or ``.func`` attribute.
"""

from __future__ import annotations

import functools
import os
import types

HIGHER_ORDER = "higher-order derivatives are not supported yet"

# Code objects of functions ad_transform hands out (the pullback closure of vjp).
_DERIVATIVE_CODES: set[types.CodeType] = set()


def mark_derivative_code(outer: types.FunctionType, name: str) -> None:
    """Closures named ``name`` defined in ``outer`` (vjp's pullback) are derivatives."""
    for const in outer.__code__.co_consts:
        if isinstance(const, types.CodeType) and const.co_name == name:
            _DERIVATIVE_CODES.add(const)


def derivative_origin(obj: object) -> str | None:
    """``"grad(f)"``, ``"the pullback of vjp(f)"``...: what derivative ``obj`` is, if it is one."""
    if isinstance(obj, functools.partial):  # a grad(...) method bound to its instance
        return derivative_origin(obj.func)
    if isinstance(obj, types.MethodType):
        return derivative_origin(obj.__func__)
    mode = getattr(type(obj), "ad_transform_derivative", None)
    if isinstance(mode, str):
        inner = obj.__dict__.get("func")
        return f"{mode}({getattr(inner, '__qualname__', '...')})"
    code = getattr(obj, "__code__", None)
    if isinstance(code, types.CodeType):
        if code in _DERIVATIVE_CODES:
            return "the pullback returned by vjp(f)(...)"
        if code.co_filename.startswith("<ad_transform"):
            return f"the generated function {code.co_name}"
    return None


def higher_order_error_text(obj: object) -> str | None:
    """The refusal for a derivative of ad_transform's own, or None if ``obj`` is not one."""
    origin = derivative_origin(obj)
    if origin is None:
        return None
    return f"{origin}: it is a derivative made by ad_transform, and {HIGHER_ORDER}"


def is_transform(obj: object) -> bool:
    """Whether ``obj`` is ``grad``, ``value_and_grad`` or ``vjp`` itself."""
    return isinstance(getattr(obj, "ad_transform_transform", None), str)


def special_description(obj: object) -> str | None:
    """What ``obj`` is, for callables that look like functions but whose code is not
    differentiated (a cache, a partial, a callable object, a library-made wrapper);
    None for everything else (a library primitive keeps its usual message)."""
    if isinstance(obj, functools.partial) or _is_lru_cache(obj):
        return describe(obj)
    if isinstance(obj, types.FunctionType) and hasattr(obj, "__wrapped__"):
        return describe(obj)  # a wrapper not from the user's files
    if isinstance(obj, types.MethodType) and isinstance(obj.__func__, types.FunctionType):
        return describe(obj)
    if _user_call_method(obj) is not None:
        return describe(obj)  # an instance of a user class with __call__
    return None


@functools.cache
def _library_paths() -> tuple[str, ...]:
    """The stdlib's and the installed packages' directories (found on first use: sysconfig
    is slow to import)."""
    import sysconfig

    paths = sysconfig.get_paths()
    return tuple(os.path.realpath(paths[p]) for p in ("stdlib", "purelib", "platlib"))


_OWN_PACKAGE = os.path.dirname(os.path.realpath(__file__))


@functools.lru_cache(maxsize=4096)
def is_library_file(filename: str) -> bool:
    """Whether code from ``filename`` belongs to ad_transform, the stdlib or an installed
    package (not to the user's own files). Remembered per file name (``realpath`` asks
    the file system for every directory of the path; where a file lies does not change
    while the process runs, like the library directories themselves)."""
    filename = os.path.realpath(filename)
    return any(filename.startswith(path + os.sep) for path in (_OWN_PACKAGE, *_library_paths()))


def is_library_module(obj: object) -> bool:
    """Whether ``obj`` is a module of the standard library or of an installed package
    (``np``, ``math``), whose attributes are never rebound; the user's own modules
    (``import cfgmod``) are not."""
    if not isinstance(obj, types.ModuleType):
        return False
    filename = getattr(obj, "__file__", None)
    return filename is None or is_library_file(filename)


def describe(obj: object) -> str:
    """What ``obj`` is, in a few words: used in 'cannot differentiate ...' messages."""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    origin = derivative_origin(obj)
    if origin is not None:
        return f"{origin}, a derivative made by ad_transform"
    if isinstance(obj, functools.partial):
        return f"functools.partial({_name_of(obj.func)}, ...), a partial application"
    if _is_lru_cache(obj):
        return (
            f"{name}, a functools.lru_cache / functools.cache wrapper (a C object with no "
            "Python code; ad_transform does not look through it to the cached function)"
        )
    if isinstance(obj, types.MethodType):
        return f"{name}, a method bound to a {type(obj.__self__).__name__} object"
    if isinstance(obj, type):
        return f"the class {name}"
    if isinstance(obj, (types.BuiltinFunctionType, types.BuiltinMethodType)):
        return f"the builtin {name}"
    if isinstance(obj, types.FunctionType):
        if hasattr(obj, "__wrapped__"):
            return (
                f"{obj.__code__.co_name} (a wrapper of {_name_of(obj.__wrapped__)} made by a "
                f"decorator, {obj.__code__.co_filename}:{obj.__code__.co_firstlineno})"
            )
        return f"the function {name}"
    if _user_call_method(obj) is not None:
        cls = type(obj).__qualname__
        wrapped = getattr(obj, "__wrapped__", None)
        around = f" wrapping {_name_of(wrapped)}" if wrapped is not None else ""
        return (
            f"an instance of the class {cls}{around} (a callable object, e.g. a class used "
            "as a decorator: its __call__ method is not differentiated)"
        )
    return repr(obj) if callable(obj) else f"a {type(obj).__name__} object"


def _user_call_method(obj: object) -> types.FunctionType | None:
    """The ``__call__`` of ``obj``'s class when that class is the user's own Python code."""
    if isinstance(obj, type) or not callable(obj):
        return None
    method = next(
        (c.__dict__["__call__"] for c in type(obj).__mro__ if "__call__" in c.__dict__), None
    )
    if isinstance(method, types.FunctionType) and not is_library_file(method.__code__.co_filename):
        return method
    return None


def code_name(func: types.FunctionType) -> str:
    """A name for the code generated from ``func``: its own name, or ``Class_method`` for
    a function defined in a class (``Vec.__add__`` gives ``Vec_add``)."""
    parts = func.__qualname__.rsplit(".<locals>.", 1)[-1].split(".")
    name = func.__name__
    if len(parts) < 2 or not parts[-2].isidentifier():
        return name
    core = name.strip("_") if name.startswith("__") and name.endswith("__") else name
    return f"{parts[-2]}_{core or name}"


def _name_of(obj: object) -> str:
    return str(getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj))


def _is_lru_cache(obj: object) -> bool:
    cache_type = getattr(functools, "_lru_cache_wrapper", None)
    return (cache_type is not None and isinstance(obj, cache_type)) or (
        hasattr(obj, "cache_info") and hasattr(obj, "__wrapped__")
    )
