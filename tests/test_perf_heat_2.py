"""Issue 15, heat stencils (second part, heat15): the forms their gradients use now.

Each form is checked against central differences in float64 with one ``grad`` object
called again with arguments that break what the form relies on (lengths 0-2, other
ranks, float32, pieces whose lengths change from step to step), and where a form must
not apply, with a case that needs the general code.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from gradcheck import numerical_gradient, same_grad_agrees

from ad_transform import grad, runtime
from benchmarks.cases_applied import heat_concatenate, heat_hand, heat_slices

RNG = np.random.default_rng(2015)


def _heat_calls(u):
    """Lengths 9, 3, 2, 1 and 0, a 2-D grid (another rank), float32."""
    return (
        (u, 0.2, 4),
        (u[:3], 0.2, 3),
        (u[:2], 0.3, 2),
        (u[:1], 0.3, 2),
        (u[:0], 0.3, 2),
        (RNG.standard_normal((5, 3)) * 0.5, 0.2, 3),
        (u.astype(np.float32), 0.2, 3),
    )


# -- heat_slices: the copy's adjoint handed over, the read's adjoint added into its view ---


def test_heat_slices_source_is_the_hand_written_loop():
    u = RNG.standard_normal(9)
    source = grad(heat_slices, wrt=(0, 1)).source_for(u, 0.2, 4)
    assert "dnew_1 = du_1" in source  # handed over, not copied from 0.0
    assert "du_1 = dnew_1" in source and "du_1[:-2] += dv7" in source
    assert "accumulate_index(" not in source and "index_adjoint(" not in source
    assert "keep(v7)" in source and "for v7 in reversed(saved)" in source  # u not kept
    assert "dv7 * -2.0" in source  # one scaling, no negation first


def test_heat_slices_agrees_with_differences_for_every_length_rank_and_dtype():
    u = RNG.standard_normal(9)
    same_grad_agrees(heat_slices, (0, 1), *_heat_calls(u))


def test_heat_slices_agrees_with_the_hand_written_gradient():
    u = np.sin(np.linspace(0.0, 3.0, 40))
    du, dalpha = grad(heat_slices, wrt=(0, 1))(u, 0.2, 30)
    hand_du, hand_dalpha = heat_hand(u, 0.2, 30)
    np.testing.assert_allclose(du, hand_du, rtol=1e-12, atol=1e-14)
    assert dalpha == pytest.approx(hand_dalpha, rel=1e-12)


def test_heat_concatenate_agrees_for_every_length_rank_and_dtype():
    # length 1: the pieces u[:1], u[1:-1], u[-1:] make a length-2 array, which then
    # keeps its length: the pieces' lengths change between the first steps
    u = RNG.standard_normal(9)
    g = same_grad_agrees(heat_concatenate, (0, 1), *_heat_calls(u))
    source = g.source_for(u, 0.2, 4)
    assert "dlaplacian_1 * -2.0" in source


# -- the hand-over (_move_into_zero) where the moved adjoint is read again -----------------


def stencil_reading_u_after_the_copy(u, alpha, steps):
    s = 0.0
    for _ in range(steps):
        new = u.copy()
        new[1:-1] = u[1:-1] + alpha * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        s = s + np.sum(new * u)  # u read again: its adjoint gets two contributions
        u = new
    return s + np.sum(u * u)


def stencil_keeping_both(u, alpha, steps):
    history = u
    for _ in range(steps):
        new = u.copy()
        new[1:-1] = u[1:-1] * alpha
        history = history + new  # new read twice: its adjoint is not moved away
        u = new
    return np.sum(history * u)


def stencil_with_scaled_copy(u, alpha, steps):
    for _ in range(steps):
        new = u.copy()
        new[1:-1] = new[1:-1] + alpha * (u[2:] - u[:-2])
        u = new * 1.5
    return np.sum(u * u)


@pytest.mark.parametrize(
    "f", [stencil_reading_u_after_the_copy, stencil_keeping_both, stencil_with_scaled_copy]
)
def test_stencils_whose_adjoints_are_read_again(f):
    u = RNG.standard_normal(7) * 0.5
    same_grad_agrees(
        f,
        (0, 1),
        (u, 0.3, 3),
        (u[:2], 0.3, 2),
        (u[:0], 0.3, 2),
        (u.astype(np.float32), 0.3, 2),
    )


def stencil_read_after_the_loop(u, alpha, steps):
    v = u
    for _ in range(steps):
        new = v.copy()
        new[1:-1] = v[1:-1] + alpha * (v[2:] - v[:-2])
        v = new
    for _ in range(steps):  # the first loop's last v, read by the second loop's adjoint
        v = v * v * 0.5
    return np.sum(v)


def test_pops_read_after_their_loop_stay_on_the_tape():
    u = RNG.standard_normal(6) * 0.5
    same_grad_agrees(stencil_read_after_the_loop, (0, 1), (u, 0.3, 3), (u[:3], 0.3, 1))


# -- times_sum: the dot product first -----------------------------------------------------


def test_times_sum_takes_the_dot_product_without_checking_d():
    g = RNG.standard_normal(6)
    d = RNG.standard_normal(6)
    assert runtime.times_sum(g, d) == pytest.approx(float(np.sum(g * d)), rel=1e-14)
    two = RNG.standard_normal((3, 4))
    other = RNG.standard_normal((3, 4))
    assert runtime.times_sum(two[:, ::2], other[:, ::2]) == pytest.approx(
        float(np.sum(two[:, ::2] * other[:, ::2])), rel=1e-14
    )
    assert runtime.times_sum(g[:0], d[:0]) == 0.0
    single = runtime.times_sum(g.astype(np.float32), d.astype(np.float32))
    assert single.dtype == np.float32


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_times_sum_masks_zero_adjoints_without_warnings(bad):
    g = RNG.standard_normal(7)
    d = RNG.standard_normal(7)
    g[3] = 0.0
    d[3] = bad
    kept = np.delete(g, 3) @ np.delete(d, 3)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        found = runtime.times_sum(g, d)
    assert found == pytest.approx(float(kept), rel=1e-14)


def test_times_sum_keeps_infinite_and_nan_terms():
    g = RNG.standard_normal(5)
    d = RNG.standard_normal(5)
    d[1] = np.inf
    assert runtime.times_sum(g, d) == np.sign(g[1]) * np.inf
    g2 = RNG.standard_normal(5)
    g2[2] = np.nan  # a NaN adjoint stays NaN
    assert np.isnan(runtime.times_sum(g2, RNG.standard_normal(5)))
    big = np.full(4, 1e200)
    with np.errstate(over="ignore"):
        assert runtime.times_sum(big, big) == np.inf


def masked_stencil(u, alpha):
    # where trap: alpha * u is infinite where u is; those elements are not selected
    return np.sum(np.where(np.isfinite(u), alpha * u, 0.0))


def test_where_trap_through_times_sum_in_generated_code():
    u = np.array([1.0, np.inf, -2.0, 0.5, -np.inf])
    g = grad(masked_stencil, wrt=1)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        found = g(u, 0.3)
    assert found == pytest.approx(1.0 - 2.0 + 0.5)


# -- index_adjoint: the slice of a float array first --------------------------------------


@pytest.mark.parametrize(
    "x, g, index",
    [
        (np.zeros(6), np.arange(2.0), slice(-2, None)),
        (np.zeros(6, np.float32), np.arange(3.0, dtype=np.float32), slice(0, 6, 2)),
        (np.zeros(6, np.float32), np.arange(2.0), slice(1, 3)),  # float64 g: float64 out
        (np.zeros(6, complex), np.array([1j, 2.0]), slice(4, None)),
        (np.zeros((3, 2)), np.ones((1, 2)), slice(1, 2)),
        (np.zeros(6), np.ones(0), slice(3, 3)),
    ],
)
def test_index_adjoint_of_a_slice(x, g, index):
    found = runtime.index_adjoint(g, x, index)
    expected_dtype = np.result_type(g, x)
    expected = np.zeros(x.shape, expected_dtype)
    expected[index] = g
    assert found.dtype == expected_dtype
    np.testing.assert_array_equal(found, expected)


# -- negated scales ------------------------------------------------------------------------


def difference_of_scaled(x, y):
    return np.sum(np.sin(x - 2.0 * y))


def test_negation_and_scale_become_one_product():
    x = RNG.standard_normal(5)
    y = RNG.standard_normal(5)
    g = same_grad_agrees(difference_of_scaled, (0, 1), (x, y), (x[:0], y[:0]))
    source = g.source_for(x, y)
    assert "* -2.0" in source and "= -d" not in source


def scalar_difference(x, y):
    return (x - 3.0 * y) ** 2


def test_negated_scale_of_numbers_and_signed_zeros():
    same_grad_agrees(scalar_difference, (0, 1), (1.5, -0.25), (0.0, 0.0))
    dx, dy = grad(scalar_difference, wrt=(0, 1))(0.0, 0.0)
    assert (dx, dy) == (0.0, 0.0)


# -- the finiteness of a number parameter checked once, before the backward loop ------------


def masked_loop(u, alpha, steps):
    s = 0.0
    for _ in range(steps):
        s = s + np.sum(np.where(u > 0, alpha * u, 0.0))
        u = u * 0.5
    return s


def test_invariant_check_before_the_loop():
    u = np.array([0.5, -1.0, 2.0, -0.25])
    g = same_grad_agrees(masked_loop, (0, 1), (u, 0.7, 3), (u[:0], 0.7, 2))
    source = g.source_for(u, 0.7, 3)
    assert "finite_alpha = finite_nonempty(alpha)" in source
    assert "* alpha if finite_alpha else times(" in source


@pytest.mark.parametrize("alpha", [np.inf, -np.inf, np.nan])
def test_invariant_check_keeps_the_where_trap(alpha):
    # where u <= 0 the product alpha * u is not selected: its adjoint there is 0, not NaN
    u = np.array([0.5, -1.0, 2.0, -0.25])
    with np.errstate(invalid="ignore"):
        du = grad(masked_loop, wrt=0)(u, alpha, 3)
    assert du[1] == 0.0 and du[3] == 0.0
    assert not np.isfinite(du[0]) and not np.isfinite(du[2])


def test_invariant_check_with_other_number_types():
    u = np.array([0.5, -1.0, 2.0, -0.25])
    g = grad(masked_loop, wrt=0)
    expected = numerical_gradient(masked_loop, (u, 0.7, 3), wrt=(0,))[0]
    for alpha in (np.float64(0.7), np.float32(0.7)):
        np.testing.assert_allclose(g(u, alpha, 3), expected, rtol=1e-6)
    np.testing.assert_allclose(g(u, 2, 3), 2 / 0.7 * expected, rtol=1e-6)  # an int
