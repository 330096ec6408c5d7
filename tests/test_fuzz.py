"""Differential fuzzing: random programs, their gradients against finite differences.

Each program drawn by :func:`fuzz_programs.programs` (a function ``f`` of two or three
floats with assignments, augmented assignments, arithmetic, ``math``/NumPy calls,
``if``/``else``, ``for``/``while`` loops, ``break``/``continue``/``return`` and helper
calls) is written to a real module file, imported, and differentiated with respect to
all its arguments by ``grad``, ``value_and_grad`` and ``vjp``. The reference is
central finite differences in float64 at two steps, ``h = 1e-5 * max(1, |x|)`` and
``4h``:

* a point where the function raises, is not finite or exceeds 1e6 in magnitude is
  skipped (values grow in loops);
* a point where the two differences disagree by more than ``1e-5`` relative, or
  where the one-sided differences disagree (a kink, a jump of a branch or of a trip
  count within a step of the point) is skipped: the reference itself is unreliable
  there. So is a point where the lines the program runs at ``x +- h`` differ from those
  at ``x`` (a branch or a trip count changes within a step): the gradient is the
  derivative of the path taken at ``x`` (README, "Conventions at kinks"), which a difference across
  paths need not measure even where the value is smooth (``y -= z`` only when
  ``sqrt(z * z) > 0``: the derivative in ``z`` is -1 on both sides of ``z = 0`` and 0
  on the path at ``z = 0``). Where they agree, the truncation error of the step ``h`` is about a
  fifteenth of their difference, well below the tolerance;
* everywhere else every gradient must agree with the difference at ``h`` to ``1e-5``
  relative, with an absolute floor of ``1e-9`` (the rounding noise of a difference
  quotient); the value returned by ``value_and_grad`` and ``vjp`` must be the
  function's value; ``pullback`` must be linear in its cotangent; a gradient of a
  float is a ``float``.

Also, for every program where ``f`` runs (even where the differences are skipped):
the value of ``value_and_grad`` is ``f``'s value (rtol 1e-12); the program run with
0-d arrays (``np.array(v)``) gives its own value and the same gradient as with floats
(nan where both are nan), as ndarrays.

Any exception from the transformed code at a point where ``f`` itself runs is a
failure. An ``ADTransformError`` is a clear refusal, counted by message kind, for a
program that uses an option of ``fuzz_programs.ALL_OPTIONS`` (``AD_FUZZ_OPTIONS``:
decorators, helpers that write into the caller's list or array, aliases followed by
``+=``, ``np.where`` and divisions on floats, exact zeros, gradient functions called
by ``f``); for the plain programs it is a failure: every construct used is supported.
Options (and checks) that fail because of a known open bug go into ``KNOWN_OPEN``
below, each with a failing example, and are left out of the default run (none now).
The constructs of issue 12 (``fuzz_programs.CONSTRUCT_OPTIONS``: comprehensions,
lambdas, closures, dicts, methods, ``try``, ``with``, ``match``, starred unpacking) are
in ``PENDING_OPTIONS`` until their part merges: out of the default run,
``AD_FUZZ_OPTIONS=pending`` runs only them, ``all`` everything.

The default run checks ``AD_FUZZ_EXAMPLES`` programs (150), reproducibly (derandomized);
the long run is documented in README.md ("Versions")::

    AD_FUZZ_EXAMPLES=10000 AD_FUZZ_SEED=random python -m pytest -n 0 tests/test_fuzz.py -s

The programs keep out the patterns of the known, still open bugs (their regression
tests are in ``test_regressions.py``; see ``fuzz_programs.KNOWN_BUGS``);
``AD_FUZZ_KNOWN_BUGS=1`` puts them back in. With ``AD_FUZZ_KEEP_GOING=1`` a failure
does not stop the run: every failing program is printed (and written to
``AD_FUZZ_FAILURES``, a directory, if set) and the test fails at the end with their
count. A summary (programs checked, skipped and why, constructs used) is printed with
``-s``.
"""

from __future__ import annotations

import math
import os
import re
import sys
import tempfile
import traceback
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from fuzz_programs import ALL_OPTIONS, CONSTRUCT_OPTIONS, KNOWN_BUGS, Program, load, programs
from gradcheck import check_like
from hypothesis import HealthCheck, event, given, settings

from ad_transform import ADTransformError, grad, value_and_grad, vjp

EXAMPLES = int(os.environ.get("AD_FUZZ_EXAMPLES", "150"))
SEED = os.environ.get("AD_FUZZ_SEED", "")  # "" derandomized, "random", or an integer
KEEP_GOING = os.environ.get("AD_FUZZ_KEEP_GOING", "") not in ("", "0")
FAILURES_DIR = os.environ.get("AD_FUZZ_FAILURES", "")
# the patterns of open bugs of test_regressions.py are kept out unless asked for
WITH_KNOWN_BUGS = os.environ.get("AD_FUZZ_KNOWN_BUGS", "") not in ("", "0")
AVOID = frozenset() if WITH_KNOWN_BUGS else KNOWN_BUGS

# Generator options (fuzz_programs.ALL_OPTIONS) and checks ("0-d-aliasing") that fail
# because of a known open bug: kept out of the default run, each listed with a failing
# example, until the fix lands. None is open: every option and check runs by default.
KNOWN_OPEN: frozenset[str] = frozenset()

# The constructs of issue 12 (fuzz_programs.CONSTRUCT_OPTIONS) whose part has not merged
# yet: kept out of the default run (a program using them is refused on main). Delete an
# option here when its part lands (and run it alone with AD_FUZZ_KEEP_GOING first).
PENDING_OPTIONS: frozenset[str] = frozenset()  # every construct option has landed


def _options() -> frozenset[str]:
    """AD_FUZZ_OPTIONS: "" (all but KNOWN_OPEN and PENDING_OPTIONS), "all", "open",
    "pending", "none" or a comma list."""
    text = os.environ.get("AD_FUZZ_OPTIONS", "")
    if text == "":
        return ALL_OPTIONS - KNOWN_OPEN - PENDING_OPTIONS
    if text == "all":
        return ALL_OPTIONS
    if text == "open":  # only the known open ones
        return ALL_OPTIONS & KNOWN_OPEN
    if text == "pending":  # only the constructs of issue 12 not merged yet
        return ALL_OPTIONS & PENDING_OPTIONS
    if text == "none":
        return frozenset()
    return frozenset(part.strip() for part in text.split(",") if part.strip())


OPTIONS = _options()
# the checks kept out while open (all are made with AD_FUZZ_OPTIONS=all)
KNOWN_OPEN_CHECKS = frozenset() if os.environ.get("AD_FUZZ_OPTIONS") == "all" else KNOWN_OPEN

STEP = 1e-5  # central difference step, relative to max(1, |x|); the second is 4 * STEP
AGREE = 1e-5  # the two differences must agree this well (relative) to be a reference
RTOL = 1e-5  # gradient vs the difference at STEP
ATOL = 1e-9  # absolute floor: rounding noise of a difference quotient of O(1) values
KINK = 1e-3  # one-sided differences further apart than this (relative to 1 + |g|)
MAX_VALUE = 1e6

STATS: Counter = Counter()
STATS_EXTRA: Counter = Counter()  # observations that are not outcomes
FAILURE_KINDS: Counter = Counter()
WARNED_EXAMPLES: list[str] = []  # programs whose gradient warned where f did not
FEATURES: Counter = Counter()  # how many checked programs use each construct
_FEATURE_MARKERS = {
    "for": "for ",
    "while": "while ",
    "if": "if ",
    "break": "break",
    "continue": "continue",
    "augmented assignment": "",
    "helper": "def h0",
    "numpy call": "np.",
    "abs/max/min": ("abs(", "max(", "min("),
}


def _features(program: Program) -> list[str]:
    text = program.source
    found = []
    for name, markers in _FEATURE_MARKERS.items():
        markers = (markers,) if isinstance(markers, str) else markers
        if name == "augmented assignment":  # of a float (not a while counter)
            if re.search(r"\b[xyzpquv]\w* [-+*/]= ", text):
                found.append(name)
        elif any(m in text for m in markers):
            found.append(name)
    returns = text.count("return ")
    if returns > text.count("def "):
        found.append("early return")
    return found


class FuzzFailure(AssertionError):
    """A generated program whose gradient is wrong or whose gradient code fails."""


class Skip(Exception):
    """The point is not one where finite differences are a trustworthy reference."""


def _value(f, args, path: list | None = None) -> float:
    try:
        value = _traced(f, args, path) if path is not None else f(*args)
    except (ArithmeticError, ValueError) as exc:  # overflow in x ** 2, math range errors
        raise Skip(f"raises {type(exc).__name__}") from None
    value = float(value)
    if not math.isfinite(value) or abs(value) > MAX_VALUE:
        raise Skip("value not finite or too large")
    return value


def _traced(f, args, path: list):
    """``f(*args)``, appending to ``path`` each line run in ``f``'s module."""
    module_file = f.__code__.co_filename

    def tracer(frame, event, arg):
        if frame.f_code.co_filename != module_file:
            return None
        if event == "line":
            path.append((frame.f_code.co_name, frame.f_lineno))
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        return f(*args)
    finally:
        sys.settrace(previous)


def _shifted(point, i, delta):
    args = list(point)
    args[i] = point[i] + delta
    return args


def reference_gradient(f, point) -> list[float]:
    """Central differences at ``h`` where ``h`` and ``4h`` agree; :class:`Skip` elsewhere."""
    path0: list = []
    f0 = _value(f, point, path0)
    gradient = []
    for i, x in enumerate(point):
        h = STEP * max(1.0, abs(x))
        path_plus: list = []
        path_minus: list = []
        plus = _value(f, _shifted(point, i, h), path_plus)
        minus = _value(f, _shifted(point, i, -h), path_minus)
        if path_plus != path0 or path_minus != path0:
            raise Skip("the path changes within a step")
        plus4, minus4 = _value(f, _shifted(point, i, 4 * h)), _value(f, _shifted(point, i, -4 * h))
        small = (plus - minus) / (2 * h)
        large = (plus4 - minus4) / (8 * h)
        if abs(small - large) > AGREE * max(abs(small), abs(large)) + ATOL:
            raise Skip("differences at two steps disagree")
        forward, backward = (plus - f0) / h, (f0 - minus) / h
        if abs(forward - backward) > KINK * (1.0 + abs(small)):
            raise Skip("one-sided differences disagree")
        gradient.append(small)
    return gradient


def _close(analytic, numeric) -> bool:
    return abs(analytic - numeric) <= RTOL * abs(numeric) + ATOL


def _assert_gradient(what: str, analytic, reference, point) -> None:
    assert isinstance(analytic, tuple) and len(analytic) == len(reference), (
        f"{what} returned {analytic!r}, not a tuple of {len(reference)} gradients"
    )
    for i, (a, n) in enumerate(zip(analytic, reference)):
        check_like(a, point[i], f"{what}, argument {i}")
        assert _close(a, n), f"{what}, argument {i}: {a!r}, finite differences {n!r}"


def _same(a, b, rtol: float, atol: float = 0.0) -> bool:
    """``a`` and ``b`` agree: both nan, equal infinities, or within the tolerance."""
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rtol * max(abs(a), abs(b)) + atol


def _crash_kind(error: BaseException) -> str:
    """A short name for an exception from gradient code: its type and where it rose."""
    frames = traceback.extract_tb(error.__traceback__)
    where = "?"
    for frame in reversed(frames):
        if frame.filename.startswith("<"):  # generated code: <ad_transform f #12>
            where = "generated code"
            break
        if "ad_transform" in frame.filename:
            where = f"{Path(frame.filename).name}:{frame.name}"
            break
        if "fuzz_program_" in frame.filename or frame.filename.startswith("<"):
            where = "generated code"
            break
    return f"crash: {type(error).__name__} in {where}"


def refusal_kind(error: ADTransformError) -> str:
    """The message of a refusal without its location, names and numbers."""
    text = str(error).splitlines()[0]
    text = re.sub(r"^.*?:\d+:\d+: ", "", text)
    text = re.sub(r"'[^']*'|`[^`]*`", "'...'", text)
    text = re.sub(r"\d+", "N", text)
    return text[:100]


class Refused(Exception):
    """``ADTransformError``: a clear refusal, counted, not a failure."""


def _quietly(call, *args):
    """``call(*args)`` and whether it warned (NumPy warnings of the program itself)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call(*args)
    return result, bool(caught)


def _value_and_grad(f, wrt, point, label: str):
    """``value_and_grad(f)(*point)``; a refusal raises :class:`Refused`, a crash fails."""
    try:
        (v, gradient), warned = _quietly(value_and_grad(f, wrt=wrt), *point)
    except ADTransformError as error:
        raise Refused(refusal_kind(error)) from None
    except Exception as error:
        raise FuzzFailure(f"{_crash_kind(error)}{label}") from error
    return v, gradient, warned


def _check_zero_d(f, wrt, point, gradient) -> None:
    """(c): the program with 0-d arrays gives the value of ``f`` and the same gradient."""

    # fresh arrays for every call: ``x += ...`` in ``f`` mutates a 0-d argument
    def point0():
        return tuple(np.array(v) for v in point)

    arguments = point0()
    try:
        value0, _ = _quietly(f, *arguments)
    except (ArithmeticError, ValueError, ADTransformError):
        # (ADTransformError: f calls a gradient function of a helper that updates
        # its 0-d argument in place)
        STATS_EXTRA["0-d run skipped: f raises"] += 1
        return
    value, _ = _quietly(f, *point)
    mutated = any(float(a) != v for a, v in zip(arguments, point))  # x op= ... in place
    if "0-d-aliasing" in KNOWN_OPEN_CHECKS and (mutated or not _same(value0, value, 1e-12)):
        STATS_EXTRA["0-d run not checked: f mutates a 0-d argument array (open)"] += 1
        return
    try:
        v0, gradient0, _ = _value_and_grad(f, wrt, point0(), " (0-d arrays)")
    except Refused as refusal:  # e.g. an in-place update of a caller's array argument
        STATS_EXTRA[f"0-d run refused: {refusal}"] += 1
        return
    if not _same(v0, value0, 1e-12):
        raise FuzzFailure(f"value differs from f (0-d arrays): {v0!r}, f gives {value0!r}")
    for i, (a, b) in enumerate(zip(gradient, gradient0)):
        check_like(b, point0()[i], f"value_and_grad (0-d arrays), argument {i}")
        if not _same(a, b, 1e-9, 1e-12 * (1.0 + abs(float(a)))):
            raise FuzzFailure(
                f"float and 0-d gradients differ, argument {i}: float {a!r}, 0-d {b!r}"
            )


def check_program(program: Program, directory: Path) -> str:
    """Check one program; return what happened ('checked', or what was skipped).

    (a) the value of ``value_and_grad`` is the value of ``f``; (b) the gradient matches
    central finite differences (where they are a reliable reference); (c) the program
    with 0-d arrays gives the same value and gradient; (d) an ``ADTransformError`` is
    a refusal (counted), any other exception a failure.
    """
    f = load(program, directory)
    point = program.point
    wrt = tuple(range(program.arity))
    try:
        value, f_warned = _quietly(f, *point)
    except (ArithmeticError, ValueError, ADTransformError) as exc:
        # (ADTransformError: f itself calls a gradient function of a refused helper)
        return f"skipped: f raises {type(exc).__name__}"
    try:
        v, gradient, warned = _value_and_grad(f, wrt, point, "")
        if warned and not f_warned:
            STATS_EXTRA["gradient warned where f did not"] += 1
            WARNED_EXAMPLES.append(f"point {program.point!r}\n{program.source}")
        if not _same(v, value, 1e-12):
            raise FuzzFailure(f"value differs from f: value_and_grad {v!r}, f {value!r}")
        _check_zero_d(f, wrt, point, gradient)
    except Refused as refusal:
        if not program.used:  # the plain programs use only supported constructs
            raise FuzzFailure(f"refused a program without options: {refusal}") from None
        return f"refused: {refusal}"
    try:
        reference = reference_gradient(f, point)
    except Skip as skip:
        return f"finite differences skipped: {skip}"
    _assert_gradient("value_and_grad", gradient, reference, point)

    g = grad(f, wrt=wrt)
    _assert_gradient("grad", g(*point), reference, point)

    v, pullback = vjp(f, wrt=wrt)(*point)
    assert v == pytest.approx(value, rel=1e-12, abs=1e-300), f"vjp value {v!r}"
    _assert_gradient("vjp pullback(1.0)", pullback(1.0), reference, point)
    scaled = pullback(-2.5)  # the same pullback again, with another cotangent
    _assert_gradient("vjp pullback(-2.5) / -2.5", tuple(c / -2.5 for c in scaled), reference, point)
    return "checked"


def failure_kind(error: BaseException) -> str:
    """The kind a failure is counted under (its first line, without values)."""
    if isinstance(error, FuzzFailure) and not str(error).startswith("---"):
        text = str(error).splitlines()[0]
        return text if text.startswith("crash:") else text.split(":")[0]
    if isinstance(error, AssertionError):
        text = (str(error).splitlines() or [""])[0]
        text = text.split(", argument")[0].split(":")[0].split(" returned")[0]
        return f"wrong gradient ({text[:60]})"
    return _crash_kind(error)


def _describe(program: Program, error: BaseException, directory: Path) -> str:
    """The program, the point, the error with its traceback and the generated source."""
    text = (
        f"--- failing program (point {program.point!r}) ---\n{program.source}\n"
        f"--- error ---\n{''.join(traceback.format_exception(error)).rstrip()}\n"
    )
    if not isinstance(error, ADTransformError):
        try:
            wrt = tuple(range(program.arity))
            source = grad(load(program, directory), wrt=wrt).source_for(*program.point)
            text += f"--- grad(f, wrt={wrt}).source_for{program.point!r} ---\n{source}"
        except Exception as exc:  # the source itself may be what fails
            text += f"--- no generated source: {type(exc).__name__}: {exc}\n"
    return text


def _settings():
    kwargs = {
        "max_examples": EXAMPLES,
        "deadline": None,
        "database": None,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    }
    if SEED == "":
        kwargs["derandomize"] = True
    return settings(**kwargs)


def test_random_programs_gradients_match_finite_differences():
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ad_fuzz_") as tmp:
        directory = Path(tmp)

        @_settings()
        @given(programs(avoid=AVOID, options=OPTIONS))
        def run(program: Program) -> None:
            try:
                outcome = check_program(program, directory)
            except Exception as error:
                text = _describe(program, error, directory)
                if not KEEP_GOING:
                    # one origin for every failure, the traceback in the message: the
                    # generated code's file name changes from run to run, which
                    # Hypothesis would call a flaky failure
                    raise FuzzFailure(text) from None
                STATS["failed"] += 1
                kind = failure_kind(error)
                FAILURE_KINDS[kind] += 1
                text = f"=== kind: {kind}\n{text}"
                failures.append(text)
                print(text)
                if FAILURES_DIR:
                    out = Path(FAILURES_DIR)
                    out.mkdir(parents=True, exist_ok=True)
                    slug = re.sub(r"\W+", "_", kind)[:60]
                    (out / f"failure_{len(failures):04d}_{slug}.txt").write_text(text)
                return
            STATS[outcome] += 1
            event(outcome)
            if outcome == "checked":
                for feature in _features(program):
                    FEATURES[feature] += 1
                    event(f"uses {feature}")

        if SEED not in ("", "random"):
            run = pytest.importorskip("hypothesis").seed(int(SEED))(run)
        run()
    total = sum(STATS.values())
    print(f"\nfuzz: options {sorted(OPTIONS)}")
    print(f"fuzz: {total} programs: " + ", ".join(f"{k}: {v}" for k, v in sorted(STATS.items())))
    print("fuzz: also: " + ", ".join(f"{k}: {v}" for k, v in sorted(STATS_EXTRA.items())))
    if WARNED_EXAMPLES:
        print(f"fuzz: first program whose gradient warned:\n{WARNED_EXAMPLES[0]}")
    print("fuzz: failures by kind: " + ", ".join(f"{k}: {v}" for k, v in FAILURE_KINDS.items()))
    print(
        "fuzz: checked programs using: " + ", ".join(f"{k} {v}" for k, v in FEATURES.most_common())
    )
    assert not failures, f"{len(failures)} of {total} programs failed; first:\n{failures[0]}"
    # the reference must not skip everything: most programs that are not refused (the
    # constructs of pending options are, on main) are really checked
    refused = sum(v for k, v in STATS.items() if k.startswith("refused"))
    assert STATS["checked"] >= 0.5 * (total - refused), f"too many programs skipped: {dict(STATS)}"


def test_generated_programs_run_with_every_option():
    """The generator writes valid programs whose ``f`` runs (floats and 0-d arrays) with
    every option on, the constructs of issue 12 included, and each option is used."""
    used: Counter = Counter()
    problems: list[str] = []
    assert PENDING_OPTIONS <= CONSTRUCT_OPTIONS <= ALL_OPTIONS
    with tempfile.TemporaryDirectory(prefix="ad_fuzz_plain_") as tmp:
        directory = Path(tmp)

        @settings(
            max_examples=150,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(programs(options=ALL_OPTIONS))
        def run(program: Program) -> None:
            f = load(program, directory)
            used.update(program.used)
            for point in (program.point, tuple(np.array(v) for v in program.point)):
                try:
                    with np.errstate(all="ignore"), warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        f(*point)
                except (ArithmeticError, ADTransformError):  # overflow; f calls grad(h)
                    pass
                except Exception as error:
                    problems.append(f"{type(error).__name__}: {error}\n{program}")

        run()
    assert not problems, problems[0]
    assert set(used) >= CONSTRUCT_OPTIONS, sorted(CONSTRUCT_OPTIONS - set(used))
