"""What NumPy the rules cover, the list that says so, and the README generated from it.

Every primitive named in issue 4 must be registered, differentiable or recognised as
having no derivative as the issue says; ``list_primitives()`` lists them all (sorted,
one per name, the non-differentiable ones marked); the README's "NumPy coverage"
table is ``primitives_markdown()``'s output. The numerical checks of each rule are in
``test_rules.py`` (the table), ``test_numpy_conventions.py`` and
``test_numpy_float32.py``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from ad_transform import adjoint, grad
from ad_transform.rules import (
    NONDIFFERENTIABLE_MARKER,
    all_rules,
    list_primitives,
    lookup,
    primitives_markdown,
)

README = Path(__file__).parent.parent / "README.md"

# The issue's list, by family: differentiable ...
DIFFERENTIABLE = [
    # elementwise, one argument
    *(np.exp, np.exp2, np.expm1, np.log, np.log2, np.log10, np.log1p, np.sqrt, np.cbrt),
    *(np.square, np.reciprocal, np.sin, np.cos, np.tan, np.arcsin, np.arccos, np.arctan),
    *(np.sinh, np.cosh, np.tanh, np.arcsinh, np.arccosh, np.arctanh, np.abs, np.absolute),
    *(np.negative, np.positive, np.deg2rad, np.rad2deg, np.sinc),
    # elementwise, two arguments
    *(np.add, np.subtract, np.multiply, np.divide, np.true_divide, np.power),
    *(np.float_power, np.maximum, np.minimum, np.fmax, np.fmin, np.arctan2, np.hypot),
    *(np.logaddexp, np.logaddexp2, np.copysign, np.where, np.clip),
    # reductions
    *(np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.var, np.std),
    *(np.cumsum, np.cumprod, np.linalg.norm, np.trace, np.average),
    # shapes and indexing
    *(np.reshape, np.ravel, np.transpose, np.swapaxes, np.moveaxis, np.expand_dims),
    *(np.squeeze, np.broadcast_to, np.concatenate, np.stack, np.hstack, np.vstack),
    *(np.split, np.tile, np.repeat, np.flip, np.roll, np.diag, np.triu, np.tril, np.pad),
    # linear algebra
    *(np.dot, np.vdot, np.inner, np.outer, np.matmul, np.tensordot, np.einsum, np.kron),
    *(np.linalg.solve, np.linalg.inv, np.linalg.det, np.linalg.slogdet),
    *(np.linalg.cholesky,),
    # constructors and conversions that carry a derivative
    *(np.array, np.asarray, np.copy),
]
METHODS = [
    *("sum", "mean", "max", "min", "reshape", "dot", "ravel", "flatten", "transpose"),
    *("clip", "copy", "astype", "std", "var", "prod", "cumsum", "squeeze", "swapaxes"),
]
ATTRIBUTES = ["T"]
# ... and recognised as having no derivative.
NONDIFFERENTIABLE = [
    *(np.zeros, np.ones, np.zeros_like, np.ones_like, np.eye, np.shape, np.ndim, np.size),
    *(np.argmax, np.argmin, np.argsort, np.floor, np.ceil, np.round, np.sign),
    *(np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal),
    *(np.logical_and, np.logical_or, np.logical_not, np.logical_xor),
]
NONDIFFERENTIABLE_ATTRIBUTES = ["shape", "ndim", "size"]


@pytest.mark.parametrize("primitive", DIFFERENTIABLE, ids=lambda p: p.__name__)
def test_issue_primitive_is_differentiable(primitive):
    rule = lookup(primitive)
    assert rule is not None and rule.differentiable


@pytest.mark.parametrize("primitive", NONDIFFERENTIABLE, ids=lambda p: p.__name__)
def test_issue_primitive_is_recognised_without_derivative(primitive):
    rule = lookup(primitive)
    assert rule is not None and not rule.differentiable


def test_issue_methods_and_attributes():
    for name in METHODS:
        rule = lookup(("method", name))
        assert rule is not None and rule.differentiable, name
    for name in ATTRIBUTES:
        assert lookup(("attribute", name)).differentiable, name
    for name in NONDIFFERENTIABLE_ATTRIBUTES:
        assert not lookup(("attribute", name)).differentiable, name


def test_full_linspace_arange_have_derivatives_in_their_numbers():
    # recognised, and not silently zero: see test_numpy_conventions.py for the values
    for primitive in (np.full, np.full_like, np.linspace, np.arange):
        assert lookup(primitive).differentiable, primitive.__name__


def test_list_primitives_is_sorted_unique_and_marked():
    names = list_primitives()
    assert names == sorted(set(names))
    rules = {rule.name: rule for rule in all_rules()}
    for name in names:
        plain = name.removesuffix(NONDIFFERENTIABLE_MARKER)
        assert plain in rules, name
        assert name.endswith(NONDIFFERENTIABLE_MARKER) == (not rules[plain].differentiable)
    assert "numpy.sin" in names
    assert "ndarray.sum()" in names
    assert "ndarray.T" in names
    assert "numpy.argmax" + NONDIFFERENTIABLE_MARKER in names
    assert "ndarray.shape" + NONDIFFERENTIABLE_MARKER in names


def test_at_least_150_numpy_entries():
    names = list_primitives(builtin_only=True)
    numpy_entries = [n for n in names if n.startswith(("numpy.", "ndarray."))]
    assert len(numpy_entries) >= 150, len(numpy_entries)


def test_every_name_in_the_list_has_one_rule():
    names = [rule.name for rule in all_rules()]
    duplicates = {n for n in names if names.count(n) > 1}
    assert not duplicates, f"two rules display as {sorted(duplicates)}"


_SECTION = re.compile(
    r"<!-- primitives: generated by ad_transform\.rules\.primitives_markdown\(\) with NumPy "
    r"(?P<version>[0-9.]+) -->\n(?P<table>.*?)<!-- end of primitives -->",
    re.S,
)


def test_readme_section_comes_before_how_it_works():
    text = README.read_text()
    assert text.index("## NumPy coverage") < text.index("## How it works")
    assert _SECTION.search(text[text.index("## NumPy coverage") : text.index("## How it works")])


def test_readme_table_is_generated_from_the_registry():
    text = README.read_text()
    match = _SECTION.search(text)
    here = ".".join(np.__version__.split(".")[:2])
    generated = primitives_markdown()
    if os.environ.get("AD_UPDATE_README"):
        start, end = match.span()
        header = match.group(0).split("\n", 1)[0].replace(match.group("version"), here)
        README.write_text(
            text[:start] + header + "\n" + generated + "<!-- end of primitives -->" + text[end:]
        )
        return
    if match.group("version") != here:
        pytest.skip(f"the README table was generated with NumPy {match.group('version')}")
    assert match.group("table") == generated, (
        "the README's primitives table is out of date: regenerate it with "
        "AD_UPDATE_README=1 python -m pytest tests/test_numpy_coverage.py"
    )


# --------------------------------------------------------------------------------------
# Limits of the template machinery (templates.py, not the rules): strict xfails
# --------------------------------------------------------------------------------------


def scaled(x, *, scale=1.0):
    return x * scale


def calls_scaled(x):
    return scaled(x, scale=3.0)


def test_keyword_only_template_parameter():
    # a keyword-only template parameter carries no derivative and is not a global (it was
    # taken for one before the SciPy rules needed them; tests/test_coverage2_scipy.py)
    @adjoint(scaled)
    def d_scaled(g, ans, x, *, scale=1.0):
        return g * scale

    assert grad(calls_scaled)(2.0) == 3.0


def store_into_tail(x):
    y = np.zeros(2)
    y[1:] = x
    return np.sum(y * np.array([1.0, 10.0]))


def test_item_store_into_an_open_ended_slice():
    # Found with the NumPy rows: the index 1: of an item store once became slice(1), that
    # is slice(None, 1), in the backward sweep (a gradient of 1 instead of 10).
    np.testing.assert_array_equal(grad(store_into_tail)(np.array([3.0])), [10.0])
