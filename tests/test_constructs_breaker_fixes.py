"""Regression tests for the issue-12 breaker findings (W1-W3, C1-C6, R1/R4/R5/R12, D1).

Expected gradients come from central finite differences in float64 (``check_grad``) or
from calculus written out in the test; the value ``value_and_grad`` returns is compared
with a direct call of the function. Points are away from kinks, poles and ties unless a
test is about them.
"""

from __future__ import annotations

import contextlib
import itertools

import numpy as np
import pytest
from gradcheck import check_grad

from ad_transform import ADTransformError, grad, value_and_grad


def check(f, args, wrt=0):
    """``check_grad`` plus the value of ``value_and_grad`` against a direct call."""
    expected = f(*args)
    value, _ = value_and_grad(f, wrt=wrt)(*args)
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    return check_grad(f, args, wrt)


class Swallow:
    """A user context manager whose ``__exit__`` suppresses every exception."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return True


# -- W1: a comprehension cut short by an exception a `with`/`try` swallows ----------------
def comp_in_suppress(x):
    ys = [x]
    with contextlib.suppress(ZeroDivisionError):
        ys = [v / (v - 1.0) for v in [x, 1.0]]  # raises on the second element
    return sum(ys)


def comp_in_user_manager(x):
    ys = [x * 2.0]
    with Swallow():
        ys = [v / (v - 1.0) for v in [x, 1.0]]
    return sum(ys) * x


def nested_comp_in_suppress(x):
    ys = [x]
    with contextlib.suppress(ZeroDivisionError):
        ys = [[v / (v - w) for v in [x, 1.0]] for w in [2.0, 1.0]][0]  # noqa: RUF015
    return sum(ys)


def comp_in_suppress_loop(x):
    out = 0.0
    for k in range(2):
        ys = [x * k]
        with contextlib.suppress(ZeroDivisionError):
            ys = [v / (v - 1.0) for v in [x, 1.0 if k == 1 else 2.0]]
        out = out + sum(ys)
    return out


def comp_in_try(x):
    ys = [x * 3.0]
    try:  # noqa: SIM105 (the try form is what is tested)
        ys = [v / (v - 1.0) for v in [x, 1.0]]
    except ZeroDivisionError:
        pass
    return sum(ys) * x


def comp_in_try_completes(x, y):
    try:
        ys = [v * y for v in x]
        r = sum(ys)
    except ZeroDivisionError:
        r = y
    return r


def comp_in_errstate(x, y):
    with np.errstate(all="ignore"):
        ys = [v * y for v in x]
    return sum(ys)


def suppress_helper(x):
    ys = [x]
    with contextlib.suppress(ZeroDivisionError):
        ys = [v / (v - 1.0) for v in [x, 1.0]]
    return sum(ys)


def calls_suppress_helper(x):
    return suppress_helper(x) * 3.0


def any_in_suppress(x):
    found = False
    with contextlib.suppress(ZeroDivisionError):
        found = any(1.0 / (v - 1.0) > 5.0 for v in [1.5, 1.0, 1.1])
    return x * (2.0 if found else 3.0)


def solve_in_suppress(s):
    b = np.array([1.0, 2.0])
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    sols = [b * s]
    with contextlib.suppress(np.linalg.LinAlgError):
        sols = [np.linalg.solve(A, b) for A in (np.eye(2) * s, singular)]
    return sum(np.sum(v**2) for v in sols)


def test_w1_comprehension_cut_short_keeps_old_value():
    # Python keeps ys = [x]: value x, derivative 1
    value, g = value_and_grad(comp_in_suppress)(0.5)
    assert value == 0.5 and g == 1.0
    check(comp_in_suppress, (0.5,))


@pytest.mark.parametrize(
    "f",
    [comp_in_user_manager, nested_comp_in_suppress, comp_in_suppress_loop, comp_in_try],
)
def test_w1_forms(f):
    check(f, (0.5,))


def test_w1_inside_a_helper():
    check(calls_suppress_helper, (0.5,))
    np.testing.assert_allclose(grad(calls_suppress_helper)(0.5), 3.0)


def test_w1_any_cut_short():
    np.testing.assert_allclose(grad(any_in_suppress)(0.5), 3.0)


def test_w1_solve_with_singular_matrix():
    # sols stays [b * s]: sum((b s)^2) = 5 s^2, derivative 10 s
    value, g = value_and_grad(solve_in_suppress)(0.7)
    np.testing.assert_allclose(value, 5.0 * 0.49)
    np.testing.assert_allclose(g, 7.0)


def test_r4_comprehension_in_try_and_with_bodies():
    x = np.array([0.4, -1.1, 2.3])
    for f in (comp_in_try_completes, comp_in_errstate):
        gx, gy = check(f, (x, 1.3), wrt=(0, 1))
        np.testing.assert_allclose(gx, [1.3, 1.3, 1.3])
        np.testing.assert_allclose(gy, np.sum(x))


# -- W3, C2: max/min/sorted with key= iterate the iterable once, as Python does -----------
def argmax_of_dict(x, y):
    scores = {1: x * 2.0, 0: x * x}
    best = max(scores, key=lambda k: scores[k])  # the key 1
    return y * best


def sorted_dict_by_value(x, y):
    scores = {1: x * 2.0, 0: x * x, 2: x}
    order = sorted(scores, key=lambda k: scores[k])  # [0, 2, 1] at x = 0.5
    return y * order[0] + order[2] * x


def min_dict_constant_key(x):
    d = {2: x * 5.0, 0: x}
    return x * min(d, key=lambda k: -k)  # the key 2


def argmax_of_items(x, y):
    d = {"a": x, "b": y * 2.0}
    _k, v = max(d.items(), key=lambda kv: kv[1])
    return v * x


def sorted_items_reverse(x, y):
    d = {"a": x, "b": y * 2.0, "c": x * y}
    ranked = sorted(d.items(), key=lambda kv: kv[1], reverse=True)
    return ranked[0][1] * 3.0 + ranked[2][1]


def max_of_values(x, y):
    d = {"a": x, "b": y * -2.0}
    return max(d.values(), key=abs) * x


def min_of_keys(x):
    d = {"long": x, "s": x * 3.0}
    return d[min(d.keys(), key=len)] * x


def best_pair(x):
    pairs = itertools.combinations(range(len(x)), 2)
    best = max(pairs, key=lambda p: x[p[0]] * x[p[1]])
    return x[best[0]] * x[best[1]]


def sorted_zip(x, y):
    rows = sorted(zip(x, y), key=lambda r: r[1])
    return rows[0][0] * 2.0 + rows[-1][0]


def test_w3_argmax_of_dict_returns_the_key():
    value, (gx, gy) = value_and_grad(argmax_of_dict, wrt=(0, 1))(0.5, 3.0)
    assert value == 3.0 and gx == 0.0 and gy == 1.0


def test_w3_sorted_dict_by_value():
    # order [0, 2, 1]: y * 0 + 1 * x -> (1, 0)
    value, grads = value_and_grad(sorted_dict_by_value, wrt=(0, 1))(0.5, 3.0)
    assert value == 0.5 and grads == (1.0, 0.0)


def test_w3_constant_key_of_dict():
    value, g = value_and_grad(min_dict_constant_key)(0.5)
    assert value == 1.0 and g == 2.0


@pytest.mark.parametrize(
    "f, args",
    [
        (argmax_of_items, (0.4, 1.2)),
        (sorted_items_reverse, (0.4, 1.2)),
        (max_of_values, (0.4, 1.2)),
    ],
)
def test_c2_key_over_views_and_iterators(f, args):
    check(f, args, wrt=(0, 1))


def test_c2_key_over_zip_of_active_values_is_refused():
    x, y = np.array([0.3, 1.7, -0.4]), np.array([2.0, -1.0, 0.5])
    with pytest.raises(ADTransformError, match="zip"):
        grad(sorted_zip, wrt=(0, 1))(x, y)


def test_c2_key_over_keys_and_combinations():
    check(min_of_keys, (0.4,))
    x = np.array([0.3, -1.2, 0.8, 1.5])
    g = check(best_pair, (x,))
    np.testing.assert_allclose(g, [0.0, 0.0, 1.5, 0.8])  # best pair (2, 3): x2 * x3


# -- W2: np.vectorize hands the function Python numbers and follows NumPy's dtype rule ----
def safe_inv(v):
    try:
        return 1.0 / v
    except ZeroDivisionError:
        return 0.0


def vectorized_safe_inv(x):
    return np.sum(np.vectorize(safe_inv)(x) * x)


def vectorized_type_test(x):
    kind = lambda v: 1.0 if type(v) is float else 2.0  # noqa: E731
    return np.sum(np.vectorize(kind)(x) * x)


def relu_int(v):
    return v if v > 0 else 0


def vectorized_int_first(x):
    return np.sum(np.vectorize(relu_int)(x) * 3.0)


def vectorized_square(x):
    return np.sum(np.vectorize(lambda v: v * v + 1.0)(x.reshape(2, 2)))


def test_w2_vectorize_passes_python_floats():
    x = np.array([0.5, 0.0, 2.0])
    # v * (1 / v) = 1 for v != 0, 0 at v = 0: piecewise constant
    value, g = value_and_grad(vectorized_safe_inv)(x)
    assert value == 2.0
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])
    value, g = value_and_grad(vectorized_type_test)(np.array([0.5, 1.5, 0.5]))
    assert value == 2.5
    np.testing.assert_array_equal(g, [1.0, 1.0, 1.0])


def test_w2_vectorize_int_first_result_is_refused():
    with pytest.raises(ADTransformError, match=r"np\.vectorize\(relu_int\).*first result.*int 0"):
        grad(vectorized_int_first)(np.array([-1.0, 0.5, 2.5]))


def test_w2_vectorize_float_results_still_differentiated():
    x = np.array([0.3, -1.2, 0.8, 2.0])
    np.testing.assert_allclose(check(vectorized_square, (x,)), 2.0 * x)
    # the first result a float: later int results are cast to float, as NumPy does
    np.testing.assert_allclose(
        check(vectorized_int_first, (np.array([1.5, -0.5, 2.5]),)), [3.0, 0.0, 3.0]
    )


# -- C1: the adjoint of a dict's items view taken through list/sorted/tuple --------------
def list_of_items(x, y):
    d = {"a": x, "b": y}
    its = list(d.items())
    return its[0][1] * its[1][1]


def loop_over_sorted_items(x, y):
    d = {"b": x, "a": y}
    out = 0.0
    for _k, v in sorted(d.items()):
        out = out + v * v * (2.0 if _k == "a" else 1.0)
    return out


def sorted_items_of_arrays(w, b):
    layers = {"w": w * 2.0, "b": b}
    total = 0.0
    for _name, p in sorted(layers.items()):
        total = total + np.sum(p**2)
    return total


def test_c1_list_and_sorted_of_items():
    gx, gy = check(list_of_items, (0.4, 1.2), wrt=(0, 1))
    assert (gx, gy) == (1.2, 0.4)
    gx, gy = check(loop_over_sorted_items, (0.4, 1.2), wrt=(0, 1))
    np.testing.assert_allclose((gx, gy), (0.8, 4.8))
    w, b = np.array([0.3, -1.1]), np.array([0.5, 2.0, -0.7])
    gw, gb = check(sorted_items_of_arrays, (w, b), wrt=(0, 1))
    np.testing.assert_allclose(gw, 8.0 * w)
    np.testing.assert_allclose(gb, 2.0 * b)


# -- C5: max/min of tuples or lists (compared item by item) ---------------------------------
def max_of_tuples(x, y):
    return max([(x, 1.0), (y, 2.0)])[0] * 3.0


def min_of_tuples_unpacked(x, y):
    a, b = min([(x, y), (y, 2.0 * x)])
    return a * b


def max_of_lists(x, y):
    return max([[x, y], [y, x]])[1] * 5.0


def max_item_by_key(x, y):
    d = {"a": x, "b": y}
    return max(d.items())[1] * 2.0  # the item with the largest key, ("b", y)


@pytest.mark.parametrize(
    "f, expected",
    [
        (max_of_tuples, (3.0, 0.0)),  # x > y: 3x
        (min_of_tuples_unpacked, (2.0 * 0.3, 2.0 * 0.7)),  # (y, 2x): 2xy
        (max_of_lists, (0.0, 5.0)),  # [x, y]: 5y
        (max_item_by_key, (0.0, 2.0)),
    ],
)
def test_c5_extreme_of_sequences(f, expected):
    np.testing.assert_allclose(check(f, (0.7, 0.3), wrt=(0, 1)), expected)


# -- C3: unpacking iterates the value as Python does (views, dicts), and checks the count -
def unpack_values(x, y):
    d = {"a": x, "b": y * 2.0}
    a, b = d.values()
    return a * 10.0 + b


def unpack_items(x, y):
    d = {"a": x, "b": y * 2.0}
    (_k1, v1), (_k2, v2) = d.items()
    return v1 * 10.0 + v2


def unpack_dict_keys(x):
    d = {2: x * 5.0, 0: x}
    a, b = d  # the keys 2, 0
    return x * a + b


def sum_of_dict(x):
    d = {2: x * 5.0, 0: x}
    return x * sum(d)  # the sum of the keys


def list_of_dict(x):
    d = {2: x * 5.0, 0: x}
    return x * list(d)[0] + x * sorted(d)[1]  # noqa: RUF015


def unpack_too_many(x):
    a, b = [x, x * 2.0, x * 3.0]
    return a * b


def unpack_too_many_caught(x):
    xs = [x, x * 2.0, x * 3.0]
    try:
        a, b = xs
    except ValueError:
        a, b = xs[1], xs[2]
    return a * b


def unpack_array(x):
    a, b = x * 2.0
    return a * b


def test_c3_unpack_views():
    for f in (unpack_values, unpack_items):
        np.testing.assert_allclose(check(f, (0.7, 1.3), wrt=(0, 1)), (10.0, 2.0))


def test_c3_dict_as_iterable_of_its_keys():
    # 2x + 0, x * (2 + 0), 2x + 2x: the keys are constants
    for f, slope in ((unpack_dict_keys, 2.0), (sum_of_dict, 2.0), (list_of_dict, 4.0)):
        value, g = value_and_grad(f)(0.5)
        assert value == f(0.5) and g == slope
        check(f, (0.5,))


def test_c3_unpacking_checks_the_count():
    with pytest.raises(ValueError, match="too many values to unpack"):
        grad(unpack_too_many)(0.5)
    # the handler runs, as in Python: a, b = 2x, 3x -> 6x^2, derivative 12x
    np.testing.assert_allclose(check(unpack_too_many_caught, (0.5,)), 6.0)
    np.testing.assert_allclose(check(unpack_array, (np.array([0.3, -1.4]),)), [4 * -1.4, 4 * 0.3])


# -- C4: the backward sweep of an errstate body neither raises nor warns ------------------
def norm_under_raise(x):
    with np.errstate(all="raise"):
        r = np.sqrt(np.sum(x**2))  # a hand-written norm, at the origin
    return r


def root_sum_under_raise(x):
    with np.errstate(all="raise"):
        r = np.sum(np.abs(x) ** 0.5)
    return r


def test_c4_errstate_raise_body_adjoint_does_not_raise():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning from the adjoint code either
        value, g = value_and_grad(norm_under_raise)(np.zeros(2))
        assert value == 0.0
        assert np.all(np.isnan(g))  # undefined at the origin: NaN (d/dx of |x| there)
        value, g = value_and_grad(root_sum_under_raise)(np.array([0.0, 4.0]))
        assert value == 2.0
        assert np.isnan(g[0]) and g[1] == 0.25  # d sqrt(v)/dv = 1 / (2 sqrt(4))
    # away from the origin the gradient is still exact: x / |x|
    x = np.array([0.6, -0.8])
    np.testing.assert_allclose(check(norm_under_raise, (x,)), x)


# -- C6: export of a function calling a lambda held in an expression ----------------------
def key_lambda_in_return(x):
    return max(x, key=lambda v: v * v) * 2.0


def key_lambda_in_assignment(x, a):
    s = sorted(x, key=lambda v: -v)
    first, *rest = s
    return first * a + sum(rest) * a * a


@pytest.mark.parametrize("f", [key_lambda_in_return, key_lambda_in_assignment])
def test_c6_export_of_lambda_in_expression_is_refused(f, tmp_path):
    from ad_transform import export

    with pytest.raises(ADTransformError, match=r"lambda at test_constructs_breaker_fixes\.py:\d+"):
        export(f, tmp_path / "exported.py")


# -- R5: enumerate(x, start=...) with the keyword ----------------------------------------
def enumerate_start_keyword(x):
    return sum(k * v for k, v in enumerate(x, start=1))


def enumerate_start_keyword_loop(x):
    s = 0.0
    for k, v in enumerate(x, start=2):
        s = s + k * v * v
    return s


def test_r5_enumerate_start_keyword():
    x = np.array([0.4, -1.3, 2.2])
    np.testing.assert_allclose(check(enumerate_start_keyword, (x,)), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(check(enumerate_start_keyword_loop, (x,)), 2.0 * x * [2, 3, 4])


# -- R12: a set display of constants -------------------------------------------------------
def filter_by_constant_set(x):
    ok = {"a", "b"}
    d = {"a": x, "c": x * 3.0, "b": x * x}
    return sum(v for k, v in d.items() if k in ok)


def membership_in_int_set(x):
    total = 0.0
    for i in range(4):
        if i in {1, 3}:
            total = total + x[i] * 2.0
    return total


def set_of_active_values(x):
    return len({x, x * 2.0}) * x


def test_r12_set_of_constants():
    np.testing.assert_allclose(check(filter_by_constant_set, (0.7,)), 1.0 + 2 * 0.7)
    np.testing.assert_allclose(
        check(membership_in_int_set, (np.array([0.3, 1.1, -0.4, 2.0]),)), [0, 2.0, 0, 2.0]
    )
    with pytest.raises(ADTransformError, match="set display"):
        grad(set_of_active_values)(0.7)


# -- R1: zip/enumerate loops inside try and with bodies ----------------------------------
def zip_loop_in_try(x, y):
    s = 0.0
    try:
        for a, b in zip(x, y):
            s = s + a * b
    except ValueError:
        s = -s
    return s


def enumerate_loop_in_with(x):
    s = 0.0
    with np.errstate(all="ignore"):
        for i, v in enumerate(x, start=1):
            s = s + i * v * v
    return s


def zip_loop_in_try_raising(x, y):
    s = 0.0
    try:
        for a, b in zip(x, y):
            s = s + a * b
            if s > 1.0:
                raise ValueError("large")
    except ValueError:
        s = s * 10.0
    return s


def test_r1_zip_enumerate_loops_in_try_and_with():
    x, y = np.array([0.3, -0.7, 1.1]), np.array([1.2, 0.4, -0.5])
    gx, gy = check(zip_loop_in_try, (x, y), wrt=(0, 1))
    np.testing.assert_allclose(gx, y)
    np.testing.assert_allclose(gy, x)
    np.testing.assert_allclose(check(enumerate_loop_in_with, (x,)), 2.0 * x * [1, 2, 3])
    # raises after the first element: s = 10 * x0 * y0
    gx, gy = check(
        zip_loop_in_try_raising, (np.array([2.0, 0.5]), np.array([0.7, 1.0])), wrt=(0, 1)
    )
    np.testing.assert_allclose(gx, [7.0, 0.0])
    np.testing.assert_allclose(gy, [20.0, 0.0])


# -- W1 sibling: ':=' in a statement of a try/with body that raises after binding ---------
def walrus_then_raise(x):
    a = x
    try:
        r = (a := x * 2.0) / (x - x)  # Python binds a = 2x, then raises
    except ZeroDivisionError:
        r = 1.0
    return a * r


def walrus_in_comprehension_cut_short(x, y):
    last = y
    ys = [x]
    with contextlib.suppress(ZeroDivisionError):
        ys = [(last := v * y) / (v - 1.0) for v in [x, 1.0]]
    return sum(ys) + last * x


def test_w1_walrus_in_protected_statement_is_refused():
    with pytest.raises(ADTransformError, match="':=' of 'a' inside a 'try' or 'with' body"):
        grad(walrus_then_raise)(0.5)
    with pytest.raises(ADTransformError, match="':=' of 'last'"):
        grad(walrus_in_comprehension_cut_short, wrt=(0, 1))(0.7, 1.3)


# -- list(x) is a new list, but an array's rows in it are views of the array --------------
def rows_then_write(x):
    A = x * 1.0
    rows = list(A)
    A[0] = A[1] * 3.0  # rows[0] is a view of A's first row: it sees the write
    return np.sum(rows[0] * rows[1])


def list_copy_then_append(x):
    ys = [x, x * 2.0]
    zs = list(ys)
    zs.append(x * x)  # changes zs only
    return sum(ys) * 10.0 + sum(zs)


def test_list_of_array_rows_keeps_the_alias_refusal():
    with pytest.raises(ADTransformError, match="cannot assign into items of 'A': 'rows'"):
        grad(rows_then_write)(np.array([[0.5, 1.0], [2.0, -1.0]]))


def test_list_copy_is_a_new_list():
    # 30x + 3x + x^2: 33 + 2x
    np.testing.assert_allclose(check(list_copy_then_append, (0.7,)), 33.0 + 1.4)
