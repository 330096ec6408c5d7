"""``hvp`` and ``hessian``: second derivatives for users, forward-over-reverse.

``hvp(f, wrt)(*args, v)`` is the Hessian-vector product ``H v``: ``jvp`` of ``grad(f)``,
the forward-mode transformation of the plain gradient code (``higher_order.py``), which
costs a small multiple of one gradient. ``hessian(f, wrt)(*args)`` is the dense Hessian,
one ``H e_j`` per element of the differentiated argument, in JAX's layout: for an
argument of shape ``s`` an array of shape ``s + s`` (a number for a number); for a
tuple ``wrt`` a tuple of tuples of blocks, ``H[i][j]`` of shape ``s_i + s_j``.

A differentiated argument may be a container (dict, list, tuple, named tuple, dataclass,
registered type): ``hvp``'s ``v`` then has the argument's structure and so has ``H v``;
``hessian`` nests JAX's way (the gradient's structure outside, then for a tuple ``wrt``
the tuple of arguments, then the argument's structure), with the block of leaves ``a``
and ``b`` of shape ``a.shape + b.shape`` (``jacfwd`` of the gradient) and ``None`` for a
leaf that is not differentiated (an integer, a string). ``f`` returns a real number.
``elementwise_grad(f)`` is the vector-Jacobian product with ones (autograd's name).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import pytree
from .api import GradientFunction, VJPFunction, _wrt_indices
from .errors import ADTransformError
from .forward_api import JVPFunction
from .jacobians import FORWARD, JacobianFunction


def _has_container(args: tuple, positions: tuple) -> bool:
    """Whether a differentiated argument is a container (dict, list, tuple, dataclass...)."""
    return any(i < len(args) and args[i] is not None and pytree.is_node(args[i]) for i in positions)


def _shaped(gradient, args: tuple, wrt):
    """The plain gradient code's result (or its tangent), whose containers are adjoint
    containers (``DictAdjoint``, ``Fields``, sparse items), given the structure and types
    of the differentiated arguments, as ``grad`` returns them (``pytree.gradient_like``)."""
    if isinstance(wrt, int):
        if args[wrt] is None or not pytree.is_node(args[wrt]):
            return gradient
        return pytree.gradient_like(gradient, args[wrt], "", f"argument {wrt}")
    return tuple(_shaped(g, args, i) for g, i in zip(gradient, wrt))


def _without_integer_rows(gradient, args: tuple, wrt):
    """The shaped gradient with the argument's own value at its integer leaves inside
    containers, so that ``jacfwd`` gives those rows ``None`` as it gives the columns
    (``jvp`` does not differentiate integer leaves of containers)."""
    if not isinstance(wrt, int):
        return tuple(_without_integer_rows(g, args, i) for g, i in zip(gradient, wrt))
    if args[wrt] is None or not pytree.is_node(args[wrt]):
        return gradient
    pairs = pytree.leaf_pairs(args[wrt], gradient)
    leaves = [a if pytree.leaf_is_integer(a) else g for _, a, g in pairs]
    return pytree.with_leaves(gradient, leaves, fresh=True)


class _GradientJVP(JVPFunction):
    """``jvp`` of the plain gradient of ``f`` with the value and the tangent shaped like
    the differentiated arguments (for ``jacfwd`` of a gradient: containers in ``hessian``)."""

    def __init__(self, func: Callable, wrt) -> None:
        super().__init__(GradientFunction(func, wrt), wrt)
        self._gradient_wrt = wrt

    def __call__(self, primals, tangents, **kwargs):
        value, tangent = super().__call__(primals, tangents, **kwargs)
        args = tuple(primals)
        value = _shaped(value, args, self._gradient_wrt)
        return _without_integer_rows(value, args, self._gradient_wrt), _shaped(
            tangent, args, self._gradient_wrt
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
        directions = (v,) if self._single else tuple(v)
        primals = tuple(primals)
        positions = (self.wrt,) if self._single else self.wrt
        rows = tuple(
            _shaped(row.tangent(primals, directions), primals, i)
            for row, i in zip(self._rows, positions)
        )
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
        # containers: the forward-mode Jacobian of the gradient, in its nested layout
        self._nested = JacobianFunction(GradientFunction(func, self.wrt), self.wrt, FORWARD)
        self._nested._jvp = _GradientJVP(func, self.wrt)

    def __call__(self, *args):
        if _has_container(args, self._positions):
            return self._nested(*args)
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


class ElementwiseGradFunction:
    """``elementwise_grad(f, wrt)``: call it like ``f`` for ``J^T 1``."""

    ad_transform_derivative = "elementwise_grad"

    def __init__(self, func: Callable, wrt=0) -> None:
        self.func = func
        self.wrt = wrt
        self._vjp = VJPFunction(func, wrt)

    def __call__(self, *args, **kwargs):
        value, pullback = self._vjp(*args, **kwargs)
        return pullback(pytree.tree_map(_ones_like, value))

    @property
    def source(self) -> str:
        """The generated split reverse-mode code (forward sweep and pullback)."""
        return self._vjp.source

    def __repr__(self) -> str:
        name = getattr(self.func, "__qualname__", self.func)
        return f"<elementwise_grad({name}, wrt={self.wrt!r})>"


def _ones_like(leaf):
    """The cotangent 1 for one output leaf: ones of its shape, in its float precision."""
    if isinstance(leaf, np.ndarray):
        if leaf.dtype.kind == "c":
            raise ADTransformError(
                "elementwise_grad: the output is complex; it takes functions with real outputs"
            )
        return np.ones_like(leaf, dtype=leaf.dtype if leaf.dtype.kind == "f" else np.float64)
    if isinstance(leaf, np.floating):
        return type(leaf)(1.0)
    if isinstance(leaf, complex | np.complexfloating):
        raise ADTransformError(
            "elementwise_grad: the output is complex; it takes functions with real outputs"
        )
    return 1.0


def elementwise_grad(func: Callable | None = None, wrt=0, *, argnums=None):
    """autograd's ``elementwise_grad``: the vector-Jacobian product of ``func`` with a
    cotangent of ones shaped like its output, ``J^T 1`` (one forward sweep and one
    pullback, the cost of one gradient). For a function applied elementwise
    (``y[i]`` depends on ``x[i]`` only) this is the array of derivatives ``dy[i]/dx[i]``;
    for any other function it is the gradient of ``sum(f(x))``, not a derivative of each
    output element. ``wrt`` (or ``argnums``) as for :func:`~ad_transform.grad`; a tuple
    ``wrt`` gives a tuple; a container output takes ones at every leaf."""
    wrt = argnums if argnums is not None else wrt
    if func is None:
        return lambda f: elementwise_grad(f, wrt)
    return ElementwiseGradFunction(func, wrt)


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


__all__ = [
    "ElementwiseGradFunction",
    "HVPFunction",
    "HessianFunction",
    "elementwise_grad",
    "hessian",
    "hvp",
]
