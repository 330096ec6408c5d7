"""Issue 17, item 3: a summarised trace table records only the rows it shows.

A long loop is evaluated in full, but only its first and last ``KEPT_ITERATIONS``
iterations get rows. The check that matters: the summary of a table recorded this way is
exactly the summary of the table recorded in full (same rows, same values, same adjoint
totals, same elided counts), for every loop shape. Gradients are checked against
calculus or central finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import numerical_gradient

from ad_transform import trace, trace_rows
from ad_transform.trace import trace_table


def power(x, n):
    y = 1.0
    for _ in range(n):
        y = y * x
    return y


def affine_steps(x, w, n):
    """Each step reads the parameters (values defined before the loop) again."""
    y = x
    for _ in range(n):
        y = w * y + x
    return y


def nested(x, n, m):
    y = 1.0
    for _ in range(n):
        z = y
        for _ in range(m):
            z = z * x + 0.01
        y = z
    return y


def scaled_steps(x, n):
    """A value computed before the loop (not a parameter) is read by every iteration:
    its adjoint total, shown after the loop's rows, sums every iteration's contribution."""
    t = x * 2.0
    y = x
    for _ in range(n):
        y = y * t + t
    return y


def nested_reads(x, n, m):
    """The inner loop reads a value of the outer iteration it runs in."""
    y = x
    for _ in range(n):
        s = y * 0.5
        z = s
        for _ in range(m):
            z = z * s + x
        y = z * 0.1
    return y


def loop_in_branch(x, n):
    if x > 0:
        for _ in range(n):
            x = x * 0.99 + 0.01 * x * x
    else:
        x = -x
    return x


def branch_in_loop(x, w, n):
    """The value carried through the loop is, by turns, a fresh one and a parameter."""
    y = x
    for i in range(n):
        if i % 3 == 0:
            y = w
        else:
            y = y * x
    return y


def while_loop(x, n):
    i = 0
    y = x
    while i < n:
        y = y * 0.9 + x * 0.1
        i = i + 1
    return y


def nested_while(x, n, m):
    """Trip counts unknown at both levels: buffered iterations inside buffered ones."""
    i = 0
    y = x
    while i < n:
        s = y * 0.5
        j = 0
        while j < m:
            y = y * s + x * 0.01
            j = j + 1
        i = i + 1
    return y


def loop_with_break(x, n):
    y = x
    for i in range(1000):
        if i >= n:
            break
        y = y * 1.01
    return y


def list_loop(x, items):
    y = x
    for a in items:
        y = y * a + x
    return y


def array_loop(v, n):
    for _ in range(n):
        v = np.tanh(v) * 1.01
    return np.sum(v)


CASES = [
    (power, (1.01, 50), {}),
    (affine_steps, (0.3, 0.9, 40), {}),
    (nested, (1.001, 12, 9), {}),
    (nested, (1.001, 12, 3), {}),
    (scaled_steps, (0.49, 33), {}),
    (nested_reads, (0.9, 11, 8), {}),
    (loop_in_branch, (0.5, 30), {}),
    (loop_in_branch, (-0.5, 30), {}),
    (branch_in_loop, (1.1, 0.7, 31), {}),
    (while_loop, (0.4, 37), {}),
    (nested_while, (0.9, 13, 9), {}),
    (nested_while, (0.9, 4, 30), {}),
    (loop_with_break, (0.4, 23), {}),
    (list_loop, (0.4, [1.0 + k / 50 for k in range(26)]), {}),
    (array_loop, (np.array([0.1, -0.4, 0.8]), 21), {}),
    (power, (1.01, 0), {}),
    (nested, (1.01, 0, 5), {}),
    (nested, (1.01, 7, 0), {}),
]


def _name(case):
    func, args, _ = case
    return f"{func.__name__}-{'-'.join(str(a) for a in args if isinstance(a, int))}"


@pytest.mark.parametrize("keep", [1, 2])
@pytest.mark.parametrize("case", CASES, ids=_name)
def test_summary_recorded_bounded_equals_summary_of_the_full_table(case, keep, monkeypatch):
    monkeypatch.setattr(trace_rows, "KEPT_ITERATIONS", keep)
    func, args, kwargs = case
    full = trace_table(func, *args, full=True, **kwargs)
    bounded = trace_table(func, *args, full=False, **kwargs)
    assert bounded.to_text(full=False) == full.to_text(full=False)
    assert bounded.value == full.value
    for name, g in full.gradients.items():
        np.testing.assert_array_equal(bounded.gradients[name], g)
    # the rows kept are rows of the full table, values included
    for side in ("forward", "reverse"):
        whole = [(r.kind, r.target, r.expression, r.iteration) for r in full.rows(side)]
        for row in bounded.rows(side):
            if not row.is_marker:
                assert (row.kind, row.target, row.expression, row.iteration) in whole


@pytest.mark.parametrize("threshold", [5, 40, 90])
@pytest.mark.parametrize("case", CASES, ids=_name)
def test_summarising_from_the_middle_of_a_trace(case, threshold, monkeypatch):
    """The tracer starts summarising once the trace passes the threshold, possibly in the
    middle of a loop: iterations already recorded stay, the display still agrees."""
    monkeypatch.setattr(trace_rows, "SUMMARY_THRESHOLD", threshold)
    func, args, kwargs = case
    full = trace_table(func, *args, full=True, **kwargs)
    default = trace_table(func, *args, **kwargs)
    assert default.to_text() == full.to_text()
    assert default.to_text(full=False) == full.to_text(full=False)


def test_the_gradient_of_branch_in_loop_is_right():
    x, w, n = 1.1, 0.7, 31
    table = trace_table(branch_in_loop, x, w, n, full=False)
    for position in (0, 1):
        expected = numerical_gradient(branch_in_loop, (x, w, n), position)
        assert table.gradient[position] == pytest.approx(expected, rel=1e-6)


def test_a_100000_step_table_records_a_bounded_number_of_rows():
    n = 100_000
    table = trace_table(power, 1.000001, n)
    assert table.summarised
    assert len(table.forward) <= trace_rows.SUMMARY_THRESHOLD + 20
    assert len(table.reverse) <= 40
    assert table.gradient == pytest.approx(n * 1.000001 ** (n - 1), rel=1e-9)
    text = table.to_text()
    assert f"iteration {n} of {n}" in text and "iteration 1 of" in text
    assert f"of {n} of for _ in range(n) elided ({n - 4} rows" in text  # reverse: 1 row each
    assert f"v{n} = v{n - 1} * v_-1" in text


def test_recorded_rows_do_not_grow_with_the_trip_count():
    sizes = {}
    for n in (300, 1_200):
        table = trace_table(while_loop, 0.4, n)  # a while loop: the ring buffer
        sizes[n] = (len(table.forward), len(table.reverse), len(_events(table)))
    assert sizes[300] == sizes[1_200]


def _events(table):
    return [r for r in table.forward + table.reverse if not r.is_marker]


def test_full_still_records_every_row():
    table = trace_table(power, 1.001, 500, full=True)
    assert not table.summarised
    assert len(table.forward) == 2 + 1 + 2 * 500 + 1  # x, n, y = 1.0, the loop, y
    with pytest.raises(ValueError, match="full=True"):
        trace_table(power, 1.001, 500).to_text(full=True)
    with pytest.raises(ValueError, match="full=True"):
        trace_table(power, 1.001, 500).graph()


def test_left_out_iterations_store_a_bounded_number_of_events():
    """Events of iterations left out are stored only where they change: a loop reading the
    same outer values each step stores a few, whatever its trip count."""
    stored = []
    for n in (200, 2_000):
        tracer = trace._Tracer(scaled_steps, (0.49, n), {}, None, 3)
        tracer.run()
        stored.append((len(tracer.events), sum(len(p) for p, _ in tracer.compacted.values())))
    assert stored[0] == stored[1]


# -- the textbook form of the rarer runtime helpers in array tables -------------------------
def norm_two(x):
    return np.linalg.norm(x) * 2.0


def norm_one(x):
    return np.linalg.norm(x, 1) * 2.0


def relu_sum(x):
    return np.sum(np.maximum(x, 0.0) * np.array([1.0, 2.0, 3.0]))


def sorted_weights(x):
    return np.sum(np.sort(x) * np.array([1.0, 2.0, 3.0]))


def padded(x):
    return np.sum(np.pad(x, 1) * np.arange(5.0))


def padded_matrix(m):
    return np.sum(np.pad(m, ((1, 0), (0, 2))) ** 2)


def statistics(x):
    return np.max(x) + np.mean(x) * 2.0 + np.var(x) + np.std(x) + np.sum(np.cumsum(x) ** 2)


def reshaped(x):
    return np.sum(np.reshape(x, (3, 1)) * np.array([[1.0], [2.0], [3.0]]))


TEXTBOOK = [
    (norm_two, (np.array([0.5, -1.0, 2.0]),), "v̄1 * v0 / v1"),
    (norm_one, (np.array([0.5, -1.0, 2.0]),), "v̄1 * sign(v0)"),
    (relu_sum, (np.array([0.5, -1.0, 2.0]),), "* (v0 > 0)"),
    (sorted_weights, (np.array([0.5, -1.0, 2.0]),), "[argsort(argsort(v0))]"),
    (padded, (np.array([0.5, -1.0, 2.0]),), "[1:-1]"),
    (padded_matrix, (np.array([[0.5, -1.0], [2.0, 0.25]]),), "[1:, :-2]"),
    (statistics, (np.array([0.5, -1.0, 2.0, 0.75]),), "cumsum("),
    (reshaped, (np.array([0.5, -1.0, 2.0]),), "reshape("),
]


@pytest.mark.parametrize("func, args, shown", TEXTBOOK, ids=lambda c: getattr(c, "__name__", ""))
def test_rarer_helpers_show_the_operation_they_compute(func, args, shown):
    """Every reverse row's expression, evaluated as NumPy with the labels' values, gives
    the value the row shows (its increment for ``+=``): the text is the computation."""
    table = trace_table(func, *args)
    text = table.to_text()
    assert shown in text
    assert "_adjoint(" not in text and "tie_share(" not in text and "reduced_count(" not in text
    ns = {f: getattr(np, f) for f in ("argsort", "mean", "cumsum", "reshape", "sign", "sum")}
    ns.update({r.target: r.value for r in table.forward if r.kind in ("input", "primal")})
    for row in table.reverse:
        if row.kind not in ("seed", "adjoint", "temporary"):
            continue
        expected = row.increment if row.op == "+=" else row.value
        if row.expression != "1":
            got = eval(row.expression.replace("v_-", "vneg"), dict(ns))
            np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=row.expression)
        ns[row.target] = row.value
    grads = table.gradient
    np.testing.assert_allclose(grads, numerical_gradient(func, args, 0), rtol=1e-6, atol=1e-8)


def test_ties_keep_the_helper_call():
    """At a tie the adjoint is shared (1/2 each), which ``g * (x > y)`` does not say."""
    x = np.array([0.5, 1.0, 2.0])
    text = trace_table(lambda_max_tie, x, x[::-1].copy()).to_text()
    assert "tie_share(" in text
    assert "extremum_adjoint(" in trace_table(max_tie, np.array([2.0, 1.0, 2.0])).to_text()


def lambda_max_tie(x, y):
    return np.sum(np.maximum(x, y))


def max_tie(x):
    return np.max(x) * 1.0
