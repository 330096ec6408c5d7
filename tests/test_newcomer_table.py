"""Issue 17, items 3 and 4: long trace tables are summarised; table/graph keep integers.

Expected gradients come from calculus: d/dx of ``x**n`` is ``n * x**(n-1)``.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from ad_transform import trace_table
from ad_transform.cli import _Progress, main

POWER = """\
def power(x, n):
    y = 1.0
    for _ in range(n):
        y = y * x
    return y
"""


def power(x, n):
    y = 1.0
    for _ in range(n):
        y = y * x
    return y


def nested(x, n):
    y = 1.0
    for _ in range(n):
        for _ in range(3):
            y = y * x
    return y


def test_a_long_trace_is_summarised_with_an_elided_count():
    table = trace_table(power, 1.001, 300)  # 2 * 300 rows a side: above the threshold
    text = table.to_text()
    assert len(text.splitlines()) < 60
    assert "iteration 1 of 300" in text and "iteration 300 of 300" in text
    assert "iteration 150 of 300" not in text
    assert "⋯ iterations 3 to 298 of 300 of for _ in range(n) elided (296 rows" in text
    assert text.count("elided") == 2  # once in each sweep
    assert table.gradient == pytest.approx(300 * 1.001**299, rel=1e-12)


def test_full_shows_every_row():
    table = trace_table(power, 1.001, 300, full=True)
    full = table.to_text(full=True)
    assert "elided" not in full and "iteration 150 of 300" in full
    assert len(full.splitlines()) > 600


def test_short_traces_are_unchanged():
    table = trace_table(power, 1.5, 5)
    assert table.to_text() == table.to_text(full=True)


def test_forced_summary_of_nested_loops_keeps_first_and_last_iterations():
    table = trace_table(nested, 1.01, 8)
    text = table.to_text(full=False)
    assert "iteration 2 of 8" in text and "iteration 7 of 8" in text
    assert "iteration 4 of 8" not in text
    assert "iterations 3 to 6 of 8 of for _ in range(n) elided (12 rows" in text
    assert "iteration 3 of 3" in text  # the inner loop (3 trips) is never elided


def test_progress_is_reported_for_long_traces():
    calls = []
    trace_table(power, 1.0001, 1500, progress=lambda phase, rows: calls.append((phase, rows)))
    assert {phase for phase, _ in calls} == {"forward", "backward"}


def test_progress_line_only_after_the_delay():
    stream = io.StringIO()
    with _Progress("power", delay=3600, stream=stream) as progress:
        progress("forward", 10)
    assert stream.getvalue() == ""
    with _Progress("power", delay=0, stream=stream) as progress:
        progress("forward", 1000)
        progress("forward", 2000)
        progress("backward", 1000)
    assert stream.getvalue().splitlines() == [
        "tracing power: forward sweep, 1,000 rows",
        "tracing power: backward sweep, 1,000 rows",
    ]


@pytest.fixture
def power_file(tmp_path):
    path = tmp_path / "loops.py"
    path.write_text(POWER)
    return path


def test_cli_table_summarises_and_full(power_file, capsys):
    assert main(["table", f"{power_file}:power", "1.001", "300"]) == 0
    assert "elided" in capsys.readouterr().out
    assert main(["table", f"{power_file}:power", "1.001", "300", "--full"]) == 0
    assert "elided" not in capsys.readouterr().out


def test_table_keeps_an_integer_loop_count(power_file, capsys):
    assert main(["table", f"{power_file}:power", "1.5", "3"]) == 0
    out = capsys.readouterr().out
    assert "x̄" in out and "n̄" not in out
    table = trace_table(power, 1.5, 3)
    assert table.gradients.keys() == {"x"}
    assert table.gradient == pytest.approx(3 * 1.5**2, rel=1e-15)


def test_graph_keeps_an_integer_loop_count(power_file, capsys):
    assert main(["graph", f"{power_file}:power", "1.5", "3"]) == 0
    assert capsys.readouterr().out.startswith("digraph")


def test_integers_only_are_all_differentiated_as_before():
    def seed(x1, x2):
        return x1 * x2

    assert trace_table(seed, 2, 5).gradient == (5.0, 2.0)


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (
            ["1.5", "3", "--wrt", "0,1"],
            "integer argument 1 was differentiated as a float; to keep it an integer: --wrt 0",
        ),
        (["2", "3"], "choose the argument to differentiate with --wrt (e.g. --wrt 0)"),
    ],
)
def test_a_failure_at_float_arguments_names_the_wrt_to_use(power_file, capsys, argv, hint):
    assert main(["table", f"{power_file}:power", *argv]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "'float' object cannot be interpreted as an integer" in err and hint in err


def layer(W, x):
    h = np.tanh(W @ x)
    return np.sum(h * h)


HELPERS = ("seed(", "unbroadcast(", "times(", "expand_reduced(", "_adjoint_", "as_gradient(")


def test_the_array_table_shows_textbook_operations():
    W = np.array([[1.0, 2.0], [3.0, 4.5]])
    x = np.array([0.1, 0.2])
    table = trace_table(layer, W, x)
    text = table.to_text()
    for helper in HELPERS:
        assert helper not in text, helper
    assert "the true branch" not in text  # the generic code's zero guards are not branches
    assert "v̄-1  = v̄1 @ v0ᵀ" in text and "v̄0   = v_-1ᵀ @ v̄1" in text
    assert "v̄2  += v̄3 * v2" in text
    # d/dW sum(tanh(Wx)^2) = outer(2 h (1 - h^2), x); d/dx = Wᵀ (2 h (1 - h^2))
    h = np.tanh(W @ x)
    g = 2 * h * (1 - h * h)
    dW, dx = table.gradient
    np.testing.assert_allclose(dW, np.outer(g, x), rtol=1e-14)
    np.testing.assert_allclose(dx, W.T @ g, rtol=1e-14)
