"""Issue 15, attention (second part): the stable softmax's shift carries no derivative,
the normalisation ``p = e / sum(e)`` takes both paths in one adjoint, and the seed of a
whole sum multiplies directly.

Each form is checked against central differences in float64 with one ``grad`` object
called again with arguments that break what the form relies on (other ranks, unit
axes, float32, ties in the maximum, zero and infinite sums), and forms that must not
apply (the maximum read elsewhere, a sum over other axes) keep the general code with
its convention (ties share the maximum's adjoint equally).
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import numerical_gradient, same_grad_agrees

from ad_transform import grad, runtime
from benchmarks.cases_applied import attention

RNG = np.random.default_rng(2015)


def _agrees(f, wrt, *calls, rtol=1e-6, atol=1e-8):
    return same_grad_agrees(f, wrt, *calls, rtol=rtol, atol=atol)


# -- the benchmark case --------------------------------------------------------------------


def test_attention_source_is_what_a_person_writes():
    X = RNG.standard_normal((5, 3))
    Ws = [RNG.standard_normal((3, 3)) for _ in range(3)]
    source = grad(attention, wrt=(0, 1, 2)).source_for(*Ws, X)
    assert "extremum_adjoint" not in source  # the row maximum carries no derivative
    assert "normalized_exp_adjoint(" in source
    assert "np.repeat" not in source and "quotient(" not in source
    assert "dout = out * 2.0" in source  # the seed of np.sum(out * out)
    assert "expand_reduced" not in source


def test_attention_against_differences_and_other_facts():
    X = RNG.standard_normal((5, 3))
    Ws = [RNG.standard_normal((3, 3)) / 2.0 for _ in range(3)]
    tied = X.copy()
    tied[3] = tied[1]  # equal keys: every row of the scores has a tie at columns 1 and 3
    _agrees(
        attention,
        (0, 1, 2),
        (*Ws, X),
        (*Ws, tied),
        (*Ws, X[:1]),  # one token: unit axes
        (*(W[:, :1] for W in Ws), X),  # width 1
        (*(W.astype(np.float32) for W in Ws), X.astype(np.float32)),
    )


def test_attention_with_identical_scores_in_a_row():
    # all keys equal: every score of a row ties for the maximum; softmax is uniform
    X = np.tile(RNG.standard_normal((1, 3)), (4, 1))
    Ws = [RNG.standard_normal((3, 3)) for _ in range(3)]
    _agrees(attention, (0, 1, 2), (*Ws, X))


# -- the shift: forms that qualify ---------------------------------------------------------


def softmax_method(x, w):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return np.sum(w * (e / e.sum(axis=-1, keepdims=True)))


def softmax_columns(x, w):
    e = np.exp(x - np.amax(x, axis=0, keepdims=True))
    return np.sum(w * (e / np.sum(e, axis=0, keepdims=True)))


def softmax_global(x, w):
    e = np.exp(x - np.max(x))
    return np.sum(w * (e / np.sum(e, axis=1, keepdims=True)))


def softmax_vector(x, w):
    e = np.exp(x - np.max(x))
    p = e / e.sum()
    return np.sum(p * w)


def softmax_min_shift(x, w):
    e = np.exp(x - np.min(x, axis=(1, 2), keepdims=True))
    return np.sum(w * (e / np.sum(e, axis=(1, 2), keepdims=True)))


@pytest.mark.parametrize(
    ("f", "shape"),
    [
        (softmax_method, (4, 5)),
        (softmax_method, (2, 3, 4)),
        (softmax_columns, (4, 5)),
        (softmax_global, (3, 4)),
        (softmax_vector, (6,)),
        (softmax_min_shift, (2, 3, 4)),
    ],
)
def test_shift_carries_no_derivative(f, shape):
    x = RNG.standard_normal(shape)
    w = RNG.standard_normal(shape)
    source = grad(f, wrt=(0, 1)).source_for(x, w)
    assert "extremum_adjoint" not in source
    tied = x.copy()
    tied.reshape(-1)[:2] = tied.max()  # two equal maxima
    _agrees(f, (0, 1), (x, w), (tied, w), (x.astype(np.float32), w.astype(np.float32)))


def test_softmax_in_a_loop():
    def attend(x, W, v):
        acc = 0.0
        for t in range(x.shape[0]):
            s = W @ x[t]
            e = np.exp(s - np.max(s))
            p = e / np.sum(e)
            acc = acc + np.sum(p * v) ** 2
        return acc

    x = RNG.standard_normal((4, 3))
    W = RNG.standard_normal((5, 3))
    v = RNG.standard_normal(5)
    assert "extremum_adjoint" not in grad(attend, wrt=(0, 1, 2)).source_for(x, W, v)
    _agrees(attend, (0, 1, 2), (x, W, v), (x[:1], W, v))


# -- the shift: forms that must keep the maximum's adjoint ---------------------------------


def softmax_plus_max(x, w):
    m = np.max(x, axis=1, keepdims=True)
    e = np.exp(x - m)
    return np.sum(w * (e / np.sum(e, axis=1, keepdims=True))) + np.sum(m)


def softmax_other_axis(x, w):
    e = np.exp(x - np.max(x, axis=1, keepdims=True))  # per row, summed per column
    return np.sum(w * (e / np.sum(e, axis=0, keepdims=True)))


def softmax_numerator_read(x, w):
    e = np.exp(x - np.max(x, axis=1, keepdims=True))
    return np.sum(w * (e / np.sum(e, axis=1, keepdims=True))) + np.sum(e)


def softmax_only(x, w):
    e = np.exp(x)
    return np.sum(w * (e / np.sum(e, axis=1, keepdims=True)))


@pytest.mark.parametrize("f", [softmax_plus_max, softmax_other_axis, softmax_numerator_read])
def test_a_shift_that_does_not_cancel_keeps_its_adjoint(f):
    x = RNG.standard_normal((3, 4))
    w = RNG.standard_normal((3, 4))
    assert "extremum_adjoint" in grad(f, wrt=(0, 1)).source_for(x, w)
    _agrees(f, (0, 1), (x, w), (x[:, :1], w[:, :1]))


def test_ties_of_a_maximum_read_elsewhere_share_its_adjoint():
    x = RNG.standard_normal((3, 4))
    x[0, 1] = x[0, 3] = x[0].max() + 1.0  # row 0: two maxima
    x[2, :] = 0.5  # row 2: four
    w = RNG.standard_normal((3, 4))
    found = grad(softmax_plus_max, wrt=0)(x, w)
    share = np.zeros_like(x)
    share[0, [1, 3]] = 0.5
    share[1, np.argmax(x[1])] = 1.0
    share[2, :] = 0.25
    smooth = numerical_gradient(softmax_only, (x, w), wrt=0)  # the softmax is smooth
    np.testing.assert_allclose(found, smooth + share, rtol=1e-6, atol=1e-8)


# -- the normalisation without an exponential ----------------------------------------------


def shares(x, w):
    return np.sum(w * (x / np.sum(x, axis=1, keepdims=True)))


def finite_shares(x, w):
    p = x / np.sum(x, axis=1, keepdims=True)
    return np.sum(np.where(np.isfinite(p), p * w, 0.0))


def test_normalisation_takes_both_paths():
    x = RNG.uniform(0.5, 2.0, (3, 4))
    w = RNG.standard_normal((3, 4))
    assert "normalized_adjoint(" in grad(shares, wrt=(0, 1)).source_for(x, w)
    _agrees(
        shares,
        (0, 1),
        (x, w),
        (x[:1], w[:1]),
        (x[:, :1], w[:, :1]),
        (x.astype(np.float32), w.astype(np.float32)),
    )


def test_normalisation_keeps_the_where_trap_at_a_zero_sum():
    x = RNG.uniform(0.5, 2.0, (3, 4))
    x[1] = [1.0, -1.0, 2.0, -2.0]  # sums to 0: p is infinite or NaN there, not selected
    w = RNG.standard_normal((3, 4))
    with np.errstate(divide="ignore", invalid="ignore"):
        found = grad(finite_shares, wrt=0)(x, w)
    assert np.all(found[1] == 0.0)
    rows = [0, 2]
    expected = numerical_gradient(shares, (x[rows], w[rows]), wrt=0)
    np.testing.assert_allclose(found[rows], expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("axis", [1, 0, None])
def test_normalisation_runtime_matches_the_guarded_terms(axis):
    e = RNG.uniform(0.1, 2.0, (3, 4))
    s = np.sum(e, axis=axis, keepdims=True)
    p = e / s
    g = RNG.standard_normal((3, 4))
    generic = runtime.over(g, s) + runtime.times(-g, runtime.quotient(p, s)).sum(
        axis=axis, keepdims=True
    )
    np.testing.assert_allclose(runtime.normalized_adjoint(g, p, s, axis), generic, rtol=1e-12)
    through_exp = runtime.normalized_exp_adjoint(g, p, s, e, axis)
    np.testing.assert_allclose(through_exp, generic * e, rtol=1e-12)
    s32 = s.astype(np.float32)
    found = runtime.normalized_adjoint(g.astype(np.float32), p.astype(np.float32), s32, axis)
    assert found.dtype == np.float32


def test_normalisation_runtime_guards_zero_and_infinite_sums():
    e = np.array([[1.0, -1.0], [np.inf, 1.0], [2.0, 3.0]])
    with np.errstate(all="ignore"):
        s = np.sum(e, axis=1, keepdims=True)
        p = e / s
    g = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, -1.0]])  # no adjoint where p is not finite
    with np.errstate(all="ignore"):  # the guards' finiteness checks warn as times() does
        found = runtime.normalized_adjoint(g, p, s, 1)
    assert np.all(found[:2] == 0.0)
    np.testing.assert_allclose(found[2], (g[2] - np.sum(g[2] * p[2])) / s[2])


# -- the seed of a whole sum and divisions by a number --------------------------------------


def sum_of_squares(x):
    return np.sum(x * x)


def test_seed_of_a_whole_sum_multiplies_directly():
    x = RNG.standard_normal((3, 4))
    source = grad(sum_of_squares).source_for(x)
    assert "x * 2.0" in source and "times(" not in source and "expand_reduced" not in source
    _agrees(sum_of_squares, 0, (x,), (x[:1],), (x[0],), (x.astype(np.float32),))
    found = grad(sum_of_squares)(np.array([np.inf, 1.0]))
    assert found[0] == np.inf and found[1] == 2.0


def test_over_by_a_number():
    g = RNG.standard_normal(5)
    assert np.array_equal(runtime.over(g, 4.0), g / 4.0)
    g[1] = 0.0
    with np.errstate(all="raise"):
        at_zero = runtime.over(g, 0.0)
        at_nan = runtime.over(g, float("nan"))
    assert at_zero[1] == 0.0 and np.isinf(at_zero[0])
    assert at_nan[1] == 0.0 and np.isnan(at_nan[0])


# -- second derivatives and forward mode over the same forms -------------------------------


@pytest.mark.parametrize("f", [softmax_method, shares])
def test_hvp_and_jvp_of_the_fused_forms(f):
    from ad_transform import hvp, jvp

    x = RNG.uniform(0.5, 2.0, (3, 4))
    w = RNG.standard_normal((3, 4))
    u = RNG.standard_normal((3, 4))
    eps = 1e-6
    gradient = grad(f, wrt=0)
    expected = (gradient(x + eps * u, w) - gradient(x - eps * u, w)) / (2 * eps)
    np.testing.assert_allclose(hvp(f, wrt=0)(x, w, u), expected, rtol=1e-5, atol=1e-7)
    _, tangent = jvp(f, (x, w), (u, np.zeros_like(w)))
    expected = (f(x + eps * u, w) - f(x - eps * u, w)) / (2 * eps)
    assert tangent == pytest.approx(expected, rel=1e-6)
