"""Golden tests of forward mode: the generated ``jvp`` source of three functions.

The expected files in tests/golden/ (``*_jvp.py.txt``) were read and checked by a person;
each case is also checked numerically (finite differences and reverse mode), so a golden
file cannot bless a wrong tangent. Regenerate with ``AD_UPDATE_GOLDEN=1`` and review.
"""

import os
from pathlib import Path

import numpy as np
import pytest
from golden_functions import decay, seed, smooth_relu, squared_loss
from test_forward_constructs import check_jvp

from ad_transform import jvp

GOLDEN = Path(__file__).parent / "golden"

CASES = {
    "seed_jvp": (seed, (2.0, 5.0), (0, 1)),
    "smooth_relu_jvp": (smooth_relu, (1.5,), 0),
    "decay_jvp": (decay, (0.7, 4), 0),
    "squared_loss_jvp": (squared_loss, (np.array([3.0, 1.0]), np.array([1.0, 2.0]), 2.0), 0),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_jvp_source_is_golden(name):
    function, args, wrt = CASES[name]
    text = jvp(function, wrt=wrt).source_for(*args)
    path = GOLDEN / f"{name}.py.txt"
    if os.environ.get("AD_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"generated source of {name} changed; see {path}"
    check_jvp(function, args, wrt)
