"""Issue 11: lists and tuples joined with ``+`` and repeated with ``*`` are not numbers.

``s + t`` on two lists (or two tuples) joins them, ``xs += ys`` on a list extends it (by
any iterable), ``[v] * 3`` repeats: the adjoint of a join is the result's adjoint cut at
``len(s)``; that of a repetition is the sum of the copies' adjoints. Where the kinds are
known when the code is generated, the rule says so; where they are not (a helper's
result, an element of a list, a list argument), the adjoint looks at the operands when it
runs. Also: a list that grows through another name (an alias, a helper's ``append``).

Every expected value comes from calculus or central finite differences
(``tests/gradcheck.py``); ``value_and_grad``'s value is the function's own value.
"""

import copy
import math

import numpy as np
import pytest
from gradcheck import check_grad, numerical_gradient

from ad_transform import ADTransformError, grad, value_and_grad

RNG = np.random.default_rng(1111)
X2 = np.array([0.7, -0.3])
X4 = np.array([0.7, -0.3, 1.3, 0.45])
W6 = RNG.standard_normal(12)  # weights: a transposed or misplaced adjoint shows


def check(f, *args, wrt=0):
    """The forward value is ``f``'s, and the gradient matches finite differences."""
    expected = f(*copy.deepcopy(args))
    value, _ = value_and_grad(f, wrt=wrt)(*args)
    np.testing.assert_array_equal(value, expected)
    return check_grad(f, args, wrt)


# -- the issue's examples ------------------------------------------------------------------
def lcat(x):
    s = [x[0]]
    t = s + [x[1]]
    return t[0] * t[1]


def lcat2(x):
    s = [x[0]]
    s += [x[1]]  # a list's += extends it in place
    return s[0] * s[1]


def tcat(x):
    t = (x[0],) + (x[1],)
    return t[0] * t[1]


@pytest.mark.parametrize("function", [lcat, lcat2, tcat])
def test_issue_examples(function):
    np.testing.assert_allclose(grad(function)(X2), [-0.3, 0.7], rtol=1e-12)  # d(x0*x1)
    check(function, X2)
    check(function, np.array([-1.1, 2.5]))


def stash(store, v):
    store.append(v)


def s11(x, z):
    l0 = [x]
    l1 = l0
    l0.append(z)
    stash(l1, z)
    return l1[-1]


def test_issue_alias_and_helper_append():
    value, gradient = value_and_grad(s11, wrt=(0, 1))(0.5, 2.0)
    assert value == 2.0 and gradient == (0.0, 1.0)  # l1[-1] is z


# -- joins: lengths, tuples, nesting, loops -----------------------------------------------
def join_three(x):
    s = [x[0], x[1]]
    t = [x[2] * x[3]]
    u = s + t + s  # 5 elements, s twice
    return _weighted(u)


def _weighted(u):
    total = 0.0
    for k in range(len(u)):
        total = total + W6[k] * u[k]
    return total


def join_lengths(x):
    empty = []
    a = empty + [x[0]] + []  # empty lists on both sides
    b = a + [x[1], x[2], x[3]] + a
    return b[0] * 1.5 + b[1] * b[4] + b[2] * 2.5 - b[3] * b[-1]


def join_tuples(x):
    t = (x[0], x[1])
    u = t + (x[2],) + ()
    v = u + t
    return v[0] * v[3] + v[2] ** 2 - v[1] * v[4]


def join_tuples_of_arrays(x):
    t = (x, x * 2.0)
    u = t + (np.sin(x),)
    return np.sum(np.stack(u) * W6[:3, None] * np.arange(1.0, 5.0))


def join_nested(x):
    a = [[x[0], x[1]]]
    b = [[x[2]], [x[3], x[0]]]
    c = a + b
    return c[0][1] * c[1][0] + c[2][1] * c[2][0] - c[0][0]


def join_nested_inner(x):
    a = [[x[0]], [x[1]]]
    inner = a[0] + a[1]  # elements of a list (kinds not known): decided when it runs
    return inner[0] * 3.0 + inner[1] * inner[0]


def join_in_loop(x):
    acc = []
    for k in range(4):
        acc = acc + [x[k] * W6[k]]
    return acc[0] * acc[3] + acc[1] - acc[2] * acc[1]


def extend_in_loop(x):
    acc = [x[0]]
    for k in range(1, 4):
        acc += [x[k], x[k] * x[0]]
    return _weighted(acc) + acc[0] * acc[-1]


def join_in_branch(x):
    s = [x[0]]
    if x[1] > 0:
        s = s + [x[1]]
    else:
        s = [x[2]] + s
    return s[0] * 2.0 + s[1] * s[0]


@pytest.mark.parametrize(
    "function",
    [
        join_three,
        join_lengths,
        join_tuples,
        join_tuples_of_arrays,
        join_nested,
        join_nested_inner,
        join_in_loop,
        extend_in_loop,
        join_in_branch,
    ],
)
def test_joins(function):
    check(function, X4)
    check(function, np.array([-0.4, 1.2, 0.8, -2.0]))  # the other branch


def test_join_loop_zero_iterations():
    def f(x, n):
        acc = [x[0]]
        for k in range(n):
            acc = acc + [x[k]]
        return acc[0] * acc[-1]

    assert grad(f)(X4, 0)[0] == pytest.approx(2 * X4[0])
    check(f, X4, 3)


# -- joins consumed by reductions and NumPy -------------------------------------------------
def sum_of_join(x):
    s = [x[0], x[1]]
    t = [x[2] * x[3]]
    return sum(s + t) * x[0]


def array_of_join(x):
    s = [x[0], x[1]]
    t = [x[2], x[3] * x[0]]
    return np.sum(np.array(s + t) * W6[:4])


def stack_of_join(x):
    s = [x, x * x]
    t = [np.cos(x)]
    return np.sum(np.stack(s + t) * W6[:3, None])


def concatenate_of_join(x):
    s = [x[:2]]
    t = [x[1:] * 2.0]
    return np.sum(np.concatenate(s + t) * W6[:5])


def sum_with_list_start(x):
    rows = [[x[0], x[1]], [x[2]], []]
    flat = sum(rows, [x[3]])  # sum joins the lists onto [x3]
    return _weighted(flat) * flat[1]


@pytest.mark.parametrize(
    "function",
    [sum_of_join, array_of_join, stack_of_join, concatenate_of_join, sum_with_list_start],
)
def test_joins_into_reductions(function):
    check(function, X4)


def test_sum_mixing_sequences_and_arrays_is_refused():
    def f(x):
        return sum([x[:1], x[1:2]], [x[3]])[0] * 1.0  # [x3] + array: NumPy arithmetic

    assert f(X4) == pytest.approx(X4[3] + X4[0] + X4[1])
    with pytest.raises(ADTransformError, match="mixes joining sequences and arithmetic"):
        grad(f)(X4)


# -- list + array, list += array: NumPy arithmetic, not a join ------------------------------
def list_plus_array(x):
    s = [x[0], x[1], x[2], x[3]]
    return np.sum((s + x) * W6[:4])  # NumPy adds elementwise


def list_iadd_array(x):
    s = [x[0], x[1], x[2], x[3]]
    s += x * x  # list += ndarray: NumPy's sum, a new array
    return np.sum(s * W6[:4])


def list_iadd_tuple(x):
    s = [x[0]]
    s += (x[1], x[2] * x[3])  # a list extended by a tuple
    return _weighted(s)


@pytest.mark.parametrize("function", [list_plus_array, list_iadd_array, list_iadd_tuple])
def test_lists_with_arrays_follow_python(function):
    check(function, X4)


# -- repetition ------------------------------------------------------------------------------
def repeat_left(x):
    t = [x[0]] * 3
    return t[0] * t[1] * t[2]  # x0 ** 3


def repeat_right(x):
    t = 2 * [x[0], x[1]]
    return _weighted(t)


def repeat_tuple(x):
    t = (x[0], x[1] * x[2]) * 2
    return t[0] * t[3] + t[2]


def repeat_in_place(x):
    s = [x[0], x[1]]
    s *= 3
    return _weighted(s)


def repeat_arrays_then_stack(x):
    s = np.stack([x] * 2)  # one array, twice
    return np.sum(s * np.array([[1.0], [2.0]]))


def repeat_nested(x):
    rows = [[x[0], x[1]]] * 2  # the same inner list twice
    return rows[0][0] * rows[1][1] + rows[1][0]


def repeat_count_not_known(x):
    n = len([0, 0, 0])  # an integer whose kind is not known: decided when it runs
    t = [x[0], x[1]] * n
    return _weighted(t)


def repeat_numpy_integer_count(x):
    counts = np.array([2, 3])
    t = [x[0] * x[1]] * counts[1]  # a NumPy integer repeats a list too
    return t[0] + t[1] * t[2]


def repeat_zero_times(x):
    t = [x[0]] * 0 + [x[1]]
    return t[0] * x[0]


@pytest.mark.parametrize(
    "function",
    [
        repeat_left,
        repeat_right,
        repeat_tuple,
        repeat_in_place,
        repeat_arrays_then_stack,
        repeat_nested,
        repeat_count_not_known,
        repeat_numpy_integer_count,
        repeat_zero_times,
    ],
)
def test_repetitions(function):
    check(function, X4)


def test_repeat_left_is_the_cube():
    assert grad(repeat_left)(X4)[0] == pytest.approx(3 * X4[0] ** 2, rel=1e-12)
    assert grad(repeat_arrays_then_stack)(X4) == pytest.approx(np.full(4, 3.0))


# -- kinds not known: a helper's list, list arguments ---------------------------------------
def make_pair(v):
    return [v, v * 2.0]


def make_tuple(v):
    return (v, v * v)


def helper_list_then_join(x):
    s = make_pair(x[0]) + [x[1]]
    return s[0] * s[2] + s[1]


def join_then_helper_list(x):
    s = [x[1]] + make_pair(x[0])
    return s[0] * s[2] + s[1] * 0.5


def two_helper_lists(x):
    s = make_pair(x[0]) + make_pair(x[1])
    return _weighted(s) * s[3]


def helper_tuples(x):
    t = make_tuple(x[0]) + make_tuple(x[1])
    return t[1] * t[2] + t[3]


def helper_list_extended(x):
    s = make_pair(x[0])
    s += [x[1], x[2]]
    s += make_tuple(x[3])  # list += tuple: extends
    return _weighted(s)


def helper_list_repeated(x):
    s = make_pair(x[0]) * 2
    t = 2 * make_tuple(x[1])
    return _weighted(s) + t[1] * t[2]


def helper_numbers_added(x):
    a = make_pair(x[0])[1] + make_pair(x[1])[0]  # numbers whose kind is not known
    b = make_pair(x[2])[0] * make_pair(x[3])[1]
    return a * b


def helper_arrays(x):
    s = make_pair(x) + [x * x]  # a list of arrays, from a helper, joined
    return np.sum(np.stack(s) * W6[:3, None])


@pytest.mark.parametrize(
    "function",
    [
        helper_list_then_join,
        join_then_helper_list,
        two_helper_lists,
        helper_tuples,
        helper_list_extended,
        helper_list_repeated,
        helper_numbers_added,
        helper_arrays,
    ],
)
def test_kinds_not_known(function):
    check(function, X4)


def list_argument(xs, y):
    s = xs + [y]  # xs is a list argument: its kind is not known
    t = s * 2
    return t[0] * t[-1] + t[1] * t[3]


def test_list_argument():
    xs = [0.3, -1.2]
    gradient = grad(list_argument, wrt=1)(xs, 0.8)
    # t = [x0, x1, y, x0, x1, y]: t0*t5 + t1*t3 = x0*y + x1*x0
    assert gradient == pytest.approx(xs[0], rel=1e-12)
    check(list_argument, xs, 0.8, wrt=1)


def test_dynamic_code_is_generated_where_kinds_are_not_known():
    source = grad(helper_list_then_join).source_for(X4)
    assert "add_adjoint_left" in source and "unbroadcast(" not in source.split("backward")[1]
    known = grad(lcat).source_for(X4)
    assert "head_adjoint" in known and "add_adjoint" not in known


# -- floats and 0-d arrays agree -------------------------------------------------------------
def scalars_joined(a, b):
    s = [a, b * a]
    t = s + [b] + s * 2
    u = (a,) + (b,)
    t += [u[1]]
    return t[0] * t[2] + t[4] * t[5] - t[-1] * t[1]


@pytest.mark.parametrize("point", [(0.7, -1.3), (2.0, 0.5)])
def test_floats_and_0d_arrays_agree(point):
    a, b = point
    from_floats = grad(scalars_joined, wrt=(0, 1))(a, b)
    from_arrays = grad(scalars_joined, wrt=(0, 1))(np.array(a), np.array(b))
    expected = numerical_gradient(scalars_joined, [a, b], (0, 1))
    for f, arr, n in zip(from_floats, from_arrays, expected, strict=True):
        assert isinstance(f, float)
        assert f == pytest.approx(n, rel=1e-7)
        assert float(arr) == pytest.approx(f, rel=1e-12)
    check(scalars_joined, a, b, wrt=(0, 1))
    check(scalars_joined, np.array(a), np.array(b), wrt=(0, 1))


# -- a list that grows through another name -------------------------------------------------
def extend_helper(store, values):
    store.extend(values)


def alias_own_appends(x, z):
    l0 = [x]
    l1 = l0
    l0.append(z)
    l1.append(z * x)
    return l1[-1] * l0[0] + l1[1]


def alias_chain(x, z):
    a = [x]
    b = a
    c = b
    a.append(z)
    stash(c, x * z)
    b.append(z * z)
    return c[-1] + c[1] * a[2] + b[0]


def alias_helper_extend(x, z):
    l0 = [x * z]
    l1 = l0
    extend_helper(l1, [z, x])
    l0.append(z)
    return l0[1] * l1[2] + l1[-1] * l0[0]


def alias_helper_in_loop(x, z):
    l0 = [x]
    l1 = l0
    for k in range(3):
        stash(l1, z * k)
        l0.append(x * k)
    return _weighted(l1) * l0[0]


@pytest.mark.parametrize(
    "function", [s11, alias_own_appends, alias_chain, alias_helper_extend, alias_helper_in_loop]
)
def test_lists_grown_through_another_name(function):
    check(function, 0.5, 2.0, wrt=(0, 1))
    check(function, -1.25, 0.75, wrt=(0, 1))


def aliased_list_iadd(x):
    s = [x[0]]
    b = s
    s += [x[1]]  # b sees the change in place
    return b[1] * b[0]


def test_aliased_list_iadd_reaches_the_alias():
    # b[1] * b[0] = x1 * x0 (the other name follows the in-place extension)
    check(aliased_list_iadd, X2)
    np.testing.assert_allclose(grad(aliased_list_iadd)(X2), [X2[1], X2[0]])


def test_operators_without_rules_are_refused():
    import operator

    def concat(x):
        t = operator.concat([x[0]], [x[1]])
        return t[0] * t[1]

    with pytest.raises(ADTransformError):
        grad(concat)(X2)  # [*s, t] is differentiated: tests/test_constructs_containers.py


def test_value_is_exact():
    # repeated and joined values are the function's own (no arithmetic on lists)
    assert value_and_grad(join_lengths)(X4)[0] == join_lengths(X4)
    assert math.isfinite(value_and_grad(repeat_nested)(X4)[0])


def put_first(buf, v):
    buf[0] = v


def array_alias_then_helper_write(x):
    a = x * 1.0
    b = a
    put_first(b, x[1])  # a sees the write: a = [x1, x1, x2, x3]
    return np.sum(a * x)


def array_view_then_helper_write(x):
    a = x * 1.0
    v = a[1:]
    put_first(a, x[2] * x[2])  # a view of a after the write
    return np.sum(v * a[1:]) + a[0] * v[0]


@pytest.mark.parametrize("function", [array_alias_then_helper_write, array_view_then_helper_write])
def test_array_changed_by_a_helper_through_another_name(function):
    check(function, X4)


def test_array_alias_helper_write_by_calculus():
    x = X4
    expected = x.copy()  # sum(a * x) with a = [x1, x1, x2, x3]
    expected[0] = x[1]
    expected[1] = x[0] + 2 * x[1]
    expected[2:] = 2 * x[2:]
    np.testing.assert_allclose(grad(array_alias_then_helper_write)(x), expected, rtol=1e-12)


def test_list_slice_then_helper_append_by_calculus():
    def f(x):
        s = [x[0], x[1]]
        v = s[0:]  # a slice of a list is a new list: the append does not reach it
        stash(s, x[0])
        return v[-1] * s[-1]  # x1 * x0

    np.testing.assert_allclose(grad(f)(X2), [X2[1], X2[0]], rtol=1e-12)


def test_list_held_twice_then_helper_append_is_refused():
    def f(x):
        s = [x[0], x[1]]
        v = [s, s][0]  # the list itself: the append reaches it
        stash(s, x[0])
        return v[-1] * s[-1]

    with pytest.raises(ADTransformError, match=r"stash\(\), which changes 's' in place"):
        grad(f)(X2)


def test_export_of_joins(tmp_path):
    import importlib.util
    import sys

    module = tmp_path / "joins_module.py"
    module.write_text(
        "def make_pair(v):\n"
        "    return [v, v * 2.0]\n\n\n"
        "def f(x):\n"
        "    s = make_pair(x[0]) + [x[1]]\n"
        "    t = [x[0]] * 2 + s\n"
        "    r = sum([[x[1]], [x[0]]], [])\n"
        "    return s[0] * s[2] + s[1] + t[1] * t[4] + r[0] * r[1]\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        from joins_module import f

        from ad_transform import export

        path = export(f, tmp_path / "grad_joins.py")
        spec = importlib.util.spec_from_file_location("grad_joins", path)
        exported = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(exported)
        assert "from ad_transform" not in path.read_text()
        np.testing.assert_allclose(exported.grad_f(X2), numerical_gradient(f, [X2]), rtol=1e-7)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("joins_module", None)


def recurrence(x, a):
    out = np.zeros(x.shape[0])
    out[0] = x[0]
    for i in range(1, x.shape[0]):
        out[i] = a * out[i - 1] + x[i]  # items of arrays: never lists
    return np.sum(out * out)


def test_array_items_keep_inline_adjoints():
    source = grad(recurrence, wrt=(0, 1)).source_for(X4, 0.9)
    assert "add_adjoint" not in source and "mul_adjoint" not in source
    check(recurrence, X4, 0.9, wrt=(0, 1))


def tuple_augmented(x):
    t = (x[0],)
    t += (x[1],)  # tuples are rebound, not changed
    t *= 2
    return t[0] * t[3] + t[2]


def iterate_over_join(x):
    total = 0.0
    for v, w in zip([x[0]] * 2 + [x[1], x[2]], [1.0, 2.0, 3.0, -1.5]):
        total = total + v * w * x[3]
    return total


def unpack_join(x):
    a, b, c = (x[0],) + (x[1], x[2] * x[3])
    return a * b * c


@pytest.mark.parametrize("function", [tuple_augmented, iterate_over_join, unpack_join])
def test_joins_used_by_other_constructs(function):
    check(function, X4)
