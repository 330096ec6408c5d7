"""Issue 15, runtime part: cheaper adjoints that stay exact.

* index reads accumulate in place (``accumulate_index``: ``dx[index] += g``), np.add.at
  only for index arrays that may repeat;
* einsum adjoints from a cached plan (a matrix product where the subscripts are one);
* the Cholesky adjoint by triangular solves (Murray 2016);
* lazy rule families (import time).

Expected values come from central finite differences (``check_grad``) and the
dot-product test (``check_vjp_dot_product``); no timing is asserted.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from gradcheck import check_grad, check_vjp_dot_product

import ad_transform as ad
from ad_transform import runtime
from ad_transform.runtime import linalg as runtime_linalg
from benchmarks.cases_applied import gp_nll, heat_concatenate, heat_slices

RNG = np.random.default_rng(1515)


def _vector(n: int) -> np.ndarray:
    return RNG.standard_normal(n)


# -- index reads: accumulate into the adjoint in place ----------------------------------------


@pytest.mark.parametrize("f", [heat_slices, heat_concatenate])
def test_heat_stencils(f):
    u = np.sin(np.linspace(0.0, 3.0, 11)) + 0.2 * _vector(11)
    check_grad(f, (u, 0.2, 6), wrt=(0, 1))
    check_vjp_dot_product(f, (u, 0.2, 6), wrt=(0, 1))


def test_heat_slices_accumulates_in_place():
    source = ad.grad(heat_slices, wrt=(0, 1)).source_for(np.ones(5), 0.1, 2)
    # written out: the adjoint is a float array shaped like u (shape facts, issue 15)
    assert "du_1[2:] += " in source and "+= index_adjoint" not in source


def overlapping_reads(x):
    return np.sum(x[1:] * x[:-1]) + np.sum(x[::2] ** 2) + x[3] * x[-1] + np.sum(x[::-1][:4] * 1.5)


def reads_2d(a):
    return (
        np.sum(a[1:, :2] * a[:-1, 1:3])
        + np.sum(a[0] ** 3)
        + np.sum(a[..., 1] * a[:, None, 2][:, 0])
        + a[2, 3] * a[1, 1]
    )


def reads_first_contribution_not_a_read(x):
    return np.sum(x * x) + np.sum(x[2:5] * 3.0) + np.sum(np.sin(x[1:]))


def reads_in_loop(x, n):
    total = 0.0
    for i in range(n):
        total = total + np.sum(x[i : i + 3] * x[i + 1 : i + 4])
    return total


def reads_in_branch(x, flag):
    if flag:
        y = x[1:] * 2.0
    else:
        y = x[:-1] * 3.0
    return np.sum(y * x[:-1] + x[1:] ** 2)


def fancy_repeats(x):
    idx = np.array([0, 2, 2, 5, 0])
    return np.sum(x[idx] ** 2) + np.sum(x[[1, 1, 3]] * x[:3])


def mask_reads(x):
    mask = x > 0.0
    return np.sum(x[mask] ** 3) + np.sum(x[1:] * 2.0)


@pytest.mark.parametrize(
    "f, args",
    [
        (overlapping_reads, (_vector(9),)),
        (reads_2d, (RNG.standard_normal((4, 5)),)),
        (reads_first_contribution_not_a_read, (_vector(8),)),
        (reads_in_loop, (_vector(10), 5)),
        (reads_in_branch, (_vector(7), True)),
        (reads_in_branch, (_vector(7), False)),
        (fancy_repeats, (_vector(6),)),
        (mask_reads, (_vector(9),)),
    ],
)
def test_index_reads(f, args):
    check_grad(f, args)
    check_vjp_dot_product(f, args)


def test_index_reads_float32_keep_their_dtype():
    x = _vector(9).astype(np.float32)
    gradient = ad.grad(overlapping_reads)(x)
    assert gradient.dtype == np.float32
    expected = ad.grad(overlapping_reads)(x.astype(np.float64))
    np.testing.assert_allclose(gradient, expected, rtol=1e-5)


@pytest.mark.parametrize(
    "shape, index, g_shape",
    [
        ((6,), slice(1, -1), (4,)),
        ((6,), 3, ()),
        ((6,), np.int64(-2), ()),
        ((4, 5), (slice(None), 2), (4,)),
        ((4, 5), (Ellipsis, None, slice(1, 3)), (4, 1, 2)),
        ((4, 5), (1, 2), ()),
        ((6,), np.array([0, 2, 2, 5]), (4,)),
        ((6,), [1, 1, 3], (3,)),
        ((6,), np.array([True, False, True, True, False, False]), (3,)),
        ((4, 5), (np.array([0, 0, 3]), slice(1, 3)), (3, 2)),
    ],
)
def test_accumulate_index_equals_the_generic_adjoint(shape, index, g_shape):
    x = RNG.standard_normal(shape)
    g = RNG.standard_normal(g_shape) if g_shape else float(RNG.standard_normal())
    dx = RNG.standard_normal(shape)
    expected = dx + runtime.index_adjoint(g, x, index)
    result = runtime.accumulate_index(dx, g, x, index)
    np.testing.assert_allclose(result, expected, rtol=1e-15, atol=1e-15)
    assert result is dx  # written in place into the owned adjoint
    assert not np.shares_memory(result, x)


def test_accumulate_index_leaves_g_and_x_alone_and_accepts_a_scalar_start():
    x = _vector(6)
    g = _vector(4)
    g_before, x_before = g.copy(), x.copy()
    result = runtime.accumulate_index(0.0, g, x, slice(2, None))
    np.testing.assert_array_equal(result, runtime.index_adjoint(g_before, x_before, slice(2, None)))
    assert not np.shares_memory(result, g) and not np.shares_memory(result, x)
    np.testing.assert_array_equal(g, g_before)
    np.testing.assert_array_equal(x, x_before)
    again = runtime.accumulate_index(result, 0.0, x, slice(2, None))  # a zero adjoint
    assert again is result


def test_accumulate_index_on_lists_takes_the_generic_path():
    xs = [1.0, 2.0, 3.0]
    dxs = runtime.ListAdjoint([0.5, 0.0, 0.0])
    result = runtime.accumulate_index(dxs, 2.0, xs, 1)
    assert list(result) == [0.5, 2.0, 0.0]


# -- einsum: cached plans, matrix products ---------------------------------------------------


def _einsum_case(subscripts, shapes):
    operands = tuple(RNG.standard_normal(s) for s in shapes)
    out_shape = np.einsum(subscripts, *operands).shape
    weights = RNG.standard_normal(out_shape)

    def f(*ops):
        return np.sum(np.einsum(subscripts, *ops) * weights)

    return f, operands


EINSUMS = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("id,jd->ij", [(5, 3), (4, 3)]),
    ("ij,jd->id", [(4, 5), (5, 3)]),
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij,j->i", [(3, 4), (4,)]),
    ("abc,cd->abd", [(2, 3, 4), (4, 5)]),
    ("abc,bcd->ad", [(2, 3, 4), (3, 4, 5)]),
    ("ab,ba->", [(3, 4), (4, 3)]),
    ("abc,dc->dba", [(2, 3, 4), (5, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij,jk", [(3, 4), (4, 2)]),
    ("...ij,jk->...ik", [(2, 3, 4), (4, 2)]),
    ("ij,jk->ik", [(3, 1), (4, 2)]),  # a length-1 axis broadcast against 4
    ("ii->i", [(4, 4)]),
    ("ij->", [(3, 4)]),
    ("ij,jk,kl->il", [(3, 4), (4, 5), (5, 2)]),
    ("ii,ij->j", [(3, 3), (3, 4)]),
    ("ij,k->ik", [(3, 4), (5,)]),
]


@pytest.mark.parametrize("subscripts, shapes", EINSUMS)
def test_einsum_adjoints(subscripts, shapes):
    f, operands = _einsum_case(subscripts, shapes)
    wrt = tuple(range(len(operands))) if len(operands) > 1 else 0
    check_grad(f, operands, wrt=wrt)
    check_vjp_dot_product(f, operands, wrt=wrt)


def test_einsum_adjoint_plan_is_made_once():
    f, operands = _einsum_case("id,jd->ij", [(6, 3), (5, 3)])
    gradient = ad.grad(f, wrt=(0, 1))
    gradient(*operands)
    before = runtime_linalg._einsum_adjoint_plan.cache_info()
    gradient(*operands)
    after = runtime_linalg._einsum_adjoint_plan.cache_info()
    assert after.misses == before.misses
    assert after.hits == before.hits + 2


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


def test_attention():
    X = RNG.standard_normal((5, 4))
    Ws = tuple(RNG.standard_normal((4, 4)) / 2.0 for _ in range(3))
    check_grad(attention, (*Ws, X), wrt=(0, 1, 2))
    check_vjp_dot_product(attention, (*Ws, X), wrt=(0, 1, 2))


def squared_product(a, b):
    return np.sum(np.einsum("ij,jk->ik", a, b) ** 2)


def test_einsum_float32_keeps_its_dtype():
    a = RNG.standard_normal((3, 4)).astype(np.float32)
    b = RNG.standard_normal((4, 2)).astype(np.float32)
    da, db = ad.grad(squared_product, wrt=(0, 1))(a, b)
    assert da.dtype == np.float32 and db.dtype == np.float32


# -- Cholesky by triangular solves; solves with triangular matrices ----------------------------


def _gp_args(n: int) -> tuple:
    X = RNG.uniform(-3.0, 3.0, (n, 2))
    y = np.sin(X[:, 0]) * np.cos(X[:, 1]) + 0.1 * RNG.standard_normal(n)
    return (math.log(1.2), math.log(0.9), math.log(0.3), X, y)


def _without_scipy(monkeypatch):
    monkeypatch.setattr(runtime_linalg, "_scipy_solve_triangular", lambda: None)


@pytest.mark.parametrize("n", [6, 40])  # 40: the solves' adjoints see triangular matrices
@pytest.mark.parametrize("scipy_present", [True, False])
def test_gp_marginal_likelihood(n, scipy_present, monkeypatch):
    if not scipy_present:
        _without_scipy(monkeypatch)
    args = _gp_args(n)
    check_grad(gp_nll, args, wrt=(0, 1, 2))
    check_vjp_dot_product(gp_nll, args, wrt=(0, 1, 2, 4))


def _spd(n: int, batch: tuple = ()) -> np.ndarray:
    b = RNG.standard_normal((*batch, n, n))
    return b @ np.swapaxes(b, -1, -2) + n * np.eye(n)


def weighted_cholesky(a, w):
    return np.sum(w * np.linalg.cholesky(a))


def weighted_cholesky_upper(a, w):
    return np.sum(w * np.linalg.cholesky(a, upper=True))


@pytest.mark.parametrize("batch", [(), (2,)])
@pytest.mark.parametrize("scipy_present", [True, False])
def test_cholesky_adjoint(batch, scipy_present, monkeypatch):
    if not scipy_present:
        _without_scipy(monkeypatch)
    a = _spd(5, batch)
    w = RNG.standard_normal(a.shape)
    check_grad(weighted_cholesky, (a, w))
    check_vjp_dot_product(weighted_cholesky, (a, w))


@pytest.mark.skipif(
    int(np.__version__.split(".")[0]) < 2, reason="np.linalg.cholesky(upper=) is NumPy 2"
)
def test_cholesky_adjoint_upper():
    a = _spd(5)
    check_grad(weighted_cholesky_upper, (a, RNG.standard_normal(a.shape)))


def test_cholesky_adjoint_equals_the_inverse_formula():
    """Murray's formula written with explicit inverses, the textbook form."""
    a = _spd(7, (3,))
    L = np.linalg.cholesky(a)
    gL = np.tril(RNG.standard_normal(a.shape))
    phi = np.tril(np.swapaxes(L, -1, -2) @ gL)
    phi -= 0.5 * np.tril(np.triu(phi))
    inv_L = np.linalg.inv(L)
    s = np.swapaxes(inv_L, -1, -2) @ phi @ inv_L
    sym = s + np.swapaxes(s, -1, -2)
    expected = np.tril(sym, -1) + 0.5 * np.tril(np.triu(sym))
    for k in range(3):
        np.testing.assert_allclose(
            runtime.cholesky_adjoint(gL[k], L[k], a[k]), expected[k], rtol=1e-10, atol=1e-12
        )
    np.testing.assert_allclose(runtime.cholesky_adjoint(gL, L, a), expected, rtol=1e-10, atol=1e-12)


def triangular_solve(t, b):
    return np.sum(np.linalg.solve(t, b) ** 2)


@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("b_shape", [(40,), (40, 3)])
def test_solve_with_triangular_matrices(lower, b_shape):
    t = RNG.standard_normal((40, 40)) + 8.0 * np.eye(40)
    t = np.tril(t) if lower else np.triu(t)
    b = RNG.standard_normal(b_shape)
    assert runtime_linalg._triangle_of(t) == ("lower" if lower else "upper")
    check_vjp_dot_product(triangular_solve, (t, b), wrt=(0, 1))
    gradient = ad.grad(triangular_solve, wrt=1)(t, b)
    x = np.linalg.solve(t, b)
    np.testing.assert_allclose(gradient, np.linalg.solve(t.T, 2.0 * x), rtol=1e-10)


def test_triangle_of_a_full_or_small_matrix_is_none():
    full = RNG.standard_normal((40, 40))
    assert runtime_linalg._triangle_of(full) is None
    corners_zero = full.copy()
    corners_zero[0, -1] = corners_zero[-1, 0] = 0.0
    assert runtime_linalg._triangle_of(corners_zero) is None
    assert runtime_linalg._triangle_of(np.tril(full)[:5, :5]) is None  # small: not checked


# -- import time: templates parsed on first use, no needless imports ---------------------------


def test_import_parses_no_template_and_imports_nothing_needless():
    """Measured by what happens, not by a clock: importing ad_transform parses none of its
    templates and imports none of the modules only some calls need."""
    child = (
        "import sys, numpy, gast\n"
        "import ad_transform\n"
        "from ad_transform.rules.registry import _RULES\n"
        "kinds = ('template', 'scalar_template', 'tangent', 'scalar_tangent')\n"
        "templates = [getattr(r, k) for r in _RULES.values() for k in kinds]\n"
        "templates = [t for t in templates if t is not None]\n"
        "print(len(templates), sum('params' in t.__dict__ for t in templates))\n"
        "needless = ['scipy', 'numpy.random', 'subprocess', 'shutil', 'logging', 'sysconfig']\n"
        "print(' '.join(m for m in needless if m in sys.modules) or '-')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, check=True, timeout=120
    )
    counts, imported = done.stdout.split("\n")[:2]
    registered, parsed = map(int, counts.split())
    assert registered > 200
    assert parsed == 0
    assert imported == "-"


def test_import_imports_no_pipeline_and_the_lazy_names_resolve():
    """``import ad_transform`` imports the API and the runtime only; the pipeline (parse,
    analysis, reverse, optimize, the rules) comes with the first transformation, and the
    names that need it (``trace_table``, ``register_adjoint``, ...) with their first use."""
    child = (
        "import sys\n"
        "import ad_transform\n"
        "heavy = ['pipeline', 'parse', 'kinds', 'reverse', 'optimize', 'rules', 'forward',\n"
        "         'higher_order', 'shapes', 'graph', 'trace', 'export']\n"
        "print(' '.join(h for h in heavy if 'ad_transform.' + h in sys.modules) or '-')\n"
        "print(ad_transform.trace_table.__module__, ad_transform.register_adjoint.__module__)\n"
        "print(ad_transform.graph.__name__, 'trace_table' in dir(ad_transform))\n"
        "namespace = {}\n"
        "exec('from ad_transform import *', namespace)\n"
        "print(sorted(set(ad_transform.__all__) - set(namespace)) or '-')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, check=True, timeout=120
    )
    imported, modules, graph, missing = done.stdout.split("\n")[:4]
    assert imported == "-"
    assert modules == "ad_transform.trace ad_transform.rules.registry"
    assert graph == "ad_transform.graph True"
    assert missing == "-"
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        ad.no_such_name  # noqa: B018


def test_every_builtin_template_parses():
    from ad_transform.rules import registry

    registry.load_optional_rules()
    rules = list(registry._RULES.values())
    templates = [
        t
        for rule in rules
        for t in (
            rule.template,
            rule.scalar_template,
            rule.tangent,
            rule.scalar_tangent,
            *rule.sequence_templates.values(),
        )
        if t is not None
    ]
    assert len(templates) > 250
    for template in templates:
        assert isinstance(template.params, list), template.fn
        assert isinstance(template.outputs, dict) and isinstance(template.free, list)


def test_a_users_template_is_still_checked_where_it_is_registered():
    def no_return(g, ans, x):
        g * x

    with pytest.raises(TypeError, match="must end with a 'return'"):
        ad.register_adjoint(_user_primitive, no_return)


def _user_primitive(x):
    return 2.0 * x


def test_logging_calls_still_only_observe():
    import logging

    log = logging.getLogger("ad_transform.tests.perf_runtime")

    def f(x):
        log.debug("x is %s", x)
        logging.debug("x is %s", x)
        return x * x

    assert ad.grad(f)(3.0) == pytest.approx(6.0)


def shuffles_in_place(x):
    a = x * 1.0
    np.random.shuffle(a)
    return np.sum(a * x)


def test_np_random_shuffle_is_still_refused():
    with pytest.raises(ad.ADTransformError, match="shuffle"):
        ad.grad(shuffles_in_place)(np.arange(4.0))


# -- extrema: the adjoint without ties is the element itself ------------------------------------


def row_max_weighted(x, w):
    return np.sum(w * np.max(x, axis=1, keepdims=True)) + np.sum(np.min(x, axis=0) * w[0])


def test_extremum_adjoint_without_ties():
    x = RNG.standard_normal((4, 5))
    check_grad(row_max_weighted, (x, RNG.standard_normal((4, 1))), wrt=0)


def test_extremum_adjoint_splits_ties_and_follows_nan():
    """The documented convention: ``g`` split equally among tied elements; a NaN maximum
    is the NaN element's."""
    x = np.array([[1.0, 3.0, 3.0, 2.0], [0.5, np.nan, 4.0, 1.0], [2.0, 2.0, 2.0, 7.0]])
    g = np.array([[1.0], [2.0], [4.0]])
    ans = np.max(x, axis=1, keepdims=True)
    d = runtime.extremum_adjoint(g, ans, x, 1, True)
    expected = np.array([[0, 0.5, 0.5, 0], [0, 2.0, 0, 0], [0, 0, 0, 4.0]])
    np.testing.assert_array_equal(d, expected)
    np.testing.assert_array_equal(
        runtime.extremum_adjoint(3.0, 2.0, np.array([2.0, 1.0, 2.0])), [1.5, 0, 1.5]
    )
