"""Globals a module's functions assign (``global M; M = ...``): a differentiated function
that reads one may see it change during the call (a helper rebinds it), and its backward
sweep would then read the new value where the forward sweep read the old one. Such reads
are refused by the analysis; the scan reads the functions' bytecode (``STORE_GLOBAL``)."""

from __future__ import annotations

import types

_STORES = frozenset({"STORE_GLOBAL", "DELETE_GLOBAL"})
_ASSIGNED_BY_CODE: dict[types.CodeType, frozenset[str]] = {}


def assigned_by_code(code: types.CodeType) -> frozenset[str]:
    """The global names ``code`` (and the functions and classes defined in it) assign."""
    found = _ASSIGNED_BY_CODE.get(code)
    if found is None:
        import dis

        names = {i.argval for i in dis.get_instructions(code) if i.opname in _STORES}
        for constant in code.co_consts:
            if isinstance(constant, types.CodeType):
                names |= assigned_by_code(constant)
        found = _ASSIGNED_BY_CODE[code] = frozenset(names)
    return found


def assigned_when_called(function: types.FunctionType) -> dict[str, str]:
    """Global name -> the qualified name of the function that assigns it, for ``function``
    and the functions of its module it may call (found by the names its code reads: an
    over-approximation of its calls; methods of the classes it names too)."""
    found: dict[str, str] = {}
    seen: set = set()
    pending = [function]
    while pending:
        current = pending.pop()
        if current.__code__ in seen:
            continue
        seen.add(current.__code__)
        for name in assigned_by_code(current.__code__):
            found.setdefault(name, current.__qualname__)
        namespace = current.__globals__
        for name in _names_read(current.__code__):
            for callee in _functions_of(namespace.get(name)):
                if callee.__globals__ is namespace:
                    pending.append(callee)
    return found


def _names_read(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _names_read(constant)
    return names


def _functions_of(value) -> list[types.FunctionType]:
    if isinstance(value, types.FunctionType):
        return [value]
    if isinstance(value, type):
        members = []
        for member in vars(value).values():
            member = getattr(member, "__func__", member)  # static and class methods
            if isinstance(member, types.FunctionType):
                members.append(member)
        return members
    return []
