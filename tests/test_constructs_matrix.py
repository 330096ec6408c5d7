"""Regression tests for the two bugs the construct matrix found on main.

* A call through a local variable holding a function value that a helper made over a
  differentiated value (``line = make_affine(x, y); line(2.0)``) was taken as a
  constant: its gradient was silently 0. The function value is now an input of the
  call, so the call is refused (or, once calls through locals are differentiated,
  right) -- never 0. Siblings: a nested ``def`` closure, a ``functools.partial``.
* A helper's keyword-only parameter read by its backward sweep was not saved by its
  forward sweep (``NameError`` in the generated code); also the split mode (``vjp``)
  of a function with a keyword-only parameter.
"""

from __future__ import annotations

import matrix_regression_functions as m
import pytest
from gradcheck import numerical_gradient

from ad_transform import ADTransformError, grad, vjp


@pytest.mark.parametrize(
    "fn, args, wrt",
    [
        (m.closure_constant_argument, (0.7, -0.3), (0, 1)),
        (m.nested_closure_constant_argument, (0.7,), 0),
        (m.partial_constant_argument, (0.7,), 0),
        (m.closure_active_argument, (0.7,), 0),
    ],
)
def test_call_through_local_closure_is_right_or_refused(fn, args, wrt):
    numeric = numerical_gradient(fn, args, wrt)
    try:
        analytic = grad(fn, wrt=wrt)(*args)
    except ADTransformError as error:
        assert "call" in str(error)
        return
    numeric = numeric if isinstance(numeric, tuple) else (numeric,)
    analytic = analytic if isinstance(analytic, tuple) else (analytic,)
    assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-8)


def test_helper_keyword_only_parameters_reach_its_backward_sweep():
    args = (0.6, -1.4)
    numeric = numerical_gradient(m.kw_only_caller, args, (0, 1))
    assert grad(m.kw_only_caller, wrt=(0, 1))(*args) == pytest.approx(numeric, rel=1e-6)
    value, pullback = vjp(m.kw_only_caller, wrt=(0, 1))(*args)
    assert value == m.kw_only_caller(*args)
    assert pullback(1.0) == pytest.approx(numeric, rel=1e-6)


@pytest.mark.parametrize("scale", [None, 3.0])
def test_keyword_only_parameter_of_the_differentiated_function_in_split_mode(scale):
    kwargs = {} if scale is None else {"scale": scale}

    def plain(x):
        return m.kw_only_top(x, **kwargs)

    numeric = numerical_gradient(plain, (0.6,), 0)
    value, pullback = vjp(m.kw_only_top)(0.6, **kwargs)
    assert value == plain(0.6)
    assert pullback(1.0) == pytest.approx(numeric, rel=1e-6)
    assert pullback(-2.0) == pytest.approx(-2.0 * numeric, rel=1e-6)
