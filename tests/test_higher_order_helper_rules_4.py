"""Higher-order rules of the list, set and container helpers (issue 14, fourth part):
``a + b`` and ``[x] * 3`` on lists, ``sum(xs, start)``, ``np.append``, ``np.hstack`` and
its relatives, sets and their operators, ``dict.items()``, ``sorted``, ``copy.copy``,
``copy.deepcopy``, ``list(...)``/``tuple(...)``/``reversed``/``zip``/starred unpacking,
``x.item(i)`` (``rules/runtime_twins_containers.py``).

Each row is checked as in ``test_higher_order_helper_rules_2.py``: ``H v`` three ways
(forward over reverse, reverse over reverse, reverse over forward) against central
differences of the gradient (float64, random non-uniform directions), the symmetry
``u^T H v = v^T H u``, and forward over reverse equal to reverse over reverse. The points
are away from ties (sorts, equal set members). The transposes themselves are checked by
the dot-product test on random non-uniform lists, and a third derivative against calculus.
"""

import copy

import numpy as np
import pytest

from ad_transform import ADTransformError, grad, hvp, jvp, runtime
from ad_transform.runtime.values import Item, ListAdjoint

EPS = 1e-6
rng = np.random.default_rng(4014)


# -- lists joined, repeated, summed ---------------------------------------------------------
def r_join_lists(x):
    a = [x[0] * x[1], np.sin(x[2])]
    b = [x[3] ** 2, x[0] * x[3]]
    c = a + b
    d = (x[1] * x[2],) + (x[0], x[3] * x[3])
    return c[0] * c[3] + c[1] * c[1] * c[2] + d[0] * d[2] * d[1]


def r_extend_in_place(x):
    xs = [x[0] * x[2]]
    xs += [x[1] * x[0], np.sin(x[2])]
    xs += (x[3] * x[3],)
    ys = [x[1] * x[3]]
    for k in range(3):
        ys += [ys[-1] * x[k]]
    return xs[0] * xs[1] + xs[2] * xs[3] * xs[3] + xs[1] * xs[1] * x[3] + ys[3] * ys[1]


def r_repeat(x):
    r = [x[0] * x[1]] * 3
    s = 2 * [np.cos(x[2]), x[3] * x[0]]
    return r[0] * r[2] + r[1] * r[1] * x[2] + s[0] * s[3] + s[1] * s[2] * s[2]


def pair_of(x):
    return [x[0] * x[1], x[2]]


def r_join_unknown_kinds(x):
    """``+`` of lists whose kinds are known only when it runs (a helper's result, a dict's
    values): ``add_adjoint_left``/``_right`` and forward mode's ``sum_tangent`` join them.
    Reverse over forward of the dict case was silently wrong before (the check in
    ``sum_tangent``'s adjoint template was dropped)."""
    a, b = pair_of(x), pair_of(x * 2.0)
    c = a + b
    d = {"a": [x[0] * x[1], x[2]], "b": [x[3] * x[0]]}
    e = d["a"] + d["b"]
    return c[0] * c[3] + c[1] * c[2] * x[3] + e[0] * e[2] + e[1] * e[1] * x[3]


def r_sum_start(x):
    xs = [x[0] * x[1], x[2] * x[2], x[3]]
    rows = [x[:2] * x[2], np.sin(x[2:])]
    total = sum(rows, x[1:3] ** 2)
    return sum(xs, x[0] * x[3]) ** 2 + x[1] * sum(xs, 0.5) + np.sum(total**3)


def r_sum_joins_lists(x):
    rows = [[x[0], x[1] * x[1]], [x[2] * x[3]], [np.exp(x[3]), x[0] * x[2]]]
    flat = sum(rows, [])  # noqa: RUF017 (the construct under test)
    return flat[0] * flat[3] + flat[1] * flat[1] * flat[2] + flat[4] * flat[3]


def sum_onto_a_differentiated_list(x):
    rows = [[x[0], x[1] * x[1]], [x[2] * x[3]]]
    flat = sum(rows, [x[1] * x[3]])
    return flat[0] * flat[3] + flat[1] * flat[1] * flat[2]


# -- NumPy's joins ----------------------------------------------------------------------------
def r_np_append(x):
    y = np.append(x[:2] ** 2, x[2:] * x[0])
    m = np.append(np.reshape(x, (2, 2)) * x[1], np.reshape(x[2:] ** 2, (1, 2)), axis=0)
    return np.sum(y**3) + y[0] * y[3] + np.sum(m * m * m[::-1])


def r_stacks(x):
    h = np.hstack([x[:2] ** 2, np.sin(x[2:])])
    v = np.vstack([x[:2], x[2:] ** 2])
    d = np.dstack([np.reshape(x, (2, 2)) * x[0], np.reshape(x**2, (2, 2))])
    c = np.column_stack([x[:2] * x[3], x[2:]])
    return np.sum(h**3) + np.sum(v**2 * v) + np.sum(d**3) + np.sum(c * c * c[:, ::-1])


# -- iterating: sets, dict items, sorted, conversions ----------------------------------------
def r_set(x):
    s = set([x[0] * x[1], x[2] * x[2], x[3] * 0.5])
    t = frozenset(v * v for v in [x[1], x[2] + x[3]])
    return sum(v * v * v for v in s) + sum(w * x[0] for w in t) + x[0] * x[3]


def r_set_operators(x):
    a = {v * v for v in [x[0], x[1] * x[2]]}
    b = set([x[3] * x[0], x[2]])
    u, i, d = a | b, a & b, a ^ b
    return sum(v * v * v for v in u) + sum(i, 0.0) + sum(w * w for w in d) * x[1]


def r_items(x):
    d = {"a": x[0] * x[1], "b": np.sin(x[2]), "c": x[3] * x[3]}
    t = 0.0
    for _key, value in d.items():
        t = t + value * value * value
    pairs = list(d.items())
    return t + d["a"] * d["c"] + pairs[1][1] * x[0]


def r_sorted(x):
    ys = [x[0] * x[0], x[1] * x[2], np.cos(x[3]), x[0] * x[3]]
    s = sorted(ys)
    r = sorted(ys, reverse=True)
    return s[0] * s[3] + s[1] * s[1] * s[1] + s[2] * s[2] + r[0] * r[1] * x[2]


def r_conversions(x):
    t = (x[0] * x[1], x[2] * x[2], np.sin(x[3]))
    ys = list(t)
    zs = tuple(ys)
    back = list(reversed(ys))
    first, *rest = ys
    joined = [*ys, x[0], *rest]
    cols = list(zip(*[ys, [x[3], x[0], x[1]]]))
    return (
        ys[0] * ys[2]
        + zs[1] ** 3
        + back[0] * back[1]
        + first * rest[1] * rest[0]
        + joined[3] * joined[4] * joined[2]
        + cols[1][0] * cols[1][1] * cols[2][1]
    )


def r_unpack_array(x):
    a, *rest = x * x[1]
    return a * rest[0] * rest[2] + rest[1] * rest[1] * a


# -- copies -----------------------------------------------------------------------------------
def r_copies(x):
    xs = [x[0] * x[1], x[2] * x[2], x[3]]
    ys = copy.copy(xs)
    zs = copy.deepcopy(xs)
    ws = xs.copy()
    s = set([x[0] * x[3], x[1] * x[1]])
    sc = s.copy()
    return ys[0] * zs[2] + ys[1] * ys[1] * zs[0] + ws[2] * ws[1] + sum(v * v * v for v in sc)


# -- ndarray.item ----------------------------------------------------------------------------
def r_item_method(x):
    m = np.reshape(x * x * x[0], (2, 2))
    one = np.reshape(x[1:2] * x[2], (1, 1))
    return m.item(0, 1) * m.item(3) + m.item(2) * m.item(2) * x[0] + one.item() * x[3]


ROWS = [
    r_join_lists,
    r_extend_in_place,
    r_repeat,
    r_join_unknown_kinds,
    r_sum_start,
    r_sum_joins_lists,
    r_np_append,
    r_stacks,
    r_set,
    r_set_operators,
    r_items,
    r_sorted,
    r_conversions,
    r_unpack_array,
    r_copies,
    r_item_method,
]
X = np.array([0.83, -0.41, 1.27, 0.35])
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


def test_sum_onto_a_differentiated_list_reverse_over_reverse():
    """``sum(rows, start)`` with a list ``start`` that has a derivative: reverse over reverse
    (``sum_start_adjoint``'s head and ``joined_sum_cotangent``) against central differences;
    forward mode refuses such a sum by name (``sum_start_tangent``), hence ``hvp`` too."""
    v = rng.uniform(-1.5, 1.0, N)
    g = grad(sum_onto_a_differentiated_list)

    def projected(x):
        return np.sum(g(x) * v)

    expected = fd_hessian_vector(sum_onto_a_differentiated_list, X, v)
    np.testing.assert_allclose(grad(projected)(X), expected, rtol=1e-6, atol=1e-7)
    with pytest.raises(ADTransformError, match="sum\\(x, start\\) with a start list"):
        hvp(sum_onto_a_differentiated_list)(X, v)


def repeat_unknown_kind(x):
    d = {"a": [x[0] * x[1], x[2]]}
    r = d["a"] * 2
    return r[0] * r[3] + r[1] * r[2] * x[3] + x[0] * x[3]


def test_repetition_of_unknown_kind():
    """``xs * 2`` where ``xs`` (a dict's value) is known to be a list only when it runs:
    ``mul_adjoint_left``'s rules (``mul_left_cotangent``: each copy takes its element's
    cotangent) against central differences; reverse over forward stops at forward mode's
    ``product_tangent`` of a list, refused by name (it raised a raw ``TypeError`` before)."""
    v = rng.uniform(-1.5, 1.0, N)
    g = grad(repeat_unknown_kind)

    def projected(x):
        return np.sum(g(x) * v)

    expected = fd_hessian_vector(repeat_unknown_kind, X, v)
    np.testing.assert_allclose(hvp(repeat_unknown_kind)(X, v), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(grad(projected)(X), expected, rtol=1e-6, atol=1e-7)
    jf = jvp(repeat_unknown_kind)

    def directional(x):
        return jf((x,), (v,))[1]

    with pytest.raises(ADTransformError, match="cannot differentiate \\* of a list again"):
        grad(directional)(X)


# -- third derivatives (calculus) --------------------------------------------------------------
def sorted_cubes(t):
    ys = sorted([t * t, 2.0 * t, np.sin(t)])
    joined = ys + [t] * 2
    return joined[0] * joined[2] * joined[3] + sum(joined, t) ** 2


def test_third_derivative_through_sorted_joined_and_repeated_lists():
    """At ``t = 1.3``, ``sin t < t^2 < 2t``: the function is ``sin(t) 2t^2 + (t^2 + 2t +
    sin t + 3t)^2``, whose third derivative is written out below."""
    t = 1.3
    assert sorted([t * t, 2.0 * t, np.sin(t)]) == [np.sin(t), t * t, 2.0 * t]
    s, c = np.sin(t), np.cos(t)
    # Leibniz: (2 t^2 sin t)''' = 2 (6 cos t - 6 t sin t - t^2 cos t)
    product = 2.0 * (t * t * (-c) + 3 * 2 * t * (-s) + 3 * 2 * c)
    inner, d1, d2, d3 = t * t + 5 * t + s, 2 * t + 5 + c, 2 - s, -c
    square = 2 * (3 * d1 * d2 + inner * d3)  # (u^2)''' = 2 (3 u' u'' + u u''')
    assert grad(grad(grad(sorted_cubes)))(t) == pytest.approx(product + square, rel=1e-10)


# -- the transposes by the dot-product test --------------------------------------------------
def _vector(values) -> np.ndarray:
    """The numbers of a nested list, tuple or array adjoint, flat, in order (0 for a zero)."""
    if isinstance(values, Item):
        values = [values[k] for k in range(values.length)]
    if isinstance(values, (list, tuple)):
        parts = [_vector(v) for v in values]
        return np.concatenate(parts) if parts else np.zeros(0)
    return np.ravel(np.asarray(values, dtype=float))


def _dot(a, b) -> float:
    return float(_vector(a) @ _vector(b))


def _numbers(n: int) -> list:
    return [float(v) for v in rng.uniform(-2.0, 2.0, n)]


def test_head_and_tail_cotangents_are_transposes():
    g, c_head, c_tail = ListAdjoint(_numbers(5)), _numbers(2), _numbers(3)
    head = runtime.head_adjoint(g, 2)
    assert _dot(head, c_head) == pytest.approx(_dot(g, runtime.head_cotangent(c_head, g, 2)))
    tail = runtime.tail_adjoint(g, 2)
    assert _dot(tail, c_tail) == pytest.approx(_dot(g, runtime.tail_cotangent(c_tail, g, 2)))
    like, c_rows = np.zeros((3, 2)), rng.uniform(-1.0, 1.0, (3, 2))
    rows = ListAdjoint([*_numbers(2), *rng.uniform(-1.0, 1.0, (3, 2))])
    tail = runtime.tail_adjoint(rows, 2, like)
    back = runtime.tail_cotangent(c_rows, rows, 2, like)
    assert _dot(tail, c_rows) == pytest.approx(_dot(rows, back))
    sparse = Item(3, 1.7, 5)  # x[3] of a + b: one element's adjoint
    assert _dot(runtime.head_adjoint(sparse, 4), c := _numbers(4)) == pytest.approx(
        _dot(sparse, runtime.head_cotangent(c, sparse, 4))
    )


def test_repetition_and_sum_start_cotangents_are_transposes():
    g, c, x = ListAdjoint(_numbers(6)), _numbers(2), [0.3, 0.4]
    assert _dot(runtime.repetition_adjoint(g, x), c) == pytest.approx(
        _dot(g, runtime.repetition_cotangent(c, g, x))
    )
    big, small = rng.uniform(-1.0, 1.0, (3, 2)), rng.uniform(-1.0, 1.0, 2)
    start = np.zeros(2)
    assert _dot(runtime.sum_start_adjoint(big, [], start), small) == pytest.approx(
        _dot(big, runtime.sum_start_cotangent(small, big, start))
    )
    rows, joined = [[0.1, 0.2], [0.3]], ListAdjoint(_numbers(4))
    c_rows = runtime.sequence_sum_adjoint(joined, rows, [0.5])
    c = ListAdjoint([ListAdjoint(_numbers(2)), ListAdjoint(_numbers(1))])
    assert _dot(c_rows, c) == pytest.approx(
        _dot(joined, runtime.joined_sum_cotangent(c, joined, rows, [0.5]))
    )


def test_array_join_cotangents_are_transposes():
    arr, values = rng.uniform(size=(2, 3)), rng.uniform(size=(1, 3))
    g = rng.uniform(-1.0, 1.0, (3, 3))
    for axis, of_values in [(0, False), (0, True), (None, False), (None, True)]:
        part = runtime.append_adjoint(g if axis == 0 else np.ravel(g), arr, values, axis, of_values)
        c = rng.uniform(-1.0, 1.0, np.shape(part))
        whole = g if axis == 0 else np.ravel(g)
        back = runtime.append_cotangent(c, whole, arr, values, axis, of_values)
        assert _dot(part, c) == pytest.approx(_dot(whole, back))
    arrays = [rng.uniform(size=3), rng.uniform(size=3)]
    for how in ("hstack", "vstack", "dstack", "column_stack"):
        joined = getattr(np, how)(arrays)
        g = rng.uniform(-1.0, 1.0, joined.shape)
        pieces = runtime.joined_adjoint(g, arrays, how)
        c = ListAdjoint(rng.uniform(-1.0, 1.0, 3) for _ in arrays)
        assert _dot(pieces, c) == pytest.approx(
            _dot(g, runtime.joined_cotangent(c, g, arrays, how))
        )


def test_permutation_and_set_cotangents_are_transposes():
    x = [0.7, -0.2, 1.4, 0.1]
    g, c = ListAdjoint(_numbers(4)), ListAdjoint(_numbers(4))
    for reverse in (False, True):
        assert _dot(runtime.sorted_adjoint(g, x, reverse), c) == pytest.approx(
            _dot(g, runtime.sorted_cotangent(c, x, reverse))
        )
        assert _dot(runtime.sorted_tangent(g, x, reverse), c) == pytest.approx(
            _dot(g, runtime.sorted_adjoint(c, x, reverse))
        )
    values = [0.7, -0.2, 0.7, 1.4]  # a repeated element: the set keeps the first
    members = set(values)
    g_set, c_values = ListAdjoint(_numbers(len(members))), ListAdjoint(_numbers(4))
    assert _dot(runtime.set_adjoint(g_set, members, values), c_values) == pytest.approx(
        _dot(g_set, runtime.set_members(c_values, members, values))
    )
    a, b = {0.5, 1.5, 2.5}, {1.5, 3.5}
    b = {next(m for m in a if m == 1.5), 3.5}  # the same object in both operands
    for result in (a | b, a & b, a ^ b):
        g_result = ListAdjoint(_numbers(len(result)))
        for x_op, other, first in ((a, b, True), (b, a, False)):
            c_op = ListAdjoint(_numbers(len(x_op)))
            forward = runtime.set_operand_adjoint(g_result, result, x_op, other, first)
            back = runtime.set_operand_members(c_op, result, x_op, other, first)
            assert _dot(forward, c_op) == pytest.approx(_dot(g_result, back))
    copied = members.copy()
    g_copy, c_copy = ListAdjoint(_numbers(len(copied))), ListAdjoint(_numbers(len(members)))
    assert _dot(runtime.copy_adjoint(g_copy, copied, members), c_copy) == pytest.approx(
        _dot(g_copy, runtime.copy_cotangent(c_copy, copied, members))
    )


def test_element_cotangents_are_transposes():
    rows = rng.uniform(size=(3, 2))
    elements = [rng.uniform(-1.0, 1.0, 2), 0.7, rng.uniform(-1.0, 1.0, 2)]
    c = rng.uniform(-1.0, 1.0, (3, 2))
    back = runtime.spread_cotangent(c, elements, rows)
    assert _dot(runtime.spread(elements, rows), c) == pytest.approx(_dot(elements, back))
    d = {"a": 0.3, "b": -1.2}
    g_pairs = ListAdjoint([ListAdjoint([0.0, 0.8]), Item(1, -0.6, 2)])
    c_dict = runtime.DictAdjoint(a=1.3, b=0.4)
    forward = runtime.items_adjoint(g_pairs, d)
    assert _dot(list(forward.values()), list(c_dict.values())) == pytest.approx(
        _dot(g_pairs, runtime.items_cotangent(c_dict, d))
    )
    x = rng.uniform(size=(2, 3))
    for index in ((1, 2), (4,)):
        g_scalar, c_x = 0.9, rng.uniform(-1.0, 1.0, (2, 3))
        forward = runtime.item_method_adjoint(g_scalar, x, index)
        back = runtime.item_method_cotangent(c_x, x, index)
        assert _dot(forward, c_x) == pytest.approx(g_scalar * back)


def test_rearranged_cotangent_transposes_each_rearrangement():
    whole = [0.2, -0.7, 1.1, 0.4]
    t = _numbers(4)
    for convert, rest in ((list, ()), (tuple, ()), (runtime.reversed_list, ())):
        out = runtime.converted_tangent(t, whole, convert, *rest)
        c = _numbers(len(out))
        assert _dot(out, c) == pytest.approx(
            _dot(t, runtime.rearranged_cotangent(c, whole, convert))
        )
    out = runtime.converted_tangent(t, whole, runtime.starred_parts, 1, 1)
    c = [0.3, ListAdjoint([1.1, -0.5]), 0.8]
    back = runtime.rearranged_cotangent(c, whole, runtime.starred_parts, 1, 1)
    assert _dot(out, c) == pytest.approx(_dot(t, back))
