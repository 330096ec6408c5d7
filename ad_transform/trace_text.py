"""How the evaluation trace writes names and values (``trace.py``): the labels ``v3`` and
``v̄3``, values rounded to the digits asked for (arrays and containers shortened), and
the display width of text with combining characters."""

from __future__ import annotations

import copy
import numbers
import re
import unicodedata

import numpy as np

BAR = "\u0304"  # combining macron: v̄


_MISSING = object()


# -- labels --------------------------------------------------------------------------------
def primal_label(index: int) -> str:
    """The textbook name of the ``index``-th value: ``v_-1``, ``v0``, ``v1``, ..."""
    return f"v_{index}" if index < 0 else f"v{index}"


def adjoint_label(label: str) -> str:
    """``v3`` -> ``v̄3``; ``v_-1`` -> ``v̄-1`` (the textbook writes the adjoint so)."""
    if label.startswith("v_"):
        return "v" + BAR + label[2:]
    if label.startswith("v"):
        return "v" + BAR + label[1:]
    return bar(label)


def bar(name: str) -> str:
    """The adjoint of an input: ``x1`` -> ``x̄1``, ``W`` -> ``W̄``; ``∂y/∂name`` for longer
    names (a bar over their first letter would read as another name)."""
    if re.fullmatch(r"[A-Za-z]_?[0-9]*", name):
        return name[:1] + BAR + name[1:]
    return f"∂y/∂{name}"


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal (combining marks take none)."""
    return sum(0 if unicodedata.combining(c) else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - display_width(text), 0)


# -- values --------------------------------------------------------------------------------
def format_value(value: object, digits: int = 3, max_items: int = 6) -> str:
    """A short text for a value: ``2.000``, ``[1.000, 2.000]``, ``<64x10 array>``."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return _format_float(float(value), digits)
    if isinstance(value, numbers.Complex):
        return f"{complex(value):.{digits}g}"
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return format_value(value[()], digits, max_items)
        if value.size <= max_items and value.dtype.kind in "biuf":
            return _format_nested(value.tolist(), digits)
        shape = "x".join(str(n) for n in value.shape)
        return f"<{shape} array>"
    if isinstance(value, (list, tuple)):
        if len(value) <= max_items and all(
            isinstance(v, (numbers.Number, np.generic)) for v in value
        ):
            inner = ", ".join(format_value(v, digits) for v in value)
            return (
                f"({inner}{',' if len(value) == 1 else ''})"
                if isinstance(value, tuple)
                else f"[{inner}]"
            )
        return f"<{type(value).__name__} of {len(value)}>"
    if value is None:
        return "None"
    if all(hasattr(value, a) for a in ("index", "value", "length")):  # a sparse list adjoint
        dense = [value.value if k == value.index else 0.0 for k in range(value.length)]
        return format_value(dense, digits, max_items)
    return f"<{type(value).__name__}>"


def snapshot(value: object) -> object:
    """A copy of a value that later statements may change in place (arrays, lists)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return type(value)(snapshot(v) for v in value) if type(value) is list else copy.copy(value)
    return value


def _format_float(x: float, digits: int) -> str:
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 10.0 ** (-digits)) and np.isfinite(x):
        return f"{x:.{digits}e}"
    return f"{x:.{digits}f}"


def _format_nested(value, digits: int) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_format_nested(v, digits) for v in value) + "]"
    return format_value(value, digits)
