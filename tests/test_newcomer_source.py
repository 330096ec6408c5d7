"""Issue 17, item 1: ``.source`` before the first call shows the readable code.

Without a call, ``.source`` is specialised for the parameters' annotations and, where
there are none, for Python floats; ``.generic_source`` (and ``show --generic``) keep the
code that works for any argument types.
"""

from __future__ import annotations

import numpy as np
import pytest

from ad_transform import grad, value_and_grad, vjp
from ad_transform.cli import main

GENERIC_HELPERS = ("seed(", "unbroadcast(", "as_gradient(")


def textbook(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def annotated(w: np.ndarray, n: int) -> float:
    total = 0.0
    for _ in range(n):
        total = total + np.sum(w * w)
    return total


def string_annotated(w: np.ndarray, scale: float) -> float:  # strings: future annotations
    return np.sum(w * scale)


@pytest.mark.parametrize("transform", [grad, value_and_grad, vjp])
def test_source_before_a_call_is_the_float_specialisation(transform):
    before = transform(textbook, wrt=(0, 1)).source
    assert before == transform(textbook, wrt=(0, 1)).source_for(2.0, 5.0)
    for helper in GENERIC_HELPERS:
        assert helper not in before, helper


def test_source_before_a_call_reads_like_the_readme():
    source = grad(textbook, wrt=(0, 1)).source
    assert "dx1 = x2" in source and "dx2 += x1" in source
    assert "dx2 = dx2 +" not in source


def test_generic_source_is_still_available():
    g = grad(textbook, wrt=(0, 1))
    generic = g.generic_source
    assert "seed(" in generic and "unbroadcast(" in generic
    assert generic != g.source
    compile(generic, "<generic>", "exec")


def test_source_uses_the_annotations():
    g = grad(annotated)
    w = np.array([1.0, 2.0])
    assert g.source == grad(annotated).source_for(w, 3)
    assert g.source != grad(annotated).source_for(1.0, 3)


def test_string_annotations_are_read():
    w = np.array([1.0, 2.0])
    assert grad(string_annotated).source == grad(string_annotated).source_for(w, 2.0)


def summed(x, y):
    return np.sum(x * y)


def test_after_a_call_source_is_that_calls_specialisation():
    g = grad(summed)
    g(np.array([1.0, 2.0]), 5.0)
    assert g.source == grad(summed).source_for(np.array([1.0, 2.0]), 5.0)
    assert g.source != grad(summed).source


def test_the_float_specialisation_computes_the_calculus_gradient():
    g = grad(textbook, wrt=(0, 1))
    g.source  # noqa: B018 - builds the float specialisation first
    dx1, dx2 = g(2.0, 5.0)
    assert dx1 == pytest.approx(1 / 2.0 + 5.0, rel=1e-15)
    assert dx2 == pytest.approx(2.0 - np.cos(5.0), rel=1e-15)


def _write(tmp_path, text: str):
    path = tmp_path / "mod.py"
    path.write_text(text)
    return path


SEED = "import numpy as np\n\ndef f(x1, x2):\n    return np.log(x1) + x1 * x2 - np.sin(x2)\n"


def test_cli_show_without_args_is_specialised_for_floats(tmp_path, capsys):
    path = _write(tmp_path, SEED)
    assert main(["show", f"{path}:f", "--wrt", "0,1", "--color", "never"]) == 0
    plain = capsys.readouterr().out
    assert main(["show", f"{path}:f", "--wrt", "0,1", "--args", "2.0", "5.0"]) == 0
    assert capsys.readouterr().out == plain
    for helper in GENERIC_HELPERS:
        assert helper not in plain


def test_cli_show_generic(tmp_path, capsys):
    path = _write(tmp_path, SEED)
    assert main(["show", f"{path}:f", "--generic", "--color", "never"]) == 0
    assert "unbroadcast(" in capsys.readouterr().out
    assert main(["show", f"{path}:f", "--generic", "--args", "1.0", "2.0"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--generic" in err
