"""The runtime helpers' fast paths give exactly what their general paths give.

``unbroadcast``, ``matmul_adjoint_left``/``right``, ``as_gradient``, ``tie_share`` and
the finiteness check of ``times``/``over`` take a short path for the common case (plain
ndarrays, plain matrices); these tests check that path against a direct computation,
against the general path, and through ``grad`` against finite differences, in float64
and float32.
"""

import tempfile

import numpy as np
import pytest
from gradcheck import check_grad

from ad_transform import grad
from ad_transform.runtime import (
    as_gradient,
    matmul_adjoint_left,
    matmul_adjoint_right,
    over,
    tie_share,
    tie_weight,
    times,
    unbroadcast,
)

RNG = np.random.default_rng(20240611)


def general(a) -> np.memmap:
    """``a`` as a memory map: the fast paths want exact ndarrays, so it takes the general
    paths, which compute with it as an ndarray view (``runtime.values.plain_array``;
    other ndarray subclasses are refused there)."""
    a = np.asarray(a)
    with tempfile.TemporaryFile() as file:  # removed when closed; the map stays
        mapped = np.memmap(file, dtype=a.dtype, mode="w+", shape=a.shape)
    mapped[...] = a
    return mapped


# -- unbroadcast -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "g_shape, x_shape",
    [
        ((4, 3), (4, 3)),
        ((4, 3), (3,)),
        ((5, 4, 3), (3,)),
        ((5, 4, 3), (4, 3)),
        ((4, 3), (1, 3)),
        ((4, 3), (4, 1)),
        ((4, 3), ()),
        ((5, 4, 3), (4, 1)),
        ((5, 4, 3), (1, 3)),
        ((5, 4, 3), (5, 1, 1)),
        ((2, 0, 3), (1, 3)),
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unbroadcast_sums_broadcast_axes(g_shape, x_shape, dtype):
    g = RNG.standard_normal(g_shape).astype(dtype)
    x = np.zeros(x_shape, dtype=dtype)
    result = unbroadcast(g, x)
    extra = len(g_shape) - len(x_shape)
    expected = np.sum(g, axis=tuple(range(extra)))
    expected = np.sum(
        expected, axis=tuple(i for i, n in enumerate(x_shape) if n == 1), keepdims=True
    )
    assert np.shape(result) == x_shape
    assert np.asarray(result).dtype == dtype
    np.testing.assert_allclose(result, np.reshape(expected, x_shape), rtol=1e-6)
    # the general path (an ndarray subclass does not take the fast one) agrees
    np.testing.assert_allclose(unbroadcast(general(g), general(x)), result, rtol=1e-6)


def test_unbroadcast_equal_shapes_is_the_adjoint_itself():
    g = RNG.standard_normal((4, 3))
    assert unbroadcast(g, np.zeros((4, 3))) is g


# -- matmul adjoints -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matmul_adjoints_of_matrices_are_the_hand_written_products(dtype):
    x = RNG.standard_normal((5, 4)).astype(dtype)
    y = RNG.standard_normal((4, 3)).astype(dtype)
    g = RNG.standard_normal((5, 3)).astype(dtype)
    left, right = matmul_adjoint_left(g, x, y), matmul_adjoint_right(g, x, y)
    np.testing.assert_array_equal(left, g @ y.T)
    np.testing.assert_array_equal(right, x.T @ g)
    assert left.dtype == dtype and right.dtype == dtype
    # the general path gives the same numbers
    subs = general(g), general(x), general(y)
    np.testing.assert_allclose(matmul_adjoint_left(*subs), left, rtol=1e-6)
    np.testing.assert_allclose(matmul_adjoint_right(*subs), right, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "x_shape, y_shape", [((5, 4), (4,)), ((5,), (5, 3)), ((4,), (4,))], ids=["Av", "vA", "vv"]
)
def test_matmul_adjoints_of_matrix_vector_products_are_the_hand_written_forms(
    x_shape, y_shape, dtype
):
    x = RNG.standard_normal(x_shape).astype(dtype)
    y = RNG.standard_normal(y_shape).astype(dtype)
    g = np.asarray(RNG.standard_normal(np.shape(x @ y))).astype(dtype)
    left, right = matmul_adjoint_left(g, x, y), matmul_adjoint_right(g, x, y)
    # by calculus: d(x @ y) = dx @ y + x @ dy, paired with g
    if x.ndim == 2:
        np.testing.assert_allclose(left, g[:, None] * y[None, :], rtol=1e-6)
        np.testing.assert_allclose(right, x.T @ g, rtol=1e-6)
    elif y.ndim == 2:
        np.testing.assert_allclose(left, y @ g, rtol=1e-6)
        np.testing.assert_allclose(right, x[:, None] * g[None, :], rtol=1e-6)
    else:
        np.testing.assert_allclose(left, g * y, rtol=1e-6)
        np.testing.assert_allclose(right, g * x, rtol=1e-6)
    assert left.shape == x.shape and right.shape == y.shape
    assert left.dtype == dtype and right.dtype == dtype
    subs = general(g), general(x), general(y)  # the general path agrees
    np.testing.assert_allclose(matmul_adjoint_left(*subs), left, rtol=1e-6)
    np.testing.assert_allclose(matmul_adjoint_right(*subs), right, rtol=1e-6)


def matrix_vector_chain(A, v, w):
    return np.sum(np.tanh(A @ v) * w) + np.sin(w @ A) @ v


def test_matrix_vector_gradients_against_finite_differences():
    A, v, w = RNG.standard_normal((4, 3)), RNG.standard_normal(3), RNG.standard_normal(4)
    check_grad(matrix_vector_chain, (A, v, w), wrt=(0, 1, 2))


def mlp_like(W, b, X):
    return np.sum(np.tanh(X @ W + b) @ W.T)


def matmul_chain(A, B, C):
    return np.sum(np.sin(A @ B @ C))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matmul_gradients_against_finite_differences(dtype):
    W, b, X = RNG.standard_normal((4, 4)), RNG.standard_normal(4), RNG.standard_normal((3, 4))
    if dtype is np.float64:
        check_grad(mlp_like, (W, b, X), wrt=(0, 1, 2))
        check_grad(matmul_chain, (X, W, RNG.standard_normal((4, 2))), wrt=(0, 1, 2))
    else:
        args = tuple(a.astype(np.float32) for a in (W, b, X))
        result = grad(mlp_like, wrt=(0, 1, 2))(*args)
        expected = grad(mlp_like, wrt=(0, 1, 2))(W, b, X)
        for r, e in zip(result, expected, strict=True):
            assert r.dtype == np.float32
            np.testing.assert_allclose(r, e, rtol=1e-4, atol=1e-5)


def sum_of_product(a, b):
    return np.sum(a @ b)


def sum_of_maximum(a, b):
    return np.sum(np.maximum(a, b))


def test_matmul_gradients_are_independent_arrays():
    A, B = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 2))
    dA, dB = grad(sum_of_product, wrt=(0, 1))(A, B)
    np.testing.assert_allclose(dA, np.ones((3, 2)) @ B.T)
    np.testing.assert_allclose(dB, A.T @ np.ones((3, 2)))
    for d in (dA, dB):
        assert d.flags.writeable
        assert not np.shares_memory(d, A) and not np.shares_memory(d, B)
    # the same matrix as both factors: two gradients, neither aliasing the other
    S = RNG.standard_normal((3, 3))
    dS1, dS2 = grad(sum_of_product, wrt=(0, 1))(S, S)
    assert not np.shares_memory(dS1, dS2)
    before = dS2.copy()
    dS1 += 1.0
    np.testing.assert_array_equal(dS2, before)


# -- as_gradient -----------------------------------------------------------------------


def test_as_gradient_copies_only_when_asked():
    x = np.zeros((3, 2))
    dx = RNG.standard_normal((3, 2))
    assert as_gradient(dx, x) is dx
    copied = as_gradient(dx, x, True)
    assert copied is not dx and not np.shares_memory(copied, dx)
    np.testing.assert_array_equal(copied, dx)


def test_as_gradient_casts_to_the_arguments_float_dtype():
    x32 = np.zeros(3, dtype=np.float32)
    dx = np.arange(3.0)
    result = as_gradient(dx, x32)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, dx)
    # an integer argument gets a float64 gradient; a scalar adjoint is spread over x
    assert as_gradient(np.arange(3.0), np.arange(3)).dtype == np.float64
    np.testing.assert_array_equal(as_gradient(2.0, x32), np.full(3, 2.0, dtype=np.float32))


# -- tie_share (np.maximum / np.minimum) -----------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tie_share_is_the_adjoint_times_tie_weight(dtype):
    x = RNG.integers(-2, 3, size=(6, 5)).astype(dtype)  # many ties with 0 and with y
    y = RNG.integers(-2, 3, size=5).astype(dtype)
    g = RNG.standard_normal((6, 5)).astype(dtype)
    for a, b in ((x, y), (y, x), (x, 0.0), (0.0, x)):
        share = tie_share(g, a, b)
        expected = g * tie_weight(a, b)
        assert share.dtype == expected.dtype == dtype
        np.testing.assert_array_equal(share, expected)
    np.testing.assert_array_equal(tie_share(g, x, y) + tie_share(g, y, x), g)


def test_tie_share_at_nan_and_for_scalars():
    x = np.array([np.nan, 1.0, 0.0, -1.0])
    np.testing.assert_array_equal(tie_share(np.ones(4), x, 0.0), [0.0, 1.0, 0.5, 0.0])
    np.testing.assert_array_equal(tie_share(np.ones(4), 0.0, x), [0.0, 0.0, 0.5, 1.0])
    assert tie_share(np.float64(2.0), np.float64(1.0), np.float64(1.0)) == 1.0
    assert tie_share(2.0, np.float32(3.0), 1.0).dtype == np.float32
    # a float64 adjoint of float32 values stays float64, as g * tie_weight(x, y) does
    assert tie_share(np.ones(2), np.ones(2, np.float32), np.zeros(2, np.float32)).dtype == (
        np.float64
    )


def test_tie_share_of_infinite_and_nan_adjoints_is_that_of_tie_weight():
    x = np.array([[1.0, 0.0, -1.0], [2.0, -3.0, 0.5]])
    g = np.array([[np.inf, np.inf, np.inf], [np.nan, -np.inf, 1.0]])
    with np.errstate(invalid="ignore"):
        for y in (0.0, np.array([1.0, 0.0, -1.0]), np.array([5.0, -5.0, 5.0])):  # some ties
            np.testing.assert_array_equal(tie_share(g, x, y), g * tie_weight(x, y))
            np.testing.assert_array_equal(tie_share(g, y, x), g * tie_weight(y, x))


def relu_net(W1, W2, X):
    return np.sum(np.maximum(X @ W1, 0.0) @ W2) + np.sum(np.minimum(X, W1[0]))


def test_maximum_and_minimum_gradients_against_finite_differences():
    W1, W2 = RNG.standard_normal((4, 4)), RNG.standard_normal((4, 2))
    X = RNG.standard_normal((3, 4))
    check_grad(relu_net, (W1, W2, X), wrt=(0, 1, 2))


def test_maximum_gradient_splits_ties():
    x = np.array([[0.0, 1.0], [-1.0, 0.0]])
    y = np.array([0.0, 2.0])
    dx, dy = grad(sum_of_maximum, wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(dx, [[0.5, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(dy, [1.5, 2.0])


# -- times / over: a zero adjoint contributes zero, however the finiteness is checked ----


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble])
def test_times_and_over_zero_adjoint_through_inf_and_nan(dtype):
    g = np.array([[0.0, 1.0, 0.0], [2.0, 0.0, -1.0]], dtype=dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.array([[np.inf, 2.0, np.nan], [0.5, -np.inf, 3.0]], dtype=dtype)
        product, quotient = times(g, d), over(g, np.array(0.0, dtype=dtype) + d)
    np.testing.assert_array_equal(product, np.array([[0, 2, 0], [1, 0, -3]], dtype=dtype))
    assert product.dtype == dtype
    expected = np.array([[0, 0.5, 0], [4, 0, -1 / 3]], dtype=dtype)
    np.testing.assert_allclose(quotient.astype(np.float64), expected.astype(np.float64), rtol=1e-3)
    # a nonzero adjoint still meets the infinity
    with np.errstate(invalid="ignore"):
        assert np.isinf(times(np.ones(2, dtype=dtype), np.array([np.inf, 1.0], dtype=dtype))[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [4, 5000])
def test_times_finiteness_check_small_and_large(dtype, size):
    rng = np.random.default_rng(size)
    g = rng.standard_normal(size).astype(dtype)
    g[::3] = 0.0
    d = rng.standard_normal(size).astype(dtype)
    np.testing.assert_array_equal(times(g, d), g * d)
    d[::3] = np.nan
    d[1::3] = np.inf
    with np.errstate(invalid="ignore"):
        product = times(g, d)
    np.testing.assert_array_equal(product[::3], 0.0)
    assert np.isinf(product[1::3][g[1::3] != 0]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_times_with_huge_finite_values_is_the_plain_product(dtype):
    # a sum beyond the float range: the finiteness check (one sum) raises a false alarm,
    # and the exact path must give the plain product all the same
    big = np.finfo(dtype).max / 2
    g = np.array([0.0, 1.0, 1.0, 0.5], dtype=dtype)
    d = np.array([big, big, big, -1.0], dtype=dtype)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(times(g, d), g * d)
    # a Fortran-ordered and a strided result are checked alike
    gf = np.asfortranarray(np.arange(12.0, dtype=dtype).reshape(3, 4))
    df = np.asfortranarray(np.full((3, 4), np.inf, dtype=dtype))
    with np.errstate(invalid="ignore"):
        fortran = times(gf, df)
        strided = times(np.zeros(8, dtype=dtype)[::2], np.full(8, np.nan, dtype=dtype)[::2])
    np.testing.assert_array_equal(fortran[0, 0], 0.0)
    assert np.isinf(fortran.ravel()[1:]).all()
    np.testing.assert_array_equal(strided, np.zeros(4, dtype=dtype))


# -- a product whose adjoint is still the scalar 0 (its branch was not taken) -----------


def product_in_a_branch(x, W, flag):
    z = x @ W
    out = 0.0
    if flag > 0:
        out = np.sum(np.sin(z))
    return out


def dot_in_a_branch(x, W, flag):
    z = np.dot(x, W)
    out = 0.0
    if flag > 0:
        out = np.sum(np.sin(z))
    return out


@pytest.mark.parametrize(
    "x_shape, w_shape",
    [((2, 3), (3, 4)), ((3,), (3, 4)), ((2, 3), (3,)), ((5, 2, 3), (3, 4)), ((3,), (3,))],
)
@pytest.mark.parametrize("f", [product_in_a_branch, dot_in_a_branch])
@pytest.mark.parametrize("flag", [1.0, -1.0])
def test_product_whose_branch_was_not_taken(f, x_shape, w_shape, flag):
    if f is dot_in_a_branch and len(x_shape) > 2:
        pytest.skip("np.dot of a 3-D array is not a batched product")
    x, W = RNG.standard_normal(x_shape), RNG.standard_normal(w_shape)
    dx, dW = check_grad(f, (x, W, flag), wrt=(0, 1))
    if flag < 0:
        np.testing.assert_array_equal(dx, np.zeros(x_shape))
        np.testing.assert_array_equal(dW, np.zeros(w_shape))


# -- index_adjoint: assignment for basic indices, np.add.at where an item may repeat ------


def slices_and_repeats(x):
    return np.sum(x[1:-1] ** 2) + np.sum(x[[0, 2, 2, 0]] * x[::2][:4]) + x[3] * x[x > 0.5].sum()


def test_index_adjoints_of_slices_masks_and_repeated_items_against_finite_differences():
    x = RNG.uniform(-1.0, 2.0, 7)
    x[np.abs(x - 0.5) < 0.05] += 0.2  # away from the mask's edge
    check_grad(slices_and_repeats, (x,))
