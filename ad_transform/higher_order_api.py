"""``hvp`` and ``hessian``: second derivatives for users, forward-over-reverse.

``hvp(f, wrt)(*args, v)`` is the Hessian-vector product ``H v``: ``jvp`` of ``grad(f)``,
the forward-mode transformation of the plain gradient code (``higher_order.py``), which
costs a small multiple of one gradient. ``hessian(f, wrt)(*args)`` is the dense Hessian,
one ``H e_j`` per element of the differentiated argument, in JAX's layout: for an
argument of shape ``s`` an array of shape ``s + s`` (a number for a number); for a
tuple ``wrt`` a tuple of tuples of blocks, ``H[i][j]`` of shape ``s_i + s_j``.

Arguments are numbers and float arrays (a container raises ``ADTransformError``); ``f``
returns a real number.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import pytree
from .api import GradientFunction, _wrt_indices
from .errors import ADTransformError
from .forward_api import JVPFunction


def _refuse_containers(what: str, args: tuple, positions: tuple) -> None:
    """``ADTransformError`` for a differentiated argument that is a container (dict,
    list, tuple, dataclass...): second derivatives take numbers and float arrays."""
    for i in positions:
        if i < len(args) and args[i] is not None and pytree.is_node(args[i]):
            raise ADTransformError(
                f"{what}: argument {i} is a {type(args[i]).__name__}; second derivatives "
                "take numbers and float arrays, not containers, for now: pass the leaves as "
                "separate arguments (or one flat array)"
            )


class HVPFunction:
    """``hvp(f, wrt)``: call it as ``hvp_f(*args, v)`` for ``H v`` (a tuple ``v`` of one
    direction per argument, and a tuple result, for a tuple ``wrt``)."""

    ad_transform_derivative = "hvp"

    def __init__(self, func: Callable, wrt=0) -> None:
        self.func = func
        self.wrt = _wrt_indices(func, wrt)
        self._single = isinstance(self.wrt, int)
        positions = (self.wrt,) if self._single else self.wrt
        # row i of H v: the derivative of the i-th gradient in the direction v
        self._rows = [JVPFunction(GradientFunction(func, i), positions) for i in positions]

    def __call__(self, *args):
        if not args:
            raise TypeError("hvp: give the arguments of the function and then the direction v")
        *primals, v = args
        _refuse_containers("hvp", tuple(primals), (self.wrt,) if self._single else self.wrt)
        directions = (v,) if self._single else tuple(v)
        rows = tuple(row(tuple(primals), directions)[1] for row in self._rows)
        return rows[0] if self._single else rows

    @property
    def source(self) -> str:
        """The generated forward-over-reverse code of the latest call (the first row's)."""
        return self._rows[0].source

    def __repr__(self) -> str:
        return f"<hvp({getattr(self.func, '__qualname__', self.func)}, wrt={self.wrt!r})>"


class HessianFunction:
    """``hessian(f, wrt)``: call it like ``f`` for the dense Hessian."""

    ad_transform_derivative = "hessian"

    def __init__(self, func: Callable, wrt=0) -> None:
        self.func = func
        self.wrt = _wrt_indices(func, wrt)
        self._single = isinstance(self.wrt, int)
        self._positions = (self.wrt,) if self._single else self.wrt
        # block (i, j): the derivative of the i-th gradient along argument j
        self._blocks = {
            (i, j): JVPFunction(GradientFunction(func, i), j)
            for i in self._positions
            for j in self._positions
        }

    def __call__(self, *args):
        _refuse_containers("hessian", args, self._positions)
        rows = tuple(
            tuple(self._block(args, i, j) for j in self._positions) for i in self._positions
        )
        return rows[0][0] if self._single else rows

    def _block(self, args: tuple, i: int, j: int):
        """``d/dx_j`` of the gradient for ``x_i``: shape ``s_i + s_j``, one ``jvp`` per
        element of ``x_j`` (a column of the block)."""
        column_of = self._blocks[i, j]
        x = args[j]
        if np.ndim(x) == 0:
            return column_of(args, (1.0,))[1]
        x = np.asarray(x)
        bases = np.eye(x.size, dtype=x.dtype if x.dtype.kind == "f" else np.float64)
        directions = (basis.reshape(x.shape) for basis in bases)
        columns = [np.asarray(c) for c in column_of.tangents_along(args, directions)]
        return np.stack(columns, axis=-1).reshape(columns[0].shape + x.shape)

    @property
    def source(self) -> str:
        """The generated forward-over-reverse code of the latest call (the first block's)."""
        return self._blocks[self._positions[0], self._positions[0]].source

    def __repr__(self) -> str:
        return f"<hessian({getattr(self.func, '__qualname__', self.func)}, wrt={self.wrt!r})>"


def hvp(func: Callable | None = None, wrt=0, *, argnums=None):
    """The Hessian-vector product of a real-valued ``func``: ``hvp(f)(x, v)`` is ``H v``,
    by forward mode over the generated gradient (``jvp(grad(f))``). With other arguments,
    ``hvp(f, wrt=1)(x, y, v)`` differentiates ``y``; a tuple ``wrt`` takes a tuple ``v``
    and returns a tuple (one block row of ``H`` times ``v`` per argument)."""
    wrt = argnums if argnums is not None else wrt
    if func is None:
        return lambda f: hvp(f, wrt)
    return HVPFunction(func, wrt)


def hessian(func: Callable | None = None, wrt=0, *, argnums=None):
    """The dense Hessian of a real-valued ``func`` (JAX's layout: shape ``s + s`` for an
    argument of shape ``s``; a tuple of tuples of blocks for a tuple ``wrt``), one
    Hessian-vector product per element by forward mode over the generated gradient."""
    wrt = argnums if argnums is not None else wrt
    if func is None:
        return lambda f: hessian(f, wrt)
    return HessianFunction(func, wrt)


__all__ = ["HVPFunction", "HessianFunction", "hessian", "hvp"]
