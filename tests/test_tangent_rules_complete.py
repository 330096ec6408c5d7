"""Issue 14, part 1: a tangent (JVP) rule for every primitive that has an adjoint rule.

The table-driven harness of ``tests/test_forward_rules.py`` (``jvp`` against central
finite differences in float64, and the dot-product test ``<J u, v> = <u, J^T v>`` between
the forward rule and the existing reverse rule, random non-uniform ``u`` and ``v``) runs
on every row of ``tests/test_rules.py`` and of the statistics suite; here it runs on the
rows of the SciPy suite, the decompositions suite and the FFT/complex rows below, and
two completeness checks keep it complete:

* every built-in primitive with an adjoint rule has a tangent rule, unless it is listed in
  ``EXCLUSIONS`` with the reason;
* every primitive with a tangent rule is the primitive of some row the harness checks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_coverage2_decompositions import CASES as DECOMPOSITION_CASES
from test_coverage2_shapes import CASES as SHAPE_CASES
from test_coverage2_statistics import TABLE as STATISTICS_TABLE
from test_forward_rules import (
    check_forward_and_reverse_rules_agree,
    check_jvp_against_finite_differences,
)
from test_rules import TABLE, F, Row, args_from, uniform

from ad_transform import jvp, vjp
from ad_transform.rules import registry

# Primitives with an adjoint rule but no tangent rule, each with its reason. Keep it tiny:
# a primitive belongs here only if no tangent can be written (none does today).
EXCLUSIONS: dict[str, str] = {}

try:  # the SciPy suite's rows (SciPy is optional)
    import scipy.special  # noqa: F401
    from test_coverage2_scipy import ROWS as SCIPY_ROWS
except ImportError:  # pragma: no cover - SciPy is installed where the suite runs
    SCIPY_ROWS = []


# -- FFT and complex values: real arguments, real results, complex values between -----------


def _parts(z):
    """A complex array as one real array: its real parts, then its imaginary parts."""
    return np.concatenate([np.ravel(np.real(z)), np.ravel(np.imag(z))])


def fft_parts(x):
    return _parts(np.fft.fft(x * np.arange(1.0, 8.0), 9, norm="ortho"))


def ifft_parts(x):
    return _parts(np.fft.ifft(x, 5))


def fft2_parts(x):
    return _parts(np.fft.fft2(x, (3, 5)))


def ifft2_parts(x):
    return _parts(np.fft.ifft2(x, axes=(0, 1), norm="forward"))


def fftn_parts(x):
    return _parts(np.fft.fftn(x, axes=(0, 2)))


def ifftn_parts(x):
    return _parts(np.fft.ifftn(x))


def rfft_parts(x):
    return _parts(np.fft.rfft(x, 6))


def irfft_of(x, y):
    return np.fft.irfft(x + 1j * y, 8)


def rfft2_parts(x):
    return _parts(np.fft.rfft2(x))


def irfft2_of(x, y):
    return np.fft.irfft2(x + 1j * y, (3, 6))


def rfftn_parts(x):
    return _parts(np.fft.rfftn(x, axes=(0, 1), norm="ortho"))


def irfftn_of(x, y):
    return np.fft.irfftn(x + 1j * y)


def fftshift_of(x):
    return np.fft.fftshift(x * 2.0, axes=0)


def ifftshift_of(x):
    return np.fft.ifftshift(np.sin(x))


def complex_parts(x, y):
    z = complex(x, y) * complex(y, 0.5)
    return np.abs(z) + z.real * z.imag


def abs_of_complex(x, y):
    z = (x + 1j * y) ** 2
    return np.abs(z) + abs(z[0])


def angle_of_complex(x, y):
    z = (x + 1j * y) * (0.5 - 1j)
    return np.angle(z) + np.angle(z, deg=True) * 0.01


def real_imag_conj(x, y):
    z = np.exp(x + 1j * y)
    return np.real(z) * np.imag(np.conjugate(z)) + z.conj().imag + z.conjugate().real


def imag_attribute(x, y):
    z = np.sin(x + 1j * y)
    return z.imag * 2.0 + z.real


def real_if_close_of(x, y):
    z = (x + 1j * y) * np.exp(0.5j)
    return np.real_if_close(z * np.conjugate(z)) + np.imag(np.real_if_close(z))


def holomorphic_chain(x, y):
    z = x + 1j * y
    w = np.cumprod(np.exp(z) / (1.5 + z * z)) + np.prod(np.sqrt(z + 3.0))
    return np.real(w) + np.abs(np.sum(z * w))


def _complex_args(rng, shapes):
    return tuple(rng.uniform(0.3, 1.5, size=s) if s is not F else 0.7 for s in shapes)


VECTOR = (((7,),),)
PAIR = (((5,), (5,)), ((3, 4), (3, 4)))
FFT_ROWS = [
    Row(np.fft.fft, fft_parts, VECTOR, args_from(uniform(-1, 1))),
    Row(np.fft.ifft, ifft_parts, VECTOR, args_from(uniform(-1, 1))),
    Row(np.fft.fft2, fft2_parts, (((3, 4),), ((2, 3, 4),)), args_from(uniform(-1, 1))),
    Row(np.fft.ifft2, ifft2_parts, (((3, 4),), ((3, 4, 2),)), args_from(uniform(-1, 1))),
    Row(np.fft.fftn, fftn_parts, (((2, 3, 4),),), args_from(uniform(-1, 1))),
    Row(np.fft.ifftn, ifftn_parts, (((2, 3, 4),), ((5,),)), args_from(uniform(-1, 1))),
    Row(np.fft.rfft, rfft_parts, VECTOR, args_from(uniform(-1, 1))),
    Row(np.fft.irfft, irfft_of, (((5,), (5,)), ((2, 5), (2, 5))), args_from(uniform(-1, 1))),
    Row(np.fft.rfft2, rfft2_parts, (((3, 4),), ((2, 3, 5),)), args_from(uniform(-1, 1))),
    Row(np.fft.irfft2, irfft2_of, (((3, 4), (3, 4)),), args_from(uniform(-1, 1))),
    Row(np.fft.rfftn, rfftn_parts, (((3, 4),), ((2, 3, 5),)), args_from(uniform(-1, 1))),
    Row(np.fft.irfftn, irfftn_of, (((3, 4), (3, 4)),), args_from(uniform(-1, 1))),
    Row(np.fft.fftshift, fftshift_of, (((5,),), ((4, 3),)), args_from(uniform(-1, 1))),
    Row(np.fft.ifftshift, ifftshift_of, (((5,),), ((4, 3),)), args_from(uniform(-1, 1))),
    Row(complex, complex_parts, ((F, F),), _complex_args),
    Row(np.abs, abs_of_complex, PAIR, _complex_args),
    Row(np.angle, angle_of_complex, PAIR, _complex_args),
    Row(np.imag, real_imag_conj, PAIR, _complex_args),
    Row(("attribute", "imag"), imag_attribute, PAIR, _complex_args),
    Row(("method", "conj"), real_imag_conj, PAIR, _complex_args),
    Row(("method", "conjugate"), real_imag_conj, PAIR, _complex_args),
    Row(np.real_if_close, real_if_close_of, PAIR, _complex_args),
    Row(np.cumprod, holomorphic_chain, (((4,), (4,)),), _complex_args),
]


# -- the decompositions suite's cases, as rows (every argument differentiated) ---------------


def _case_row(case) -> Row:
    def generate(rng, shapes):
        return case.draw(rng, shapes)

    return Row(None, case.fn, case.shapes, generate)


DECOMPOSITION_ROWS = [_case_row(case) for case in DECOMPOSITION_CASES]


def _shape_case_row(case) -> Row:
    """A case of the shapes suite (one generator per argument shape) as a row."""

    def generate(rng, shapes):
        return tuple(case.gen(rng, shape) for shape in shapes)

    return Row(case.primitive, case.fn, case.shapes, generate, case.wrt)


SHAPE_ROWS = [_shape_case_row(case) for case in SHAPE_CASES]

HARNESS_ROWS = [*SCIPY_ROWS, *DECOMPOSITION_ROWS, *SHAPE_ROWS, *FFT_ROWS]


@pytest.mark.parametrize("row", [pytest.param(r, id=r.name) for r in HARNESS_ROWS])
def test_jvp_against_finite_differences(row: Row):
    check_jvp_against_finite_differences(row)


@pytest.mark.parametrize("row", [pytest.param(r, id=r.name) for r in HARNESS_ROWS])
def test_forward_and_reverse_rules_agree(row: Row):
    check_forward_and_reverse_rules_agree(row)


# -- completeness --------------------------------------------------------------------------


def _builtin_differentiable_rules() -> list[registry.Rule]:
    registry.load_optional_rules()
    return [
        rule
        for key, rule in registry._RULES.items()
        if key in registry._BUILTIN and not registry._internal(rule) and rule.differentiable
    ]


def _has_tangent(rule: registry.Rule) -> bool:
    return rule.tangent is not None or rule.linear is not None


def test_every_adjoint_rule_has_a_tangent_rule():
    missing = sorted(
        {
            rule.name
            for rule in _builtin_differentiable_rules()
            if not _has_tangent(rule) and rule.name not in EXCLUSIONS
        }
    )
    assert not missing, f"primitives with an adjoint rule but no tangent rule: {missing}"
    tangents, adjoints = registry.tangent_counts()
    print(f"\ntangent rules: {tangents} of {adjoints} differentiable primitives")
    assert tangents == adjoints - len(EXCLUSIONS)


def test_the_exclusions_are_real_and_explained():
    names = {rule.name: rule for rule in _builtin_differentiable_rules()}
    for name, reason in EXCLUSIONS.items():
        assert name in names, f"{name} is excluded but has no adjoint rule"
        assert not _has_tangent(names[name]), f"{name} is excluded but has a tangent rule"
        assert len(reason) > 20, f"{name}: say why it has no tangent rule"


def test_every_tangent_rule_is_checked_by_a_row():
    """Each primitive with a tangent rule is the primitive of a row that
    ``tests/test_forward_rules.py`` or this file checks both ways."""
    rows = [*TABLE, *STATISTICS_TABLE, *HARNESS_ROWS]
    checked = {registry._key(row.primitive) for row in rows if row.primitive is not None}
    unchecked = sorted(
        {
            rule.name
            for rule in _builtin_differentiable_rules()
            if _has_tangent(rule) and registry._key(rule.primitive) not in checked
        }
    )
    assert not unchecked, f"tangent rules no row checks: {unchecked}"


def test_the_completeness_check_can_fail():
    """A rule whose tangent is taken away is reported by name."""
    rule = registry.lookup(np.cumprod)
    saved = rule.tangent
    try:
        rule.tangent = None
        with pytest.raises(AssertionError, match=r"numpy\.cumprod"):
            test_every_adjoint_rule_has_a_tangent_rule()
    finally:
        rule.tangent = saved


# -- beyond the tables: each new rule at the points where it is easy to get wrong ------------


def _jvp_against_differences(f, args, directions, eps=1e-6, rtol=1e-6, atol=1e-8):
    value, tangent = jvp(f)(args, directions)
    plus = [a + eps * u for a, u in zip(args, directions, strict=True)]
    minus = [a - eps * u for a, u in zip(args, directions, strict=True)]
    expected = (np.asarray(f(*plus)) - np.asarray(f(*minus))) / (2 * eps)
    np.testing.assert_allclose(tangent, expected, rtol=rtol, atol=atol)
    return value, tangent


def cumprod_with_zero(x):
    return np.cumprod(x * np.array([1.0, 0.0, 1.0, 1.0]))


def cumprod_of(x):
    return np.cumprod(x)


def test_cumprod_tangent_is_exact_at_a_zero():
    # y = [x0, 0, 0, 0] * ... : only y0 moves; d y_k / d x_1 = x0 (the zero's own slot)
    x = np.array([2.0, 3.0, 0.5, -1.5])
    _, tangent = jvp(cumprod_with_zero)((x,), (np.array([0.0, 1.0, 0.0, 0.0]),))
    np.testing.assert_allclose(tangent, [0.0, 0.0, 0.0, 0.0])
    _, tangent = jvp(cumprod_of)((np.array([2.0, 0.0, 3.0]),), (np.array([0.0, 1.0, 0.0]),))
    np.testing.assert_allclose(tangent, [0.0, 2.0, 6.0])  # calculus: x0, x0 x2


def abs_of_complex_scalar(x, y):
    return abs(complex(x, y) ** 3)


def test_abs_of_a_complex_scalar_from_calculus():
    # |z^3| = (x^2 + y^2)^(3/2): d/dx = 3 x r, d/dy = 3 y r with r = |z|
    x, y = 0.6, -1.1
    r = math.hypot(x, y)
    _, tangent = jvp(abs_of_complex_scalar)((x, y), (1.0, 0.0))
    assert math.isclose(tangent, 3 * x * r, rel_tol=1e-12)
    _, tangent = jvp(abs_of_complex_scalar)((x, y), (0.0, 1.0))
    assert math.isclose(tangent, 3 * y * r, rel_tol=1e-12)


def angle_of(x, y):
    return np.angle(x + 1j * y)


def test_angle_tangent_from_calculus():
    # angle = atan2(y, x): d = (x dy - y dx) / (x^2 + y^2)
    x, y = np.array([0.5, -1.0]), np.array([2.0, 0.25])
    u, w = np.array([0.3, -0.7]), np.array([1.1, 0.4])
    _, tangent = jvp(angle_of)((x, y), (u, w))
    np.testing.assert_allclose(tangent, (x * w - y * u) / (x * x + y * y), rtol=1e-12)


def set_union_both(x, y):
    return np.stack(sorted(set(list(x)) | set(list(y))))


def test_set_operators_add_both_operands_terms_member_by_member():
    x, y = np.array([0.3, 1.7, -0.4]), np.array([2.5, -1.9])
    u, w = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0])
    _, tangent = jvp(set_union_both)((x, y), (u, w))
    # sorted values: -1.9 (y1), -0.4 (x2), 0.3 (x0), 1.7 (x1), 2.5 (y0)
    np.testing.assert_allclose(tangent, [5.0, 3.0, 1.0, 2.0, 4.0])


def interp_everything(x, xp, fp):
    return np.interp(x, xp, fp, left=-1.0, right=fp[0] * 2.0)


def test_interp_tangent_in_every_argument():
    rng = np.random.default_rng(14)
    x = np.array([-0.5, 0.1, 0.45, 0.93, 1.8])  # below, inside, above
    xp, fp = np.array([0.0, 0.3, 0.6, 1.0]), rng.normal(size=4)
    directions = (rng.normal(size=5), rng.normal(size=4), rng.normal(size=4))
    _jvp_against_differences(interp_everything, (x, xp, fp), directions)


def average_weighted(a, w):
    return np.average(a, axis=1, weights=w)


def test_average_tangent_in_one_dimensional_weights():
    rng = np.random.default_rng(3)
    a, w = rng.normal(size=(3, 4)), rng.uniform(0.5, 2.0, size=4)
    _jvp_against_differences(
        average_weighted, (a, w), (rng.normal(size=(3, 4)), rng.normal(size=4))
    )
    u, v = rng.normal(size=4), rng.normal(size=3)
    _, tangent = jvp(average_weighted, wrt=1)((a, w), (u,))
    _, pullback = vjp(average_weighted, wrt=1)(a, w)
    assert math.isclose(float(tangent @ v), float(u @ pullback(v)), rel_tol=1e-10)


def padded_with_value(x, c):
    return np.pad(x, ((1, 2), (0, 1)), constant_values=c) * 1.5


def padded_reflect(x):
    return np.pad(x, 2, mode="reflect")


def test_pad_tangent_in_the_array_and_the_value():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3))
    _jvp_against_differences(padded_with_value, (x, 0.7), (rng.normal(size=(2, 3)), 1.3))
    _jvp_against_differences(padded_reflect, (rng.normal(size=5),), (rng.normal(size=5),))


def arange_of(start, step):
    return np.arange(start, 4.0, step) ** 2


def test_arange_tangent_in_start_and_step():
    # values start + i step: d = d_start + i d_step
    _, tangent = jvp(arange_of)((0.25, 0.9), (1.0, 0.0))
    values = np.arange(0.25, 4.0, 0.9)
    np.testing.assert_allclose(tangent, 2 * values)
    _, tangent = jvp(arange_of)((0.25, 0.9), (0.0, 1.0))
    np.testing.assert_allclose(tangent, 2 * values * np.arange(values.size))


def abs_of_imaginary(z):
    return abs(z * 1j)


def test_complex_values_inside_a_function_are_differentiated_in_forward_mode():
    # |i z| = |z|: derivative sign(z) (refused before issue 14's tangent rules)
    assert jvp(abs_of_imaginary, (1.5,), (1.0,)) == (1.5, 1.0)
    assert jvp(abs_of_imaginary, (-2.0,), (0.5,)) == (2.0, -0.5)


def unpacked_items(x):
    d = {"a": x, "b": np.sin(x)}
    items = d.items()
    d["b"] = x * 3.0  # the view sees the new value, so must its tangent
    total = 0.0
    for _, v in items:
        total = total + v
    return total


def test_a_write_after_an_items_view_is_refused_not_stale():
    from ad_transform import ADTransformError

    with pytest.raises(ADTransformError, match="cannot assign into items of 'd'"):
        jvp(unpacked_items, (0.4,), (1.0,))


def nan_to_num_in_place(x):
    y = x * 1.0
    np.nan_to_num(y, copy=False)
    return np.sum(y)


def test_nan_to_num_in_place_is_refused():
    from ad_transform import ADTransformError

    with pytest.raises(ADTransformError, match="copy=False"):
        jvp(nan_to_num_in_place, (np.array([1.0, 2.0]),), (np.ones(2),))


# -- the complex-value suite of issue 16, in forward mode ------------------------------------


def _complex_suite():
    import test_coverage2_fft as fft_suite

    pairs = [(f, (fft_suite.A, fft_suite.B)) for f in fft_suite.COMPLEX_FUNCTIONS]
    single = np.random.default_rng(5).normal(size=8)
    return pairs + [(f, (single,)) for f in fft_suite.HOLOMORPHIC]


@pytest.mark.parametrize("f, args", _complex_suite(), ids=lambda v: getattr(v, "__name__", ""))
def test_complex_intermediates_in_forward_mode(f, args):
    """jvp through complex intermediates (every rule complex values may reach): against
    central differences and, by the dot-product test, against vjp."""
    rng = np.random.default_rng(16)
    directions = tuple(rng.normal(size=np.shape(a)) for a in args)
    _, tangent = _jvp_against_differences(f, args, directions, eps=1e-6, rtol=1e-5)
    _, pullback = vjp(f, wrt=tuple(range(len(args))))(*args)
    cotangents = pullback(1.0)
    cotangents = cotangents if isinstance(cotangents, tuple) else (cotangents,)
    reverse = sum(float(np.sum(u * c)) for u, c in zip(directions, cotangents, strict=True))
    assert math.isclose(float(tangent), reverse, rel_tol=1e-9, abs_tol=1e-12)


# -- a wrong tangent found while searching for siblings of TangentTuple ---------------------


def get_missing_key_with_list_default(x):
    d = {"b": [x, x * 2.0]}
    y = d.get("a", [x, x * 3.0])
    return y[0] + y[1] * 5.0


def get_present_key_with_list_default(x):
    d = {"a": [x, x * 2.0]}
    y = d.get("a", [x, x * 3.0])
    return y[0] + y[1] * 5.0


def get_tuple_values(x):
    d = {"a": (x, np.sin(x))}
    y = d.get("c", (x * x, x))
    z = d.get("a", (x, x))
    return y[0] * y[1] + z[1]


@pytest.mark.parametrize(
    "f, expected",
    [
        (get_missing_key_with_list_default, lambda x: 16.0),  # x + 15 x
        (get_present_key_with_list_default, lambda x: 11.0),  # x + 10 x
        (get_tuple_values, lambda x: 3 * x * x + np.cos(x)),  # x^3 + sin(x)
    ],
)
def test_dict_get_with_container_values_and_a_default(f, expected):
    """The terms of the dict and of the default were joined (``[0, 0] + [1, 3]``), not added:
    the tangent was 0 where the default is taken (a silent wrong derivative)."""
    x = 0.5
    _, tangent = jvp(f, (x,), (1.0,))
    assert math.isclose(tangent, expected(x), rel_tol=1e-12)
    _, pullback = vjp(f)(x)
    assert math.isclose(tangent, pullback(1.0), rel_tol=1e-12)
