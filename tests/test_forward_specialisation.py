"""Forward mode specialised by shape facts (issue 14, forward_perf.md).

``jvp`` and ``hvp`` generate code per argument rank, dtype and unit axes, as reverse mode
does: element reads and writes of 1-D float arrays become scalar arithmetic. Each
assumption is guarded by the cache key, so each test calls *one* ``jvp``/``hvp`` object with
arguments that break the assumption (another rank, float32, an integer array, a unit
axis) and checks every answer against central finite differences of the function in
float64 (never against the code's own output).
"""

from __future__ import annotations

import numpy as np
import pytest

from ad_transform import hvp, jvp
from ad_transform.analyze import analyze
from ad_transform.normalize import normalize
from ad_transform.parse import parse_function
from ad_transform.rules.registry import ARRAY, SCALAR
from ad_transform.shapes import REAL, IntFact, ListOf, Parts, argument_shapes

RNG = np.random.default_rng(1414)
HELPERS_ON_NUMBERS = (
    "stored_tangent",
    "sum_tangent",
    "product_tangent",
    "fresh_copy",
    "unpacked(",
)


def code_of(source: str) -> str:
    """The statements of generated source, without its comments (which quote the lines
    of the code it was generated from)."""
    return "\n".join(line for line in source.splitlines() if not line.strip().startswith("#"))


def fd_directional(f, args: tuple, wrt: int, u, h: float = 1e-6):
    """``(f(x + h u) - f(x - h u)) / 2h`` with the argument ``wrt`` moved, in float64."""
    plus, minus = list(args), list(args)
    x = np.asarray(args[wrt], dtype=np.float64)
    plus[wrt], minus[wrt] = x + h * u, x - h * u
    return (np.asarray(f(*plus), dtype=np.float64) - np.asarray(f(*minus))) / (2 * h)


def fd_hvp(f, args: tuple, wrt: int, v, h: float = 1e-3):
    """``H v`` by second central differences of ``f`` alone (no gradient of ours):
    element k is ``d/dt d/ds f(x + t v + s e_k)`` at 0, with steps ``h`` and ``h / 2``
    combined by Richardson extrapolation (error of order ``h**4``)."""
    x = np.asarray(args[wrt], dtype=np.float64)

    def at(point):
        moved = list(args)
        moved[wrt] = point
        return float(f(*moved))

    def differences(step):
        out = np.zeros(x.shape)
        for k in np.ndindex(x.shape):
            e = np.zeros(x.shape)
            e[k] = step
            out[k] = (
                at(x + step * v + e)
                - at(x + step * v - e)
                - at(x - step * v + e)
                + at(x - step * v - e)
            ) / (4 * step * step)
        return out

    return (4 * differences(h / 2) - differences(h)) / 3


# -- the IIR filter of the benchmarks, and the same recurrence for any rank ----------------


def iir_filter(x, a):
    n = x.shape[0]
    out = np.zeros(n)
    out[0] = x[0]
    for i in range(1, n):
        out[i] = a * out[i - 1] + x[i]
    return np.sum(out * out)


def recurrence(x, a):
    """Valid for any rank >= 1: ``x[i]`` is a number for 1-D, a row for 2-D."""
    acc = x[0] * 0.0
    out = np.zeros(x.shape)
    for i in range(1, x.shape[0]):
        acc = a * acc + np.sin(x[i])
        out[i] = acc
    return np.sum(out * out) + np.sum(acc * x[0])


def test_iir_jvp_and_hvp_are_scalar_arithmetic_on_elements():
    x, a = RNG.standard_normal(12), 0.7
    u = RNG.standard_normal(12)
    forward_mode = jvp(iir_filter, wrt=0)
    value, tangent = forward_mode((x, a), (u,))
    assert value == pytest.approx(iir_filter(x, a), rel=1e-12)
    assert tangent == pytest.approx(fd_directional(iir_filter, (x, a), 0, u), rel=1e-6)
    product = hvp(iir_filter)
    np.testing.assert_allclose(
        product(x, a, u), fd_hvp(iir_filter, (x, a), 0, u), rtol=1e-5, atol=1e-6
    )
    for source in (forward_mode.source, product.source):
        for helper in HELPERS_ON_NUMBERS:
            assert helper not in code_of(source), (helper, source)
    assert "out_dot[i] = v7_dot" in forward_mode.source  # the element store, direct


@pytest.mark.parametrize(
    "x",
    [
        RNG.standard_normal(7),
        RNG.standard_normal(7).astype(np.float32),
        RNG.standard_normal((6, 3)),
        RNG.standard_normal((6, 1)),
        RNG.standard_normal((1, 4)),
        RNG.integers(-2, 3, 5),
    ],
    ids=["1d", "float32", "2d", "unit-column", "one-row", "int"],
)
def test_one_jvp_object_for_every_rank_and_dtype(x):
    forward_mode = JVP_RECURRENCE
    u = RNG.standard_normal(x.shape)
    value, tangent = forward_mode((x, 0.6), (u,))
    expected = fd_directional(recurrence, (x.astype(np.float64), 0.6), 0, u)
    tolerance = 2e-3 if x.dtype == np.float32 else 1e-6
    assert float(tangent) == pytest.approx(float(expected), rel=tolerance, abs=tolerance)
    assert float(value) == pytest.approx(float(recurrence(x.astype(np.float64), 0.6)), rel=1e-5)


JVP_RECURRENCE = jvp(recurrence, wrt=0)
HVP_RECURRENCE = hvp(recurrence)


@pytest.mark.parametrize(
    "x",
    [
        RNG.standard_normal(6),
        RNG.standard_normal((5, 2)),
        RNG.standard_normal(6).astype(np.float32),
        RNG.standard_normal((5, 1)),
        np.array([0.3]),
    ],
    ids=["1d", "2d", "float32", "unit-column", "one-element"],
)
def test_one_hvp_object_for_every_rank_and_dtype(x):
    v = RNG.standard_normal(x.shape)
    got = HVP_RECURRENCE(x, 0.6, v)
    expected = fd_hvp(recurrence, (x.astype(np.float64), 0.6), 0, v)
    tolerance = 2e-3 if x.dtype == np.float32 else 1e-5
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


def test_the_hvp_of_a_1d_call_is_specialised_and_a_2d_call_is_not_taken_for_it():
    product = hvp(recurrence)
    x1, x2 = RNG.standard_normal(5), RNG.standard_normal((5, 2))
    v1, v2 = RNG.standard_normal(5), RNG.standard_normal((5, 2))
    got1 = product(x1, 0.5, v1)
    scalar_source = code_of(product.source)
    got2 = product(x2, 0.5, v2)
    general_source = code_of(product.source)
    assert "fresh_copy" not in scalar_source
    assert "fresh_copy" in general_source  # a row read is a view: copied
    np.testing.assert_allclose(got1, fd_hvp(recurrence, (x1, 0.5), 0, v1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got2, fd_hvp(recurrence, (x2, 0.5), 0, v2), rtol=1e-5, atol=1e-6)


# -- stores into arrays that are not float -------------------------------------------------


def store_into(x, buf):
    buf = buf.copy()
    for i in range(x.shape[0]):
        buf[i] = 3.0 * x[i] * x[i]
    return np.sum(buf * x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int32, bool])
def test_an_element_store_truncated_by_an_integer_array_has_no_tangent(dtype):
    x = np.array([0.45, 0.8, 1.1, -0.7])  # 3 x**2 away from integers: no kink nearby
    u = RNG.standard_normal(4)
    buf = np.zeros(4, dtype=dtype)
    _, tangent = STORE_JVP((x, buf), (u,))
    # float32 stores round: a step of 1e-3 (error of order 1e-6) keeps the difference exact
    step = 1e-3 if dtype is np.float32 else 1e-6
    expected = fd_directional(store_into, (x, buf), 0, u, h=step)
    tolerance = 1e-4 if dtype is np.float32 else 1e-6
    assert float(tangent) == pytest.approx(float(expected), rel=tolerance, abs=tolerance)
    source = code_of(STORE_JVP.source)
    assert ("stored_tangent" in source) == (np.dtype(dtype).kind != "f"), source


STORE_JVP = jvp(store_into, wrt=0)


def store_2d(x, m):
    out = np.zeros((m, x.shape[0]))
    for i in range(m):
        for j in range(x.shape[0]):
            out[i, j] = x[j] ** (i + 1)
    return np.sum(out * out)


def test_two_index_element_stores():
    x, u = RNG.standard_normal(4), RNG.standard_normal(4)
    forward_mode = jvp(store_2d, wrt=0)
    _, tangent = forward_mode((x, 3), (u,))
    assert tangent == pytest.approx(fd_directional(store_2d, (x, 3), 0, u), rel=1e-6)
    assert "stored_tangent" not in code_of(forward_mode.source)
    np.testing.assert_allclose(
        hvp(store_2d)(x, 3, u), fd_hvp(store_2d, (x, 3), 0, u), rtol=1e-5, atol=1e-6
    )


# -- the tape of plain gradients: lists only appended to -----------------------------------


def sine_chain(x):
    y = x[0]
    for i in range(1, x.shape[0]):
        y = np.sin(y) * x[i] + 0.1 * y
    return np.sum(y * y)


# (2-D ``x`` is refused by the plain gradient's in-place check, a case of its own)
@pytest.mark.parametrize(
    "x",
    [RNG.standard_normal(6), RNG.standard_normal(6).astype(np.float32), np.array([0.4, -1.2])],
    ids=["1d", "float32", "two"],
)
def test_hvp_through_the_tape_of_numbers(x):
    v = RNG.standard_normal(x.shape)
    np.testing.assert_allclose(SINE_HVP(x, v), fd_hvp(sine_chain, (x,), 0, v), rtol=1e-5, atol=1e-6)


SINE_HVP = hvp(sine_chain)


def appended(x, n):
    saved = []
    other = []
    for i in range(n):
        saved.append((i, x[i]))
        other.append(x[i])
    other[0] = 1.0  # changed in place otherwise: no facts of its elements
    k = len(saved) - 1
    first, second = saved[k]
    return first + second + other[0]


def test_the_facts_of_a_list_only_appended_to():
    fn = normalize(parse_function(appended))
    analysis = analyze(
        fn,
        ("x",),
        {"x": ARRAY, "n": SCALAR},
        param_shapes={"x": argument_shapes((np.zeros(3),))[0], "n": None},
    )
    names = analysis.shapes.names
    assert names["saved"] == ListOf(Parts((IntFact(), REAL)))
    assert not isinstance(names.get("other"), ListOf)
    assert names["k"] == IntFact()
    assert (names["first"], names["second"]) == (IntFact(), REAL)
    x, u = RNG.standard_normal(4), RNG.standard_normal(4)
    _, tangent = jvp(appended, wrt=0)((x, 4), (u,))
    assert tangent == pytest.approx(fd_directional(appended, (x, 4), 0, u), rel=1e-6)


# -- numbers read from globals: guarded ---------------------------------------------------

K = 1


def read_at_global(x):
    return x[K] * x[0] * x[0]


def test_a_global_index_rebound_makes_the_code_stale():
    global K
    forward_mode = jvp(read_at_global, wrt=0)
    x, u = RNG.standard_normal(4), RNG.standard_normal(4)
    try:
        for k in (1, 2, 3):
            K = k
            _, tangent = forward_mode((x,), (u,))
            assert tangent == pytest.approx(fd_directional(read_at_global, (x,), 0, u), rel=1e-6)
    finally:
        K = 1


# -- a tuple unpacked: the same tuple, or Python's own error -------------------------------


def unpack_pairs(x):
    total = 0.0
    pairs = []
    for i in range(x.shape[0] - 1):
        pairs.append((x[i], x[i + 1]))
    for k in range(len(pairs)):
        a, b = pairs[k]
        total = total + a * b * b
    return total


def test_unpacked_tuples_from_a_list():
    x, u = RNG.standard_normal(5), RNG.standard_normal(5)
    forward_mode = jvp(unpack_pairs, wrt=0)
    _, tangent = forward_mode((x,), (u,))
    assert tangent == pytest.approx(fd_directional(unpack_pairs, (x,), 0, u), rel=1e-6)
    assert "unpacked(" not in code_of(forward_mode.source)
    x2, u2 = RNG.standard_normal((5, 2)), RNG.standard_normal((5, 2))
    _, tangent2 = forward_mode((x2,), (u2,))
    np.testing.assert_allclose(tangent2, fd_directional(unpack_pairs, (x2,), 0, u2), rtol=1e-6)


# -- broadcasting against a constant: the tangent takes the result's shape ---------------


def shifted(x, c):
    y = np.tanh(x + c)
    return y * y


@pytest.mark.parametrize(
    "shape",
    [(3, 4), (3, 1), (1, 4), (4,), (1, 1), ()],
    ids=["same", "column", "row", "1d", "unit", "0d"],
)
def test_a_tangent_broadcast_against_an_inactive_operand(shape):
    x, c = RNG.standard_normal(shape), RNG.standard_normal((3, 4))
    u = RNG.standard_normal(shape)
    value, tangent = SHIFTED_JVP((x, c), (u,))
    assert np.shape(tangent) == np.shape(value) == (3, 4)
    np.testing.assert_allclose(tangent, fd_directional(shifted, (x, c), 0, u), rtol=1e-6, atol=1e-8)
    keeps = shape == (3, 4)
    assert ("tangent_like" not in code_of(SHIFTED_JVP.source)) == keeps


SHIFTED_JVP = jvp(shifted, wrt=0)


# -- the dense Hessian: one check of the arguments, one code, a column per element ---------


@pytest.mark.parametrize("shape", [(4,), (3, 2)], ids=["1d", "2d"])
def test_hessian_columns_against_second_differences(shape):
    from ad_transform import hessian

    x = RNG.standard_normal(shape)
    dense = hessian(recurrence)(x, 0.6)
    assert dense.shape == shape + shape
    for k in np.ndindex(shape):
        e = np.zeros(shape)
        e[k] = 1.0
        np.testing.assert_allclose(
            dense[(...,) + k], fd_hvp(recurrence, (x, 0.6), 0, e), rtol=1e-5, atol=1e-6
        )
    flat = dense.reshape(x.size, x.size)
    np.testing.assert_allclose(flat, flat.T, rtol=1e-10, atol=1e-12)  # symmetric


# -- x * x: one term, doubled -------------------------------------------------------------


def squares(x, s):
    y = x * x
    return np.sum(y) + s * s


@pytest.mark.parametrize(
    "x", [RNG.standard_normal(5), RNG.standard_normal((2, 3)), np.float64(0.7)]
)
def test_the_tangent_of_a_square_is_one_term_doubled(x):
    forward_mode = jvp(squares)
    u, w = RNG.standard_normal(np.shape(x)), 0.3
    _, tangent = forward_mode((x, 1.5), (u, w))
    expected = np.sum(2.0 * x * u) + 2.0 * 1.5 * w  # calculus
    assert float(tangent) == pytest.approx(float(expected), rel=1e-12)
    assert code_of(forward_mode.source).count("2.0 *") >= 2


# -- stores into lists and dicts: the tangent as it is ------------------------------------


def list_and_dict_stores(x):
    values = [0.0] * x.shape[0]
    named = {"first": 0.0}
    for i in range(x.shape[0]):
        values[i] = np.sin(x[i]) * x[i]
    named["first"] = values[0] * values[-1]
    return sum(values) + named["first"]


@pytest.mark.parametrize(
    "x", [RNG.standard_normal(5), RNG.standard_normal((3, 2))], ids=["1d", "2d"]
)
def test_stores_into_lists_and_dicts(x):
    forward_mode = jvp(list_and_dict_stores)
    u = RNG.standard_normal(x.shape)
    _, tangent = forward_mode((x,), (u,))
    np.testing.assert_allclose(
        tangent, fd_directional(list_and_dict_stores, (x,), 0, u), rtol=1e-6, atol=1e-9
    )
    assert "stored_tangent" not in code_of(forward_mode.source)


# -- adjoints of lists in plain gradients add elementwise, and so do their tangents --------


def pair_product(x):
    pairs = [(x[0], x[1]), (x[2], x[0])]
    a, b = pairs[0]
    c, d = pairs[1]
    return a * b * b + c * d


def test_hvp_through_a_list_of_tuples():
    # was silently zero: sum_tangent joined the tangents of two list adjoints (ListAdjoint
    # + ListAdjoint adds elementwise) as lists
    x, v = RNG.standard_normal(3), RNG.standard_normal(3)
    np.testing.assert_allclose(
        hvp(pair_product)(x, v), fd_hvp(pair_product, (x,), 0, v), rtol=1e-6, atol=1e-8
    )
