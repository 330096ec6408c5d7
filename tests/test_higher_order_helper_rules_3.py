"""Higher-order rules of the decompositions' and statistics' runtime helpers (issue 14, third
part): SVD, QR, pinv, lstsq, NumPy 2's norms, cond, nanvar/nanstd, quantiles, the tangent of
eigh's vectors (``rules/runtime_twins_2.py``, the quantile rules of
``rules/runtime_helpers_2.py``).

Each row is checked as in ``test_higher_order_helper_rules_2.py``: ``H v`` three ways
(forward over reverse, reverse over reverse, reverse over forward) against central
differences of the gradient, the symmetry ``u^T H v = v^T H u``, and forward over reverse
equal to reverse over reverse; the points are away from kinks and degeneracies (distinct
positive singular values, full rank, no ties).
"""

import numpy as np
import pytest
import scipy.linalg as scipy_linalg
from scipy import special

from ad_transform import ADTransformError, grad, hvp, jvp

EPS = 1e-6
rng = np.random.default_rng(3026)
B = np.array([[1.3, -0.4, 0.2], [0.5, 2.1, -0.7], [-0.3, 0.6, 1.7], [0.9, -1.1, 0.4]])


def tall(x):
    """A 4 x 3 matrix with distinct singular values, depending on every entry of x."""
    return B + 0.3 * np.outer(np.sin(x[:4]), x[3:6]) + 0.2 * np.reshape(x[:3], (1, 3))


def r_svd(x):
    u, s, vh = np.linalg.svd(tall(x), full_matrices=False)
    return np.sum(s**3) + u[0, 1] * vh[1, 2] * x[0] + np.sum(u[:, 0] * x[:4]) ** 2


def r_svd_full(x):
    a = tall(x)
    u, s, vh = np.linalg.svd(a.T)
    return np.sum(s**2 * np.log(s)) + np.sum(vh[:3, 0] * np.array([1.0, 2.0, -1.0])) * u[0, 0]


def r_svdvals(x):
    a = tall(x)
    return np.sum(np.linalg.svd(a, compute_uv=False) ** 3) + np.sum(np.linalg.svdvals(a) * x[:3])


def r_qr(x):
    q, r = np.linalg.qr(tall(x))
    return np.sum(q[:, 0] * x[:4]) + np.sum(np.diag(r) ** 3) + q[1, 2] * r[0, 2] * x[5]


def r_qr_wide_r(x):
    q, r = np.linalg.qr(tall(x).T)
    return np.sum(r * q[0, 1]) + np.sum(np.linalg.qr(tall(x), mode="r") ** 2 * x[1])


def r_pinv(x):
    p = np.linalg.pinv(tall(x))
    return np.sum(p**3) + np.sum(p @ x[:4]) * x[5]


def r_lstsq(x):
    a = tall(x)
    b = np.array([0.5, -1.0, 2.0, 0.3]) + x[:4] ** 2
    sol, residuals, _rank, s = np.linalg.lstsq(a, b, rcond=None)
    return np.sum(sol**3) + residuals[0] * x[2] + np.sum(s * x[:3])


def r_norms(x):
    m = tall(x)
    vector = np.linalg.vector_norm(m, axis=0) ** 3
    return (
        np.sum(vector)
        + np.linalg.vector_norm(x) ** 3
        + np.linalg.vector_norm(m, ord=1, axis=1, keepdims=True)[2, 0] * x[1]
        + np.linalg.matrix_norm(m) * x[0]
        + np.linalg.matrix_norm(np.reshape(m, (2, 2, 3)), keepdims=True)[1, 0, 0] ** 2
    )


def r_cond(x):
    a = tall(x)[:3]
    return np.linalg.cond(a) ** 2 + np.linalg.cond(a, "fro") * x[1]


def r_nan_var_std(x):
    y = np.where(np.array([True, False, True, True, True, True]), x**2 + x, np.nan)
    m = np.reshape(y, (2, 3))
    return np.nanvar(y) * x[0] + np.sum(np.nanstd(m, axis=1) ** 3) + np.nanstd(y, ddof=1) ** 2


def r_quantiles(x):
    y = np.sin(x) * x + x**2
    m = np.reshape(y, (2, 3))
    q = np.quantile(y, [0.3, 0.8])
    return (
        np.sum(q**3)
        + np.median(y) ** 2 * x[0]
        + np.sum(np.percentile(m, 40.0, axis=1) ** 2)
        + np.nanmedian(y * x[2]) ** 3
    )


def r_eigh_vectors(x):
    a = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, -1.0]]) + np.outer(x[:3], x[3:])
    a = a + a.T
    w, q = np.linalg.eigh(a)
    return np.sum(w**3) + q[0, 1] ** 2 * x[0] + np.sum(q[:, 2] * x[3:]) ** 2


def square(x):
    """A 3 x 3 matrix with distinct real eigenvalues, depending on every entry of x."""
    return np.array([[1.4, 0.3, -0.2], [0.1, 0.6, 0.4], [-0.3, 0.2, -0.5]]) + 0.2 * np.outer(
        np.cos(x[:3]), x[3:6]
    )


def r_expm_logm(x):
    a = square(x)
    spd = a @ a.T + np.eye(3)
    return np.sum(scipy_linalg.expm(0.5 * a) ** 2) + np.sum(scipy_linalg.logm(spd) * a)


def r_products(x):
    a = np.reshape(x, (2, 3))
    return (
        np.sum(np.inner(a, np.sin(a)) ** 2)
        + np.vdot(x, x**2) * x[0]
        + np.sum(np.kron(a[:, :2], a[:, 1:] * x[0]) ** 2)
        + np.sum(np.cross(a, np.cos(a)) ** 2)
    )


def r_matrix_power_tensor(x):
    a = square(x)
    t = np.reshape(a @ a.T + 3.0 * np.eye(3), (3, 3))
    return (
        np.sum(np.linalg.matrix_power(a, 3) ** 2)
        + np.sum(np.linalg.matrix_power(a, -2))
        + np.sum(np.linalg.tensorinv(np.reshape(t, (3, 3)), ind=1) ** 2)
        + np.sum(np.linalg.tensorsolve(t, x[:3] ** 2) ** 2)
    )


def r_eig(x):
    a = square(x)
    w, v = np.linalg.eig(a)
    return np.sum(w**3) + v[0, 1] * v[2, 2] * x[0] + np.sum(np.linalg.eigvals(a) * x[:3])


def r_cho(x):
    a = square(x)
    spd = a @ a.T + np.eye(3)
    factor = scipy_linalg.cho_factor(spd, lower=True)
    sol = scipy_linalg.cho_solve(factor, x[:3] ** 2)
    return np.sum(sol**2) + np.sum(np.tril(factor[0]) ** 3)


def r_nan_products(x):
    y = np.where(np.array([True, True, False, True, True, True]), x**2 + x, np.nan)
    m = np.reshape(y, (2, 3))
    return (
        np.nanprod(y) ** 2
        + np.sum(np.nanprod(m, axis=0) * x[:3])
        + np.sum(np.nancumsum(y) ** 2)
        + np.sum(np.nancumprod(m, axis=1) ** 2)
    )


def r_average(x):
    m = np.reshape(x, (2, 3))
    w = np.array([0.5, 1.5, 2.0]) + x[3:] ** 2
    return (
        np.average(m * x[0], axis=1, weights=w)[1] ** 2
        + np.average(x**2) ** 3
        + np.sum(np.average(m, axis=0, weights=m**2) ** 2)
    )


def r_polynomials(x):
    p = np.array([0.5, -1.0, 2.0]) * x[:3]
    y = np.reshape(np.sin(x) + x**2, (2, 3))
    grid = np.cumsum(np.abs(x[3:]) + 0.5)
    return (
        np.sum(np.polyval(p, x) ** 2)
        + np.polyval(np.array([1.0, -2.0, 0.5, 3.0]), x[1] * x[2])
        + np.sum(np.trapezoid(y, grid, axis=1) ** 2)
        + np.trapezoid(y[0] * x[0], dx=0.3) ** 3
        + np.sum(np.trapezoid(y * y, y, axis=0) * x[3:])
    )


def r_constructors(x):
    line = np.linspace(x[0], x[1] ** 2, 5)
    steps = np.arange(4) * x[2] + x[3]
    m = np.reshape(x, (1, 2, 3))
    rolled = np.rollaxis(m * x[4], 2)
    return np.sum(line**3) + np.sum(steps**2 * line[:4]) + np.sum(rolled**2 * rolled[0, 0, 1])


def r_selections(x):
    conditions = [x > 0.5, x < -0.5]
    chosen = np.select(conditions, [x**2, np.sin(x) * x[0]], default=x[1] ** 2)
    cleaned = np.nan_to_num(np.where(x > 1.0, np.inf, x * x[2]), posinf=x[3] ** 2)
    product = np.linalg.multi_dot([x[:3], np.outer(x[:3], x[3:]), np.cos(x[3:])])
    return np.sum(chosen**3) + np.sum(cleaned**2) + product**2


def r_special_derivatives(x):
    return (
        np.sum(np.sinc(x) ** 2)
        + np.sinc(x[0] * 1e-4) * x[1]
        + np.sum(special.erfcx(x**2 + 0.1) * x)
        + np.sum(special.log_ndtr(x * 2.0) ** 2)
        + np.sum(special.betaln(x**2 + 0.5, np.abs(x) + 1.0))
    )


def r_interp_and_conversions(x):
    points = np.cumsum(np.abs(x[:4]) + 0.3)
    values = np.sin(x[:4]) * x[5]
    queries = np.array([0.2, 1.1, 2.0, 4.5, 9.0]) * (1.0 + 0.1 * x[4])
    inside = np.interp(queries, points, values)
    outside = np.interp(queries * x[0], points, values, left=x[1] ** 2, right=x[2] ** 3)
    angles = np.array([0.1, 3.0, 6.5, 0.4]) * 1.7
    unwrapped = np.unwrap(angles + x[:4], period=4.0 + x[5] ** 2)
    filled = np.full((2, 3), x[3] ** 2)
    ramp = np.arange(0.5, 3.0, 0.5) * x[1]
    steps = np.arange(x[2], 4.5, 1.0 + x[3] ** 2)
    cast = (x * x[0]).astype(np.float64)
    return (
        np.sum(inside**3)
        + np.sum(outside**2)
        + np.sum(unwrapped**2)
        + np.sum(filled * np.reshape(x, (2, 3))) ** 2
        + np.sum(ramp**3)
        + np.sum(steps**3)
        + np.sum(cast**3)
    )


def r_named_fields(x):
    a = tall(x)
    square_part = a[:3] + 2.0 * np.eye(3)
    symmetric = square_part + square_part.T
    return (
        np.sum(np.linalg.svd(a).S ** 3)
        + np.linalg.svd(a, full_matrices=False).U[0, 1] * x[2]
        + np.sum(np.linalg.qr(a).R ** 2)
        + np.linalg.eigh(symmetric).eigenvectors[1, 2] ** 2
        + np.linalg.slogdet(square_part).logabsdet * x[0]
    )


ROWS = [
    r_svd,
    r_svd_full,
    r_svdvals,
    r_qr,
    r_qr_wide_r,
    r_pinv,
    r_lstsq,
    r_norms,
    r_cond,
    r_nan_var_std,
    r_quantiles,
    r_eigh_vectors,
    r_expm_logm,
    r_products,
    r_matrix_power_tensor,
    r_eig,
    r_cho,
    r_nan_products,
    r_average,
    r_polynomials,
    r_constructors,
    r_selections,
    r_special_derivatives,
    r_interp_and_conversions,
]
X = np.array([0.83, -0.41, 1.27, 0.35, -0.62, 0.58])
N = X.size


def fd_hessian_vector(f, x, v, eps=EPS):
    g = grad(f)
    return (g(x + eps * v) - g(x - eps * v)) / (2 * eps)


@pytest.mark.parametrize("f", ROWS, ids=lambda f: f.__name__)
def test_hessian_vector_product_forward_over_reverse(f):
    v = rng.uniform(-1.0, 1.5, N)
    np.testing.assert_allclose(hvp(f)(X, v), fd_hessian_vector(f, X, v), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("f", ROWS, ids=lambda f: f.__name__)
def test_hessian_vector_product_reverse_over_reverse(f):
    v = rng.uniform(-1.5, 1.0, N)
    g = grad(f)

    def projected(x):
        return np.sum(g(x) * v)

    np.testing.assert_allclose(grad(projected)(X), fd_hessian_vector(f, X, v), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("f", ROWS, ids=lambda f: f.__name__)
def test_hessian_vector_product_reverse_over_forward(f):
    v = rng.uniform(-1.0, 1.0, N) + 0.3
    jf = jvp(f)

    def directional(x):
        return jf((x,), (v,))[1]

    np.testing.assert_allclose(
        grad(directional)(X), fd_hessian_vector(f, X, v), rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("f", ROWS, ids=lambda f: f.__name__)
def test_hessian_is_symmetric_by_the_dot_product_test(f):
    u, v = rng.uniform(-1.0, 2.0, N), rng.uniform(-2.0, 1.0, N)
    h = hvp(f)
    assert u @ h(X, v) == pytest.approx(v @ h(X, u), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("f", ROWS, ids=lambda f: f.__name__)
def test_forward_over_reverse_equals_reverse_over_reverse(f):
    v = rng.uniform(-1.0, 1.0, N) - 0.2
    g = grad(f)

    def projected(x):
        return np.sum(g(x) * v)

    np.testing.assert_allclose(hvp(f)(X, v), grad(projected)(X), rtol=1e-10, atol=1e-12)


# -- third derivatives through a twin and through the quantile rules (calculus) ------------------
M = np.array([[0.5, 0.2, -0.1], [0.3, -0.4, 0.2], [0.1, 0.0, 0.9]])


def trace_of_exponential(t):
    return np.trace(scipy_linalg.expm(t * M))


def test_third_derivative_through_the_expm_twins():
    """``tr(expm(t M)) = sum_i exp(t l_i)``: its third derivative is ``sum_i l_i^3 exp(t l_i)``
    (the twin of ``expm_adjoint`` differentiated twice, through ``expm`` of a 6 x 6 and a
    12 x 12 block)."""
    eigenvalues = np.linalg.eigvals(M)
    for t in (0.7, -0.4):
        expected = np.real(np.sum(eigenvalues**3 * np.exp(t * eigenvalues)))
        assert grad(grad(grad(trace_of_exponential)))(t) == pytest.approx(expected, rel=1e-10)


P = np.array([0.3, 1.2, -0.7, 2.0])


def squared_median(t):
    return np.median(P * t + P**2 * t**3) ** 2


def test_third_derivative_through_the_quantile_rules():
    """At ``t`` the median is the mean of the same two elements nearby: ``m(t) = a t + b t^3``
    and ``(m^2)''' = 48 a b t + 120 b^2 t^3``."""
    for t in (0.7, 1.1):
        middle = np.argsort(P * t + P**2 * t**3)[1:3]
        a, b = np.mean(P[middle]), np.mean(P[middle] ** 2)
        expected = 48 * a * b * t + 120 * b**2 * t**3
        assert grad(grad(grad(squared_median)))(t) == pytest.approx(expected, rel=1e-10)


def test_named_fields_reverse_over_forward():
    """``svd(a).S``, ``qr(a).R``, ``eigh(s).eigenvectors``: the rules of
    ``named_field_tangent`` (reverse over forward) against central differences."""
    v = rng.uniform(-1.0, 1.0, N) + 0.3
    jf = jvp(r_named_fields)

    def directional(x):
        return jf((x,), (v,))[1]

    expected = fd_hessian_vector(r_named_fields, X, v)
    np.testing.assert_allclose(grad(directional)(X), expected, rtol=1e-6, atol=1e-7)


def test_named_fields_forward_over_reverse_is_refused_by_name():
    """The plain gradient of a named field read builds the tuple's adjoint with
    ``runtime.Item`` itself, which has no rule yet: refused naming it."""
    with pytest.raises(ADTransformError, match="Item"):
        hvp(r_named_fields)(X, np.ones(N))
