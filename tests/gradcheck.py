"""The test suite's gradient checker: :func:`ad_transform.check_grads`' comparisons plus
the contract of gradients the tests also demand.

Everything is computed in float64. Three entry points:

* :func:`numerical_gradient` -- central finite differences, one element at a time
  (``ad_transform.check.numerical_gradient``);
* :func:`check_grad` -- ``grad(f, wrt)`` against :func:`numerical_gradient`
  (``ad_transform.check.finite_difference_check``), plus the type/shape contract of
  gradients (a ``float`` for a Python float, an ndarray of the same shape and a float
  dtype for an ndarray), the absence of aliasing and unchanged inputs;
* :func:`check_vjp_dot_product` -- the dot-product test ``<u, J^T v> == <J u, v>``
  (``ad_transform.check.dot_product_check``) with a random, non-uniform cotangent ``v``
  and a random direction ``u``, plus the value, the cotangents' contract and unchanged
  inputs and ``v``.

The step ``eps`` defaults to 1e-5 (close to the optimal ``cbrt(machine eps)`` of a
central difference), which makes the finite difference accurate to about 1e-10
relative for the smooth O(1) functions used in the tests; ``rtol=1e-6`` leaves a
wide margin above that, while any wrong rule (a missing factor, a sign, a shape
summed wrongly) is off by O(1).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np

from ad_transform import grad
from ad_transform.check import (
    DEFAULT_ATOL,
    DEFAULT_EPS,
    DEFAULT_RTOL,
    GradientCheckError,
    GradientCheckReport,
    dot_product_check,
    finite_difference_check,
    random_like,
)
from ad_transform.check import numerical_gradient as _numerical_gradient

Wrt = int | tuple[int, ...]

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_EPS",
    "DEFAULT_RTOL",
    "check_grad",
    "check_like",
    "check_vjp_dot_product",
    "numerical_gradient",
    "random_like",
]


def numerical_gradient(f: Callable, args: Sequence, wrt: Wrt = 0, eps: float = DEFAULT_EPS):
    """The gradient of the scalar-valued ``f`` at ``args`` by central differences.

    Returns one gradient for an integer ``wrt`` and a tuple for a tuple ``wrt``; each
    is a ``float`` for a scalar argument and a float64 ndarray shaped like an array
    argument. The step for element ``x_i`` is ``eps * max(1, |x_i|)``.
    """
    return _numerical_gradient(f, args, wrt, eps)


def _positions(wrt: Wrt) -> tuple[int, ...]:
    return (wrt,) if isinstance(wrt, int) else tuple(wrt)


def check_like(gradient, argument, what: str = "gradient", others: Sequence = ()) -> None:
    """Assert that ``gradient`` has the type and shape of ``argument``.

    A Python (or NumPy) real scalar argument needs a ``float`` (``np.float64`` is a
    ``float``); an ndarray argument needs a writeable ndarray of the same shape with a
    float dtype, not sharing memory with the argument or any array in ``others``.
    """
    if isinstance(argument, np.ndarray):
        assert isinstance(gradient, np.ndarray), (
            f"{what} of an ndarray{argument.shape} argument is {type(gradient).__name__} "
            f"{gradient!r:.80}, not an ndarray"
        )
        assert gradient.shape == argument.shape, (
            f"{what} has shape {gradient.shape}, its argument {argument.shape}"
        )
        assert gradient.dtype.kind == "f", f"{what} has dtype {gradient.dtype}, not a float"
        assert gradient.flags.writeable, f"{what} is a read-only array (a broadcast view?)"
        for other in (argument, *others):
            if isinstance(other, np.ndarray):
                assert not np.shares_memory(gradient, other), (
                    f"{what} shares memory with an input array"
                )
    else:
        assert isinstance(gradient, float), (
            f"{what} of the {type(argument).__name__} argument {argument!r} is "
            f"{type(gradient).__name__} {gradient!r:.80}, not a float"
        )


def _snapshot(args: Sequence) -> list:
    return [copy.deepcopy(a) for a in args]


def _assert_unchanged(args: Sequence, before: Sequence, f: Callable) -> None:
    for i, (a, b) in enumerate(zip(args, before, strict=True)):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(
                a, b, err_msg=f"argument {i} of {f.__name__} was modified by the gradient code"
            )


def _raise_failures(f: Callable, checks: list, args: Sequence) -> None:
    if not all(c.passed for c in checks):
        report = GradientCheckReport(f"{f.__name__} at {args!r:.200}", checks)
        raise GradientCheckError(report)


def check_grad(
    f: Callable,
    args: Sequence,
    wrt: Wrt = 0,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    eps: float = DEFAULT_EPS,
):
    """Compare ``grad(f, wrt)(*args)`` with central finite differences; return it.

    Also checks that each gradient has the type and shape of its argument, that it does
    not alias an input, and that the inputs are left unchanged.
    """
    before = _snapshot(args)
    analytic = grad(f, wrt=wrt)(*args)
    _assert_unchanged(args, before, f)
    positions = _positions(wrt)
    if isinstance(wrt, int):
        analytic_all = (analytic,)
    else:
        assert isinstance(analytic, tuple) and len(analytic) == len(positions), (
            f"grad({f.__name__}, wrt={wrt}) returned {type(analytic).__name__}, "
            f"not a tuple of {len(positions)} gradients"
        )
        analytic_all = analytic
    for i, a in zip(positions, analytic_all, strict=True):
        check_like(a, args[i], f"gradient of {f.__name__} wrt argument {i}", args)
    _raise_failures(f, finite_difference_check(f, args, wrt, analytic, eps, rtol, atol), args)
    return analytic


def check_vjp_dot_product(
    f: Callable,
    args: Sequence,
    wrt: Wrt = 0,
    rng: np.random.Generator | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    eps: float = DEFAULT_EPS,
) -> None:
    """The dot-product test of ``vjp(f, wrt)``: ``<u, J^T v> == <J u, v>``.

    ``v`` (a standard-normal cotangent shaped like ``f``'s value) and ``u`` (one
    standard-normal direction per ``wrt`` argument) come from ``rng``; ``J u`` is the
    central difference ``(f(x + eps u) - f(x - eps u)) / (2 eps)`` in float64. The
    comparison allows ``atol + rtol * scale`` with ``scale`` the sum of the absolute
    values of the terms of both inner products. Also checks the value, the cotangents'
    types and shapes, and that neither the inputs nor ``v`` are modified or aliased.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    positions = _positions(wrt)
    before = _snapshot(args)
    check, computed = dot_product_check(f, args, wrt, rng, eps, rtol, atol)
    _assert_unchanged(args, before, f)
    value, v, cotangents = computed["value"], computed["v"], computed["cotangents"]
    np.testing.assert_allclose(
        value, f(*args), rtol=1e-12, atol=0, err_msg=f"the value returned by vjp({f.__name__})"
    )
    if np.size(v) > 1:
        assert np.ptp(v) > 0, "the cotangent must not be uniform"
    np.testing.assert_array_equal(
        v, computed["v_before"], err_msg="the pullback modified its cotangent"
    )
    if isinstance(wrt, int):
        cotangents = (cotangents,)
    assert isinstance(cotangents, tuple) and len(cotangents) == len(positions), (
        f"the pullback of {f.__name__} returned {cotangents!r:.80}, not {len(positions)} cotangents"
    )
    for i, ct in zip(positions, cotangents, strict=True):
        check_like(
            ct,
            args[i],
            f"cotangent of {f.__name__} wrt argument {i}",
            [*args, v] if isinstance(v, np.ndarray) else args,
        )
    _raise_failures(f, [check], args)


def same_grad_agrees(
    f: Callable, wrt: Wrt, *calls: Sequence, g=None, rtol: float = 1e-6, atol: float = 1e-9
):
    """One ``grad`` object (``g``, or a new ``grad(f, wrt=wrt)``) called with each argument
    tuple of ``calls`` in turn: each result matches central differences taken in float64
    (``rtol``/``atol``; 2e-3 where an argument is float32) and has its argument's shape, and
    its dtype (float64 for an integer array). Returns the ``grad`` object."""
    g = g or grad(f, wrt=wrt)
    positions = _positions(wrt)
    for args in calls:
        found = g(*args)
        found = (found,) if isinstance(wrt, int) else found
        wide = tuple(a.astype(np.float64) if isinstance(a, np.ndarray) else a for a in args)
        expected = numerical_gradient(f, wide, wrt=positions)
        single = any(a.dtype == np.float32 for a in args if isinstance(a, np.ndarray))
        for k, (d, e) in enumerate(zip(found, expected)):
            argument = args[positions[k]]
            assert np.shape(d) == np.shape(argument)
            if isinstance(argument, np.ndarray):
                floating = argument.dtype.kind == "f"
                assert d.dtype == (argument.dtype if floating else np.float64)
            tolerance = dict(rtol=2e-3, atol=2e-3) if single else dict(rtol=rtol, atol=atol)
            np.testing.assert_allclose(d, e, **tolerance)
    return g
