"""Issue 12, containers: dicts and the list and tuple forms of ordinary numerical code.

Dicts built in the function (displays, item stores), read (``d[k]``, ``.get``), iterated
(``for k in d``, ``.items()``, ``.keys()``, ``.values()``), tested (``in``, ``len``) and
passed to helpers; lists and tuples of active values sliced, joined with ``*``,
starred-unpacked, reversed, sorted, reduced with ``min``/``max``/``sum`` and transposed
with ``zip(*rows)``. Writes into a dict the function did not create stay refused.

Every expected value comes from calculus or central finite differences
(``tests/gradcheck.py``), never from the code's own output; ``value_and_grad``'s value is
compared with the function's own.
"""

import copy

import numpy as np
import pytest
from gradcheck import check_grad

from ad_transform import ADTransformError, grad, value_and_grad

RNG = np.random.default_rng(1212)
A3 = np.array([0.7, -0.3, 1.3])
B3 = np.array([-0.4, 0.9, 0.25])
M23 = RNG.standard_normal((2, 3))


def check(f, *args, wrt=0):
    """The forward value is ``f``'s, and the gradient matches finite differences."""
    expected = f(*copy.deepcopy(args))
    value, _ = value_and_grad(f, wrt=wrt)(*args)
    np.testing.assert_array_equal(value, expected)
    return check_grad(f, args, wrt)


# -- dict displays and reads -----------------------------------------------------------------
def dict_display(w, b):
    p = {"w": w, "b": b}
    return p["w"] * 3.0 + p["b"] ** 2


def dict_of_arrays(a, b):
    p = {"w": a, "b": b, "n": 2}
    return np.sum(p["w"] * p["b"]) + np.sum(np.sin(p["w"])) * p["n"]


def dict_duplicate_keys(x, y):
    d = {"a": x, "b": y, "a": y * y}  # noqa: F601 - Python keeps the last value
    return d["a"] * d["b"] + x


def dict_keys_from_names(x, y, k, j):
    d = {k: x, j: y}  # k == j at run time: only y is kept
    return sum(d.values()) * 2.0 + x


def dict_get(x, y):
    d = {"a": x * 2.0}
    return d.get("a", y) * 3.0 + d.get("missing", y) ** 2 + d.get("a") * x


def dict_in_and_len(x, flag):
    d = {"a": x}
    if flag:
        d["b"] = x * x
    total = 0.0
    if "b" in d:
        total = total + d["b"]
    return total + len(d) * x + d["a"]


@pytest.mark.parametrize(
    "f, args, wrt",
    [
        (dict_display, (2.0, 3.0), (0, 1)),
        (dict_of_arrays, (A3, B3), (0, 1)),
        (dict_duplicate_keys, (0.7, -1.3), (0, 1)),
        (dict_keys_from_names, (0.7, -1.3, "a", "a"), (0, 1)),
        (dict_keys_from_names, (0.7, -1.3, "a", "b"), (0, 1)),
        (dict_get, (0.7, -1.3), (0, 1)),
        (dict_in_and_len, (0.7, True), 0),
        (dict_in_and_len, (0.7, False), 0),
    ],
)
def test_dict_reads(f, args, wrt):
    check(f, *args, wrt=wrt)


def test_dict_display_by_calculus():
    assert grad(dict_display, wrt=(0, 1))(2.0, 3.0) == (3.0, 6.0)
    # d["a"] = y * y overwrote x: d/dx = 1, d/dy = 3 y**2
    dx, dy = grad(dict_duplicate_keys, wrt=(0, 1))(0.5, 2.0)
    assert (dx, dy) == (1.0, 12.0)


# -- iteration ----------------------------------------------------------------------------
def iterate_dict(x, y):
    d = {"a": x, "b": 2.0 * y, "c": x * y}
    s = 0.0
    for k in d:
        s = s + d[k] * d[k]
    return s


def iterate_items(x, y):
    d = {"a": x, "b": 2.0 * y}
    s = 0.0
    weight = 1.0
    for _key, value in d.items():
        s = s + weight * value**2
        weight = weight + 1.0
    return s


def iterate_values_and_keys(a, b):
    d = {"w": a, "b": b}
    s = 0.0
    for v in d.values():
        s = s + np.sum(v * v)
    for k in d.keys():  # noqa: SIM118 - keys() itself is under test
        s = s + np.sum(np.cos(d[k]))
    return s


def sum_of_values(x, y):
    d = {"a": x, "b": y * y}
    return sum(d.values()) * x


def build_then_iterate(xs):
    d = {}
    for i in range(len(xs)):
        d[i] = xs[i] * (i + 1.0)
    total = 0.0
    for k, v in d.items():
        total = total + v * v * k
    return total


def dict_in_loop(x, n):
    total = 0.0
    for i in range(n):
        p = {"w": x * i, "b": x + i}
        total = total + p["w"] * p["b"]
    return total


def empty_dict(x):
    d = {}
    s = 0.0
    for v in d.values():
        s = s + v
    return s + x * 2.0


@pytest.mark.parametrize(
    "f, args, wrt",
    [
        (iterate_dict, (0.7, -1.3), (0, 1)),
        (iterate_items, (0.7, -1.3), (0, 1)),
        (iterate_values_and_keys, (A3, B3), (0, 1)),
        (sum_of_values, (0.7, -1.3), (0, 1)),
        (build_then_iterate, (A3,), 0),
        (dict_in_loop, (0.7, 4), 0),
        (dict_in_loop, (0.7, 0), 0),
        (empty_dict, (0.7,), 0),
    ],
)
def test_dict_iteration(f, args, wrt):
    check(f, *args, wrt=wrt)


# -- item stores into the function's own dict ---------------------------------------------
def store_new_and_overwrite(x):
    d = {"a": x}
    d["c"] = x * x
    d["a"] = 3.0 * x
    return d["a"] + d["c"] + sum(d.values())


def accumulate_in_dict(xs):
    d = {"s": 0.0, "p": 1.0}
    for v in xs:
        d["s"] = d["s"] + v
        d["p"] = d["p"] * v
    return d["s"] * d["p"]


def store_arrays(a, b):
    d = {}
    d["x"] = a * 2.0
    d["y"] = d["x"] + b
    d["x"] = np.sin(d["y"])
    return np.sum(d["x"] * d["y"])


@pytest.mark.parametrize(
    "f, args, wrt",
    [
        (store_new_and_overwrite, (0.7,), 0),
        (accumulate_in_dict, (A3,), 0),
        (store_arrays, (A3, B3), (0, 1)),
    ],
)
def test_dict_item_stores(f, args, wrt):
    check(f, *args, wrt=wrt)


def test_store_by_calculus():
    # a = 3x, c = x**2: 2 * (3x + x**2) -> 6 + 4x
    assert grad(store_new_and_overwrite)(2.0) == 14.0


def test_pullback_runs_twice_after_dict_stores():
    from ad_transform import vjp

    _, pullback = vjp(store_arrays)(A3, B3)
    first = pullback(1.0)
    second = pullback(1.0)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, check_grad(store_arrays, (A3, B3), 0), rtol=1e-12)


# -- dicts and helpers -----------------------------------------------------------------------
def _dense(p, x):
    return np.tanh(p["w"] * x + p["b"])


def dict_to_helper(w, b, x):
    p = {"w": w, "b": b}
    return np.sum(_dense(p, x) ** 2)


def _put(d, v):
    d["z"] = v * 2.0


def helper_writes_dict(x):
    d = {"a": x}
    _put(d, x * x)
    return d["a"] * d["z"]


def test_dict_passed_to_helper():
    check(dict_to_helper, A3, B3, 0.5, wrt=(0, 1))


def test_helper_writing_the_callers_dict():
    check(helper_writes_dict, 0.7)


# -- refusals ----------------------------------------------------------------------------
def write_into_argument(x, cfg):
    cfg["a"] = x
    return cfg["a"] * 2.0


CONFIG = {"a": 1.0}


def write_into_global(x):
    CONFIG["a"] = x
    return CONFIG["a"] * 2.0


def active_key(x):
    d = {x: 1.0}
    total = 0.0
    for k in d:
        total = total + k
    return total


def dict_unpacking(x):
    d = {"a": x}
    e = {"b": x, **d}
    return e["a"] + e["b"]


@pytest.mark.parametrize(
    "f, args, words",
    [
        (write_into_argument, (0.7, {"a": 1.0}), "cfg"),
        (write_into_global, (0.7,), "CONFIG"),
        (active_key, (0.7,), "dict keyed by 'x'"),
        (dict_unpacking, (0.7,), r"'\*\*' unpacking in a dict display"),
    ],
)
def test_dict_refusals(f, args, words):
    with pytest.raises(ADTransformError, match=words):
        grad(f)(*args)


class _Store:
    def get(self, key, default=None):
        return default * 3.0


def method_named_get(x):
    store = _Store()
    return store.get("a", x)


def test_get_of_a_user_class_is_not_taken_for_dicts():
    with pytest.raises(ADTransformError):
        grad(method_named_get)(0.7)


# -- lists and tuples: slices, joins, starred unpacking --------------------------------------
def slices(x, y, z):
    xs = [x, y, z]
    t = xs[1:]
    r = xs[::-1]
    u = tuple(xs)[:2]
    return t[0] * r[0] + t[1] ** 2 + r[2] * 5.0 + u[0] * u[1]


def joins(x, y, z):
    s = [x, y]
    t = (z,)
    joined = [*s, *t, x * y]
    pair = (*joined[1:], 2.0)
    return joined[0] * joined[3] + pair[0] * pair[1] * pair[2] + len(pair) * z


def star_an_array(a):
    rows = [*a, a[0] * 2.0]
    return rows[0] * rows[-1] + rows[1] ** 2


def starred_unpacking(x, y, z):
    first, *rest = [x, y, z]
    *init, last = (x, y, z)
    a, *middle, b = [x, y, z, x * y]
    return first * sum(rest) + init[1] * last + a * b + middle[0] * middle[1] ** 2


def starred_rest_empty(x):
    first, *rest = [x]
    return first * 2.0 + len(rest) + sum(rest)


@pytest.mark.parametrize(
    "f, args, wrt",
    [
        (slices, (0.7, -1.3, 0.4), (0, 1, 2)),
        (joins, (0.7, -1.3, 0.4), (0, 1, 2)),
        (star_an_array, (A3,), 0),
        (starred_unpacking, (0.7, -1.3, 0.4), (0, 1, 2)),
        (starred_rest_empty, (0.7,), 0),
    ],
)
def test_slices_joins_starred(f, args, wrt):
    check(f, *args, wrt=wrt)


def test_slices_by_calculus():
    # t = [y, z], r = [z, y, x], u = (x, y): y z + z**2 + 5 x + x y
    assert grad(slices, wrt=(0, 1, 2))(1.0, 2.0, 3.0) == (7.0, 4.0, 8.0)


def too_few_to_unpack(x):
    a, *_rest, b = [x]
    return a + b


def test_starred_unpacking_of_too_few_raises_as_python():
    with pytest.raises(ValueError, match="not enough values to unpack"):
        too_few_to_unpack(0.5)
    with pytest.raises(ValueError, match="not enough values to unpack"):
        grad(too_few_to_unpack)(0.5)


# -- reversed, sorted, min, max, sum, len, zip(*rows) ------------------------------------------
def reversed_loop(x, y, z):
    s, k = 0.0, 1.0
    for v in reversed([x, y, z]):
        s = s + k * v
        k = k + 1.0
    return s


def reversed_array(a):
    rows = reversed(a)
    s, k = 0.0, 1.0
    for v in rows:
        s = s + k * v * v
        k = k + 1.0
    return s


def sorted_values(a):
    order = sorted(a)
    weights = [1.0, 2.0, 3.0, 4.0]
    s = 0.0
    for w, v in zip(weights, order):
        s = s + w * v
    return s


def sorted_list_reverse(x, y, z):
    ordered = sorted([x * 2.0, y, z * z], reverse=True)
    return ordered[0] * 3.0 + ordered[1] * 5.0 + ordered[2] * 7.0


def extremes(x, y, z):
    xs = [x, y, z]
    return max(xs) * 3.0 + min(xs) * 5.0 + sum(xs) * len(xs)


def extremes_of_array(a):
    return max(a) * min(a) + sum(a)


def transpose_rows(a, b):
    rows = [[a, b, 1.0], [b * b, a, 2.0]]
    s = 0.0
    for c1, c2 in zip(*rows):
        s = s + c1 * c2
    columns = list(zip(*rows))
    return s + columns[0][1] * columns[2][0]


def transpose_arrays(m):
    s = 0.0
    for column in zip(*m):
        s = s + column[0] * column[1] ** 2
    return s


def empty_iterables(x):
    s = sorted([])
    r = list(reversed([]))
    joined = [*s, *r, x]
    return sum(joined) + len(s) * x


@pytest.mark.parametrize(
    "f, args, wrt",
    [
        (reversed_loop, (0.7, -1.3, 0.4), (0, 1, 2)),
        (reversed_array, (A3,), 0),
        (sorted_values, (np.array([0.4, -1.2, 2.5, 0.1]),), 0),
        (sorted_list_reverse, (0.7, -1.3, 0.4), (0, 1, 2)),
        (extremes, (0.7, -1.3, 0.4), (0, 1, 2)),
        (extremes_of_array, (A3,), 0),
        (transpose_rows, (0.7, -1.3), (0, 1)),
        (transpose_arrays, (M23,), 0),
        (empty_iterables, (0.7,), 0),
    ],
)
def test_reordering_and_reductions(f, args, wrt):
    check(f, *args, wrt=wrt)


def test_sorted_ties_follow_the_stable_permutation():
    # sorted([x, y]) with x == y keeps x first: x gets weight 1, y weight 2
    def ties(x, y):
        first, second = sorted([x, y])
        return first * 1.0 + second * 2.0

    assert grad(ties, wrt=(0, 1))(1.5, 1.5) == (1.0, 2.0)
    assert grad(ties, wrt=(0, 1))(2.0, 1.0) == (2.0, 1.0)


def test_extreme_ties_split_equally():
    def top(x, y, z):
        return max([x, y, z])

    assert grad(top, wrt=(0, 1, 2))(2.0, 2.0, 1.0) == (0.5, 0.5, 0.0)
    assert grad(top, wrt=(0, 1, 2))(1.0, 2.0, 3.0) == (0.0, 0.0, 1.0)


def sorted_with_key(x, y):
    return sorted([x, y], key=abs)[0]


def test_sorted_with_a_key():
    # sorted by |v|: 0.7 first, so the result is x (d/dx 1, d/dy 0); then -0.4 comes first
    assert grad(sorted_with_key, wrt=(0, 1))(0.7, -1.3) == (1.0, 0.0)
    assert grad(sorted_with_key, wrt=(0, 1))(0.7, -0.4) == (0.0, 1.0)
    check_grad(sorted_with_key, (0.7, -1.3), (0, 1))


# -- the generated code reads well -----------------------------------------------------------
def test_dict_source_reads_well():
    source = grad(store_new_and_overwrite).source
    assert "d = {'a': x}" in source
    assert "dict_slot(d, 'c')" in source
    assert "restore_slot(d, 'a', pop())" in source
    assert "dx += dd['a']" in source or "dx = dx + dd['a']" in source


# -- what issue 11 refused, now differentiated (tests/test_soundness_activity.py had them) ----
V = np.array([0.3, -0.7, 1.2])


def list_call(v):
    return list(v)[1] * 2.0 + tuple(v)[2] * v[0]


def sorted_then_index(v):
    return sorted(v)[0] * 1.0 + sorted(v)[2] * 3.0


def list_of_reversed(v):
    return list(reversed(v))[0] * 1.0 + list(reversed(v))[1] * 5.0  # noqa: RUF015


def loop_over_reversed(v):
    s = 0.0
    for e in reversed(v):
        s = s * 2.0 + e
    return s


def loop_over_sorted(v):
    s = 0.0
    for e in sorted(v):
        s = s * 2.0 + e
    return s


def starred_unpack_of_array(v):
    a, *rest = v
    return a * 2.0 + rest[0] * rest[1]


def starred_join(x):
    s = [x[0]]
    t = [*s, x[1]]
    return t[0] * t[1]


@pytest.mark.parametrize(
    "f",
    [
        list_call,
        sorted_then_index,
        list_of_reversed,
        loop_over_reversed,
        loop_over_sorted,
        starred_unpack_of_array,
        starred_join,
    ],
)
def test_once_refused_now_exact(f):
    check(f, V)


# -- dict comprehensions (lowered to a loop with item stores) ---------------------------------
def dict_comprehensions(x, y):
    p = {"w": x, "b": y}
    q = {k: v * v for k, v in p.items()}
    r = {k: q[k] * 2.0 for k in q if k != "b"}
    s = {i: x * i for i in range(3) for j in range(2) if i + j > 1}
    return q["w"] + q["b"] * r["w"] + sum(s.values())


def dict_comprehension_of_arrays(a, b):
    layers = {"first": a, "second": b}
    scaled = {name: np.tanh(w) * 2.0 for name, w in layers.items()}
    return np.sum(scaled["first"] * scaled["second"])


def dict_comprehension_empty(x, n):
    squares = {i: x * i for i in range(n)}
    return sum(squares.values()) + x


def dict_comprehension_variables_do_not_leak(x):
    k = 2.0
    d = {k: x * k for k in range(3)}
    return d[1] * k


@pytest.mark.parametrize(
    "f, args, wrt",
    [
        (dict_comprehensions, (1.5, 0.5), (0, 1)),
        (dict_comprehension_of_arrays, (A3, B3), (0, 1)),
        (dict_comprehension_empty, (0.7, 0), 0),
        (dict_comprehension_empty, (0.7, 4), 0),
        (dict_comprehension_variables_do_not_leak, (0.7,), 0),
    ],
)
def test_dict_comprehensions(f, args, wrt):
    check(f, *args, wrt=wrt)


def test_dict_comprehension_by_calculus():
    # q = {w: x^2, b: y^2}, r = {w: 2 x^2}, s = {1: x, 2: 2x}: x^2 + 2 x^2 y^2 + 3x
    assert grad(dict_comprehensions, wrt=(0, 1))(1.0, 2.0) == (2.0 + 16.0 + 3.0, 8.0)


def conditional_dict_comprehension(x):
    d = {i: x * i for i in range(3)} if x > 0 else {}
    return d[1]


def test_conditional_dict_comprehension_is_refused():
    with pytest.raises(ADTransformError, match="dict comprehension inside a conditional"):
        grad(conditional_dict_comprehension)(0.7)


# -- aliasing: copies and joins hold the same elements ----------------------------------------
def list_copy_then_augmented_item(a, x):
    xs = [a * 1.0]
    ys = xs.copy()
    ys[0] += x  # changes the array xs[0] too
    return np.sum(xs[0]) + np.sum(ys[0] * x)


def join_then_augmented_item(a, x):
    xs = [a * 1.0]
    ys = [*xs]
    ys[0] += x
    return np.sum(xs[0]) + np.sum(ys[0] * x)


def dict_copy_then_augmented_item(a, x):
    d = {"a": a * 1.0}
    e = d.copy()
    e["a"] += x
    return np.sum(d["a"]) + np.sum(e["a"] * x)


def dict_display_then_augmented_item(a, x):
    d = {"a": a * 1.0}
    e = {"a": d["a"]}
    e["a"] += x
    return np.sum(d["a"]) + np.sum(e["a"] * x)


def write_into_element_of_dict_copy(a, x):
    d = {"a": a * 1.0}
    e = d.copy()
    v = e["a"]
    v[0] = x * 5.0
    return np.sum(d["a"] * a) + x


@pytest.mark.parametrize(
    "f",
    [
        list_copy_then_augmented_item,
        join_then_augmented_item,
        dict_copy_then_augmented_item,
        dict_display_then_augmented_item,
        write_into_element_of_dict_copy,
    ],
)
def test_shared_elements_are_refused(f):
    # each changes an array two containers hold; the gradient would miss the other holder
    with pytest.raises(ADTransformError, match=r"may (hold|share memory)"):
        grad(f, wrt=(0, 1))(A3, 0.5)


def copies_of_containers(x, y):
    xs = [x, y]
    ys = xs.copy()
    ys[0] = x * y
    d = {"a": x}
    e = d.copy()
    e["a"] = y * 3.0
    joined = [*xs, y]
    joined.append(x * 2.0)
    joined[1] = x * x
    return ys[0] + ys[1] + xs[0] + d["a"] * e["a"] + joined[1] * joined[3] + joined[2]


def test_copies_of_containers():
    check(copies_of_containers, 0.7, -1.3, wrt=(0, 1))


@pytest.mark.parametrize(
    "f, args, wrt",
    [
        (store_new_and_overwrite, (0.7,), 0),
        (joins, (0.7, -1.3, 0.4), (0, 1, 2)),
        (dict_comprehensions, (1.5, 0.5), (0, 1)),
    ],
)
def test_exported_module_gives_the_same_gradient(f, args, wrt):
    from ad_transform.export import export_source

    namespace: dict = {}
    exec(compile(export_source(f, wrt=wrt, example_args=args), "exported", "exec"), namespace)
    exported = namespace[f"grad_{f.__name__}"]
    assert exported(*args) == grad(f, wrt=wrt)(*args)


def keys_as_numbers(x):
    d = {1: x, 3: 2.0 * x}
    s = 0.0
    for k, v in d.items():
        s = s + k * v
    for k in sorted(d):
        s = s + k * d[k]
    return s + max(d) * d[max(d)] + sum(d) * x


def test_keys_are_constants():
    # 2 (x + 6x) + 3 * 2x + 4x = 24x
    assert grad(keys_as_numbers)(0.7) == pytest.approx(24.0, rel=1e-15)
    check(keys_as_numbers, 0.7)
