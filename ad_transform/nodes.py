"""Small helpers for gast nodes shared by the stages."""

from __future__ import annotations

import gast


def clone(node):
    """A structural copy of a gast node (or list of nodes), custom attributes included.

    Several times faster than ``copy.deepcopy``, which the stages would otherwise call
    for every spliced template and every statement of both sweeps.
    """
    if isinstance(node, list):
        return [clone(item) for item in node]
    if not isinstance(node, gast.AST):
        return node
    new = node.__class__.__new__(node.__class__)
    for key, value in node.__dict__.items():
        new.__dict__[key] = clone(value) if isinstance(value, (list, gast.AST)) else value
    return new
