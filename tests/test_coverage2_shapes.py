"""Issue 16, part C2: shapes, selection and einsum -- a peer-style suite.

Every function of the part (``np.append``, ``rollaxis``, ``row_stack``, ``np.r_``/``np.c_``,
``meshgrid``, ``ix_``, ``select``, ``partition``, sort/argsort gathers, ``nan_to_num``,
``einsum`` interleaved and with ``...``, ``cross``; ``put``/``place`` in
``test_coverage2_shapes_writes``-style tests at the end) with several shapes, axes and
keyword settings, each checked three ways:

* ``grad`` against central finite differences in float64 (``check_grad``; an array
  result is scalarised as ``sum(f(x) * w)`` with random weights ``w``);
* the dot-product test ``<u, J^T v> == <J u, v>`` with random non-uniform ``u``, ``v``;
* float32 inputs give a float32 gradient (where NumPy keeps float32) close to the
  float64 one.

Points are drawn away from kinks (``select``'s conditions) and ties (``partition``,
sorts); the documented behaviour at those points has its own tests.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from gradcheck import check_grad, check_vjp_dot_product

from ad_transform import grad
from ad_transform.errors import ADTransformError

# -- argument generators ------------------------------------------------------------------


def real(rng, shape):
    return rng.uniform(-2.0, 2.0, size=shape)


def distinct(rng, shape):
    """Values at least 0.05 apart (no ties for sorts and partitions)."""
    n = int(np.prod(shape))
    values = rng.permutation(n) * 0.1 + rng.uniform(0.0, 0.05, size=n) - 0.05 * n
    return values.reshape(shape)


def away_from_half(rng, shape):
    """Values away from +-0.5 (``select``'s conditions below are ``x > 0.5``, ``x < -0.5``)."""
    x = rng.uniform(-2.0, 2.0, size=shape)
    return np.where(np.abs(np.abs(x) - 0.5) < 0.1, x + 0.3, x)


@dataclass
class Case:
    primitive: object  # the rule under test (for the coverage list)
    fn: Callable
    shapes: tuple  # argument shape combinations
    gen: Callable = real
    wrt: tuple[int, ...] | None = None  # default: every argument

    @property
    def name(self) -> str:
        return self.fn.__name__

    def positions(self, shapes) -> tuple[int, ...]:
        return self.wrt if self.wrt is not None else tuple(range(len(shapes)))


# -- append ---------------------------------------------------------------------------------


def append_flat(x, y):
    return np.append(x, y)


def append_axis0(x, y):
    return np.append(x, y, axis=0)


def append_axis_last(x, y):
    return np.append(x, y, axis=-1)


def append_list_of_numbers(x):
    return np.append(x, [x[0] * 2.0, 1.0, x[-1]])


# -- rollaxis and row_stack -------------------------------------------------------------------


def rollaxis_1(x):
    return np.rollaxis(x, 1)


def rollaxis_2_0(x):
    return np.rollaxis(x, 2, 0)


def rollaxis_0_3(x):
    return np.rollaxis(x, 0, 3)


def rollaxis_last_1(x):
    return np.rollaxis(x, -1, 1)


def rollaxis_same(x):
    return np.rollaxis(x, 1, 1)


def rollaxis_0_minus_1(x):
    return np.rollaxis(x, 0, -1)


def row_stack_pair(x, y):
    return np.row_stack([x, y])


def row_stack_tuple(x, y):
    return np.row_stack((x, y * 2.0, x))


# -- np.r_ and np.c_ --------------------------------------------------------------------------


def r_single(x):
    return np.r_[x]


def r_several(x, y):
    return np.r_[x, 2.0 * y[0], y]


def r_slices(x):
    return np.r_[0:3, x, 1.0:2.0:4j] * np.r_[x, 4:0:-1, x[:3]]


def r_scalars(x):
    return np.r_[x[0], x[1] * x[2], 3.0]


def r_matrices(m, n):
    return np.r_[m, n, 2.0 * m]


def c_vectors(x, y):
    return np.c_[x, y, x * y]


def c_matrix_and_vector(m, x):
    return np.c_[m, x]


def c_single(x):
    return np.c_[x]


def r_directive_2d(x, y):
    return np.r_["0,2", x, y * x]


def r_directive_last_axis(m, n):
    return np.r_["-1", m, n, 3.0 * m]


def r_directive_transpose(x, y):
    return np.r_["0,2,0", x, y, 2.0 * x]


def c_directive(m, x):
    return np.c_["1", m, x[:, None] * 2.0, m[:, :1]]


def r_directive_with_slice_and_scalar(x):
    return np.r_["0,2", x, 0:4, x * x[0]]


# -- meshgrid -----------------------------------------------------------------------------------


def meshgrid_xy(x, y):
    a, b = np.meshgrid(x, y)
    return a * b + a**2


def meshgrid_ij(x, y):
    a, b = np.meshgrid(x, y, indexing="ij")
    return a * b - b**2


def meshgrid_sparse_xy(x, y):
    a, b = np.meshgrid(x, y, sparse=True)
    return a * b + a**2


def meshgrid_sparse_ij(x, y):
    a, b = np.meshgrid(x, y, sparse=True, indexing="ij")
    return a * b + b**3


def meshgrid_three(x, y, z):
    a, b, c = np.meshgrid(x, y, z)
    return a * b * c + c


def meshgrid_three_ij_sparse(x, y, z):
    a, b, c = np.meshgrid(x, y, z, indexing="ij", sparse=True)
    return a * b - c * a


def meshgrid_one(x):
    return np.meshgrid(x)[0] * 3.0


def meshgrid_one_grid_used(x, y):
    return np.meshgrid(x, y)[1] * 2.0


# -- ix_ ------------------------------------------------------------------------------------


def ix_rows_cols(m):
    return m[np.ix_([0, 2], [1, 3, 3])]


def ix_mask(m):
    return m[np.ix_(np.array([True, False, True]), [3, 0])] * 2.0


# -- select --------------------------------------------------------------------------------


def select_two(x, y):
    return np.select([x > 0.5, x < -0.5], [x * y, y**2], default=x)


def select_broadcast(x, y):
    return np.select([x > 0.5, x < -0.5], [y, 3.0 * x], default=y * 2.0)


def select_scalar_choice(x):
    return np.select([x > 0.5], [x[..., :1] * 4.0], default=-x)


def select_default_constant(x, y):
    return np.select((x < -0.5, x > 0.5), (y * x, y))


# -- partition and sort-based gathers ----------------------------------------------------------


def partition_2(x):
    return np.partition(x, 2)


def partition_axis0(x):
    return np.partition(x, 1, axis=0)


def partition_flat(x):
    return np.partition(x, 4, axis=None)


def partition_kths(x):
    return np.partition(x, [1, 3])


def argsort_gather(x):
    return x[np.argsort(x)]


def argsort_descending_top3(x):
    return x[np.argsort(x)[::-1][:3]]


def take_along_argsort(x):
    return np.take_along_axis(x, np.argsort(x, axis=0), axis=0)


def take_along_argsort_last(x):
    return np.take_along_axis(x, np.argsort(x, axis=-1), axis=-1) * x


def take_along_argpartition(x):
    return np.take_along_axis(x, np.argpartition(x, 1, axis=-1), axis=-1)


def sort_flat(x):
    return np.sort(x, axis=None)


def sort_keywords(x):
    return np.sort(x, axis=0, kind="stable", order=None)


def ix_write(m):
    a = np.zeros((3, 4))
    a[np.ix_([0, 2], [1, 3])] = m[:2, :2] * 2.0
    return a * m


# -- nan_to_num ------------------------------------------------------------------------------


def nan_to_num_plain(x):
    return np.nan_to_num(x) * x


def nan_to_num_keywords(x):
    return np.nan_to_num(x, nan=1.0, posinf=2.0, neginf=-2.0) ** 2


# -- einsum: interleaved, ellipsis ------------------------------------------------------------


def einsum_interleaved_matmul(a, b):
    return np.einsum(a, [0, 1], b, [1, 2], [0, 2])


def einsum_interleaved_implicit(a, b):
    return np.einsum(a, [0, 1], b, [1, 2])


def einsum_interleaved_three(a, b, c):
    return np.einsum(a, [0, 1], b, [1, 2], c, [2], [0])


def einsum_interleaved_trace(a):
    return np.einsum(a, [0, 0])


def einsum_interleaved_ellipsis(a, b):
    return np.einsum(a, [Ellipsis, 0, 1], b, [Ellipsis, 1, 2], [Ellipsis, 0, 2])


def einsum_interleaved_transpose(a):
    return np.einsum(a, [0, 1], [1, 0]) * 2.0


def einsum_ellipsis_broadcast(a, b):
    return np.einsum("...ij,jk->...ik", a, b)


def einsum_ellipsis_batch_dot(a, b):
    return np.einsum("...i,...i->...", a, b)


def einsum_ellipsis_leading(a):
    return np.einsum("i...->...", a)


def einsum_ellipsis_implicit(a, b):
    return np.einsum("...ij,...jk", a, b)


def einsum_ellipsis_size_one(a, b):
    return np.einsum("...ij,...jk->...ik", a, b)


def einsum_ellipsis_diagonal(a):
    return np.einsum("...ii->...i", a)


def einsum_ellipsis_one_side(a, b):
    return np.einsum("ij,...j->...i", b, a)


def einsum_ellipsis_summed(a):
    return np.einsum("...ij->...", a)


def einsum_ellipsis_outer(a, c):
    return np.einsum("b...,...->b...", a, c)


def einsum_interleaved_ellipsis_implicit(a, c):
    return np.einsum(a, [Ellipsis, 1], c, [Ellipsis, 1])


def einsum_ellipsis_alone(a):
    return np.einsum("...", a) * 2.0


# -- cross -------------------------------------------------------------------------------------


def cross_3(a, b):
    return np.cross(a, b)


def cross_2(a, b):
    return np.cross(a, b)


def cross_2_3(a, b):
    return np.cross(a, b)


def cross_axes(a, b):
    return np.cross(a, b, axisa=0, axisb=-1, axisc=0)


def cross_axes_other(a, b):
    return np.cross(a, b, axisa=1, axisb=0, axisc=1)


def cross_axis(a, b):
    return np.cross(a, b, axis=0)


def cross_2_axes(a, b):
    return np.cross(a, b, axisa=0, axisb=0)


CASES = [
    Case(np.append, append_flat, (((4,), (3,)), ((2, 3), (4,)), ((3,), ()))),
    Case(np.append, append_axis0, (((2, 3), (4, 3)), ((1, 2, 2), (2, 2, 2)))),
    Case(np.append, append_axis_last, (((2, 3), (2, 2)), ((2, 1, 2), (2, 1, 3)))),
    Case(np.append, append_list_of_numbers, (((4,),), ((7,),))),
    Case(np.rollaxis, rollaxis_1, (((2, 3, 4),), ((3, 2),))),
    Case(np.rollaxis, rollaxis_2_0, (((2, 3, 4),), ((2, 3, 4, 2),))),
    Case(np.rollaxis, rollaxis_0_3, (((2, 3, 4),),)),
    Case(np.rollaxis, rollaxis_last_1, (((2, 3, 4),), ((2, 3, 4, 2),))),
    Case(np.rollaxis, rollaxis_same, (((2, 3, 4),),)),
    Case(np.rollaxis, rollaxis_0_minus_1, (((2, 3, 4),),)),
    Case(np.r_, r_single, (((4,),), ((2, 3),))),
    Case(np.r_, r_several, (((3,), (4,)),)),
    Case(np.r_, r_slices, (((4,),),)),
    Case(np.r_, r_scalars, (((3,),),)),
    Case(np.r_, r_matrices, (((2, 3), (1, 3)),)),
    Case(np.c_, c_vectors, (((3,), (3,)),)),
    Case(np.c_, c_matrix_and_vector, (((3, 2), (3,)),)),
    Case(np.c_, c_single, (((4,),), ((2, 3),))),
    Case(np.r_, r_directive_2d, (((4,), (4,)),)),
    Case(np.r_, r_directive_last_axis, (((2, 3), (2, 1)),)),
    Case(np.r_, r_directive_transpose, (((3,), (3,)),)),
    Case(np.c_, c_directive, (((3, 2), (3,)),)),
    Case(np.r_, r_directive_with_slice_and_scalar, (((4,),),)),
    Case(np.meshgrid, meshgrid_xy, (((3,), (4,)), ((2, 2), (3,)))),
    Case(np.meshgrid, meshgrid_ij, (((3,), (4,)), ((3,), (2, 2)))),
    Case(np.meshgrid, meshgrid_sparse_xy, (((3,), (4,)),)),
    Case(np.meshgrid, meshgrid_sparse_ij, (((3,), (4,)),)),
    Case(np.meshgrid, meshgrid_three, (((2,), (3,), (4,)),)),
    Case(np.meshgrid, meshgrid_three_ij_sparse, (((2,), (3,), (4,)),)),
    Case(np.meshgrid, meshgrid_one, (((4,),),)),
    Case(np.meshgrid, meshgrid_one_grid_used, (((3,), (4,)),)),
    Case(np.ix_, ix_rows_cols, (((3, 4),),)),
    Case(np.ix_, ix_mask, (((3, 4),),)),
    Case(np.select, select_two, (((6,), (6,)), ((3, 4), (3, 4))), away_from_half),
    Case(np.select, select_broadcast, (((3, 4), (4,)), ((5,), ())), away_from_half),
    Case(np.select, select_scalar_choice, (((6,),), ((3, 4),)), away_from_half),
    Case(np.select, select_default_constant, (((6,), (6,)),), away_from_half),
    Case(np.partition, partition_2, (((6,),), ((3, 5),)), distinct),
    Case(np.partition, partition_axis0, (((4, 3),),), distinct),
    Case(np.partition, partition_flat, (((3, 4),),), distinct),
    Case(np.partition, partition_kths, (((6,),), ((2, 5),)), distinct),
    Case(np.argsort, argsort_gather, (((6,),),), distinct),
    Case(np.argsort, argsort_descending_top3, (((6,),),), distinct),
    Case(np.take_along_axis, take_along_argsort, (((4, 3),),), distinct),
    Case(np.take_along_axis, take_along_argsort_last, (((3, 4),),), distinct),
    Case(np.argpartition, take_along_argpartition, (((3, 5),),), distinct),
    Case(np.sort, sort_flat, (((3, 4),),), distinct),
    Case(np.sort, sort_keywords, (((3, 4),),), distinct),
    Case(np.ix_, ix_write, (((3, 4),),)),
    Case(np.nan_to_num, nan_to_num_plain, (((5,),), ((2, 3),))),
    Case(np.nan_to_num, nan_to_num_keywords, (((5,),),)),
    Case(np.einsum, einsum_interleaved_matmul, (((3, 4), (4, 2)),)),
    Case(np.einsum, einsum_interleaved_implicit, (((3, 4), (4, 2)),)),
    Case(np.einsum, einsum_interleaved_three, (((3, 4), (4, 2), (2,)),)),
    Case(np.einsum, einsum_interleaved_trace, (((3, 3),),)),
    Case(np.einsum, einsum_interleaved_ellipsis, (((2, 3, 4), (2, 4, 2)), ((3, 4), (4, 2)))),
    Case(np.einsum, einsum_interleaved_transpose, (((3, 4),),)),
    Case(np.einsum, einsum_ellipsis_broadcast, (((5, 3, 4), (4, 2)), ((3, 4), (4, 2)))),
    Case(np.einsum, einsum_ellipsis_batch_dot, (((3, 4), (4,)), ((2, 3, 4), (3, 4)))),
    Case(np.einsum, einsum_ellipsis_leading, (((3, 2, 2),), ((3,),))),
    Case(np.einsum, einsum_ellipsis_implicit, (((2, 3, 4), (2, 4, 2)),)),
    Case(np.einsum, einsum_ellipsis_size_one, (((2, 1, 3, 4), (3, 4, 2)), ((1, 3, 4), (2, 4, 2)))),
    Case(np.einsum, einsum_ellipsis_diagonal, (((2, 3, 3),), ((3, 3),))),
    Case(np.einsum, einsum_ellipsis_one_side, (((2, 3, 4), (2, 4)),)),
    Case(np.einsum, einsum_ellipsis_summed, (((2, 3, 4),),)),
    Case(np.einsum, einsum_ellipsis_outer, (((2, 3, 4), (3, 4)),)),
    Case(np.einsum, einsum_interleaved_ellipsis_implicit, (((2, 3, 4), (3, 4)),)),
    Case(np.einsum, einsum_ellipsis_alone, (((2, 3),),)),
    Case(np.cross, cross_3, (((3,), (3,)), ((4, 3), (3,)), ((2, 1, 3), (4, 3)))),
    Case(np.cross, cross_2, (((2,), (2,)), ((4, 2), (2,)))),
    Case(np.cross, cross_2_3, (((2,), (3,)), ((3,), (4, 2)))),
    Case(np.cross, cross_axes, (((3, 4), (4, 3)), ((2, 5), (5, 3)))),
    Case(np.cross, cross_axes_other, (((2, 3, 4), (3, 2, 4)),)),
    Case(np.cross, cross_axis, (((3, 5), (3, 5)), ((2, 4), (3, 4)))),
    Case(np.cross, cross_2_axes, (((2, 4), (2, 4)),)),
]
if hasattr(np, "row_stack"):
    CASES += [
        Case(np.row_stack, row_stack_pair, (((3,), (3,)), ((2, 3), (3,)))),
        Case(np.row_stack, row_stack_tuple, (((2, 3), (1, 3)),)),
    ]

# the rules these cases check (``test_rules.test_every_registered_rule_has_a_row`` reads it)
COVERED_PRIMITIVES = [case.primitive for case in CASES]

N_POINTS = 2


def _rng(case: Case, salt: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{case.name}/{salt}".encode()))


def _arguments(case: Case, rng, shapes) -> tuple:
    return tuple(case.gen(rng, s) for s in shapes)


def _weighted(fn: Callable, arity: int, w: np.ndarray) -> Callable:
    """``sum(fn(*args) * w)``: a scalar function the tool differentiates through ``fn``."""
    if arity == 1:

        def weighted_1(x):
            return np.sum(fn(x) * w)

        return weighted_1
    if arity == 2:

        def weighted_2(x, y):
            return np.sum(fn(x, y) * w)

        return weighted_2

    def weighted_3(x, y, z):
        return np.sum(fn(x, y, z) * w)

    return weighted_3


@pytest.fixture(autouse=True)
def _quiet_deprecations():
    """``np.row_stack`` and 2-vector ``np.cross`` are deprecated in NumPy 2: still checked."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_finite_differences(case: Case):
    rng = _rng(case, "fd")
    for shapes in case.shapes:
        for _ in range(N_POINTS):
            args = _arguments(case, rng, shapes)
            w = rng.uniform(-1.5, 1.5, size=np.shape(case.fn(*args)))
            f = _weighted(case.fn, len(args), w)
            try:
                check_grad(f, args, case.positions(shapes))
            except Exception as error:
                error.add_note(f"{case.name}: shapes {shapes}")
                raise


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_dot_product(case: Case):
    rng = _rng(case, "vjp")
    for shapes in case.shapes:
        args = _arguments(case, rng, shapes)
        try:
            check_vjp_dot_product(case.fn, args, case.positions(shapes), rng)
        except Exception as error:
            error.add_note(f"{case.name}: shapes {shapes}")
            raise


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_float32(case: Case):
    """float32 arguments: a float32 gradient (where NumPy keeps float32) equal to the
    float64 one to float32 accuracy."""
    rng = _rng(case, "f32")
    for shapes in case.shapes:
        args = _arguments(case, rng, shapes)
        args32 = tuple(np.asarray(a, dtype=np.float32) for a in args)
        w = rng.uniform(-1.5, 1.5, size=np.shape(case.fn(*args)))
        positions = case.positions(shapes)
        f64 = _weighted(case.fn, len(args), w)
        f32 = _weighted(case.fn, len(args), w.astype(np.float32))
        expected = grad(f64, wrt=positions)(*args)
        got = grad(f32, wrt=positions)(*args32)
        keeps_float32 = np.asarray(case.fn(*args32)).dtype == np.float32
        for e, g, a in zip(expected, got, args32):
            if keeps_float32:
                assert g.dtype == np.float32, f"{case.name} {shapes}: {g.dtype}"
            np.testing.assert_allclose(g, e, rtol=2e-4, atol=2e-4 * max(1.0, np.abs(e).max()))
            assert g.shape == a.shape


@pytest.mark.skipif(np.__version__.startswith("1."), reason="np.sort(stable=) is NumPy 2")
def test_sort_stable_keyword():
    def f(x):
        return np.sort(x, stable=True) * x

    rng = np.random.default_rng(3)
    check_grad(_weighted(f, 1, rng.normal(size=5)), (distinct(rng, (5,)),))


def test_primitives_are_listed():
    from ad_transform.rules import list_primitives

    names = set(list_primitives(builtin_only=True))
    expected = [
        "numpy.append",
        "numpy.rollaxis",
        "numpy.meshgrid",
        "numpy.select",
        "numpy.partition",
        "numpy.nan_to_num",
        "numpy.cross",
        "numpy.ix_ (no derivative)",
        "numpy.argpartition (no derivative)",
    ]
    if hasattr(np, "row_stack") and np.row_stack is not np.vstack:
        expected.append("numpy.row_stack")
    missing = [name for name in expected if name not in names]
    assert not missing, missing


# -- regression tests of the issue's examples and the documented behaviour ---------------------


def test_issue_example_einsum_interleaved():
    rng = np.random.default_rng(16)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))

    def f(a, b):
        return np.sum(np.einsum(a, [0, 1], b, [1, 2], [0, 2]) ** 2)

    ga, gb = grad(f, wrt=(0, 1))(a, b)
    c = a @ b  # calculus: d sum(C^2) = 2 C; dA = 2 C B^T, dB = 2 A^T C
    np.testing.assert_allclose(ga, 2 * c @ b.T, rtol=1e-12)
    np.testing.assert_allclose(gb, 2 * a.T @ c, rtol=1e-12)


def test_cross_by_calculus():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.5, 2.0])
    w = np.array([0.3, -2.0, 1.5])

    def f(a, b):
        return np.sum(np.cross(a, b) * w)

    ga, gb = grad(f, wrt=(0, 1))(a, b)
    # <w, a x b> = <a, b x w> = <b, w x a>
    np.testing.assert_allclose(ga, np.cross(b, w), rtol=1e-12)
    np.testing.assert_allclose(gb, np.cross(w, a), rtol=1e-12)


def test_nan_to_num_gradient_is_zero_where_replaced():
    x = np.array([1.5, np.nan, -2.0, np.inf, -np.inf, 0.25])
    w = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])

    def f(x):
        return np.sum(np.nan_to_num(x) * w)

    np.testing.assert_array_equal(grad(f)(x), [0.1, 0.0, 0.3, 0.0, 0.0, 0.6])


def test_nan_to_num_replacement_values_get_their_adjoints():
    x = np.array([1.5, np.nan, -2.0, np.inf, np.nan, -np.inf])
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])

    def f(x, v, p, n):
        return np.sum(np.nan_to_num(x, nan=v, posinf=p, neginf=n) * w)

    g = grad(f, wrt=(1, 2, 3))(x, 0.5, 10.0, -10.0)
    assert g == (7.0, 4.0, 6.0)  # w summed over the NaNs, the +inf, the -inf


def test_nan_to_num_copy_false_is_refused():
    def f(x):
        y = x * 2.0
        return np.sum(np.nan_to_num(y, copy=False))

    with pytest.raises(ADTransformError, match="copy=False"):
        grad(f)(np.array([1.0, 2.0]))


def test_partition_at_ties_gives_each_tied_element_one_adjoint():
    """At a tie the result is not differentiable; each tied element receives the adjoint of
    one of the tied result positions (in a stable order), so the gradient's entries are
    the weights, permuted, and nothing is lost or counted twice."""
    x = np.array([1.0, 3.0, 1.0, 0.0, 3.0])
    w = np.array([0.5, -1.0, 2.0, 4.0, 7.0])

    def f(x):
        return np.sum(np.partition(x, 2) * w)

    g = grad(f)(x)
    np.testing.assert_array_equal(np.sort(g), np.sort(w))
    # the minimum (unique) gets the weight of position 0
    assert g[3] == w[0]


def test_partition_gathers_the_kth_element():
    x = np.array([0.3, -1.2, 2.5, 0.7, 1.9])

    def f(x):
        return np.partition(x, 2)[2] * 3.0  # the median

    np.testing.assert_array_equal(grad(f)(x), [0.0, 0.0, 0.0, 3.0, 0.0])


def test_select_takes_the_first_true_condition():
    x = np.array([1.0, -1.0, 0.0])

    def f(x):
        return np.sum(np.select([x > 0.5, x > -2.0], [x * 2.0, x * 3.0], default=x * 5.0))

    np.testing.assert_array_equal(grad(f)(x), [2.0, 3.0, 3.0])


def test_meshgrid_copy_false_result_is_not_writable_in_place():
    """``copy=False`` grids are views of the arguments: a write into one is refused."""

    def f(x):
        y = x * 2.0
        a, _b = np.meshgrid(y, y, copy=False)
        a[0, 0] = 1.0
        return np.sum(a)

    with pytest.raises(ADTransformError):
        grad(f)(np.array([1.0, 2.0]))


def test_einsum_interleaved_single_operand_view_write_refused():
    """``einsum(A, [0, 1], [1, 0])`` is a view of ``A``: writing into it is refused, while a
    two-operand einsum (spelled or interleaved) is a new array the function may change."""

    def view(m):
        r = np.einsum(m, [0, 1], [1, 0])
        r[0, 0] = 0.0
        return np.sum(r * m.T)

    with pytest.raises(ADTransformError, match="share memory"):
        grad(view)(np.ones((2, 3)))

    def new(m):
        r = np.einsum(m, [0, 1], m, [2, 1], [0, 2])
        r[0, 0] = 0.0
        return np.sum(r)

    m = np.arange(6.0).reshape(2, 3) / 5.0
    check_grad(new, (m,))


def test_r_with_a_matrix_directive_is_refused():
    def f(x):
        return np.sum(np.r_["r", x, x])

    with pytest.raises(ADTransformError, match="directive"):
        grad(f)(np.array([1.0, 2.0]))


# -- np.put / np.place: item writes into an array the function created -------------------------


def put_simple(x):
    a = np.zeros(6)
    np.put(a, [0, 3], x[:2])
    return a * x[2]


def put_repeated_values(x):
    a = np.ones((2, 3))
    np.put(a, [0, -1, 4, 2], x[:2] * 3.0)  # v shorter than ind: repeated
    return a**2


def put_duplicate_index(x):
    a = x * 2.0
    np.put(a, [1, 1, 2], x[:3] ** 2)  # the last write to 1 wins
    return a


def put_wrap(x):
    a = x * 1.0
    np.put(a, np.array([5, -7]), x[2:] * x[0], mode="wrap")
    return a


def put_clip(x):
    a = np.zeros(4)
    np.put(a, [9, -3], x[1:3], mode="clip")
    return a + x


def put_keywords(x):
    a = np.zeros(5)
    np.put(a=a, ind=[4, 0], v=x[0] * x[1])  # a scalar value, keywords
    return a


def place_mask(x):
    a = np.zeros(4)
    np.place(a, np.array([True, False, True, False]), x[:2])
    return a**2


def place_other_shape_mask(x):
    a = np.ones((2, 3))
    mask = np.array([1, 0, 0, 1, 1, 0])  # same size, another shape, nonzero = true
    np.place(a, mask, x[:2] * x[2])  # vals repeated
    return a * 2.0


def place_in_loop(x):
    a = x * 1.0
    for k in range(2):
        np.place(a, a > 0.0, a[:1] * (0.5 + k))
    return a


PUT_CASES = [
    Case(np.put, put_simple, (((4,),),)),
    Case(np.put, put_repeated_values, (((4,),),)),
    Case(np.put, put_duplicate_index, (((4,),),)),
    Case(np.put, put_wrap, (((4,),),)),
    Case(np.put, put_clip, (((4,),),)),
    Case(np.put, put_keywords, (((4,),),)),
    Case(np.place, place_mask, (((4,),),)),
    Case(np.place, place_other_shape_mask, (((4,),),)),
    Case(np.place, place_in_loop, (((4,),),), away_from_half),
]


@pytest.mark.parametrize("case", PUT_CASES, ids=lambda c: c.name)
def test_put_place_finite_differences(case: Case):
    test_finite_differences(case)


@pytest.mark.parametrize("case", PUT_CASES, ids=lambda c: c.name)
def test_put_place_dot_product(case: Case):
    test_dot_product(case)


@pytest.mark.parametrize("case", PUT_CASES, ids=lambda c: c.name)
def test_put_place_float32(case: Case):
    test_float32(case)


def test_put_duplicate_index_by_calculus():
    x = np.array([0.3, -1.2, 2.5, 0.7])

    def f(x):
        a = np.ones(5)
        np.put(a, [1, 1, 2], x[:3])
        return np.sum(a * np.arange(5.0))

    # a = [1, x1, x2, 1, 1]: x0 is overwritten by x1 at position 1
    np.testing.assert_array_equal(grad(f)(x), [0.0, 1.0, 2.0, 0.0])


def test_put_into_an_argument_is_refused():
    def f(x):
        np.put(x, [0], 1.0)
        return np.sum(x)

    with pytest.raises(ADTransformError, match="argument 'x'"):
        grad(f)(np.array([1.0, 2.0]))


def test_put_place_through_other_names_follow_the_write():
    """Another name of the array (``b = a``) or a view of it (``w = a[1:]``) sees the write,
    as in NumPy, and so does the gradient."""

    def alias(x):
        a = x * 2.0
        b = a
        np.place(a, a > 0.0, [0.5])
        return np.sum(b * x)

    def view(x):
        a = x * 2.0
        w = a[1:]
        np.put(a, [1], x[0] * 3.0)
        return np.sum(w * x[1:])

    for f in (alias, view):
        check_grad(f, (np.array([1.0, -2.0, 0.7]),))


def test_put_into_an_array_a_list_holds_is_refused():
    def f(x):
        a = x * 2.0
        rows = [a, x]
        np.put(a, [1], x[0] * 3.0)
        return np.sum(rows[0] * x)

    with pytest.raises(ADTransformError, match="'rows' may hold the same array"):
        grad(f)(np.array([1.0, -2.0, 0.7]))


def test_put_into_an_integer_array_has_no_derivative():
    def f(x):
        a = np.zeros(3, dtype=int)
        np.put(a, [0, 1], x[:2] * 10.0)
        return np.sum(a * 1.0) + np.sum(x)

    np.testing.assert_array_equal(grad(f)(np.array([0.31, 0.52, 0.7])), [1.0, 1.0, 1.0])


def test_put_out_of_bounds_raises_like_numpy():
    def f(x):
        a = np.zeros(3)
        np.put(a, [5], x[0])
        return np.sum(a)

    with pytest.raises(IndexError):
        grad(f)(np.array([1.0, 2.0]))


def test_put_arguments_are_evaluated_once_in_order():
    calls = []

    def indices():
        calls.append("ind")
        return [1]

    def f(x):
        a = np.zeros(3)
        np.put(a, indices(), x[0] * 2.0)
        return np.sum(a * x)

    g = grad(f)(np.array([1.5, 2.0, 3.0]))
    assert calls == ["ind"]
    np.testing.assert_allclose(g, [4.0, 3.0, 0.0])  # a[1] = 2 x0: d/dx0 = 2 x1, d/dx1 = 2 x0


def _put_in_helper(a, v):
    np.put(a, [0, 2], v)


def test_put_in_a_helper_into_its_callers_array():
    """A helper that puts into an array its caller created: an in-out parameter."""

    def f(x):
        a = np.zeros(4)
        _put_in_helper(a, x[1:3] * 2.0)
        return np.sum(a * x)

    check_grad(f, (np.array([0.3, -1.2, 2.5, 0.7]),))


def test_put_in_a_closure_and_with_numpy_imported_inside():
    def closure(x):
        a = np.zeros(4)

        def inner(v):
            np.put(a, [1], v)

        inner(x[0] ** 2)
        return np.sum(a * x)

    def imported(x):
        import numpy as onp

        a = onp.zeros(4)
        onp.place(a, [1, 0, 1, 0], x[:2])
        return np.sum(a * x)

    for f in (closure, imported):
        check_grad(f, (np.array([0.3, -1.2, 2.5, 0.7]),))


def test_other_in_place_numpy_writes_stay_refused():
    """Siblings of put/place that are not lowered: refused, never silently constant."""

    def putmask(x):
        a = np.zeros(4)
        np.putmask(a, a == 0, x)
        return np.sum(a)

    def put_method(x):
        a = np.zeros(4)
        a.put([0], x[0])
        return np.sum(a)

    def put_result_used(x):
        a = np.zeros(4)
        np.put(a, [0], x[0]).copy()
        return np.sum(a)

    def sort_method(x):
        y = x * 1.0
        y.sort()
        return np.sum(y * np.arange(4.0))

    for f in (putmask, put_method, put_result_used, sort_method):
        with pytest.raises(ADTransformError):
            grad(f)(np.array([0.3, -1.2, 2.5, 0.7]))


def test_formerly_refused_examples_are_now_exact():
    """The examples other suites used to show refusals, now supported: an axis directive
    in ``np.r_`` and ``np.put`` into an array the function made."""

    def r_directive(v):
        return np.sum(np.r_["0,2", v, v] * np.array([[1.0], [-2.0]]))

    def put_into(x):
        a = x * 1.0
        np.put(a, [0], x[1])
        return np.sum(a * np.arange(1.0, 4.0))

    v = np.array([0.5, -1.0, 2.0])
    np.testing.assert_array_equal(grad(r_directive)(v), [-1.0, -1.0, -1.0])
    # a = [x1, x1, x2] weighted 1, 2, 3: d/dx0 = 0, d/dx1 = 1 + 2, d/dx2 = 3
    np.testing.assert_array_equal(grad(put_into)(v), [0.0, 3.0, 3.0])
    check_grad(put_into, (v,))
