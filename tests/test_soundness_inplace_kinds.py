"""Issue 11, C, D and I: in-place changes whose meaning depends on what arrives at run time.

C. ``a += x`` changes an ndarray or a list in place but rebinds a NumPy scalar (``x * 1.0``
   of a 0-d array is an ``np.float64``): other names of ``a`` follow only in the first
   case (``runtime.alias_after``).
D. A value stored into (or converted to) an integer or boolean array is truncated: zero
   derivative, decided from the dtype at run time.
I. ``xs[i] += v`` changes the item itself in place if it is an array or a list: refused at
   run time where another name may hold the item.

Expected gradients come from calculus or central finite differences (``check_grad``); the
value of ``value_and_grad`` must be exactly the function's.
"""

import copy

import numpy as np
import pytest
from gradcheck import check_grad

from ad_transform import ADTransformError, grad, value_and_grad


def assert_forward_is_the_function(f, *args, wrt=0):
    expected = f(*copy.deepcopy(args))
    value, _ = value_and_grad(f, wrt=wrt)(*args)
    np.testing.assert_array_equal(value, expected)


def assert_value_and_grad(f, args, value, gradient, wrt=0):
    """The function's value and a gradient known from calculus, and the finite differences."""
    np.testing.assert_allclose(f(*copy.deepcopy(args)), value, rtol=1e-12)
    got_value, got_gradient = value_and_grad(f, wrt=wrt)(*args)
    np.testing.assert_array_equal(got_value, f(*copy.deepcopy(args)))
    np.testing.assert_allclose(got_gradient, gradient, rtol=1e-10, atol=1e-12)
    check_grad(f, args, wrt)


# -- C: an alias after ``a += x``, where ``a`` may be a NumPy scalar ----------------------
def c1(x):
    a = x * 1.0
    b = a
    a += x
    return b * 2.0


def c1_sin(x):
    a = np.sin(x)
    b = a
    a += x
    return b * 2.0


def c2(x):
    a = np.array(x) * 2.0
    b = a
    a += x
    return b * 1.0


def c_sum(x):
    a = x * 1.0
    b = a
    a += x
    return np.sum(b * 2.0) + np.sum(a)


def c_multiply(x):
    a = x * 3.0
    b = a
    a *= x
    return np.sum(b)


def test_c1_on_a_0d_array_rebinds():
    assert_value_and_grad(c1, (np.array(1.5),), 3.0, 2.0)


def test_c1_sin_on_a_0d_array_rebinds():
    assert_value_and_grad(c1_sin, (np.array(1.5),), 2.0 * np.sin(1.5), 2.0 * np.cos(1.5))


def test_c2_float_argument_rebinds():
    assert_value_and_grad(c2, (1.5,), 3.0, 2.0)


def test_c1_on_a_python_float_is_plain_arithmetic():
    assert_value_and_grad(c1, (1.5,), 3.0, 2.0)
    source = grad(c1).source_for(1.5)
    assert "alias_after" not in source and "in_place" not in source


def test_c_on_an_ndarray_changes_in_place():
    x = np.array([1.0, -2.0, 0.5])
    # b is a: both are 2x after the change
    assert_value_and_grad(c_sum, (x,), 6.0 * np.sum(x), np.full(3, 6.0))


@pytest.mark.parametrize(
    "x, gradient",
    [
        (np.array(0.7), 3.0),  # a NumPy scalar: b keeps 3x
        (np.array([0.7, -1.2]), 6.0 * np.array([0.7, -1.2])),  # ndarray: b is 3x**2
    ],
)
def test_c_multiply_both_kinds(x, gradient):
    assert_forward_is_the_function(c_multiply, x)
    np.testing.assert_allclose(grad(c_multiply)(x), gradient, rtol=1e-12)
    check_grad(c_multiply, (x,))


def c_float32_scalar(x):
    a = x * 2.0  # of a 0-d float32 array: an np.float32
    b = a
    a += 1.0
    return b * 1.0 + x


def test_c_float32_scalar_rebinds():
    x = np.array(0.75, dtype=np.float32)
    assert_forward_is_the_function(c_float32_scalar, x)
    np.testing.assert_allclose(grad(c_float32_scalar)(x), 3.0, rtol=1e-6)


def c_in_loop(x):
    a = x * 1.0
    b = a
    for _ in range(3):
        a += x
    return np.sum(b * b)


@pytest.mark.parametrize("x", [np.array(0.8), np.array([0.8, -0.4])])
def test_c_in_a_loop(x):
    assert_forward_is_the_function(c_in_loop, x)
    check_grad(c_in_loop, (x,))


def c_branch(x):
    a = x * 2.0
    b = a
    if np.sum(x) > 0:
        a += x
    return np.sum(b * x)


@pytest.mark.parametrize("x", [np.array(0.8), np.array(-0.8), np.array([0.8, 0.3])])
def test_c_in_a_branch(x):
    assert_forward_is_the_function(c_branch, x)
    check_grad(c_branch, (x,))


def c_view_of_scalar(x):
    a = x * 1.0
    b = a[...]  # of a NumPy scalar: a new 0-d array, not a view
    a += x
    return b * 2.0


def c_view_of_array(x):
    a = x * 1.0
    b = a[1:]
    a += x
    return np.sum(b * b)


def test_c_view_of_a_numpy_scalar_is_refused():
    with pytest.raises(ADTransformError, match=r"a \+= x.*NumPy scalar"):
        grad(c_view_of_scalar)(np.array(1.5))


def test_c_view_of_an_array_follows_the_change():
    x = np.array([1.0, 2.0, 3.0])
    assert_value_and_grad(c_view_of_array, (x,), 4.0 * 13.0, 8.0 * np.array([0.0, 2.0, 3.0]))


def list_alias(x):
    xs = [1.5]
    b = xs
    xs += [2.0]
    return x * b[0] * b[1]


def test_c_list_alias_sees_the_extension():
    assert_value_and_grad(list_alias, (1.5,), 4.5, 3.0)


def list_concatenation(x):
    xs = [x]
    xs = xs + [x * 2.0]
    return xs[0] + xs[1]


def test_concatenation_of_differentiated_lists_is_a_join_not_a_sum():
    # xs[0] + xs[1] = x + 2x: value 4.5, derivative 3 (unbroadcast once summed the
    # longer adjoint list into each operand and gave 6)
    assert_value_and_grad(list_concatenation, (1.5,), 4.5, 3.0)


# -- D: values stored into (or converted to) integer and boolean arrays ------------------
def d1(x):
    a = np.zeros(3, dtype=int)
    a[0] = x * 10.0
    return np.sum(a * 1.0) + x


def d_arange(x):
    a = np.arange(5)
    a[2] = x * 3.0
    return np.sum(a * 1.0) + x * x


def d_zeros_like(x):
    ints = np.arange(3)
    a = np.zeros_like(ints)
    a[1] = x * 4.0
    return np.sum(a * x)


def d_bool(x):
    a = np.zeros(3, dtype=bool)
    a[0] = x
    return np.sum(a * x)


def d_uint8(x):
    a = np.zeros(3, dtype=np.uint8)
    a[2] = x * 7.0
    return np.sum(a * 1.0) + 2.0 * x


def d_slice(x):
    a = np.zeros(3, dtype=int)
    a[:] = x * 3.0
    return np.sum(a * 1.0) + x


def put_into(buf, v):
    buf[1] = v


def d_helper(x):
    buf = np.zeros(3, dtype=int)
    put_into(buf, x * 10.0)
    return np.sum(buf * 1.0) + x


def d_0d(x):
    a = np.array(0)
    a[()] = x * 10.0
    return a * 1.0 + x


def d_read_modify_write(x):
    a = np.ones(3, dtype=int)
    a[1] = a[1] + x * 10.0
    return np.sum(a * x)


def d_full(x):
    a = np.full(3, 2)
    a[0] = x
    return np.sum(a * 1.0)


def d_augmented_item(x):
    a = np.zeros(3, dtype=int)
    a[0] += x * 10.0
    return np.sum(a * 1.0) + x


@pytest.mark.parametrize(
    "f, gradient",
    [
        (d1, 1.0),
        (d_arange, 2 * 1.23),
        (d_zeros_like, int(1.23 * 4.0)),
        (d_bool, 1.0),  # a[0] is True: sum(a * x) = x
        (d_uint8, 2.0),
        (d_slice, 1.0),
        (d_helper, 1.0),
        (d_0d, 1.0),
        (d_read_modify_write, 2.0 + int(1.0 + 12.3)),
        (d_full, 0.0),
        (d_augmented_item, 1.0),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_d_store_into_integer_array_has_zero_derivative(f, gradient):
    assert_value_and_grad(f, (1.23,), f(1.23), gradient)


def d_array_of_list(x, y):
    a = np.array([x, y], dtype=int)
    return np.sum(a * 1.0) + y


def test_d_np_array_with_integer_dtype():
    assert_forward_is_the_function(d_array_of_list, 1.3, 2.6, wrt=(0, 1))
    dx, dy = grad(d_array_of_list, wrt=(0, 1))(1.3, 2.6)
    assert (dx, dy) == (0.0, 1.0)
    check_grad(d_array_of_list, (1.3, 2.6), (0, 1))


def d_asarray(x):
    return np.sum(np.asarray(x * 3.0, dtype=np.int32) * x)


def d_astype(x):
    return np.sum(x.astype(int) * x)


def d_array_dtype_bool(x):
    return np.sum(np.array(x, dtype=bool) * x)


def d_full_like(x):
    ints = np.arange(3)
    return np.sum(np.full_like(ints, x * 5.0) * 1.0) + x


def d_arange_int(x):
    return np.sum(np.arange(x, 5.0, dtype=int) * 1.0) + x


def d_linspace_int(x):
    return np.sum(np.linspace(x, 10.0, 4, dtype=int) * 1.0) + x


@pytest.mark.parametrize(
    "f, x, gradient",
    [
        (d_asarray, np.array([0.4, 1.7]), np.floor(3.0 * np.array([0.4, 1.7]))),
        (d_astype, np.array([0.4, 1.7]), np.array([0.0, 1.0])),
        (d_array_dtype_bool, np.array([-0.3, 1.7]), np.array([1.0, 1.0])),
        (d_full_like, 1.23, 1.0),
        (d_arange_int, 1.23, 1.0),
        (d_linspace_int, 1.23, 1.0),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_d_conversion_to_integers_has_zero_derivative(f, x, gradient):
    assert_value_and_grad(f, (x,), f(copy.deepcopy(x)), gradient)


def d_float_array_still_differentiates(x):
    a = np.zeros(3)
    a[0] = x * 10.0
    b = np.zeros(2, dtype=np.float32)
    b[1] = x
    return np.sum(a) + np.sum(b)


def test_d_float_arrays_still_carry_the_derivative():
    np.testing.assert_allclose(grad(d_float_array_still_differentiates)(1.23), 11.0)


# -- I: ``xs[i] += v`` where the item is an array another name holds ---------------------
def i1(x):
    a = x * 1.0
    lst = [a]
    lst[0] += x
    return np.sum(a)


def i_float_item(x):
    a = x * 1.0
    lst = [a]
    lst[0] += x
    return lst[0] * a


def i_no_other_holder(x):
    lst = [x * 1.0, x * 2.0]
    lst[0] += x
    return np.sum(lst[0] * lst[1])


def i_row_of_matrix(x):
    m = np.outer(x, x)
    m[0] += x
    return np.sum(m * m)


def test_i1_array_item_held_by_another_name_is_refused():
    with pytest.raises(ADTransformError, match=r"lst\[0\] \+= x.*'a' may hold it"):
        grad(i1)(np.array([1.0, 2.0, 3.0]))


def test_i_number_item_is_plain():
    # a Python float (or NumPy scalar) item is rebound: a keeps x
    assert_value_and_grad(i_float_item, (1.5,), 3.0 * 1.5, 2.0 * 2.0 * 1.5)
    assert_value_and_grad(i_float_item, (np.array(1.5),), 3.0 * 1.5, 2.0 * 2.0 * 1.5)


def test_i_array_item_without_other_holder():
    x = np.array([0.5, -1.0])
    assert_value_and_grad(i_no_other_holder, (x,), np.sum(4.0 * x * x), 8.0 * x)


def test_i_row_of_a_matrix():
    x = np.array([0.5, -1.0, 2.0])
    assert_forward_is_the_function(i_row_of_matrix, x)
    check_grad(i_row_of_matrix, (x,))


# -- builtin max/min return one of their arguments (found by the scalar fuzzer's 0-d run) --
def max_then_scale(x, y):
    v0 = max(y, x)
    v0 *= np.tanh(v0)  # with 0-d arrays: changes the argument max returned, in place
    return y + x + y


def test_max_of_arrays_is_not_a_scalar_and_may_be_an_argument():
    with pytest.raises(ADTransformError, match="changes the caller's data in place"):
        value_and_grad(max_then_scale, wrt=(0, 1))(np.array(-1.0), np.array(-0.5))


def test_max_of_floats_stays_plain_arithmetic():
    # floats rebind: v0 is a new number, so the result is y + x + y: gradient (1, 2)
    assert_value_and_grad(max_then_scale, (-1.0, -0.5), -2.0, (1.0, 2.0), wrt=(0, 1))
    assert "in_place" not in grad(max_then_scale, wrt=(0, 1)).source_for(-1.0, -0.5)
