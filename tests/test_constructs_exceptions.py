"""``try`` / ``except`` / ``else`` / ``finally`` and ``with``: the path that ran is the
path differentiated (lower/exceptions.py). Every case against central finite differences
in float64, and the value against the function's own."""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from ad_transform import ADTransformError, grad, value_and_grad, vjp
from tests.gradcheck import check_grad, check_vjp_dot_product, numerical_gradient


def check(f, *args, wrt=0):
    """The gradient against finite differences, and the value against ``f``'s."""
    value, _ = value_and_grad(f, wrt=wrt)(*args)
    expected = f(*args)
    assert np.allclose(value, expected, rtol=1e-12, atol=0), (value, expected)
    return check_grad(f, args, wrt)


class Recorder:
    def __init__(self):
        self.events = []

    def __enter__(self):
        self.events.append("enter")
        return self

    def __exit__(self, kind, value, traceback):
        self.events.append("exit" if kind is None else kind.__name__)
        return kind is KeyError

    def note(self, event):
        self.events.append(event)


# -- try: where the body stops --------------------------------------------------------


def stops_in_body(x, z):
    y = x * 2.0
    try:
        if z < -1.0:
            raise ValueError("first")
        y = y * x
        w = 1.0 / z
        y = y * w + math.log(z)
    except ZeroDivisionError:
        y = y + 3.0 * x
    except ValueError:
        y = y - x * x
    return y


@pytest.mark.parametrize(
    "z",
    [
        2.0,  # no exception
        -5.0,  # the first statement raises
        0.0,  # a middle statement (the division)
        -0.5,  # the last statement (math.log of a negative number)
    ],
)
def test_exception_on_each_statement_of_the_body(z):
    gradient = check(stops_in_body, 1.5, z)
    expected = {2.0: 2 * 2 * 1.5 / 2.0, -5.0: 2.0 - 2 * 1.5, 0.0: 4 * 1.5 + 3.0, -0.5: 2 * 1.5}
    assert gradient == pytest.approx(expected[z])


def last_statement_raises(x, z):
    y = x * x
    try:
        y = y * 3.0
        y = y + math.sqrt(z) * x
    except ValueError:
        y = y * x
    return y


def test_last_statement_of_the_body_raises_then_handler():
    assert check(last_statement_raises, 1.3, -1.0) == pytest.approx(9 * 1.3**2)
    assert check(last_statement_raises, 1.3, 4.0) == pytest.approx(6 * 1.3 + 2.0)
    check(last_statement_raises, 1.3, 4.0, wrt=1)


def else_and_finally(x, z):
    y = x
    try:
        y = y / z
    except ZeroDivisionError as error:
        y = y * 5.0 + len(str(error)) * 0.0
    else:
        y = y * y
    finally:
        y = y + x * x
    return y


@pytest.mark.parametrize("z", [0.0, 0.5, 3.0])
def test_else_and_finally_and_except_as(z):
    check(else_and_finally, 1.7, z)


def bare_except_and_tuple(x, i):
    y = x * 1.0
    try:
        y = y * [1.0, 2.0, 3.0][i]
    except (IndexError, KeyError):
        y = y * 7.0
    except:  # noqa: E722
        y = y * 11.0
    return y


@pytest.mark.parametrize(("i", "factor"), [(1, 2.0), (5, 7.0), ("a", 11.0)])
def test_handler_of_several_types_and_bare_except(i, factor):
    assert check(bare_except_and_tuple, 1.25, i) == pytest.approx(factor)


def not_caught(x, z):
    y = x * x
    try:
        y = y / z
    except KeyError:
        y = y * 2.0
    return y


def test_exception_no_handler_takes_is_raised_unchanged():
    with pytest.raises(ZeroDivisionError) as raised:
        grad(not_caught)(1.0, 0.0)
    with pytest.raises(ZeroDivisionError) as plain:
        not_caught(1.0, 0.0)
    assert str(raised.value) == str(plain.value)
    check(not_caught, 1.5, 4.0)


class Custom(Exception):
    pass


def raises_custom(x):
    y = x * x
    try:
        y = y * 2.0
        raise Custom("mine")
    except KeyError:
        y = y + 1.0
    return y


def test_raise_inside_try_propagates_the_users_exception():
    with pytest.raises(Custom, match="mine"):
        grad(raises_custom)(1.0)


def reraises(x):
    try:
        y = x / 0.0
    except ZeroDivisionError:
        y = x
        raise
    return y


def test_bare_raise_in_handler():
    with pytest.raises(ZeroDivisionError):
        grad(reraises)(1.0)


# -- try in loops, helpers that raise -----------------------------------------------------


def risky(v):
    w = v * v
    return w + math.log(2.0 - v) * 0.0  # ValueError beyond 2


def loop_with_try(xs):
    total = 0.0
    for k in range(len(xs)):
        try:
            t = risky(xs[k])
            total = total + t * xs[k]
        except ValueError:
            total = total + np.sin(xs[k])
    return total


def test_try_in_a_loop_with_a_helper_that_raises():
    xs = np.array([0.5, 3.0, 1.5, 2.5, -1.0])
    gradient = check(loop_with_try, xs)
    expected = np.where(xs >= 2.0, np.cos(xs), 3 * xs**2)
    assert np.allclose(gradient, expected)


def nested_try_in_loop(x, n):
    y = x
    i = 0
    while i < n:
        try:
            try:
                y = y * 1.1
                if i % 3 == 1:
                    y = y / 0.0
                y = y + x * 0.5
            except ZeroDivisionError:
                y = y - x * 0.25
                if i % 2 == 1:
                    raise KeyError(i)  # noqa: B904
        except KeyError:
            y = y * 0.9
        finally:
            y = y + 0.01 * x * x
        i += 1
    return y


@pytest.mark.parametrize("n", [0, 1, 2, 5, 8])
def test_nested_try_in_a_while_loop(n):
    check(nested_try_in_loop, 0.8, n)


def loop_in_try(xs, limit):
    total = 0.0
    try:
        for v in xs:
            total = total + v * v
            if total > limit:
                raise OverflowError
            total = total * 1.5
    except OverflowError:
        total = total * 0.5
    return total


@pytest.mark.parametrize("limit", [100.0, 0.1, 2.0])
def test_exception_in_a_loop_inside_try(limit):
    check(loop_in_try, np.array([0.7, 1.2, -0.4, 0.9]), limit)


def tape_in_try(xs):
    acc = 1.0
    for k in range(4):
        try:
            acc = acc * xs[k] if xs[k] > 0 else acc * (xs[k] - 1.0) / xs[k + 2]
        except IndexError:
            acc = acc + xs[0]
    return acc


def test_tape_pushed_by_a_statement_that_raised_is_taken_back():
    check(tape_in_try, np.array([0.7, -1.2, 1.3, -0.9]))


# -- finally with return, exits ------------------------------------------------------------


def return_in_body(x, z):
    y = x * x
    try:
        y = y * 3.0
        if z > 0:
            return y * z
        y = y + x
    finally:
        y = y * 2.0
    return y


@pytest.mark.parametrize("z", [1.5, -1.0])
def test_finally_with_return_in_body(z):
    check(return_in_body, 1.2, z)
    check(return_in_body, 1.2, z, wrt=1)


def finally_runs_on_return(x, recorder):
    try:
        return x * x
    finally:
        recorder.note(1)


def test_finally_runs_before_the_return():
    recorder = Recorder()
    assert grad(finally_runs_on_return)(3.0, recorder) == 6.0
    assert recorder.events == [1]


def break_in_try(xs):
    total = 0.0
    for v in xs:
        try:
            if v < 0:
                break
            total = total + v * v
        finally:
            total = total * 1.1
    return total


def continue_in_try(xs):
    total = 0.0
    for v in xs:
        try:
            if v < 0:
                continue
            total = total + v * v
        except ValueError:
            total = 0.0
        else:
            total = total * 2.0
    return total


def test_break_and_continue_through_try():
    xs = np.array([0.5, 1.5, -1.0, 2.0])
    check(break_in_try, xs)
    check(continue_in_try, xs)


def return_in_handler(x, z):
    try:
        y = x / z
    except ZeroDivisionError:
        return x * x * 4.0
    finally:
        x = x * 1.0
    return y * y


def test_return_in_handler_with_finally():
    assert check(return_in_handler, 1.5, 0.0) == pytest.approx(12.0)
    check(return_in_handler, 1.5, 2.0)


def raise_in_handler_with_finally(x, recorder):
    try:
        y = x / 0.0
    except ZeroDivisionError:
        raise KeyError("replaced")  # noqa: B904
    finally:
        recorder.note(2.0)
    return y


def test_raise_in_handler_runs_finally_then_propagates():
    recorder = Recorder()
    with pytest.raises(KeyError, match="replaced"):
        grad(raise_in_handler_with_finally)(2.0, recorder)
    assert recorder.events == [2.0]


# -- with -------------------------------------------------------------------------------


def with_errstate(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(x) * x
    return np.sum(np.where(np.isfinite(y), y, 0.0))


def test_with_errstate_wraps_the_backward_sweep():
    x = np.array([0.5, 2.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gradient = grad(with_errstate)(x)
    assert np.allclose(gradient[:2], np.log(x[:2]) + 1.0)
    source = grad(with_errstate).source_for(x)
    # the body's adjoints run under errstate(all='ignore'): they neither warn nor raise
    assert "with np.errstate(all='ignore'):" in source
    check(with_errstate, np.array([0.5, 2.0, 1.5]))


def with_suppress(x, z):
    y = x * 2.0
    with contextlib.suppress(ZeroDivisionError):
        y = y * x
        y = y / z
        y = y + x
    return y


@pytest.mark.parametrize("z", [0.0, 2.0])
def test_suppress_truncates_the_body(z):
    check(with_suppress, 1.3, z)


def with_nullcontext_as(x):
    with contextlib.nullcontext(3.0) as k:
        y = x * k
    return y * x


def test_with_as_name_not_active():
    assert check(with_nullcontext_as, 2.0) == pytest.approx(12.0)


def with_user_manager(x, recorder, fail):
    y = x * x
    with recorder:
        y = y * 3.0
        if fail:
            raise KeyError
        y = y + x
    return y


@pytest.mark.parametrize("fail", [False, True])
def test_user_context_manager_entered_once(fail):
    recorder = Recorder()
    gradient = grad(with_user_manager)(1.5, recorder, fail)
    assert recorder.events == ["enter", "KeyError" if fail else "exit"]
    assert gradient == pytest.approx(numerical_gradient(with_user_manager, (1.5, Recorder(), fail)))


def with_return(x, recorder):
    with recorder:
        return x * x * x


def test_return_inside_with_runs_exit():
    recorder = Recorder()
    assert grad(with_return)(2.0, recorder) == pytest.approx(12.0)
    assert recorder.events == ["enter", "exit"]


def with_catch_warnings(x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = np.sqrt(x) * 2.0
    return np.sum(y)


def test_with_catch_warnings():
    check(with_catch_warnings, np.array([0.25, 4.0]))


# -- refusals ---------------------------------------------------------------------------


def in_place_in_try(a, b):
    a = a * 1.0
    try:  # noqa: SIM105
        a += b
    except ValueError:
        pass
    return np.sum(a)


def test_in_place_change_of_an_array_in_try_is_refused():
    with pytest.raises(ADTransformError, match="in place inside a 'try' or 'with' body"):
        grad(in_place_in_try)(np.ones(3), np.ones(3))
    check(in_place_in_try, 1.5, 2.0)  # numbers are rebound, not changed


def errstate_not_constant(x, mode):
    with np.errstate(divide=mode):
        y = x * 2.0
    return y


def test_numeric_manager_with_variable_arguments_is_refused():
    with pytest.raises(ADTransformError, match="not constants"):
        grad(errstate_not_constant)(1.0, "ignore")


# -- the generated code ------------------------------------------------------------------


def test_generated_try_reads_like_hand_written_code():
    source = grad(stops_in_body).source_for(1.5, 2.0)
    assert "try:\n" in source
    assert "except BaseException:" in source
    assert "raised = True" in source
    assert "caught = ad_runtime.current_exception()" in source
    assert "ad_runtime.exception_matches(caught, ZeroDivisionError)" in source
    assert "ad_runtime.reraise(caught)" in source
    assert "# line " in source


# -- more of the kind ------------------------------------------------------------------


def helper_with_try(t):
    try:
        r = math.sqrt(t) * t
    except ValueError:
        r = -t * t
    return r


def calls_helper_with_try(x):
    return helper_with_try(x) * 2.0 + helper_with_try(-x)


def test_helper_containing_try():
    # sqrt(x) * x on the first call, -x * x on the second (sqrt of a negative raises)
    expected = 2 * 1.5 * math.sqrt(1.5) - 2 * 1.5
    assert check(calls_helper_with_try, 1.5) == pytest.approx(expected)


def every_path_returns(x):
    try:
        return math.log(x) * x
    except ValueError:
        return x * x


@pytest.mark.parametrize("x", [2.0, -2.0])
def test_every_path_of_the_try_returns(x):
    check(every_path_returns, x)


def item_writes_in_try(x):
    a = np.zeros(3)
    try:
        a[0] = x[0] * 2.0
        a[5] = x[1]
    except IndexError:
        a[1] = x[1] * 3.0
    return np.sum(a * a)


def test_item_writes_before_the_exception_are_kept():
    gradient = check(item_writes_in_try, np.array([1.0, 2.0]))
    assert np.allclose(gradient, [8.0, 36.0])


def appends_in_try(xs):
    out = []
    for v in xs:
        try:
            out.append(math.log(v) * v)
        except ValueError:
            out.append(v * v)
    total = 0.0
    for o in out:
        total = total + o
    return total


def test_appends_in_try_and_a_pullback_run_twice():
    xs = np.array([1.5, -2.0, 3.0])
    check(appends_in_try, xs)
    _, pullback = vjp(appends_in_try)(xs)
    first = pullback(1.0)
    assert np.allclose(pullback(1.0), first)
    check_vjp_dot_product(loop_with_try, (np.array([0.5, 3.0, 1.5, 2.5, -1.0]),))


def append_twice(buffer, v):
    buffer.append(v * 2.0)
    return 0.0


def in_out_helper_in_try(x):
    buffer = []
    try:  # noqa: SIM105
        append_twice(buffer, x)
    except ValueError:
        pass
    return buffer[0]


def test_helper_changing_its_argument_in_try_is_refused():
    with pytest.raises(ADTransformError, match="changes its arguments in place"):
        grad(in_out_helper_in_try)(1.0)


def catches_a_non_exception(x):
    try:
        y = x / 0.0
    except int:
        y = x
    return y


def test_except_of_a_class_that_is_no_exception_raises_type_error():
    with pytest.raises(TypeError, match="BaseException"):
        catches_a_non_exception(1.0)
    with pytest.raises(TypeError, match="BaseException"):
        grad(catches_a_non_exception)(1.0)


def several_managers(x, recorder):
    with contextlib.suppress(KeyError), recorder as r:
        y = x * x
        r.note(len(r.events))
        y = y * x
    return y


def test_several_managers_in_one_with():
    recorder = Recorder()
    assert check(several_managers, 1.5, recorder) == pytest.approx(3 * 1.5**2)


def test_generated_try_is_golden():
    """The generated source of a ``try`` (tests/golden/safe_log_ratio_grad.py.txt, read
    and checked by a person); regenerate with ``AD_UPDATE_GOLDEN=1``."""
    from tests.golden_functions_exceptions import safe_log_ratio

    text = grad(safe_log_ratio).source_for(2.0, 3.0)
    path = Path(__file__).parent / "golden" / "safe_log_ratio_grad.py.txt"
    if os.environ.get("AD_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"generated source changed; see {path}"
    for args in ((2.0, 3.0), (2.0, 0.0), (2.0, -3.0)):
        check(safe_log_ratio, *args)


def half_written(x):
    b = np.zeros(3, dtype=np.float32)
    with np.errstate(over="raise"):
        try:
            b[0:2] = x * 1e300  # NumPy casts, writes inf, then raises
        except FloatingPointError:
            b[2] = 1.0
    return np.sum(b) * x[0]


def test_write_that_raises_after_changing_the_array_is_refused():
    with pytest.raises(FloatingPointError), np.errstate(over="raise"):
        np.zeros(1, dtype=np.float32)[0:1] = np.array([1e300])  # as NumPy does it
    settings = np.geterr()
    with pytest.raises(ADTransformError, match="may have changed a list or an array"):
        grad(half_written)(np.array([1.0, 2.0]))
    assert np.geterr() == settings  # the manager was left


def unused_value_raises(x, m):
    y = x * 2.0
    try:
        inverse = np.linalg.inv(m)  # noqa: F841  (only its exception matters)
        y = y * x
    except np.linalg.LinAlgError:
        y = y + x
    return y


@pytest.mark.parametrize("m", [np.eye(2), np.zeros((2, 2))])
def test_statement_whose_value_is_unused_still_raises(m):
    assert check(unused_value_raises, 1.5, m) == pytest.approx(6.0 if m[0, 0] else 3.0)


def unbound_after_handler(x):
    try:  # noqa: SIM105
        y = 1.0 / x
    except ZeroDivisionError:
        pass
    return y * x


def test_name_the_raising_statement_did_not_bind_is_unbound():
    with pytest.raises(UnboundLocalError):
        unbound_after_handler(0.0)
    with pytest.raises(UnboundLocalError):
        grad(unbound_after_handler)(0.0)
    check(unbound_after_handler, 2.0)


def exits_in_handlers(xs):
    total = 0.0
    for v in xs:
        try:
            w = math.log(v)
        except ValueError:
            if v < -1.0:
                break
            continue
        total = total + w * v
    return total


@pytest.mark.parametrize("last", [-0.5, -2.0])
def test_break_and_continue_in_a_handler(last):
    check(exits_in_handlers, np.array([1.5, last, 2.5, 0.7]))


def with_in_try_in_loop(xs):
    total = 0.0
    for v in xs:
        try:
            with np.errstate(invalid="ignore"):
                r = np.log(v) * v
                if not np.isfinite(r):
                    raise ArithmeticError
            total = total + r
        except ArithmeticError:
            total = total - v * v
    return total


def test_with_inside_try_inside_a_loop():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the errstate holds in both sweeps
        check(with_in_try_in_loop, np.array([1.5, -0.5, -2.5, 0.7]))


def test_trace_table_follows_the_path_that_ran():
    from ad_transform import trace_table
    from tests.golden_functions_exceptions import safe_log_ratio

    text = str(trace_table(safe_log_ratio, 2.0, 0.0))
    assert "exception_matches" in text
    assert "<ZeroDivisionError>" in text


def return_in_match_in_try(x, k):
    try:
        match k:
            case 1:
                return x * x
            case _:
                y = x * 3.0
    finally:
        x = x * 1.0
    return y


def test_exit_inside_a_match_inside_a_try():
    # 'match' is lowered to an if chain before the try is: the return runs 'finally' first
    assert grad(return_in_match_in_try)(1.5, 1) == pytest.approx(3.0)  # d(x*x) = 2x
    assert grad(return_in_match_in_try)(1.5, 2) == pytest.approx(3.0)  # d(3x) = 3
    check(return_in_match_in_try, 1.5, 1)
    check(return_in_match_in_try, 1.5, 2)


def store_then_raise(x, n):
    a = np.zeros(2)
    b = np.zeros(n)
    try:
        a[0] = b[1] = x * 2.0  # a[0] is written first; b[1] raises if n < 2
    except IndexError:
        a[1] = x
    return np.sum(a * a)


def test_change_followed_by_an_exception_in_the_same_statement_is_refused():
    assert check(store_then_raise, 1.5, 3) == pytest.approx(8 * 1.5)  # no exception
    with pytest.raises(ADTransformError, match="may have changed a list or an array"):
        grad(store_then_raise)(1.5, 1)


def handler_takes_everything(a, b):
    a = a * 1.0
    try:
        a += b
    except Exception:
        a = b * 2.0
    return np.sum(a)


def manager_suppresses_everything(a, b):
    a = a * 1.0
    with contextlib.suppress(Exception):
        a += b
    return np.sum(a)


@pytest.mark.parametrize("f", [handler_takes_everything, manager_suppresses_everything])
def test_refusal_is_taken_by_no_handler_and_suppressed_by_no_manager(f):
    with pytest.raises(ADTransformError, match="in place inside a 'try' or 'with' body"):
        grad(f)(np.ones(3), np.ones(3))


@pytest.mark.skipif(sys.version_info < (3, 11), reason="'except*' is Python 3.11")
def test_except_star_is_refused(tmp_path, monkeypatch):
    source = "def f(x):\n    try:\n        y = x\n    except* ValueError:\n        y = x\n"
    source += "    return y\n"
    (tmp_path / "uses_except_star.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("uses_except_star")
    with pytest.raises(ADTransformError, match=r"unsupported construct: 'try \.\.\. except\*'"):
        grad(module.f)(1.0)
