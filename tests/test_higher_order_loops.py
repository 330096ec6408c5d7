"""Second derivatives of loops (issue 14; breaker findings C0, C2, C12, B6, B7).

The plain gradient of a loop accumulates adjoints in place (``dy += ...``) next to
temporaries that hold the previous iteration's adjoint (``dv1 = unbroadcast(dy, v1)``);
the second transformation must see that those temporaries are assigned again before the
next iteration reads them. Every Hessian-vector product is checked against central
differences of the gradient (float64, random non-uniform points and directions) and
every Hessian for symmetry; refusals are checked to name the construct.
"""

import warnings

import numpy as np
import pytest

from ad_transform import ADTransformError, grad, hessian, hvp, jvp

RNG = np.random.default_rng(20261201)


def gradient_difference(f, x, v, eps=1e-6):
    """Central difference of the gradient of ``f`` along ``v``: ``H v`` to O(eps**2)."""
    g = grad(f)
    return (g(x + eps * v) - g(x - eps * v)) / (2 * eps)


def check_hvp(f, x, v):
    expected = gradient_difference(f, x, v)
    np.testing.assert_allclose(hvp(f)(x, v), expected, rtol=1e-6, atol=1e-8)


def check_hessian(f, x):
    H = hessian(f)(x)
    np.testing.assert_allclose(H, H.T, rtol=1e-9, atol=1e-12)
    for _ in range(2):
        v = RNG.normal(size=x.shape)
        np.testing.assert_allclose(H @ v, gradient_difference(f, x, v), rtol=1e-6, atol=1e-8)


# -- loops carrying an array (C0) ---------------------------------------------------------


def loop_index(x):
    y = x
    for _ in range(2):
        y = np.sin(y) + y[0]
    return np.sum(y)


def unrolled_descent(x):
    w = x
    for _ in range(3):
        w = w - 0.1 * (2 * w + np.cos(w))
    return np.sum(w**2)


def descent_in_place(x):
    w = x * 1.0
    for _ in range(3):
        g = 2 * w + np.sin(w)
        w -= 0.1 * g
    return np.sum(w**3)


def rnn_list(x):
    hs = [x]
    for _ in range(3):
        hs.append(np.tanh(hs[-1] * 1.5))
    return np.sum(hs[-1] ** 2)


def rnn_list_every_state(x):
    hs = [x]
    for _ in range(3):
        hs.append(np.tanh(hs[-1] * 1.5 + x))
    total = 0.0
    for h in hs:
        total = total + np.sum(h**2)
    return total


def while_loop(x):
    y = x
    k = 0
    while k < 3:
        y = y * np.cos(y) + 0.5 * y[1]
        k = k + 1
    return np.sum(y)


def branch_in_loop(x):
    y = x
    for i in range(4):
        if i % 2 == 0:
            y = np.sin(y) * y
        else:
            y = y + np.exp(-(y**2))
    return np.sum(y * x)


def nested_loops(x):
    y = x
    for i in range(2):
        for j in range(2):
            y = y + 0.3 * np.tanh(y * (i + 1) - j)
    return np.sum(y**2)


def matrix_power_iteration(x):
    A = np.outer(x, x) + np.diag(np.arange(1.0, x.size + 1))
    b = np.ones(x.size)
    for _ in range(3):
        b = A @ b
        b = b / np.sqrt(np.sum(b**2))
    return b @ A @ b


def accumulating_sum(x):
    s = np.zeros_like(x)
    y = x
    for _ in range(3):
        y = np.sin(y) * 1.2
        s += y * y
    return np.sum(s * x)


LOOPS = [
    loop_index,
    unrolled_descent,
    descent_in_place,
    rnn_list,
    rnn_list_every_state,
    while_loop,
    branch_in_loop,
    nested_loops,
    matrix_power_iteration,
    accumulating_sum,
]


@pytest.mark.parametrize("f", LOOPS, ids=lambda f: f.__name__)
def test_hvp_of_loops_matches_differences_of_the_gradient(f):
    x = RNG.normal(size=3)
    v = RNG.normal(size=3)
    check_hvp(f, x, v)


@pytest.mark.parametrize("f", LOOPS, ids=lambda f: f.__name__)
def test_hessian_of_loops_is_symmetric_and_matches_differences(f):
    check_hessian(f, RNG.normal(size=3))


def test_loop_hessian_equals_the_hand_unrolled_one():
    def unrolled(x):
        y = x
        y = np.sin(y) + y[0]
        y = np.sin(y) + y[0]
        return np.sum(y)

    x = RNG.normal(size=3)
    np.testing.assert_allclose(hessian(loop_index)(x), hessian(unrolled)(x), rtol=1e-12)


# -- first order: a new array named in a loop shares nothing with what changes (C2) -------


def test_gradient_descent_loop_with_in_place_step():
    def h(lr, x0):
        x = x0.copy()
        for _ in range(3):
            g = 2 * x
            x -= lr * g
        return np.sum(x**2)

    x0 = RNG.normal(size=2)
    lr = 0.1
    # x = x0 (1 - 2 lr)**3, so h = |x0|**2 (1 - 2 lr)**6
    expected = -12 * np.sum(x0**2) * (1 - 2 * lr) ** 5
    np.testing.assert_allclose(grad(h)(lr, x0), expected, rtol=1e-12)
    np.testing.assert_allclose(grad(h, wrt=1)(lr, x0), 2 * x0 * (1 - 2 * lr) ** 6, rtol=1e-12)


# -- the aliasing guard still refuses what it must -------------------------------------------


def test_a_name_the_next_iteration_reads_still_refuses_the_change():
    def f(x):
        a = x * 1.0
        prev = x * 0.0
        for i in range(3):
            a += prev * x  # prev may be 'a' itself from the second iteration on
            prev = a if i % 2 else prev
        return np.sum(prev)

    with pytest.raises(ADTransformError, match="'prev' may share its data with 'a'"):
        grad(f)(RNG.normal(size=3))


def test_a_name_assigned_on_one_branch_only_stays_live():
    def f(x):
        a = x * 1.0
        b = x * 2.0
        for i in range(3):
            a += x
            s = np.sum(b)
            if i == 1:
                b = a  # 'b' is read by the next iteration before any assignment
        return np.sum(a) + s

    with pytest.raises(ADTransformError, match="'b' may share its data with 'a'"):
        grad(f)(RNG.normal(size=3))


def test_a_name_read_at_the_top_of_the_body_stays_live():
    def f(x):
        a = x * 1.0
        b = x * 2.0
        s = 0.0
        for i in range(3):
            s = s + np.sum(b)
            a += x
            if i == 0:
                continue
            b = a
        return np.sum(a) + s

    with pytest.raises(ADTransformError, match="'b' may share its data with 'a'"):
        grad(f)(RNG.normal(size=3))


def test_the_previous_iterations_array_is_not_the_new_one():
    def f(x):
        prev = x * 0.0
        total = 0.0
        for i in range(3):
            a = x * (i + 1.0)
            a += prev  # 'prev' holds the array made here one iteration earlier
            total = total + np.sum(a * prev)
            prev = a
        return total

    x = RNG.normal(size=3)
    v = RNG.normal(size=3)
    expected = (f(x + 1e-6 * v) - f(x - 1e-6 * v)) / 2e-6
    np.testing.assert_allclose(grad(f)(x) @ v, expected, rtol=1e-7)
    check_hvp(f, x, v)


def test_the_array_made_in_this_iteration_is_still_followed():
    def f(x):
        first = x * 2.0
        total = 0.0
        for i in range(3):
            a = x * (i + 1.0)
            c = a if i > 0 else first
            a += x
            total = total + np.sum(c)
        return total

    with pytest.raises(ADTransformError, match="'c' may share its data with 'a'"):
        grad(f)(RNG.normal(size=3))


def test_an_element_of_a_list_is_not_the_list_that_grows():
    def f(x):
        hs = [x * 1.0]
        for _ in range(3):
            last = hs[-1]
            hs.append(np.sin(last) * 2.0)
            hs.append(last * 0.5)  # 'last' (an element) is read after the append
        return np.sum(hs[-1] * hs[-2])

    x = RNG.normal(size=3)
    v = RNG.normal(size=3)
    expected = (f(x + 1e-6 * v) - f(x - 1e-6 * v)) / 2e-6
    np.testing.assert_allclose(grad(f)(x) @ v, expected, rtol=1e-7)
    check_hvp(f, x, v)


def test_a_second_name_of_the_list_still_refuses_the_append():
    def f(x):
        hs = [x * 1.0]
        pair = [hs, hs]
        for _ in range(2):
            hs.append(np.sin(hs[-1]))
            y = pair[0]
        return np.sum(y[-1])

    with pytest.raises(ADTransformError, match="cannot append to 'hs'"):
        grad(f)(RNG.normal(size=3))


# -- decompositions with some outputs unused, 0-d writes (B6, B7) ------------------------------

A3 = np.array([[0.5, -0.3, 1.2], [0.1, 0.9, -0.4], [-0.7, 0.2, 0.3]])
WEIGHTS = np.array([1.0, 2.0, 3.0])


def svd_values_unpacked(x):
    U, s, Vh = np.linalg.svd(A3 * x)  # noqa: RUF059
    return np.sum(s**3)


def svd_values_indexed(x):
    return np.sum(np.linalg.svd(np.outer(x, x[::-1]) + A3)[1] ** 3)


def svd_first_vector_and_values(x):
    U, s, Vh = np.linalg.svd(A3 * x)  # noqa: RUF059
    return np.sum(U[:, 0] ** 2 * WEIGHTS) + np.sum(s)


def svd_reduced_right_vectors(x):
    U, s, Vh = np.linalg.svd(np.concatenate([A3 * x, np.outer(x, x)]), full_matrices=False)  # noqa: RUF059
    return np.sum(Vh[0] ** 2 * WEIGHTS)


def eigh_values_unpacked(x):
    w, V = np.linalg.eigh(A3 @ A3.T + np.diag(x * np.array([1.0, 3.0, 9.0])))  # noqa: RUF059
    return np.sum(w**2)


def eigh_values_indexed(x):
    return np.sum(np.linalg.eigh(np.outer(x, x) + np.diag([0.0, 5.0, 10.0]))[0] ** 2)


def eigh_vectors_only(x):
    w, V = np.linalg.eigh(A3 @ A3.T + np.diag(x * np.array([1.0, 3.0, 9.0])))  # noqa: RUF059
    return np.sum(V[:, 0] ** 2 * WEIGHTS)


def lstsq_solution(x):
    return np.sum(np.linalg.lstsq(np.stack([x, x**2], axis=1), A3[:, 0], rcond=None)[0] ** 2)


def lstsq_residuals(x):
    return np.sum(np.linalg.lstsq(np.stack([x, x**2], axis=1), A3[:, 0], rcond=None)[1])


def zero_dimensional_write(x):
    a = np.array(0.0)
    a[()] = x[0] ** 2 * x[2]
    return float(a) * x[1]


def zero_dimensional_ellipsis_write(x):
    a = np.zeros(())
    a[...] = x[0] * x[1]
    return np.sum(a * x)


def in_place_sum_then_write(x):
    a = np.zeros(3)
    a += x
    a[0] = x[1] ** 2
    return np.sum(a * x)


DECOMPOSITIONS = [
    svd_values_unpacked,
    svd_values_indexed,
    svd_first_vector_and_values,
    svd_reduced_right_vectors,
    eigh_values_unpacked,
    eigh_values_indexed,
    eigh_vectors_only,
    lstsq_solution,
    lstsq_residuals,
    zero_dimensional_write,
    zero_dimensional_ellipsis_write,
    in_place_sum_then_write,
]


@pytest.mark.parametrize("f", DECOMPOSITIONS, ids=lambda f: f.__name__)
def test_hvp_with_unused_outputs_matches_differences_of_the_gradient(f):
    x = np.array([1.3, 0.7, 2.1]) + 0.1 * RNG.normal(size=3)
    v = RNG.normal(size=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ad_transform's own code warns of nothing (B7)
        check_hvp(f, x, v)


@pytest.mark.parametrize("f", DECOMPOSITIONS, ids=lambda f: f.__name__)
def test_hessian_with_unused_outputs_is_symmetric(f):
    check_hessian(f, np.array([1.3, 0.7, 2.1]) + 0.1 * RNG.normal(size=3))


def test_hvp_direction_is_not_changed():
    x = np.array([1.3, 0.7, 2.1])
    v = RNG.normal(size=3)
    given = v.copy()
    hvp(in_place_sum_then_write)(x, v)
    np.testing.assert_array_equal(v, given)


def test_jvp_of_an_in_place_sum_then_a_write_keeps_the_direction():
    # the shape-generic forward code gave 'd += x' the tangent of x itself, and the write
    # 'd[0] = 5.0' then zeroed the caller's direction, read again by the product
    def f(xs):
        x = xs[0]
        d = np.zeros(3)
        d += x
        d[0] = 5.0
        return d * x

    x = RNG.normal(size=3)
    v = RNG.normal(size=3)
    given = v.copy()
    expected = (f([x + 1e-6 * v]) - f([x - 1e-6 * v])) / 2e-6
    _, tangent = jvp(f)(([x],), ([v],))
    np.testing.assert_allclose(tangent, expected, rtol=1e-7)
    np.testing.assert_array_equal(v, given)  # the caller's direction is not written into
