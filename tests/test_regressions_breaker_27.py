"""What the stop-27 breaker found, besides the state outside the function
(test_regressions_outside_state.py) and arrays of another kind (test_foreign_arrays.py).

- ``grad`` of ``complex(x, x**2) * 2`` returned the derivative of the real part: the seed
  of a SCALAR output was the constant 1.0, unchecked. Where complex values may flow the
  seed is ``runtime.seed``, which refuses a complex output.
- ``{"a": x} | {"b": x * x}`` (dict merge) took the sets' adjoint, which gives a dict no
  derivative: a crash here, a zero gradient where the adjoint was not read by key.
- ``xs[1:3] = [x, x]`` on a list crashed in the backward sweep; it is refused by name.
- ``jvp`` of ``f(x) = x`` returned the caller's tangent array itself.
- a sum of 500 terms written out raised RecursionError from the transformer.

References: calculus.
"""

import math

import numpy as np
import pytest

from ad_transform import ADTransformError, grad, hessian, jvp


def complex_output(x):
    return complex(x, x**2) * 2


def real_output_through_complex(x):
    return abs(complex(x, x**2))


def test_a_complex_scalar_output_is_refused():
    with pytest.raises(ADTransformError, match="real scalar output"):
        grad(complex_output)(0.5)


def test_a_real_output_of_complex_values_is_still_differentiated():
    x = 0.5
    expected = (x + 2 * x**3) / math.hypot(x, x**2)  # d/dx sqrt(x^2 + x^4)
    assert grad(real_output_through_complex)(x) == pytest.approx(expected, rel=1e-12)


def merged(x):
    d = {"a": x, "b": 2.0 * x} | {"b": x * x, "c": np.sin(x)}
    return d["a"] * d["b"] + d["c"]


def merged_in_place(x):
    d = {"a": x}
    d |= {"b": x * x}
    return d["a"] * d["b"]


def test_a_dict_merge_sends_each_key_to_the_operand_it_came_from():
    x = 0.7
    expected = 3 * x**2 + math.cos(x)  # x * x**2 + sin(x): the right operand's "b" wins
    assert grad(merged)(x) == pytest.approx(expected, rel=1e-12)
    value, tangent = jvp(merged, (x,), (1.0,))
    assert value == pytest.approx(x**3 + math.sin(x), rel=1e-12)
    assert tangent == pytest.approx(expected, rel=1e-12)


def test_a_dict_merge_in_place_is_refused():
    with pytest.raises(ADTransformError, match="'\\|=' on a dict"):
        grad(merged_in_place)(0.7)


def list_slice_store(x):
    xs = [x, 2 * x, x * x]
    xs[1:3] = [x, x]
    return xs[1] * xs[2]


def test_a_list_slice_store_is_refused_by_name():
    with pytest.raises(ADTransformError, match="assigning a slice of the list 'xs'"):
        grad(list_slice_store)(0.7)


def array_slice_store(x):
    a = np.zeros(4)
    a[1:3] = x * 2.0
    return np.sum(a**2)


def test_an_array_slice_store_is_still_differentiated():
    x = np.array([0.5, 1.0])
    np.testing.assert_allclose(grad(array_slice_store)(x), 8 * x, rtol=1e-12)


def identity(x):
    return x


def tail(x):
    return x[1:]


@pytest.mark.parametrize("f", [identity, tail])
def test_a_tangent_output_never_shares_the_callers_direction(f):
    direction = np.ones(3)
    _, tangent = jvp(f, (np.zeros(3),), (direction,))
    tangent[0] = 33.0
    np.testing.assert_array_equal(direction, np.ones(3))


def test_a_long_written_out_sum_is_refused_not_a_recursion_error(tmp_path):
    terms = " + ".join(f"x * {k}.0" for k in range(1, 501))
    path = tmp_path / "long_sum.py"
    path.write_text(f"def f(x):\n    return {terms}\n")
    namespace = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    with pytest.raises(ADTransformError, match="nested too deeply"):
        grad(namespace["f"])(0.3)


def test_second_derivative_of_a_dict_merge():
    x = 0.7
    expected = 6 * x - math.sin(x)
    try:
        second = hessian(merged)(x)
    except ADTransformError:
        pytest.skip("second derivatives through dict merges are refused by name")
    assert float(np.asarray(second)) == pytest.approx(expected, rel=1e-9)
