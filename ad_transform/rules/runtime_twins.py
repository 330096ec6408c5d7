"""Differentiable twins of runtime helpers: higher-order rules written as plain NumPy.

A helper the generated first-order code calls needs a rule of its own before that code
can be differentiated again (``higher_order.md``). For a helper whose second derivative
is long to derive by hand (the adjoint of a Cholesky factor, of a solve), a *twin* is
the rule: a function computing the same value from primitives that have adjoint and
tangent rules (``np.linalg.solve``, ``@``, ``np.swapaxes``, products with constant
masks). Where the analysis of plain derivative code meets the helper
(``resolve._call_op``), it calls the twin instead, as it would a user's helper; the twin
is differentiated like user code, to any order its primitives allow.

Twins are compiled from their source here as generated code (``emit.compile_functions``,
registered with ``linecache``, marked plain code), so the analysis reads them as it reads
the plain gradient code that calls them. Each twin must compute the helper's value for
every argument the helper accepts, or raise ``ADTransformError`` naming what it does not
cover (never a different number).
"""

from __future__ import annotations

import functools
import inspect
import textwrap
import types

import numpy as np

from .. import runtime
from ..errors import ADTransformError

_TWINS: dict[object, types.FunctionType] = {}  # runtime helper -> its twin's definition


def twin(helper: object):
    """Declare the decorated function the differentiable twin of ``helper``."""

    def register(definition: types.FunctionType) -> types.FunctionType:
        _TWINS[helper] = definition
        return definition

    return register


def twin_of(helper: object) -> types.FunctionType | None:
    """The compiled twin of ``helper`` (a runtime helper), or None if it has none."""
    try:
        definition = _TWINS.get(helper)
    except TypeError:
        return None
    return None if definition is None else _compiled(definition)


@functools.cache
def _compiled(definition: types.FunctionType) -> types.FunctionType:
    from ..callables import mark_plain_code
    from ..emit import compile_functions

    source = textwrap.dedent(inspect.getsource(definition))
    source = "\n".join(line for line in source.splitlines() if not line.startswith("@"))
    globals_ = {"__builtins__": __builtins__, **_NAMES}
    function = compile_functions(source + "\n", definition.__name__, globals_, {})[
        definition.__name__
    ]
    function.__defaults__ = definition.__defaults__
    mark_plain_code(function)
    function.ad_transform_origin = f"the twin of runtime.{definition.__name__.removesuffix('_twin')}"
    return function


# names the twins read: NumPy and helpers that have rules of their own
_NAMES = {"np": np, "runtime": runtime, "ADTransformError": ADTransformError}


def _lower_half(n):
    """The lower triangle with half the diagonal (``Phi`` of the Cholesky derivatives)."""
    return np.tril(np.ones((n, n))) - 0.5 * np.eye(n)


_NAMES["lower_half"] = _lower_half


# -- decompositions -----------------------------------------------------------------------------
@twin(runtime.cholesky_adjoint)
def cholesky_adjoint_twin(g, ans, a, upper=False):
    if upper:
        L = np.swapaxes(ans, -1, -2)
        gL = np.swapaxes(g, -1, -2)
    else:
        L = ans
        gL = g
    half = lower_half(np.shape(L)[-1])
    Lt = np.swapaxes(L, -1, -2)
    phi = (Lt @ gL) * half
    left = np.linalg.solve(Lt, phi)
    s = np.swapaxes(np.linalg.solve(Lt, np.swapaxes(left, -1, -2)), -1, -2)
    sym = (s + np.swapaxes(s, -1, -2)) * half
    if upper:
        return np.swapaxes(sym, -1, -2)
    return sym
