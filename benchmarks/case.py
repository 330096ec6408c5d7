"""One benchmark case: the record ``cases.py`` and ``cases_applied.py`` fill (its own
module so that either list can be imported first)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Case:
    """One benchmark case: a function, its hand-written gradient and its arguments.

    ``make_args(size)`` builds the arguments for a problem size (the loop length, or the
    dimensions of a network); ``sizes`` gives the size of the full run (``"full"``), of
    ``--quick`` and of the correctness test (``"test"``). ``growing`` lists extra sizes timed as a
    scaling series.
    """

    name: str
    title: str
    forward: Callable
    hand: Callable
    make_args: Callable[[object], tuple]
    wrt: int | tuple[int, ...]
    sizes: dict[str, object]
    kind: str = "scalar"  # "scalar" (Python loop on floats) or "numpy"
    loop: bool = False  # report the memory peak of one gradient call
    growing: tuple[int, ...] = ()
    notes: str = ""
    peers_skip: dict[str, str] = field(default_factory=dict)  # peer -> why it is not run

    def args(self, mode: str = "full") -> tuple:
        return self.make_args(self.sizes[mode])
