"""Differential fuzzing of array programs: ``value_and_grad`` against finite differences.

Each program of :func:`fuzz_arrays.generate` (ufuncs with broadcasting, reductions
with axes, shape operations, indexing, contractions, branches on reduced values,
in-place writes in loops, lists stacked, helpers; the output ``np.sum(W * v)`` with
random non-uniform weights) is written to a module file, imported and differentiated
with respect to all its array arguments. For every program:

(a) the value of ``value_and_grad`` is the function's value (rtol 1e-12, the forward
    sweep is the function);
(b) each gradient element matches a central finite difference in float64 at
    ``h = 1e-5 * max(1, |x|)`` where the differences at ``h`` and ``4h`` agree and the
    one-sided differences agree (else the point is near a kink -- ``abs``, ``max``,
    ``where``, a branch -- and the element is not compared: counted as skipped);
    tolerance ``1e-5`` relative to the larger of the element and a thousandth of the
    gradient's largest element, plus ``1e-8 * (1 + |f|)`` (rounding of the quotient);
    gradients have the type and shape of their argument;
(c) an ``ADTransformError`` is a clear refusal: counted by message kind, not a
    failure; any other exception from the gradient code is a crash (a failure).

A failing program prints its seed and source. Seeds are ``AD_FUZZ_ARRAY_SEED``
(default 0) onwards; the default run checks ``AD_FUZZ_ARRAY_EXAMPLES`` (300)
programs. Long runs::

    AD_FUZZ_ARRAY_EXAMPLES=5000 AD_FUZZ_KEEP_GOING=1 AD_FUZZ_FAILURES=/tmp/af \\
        python -m pytest -n 0 tests/test_fuzz_arrays.py -s

``AD_FUZZ_ARRAY_OPTIONS`` ("" = all but ``KNOWN_OPEN``, "all", or a comma list)
chooses the constructs; see ``KNOWN_OPEN`` below.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import traceback
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from fuzz_arrays import ALL_OPTIONS, CONSTRUCT_OPTIONS, ArrayProgram, generate, load
from gradcheck import check_like

from ad_transform import ADTransformError, value_and_grad

EXAMPLES = int(os.environ.get("AD_FUZZ_ARRAY_EXAMPLES", "300"))
FIRST_SEED = int(os.environ.get("AD_FUZZ_ARRAY_SEED", "0"))
KEEP_GOING = os.environ.get("AD_FUZZ_KEEP_GOING", "") not in ("", "0")
FAILURES_DIR = os.environ.get("AD_FUZZ_FAILURES", "")

# Options that fail because of a known open bug: kept out of the default run, each
# listed with a failing example, until the fix lands. None is open.
KNOWN_OPEN: frozenset[str] = frozenset()

# The constructs of issue 12 (fuzz_arrays.CONSTRUCT_OPTIONS) whose part has not merged
# yet: kept out of the default run. Delete an option here when its part lands.
PENDING_OPTIONS: frozenset[str] = frozenset()  # every construct option has landed


def _options() -> frozenset[str]:
    """AD_FUZZ_ARRAY_OPTIONS: "" (all but KNOWN_OPEN and PENDING_OPTIONS), "all",
    "pending" (the base options and the pending ones) or a comma list."""
    text = os.environ.get("AD_FUZZ_ARRAY_OPTIONS", "")
    if text == "":
        return ALL_OPTIONS - KNOWN_OPEN - PENDING_OPTIONS
    if text == "all":
        return ALL_OPTIONS
    if text == "pending":
        return BASE_OPTIONS | PENDING_OPTIONS
    return frozenset(part.strip() for part in text.split(",") if part.strip())


# what the pending constructs are mixed with in AD_FUZZ_ARRAY_OPTIONS=pending
BASE_OPTIONS = frozenset(
    {"ufunc", "reduce", "shape", "index", "branch", "helpers", "loop-writes", "list-stack"}
)
OPTIONS = _options()

STEP = 1e-5
AGREE = 1e-5
KINK = 1e-3
RTOL = 1e-5
MAX_VALUE = 1e6


class FuzzFailure(AssertionError):
    """A wrong value or gradient, or a crash of the gradient code."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


class Skip(Exception):
    """The function itself fails or is not finite at the point."""


def _call(f, args) -> float:
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = f(*[np.array(a) for a in args])  # fresh copies: f may write into them
    except (ArithmeticError, ValueError, FloatingPointError) as exc:
        raise Skip(f"f raises {type(exc).__name__}") from None
    value = float(value)
    if not math.isfinite(value) or abs(value) > MAX_VALUE:
        raise Skip("value not finite or too large")
    return value


def reference_gradient(f, args, f0: float):
    """Central differences per element; None where the element is near a kink."""
    gradients = []
    for i, arg in enumerate(args):
        g = np.full(arg.shape, np.nan)
        for index in np.ndindex(*arg.shape):
            x = float(arg[index])
            h = STEP * max(1.0, abs(x))

            def at(delta, i=i, index=index, x=x):
                shifted = [np.array(a) for a in args]
                shifted[i][index] = x + delta
                return _call(f, shifted)

            plus, minus, plus4, minus4 = at(h), at(-h), at(4 * h), at(-4 * h)
            small, large = (plus - minus) / (2 * h), (plus4 - minus4) / (8 * h)
            floor = 1e-9 * (1.0 + abs(f0))
            if abs(small - large) > AGREE * max(abs(small), abs(large)) + floor:
                continue
            if abs((plus - f0) / h - (f0 - minus) / h) > KINK * (1.0 + abs(small)):
                continue
            g[index] = small
        gradients.append(g)
    return gradients


def crash_kind(error: BaseException) -> str:
    """The exception's type and where it rose (a runtime helper or generated code)."""
    where = "?"
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename.startswith("<"):
            where = "generated code"
            break
        if "ad_transform" in frame.filename:
            where = f"{Path(frame.filename).name}:{frame.name}"
            break
    return f"crash: {type(error).__name__} in {where}"


def refusal_kind(error: ADTransformError) -> str:
    text = str(error).splitlines()[0]
    text = re.sub(r"^.*?:\d+:\d+: ", "", text)
    text = re.sub(r"'[^']*'|`[^`]*`", "'...'", text)
    return re.sub(r"\d+", "N", text)[:100]


def check_program(program: ArrayProgram, directory: Path, stats: Counter) -> str:
    """Check one program: 'checked', 'refused: ...' or 'skipped: ...'; raise on failure."""
    f = load(program, directory)
    args = program.args
    wrt = tuple(range(len(args)))
    try:
        value = _call(f, args)
    except Skip as skip:
        return f"skipped: {skip}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v, gradient = value_and_grad(f, wrt=wrt)(*[np.array(a) for a in args])
    except ADTransformError as error:
        return f"refused: {refusal_kind(error)}"
    except Exception as error:
        raise FuzzFailure(crash_kind(error), f"{type(error).__name__}: {error}") from error
    if not (abs(float(v) - value) <= 1e-12 * abs(value) + 1e-12):
        raise FuzzFailure("value differs from f", f"value_and_grad {v!r}, f {value!r}")
    reference = reference_gradient(f, args, value)
    for i, (g, n) in enumerate(zip(gradient, reference)):
        try:
            check_like(g, args[i], f"gradient {i}")
        except AssertionError as error:
            raise FuzzFailure("gradient type or shape", str(error)) from None
        known = ~np.isnan(n)
        stats["elements compared"] += int(known.sum())
        stats["elements skipped near a kink"] += int((~known).sum())
        scale = max(float(np.max(np.abs(n[known]), initial=0.0)), 1.0) * 1e-3
        tol = RTOL * np.maximum(np.abs(n), scale) + 1e-8 * (1.0 + abs(value))
        bad = known & ~(np.abs(g - n) <= tol)
        if bad.any():
            raise FuzzFailure(
                "wrong gradient",
                f"argument {i}:\n  got       {np.asarray(g).tolist()!r}\n"
                f"  finite differences {n.tolist()!r}",
            )
    return "checked"


def _describe(program: ArrayProgram, error: BaseException) -> str:
    text = f"--- failing array program ---\n{program}--- error ---\n"
    cause = error.__cause__ or error
    return text + "".join(traceback.format_exception(cause)).rstrip() + "\n"


def test_random_array_programs_gradients_match_finite_differences():
    stats: Counter = Counter()
    outcomes: Counter = Counter()
    kinds: Counter = Counter()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ad_fuzz_arrays_") as tmp:
        directory = Path(tmp)
        for seed in range(FIRST_SEED, FIRST_SEED + EXAMPLES):
            program = generate(seed, OPTIONS)
            try:
                outcome = check_program(program, directory, stats)
            except FuzzFailure as error:
                text = f"=== kind: {error.kind}\n{_describe(program, error)}"
                if not KEEP_GOING:
                    raise AssertionError(text) from None
                kinds[error.kind] += 1
                failures.append(text)
                print(text)
                if FAILURES_DIR:
                    out = Path(FAILURES_DIR)
                    out.mkdir(parents=True, exist_ok=True)
                    slug = re.sub(r"\W+", "_", error.kind)[:60]
                    (out / f"seed_{seed:06d}_{slug}.txt").write_text(text)
                outcome = "failed"
            outcomes[outcome.split(":")[0]] += 1
            if outcome.startswith(("refused", "skipped")):
                stats[outcome] += 1
    print(f"\narray fuzz: options {sorted(OPTIONS)}")
    print(f"array fuzz: {EXAMPLES} programs: {dict(outcomes)}")
    for key, count in sorted(stats.items()):
        print(f"array fuzz:   {key}: {count}")
    print(f"array fuzz: failures by kind: {dict(kinds)}")
    assert not failures, f"{len(failures)} of {EXAMPLES} programs failed; first:\n{failures[0]}"
    # most programs that are not refused (those of pending options are, on main) are checked
    checkable = EXAMPLES - outcomes["refused"]
    assert outcomes["checked"] >= 0.5 * checkable, f"too few programs checked: {dict(outcomes)}"


def test_generated_array_programs_run_with_every_option():
    """The generator writes valid programs whose ``f`` runs with every option on (the
    constructs of issue 12 included), and each construct option is used."""
    assert PENDING_OPTIONS <= CONSTRUCT_OPTIONS <= ALL_OPTIONS
    used: Counter = Counter()
    with tempfile.TemporaryDirectory(prefix="ad_fuzz_arrays_plain_") as tmp:
        for seed in range(200):
            program = generate(seed, ALL_OPTIONS)
            used.update(program.used)
            f = load(program, Path(tmp))
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    value = f(*[np.array(a) for a in program.args])
                except Exception as error:
                    raise AssertionError(f"{type(error).__name__}: {error}\n{program}") from None
            assert np.ndim(value) == 0, f"f returned shape {np.shape(value)}\n{program}"
    assert set(used) >= CONSTRUCT_OPTIONS, sorted(CONSTRUCT_OPTIONS - set(used))
