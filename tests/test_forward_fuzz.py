"""Differential fuzzing of forward mode: ``jvp`` against reverse mode on random programs.

Each program of the array fuzzer (``fuzz_arrays.generate``: ufuncs with broadcasting,
reductions, shape operations, indexing, branches, item writes in loops, lists, helpers,
comprehensions, objects, ``match``, ``try``...) is differentiated both ways at its
arguments: ``jvp`` with random non-uniform directions ``u`` must give the function's value
and ``<grad f, u>`` from ``value_and_grad`` (rtol 1e-8 of the terms' scale). A program
reverse mode refuses is skipped; a refusal of forward mode (``ADTransformError``) is
counted by message, not a failure; any other exception is a failure. Seeds are
``AD_FUZZ_FORWARD_SEED`` (0) onwards, ``AD_FUZZ_FORWARD_EXAMPLES`` (20) of them.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from fuzz_arrays import generate, load

from ad_transform import ADTransformError, jvp, value_and_grad

EXAMPLES = int(os.environ.get("AD_FUZZ_FORWARD_EXAMPLES", "20"))
FIRST_SEED = int(os.environ.get("AD_FUZZ_FORWARD_SEED", "0"))


def test_jvp_equals_reverse_mode_on_random_programs():
    refusals: Counter = Counter()
    failures, compared = [], 0
    with tempfile.TemporaryDirectory() as directory, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(FIRST_SEED, FIRST_SEED + EXAMPLES):
            program = generate(seed)
            f = load(program, Path(directory))
            args = program.args
            wrt = tuple(range(len(args)))
            try:
                value, gradients = value_and_grad(f, wrt=wrt)(*args)
            except ADTransformError:
                continue
            if not np.isfinite(value) or abs(value) > 1e8:
                continue
            rng = np.random.default_rng(seed)
            directions = tuple(rng.standard_normal(np.shape(a)) for a in args)
            try:
                forward_value, tangent = jvp(f, wrt=wrt)(args, directions)
            except ADTransformError as error:
                refusals[str(error).splitlines()[0].split(": ", 1)[-1][:80]] += 1
                continue
            except Exception as error:  # a crash of the generated code
                failures.append(f"seed {seed}: {error!r}\n{program}")
                continue
            terms = [g * u for g, u in zip(gradients, directions, strict=True)]
            reverse = sum(float(np.sum(t)) for t in terms)
            scale = sum(float(np.sum(np.abs(t))) for t in terms)
            if forward_value != value:
                failures.append(f"seed {seed}: value {forward_value!r} != {value!r}\n{program}")
            elif not abs(tangent - reverse) <= 1e-8 * (1.0 + scale):
                failures.append(f"seed {seed}: tangent {tangent!r}, reverse {reverse!r}\n{program}")
            else:
                compared += 1
    print(f"\n{compared} programs compared; forward-mode refusals: {dict(refusals)}")
    assert not failures, "\n\n".join(failures[:3])
    assert compared >= EXAMPLES // 2
