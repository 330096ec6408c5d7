"""What ``import ad_transform`` costs: ``python -m benchmarks.import_timing``.

Each measurement is a fresh interpreter that imports NumPy and gast first, then times
(CPU time of the process, and wall time) what the statement adds. Byte code is written
and read as on a user's machine (``PYTHONDONTWRITEBYTECODE`` is removed from the
children's environment; a first, unmeasured run writes it). The issue's target: the
import adds at most 50 ms. The first transformation now imports the pipeline, so it is
reported too: the import's cost moved there, it was not removed. Not a test: timings
depend on the machine and its load.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = """
import resource, sys, time
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
import numpy, gast
cpu0, wall0 = cpu(), time.perf_counter()
{statement}
print(1000 * (cpu() - cpu0), 1000 * (time.perf_counter() - wall0))
"""

STATEMENTS = {
    "import ad_transform": "import ad_transform",
    "from ad_transform import grad, jvp, hessian": "from ad_transform import grad, jvp, hessian",
    "import, then grad(f)(2.0) (first transformation)": (
        "from ad_transform import grad\ndef f(x):\n    return x * x\ngrad(f)(2.0)"
    ),
}


def _run(statement: str) -> tuple[float, float]:
    """(CPU ms, wall ms) of ``statement`` in a fresh interpreter after NumPy and gast."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = "1"
    with tempfile.TemporaryDirectory() as folder:  # a file: grad reads f's source
        child = Path(folder, "child.py")
        child.write_text(_CHILD.format(statement=statement))
        done = subprocess.run([sys.executable, str(child)], capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"{statement!r} failed:\n{done.stderr}")
    cpu_ms, wall_ms = map(float, done.stdout.split())
    return cpu_ms, wall_ms


def measure(statement: str, runs: int = 9) -> tuple[float, float]:
    """Medians over ``runs`` fresh interpreters of (CPU ms, wall ms)."""
    _run(statement)  # writes the byte code
    samples = [_run(statement) for _ in range(runs)]
    return (
        statistics.median(s[0] for s in samples),
        statistics.median(s[1] for s in samples),
    )


def main() -> None:
    print(f"{'statement':52} {'CPU ms':>8} {'wall ms':>8}")
    for label, statement in STATEMENTS.items():
        cpu_ms, wall_ms = measure(statement)
        print(f"{label:52} {cpu_ms:8.1f} {wall_ms:8.1f}")


if __name__ == "__main__":
    main()
