"""Arrays of another kind meeting differentiated values: subclasses of ``np.ndarray``
(masked arrays, ``np.matrix``, memory maps) and other libraries' arrays (SciPy's sparse
matrices), reaching the function as a global, a closure variable, an argument that is
not differentiated, a dict item or a call's result.

A masked array's reductions skip masked elements and ``np.matrix``'s ``*`` is a matrix
product, so NumPy's adjoints computed with them gave wrong numbers (``np.sum(np.sin(x) +
MA)`` had a gradient of ``cos(x)`` at the masked element, where the function does not
depend on it). Each program either agrees with central differences (float64) or raises
``ADTransformError``; masked arrays, matrices and sparse matrices are refused and memory
maps (ndarray arithmetic) agree.
"""

import copy
import tempfile
import warnings

import numpy as np
import pytest

from ad_transform import ADTransformError, grad, hessian, jvp

try:
    import scipy.sparse as sparse
except ImportError:  # pragma: no cover - SciPy is an optional extra
    sparse = None

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix

rng = np.random.default_rng(4471)
X0 = rng.uniform(0.2, 1.0, 4)
U = rng.uniform(-1.0, 1.0, 4)
W = np.array([0.3, -1.1, 0.7, 2.0])
DATA = np.array([1.5, 2.0, -0.5, 0.8])


def _memmap(data: np.ndarray = DATA) -> np.memmap:
    """A memory map holding ``data``, of a file removed when it is closed (the map stays)."""
    with tempfile.TemporaryFile() as file:
        mapped = np.memmap(file, dtype=data.dtype, mode="w+", shape=data.shape)
    mapped[:] = data
    return mapped


HOLDERS = {
    "masked": lambda: np.ma.array(DATA, mask=[False, True, False, False]),
    "matrix": lambda: np.matrix(np.diag(DATA)),
    "memmap": _memmap,
}
if sparse is not None:
    HOLDERS["sparse"] = lambda: sparse.csr_matrix(np.diag(DATA))

REFUSED = {"masked", "matrix", "sparse"}

BODIES = {
    "sum": "np.sum(np.sin(x) + c)",
    "product": "np.sum(x * c)",
    "prod": "np.prod(c - x)",
    "var": "np.var(np.sin(x) + c)",
    "dot": "np.dot(x, c)",
    "norm": "np.linalg.norm(c - x)",
    "median": "np.median(np.sin(x) + c)",
    "outer": "np.sum(np.outer(c - x, W))",
}

ENTRIES = ("global", "closure", "argument", "dict_item", "call")


def _function(entry: str, body: str, holder, folder):
    """``f(x)`` (or ``f(x, c)``) reading the holder through ``entry``, defined in a file of
    its own in ``folder`` so that its source can be read."""
    head = {
        "global": "def f(x):\n",
        "closure": "def make(c):\n    def f(x):\n",
        "argument": "def f(x, c):\n",
        "dict_item": "def f(x, p):\n    c = p['c']\n",
        "call": "def f(x):\n    c = copy.copy(held)\n",
    }[entry]
    indent = "        " if entry == "closure" else "    "
    source = head + f"{indent}return {body}\n" + ("    return f\n" if entry == "closure" else "")
    path = folder / f"foreign_{entry}.py"
    path.write_text(source)
    namespace = {"np": np, "W": W, "c": holder, "held": holder, "copy": copy}
    exec(compile(source, str(path), "exec"), namespace)
    f = namespace["make"](holder) if entry == "closure" else namespace["f"]
    extra = {"argument": (holder,), "dict_item": ({"c": holder},)}.get(entry, ())
    return f, extra


def _central_gradient(f, extra, x):
    steps = np.eye(x.size) * 1e-6
    return np.array([(float(f(x + e, *extra)) - float(f(x - e, *extra))) / 2e-6 for e in steps])


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("body", sorted(BODIES))
@pytest.mark.parametrize("holder", sorted(HOLDERS))
def test_gradient_agrees_or_is_refused(holder, body, entry, tmp_path):
    value = HOLDERS[holder]()
    f, extra = _function(entry, BODIES[body], value, tmp_path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = _central_gradient(f, extra, X0)
    except Exception:  # the function itself fails (a matrix's shapes, sparse median)
        pytest.skip("the function itself raises at this point")
    if holder in REFUSED:
        with pytest.raises(ADTransformError, match=type(value).__name__):
            grad(f)(X0, *extra)
        with pytest.raises(ADTransformError, match=type(value).__name__):
            jvp(f, (X0, *extra), (U,), wrt=0)
    else:
        gradient = grad(f)(X0, *extra)
        assert type(gradient) is np.ndarray
        np.testing.assert_allclose(gradient, expected, rtol=1e-6, atol=1e-7)
        _, tangent = jvp(f, (X0, *extra), (U,), wrt=0)
        np.testing.assert_allclose(tangent, expected @ U, rtol=1e-6, atol=1e-7)


def test_the_message_names_the_line_the_rule_and_the_class(tmp_path):
    value = HOLDERS["masked"]()
    f, _ = _function("global", "np.sum(np.sin(x) + c)", value, tmp_path)
    with pytest.raises(ADTransformError) as caught:
        grad(f)(X0)
    message = str(caught.value)
    assert "operator.add" in message and "numpy.ma" in message and "MaskedArray" in message
    assert ".py:2" in message and ".filled(value)" in message


def test_a_second_derivative_is_refused_too(tmp_path):
    f, _ = _function("global", "np.sum(np.sin(x) * c)", HOLDERS["masked"](), tmp_path)
    with pytest.raises(ADTransformError, match="MaskedArray"):
        hessian(f)(X0)


def test_a_masked_argument_used_only_without_derivatives_is_fine():
    """Only where it meets differentiated values is such an array refused: its filled
    values or its mask used as constants are ndarrays."""

    def f(x, m):
        weights = m.filled(0.0)
        return np.sum(np.sin(x) * weights)

    masked = HOLDERS["masked"]()
    np.testing.assert_allclose(grad(f)(X0, masked), np.cos(X0) * masked.filled(0.0), rtol=1e-12)


def test_a_differentiated_subclass_is_refused_and_a_memory_map_is_an_array():
    def f(x):
        return np.sum(x**3)

    with pytest.raises(ADTransformError, match="argument 0 of f is a MaskedArray"):
        grad(f)(np.ma.array(X0, mask=[False, True, False, False]))
    mapped = _memmap()
    gradient = grad(f)(mapped)
    assert type(gradient) is np.ndarray
    np.testing.assert_allclose(gradient, 3 * DATA**2, rtol=1e-12)
