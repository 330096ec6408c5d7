"""Second derivatives through dict and list reads (the stop-23 fuzz crash).

The first-order backward sweep reads adjoint containers (``dd['a']`` of a ``KeyItem``,
``dxs[i]`` of an ``Item``); differentiating that code again needs the cotangent of those
reads. It crashed with a raw ``IndexError`` in ``index_adjoint``. Expected values are
central finite differences of the first derivative (float64), or calculus.
"""

import math

import numpy as np
import pytest

from ad_transform import ADTransformError, grad

EPS = 1e-5


def central(f, x, eps=EPS):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


def reads_dict(p):
    d1 = {"a": np.where(p > 0.0, np.sqrt(p), p), "b": (p / p) * p * p}
    u2 = d1["b"] + d1["a"]
    return u2 + p


def reads_list_and_dict(p):
    xs = [p, p**3, 2 * p]
    d = {"k": p * 2.0, "j": np.cos(p)}
    return xs[-1] * xs[0] + xs[1] * d["k"] + d["k"] * d["j"]


def fuzz_helper(p):
    """The helper of the failing fuzz program: one dict item read, one never read."""
    d1 = {"a": np.where(p > 0.0, np.sqrt(p), p), "b": p / p}
    u2 = d1["b"]
    u2 = (p / (1.27 + p * p)) * (u2 if not (p / u2) > u2 else 1.23)
    return u2 + p + np.where(p > 0.26, p, u2)


@pytest.mark.parametrize("helper", [reads_dict, reads_list_and_dict, fuzz_helper])
@pytest.mark.parametrize("x", [0.2, 0.7, 1.9])
def test_grad_of_grad_through_container_reads(helper, x):
    first = grad(helper)
    assert float(grad(first)(x)) == pytest.approx(central(first, x), rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("helper", [reads_dict, reads_list_and_dict, fuzz_helper])
def test_gradient_called_inside_a_differentiated_function(helper):
    first = grad(helper)

    def f(x, y):
        return y * first(x) + x**2 + math.tanh(y)

    x, y = 0.7, -0.4
    gx, gy = grad(f, wrt=(0, 1))(x, y)
    assert float(gx) == pytest.approx(central(lambda t: f(t, y), x), rel=1e-6, abs=1e-8)
    assert float(gy) == pytest.approx(central(lambda t: f(x, t), y), rel=1e-6, abs=1e-8)


def test_calculus_of_list_reads_second_order():
    def h(p):
        xs = [p, p**3, 2 * p]
        return xs[-1] * xs[0] + xs[1] * xs[1]  # 2p^2 + p^6

    assert float(grad(grad(h))(0.7)) == pytest.approx(4.0 + 30.0 * 0.7**4, rel=1e-12)


def test_object_adjoints_are_refused_by_name_at_second_order():
    class Pair:
        def __init__(self, w, b):
            self.w = w
            self.b = b

    def h(p):
        m = Pair(p * p, np.sin(p))
        return m.w * m.b

    with pytest.raises(ADTransformError, match="Fields"):
        grad(grad(h))(0.7)


def comprehension_into_tuple(p):
    q = tuple(t0 * p for t0 in (p, 2.0 * p))[1]
    return q + (q / (0.78 + q * q))


def comprehension_into_list(p):
    xs = [t * t for t in (p, 3.0 * p, np.sin(p))]
    return xs[0] * xs[2] + xs[1]


@pytest.mark.parametrize("helper", [comprehension_into_tuple, comprehension_into_list])
@pytest.mark.parametrize("x", [0.4, -1.1])
def test_second_order_through_a_comprehension(helper, x):
    # the first derivative adds list adjoints (ditems += ...): elementwise, not a join
    first = grad(helper)
    assert float(grad(first)(x)) == pytest.approx(central(first, x), rel=1e-6, abs=1e-8)


def returns_from_a_handler(p):
    try:
        u = math.log(1.0 + p * p)
        if u > -1.61:
            raise ValueError("too large")
        u *= 2.0
    except ValueError:
        if p > -1.38:
            return p * p * u
    finally:
        w = 3.0 * p
    return w + w


def reraises_in_a_handler(p):
    try:
        try:
            if p > 0:
                raise ValueError("x")
            q = p
        except ValueError:
            q = p * p
            raise
    except ValueError:
        q = 3.0 * p * p * p
    return q


@pytest.mark.parametrize("x", [0.69, -0.3])
def test_second_order_through_try_except(x):
    # the first derivative's own handlers (caught = current_exception()) run again as
    # plain code after the second lowering's except clause
    first = grad(returns_from_a_handler)
    assert float(grad(first)(x)) == pytest.approx(central(first, x), rel=1e-6, abs=1e-8)


def test_third_order_through_a_bare_raise():
    # q = 3 p^3 for p > 0: q''' = 18
    third = grad(grad(grad(reraises_in_a_handler)))
    assert float(third(0.5)) == pytest.approx(18.0, rel=1e-10)


def squared_second_of_generated_tuple(p):
    """The stop-24 fuzz crash: ``(2 p^2)^2 = 4 p^4`` through a tuple built by a generator."""
    q = tuple(t0 * p for t0 in (p, 2.0 * p))[1]
    return q * q


def squared_sum_of_list_comprehension(p):
    qs = [t0 * p for t0 in (p, 3.0 * p)]
    return qs[0] * qs[1] + sum(qs)


@pytest.mark.parametrize("x", [0.4, -1.3])
def test_pullback_of_a_function_calling_a_gradient_through_a_generated_tuple(x):
    """``vjp`` keeps the saved first-order adjoint lists as ``ListAdjoint`` (they add
    elementwise): a copy as a plain list made ``+=`` join them. f = 16 x^4, f' = 64 x^3."""
    from ad_transform import vjp

    dh = grad(squared_second_of_generated_tuple)

    def f(x):
        return dh(x) * x

    value, pullback = vjp(f)(x)
    assert math.isclose(value, 16 * x**4, rel_tol=1e-12)
    assert math.isclose(pullback(1.0), 64 * x**3, rel_tol=1e-12)
    assert math.isclose(pullback(0.5), 32 * x**3, rel_tol=1e-12)  # the saved values reused


def test_pullback_through_a_gradient_of_a_list_comprehension():
    """h = 3p^4 + 4p^2, h' = 12 p^3 + 8 p; f = h'(x) x, f' = 48 x^3 + 16 x."""
    from ad_transform import vjp

    dh = grad(squared_sum_of_list_comprehension)

    def f(x):
        return dh(x) * x

    x = 0.7
    assert math.isclose(vjp(f)(x)[1](1.0), 48 * x**3 + 16 * x, rel_tol=1e-12)
    assert math.isclose(central(lambda t: dh(t) * t, x), 48 * x**3 + 16 * x, rel_tol=1e-7)


def test_copies_of_adjoint_containers_keep_their_type():
    """``in_place`` and ``fresh_saved`` copy lists and dicts; an adjoint list's ``+`` adds
    elementwise, a plain list's joins, so the copy must keep the type."""
    import operator

    from ad_transform import runtime

    adjoint = runtime.ListAdjoint([1.0, 2.0])
    assert runtime.in_place(operator.iadd, adjoint, [3.0, 4.0]) == [4.0, 6.0]
    assert adjoint == [1.0, 2.0]
    saved = runtime.fresh_saved((adjoint, runtime.DictAdjoint(a=1.0), [adjoint]))
    assert type(saved[0]) is runtime.ListAdjoint and saved[0] is not adjoint
    assert type(saved[1]) is runtime.DictAdjoint
    assert saved[2][0] is saved[0]
    assert saved[0] + [1.0, 1.0] == [2.0, 3.0]
