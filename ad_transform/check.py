"""``check_grads``: compare ad_transform's derivatives with finite differences.

Two independent checks, both in float64:

* **finite differences**: ``grad(f, wrt)`` against central differences, element by
  element (when ``f`` returns a scalar);
* **the dot-product test** of ``vjp(f, wrt)``: ``<u, Jᵀv> == <J u, v>`` with a random,
  non-uniform cotangent ``v`` and random directions ``u``; ``J u`` is a central
  difference along ``u``. It works for any output shape.

A failure raises :class:`GradientCheckError` (an ``AssertionError``, so test runners
report it as a failed assertion) whose message is the readable report: the worst
element, its analytic and numerical values and the error allowed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

DEFAULT_EPS = 1e-5  # near cbrt(machine epsilon): central differences good to ~1e-10
DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-8

__all__ = [
    "GradientCheckError",
    "GradientCheckReport",
    "check_grads",
    "dot_product_check",
    "finite_difference_check",
    "numerical_gradient",
]


class GradientCheckError(AssertionError):
    """A derivative disagrees with finite differences; ``report`` says where and by how much."""

    def __init__(self, report: GradientCheckReport) -> None:
        super().__init__(str(report))
        self.report = report


@dataclass
class Check:
    """One comparison: ``analytic`` against ``numeric`` at the worst element."""

    name: str  # "gradient wrt argument 1 (x)", "dot-product test wrt (0, 1)"
    passed: bool
    analytic: float
    numeric: float
    allowed: float
    where: str = ""  # the worst element: "[2, 0]", "" for a scalar
    elementwise: bool = True  # False: one number a side (the dot-product test)

    @property
    def error(self) -> float:
        return abs(self.analytic - self.numeric)

    def __str__(self) -> str:
        status = "ok    " if self.passed else "FAILED"
        at = f" at element {self.where}" if self.where else ""
        worst = f"worst{at}: " if self.elementwise else ""
        return (
            f"{status} {self.name}: {worst}ad_transform {self.analytic!r}, "
            f"finite differences {self.numeric!r}, error {self.error:.3g} "
            f"(allowed {self.allowed:.3g})"
        )


@dataclass
class GradientCheckReport:
    """What :func:`check_grads` compared; ``str()`` is one line per check."""

    function: str
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        lines = [f"gradient check of {self.function}: {verdict}"]
        lines += [f"  {c}" for c in self.checks]
        return "\n".join(lines)


def check_grads(
    f: Callable,
    args: Sequence,
    order: int = 1,
    modes: Sequence[str] = ("rev",),
    *,
    wrt: int | tuple[int, ...] | None = None,
    eps: float = DEFAULT_EPS,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    rng: np.random.Generator | int | None = 0,
) -> GradientCheckReport:
    """Check ad_transform's reverse-mode derivatives of ``f`` at ``args``.

    ``wrt`` defaults to every argument that is a float or a float array (when none is,
    every number and numeric array). For a scalar-valued ``f`` the gradient is compared
    element by element with central differences (step ``eps * max(1, |x_i|)``); for any
    ``f`` the pullback of ``vjp`` passes the dot-product test with random directions
    from ``rng``. An element passes when ``|analytic - numeric| <= atol + rtol *
    |numeric|`` (the dot-product test scales ``rtol`` by the sum of the absolute terms).

    Returns the :class:`GradientCheckReport` when every check passes; raises
    :class:`GradientCheckError` (an ``AssertionError`` carrying the report) otherwise.
    ``order`` must be 1 and ``modes`` ``("rev",)``: ad_transform has no higher-order or
    forward mode yet, and saying so beats checking less than asked.
    """
    if order != 1:
        raise ValueError(
            f"order={order}: only first derivatives can be checked; ad_transform does not "
            "support higher-order derivatives yet"
        )
    unknown = [m for m in modes if m != "rev"]
    if unknown or not modes:
        raise ValueError(f"modes={tuple(modes)!r}: ad_transform has reverse mode only, ('rev',)")
    args = list(args)
    positions = _default_positions(args) if wrt is None else _positions(wrt)
    if not positions:
        raise TypeError(f"{_name(f)}: no argument is a number or a float array to check")
    if wrt is None:
        chosen = positions[0] if len(positions) == 1 else positions
    else:
        chosen = wrt
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    report = GradientCheckReport(_name(f))
    if np.ndim(f(*args)) == 0:
        from .api import grad

        analytic = grad(f, wrt=chosen)(*args)
        report.checks += finite_difference_check(f, args, chosen, analytic, eps, rtol, atol)
    report.checks.append(dot_product_check(f, args, chosen, generator, eps, rtol, atol)[0])
    if not report.passed:
        raise GradientCheckError(report)
    return report


def numerical_gradient(f: Callable, args: Sequence, wrt=0, eps: float = DEFAULT_EPS):
    """The gradient of the scalar-valued ``f`` at ``args`` by central differences.

    One gradient for an integer ``wrt``, a tuple for a tuple; each is a ``float`` for a
    scalar argument and a float64 ndarray shaped like an array argument. The step for
    element ``x_i`` is ``eps * max(1, |x_i|)``.
    """
    args = list(args)
    grads = []
    for i in _positions(wrt):
        x = as_float64(args[i])
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


def finite_difference_check(
    f: Callable,
    args: Sequence,
    wrt,
    analytic,
    eps: float = DEFAULT_EPS,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> list[Check]:
    """``analytic`` (what ``grad(f, wrt)`` returned) against central differences: one
    :class:`Check` per ``wrt`` argument, at its worst element."""
    positions = _positions(wrt)
    analytic_all = (analytic,) if isinstance(wrt, int) else tuple(analytic)
    numeric = numerical_gradient(f, args, wrt, eps)
    numeric_all = (numeric,) if isinstance(wrt, int) else numeric
    names = _parameter_names(f)
    checks = []
    for i, a, n in zip(positions, analytic_all, numeric_all, strict=True):
        a = np.asarray(a, dtype=np.float64)
        n = np.asarray(n, dtype=np.float64)
        if a.shape != n.shape:
            name = f"gradient wrt {_argument(i, names)} has shape {a.shape}, not {n.shape}"
            checks.append(Check(name, False, math.nan, math.nan, 0.0))
            continue
        if a.size == 0:  # an empty array: nothing to compare
            checks.append(Check(f"gradient wrt {_argument(i, names)} (empty)", True, 0.0, 0.0, 0.0))
            continue
        excess = np.abs(a - n) - (atol + rtol * np.abs(n))
        excess = np.where(np.isnan(excess), np.inf, excess)  # a NaN on one side fails
        excess = np.where(np.isnan(a) & np.isnan(n), -np.inf, excess)  # both NaN: equal
        worst = np.unravel_index(int(np.argmax(excess)), a.shape) if a.ndim else ()
        checks.append(
            Check(
                f"gradient wrt {_argument(i, names)}",
                bool(excess[worst] <= 0),
                float(a[worst]),
                float(n[worst]),
                float(atol + rtol * abs(n[worst])),
                f"[{', '.join(map(str, worst))}]" if a.ndim else "",
            )
        )
    return checks


def dot_product_check(
    f: Callable,
    args: Sequence,
    wrt,
    rng: np.random.Generator,
    eps: float = DEFAULT_EPS,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> tuple[Check, dict]:
    """The dot-product test of ``vjp(f, wrt)`` at ``args``: ``<u, Jᵀv>`` against
    ``<J u, v>``. Returns the :class:`Check` and what was computed (``value``, ``v``,
    ``v_before``, ``cotangents``, ``pullback``, ``directions``), for callers that
    check more."""
    from .api import vjp

    positions = _positions(wrt)
    value, pullback = vjp(f, wrt=wrt)(*args)
    v = random_like(value, rng)
    v_before = np.copy(v)
    cotangents = pullback(v)
    all_cotangents = (cotangents,) if isinstance(wrt, int) else cotangents
    directions = [random_like(args[i], rng) for i in positions]
    plus, minus = list(args), list(args)
    for i, u in zip(positions, directions, strict=True):
        x = as_float64(args[i])
        plus[i] = x + eps * u
        minus[i] = x - eps * u
    ju = (np.asarray(f(*plus), dtype=np.float64) - np.asarray(f(*minus), dtype=np.float64)) / (
        2.0 * eps
    )
    lhs = scale = 0.0
    if isinstance(all_cotangents, tuple) and len(all_cotangents) == len(positions):
        for u, ct in zip(directions, all_cotangents, strict=True):
            lhs += _inner(u, ct)
            scale += _abs_inner(u, ct)
    else:
        lhs = math.nan
    rhs = _inner(ju, v)
    scale += _abs_inner(ju, v)
    allowed = atol + rtol * scale
    check = Check(
        f"dot-product test <u, Jᵀv> = <J u, v> wrt {_wrt_text(wrt, _parameter_names(f))}",
        bool(abs(lhs - rhs) <= allowed),
        lhs,
        rhs,
        allowed,
        elementwise=False,
    )
    computed = {
        "value": value,
        "v": v,
        "v_before": v_before,
        "cotangents": cotangents,
        "pullback": pullback,
        "directions": directions,
    }
    return check, computed


def random_like(value, rng: np.random.Generator):
    """A standard-normal value shaped like ``value`` (a float for a scalar); an array of
    more than one element is never uniform."""
    if np.ndim(value) == 0 and not isinstance(value, np.ndarray):
        return float(rng.standard_normal())
    drawn = rng.standard_normal(np.shape(value))
    while drawn.size > 1 and np.ptp(drawn) == 0:  # pragma: no cover - probability 0
        drawn = rng.standard_normal(np.shape(value))
    return drawn


def as_float64(value):
    """``value`` as the float64 type the finite differences work in (a copy for arrays)."""
    if isinstance(value, np.ndarray):
        return np.array(value, dtype=np.float64)
    return float(value)


# -- small helpers ---------------------------------------------------------------------------
def _positions(wrt) -> tuple[int, ...]:
    return (wrt,) if isinstance(wrt, int) else tuple(wrt)


def _default_positions(args: list) -> tuple[int, ...]:
    from .trace import default_wrt

    return tuple(default_wrt(args))


def _scalar_output(out, f: Callable) -> float:
    if np.ndim(out) != 0:
        raise ValueError(
            f"{_name(f)} must return a scalar for a gradient check, got shape {np.shape(out)}"
        )
    return float(out)


def _replace(args: Sequence, position: int, value) -> list:
    new = list(args)
    new[position] = value
    return new


def _inner(a, b) -> float:
    return float(np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)))


def _abs_inner(a, b) -> float:
    return float(np.sum(np.abs(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64))))


def _name(f: Callable) -> str:
    return getattr(f, "__name__", repr(f))


def _parameter_names(f: Callable) -> list[str]:
    code = getattr(f, "__code__", None)
    return list(code.co_varnames[: code.co_argcount]) if code is not None else []


def _argument(i: int, names: list[str]) -> str:
    return f"argument {i} ({names[i]})" if i < len(names) else f"argument {i}"


def _wrt_text(wrt, names: list[str]) -> str:
    return ", ".join(_argument(i, names) for i in _positions(wrt))
