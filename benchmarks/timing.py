"""Timing: medians of repeated measurements, contenders interleaved.

Like ``timeit``: each measurement runs a contender ``number`` times in a tight loop with
the garbage collector off and divides; ``number`` is calibrated once per contender so
that a measurement lasts at least ``min_time`` (``timeit.Timer.autorange``'s 1, 2, 5,
10, ... sequence). Then ``repeat`` rounds are run; in each round every contender is
measured once, in an order rotated from round to round, so that a slow drift of the
machine (another process on this shared 2-core box, frequency changes) touches all
contenders alike. The result per contender is the median over rounds, with the
quartiles to show the spread. The clock is by default the process's CPU time (see
``CLOCKS``).
"""

from __future__ import annotations

import gc
import itertools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# "cpu": the CPU time of this process (all its threads). Time during which another
# process has the core does not count, which makes the numbers usable on a busy shared
# machine (with one thread per library it equals the wall time of an idle machine).
# "wall": time.perf_counter, for a quiet machine or multi-threaded libraries.
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


@dataclass
class Timing:
    """Seconds per call: the median over rounds, quartiles, and how it was measured."""

    median: float
    q1: float
    q3: float
    number: int  # calls per measurement
    samples: dict[int, float] = field(default_factory=dict)  # round -> seconds per call

    @property
    def rounds(self) -> int:
        return len(self.samples)

    @property
    def spread(self) -> float:
        """The interquartile range relative to the median."""
        return (self.q3 - self.q1) / self.median if self.median > 0 else 0.0


def _measure(func: Callable[[], object], number: int, clock: Callable[[], float]) -> float:
    """Seconds per call of ``number`` back-to-back calls, the collector off."""
    repeat = itertools.repeat(None, number)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = clock()
        for _ in repeat:
            func()
        elapsed = clock() - start
    finally:
        if gc_was_enabled:
            gc.enable()
    return elapsed / number


def calibrate(
    func: Callable[[], object], min_time: float, clock: Callable[[], float] = time.perf_counter
) -> tuple[int, float]:
    """The smallest ``number`` in 1, 2, 5, 10, 20, ... whose measurement takes
    ``min_time``, and the time per call seen at that number."""
    number = 1
    while True:
        for factor in (1, 2, 5):
            n = number * factor
            per_call = _measure(func, n, clock)
            if per_call * n >= min_time:
                return n, per_call
        number *= 10


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, statistics.median(values), q3


def time_interleaved(
    contenders: dict[str, Callable[[], object]],
    repeat: int,
    min_time: float,
    max_seconds: float | None = None,
    clock: str = "cpu",
) -> dict[str, Timing]:
    """Median seconds per call of each contender, measured in interleaved rounds.

    A contender whose single call already takes longer than ``max_seconds`` is measured
    in only three rounds (or ``repeat`` if smaller): still a median, and the run stays
    short when a peer is a thousand times slower than the rest.
    """
    timer = CLOCKS[clock]
    names = list(contenders)
    numbers: dict[str, int] = {}
    rounds: dict[str, int] = {}
    for name in names:
        numbers[name], per_call = calibrate(contenders[name], min_time, timer)
        slow = max_seconds is not None and per_call > max_seconds
        rounds[name] = min(repeat, 3) if slow else repeat
    samples: dict[str, dict[int, float]] = {name: {} for name in names}
    for r in range(repeat):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            if len(samples[name]) < rounds[name]:
                samples[name][r] = _measure(contenders[name], numbers[name], timer)
    result = {}
    for name in names:
        q1, median, q3 = _quartiles(list(samples[name].values()))
        result[name] = Timing(median, q1, q3, numbers[name], samples[name])
    return result


def paired_ratio(a: Timing, b: Timing) -> float:
    """``a``'s time over ``b``'s: the median of the ratios within each round both were
    measured in (back to back, so under the same load), or of the medians if they
    share fewer than three rounds."""
    common = sorted(a.samples.keys() & b.samples.keys())
    if len(common) >= 3:
        return statistics.median(a.samples[r] / b.samples[r] for r in common)
    return a.median / b.median
