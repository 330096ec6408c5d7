"""Issue 11, item 4: augmented assignment means what Python means, and unbound reads raise.

``a op= x`` changes an ndarray (or a list) in place, so every other name of the object
sees the change; on numbers and tuples it rebinds. Reading a variable the path taken
did not bind raises ``UnboundLocalError``. The principle behind both: the forward sweep
is the function, so ``value_and_grad(f)(*args)[0]`` equals ``f(*args)`` exactly, for
every function here. Gradients are checked against central finite differences (or
calculus); what cannot be followed is refused with ``ADTransformError``.
"""

import copy

import numpy as np
import pytest
from gradcheck import check_grad, numerical_gradient

from ad_transform import ADTransformError, grad, value_and_grad, vjp

RNG = np.random.default_rng(11)
X = RNG.normal(size=4)
W = np.array([0.3, -1.7, 2.2, 0.9])  # non-uniform weights: a wrong element shows
M = RNG.normal(size=(3, 3))
W3 = RNG.normal(size=(3, 3))


def assert_forward_is_the_function(f, *args, wrt=0):
    """``value_and_grad(f)(*args)[0]`` is exactly ``f(*args)`` (same value, same dtype)."""
    expected = f(*copy.deepcopy(args))
    value, _ = value_and_grad(f, wrt=wrt)(*args)
    np.testing.assert_array_equal(value, expected)
    assert np.asarray(value).dtype == np.asarray(expected).dtype


# -- the issue's example and the other operators, with an alias ---------------------------
def alias_add(x):
    a = x * 1.0
    b = a
    a += x
    return np.sum(b)  # b is a: 2 * sum(x)


def alias_sub(x):
    a = x * 2.0
    b = a
    a -= x * x
    return np.sum(b * W)


def alias_mul(x):
    a = x + 1.0
    b = a
    a *= x
    return np.sum(b * W)


def alias_div(x):
    a = x + 3.0
    b = a
    a /= x * x + 1.0
    return np.sum(b * W)


def alias_pow(x):
    a = x * x + 1.0
    b = a
    a **= 1.5
    return np.sum(b * W)


def alias_mod(x):
    a = x * 3.0
    b = a
    a %= 2.5
    return np.sum(b * W)


def alias_matmul(m):
    a = m * 1.0
    b = a
    a @= m
    return np.sum(b * W3)


def alias_both_directions(x):
    a = x * 1.0
    b = a
    b += x * x  # changes a too
    a *= 2.0  # changes b too
    return np.sum(a * W) + np.sum(b)


def chained_assignment(x):
    p = q = np.zeros(4)
    p += x * x
    return np.sum(q * W)


def alias_in_loop(x, n):
    a = x * 1.0
    b = a
    for _ in range(n):
        a += x * b  # b is a: the product grows geometrically
    return np.sum(b * W)


def alias_assigned_in_loop(x):
    a = x * 1.0
    for _ in range(3):
        b = a
        a *= 1.5
        a += x
    return np.sum(b * W)


def slice_alias(x):
    a = x * 1.0
    b = a[1:]
    a += x * x
    return np.sum(b * W[1:])


def column_alias(m):
    a = m * 2.0
    c = a[:, 0]
    a *= m
    return np.sum(c * np.array([1.0, -2.0, 0.5]))


def ellipsis_alias(x):
    a = x * 1.0
    b = a[...]
    a -= np.sin(x)
    return np.sum(b * W)


def view_changed_base_unused(x):
    b = x * 1.0
    a = b[1:]
    a += x[1:]  # changes b too, which is not read again
    return np.sum(a * a * W[1:])


def alias_read_before_and_after(x):
    a = x * 1.0
    b = a
    s = np.sum(b * W)  # before: the old values
    a *= x
    return s + np.sum(b * b)  # after: the new values


def aliases_in_branches(x):
    a = x * 1.0
    b = a
    if x[0] > 0.0:
        a += x
    else:
        a -= x
    return np.sum(b * W)


ARRAY_CASES = [
    (alias_add, (X,)),
    (alias_sub, (X,)),
    (alias_mul, (X,)),
    (alias_div, (X,)),
    (alias_pow, (X,)),
    (alias_mod, (np.abs(X) + 0.3,)),
    (alias_matmul, (M,)),
    (alias_both_directions, (X,)),
    (chained_assignment, (X,)),
    (alias_in_loop, (X, 3)),
    (alias_in_loop, (X, 0)),
    (alias_assigned_in_loop, (X,)),
    (slice_alias, (X,)),
    (column_alias, (M,)),
    (ellipsis_alias, (X,)),
    (alias_read_before_and_after, (X,)),
    (view_changed_base_unused, (X,)),
    (aliases_in_branches, (X,)),
    (aliases_in_branches, (-X,)),
]


@pytest.mark.parametrize("f, args", ARRAY_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_augmented_assignment_changes_every_alias(f, args):
    assert_forward_is_the_function(f, *args)
    check_grad(f, args)


def test_the_issue_example_value_and_gradient_from_calculus():
    value, gradient = value_and_grad(alias_add)(X)
    assert value == 2.0 * np.sum(X)
    np.testing.assert_array_equal(gradient, np.full(4, 2.0))


def test_the_forward_sweep_is_the_function_in_vjp():
    value, pullback = vjp(alias_mul)(X)
    assert value == alias_mul(X.copy())
    np.testing.assert_allclose(pullback(1.0), numerical_gradient(alias_mul, [X]), rtol=1e-6)


# -- without an alias: today's code -------------------------------------------------------
def no_alias(x):
    a = x * 1.0
    a += x * x
    a *= 2.0
    return np.sum(a * W)


def test_no_alias_is_plain_code():
    g = grad(no_alias)
    check_grad(no_alias, (X,))
    assert_forward_is_the_function(no_alias, X)
    g(X)
    source = g.source
    assert "push(" not in source and "pop(" not in source  # nothing recorded or undone
    assert "in_place(iadd, " in source  # NumPy's in-place result, on a copy


def scalar_accumulate(x, y):
    a = x * y
    a += x
    a *= y
    a -= 1.0
    a /= y
    a **= 2.0
    return a


def scalar_alias(x):
    a = x * 2.0
    b = a
    a += x  # a new float: b keeps 2x
    return a * b


def test_scalar_augmented_assignment_stays_plain_arithmetic():
    g = grad(scalar_accumulate, wrt=(0, 1))
    g(1.3, 0.7)
    source = g.source
    assert "in_place" not in source and "unbroadcast" not in source
    assert "a_1 = x * y + x" in source  # the forward sweep: plain arithmetic
    check_grad(scalar_accumulate, (1.3, 0.7), wrt=(0, 1))
    assert_forward_is_the_function(scalar_accumulate, 1.3, 0.7)


def test_scalar_alias_keeps_its_value():
    value, gradient = value_and_grad(scalar_alias)(1.5)
    assert value == scalar_alias(1.5) == 3.0 * 1.5 * 2.0 * 1.5
    assert gradient == pytest.approx(12.0 * 1.5)  # d/dx 6 x**2
    assert "in_place" not in grad(scalar_alias).source_for(1.5)


def test_scalar_argument_may_be_rebound():
    def shifted(x):
        x += 1.0
        return x * x

    assert value_and_grad(shifted)(2.0) == (9.0, 6.0)


# -- lists and tuples ---------------------------------------------------------------------
# (the adjoint of list concatenation with differentiated elements is a separate gap: it
# crashes with and without augmented assignment, so these lists hold constants)
def list_extend(x):
    lst = [1.5, 2.0]
    lst += [0.5]
    return x * lst[2] * float(len(lst)) + x * x * lst[0]


def tuple_rebind(x):
    t = (1.5, 2.0)
    u = t
    t += (0.5,)
    return x * t[2] * float(len(t)) + x * x * float(len(u))  # u is still the pair


def test_list_augmented_assignment_extends():
    assert_forward_is_the_function(list_extend, 1.7)
    check_grad(list_extend, (1.7,))


def test_tuple_augmented_assignment_rebinds():
    assert_forward_is_the_function(tuple_rebind, 1.7)
    check_grad(tuple_rebind, (1.7,))


def list_alias(x):
    lst = [1.5, 2.0]
    m = lst
    lst += [0.5]
    return x * m[2]  # m is lst: Python extends the one list


def test_list_alias_of_an_extended_list_sees_the_change():
    # runtime.alias_after: a list is changed in place, so m is the extended list
    assert_forward_is_the_function(list_alias, 1.7)
    assert grad(list_alias)(1.7) == 0.5  # d/dx (x * 0.5)


# -- refused: what cannot be followed -----------------------------------------------------
def list_element_alias(x):
    a = x * 1.0
    lst = [a]
    a += x
    return np.sum(lst[0])


def reshaped_alias(x):
    a = x * 1.0
    b = a.reshape(2, 2)
    a += x
    return np.sum(b)


def view_changed(x):
    a = x * 1.0
    b = a[1:]
    b += x[1:]
    return np.sum(a * W)


def helper_result_alias(x):
    a = x * 1.0
    b = passthrough(a)
    a += x
    return np.sum(b)


def passthrough(v):
    return v


@pytest.mark.parametrize(
    "f, who",
    [
        (list_element_alias, "'lst' may share its data with 'a'"),
        (reshaped_alias, "'b' may share its data with 'a'"),
        (view_changed, "'a' may share its data with 'b'"),
        (helper_result_alias, "'b' may share its data with 'a'"),
    ],
)
def test_aliases_that_cannot_be_followed_are_refused(f, who):
    with pytest.raises(ADTransformError, match="in place") as error:
        grad(f)(X)
    assert who in str(error.value)
    # the generic code (the kind is known only at the call) refuses when an array arrives
    assert who in grad(f).generic_source


def no_read_after(x):
    a = x * 1.0
    lst = [a]
    s = np.sum(lst[0] * W)
    a += x
    return s + np.sum(a)


def test_a_holder_not_read_after_the_change_is_not_refused():
    assert_forward_is_the_function(no_read_after, X)
    check_grad(no_read_after, (X,))


def add_into_argument(x):
    x += 1.0
    return np.sum(x * x)


def test_augmented_assignment_into_an_argument_array_is_refused():
    with pytest.raises(ADTransformError, match="changes the caller's data") as error:
        grad(add_into_argument)(X.copy())
    assert "'x = x + ...'" in str(error.value)


def test_augmented_assignment_into_an_argument_of_unknown_kind_is_refused_at_run_time():
    g = grad(add_into_argument)
    assert "in_place(" in g.generic_source  # the generic code: the type arrives at the call
    assert g(2.0) == pytest.approx(6.0)


GLOBAL_ARRAY = np.ones(4)


def add_into_global(x):
    a = GLOBAL_ARRAY
    a += x
    return np.sum(a)


def test_augmented_assignment_into_a_global_array_is_refused():
    before = GLOBAL_ARRAY.copy()
    with pytest.raises(ADTransformError, match="global 'GLOBAL_ARRAY'"):
        grad(add_into_global)(X)
    np.testing.assert_array_equal(GLOBAL_ARRAY, before)


# -- NumPy's in-place dtype and shape rules -----------------------------------------------
def int_array_plus_float(x):
    a = np.arange(4)
    a += x
    return np.sum(a)


def float32_accumulator(x):
    a = np.zeros(4, dtype=np.float32)
    a += x * 1.1
    return np.sum(a)


def broadcast_into_smaller(x):
    a = x * 1.0
    a += np.ones((2, 4))
    return np.sum(a)


def test_int_array_plus_float_raises_as_numpy_does():
    with pytest.raises(TypeError) as expected:
        int_array_plus_float(0.5)
    with pytest.raises(type(expected.value)):
        grad(int_array_plus_float)(0.5)


def test_float32_array_keeps_its_dtype():
    assert float32_accumulator(X).dtype == np.float32
    assert_forward_is_the_function(float32_accumulator, X)


def test_result_larger_than_the_array_raises_as_numpy_does():
    with pytest.raises(ValueError, match="non-broadcastable output"):
        broadcast_into_smaller(X)
    with pytest.raises(ValueError, match="non-broadcastable output"):
        grad(broadcast_into_smaller)(X)


# -- item writes with aliases (the same kind of bug) --------------------------------------
def item_write_alias(x):
    a = x * 1.0
    b = a
    a[0] = x[1] * x[2]
    return np.sum(b * W)


def augmented_item_alias(x):
    a = x * 1.0
    b = a
    a[1] += x[0] * x[3]
    return np.sum(b * W)


def slice_write_alias(x):
    a = x * 1.0
    b = a[2:]
    a[:] += x * x
    return np.sum(b * W[2:])


def append_alias(x):
    xs = [x]
    ys = xs
    xs.append(x * x)
    return ys[1] * ys[0]


@pytest.mark.parametrize(
    "f, args",
    [
        (item_write_alias, (X,)),
        (augmented_item_alias, (X,)),
        (slice_write_alias, (X,)),
        (append_alias, (1.3,)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_item_writes_reach_every_alias(f, args):
    assert_forward_is_the_function(f, *args)
    check_grad(f, args)


def item_write_into_listed_array(x):
    a = x * 1.0
    rows = [a, x]
    a[0] = 0.0
    return np.sum(rows[0] * W)


def test_item_write_into_an_array_a_list_holds_is_refused():
    with pytest.raises(ADTransformError, match="'rows' may hold the same array"):
        grad(item_write_into_listed_array)(X)


# -- in-place methods ---------------------------------------------------------------------
def sort_in_place(x):
    a = x * 1.0
    a.sort()
    return a[0]


def iadd_method(x):
    a = x * 1.0
    a.__iadd__(x)
    return np.sum(a)


def out_argument(x):
    a = x * 1.0
    np.add(a, x, out=a)
    return np.sum(a)


def add_at(x):
    a = x * 1.0
    np.add.at(a, [0, 0], x[1])
    return np.sum(a * W)


def copy_into(x):
    a = x * 1.0
    np.copyto(a, x * x)
    return np.sum(a)


def putmask_into(x):
    # np.put is lowered to an item write (issue 16); np.putmask has no adjoint
    a = x * 1.0
    np.putmask(a, a > 0.0, x[1])
    return np.sum(a)


def extend_list(x):
    xs = [x[0]]
    xs.extend([x[1], x[2]])
    return xs[0] * xs[2]


def test_extend_of_a_local_list_is_differentiated():
    # xs.extend is a mutation with an adjoint (the elements it added give theirs back)
    x = np.array([0.5, -1.5, 2.0])
    assert_forward_is_the_function(extend_list, x)
    np.testing.assert_allclose(grad(extend_list)(x), [2.0, 0.0, 0.5])  # d(x0 * x2)


def astype_without_copy(x):
    a = x * 1.0
    b = a.astype(float, copy=False)  # a itself
    a += x
    return np.sum(b)


def printed(x):
    a = x * 2.0
    print(a[0] > 100.0)
    return np.sum(a)


@pytest.mark.parametrize(
    "f",
    [
        sort_in_place,
        iadd_method,
        out_argument,
        add_at,
        copy_into,
        putmask_into,
        astype_without_copy,
    ],
)
def test_other_changes_in_place_are_refused(f):
    with pytest.raises(ADTransformError):
        grad(f)(X)


def test_a_dropped_result_of_print_is_fine():
    assert_forward_is_the_function(printed, X)
    check_grad(printed, (X,))


# -- reading a variable unbound on the path taken -----------------------------------------
def bound_on_one_branch(x, flag):
    if flag:
        y = x * 2.0
    return y


def bound_in_a_loop(x, n):
    for i in range(n):
        y = x * i
    return y


def loop_target_after_the_loop(x, n):
    for i in range(n):  # noqa: B007 (read after the loop)
        x = x * 1.5
    return x * i


def bound_in_a_while_loop(x, n):
    k = 0
    while k < n:
        y = x * x
        k += 1
    return y + 1.0


def read_in_a_later_branch(x, flag):
    if flag:
        y = x * 3.0
    z = x * 1.0
    if flag:
        z = z + y
    return z


def read_by_an_operation(x, flag):
    if flag:
        y = x * 3.0
    return np.sin(y) + x


def python_error(f, *args) -> str:
    with pytest.raises(UnboundLocalError) as error:
        f(*args)
    return str(error.value)


@pytest.mark.parametrize(
    "f, bound, unbound",
    [
        (bound_on_one_branch, (1.3, True), (1.3, False)),
        (bound_in_a_loop, (1.3, 3), (1.3, 0)),
        (loop_target_after_the_loop, (1.3, 3), (1.3, 0)),
        (bound_in_a_while_loop, (1.3, 2), (1.3, 0)),
        (read_by_an_operation, (1.3, True), (1.3, False)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_unbound_read_raises_as_python_does(f, bound, unbound):
    message = python_error(f, *unbound)
    for transform in (grad, value_and_grad, vjp):
        with pytest.raises(UnboundLocalError) as error:
            transform(f)(*unbound)
        assert str(error.value) == message  # names the user's variable
    assert_forward_is_the_function(f, *bound)
    check_grad(f, bound)


def test_unbound_read_in_the_generic_code():
    with pytest.raises(UnboundLocalError, match="'y'"):
        grad(bound_on_one_branch)(np.array(1.3), False)


def test_a_variable_read_only_where_bound_raises_nothing():
    for flag in (True, False):
        assert_forward_is_the_function(read_in_a_later_branch, 1.3, flag)
        check_grad(read_in_a_later_branch, (1.3, flag))


def test_no_check_where_nothing_can_be_unbound():
    def both_branches(x, flag):
        if flag:
            y = x * 2.0
        else:
            y = x * 3.0
        for i in range(3):
            y = y * x + i
        return y

    g = grad(both_branches)
    g(1.3, True)
    assert "check_bound" not in g.source
    g = grad(bound_on_one_branch)
    g(1.3, True)
    assert g.source.count("check_bound(") == 1


def early_return(x):
    if x > 0.0:
        return x * 2.0
    y = x * x
    return y


def test_early_returns_need_no_check():
    g = grad(early_return)
    assert g(1.5) == 2.0 and g(-1.5) == -3.0
    assert "check_bound" not in g.source
