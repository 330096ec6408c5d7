"""Higher-order rules of more runtime helpers (issue 14): einsum, sort/partition and the
other permutations, cumulative products, FFTs, decompositions, ``logsumexp``.

One row per function: ``H v`` three ways (``hvp``: forward over reverse, through the
tangent rules of the gradient's helpers; ``grad`` of ``<grad f, v>``: reverse over
reverse, their adjoint rules; ``grad`` of the ``jvp``: reverse over forward, the adjoint
rules of the forward-mode helpers) against central differences of the gradient (float64,
random non-uniform points and directions), and the symmetry ``u^T H v = v^T H u``.
``census()`` counts the runtime helpers generated code can call and those without a
higher-order rule (run this file as a script to print the list).
"""

import inspect
import re
import types

import numpy as np
import pytest

from ad_transform import ADTransformError, grad, hvp, jvp

try:
    import scipy.linalg as scipy_linalg
    from scipy import special
except ImportError:  # pragma: no cover - SciPy is an optional extra
    special = scipy_linalg = None

EPS = 1e-6
rng = np.random.default_rng(2614)


# -- the functions: each reaches helpers that had no higher-order rule --------------------------
W = rng.uniform(-1.0, 1.0, (3, 4))


def r_einsum(x):
    m = np.einsum("i,j->ij", x, np.sin(x))
    return np.einsum("ij,ij->", m, m) + np.sum(np.einsum("ij,j->i", W, x**2) ** 2)


def r_einsum_three(x):
    a = np.reshape(x, (2, 2))
    return np.einsum("ij,jk,ki->", a, np.cos(a), a) + np.einsum("ii", a) ** 2


def r_sort(x):
    s = np.sort(x**2 - x)
    return np.sum(s * np.arange(1.0, 5.0) * s) + np.sum(np.sort(np.reshape(x, (2, 2)), axis=0) ** 3)


def r_partition(x):
    p = np.partition(np.sin(x) * x, 2)
    return p[2] ** 3 + np.sum(p * x)


def r_take_along(x):
    m = np.reshape(x, (2, 2))
    order = np.argsort(m, axis=1)
    return np.sum(np.take_along_axis(m, order, axis=1) ** 3 * np.array([[1.0, 2.0], [3.0, 4.0]]))


def r_roll_pad(x):
    r = np.roll(x**2, 1) * x
    p = np.pad(x * x[0], 1, constant_values=x[1])
    return np.sum(r**2) + np.sum(p**3)


def r_cumulative(x):
    return np.sum(np.cumprod(x) ** 2) + np.sum(np.cumsum(x**2) * x)


def r_fft(x):
    f = np.fft.fft(x * np.sin(x))
    f2 = np.fft.fft2(np.reshape(x**2, (2, 2)))
    spectra = np.sum(np.real(f * np.conj(f)) * x) + np.sum(np.real(np.fft.ifft(f * f)))
    return spectra + np.sum(np.real(np.fft.ifft2(f2 * f2)) * np.reshape(x, (2, 2)))


def r_rfft(x):
    h = np.fft.rfft(x**2)
    back = np.fft.irfft(h * np.conj(h), n=4)
    return np.sum(np.imag(h) ** 2) + np.sum(back * x) + np.sum(np.fft.fftshift(x**3) * x)


def r_gp(x):
    """The GP negative log marginal likelihood of y at inputs t with hyperparameters x."""
    t = np.array([0.1, 0.7, 1.3])
    y = np.array([0.5, -0.2, 0.9])
    k = x[0] ** 2 * np.exp(-((t[:, None] - t[None, :]) ** 2) / x[1] ** 2) + (
        x[2] ** 2 + 0.1
    ) * np.eye(3)
    chol = np.linalg.cholesky(k)
    alpha = np.linalg.solve(chol, y)
    return 0.5 * np.sum(alpha**2) + np.sum(np.log(np.diag(chol))) + x[3] ** 2


def r_solve_det(x):
    a = np.reshape(x, (2, 2)) + 3.0 * np.eye(2)
    b = np.array([1.0, -2.0]) * x[0]
    return np.sum(np.linalg.solve(a, b) ** 2) + np.linalg.det(a) ** 2 + np.linalg.slogdet(a)[1]


def r_inverse(x):
    a = np.reshape(x, (2, 2)) + 3.0 * np.eye(2)
    return np.sum(np.linalg.inv(a) ** 3) + np.sum(np.linalg.solve(a, np.outer(x[:2], x[2:])))


def r_logsumexp(x):
    return special.logsumexp(x * x[0]) ** 2 + np.sum(
        special.logsumexp(np.reshape(x, (2, 2)), axis=0)
    )


def r_eigh(x):
    a = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, -1.0]]) + np.outer(x[:3], x[1:])
    w, q = np.linalg.eigh(a)
    return np.sum(w**3) + q[0, 1] ** 2 * x[0] + np.sum(np.linalg.eigvalsh(a, UPLO="U") ** 2)


def r_scipy_linalg(x):
    a = np.array([[3.0, 0.2], [0.4, 2.5]]) + np.outer(x[:2], x[2:])
    spd = a @ a.T
    u = scipy_linalg.cholesky(spd)
    sol = scipy_linalg.solve_triangular(u, x[:2] ** 2, trans=1)
    low = scipy_linalg.solve_triangular(np.tril(a), np.outer(x[1:3], x[:2]), lower=True)
    return np.sum(u**3) + np.sum(sol**2) + np.sum(low * a) + scipy_linalg.det(a) ** 2


def r_scipy_solve_inv(x):
    a = np.array([[3.0, 0.2], [0.4, 2.5]]) + np.outer(x[:2], x[2:])
    sym = scipy_linalg.solve(a, x[1:3] ** 2, assume_a="sym", lower=True)
    general = scipy_linalg.solve(a, np.outer(x[:2], x[2:]), transposed=True)
    return np.sum(sym**3) + np.sum(general * a) + np.sum(scipy_linalg.inv(a) ** 3)


def r_special(x):
    gam = special.gammaln(x**2 + 1.0) + special.digamma(x**2 + 2.0)
    return np.sum(gam * x) + np.sum(special.log_expit(x * x[0])) + np.sum(special.ndtr(x) ** 2)


def r_fmax_ptp(x):
    m = np.reshape(x, (2, 2))
    return np.sum(np.fmax(x, 0.5) ** 3) + np.sum(np.ptp(m * m[0], axis=1) ** 2) + np.ptp(x) ** 3


def r_convolve_diff(x):
    c = np.convolve(x**2, np.sin(x), mode="same")
    r = np.correlate(x, x**3, mode="full")
    d = np.diff(x**3, n=2)
    return np.sum(c**2) + np.sum(r * r[::-1]) + np.sum(d**2 * x[:2])


def r_nan_reductions(x):
    y = np.where(np.array([True, False, True, True]), x**2, np.nan)
    m = np.reshape(y * x, (2, 2))
    return np.nansum(y * x) ** 2 + np.sum(np.nanmean(m, axis=0) ** 3) + np.nanmean(y) * x[3]


def r_eigvalsh(x):
    a = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, -1.0]]) + np.outer(x[:3], x[1:])
    return np.sum(np.linalg.eigvalsh(a) ** 3) + np.sum(np.linalg.eigvalsh(a, UPLO="U") * x[:3])


ROWS = [
    r_einsum,
    r_einsum_three,
    r_sort,
    r_partition,
    r_take_along,
    r_roll_pad,
    r_cumulative,
    r_fft,
    r_rfft,
    r_gp,
    r_solve_det,
    r_inverse,
    r_logsumexp,
    r_eigh,
    r_scipy_linalg,
    r_scipy_solve_inv,
    r_special,
    r_fmax_ptp,
    r_convolve_diff,
    r_eigvalsh,
    r_nan_reductions,
]
NEEDS_SCIPY = {r_logsumexp, r_scipy_linalg, r_scipy_solve_inv, r_special}
X = np.array([0.83, -0.41, 1.27, 0.35])


def fd_hessian_vector(f, x, v, eps=EPS):
    g = grad(f)
    return (g(x + eps * v) - g(x - eps * v)) / (2 * eps)


def _skip_without_scipy(f):
    if special is None and f in NEEDS_SCIPY:
        pytest.skip("SciPy is not installed")


@pytest.mark.parametrize("f", ROWS, ids=lambda f: f.__name__)
def test_hessian_vector_product_forward_over_reverse(f):
    _skip_without_scipy(f)
    v = rng.uniform(-1.0, 1.5, 4)
    np.testing.assert_allclose(hvp(f)(X, v), fd_hessian_vector(f, X, v), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("f", ROWS, ids=lambda f: f.__name__)
def test_hessian_vector_product_reverse_over_reverse(f):
    _skip_without_scipy(f)
    v = rng.uniform(-1.5, 1.0, 4)
    g = grad(f)

    def projected(x):
        return np.sum(g(x) * v)

    np.testing.assert_allclose(grad(projected)(X), fd_hessian_vector(f, X, v), rtol=1e-6, atol=1e-7)


# reverse over forward still refused by name: the pair a jvp returns may hold a complex
# tangent (complex_flows refuses indexing it)
REFUSED_REVERSE_OVER_FORWARD = {
    r_fft: "complex array",
    r_rfft: "complex array",
}


@pytest.mark.parametrize("f", ROWS, ids=lambda f: f.__name__)
def test_hessian_vector_product_reverse_over_forward(f):
    _skip_without_scipy(f)
    v = rng.uniform(-1.0, 1.0, 4) + 0.3
    jf = jvp(f)

    def directional(x):
        return jf((x,), (v,))[1]

    if f in REFUSED_REVERSE_OVER_FORWARD:
        with pytest.raises(ADTransformError, match=REFUSED_REVERSE_OVER_FORWARD[f]):
            grad(directional)(X)
        return
    np.testing.assert_allclose(
        grad(directional)(X), fd_hessian_vector(f, X, v), rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("f", ROWS, ids=lambda f: f.__name__)
def test_hessian_is_symmetric_by_the_dot_product_test(f):
    _skip_without_scipy(f)
    u, v = rng.uniform(-1.0, 2.0, 4), rng.uniform(-2.0, 1.0, 4)
    h = hvp(f)
    assert u @ h(X, v) == pytest.approx(v @ h(X, u), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("f", ROWS, ids=lambda f: f.__name__)
def test_forward_over_reverse_equals_reverse_over_reverse(f):
    """``jvp(grad(f))`` and ``grad(<grad f, v>)``: two sets of rules, one number."""
    _skip_without_scipy(f)
    v = rng.uniform(-1.0, 1.0, 4) - 0.2
    g = grad(f)

    def projected(x):
        return np.sum(g(x) * v)

    np.testing.assert_allclose(hvp(f)(X, v), grad(projected)(X), rtol=1e-10, atol=1e-12)


# -- the census ---------------------------------------------------------------------------


def census() -> tuple[list[str], list[str]]:
    """The runtime helpers that generated first-order and forward-mode code can call (every
    exported function of ``ad_transform.runtime`` named in the source of a rule's adjoint
    or tangent template), and those of them without a higher-order rule: no rule, or an
    adjoint without a tangent, and no differentiable twin."""
    from ad_transform import runtime
    from ad_transform.rules import registry
    from ad_transform.rules.runtime_twins import twin_of

    registry.load_optional_rules()
    exported = {
        name
        for name, value in vars(runtime).items()
        if isinstance(value, types.FunctionType) and not name.startswith("_")
    }
    words = set()
    for rule in list(registry._RULES.values()):
        if registry._internal(rule):
            continue
        templates = [rule.template, rule.scalar_template, rule.tangent, rule.scalar_tangent]
        for template in [*templates, *rule.sequence_templates.values()]:
            if template is not None:
                source = template.source or inspect.getsource(template.fn)
                words |= set(re.findall(r"\w+", source))
    emitted = sorted(exported & words)

    def ruled(name: str) -> bool:
        helper = getattr(runtime, name)
        rule = registry.lookup(helper)
        if twin_of(helper) is not None:
            return True
        if rule is None:
            return False
        return rule.template is None or rule.tangent is not None or rule.linear is not None

    return emitted, [name for name in emitted if not ruled(name)]


# Refused by name where a second derivative meets them (issue 14 follow-up): a helper
# added to generated code without a rule must be added here, on purpose.
# 173 before rules14, 116 before rules26, 40 before ho40a/ho40b (census(); the twins of
# rules/runtime_twins_2.py, _3.py, _4.py and the quantile and named-field rules covered 76;
# rules/runtime_twins_conversions.py 16 more, rules/runtime_twins_containers.py the 24 list,
# set and container helpers)
STILL_REFUSED = 0


def test_census_of_helpers_without_higher_order_rules():
    emitted, refused = census()
    assert len(emitted) > 200
    assert len(refused) <= STILL_REFUSED, sorted(refused)


if __name__ == "__main__":
    emitted, refused = census()
    print(f"{len(emitted)} helpers in templates; {len(refused)} without higher-order rule:")
    for name in refused:
        print("  ", name)
