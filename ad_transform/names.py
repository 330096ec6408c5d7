"""Deterministic, collision-free names for generated code, and what they are bound to."""

from __future__ import annotations

import types


class NameAllocator:
    """Hands out fresh identifiers that never clash with names already taken.

    Deterministic: the same sequence of requests gives the same names, so the
    generated source is identical from run to run.
    """

    def __init__(self, taken: set[str] = frozenset()) -> None:
        self.taken: set[str] = set(taken)
        self._counters: dict[str, int] = {}

    def reserve(self, name: str) -> None:
        self.taken.add(name)

    def fresh(self, base: str) -> str:
        """``base`` itself if free, else ``base_1``, ``base_2``, ..."""
        if base not in self.taken:
            self.taken.add(base)
            return base
        return self.numbered(base + "_")

    def numbered(self, prefix: str) -> str:
        """The next free ``prefix<N>`` (``v1``, ``v2``, ...)."""
        n = self._counters.get(prefix, 0)
        while True:
            n += 1
            candidate = f"{prefix}{n}"
            if candidate not in self.taken:
                self._counters[prefix] = n
                self.taken.add(candidate)
                return candidate


class Bindings:
    """Names the generated code uses for objects that are not the user's (``np``, helpers).

    A template's ``np`` stays ``np`` when the user's function already means numpy by it,
    and becomes ``np_1`` if the user's ``np`` is something else. Bound objects reach
    the generated function as closure cells, never through the user's globals.
    """

    def __init__(self, names: NameAllocator, user_lookup, user_free: set[str]) -> None:
        self.names = names
        self.user_lookup = user_lookup
        self.user_free = user_free
        self.cells: dict[str, types.CellType] = {}
        self._chosen: dict[tuple[str, int], str] = {}

    def reference(self, name: str, obj: object) -> str:
        """The identifier under which ``obj`` is reachable, preferring ``name``."""
        if name in self.user_free and self.user_lookup(name) is obj:
            return name
        key = (name, id(obj))
        if key not in self._chosen:
            chosen = self.names.fresh(name)
            self.cells[chosen] = types.CellType(obj)
            self._chosen[key] = chosen
        return self._chosen[key]

    def existing(self, name: str, obj: object) -> str | None:
        """The identifier ``obj`` was already bound under by ``reference``, if any."""
        return self._chosen.get((name, id(obj)))

    def bind_cell(self, name: str, cell: types.CellType) -> str:
        """Bind ``cell`` (possibly still empty, for recursion) under a fresh ``name``."""
        for bound_name, existing in self.cells.items():
            if existing is cell:
                return bound_name
        chosen = self.names.fresh(name)
        self.cells[chosen] = cell
        return chosen
