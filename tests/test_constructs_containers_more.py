"""Issue 12, containers and calls (second part): ``d.update``, ``xs.pop``, ``**`` into
helpers.

``d.update({...})`` / ``d.update(k=v)`` on a dict the function made is lowered to item
stores (``lower/dict_updates.py``), which save the old value or the key's absence and
restore it in the backward sweep. What the transformer cannot know stays refused.

Every expected value comes from central finite differences (``tests/gradcheck.py``);
``value_and_grad``'s value is compared with the function's own.
"""

import copy

import numpy as np
import pytest
from gradcheck import check_grad

from ad_transform import ADTransformError, grad, value_and_grad

A3 = np.array([0.7, -0.3, 1.3])
B3 = np.array([-0.4, 0.9, 0.25])


def check(f, *args, wrt=0):
    """The forward value is ``f``'s, and the gradient matches finite differences."""
    expected = f(*copy.deepcopy(args))
    value, _ = value_and_grad(f, wrt=wrt)(*args)
    np.testing.assert_array_equal(value, expected)
    return check_grad(f, args, wrt)


# -- d.update ------------------------------------------------------------------------------
def update_with_display(x, y):
    params = {"w": x}
    params.update({"b": x * y})
    params["c"] = 2.0 * y
    return params["w"] * params["b"] + params["c"]


def update_overwrites(x, y):
    params = {"w": x, "b": y}
    params.update({"w": params["b"] * x, "b": params["w"] * y})  # both read the old dict
    return params["w"] * params["b"] ** 2


def update_with_keywords(x, y):
    params = {"w": x}
    params.update(w=x * x, b=np.sin(y))
    params.update({"c": y}, d=x * y)
    return params["w"] + params["b"] * params["c"] + params["d"]


def update_in_loop(x, y):
    acc = {"s": x}
    for k in range(3):
        acc.update({f"t{k}": acc["s"] * x})
        acc.update(s=acc["s"] * y + k)
    return acc["s"] + acc["t0"] * acc["t2"]


def update_arrays(a, b):
    params = {"w": a}
    params.update({"w": params["w"] * b, "b": np.sum(b * b)})
    return np.sum(params["w"] ** 2) + params["b"]


def update_branch(x, flag):
    params = {"w": x}
    if flag:
        params.update(w=x * x)
    return params["w"] * 3.0


@pytest.mark.parametrize(
    "f,args,wrt",
    [
        (update_with_display, (0.6, -1.4), (0, 1)),
        (update_overwrites, (0.6, -1.4), (0, 1)),
        (update_with_keywords, (0.6, -1.4), (0, 1)),
        (update_in_loop, (0.6, -1.4), (0, 1)),
        (update_arrays, (A3, B3), (0, 1)),
        (update_branch, (0.6, True), 0),
        (update_branch, (0.6, False), 0),
    ],
)
def test_dict_update(f, args, wrt):
    check(f, *args, wrt=wrt)


def update_argument(d, x):
    d.update({"w": x})
    return d["w"] * x


def update_maybe_not_dict(x, y):
    params = {"w": x}
    if y > 0:
        params = Box()
    params.update(w=y)
    return params["w"] * x


class Box(dict):
    pass


# d.update(other) of a dict variable works since tests/test_constructs_rest.py
@pytest.mark.parametrize("f", [update_maybe_not_dict])
def test_dict_update_refused(f):
    with pytest.raises(ADTransformError):
        grad(f, wrt=(0, 1))(0.6, 1.4)


def test_dict_update_of_argument_refused():
    with pytest.raises(ADTransformError):
        grad(update_argument, wrt=1)({"w": 1.0}, 0.6)


def update_method(x):
    """Was refused (tests/test_constructs_containers.py) before ``update`` was lowered."""
    d = {"a": x}
    d.update({"b": x * 2.0})
    return d["a"] + d["b"]


def test_update_method_formerly_refused():
    check(update_method, 0.7)


# -- xs.pop --------------------------------------------------------------------------------
def pop_last(x, y, z):
    stack = [x, y, z]
    top = stack.pop()
    return top * sum(stack)


def pop_positions(x, y, z):
    stack = [x, y * x, z, x * z]
    first = stack.pop(0)
    middle = stack.pop(1)
    second_last = stack.pop(-2)
    stack.append(first * middle)
    return second_last * stack[0] + np.sin(sum(stack)) * len(stack)


def pop_dropped(x, y, z):
    stack = [x * y, y, z]
    stack.pop()
    stack.pop(0)
    return stack[0] ** 3


def pop_in_while(x, y, z):
    stack = [x, y, z, x * y]
    total = 0.0
    while stack:
        v = stack.pop()
        total = total * v + v * v
    return total


def pop_arrays(a, b):
    parts = [a, b, a * b]
    last = parts.pop()
    head = parts.pop(0)
    return np.sum(last * head) + np.sum(parts[0] ** 2)


@pytest.mark.parametrize(
    "f,args,wrt",
    [
        (pop_last, (0.6, -1.4, 2.2), (0, 1, 2)),
        (pop_positions, (0.6, -1.4, 2.2), (0, 1, 2)),
        (pop_dropped, (0.6, -1.4, 2.2), (0, 1, 2)),
        (pop_in_while, (0.6, -1.4, 2.2), (0, 1, 2)),
        (pop_arrays, (A3, B3), (0, 1)),
    ],
)
def test_list_pop(f, args, wrt):
    check(f, *args, wrt=wrt)


def test_pop_of_empty_list_raises_like_python():
    def f(x):
        stack = [x]
        stack.pop()
        top = stack.pop()
        return x * top

    with pytest.raises(IndexError):
        grad(f)(0.6)


def pop_shared(x, y):
    stack = [x, y]
    other = stack  # a second name: popping must change what it sees
    top = stack.pop()
    return top * sum(other)


def pop_while_iterating(x, y):
    stack = [x, y, x * y]
    total = 0.0
    for v in stack:
        total = total + v * stack.pop()
    return total


def pop_kept(x, y):
    stack = [x, y]
    rows = [stack]
    stack.pop()
    return sum(rows[0]) * x


def pop_argument(xs, y):
    top = xs.pop()
    return top * y


def pop_variable_index(x, y, i):
    stack = [x, y]
    return stack.pop(i) * x


@pytest.mark.parametrize(
    "f,args",
    [
        (pop_shared, (0.6, -1.4)),
        (pop_while_iterating, (0.6, -1.4)),
        (pop_kept, (0.6, -1.4)),
        (pop_variable_index, (0.6, -1.4, 0)),
    ],
)
def test_list_pop_refused(f, args):
    with pytest.raises(ADTransformError):
        grad(f, wrt=(0, 1))(*args)


def test_pop_of_argument_refused():
    with pytest.raises(ADTransformError):
        grad(pop_argument, wrt=1)([0.5, 2.0], 0.6)


# -- **kwargs of a helper, **d at a call ------------------------------------------------------
def scaled_square(v, **options):
    return options.get("scale", 1.0) * v * v + options.get("shift", 0.0)


def weighted(v, w=1.0, *rest, **extra):
    total = w * v
    for r in rest:
        total = total + r * v
    for key in extra:
        total = total + extra[key] ** 2
    return total


def kwargs_named(x, y):
    return scaled_square(x, scale=y, shift=x)


def kwargs_two_key_sets(x, y):
    # the same helper with different keys: two pairs, never one cached for the other
    return scaled_square(x, scale=y) * scaled_square(y, shift=x * x) + scaled_square(x)


def kwargs_with_varargs(x, y):
    return weighted(x, y, x * y, 2.0, a=np.sin(x), b=y) + weighted(y, b=x)


def double_star_display(x, y):
    options = {"scale": y, "shift": 2.0}
    return scaled_square(x, **options)


def double_star_mixed(x, y):
    options = {"shift": x * y}
    first = {"scale": np.cos(y)}
    return scaled_square(x, **first, **options) + weighted(x, w=y, **options)


def double_star_to_named_parameters(x, y):
    options = {"w": y * y}
    return weighted(x, **options)


def double_star_arrays(a, b):
    options = {"scale": b}
    return np.sum(scaled_square(a, **options))


@pytest.mark.parametrize(
    "f,args,wrt",
    [
        (kwargs_named, (0.6, -1.4), (0, 1)),
        (kwargs_two_key_sets, (0.6, -1.4), (0, 1)),
        (kwargs_with_varargs, (0.6, -1.4), (0, 1)),
        (double_star_display, (0.6, -1.4), (0, 1)),
        (double_star_mixed, (0.6, -1.4), (0, 1)),
        (double_star_to_named_parameters, (0.6, -1.4), (0, 1)),
        (double_star_arrays, (A3, B3), (0, 1)),
    ],
)
def test_keywords_into_helpers(f, args, wrt):
    check(f, *args, wrt=wrt)


def double_star_changed(x, y):
    options = {"scale": 2.0}
    options["scale"] = y  # the dict changes: its keys are not followed
    return scaled_square(x, **options)


def double_star_argument(x, options):
    return scaled_square(x, **options)


def double_star_built_by_keys(x, y):
    options = {}
    for key in ("scale", "shift"):
        options[key] = y
    return scaled_square(x, **options)


@pytest.mark.parametrize("f", [double_star_changed, double_star_built_by_keys])
def test_unknown_keyword_dict_refused(f):
    with pytest.raises(ADTransformError):
        grad(f, wrt=(0, 1))(0.6, -1.4)


def test_double_star_of_argument_not_differentiated():
    # the dict's values are not differentiated: only x is, and exactly
    check(double_star_argument, 0.6, {"scale": 3.0})


# -- f(*parts, **options) --------------------------------------------------------------------
def norm2(*values):
    total = 0.0
    for v in values:
        total += v * v
    return total


def star_and_double_star(x, y):
    parts = (x, y * x)
    options = {"scale": 2.0}
    return norm2(*parts) + scaled_square(*parts[:1], **options)


def star_slices(x, y, z):
    parts = (x, y, z, x * y)
    options = {"shift": z, "scale": y}
    return (
        norm2(*parts[1:-1])
        + norm2(*parts[::2])
        + norm2(*parts[-2:], *parts[:0])
        + scaled_square(*parts[3:], **options)
    )


@pytest.mark.parametrize(
    "f,args,wrt",
    [
        (star_and_double_star, (0.6, -1.4), (0, 1)),
        (star_slices, (0.6, -1.4, 2.2), (0, 1, 2)),
    ],
)
def test_star_and_double_star(f, args, wrt):
    check(f, *args, wrt=wrt)


def star_of_list_slice(x, y):
    parts = [x, y]
    parts.append(x * y)  # a list: its length is not followed
    return norm2(*parts[1:])


def star_of_variable_slice(x, y, k):
    parts = (x, y)
    return norm2(*parts[:k])


def test_star_of_unknown_length_refused():
    with pytest.raises(ADTransformError, match="starred expression"):
        grad(star_of_list_slice, wrt=(0, 1))(0.6, -1.4)
    with pytest.raises(ADTransformError, match="starred expression"):
        grad(star_of_variable_slice, wrt=(0, 1))(0.6, -1.4, 1)


# -- := in a comprehension ----------------------------------------------------------------
def walrus_filter(x):
    kept = [s for v in x if (s := v * v) > 1.0]
    return sum(kept)


def walrus_last_value(x, y):
    scaled = [(last := v * y) for v in x]
    return sum(scaled) * last


def walrus_running_total(x):
    total = 0.0
    partial = [(total := total + v) for v in x]
    return sum(p * p for p in partial) + total


def walrus_witness(x, y):
    if any((witness := v * y) > 1.0 for v in x):
        return witness**2
    return y


def walrus_in_generator_sum(x, y):
    value = sum((t := np.sin(v) * y) for v in x)
    return value + 3.0 * t


def walrus_nested(x):
    rows = [[(c := a * b) for b in x] for a in x]
    return sum(sum(row) for row in rows) * c


@pytest.mark.parametrize(
    "f,args,wrt",
    [
        (walrus_filter, (A3,), 0),
        (walrus_last_value, (A3, 0.8), (0, 1)),
        (walrus_running_total, (A3,), 0),
        (walrus_witness, (A3, 0.8), (0, 1)),
        (walrus_witness, (A3, 0.1), (0, 1)),
        (walrus_in_generator_sum, (A3, 0.8), (0, 1)),
        (walrus_nested, (A3,), 0),
    ],
)
def test_walrus_in_comprehension(f, args, wrt):
    check(f, *args, wrt=wrt)


def walrus_read_before(x):
    s = 1.0
    return s + sum([(s := v * v) for v in x])


def test_walrus_read_in_the_same_statement_refused():
    with pytest.raises(ADTransformError, match=":="):
        grad(walrus_read_before)(A3)


def walrus_read_inside(x, xs):
    """Was refused (tests/test_constructs_comprehensions.py) before ``:=`` was lowered."""
    return sum([(y := v * x) * y for v in xs])


def test_walrus_read_inside_the_comprehension():
    check(walrus_read_inside, 0.7, A3, wrt=(0, 1))


# -- xs.insert (a sibling of pop) ------------------------------------------------------------
def insert_positions(x, y, z):
    stack = [x, y]
    stack.insert(0, z * x)
    stack.insert(-1, np.sin(y))
    stack.insert(10, x * y)  # past the end: appended, as Python does
    stack.insert(-10, z)  # before the start: first
    top = stack.pop(2)
    return top * stack[0] + stack[1] * stack[-1] + sum(stack) * stack[3]


def test_list_insert():
    check(insert_positions, 0.6, -1.4, 2.2, wrt=(0, 1, 2))


def insert_shared(x, y):
    stack = [x]
    alias = stack
    stack.insert(0, y)
    return alias[0] * x


def test_list_insert_on_shared_list_refused():
    with pytest.raises(ADTransformError):
        grad(insert_shared, wrt=(0, 1))(0.6, -1.4)


# -- d.setdefault (a sibling of update) ------------------------------------------------------
def setdefault_uses(x, y):
    params = {"w": x}
    params.setdefault("w", y * 10.0)  # present: unchanged, the default unused
    params.setdefault("b", x * y)  # missing: stored
    params.setdefault("c", np.sin(y))
    for k in range(2):
        params.setdefault(f"k{k % 1}", x * k + y)
    return params["w"] * params["b"] + params["c"] * params["w"] + params["k0"] ** 2


def setdefault_value(x, y):
    params = {"w": x}
    b = params.setdefault("b", x * y)
    return b * np.cos(y)


def setdefault_present_value(x, y):
    params = {"w": x * x}
    w = params.setdefault("w", y)
    return w * y


@pytest.mark.parametrize("f", [setdefault_uses, setdefault_value, setdefault_present_value])
def test_dict_setdefault(f):
    check(f, 0.6, -1.4, wrt=(0, 1))


def insert_locally(a):
    """Was refused (tests/test_soundness_helper_mutation.py) before ``insert`` was lowered."""
    s = [1.0]
    s.insert(0, a)
    return s[0] * a


def pop_locally(x):
    """Was refused (tests/test_soundness_helper_mutation.py) before ``pop`` was lowered."""
    s = [x, x * 2.0]
    s.pop()
    return s[-1] * x


@pytest.mark.parametrize("f", [insert_locally, pop_locally])
def test_formerly_refused_local_list_changes(f):
    check(f, 1.5)
