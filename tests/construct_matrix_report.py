"""Print the construct matrix per family: which entries pass, are refused or fail.

    PYTHONPATH=. python tests/construct_matrix_report.py [-v]

``-v`` lists every entry with its outcome (a failure with its first line); the
default lists only the entries that are refused or fail. The same checks as
``tests/test_construct_matrix.py`` (``check_entry``), without the ``NOT_YET`` marks.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from construct_matrix import MATRIX
from test_construct_matrix import NOT_YET, outcome, summary


def main(argv: list[str]) -> int:
    """Run every entry and print the summary; the exit status is 1 if any is wrong."""
    verbose = "-v" in argv
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, entry in MATRIX.items():
            results[name] = outcome(entry)
            if verbose or results[name] != "pass":
                mark = " (NOT_YET)" if name in NOT_YET else ""
                print(f"{entry.family:15s} {name:40s} {results[name]}{mark}")
    print(summary(results))
    wrong = [n for n, r in results.items() if r.startswith("fail")]
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
