"""Peak memory of one gradient call, measured with ``tracemalloc`` in its own pass.

Tracing slows every allocation down, so it never runs while anything is timed. The
peak counts what the call allocates on top of what existed before it: for our code on
a scalar loop that is the tape (a list, and the floats it keeps alive), for the
hand-written gradient the list of values it keeps for its backward loop.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable


def peak_bytes(func: Callable[[], object]) -> int:
    """The most memory ``func()`` held at once, beyond what was allocated before it."""
    gc.collect()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = func()
        peak = tracemalloc.get_traced_memory()[1]
        del result
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return max(peak - before, 0)
