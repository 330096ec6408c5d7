"""The evaluation-trace table: textbook numbers, execution order, values, control flow.

References are independent of the tool: the textbook's own numbers for the seed
example, hand-derived derivatives, and central finite differences (``gradcheck``);
``grad`` is compared too, so that the table shows what the generated code computes.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from gradcheck import numerical_gradient

from ad_transform import ADTransformError, grad, trace_table
from ad_transform.trace_text import adjoint_label, format_value, primal_label


def seed(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def rows_text(rows):
    return [str(r) for r in rows]


def test_seed_forward_trace_has_the_textbook_values():
    table = trace_table(seed, 2.0, 5.0)
    forward = {r.label: r for r in table.forward if r.kind in ("input", "primal")}
    assert forward["v_-1"].expression == "x1" and forward["v_-1"].value == 2.0
    assert forward["v0"].expression == "x2" and forward["v0"].value == 5.0
    assert forward["v1"].expression == "log(v_-1)"
    assert forward["v1"].value == pytest.approx(math.log(2.0), abs=1e-15)
    assert forward["v2"].expression == "v_-1 * v0" and forward["v2"].value == 10.0
    # Python evaluates log(x1) + x1*x2 before sin(x2): v3 is the sum, v4 the sine
    assert forward["v3"].expression == "v1 + v2"
    assert forward["v4"].expression == "sin(v0)"
    assert forward["v4"].value == pytest.approx(math.sin(5.0), abs=1e-15)
    assert forward["v5"].expression == "v3 - v4"
    assert forward["v5"].value == pytest.approx(math.log(2) + 10 - math.sin(5), abs=1e-13)
    text = str(table)
    for line in ("v_-1 = x1", "v1   = log(v_-1) =  0.693", "v5   = v3 - v4   = 11.652"):
        assert line in text


def test_seed_reverse_trace_in_execution_order_with_textbook_numbers():
    table = trace_table(seed, 2.0, 5.0)
    reverse = [r for r in table.reverse if not r.is_marker]
    steps = [(r.target, r.op, r.value) for r in reverse]
    c = math.cos(5.0)
    assert steps == [
        ("v̄5", "=", 1.0),  # the seed
        ("v̄3", "=", 1.0),  # v5 = v3 - v4
        ("v̄4", "=", -1.0),
        ("v̄0", "=", pytest.approx(-c, abs=1e-15)),  # v4 = sin(v0)
        ("v̄1", "=", 1.0),  # v3 = v1 + v2
        ("v̄2", "=", 1.0),
        ("v̄-1", "=", 5.0),  # v2 = v_-1 * v0
        ("v̄0", "+=", pytest.approx(2.0 - c, abs=1e-15)),
        ("v̄-1", "+=", 5.5),  # v1 = log(v_-1)
        ("x̄1", "=", 5.5),
        ("x̄2", "=", pytest.approx(2.0 - c, abs=1e-15)),
    ]
    lines = [re.sub(r"\s+", " ", str(r)) for r in reverse]
    assert lines[0] == "v̄5 = 1"
    assert lines[7] == "v̄0 += v̄2 * v_-1 = 1.716"  # the textbook's lines
    assert lines[8] == "v̄-1 += v̄1 / v_-1 = 5.500"
    assert lines[9:] == ["x̄1 = v̄-1 = 5.500", "x̄2 = v̄0 = 1.716"]
    assert reverse[7].increment == pytest.approx(2.0, abs=1e-15)  # v̄2 * v_-1


def test_seed_gradient_from_the_table_is_the_analytic_one_and_grads():
    table = trace_table(seed, 2.0, 5.0)
    d1, d2 = table.gradient
    assert d1 == pytest.approx(1 / 2.0 + 5.0, abs=1e-15)
    assert d2 == pytest.approx(2.0 - math.cos(5.0), abs=1e-15)
    assert (d1, d2) == pytest.approx(grad(seed, wrt=(0, 1))(2.0, 5.0), abs=1e-15)
    assert table.value == pytest.approx(seed(2.0, 5.0), abs=1e-15)
    assert table.adjoint_of("v0") == pytest.approx(d2, abs=1e-15)
    assert table.inputs == {"x1": "v_-1", "x2": "v0"}


def test_two_columns_side_by_side_and_stacked():
    table = trace_table(seed, 2.0, 5.0)
    columns = table.to_text(layout="columns").splitlines()
    assert columns[2].startswith("Forward primal trace") and "│ Reverse adjoint trace" in columns[2]
    assert any(line.startswith("v_-1 = x1") and "│ v̄5" in line for line in columns)
    stacked = table.to_text(layout="stacked")
    assert stacked.index("Forward primal trace") < stacked.index("Reverse adjoint trace")
    assert "│" not in stacked


def test_wrt_selects_the_adjoints_shown():
    table = trace_table(seed, 2.0, 5.0, wrt=1)
    assert table.gradient == pytest.approx(2.0 - math.cos(5.0), abs=1e-15)
    assert not any(r.label == "v_-1" for r in table.reverse if r.kind == "adjoint")
    assert table.gradients.keys() == {"x2"}


def test_integer_arguments_are_differentiated_as_floats():
    table = trace_table(seed, 2, 5)
    assert table.gradient == pytest.approx((5.5, 2.0 - math.cos(5.0)), abs=1e-15)


def test_html_table():
    page = trace_table(seed, 2.0, 5.0)._repr_html_()
    assert page.count("<table") == 3  # the frame and the two columns
    assert "Forward primal trace" in page and "Reverse adjoint trace" in page
    assert "log(v_-1)" in page and "v̄2 * v_-1" in page and "1.716" in page


def test_labels_and_values_formatting():
    assert primal_label(-1) == "v_-1" and primal_label(0) == "v0" and primal_label(3) == "v3"
    assert adjoint_label("v_-1") == "v̄-1" and adjoint_label("v12") == "v̄12"
    assert format_value(2.0) == "2.000" and format_value(-0.28366) == "-0.284"
    assert format_value(np.array([1.0, 2.5])) == "[1.000, 2.500]"
    assert format_value(np.zeros((64, 10))) == "<64x10 array>"
    assert format_value(True) == "True" and format_value(7) == "7"


# -- control flow: the executed trace --------------------------------------------------------
def branchy_loop(x, n):
    s = 0.0
    for _ in range(n):
        if s > 3.0:
            s = s + x
        else:
            s = s * x + 1.0
    return s


def test_loop_is_unrolled_with_iteration_numbers_and_branches_taken():
    table = trace_table(branchy_loop, 1.5, 4, wrt=0)
    markers = [r.text for r in table.forward if r.is_marker]
    iterations = [m for m in markers if "iteration" in m]
    assert [re.search(r"iteration (\d) of 4", m).group(1) for m in iterations] == list("1234")
    # s: 0 -> 1 -> 2.5 -> 4.75 (else branch three times) -> 6.25 (then branch)
    branches = [("true" if "true branch" in m else "false") for m in markers if "branch" in m]
    assert branches == ["false", "false", "false", "true"]
    reverse_iterations = [
        int(re.search(r"iteration (\d)", r.text).group(1))
        for r in table.reverse
        if r.is_marker and "iteration" in r.text
    ]
    assert reverse_iterations == [4, 3, 2, 1]
    assert table.value == pytest.approx(6.25)
    # s = ((x + 1) x + 1) + x: ds/dx = 2x + 1 + 1 = 5 at 1.5
    assert table.gradient == pytest.approx(2 * 1.5 + 1 + 1, abs=1e-14)
    assert table.gradient == pytest.approx(grad(branchy_loop)(1.5, 4), abs=1e-15)


def loop_with_break(x):
    s = x
    k = 0
    while True:
        s = s * 1.1 + 0.1
        k += 1
        if s > 3.0:
            break
    return s * k


def test_while_loop_shows_the_iterations_that_ran():
    x = 0.5
    s, runs = x, 0
    while True:  # the same loop, counted independently
        s, runs = s * 1.1 + 0.1, runs + 1
        if s > 3.0:
            break
    table = trace_table(loop_with_break, x)
    iterations = [r for r in table.forward if r.is_marker and "iteration" in r.text]
    assert len(iterations) == runs == 11
    assert f"iteration {runs} of {runs}" in iterations[-1].text
    expected = numerical_gradient(loop_with_break, [x], 0)
    assert table.gradient == pytest.approx(expected, rel=1e-7)


def helper(u, w):
    return u * np.tanh(w)


def with_helper(x, y):
    return helper(x, y) + helper(y, x) ** 2


def with_list(x):
    xs = []
    for i in range(3):
        xs.append(x * (i + 1.0))
    return sum(xs) * xs[2]


def with_items(x):
    out = np.zeros(3)
    for i in range(3):
        out[i] = x[i] ** 2
    out[1] += x[0]
    return np.sum(out * x)


def over_rows(X, w):
    total = 0.0
    for i, row in enumerate(X):
        total = total + np.tanh(np.dot(row, w)) * (i + 1)
    return total


def early_return(x):
    for i in range(5):
        if x > 2.0:
            return x * i
        x = x * 1.7
    return -x


def nested_loops(x):
    s = 0.0
    for i in range(3):
        for j in range(2):
            s = s + math.sin(x * i + j)
    return s


def two_layer(W1, b1, W2, X):
    h = np.tanh(X @ W1 + b1)
    return np.mean((h @ W2) ** 2)


_rng = np.random.default_rng(0)
CASES = [
    (with_helper, (0.7, 1.3), (0, 1)),
    (with_list, (1.3,), 0),
    (with_items, (np.array([1.0, 2.0, 3.0]),), 0),
    (over_rows, (_rng.normal(size=(3, 2)), np.array([0.5, -1.0])), (0, 1)),
    (early_return, (0.9,), 0),
    (nested_loops, (0.3,), 0),
    (
        two_layer,
        (
            _rng.normal(size=(4, 3)),
            _rng.normal(size=3),
            _rng.normal(size=3),
            _rng.normal(size=(5, 4)),
        ),
        (0, 1, 2),
    ),
]


@pytest.mark.parametrize("f, args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_gradient_in_the_table_against_finite_differences_and_grad(f, args, wrt):
    before = [np.copy(a) for a in args]
    table = trace_table(f, *args, wrt=wrt)
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)  # the inputs are not changed
    expected = numerical_gradient(f, list(args), wrt)
    got = table.gradient
    if isinstance(wrt, int):
        expected, got = (expected,), (got,)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-9)
    by_grad = grad(f, wrt=wrt)(*args)
    by_grad = (by_grad,) if isinstance(wrt, int) else by_grad
    for g, e in zip(got, by_grad):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14)
    assert table.value == pytest.approx(f(*args), rel=1e-13)
    str(table), table._repr_html_()


def test_arrays_show_shapes_and_small_values():
    W1, b1, W2, X = CASES[-1][1]
    table = trace_table(two_layer, W1, b1, W2, X, wrt=(0, 1, 2))
    forward = {r.label: r for r in table.forward if r.kind in ("input", "primal")}
    assert forward["v1"].expression == "v0 @ v_-3"  # X @ W1
    assert forward["v1"].value_text() == "<5x3 array>"
    assert forward["v_-2"].value_text().startswith("[")  # b1 has 3 values: shown
    text = str(table)
    assert "tanh(v2)" in text and "<5x3 array>" in text


def test_mutation_rows_show_the_values_of_their_time():
    table = trace_table(with_list, 1.3)
    appended = [r for r in table.forward if r.kind == "effect"]
    assert [len(r.value) for r in appended] == [1, 2, 3]  # not the list as it ended
    table = trace_table(with_items, np.array([1.0, 2.0, 3.0]))
    stores = [r.value for r in table.forward if r.kind == "effect"]
    np.testing.assert_array_equal(stores[0], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(stores[-1], [1.0, 5.0, 9.0])


def test_unsupported_function_raises_with_location():
    def uses_yield(x):
        y = yield x
        return y

    with pytest.raises(ADTransformError, match=r"test_trace.py:\d+:\d+: unsupported construct"):
        trace_table(uses_yield, 1.0)


def test_nothing_to_differentiate():
    def count(n):
        return n * 2

    with pytest.raises(TypeError, match="nothing to differentiate"):
        trace_table(count, "ab")


def _defined_in_terms_of_itself(table) -> list[str]:
    """Forward rows like ``v3 = v3[1]``: a label read by the row that defines it."""
    return [
        f"{r.label} = {r.expression}"
        for r in table.forward
        if r.kind == "primal"
        and re.search(rf"(?<![\w-]){re.escape(r.label)}(?![\w])", r.expression)
    ]


def test_helper_calls_have_rows_and_their_results_labels():
    # the helper call was rebuilt as ``v, v_saved = helper_fwd(...)`` untagged: no row,
    # and the next row read the SSA name (``v1 = v1 + v1``)
    table = trace_table(with_helper, 0.7, 1.3)
    assert _defined_in_terms_of_itself(table) == []
    calls = [r for r in table.forward if r.kind == "primal" and r.expression.startswith("helper(")]
    assert [r.expression for r in calls] == ["helper(v_-1, v0)", "helper(v0, v_-1)"]
    assert calls[0].value == pytest.approx(helper(0.7, 1.3))
    assert calls[1].value == pytest.approx(helper(1.3, 0.7))


def append_square(xs, v):
    xs.append(v * v)


def with_in_place_helper(x):
    xs = [x]
    append_square(xs, x * 2.0)
    return xs[0] * xs[1]


def test_a_helper_called_for_its_change_in_place_has_its_row():
    table = trace_table(with_in_place_helper, 0.7)
    effects = [r.expression for r in table.forward if r.kind == "effect"]
    assert effects == ["append_square(v1, v2)"]
    assert _defined_in_terms_of_itself(table) == []
    assert table.gradient == pytest.approx(3 * 4 * 0.7**2, rel=1e-12)  # d/dx 4x^3
