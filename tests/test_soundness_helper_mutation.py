"""Issue 11, item 2: a helper that changes a list or array its caller gave it.

The helper's change is part of the function: its derivative must cross the call (the
helper's pair changes the caller's object, and its backward undoes the change and hands
back the container's adjoint), or the transformer must refuse with a clear error. Every
expected value comes from calculus or central finite differences.
"""

import importlib.util

import numpy as np
import pytest
from gradcheck import check_grad, check_vjp_dot_product, numerical_gradient

from ad_transform import ADTransformError, grad, value_and_grad, vjp

RNG = np.random.default_rng(11)
V3 = np.array([0.7, -1.3, 2.1])


# -- the two examples of the issue -------------------------------------------------------
def stash(store, v):
    store.append(v)


def square_via_list(a):
    s = []
    stash(s, a)
    return a * s[0]


def put_first(buf, v):
    buf[0] = v


def square_via_array(a):
    buf = np.zeros(2)
    put_first(buf, a)
    return a * buf[0]


@pytest.mark.parametrize("function", [square_via_list, square_via_array])
def test_issue_examples(function):
    assert grad(function)(3.0) == pytest.approx(6.0, rel=1e-12)  # d/da a*a
    assert grad(function)(-1.25) == pytest.approx(-2.5, rel=1e-12)
    value, gradient = value_and_grad(function)(3.0)
    assert value == pytest.approx(9.0) and gradient == pytest.approx(6.0)


# -- each kind of write ------------------------------------------------------------------
def extend_with(store, a, b):
    store.extend([a * b, b])


def via_extend(a, b):
    s = [a]
    extend_with(s, a, b)
    return s[0] * s[1] + s[2] ** 3  # a*a*b + b**3


def write_slice(buf, v):
    buf[1:3] = v * np.array([2.0, 3.0])


def via_slice(x):
    buf = np.ones(4)
    write_slice(buf, x[0])
    buf = buf[:3]
    return np.sum(buf * x)


def add_into(buf, i, v):
    buf[i] += v * v


def via_item_increment(x):
    buf = x * 1.5
    add_into(buf, 1, x[2])
    add_into(buf, 1, x[0])
    return np.sum(buf * buf)


def outer_helper(store, v):
    inner_helper(store, v * 2.0)


def inner_helper(store, w):
    store.append(np.sin(w))


def helper_of_helper(a):
    s = [a * a]
    outer_helper(s, a)
    return s[0] * s[1]  # a**2 * sin(2a)


def record(steps, h):
    steps.append(np.tanh(h))


def helper_in_loop(x):
    steps = []
    h = x
    for _ in range(4):
        record(steps, h)
        h = steps[-1] * x + 0.3
    return np.sum(np.stack(steps) * np.arange(1.0, 5.0)[:, None])


def record_scalar(steps, h, k):
    steps.append(h * k)


def helper_in_loop_sum(a):
    steps = []
    for k in range(1, 5):
        record_scalar(steps, a * a, float(k))
    return sum(steps) * steps[1]


def push_and_measure(store, v):
    store.append(v * 3.0)
    return np.sum(v * v)


def mutates_and_returns(x):
    s = [x]
    size = push_and_measure(s, x)
    return size * np.sum(s[0] * s[1])  # 3 * sum(x*x)**2


def push_layer(layers, w, h):
    layers.append(np.tanh(w * h))


def list_of_arrays(w):
    layers = [w]
    for _ in range(3):
        push_layer(layers, w, layers[-1])
    return np.sum(layers[1] * layers[3]) + np.sum(layers[2] ** 2)


def scale_row(matrix, k, factor):
    matrix[k] = matrix[k] * factor


def array_argument(x, f):
    m = np.outer(x, x) + np.eye(3)
    m = m * 1.0
    scale_row(m, 0, f)
    scale_row(m, 2, f * f)
    return np.sum(m * np.arange(9.0).reshape(3, 3))


def fill_from(buf, i, v):
    if i < len(buf):
        buf[i] = v
        fill_from(buf, i + 1, v * v)


def recursive_helper(a):
    buf = np.zeros(3)
    fill_from(buf, 0, a)
    return np.sum(buf * np.array([1.0, 2.0, 3.0]))  # a + 2 a**2 + 3 a**4


def add_and_return(store, v):
    store.append(v)
    return store


def returns_its_container(a):
    s = [a]
    same = add_and_return(s, a * a)
    return same[0] * s[1] + same[1]  # a**3 + a**2


def two_containers(first, second, v):
    first.append(v * v)
    second[1] = first[-1] + v


def two_in_out(a):
    s = []
    b = np.ones(3)
    two_containers(s, b, a)
    return s[0] * np.sum(b * np.array([1.0, 2.0, 3.0]))


def write_if(buf, v, flag):
    if flag:
        buf[0] = v


def conditional_in_loop(x):
    buf = x * 1.0
    for i in range(3):
        write_if(buf, x[i] ** 2, i % 2 == 0)
    return np.sum(buf * x)


def accumulate(total, v):
    total += v * v  # a number: a new value, the caller's is unchanged
    return total


def augmented_scalar(a):
    t = a
    for _ in range(3):
        t = accumulate(t, a)
    return t


def square_first(buf):
    buf[0] = buf[0] * buf[0]  # reads what it overwrites


def read_before_and_after(x):
    b = x * 1.0
    before = np.sum(b * x)  # must see b before the calls
    square_first(b)
    square_first(b)
    return before + np.sum(b * x)


def append_many(store, v, n):
    for k in range(n):
        store.append(v * (k + 1.0))


def loop_inside_helper(a):
    s = [a]
    append_many(s, a * a, 3)
    append_many(s, s[-1], 2)
    return s[1] * s[3] + s[-1] * s[0]


def rebound_each_iteration(x):
    buf = x * 1.0
    for _ in range(3):
        buf = buf * 2.0
        square_first(buf)
    return np.sum(buf * x)


def new_list_each_iteration(x):
    total = 0.0
    for i in range(3):
        s = []
        stash(s, x[i])
        stash(s, x[i] * 2.0)
        total = total + s[0] * s[1]
    return total


def in_a_branch(x):
    buf = x * 1.0
    if x[1] < 0:
        square_first(buf)
    return np.sum(buf * x)


CASES = [
    (read_before_and_after, (V3.copy(),), 0),
    (loop_inside_helper, (0.9,), 0),
    (rebound_each_iteration, (V3.copy(),), 0),
    (new_list_each_iteration, (V3.copy(),), 0),
    (in_a_branch, (V3.copy(),), 0),
    (in_a_branch, (-V3,), 0),
    (recursive_helper, (0.7,), 0),
    (returns_its_container, (1.3,), 0),
    (two_in_out, (0.6,), 0),
    (conditional_in_loop, (V3.copy(),), 0),
    (augmented_scalar, (0.8,), 0),
    (via_extend, (1.3, -0.4), (0, 1)),
    (via_slice, (V3.copy() + [0.0, 0.0, 0.0],), 0),
    (via_item_increment, (V3.copy(),), 0),
    (helper_of_helper, (0.8,), 0),
    (helper_in_loop, (V3.copy(),), 0),
    (helper_in_loop_sum, (0.9,), 0),
    (mutates_and_returns, (V3.copy(),), 0),
    (list_of_arrays, (V3.copy(),), 0),
    (array_argument, (V3.copy(), 1.7), (0, 1)),
]


@pytest.mark.parametrize("function, args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_gradient_matches_finite_differences(function, args, wrt):
    check_grad(function, args, wrt)


@pytest.mark.parametrize("function, args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_value_is_the_function_value(function, args, wrt):
    value, _ = value_and_grad(function, wrt=wrt)(*args)
    assert value == pytest.approx(function(*args), rel=1e-12)


def test_closed_forms():
    a = 0.8  # a**2 * sin(2a)
    expected = 2 * a * np.sin(2 * a) + 2 * a * a * np.cos(2 * a)
    assert grad(helper_of_helper)(a) == pytest.approx(expected, rel=1e-12)
    a, b = 1.3, -0.4  # a*a*b + b**3
    assert grad(via_extend, wrt=(0, 1))(a, b) == pytest.approx((2 * a * b, a * a + 3 * b * b))
    x = V3.copy()  # 3 * sum(x*x)**2
    np.testing.assert_allclose(grad(mutates_and_returns)(x), 12 * np.sum(x * x) * x, rtol=1e-12)


def pullback_target(x):
    out = np.zeros(3)
    put_first(out, x[1] * x[2])
    steps = []
    record(steps, x)
    return out * np.sin(x) + steps[0]


def test_more_closed_forms():
    a = 0.7
    assert grad(recursive_helper)(a) == pytest.approx(1 + 4 * a + 12 * a**3, rel=1e-12)
    assert grad(returns_its_container)(1.3) == pytest.approx(3 * 1.69 + 2.6, rel=1e-12)
    assert grad(augmented_scalar)(0.8) == pytest.approx(1 + 6 * 0.8, rel=1e-12)


def test_vjp_pullback_twice_gives_the_same_answer():
    x = V3.copy()
    value, pullback = vjp(pullback_target)(x)
    np.testing.assert_allclose(value, pullback_target(x), rtol=1e-12)
    cotangent = RNG.normal(size=3)
    first = pullback(cotangent)
    second = pullback(cotangent)
    np.testing.assert_array_equal(first, second)
    expected = numerical_gradient(lambda x: np.dot(pullback_target(x), cotangent), (x,), 0)
    np.testing.assert_allclose(first, expected, rtol=1e-6, atol=1e-8)
    check_vjp_dot_product(pullback_target, (x,), 0, RNG)


def fill_sine(out, v):
    out[:] = np.sin(v)


def returns_the_filled_array(x):
    out = np.zeros(3)
    fill_sine(out, x)
    return out


def test_vjp_of_a_container_a_helper_filled():
    x = V3.copy()
    _, pullback = vjp(returns_the_filled_array)(x)
    cotangent = RNG.normal(size=3)
    first = pullback(cotangent)
    np.testing.assert_allclose(first, np.cos(x) * cotangent, rtol=1e-12)
    np.testing.assert_array_equal(pullback(cotangent), first)
    check_vjp_dot_product(returns_the_filled_array, (x,), 0, RNG)


def list_pullback(a):
    s = [a]
    outer_helper(s, a)
    extend_with(s, a, s[1])
    return s[0] * s[1] * s[2] + s[3]


def test_vjp_pullback_twice_with_lists():
    value, pullback = vjp(list_pullback)(0.6)
    assert value == pytest.approx(list_pullback(0.6), rel=1e-12)
    first, second = pullback(1.0), pullback(1.0)
    assert first == second
    assert first == pytest.approx(numerical_gradient(list_pullback, (0.6,), 0), rel=1e-6)


# -- writes into the caller's container inside the caller itself --------------------------
def extend_locally(a, b):
    s = [a]
    s.extend((b * b, a))
    return s[0] * s[1] * s[2]


def extend_with_array(x):
    s = [x[0]]
    s.extend(x * 2.0)
    return s[0] * s[1] + s[3]


def test_extend_inside_the_function():
    a, b = 1.1, 0.7  # a * b**2 * a
    assert grad(extend_locally, wrt=(0, 1))(a, b) == pytest.approx((2 * a * b * b, 2 * a * a * b))
    check_grad(extend_with_array, (V3.copy(),), 0)


# -- what stays refused --------------------------------------------------------------------
def appends_to_argument(xs, a):
    stash(xs, a)
    return a * xs[-1]


def test_top_level_argument_still_refused():
    xs = [1.0]
    with pytest.raises(ADTransformError, match=r"pass 'xs' to stash\(\), which changes it"):
        grad(appends_to_argument, wrt=1)(xs, 2.0)
    assert xs == [1.0]


GLOBAL_STORE = []


def stash_globally(v):
    GLOBAL_STORE.append(v)


def through_global(a):
    stash_globally(a)
    return a * GLOBAL_STORE[-1]


def make_closure_helper():
    kept = []

    def keep(v):
        kept.append(v)
        return kept

    return keep


keep_in_closure = make_closure_helper()


def through_closure(a):
    kept = keep_in_closure(a)
    return a * kept[-1]


def write_view(buf, v):
    part = buf[1:]
    part[0] = v


def through_view(a):
    buf = np.zeros(3)
    write_view(buf, a)
    return a * buf[1]


def sort_it(buf):
    buf.sort()


def through_sort(x):
    buf = x * 1.0
    sort_it(buf)
    return buf[0] * 2.0


def default_store(v, store=[]):  # noqa: B006 (the point of the test)
    store.append(v)


def through_default(a):
    default_store(a)
    return a


@pytest.mark.parametrize(
    "function, words",
    [
        (through_global, r"stash_globally\(\).*GLOBAL_STORE.*global"),
        (through_closure, r"keep\(\).*kept.*closure"),
        (through_view, r"write_view\(\).*part.*parameter 'buf'"),
        (through_sort, r"sort_it\(\).*buf.sort"),
        (through_default, r"default_store\(\).*'store'"),
    ],
    ids=["global", "closure", "view", "sort", "default"],
)
def test_changes_that_cannot_be_followed_are_refused(function, words):
    with pytest.raises(ADTransformError, match=words):
        grad(function)(1.5)


def sort_locally(x):
    buf = x * 1.0
    buf.sort()
    return buf[0] * 2.0


def fill_locally(x):
    a = x * 1.0
    a.fill(2.0)
    return np.sum(a * x)


def insert_locally(a):
    s = [1.0]
    t = s  # a second name for the list (alone, the insert is lowered: containers_more)
    s.insert(0, a)
    return t[0] * a


def copyto_locally(x):
    a = np.zeros(3)
    np.copyto(a, x)
    return np.sum(a * x)


def ufunc_at_locally(x):
    a = x * 1.0
    np.add.at(a, [0], x[1])
    return np.sum(a * x)


def pop_locally(x):
    s = [x, x * 2.0]
    t = s  # a second name for the list (alone, the pop is lowered: containers_more)
    s.pop()
    return t[-1] * x


@pytest.mark.parametrize(
    "function, arg, words",
    [
        (sort_locally, V3.copy(), r"buf.sort"),
        (fill_locally, V3.copy(), r"a.fill"),
        (insert_locally, 1.5, r"s.insert"),
        (copyto_locally, V3.copy(), r"np.copyto"),
        (ufunc_at_locally, V3.copy(), r"np.add.at"),
        (pop_locally, 1.5, r"s.pop"),
    ],
    ids=["sort", "fill", "insert", "copyto", "ufunc.at", "pop"],
)
def test_in_place_calls_without_adjoint_are_refused(function, arg, words):
    # each used to return a wrong gradient (or crash) silently
    with pytest.raises(ADTransformError, match=words):
        grad(function)(arg)


def logs(messages, text):
    messages.append(text)


def with_a_log(a):
    messages = []
    logs(messages, "start")
    print_it = a * a
    logs(messages, "done")
    return print_it


def test_a_helper_changing_an_inactive_list_still_works():
    assert grad(with_a_log)(1.5) == pytest.approx(3.0)


def scale_in_place(b, k):
    b *= k  # in place on the caller's array


def identity(v):
    return v


def scales_an_array(x):
    b = x * 1.0
    scale_in_place(b, 2.0)
    return np.sum(b * x)


def scales_an_unknown(x):
    b = identity(x * 1.0)  # its kind is not known before the call runs
    scale_in_place(b, 2.0)
    return np.sum(b * x)


@pytest.mark.parametrize("function", [scales_an_array, scales_an_unknown])
def test_augmented_assignment_on_an_array_parameter_is_refused(function):
    with pytest.raises(ADTransformError, match=r"scale_in_place\(\).*'b [*+]= \.\.\.'"):
        grad(function)(V3.copy())


def checked(v):
    assert np.all(np.isfinite(v))
    yield  # a generator: not supported inside differentiated code


def checks_then_squares(x):
    checked(x)
    return np.sum(x * x)


def checks_and_stores(v, out):
    assert np.all(np.isfinite(v))
    out.append(v)
    yield  # a generator: not supported inside differentiated code


def stores_after_check(x):
    s = []
    checks_and_stores(x, s)
    return np.sum(x * s[0])


def test_helpers_the_transformer_cannot_read():
    # a helper that changes nothing may hold what the transformer does not support ...
    np.testing.assert_allclose(grad(checks_then_squares)(V3.copy()), 2 * V3)
    # ... but one that may change its arguments must be read, or refused
    with pytest.raises(ADTransformError, match="yield"):
        grad(stores_after_check)(V3.copy())


def inner_redefined(store, v):
    return v


def outer_calls_inner(store, v):
    inner_redefined(store, v)


def through_redefined_helper(a):
    s = [a]
    outer_calls_inner(s, a)
    return a * s[-1]


def test_a_helper_redefined_to_change_its_argument_is_noticed():
    global inner_redefined
    original = inner_redefined
    g = grad(through_redefined_helper)
    assert g(3.0) == pytest.approx(6.0)  # a * a

    def changing(store, v):
        store.append(v * v)

    inner_redefined = changing
    try:
        assert g(3.0) == pytest.approx(27.0)  # a * a**2
    finally:
        inner_redefined = original
    assert g(3.0) == pytest.approx(6.0)


# -- random programs: helpers that write into their caller's list or array ---------------
_VALUES = ["v * v", "np.sin(v)", "v * 2.0 + 1.0", "np.tanh(v) * v", "v"]
_HELPERS = {
    "append": "def h{k}(store, v):\n    store.append({e})\n",
    "extend": "def h{k}(store, v):\n    store.extend([{e}, v * 0.5])\n",
    "item": "def h{k}(buf, v, i):\n    buf[i] = {e}\n",
    "slice": "def h{k}(buf, v, i):\n    buf[i:i + 2] = {e} * np.array([1.0, -2.0])\n",
    "iadd": "def h{k}(buf, v, i):\n    buf[i] += {e} * buf[i]\n",
    "nested": "def h{k}(buf, v, i):\n    g{k}(buf, v * 1.5, i)\n\n\n"
    "def g{k}(b, v, j):\n    b[j] = b[j] * 0.5 + {e}\n",
    "returns": "def h{k}(store, v):\n    store.append({e})\n    return np.sum(v) * 0.3\n",
}


def _random_program(rng) -> str:
    helpers, body, terms = [], ["    s = [x[0]]", "    buf = x * 1.0 + np.arange(5.0) / 10"], []
    for k in range(rng.integers(1, 4)):
        kind = str(rng.choice(list(_HELPERS)))
        helpers.append(_HELPERS[kind].format(k=k, e=rng.choice(_VALUES)))
        argument = rng.choice(["x[1]", "x[2] * s[-1]", "buf[3]", "x[0] * x[4]"])
        loop, branch = rng.random() < 0.4, rng.random() < 0.3
        indent = "        " if loop or branch else "    "
        if loop:
            body.append(f"    for t{k} in range({rng.integers(1, 4)}):")
        elif branch:
            body.append(f"    if x[{rng.integers(0, 5)}] > 0:")
        index = f"t{k} % 3" if loop else str(rng.integers(0, 4))
        if kind in ("append", "extend"):
            body.append(f"{indent}h{k}(s, {argument})")
        elif kind == "returns":
            body.append(f"{indent}r{k} = h{k}(s, {argument})")
            terms += [] if loop or branch else [f"r{k}"]
        else:
            body.append(f"{indent}h{k}(buf, {argument}, {index})")
        if rng.random() < 0.3:
            body.append(f"{indent}buf = buf * 1.1")
    terms += ["sum(s) * s[-1]", "np.sum(buf * np.array([1.0, -2.0, 3.0, 0.5, 1.5]))"]
    body.append("    return " + " + ".join(terms))
    return "import numpy as np\n\n\n" + "\n\n".join(helpers) + "\n\ndef f(x):\n" + "\n".join(body)


def test_random_programs_with_helpers_that_write(tmp_path):
    rng = np.random.default_rng(2026)
    x = np.array([0.3, -0.8, 1.1, 0.6, -0.4])
    for number in range(30):
        source = _random_program(rng)
        path = tmp_path / f"helpers_{number}.py"
        path.write_text(source + "\n")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        expected = numerical_gradient(module.f, (x.copy(),), 0)
        value, gradient = value_and_grad(module.f)(x.copy())
        assert value == pytest.approx(module.f(x.copy()), rel=1e-12), source
        np.testing.assert_allclose(gradient, expected, rtol=1e-6, atol=1e-8, err_msg=source)
        _, pullback = vjp(module.f)(x.copy())
        np.testing.assert_array_equal(pullback(1.0), pullback(1.0), err_msg=source)


# -- found by the array fuzzer (seed 5728): a helper's in-out adjoint arrived as a plain 0.0
W5728 = np.array([1.33, -0.45, 1.74])


def _bump(buf, i, v):
    buf[i] += v


def fuzz_seed_5728(x, y, z):
    for _i0 in range(3):
        if np.sum(np.arctan(x)) > (-1.5):
            x = x * np.cos(x)
        else:
            _v0 = np.outer(z, z)
        if np.where(y > (-0.92), y, x)[0, 0] > 0.98:
            _v1 = np.where(z > 0.02, z, np.diagonal(y))
            _v2 = np.tanh(z) * x
    x = np.tanh(x) - x
    if np.max(np.dot(z, z)) > (-0.64):
        for _i1 in range(0):
            z = np.tanh(z) - z
        for _i1 in range(3):
            x = np.hypot(np.sqrt(1.0 + x * x), np.min(x))
    if np.sum(np.where(0.06 > 1.44, 0.06, -1.02)) < 1.26:
        b3 = np.where(y > 0.0, y, 0.5 * y)
        for _i1 in range(1):
            _bump(b3, _i1, x * z)
            _v4 = np.sum(np.sum(x))
        if (x * b3)[0, 0] > (-0.9):
            b3 = b3 + b3
            x = x * np.cos(x)
        else:
            y = y * np.cos(np.cos(x) * b3)
    v5 = y @ z
    for _i0 in range(2):
        v5 = np.tanh(np.abs(v5))
    if np.max(np.where(x > (-0.74), x, x)) < 0.1:
        for _i1 in range(2):
            v6 = np.swapaxes(y, 0, 1) / (1.0 + y * y)
            z = z * np.cos(np.where((z**2) > (-0.99), z**2, v6[:, 2]))
        if np.sum(v5**2) > 0.56:
            z = z * np.cos(np.min(y[np.array([0, 0, 0, 0])]) * z)
            _v7 = np.where((v5 * y) > 0.39, v5 * y, v5)
    return np.sum(W5728 * z)


def test_a_plain_zero_adjoint_of_an_in_out_argument():
    args = [
        np.array(-0.569),
        np.array([[1.256, -0.279, -0.597]]),
        np.array([-1.484, -0.237, -1.166]),
    ]
    value, _ = value_and_grad(fuzz_seed_5728, wrt=(0, 1, 2))(*args)
    assert value == fuzz_seed_5728(*args)
    check_grad(fuzz_seed_5728, args, (0, 1, 2))


# -- a helper that keeps one argument inside another -------------------------------------
def keep(rows, row):
    rows.append(row)


def keep_through_a_helper(rows, row):
    keep(rows, [row])


def kept_array_changed_afterwards(x):
    rows = []
    buf = np.zeros(2)
    keep(rows, buf)
    buf[0] = x * x  # rows[0] is buf: the write reaches rows
    return rows[0][0] * 1.0


def kept_list_grows_afterwards(x):
    rows = []
    buf = [0.0]
    keep(rows, buf)
    buf.append(x * x)
    return rows[0][1] * 1.0


def kept_list_grows_in_a_loop(x):
    rows = []
    for i in range(2):
        row = []
        keep(rows, row)
        row.append(x * i)
    return rows[1][0]


def kept_through_a_helper_of_a_helper(x):
    rows = []
    buf = np.zeros(2)
    keep_through_a_helper(rows, buf)
    buf[0] = x * x
    return rows[0][0][0] * 1.0


@pytest.mark.parametrize(
    "function",
    [
        kept_array_changed_afterwards,
        kept_list_grows_afterwards,
        kept_list_grows_in_a_loop,
        kept_through_a_helper_of_a_helper,
    ],
)
def test_a_kept_object_changed_afterwards_is_refused(function):
    # each was a silent 0.0 or a ValueError from the adjoint; d/dx is 2x (or x) here
    with pytest.raises(ADTransformError, match="may hold the same"):
        grad(function)(2.0)


def kept_array_changed_before(x):
    rows = []
    buf = np.zeros(2)
    buf[0] = x * x
    keep(rows, buf)
    return rows[0][0] * x


def kept_scalar_and_array_unrelated(x):
    rows = []
    buf = np.zeros(2)
    keep(rows, x * 2.0)
    buf[0] = x * x
    return rows[0] * buf[0]


def test_keeping_without_a_later_change_is_differentiated():
    x = 0.7
    assert grad(kept_array_changed_before)(x) == pytest.approx(3 * x * x, rel=1e-12)
    assert grad(kept_scalar_and_array_unrelated)(x) == pytest.approx(6 * x * x, rel=1e-12)
    check_grad(kept_array_changed_before, (x,), 0)
