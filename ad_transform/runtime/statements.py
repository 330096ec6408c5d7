"""The statements of the user's code the lowered program runs through a helper: unbound
variables, ``raise``, ``global``/``nonlocal`` writes, ``match`` patterns, ``super()``,
and the ``try``/``with`` machinery of ``lower/exceptions.py`` (no derivative).
"""

from __future__ import annotations

import sys
import threading

from ..errors import ADTransformError


class UNBOUND:
    """The value of a variable the user's code has not bound on the path taken."""


def check_bound(value, name: str) -> None:
    """Raise ``UnboundLocalError`` as Python does where the user's code reads ``name``."""
    if value is UNBOUND:
        if sys.version_info >= (3, 11):
            message = (
                f"cannot access local variable {name!r} where it is not associated with a value"
            )
        else:
            message = f"local variable {name!r} referenced before assignment"
        raise UnboundLocalError(message)


def raise_exception(exception, *cause):
    """``raise exception`` / ``raise exception from cause``, as the user's code does."""
    if cause:
        raise exception from cause[0]
    raise exception


def reraise_current():
    """A bare ``raise``: the exception being handled, or ``RuntimeError`` if there is none."""
    raise  # re-raises what the caller is handling, as the user's code does


def set_global(namespace: dict, name: str, value) -> None:
    """``global name; name = value`` in the user's code: the module's variable changes."""
    namespace[name] = value


def set_cell(cell, value) -> None:
    """``nonlocal name; name = value`` in the user's code: the enclosing variable changes."""
    cell.cell_contents = value


def matches_sequence(subject, length: int, at_least: bool = False) -> bool:
    """Whether ``subject`` matches a ``match`` sequence pattern of ``length`` items (at least
    that many with a ``*rest``): a sequence that is not text, as Python decides."""
    from collections.abc import Sequence

    if not isinstance(subject, Sequence) or isinstance(subject, (str, bytes, bytearray)):
        return False
    return len(subject) >= length if at_least else len(subject) == length


def super_of(cls: type, obj):
    """``super()`` in a method of ``cls`` whose first parameter holds ``obj``: the proxy
    ``super(cls, obj)`` (the lowered form, which runs outside the class body)."""
    return super(cls, obj)


def has_attribute(subject, name: str) -> bool:
    """``hasattr(subject, name)`` in a lowered ``match`` class pattern of a user class: it
    looks the attribute up and keeps nothing; the only code it can run is a property's
    getter, which the pattern's read of the attribute runs (and is followed) too."""
    return hasattr(subject, name)


def narrowed(subject, cls: type, name: str):
    """``subject`` after a lowered ``match`` class pattern ``cls(name=...)`` tested
    ``isinstance(subject, cls)``: the object itself, whose attribute ``name`` the
    differentiated code reads as ``cls`` defines it. An instance of a subclass passes only
    where ``name`` is an attribute of the instance alone (no class along either MRO
    defines it, no ``__getattr__``/``__getattribute__``): a subclass may define it anew."""
    kind = type(subject)
    if kind is cls or (
        not any(name in vars(k) for k in (*kind.__mro__, *cls.__mro__))
        and kind.__getattribute__ is object.__getattribute__
        and getattr(kind, "__getattr__", None) is None
    ):
        return subject
    raise ADTransformError(
        f"cannot differentiate the 'match' class pattern {cls.__qualname__}({name}=...): the "
        f"subject is an instance of its subclass {kind.__qualname__}, and '{name}' is not "
        "only an attribute of the instance there"
    )


# -- exceptions and context managers (lower/exceptions.py) ---------------------------------
# The lowered ``try``/``with`` statements call these through the module (``ad_runtime.``):
# the calls have no derivative and are run by the forward sweep as the user's code would.


def current_exception() -> BaseException | None:
    """The exception the enclosing ``except`` clause of the generated code is handling.

    Outside any ``except`` clause: the exception this thread caught last. That is where
    generated code differentiated again runs its own handlers (``caught =
    current_exception()``): the second lowering caught the exception, then runs the
    handler's statements as plain code after its own ``except``."""
    exception = sys.exc_info()[1]
    thread = threading.get_ident()
    if exception is None:
        return current_exception.last_caught.get(thread)
    current_exception.last_caught[thread] = exception
    return exception


current_exception.last_caught = {}  # thread id -> the exception it caught last


def throw(exception, cause=None, has_cause: bool = False):
    """``raise exception`` (``raise exception from cause`` if ``has_cause``) as Python runs it:
    a class is instantiated, anything else that is no exception is a ``TypeError``."""
    if has_cause:
        raise exception from cause
    raise exception


def reraise(exception: BaseException):
    """Raise ``exception`` again, the same object (a pending exception after ``finally``)."""
    raise exception


def exception_matches(exception: BaseException | None, kinds) -> bool:
    """Whether ``except kinds:`` catches ``exception`` (``None``: no exception, no match).
    ``kinds`` that are no exception classes raise ``TypeError``, as Python's ``except``."""
    classes = kinds if isinstance(kinds, tuple) else (kinds,)
    for kind in classes:
        if not (isinstance(kind, type) and issubclass(kind, BaseException)):
            raise TypeError(
                "catching classes that do not inherit from BaseException is not allowed"
            )
    if isinstance(exception, ADTransformError):
        return False  # a refusal of ad_transform's own: never the user's to handle
    return exception is not None and isinstance(exception, classes)


def half_changed(exception: BaseException, kinds, message: str) -> BaseException:
    """In the ``except`` of a statement of a ``try``/``with`` body that changes an object
    in place: an exception of ``kinds`` may have come after the change (see
    ``reverse.half_change_check``); it becomes the refusal, which no handler takes."""
    if isinstance(exception, kinds):
        refusal = ADTransformError(message)
        refusal.__cause__ = exception
        return refusal
    return exception


def enter_context(manager):
    """``with manager:`` up to the body: ``type(manager).__enter__(manager)``'s value."""
    kind = type(manager)
    if not (hasattr(kind, "__enter__") and hasattr(kind, "__exit__")):
        raise TypeError(f"'{kind.__name__}' object does not support the context manager protocol")
    return kind.__enter__(manager)


def exit_context(manager, exception: BaseException | None) -> bool:
    """Leave ``with manager:``: ``__exit__`` with ``exception`` (or ``None``s); whether the
    exception still propagates (``False`` if there was none, or the manager suppressed it;
    a refusal of ad_transform's own is never suppressed)."""
    leave = type(manager).__exit__
    if exception is None:
        leave(manager, None, None, None)
        return False
    suppressed = leave(manager, type(exception), exception, exception.__traceback__)
    return not suppressed or isinstance(exception, ADTransformError)  # refusals go on


def check_unpacked_length(items, count: int) -> None:
    """``f(*xs)`` spread into ``count`` arguments by index (normalize): the ``TypeError``
    Python's call raises when ``xs`` has another number of items."""
    if len(items) != count:
        raise TypeError(
            f"the call takes {count} unpacked positional arguments but {len(items)} were given"
        )
