"""Issue 15 (perf26b): concatenations split by constant cuts, adjoints rebuilt from the
tiles of another, the fast call path keyed by exact shapes, and ``_finite_sum`` without
warnings.

Each form is checked against central differences in float64 with one ``grad`` object
called again with arguments that break what the form relies on (lengths 0-2, other
ranks, float32), and where a form must not apply, with a case that needs the general
code (and the source shows the general form).
"""

from __future__ import annotations

import ast
import textwrap
import types
import warnings

import gast
import numpy as np
import pytest
from gradcheck import numerical_gradient, same_grad_agrees

from ad_transform import grad, runtime, value_and_grad, vjp
from ad_transform.optimize.tiles import reuse_tiled_adjoints
from ad_transform.runtime.elementwise import _finite_sum
from ad_transform.shapes import ArrayFact, ShapeFacts
from benchmarks.cases_applied import heat_concatenate, heat_hand

RNG = np.random.default_rng(2026)


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
        (u, 0.25, 3),  # the first key again (fast path)
    )


# -- concatenations split by constant cuts; the tiles rebuild the adjoint ------------------


def test_heat_concatenate_source_starts_from_the_incoming_adjoint():
    u = RNG.standard_normal(9)
    source = grad(heat_concatenate, wrt=(0, 1)).source_for(u, 0.2, 4)
    assert "concatenate_adjoint(" not in source and "index_adjoint(" not in source
    assert "dv9 = du_1[1:-1]" in source  # the interior's adjoint, a view
    assert "du_1[:1] +=" not in source and "du_1[-1:]" not in source  # tiles gone
    assert "keep(laplacian_1)" in source  # neither the pieces nor u on the tape


def test_heat_concatenate_agrees_with_differences_for_every_length_rank_and_dtype():
    u = RNG.standard_normal(9)
    same_grad_agrees(heat_concatenate, (0, 1), *_heat_calls(u))


def test_heat_concatenate_agrees_with_the_hand_written_gradient():
    u = np.sin(np.linspace(0.0, 3.0, 40))
    du, dalpha = grad(heat_concatenate, wrt=(0, 1))(u, 0.2, 30)
    hand_du, hand_dalpha = heat_hand(u, 0.2, 30)
    np.testing.assert_allclose(du, hand_du, rtol=1e-12, atol=1e-14)
    assert dalpha == pytest.approx(hand_dalpha, rel=1e-12)


def _swapped_ends(u, steps):
    """The pieces put back elsewhere: the tiles do not rebuild the adjoint."""
    for _ in range(steps):
        u = np.concatenate([u[-1:], 0.5 * u[1:-1] + 0.25 * u[2:] ** 2, u[:1]])
    return np.sum(u * np.arange(u.shape[0]))


def _axis_one(u):
    """Pieces along the second axis of a matrix (cuts of one column)."""
    v = np.concatenate([u[:, :1] * 2.0, np.sin(u[:, 1:-1]), u[:, -1:] ** 2], axis=1)
    return np.sum(v * v)


def _last_axis(u):
    """Pieces along the last axis (``axis=-1``: a name bound to -1 after normalizing)."""
    v = np.concatenate([np.exp(u[:, :1]), u[:, 1:] * 3.0], axis=-1)
    return np.sum(np.sin(v))


def _ellipsis_pieces(u):
    """Pieces cut with ``...``: their lengths are not known facts (the general split)."""
    v = np.concatenate([np.exp(u[..., :1]), u[..., 1:] * 3.0], axis=-1)
    return np.sum(np.sin(v))


def _two_first(u):
    """Lengths min(n, 2) and n - 2: not a pattern with constant cuts."""
    v = np.concatenate([u[:2] * 3.0, np.cos(u[2:])])
    return np.sum(v**3)


def _list_read_twice(u):
    """The list of pieces read again: it keeps its own adjoint."""
    parts = [u[:1] * 2.0, u[1:] ** 2]
    v = np.concatenate(parts)
    return np.sum(v * v) + np.sum(parts[0] * 5.0)


def test_swapped_pieces_keep_the_additions_and_agree():
    u = RNG.standard_normal(7)
    g = same_grad_agrees(_swapped_ends, 0, (u, 3), (u[:2], 2), (u[:0], 2), (u[:1], 2))
    source = g.source_for(u, 3)
    assert "concatenate_adjoint(" not in source  # cut by constants
    assert "index_adjoint(" in source  # but added back where they came from: no reuse


def test_cuts_along_the_second_axis_agree():
    u = RNG.standard_normal((3, 6))
    g = same_grad_agrees(_axis_one, 0, (u,), (u[:, :2],), (u[:, :0],), (u[:1],))
    assert "concatenate_adjoint(" not in g.source_for(u)
    same_grad_agrees(_axis_one, 0, (u[:, :1],), (u.astype(np.float32),), g=g)


def test_cuts_along_the_last_axis_agree():
    u = RNG.standard_normal((3, 5))
    calls = ((u,), (u[:, :2],), (u[:, :1],), (u[:, :0],), (u[:1],), (u.astype(np.float32),))
    g = same_grad_agrees(_last_axis, 0, *calls)
    source = g.source_for(u)
    assert "concatenate_adjoint(" not in source and "[:, 1:]" in source
    w = RNG.standard_normal((2, 3, 4))
    same_grad_agrees(_ellipsis_pieces, 0, (w,), (w[0],), (w[..., :1],), (w[..., :0],))


def test_other_patterns_and_shared_lists_keep_the_general_split():
    u = RNG.standard_normal(6)
    g = same_grad_agrees(_two_first, 0, (u,), (u[:2],), (u[:1],), (u[:0],))
    assert "concatenate_adjoint(" in g.source_for(u)
    g = same_grad_agrees(_list_read_twice, 0, (u,), (u[:2],), (u[:1],))
    assert "concatenate_adjoint(" in g.source_for(u)


def test_length_one_is_a_specialisation_of_its_own():
    """n = 1: u[:1] and u[-1:] are the same element, so the cuts do not apply (the unit
    axis fact is part of the key); the same grad object gives the right gradient."""
    u = RNG.standard_normal(5)
    g = grad(heat_concatenate, wrt=(0, 1))
    g(u, 0.2, 3)
    assert "concatenate_adjoint(" in g.source_for(u[:1], 0.2, 3)
    same_grad_agrees(heat_concatenate, (0, 1), (u[:1], 0.2, 3), (u, 0.2, 3), g=g)


def _pieces(u, steps):
    for _ in range(steps):
        u = np.concatenate([u[:1], 3.0 * u[1:-1], u[-1:]])
    return u


def test_a_cotangent_the_caller_holds_is_not_reused():
    """vjp's cotangent is the caller's array (not owned at the loop's first step): the
    tiles must not be added into it; the pullback runs again with the same result."""
    u = RNG.standard_normal(6)
    f = vjp(_pieces)
    value, pullback = f(u, 3)
    np.testing.assert_allclose(value, _pieces(u, 3), rtol=1e-15)
    assert "index_adjoint(" in f.source  # the tiles are added back into zeros
    v = RNG.standard_normal(6)
    before = v.copy()
    expected = before * np.r_[1.0, 27.0 * np.ones(4), 1.0]
    for _ in range(2):
        found = pullback(v)
        found = found[0] if isinstance(found, tuple) else found
        np.testing.assert_allclose(found, expected, rtol=1e-13)
        np.testing.assert_array_equal(v, before)


def _view_read_late(u, steps):
    """The interior's adjoint is read after the tiles' array is written (through the
    second power): a reuse would read changed values. Differences decide."""
    for _ in range(steps):
        inner = u[1:-1]
        u = np.concatenate([u[:1], inner * inner + 0.1 * u[:-2], u[-1:]])
    return np.sum(np.sin(u))


def test_a_view_read_after_writes_still_agrees():
    u = RNG.standard_normal(8) * 0.5
    g = same_grad_agrees(_view_read_late, 0, (u, 3), (u[:3], 2), (u[:2], 2), (u[:0], 2))
    assert "index_adjoint(" in g.source_for(u, 3)  # no reuse: dv5 is read after du_1[:-2]


# -- the fast call path ------------------------------------------------------------------


def _matvec(A, v):
    return np.sum(np.tanh(A @ v))


def test_other_ranks_and_dtypes_get_their_own_code_on_the_fast_path():
    A = RNG.standard_normal((4, 3))
    v1, v2 = RNG.standard_normal(3), RNG.standard_normal((3, 2))
    g = grad(_matvec, wrt=(0, 1))
    for _ in range(2):  # the second round takes the fast path for every key
        for args in ((A, v1), (A, v2), (A.astype(np.float32), v1.astype(np.float32))):
            same_grad_agrees(_matvec, (0, 1), args, g=g)
            vector = args[1].ndim == 1
            assert ("np.outer(" in g.source) == vector  # .source: the latest call's code
        same_grad_agrees(_matvec, (0, 1), (A[:1], v1), (A[:, :1], v1[:1]), g=g)


def test_integer_arrays_are_converted_after_a_float_call_of_the_same_shape():
    A = RNG.standard_normal((3, 3))
    k = np.array([1, -2, 3])
    g = grad(_matvec, wrt=1)
    g(A, k.astype(np.float64))
    for _ in range(2):
        found = g(A, k)
        assert found.dtype == np.float64
        expected = numerical_gradient(_matvec, (A, k.astype(np.float64)), wrt=1)
        np.testing.assert_allclose(found, expected, rtol=1e-6, atol=1e-9)


def test_numbers_and_keywords_and_value_and_grad_on_the_fast_path():
    def f(x, y, scale=2.0):
        return scale * np.sin(x) * y

    g = grad(f, wrt=(0, 1))
    for _ in range(3):
        dx, dy = g(0.3, 1.5)
        assert dx == pytest.approx(2.0 * np.cos(0.3) * 1.5) and type(dx) is float
        dx, dy = g(0.3, 1.5, scale=3.0)
        assert dx == pytest.approx(3.0 * np.cos(0.3) * 1.5)
        dx, dy = g(np.float32(0.3), 1.5)
        assert type(dx) is np.float32
    value, (dx, dy) = value_and_grad(f, wrt=(0, 1))(0.3, 1.5)
    assert value == pytest.approx(f(0.3, 1.5)) and dy == pytest.approx(2.0 * np.sin(0.3))


def test_bound_methods_keep_their_receiver():
    class Model:
        def __init__(self, w):
            self.w = w

        def loss(self, x):
            return np.sum((self.w * x) ** 2)

    m = Model(3.0)
    g = grad(m.loss)
    x = RNG.standard_normal(4)
    for _ in range(3):
        np.testing.assert_allclose(g(x), 2.0 * 9.0 * x, rtol=1e-13)


# -- _finite_sum: no warning or error the function did not give ----------------------------


def _tanh_of_product(x, d):
    return np.sum(np.tanh(x * d))


def test_finite_sum_neither_warns_nor_raises_for_both_infinities():
    d = np.array([np.inf, -np.inf, 1.0, 2.0])
    x = np.array([1.0, 2.0, 0.5, -0.3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            _tanh_of_product(x, d)  # the function itself neither warns nor raises
            found = grad(_tanh_of_product)(x, d)
        for dtype in (np.float64, np.float32):
            assert not _finite_sum(d.astype(dtype))
            assert not _finite_sum(np.r_[np.ones(5000), np.inf, -np.inf].astype(dtype))
            assert _finite_sum(np.ones((3, 4), dtype=dtype).T)
    # the infinite derivatives meet zero adjoints (tanh is flat there): exactly 0
    with np.errstate(invalid="ignore"):
        expected = (1.0 - np.tanh(x * d) ** 2) * d
    expected[:2] = 0.0
    np.testing.assert_allclose(found, expected, rtol=1e-13)


# -- the tile reuse pass alone (optimize/tiles.py): each condition that keeps the code -----

_TILED = """
dv6 = du_1[:1]
dv9 = du_1[1:-1]
dv10 = du_1[-1:]
du_1 = index_adjoint(dv10, u_1, slice(-1, None))
dalpha += times_sum(dv9, lap)
dlap = dv9 * alpha
du_1[1:-1] += dv9
du_1[:1] += dv6
du_1[:-2] += dlap
du_1[2:] += dlap
"""


def _tiles_program(block, units=(False,)):
    length = ("arg", "u", 0, units[0])
    facts = ShapeFacts(names={"u_1": ArrayFact(1, "f", units, (length,))}, results={})
    cells = {
        name: types.CellType(getattr(runtime, name))
        for name in ("index_adjoint", "times_sum", "times")
    }
    return types.SimpleNamespace(
        backward=block,
        bindings=types.SimpleNamespace(cells=cells),
        analysis=types.SimpleNamespace(shapes=facts),
        primals={"du_1": "u_1"},
    )


def _run_tiles(source: str, owned: bool = True, units=(False,)) -> str:
    block = gast.parse(textwrap.dedent(source)).body
    for stmt in block:
        if isinstance(stmt, gast.Assign) and isinstance(stmt.value, gast.Subscript):
            stmt.ad_base_owned = owned
    reuse_tiled_adjoints(block, _tiles_program(block, units))
    module = gast.gast_to_ast(gast.Module(body=block, type_ignores=[]))
    return ast.unparse(ast.fix_missing_locations(module))


def _unparsed(source: str) -> str:
    return ast.unparse(ast.parse(textwrap.dedent(source)))


def test_tiles_rebuilding_the_adjoint_start_from_it():
    assert _run_tiles(_TILED) == _unparsed("""
        dv9 = du_1[1:-1]
        dalpha += times_sum(dv9, lap)
        dlap = dv9 * alpha
        du_1[:-2] += dlap
        du_1[2:] += dlap
        """)


def test_tiles_are_kept_where_the_array_is_not_owned_or_may_have_length_one():
    assert _run_tiles(_TILED, owned=False) == _unparsed(_TILED)
    assert _run_tiles(_TILED, units=(None,)) == _unparsed(_TILED)  # n = 1: tiles overlap


def test_tiles_are_kept_where_a_view_is_read_after_a_write():
    late = _TILED.replace("dlap = dv9 * alpha\n", "").replace(
        "du_1[2:] += dlap\n", "du_1[2:] += dlap\ndlap = dv9 * alpha\n"
    )
    assert _run_tiles(late) == _unparsed(late)
    aliased = _TILED.replace("dlap = dv9 * alpha", "dlap = dv9")  # a second name, no copy
    assert _run_tiles(aliased) == _unparsed(aliased)
    written = _TILED.replace("dlap = dv9 * alpha", "dlap = dv9 * alpha\ndv9[0] = 0.0")
    assert _run_tiles(written) == _unparsed(written)


def test_tiles_are_kept_where_they_do_not_cover_once():
    missing = _TILED.replace("du_1[:1] += dv6\n", "")
    assert _run_tiles(missing) == _unparsed(missing)
    moved = _TILED.replace("du_1[:1] += dv6", "du_1[-1:] += dv6")
    assert _run_tiles(moved) == _unparsed(moved)
    twice = _TILED.replace("du_1[:1] += dv6", "du_1[:1] += dv6\ndu_1[:1] += dv6")
    assert _run_tiles(twice) == _unparsed(twice)


def test_tiles_after_other_additions_are_reused_but_not_past_a_read():
    last = _TILED.replace("du_1[1:-1] += dv9\ndu_1[:1] += dv6\n", "") + (
        "du_1[1:-1] += dv9\ndu_1[:1] += dv6\n"
    )
    assert _run_tiles(last) == _run_tiles(_TILED)  # the same sum, the tiles first
    read = _TILED.replace("du_1[:1] += dv6\n", "total = du_1[0] * 2.0\ndu_1[:1] += dv6\n")
    assert _run_tiles(read) == _unparsed(read)  # du_1 read when only part of G is in
