"""The benchmark is an honest comparison: every hand-written gradient in ``benchmarks/``
equals ours and equals central finite differences (float64), at small sizes.

Also checks that each case is what its title says (both branches taken, the ``while``
loop runs about as many trips as the others), and that the runner runs. No timing
assertions: the benchmark itself is run on demand (``python -m benchmarks``).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from gradcheck import check_like, numerical_gradient

from ad_transform import grad

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import cases as bench_cases  # noqa: E402
from benchmarks import transform_case  # noqa: E402
from benchmarks.cases import CASES  # noqa: E402

RTOL_OURS = 1e-9  # the same arithmetic in another order
RTOL_FD = 1e-6  # central differences with eps = 1e-5
ATOL_FD = 1e-8


def _as_tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _positions(case) -> tuple[int, ...]:
    return (case.wrt,) if isinstance(case.wrt, int) else tuple(case.wrt)


@pytest.fixture(params=CASES, ids=[c.name for c in CASES])
def case(request):
    return request.param


def test_hand_written_equals_ours(case):
    args = case.args("test")
    hand = case.hand(*args)
    ours = grad(case.forward, wrt=case.wrt)(*args)
    assert isinstance(hand, tuple) == isinstance(ours, tuple) == isinstance(case.wrt, tuple)
    for i, h, o in zip(_positions(case), _as_tuple(hand), _as_tuple(ours), strict=True):
        check_like(h, args[i], f"hand-written gradient of {case.name} wrt argument {i}")
        check_like(o, args[i], f"our gradient of {case.name} wrt argument {i}")
        np.testing.assert_allclose(
            o, h, rtol=RTOL_OURS, atol=1e-12, err_msg=f"{case.name}: ours vs hand-written"
        )


def test_hand_written_equals_finite_differences(case):
    args = case.args("test")
    hand = _as_tuple(case.hand(*args))
    numeric = _as_tuple(numerical_gradient(case.forward, args, case.wrt))
    for i, h, n in zip(_positions(case), hand, numeric, strict=True):
        np.testing.assert_allclose(
            np.asarray(h, dtype=np.float64),
            n,
            rtol=RTOL_FD,
            atol=ATOL_FD,
            err_msg=f"{case.name}: hand-written gradient wrt argument {i} vs finite differences",
        )


@pytest.mark.parametrize("n", [1, 2, 10])
def test_growing_sizes_agree(n):
    case = next(c for c in CASES if c.growing)
    args = case.make_args(n)
    ours = grad(case.forward, wrt=case.wrt)(*args)
    assert ours == pytest.approx(case.hand(*args), rel=RTOL_OURS)
    assert ours == pytest.approx(numerical_gradient(case.forward, args, case.wrt), rel=RTOL_FD)


def test_arguments_are_float64(case):
    for arg in case.args("test"):
        assert isinstance(arg, (int, float)) or arg.dtype == np.float64, case.name


def test_branch_loop_takes_both_branches():
    for mode in ("test", "full"):
        x, n = bench_cases.case_named("branch_loop").args(mode)
        y, taken = x, set()
        for _ in range(n):
            taken.add(y > 1.0)
            y = y * 0.9 - 0.05 + x * 0.01 if y > 1.0 else y * 0.95 + 0.1 + x * 0.02
        assert taken == {True, False}, mode


def test_while_loop_trip_count_matches_the_size():
    case = bench_cases.case_named("while_loop")
    for mode in ("test", "full"):
        x, limit = case.args(mode)
        y, trips = x, 0
        while y < limit:
            y = y * 1.002 + x * 0.001
            trips += 1
        assert abs(trips - case.sizes[mode]) <= 1, (mode, trips)


def test_transformation_case_is_about_fifty_lines_and_correct():
    import inspect

    lines = len(inspect.getsource(transform_case.pendulum).splitlines())
    assert 45 <= lines <= 60
    ours = grad(transform_case.pendulum, wrt=transform_case.WRT)(*transform_case.ARGS)
    numeric = numerical_gradient(transform_case.pendulum, transform_case.ARGS, transform_case.WRT)
    np.testing.assert_allclose(ours, numeric, rtol=RTOL_FD, atol=ATOL_FD)


def test_peer_comparison_flags_a_wrong_gradient():
    from benchmarks.peers import compare

    good = (np.array([1.0, 2.0]), np.array(3.0))
    assert compare(good, good) is None
    assert compare((np.array([1.0, 2.0 + 1e-3]), np.array(3.0)), good).startswith("wrong")
    assert compare((np.array([1.0, 2.0]),), good).startswith("wrong")
    assert compare((np.array([1.0, math.nan]), np.array(3.0)), good).startswith("wrong")


def test_runner_runs(capsys, tmp_path):
    from benchmarks.run import main

    output = tmp_path / "results.md"
    code = main(
        [
            "--cases",
            "seed,affine_loop",
            "--quick",
            "--peers",
            "none",
            "--repeat",
            "1",
            "--min-time",
            "0.0001",
            "--threads",
            "0",
            "--output",
            str(output),
        ]
    )
    assert code == 0
    text = output.read_text()
    assert "| seed |" in text and "| affine_loop |" in text
    assert "## Machine" in text and "tracemalloc" in text
    assert "| seed |" in capsys.readouterr().out
