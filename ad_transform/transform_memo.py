"""What one transformation remembers while it runs: the source lines and parsed trees
of the user functions it reads, so that it reads and parses each one once.

A transformation asks for the same helper's tree many times (its kinds, its effects,
its complex values, its ownership, its pair). Inside ``one_transformation()`` (entered
by ``pipeline.generate`` and ``forward.generate_jvp``), ``remembered`` keeps each answer
under a key and the *origin* it was computed from (a code object, a registered tree):
an entry is used only while that origin is the same object. The memo is emptied when
the outermost block ends, so the next transformation reads every source again (names
may have been rebound, files edited in between). Outside a block nothing is kept.
See docs/architecture/transform_speed.md for the rules a new entry must follow.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import threading
import types
from collections.abc import Callable, Iterator
from typing import TypeVar

from .errors import ADTransformError

T = TypeVar("T")

_STATE = threading.local()  # .memo: key -> (origin, value) inside one_transformation()


@contextlib.contextmanager
def one_transformation() -> Iterator[None]:
    """Remember sources and trees until the outermost such block ends.

    The cyclic garbage collector is paused meanwhile (if it was running): a
    transformation makes hundreds of thousands of tree nodes, almost all freed by
    reference counting, and each automatic collection it triggered walked every object
    of the process (10-15% of the transformation's time). Collection resumes at the end.
    """
    outermost = getattr(_STATE, "memo", None) is None
    collecting = outermost and gc.isenabled()
    if outermost:
        _STATE.memo = {}
    if collecting:
        gc.disable()
    try:
        yield
    except RecursionError:
        if not outermost:
            raise
        raise ADTransformError(
            "the function is nested too deeply to be transformed (an expression of hundreds "
            "of operators, such as a sum written out term by term, is walked recursively): "
            "split it into several statements, or use np.sum / sum() over a sequence"
        ) from None
    finally:
        if outermost:
            _STATE.memo = None
        if collecting:
            gc.enable()


def remembered(key: object, origin: object, compute: Callable[[], T]) -> T:
    """``compute()``, or inside ``one_transformation()`` the value it gave for ``key``
    while ``origin`` (what the value is made from) was the same object. The caller must
    not change the value it gets (hand out copies of what a receiver may change).
    Exceptions are not remembered."""
    memo = getattr(_STATE, "memo", None)
    if memo is None:
        return compute()
    found = memo.get(key)
    if found is None or found[0] is not origin:
        found = (origin, compute())
        memo[key] = found
    return found[1]


def source_lines(code: types.CodeType) -> tuple[list[str], int]:
    """``inspect.getsourcelines(code)`` (the code object, not a function: inspect would
    follow ``__wrapped__``), read once per transformation. Callers get their own list."""
    lines, first = remembered(("source lines", code), code, lambda: _read(code))
    return list(lines), first


def _read(code: types.CodeType) -> tuple[tuple[str, ...], int]:
    lines, first = inspect.getsourcelines(code)
    return tuple(lines), first
