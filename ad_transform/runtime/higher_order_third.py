"""Runtime helpers of plain derivative code differentiated a third time and more.

- ``held_constant(x, name)``: a value the plain code saved (on its tape, or in the
  tuple its forward half hands to its backward half) that the first analysis proved
  carries no derivative (``held_values.held_constants``). It is registered without
  derivative, so the next analysis knows it does not vary: an axis, a length, a loop
  index or a mask read back stays a constant. It returns ``x`` itself; a number the
  code may have handed on is checked immutable (``strict``), else refused by name.
- ``outer_factor_cotangent``: the transposes of ``outer_factor`` in its two vectors.
- ``in_place_second``: the second partials of ``target op= value`` that the rules of
  ``in_place_adjoint``/``in_place_tangent`` need for ``*=`` and ``/=``.

See docs/architecture/higher_order_third.md.
"""

from __future__ import annotations

import operator

import numpy as np

from ..errors import ADTransformError
from .elementwise import over, times
from .higher_order import to_shape_of

_IMMUTABLE = (int, float, bool, str, bytes, type(None), slice, np.bool_, np.integer, np.floating)


def held_constant(x, name: str = "a value", strict: bool = False):
    """``x``, which the first derivative saved and proved carries no derivative.

    ``strict`` (a number the code may hand on or store): raises ``ADTransformError``
    naming ``name`` where ``x`` is not immutable (a number, text, ``None``, a slice, a
    tuple of them): the proof holds for the value when it was saved, and only then is it
    certainly the same when it is read."""
    if not strict or _immutable(x):
        return x
    raise ADTransformError(
        f"cannot differentiate this derivative again: the value '{name}' its code saved is a "
        f"{type(x).__name__}, which may have changed since; the derivative of the saved "
        "code takes only numbers, text, slices and tuples of them as constants"
    )


def _immutable(value) -> bool:
    if isinstance(value, _IMMUTABLE):
        return True
    return isinstance(value, tuple) and all(_immutable(v) for v in value)


def outer_factor_cotangent(c, g, vector, left: bool, of_vector: bool):
    """The transpose of ``outer_factor(g, like, vector, left)`` applied to the cotangent
    ``c`` (``like``'s shape), in ``g`` or (``of_vector``) in ``vector``, in that argument's
    shape. ``outer_factor`` is ``outer(ravel(g), ravel(vector))`` (``left``) or
    ``outer(ravel(vector), ravel(g))`` reshaped; the transpose of ``u -> outer(u, w)`` is
    ``C -> C @ w``, of ``w -> outer(u, w)`` is ``C -> C.T @ u``."""
    g_flat, v_flat = np.ravel(g), np.ravel(vector)
    rows, columns = (g_flat, v_flat) if left else (v_flat, g_flat)
    matrix = np.reshape(c, (rows.size, columns.size))
    first = of_vector != left  # the cotangent of the rows' vector
    flat = matrix @ columns if first else matrix.T @ rows
    return np.reshape(flat, np.shape(vector if of_vector else g))


def in_place_second(c, g, operation, target, value, ans, which: int, of: int, into: str):
    """A second partial of ``target op= value`` (``runtime.in_place`` on values of unknown
    kinds): ``c * g * d^2 r / d(operand which) d(argument of)``, brought to the shape of
    ``into``: ``"of"`` that argument's (the cotangent of ``in_place_adjoint`` or
    ``in_place_tangent`` in ``target``, ``value`` or ``ans``: ``of`` 0, 1, 2),
    ``"operand"`` the operand's (the tangent of ``in_place_adjoint``), ``"ans"`` the
    result's (the tangent of ``in_place_tangent``).

    ``in_place_adjoint`` multiplies by ``D`` = ``value``, ``target`` (``*=``), ``1/value``,
    ``-ans/value`` (``/=``, ``ans`` a value of its own); the partials of ``D``: ``1`` for
    ``*=`` across the operands, ``-1/value^2`` (``/=``, operand 0, in ``value``),
    ``ans/value^2`` and ``-1/value`` (operand 1, in ``value`` and in ``ans``); 0 otherwise
    and for ``+=``, ``-=``."""
    factor = _second_factor(operation, value, ans, which, of)
    if factor is None:
        return 0.0
    like = {"of": (target, value, ans)[of], "operand": (target, value)[which], "ans": ans}[into]
    return to_shape_of(times(times(c, g), factor), like)


def _second_factor(operation, value, ans, which: int, of: int):
    if operation in (operator.iadd, operator.isub):
        return None
    if operation is operator.imul:
        return 1.0 if of == 1 - which else None
    if operation is operator.itruediv:
        if which == 0:
            return -over(1.0, times(value, value)) if of == 1 else None
        if of == 1:
            return over(ans, times(value, value))
        return -over(1.0, value) if of == 2 else None
    raise ADTransformError(f"cannot differentiate {operation.__name__} in generated code again")
