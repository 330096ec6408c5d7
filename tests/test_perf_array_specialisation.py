"""Direct array forms chosen by shape facts (issue 15, the array cases): each checked
against central differences, and the same ``grad`` object called again with arguments
that break the assumption of each form (other ranks, unit axes, dtypes), which must get
other code and right gradients.

Forms: the ``logaddexp`` adjoint without the forward value, the shape source of a sum
or mean adjoint, ``einsum`` of two matrices as matrix products, known-axes sums in place
of ``unbroadcast`` (keepdims reductions), ``x[:, None, :]`` adjoints as views of ``g``,
the extremum adjoint without ties.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from ad_transform import grad, value_and_grad
from benchmarks.cases_applied import heat_concatenate, heat_slices, logistic
from tests.gradcheck import check_grad, same_grad_agrees

RNG = np.random.default_rng(1517)


# -- logaddexp: the adjoint reads the operands, not the forward value ---------------------


def test_logistic_regression_computes_no_logarithm_and_is_right():
    X, y = RNG.standard_normal((12, 3)), (RNG.standard_normal(12) > 0).astype(float)
    w = RNG.standard_normal(3)
    source = grad(logistic, wrt=(0, 1)).source_for(w, 0.1, X, y)
    forward, backward = (
        "\n".join(line for line in sweep.splitlines() if not line.strip().startswith("#"))
        for sweep in source.split("# backward sweep")
    )
    code = backward
    # the adjoint of the mean needs neither its value nor the logarithm; the forward sweep
    # keeps the unused ``np.logaddexp(0.0, z) - y * z`` only because ``y * z`` of two
    # arrays raises where their shapes do not broadcast, as ``logistic`` does
    # (docs/architecture/dtypes.md: dead code keeps what may raise)
    assert "np.logaddexp(" not in code and forward.count("np.logaddexp(") <= 1
    assert "logaddexp_share(z, 0.0)" in code
    # then: y a single label broadcast over the batch, X one row (a unit axis), float32
    same_grad_agrees(
        logistic,
        (0, 1),
        (w, 0.1, X, y),
        (w, 0.1, X, y[:1]),
        (w, 0.1, X[:1], y[:1]),
        (w, 0.1, X[:1], y),
        (w.astype(np.float32), 0.1, X.astype(np.float32), y.astype(np.float32)),
    )


def test_value_and_grad_still_returns_the_value():
    X, y = RNG.standard_normal((6, 2)), (RNG.standard_normal(6) > 0).astype(float)
    w = RNG.standard_normal(2)
    value, _ = value_and_grad(logistic, wrt=(0, 1))(w, 0.3, X, y)
    assert value == pytest.approx(logistic(w, 0.3, X, y), rel=1e-12)


def both_operands(x, y):
    return np.sum(np.logaddexp(x, y) * np.cos(y))


def test_logaddexp_of_two_broadcast_operands():
    x, y = RNG.standard_normal((3, 1)), RNG.standard_normal(4)
    same_grad_agrees(both_operands, (0, 1), (x, y), (x[:1, 0], y), (x[:1], y[:1]))


def plain_logaddexp(x, y):
    return np.sum(np.logaddexp(x, y))


def test_logaddexp_far_apart_has_exact_limits_and_no_warning():
    x = np.array([-800.0, -30.0, 0.0, 30.0, 800.0, np.inf])
    y = np.zeros(6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dx, dy = grad(plain_logaddexp, wrt=(0, 1))(x, y)
    # exp(x) / (exp(x) + exp(y)), and its limits: 0 far below, 1 far above
    share = np.array(
        [0.0, 1.0 / (1.0 + math.exp(30.0)), 0.5, 1.0 / (1.0 + math.exp(-30.0)), 1.0, 1.0]
    )
    np.testing.assert_allclose(dx, share, rtol=1e-14, atol=1e-300)
    other = np.array(
        [1.0, 1.0 / (1.0 + math.exp(-30.0)), 0.5, 1.0 / (1.0 + math.exp(30.0)), 0.0, 0.0]
    )
    np.testing.assert_allclose(dy, other, rtol=1e-14, atol=1e-300)


# -- the shape source of a sum or mean adjoint ----------------------------------------------


def mean_of_chain(x, y):
    t = np.tanh(x) * 2.0
    u = np.exp(t) - y * t
    return np.mean(u) + np.sum(u * 0.0 + 1.0)


def test_mean_of_a_broadcast_result_is_right_whatever_broadcast():
    x, y = RNG.standard_normal(5), RNG.standard_normal(5)
    g = same_grad_agrees(
        mean_of_chain,
        (0, 1),
        (x, y),
        (x[:1], y),  # x one element: u has y's shape, not x's
        (x, y[:1]),
        (x[:, None], y),  # a rank the first code did not see
    )
    assert g is not None


def rebinding_in_a_loop(x, n):
    z = x
    total = 0.0
    for _ in range(n):
        w = np.sin(z) * 3.0
        z = np.concatenate([z, z])  # z rebound between w and the mean of w
        total = total + np.mean(w * w)
    return total


def test_shape_source_is_never_a_name_a_loop_rebinds():
    x = RNG.standard_normal(3)
    source = grad(rebinding_in_a_loop).source_for(x, 3)
    same_grad_agrees(rebinding_in_a_loop, 0, (x, 3), (x[:1], 2))
    assert "expand_reduced" in source


# -- einsum of two matrices: matrix products -----------------------------------------------


def e_ac_cb_ab(A, B):
    return np.sum(np.sin(np.einsum("ac,cb->ab", A, B)))


def e_ac_cb_ba(A, B):
    return np.sum(np.sin(np.einsum("ac,cb->ba", A, B)))


def e_ac_bc_ab(A, B):
    return np.sum(np.sin(np.einsum("ac,bc->ab", A, B)))


def e_ac_bc_ba(A, B):
    return np.sum(np.sin(np.einsum("ac,bc->ba", A, B)))


def e_ca_cb_ab(A, B):
    return np.sum(np.sin(np.einsum("ca,cb->ab", A, B)))


def e_ca_cb_ba(A, B):
    return np.sum(np.sin(np.einsum("ca,cb->ba", A, B)))


def e_ca_bc_ab(A, B):
    return np.sum(np.sin(np.einsum("ca, bc -> ab", A, B)))


def e_ca_bc_ba(A, B):
    return np.sum(np.sin(np.einsum("ca,bc->ba", A, B)))


SPECS = [
    e_ac_cb_ab,
    e_ac_cb_ba,
    e_ac_bc_ab,
    e_ac_bc_ba,
    e_ca_cb_ab,
    e_ca_cb_ba,
    e_ca_bc_ab,
    e_ca_bc_ba,
]


@pytest.mark.parametrize("f", SPECS)
def test_einsum_matrix_product_forms(f):
    spec = f.__name__[2:].replace("_", ",", 1).replace("_", "->")
    sizes = dict(a=3, b=4, c=5)
    terms = spec.split("->")[0].split(",")
    A = RNG.standard_normal([sizes[c] for c in terms[0]])
    B = RNG.standard_normal([sizes[c] for c in terms[1]])
    source = grad(f, wrt=(0, 1)).source_for(A, B)
    assert "einsum_adjoint" not in source and "@" in source
    assert "np.einsum(" not in "".join(  # the forward einsum is a matrix product too
        line for line in source.splitlines() if not line.strip().startswith("#")
    )
    value, _ = value_and_grad(f, wrt=(0, 1))(A, B)
    assert value == pytest.approx(f(A, B), rel=1e-12)
    # the contracted label of length 1 in both; then in one only (einsum broadcasts it)
    one = dict(sizes, c=1)
    A1 = RNG.standard_normal([one[c] for c in terms[0]])
    B1 = RNG.standard_normal([one[c] for c in terms[1]])
    Bn = RNG.standard_normal([sizes[c] for c in terms[1]])
    assert "einsum_adjoint" in grad(f, wrt=(0, 1)).source_for(A1, Bn)
    same_grad_agrees(
        f,
        (0, 1),
        (A, B),
        (A1, B1),
        (A1, Bn),
        (A.astype(np.float32), B.astype(np.float32)),
    )


def einsum_batched(A, B):
    return np.sum(np.einsum("nij,njk->nik", A, B) ** 2)


def test_einsum_other_than_two_matrices_keeps_the_generic_adjoint():
    A, B = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 4, 5))
    assert "einsum_adjoint" in grad(einsum_batched, wrt=(0, 1)).source_for(A, B)
    check_grad(einsum_batched, (A, B), wrt=(0, 1))


def attention(Wq, Wk, Wv, X):
    Q = X @ Wq
    K = X @ Wk
    V = X @ Wv
    S = np.einsum("id,jd->ij", Q, K) / math.sqrt(Q.shape[1])
    S = S - np.max(S, axis=1, keepdims=True)
    P = np.exp(S)
    P = P / np.sum(P, axis=1, keepdims=True)
    out = np.einsum("ij,jd->id", P, V)
    return np.sum(out * out)


def test_attention_is_matrix_products_and_known_sums():
    X = RNG.standard_normal((5, 3))
    Ws = [RNG.standard_normal((3, 3)) for _ in range(3)]
    source = grad(attention, wrt=(0, 1, 2)).source_for(*Ws, X)
    assert "einsum_adjoint" not in source and "unbroadcast" not in source
    # the softmax's sum: in its fused adjoint (perf_attention_2.md)
    assert "normalized_exp_adjoint(" in source
    same_grad_agrees(
        attention,
        (0, 1, 2),
        (*Ws, X),
        (*Ws, X[:1]),  # one token: the softmax over one element
        (*[W[:, :1] for W in Ws], X),  # one feature: Q @ K.T contracts a unit axis
        (*[W.astype(np.float32) for W in Ws], X.astype(np.float32)),
    )


# -- unit axes summed by name, keepdims reductions --------------------------------------------


def softmax_rows(x, y):
    e = np.exp(x - np.max(x, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    return np.sum(p * y) + np.sum(np.mean(x * y, axis=0, keepdims=True) ** 2)


def softmax_rows_read(x, y):
    # e read again: the normalisation's adjoint is not fused, the sum's axis is known
    e = np.exp(x - np.max(x, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    return np.sum(p * y) + np.sum(np.mean(x * y, axis=0, keepdims=True) ** 2) + np.sum(e)


def test_keepdims_reductions_and_their_broadcasts():
    x, y = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    assert "normalized_exp_adjoint(" in grad(softmax_rows, wrt=(0, 1)).source_for(x, y)
    assert ".sum(axis=1, keepdims=True)" in grad(softmax_rows_read, wrt=(0, 1)).source_for(x, y)
    for f in (softmax_rows, softmax_rows_read):
        same_grad_agrees(f, (0, 1), (x, y), (x[:1], y), (x[:, :1], y), (x, y[:1]), (x[:1, :1], y))


def summed_rows(x, r):
    return np.sum(np.sin(x + r) * x)


def test_known_axes_sum_only_where_the_facts_know_the_axis():
    x, r = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 1))
    assert "unbroadcast" not in grad(summed_rows, wrt=(0, 1)).source_for(x, r)
    # r as a row vector of rank 1 (another rank: unbroadcast sums a leading axis)
    same_grad_agrees(
        summed_rows, (0, 1), (x, r), (x, r[:1]), (x, RNG.standard_normal(3)), (x[:, :1], r)
    )


def slice_plus(x, y):
    return np.sum(np.sin(x[1:] + y) * y)


def test_a_slice_of_unknown_length_keeps_unbroadcast():
    x, y = RNG.standard_normal(5), RNG.standard_normal(4)
    assert "unbroadcast" in grad(slice_plus, wrt=(0, 1)).source_for(x, y)
    # x[1:] of one element broadcast over y; then y of one element
    same_grad_agrees(slice_plus, (0, 1), (x, y), (x[:2], y), (x, y[:1]))


# -- new axes: x[:, None, :] -----------------------------------------------------------------


def pairwise(pos, masses):
    diff = pos[:, None, :] - pos[None, :, :]
    r2 = np.sum(diff * diff, axis=-1) + 0.1
    weights = r2**-1.5 * masses[None, :]
    return np.sum(diff * weights[:, :, None]) + np.sum(np.sin(pos[None]))


def test_new_axes_adjoints_are_views_of_g():
    pos, masses = RNG.standard_normal((4, 3)), RNG.uniform(0.5, 1.5, 4)
    source = grad(pairwise, wrt=(0, 1)).source_for(pos, masses)
    assert "index_adjoint" not in source and "accumulate_index" not in source
    same_grad_agrees(pairwise, (0, 1), (pos, masses), (pos[:1], masses[:1]), (pos[:, :1], masses))


def pairwise_steps(pos, masses, steps):
    for _ in range(steps):
        diff = pos[:, None, :] - pos[None, :, :]
        r2 = np.sum(diff * diff, axis=-1) + 0.1
        weights = r2**-1.5 * masses[None, :]
        pos = pos + 0.01 * np.sum(diff * weights[:, :, None], axis=1)
    return np.sum(pos * pos)


def test_new_axes_in_a_loop_are_views_of_g():
    pos, masses = RNG.standard_normal((4, 3)), RNG.uniform(0.5, 1.5, 4)
    source = grad(pairwise_steps, wrt=(0, 1)).source_for(pos, masses, 3)
    assert "[:, :, 0]" in source and "[:, 0, :]" in source and "[0, :, :]" in source
    assert "index_adjoint" not in source and "accumulate_index" not in source
    same_grad_agrees(
        pairwise_steps,
        (0, 1),
        (pos, masses, 3),
        (pos[:1], masses[:1], 2),
        (pos[:, :1], masses, 2),
        (pos.astype(np.float32), masses.astype(np.float32), 2),
    )


def new_axes_accumulated(x):
    a = x[:, None]
    b = x[None, :]
    c = x[None]
    return np.sum(a * b) + np.sum(np.cos(c)) + np.sum(a**3)


def test_new_axes_views_accumulate_into_one_adjoint():
    x = RNG.standard_normal(4)
    same_grad_agrees(new_axes_accumulated, 0, (x,), (x[:1],), (x.astype(np.float32),))


def new_axes_of_ints(k, x):
    return np.sum(k[:, None] * x)


def test_new_axes_of_an_integer_array_keep_the_generic_form():
    k = np.arange(3)
    x = RNG.standard_normal((3, 2))
    assert "index_adjoint" not in grad(new_axes_of_ints, wrt=1).source_for(k, x)
    check_grad(new_axes_of_ints, (k, x), wrt=1)


# -- extrema: ties and NaN still split ------------------------------------------------------


def row_max(x):
    return np.sum(np.max(x, axis=1, keepdims=True) * np.arange(1.0, 1.0 + x.shape[0])[:, None])


def test_extremum_adjoint_without_ties_with_ties_and_with_nan():
    x = np.array([[1.0, 3.0, 2.0], [5.0, 5.0, 0.0]])  # the second row ties
    d = grad(row_max)(x)
    np.testing.assert_array_equal(d, [[0.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    untied = np.array([[1.0, 3.0, 2.0], [5.0, 4.0, 0.0]])
    np.testing.assert_array_equal(grad(row_max)(untied), [[0.0, 1.0, 0.0], [2.0, 0.0, 0.0]])
    # a NaN row: its NaN element is the extreme; the other row has two maxima
    nan = np.array([[1.0, np.nan, 2.0], [7.0, 7.0, 7.0]])
    np.testing.assert_allclose(
        grad(row_max)(nan), [[0.0, 1.0, 0.0], [2 / 3, 2 / 3, 2 / 3]], rtol=1e-15
    )


# -- lengths: slices of one axis, copies, slice stores, joined pieces ----------------------


@pytest.mark.parametrize("f", [heat_slices, heat_concatenate])
def test_stencils_need_no_unbroadcast_and_are_right_at_every_length(f):
    u = np.sin(np.linspace(0.0, 3.0, 7))
    source = grad(f, wrt=(0, 1)).source_for(u, 0.2, 3)
    assert "unbroadcast" not in source and "item_adjoint" not in source
    if f is heat_slices:
        assert "du_1[2:] += " in source
    # lengths 2 and 3 (the pieces are empty or single), 1 (a unit axis: other code)
    same_grad_agrees(
        f,
        (0, 1),
        (u, 0.2, 3),
        (u[:2], 0.2, 3),
        (u[:3], 0.2, 2),
        (u[:1], 0.2, 2),
        (u.astype(np.float32), 0.2, 2),
    )


def stencil_other_pieces(u, alpha):
    # pieces whose lengths do not add up to u's: u[:2] with u[1:-1] and u[-1:]
    v = np.concatenate([u[:2], u[1:-1] * alpha, u[-1:]])
    w = np.concatenate([u[:1], u[1:] * alpha])
    return np.sum(v * v) + np.sum(w[1:] * u[:-1]) + np.sum(w * u)


def test_joined_pieces_of_other_lengths():
    u = RNG.standard_normal(6)
    same_grad_agrees(stencil_other_pieces, (0, 1), (u, 0.3), (u[:2], 0.3), (u[:3], 0.3))


def changed_list(u, alpha):
    pieces = [u[:1], u[1:-1] * alpha, u[-1:]]
    pieces.append(u[:2])
    v = np.concatenate(pieces)  # of u's length plus 2: the appended piece counts
    return np.sum(v * np.concatenate([u, u[:2] * 2.0]))


def test_a_list_changed_in_place_has_no_facts():
    u = RNG.standard_normal(5)
    same_grad_agrees(changed_list, (0, 1), (u, 0.5), (u[:3], 0.5), (u[:2], 0.5))


def store_broadcast(u, alpha):
    new = u.copy()
    new[1:-1] = alpha * u[:1]  # one element spread over the slice
    new[:2] = new[2:4] * alpha  # a value of the slice's length
    return np.sum(new * new * u)


def test_slice_store_of_a_broadcast_value_keeps_item_adjoint():
    u = RNG.standard_normal(6)
    source = grad(store_broadcast, wrt=(0, 1)).source_for(u, 0.7)
    assert "item_adjoint" in source  # u[:1] is not of the slice's length
    same_grad_agrees(store_broadcast, (0, 1), (u, 0.7), (u[:4], 0.7), (u[:3], 0.7))


def scaled_sum(x, a, b):
    return np.sum(np.sin(a * x) * b)


def test_a_number_operand_gets_the_whole_sum():
    x = RNG.standard_normal((3, 2))
    source = grad(scaled_sum, wrt=(0, 1, 2)).source_for(x, 0.5, 2.0)
    # the whole sum of a product is one dot product (times_sum, issue 15 heat/attention)
    assert "unbroadcast" not in source and "times_sum(" in source
    g = grad(scaled_sum, wrt=(0, 1, 2))
    _, da, db = g(x, 0.5, 2.0)
    assert type(da) is float and type(db) is float
    same_grad_agrees(scaled_sum, (0, 1, 2), (x, 0.5, 2.0), (x[:1, :1], 0.5, 2.0), (x, 1, 2))


def reads_written_out(x, n):
    total = 0.0
    for i in range(n):
        y = x * 1.5
        total = total + np.sum(y[i : i + 2] * y[1:3]) + y[i] * y[-1] + np.sum(y[None, 1:3] ** 2)
    return total


def test_reads_accumulated_in_place_in_a_loop():
    x = RNG.standard_normal(6)
    same_grad_agrees(reads_written_out, 0, (x, 3), (x[:4], 2), (x.astype(np.float32), 2))


# -- sums and means over one axis: the adjoint repeated along it ----------------------------


def axis_reductions(a, b):
    s = np.sum(a * b, axis=1)
    m = np.mean(np.sin(a), axis=-1, keepdims=True)
    t = (a * a).sum(axis=0)
    u = np.cos(b).mean(axis=2)
    return np.sum(s * s) + np.sum(m * a) + np.sum(t**3) + np.sum(np.tanh(u))


def test_axis_reductions_repeat_the_adjoint():
    a, b = RNG.standard_normal((3, 4, 2)), RNG.standard_normal((3, 4, 2))
    source = grad(axis_reductions, wrt=(0, 1)).source_for(a, b)
    assert source.count("np.repeat(") == 4  # the four reductions over one axis
    same_grad_agrees(
        axis_reductions,
        (0, 1),
        (a, b),
        (a[:1], b),
        (a[:, :1], b[:, :1]),
        (a[:, :, :1], b),
        (a.astype(np.float32), b.astype(np.float32)),
    )


def reduce_vector(x):
    return np.sum(x, axis=0) * np.mean(x, axis=0, keepdims=True)[0]


def test_axis_reduction_of_a_vector():
    x = RNG.standard_normal(4)
    same_grad_agrees(reduce_vector, 0, (x,), (x[:1],))


def concatenate_flat(a, b):
    v = np.concatenate([a, b], axis=None)
    w = np.concatenate([a * 2.0, b])
    return np.sum(v * v) + np.sum(w**3)


def test_concatenate_without_an_axis_and_of_two_pieces():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((1, 3))
    same_grad_agrees(concatenate_flat, (0, 1), (a, b), (a[:1], b), (a[:, :1], b[:, :1]))


def squares(x, y):
    z = x * x
    w = (y * x) * (y * x)
    return np.sum(z * y) + np.sum(np.sqrt(w + 1.0))


def test_a_square_takes_the_adjoint_once_twice():
    x, y = RNG.standard_normal((3, 2)), RNG.standard_normal(2)
    assert "* 2.0" in grad(squares, wrt=(0, 1)).source_for(x, y)
    same_grad_agrees(squares, (0, 1), (x, y), (x[:1], y), (x, y[:1]), (x[:, :1], y))


def square_where_trap(x):
    y = np.where(x > 0, x, np.inf)
    return np.sum(np.where(x > 0, y * y, 0.0))


def test_a_square_keeps_the_where_trap():
    x = np.array([1.5, -2.0, 0.5])
    np.testing.assert_array_equal(grad(square_where_trap)(x), [3.0, 0.0, 1.0])


def bias_layer(X, W, b, c):
    h = np.tanh(X @ W + b)
    return np.sum(h * c)


def test_a_bias_gets_the_batch_sum():
    X, W = RNG.standard_normal((5, 3)), RNG.standard_normal((3, 4))
    b, c = RNG.standard_normal(4), RNG.standard_normal((5, 4))
    source = grad(bias_layer, wrt=(1, 2)).source_for(X, W, b, c)
    assert ".sum(axis=0)" in source and "unbroadcast" not in source
    same_grad_agrees(
        bias_layer,
        (1, 2),
        (X, W, b, c),
        (X, W, b[:1], c),  # b broadcast along its own axis too: unbroadcast again
        (X[:1], W, b, c[:1]),
        (X, W[:, :1], b[:1], c[:, :1]),
    )


def einsum_same_operand(A, B):
    C = np.einsum("ij,kj->ik", A, A, optimize=True)
    D = np.einsum("ij,jk->ik", C, B.T)
    return np.sum(np.tanh(D) * C[:, :1])


def test_einsum_of_one_array_twice_and_a_transposed_view():
    A, B = RNG.standard_normal((3, 4)), RNG.standard_normal((2, 3))
    source = grad(einsum_same_operand, wrt=(0, 1)).source_for(A, B)
    assert "einsum_adjoint" not in source
    same_grad_agrees(einsum_same_operand, (0, 1), (A, B), (A[:1], B[:, :1]), (A[:, :1], B))
