"""``export(f, path, compile="numba")`` (issue 18): the exported module compiles the same
generated functions with ``numba.njit`` at their first call; imported with importlib, it
gives the gradient of ``grad(f)`` (the Python code) and of central finite differences.

Skipped where Numba is not installed (Numba's compile time counts against the suite's
budget: a few small functions, each compiled once).
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import sys

import numpy as np
import pytest
from gradcheck import numerical_gradient

from ad_transform import grad, value_and_grad
from ad_transform.cli import main as cli_main
from ad_transform.export import export, export_source

numba = pytest.importorskip("numba")

_names = itertools.count()


# -- the functions exported -------------------------------------------------------------


def sin_loop(x, n):
    y = x
    for _ in range(n):
        y = math.sin(y) * 0.5 + x
    return y


def field(u, v, k):
    return v, -k * math.sin(u) - 0.1 * v


def rk4(k, u0, n):
    u = u0
    v = 0.0
    h = 0.05
    for _ in range(n):
        a1, b1 = field(u, v, k)
        a2, b2 = field(u + 0.5 * h * a1, v + 0.5 * h * b1, k)
        a3, b3 = field(u + 0.5 * h * a2, v + 0.5 * h * b2, k)
        a4, b4 = field(u + h * a3, v + h * b3, k)
        u = u + h / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4)
        v = v + h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
    return u * u + v


def partial_sum(x, m):
    s = 0.0
    for i in range(m):
        s = s + x ** (i + 1) / (i + 1.0)
    return s


def half(n):
    return n // 2


def with_helpers(x, m):
    """A helper pair with a loop (not inlined) and a call without a derivative."""
    y = x
    for _ in range(half(m)):
        y = partial_sum(y * 0.5, 3) + math.exp(-x)
    return y


def branchy(x, limit):
    y = x
    while y < limit:
        if y > 1.0:
            y = y * 1.05 + math.tanh(x) * 0.1
        else:
            y = y * 1.2 + x * 0.02
    return y


def iir(x, a):
    n = x.shape[0]
    out = np.zeros(n)
    out[0] = x[0]
    for i in range(1, n):
        out[i] = a * out[i - 1] + x[i]
    return np.sum(out * out)


CASES = [
    (sin_loop, (0.7, 40), 0),
    (rk4, (2.0, 0.8, 30), (0, 1)),
    (with_helpers, (0.6, 8), 0),
    (branchy, (0.5, 3.0), 0),
    (iir, (np.random.default_rng(3).standard_normal(9), 0.8), (0, 1)),
]


# -- helpers ------------------------------------------------------------------------------


def _import(path):
    name = f"numba_exported_{next(_names)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _assert_close(got, expected, rtol, atol=0.0) -> None:
    got = got if isinstance(got, tuple) else (got,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each case exported with compile="numba" (also value_and_grad) and imported."""
    directory = tmp_path_factory.mktemp("numba_export")
    modules = {}
    for f, args, wrt in CASES:
        path = directory / f"grad_{f.__name__}.py"
        export(f, path, wrt=wrt, example_args=args, value_and_grad=True, compile="numba")
        modules[f.__name__] = _import(path)
    return modules


# -- tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("f, args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_exported_gradient_is_compiled_and_right(exported, f, args, wrt):
    module = exported[f.__name__]
    gradient_function = getattr(module, f"grad_{f.__name__}")
    assert isinstance(gradient_function, numba.core.dispatcher.Dispatcher)
    got = gradient_function(*args)
    assert gradient_function.signatures  # compiled by Numba at that call
    _assert_close(got, grad(f, wrt=wrt)(*args), rtol=1e-12)
    _assert_close(got, numerical_gradient(f, list(args), wrt), rtol=1e-6, atol=1e-8)
    value, gradients = getattr(module, f"value_and_grad_{f.__name__}")(*args)
    expected_value, expected = value_and_grad(f, wrt=wrt)(*args)
    assert value == pytest.approx(expected_value, rel=1e-13)
    _assert_close(gradients, expected, rtol=1e-12)


def test_exported_gradient_at_other_arguments(exported):
    """Compiled for the types, not the values: another trip count, another point."""
    gradient_function = exported["sin_loop"].grad_sin_loop
    for x, n in [(-1.3, 7), (0.2, 0), (2.5, 300)]:
        expected = numerical_gradient(sin_loop, [x, n], 0)
        assert gradient_function(x, n) == pytest.approx(expected, rel=1e-6, abs=1e-9)
    x = np.random.default_rng(8).standard_normal(17)
    expected = numerical_gradient(iir, [x, 0.6], (0, 1))
    _assert_close(exported["iir"].grad_iir(x, 0.6), expected, rtol=1e-6, atol=1e-8)


def test_exported_module_does_not_import_ad_transform(tmp_path):
    text = export_source(rk4, wrt=(0, 1), example_args=(2.0, 0.8, 3), compile="numba")
    imports = [line for line in text.splitlines() if line.lstrip().startswith(("import", "from"))]
    assert imports and not [line for line in imports if "ad_transform" in line], imports
    assert "@numba.njit(cache=True)\ndef grad_rk4(k, u0, n):" in text
    assert "tape1 = []" in text  # the Numba variant: one typed tape per slot


def test_helper_pairs_and_plain_calls_are_compiled_too():
    text = export_source(with_helpers, example_args=(0.6, 8), compile="numba")
    jitted = [line for line in text.splitlines() if line.startswith("@numba.njit")]
    functions = text.split("@numba.njit(cache=True)\ndef ")[1:]
    names = {f.split("(")[0] for f in functions}
    assert "grad_with_helpers" in names and any(n.startswith("half") for n in names), names
    assert any(name.startswith("partial_sum_fwd") for name in names), names
    assert any(name.startswith("partial_sum_bwd") for name in names), names
    assert len(jitted) == len(names)


def test_a_second_import_loads_the_compiled_code_from_numba_cache(tmp_path):
    """The module is a real file: Numba's disk cache works (as a later process uses it)."""
    path = export(sin_loop, tmp_path / "grad_sin_cached.py", example_args=(0.7, 3), compile="numba")
    first = _import(path)
    expected = first.grad_sin_loop(0.4, 25)
    assert first.grad_sin_loop.stats.cache_misses
    again = _import(path)  # new dispatchers, as in a new process
    assert again.grad_sin_loop(0.4, 25) == expected
    assert again.grad_sin_loop.stats.cache_hits and not again.grad_sin_loop.stats.cache_misses
    assert expected == pytest.approx(numerical_gradient(sin_loop, [0.4, 25], 0), rel=1e-6)


def iir_sin(x, a):
    # np.sum(out * out)'s adjoint is out * 2.0 (no helper): sin keeps times(g, cos(out))
    n = x.shape[0]
    out = np.zeros(n)
    out[0] = x[0]
    for i in range(1, n):
        out[i] = a * out[i - 1] + x[i]
    return np.sum(np.sin(out))


def test_runtime_helpers_are_their_numba_versions():
    text = export_source(iir_sin, wrt=(0, 1), example_args=CASES[-1][1], compile="numba")
    assert "\ndefine_times()\n" in text and "@overload(times, " in text
    assert "def times(g, d):" in text  # the stub the overload is for
    assert "def item_adjoint" not in text  # element code: rank known from the example


def test_import_without_numba_says_so(tmp_path, monkeypatch):
    path = export(
        sin_loop, tmp_path / "grad_sin_nonumba.py", example_args=(0.7, 3), compile="numba"
    )
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba raises ImportError
    with pytest.raises(ImportError, match=r"exported with compile='numba' and needs Numba"):
        _import(path)


def test_compile_numba_needs_example_args_and_a_known_option(tmp_path):
    with pytest.raises(ValueError, match="needs example_args"):
        export_source(sin_loop, compile="numba")
    with pytest.raises(ValueError, match="the choices are None and 'numba'"):
        export_source(sin_loop, example_args=(0.7, 3), compile="jax")


def test_cli_export_compile_numba(tmp_path, capsys):
    source = tmp_path / "user_loop.py"
    source.write_text(
        "import math\n\n\ndef f(x, n):\n    y = x\n    for _ in range(n):\n"
        "        y = math.cos(y) + x * y\n    return y\n"
    )
    target = tmp_path / "grad_user_loop.py"
    argv = ["export", f"{source}:f", "--args", "0.3", "5", "--compile", "numba", "-o", str(target)]
    assert cli_main(argv) == 0
    module = _import(target)
    assert isinstance(module.grad_f, numba.core.dispatcher.Dispatcher)
    expected = numerical_gradient(module.f, [0.3, 5], 0)
    assert module.grad_f(0.3, 5) == pytest.approx(expected, rel=1e-6)
    assert cli_main(["export", f"{source}:f", "--compile", "numba", "-o", str(target)]) == 1
    assert "--compile numba needs --args" in capsys.readouterr().err


# -- the compiled call path (grad(f, compile="numba")) -------------------------------------


def _double(y):
    return 2.0 * y


def _triple(y):
    return 3.0 * y


def calls_a_global_function(x, n):
    y = x
    for _ in range(n):
        y = _double(math.sin(y)) * 0.3 + x
    return y


def test_fast_path_notices_a_rebound_function(monkeypatch):
    """Compiled code froze the function it called: the fast path (taken from the second
    call on) checks the name still holds it, and a rebinding compiles the code again."""
    g = grad(calls_a_global_function, compile="numba")
    args = [0.4, 6]
    for _ in range(2):  # the first call compiles; the second takes the fast path
        expected = numerical_gradient(calls_a_global_function, args, 0)
        assert g(*args) == pytest.approx(expected, rel=1e-6)
    assert g._fast  # the fast path is remembered for these argument types
    monkeypatch.setitem(globals(), "_double", _triple)
    expected = numerical_gradient(calls_a_global_function, args, 0)
    assert g(*args) == pytest.approx(expected, rel=1e-6)
    assert g(*args) == pytest.approx(grad(calls_a_global_function)(*args), rel=1e-12)
