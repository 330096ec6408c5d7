"""Table-driven checks of the tangent (JVP) rules, on the rows of ``tests/test_rules.py``.

For every row whose primitive has a tangent rule, at seeded random points of every shape
combination: ``jvp(f)`` against central finite differences in float64 (``J u`` for a
random non-uniform direction ``u``), its value against ``f`` itself, and the dot-product
test ``<J u, v> = <u, J^T v>`` between the new forward rule and the existing reverse rule
(``vjp``) with random non-uniform ``u`` and ``v``: a wrong rule in either mode fails it.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import random_like
from test_coverage2_statistics import TABLE as STATISTICS_TABLE
from test_rules import F64, N_POINTS, TABLE, F, Row, _describe, rng_for

from ad_transform import ADTransformError, jvp, vjp
from ad_transform.rules import lookup
from ad_transform.rules.registry import tangent_counts

EPS = 1e-5
FD_RTOL, FD_ATOL = 1e-6, 1e-8  # central differences are accurate to ~1e-10 here
DOT_RTOL = 1e-9  # both sides are analytic: they agree to rounding


def _has_tangent(row: Row) -> bool:
    rule = lookup(row.primitive)
    return rule is not None and (rule.tangent is not None or rule.linear is not None)


ROWS = [
    pytest.param(row, id=row.name)
    for row in (*TABLE, *STATISTICS_TABLE)  # the rows of tests/test_rules.py and issue 16's
    if _has_tangent(row)
]


def _as_float64(x):
    return np.asarray(x, dtype=np.float64) if isinstance(x, np.ndarray) else float(x)


def _inner(a, b) -> float:
    return float(np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)))


def _abs_inner(a, b) -> float:
    return float(np.sum(np.abs(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64))))


def _jvp_or_skip(row: Row, args: tuple, directions: tuple):
    """``jvp(row.fn)`` at ``args``; a skip only if the row's function needs another
    primitive listed without a tangent rule in ``EXCLUSIONS``
    (tests/test_tangent_rules_complete.py); any other refusal fails."""
    from test_tangent_rules_complete import EXCLUSIONS

    try:
        return jvp(row.fn, wrt=row.positions)(args, directions)
    except ADTransformError as error:
        excluded = [name for name in EXCLUSIONS if f"{name} has no tangent rule" in str(error)]
        if excluded:
            pytest.skip(f"{row.name} needs {excluded[0]}, excluded: {EXCLUSIONS[excluded[0]]}")
        raise


@pytest.mark.parametrize("row", ROWS)
def test_jvp_against_finite_differences(row: Row):
    check_jvp_against_finite_differences(row)


def check_jvp_against_finite_differences(row: Row):
    """``jvp(row.fn)`` against central differences and its value against ``row.fn``."""
    rng = rng_for(row, "jvp")
    for shapes in row.shapes:
        for _ in range(N_POINTS):
            args = row.gen(rng, shapes)
            directions = tuple(random_like(args[i], rng) for i in row.positions)
            try:
                value, tangent = _jvp_or_skip(row, args, directions)
                np.testing.assert_allclose(value, row.fn(*args), rtol=1e-12, atol=0)
                plus, minus = list(args), list(args)
                for i, u in zip(row.positions, directions, strict=True):
                    plus[i] = _as_float64(args[i]) + EPS * u
                    minus[i] = _as_float64(args[i]) - EPS * u
                expected = (
                    np.asarray(row.fn(*plus), dtype=np.float64)
                    - np.asarray(row.fn(*minus), dtype=np.float64)
                ) / (2.0 * EPS)
                assert np.shape(tangent) == np.shape(value), (
                    "the tangent is not shaped like the value"
                )
                np.testing.assert_allclose(tangent, expected, rtol=FD_RTOL, atol=FD_ATOL)
            except Exception as error:
                error.add_note(f"row {row.name}: arguments ({_describe(shapes)})")
                raise


@pytest.mark.parametrize("row", ROWS)
def test_forward_and_reverse_rules_agree(row: Row):
    """<J u, v> (forward rule) == <u, J^T v> (reverse rule)."""
    check_forward_and_reverse_rules_agree(row)


def check_forward_and_reverse_rules_agree(row: Row):
    """The dot-product test between ``jvp(row.fn)`` and ``vjp(row.fn)``."""
    rng = rng_for(row, "jvp-vjp")
    for shapes in row.shapes:
        for _ in range(N_POINTS):
            args = row.gen(rng, shapes)
            directions = tuple(random_like(args[i], rng) for i in row.positions)
            if any(np.size(u) > 1 and np.ptp(u) == 0 for u in directions):
                continue
            try:
                _, tangent = _jvp_or_skip(row, args, directions)
                value, pullback = vjp(row.fn, wrt=row.positions)(*args)
                v = random_like(value, rng)
                cotangents = pullback(v)
                forward_side = _inner(tangent, v)
                reverse_side = sum(
                    _inner(u, c) for u, c in zip(directions, cotangents, strict=True)
                )
                scale = _abs_inner(tangent, v) + sum(
                    _abs_inner(u, c) for u, c in zip(directions, cotangents, strict=True)
                )
                assert abs(forward_side - reverse_side) <= 1e-12 + DOT_RTOL * scale, (
                    forward_side,
                    reverse_side,
                )
            except Exception as error:
                error.add_note(f"row {row.name}: arguments ({_describe(shapes)})")
                raise


def test_rules_with_a_tangent_are_counted():
    """How many primitives have tangent rules against adjoint rules (printed; forward mode
    grows toward all of them). The harness above covers every row whose primitive has one."""
    tangents, adjoints = tangent_counts()
    print(f"\ntangent rules: {tangents} of {adjoints} differentiable primitives")
    assert 0 < tangents <= adjoints
    covered = {id(row.primitive) for row in (*TABLE, *STATISTICS_TABLE) if _has_tangent(row)}
    assert len(covered) >= 100


def scaled_by_three(x):
    return 3.0 * x


def d_scaled_by_three(g, ans, x):
    return 3.0 * g


def test_a_primitive_without_tangent_rule_is_refused_by_name():
    """Every built-in primitive has a tangent rule (tests/test_tangent_rules_complete.py);
    a user's primitive registered with an adjoint only is refused by name, never a zero."""
    from ad_transform.rules.registry import _RULES, _key, register_adjoint

    def uses_it(x):
        return np.sum(scaled_by_three(x) * np.arange(3.0))

    register_adjoint(scaled_by_three, d_scaled_by_three)
    try:
        with pytest.raises(ADTransformError, match=r"scaled_by_three has no tangent rule"):
            jvp(uses_it)((np.array([3.0, 1.0, 2.0]),), (np.ones(3),))
    finally:
        del _RULES[_key(scaled_by_three)]


def test_the_harness_can_fail():
    """A wrong tangent rule fails both checks: a copy of sin's rule with the wrong sign."""
    from ad_transform.rules.registry import Template

    rule = lookup(np.sin)
    saved = rule.tangent, rule.scalar_tangent

    def wrong(g, ans, x):
        return -g * np.cos(x)

    def f(x):
        return np.sin(x)

    try:
        rule.tangent = rule.scalar_tangent = Template(wrong)
        _, tangent = jvp(f)((0.3,), (1.0,))
        assert abs(tangent - np.cos(0.3)) > 1.0  # finite differences would catch it
        _, pullback = vjp(f)(0.3)
        assert abs(tangent * 1.0 - pullback(1.0)) > 1.0  # so would the dot-product test
    finally:
        rule.tangent, rule.scalar_tangent = saved


assert F is None and F64 == "float64"  # the shape markers test_rules' rows use


def test_every_linear_rule_has_zero_defaults():
    # declared lazily at import (no template parsed); checked here instead
    from ad_transform.rules import registry

    linear = [rule for rule in registry._RULES.values() if rule.linear is not None]
    assert len(linear) > 40
    for rule in linear:
        registry.check_linear_defaults(rule)
