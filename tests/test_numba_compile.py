"""Compiled gradients (``grad(f, compile="numba")``, issue 18): the same gradients as the
Python code and as central finite differences, or one clear refusal naming the line.

Skipped where Numba is not installed. Each function is compiled once per argument
types (compile time dominates: the cases are grouped per function).

* every control-flow test function of ``test_control_flow.py`` (its ``VJP_CASES``
  table and the loop forms after it), from a copy of that module whose counting side
  effects (``TRACE.append(...)``, a global list Numba cannot change) are left out;
* the benchmark's scalar loops and the IIR element loop;
* random programs of the scalar fuzzer (``fuzz_programs.programs``), also against
  central differences where ``test_fuzz`` trusts them;
* the behaviours: ``.source`` is the compiled text, typed tapes, refusals with the
  user's line, a global number rebound (Numba froze it) compiles again, the extra named
  where Numba is missing.
"""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from gradcheck import check_grad, numerical_gradient

from ad_transform import ADTransformError, grad, value_and_grad, vjp

numba = pytest.importorskip("numba")

HERE = Path(__file__).parent


def _assert_same(compiled, python, rtol=1e-12, atol=0.0) -> None:
    compiled = compiled if isinstance(compiled, tuple) else (compiled,)
    python = python if isinstance(python, tuple) else (python,)
    assert len(compiled) == len(python)
    for c, p in zip(compiled, python):
        np.testing.assert_allclose(c, p, rtol=rtol, atol=atol)


def _assert_differences(f, args, wrt, gradient) -> None:
    expected = numerical_gradient(f, list(args), wrt)
    _assert_same(gradient, expected, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------------------
# the control-flow functions
# ---------------------------------------------------------------------------------------


def _control_flow_without_trace(directory: Path):
    """``test_control_flow.py`` with each ``TRACE.append(...)`` statement a ``pass``."""
    text = (HERE / "test_control_flow.py").read_text()
    text = re.sub(r"(?m)^(\s*)TRACE\.append\(.*\)$", r"\1pass", text)
    path = directory / "numba_control_flow.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("numba_control_flow", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["numba_control_flow"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def control_flow(tmp_path_factory):
    return _control_flow_without_trace(tmp_path_factory.mktemp("numba_cf"))


def _control_flow_cases() -> dict[str, list]:
    import test_control_flow as cf

    cases: dict[str, list] = {}
    for f, args, wrt in cf.VJP_CASES:
        cases.setdefault(f.__name__, []).append((args, wrt))
    cases["for_else"] = [((1.5,), 0)]
    cases["while_else"] = [((1.5,), 0)]
    cases["long_loop"] = [((0.3, 200), 0)]
    cases["calls_square_in_loop"] = [((0.5,), 0)]
    cases["calls_square_in_branch_in_loop"] = [((0.5,), 0)]
    cases["calls_power"] = [((1.3,), 0)]
    cases["calls_helper_in_loop"] = [((0.9,), 0)]
    return cases


CONTROL_FLOW = _control_flow_cases()

# Refused with a clear error (each for the reason named): sequences given as Python lists
# or tuples, array-row loops whose values' kinds are not known (generic runtime helpers),
# names Python may find unbound (``check_bound``), a recursive helper (its result kind unknown).
REFUSED = {
    "over_sequence": "mul_adjoint_left",
    "over_literal_tuple": "mul_adjoint_left",
    "over_rows": "add_adjoint_left",
    "over_rows_nonlinear": "array_operand",
    "over_enumerate": "add_adjoint_left",
    "over_enumerate_list": "mul_adjoint_left",
    "over_zip": "array_operand",
    "over_zip_rows": "add_adjoint_left",
    "nested_loops_3_arrays": "add_adjoint_left",
    "loop_variable_after_loop": "check_bound",
    "first_assigned_in_loop": "check_bound",
    "return_in_else": "check_bound",
    "calls_power": "mul_adjoint_left",
}


@pytest.mark.parametrize("name", sorted(CONTROL_FLOW))
def test_control_flow_compiled(control_flow, name):
    f = getattr(control_flow, name)
    for args, wrt in CONTROL_FLOW[name]:
        compiled = grad(f, wrt, compile="numba")
        try:
            gradient = compiled(*args)
        except ADTransformError as exc:
            assert name in REFUSED, f"{name} refused: {exc}"
            message = str(exc)
            assert message.startswith("compile='numba'"), message
            assert REFUSED[name] in message and re.search(r"line \d+", message), message
            return
        _assert_same(gradient, grad(f, wrt)(*args))
        _assert_differences(f, args, wrt, gradient)


def test_value_and_grad_compiled(control_flow):
    f = control_flow.while_with_if
    value, gradient = value_and_grad(f, compile="numba")(0.6)
    assert value == f(0.6)
    _assert_same(gradient, grad(f)(0.6))


# ---------------------------------------------------------------------------------------
# the benchmark's loops
# ---------------------------------------------------------------------------------------

sys.path.insert(0, str(HERE.parent))
from benchmarks.cases import case_named  # noqa: E402

BENCHMARK_LOOPS = [
    "affine_loop",
    "sin_loop",
    "branch_loop",
    "while_loop",
    "rk4_inline",
    "rk4_helper",
    "iir_filter",
]


@pytest.mark.parametrize("name", BENCHMARK_LOOPS)
def test_benchmark_loops_compiled(name):
    case = case_named(name)
    args = case.args("test")
    gradient = grad(case.forward, case.wrt, compile="numba")(*args)
    _assert_same(gradient, grad(case.forward, case.wrt)(*args), rtol=1e-11)
    _assert_same(gradient, case.hand(*args), rtol=1e-10)
    _assert_differences(case.forward, args, case.wrt, gradient)


def element_loop(x, a):
    s = 0.0
    for i in range(x.shape[0]):
        s = s * a + math.sin(x[i]) * x[i]
    return s


def matrix_loop(x, W):
    h = x
    for _ in range(3):
        h = np.tanh(W @ h) + h * 0.5
    return np.sum(h * h)


_MATRIX = np.array([[0.5, 0.1, 0.0], [0.2, -0.4, 0.3], [0.1, 0.2, 0.6]])


@pytest.mark.parametrize(
    "f, args",
    [
        (element_loop, (np.linspace(-1.0, 1.5, 6), 0.9)),
        (matrix_loop, (np.array([0.3, -0.2, 0.5]), _MATRIX)),
    ],
)
def test_float_array_loops_compiled(f, args):
    """Element loops over a 1-D array and matrix-vector loops: arrays' adjoints start as
    arrays (``dW = zeros_like(W)``), runtime helpers run in their Numba versions."""
    gradient = grad(f, (0, 1), compile="numba")(*args)
    _assert_same(gradient, grad(f, (0, 1))(*args))
    _assert_differences(f, args, (0, 1), gradient)


def divides(x, d):
    return x / d


def test_division_by_zero_raises_as_in_python():
    with pytest.raises(ZeroDivisionError):
        grad(divides, compile="numba")(1.0, 0.0)


def retries(x):
    y = x
    for _ in range(3):
        try:
            y = y * 1.5
            if y > 100.0:
                raise ValueError("big")
        except ValueError:
            y = 0.0
    return y


def test_try_is_refused_naming_the_line():
    with pytest.raises(ADTransformError, match=r"compile='numba'.*line \d+"):
        grad(retries, compile="numba")(0.7)


def recurrence(x, a):
    y = x.copy()
    for i in range(1, x.shape[0]):
        y[i] = a * y[i - 1] + y[i] * y[i]
    return np.sum(y)


def test_element_loop_tapes_are_typed_per_slot():
    """An element loop pushes old array items (floats) and loop data of other types: one
    typed tape each, where the Python code keeps one list for all. (The IIR filter of
    the benchmarks no longer needs a tape: its restores are dropped.)"""
    x = np.array([0.3, -0.2, 0.5, 0.1])
    source = grad(recurrence, 0, compile="numba").source_for(x, 0.7)
    assert "tape1 = []" in source and "tape2 = []" in source
    assert "push(" not in source and "pop()" not in source
    python = grad(recurrence, 0).source_for(x, 0.7)
    assert "tape = []" in python and "tape1" not in python
    np.testing.assert_allclose(
        grad(recurrence, 0, compile="numba")(x, 0.7), grad(recurrence, 0)(x, 0.7), rtol=1e-12
    )
    check_grad(recurrence, (x, 0.7), wrt=0)


def pendulum_steps(k, u, n):
    v = 0.0
    for _ in range(n):
        s = math.sin(u)
        e = math.exp(-0.1 * v)
        v = v - 0.05 * k * s * e
        u = u + 0.05 * v
    return u * v + u


def _backward_calls(source: str) -> list[str]:
    """The ``math`` functions the backward sweep of ``source`` calls (comments aside)."""
    backward = source[source.index("# backward sweep") :]
    code = "\n".join(line.split("#")[0] for line in backward.splitlines())
    return sorted(set(re.findall(r"math\.\w+(?=\()", code)))


def test_math_values_kept_on_the_tape():
    """The Numba variant keeps ``math.sin(u)``/``math.exp(w)`` on the tape beside their
    arguments (a store is cheaper than computing them again after the pop, as the Python
    code does): the backward sweep calls only the derivatives' ``cos``."""
    args = (1.3, 0.8, 40)
    compiled = grad(pendulum_steps, (0, 1), compile="numba")
    source = compiled.source_for(*args)
    assert _backward_calls(source) == ["math.cos"]
    python_source = grad(pendulum_steps, (0, 1)).source_for(*args)
    assert "math.sin" in _backward_calls(python_source)
    gradient = compiled(*args)
    _assert_same(gradient, grad(pendulum_steps, (0, 1))(*args), rtol=1e-11)
    _assert_differences(pendulum_steps, args, (0, 1), gradient)


# ---------------------------------------------------------------------------------------
# random scalar programs
# ---------------------------------------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
from fuzz_programs import load, programs  # noqa: E402
from test_fuzz import Skip as FuzzSkip  # noqa: E402
from test_fuzz import _close as fuzz_close  # noqa: E402
from test_fuzz import reference_gradient as fuzz_reference  # noqa: E402


@hypothesis.settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
    database=None,
    phases=(hypothesis.Phase.explicit, hypothesis.Phase.generate),  # no shrinking: slow
)
@hypothesis.given(programs(max_helpers=1))
def test_fuzz_programs_compiled(tmp_path_factory, program):
    f = load(program, tmp_path_factory.mktemp("numba_fuzz"))
    point = program.point
    wrt = tuple(range(program.arity))
    try:
        value = f(*point)
    except (ArithmeticError, ValueError):
        return
    if not math.isfinite(value) or abs(value) > 1e6:
        return
    expected = grad(f, wrt)(*point)
    compiled = grad(f, wrt, compile="numba")(*point)
    _assert_same(compiled, expected, rtol=1e-9, atol=1e-12)
    try:  # central differences where they are a trustworthy reference (test_fuzz.py)
        reference = fuzz_reference(f, point)
    except FuzzSkip:
        return
    compiled = compiled if isinstance(compiled, tuple) else (compiled,)
    assert len(compiled) == len(reference)
    for analytic, numeric in zip(compiled, reference):
        assert fuzz_close(analytic, numeric), (analytic, numeric)


# ---------------------------------------------------------------------------------------
# behaviours
# ---------------------------------------------------------------------------------------

SCALE = 0.5


def scaled_loop(x, n):
    y = x
    for _ in range(n):
        y = math.sin(y) * SCALE + x
    return y


def test_global_number_rebound_compiles_again():
    """Numba compiles a global number as a constant: rebinding it makes the code stale."""
    global SCALE
    compiled = grad(scaled_loop, compile="numba")
    first = compiled(0.7, 20)
    _assert_same(first, grad(scaled_loop)(0.7, 20))
    try:
        SCALE = 0.25
        second = compiled(0.7, 20)
        _assert_same(second, grad(scaled_loop)(0.7, 20))
        assert abs(second - first) > 1e-3
    finally:
        SCALE = 0.5


WEIGHTS = np.array([1.0, 2.0])


def reads_global_array(x):
    y = x * 2.0
    for i in range(2):
        y = y + WEIGHTS[i]
    return y


def test_global_array_is_refused():
    """Numba would freeze the array's contents; the Python code reads them live."""
    with pytest.raises(ADTransformError, match=r"compile='numba'.*line \d+.*WEIGHTS"):
        grad(reads_global_array, compile="numba")(1.0)


def uses_bit_length(x):
    y = x * 2.0
    bits = int(x).bit_length()
    for _ in range(bits):
        y = y * 3.0
    return y


def test_numba_typing_error_names_the_line():
    """What Numba cannot type is one ADTransformError naming the user's line."""
    with pytest.raises(ADTransformError, match=r"compile='numba'.*line \d+") as info:
        grad(uses_bit_length, compile="numba")(5.0)
    assert "bits = int(x).bit_length()" in str(info.value)


def test_source_is_the_compiled_text():
    case = case_named("sin_loop")
    compiled = grad(case.forward, compile="numba")
    compiled(0.7, 10)
    source = compiled.source
    assert "tape1 = []" in source and "push1(" in source and "pop1()" in source
    assert "type(x)" not in source  # a float gradient is returned as Numba computes it
    assert compiled._last.function.dispatcher.py_func.__name__ in source


def test_vjp_compiled(control_flow):
    f = control_flow.while_with_if
    value, pullback = vjp(f, compile="numba")(0.6)
    assert value == f(0.6)
    expected = vjp(f)(0.6)[1]
    _assert_same(pullback(2.0), expected(2.0))
    _assert_same(pullback(-0.5), expected(-0.5))  # the pullback pops from copies of tapes


def test_unknown_compile_option():
    with pytest.raises(ValueError, match="compile='jax'"):
        grad(scaled_loop, compile="jax")


def test_missing_numba_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba raises ImportError
    with pytest.raises(ImportError, match=r"ad_transform\[numba\]"):
        grad(scaled_loop, compile="numba")
