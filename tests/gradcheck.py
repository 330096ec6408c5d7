"""A reusable gradient checker: finite differences against ``grad`` and ``vjp``.

Everything is computed in float64. Three entry points:

* :func:`numerical_gradient` -- central finite differences, one element at a time;
* :func:`check_grad` -- ``grad(f, wrt)`` against :func:`numerical_gradient`, plus the
  type/shape contract of gradients (a ``float`` for a Python float, an ndarray of the
  same shape and a float dtype for an ndarray) and the absence of aliasing;
* :func:`check_vjp_dot_product` -- the dot-product test ``<u, J^T v> == <J u, v>`` with a
  random, non-uniform cotangent ``v`` and a random direction ``u``; ``J u`` is a central
  finite difference along ``u``.

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

from ad_transform import grad, vjp

Wrt = int | tuple[int, ...]

DEFAULT_EPS = 1e-5
DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-8


def _positions(wrt: Wrt) -> tuple[int, ...]:
    return (wrt,) if isinstance(wrt, int) else tuple(wrt)


def _as_float64(value):
    """``value`` as the float64 type the finite differences work in (a copy for arrays)."""
    if isinstance(value, np.ndarray):
        return np.array(value, dtype=np.float64)
    return float(value)


def _scalar_output(out, f: Callable) -> float:
    if np.ndim(out) != 0:
        raise ValueError(
            f"{f.__name__} must return a scalar for a gradient check, got shape {np.shape(out)}"
        )
    return float(out)


def _replace(args: Sequence, position: int, value) -> list:
    new = list(args)
    new[position] = value
    return new


def numerical_gradient(f: Callable, args: Sequence, wrt: Wrt = 0, eps: float = DEFAULT_EPS):
    """The gradient of the scalar-valued ``f`` at ``args`` by central differences.

    Returns one gradient for an integer ``wrt`` and a tuple for a tuple ``wrt``; each
    is a ``float`` for a scalar argument and a float64 ndarray shaped like an array
    argument. The step for element ``x_i`` is ``eps * max(1, |x_i|)``.
    """
    args = list(args)
    grads = []
    for i in _positions(wrt):
        x = _as_float64(args[i])
        if isinstance(x, float):
            h = eps * max(1.0, abs(x))
            plus = _scalar_output(f(*_replace(args, i, x + h)), f)
            minus = _scalar_output(f(*_replace(args, i, x - h)), f)
            grads.append((plus - minus) / (2.0 * h))
            continue
        g = np.zeros(x.shape, dtype=np.float64)
        for index in np.ndindex(*x.shape):
            h = eps * max(1.0, abs(x[index]))
            shifted = x.copy()
            shifted[index] = x[index] + h
            plus = _scalar_output(f(*_replace(args, i, shifted)), f)
            shifted[index] = x[index] - h
            minus = _scalar_output(f(*_replace(args, i, shifted)), f)
            g[index] = (plus - minus) / (2.0 * h)
        grads.append(g)
    return grads[0] if isinstance(wrt, int) else tuple(grads)


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
    numeric = numerical_gradient(f, args, wrt, eps)
    numeric_all = (numeric,) if isinstance(wrt, int) else numeric
    for i, a, n in zip(positions, analytic_all, numeric_all, strict=True):
        check_like(a, args[i], f"gradient of {f.__name__} wrt argument {i}", args)
        np.testing.assert_allclose(
            np.asarray(a, dtype=np.float64),
            n,
            rtol=rtol,
            atol=atol,
            err_msg=f"gradient of {f.__name__} wrt argument {i} at {args!r}",
        )
    return analytic


def random_like(value, rng: np.random.Generator):
    """A standard-normal value shaped like ``value`` (a float for a scalar)."""
    if np.ndim(value) == 0 and not isinstance(value, np.ndarray):
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(value))


def _inner(a, b) -> float:
    return float(np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)))


def _abs_inner(a, b) -> float:
    return float(np.sum(np.abs(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64))))


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
    value, pullback = vjp(f, wrt=wrt)(*args)
    _assert_unchanged(args, before, f)
    expected = f(*args)
    np.testing.assert_allclose(
        value, expected, rtol=1e-12, atol=0, err_msg=f"the value returned by vjp({f.__name__})"
    )
    v = random_like(value, rng)
    if np.size(v) > 1:
        assert np.ptp(v) > 0, "the cotangent must not be uniform"
    v_before = copy.deepcopy(v)
    cotangents = pullback(v)
    np.testing.assert_array_equal(v, v_before, err_msg="the pullback modified its cotangent")
    if isinstance(wrt, int):
        cotangents = (cotangents,)
    assert isinstance(cotangents, tuple) and len(cotangents) == len(positions), (
        f"the pullback of {f.__name__} returned {cotangents!r:.80}, not {len(positions)} cotangents"
    )

    directions = [random_like(args[i], rng) for i in positions]
    plus, minus = list(args), list(args)
    for i, u in zip(positions, directions, strict=True):
        x = _as_float64(args[i])
        plus[i] = x + eps * u
        minus[i] = x - eps * u
    ju = (np.asarray(f(*plus), dtype=np.float64) - np.asarray(f(*minus), dtype=np.float64)) / (
        2.0 * eps
    )

    lhs = scale = 0.0
    for i, u, ct in zip(positions, directions, cotangents, strict=True):
        check_like(
            ct,
            args[i],
            f"cotangent of {f.__name__} wrt argument {i}",
            [*args, v] if isinstance(v, np.ndarray) else args,
        )
        lhs += _inner(u, ct)
        scale += _abs_inner(u, ct)
    rhs = _inner(ju, v)
    scale += _abs_inner(ju, v)
    assert abs(lhs - rhs) <= atol + rtol * scale, (
        f"dot-product test of {f.__name__} wrt {wrt} failed: <u, J^T v> = {lhs!r}, "
        f"<J u, v> = {rhs!r} (difference {abs(lhs - rhs):.3g}, allowed "
        f"{atol + rtol * scale:.3g}) at {args!r}"
    )
