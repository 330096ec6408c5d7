"""The faster transformation generates exactly the code the slower one did.

What made it faster (docs/architecture/transform_speed.md) is checked against what it
replaced:

* the memo of one transformation (``transform_memo.one_transformation``: each source
  read and each function parsed and lowered once): the code generated for fuzz programs
  and benchmark cases is the same with the memo switched off (every request parsing
  again, as before);
* the memo hands out copies, forgets everything when the transformation ends, and does
  not reuse a tree once the function's code object changed;
* the garbage collector runs again after a transformation (also one that refuses), and
  stays off if it was off;
* the tree helpers equal what they replaced: ``subnodes`` is ``gast.walk``,
  ``children`` is ``gast.iter_child_nodes``, ``clone`` copies like ``copy.deepcopy``,
  ``_own_nodes`` is the former algorithm.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import sys
import tempfile
from pathlib import Path

import gast
import numpy as np
import pytest

from ad_transform import ADTransformError, forward, grad, jvp, pipeline, value_and_grad, vjp
from ad_transform.kinds import forget_helper_results
from ad_transform.lower import function_values
from ad_transform.nodes import children, clone, parents, subnodes
from ad_transform.parse import parse_function, parse_source
from ad_transform.transform_memo import one_transformation, remembered

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import transform_corpus  # noqa: E402
from benchmarks.cases import CASES  # noqa: E402

PROGRAMS = 12  # the first fuzz programs of the derandomized generator
CASE_NAMES = ("branch_loop", "while_loop", "iir_filter", "mlp", "rk4_helper", "nbody", "gp")


def _forget_generated() -> None:
    pipeline._cache.clear()
    forward._cache.clear()
    forget_helper_results()


@contextlib.contextmanager
def _without_memo():
    """Every transformation parses each function at every request, as before the memo."""
    saved = pipeline.one_transformation, forward.one_transformation
    pipeline.one_transformation = forward.one_transformation = contextlib.nullcontext
    try:
        yield
    finally:
        pipeline.one_transformation, forward.one_transformation = saved


def _both_ways(transform) -> tuple[list[str], list[str]]:
    _forget_generated()
    fast = transform_corpus.comparable(transform_corpus._sources(transform))
    _forget_generated()
    with _without_memo():
        slow = transform_corpus.comparable(transform_corpus._sources(transform))
    _forget_generated()
    return fast, slow


@pytest.fixture(scope="module")
def programs():
    return transform_corpus.fuzz_programs(PROGRAMS)


def test_fuzz_programs_generate_the_same_code_without_the_memo(programs):
    with tempfile.TemporaryDirectory(prefix="ad_speed_") as tmp:
        for i, program in enumerate(programs):
            fast, slow = _both_ways(transform_corpus.program_transform(program, Path(tmp)))
            assert fast == slow, f"fuzz program {i}:\n{program.source}"


@pytest.mark.parametrize("name", CASE_NAMES)
def test_benchmark_cases_generate_the_same_code_without_the_memo(name):
    case = next(c for c in CASES if c.name == name)
    fast, slow = _both_ways(transform_corpus.case_transform(case))
    assert fast == slow


def test_forward_mode_generates_the_same_code_without_the_memo():
    case = next(c for c in CASES if c.name == "rk4_helper")
    args = case.args("test")

    def transform() -> list[str]:
        from benchmarks.transform import fresh_copy

        wrt = case.wrt if isinstance(case.wrt, int) else case.wrt[0]
        return [jvp(fresh_copy(case.forward), wrt=wrt).source_for(*args)]

    fast, slow = _both_ways(transform)
    assert fast == slow
    assert "def jvp_" in fast[0]


# -- the memo ----------------------------------------------------------------------------


def helper(x):
    y = [x, 2.0 * x]
    return sum(v * v for v in y)


def other(x):
    return x * 3.0


def test_parse_function_hands_out_copies_within_a_transformation():
    with one_transformation():
        first = parse_function(helper)
        first.tree.body.clear()
        first.closure["added"] = None
        second = parse_function(helper)
        assert second.tree.body and "added" not in second.closure
        assert second.tree is not first.tree
        source = parse_source(helper)
        source.tree.body.clear()
        assert parse_source(helper).tree.body


def test_the_memo_ends_with_the_transformation():
    calls = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    with one_transformation():
        assert remembered("key", helper.__code__, compute) == 1
        with one_transformation():  # a nested transformation shares the outer memo
            assert remembered("key", helper.__code__, compute) == 1
        assert remembered("key", helper.__code__, compute) == 1
    with one_transformation():
        assert remembered("key", helper.__code__, compute) == 2
    assert remembered("key", helper.__code__, compute) == 3  # outside: nothing kept
    assert remembered("key", helper.__code__, compute) == 4


def test_a_changed_code_object_is_parsed_again():
    def changing(x):
        return x * 2.0

    with one_transformation():
        before = parse_function(changing)
        changing.__code__ = other.__code__
        after = parse_function(changing)
    assert before.tree.name == "changing" and after.tree.name == "other"


def test_a_redefined_helper_is_read_again_by_the_next_transformation():
    namespace: dict = {}
    with tempfile.TemporaryDirectory(prefix="ad_speed_") as tmp:
        path = Path(tmp) / "speed_module.py"
        text = "def h(x):\n    return x * {k}\n\ndef f(x):\n    return h(x) + x\n"
        path.write_text(text.format(k="2.0"))
        exec(compile(path.read_text(), str(path), "exec"), namespace)
        g = grad(namespace["f"])
        assert g(1.5) == pytest.approx(3.0)
        path.write_text(text.format(k="5.0"))
        import linecache

        linecache.checkcache(str(path))
        exec(compile(path.read_text(), str(path), "exec"), namespace)  # rebinds h and f
        assert grad(namespace["f"])(1.5) == pytest.approx(6.0)


# -- the garbage collector ---------------------------------------------------------------


def refused(x):
    return eval("x")  # a call with no rule: refused


def test_the_garbage_collector_runs_again_after_a_transformation():
    assert gc.isenabled()
    vjp(helper)(1.0)
    assert gc.isenabled()
    with pytest.raises(ADTransformError):
        value_and_grad(refused)(1.0)
    assert gc.isenabled()


def test_the_garbage_collector_stays_off_if_it_was_off():
    gc.disable()
    try:
        grad(other)(2.0)
        assert not gc.isenabled()
    finally:
        gc.enable()


# -- the tree helpers --------------------------------------------------------------------


def _trees(programs) -> list[gast.AST]:
    """Parsed and lowered trees of benchmark cases and fuzz programs (every construct the
    fuzzer writes: closures, comprehensions, try, match, classes...)."""
    trees = [parse_function(case.forward).tree for case in CASES]
    with tempfile.TemporaryDirectory(prefix="ad_speed_") as tmp:
        from fuzz_programs import load

        for program in programs:
            module_function = load(program, Path(tmp))
            trees.append(parse_source(module_function).tree)
            with contextlib.suppress(ADTransformError):  # a refused construct
                trees.append(parse_function(module_function).tree)
    return trees


def _old_own_nodes(nodes) -> list[gast.AST]:
    """``lower.function_values._own_nodes`` as it was written before (the reference)."""
    found = list(nodes) if isinstance(nodes, list) else [nodes]
    result = []
    while found:
        node = found.pop()
        result.append(node)
        if isinstance(node, gast.FunctionDef):
            found.extend(node.args.defaults + [d for d in node.args.kw_defaults if d])
            found.extend(node.decorator_list)
            continue
        if isinstance(node, gast.Lambda):
            found.extend(node.args.defaults + [d for d in node.args.kw_defaults if d])
            continue
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                found.extend(v for v in value if isinstance(v, gast.AST))
            elif isinstance(value, gast.AST):
                found.append(value)
    return result


def test_tree_helpers_equal_what_they_replaced(programs):
    for tree in _trees(programs):
        walked = list(gast.walk(tree))
        assert subnodes(tree) == walked
        assert subnodes(tree.body) == [n for s in [tree.body] for n in _walk_list(s)]
        found_parents = parents(tree)
        for node in walked:
            assert children(node) == list(gast.iter_child_nodes(node))
            for child in children(node):
                assert found_parents[id(child)] is node
        assert function_values._own_nodes(tree.body) == _old_own_nodes(tree.body)


def _walk_list(stmts: list) -> list:
    """``gast.walk`` of a list of statements: breadth first from all of them."""
    return list(gast.walk(gast.Module(body=stmts, type_ignores=[])))[1:]


def test_clone_copies_like_deepcopy(programs):
    for tree in _trees(programs)[:10]:
        for node in subnodes(tree)[::7]:
            node.ad_marker = [node.__class__.__name__, ("kept", 1)]
        copied, reference = clone(tree), copy.deepcopy(tree)
        assert gast.dump(copied) == gast.dump(reference) == gast.dump(tree)
        pairs = list(zip(subnodes(copied), subnodes(tree), subnodes(reference)))
        for new, old, deep in pairs:
            assert new is not old and type(new) is type(old)
            assert new.__dict__.keys() == old.__dict__.keys() == deep.__dict__.keys()
            if hasattr(old, "ad_marker"):
                assert new.ad_marker == old.ad_marker and new.ad_marker is not old.ad_marker


def test_clone_of_lists_and_values():
    value = np.float64(2.5)
    node = gast.Constant(value=value, kind=None)
    nested = [[node], "text", None]
    copied = clone(nested)
    assert copied[1:] == ["text", None]
    assert copied[0][0] is not node and copied[0][0].value is value
