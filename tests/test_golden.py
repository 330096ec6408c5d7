"""Golden tests: the generated source of a few functions, compared line by line.

The expected files in tests/golden/ were read and checked by a person; each case is
also checked numerically, so a golden file cannot bless a wrong gradient. After an
intended change to the generated code, regenerate them with
``AD_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py`` and review the diff.
"""

import os
from pathlib import Path

import numpy as np
import pytest
from golden_functions import decay, seed, smooth_relu, squared_loss
from gradcheck import check_grad

from ad_transform import grad, ssa_source, vjp

GOLDEN = Path(__file__).parent / "golden"

CASES = {
    "seed_grad": (lambda: grad(seed, wrt=(0, 1)), (2.0, 5.0), (0, 1), seed),
    "squared_loss_grad": (
        lambda: grad(squared_loss),
        (np.array([3.0, 1.0]), np.array([1.0, 2.0]), 2.0),
        0,
        squared_loss,
    ),
    "smooth_relu_grad": (lambda: grad(smooth_relu), (1.5,), 0, smooth_relu),
    "decay_grad": (lambda: grad(decay), (0.7, 4), 0, decay),
    "smooth_relu_vjp": (lambda: vjp(smooth_relu), (-1.5,), 0, smooth_relu),
}


def _compare(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.py.txt"
    if os.environ.get("AD_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"generated source of {name} changed; see {path}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_source_is_golden(name):
    make, args, wrt, function = CASES[name]
    _compare(name, make().source_for(*args))
    check_grad(function, args, wrt)


def test_ssa_source_is_golden():
    _compare("seed_ssa", ssa_source(seed))


def test_source_is_deterministic_across_fresh_transformations():
    first = grad(decay).source_for(0.7, 4)
    second = grad(decay).source_for(0.7, 4)
    assert first == second
