"""The optimization stage: each pass on its own (source in, source out), and the whole
stage against the reverse stage's own code (the same gradients, bit for bit, on random
programs and on the benchmark cases).

The expected sources below were written by hand from what each pass promises; a pass
that does too little or too much (removing a store someone reads) fails them.
"""

from __future__ import annotations

import ast
import functools
import textwrap
import types
from pathlib import Path

import gast
import numpy as np
import pytest
from fuzz_programs import load, programs
from hypothesis import HealthCheck, given, settings

import ad_transform.pipeline as pipeline
from ad_transform import grad, value_and_grad
from ad_transform.optimize import (
    assign_known_zeros,
    coalesce_copies,
    drop_dead_stores,
    fold_temporaries,
    optimize,
    propagate,
    propagate_block_copies,
)


def _parse(source: str) -> list[gast.stmt]:
    return gast.parse(textwrap.dedent(source)).body


def _print(stmts: list[gast.stmt]) -> str:
    module = gast.gast_to_ast(gast.Module(body=stmts, type_ignores=[]))
    return ast.unparse(ast.fix_missing_locations(module))


def _same(stmts: list[gast.stmt], expected: str) -> None:
    assert _print(stmts) == _print(_parse(expected))


def _impure(stmts: list[gast.stmt], *names: str) -> list[gast.stmt]:
    """Mark the statements assigning ``names`` as having effects (like ``v = pop()``)."""
    for stmt in _all(stmts):
        if isinstance(stmt, gast.Assign) and _target(stmt) in names:
            stmt.ad_pure = False
    return stmts


def _all(stmts):
    for stmt in stmts:
        yield stmt
        yield from _all(getattr(stmt, "body", []) or [])
        yield from _all(getattr(stmt, "orelse", []) or [])


def _target(stmt: gast.Assign) -> str | None:
    target = stmt.targets[0]
    return target.id if isinstance(target, gast.Name) else None


# -- assign_known_zeros ----------------------------------------------------------------


ADJOINTS = {"dx", "dy", "dz", "dv"}


def _zeros(source: str, predefined: frozenset = frozenset()) -> list:
    return assign_known_zeros(_parse(source), ADJOINTS, set(predefined))


def _zeros_keep(source: str) -> None:
    """``assign_known_zeros`` must leave ``source`` as it is."""
    _same(_zeros(source), source)


def test_known_zero_after_a_reset_becomes_an_assignment():
    _same(_zeros("dx = 0.0\ndx += a\ndx += b"), "dx = 0.0\ndx = a\ndx += b")


def test_first_contribution_of_an_unbound_adjoint_is_an_assignment():
    stmts = _zeros("dx += a\ndx += b")
    _same(stmts, "dx = a\ndx += b")


def test_without_resets_only_first_contributions_are_assignments():
    stmts = assign_known_zeros(_parse("dx += a\ndy = 0.0\ndy += b"), ADJOINTS, set(), False)
    _same(stmts, "dx = a\ndy = 0.0\ndy += b")


def test_a_predefined_adjoint_is_not_zero():
    _same(_zeros("dx += a", predefined=frozenset({"dx"})), "dx += a")


def test_each_branch_starts_from_the_zero_before_the_if():
    stmts = _zeros(
        """
        dx = 0.0
        if c:
            dx += a
        else:
            dx += b
        """
    )
    _same(stmts, "dx = 0.0\nif c:\n    dx = a\nelse:\n    dx = b")


def test_after_a_branch_that_contributes_the_adjoint_is_not_zero():
    stmts = _zeros("dx = 0.0\nif c:\n    dx += a\ndx += b")
    _same(stmts, "dx = 0.0\nif c:\n    dx = a\ndx += b")


def test_an_adjoint_reset_at_the_end_of_each_iteration_is_zero_at_its_start():
    stmts = _zeros(
        """
        dy = 0.0
        for i in r:
            dy += g
            dx += dy
            dy = 0.0
        """
    )
    _same(stmts, "dy = 0.0\nfor i in r:\n    dy = g\n    dx += dy\n    dy = 0.0")


def test_an_adjoint_carried_across_iterations_keeps_accumulating():
    _zeros_keep("dx = 0.0\nfor i in r:\n    dx += g")


def test_an_adjoint_reset_in_one_branch_only_is_not_zero_at_the_loop_start():
    source = """
        dy = 0.0
        for i in r:
            dy += g
            if c:
                dy = 0.0
        """
    _zeros_keep(source)


def test_a_contribution_reading_the_adjoint_itself_is_kept():
    _zeros_keep("dx = 0.0\ndx += dx * 2")


def test_a_loop_with_a_break_does_not_assume_zero_at_its_start():
    source = """
        dy = 0.0
        while True:
            dy += g
            if c:
                break
            dy = 0.0
        """
    _zeros_keep(source)


# -- drop_dead_stores ------------------------------------------------------------------


def test_a_store_overwritten_before_any_read_goes():
    _same(drop_dead_stores(_parse("d = 0.0\nd = a\nr = d"), {"r"}), "d = a\nr = d")


def test_a_store_read_later_stays():
    source = "d = 0.0\nif c:\n    d = a\nr = d"
    _same(drop_dead_stores(_parse(source), {"r"}), source)


def test_a_reset_at_the_end_of_a_loop_body_goes_when_the_next_iteration_overwrites_it():
    source = """
        d = 0.0
        for i in r:
            d = g
            s += d
            d = 0.0
        """
    _same(drop_dead_stores(_parse(source), {"s"}), "for i in r:\n    d = g\n    s += d")


def test_a_value_read_by_the_next_iteration_stays():
    source = """
        d = 1.0
        for i in r:
            s += d
            d = g
        """
    _same(drop_dead_stores(_parse(source), {"s"}), source)


def test_a_value_read_after_a_break_stays():
    source = """
        while True:
            d = g
            if c:
                break
            d = h
        s = d
        """
    _same(drop_dead_stores(_parse(source), {"s"}), source)


def test_a_while_test_reads_at_every_iteration():
    source = "d = a\nwhile d < 3:\n    d = d + 1\n    e = 5\ns = d"
    _same(drop_dead_stores(_parse(source), {"s"}), "d = a\nwhile d < 3:\n    d = d + 1\ns = d")


def test_statements_with_effects_and_item_stores_stay():
    source = "v = pop()\nd[i] = 0.0\nw = 2"
    stmts = _impure(_parse(source), "v")
    _same(drop_dead_stores(stmts, set()), "v = pop()\nd[i] = 0.0")


def test_an_if_left_with_nothing_to_do_goes():
    stmts = drop_dead_stores(_parse("if c:\n    d = 1\nelse:\n    d = 2\ns = 1"), {"s"})
    _same(stmts, "s = 1")


# -- propagate and propagate_block_copies ---------------------------------------------


def test_single_assignment_copies_and_constants_are_substituted_and_folded():
    stmts = propagate(_parse("a = b\nc = 1.0\ndx = a * c + 0.0"), protected={"dx"})
    _same(stmts, "dx = b")


def test_a_copy_living_in_one_branch_disappears():
    stmts = propagate_block_copies(
        _parse("if c:\n    dv = dy\n    dx = dv * 2\n"), {"dv", "dy", "dx"}, {"dx"}
    )
    _same(stmts, "if c:\n    dx = dy * 2")


def test_a_copy_read_after_the_original_changes_stays():
    source = "for i in r:\n    dv = dy\n    dy = dy * 2\n    dx = dv * 3"
    stmts = propagate_block_copies(_parse(source), {"dv", "dy", "dx"}, {"dx"})
    _same(stmts, source)


def test_a_copy_read_before_the_original_changes_on_every_path_goes():
    source = """
        for i in r:
            dv = dy
            if c:
                dx += dv * 0.5
                dy = dv * 0.9
            else:
                dy = dv
        """
    stmts = propagate_block_copies(_parse(source), {"dv", "dy", "dx"}, {"dx"})
    _same(stmts, "for i in r:\n    if c:\n        dx += dy * 0.5\n        dy = dy * 0.9")


# -- the forward sweep -----------------------------------------------------------------


def test_single_use_temporaries_fold_into_their_use():
    source = "v2 = y * 0.9\nv3 = v2 - 0.05\nv4 = x * 0.01\ny2 = v3 + v4"
    _same(fold_temporaries(_parse(source), {"y2"}), "y2 = y * 0.9 - 0.05 + x * 0.01")


def test_a_temporary_the_backward_sweep_reads_stays():
    source = "v1 = math.sin(y)\ny2 = v1 * 0.5"
    _same(fold_temporaries(_parse(source), {"y2", "v1"}), source)


def test_a_temporary_does_not_move_past_an_assignment_of_what_it_reads():
    source = "v1 = y * 2\ny = 3.0\nz = v1 + y"
    _same(fold_temporaries(_parse(source), {"z"}), source)


def test_a_temporary_does_not_move_past_an_effect():
    source = "v1 = y * 2\nw = f()\nz = v1 + w"
    stmts = _impure(_parse(source), "w")
    _same(fold_temporaries(stmts, {"z"}), source)


def test_a_subscript_is_not_moved():
    source = "v1 = a[i]\nz = v1 + 1"
    _same(fold_temporaries(_parse(source), {"z"}), source)


def test_a_temporary_does_not_move_into_a_loop():
    source = "v1 = y * 2\nfor i in r:\n    z = v1 + i"
    _same(fold_temporaries(_parse(source), {"z"}), source)


def test_a_join_copy_assigns_in_the_branches():
    source = """
        for i in r:
            if c:
                y4 = y1 * 0.9
            else:
                y4 = y1
            push(c)
            y1 = y4
        """
    expected = "for i in r:\n    if c:\n        y1 = y1 * 0.9\n    push(c)"
    _same(coalesce_copies(_parse(source), {"c"}), expected)


def test_a_join_copy_stays_when_the_target_is_read_in_between():
    source = "if c:\n    y4 = 1.0\nelse:\n    y4 = 2.0\nz = y1\ny1 = y4"
    _same(coalesce_copies(_parse(source), {"z"}), source)


# -- the whole stage against the unoptimized code ---------------------------------------


def _fresh(func: types.FunctionType) -> types.FunctionType:
    """The same code as a new function object (nothing cached for it)."""
    return types.FunctionType(
        func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__
    )


def _unoptimized(monkeypatch) -> None:
    monkeypatch.setattr(pipeline, "optimize", functools.partial(optimize, passes=False))


def _assert_same_gradients(optimized, unoptimized) -> None:
    assert len(optimized) == len(unoptimized)
    for a, b in zip(optimized, unoptimized):
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    """Where the random programs' modules are written: pytest's temporary directory
    (cleaned up by pytest), never a directory left behind in /tmp."""
    return tmp_path_factory.mktemp("ad_optimize")


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(programs())
def test_optimized_code_gives_the_unoptimized_gradients_on_random_programs(fuzz_dir, program):
    wrt = tuple(range(program.arity))
    try:
        load(program, fuzz_dir)(*program.point)
    except (ArithmeticError, ValueError):
        return  # the function itself fails at this point
    optimized = grad(load(program, fuzz_dir), wrt=wrt)(*program.point)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _unoptimized(monkeypatch)
        unoptimized = grad(load(program, fuzz_dir), wrt=wrt)(*program.point)
    _assert_same_gradients(optimized, unoptimized)


def test_the_unoptimized_code_is_really_different(monkeypatch):
    """The comparison above means something: the passes change the code."""
    from golden_functions import decay

    optimized = grad(_fresh(decay)).source_for(0.3, 5)
    _unoptimized(monkeypatch)
    unoptimized = grad(_fresh(decay)).source_for(0.3, 5)
    assert "v1 = math.sin(y_1)" in unoptimized
    assert "y_1 = math.sin(y_1) * 0.5 + x" in optimized


def _benchmark_cases():
    from benchmarks import cases

    return [pytest.param(case, id=case.name) for case in cases.CASES]


@pytest.mark.parametrize("case", _benchmark_cases())
def test_optimized_code_gives_the_unoptimized_gradients_on_the_benchmarks(case, monkeypatch):
    args = case.args("test")
    optimized = value_and_grad(_fresh(case.forward), wrt=case.wrt)(*args)
    _unoptimized(monkeypatch)
    unoptimized = value_and_grad(_fresh(case.forward), wrt=case.wrt)(*args)
    assert optimized[0] == unoptimized[0]
    wrap = (lambda g: g) if isinstance(case.wrt, tuple) else (lambda g: (g,))
    _assert_same_gradients(wrap(optimized[1]), wrap(unoptimized[1]))
