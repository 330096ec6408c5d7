"""Comprehensions: list, set and generator comprehensions, lowered to loops with append.

Every gradient is compared with central finite differences in float64 (``check_grad``),
array-valued results with the dot-product test, and the value of ``value_and_grad``
with a direct call of the function. Points are away from filter boundaries, so a
finite difference never crosses a change of path. Expected values never come from the
tool's own output.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import check_grad, check_vjp_dot_product

from ad_transform import ADTransformError, grad, value_and_grad

XS = [0.7, -1.3, 2.1, 0.4]
ROWS = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7], [-0.2, 0.9, 1.1], [0.8, -0.6, 0.25]])
W = np.array([0.3, -0.8, 1.7])


def check(f, args, wrt=0):
    """``check_grad`` plus the value ``value_and_grad`` returns against a direct call."""
    expected = f(*args)
    value, _ = value_and_grad(f, wrt=wrt)(*args)
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    return check_grad(f, args, wrt)


# -- list comprehensions ---------------------------------------------------------------------
def comp_over_range(x, n):
    squares = [x * x * i for i in range(n)]
    return sum(squares) + x


def comp_filtered(x, n):
    odd = [x**i for i in range(n) if i % 2 == 1]
    return sum(odd) + x


def comp_filter_on_active(x, xs):
    big = [v * x for v in xs if v * x > 0.5]
    return sum(big) + 0.1 * x


def comp_two_filters(x, n):
    return sum([x * i for i in range(n) if i % 2 == 0 if i > 1]) + x


@pytest.mark.parametrize("n", [0, 1, 5])
def test_list_comprehension_over_range(n):
    assert check(comp_over_range, (1.3, n)) == pytest.approx(1 + 2 * 1.3 * sum(range(n)))


@pytest.mark.parametrize("n", [0, 1, 2, 6])
def test_filter_taken_and_not_taken(n):
    check(comp_filtered, (1.2, n))
    check(comp_two_filters, (1.2, n))


@pytest.mark.parametrize("x", [0.9, -0.9, 0.05])
def test_filter_on_an_active_value(x):
    check(comp_filter_on_active, (x, XS))  # x = 0.05: no element passes the filter


def comp_over_list(x, xs):
    return sum([v * x * x for v in xs])


def comp_over_tuple(x, pair):
    return sum([np.sin(v * x) for v in pair])


def comp_over_elements(x, a):
    return sum([e * np.exp(x * e) for e in a])


def comp_over_rows(w, X):
    return np.sum(np.stack([w * r for r in X]) ** 2)


def comp_rows_output(w, X):
    return np.stack([np.tanh(w * r) for r in X])


def comp_over_argument_list(xs, c):
    return sum([np.cos(v) * c for v in xs])


def test_over_lists_tuples_and_arrays():
    check(comp_over_list, (0.8, XS))
    check(comp_over_list, (0.8, []))
    check(comp_over_tuple, (1.1, (0.5, -2.0)))
    check(comp_over_elements, (0.3, np.array(XS)))
    check(comp_over_elements, (0.3, np.zeros(0)))
    check(comp_over_rows, (W, ROWS))
    check(comp_over_rows, (W, ROWS), wrt=1)
    check_vjp_dot_product(comp_rows_output, (W, ROWS), wrt=(0, 1))


def test_gradient_with_respect_to_the_iterated_array():
    check(comp_over_elements, (0.3, np.array(XS)), wrt=1)


def comp_zip(x, xs, ys):
    return sum([a * x + b * b * x for a, b in zip(xs, ys)])


def comp_enumerate(x, xs):
    return sum([(i + 1) * np.sin(a * x) for i, a in enumerate(xs)])


def comp_enumerate_start(x, xs):
    return sum([i * a * x for i, a in enumerate(xs, 2)])


def comp_enumerate_zip(x, xs, ys):
    return sum([i * a * b * x for i, (a, b) in enumerate(zip(xs, ys))])


def test_zip_and_enumerate():
    ys = [1.5, 0.25, -0.5, 2.0]
    check(comp_zip, (0.7, XS, ys))
    check(comp_zip, (0.7, np.array(XS), np.array(ys)), wrt=(0, 1, 2))
    check(comp_enumerate, (0.7, XS))
    check(comp_enumerate_start, (0.7, XS))
    check(comp_enumerate_zip, (0.7, XS, ys))
    check(comp_zip, (0.7, [], []))


def comp_nested_for(x, xs):
    return sum([a * b * x for a in xs for b in xs if a < b])


def comp_inner_iterates_outer(x, n):
    return sum([x**j * i for i in range(n) for j in range(i)])


def test_nested_for_clauses():
    check(comp_nested_for, (1.3, XS))
    check(comp_nested_for, (1.3, np.array(XS)), wrt=(0, 1))
    check(comp_inner_iterates_outer, (0.9, 5))
    check(comp_inner_iterates_outer, (0.9, 0))


# -- generator expressions -------------------------------------------------------------------
def gen_sum(x, n):
    return sum(x**i for i in range(n) if i % 2 == 1)


def gen_sum_start(x, xs):
    return sum((v * x for v in xs), x * x)


def gen_loss(w, X, y):
    preds = [np.dot(w, r) for r in X]
    return sum((p - t) ** 2 for p, t in zip(preds, y) if t > 0)


def gen_array_elements(w, X):
    return np.sum(sum(w * r for r in X) ** 2)


def test_generator_in_sum():
    check(gen_sum, (1.4, 6))
    check(gen_sum, (1.4, 0))
    check(gen_sum_start, (0.6, XS))
    check(gen_sum_start, (0.6, []))
    y = np.array([1.0, -1.0, 2.0, 0.5])
    check(gen_loss, (W, ROWS, y))
    check(gen_loss, (W, ROWS, y), wrt=(0, 1))
    check(gen_array_elements, (W, ROWS), wrt=(0, 1))


def gen_list(x, n):
    ys = list(x * i for i in range(n))
    return ys[-1] + sum(ys)


def gen_tuple_of_constants(x, n):
    shape = tuple(2 * i for i in range(n))
    return x * len(shape) + x * shape[-1]


def gen_sorted_constants(x, n):
    order = sorted((i * 7) % 5 for i in range(n))
    return sum([x**k for k in order])


def test_generator_in_list_tuple_sorted():
    check(gen_list, (0.9, 4))
    assert check(gen_tuple_of_constants, (0.9, 4)) == pytest.approx(4 + 6)
    check(gen_sorted_constants, (0.9, 4))


def gen_tuple_active(x, n):
    t = tuple(x * i for i in range(n))
    return t[1] * t[2]


def gen_max(x, xs):
    return max(v * x for v in xs)


def gen_min(x, xs):
    return min(v * x for v in xs)


@pytest.mark.parametrize("f", [gen_tuple_active, gen_max, gen_min])
def test_generator_in_tuple_max_min(f):
    check(f, (0.9, XS) if f is not gen_tuple_active else (0.9, 4))


# -- any / all: a loop that stops where they stop ----------------------------------------------
def gen_any(x, xs):
    if any(v * x > 1.0 for v in xs):
        return x * x
    return 3.0 * x


def gen_all(x, xs):
    positive = all(v * x > 0.0 for v in xs)
    if positive:
        return x * x
    return 3.0 * x


def gen_any_stops(x, xs):
    # 1.0 / 0.0 raises for Python floats: only a short-circuiting any gets past it
    return x * 2.0 if any(1.0 / v > 1.0 for v in xs) else x


def gen_any_nested_stops(x, xs, ys):
    found = any(a / b > 1.0 for a in xs for b in ys)
    return x * 2.0 if found else x


@pytest.mark.parametrize("x", [0.3, 1.5, -2.0])
def test_any_and_all_taken_and_not_taken(x):
    check(gen_any, (x, XS))
    check(gen_all, (x, [0.5, 1.5]))
    check(gen_all, (x, XS))
    check(gen_any, (x, []))  # any of nothing is False
    check(gen_all, (x, []))  # all of nothing is True


def test_any_stops_at_the_first_true_element():
    assert check(gen_any_stops, (0.7, [0.5, 0.0])) == pytest.approx(2.0)
    assert check(gen_any_nested_stops, (0.7, [2.0, 1.0], [1.0, 0.0])) == pytest.approx(2.0)


# -- set comprehensions ------------------------------------------------------------------------
def set_of_constants(x, n):
    residues = {i % 3 for i in range(n)}
    return x * len(residues)


def set_of_active_values(x, xs):
    values = {v * x for v in xs}
    return len(values) * x


def test_set_comprehension_of_constants():
    assert check(set_of_constants, (1.7, 5)) == pytest.approx(3.0)
    assert check(set_of_constants, (1.7, 0)) == pytest.approx(0.0)


def test_set_comprehension_of_active_values():
    # sets of differentiated values are supported since the follow-up of issue 12
    # (tests/test_constructs_rest.py); d/dx (len(values) * x) = len(values)
    assert check(set_of_active_values, (1.7, XS)) == pytest.approx(4.0)


# -- nesting, loops, helpers, scoping ------------------------------------------------------------
def nested_reduced(x, n):
    return sum([sum(x * i * j for j in range(i)) for i in range(n)])


def nested_arrays(x, n):
    rows = [np.array([x * i * j for j in range(3)]) for i in range(n)]
    return np.sum(np.stack(rows) ** 2)


def nested_in_filter(x, xs):
    return sum([v * x for v in xs if v * x > sum([w * x for w in xs]) / len(xs)])


def nested_shadowing(x, xs):
    # the inner v is the inner comprehension's own; the outer v is read after it
    return sum([sum([v * v for v in xs]) * v * x for v in xs])


def test_nested_comprehensions():
    check(nested_reduced, (1.3, 4))
    check(nested_arrays, (1.3, 3))
    check(nested_in_filter, (0.8, [3.0, 1.0, 2.0]))
    check(nested_shadowing, (0.8, XS))


def list_of_lists(x, n):
    rows = [[x * i * j for j in range(i)] for i in range(n)]
    return sum(sum(r) for r in rows) + rows[3][1] * rows[2][1]


def matrix_of_comprehensions(x, n):
    matrix = np.array([[np.sin(x * i + j) for j in range(3)] for i in range(n)])
    return np.sum(matrix**2)


def pairs_of_lists(x, xs):
    pairs = [([v * x, v], v * v * x) for v in xs]
    return sum(first[0] * second for first, second in pairs)


def appended_in_a_user_loop(x, n):
    rows = []
    for i in range(n):
        rows.append([x**j * i for j in range(3)])
    return sum(r[1] * r[2] for r in rows)


def test_lists_of_lists():
    # an inner list kept in the outer one grows by 'items + [e]': appending to it would
    # change a list the alias check sees as held by the outer one
    check(list_of_lists, (1.3, 4))
    check(matrix_of_comprehensions, (0.7, 4))
    check(matrix_of_comprehensions, (0.7, 0))
    check(pairs_of_lists, (0.7, XS))
    check(appended_in_a_user_loop, (0.7, 4))


def named_row_in_a_user_loop(x, n):
    rows = []
    for i in range(n):
        row = [x * i * j for j in range(i)]
        rows.append((row, i))
    return sum(sum(r) * i for r, i in rows)


def named_row_kept_by_a_helper(x, n):
    rows = []
    for i in range(n):
        row = [x * i * j for j in range(3)]
        keep(rows, row)
    return sum(r[1] * r[2] for r in rows)


def keep(rows, row):
    rows.append(row)


def test_named_rows_kept_in_a_user_loop():
    check(named_row_in_a_user_loop, (1.3, 4))
    check(named_row_kept_by_a_helper, (1.3, 4))


def in_a_loop(x, n):
    total = 0.0
    for k in range(n):
        total = total + sum([x ** (k + 1) * i for i in range(k)])
    return total


def helper_with_comprehension(x, xs):
    return sum([np.tanh(v * x) for v in xs])


def calls_helper(x, xs):
    return helper_with_comprehension(x, xs) * x


def test_comprehensions_inside_loops_and_helpers():
    check(in_a_loop, (0.9, 4))
    check(calls_helper, (0.9, XS))


def shadows_user_local(x, n):
    i = x * 3.0
    vals = [x * i for i in range(n)]
    return sum(vals) + i


def local_after(x, n):
    vals = [x * i for i in range(n)]
    i = 2.0
    return sum(vals) * i


def rebinds_its_source(x, xs):
    xs = [v * x for v in xs]
    xs = [v * v for v in xs]
    return sum(xs)


def two_in_one_statement(x, xs):
    return sum(v * x for v in xs) * sum([v + x for v in xs])


def target_named_like_a_global(x, n):
    return sum([np * x for np in range(n)])


def test_scoping_is_pythons():
    # the comprehension's i is not the user's i: d/dx = 3 + sum(range(n))
    assert check(shadows_user_local, (1.1, 4)) == pytest.approx(3.0 + 6.0)
    assert check(local_after, (1.1, 4)) == pytest.approx(2.0 * 6.0)
    check(rebinds_its_source, (0.6, XS))
    check(two_in_one_statement, (0.6, XS))
    check(target_named_like_a_global, (0.6, 4))


def after_reading_calls(x, a):
    return a.sum() * np.exp(x) + sum([v * x for v in a])


def test_after_calls_that_only_read():
    check(after_reading_calls, (0.6, np.array(XS)), wrt=(0, 1))


def in_for_iter_and_if_test(x, xs):
    total = 0.0
    for s in [v * x for v in xs]:
        if sum([s * v for v in xs]) > 0.0:
            total = total + s * s
    return total


def test_comprehension_in_loop_header_and_condition():
    check(in_for_iter_and_if_test, (0.7, XS))
    check(in_for_iter_and_if_test, (-0.7, XS))


def in_elif_and_augmented(x, xs):
    total = x
    if x > 2.0:
        total = total * 2.0
    elif sum([v * x for v in xs]) > 0.0:  # evaluated only when the first test fails
        total += sum(v * v * x for v in xs)
    else:
        total -= sum([np.cos(v * x) for v in xs])
    return total


def returns_inside_a_loop(x, xs):
    for k in range(3):
        if any(v * x > k for v in xs):
            return sum([v * x**k for v in xs])
    return x


def test_elif_augmented_assignment_and_early_return():
    for x in (2.5, 0.7, -0.7):
        check(in_elif_and_augmented, (x, XS))
    for x in (0.3, 5.0, -0.2):
        check(returns_inside_a_loop, (x, XS))


# -- generated code ---------------------------------------------------------------------------
def test_generated_code_reads_like_a_loop():
    source = grad(gen_loss).source_for(W, ROWS, np.ones(4))
    lines = [line.strip() for line in source.splitlines()]
    first = gen_loss.__code__.co_firstlineno
    # the origin line of each comprehension heads its loop, in both sweeps
    assert lines.count(f"# line {first + 1}: preds = [np.dot(w, r) for r in X]") == 2
    # the list comprehension builds the user's list under the user's name
    start = lines.index("preds = []")
    assert lines[start + 2] == "for r_index, r in enumerate(X):"
    assert any(line.startswith("preds.append(") for line in lines[start:])
    # the generator in sum: a list of terms, its filter an if, then the sum
    start = lines.index("terms = []")
    assert lines[start + 2] == "for k1, (p, t) in enumerate(zip(preds, y)):"
    assert any(line.endswith(" = t > 0") for line in lines[start:])
    assert any(line.startswith("terms.append(") for line in lines[start:])
    assert any(line.endswith(" = sum(terms)") for line in lines[start:])


def test_comprehension_variables_keep_their_names_when_free():
    source = grad(comp_zip).source_for(0.7, XS, XS)
    assert "for k1, (a, b) in enumerate(zip(xs, ys)):" in source
    source = grad(shadows_user_local).source_for(1.1, 4)
    assert "for inner_i in range(n):" in source  # the user's i is another variable


# -- what stays refused -----------------------------------------------------------------------
def generator_assigned(x, xs):
    g = (v * x for v in xs)
    return sum(g)


def generator_to_np_array(x, xs):
    return np.sum(np.array(v * x for v in xs))


def generator_to_np_stack(w, X):
    return np.sum(np.stack(w * r for r in X))


def generator_to_np_sum(x, xs):
    return np.sum(v * x for v in xs)


def generator_to_helper(x, xs):
    return helper_with_comprehension(x, (v for v in xs))


def in_conditional_expression(x, xs):
    return sum([v * x for v in xs]) if x > 0 else 0.0


def in_boolean_operator(x, xs):
    ok = x > 0 and sum([v for v in xs]) > 0
    return x * 2.0 if ok else x


def in_while_condition(x, xs):
    while sum([v * x for v in xs]) < 10.0:
        x = x * 2.0
    return x


def walrus_inside(x, xs):
    y = 1.0  # read before the comprehension rebinds it (the form alone is supported)
    return y + sum([(y := v * x) * y for v in xs])


def dict_comprehension(x, xs):
    d = {i: v * x for i, v in enumerate(xs)}
    return d[0]


def after_a_helper_call(x, xs):
    return appends(xs, x) + sum([v for v in xs])


def appends(xs, x):
    xs.append(x)
    return x


def a_generator_function(x, xs):
    for v in xs:
        yield v * x
    return x


@pytest.mark.parametrize(
    ("f", "words"),
    [
        (generator_assigned, "generator expression here"),
        (generator_to_np_array, "NumPy's array does not iterate a generator"),
        (generator_to_np_stack, "NumPy's stack does not iterate a generator"),
        (generator_to_np_sum, "NumPy's sum does not iterate a generator"),
        (generator_to_helper, "generator expression here"),
        (in_conditional_expression, "inside a conditional expression"),
        (in_boolean_operator, "inside 'and'/'or'"),
        (in_while_condition, "condition of a 'while' loop"),
        (walrus_inside, "':=' inside a comprehension"),
        (after_a_helper_call, "after a call of 'appends'"),
        (a_generator_function, "yield"),
    ],
)
def test_refused_with_a_clear_error(f, words):
    with pytest.raises(ADTransformError, match=words) as info:
        grad(f)(0.7, list(XS))
    assert "test_constructs_comprehensions.py" in str(info.value)


def test_dict_comprehension_next_to_the_others():
    # d[0] = xs[0] * x: d/dx = xs[0] (dict comprehensions are lowered by their own pass)
    assert grad(dict_comprehension)(0.7, [1.5, 2.0]) == pytest.approx(1.5)
    check_grad(dict_comprehension, (0.7, [1.5, 2.0]), 0)
