"""How long the transformation takes, and that a cached gradient is not transformed again.

* cold: ``grad(f)(*args)`` on a fresh copy of a ~50-line function (same code, a new
  function object, so nothing of it is cached), minus the time of a warm call; the
  median over a few copies, and the very first transformation of the process apart
  (it also pays one-time costs, such as parsing the rule templates);
* per stage: the same cold calls with the pipeline's stage functions wrapped in timers
  (parse, normalize, analyze, reverse, optimize, compile), to show where the time goes;
* cached: a second ``grad(f)`` object for the same function: its first call must hit the
  cache (no call of the parser) and cost about as much as a warm call;
* import: what ``import ad_transform`` adds to importing NumPy and gast (CPU time in
  fresh interpreters, ``import_timing.py``).
"""

from __future__ import annotations

import statistics
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field

from .import_timing import measure as measure_import
from .transform_case import ARGS, WRT, pendulum

# the stage functions ad_transform.pipeline calls, in pipeline order
STAGES = ("parse_function", "normalize", "analyze", "reverse", "optimize", "compile_functions")


@dataclass
class TransformResult:
    lines: int
    first_seconds: float  # first transformation in this process (transform + one call)
    cold_seconds: list[float]  # transform only, fresh copies
    warm_call_seconds: float
    cached_first_call_seconds: float  # median over 5 new grad objects
    cached_parses: int | None  # parser calls during the cached first call (want 0)
    stages: dict[str, float] = field(default_factory=dict)  # median seconds per stage
    import_seconds: float | None = None  # ``import ad_transform`` (import_timing.py)

    @property
    def cold_median(self) -> float:
        return statistics.median(self.cold_seconds)


def fresh_copy(func: types.FunctionType) -> types.FunctionType:
    """The same code as a new function object: a miss in every cache keyed by function."""
    copy = types.FunctionType(
        func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__
    )
    copy.__qualname__ = func.__qualname__
    copy.__module__ = func.__module__
    return copy


class _StageTimers:
    """Wraps the pipeline's stage functions in timers (and restores them)."""

    def __init__(self, module, clock=time.process_time) -> None:
        self.module = module
        self.clock = clock
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.saved: dict[str, Callable] = {}

    def __enter__(self) -> _StageTimers:
        for name in STAGES:
            original = getattr(self.module, name, None)
            if not callable(original):
                continue
            self.saved[name] = original
            setattr(self.module, name, self._timed(name, original))
        return self

    def _timed(self, name: str, original: Callable) -> Callable:
        def timed(*args, **kwargs):
            start = self.clock()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + self.clock() - start
                self.calls[name] = self.calls.get(name, 0) + 1

        return timed

    def __exit__(self, *exc) -> None:
        for name, original in self.saved.items():
            setattr(self.module, name, original)


def _first_call(func, args, clock) -> float:
    from ad_transform import grad

    g = grad(func, wrt=WRT)
    start = clock()
    g(*args)
    return clock() - start


def run_transform_benchmark(copies: int = 7, clock_name: str = "cpu") -> TransformResult:
    import inspect

    from ad_transform import grad, pipeline

    from .timing import CLOCKS

    clock = CLOCKS[clock_name]

    lines = len(inspect.getsource(pendulum).splitlines())
    first = _first_call(fresh_copy(pendulum), ARGS, clock)

    warm = grad(pendulum, wrt=WRT)
    warm(*ARGS)
    calls = []
    for _ in range(max(copies, 5)):
        start = clock()
        warm(*ARGS)
        calls.append(clock() - start)
    warm_call = statistics.median(calls)

    cold = [
        max(_first_call(fresh_copy(pendulum), ARGS, clock) - warm_call, 0.0) for _ in range(copies)
    ]

    stage_samples: dict[str, list[float]] = {}
    for _ in range(max(copies // 2, 3)):
        with _StageTimers(pipeline, clock) as timers:
            _first_call(fresh_copy(pendulum), ARGS, clock)
        for name, seconds in timers.seconds.items():
            stage_samples.setdefault(name, []).append(seconds)
    stages = {name: statistics.median(s) for name, s in stage_samples.items()}

    # new grad objects for the function `warm` already transformed: their first calls
    with _StageTimers(pipeline, clock) as timers:
        cached_first = statistics.median(_first_call(pendulum, ARGS, clock) for _ in range(5))
    parses = timers.calls.get("parse_function", 0) if "parse_function" in timers.saved else None

    import_cpu_ms, _ = measure_import("import ad_transform")
    return TransformResult(
        lines, first, cold, warm_call, cached_first, parses, stages, import_cpu_ms / 1000
    )
