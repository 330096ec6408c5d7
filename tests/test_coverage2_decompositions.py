"""Issue 16, decompositions: a peer-style suite for ``np.linalg`` decompositions.

Every function with several shapes (stacks of matrices where NumPy takes them) and
keyword settings, checked in float64 against central finite differences and with the
dot-product test ``<u, J^T v> = <J u, v>`` (random, non-uniform ``u`` and ``v``), and in
float32 (the gradient is float32 and agrees with the float64 one). Singular vectors and
eigenvectors have arbitrary signs (and bases at repeated values), so they are used only
through functions invariant to those: squares, projectors, reconstructions. Points are
drawn away from degenerate ones; the documented behaviour at degenerate points
(repeated eigenvalues/singular values, zero singular values) has tests of its own, with
expected values from calculus.
"""

from __future__ import annotations

import types
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from gradcheck import check_grad, check_vjp_dot_product, numerical_gradient

from ad_transform import ADTransformError, grad, runtime

NUMPY_2 = int(np.__version__.split(".")[0]) >= 2

# --------------------------------------------------------------------------------------
# Argument generators
# --------------------------------------------------------------------------------------


def real(rng, shape):
    return rng.uniform(-2.0, 2.0, size=shape)


def _min_gap(values) -> float:
    ordered = np.sort(values, axis=-1)
    return float(np.min(np.diff(ordered, axis=-1), initial=np.inf))


def separated(rng, shape):
    """Real matrices whose singular values, and the eigenvalues of the symmetric matrices
    built from either triangle, are 0.3 or more apart (and the singular values from 0):
    finite differences stay accurate (their error grows as the gaps close). Vectors: any."""
    if len(shape) < 2:
        return real(rng, shape)
    for _ in range(1000):
        a = real(rng, shape)
        s = np.linalg.svd(a, compute_uv=False)
        gaps = [_min_gap(s), float(np.min(s))]
        if shape[-1] == shape[-2]:
            gaps += [_min_gap(np.linalg.eigvalsh(a, uplo)) for uplo in "LU"]
        if min(gaps) >= 0.3:
            return a
    raise RuntimeError("no separated matrix drawn")


def well_conditioned(rng, shape):
    return rng.uniform(-1.0, 1.0, size=shape) + 2.5 * np.eye(shape[-1])


def real_spectrum(rng, shape):
    """V diag(w) V^-1: non-symmetric, real and well separated eigenvalues."""
    n = shape[-1]
    v = np.eye(n) + 0.3 * rng.uniform(-1.0, 1.0, size=shape)
    w = np.arange(1.0, n + 1.0) + 0.2 * rng.uniform(-1.0, 1.0, size=(*shape[:-2], n))
    return (v * w[..., None, :]) @ np.linalg.inv(v)


def away_from_zero(rng, shape):
    return rng.uniform(0.3, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def orthogonal(rng, n):
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return q


# --------------------------------------------------------------------------------------
# The functions (fixed non-uniform weights make every output matter)
# --------------------------------------------------------------------------------------


def weights(shape, salt=0):
    """Fixed, non-uniform weights of a shape."""
    size = int(np.prod(shape))
    return (np.cos(np.arange(size) * 1.3 + salt) + 1.7).reshape(shape)


def svd_thin(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return (u**2 * s[..., None, :]) @ vh**2 + np.abs(u @ vh)


def svd_full(a):
    # the columns beyond min(m, n) of u and vh, whose basis NumPy does not determine, only
    # through a sum of squares (independent of it)
    u, s, vh = np.linalg.svd(a)
    k = s.shape[-1]
    u1, vh1 = u[..., :, :k], vh[..., :k, :]
    first = np.sum(u1**2 * weights(u1.shape)) + np.sum(vh1**2 * weights(vh1.shape, 2))
    return first + np.sum(s * weights(s.shape, 1)) + np.sum(vh**2) + np.sum(u**2)


def svd_full_complements(a):
    # the columns beyond min(m, n) only through their projector: a use NumPy determines
    u, s, vh = np.linalg.svd(a)
    k = s.shape[-1]
    u2 = u[..., :, k:]
    v2 = np.swapaxes(vh[..., k:, :], -1, -2)
    p = u2 @ np.swapaxes(u2, -1, -2)
    q = v2 @ np.swapaxes(v2, -1, -2)
    return np.sum(p * weights(p.shape)) + np.sum(q * weights(q.shape, 2)) + np.sum(s**3)


def svd_values(a):
    return np.linalg.svd(a, compute_uv=False)


def svd_reconstruction(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.sin((u * s[..., None, :]) @ vh)


def eigh_lower(a):
    w, q = np.linalg.eigh(a)
    return q**2 * w[..., None, :]


def eigh_upper(a):
    w, q = np.linalg.eigh(a, UPLO="U")
    return np.sum(q**2 * weights(q.shape)) + np.sum(np.exp(w))


def eigvalsh_lower(a):
    return np.linalg.eigvalsh(a)


def eigvalsh_upper(a):
    return np.linalg.eigvalsh(a, "U") ** 2


def qr_reduced(a):
    q, r = np.linalg.qr(a)
    return np.sum(q * weights(q.shape)) + np.sum(r * weights(r.shape, 1))


def qr_complete_projector(a):
    q, r = np.linalg.qr(a, mode="complete")
    n = a.shape[-1]
    q2 = q[..., :, n:]
    p = q2 @ np.swapaxes(q2, -1, -2)
    return np.sum(p * weights(p.shape)) + np.sum(r * weights(r.shape, 1))


def qr_complete_wide(a):
    q, r = np.linalg.qr(a, mode="complete")
    return q @ r**2


def qr_r_only(a):
    return np.linalg.qr(a, mode="r") ** 2


def pinv(a):
    return np.linalg.pinv(a)


def pinv_rank_two(b, c):
    # rank 2 for every b, c: the pseudo-inverse is smooth along the product
    return np.linalg.pinv(b @ c)


def pinv_hermitian(a):
    return np.linalg.pinv(a, hermitian=True)


def lstsq_solution(a, b):
    x, _, _, _ = np.linalg.lstsq(a, b)
    return x


def lstsq_everything(a, b):
    x, residuals, rank, s = np.linalg.lstsq(a, b)
    return np.sum(x * weights(x.shape)) + np.sum(residuals) * 0.7 + np.sum(s**2) + rank


def lstsq_rank_two(b, c, y):
    x, _, _, _ = np.linalg.lstsq(b @ c, y)
    return x


def power_3(a):
    return np.linalg.matrix_power(a, 3)


def power_1(a):
    return np.linalg.matrix_power(a, 1)


def power_0(a):
    return np.linalg.matrix_power(a, 0) * np.sum(a)


def power_minus_2(a):
    return np.linalg.matrix_power(a, -2)


def eig_both(a):
    w, v = np.linalg.eig(a)
    return v**2 * w[..., None, :]


def eig_values(a):
    return np.linalg.eigvals(a) ** 2


def multi_dot_three(a, b, c):
    return np.linalg.multi_dot([a, b, c])


def multi_dot_four(a, b, c, d):
    return np.linalg.multi_dot([a, b, c, d])


def multi_dot_vectors(a, b, c):
    return np.linalg.multi_dot([a, b, c])


def tensorsolve_plain(a, b):
    return np.linalg.tensorsolve(a, b)


def tensorsolve_axes(a, b):
    return np.linalg.tensorsolve(a, b, axes=(0,))


def tensorinv_first_axis(a):
    return np.linalg.tensorinv(a, ind=1)


def tensorinv_default(a):
    return np.linalg.tensorinv(a)


def cond_2(x):
    return np.linalg.cond(x)


def cond_minus_2(x):
    return np.linalg.cond(x, -2)


def cond_fro(x):
    return np.linalg.cond(x, "fro")


def cond_nuc(x):
    return np.linalg.cond(x, "nuc")


def cond_1(x):
    return np.linalg.cond(x, 1)


def cond_minus_inf(x):
    return np.linalg.cond(x, -np.inf)


def times_rank(x):
    return x * np.linalg.matrix_rank(x)


def vector_norm_all(x):
    return np.linalg.vector_norm(x)


def vector_norm_two_axes(x):
    return np.linalg.vector_norm(x, axis=(0, 2), ord=3, keepdims=True)


def vector_norm_inf(x):
    return np.linalg.vector_norm(x, axis=1, ord=np.inf)


def matrix_norm_nuc(x):
    return np.linalg.matrix_norm(x, ord="nuc")


def matrix_norm_2(x):
    return np.linalg.matrix_norm(x, ord=2, keepdims=True)


def matrix_norm_fro(x):
    return np.linalg.matrix_norm(x)


def svd_fields(a):
    result = np.linalg.svd(a, full_matrices=False)
    return (result.U**2 * result.S[..., None, :]) @ result.Vh**2


def eigh_fields(a):
    result = np.linalg.eigh(a)
    return result.eigenvectors**2 * result.eigenvalues[..., None, :]


def qr_fields(a):
    result = np.linalg.qr(a)
    return result.Q @ result.R


# --------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    fn: Callable
    shapes: tuple  # argument shape combinations
    gen: Callable | tuple = separated  # one generator, or one per argument
    float32: bool = True  # NumPy keeps float32 here

    @property
    def name(self) -> str:
        return self.fn.__name__

    def draw(self, rng, shapes):
        gens = self.gen if isinstance(self.gen, tuple) else (self.gen,) * len(shapes)
        return tuple(gen(rng, shape) for gen, shape in zip(gens, shapes, strict=True))


SQUARE = (((3, 3),), ((2, 3, 3),))
ANY = (((3, 3),), ((4, 2),), ((2, 5),), ((2, 4, 3),))

CASES = [
    Case(svd_thin, ANY),
    Case(svd_full, ANY),
    Case(svd_full_complements, (((5, 2),), ((2, 4),), ((2, 4, 3),))),
    Case(svd_values, ANY),
    Case(svd_reconstruction, ANY),
    Case(eigh_lower, (((3, 3),), ((2, 4, 4),))),
    Case(eigh_upper, (((3, 3),), ((2, 4, 4),))),
    Case(eigvalsh_lower, (((3, 3),), ((2, 4, 4),))),
    Case(eigvalsh_upper, (((3, 3),), ((2, 4, 4),))),
    Case(qr_reduced, ANY),
    Case(qr_complete_projector, (((5, 2),), ((2, 4, 3),))),
    Case(qr_complete_wide, (((2, 4),), ((3, 3),))),
    Case(qr_r_only, ANY),
    Case(pinv, ANY),
    # rank-deficient products: float32 rounding makes their small singular values nonzero
    Case(pinv_rank_two, (((4, 2), (2, 3)), ((3, 2), (2, 5))), real, float32=False),
    Case(pinv_hermitian, SQUARE),
    Case(lstsq_solution, (((5, 3), (5,)), ((5, 3), (5, 2)), ((3, 3), (3,)), ((2, 4), (2,)))),
    Case(lstsq_everything, (((5, 3), (5,)), ((5, 3), (5, 2)))),
    Case(lstsq_rank_two, (((5, 2), (2, 3), (5,)),), real, float32=False),
    Case(power_3, SQUARE),
    Case(power_1, SQUARE),
    Case(power_0, SQUARE),
    Case(power_minus_2, SQUARE, well_conditioned),
    Case(eig_both, SQUARE, real_spectrum),
    Case(eig_values, (((3, 3),), ((2, 4, 4),)), real_spectrum),
    Case(multi_dot_three, (((2, 3), (3, 4), (4, 2)),)),
    Case(multi_dot_four, (((2, 3), (3, 4), (4, 5), (5, 1)),)),
    Case(multi_dot_vectors, (((3,), (3, 4), (4,)), ((3,), (3, 4), (4, 2)), ((2, 3), (3, 4), (4,)))),
    Case(
        tensorsolve_plain,
        (((2, 3, 6), (2, 3)),),
        (lambda rng, shape: well_conditioned(rng, (6, 6)).reshape(shape), real),
    ),
    Case(
        tensorsolve_axes,
        (((6, 2, 3), (2, 3)),),
        (lambda rng, shape: well_conditioned(rng, (6, 6)).T.reshape(shape), real),
    ),
]
CASES += [
    Case(
        tensorinv_first_axis,
        (((6, 2, 3),),),
        lambda rng, shape: well_conditioned(rng, (6, 6)).reshape(shape),
    ),
    Case(
        tensorinv_default,
        (((2, 3, 6),),),
        lambda rng, shape: well_conditioned(rng, (6, 6)).reshape(shape),
    ),
    Case(cond_2, (((3, 3),), ((2, 3, 4),))),
    Case(cond_minus_2, (((3, 3),),)),
    Case(cond_fro, (((3, 3),), ((2, 3, 3),)), well_conditioned),
    Case(cond_nuc, (((3, 3),),), well_conditioned),
    Case(cond_1, (((3, 3),),), well_conditioned),
    Case(cond_minus_inf, (((3, 3),),), well_conditioned),
    Case(times_rank, (((3, 3),), ((4, 2),))),
]
if NUMPY_2:
    CASES += [
        Case(vector_norm_all, (((5,),), ((2, 3, 4),)), away_from_zero),
        Case(vector_norm_two_axes, (((2, 3, 4),),), away_from_zero),
        Case(vector_norm_inf, (((2, 3, 4),),), away_from_zero),
        Case(matrix_norm_nuc, (((2, 3, 4),),)),
        Case(matrix_norm_2, (((2, 3, 4),),)),
        Case(matrix_norm_fro, (((3, 4),),)),
        Case(svd_fields, (((3, 4),), ((2, 3, 3),))),
        Case(eigh_fields, (((3, 3),),)),
        Case(qr_fields, (((4, 3),),)),
    ]


def _rng(case: Case, salt: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{case.name}/{salt}".encode()))


def _scalarised(fn: Callable, arity: int) -> Callable:
    """``sum(fn(*args) * w)`` with ``w`` the last argument, for array-valued ``fn``."""
    if arity == 1:

        def scalarised_1(x, w):
            return np.sum(fn(x) * w)

        return scalarised_1
    if arity == 2:

        def scalarised_2(x, y, w):
            return np.sum(fn(x, y) * w)

        return scalarised_2
    if arity == 3:

        def scalarised_3(x, y, z, w):
            return np.sum(fn(x, y, z) * w)

        return scalarised_3

    def scalarised_4(x, y, z, t, w):
        return np.sum(fn(x, y, z, t) * w)

    return scalarised_4


_SCALARISED: dict = {}


def _as_scalar(case: Case, args, rng):
    """The function to check and its arguments (a weight array appended if needed)."""
    value = case.fn(*args)
    if np.ndim(value) == 0:
        return case.fn, args
    if case.fn not in _SCALARISED:
        _SCALARISED[case.fn] = _scalarised(case.fn, len(args))
    return _SCALARISED[case.fn], (*args, rng.uniform(-1.5, 1.5, size=np.shape(value)))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_finite_differences(case: Case):
    rng = _rng(case, "fd")
    for shapes in case.shapes:
        for _ in range(2):
            args = case.draw(rng, shapes)
            fn, full = _as_scalar(case, args, rng)
            check_grad(fn, full, tuple(range(len(args))))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_dot_product(case: Case):
    rng = _rng(case, "vjp")
    for shapes in case.shapes:
        args = case.draw(rng, shapes)
        check_vjp_dot_product(case.fn, args, tuple(range(len(args))), rng)


@pytest.mark.parametrize("case", [c for c in CASES if c.float32], ids=lambda c: c.name)
def test_float32(case: Case, monkeypatch):
    """float32 arguments: gradients computed in float32 where the function stays float32
    (no float64 reaches the final conversion), close to the float64 ones."""
    rng = _rng(case, "f32")
    seen = []
    original = runtime.as_gradient

    def spy(dx, x, copy=False):
        if isinstance(x, np.ndarray) and x.dtype == np.float32:
            seen.append(np.result_type(dx))
        return original(dx, x, copy)

    for shapes in case.shapes:
        args = case.draw(rng, shapes)
        args32 = tuple(np.asarray(a, dtype=np.float32) for a in args)
        args64 = tuple(a.astype(np.float64) for a in args32)
        fn, full64 = _as_scalar(case, args64, rng)
        full32 = (*args32, *(np.float32(w) for w in full64[len(args) :]))
        wrt = tuple(range(len(args)))
        monkeypatch.setattr(runtime, "as_gradient", spy)
        g32 = grad(_fresh_copy(fn), wrt=wrt)(*full32)
        monkeypatch.undo()
        g64 = grad(fn, wrt=wrt)(*full64)
        if np.result_type(case.fn(*args32)) == np.float32:  # the function stays float32
            promoted = [str(d) for d in seen if d != np.float32]
            assert seen and not promoted, f"{case.name}: {promoted} reached as_gradient"
        seen.clear()
        for a, b in zip(g32, g64, strict=True):
            assert a.dtype == np.float32, f"{case.name}: gradient of float32 is {a.dtype}"
            np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-3 * np.max(np.abs(b)))


def _fresh_copy(fn):
    """A new function object with ``fn``'s code: transformed afresh (no cached code)."""
    copy = types.FunctionType(
        fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
    )
    copy.__qualname__ = fn.__qualname__
    return copy


# --------------------------------------------------------------------------------------
# Norms: every ord NumPy accepts, vectors and matrices
# --------------------------------------------------------------------------------------

VECTOR_ORDS = [None, 2, 1, np.inf, -np.inf, 3, 2.5, 0.5, -1, -2.5]
MATRIX_ORDS = [None, "fro", "nuc", 2, -2, 1, -1, np.inf, -np.inf]


def _norm_fn(ord, axis, keepdims=False):
    def norm_of(x):
        return np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)

    return norm_of


@pytest.mark.parametrize("ord", VECTOR_ORDS, ids=repr)
@pytest.mark.parametrize("shape, axis", [((5,), None), ((3, 4), 1), ((2, 3, 4), 0)])
def test_vector_norms(ord, shape, axis):
    rng = np.random.default_rng(zlib.crc32(f"{ord}{shape}".encode()))
    fn = _norm_fn(ord, axis)
    x = away_from_zero(rng, shape)
    x = x + 0.01 * np.arange(x.size).reshape(shape)  # no ties of |x_i| (inf norms)
    value = fn(x)
    if np.ndim(value):
        fn2 = _scalarised(fn, 1)
        check_grad(fn2, (x, rng.uniform(0.5, 1.5, size=np.shape(value))), 0)
    else:
        check_grad(fn, (x,), 0)
    check_vjp_dot_product(fn, (x,), 0, rng)


@pytest.mark.parametrize("ord", MATRIX_ORDS, ids=repr)
@pytest.mark.parametrize(
    "shape, axis, keepdims",
    [((3, 4), None, False), ((4, 3), (1, 0), False), ((2, 3, 4), (2, 1), True)],
)
def test_matrix_norms(ord, shape, axis, keepdims):
    rng = np.random.default_rng(zlib.crc32(f"{ord}{shape}".encode()))
    fn = _norm_fn(ord, axis, keepdims)
    x = real(rng, shape)
    value = fn(x)
    if np.ndim(value):
        fn2 = _scalarised(fn, 1)
        check_grad(fn2, (x, rng.uniform(0.5, 1.5, size=np.shape(value))), 0)
    else:
        check_grad(fn, (x,), 0)
    check_vjp_dot_product(fn, (x,), 0, rng)


def test_norm_float32():
    rng = np.random.default_rng(3)
    x = real(rng, (3, 4)).astype(np.float32)
    for ord in MATRIX_ORDS:
        g = grad(_norm_fn(ord, None))(x)
        expected = grad(_norm_fn(ord, None))(x.astype(np.float64))
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, expected, rtol=1e-3, atol=1e-4)


def test_spectral_norm_splits_a_tied_largest_singular_value_equally():
    rng = np.random.default_rng(4)
    u, v = orthogonal(rng, 3), orthogonal(rng, 3)
    a = u @ np.diag([2.0, 2.0, 0.5]) @ v.T
    expected = (np.outer(u[:, 0], v[:, 0]) + np.outer(u[:, 1], v[:, 1])) / 2
    np.testing.assert_allclose(grad(_norm_fn(2, None))(a), expected, atol=1e-12)
    b = u @ np.diag([3.0, 1.0, 1.0]) @ v.T
    expected = (np.outer(u[:, 1], v[:, 1]) + np.outer(u[:, 2], v[:, 2])) / 2
    np.testing.assert_allclose(grad(_norm_fn(-2, None))(b), expected, atol=1e-12)


def test_nuclear_norm_leaves_out_zero_singular_values():
    """As abs at 0: the minimum-norm subgradient U_r V_r^T (central differences agree)."""
    rng = np.random.default_rng(5)
    b, c = rng.standard_normal((4, 2)), rng.standard_normal((2, 3))
    a = b @ c
    u, _, vh = np.linalg.svd(a)
    expected = u[:, :2] @ vh[:2, :]
    g = grad(_norm_fn("nuc", None))(a)
    np.testing.assert_allclose(g, expected, atol=1e-10)
    # at the kink, finite differences lose an order (error O(eps), not O(eps^2))
    np.testing.assert_allclose(g, numerical_gradient(_norm_fn("nuc", None), (a,)), atol=1e-4)


def test_vector_norm_below_one_is_refused_at_a_zero_entry():
    x = np.array([1.0, 0.0, -2.0])
    with pytest.raises(ADTransformError, match=r"ord=0\.5"):
        grad(_norm_fn(0.5, None))(x)


# --------------------------------------------------------------------------------------
# Degenerate points: the documented convention, and its refusals
# --------------------------------------------------------------------------------------


def nuclear(a):
    return np.sum(np.linalg.svd(a, compute_uv=False))


def squares_of_singular_values(a):
    return np.sum(np.linalg.svd(a, compute_uv=False) ** 2)


W4 = weights((4, 4))


def svd_projectors_of_a_repeated_pair(a):
    # the projectors onto the singular subspaces of the repeated pair s_1 = s_2: no basis
    u, _, vh = np.linalg.svd(a)
    ub, vb = u[:, 1:3], vh[1:3, :]
    return np.sum(W4 * (ub @ ub.T)) + np.sum(W4.T * (vb.T @ vb)) + np.sum(W4 * (ub @ vb))


def one_singular_vector_of_a_repeated_pair(a):
    u, _, _ = np.linalg.svd(a)
    return np.sum(W4[:, 0] * u[:, 1] ** 2)


def second_singular_value(a):
    return np.linalg.svd(a, compute_uv=False)[1]


def reconstruction(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.sum(W4 * ((u * s) @ vh))


def eigenprojector_and_values(a):
    w, q = np.linalg.eigh(a)
    qb = q[:, :2]  # the eigenspace of the repeated eigenvalue 1
    return np.sum(W4 * (qb @ qb.T)) + np.sum(w * np.array([1.0, 1.0, 3.0, -2.0]))


def spectral_sums(a):
    w = np.linalg.eigvalsh(a)
    return np.sum(w**2) + np.sum(np.log(w))


def largest_eigenvalue(a):
    return np.linalg.eigvalsh(a)[-1]


def one_eigenvector(a):
    _, q = np.linalg.eigh(a)
    return np.sum(q[:, 0] ** 2 * W4[0])


def _fd_equal(fn, a):
    np.testing.assert_allclose(grad(fn)(a), numerical_gradient(fn, (a,)), atol=1e-6)


def _repeated_singular_values(rng):
    u, v = orthogonal(rng, 4), orthogonal(rng, 4)
    return u, v, u @ np.diag([3.0, 1.5, 1.5, 0.5]) @ v.T


def test_repeated_singular_values_invariant_functions():
    """Symmetric functions of the singular values and projectors onto a repeated pair's
    subspaces: exact (central differences agree; those functions are smooth there)."""
    rng = np.random.default_rng(6)
    u, _, a = _repeated_singular_values(rng)
    for fn in (nuclear, squares_of_singular_values, svd_projectors_of_a_repeated_pair):
        _fd_equal(fn, a)
    _fd_equal(nuclear, u)  # all singular values equal: the gradient is U V^T = u
    np.testing.assert_allclose(grad(nuclear)(u), u, atol=1e-12)


@pytest.mark.parametrize(
    "fn, message",
    [
        (one_singular_vector_of_a_repeated_pair, "basis"),
        (second_singular_value, "weighs repeated"),
        (reconstruction, "weighs repeated"),
    ],
)
def test_repeated_singular_values_undetermined_uses_are_refused(fn, message):
    _, _, a = _repeated_singular_values(np.random.default_rng(6))
    with pytest.raises(ADTransformError, match=message):
        grad(fn)(a)


def test_zero_singular_values():
    rng = np.random.default_rng(7)
    u, v = orthogonal(rng, 4), orthogonal(rng, 4)
    square = u @ np.diag([3.0, 2.0, 1.0, 0.0]) @ v.T  # rank n - 1: U S V^T exact
    _fd_equal(reconstruction, square)
    # nuclear norm there: LAPACK's side of the kink of |sigma_4| (u_4 v_4^T, no sign)
    np.testing.assert_allclose(grad(nuclear)(square), u @ v.T, atol=1e-10)
    tall = rng.standard_normal((5, 2)) @ rng.standard_normal((2, 3))  # rank 2 of 3
    _fd_equal(squares_of_singular_values, tall)
    with pytest.raises(ADTransformError, match="zero singular value"):
        grad(nuclear)(tall)


def test_repeated_eigenvalues():
    rng = np.random.default_rng(8)
    q = orthogonal(rng, 4)
    a = q @ np.diag([1.0, 1.0, 2.0, 4.0]) @ q.T
    _fd_equal(eigenprojector_and_values, a)
    _fd_equal(spectral_sums, 2.0 * np.eye(4))
    top = q @ np.diag([1.0, 2.0, 4.0, 4.0]) @ q.T
    with pytest.raises(ADTransformError, match="eigvalsh: the function weighs repeated"):
        grad(largest_eigenvalue)(top)
    with pytest.raises(ADTransformError, match="eigh: the function depends on the basis"):
        grad(one_eigenvector)(a)


def cubes_of_eigenvalues(a):
    return np.sum(np.linalg.eigvalsh(a) ** 3)


def cubes_of_eigenvalues_upper(a):
    return np.sum(np.linalg.eigvalsh(a, UPLO="U") ** 3)


def test_eigh_gradient_lies_in_the_triangle_read():
    rng = np.random.default_rng(9)
    a = rng.standard_normal((3, 3))  # not symmetric: NumPy reads one triangle
    g_lower = grad(cubes_of_eigenvalues)(a)
    g_upper = grad(cubes_of_eigenvalues_upper)(a)
    assert np.all(np.triu(g_lower, 1) == 0) and np.all(np.tril(g_upper, -1) == 0)
    sym = np.tril(a) + np.tril(a, -1).T
    expected = 3 * np.linalg.matrix_power(sym, 2)  # d tr(A^3) = 3 A^2
    np.testing.assert_allclose(g_lower, np.tril(2 * expected, -1) + np.diag(np.diag(expected)))


# --------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------


def svd_hermitian(a):
    return np.sum(np.linalg.svd(a, hermitian=True, compute_uv=False))


def qr_raw(a):
    h, tau = np.linalg.qr(a, mode="raw")
    return np.sum(h) + np.sum(tau)


def qr_complete_one_column(a):
    q, _ = np.linalg.qr(a, mode="complete")
    return np.sum(q[:, -1] ** 2 * np.arange(5.0))


def svd_full_one_column(a):
    u, _, _ = np.linalg.svd(a)
    return np.sum(u[:, -1] ** 2 * np.arange(5.0))


def eig_of_a_rotation(a):
    return np.sum(np.real(np.linalg.eigvals(a)))


def pinv_with_a_large_cutoff(a):
    return np.sum(np.linalg.pinv(a, rcond=0.5))


def qr_of_dependent_columns(a):
    _, r = np.linalg.qr(a)
    return np.sum(r)


@pytest.mark.parametrize(
    "fn, arg, message",
    [
        (svd_hermitian, np.eye(3) + 0.1, "hermitian=True"),
        (qr_raw, np.ones((3, 2)) + np.eye(3, 2), "mode='raw'"),
        (qr_complete_one_column, np.arange(10.0).reshape(5, 2) ** 0.5, "complement"),
        (svd_full_one_column, np.arange(10.0).reshape(5, 2) ** 0.5, "complement"),
        (eig_of_a_rotation, np.array([[0.0, -1.0], [1.0, 0.0]]), "complex eigenvalues"),
        (pinv_with_a_large_cutoff, np.diag([3.0, 1.0]) + 0.01, "cutoff"),
        (qr_of_dependent_columns, np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]]), "dependent"),
    ],
    ids=lambda x: getattr(x, "__name__", None) if callable(x) else "",
)
def test_refusals(fn, arg, message):
    with pytest.raises(ADTransformError, match=message):
        grad(fn)(arg)


def test_matrix_power_from_calculus():
    """d sum(A^2 * W) = W A^T + A^T W."""
    rng = np.random.default_rng(10)
    a, w = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))

    def f(x, w):
        return np.sum(np.linalg.matrix_power(x, 2) * w)

    np.testing.assert_allclose(grad(f)(a, w), w @ a.T + a.T @ w)
