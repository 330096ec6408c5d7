"""The construct matrix of issue 12: every entry's gradient against finite differences.

Each entry of ``construct_matrix.MATRIX`` (one small function per Python construct) is
differentiated with ``value_and_grad``, ``grad`` and ``vjp`` at each of its points (taken and
not-taken paths, empty and non-empty iterables) and compared with central finite
differences in float64 (``gradcheck.numerical_gradient``); the value must be the
function's value, each gradient must have its argument's type and shape. At the points
where the function itself raises, the gradient must raise the same exception type.

``NOT_YET`` lists the entries that are not supported on main yet (entry -> family):
they are expected to fail with ``ADTransformError`` only (``xfail(strict=True,
raises=ADTransformError)``), so a wrong number or a crash still fails, and an entry
that starts to pass fails too (XPASS, strict) until its line is deleted here. Delete
the lines of a family when its part merges.

``test_refused_constructs`` lists the generator, ``async`` and ``exec``/``eval`` cases
that must stay refused. ``pytest -s`` prints a per-family summary (also
``python tests/construct_matrix_report.py``).
"""

from __future__ import annotations

import math
from collections import Counter

import construct_matrix
import numpy as np
import pytest
from construct_matrix import FAMILIES, MATRIX, REFUSED, Entry
from gradcheck import check_like, numerical_gradient

from ad_transform import ADTransformError, grad, value_and_grad, vjp

# Entries not supported on main yet: entry name -> family. Delete lines as parts land.
NOT_YET: dict[str, str] = {
    # comprehension
    # function-value
    # class
    # container
    # signature
    # statement
    # try
    # with
}

RTOL = 1e-6
ATOL = 1e-8
STEP = 1e-5
AGREE = 1e-6  # the differences at STEP and 4 * STEP must agree this well (relative)

RESULTS: dict[str, str] = {}  # entry -> "pass", "refused", "fail" (for the summary)


def _positions(wrt) -> tuple[int, ...]:
    return (wrt,) if isinstance(wrt, int) else tuple(wrt)


def _plain(entry: Entry):
    """``entry.fn`` with its keyword arguments bound (what finite differences call)."""

    def call(*args):
        return entry.fn(*args, **entry.kwargs)

    call.__name__ = entry.name
    return call


def _as_tuple(gradient, wrt) -> tuple:
    return (gradient,) if isinstance(wrt, int) else tuple(gradient)


def check_entry(entry: Entry) -> None:
    """Every point of ``entry``: value, ``value_and_grad`` and ``grad`` against differences;
    every failing point: the gradient raises the function's exception type."""
    plain = _plain(entry)
    for point in entry.points:
        numeric = _as_tuple(numerical_gradient(plain, point, entry.wrt, STEP), entry.wrt)
        value, gradient = value_and_grad(entry.fn, wrt=entry.wrt)(*point, **entry.kwargs)
        expected = plain(*point)
        np.testing.assert_allclose(
            value, expected, rtol=1e-12, atol=0, err_msg=f"{entry.name}{point!r}: value"
        )
        only = grad(entry.fn, wrt=entry.wrt)(*point, **entry.kwargs)
        value_vjp, pullback = vjp(entry.fn, wrt=entry.wrt)(*point, **entry.kwargs)
        np.testing.assert_allclose(
            value_vjp, expected, rtol=1e-12, atol=0, err_msg=f"{entry.name}{point!r}: vjp value"
        )
        results = [("value_and_grad", gradient), ("grad", only), ("vjp", pullback(1.0))]
        for label, result in results:
            for i, a, n in zip(_positions(entry.wrt), _as_tuple(result, entry.wrt), numeric):
                what = f"{entry.name}{point!r}: {label}, argument {i}"
                check_like(a, point[i], what)
                np.testing.assert_allclose(a, n, rtol=RTOL, atol=ATOL, err_msg=what)
    for point, exception in entry.failing:
        with pytest.raises(exception):
            plain(*point)
        with pytest.raises(exception):
            grad(entry.fn, wrt=entry.wrt)(*point, **entry.kwargs)


def outcome(entry: Entry) -> str:
    """'pass', 'refused' (ADTransformError) or 'fail: ...' (anything else) for ``entry``."""
    try:
        check_entry(entry)
    except ADTransformError:
        return "refused"
    except Exception as error:  # a wrong number or a crash
        first = (str(error).strip().splitlines() or [""])[0]
        return f"fail: {type(error).__name__}: {first[:120]}"
    return "pass"


def _params():
    for name, entry in MATRIX.items():
        marks = []
        if name in NOT_YET:
            marks.append(pytest.mark.xfail(strict=True, raises=ADTransformError))
        yield pytest.param(entry, id=f"{entry.family}:{name}", marks=marks)


@pytest.mark.parametrize("entry", list(_params()))
def test_construct(entry: Entry) -> None:
    RESULTS[entry.name] = "fail"
    try:
        check_entry(entry)
    except ADTransformError:
        RESULTS[entry.name] = "refused"
        raise
    RESULTS[entry.name] = "pass"


def test_not_yet_names_entries_of_their_family() -> None:
    for name, family in NOT_YET.items():
        assert name in MATRIX, f"NOT_YET names {name!r}, which is no matrix entry"
        assert MATRIX[name].family == family, f"{name} is in {MATRIX[name].family}, not {family}"


def test_matrix_covers_every_family() -> None:
    counts = Counter(entry.family for entry in MATRIX.values())
    assert set(counts) == set(FAMILIES), counts
    assert len(MATRIX) >= 80


def _reliable(plain, point, wrt) -> None:
    coarse = numerical_gradient(plain, point, wrt, 4 * STEP)
    fine = numerical_gradient(plain, point, wrt, STEP)
    for a, b in zip(_as_tuple(coarse, wrt), _as_tuple(fine, wrt)):
        np.testing.assert_allclose(a, b, rtol=AGREE, atol=1e-9)


@pytest.mark.parametrize("entry", list(MATRIX.values()), ids=list(MATRIX))
def test_points_are_smooth(entry: Entry) -> None:
    """The plain function runs at every point, and the finite differences are a
    reference there (two steps agree: no kink, no branch change within a step)."""
    plain = _plain(entry)
    for point in entry.points:
        assert math.isfinite(float(np.sum(plain(*point))))
        _reliable(plain, point, entry.wrt)


@pytest.mark.xfail(
    "with_user_context_manager" in NOT_YET,
    reason="with is not supported yet (NOT_YET)",
    strict=True,
    raises=ADTransformError,
)
def test_user_context_manager_is_entered_once_per_call() -> None:
    """A user context manager runs its ``__enter__``/``__exit__`` once per gradient
    call (in the forward sweep), as the function does once per call."""
    fn = MATRIX["with_user_context_manager"].fn
    context = construct_matrix.CountingContext
    gradient = grad(fn)
    gradient(0.6)  # the first call generates the code
    entered, exited = context.entered, context.exited
    gradient(0.6)
    assert (context.entered - entered, context.exited - exited) == (1, 1)
    _, pullback = vjp(fn)(0.6)
    pullback(1.0)
    pullback(2.0)
    assert (context.entered - entered, context.exited - exited) == (2, 2)


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_constructs(name: str) -> None:
    """Generators, ``yield from``, ``async`` and ``exec``/``eval`` on active values."""
    with pytest.raises(ADTransformError):
        grad(REFUSED[name])(0.7)


def test_zz_summary() -> None:
    """Print how many entries of each family pass (run with ``-s``); always passes."""
    print()
    print(summary(RESULTS))


def summary(results: dict[str, str]) -> str:
    """Per family: entries that pass, that are refused, that fail, out of how many."""
    lines = ["construct matrix: family: pass / refused / fail of total"]
    total = Counter()
    for family in FAMILIES:
        names = [n for n, e in MATRIX.items() if e.family == family]
        counts = Counter(results.get(n, "not run").split(":")[0] for n in names)
        total.update(counts)
        lines.append(
            f"  {family:15s} {counts['pass']:3d} / {counts['refused']:3d} / "
            f"{counts['fail']:3d} of {len(names)}"
        )
    lines.append(
        f"  {'all':15s} {total['pass']:3d} / {total['refused']:3d} / "
        f"{total['fail']:3d} of {len(MATRIX)}"
    )
    return "\n".join(lines)
