"""Issue 11: array writes with NumPy's own semantics, zero adjoints that reach array rules,
and which arrays a function may write into.

Expected values come from calculus (stated next to each) or from central finite
differences (``check_grad``).
"""

import importlib.util
import itertools
import sys

import numpy as np
import pytest
from gradcheck import check_grad, check_vjp_dot_product, numerical_gradient

from ad_transform import ADTransformError, grad, value_and_grad

W3 = np.array([1.0, 2.0, 3.0])
W4 = np.array([1.0, -2.0, 3.0, 0.5])


# -- writing an array into a view of itself ----------------------------------------------
def whole_self(x):
    a = x * 1.0
    a[:] = a
    return np.sum(a)


def reversed_self(x):
    a = x * 1.0
    a[::-1] = a
    return np.sum(a * np.array([1.0, 2.0]))


def test_whole_self_write_keeps_the_gradient():
    # a is x again: d sum(a) / dx = ones
    np.testing.assert_allclose(grad(whole_self)(np.array([0.3, -1.2])), [1.0, 1.0])


def test_reversed_self_write():
    # a = [x1, x0]: sum(a * [1, 2]) = x1 + 2 x0
    np.testing.assert_allclose(grad(reversed_self)(np.array([0.3, -1.2])), [2.0, 1.0])


def shift_right(x):
    a = x * x
    a[1:] = a[:-1]  # overlapping views: [x0², x0², x1², x2²]
    return np.sum(a * W4)


def shift_left(x):
    a = x * x
    a[:-1] = a[1:]  # [x1², x2², x3², x3²]
    return np.sum(a * W4)


def middle_from_front(x):
    a = np.sin(x)
    a[1:3] = a[0:2]
    return np.sum(a * W4)


def transposed_self(m):
    a = m * 1.0
    a[:] = a.T
    return np.sum(a * np.array([[1.0, 2.0], [3.0, 4.0]]))


def self_write_in_loop(x):
    a = x * 1.0
    for _ in range(3):
        a[::-1] = a
        a = a * np.array([1.0, 2.0, 3.0, 4.0])
    return np.sum(a)


def self_plus_self(x):
    a = x * 1.0
    a[1:] += a[:-1]  # a read of the overlap, then the write
    return np.sum(a * W4)


def test_shift_right_by_calculus():
    x = np.array([0.5, -1.0, 2.0, 1.5])
    # sum = w0 x0² + w1 x0² + w2 x1² + w3 x2²
    expected = [2 * x[0] * (W4[0] + W4[1]), 2 * x[1] * W4[2], 2 * x[2] * W4[3], 0.0]
    np.testing.assert_allclose(grad(shift_right)(x), expected)


@pytest.mark.parametrize(
    "function, x",
    [
        (shift_right, np.array([0.5, -1.0, 2.0, 1.5])),
        (shift_left, np.array([0.5, -1.0, 2.0, 1.5])),
        (middle_from_front, np.array([0.5, -1.0, 2.0, 1.5])),
        (transposed_self, np.array([[0.5, -1.0], [2.0, 1.5]])),
        (self_write_in_loop, np.array([0.5, -1.0, 2.0, 1.5])),
        (self_plus_self, np.array([0.5, -1.0, 2.0, 1.5])),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_overlapping_self_writes(function, x):
    check_grad(function, (x,))
    value, _ = value_and_grad(function)(x)
    assert value == function(x)


# -- fancy-index writes with repeated indices ----------------------------------------------
def repeated_add(x):
    a = x * 1.0
    a[[0, 0]] += x[1]
    return np.sum(a)


def repeated_store(x):
    a = np.zeros(2)
    a[[0, 0]] = x
    return np.sum(a)


def test_repeated_index_add_applies_once():
    # NumPy: a[0] = x0 + x1 once; sum(a) = x0 + x1 + x1
    np.testing.assert_allclose(grad(repeated_add)(np.array([1.0, 1.0])), [1.0, 2.0])


def test_repeated_index_store_last_wins():
    # NumPy: a[0] = x[1] (the last write wins); sum(a) = x1
    np.testing.assert_allclose(grad(repeated_store)(np.array([1.0, 1.0])), [0.0, 1.0])


def repeated_sub(x):
    a = x**2
    a[np.array([2, 2, 0])] -= x
    return np.sum(a * W3)


def repeated_mul(x):
    a = x * 1.0
    a[[0, 0, 2]] *= x[1]
    return np.sum(a * W3)


def repeated_negative_alias(x):
    a = x * 2.0
    a[[0, -3, 1]] = x * x  # -3 is 0 again: x1² is stored there last
    return np.sum(a * W3)


def repeated_rows(x):
    a = np.zeros((2, 3))
    a[[1, 1], :] = np.stack([x, 2.0 * x])
    return np.sum(a * np.arange(6.0).reshape(2, 3))


def repeated_broadcast_scalar(x):
    a = x * 1.0
    a[[1, 1, 1]] = x[0] * 3.0  # one value, stored once
    return np.sum(a * W3)


def repeated_in_loop(x):
    a = np.zeros(3)
    for i in range(3):
        a[[i, i, 0]] += x * (i + 1.0)
    return np.sum(a * W3)


def mask_write(x):
    a = x * 1.0
    a[x > 0] = x[x > 0] ** 2
    return np.sum(a * W3)


def test_repeated_sub_by_calculus():
    x = np.array([0.5, -1.0, 2.0])
    # a = [x0² - x2, x1², x2² - x1]: the last write to each index wins
    expected = [2 * x[0] * W3[0], 2 * x[1] * W3[1] - W3[2], 2 * x[2] * W3[2] - W3[0]]
    np.testing.assert_allclose(grad(repeated_sub)(x), expected)


@pytest.mark.parametrize(
    "function",
    [
        repeated_add,
        repeated_store,
        repeated_sub,
        repeated_mul,
        repeated_negative_alias,
        repeated_rows,
        repeated_broadcast_scalar,
        repeated_in_loop,
        mask_write,
    ],
)
def test_repeated_and_mask_writes_by_finite_differences(function):
    x = np.array([0.5, -1.0, 2.0]) if function is not repeated_add else np.array([0.5, -1.0])
    if function is repeated_store:
        x = np.array([0.5, -1.0])
    check_grad(function, (x,))
    check_vjp_dot_product(function, (x,))


# -- a zero adjoint reaching an array rule ----------------------------------------------------
def flip_overwritten(x):
    v = np.flip(x, axis=0)
    if x[0] > 0:
        v = x * 2.0
    return np.sum(v)


def test_flip_overwritten_in_the_branch_taken():
    np.testing.assert_allclose(grad(flip_overwritten)(np.array([0.5, -0.3])), [2.0, 2.0])
    np.testing.assert_allclose(grad(flip_overwritten)(np.array([-0.5, -0.3])), [1.0, 1.0])


# (expression of x, a 2x3 array; the same expression's shape made from x differently)
ZERO_ADJOINT_RULES = {
    "reshape": ("np.reshape(x, (3, 2))", "x.T * 2.0"),
    "reshape_method": ("x.reshape(6)", "np.ravel(x) * 3.0"),
    "einsum": ("np.einsum('ij,ij->ij', x, x)", "x * 2.0"),
    "einsum_transpose": ("np.einsum('ij->ji', x)", "x.T * 2.0"),
    "cumsum": ("np.cumsum(x, axis=1)", "x * 2.0"),
    "cumprod": ("np.cumprod(x, axis=0)", "x * 2.0"),
    "stack": ("np.stack([x, x])", "np.stack([x * 2.0, x])"),
    "sum_axis": ("np.sum(x, axis=0)", "x[0] * 2.0"),
    "mean_axis": ("np.mean(x, axis=1, keepdims=True)", "x[:, :1] * 2.0"),
    "max_axis": ("np.max(x, axis=1)", "x[:, 0] * 2.0"),
    "prod": ("np.prod(x, axis=0)", "x[1] * 2.0"),
    "prod_all": ("np.prod(x)", "x[0, 0] * 2.0"),
    "std_axis": ("np.std(x, axis=0)", "x[0] * 2.0"),
    "norm_axis": ("np.linalg.norm(x, axis=1)", "x[:, 1] * 2.0"),
    "tile": ("np.tile(x, (2, 1))", "np.concatenate([x, x * 2.0])"),
    "repeat": ("np.repeat(x, 2, axis=0)", "np.concatenate([x, x * 2.0])"),
    "roll": ("np.roll(x, 1, axis=1)", "x * 2.0"),
    "slice": ("x[:, 1:]", "x[:, :2] * 2.0"),
    "diagonal": ("np.diagonal(x)", "x[0, :2] * 2.0"),
    "diag": ("np.diag(x[0])", "np.outer(x[0], x[1])"),
    "array_of_list": ("np.array([x[0], x[1]])", "x * 2.0"),
    "concatenate": ("np.concatenate([x, x], axis=1)", "np.concatenate([x * 2.0, x], axis=1)"),
    "swapaxes": ("np.swapaxes(x, 0, 1)", "x.T * 2.0"),
    "transpose": ("x.T", "np.transpose(x) * 2.0"),
    "flip": ("np.flip(x, axis=1)", "x * 2.0"),
    "squeeze": ("np.squeeze(x[None])", "x * 2.0"),
    "expand_dims": ("np.expand_dims(x, 0)", "x[None] * 2.0"),
    "broadcast_to": ("np.broadcast_to(x, (2, 2, 3))", "np.stack([x, x]) * 2.0"),
    "moveaxis": ("np.moveaxis(x, 0, 1)", "x.T * 2.0"),
    "pad": ("np.pad(x, 1)", "np.ones((4, 5)) * x[0, 0]"),
    "sort": ("np.sort(x, axis=1)", "x * 2.0"),
    "diff": ("np.diff(x, axis=1)", "x[:, 1:] * 2.0"),
    "take": ("np.take(x, [0, 2], axis=1)", "x[:, :2] * 2.0"),
    "outer": ("np.outer(x[0], x[1])", "np.outer(x[1], x[0]) * 2.0"),
    "matmul": ("x @ x.T", "np.eye(2) * x[0, 0]"),
    "where": ("np.where(x > 0, x, 0.0)", "x * 2.0"),
    "triu": ("np.triu(x)", "x * 2.0"),
    "kron": ("np.kron(x, x)", "np.ones((4, 9)) * x[0, 0]"),
    "split": ("np.split(x, 3, axis=1)[1]", "x[:, 1:2] * 2.0"),
    "list_display": ("np.stack([x[0], x[1]])", "x * 2.0"),
}

_modules = itertools.count()


def _load(source: str, tmp_path, name: str):
    module_name = f"zero_adjoint_{next(_modules)}"
    path = tmp_path / f"{module_name}.py"
    path.write_text("import numpy as np\n\n\n" + source)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[module_name]
    return getattr(module, name)


WEIGHTS = "np.sin(np.arange(1.0, 1.0 + np.size({0})).reshape(np.shape({0})))"


@pytest.mark.parametrize("rule", sorted(ZERO_ADJOINT_RULES))
def test_zero_adjoint_overwritten_in_branch(rule, tmp_path):
    first, other = ZERO_ADJOINT_RULES[rule]
    source = (
        "def f(x):\n"
        f"    v = {first}\n"
        "    if x[0, 0] > 0:\n"
        f"        v = {other}\n"
        f"    return np.sum(v * {WEIGHTS.format('v')})\n"
    )
    f = _load(source, tmp_path, "f")
    x = np.array([[0.5, -0.3, 1.2], [0.7, 1.1, -0.4]])
    check_grad(f, (x,))  # the first value of v is overwritten: its adjoint is zero
    check_grad(f, (-x,))  # ... and here it is not


@pytest.mark.parametrize("rule", sorted(ZERO_ADJOINT_RULES))
def test_zero_adjoint_overwritten_by_next_iteration(rule, tmp_path):
    first, other = ZERO_ADJOINT_RULES[rule]
    source = (
        "def f(x):\n"
        "    total = 0.0\n"
        "    for i in range(3):\n"
        f"        v = {first}\n"
        "        if i > 0:\n"
        f"            v = {other}\n"
        f"        total = total + np.sum(v * {WEIGHTS.format('v')}) * (i + 1.0)\n"
        "    return total\n"
    )
    f = _load(source, tmp_path, "f")
    check_grad(f, (np.array([[0.5, -0.3, 1.2], [0.7, 1.1, -0.4]]),))


def unread_list_in_loop(x, n):
    total = np.sum(x)
    for _ in range(n):
        parts = [x * 2.0, x]
        parts = [x, x * 3.0]  # the first list is never read
        total = total + np.sum(np.stack(parts))
    return total


def test_zero_adjoint_of_a_list_display():
    x = np.array([0.5, -1.0])
    check_grad(unread_list_in_loop, (x, 2))  # d/dx = 1 + 2 * (1 + 3) = 9
    np.testing.assert_allclose(grad(unread_list_in_loop)(x, 2), [9.0, 9.0])


def helper_array(x):
    return np.reshape(x, (2, 2))


def unread_helper_result(x):
    v = helper_array(x)
    if x[0] > 0:
        v = np.reshape(x * 2.0, (2, 2))
    return np.sum(v * np.array([[1.0, 2.0], [3.0, 4.0]]))


def test_zero_adjoint_of_a_helper_result():
    x = np.array([0.5, -1.0, 2.0, 1.5])
    np.testing.assert_allclose(grad(unread_helper_result)(x), [2.0, 4.0, 6.0, 8.0])
    np.testing.assert_allclose(grad(unread_helper_result)(-x), [1.0, 2.0, 3.0, 4.0])


# -- adjoints of containers created on a path not taken --------------------------------------
def array_made_in_loop(x, n):
    s = 0.0
    for _ in range(n):
        a = np.zeros(2)
        a[0] = x[0]
        s = s + np.sum(a)
    return s + np.sum(x)


def list_made_in_loop(x, n):
    s = 0.0
    for _ in range(n):
        items = []
        items.append(x[0])
        s = s + items[0]
    return s + np.sum(x)


def array_made_in_branch(x):
    s = np.sum(x)
    if x[0] > 10:
        a = np.zeros(2)
        a[0] = x[0]
        s = s + a[0]
    for _ in range(2):
        s = s * 1.5
    return s


def list_made_in_branch(x):
    s = np.sum(x)
    if x[0] > 10:
        items = []
        items.append(x[0])
        s = s + items[0]
    for _ in range(2):
        s = s * 1.5
    return s


def array_written_unread_in_loop(x):
    s = 0.0
    for i in range(3):
        a = np.zeros(2)
        a[0] = x[0] * 2.0
        if i == 0:
            s = s + np.sum(a * x)  # later iterations write but never read a
    return s


@pytest.mark.parametrize("n", [0, 1, 3])
@pytest.mark.parametrize("function", [array_made_in_loop, list_made_in_loop])
def test_container_made_in_a_loop_that_may_not_run(function, n):
    x = np.array([0.5, -1.0])
    np.testing.assert_allclose(grad(function, wrt=0)(x, n), [1.0 + n, 1.0])


@pytest.mark.parametrize("function", [array_made_in_branch, list_made_in_branch])
def test_container_made_in_a_branch_not_taken(function):
    x = np.array([0.5, -1.0])
    np.testing.assert_allclose(grad(function)(x), [2.25, 2.25])
    check_grad(function, (np.array([11.0, -1.0]),))


def test_array_written_but_not_read_in_later_iterations():
    check_grad(array_written_unread_in_loop, (np.array([0.5, -1.0]),))


# -- writes into arrays the function created --------------------------------------------------
CHART = np.array([1.0, 2.0, 3.0])


def helper_new(x):
    return x * 2.0


def helper_new_via_local(x):
    out = np.zeros(3)
    out[:] = x
    return out


def helper_same(x):
    return x


FRESH_RESULTS = {
    "stack": "np.stack([x, x])",
    "concatenate": "np.concatenate([x, x])",
    "where": "np.where(x > 0, x, 0.0)",
    "sum_axis": "np.sum(np.outer(x, x), axis=0)",
    "max_axis": "np.max(np.outer(x, x), axis=1)",
    "cumsum": "np.cumsum(x)",
    "einsum": "np.einsum('i,j->ij', x, x)",
    "outer": "np.outer(x, x)",
    "tile": "np.tile(x, 2)",
    "roll": "np.roll(x, 1)",
    "diag": "np.diag(x)",
    "sum_list": "sum([x, x])",
    "helper": "helper_new(x)",
    "helper_local": "helper_new_via_local(x)",
    "fancy_read": "x[[0, 1, 2]]",
    "mask_read": "x[x > -10.0]",
    "copy_method": "x.copy()",
    "np_copy": "np.copy(x)",
    "np_array": "np.array(x)",
    "astype": "x.astype(float)",
    "arithmetic": "x + 1.0",
    "negation": "-x",
    "ufunc": "np.sin(x)",
    "flatten": "np.outer(x, x).flatten()",
    "sort": "np.sort(x)",
    "global_copy": "CHART.copy() * x",
}


@pytest.mark.parametrize("kind", sorted(FRESH_RESULTS))
def test_writes_into_fresh_results(kind, tmp_path):
    source = (
        "CHART = np.array([1.0, 2.0, 3.0])\n\n\n"
        "def helper_new(x):\n    return x * 2.0\n\n\n"
        "def helper_new_via_local(x):\n"
        "    out = np.zeros(3)\n    out[:] = x\n    return out\n\n\n"
        "def f(x):\n"
        f"    a = {FRESH_RESULTS[kind]}\n"
        "    a[0] = x[1] * 3.0\n"
        "    return np.sum(a * a) + np.sum(x)\n"
    )
    f = _load(source, tmp_path, "f")
    x = np.array([0.5, -0.3, 2.0])
    before = x.copy()
    check_grad(f, (x,))
    np.testing.assert_array_equal(x, before)


def write_into_global_copy(x):
    chart = CHART.copy()
    chart[0] = x[0]
    return np.sum(chart * x)


def test_write_into_a_copy_of_a_global():
    x = np.array([0.5, -0.3, 2.0])
    # chart = [x0, 2, 3]: d/dx sum(chart * x) = [2 x0, 2, 3]
    np.testing.assert_allclose(grad(write_into_global_copy)(x), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(CHART, [1.0, 2.0, 3.0])


# -- writes refused: arguments, globals and views of them -----------------------------------
VIEWS_OF_ARGUMENT = {
    "argument": "x",
    "reshape": "x.reshape(3)",
    "np_reshape": "np.reshape(x, (3,))",
    "ravel": "np.ravel(x)",
    "transpose": "np.transpose(x)",
    "T": "x.T",
    "basic_slice": "x[0:2]",
    "asarray": "np.asarray(x)",
    "squeeze": "np.squeeze(x)",
    "expand_dims": "np.expand_dims(x, 0)[0]",
    "flip": "np.flip(x)",
    "einsum_one_operand": "np.einsum('i->i', x)",
    "astype_no_copy": "x.astype(float, copy=False)",
    "helper_returning_argument": "helper_same(x)",
    "copy_of_argument_name": "x",
}


@pytest.mark.parametrize("kind", sorted(VIEWS_OF_ARGUMENT))
def test_writes_into_views_of_arguments_are_refused(kind, tmp_path):
    source = (
        "def helper_same(x):\n    return x\n\n\n"
        "def f(x):\n"
        f"    a = {VIEWS_OF_ARGUMENT[kind]}\n"
        "    a[0] = x[1] * 3.0\n"
        "    return np.sum(a * a)\n"
    )
    f = _load(source, tmp_path, "f")
    x = np.array([0.5, -0.3, 2.0])
    with pytest.raises(ADTransformError) as caught:
        grad(f)(x)
    message = str(caught.value)
    assert "cannot assign into items of 'a'" in message
    assert "the argument 'x'" in message
    assert "x_copy = x.copy()" in message
    np.testing.assert_array_equal(x, [0.5, -0.3, 2.0])


def write_into_global(x):
    CHART[0] = x[0]
    return np.sum(CHART * x)


def write_into_view_of_global(x):
    view = CHART[1:]
    view[0] = x[0]
    return np.sum(CHART * x)


@pytest.mark.parametrize("function", [write_into_global, write_into_view_of_global])
def test_writes_into_globals_are_refused_with_a_valid_hint(function):
    with pytest.raises(ADTransformError) as caught:
        grad(function)(np.array([0.5, -0.3, 2.0]))
    message = str(caught.value)
    assert "the global 'CHART'" in message
    assert "chart = CHART.copy()" in message
    assert "CHART = CHART.copy()" not in message  # would make CHART local: UnboundLocalError
    np.testing.assert_array_equal(CHART, [1.0, 2.0, 3.0])


def make_closure():
    table = np.array([1.0, 2.0])

    def write_into_closure(x):
        table[0] = x
        return np.sum(table) * x

    return write_into_closure


def test_writes_into_closure_variables_are_refused():
    with pytest.raises(ADTransformError, match=r"the closure 'table'.*table_copy = table.copy\(\)"):
        grad(make_closure())(0.5)


def test_the_suggested_fix_works():
    # the hint's own code, differentiated: chart = CHART.copy(); chart[...] = ...
    x = np.array([0.5, -0.3, 2.0])
    np.testing.assert_allclose(
        grad(write_into_global_copy)(x), numerical_gradient(write_into_global_copy, [x])
    )


@pytest.mark.parametrize("rule", ["reshape", "flip", "stack", "sum_axis", "einsum", "split"])
def test_zero_adjoint_guards_unoptimized(rule, tmp_path, monkeypatch):
    # without the optimize stage every guard stays: the same gradients
    import functools

    from ad_transform import pipeline
    from ad_transform.optimize import optimize

    monkeypatch.setattr(pipeline, "optimize", functools.partial(optimize, passes=False))
    test_zero_adjoint_overwritten_in_branch(rule, tmp_path)
    test_zero_adjoint_overwritten_by_next_iteration(rule, tmp_path)


def reshaped_in_helper(x):
    return np.flip(np.reshape(x, (2, 2)), 0)  # rows swapped


def helper_result_unread_in_loop(x):
    total = 0.0
    for i in range(3):
        m = reshaped_in_helper(x)
        if i % 2 == 1:
            m = np.reshape(x, (2, 2)) * 3.0  # the helper's result is not read: seed 0.0
        total = total + np.sum(m * np.array([[1.0, 2.0], [3.0, 4.0]]))
    return total


def test_helper_backward_takes_a_zero_seed():
    # iterations 0 and 2 read the helper's rows swapped: 2 * [3, 4, 1, 2]; iteration 1
    # reads 3 x: 3 * [1, 2, 3, 4]
    x = np.array([0.5, -1.0, 2.0, 1.5])
    np.testing.assert_allclose(grad(helper_result_unread_in_loop)(x), [9.0, 14.0, 11.0, 16.0])


def vector_valued_overwrite(x):
    v = np.flip(x, 0)
    if x[0] > 0:
        v = np.cumsum(x)
    return v * 2.0


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_vjp_with_an_overwritten_array(sign):
    check_vjp_dot_product(vector_valued_overwrite, (sign * np.array([0.5, -1.0, 2.0]),))


def nested_loops_overwrite(x):
    total = 0.0
    for i in range(2):
        for j in range(3):
            v = np.roll(x, j, axis=0)
            if j > i:
                v = np.tile(x, 1) * (j + 1.0)
            total = total + np.sum(v * np.array([1.0, -2.0, 3.0])) * (i + 1.0)
    return total


def test_nested_loops_with_overwritten_arrays():
    check_grad(nested_loops_overwrite, (np.array([0.5, -1.0, 2.0]),))


# -- a write into an array another name still holds -------------------------------------------
def write_then_read_copy_of_name(x):
    a = x * 1.0
    b = a
    a[0] = 5.0
    return np.sum(b * x)  # b is a: [5, x1, x2]


def write_then_read_view(x):
    a = x * 1.0
    v = a[1:]
    a[1] = 5.0
    return np.sum(v * x[1:])


def write_then_read_reshaped(x):
    a = x * 1.0
    r = a.reshape(3, 1)
    a[0] = 2.0
    return np.sum(r)


def write_then_read_list_holding_it(x):
    a = x * 1.0
    items = [a, x]
    a[0] = 2.0
    return np.sum(items[0] * x)


def write_then_read_row_in_loop(x):
    m = np.outer(x, x)
    total = 0.0
    for row in m:
        m[0, 0] = 1.0
        total = total + np.sum(row)
    return total


@pytest.mark.parametrize(
    "function, other",
    [
        (write_then_read_reshaped, "r"),
        (write_then_read_list_holding_it, "items"),
        (write_then_read_row_in_loop, "row"),
    ],
)
def test_writes_seen_through_another_name_are_refused(function, other):
    # these gave wrong gradients silently (the write's adjoint did not reach the alias)
    with pytest.raises(ADTransformError, match=f"'{other}' may hold the same array"):
        grad(function)(np.array([0.5, -0.3, 2.0]))


@pytest.mark.parametrize("function", [write_then_read_copy_of_name, write_then_read_view])
def test_writes_seen_through_a_copy_or_a_basic_view_are_followed(function):
    # the alias analysis refreshes a name that certainly holds the array (or a basic view
    # of it) after the write, so the write's adjoint reaches it
    x = np.array([0.5, -0.3, 2.0])
    value, _ = value_and_grad(function)(x)
    assert value == function(x)
    check_grad(function, [x])


def view_read_before_write(x):
    a = x * x
    a[:2] = a[1:] * 2.0  # the view a[1:] is read before the write only
    return np.sum(a * W3)


def element_appended_then_written_list(x):
    layers = []
    h = x * 1.0
    for _ in range(2):
        h = np.tanh(h)
        layers.append(h)
    return np.sum(layers[0] * layers[1]) + np.sum(h)


def rebound_in_loop_after_write(x):
    a = x * 1.0
    for i in range(3):
        a[i] = a[i] * 2.0 + x[i]
        a = a * np.array([1.0, 2.0, 3.0])
    return np.sum(a)


def copy_taken_before_write(x):
    a = x * 1.0
    b = a.copy()
    a[0] = 5.0
    return np.sum(b * x) + np.sum(a * x)


def view_made_each_iteration(x):
    a = x * 1.0
    for i in range(2):
        v = a[i : i + 2]
        s = np.sum(v * v)
        a[i] = s
    return np.sum(a * W3)


@pytest.mark.parametrize(
    "function",
    [
        view_read_before_write,
        element_appended_then_written_list,
        rebound_in_loop_after_write,
        copy_taken_before_write,
        view_made_each_iteration,
    ],
)
def test_writes_with_no_other_live_name_work(function):
    check_grad(function, (np.array([0.5, -0.3, 2.0]),))


# -- writes with no derivative are undone too ------------------------------------------------
def constant_array_written_after_use(x):
    c = np.ones(2)
    y = np.sum(x * c)  # the adjoint reads c: it must see the ones
    c[0] = 5.0
    return y


def loop_result_written_after_loop(x):
    b = x * 2.0
    for _ in range(2):
        a = np.roll(b, 1)
        s = np.sum(b * a)  # the adjoint reads each a (the last one is written below)
    a[0] = 0.0
    return s


def view_saved_then_base_written(x):
    a = x * 2.0
    s = 0.0
    for i in range(2):
        v = a[1:]
        s = s + np.sum(v * v) * (i + 1.0)
    a[1] = 0.0
    return s + np.sum(a)


@pytest.mark.parametrize(
    "function",
    [
        constant_array_written_after_use,
        loop_result_written_after_loop,
        view_saved_then_base_written,
    ],
)
def test_writes_without_derivative_are_undone(function):
    x = np.array([0.5, -0.3])
    check_grad(function, (x,))
    # the pullback runs on a copy of what it undoes, arrays shared between names alike
    check_vjp_dot_product(function, (x,))
    _, pullback = __import__("ad_transform").vjp(function)(x)
    np.testing.assert_array_equal(pullback(1.0), pullback(1.0))


def test_constant_array_written_after_use_by_calculus():
    # y = x0 + x1 (c was all ones when it was read)
    np.testing.assert_allclose(
        grad(constant_array_written_after_use)(np.array([0.5, -0.3])), [1.0, 1.0]
    )
