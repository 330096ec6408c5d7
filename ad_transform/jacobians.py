"""Dense Jacobians: ``jacfwd`` (columns by forward mode), ``jacrev`` (rows by reverse mode)
and ``jacobian`` (whichever needs fewer sweeps).

Built on the generated code of :func:`~ad_transform.jvp` and :func:`~ad_transform.vjp`:
``jacfwd`` calls the forward-mode function once per element of the differentiated
arguments (the tangent is that basis vector), ``jacrev`` runs the forward sweep once and
calls the pullback once per element of the output (the cotangent is that basis vector).

Layout (JAX's): for an array output of shape ``S`` and an array argument of shape ``T``
the Jacobian has shape ``S + T`` (``J[i, j] = d out[i] / d arg[j]``); a number has shape
``()``, and a 0-d Jacobian is returned as a NumPy scalar. With ``wrt`` a tuple there is
one Jacobian per argument, in a tuple. Containers nest: the output's structure outside,
then (with a tuple ``wrt``) the tuple of arguments, then each argument's structure, and
at each pair of leaves the array of shape ``out_leaf.shape + arg_leaf.shape``. A leaf
that is not differentiated (an integer, a string, a flag inside a container argument or
the output) has ``None`` there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from . import pytree
from .api import VJPFunction, Wrt
from .forward_api import JVPFunction

__all__ = ["jacfwd", "jacobian", "jacrev"]

FORWARD, REVERSE = "forward", "reverse"


class _Leaf:
    """A differentiable leaf of the inputs or the output: where it is, its shape and the
    float dtype of its derivatives."""

    def __init__(self, value) -> None:
        self.shape = np.shape(value)
        self.size = int(np.prod(self.shape, dtype=np.int64))
        kind = np.asarray(value).dtype
        self.dtype = kind if kind.kind == "f" else np.dtype(np.float64)

    def basis(self, index: int):
        """The ``index``-th basis vector shaped like the leaf (a float for a number)."""
        if not self.shape:
            return self.dtype.type(1.0) if self.dtype != np.float64 else 1.0
        e = np.zeros(self.shape, dtype=self.dtype)
        e.flat[index] = 1.0
        return e

    def zero(self):
        return np.zeros(self.shape, dtype=self.dtype) if self.shape else 0.0


def _leaves(tree) -> list:
    """The leaves of ``tree`` in order: a :class:`_Leaf` where differentiable, else None."""
    if tree is not None and pytree.is_node(tree):
        values = [leaf for _, leaf in pytree.leaves_with_paths(tree)]
    else:
        values = [tree]
    return [_Leaf(v) if _differentiable(v) else None for v in values]


def _differentiable(value) -> bool:
    """A number or a numeric array (an integer is differentiated as a float at the top
    level, as ``grad`` does; inside containers only float leaves are)."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "fiu"
    return isinstance(value, (int, float, np.integer, np.floating))


def _container_leaves(tree) -> list:
    """Like :func:`_leaves`, inside a container only float leaves (integer leaves, which
    ``grad`` differentiates as floats and ``jvp`` does not, get ``None`` in both modes)."""
    if tree is not None and pytree.is_node(tree):
        return [
            _Leaf(v) if pytree.is_differentiable_leaf(v) and not pytree.leaf_is_integer(v) else None
            for _, v in pytree.leaves_with_paths(tree)
        ]
    return _leaves(tree)


def _like(tree, leaves: list):
    """``leaves`` placed in ``tree``'s structure (the leaf itself for a non-container)."""
    if tree is not None and pytree.is_node(tree):
        return pytree.with_leaves(tree, leaves, fresh=True)
    return leaves[0]


def _as_result(array):
    return array[()] if isinstance(array, np.ndarray) and array.ndim == 0 else array


class JacobianFunction:
    """``jacfwd(f, wrt)``, ``jacrev(f, wrt)``, ``jacobian(f, wrt)``: call it like ``f``."""

    def __init__(self, func: Callable, wrt: Wrt, mode: str | None) -> None:
        functools.update_wrapper(self, func, updated=())
        self.func = func
        self.wrt = wrt
        self.mode = mode  # None: chosen per call (``jacobian``)
        self._jvp = JVPFunction(func, wrt)
        self._vjp = VJPFunction(func, wrt)
        self._single = not isinstance(self._jvp.wrt, tuple)
        self.last_mode: str | None = None  # the mode the latest call used

    def __call__(self, *args, **kwargs):
        bound, _ = self._jvp._bind(args, kwargs)
        prepared = self._jvp._prepare(bound)
        arguments = [prepared[i] for i in self._jvp._positions]
        inputs = [_container_leaves(a) for a in arguments]
        mode = self.mode
        if mode == FORWARD:
            return self._forward(args, kwargs, arguments, inputs)
        value, pullback = self._vjp(*args, **kwargs)
        if mode is None:
            size_in = sum(leaf.size for leaves in inputs for leaf in leaves if leaf)
            size_out = sum(leaf.size for leaf in _container_leaves(value) if leaf)
            if size_in < size_out:
                return self._forward(args, kwargs, arguments, inputs)
        return self._reverse(value, pullback, arguments, inputs)

    # -- forward mode: one column per basis vector of the inputs ---------------------------
    def _forward(self, args, kwargs, arguments: list, inputs: list):
        self.last_mode = FORWARD
        zeros = [[leaf.zero() if leaf else 0.0 for leaf in leaves] for leaves in inputs]
        blocks = None  # [output leaf][argument][input leaf] -> array
        value = None
        for a, leaves in enumerate(inputs):
            for j, leaf in enumerate(leaves):
                if leaf is None:
                    continue
                for k in range(leaf.size):
                    directions = [list(z) for z in zeros]
                    directions[a][j] = leaf.basis(k)
                    tangents = tuple(
                        _like(argument, d) for argument, d in zip(arguments, directions)
                    )
                    value, tangent = self._jvp(args, tangents, **kwargs)
                    outputs = _container_leaves(value)
                    if blocks is None:
                        blocks = self._empty_blocks(outputs, inputs)
                    columns = _output_parts(value, tangent)
                    for o, out in enumerate(outputs):
                        if out is not None:
                            block = blocks[o][a][j]
                            block.reshape(out.size, leaf.size)[:, k] = np.ravel(columns[o])
        if blocks is None:  # no differentiable input element: the output still has a shape
            value = self.func(*args, **kwargs)
            blocks = self._empty_blocks(_container_leaves(value), inputs)
        return self._assemble(value, arguments, inputs, blocks)

    # -- reverse mode: one row per basis vector of the output ------------------------------
    def _reverse(self, value, pullback, arguments: list, inputs: list):
        self.last_mode = REVERSE
        outputs = _container_leaves(value)
        blocks = self._empty_blocks(outputs, inputs)
        zeros = [out.zero() if out else 0.0 for out in outputs]
        for o, out in enumerate(outputs):
            if out is None:
                continue
            for m in range(out.size):
                seed = list(zeros)
                seed[o] = out.basis(m)
                gradients = pullback(_like(value, seed))
                if self._single:
                    gradients = (gradients,)
                for a, (argument, leaves) in enumerate(zip(arguments, inputs)):
                    parts = _input_parts(argument, gradients[a], len(leaves))
                    for j, leaf in enumerate(leaves):
                        if leaf is not None:
                            row = np.zeros(leaf.shape) if parts[j] is None else parts[j]
                            block = blocks[o][a][j]
                            block.reshape(out.size, leaf.size)[m, :] = np.ravel(row)
        return self._assemble(value, arguments, inputs, blocks)

    # -- layout ------------------------------------------------------------------------------
    @staticmethod
    def _empty_blocks(outputs: list, inputs: list) -> list:
        return [
            [
                [
                    np.zeros(out.shape + leaf.shape, np.result_type(out.dtype, leaf.dtype))
                    if out is not None and leaf is not None
                    else None
                    for leaf in leaves
                ]
                for leaves in inputs
            ]
            for out in outputs
        ]

    def _assemble(self, value, arguments: list, inputs: list, blocks: list):
        per_output = []
        for row in blocks:
            per_argument = [
                _like(argument, [_as_result(b) if b is not None else None for b in parts])
                for argument, parts in zip(arguments, row)
            ]
            per_output.append(per_argument[0] if self._single else tuple(per_argument))
        return _like(value, per_output)

    @property
    def source(self) -> str:
        """The generated code the Jacobian runs: the forward-mode function for ``jacfwd``,
        the split reverse-mode function (forward sweep and pullback) otherwise."""
        return self._jvp.source if self.mode == FORWARD else self._vjp.source

    def __repr__(self) -> str:
        name = {FORWARD: "jacfwd", REVERSE: "jacrev", None: "jacobian"}[self.mode]
        return f"<{name}({self.func.__qualname__}, wrt={self.wrt!r})>"


def _output_parts(value, tangent) -> list:
    """The tangent's parts at the output's leaves (zeros where the tangent has none)."""
    if value is not None and pytree.is_node(value):
        pairs = pytree.leaf_pairs(value, tangent, name="the tangent")
        return [part if part is not None else 0.0 for _, _, part in pairs]
    return [tangent]


def _input_parts(argument, gradient, count: int) -> list:
    """A gradient's parts at the argument's leaves (None where it has none)."""
    if argument is not None and pytree.is_node(argument):
        if gradient is None:
            return [None] * count
        return [part for _, _, part in pytree.leaf_pairs(argument, gradient)]
    return [gradient]


def _make(mode: str | None, func, wrt, argnums):
    if wrt is not None and argnums is not None:
        raise TypeError("give wrt or argnums (another name for it), not both")
    wrt = argnums if wrt is None else wrt
    wrt = 0 if wrt is None else wrt
    if func is None:
        return lambda f: JacobianFunction(f, wrt, mode)
    return JacobianFunction(func, wrt, mode)


def jacfwd(func: Callable | None = None, wrt: Wrt | None = None, *, argnums: Wrt | None = None):
    """The Jacobian of ``func`` by forward mode: one ``jvp`` per element of the
    differentiated arguments (each basis vector as the tangent).

    ``jacfwd(f)(x)`` for ``f`` from shape ``T`` to shape ``S`` is the array of shape
    ``S + T`` with ``J[i, j] = d f(x)[i] / d x[j]`` (JAX's layout; a number has shape
    ``()``). ``wrt`` (or ``argnums``): an argument index or name, or a tuple of them (then
    a tuple of Jacobians). Containers in and out nest as the module docstring says.
    Best when the arguments have fewer elements than the output.
    """
    return _make(FORWARD, func, wrt, argnums)


def jacrev(func: Callable | None = None, wrt: Wrt | None = None, *, argnums: Wrt | None = None):
    """The Jacobian of ``func`` by reverse mode: one forward sweep, then one pullback per
    element of the output (each basis vector as the cotangent). Same arguments and
    layout as :func:`jacfwd`; best when the output has fewer elements than the
    arguments."""
    return _make(REVERSE, func, wrt, argnums)


def jacobian(func: Callable | None = None, wrt: Wrt | None = None, *, argnums: Wrt | None = None):
    """The Jacobian of ``func``, by forward mode when the differentiated arguments have
    fewer elements than the output, else by reverse mode (a tie: reverse). The output's
    size is known after one forward sweep, which reverse mode then uses. Same arguments
    and layout as :func:`jacfwd` (JAX's ``jacobian`` is always reverse mode)."""
    return _make(None, func, wrt, argnums)


for _transform in (jacfwd, jacrev, jacobian):
    _transform.ad_transform_transform = _transform.__name__  # callables.is_transform
