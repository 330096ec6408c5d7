"""Standalone export: the written module runs where ad_transform cannot be imported.

The exported modules are imported in a subprocess started with ``python -I`` (no
``PYTHONPATH``, no user site) that also puts an import blocker for ``ad_transform`` on
``sys.meta_path``; their gradients must equal those of ``grad`` here and the
analytic/finite-difference references.
"""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from gradcheck import numerical_gradient

from ad_transform import ADTransformError, export, grad, value_and_grad
from ad_transform.export import export_source

SCALE = 0.5
OFFSETS = np.array([0.25, -1.0, 2.0])


def seed(x1, x2):  # also the name of a runtime helper: the export must rename that one
    return np.log(x1) + x1 * x2 - np.sin(x2)


def helper(u, w):
    return u * np.tanh(w) * SCALE


def with_helper(x, y):
    return helper(x, y) + helper(y, x) ** 2


def shifted(v):
    return np.sum(np.exp(v * SCALE + OFFSETS) * v)


def make_scaled(k):
    def scaled(x):
        return math.sin(k * x) * k

    return scaled


scaled_by_3 = make_scaled(3.0)


def with_while(x):
    s = x
    k = 0
    while s < 5.0:
        s = s * 1.3 + 0.2
        k += 1
    return s * k


def with_list(x):
    xs = []
    for i in range(3):
        xs.append(x * (i + 1.0))
    return sum(xs) * xs[2]


def two_layer(W1, b1, W2, X):
    h = np.tanh(X @ W1 + b1)
    return np.mean((h @ W2) ** 2)


_rng = np.random.default_rng(3)
NET = (_rng.normal(size=(4, 3)), _rng.normal(size=3), _rng.normal(size=3), _rng.normal(size=(5, 4)))

# module name -> (function, arguments, wrt, export options)
EXPORTS = {
    "g_seed": (seed, (2.0, 5.0), (0, 1), {}),
    "g_seed_scalar": (seed, (2.0, 5.0), (0, 1), {"example_args": (2.0, 5.0)}),
    "g_helper": (with_helper, (0.7, 1.3), (0, 1), {}),
    "g_shifted": (shifted, (np.array([0.1, 0.2, -0.3]),), 0, {}),
    "g_closure": (scaled_by_3, (0.4,), 0, {}),
    "g_while": (with_while, (0.9,), 0, {}),
    "g_list": (with_list, (1.3,), 0, {"example_args": (1.3,)}),
    "g_net": (two_layer, NET, (0, 1, 2), {"example_args": NET}),
    "g_value": (seed, (2.0, 5.0), 1, {"value_and_grad": True}),
}

RUNNER = textwrap.dedent(
    """
    import importlib, json, sys
    import numpy as np

    class NoADTransform:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "ad_transform":
                raise ImportError("ad_transform is not importable here")

    sys.meta_path.insert(0, NoADTransform())
    sys.path.insert(0, sys.argv[1])
    calls = json.loads(sys.argv[2])

    def plain(value):
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        return np.asarray(value, dtype=float).tolist()

    results = {}
    for module_name, (function_name, args) in calls.items():
        module = importlib.import_module(module_name)
        args = [np.array(a) if isinstance(a, list) else a for a in args]
        results[module_name] = plain(getattr(module, function_name)(*args))
    loaded = [m for m in sys.modules if m.split(".")[0] == "ad_transform"]
    print(json.dumps({"results": results, "ad_transform_modules": loaded}))
    """
)


def _as_json(value):
    if isinstance(value, (tuple, list)):
        return [_as_json(v) for v in value]
    return np.asarray(value, dtype=float).tolist()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Export every case into one directory and run them all in one isolated process."""
    directory = tmp_path_factory.mktemp("exported")
    calls = {}
    for module_name, (func, args, wrt, options) in EXPORTS.items():
        export(func, directory / f"{module_name}.py", wrt=wrt, **options)
        prefix = "value_and_grad_" if options.get("value_and_grad") else "grad_"
        calls[module_name] = [prefix + func.__name__, _as_json(list(args))]
    runner = directory / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-I", str(runner), str(directory), json.dumps(calls)],
        capture_output=True,
        text=True,
        cwd=directory,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return directory, json.loads(done.stdout)


def test_exported_modules_do_not_import_ad_transform(exported):
    directory, report = exported
    assert report["ad_transform_modules"] == []
    for module_name in EXPORTS:
        tree = ast.parse((directory / f"{module_name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert all("ad_transform" not in a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                assert "ad_transform" not in (node.module or "")
        imported = {
            a.name.split(".")[0]
            for node in tree.body
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for a in (
                node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
            )
        }
        assert imported <= {"numpy", "math", "cmath", "__future__"}, imported  # stdlib, NumPy


@pytest.mark.parametrize("module_name", [m for m in EXPORTS if m != "g_value"])
def test_exported_gradient_equals_grad_and_finite_differences(exported, module_name):
    _, report = exported
    func, args, wrt, _ = EXPORTS[module_name]
    got = report["results"][module_name]
    expected = grad(func, wrt=wrt)(*args)
    numeric = numerical_gradient(func, list(args), wrt)
    if isinstance(wrt, int):
        got, expected, numeric = [got], [expected], [numeric]
    assert len(got) == len(expected)
    for g, e, n in zip(got, expected, numeric):
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(np.asarray(g), n, rtol=1e-6, atol=1e-9)


def test_exported_seed_gradient_is_the_analytic_one(exported):
    _, report = exported
    for name in ("g_seed", "g_seed_scalar"):
        d1, d2 = report["results"][name]
        assert d1 == pytest.approx(0.5 + 5.0, abs=1e-15)
        assert d2 == pytest.approx(2.0 - math.cos(5.0), abs=1e-15)


def test_exported_value_and_grad(exported):
    _, report = exported
    value, gradient = report["results"]["g_value"]
    assert (value, gradient) == pytest.approx(value_and_grad(seed, wrt=1)(2.0, 5.0), abs=1e-15)


def test_what_the_module_contains(exported):
    directory, _ = exported
    text = (directory / "g_seed.py").read_text(encoding="utf-8")
    assert "def seed(x1, x2):" in text  # the user's function, under its own name
    assert "def grad_seed(x1, x2):" in text
    assert "seed_1(" in text  # the runtime helper, renamed out of its way
    assert "__all__ = ['seed', 'grad_seed']" in text
    helper_text = (directory / "g_helper.py").read_text(encoding="utf-8")
    assert "SCALE = 0.5" in helper_text and "def helper_fwd(" in helper_text
    assert "def helper_bwd(" in helper_text
    shifted_text = (directory / "g_shifted.py").read_text(encoding="utf-8")
    assert "OFFSETS = np.array([0.25, -1.0, 2.0], dtype=np.float64)" in shifted_text
    closure_text = (directory / "g_closure.py").read_text(encoding="utf-8")
    assert "k = 3.0" in closure_text
    scalar_text = (directory / "g_seed_scalar.py").read_text(encoding="utf-8")
    assert "unbroadcast" not in scalar_text  # specialised for floats: plain arithmetic


class Settings:
    def __init__(self) -> None:
        self.scale = 2.0


SETTINGS = Settings()


def uses_an_object(x):
    return x * SETTINGS.scale


def test_an_object_that_cannot_be_written_is_an_error():
    with pytest.raises(ADTransformError, match=r"cannot export uses_an_object: .*SETTINGS"):
        export_source(uses_an_object)
