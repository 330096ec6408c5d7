"""Issue 11, item 3: every way a value flows is differentiated or refused, never a constant.

The examples of the issue (``np.r_``/``np.c_`` gave all-zero gradients) come first, with
expected values from calculus. Then the audit table: one row per way a value can flow
(call, method, subscript, attribute, iteration, unpacking, containers, comprehension-like
builtins, text, ``setattr``, closures...), each either checked against central finite
differences or refused with an ``ADTransformError`` whose message names the construct.
Last, methods chosen by name (``b.take()`` on a user object is not ``ndarray.take``).
"""

from __future__ import annotations

import functools
import logging
import math
import operator
import warnings

import numpy as np
import pytest
from gradcheck import numerical_gradient
from numpy import c_, r_

from ad_transform import ADTransformError, grad

V = np.array([0.3, -0.7, 1.2])
M = np.array([[0.3, -0.7], [1.2, 0.5]])


def assert_matches_finite_differences(f, args, wrt=0):
    got = grad(f, wrt=wrt)(*args)
    want = numerical_gradient(f, args, wrt)
    np.testing.assert_allclose(np.asarray(got, dtype=float), want, rtol=1e-6, atol=1e-8)


# -- the issue's examples ----------------------------------------------------------------------


def sum_r_squared(v):
    return np.sum(np.r_[v, v] ** 2)


def sum_c_tripled(m):
    return np.sum(np.c_[m, m] * 3.0)


def test_r_of_the_issue():
    v = np.array([1.0, 2.0, -0.5])
    np.testing.assert_allclose(grad(sum_r_squared)(v), 4.0 * v)  # d/dv 2*sum(v**2)


def test_c_of_the_issue():
    m = np.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(grad(sum_c_tripled)(m), np.full((2, 2), 6.0))


# -- np.r_ / np.c_ beyond the example ----------------------------------------------------------

W = np.array([0.5, 1.5, -2.0, 0.25, 3.0, -1.0, 0.75, 2.5, -0.3])  # non-uniform output weights


def r_one_item(v):
    return np.sum(np.r_[v] * W[:3])


def r_scalars_and_vector(v):
    return np.sum(np.r_[v[0], 2.0, v, v[2] * v[1]] * W[:6])


def r_slice_constant(v):
    return np.sum(np.r_[0:3, v, 1.0:2.0:3j] * W) + np.sum(np.r_[v, 4:0:-2] * W[:5])


def r_rows(m):
    return np.sum(np.r_[m, 2.0 * m] * np.arange(8.0).reshape(4, 2))


def c_columns(v):
    return np.sum(np.c_[v, v * v] * np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 4.0]]))


def c_matrix_and_vector(m):
    return np.sum(np.c_[m, m[:, 0]] * np.arange(6.0).reshape(2, 3))


def r_imported_by_name(v):
    return np.sum(r_[v, v * 2.0] * W[:6]) + np.sum(c_[v] ** 2)


def r_of_a_tuple_variable(v):
    items = (v, 3.0 * v)
    return np.sum(np.r_[items] * W[:6])


def r_of_a_list_and_a_slice_object(v):
    xs = [v[0], v[1] * v[2]]
    s = slice(0, 2)
    return np.sum(np.r_[xs, v, s] * W[:7])


def c_of_lists(v):
    return np.sum(np.c_[[v[0], v[1]], [1.0, v[2]]] * np.array([[1.0, 2.0], [3.0, 4.0]]))


def r_of_python_floats(x):
    return np.sum(np.r_[x, x * 2.0] * W[:2])


def s_and_index_exp_are_constants(v):
    return np.sum(v[np.s_[0:2]] ** 2) + np.sum(v[np.index_exp[1:]] * W[:2])


@pytest.mark.parametrize(
    "f, arg",
    [
        (r_one_item, V),
        (r_scalars_and_vector, V),
        (r_slice_constant, V),
        (r_rows, M),
        (c_columns, V),
        (c_matrix_and_vector, M),
        (r_imported_by_name, V),
        (r_of_a_tuple_variable, V),
        (r_of_a_list_and_a_slice_object, V),
        (c_of_lists, V),
        (r_of_python_floats, 0.7),
        (s_and_index_exp_are_constants, V),
    ],
    ids=lambda p: getattr(p, "__name__", ""),
)
def test_index_tricks(f, arg):
    assert_matches_finite_differences(f, [arg])


def r_directive(v):
    # a matrix directive (an axis directive such as "0,2" is supported: issue 16)
    return np.sum(np.r_["r", v, v])


def r_active_slice_bound(v):
    n = v[0] * 10.0
    return np.sum(np.r_[0.0:n:2.0] * v[1])


def s_active_index(v):
    return np.sum(v[np.s_[v[0]]])


@pytest.mark.parametrize(
    "f, words",
    [
        (r_directive, "directive string in np.r_/np.c_"),
        (r_active_slice_bound, "slice"),
        (s_active_index, "index"),
    ],
    ids=lambda p: getattr(p, "__name__", ""),
)
def test_index_tricks_refused(f, words):
    with pytest.raises(ADTransformError, match=words):
        grad(f)(V)


# -- an active value inside an index tuple or slice ------------------------------------------


def tuple_index_with_active_part(v):
    k = (v * 0.0).astype(int)  # differentiable (astype), so the index depends on v
    return np.sum(M[k[0], 0] * v)


def slice_with_active_bound(v):
    n = (v[0] * 0.0 + 2.0).astype(int)
    return np.sum(v[0:n] ** 2)


@pytest.mark.parametrize(
    "f", [tuple_index_with_active_part, slice_with_active_bound], ids=lambda f: f.__name__
)
def test_active_value_inside_an_index_is_refused(f):
    with pytest.raises(ADTransformError, match="part of its index"):
        grad(f)(V)


# -- the audit table ------------------------------------------------------------------------


class Box:
    """A user class: its methods and attributes are not differentiated."""

    def __init__(self, value):
        self.value = value

    def take(self, i):
        return 3.0 * self.value

    def sum(self):
        return 7.0 * self.value

    def set(self, value):
        self.value = value

    def __getitem__(self, i):
        return 5.0 * self.value


BOX = Box(2.0)
LOG: list = []
LOGGER = logging.getLogger("test_soundness_activity")
STORE: list = []


def flow_call_rule(x):
    return math.sin(x) * np.exp(x)


def helper_twice(t):
    return 2.0 * t


def flow_call_user_function(x):
    return helper_twice(x) * x


def flow_float(x):
    return float(x) * x


def flow_abs(x):
    return abs(x) * x


def flow_builtin_sum(v):
    return sum([v[0], v[1] * v[2]])


def flow_builtin_max(v):
    return max(v[0], v[1]) * v[2]


def flow_int_round_len(v):  # piecewise constant: no derivative through them
    return (int(v[2]) + round(v[0]) + len(v)) * v[1]


def flow_method_on_array(v):
    return v.sum() * v.reshape(3, 1).T[0, 1]


def flow_attribute_T_real(m):
    return np.sum(m.T.real * np.array([[1.0, 2.0], [3.0, 4.0]]))


def flow_array_subscript(v):
    return v[0] * v[1:][1] * v[::-1][0]


def flow_list_and_tuple_subscript(v):
    xs = [v[0], v[1]]
    t = (v[2], xs)
    return t[1][0] * t[0]


def flow_iterate_array(v):
    s = 0.0
    for e in v:
        s = s + e * e
    return s


def flow_iterate_list(v):
    s = 0.0
    for e in [v[0], v[1] * v[2]]:
        s = s + math.sin(e)
    return s


def flow_enumerate_zip_loops(v):
    s = 0.0
    for i, e in enumerate(v):
        s = s + i * e
    for a, b in zip(v, v * v):
        s = s + a * b
    return s


def flow_unpack_pair(v):
    a, b = v[0], v[1]
    return a * b


def flow_unpack_array(v):
    a, b, c = v
    return a * b * c


def flow_np_array_of_list(v):
    return np.sum(np.array([v[0], v[1] * v[2]]) ** 2)


def flow_list_copy(v):
    xs = [v[0], 2.0 * v[1]]
    ys = xs.copy()
    return ys[1] * ys[0]


def flow_ifexp(x):
    return x * x if x > 0 else -x


def flow_or_and(x):
    return (x or 1.0) * (x and 2.0 * x)


def flow_chained_comparison_isinstance(x):
    return x * (0.0 < x < 2.0) * isinstance(x, float)


def flow_id_hash(x):
    return x * (id(x) > 0) * (hash(x) == hash(x))


def flow_text_not_read_back(x):
    message = f"x = {x}"
    print(message, str(x), repr(x))
    return x * x


def flow_formatted_text_printed(x):
    print("%.3f" % x, "{:.2f}".format(x))  # noqa: UP031, UP032 (the constructs under test)
    return x * x


def flow_warn_and_log(x):
    if x > 100.0:
        warnings.warn(f"large x: {x}", stacklevel=1)
    LOGGER.debug("x = %s", x)
    logging.debug("x = %s", x * 2.0)
    return x * x


def flow_log_to_unread_global(x):
    y = x * x
    LOG.append(y)
    return y


def flow_nondifferentiable_method(v):
    return v[v.argmax()] * v.shape[0]


FLOWS_DIFFERENTIATED = [
    (flow_call_rule, 0.7),
    (flow_call_user_function, 0.7),
    (flow_float, 0.7),
    (flow_abs, -0.7),
    (flow_builtin_sum, V),
    (flow_builtin_max, V),
    (flow_int_round_len, V),
    (flow_method_on_array, V),
    (flow_attribute_T_real, M),
    (flow_array_subscript, V),
    (flow_list_and_tuple_subscript, V),
    (flow_iterate_array, V),
    (flow_iterate_list, V),
    (flow_enumerate_zip_loops, V),
    (flow_unpack_pair, V),
    (flow_unpack_array, V),
    (flow_np_array_of_list, V),
    (flow_list_copy, V),
    (flow_ifexp, 0.7),
    (flow_ifexp, -0.7),
    (flow_or_and, 0.7),
    (flow_chained_comparison_isinstance, 0.7),
    (flow_id_hash, 0.7),
    (flow_text_not_read_back, 0.7),
    (flow_formatted_text_printed, 0.7),
    (flow_warn_and_log, 0.7),
    (flow_log_to_unread_global, 0.7),
    (flow_nondifferentiable_method, V),
]


@pytest.mark.parametrize(
    "f, arg",
    FLOWS_DIFFERENTIATED,
    ids=[f"{f.__name__}-{i}" for i, (f, _) in enumerate(FLOWS_DIFFERENTIATED)],
)
def test_flow_is_differentiated(f, arg, capsys):
    assert_matches_finite_differences(f, [arg])


def flow_user_object(x):
    b = Box(x)
    return b.value


def flow_user_method_of_global(x):
    return BOX.take(x)


@pytest.mark.parametrize("f", [flow_user_object, flow_user_method_of_global])
def test_user_objects_are_differentiated(f):
    # issue 12: objects and methods of user classes (tests/test_constructs_classes.py)
    assert_matches_finite_differences(f, [0.7])


def refuse_user_method_mutates(x):
    b = BOX
    b.set(x)
    return BOX.value * x


def refuse_global_append_read_back(x):
    STORE.append(x)
    return x * STORE[-1]


def refuse_setattr(x):
    setattr(BOX, "value", x)  # noqa: B010 (the construct under test)
    return BOX.value * x


def refuse_getattr(x):
    return getattr(x, "real") * 2.0  # noqa: B009 (the construct under test)


def refuse_list_reverse(v):
    xs = [v[0], 2.0 * v[1]]
    xs.reverse()
    return xs[0]


def refuse_array_sort_in_place(v):
    a = v * 1.0
    a.sort()
    return a[0] * 3.0


def refuse_copyto(v):
    buf = np.zeros(3)
    np.copyto(buf, v)
    return np.sum(buf * v)


def refuse_list_pop(v):
    xs = [v[0], v[1]]
    return xs.pop() * 2.0


def refuse_map(v):
    return sum(map(np.sin, v))


def refuse_filter(v):
    return sum(filter(None, v))


def refuse_zip_value(v):
    return list(zip(v, v))[0][0] * 1.0  # noqa: RUF015


def refuse_enumerate_value(v):
    return list(enumerate(v))[0][1] * 1.0  # noqa: RUF015


def refuse_iter_next(v):
    return next(iter(v)) * 1.0


def refuse_reduce(v):
    return functools.reduce(operator.add, v)


def refuse_float_of_fstring(x):
    return float(f"{x}") * x


def refuse_float_of_str(x):
    return float(str(x)) * x


def refuse_float_of_repr(x):
    return float(repr(x)) * x


def refuse_float_of_format(x):
    return float(format(x, ".17g")) * x


def refuse_float_of_percent_format(x):
    return float("%r" % x) * x  # noqa: UP031 (the construct under test)


def refuse_float_of_format_method(x):
    return float("{!r}".format(x)) * x  # noqa: UP032 (the construct under test)


def store_in_global(v):
    STORE.append(v)


def refuse_helper_stores_in_global(x):
    store_in_global(x)
    return x * STORE[-1]


def store_and_return(v):
    STORE.append(v)
    return 1.0


def refuse_helper_with_result_stores_in_global(x):
    store_and_return(x)
    return x * STORE[-1]


def refuse_active_helper_stores_in_global(x):
    y = store_and_return(x) * x
    return y * STORE[-1]


def refuse_bound_method_in_a_variable(v):
    total = v.sum
    return total() * 2.0


def refuse_ufunc_at(v):
    a = v * 1.0
    np.add.at(a, [0], v[1])
    return np.sum(a)


def refuse_fill(v):
    a = v * 1.0
    a.fill(2.0)
    return np.sum(a * v)


def refuse_view_then_write(v):
    a = v * 1.0
    b = a.view()
    b[0] = 5.0
    return np.sum(a * v)


def refuse_closure(x):
    def times_x(y):
        return x * y

    return times_x(x)


def refuse_lambda(x):
    return (lambda y: y * x)(x)


def refuse_list_comprehension(v):
    # comprehensions are lowered to loops (tests/test_constructs_comprehensions.py);
    # a generator stored for later stays refused
    squares = (e * e for e in v)
    return sum(squares)


def refuse_tolist(v):
    return v.tolist()[0] * 2.0


def refuse_flat(v):
    return v.flat[1] * 2.0


def refuse_attribute_assignment(x):
    BOX.value = x
    return BOX.value * x


def refuse_global_item_write(x):
    STORE[0] = x
    return STORE[0] * x


FLOWS_REFUSED = [
    (refuse_user_method_mutates, 0.7, "assignment to an attribute"),
    (refuse_global_append_read_back, 0.7, "method 'append' of a list object"),
    (refuse_setattr, 0.7, "setattr"),
    (refuse_getattr, 0.7, "getattr"),
    (refuse_list_reverse, V, "'.reverse'"),
    (refuse_array_sort_in_place, V, "'.sort'"),
    (refuse_copyto, V, "copyto"),
    (refuse_list_pop, V, "'.pop'"),
    (refuse_zip_value, V, "call to zip"),
    (refuse_enumerate_value, V, "call to enumerate"),
    (refuse_iter_next, V, "call to iter"),
    (refuse_float_of_fstring, 0.7, "into text"),
    (refuse_float_of_str, 0.7, r"'str\(x\)'.*into text"),
    (refuse_float_of_repr, 0.7, r"'repr\(x\)'.*into text"),
    (refuse_float_of_format, 0.7, "format.*into text"),
    (refuse_float_of_percent_format, 0.7, "%r' % x'.*into text"),
    (refuse_float_of_format_method, 0.7, r"format\(x\)'.*into text"),
    (refuse_helper_stores_in_global, 0.7, r"store_in_global\(\).*changes 'STORE' in place"),
    (refuse_helper_with_result_stores_in_global, 0.7, "changes 'STORE' in place"),
    (refuse_active_helper_stores_in_global, 0.7, "changes 'STORE' in place"),
    (refuse_bound_method_in_a_variable, V, "attribute '.sum'"),
    (refuse_ufunc_at, V, "method 'at' of a ufunc"),
    (refuse_fill, V, "'.fill'"),
    (refuse_view_then_write, V, "'.view'"),
    (refuse_list_comprehension, V, "generator expression"),
    (refuse_tolist, V, "'.tolist'"),
    (refuse_flat, V, "'.flat'"),
    (refuse_attribute_assignment, 0.7, "assignment to an attribute"),
    (refuse_global_item_write, 0.7, "STORE"),
]


@pytest.mark.parametrize(
    "f, arg, words", FLOWS_REFUSED, ids=[f.__name__ for f, _, _ in FLOWS_REFUSED]
)
def test_flow_is_refused(f, arg, words):
    with pytest.raises(ADTransformError, match=words):
        grad(f)(arg)


# -- methods are chosen by the receiver, not by the name alone --------------------------------


def pick(x, b):
    # returns an object or a number: the caller does not know its result's class (a
    # method of a known class is its class's, tests/test_constructs_classes.py)
    if x > 0:
        return b
    return x


def take_on_object_from_helper(x):
    r = pick(x, BOX)
    return r.take(0) * x


def take_on_object_parameter(x, b):
    r = pick(x, b)
    return r.take(x)


def sum_on_object_parameter(x, b):
    r = pick(x, b)
    return r.sum() * x


def test_user_method_named_like_an_ndarray_method_is_refused_at_run_time():
    with pytest.raises(ADTransformError, match=r"ndarray.take\(\) was chosen by name for a Box"):
        grad(take_on_object_from_helper)(0.7)
    with pytest.raises(ADTransformError, match=r"ndarray.sum\(\) was chosen by name for a Box"):
        grad(sum_on_object_parameter)(0.7, BOX)


def test_user_method_with_an_active_argument_says_how_the_rule_was_chosen():
    with pytest.raises(ADTransformError, match="taken for NumPy's by its name alone"):
        grad(take_on_object_parameter)(0.7, BOX)


def take_on_array_of_unknown_kind(v):
    s = np.sum(v * 1.0, axis=0)  # a reduction with an axis: kind unknown statically
    return s.sum() * 2.0 + np.sum(v.take([2, 0]) * np.array([3.0, -1.0]))


@pytest.mark.parametrize("arg", [V, M], ids=["vector", "matrix"])
def test_ndarray_methods_still_work_on_arrays(arg):
    assert_matches_finite_differences(take_on_array_of_unknown_kind, [arg])


def test_receiver_check_appears_only_where_the_kind_is_unknown():
    source = grad(flow_method_on_array).source_for(V)
    assert "array_receiver" not in source
    # code for any argument: the kind of s is unknown (for a 1-D V the shape facts
    # make s a number, and no check is needed)
    source = grad(take_on_array_of_unknown_kind).generic_source
    assert "array_receiver(s, 'ndarray.sum()'" in source


def complex_intermediate(x):
    return np.sum(np.abs(x + 1j * x))


def test_complex_constants_in_differentiated_code_are_differentiated():
    # once refused; complex intermediates are differentiated since issue 16 (see
    # docs/conventions/complex.md): |x + ix| = sqrt(2) |x|, from calculus
    np.testing.assert_allclose(
        grad(complex_intermediate)(np.array([1.0, -2.0])), np.sqrt(2.0) * np.array([1.0, -1.0])
    )
