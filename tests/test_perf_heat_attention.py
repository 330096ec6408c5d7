"""Issue 15, heat stencils and attention: the direct forms their gradients use.

Each form is checked against central differences in float64, with one ``grad`` object
called again with arguments that break the facts the form relies on (other ranks, unit
axes, float32), and where a guard (the where trap, a restore) must stay, with a case
that needs it.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import same_grad_agrees

from ad_transform import grad, runtime
from benchmarks.cases_applied import attention, heat_concatenate, heat_slices

RNG = np.random.default_rng(1515)


# -- the benchmark cases -------------------------------------------------------------------


# heat_slices, heat_concatenate and attention are imported from benchmarks.cases_applied


def test_heat_slices_keeps_no_copy_of_the_interior():
    u = RNG.standard_normal(9)
    source = grad(heat_slices, wrt=(0, 1)).source_for(u, 0.2, 4)
    assert ".copy())" not in source  # push(new[1:-1].copy()): the restore went
    assert "= pop()" not in source.replace("u_1, v11 = pop()", "")
    assert "times_sum(" in source and ".sum()" not in source
    same_grad_agrees(
        heat_slices,
        (0, 1),
        (u, 0.2, 4),
        (u[:2], 0.2, 3),  # no interior
        (u[:1], 0.2, 3),  # a unit axis: other code
        (u.astype(np.float32), 0.2, 3),
        (RNG.standard_normal((5, 3)), 0.1, 2),  # 2-D: rows
    )


def test_heat_concatenate():
    u = RNG.standard_normal(9)
    source = grad(heat_concatenate, wrt=(0, 1)).source_for(u, 0.2, 4)
    assert "times_sum(" in source
    same_grad_agrees(
        heat_concatenate,
        (0, 1),
        (u, 0.2, 4),
        (u[:2], 0.2, 3),
        (u.astype(np.float32), 0.2, 3),
        (RNG.standard_normal((5, 3)), 0.1, 2),
    )


def test_attention():
    X = RNG.standard_normal((5, 3))
    Ws = [RNG.standard_normal((3, 3)) / 2.0 for _ in range(3)]
    same_grad_agrees(
        attention,
        (0, 1, 2),
        (*Ws, X),
        (*Ws, X[:1]),  # one token: unit axes
        (*(W[:, :1] for W in Ws), X),  # width 1
        (*(W.astype(np.float32) for W in Ws), X.astype(np.float32)),
    )


# -- times_sum: the whole sum of a product as one dot product ------------------------------


def scaled(x, a):
    return np.sum(np.sin(a * x))


def masked_scale(x, a):
    # the where trap: a * x is infinite where it is not selected; its adjoint there is 0
    return np.sum(np.where(np.isfinite(x), a * x, 0.0))


def test_times_sum_in_one_and_more_dimensions():
    x = RNG.standard_normal(7)
    assert "times_sum(" in grad(scaled, wrt=(0, 1)).source_for(x, 0.3)
    same_grad_agrees(
        scaled,
        (0, 1),
        (x, 0.3),
        (RNG.standard_normal((3, 4)), 0.3),  # vdot
        (RNG.standard_normal((3, 4))[:, ::2], 0.3),  # not contiguous
        (x[:1], 0.3),
        (RNG.standard_normal(0), 0.3),  # empty: 0
        (x.astype(np.float32), 0.3),
    )


def test_times_sum_keeps_the_where_trap():
    x = np.array([1.0, np.inf, -2.0, np.inf, 0.5])
    g = grad(masked_scale, wrt=1)
    assert "times_sum(" in g.source_for(x, 0.3)
    with np.errstate(all="raise"):
        found = g(x, 0.3)
    assert found == pytest.approx(-0.5)  # the finite elements only
    assert np.isfinite(found)


def test_times_sum_runtime_matches_the_guarded_sum():
    g = RNG.standard_normal(6)
    d = RNG.standard_normal(6)
    assert runtime.times_sum(g, d) == pytest.approx(float(np.sum(g * d)))
    g[2] = 0.0
    d[2] = np.nan
    kept = np.delete(g, 2) * np.delete(d, 2)
    assert runtime.times_sum(g, d) == pytest.approx(float(np.sum(kept)))
    d[3] = np.inf  # an infinite term where g is not 0: the sum is infinite, as g * d's
    assert runtime.times_sum(g, d) == np.sign(g[3]) * np.inf
    big = np.full(4, 1e200)
    with np.errstate(over="ignore"):  # overflow: the guarded sum overflows too
        assert runtime.times_sum(big, big) == np.inf


# -- restores of writes into new arrays ----------------------------------------------------


def read_before_write(u, alpha):
    new = u.copy()
    s = new[1:3] * alpha  # reads the new array before the write: the restore stays
    new[1:-1] = u[1:-1] * alpha
    return np.sum(new * new) + np.sum(s * new[:2])


def aliased_before_write(u, alpha):
    new = u.copy()
    other = new  # another name for it: the restore stays
    new[1:-1] = u[1:-1] * alpha
    return np.sum(other * u)


def written_in_a_loop(u, alpha, steps):
    for _ in range(steps):
        new = np.zeros(u.shape)
        new[0] = u[0]
        new[1:] = alpha * u[1:] * u[:-1]
        u = new
    return np.sum(u * u)


def view_kept_across_write(u, alpha, steps):
    total = 0.0
    for _ in range(steps):
        new = u.copy()
        new[1:-1] = alpha * u[1:-1] * u[1:-1]
        total = total + np.sum(u * new)  # reads u (the previous new) and new after it
        u = new
    return total + np.sum(u)


def test_restore_kept_where_the_new_array_is_read_before_the_write():
    u = RNG.standard_normal(6)
    source = grad(read_before_write, wrt=(0, 1)).source_for(u, 0.4)
    assert "= pop()" in source or ".copy()" in source or "item_adjoint" in source
    same_grad_agrees(read_before_write, (0, 1), (u, 0.4), (u.astype(np.float32), 0.4))


def test_restore_kept_where_another_name_holds_the_new_array():
    u = RNG.standard_normal(6)
    same_grad_agrees(aliased_before_write, (0, 1), (u, 0.4), (u[:3], 0.4))


@pytest.mark.parametrize("f", [written_in_a_loop, view_kept_across_write])
def test_writes_into_new_arrays_in_loops(f):
    u = RNG.standard_normal(6) * 0.5
    rows = RNG.standard_normal((3, 2))
    same_grad_agrees(f, (0, 1), (u, 0.7, 3), (u[:2], 0.7, 2), (rows, 0.7, 2))


# -- the copy's adjoint as the start of the reads' adjoint ---------------------------------


def stencil_with_more_reads(u, alpha, steps):
    for _ in range(steps):
        new = u.copy()
        new[1:-1] = u[1:-1] + alpha * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        edge = new[:2] * u[-2:]  # the new array read after its write, u read again
        u = new * 1.0
        u[0] = u[0] + np.sum(edge)
    return np.sum(u * u)


def stencil_with_fancy_reads(u, alpha, steps):
    for _ in range(steps):
        new = u.copy()
        new[1:-1] = u[1:-1] + alpha * u[[0, 0, 1]].sum()  # repeated items: np.add.at
        u = new
    return np.sum(u * u)


def stencil_strided(u, alpha, steps):
    for _ in range(steps):
        new = u.copy()
        new[::2] = alpha * u[::2] * u[1::2][: len(u[::2])].sum()
        u = new
    return np.sum(u * u)


@pytest.mark.parametrize("f", [stencil_with_more_reads, stencil_with_fancy_reads])
def test_stencils_with_other_reads(f):
    u = RNG.standard_normal(7) * 0.5
    same_grad_agrees(f, (0, 1), (u, 0.3, 3), (u[:4], 0.3, 2), (u.astype(np.float32), 0.3, 2))


def test_moved_adjoint_in_the_heat_stencil():
    u = RNG.standard_normal(8)
    source = grad(heat_slices, wrt=(0, 1)).source_for(u, 0.2, 3)
    # heat15: the moved adjoint is certainly an array shaped like u, so the read's adjoint
    # is added into its view directly (tests/test_perf_heat_2.py)
    assert "du_1 = dnew_1" in source and "index_adjoint(" not in source
    assert "du_1 += dnew_1" not in source


def test_strided_stencil():
    u = RNG.standard_normal(8) * 0.5
    same_grad_agrees(stencil_strided, (0, 1), (u, 0.3, 3), (u[:2], 0.3, 2))


def joined_rows(x, y):
    z = np.concatenate([x * 2.0, [[1.0, 2.0]], y, x[:1]])  # a list piece too
    return np.sum(z * z * np.arange(1.0, 1.0 + z.shape[0])[:, None])


def test_concatenate_split_along_the_first_axis():
    x = RNG.standard_normal((3, 2))
    y = RNG.standard_normal((2, 2))
    same_grad_agrees(
        joined_rows, (0, 1), (x, y), (x[:1], y[:0]), (x.astype(np.float32), y.astype(np.float32))
    )
