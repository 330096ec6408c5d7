"""``check_grads``: compare ad_transform's derivatives with finite differences.

Two independent checks, both in float64:

* **finite differences**: ``grad(f, wrt)`` against central differences, element by
  element (when ``f`` returns a scalar), and leaf by leaf for a container argument (a
  dict, list, tuple, named tuple, dataclass or registered type of numbers and arrays);
* **the dot-product test** of ``vjp(f, wrt)``: ``<u, Jᵀv> == <J u, v>`` with a random,
  non-uniform cotangent ``v`` and random directions ``u``; ``J u`` is a central
  difference along ``u``. It works for any output shape.

A failure raises :class:`GradientCheckError` (an ``AssertionError``, so test runners
report it as a failed assertion) whose message is the readable report: the worst
element, its analytic and numerical values and the error allowed.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import pytree

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
    note: str = ""  # instead of the numbers: what was found ("None for a float leaf")
    skipped: bool = False  # not compared (the note says why); does not fail the report

    @property
    def error(self) -> float:
        return abs(self.analytic - self.numeric)

    def __str__(self) -> str:
        status = "skip  " if self.skipped else "ok    " if self.passed else "FAILED"
        if self.note:
            return f"{status} {self.name}: {self.note}"
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

    ``wrt`` (an index, a parameter name, or a tuple or list of them) defaults to every
    argument that is a float, a float array or a container holding one (when none is,
    every number, numeric array and container holding one). For a scalar-valued ``f`` the
    gradient is compared element by element with central differences (step ``eps *
    max(1, |x_i|)``), leaf by leaf for a container argument: every leaf that gets a
    gradient is checked, a float leaf must get one, and any other leaf must get
    ``None``; an integer leaf the function needs as an integer (a count, an index: a
    float there raises ``TypeError``/``IndexError``) cannot be moved and is reported as
    skipped, and the dot-product test moves float leaves only. For any ``f`` (container
    values too) the pullback of ``vjp`` passes the dot-product test with random
    directions from ``rng``. An element passes when
    ``|analytic - numeric| <= atol + rtol * |numeric|`` (the dot-product test scales
    ``rtol`` by the sum of the absolute terms).

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
    if wrt is None:
        positions = _default_positions(args)
        if not positions:
            raise TypeError(
                f"{_name(f)}: no argument is a number, a float array or a container of them "
                "to check"
            )
        chosen = positions[0] if len(positions) == 1 else positions
    else:
        from .api import _wrt_indices

        chosen = _wrt_indices(f, wrt)
        for i in _positions(chosen):
            _require_checkable(f, args, i)
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    report = GradientCheckReport(_name(f))
    if _is_scalar(f(*args)):
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
        if _is_container(args[i]):
            grads.append(_numerical_tree_gradient(f, args, i, eps))
            continue
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
    return grads[0] if _single(wrt) else tuple(grads)


def _numerical_tree_gradient(f: Callable, args: list, i: int, eps: float, which=None):
    """Central differences for the leaves of the container ``args[i]``: a tree shaped
    like it with the gradient of each number and numeric array leaf (``which``: the leaf
    indices to compute, default all of them) and ``None`` at every other leaf."""
    leaves = [leaf for _, leaf in pytree.leaves_with_paths(args[i])]
    found = []
    for k, leaf in enumerate(leaves):
        wanted = _numeric_leaf(leaf) if which is None else k in which
        found.append(_leaf_difference(f, args, i, leaves, k, eps) if wanted else None)
    return pytree.with_leaves(args[i], found, fresh=True)


def _integer_leaf_check(f, args, i, leaves, k, name, g, eps, rtol, atol) -> Check:
    """An integer leaf moved by a float finite difference; where the function needs an
    integer there (a count, an index: ``TypeError``/``IndexError``), the check is
    skipped with a note, since such a leaf cannot be moved."""
    try:
        numeric = _leaf_difference(f, args, i, leaves, k, eps)
    except (TypeError, IndexError) as exc:
        note = (
            f"not checked: the integer {leaves[k]!r} is used as an integer (a count, an "
            f"index), so a finite difference cannot move it ({type(exc).__name__}: {exc})"
        )
        return Check(name, True, math.nan, math.nan, 0.0, note=note, skipped=True)
    return _compare(name, g, numeric, rtol, atol)


def _leaf_difference(f: Callable, args: list, i: int, leaves: list, k: int, eps: float):
    """The central-difference gradient of ``f`` with respect to leaf ``k`` of the
    container ``args[i]`` (the other leaves kept), in float64."""

    def at(value) -> float:
        moved = list(leaves)
        moved[k] = value
        return _scalar_output(f(*_replace(args, i, pytree.with_leaves(args[i], moved))), f)

    x = as_float64(leaves[k])
    if isinstance(x, float):
        h = eps * max(1.0, abs(x))
        return (at(x + h) - at(x - h)) / (2.0 * h)
    g = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(*x.shape):
        h = eps * max(1.0, abs(x[index]))
        shifted = x.copy()
        shifted[index] = x[index] + h
        plus = at(shifted)
        shifted = x.copy()
        shifted[index] = x[index] - h
        g[index] = (plus - at(shifted)) / (2.0 * h)
    return g


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
    analytic_all = (analytic,) if _single(wrt) else tuple(analytic)
    names = _parameter_names(f)
    plain = tuple(i for i in positions if not _is_container(args[i]))
    numeric_plain = numerical_gradient(f, args, plain, eps) if plain else ()
    numeric_of = dict(zip(plain, numeric_plain))
    checks = []
    for i, a in zip(positions, analytic_all, strict=True):
        if _is_container(args[i]):
            checks += _tree_checks(f, list(args), i, a, names, eps, rtol, atol)
        else:
            checks.append(
                _compare(f"gradient wrt {_argument(i, names)}", a, numeric_of[i], rtol, atol)
            )
    return checks


def _tree_checks(
    f: Callable,
    args: list,
    i: int,
    analytic,
    names: list[str],
    eps: float,
    rtol: float,
    atol: float,
) -> list[Check]:
    """The gradient with respect to the container ``args[i]``, leaf by leaf: each leaf
    that got a gradient against central differences; a float leaf must get one (a zero
    at least), a leaf that is not a number or numeric array must get ``None``."""
    argument = _argument(i, names)
    try:
        pairs = pytree.leaf_pairs(args[i], analytic)
    except ValueError as exc:
        return [Check(f"gradient wrt {argument}", False, math.nan, math.nan, 0.0, note=str(exc))]
    leaves = [leaf for _, leaf, _ in pairs]
    checks = []
    for k, (path, leaf, g) in enumerate(pairs):
        name = f"gradient wrt {argument}{path}"
        if g is None:
            if _float_leaf(leaf):
                checks.append(Check(name, False, math.nan, math.nan, 0.0, note="None for a float"))
            continue  # not differentiated: an int kept an int, a string, an object...
        if not _numeric_leaf(leaf):
            note = f"{g!r:.40} for a {type(leaf).__name__} leaf, which has no gradient"
            checks.append(Check(name, False, math.nan, math.nan, 0.0, note=note))
            continue
        if pytree.leaf_is_integer(leaf):
            checks.append(_integer_leaf_check(f, args, i, leaves, k, name, g, eps, rtol, atol))
            continue
        numeric = _leaf_difference(f, args, i, leaves, k, eps)
        checks.append(_compare(name, g, numeric, rtol, atol))
    if not checks:
        note = "no leaf of it is differentiated (every gradient is None)"
        checks.append(Check(f"gradient wrt {argument}", True, 0.0, 0.0, 0.0, note=note))
    return checks


def _compare(name: str, analytic, numeric, rtol: float, atol: float) -> Check:
    """One :class:`Check` of ``analytic`` against ``numeric``, at the worst element."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        return Check(f"{name} has shape {a.shape}, not {n.shape}", False, math.nan, math.nan, 0.0)
    if a.size == 0:  # an empty array: nothing to compare
        return Check(f"{name} (empty)", True, 0.0, 0.0, 0.0)
    excess = np.abs(a - n) - (atol + rtol * np.abs(n))
    excess = np.where(np.isnan(excess), np.inf, excess)  # a NaN on one side fails
    excess = np.where(np.isnan(a) & np.isnan(n), -np.inf, excess)  # both NaN: equal
    worst = np.unravel_index(int(np.argmax(excess)), a.shape) if a.ndim else ()
    return Check(
        name,
        bool(excess[worst] <= 0),
        float(a[worst]),
        float(n[worst]),
        float(atol + rtol * abs(n[worst])),
        f"[{', '.join(map(str, worst))}]" if a.ndim else "",
    )


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
    v_before = _copy(v)
    cotangents = pullback(v)
    all_cotangents = (cotangents,) if _single(wrt) else cotangents
    usable = isinstance(all_cotangents, tuple) and len(all_cotangents) == len(positions)
    plus, minus = list(args), list(args)
    directions, pairs = [], []  # pairs: (direction, cotangent) of each perturbed leaf
    for k, i in enumerate(positions):
        cotangent = all_cotangents[k] if usable else None
        if _is_container(args[i]):
            u, moved = _tree_direction(args[i], cotangent, rng, eps, pairs)
            plus[i], minus[i] = moved
        else:
            u = random_like(args[i], rng)
            x = as_float64(args[i])
            plus[i], minus[i] = x + eps * u, x - eps * u
            pairs.append((u, cotangent))
        directions.append(u)
    lhs = scale = 0.0
    if usable:
        for u, ct in pairs:
            if ct is not None:
                lhs += _inner(u, ct)
                scale += _abs_inner(u, ct)
    else:
        lhs = math.nan
    rhs = 0.0
    for (_, _, v_leaf), (_, _, up), (_, _, down) in zip(
        *(_output_leaves(value, out) for out in (v, f(*plus), f(*minus))), strict=True
    ):
        if v_leaf is not None:
            ju = (np.asarray(up, dtype=np.float64) - np.asarray(down, dtype=np.float64)) / (
                2.0 * eps
            )
            rhs += _inner(ju, v_leaf)
            scale += _abs_inner(ju, v_leaf)
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


def _tree_direction(x, cotangent, rng: np.random.Generator, eps: float, pairs: list):
    """A random direction for the container argument ``x`` (a tree with a standard-normal
    value at each float leaf, and at each other number or numeric array leaf that has a
    cotangent; ``None`` elsewhere), and ``x`` moved by ``+eps`` and ``-eps`` along it.
    Appends ``(direction, cotangent)`` of each moved leaf to ``pairs``."""
    try:
        found = pytree.leaf_pairs(x, cotangent, name="the cotangent")
    except ValueError:
        found = [(path, leaf, None) for path, leaf in pytree.leaves_with_paths(x)]
    directions, up, down = [], [], []
    for _, leaf, ct in found:
        integer = pytree.leaf_is_integer(leaf)  # maybe a count or an index: not moved
        if _float_leaf(leaf) or (_numeric_leaf(leaf) and ct is not None and not integer):
            u = random_like(leaf, rng)
            pairs.append((u, ct))
            directions.append(u)
            up.append(as_float64(leaf) + eps * u)
            down.append(as_float64(leaf) - eps * u)
        else:
            directions.append(None)
            up.append(leaf)
            down.append(leaf)
    moved = (pytree.with_leaves(x, up), pytree.with_leaves(x, down))
    return pytree.with_leaves(x, directions, fresh=True), moved


def _output_leaves(value, out) -> list[tuple]:
    """``(path, leaf, part)``: what ``out`` (a value of ``f``, a cotangent) holds at each
    leaf of ``value``."""
    if not _is_container(value):
        return [("", value, out)]
    return pytree.leaf_pairs(value, out, name="the function's value")


def random_like(value, rng: np.random.Generator):
    """A standard-normal value shaped like ``value`` (a float for a scalar); an array of
    more than one element is never uniform. For a container value, a container of the
    same structure: random at each number or numeric array leaf, ``None`` (a zero
    cotangent) at the others."""
    if _is_container(value):
        return pytree.map_with_path(
            lambda _, leaf: random_like(leaf, rng) if _numeric_leaf(leaf) else None, value
        )
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
def _single(wrt) -> bool:
    return not isinstance(wrt, (tuple, list))


def _positions(wrt) -> tuple[int, ...]:
    if _single(wrt):
        return (operator.index(wrt),)
    return tuple(operator.index(w) for w in wrt)


def _is_container(x) -> bool:
    return x is not None and pytree.is_node(x)


def _float_leaf(x) -> bool:
    if isinstance(x, np.ndarray):
        return x.dtype.kind == "f"
    return isinstance(x, (float, np.floating))


def _numeric_leaf(x) -> bool:
    """A real number or a real numeric array (not a boolean): what can be moved by a
    finite difference."""
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "iuf"
    return isinstance(x, (numbers.Real, np.floating, np.integer)) and not isinstance(
        x, (bool, np.bool_)
    )


def _tree_holds(x, test: Callable) -> bool:
    return any(test(leaf) for _, leaf in pytree.leaves_with_paths(x))


def _default_positions(args: list) -> tuple[int, ...]:
    """The float arguments and containers holding a float leaf; when there is none,
    every number, numeric array and container holding one."""
    for test in (_float_leaf, _numeric_leaf):
        found = tuple(
            i for i, x in enumerate(args) if (_tree_holds(x, test) if _is_container(x) else test(x))
        )
        if found:
            return found
    return ()


def _require_checkable(f: Callable, args: list, i: int) -> None:
    """A ``TypeError`` naming argument ``i`` unless it is a number, a numeric array or a
    container holding one."""
    names = _parameter_names(f)
    if i >= len(args):
        raise TypeError(
            f"check_grads({_name(f)}): wrt names argument {i}, but only {len(args)} "
            f"argument{'s were' if len(args) != 1 else ' was'} given"
        )
    x = args[i]
    if _is_container(x) and _tree_holds(x, _numeric_leaf):
        return
    if not _is_container(x) and _numeric_leaf(x):
        return
    what = (
        f"a {type(x).__name__} with no number or numeric array in it"
        if _is_container(x)
        else f"{type(x).__name__}"
        + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else "")
        + (f" {x!r:.40}" if not isinstance(x, np.ndarray) else "")
    )
    raise TypeError(
        f"check_grads({_name(f)}) cannot check {_argument(i, names)}: it is {what}; it checks "
        "real numbers, real arrays, and dicts, lists, tuples, named tuples, dataclasses and "
        "registered types holding them"
    )


def _is_scalar(value) -> bool:
    return not _is_container(value) and np.ndim(value) == 0


def _copy(value):
    if _is_container(value):
        return pytree.map_with_path(
            lambda _, leaf: np.copy(leaf) if leaf is not None else None, value
        )
    return np.copy(value)


def _scalar_output(out, f: Callable) -> float:
    if _is_container(out):
        raise ValueError(
            f"{_name(f)} must return a scalar for a gradient check, got a {type(out).__name__}"
        )
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
