"""``trace_table(f, *args, mode="forward")``: the textbook's forward table (the primal trace
beside the tangent trace v̇), and the CLI's ``show --mode forward`` and
``table --mode forward``. The tangent values of the textbook example are worked out by
hand below (calculus), not taken from the code."""

from __future__ import annotations

import math
import re
import textwrap

import numpy as np
import pytest

from ad_transform import jvp, runtime, trace_table
from ad_transform.cli import main

DOT = "\u0307"


def textbook(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def rows_by_target(table) -> dict:
    return {row.target: row for row in table.reverse if not row.is_marker and row.target}


def test_textbook_tangent_trace_seeded_on_x1():
    table = trace_table(textbook, 2.0, 5.0, mode="forward")
    rows = rows_by_target(table)
    # by hand, at x1 = 2, x2 = 5 with x1_dot = 1, x2_dot = 0:
    expected = {
        f"v{DOT}-1": 1.0,  # x1_dot
        f"v{DOT}0": 0.0,  # x2_dot
        f"v{DOT}1": 1.0 / 2.0,  # d log(x1) = x1_dot / x1
        f"v{DOT}2": 1.0 * 5.0 + 2.0 * 0.0,  # d (x1 x2) = x1_dot x2 + x1 x2_dot
        f"v{DOT}3": 0.5 + 5.0,
        f"v{DOT}4": 0.0 * math.cos(5.0),  # d sin(x2) = x2_dot cos(x2)
        f"v{DOT}5": 5.5 - 0.0,
        f"y{DOT}": 5.5,
    }
    for target, value in expected.items():
        assert rows[target].value == pytest.approx(value, abs=1e-15), target
    assert rows[f"v{DOT}1"].expression == f"v{DOT}-1 / v_-1"
    assert rows[f"v{DOT}2"].expression == f"v{DOT}-1 * v0 + v_-1 * v{DOT}0"
    assert rows[f"v{DOT}5"].expression == f"v{DOT}3 - v{DOT}4"
    assert table.tangent == pytest.approx(5.5, abs=1e-15)
    assert table.tangent_of("v3") == pytest.approx(5.5, abs=1e-15)
    assert table.value == textbook(2.0, 5.0)


def test_textbook_tangent_trace_in_a_given_direction():
    table = trace_table(textbook, 2.0, 5.0, mode="forward", tangents=(0.0, 1.0))
    rows = rows_by_target(table)
    assert rows[f"v{DOT}1"].value == 0.0
    assert rows[f"v{DOT}2"].value == pytest.approx(2.0, abs=1e-15)  # x1 * x2_dot
    assert rows[f"v{DOT}4"].value == pytest.approx(math.cos(5.0), abs=1e-15)
    assert table.tangent == pytest.approx(2.0 - math.cos(5.0), abs=1e-15)
    # any direction: the last row is the directional derivative
    table = trace_table(textbook, 2.0, 5.0, mode="forward", tangents=(0.3, -2.0))
    assert table.tangent == pytest.approx(0.3 * 5.5 - 2.0 * (2.0 - math.cos(5.0)), rel=1e-14)


def test_text_has_the_two_columns_row_by_row():
    text = str(trace_table(textbook, 2.0, 5.0, mode="forward"))
    assert "Forward primal trace" in text and "Forward tangent trace" in text
    assert re.search(rf"v1\s+= log\(v_-1\)\s+=\s+0\.693 │ v{DOT}1\s+= v{DOT}-1 / v_-1", text)
    assert re.search(rf"y\s+= v5\s+= 11\.652 │ y{DOT}\s+= v{DOT}5\s+= 5\.500", text)


def power_sum(x, n):
    s = 0.0
    for _ in range(n):
        if s > 1.0:
            s = s * 0.5
        s = s + x**2
    return s


def test_loops_branches_and_integer_arguments():
    table = trace_table(power_sum, 1.5, 3, mode="forward")
    assert len(table.forward) == len(table.reverse)  # aligned row by row
    for left, right in zip(table.forward, table.reverse):
        assert left.is_marker == right.is_marker
    # x = 1.5: s = 2.25; then 1.125 + 2.25 = 3.375; then 1.6875 + 2.25; derivative by hand:
    # s' = 3; s' = 1.5 + 3 = 4.5; s' = 2.25 + 3 = 5.25
    assert table.tangent == pytest.approx(5.25, rel=1e-15)
    assert table.value == power_sum(1.5, 3)
    rows = rows_by_target(table)
    assert rows.get(f"v{DOT}0") is None  # n stays an integer: no tangent
    assert rows[f"v{DOT}1"].value == 0.0  # s = 0.0 before the loop
    assert rows[f"v{DOT}3"].value == pytest.approx(3.0, rel=1e-15)  # d x^2 = 2 x


def long_loop(x, n):
    s = x
    for _ in range(n):
        s = s * 0.999 + 0.001 * x
    return s


def test_long_loops_are_summarised_in_both_columns():
    table = trace_table(long_loop, 1.5, 600, mode="forward")
    text = table.to_text(layout="columns")
    lines = text.splitlines()
    assert any("elided" in line for line in lines)
    assert table.tangent == pytest.approx(jvp(long_loop, wrt=0)((1.5, 600), (1.0,))[1], rel=1e-13)
    assert table.tangent == pytest.approx(1.0, rel=1e-12)  # s stays x: d s / d x = 1


def write_items(x):
    y = np.zeros(3)
    for i in range(3):
        y[i] = x[i] * 2.0
    return np.sum(y * x)


def square(a):
    return a * a


def calls_helper(x):
    return square(x) + 1.0


def test_arrays_item_writes_and_helpers():
    x = np.array([1.0, 2.0, 3.0])
    u = np.array([0.5, -1.0, 2.0])
    table = trace_table(write_items, x, mode="forward", tangents=(u,))
    assert table.tangent == pytest.approx(np.sum(4.0 * x * u), rel=1e-15)  # d sum(2 x^2)
    table = trace_table(calls_helper, 3.0, mode="forward")
    assert table.tangent == pytest.approx(6.0, rel=1e-15)
    assert any(row.expression == "jvp of square" for row in table.reverse)


def test_bad_directions_and_modes_are_refused():
    with pytest.raises(TypeError, match="1 tangent"):
        trace_table(textbook, 2.0, 5.0, mode="forward", tangents=(1.0,))
    with pytest.raises(ValueError, match="mode must be"):
        trace_table(textbook, 2.0, 5.0, mode="sideways")
    with pytest.raises(TypeError, match="tangents= is for mode='forward'"):
        trace_table(textbook, 2.0, 5.0, tangents=(1.0, 0.0))


def test_html_headings():
    html = trace_table(textbook, 2.0, 5.0, mode="forward")._repr_html_()
    assert "Forward tangent trace" in html and "Reverse adjoint trace" not in html


# -- the CLI ----------------------------------------------------------------------------------
USER_FILE = textwrap.dedent(
    """
    import numpy as np


    def f(x1, x2):
        return np.log(x1) + x1 * x2 - np.sin(x2)
    """
)


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "forward_user_functions.py"
    path.write_text(USER_FILE, encoding="utf-8")
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_show_mode_forward_prints_the_jvp_source(capsys, user_file):
    code, out, err = run(capsys, "show", f"{user_file}:f", "--wrt", "0,1", "--mode", "forward")
    assert code == 0 and err == ""
    assert out.startswith("def jvp_f(x1, x2, *, x1_dot, x2_dot):")
    namespace = {"np": np, **{k: getattr(runtime, k) for k in dir(runtime)}}
    exec(out, namespace)  # the printed code is the code: run it
    value, tangent = namespace["jvp_f"](2.0, 5.0, x1_dot=0.3, x2_dot=-2.0)
    assert value == pytest.approx(textbook(2.0, 5.0), rel=1e-15)
    assert tangent == pytest.approx(0.3 * 5.5 - 2.0 * (2.0 - math.cos(5.0)), rel=1e-14)


def test_cli_table_mode_forward(capsys, user_file):
    code, out, _ = run(capsys, "table", f"{user_file}:f", "2", "5", "--mode", "forward")
    assert code == 0
    assert "Forward tangent trace" in out
    assert re.search(rf"y{DOT}\s+= v{DOT}5\s+=\s+5\.500", out)
    code, out, _ = run(
        capsys, "table", f"{user_file}:f", "2", "5", "--mode", "forward", "--tangents", "0", "1"
    )
    assert code == 0 and re.search(rf"y{DOT}\s+= v{DOT}5\s+=\s+1\.716", out)  # 2 - cos 5


def test_cli_tangents_need_forward_mode(capsys, user_file):
    code, _, err = run(capsys, "table", f"{user_file}:f", "2", "5", "--tangents", "0", "1")
    assert code == 1 and "--tangents is for --mode forward" in err
