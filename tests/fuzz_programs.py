"""Random Python programs for differential fuzzing of ``grad`` (a Hypothesis strategy).

:func:`programs` draws a :class:`Program`: the text of a module that defines a function
``f`` of two or three float arguments (and up to two helper functions ``h0``, ``h1``
that ``f`` and later helpers call), together with a point at which to differentiate
it. The bodies are built from

* assignments, augmented assignments (``+=``, ``-=``, ``*=``, ``/=``) and
  reassignments of parameters and loop-carried variables;
* arithmetic (``+ - * /`` with denominators bounded away from zero, ``** 2``, unary
  ``-``), ``math`` and NumPy elementwise calls on safe domains (``math.sin``,
  ``math.exp`` of a bounded value, ``math.log(1.0 + t * t)``, ``np.tanh``, ...),
  ``abs``/``max``/``min``/``math.hypot`` (kinks), conditional expressions and calls
  of the helpers;
* ``if``/``else`` on computed values, ``for ... in range(k)`` with ``k`` from 0 to 4,
  ``while`` loops with counters (``while n < k``, ``while n < k and <data>``,
  ``while True`` with a counted ``break``), ``break``/``continue``/``return`` under
  conditions, nested up to depth 2.

With ``options`` (``ALL_OPTIONS``), also the constructs of issue 11 (see
docs/architecture/fuzzing.md) and of issue 12 (``CONSTRUCT_OPTIONS``, one option each):

* ``comprehension``: list, generator, dict and set comprehensions in
  ``sum``/``max``/``tuple``, over tuples of values or ``range`` (perhaps empty), with
  ``if`` filters and nested ``for`` clauses, and nested targets over pairs
  (``for i, (t, s) in enumerate(pairs)``, ``for (t, s), i in zip(pairs, range(1, 4))``);
* ``lambda`` and ``closure``: ``fnN = lambda t: ...`` (also with a default ``kk=v``)
  and nested ``def gN(t)`` reading the enclosing function's variables, called at once
  and later in the same block; closures created in a loop (a ``def`` or a lambda with
  a default ``kk=j``, appended to a list) called from a generator or by index;
* ``dict``: ``{"a": ..., "b": ...}`` read by key, ``.get``, ``sum(d.values())``, written
  by key, ``update``, a loop over ``items()``, ``in``;
* ``method``: a module-level ``Model`` class (``predict``, ``energy`` calling
  ``predict``, a property, ``__call__``), objects made inline, kept in a variable or
  read from a list display (their class known only when the call runs),
  attribute reads and writes; an ``Accumulator`` whose methods change its attributes
  (``self.total += v``), updated in branches and loops and read between updates;
* ``try``: ``try``/``except ValueError`` (perhaps ``else``, ``finally``) whose body
  raises (``raise`` or the helper ``guard``) at its first, a middle or its last
  statement on some points;
* ``with``: ``np.errstate``, ``contextlib.nullcontext``, ``warnings.catch_warnings``, a
  user context manager ``Tracker``, ``contextlib.suppress(ValueError)`` around a raise;
* ``match``: value and or-patterns on an int, sequence patterns with a guard on a
  tuple, mapping patterns on a dict; the last case always matches;
* ``starred``: ``s, *r = [...]``, ``s, *r, e = (...)``, then ``sum(r)``, ``r[0]``,
  ``[*r, v]``, ``len(r)``;
* ``list-ops`` (issue 14): an element of ``[a] + [b, c]``, ``(a, b) * 2``,
  ``sorted([...], reverse=...)``, ``list(reversed((...)))``, ``[*[a], *(b, c)]``,
  ``sum([b, c], a)``, or ``sum(set([...]))`` of floats kept apart; with ``grad-call`` a
  helper using them is differentiated twice (the rules of
  ``rules/runtime_twins_containers.py``).

Names bound in a block of these constructs are readable after it only where every path
binds them. Only names assigned on every path are read, so a program never raises
``UnboundLocalError``; a ``while`` loop's counter is incremented before anything that
could ``continue``, so every program terminates. Values can still grow in loops; the
fuzz test skips points where the value is not finite or too large to difference.

Known bugs (each with a regression test in ``test_regressions.py``) can be kept out of
the programs, so that the default fuzz run stays a useful gate while they are open:
``programs(avoid=...)`` takes the names of the patterns to keep out, and
``KNOWN_BUGS`` lists those the fuzz test keeps out by default (none at present). The
one pattern implemented:

* ``"inactive-overwrite"``: a variable, a conditional expression or a returned value
  takes a value that does not depend on the arguments (a constant, a loop index, a
  helper called with constants) where it held one that does (this was the pattern of
  two wrong-gradient bugs in loops, now fixed); with it avoided, every assigned value,
  every branch of a conditional expression, every helper argument and every returned
  value reads a float variable.

The generator renders text directly (no AST round trip), so what the fuzz test reports
is exactly the source that was imported and transformed.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from hypothesis import strategies as st

PARAMS = ("x", "y", "z")
HELPER_PARAMS = ("p", "q")
MAX_DEPTH = 2
# the patterns of open bugs kept out by default (none open now; see the module doc)
KNOWN_BUGS: frozenset[str] = frozenset()

HEADER = "import math\n\nimport numpy as np\n"
HEADER_WITH_FUNCTOOLS = "import functools\nimport math\n\nimport numpy as np\n"

# Constructs of issue 11, each behind an option of ``programs(options=...)`` (see the
# module doc); ``ALL_OPTIONS`` enables them all.
ALL_OPTIONS: frozenset[str] = frozenset(
    {
        "decorated",
        "helper-mutation",
        "alias-augassign",
        "where",
        "float-division",
        "zero-points",
        "grad-call",
        # issue 12 (CONSTRUCT_OPTIONS); test_fuzz.py keeps them out while pending
        "comprehension",
        "lambda",
        "closure",
        "dict",
        "method",
        "try",
        "with",
        "match",
        "starred",
        # issue 14 (ho40a): list, tuple and set operations (second derivatives with grad-call)
        "list-ops",
    }
)
# The constructs of issue 12, each an option of its own (see the module doc).
CONSTRUCT_OPTIONS: frozenset[str] = frozenset(
    {
        "comprehension",
        "lambda",
        "closure",
        "dict",
        "method",
        "try",
        "with",
        "match",
        "starred",
        "list-ops",
    }
)

# Module-level definitions the options of issue 12 use: a small user class ("method"),
# a helper that raises ("try"; "with": ``contextlib.suppress``), a context manager.
MODEL_CLASS = """\
class Model:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def predict(self, t):
        return self.w * t + self.b

    def energy(self, t):
        return self.predict(t) * self.predict(t) + self.b

    @property
    def slope(self):
        return 2.0 * self.w

    def __call__(self, t):
        return math.tanh(self.w * t) + self.b


class Accumulator:
    def __init__(self, start):
        self.total = start
        self.count = 0.0

    def add(self, v):
        self.total += v
        self.count += 1.0

    def scale(self, k):
        self.total = self.total * k
        return self.total + self.count
"""
GUARD_HELPER = """\
def guard(v, limit):
    if v > limit:
        raise ValueError("guard")
    return v
"""
TRACKER_CLASS = """\
class Tracker:
    depth = 0

    def __enter__(self):
        Tracker.depth += 1
        return self

    def __exit__(self, kind, value, traceback):
        Tracker.depth -= 1
        return False
"""
WITH_CONTEXTS = (
    'np.errstate(all="ignore")',
    "contextlib.nullcontext()",
    "warnings.catch_warnings()",
    "Tracker()",
)

# Helpers that write into a list or array their caller owns ("helper-mutation").
MUTATING_HELPERS = """\
def stash(store, v):
    store.append(v)


def stash_pair(store, v):
    store.extend([v, 0.5 * v])


def put(buf, i, v):
    buf[i] = v


def bump(buf, i, v):
    buf[i] += v


def shrink(buf, v):
    buf *= math.cos(v)
"""

# The arithmetic a decorator's wrapper does around the call ("decorated"); ``{call}``
# is ``fn(<params>)``, ``{first}`` the wrapper's first parameter.
WRAPPER_FORMS = (
    "2.0 * {call}",
    "{call} + 1.0",
    "{call} * {first}",
    "math.sin({call})",
    "{call} - 0.5 * {first}",
)

# Divisions on Python floats ("float-division"): denominators that may overflow to
# ``inf`` (``np.exp`` of a large argument) or be any value (a plain quotient).
DIVISION_FORMS = (
    "1.0 / (1.0 + np.exp(-{k} * {a}))",
    "{b} / (1.0 + np.exp({k} * {a}))",
    "{a} / {b}",
    "{b} / (2.0 + np.cos({a}))",
)
# ``np.where`` on Python floats ("where"), including the where-trap forms whose
# unselected branch is nan
WHERE_FORMS = (
    "np.where({a} > {c}, {b}, {d})",
    "np.where({a} >= 0.0, {a}, np.sqrt(-{a}))",
    "np.where({a} > 0.0, np.sqrt({a}), {b})",
    "np.where({a} < {c}, {b} * {b}, np.log(np.abs({a})))",
)
# Forms whose derivative at an exact zero is an edge case ("zero-points")
ZERO_FORMS = (
    "{a} ** 0.0",
    "{a} ** 1.0",
    "math.sqrt({a} * {a} + {b} * {b})",
    "math.sqrt({a} * {a}) ** 2",
    "{a} ** 3",
)
OPTIONAL_FORMS = {"where": WHERE_FORMS, "float-division": DIVISION_FORMS, "zero-points": ZERO_FORMS}

# Unary templates whose argument may be any real number (no domain errors, no overflow
# for bounded arguments). ``{a}`` is the argument, parenthesised where needed.
UNARY_CALLS = (
    "math.sin({a})",
    "math.cos({a})",
    "math.tanh({a})",
    "math.atan({a})",
    "math.exp(math.sin({a}))",
    "math.exp(-{a} * {a})",
    "math.log(1.0 + {a} * {a})",
    "math.sqrt(1.0 + {a} * {a})",
    "np.tanh({a})",
    "np.sin({a})",
    "np.cos({a})",
    "np.arctan({a})",
    "np.exp(np.tanh({a}))",
    "np.log1p({a} * {a})",
    "abs({a})",
)
# Calls whose result is bounded whatever the argument: the factors of ``*=``.
BOUNDED_CALLS = (
    "math.sin({a})",
    "math.cos({a})",
    "math.tanh({a})",
    "np.tanh({a})",
    "math.exp(-{a} * {a})",
    "np.cos({a})",
)
BINARY_CALLS = ("max({a}, {b})", "min({a}, {b})", "math.hypot({a}, {b})")
CONSTANTS = st.integers(-200, 200).map(lambda k: k / 100.0)
POSITIVE_CONSTANTS = st.integers(50, 300).map(lambda k: k / 100.0)


@dataclass
class Program:
    """A generated module: its text, the function to differentiate and a point."""

    source: str
    arity: int
    point: tuple[float, ...]
    name: str = "f"
    used: frozenset[str] = frozenset()  # the options whose constructs the text uses

    def __repr__(self) -> str:  # what Hypothesis prints for a falsifying example
        return f"Program(point={self.point!r}, source=\n{self.source})"


class _Expr(NamedTuple):
    text: str
    atomic: bool  # needs no parentheses as an operand
    reads_var: bool  # reads a float variable (a value that depends on the arguments)

    @property
    def operand(self) -> str:
        return self.text if self.atomic else f"({self.text})"


@dataclass
class _Scope:
    """What a statement at some place in a function body may use."""

    readable: list[str]  # float variables assigned on every path to here
    ints: list[str]  # loop indices and counters in scope (ints, read-only)
    assignable: list[str]  # names that may be (re)assigned
    helpers: list[tuple[str, int]]  # callable helpers (name, arity)
    # lists and arrays created at the top level of ``f`` (name, "list" or "array");
    # shared by all child scopes (they are only created at depth 0)
    containers: list[tuple[str, str]] = field(default_factory=list)
    in_loop: bool = False
    depth: int = 0
    fresh: itertools.count = field(default_factory=itertools.count)
    # issue 12: local functions (lambdas, nested defs), dicts (keys "a" and "b" always
    # present), Model objects, lists from starred unpacking (name, length); made in a
    # block, they are dropped after it
    functions: list[str] = field(default_factory=list)
    dicts: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    seqs: list[tuple[str, int]] = field(default_factory=list)
    accumulators: list[str] = field(default_factory=list)  # Accumulator objects
    guarded: bool = False  # in a try or with body (no attribute-changing method calls)

    def child(self, **changes) -> _Scope:
        values = {
            "readable": list(self.readable),
            "ints": list(self.ints),
            "assignable": list(self.assignable),
            "helpers": self.helpers,
            "containers": self.containers,
            "in_loop": self.in_loop,
            "depth": self.depth,
            "fresh": self.fresh,
            "functions": list(self.functions),
            "dicts": list(self.dicts),
            "objects": list(self.objects),
            "seqs": list(self.seqs),
            "accumulators": list(self.accumulators),
            "guarded": self.guarded,
        }
        values.update(changes)
        return _Scope(**values)


class _Writer:
    """Renders one function body from Hypothesis draws."""

    def __init__(
        self,
        draw,
        local_prefix: str,
        avoid: frozenset[str],
        options: frozenset[str] = frozenset(),
        containers: bool = False,
        used: set[str] | None = None,
    ) -> None:
        self.used = set() if used is None else used
        self.draw = draw
        self.local_prefix = local_prefix
        self.avoid = avoid
        self.options = options
        self.containers = containers  # may create and write lists and arrays (only f)
        self.lines: list[str] = []

    # -- expressions ---------------------------------------------------------------------
    def constant(self) -> _Expr:
        value = self.draw(CONSTANTS)
        return _Expr(repr(value), value >= 0, False)

    def variable(self, scope: _Scope) -> _Expr:
        return _Expr(self.draw(st.sampled_from(scope.readable)), True, True)

    def leaf(self, scope: _Scope) -> _Expr:
        choice = self.draw(st.integers(0, 9))
        if choice <= 1 or not scope.readable:
            return self.constant()
        if choice == 2 and scope.ints:
            return _Expr(self.draw(st.sampled_from(scope.ints)), True, False)
        return self.variable(scope)

    def value(self, scope: _Scope, budget: int = 2) -> _Expr:
        """An expression stored or returned: it reads a variable where that is asked."""
        e = self.expr(scope, budget)
        if "inactive-overwrite" in self.avoid and not e.reads_var and scope.readable:
            v = self.variable(scope)
            e = _Expr(f"{e.operand} + {v.text}", False, True)
        return e

    def expr(self, scope: _Scope, budget: int = 2) -> _Expr:
        """An expression of at most ``budget`` levels of operations."""
        if budget <= 0 or not self.draw(st.integers(0, 2)):
            return self.leaf(scope)
        extra = self._optional_expr(scope, budget)
        if extra is not None:
            return extra
        extra = self._construct_expr(scope, budget)
        if extra is not None:
            return extra
        kind = self.draw(st.integers(0, 10))
        if kind <= 3:  # binary arithmetic
            op = self.draw(st.sampled_from(["+", "-", "*", "/"]))
            a, b = self.expr(scope, budget - 1), self.expr(scope, budget - 1)
            reads = a.reads_var or b.reads_var
            if op == "/":  # a denominator of at least c > 0
                c = self.draw(POSITIVE_CONSTANTS)
                return _Expr(f"{a.operand} / ({c!r} + {b.operand} * {b.operand})", False, reads)
            return _Expr(f"{a.operand} {op} {b.operand}", False, reads)
        if kind <= 6:
            template = self.draw(st.sampled_from(UNARY_CALLS))
            a = self.expr(scope, budget - 1)
            return _Expr(
                template.format(a=a.operand if "*" in template else a.text), True, a.reads_var
            )
        if kind == 7:
            a = self.expr(scope, budget - 1)
            form = self.draw(st.sampled_from(["-{a}", "{a} ** 2"]))
            return _Expr(form.format(a=a.operand), False, a.reads_var)
        if kind == 8:
            template = self.draw(st.sampled_from(BINARY_CALLS))
            a, b = self.expr(scope, budget - 1), self.expr(scope, budget - 1)
            return _Expr(template.format(a=a.text, b=b.text), True, a.reads_var or b.reads_var)
        if kind == 9 and scope.helpers:
            name, arity = self.draw(st.sampled_from(scope.helpers))
            args = [self.value(scope, budget - 1) for _ in range(arity)]
            text = f"{name}({', '.join(a.text for a in args)})"
            return _Expr(text, True, any(a.reads_var for a in args))
        a, b = self.value(scope, budget - 1), self.value(scope, budget - 1)
        return _Expr(
            f"{a.text} if {self.condition(scope)} else {b.text}",
            False,
            a.reads_var and b.reads_var,
        )

    def _optional_expr(self, scope: _Scope, budget: int) -> _Expr | None:
        """Sometimes a form of an enabled option (``where``, divisions, zero edges)."""
        forms = []
        for option, templates in OPTIONAL_FORMS.items():
            if option in self.options:
                forms += [(option, t) for t in templates]
        if not forms or self.draw(st.integers(0, 3)):
            return None
        option, template = self.draw(st.sampled_from(forms))
        self.used.add(option)
        a, b = self.expr(scope, budget - 1), self.expr(scope, budget - 1)
        d = self.expr(scope, budget - 1)
        k = self.draw(st.sampled_from([1.0, 50.0, 800.0]))
        text = template.format(
            a=a.operand, b=b.operand, d=d.operand, c=self.constant().operand, k=k
        )
        return _Expr(f"({text})", True, a.reads_var or b.reads_var or d.reads_var)

    def condition(self, scope: _Scope) -> str:
        a = self.expr(scope, 1)
        op = self.draw(st.sampled_from([">", "<"]))
        b = self.constant() if self.draw(st.booleans()) else self.leaf(scope)
        text = f"{a.operand} {op} {b.operand}"
        extra = self.draw(st.integers(0, 5))
        if extra == 0:
            return f"not {text}"
        if extra == 1:
            c = self.leaf(scope)
            joiner = self.draw(st.sampled_from(["and", "or"]))
            return f"{text} {joiner} {c.operand} > {self.constant().operand}"
        return text

    # -- statements ----------------------------------------------------------------------
    def emit(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def block(self, scope: _Scope, indent: int, size: int) -> None:
        """``size`` statements (at least one line is always emitted)."""
        start = len(self.lines)
        for _ in range(size):
            self.statement(scope, indent)
        if len(self.lines) == start:
            self.emit(indent, "pass")

    def statement(self, scope: _Scope, indent: int) -> None:
        kinds = ["assign", "assign", "assign", "augassign"]
        if scope.depth < MAX_DEPTH:
            kinds += ["if", "for", "for", "while"]
        if scope.in_loop:
            kinds += ["break", "continue"]
        kinds += ["return"]
        if self.containers:
            if scope.depth == 0:
                kinds += ["container_new", "container_new"]
            if scope.containers:
                kinds += ["container_write"] * 3 + ["container_read"] * 2
        kinds += self._construct_statements(scope)
        kind = self.draw(st.sampled_from(kinds))
        getattr(self, f"stmt_{kind}")(scope, indent)

    def stmt_assign(self, scope: _Scope, indent: int) -> None:
        if scope.assignable and self.draw(st.booleans()):
            target = self.draw(st.sampled_from(scope.assignable))
        else:
            target = f"{self.local_prefix}{next(scope.fresh)}"
        self.emit(indent, f"{target} = {self.value(scope).text}")
        if target not in scope.assignable:
            scope.assignable.append(target)
        if target not in scope.readable:
            scope.readable.append(target)

    def stmt_augassign(self, scope: _Scope, indent: int) -> None:
        candidates = [n for n in scope.assignable if n in scope.readable]
        if not candidates:
            return self.stmt_assign(scope, indent)
        target = self.draw(st.sampled_from(candidates))
        op = self.draw(st.sampled_from(["+=", "-=", "*=", "/="]))
        value = self.expr(scope, 2)
        if op == "*=":  # a bounded factor, so that loops do not overflow
            text = self.draw(st.sampled_from(BOUNDED_CALLS)).format(a=value.operand)
        elif op == "/=":
            text = f"{self.draw(POSITIVE_CONSTANTS)!r} + {value.operand} ** 2"
        else:
            text = value.text
        self.emit(indent, f"{target} {op} {text}")
        return None

    def stmt_if(self, scope: _Scope, indent: int) -> None:
        self.emit(indent, f"if {self.condition(scope)}:")
        inner = scope.child(depth=scope.depth + 1)
        self.block(inner, indent + 1, self.draw(st.integers(1, 2)))
        assigned = inner.readable
        if self.draw(st.integers(0, 3)):
            self.emit(indent, "else:")
            other = scope.child(depth=scope.depth + 1)
            self.block(other, indent + 1, self.draw(st.integers(1, 2)))
            assigned = [n for n in assigned if n in other.readable]
        else:
            assigned = scope.readable
        self._join(scope, inner, assigned)

    def _join(self, scope: _Scope, inner: _Scope, readable: list[str]) -> None:
        """After a compound statement: names assigned on every path stay readable."""
        for name in readable:
            if name not in scope.readable:
                scope.readable.append(name)
        for name in inner.assignable:
            if name not in scope.assignable and name in scope.readable:
                scope.assignable.append(name)

    def stmt_for(self, scope: _Scope, indent: int) -> None:
        index = f"i{scope.depth}"  # reused by later loops at the same depth
        count = self.draw(st.integers(0, 4))
        self.emit(indent, f"for {index} in range({count}):")
        inner = scope.child(depth=scope.depth + 1, in_loop=True, ints=[*scope.ints, index])
        self.block(inner, indent + 1, self.draw(st.integers(1, 3)))
        self._join(scope, inner, scope.readable)  # the body may run zero times

    def stmt_while(self, scope: _Scope, indent: int) -> None:
        counter = f"n{scope.depth}"
        count = self.draw(st.integers(0, 4))
        self.emit(indent, f"{counter} = 0")
        form = self.draw(st.integers(0, 2))
        if form == 0:
            self.emit(indent, f"while {counter} < {count}:")
        elif form == 1:
            self.emit(indent, f"while {counter} < {count} and ({self.condition(scope)}):")
        else:
            self.emit(indent, "while True:")
            self.emit(indent + 1, f"if {counter} >= {count}:")
            self.emit(indent + 2, "break")
        self.emit(indent + 1, f"{counter} += 1")
        inner = scope.child(depth=scope.depth + 1, in_loop=True, ints=[*scope.ints, counter])
        self.block(inner, indent + 1, self.draw(st.integers(1, 3)))
        self._join(scope, inner, scope.readable)

    # -- lists and arrays (options "helper-mutation" and "alias-augassign") ------------
    def stmt_container_new(self, scope: _Scope, indent: int) -> None:
        """A new list or array at the top level of ``f``, perhaps with an alias."""
        n = next(scope.fresh)
        kinds = ["array"] + (["list"] if "helper-mutation" in self.options else [])
        kind = self.draw(st.sampled_from(kinds))
        name = f"{kind[0]}{n}"
        if kind == "list":
            self.emit(indent, f"{name} = [{self.value(scope).text}]")
        else:
            form = self.draw(st.integers(0, 2))
            if form == 0:
                items = ", ".join(self.value(scope, 1).text for _ in range(3))
                self.emit(indent, f"{name} = np.array([{items}])")
            elif form == 1:
                self.emit(indent, f"{name} = {self.value(scope, 1).operand} * np.ones(3)")
            else:
                self.emit(indent, f"{name} = np.zeros(3)")
        scope.containers.append((name, kind))
        self.used.add("helper-mutation" if kind == "list" else "alias-augassign")
        if "alias-augassign" in self.options and self.draw(st.booleans()):
            self.used.add("alias-augassign")
            alias = f"{name}_alias"
            self.emit(indent, f"{alias} = {name}")
            scope.containers.append((alias, kind))
            if self.draw(st.integers(0, 2)):  # mostly: a write through one name at once
                self.stmt_container_write(scope, indent)

    def stmt_container_write(self, scope: _Scope, indent: int) -> None:
        """A write into a list or array: through a helper, ``+=``, an item write."""
        name, kind = self.draw(st.sampled_from(scope.containers))
        value = self.value(scope, 1)
        forms = []
        if "helper-mutation" in self.options:
            if kind == "list":
                forms += ["stash({c}, {v})", "stash_pair({c}, {v})"]
            else:
                forms += ["put({c}, {i}, {v})", "bump({c}, {i}, {v})", "shrink({c}, {v})"]
        if "alias-augassign" in self.options:
            if kind == "list":
                forms += ["{c}.append({v})", "{c} += [{v}]"]
            else:
                forms += [
                    "{c} += {v}",
                    "{c} -= {v}",
                    "{c} *= np.cos({v})",
                    "{c}[{i}] += {v}",
                    "{c}[{i}] = {v}",
                ]
        index = self.draw(st.integers(0, 2))
        template = self.draw(st.sampled_from(forms))
        helper = template.split("(")[0] in ("stash", "stash_pair", "put", "bump", "shrink")
        self.used.add("helper-mutation" if helper else "alias-augassign")
        operand = value.text if "({v})" in template or ", {v})" in template else value.operand
        self.emit(indent, template.format(c=name, i=index, v=operand))

    def _container_item(self, scope: _Scope) -> str:
        name, kind = self.draw(st.sampled_from(scope.containers))
        if kind == "list":
            return self.draw(st.sampled_from([f"{name}[0]", f"{name}[-1]", f"sum({name})"]))
        index = self.draw(st.integers(0, 2))
        return self.draw(st.sampled_from([f"{name}[{index}]", f"np.sum({name})"]))

    def stmt_container_read(self, scope: _Scope, indent: int) -> None:
        target = f"{self.local_prefix}{next(scope.fresh)}"
        item = self._container_item(scope)
        if self.draw(st.booleans()):
            item = f"{item} * {self.variable(scope).operand}"
        self.emit(indent, f"{target} = {item}")
        scope.assignable.append(target)
        scope.readable.append(target)

    # -- the constructs of issue 12 (options "comprehension" ... "starred") -------------
    def _construct_expr(self, scope: _Scope, budget: int) -> _Expr | None:
        """Sometimes an expression of an enabled issue-12 option (no draw when none is)."""
        forms = []
        if "comprehension" in self.options:
            forms.append("comprehension")
        if "list-ops" in self.options:
            forms.append("list_ops")
        if scope.functions:
            forms.append("call_local")
        if scope.dicts:
            forms.append("dict_read")
        if "method" in self.options:
            forms.append("method_call")
        if scope.seqs:
            forms.append("seq_read")
        if scope.accumulators:
            forms.append("accumulator_read")
        if not forms or self.draw(st.integers(0, 4)):
            return None
        form = self.draw(st.sampled_from(forms))
        return getattr(self, f"expr_{form}")(scope, budget)

    def _fresh(self, scope: _Scope, stem: str) -> str:
        return f"{stem}{next(scope.fresh)}"

    def _with_variable(self, scope: _Scope, name: str, budget: int) -> _Expr:
        """An expression that reads the (float) variable ``name`` (and ``scope``'s)."""
        inner = scope.child(readable=[*scope.readable, name, name])
        e = self.expr(inner, budget)
        if re.search(rf"\b{name}\b", e.text):
            return e
        op = self.draw(st.sampled_from(["*", "+", "-"]))
        return _Expr(f"{name} {op} {e.operand}", False, True)

    def _call_now(self, scope: _Scope, indent: int, name: str) -> None:
        """Mostly: a new variable bound to a call of the local function ``name``."""
        if self.draw(st.integers(0, 2)):
            target = self._fresh(scope, self.local_prefix)
            self.emit(indent, f"{target} = {name}({self.value(scope, 1).text})")
            self._bind(scope, target)

    def expr_comprehension(self, scope: _Scope, budget: int) -> _Expr:
        self.used.add("comprehension")
        t = self._fresh(scope, "t")
        items = [self.value(scope, 1) for _ in range(self.draw(st.integers(1, 3)))]
        over = f"({', '.join(e.text for e in items)},)"
        body = self._with_variable(scope, t, budget - 1)
        reads = body.reads_var or any(e.reads_var for e in items)
        form = self.draw(st.integers(0, 10))
        if form == 0:
            text = f"sum([{body.text} for {t} in {over}])"
        elif form == 1:
            text = f"sum({body.text} for {t} in {over} if {t} > {self.constant().operand})"
        elif form == 2:
            text = f"max([{body.text} for {t} in {over}])"
        elif form == 3:  # over range, perhaps empty
            j = self._fresh(scope, "j")
            inner = scope.child(ints=[*scope.ints, j])
            term = self.expr(inner, budget - 1)
            reads = term.reads_var
            count = self.draw(st.integers(0, 3))
            text = f"sum([{term.operand} * {j} for {j} in range({count})])"
        elif form == 4:  # nested for clauses
            s = self._fresh(scope, "t")
            inner = scope.child(readable=[*scope.readable, t, s])
            term = self.expr(inner, budget - 1)
            text = f"sum({term.text} for {t} in {over} for {s} in ({t}, 0.5 * {t}))"
            reads = reads or term.reads_var
        elif form == 5:  # a dict comprehension
            text = f"sum({{k: {body.text} for k, {t} in enumerate({over})}}.values())"
        elif form == 6:  # a tuple of a generator, indexed
            text = f"tuple({body.text} for {t} in {over})[0]"
        elif form in (9, 10):  # nested targets: enumerate / zip over pairs (issue 13, F2)
            s, i = self._fresh(scope, "t"), self._fresh(scope, "i")
            inner = scope.child(readable=[*scope.readable, t, s])
            term = self.expr(inner, budget - 1)
            seconds = [self.value(scope, 1) for _ in items]
            pairs = ", ".join(f"({a.text}, {b.text})" for a, b in zip(items, seconds))
            if form == 9:
                target, source = f"{i}, ({t}, {s})", f"enumerate(({pairs},))"
            else:
                target, source = f"({t}, {s}), {i}", f"zip(({pairs},), range(1, 4))"
            text = f"sum({term.operand} * ({i} + 1) for {target} in {source})"
            reads = reads or term.reads_var or any(e.reads_var for e in seconds)
        else:  # a set comprehension (float: a 0-d array, which np.where gives, is not
            # hashable). Members are kept apart by their position: where two coincide (z + z
            # and z - z + z at z = 0) the set keeps one, a tie whose derivative is a
            # convention, like max at a tie, and not a kink finite differences can see.
            k = f"k{t}"
            text = f"sum({{float({body.text}) + 0.001 * {k} for {k}, {t} in enumerate({over})}})"
        return _Expr(text, True, reads)

    def expr_list_ops(self, scope: _Scope, budget: int) -> _Expr:
        """An element of a list or tuple joined, repeated, sorted, reversed, summed onto a
        start, or of a set (issue 14: their helpers' second derivatives, with
        ``grad-call``). Set members are kept apart as in ``expr_comprehension``."""
        self.used.add("list-ops")
        items = [self.value(scope, 1) for _ in range(self.draw(st.integers(2, 3)))]
        texts = [e.text for e in items]
        reads = any(e.reads_var for e in items)
        n = len(texts)
        k = self.draw(st.integers(0, n - 1))
        form = self.draw(st.integers(0, 6))
        if form == 0:  # a + b of lists
            text = f"([{texts[0]}] + [{', '.join(texts[1:])}])[{k}]"
        elif form == 1:  # a tuple repeated
            text = f"(({', '.join(texts)},) * 2)[{k + n}]"
        elif form == 2:  # sorted, perhaps reversed
            reverse = self.draw(st.booleans())
            text = f"sorted([{', '.join(texts)}], reverse={reverse})[{k}]"
        elif form == 3:  # builtin sum onto a start
            text = f"sum([{', '.join(texts[1:])}], {texts[0]})"
        elif form == 4:  # list() of a tuple, reversed
            text = f"list(reversed(({', '.join(texts)},)))[{k}]"
        elif form == 5:  # starred parts joined: [*s, *t]
            text = f"[*[{texts[0]}], *({', '.join(texts[1:])},)][{k}]"
        else:  # a set of floats, summed
            members = ", ".join(f"float({t}) + 0.001 * {i}" for i, t in enumerate(texts))
            text = f"sum(set([{members}]))"
        return _Expr(text, True, reads)

    def expr_call_local(self, scope: _Scope, budget: int) -> _Expr:
        name = self.draw(st.sampled_from(scope.functions))
        arg = self.value(scope, budget - 1)
        return _Expr(f"{name}({arg.text})", True, True)

    def expr_dict_read(self, scope: _Scope, budget: int) -> _Expr:
        name = self.draw(st.sampled_from(scope.dicts))
        form = self.draw(st.sampled_from(['{d}["a"]', '{d}["b"]', '{d}.get("c", {c})']))
        form = self.draw(st.sampled_from([form, "sum({d}.values())", "{d}.get('a', 0.0)"]))
        return _Expr(form.format(d=name, c=self.constant().operand), True, True)

    def expr_method_call(self, scope: _Scope, budget: int) -> _Expr:
        self.used.add("method")
        arg = self.value(scope, budget - 1)
        method = self.draw(
            st.sampled_from([".predict({a})", ".energy({a})", ".slope", "({a})", ".w"])
        ).format(a=arg.text)
        if scope.objects and self.draw(st.booleans()):
            return _Expr(self.draw(st.sampled_from(scope.objects)) + method, True, True)
        w, b = self.value(scope, budget - 1), self.value(scope, budget - 1)
        if method != ".slope" and self.draw(st.integers(0, 3)) == 0:
            # an item of a list: its class is known only when the call runs (dispatch.py)
            k = self.draw(st.integers(0, 1))
            items = f"[Model({w.text}, {b.text}), Model({b.text}, {w.text})]"
            return _Expr(f"{items}[{k}]{method}", True, True)
        return _Expr(f"Model({w.text}, {b.text}){method}", True, True)

    def expr_accumulator_read(self, scope: _Scope, budget: int) -> _Expr:
        name = self.draw(st.sampled_from(scope.accumulators))
        e = self.value(scope, budget - 1)
        form = self.draw(st.sampled_from(["{a}.total", "{a}.total * {e}", "{a}.count * {e}"]))
        return _Expr(form.format(a=name, e=e.operand), True, True)

    def expr_seq_read(self, scope: _Scope, budget: int) -> _Expr:
        name, length = self.draw(st.sampled_from(scope.seqs))
        forms = ["sum({r})", "sum([*{r}, {e}])", "len({r}) * {e}"]
        if length:
            forms += ["{r}[0]", "{r}[-1]"]
        e = self.value(scope, budget - 1)
        return _Expr(self.draw(st.sampled_from(forms)).format(r=name, e=e.operand), False, True)

    def _construct_statements(self, scope: _Scope) -> list[str]:
        """The statement kinds of the enabled issue-12 options (none: no kinds)."""
        kinds = []
        nested = scope.depth < MAX_DEPTH
        for option, kind, needs_depth in (
            ("lambda", "lambda_def", False),
            ("closure", "closure_def", False),
            ("closure", "closure_loop", False),
            ("method", "accumulator_new", False),
            ("dict", "dict_new", False),
            ("method", "object_new", False),
            ("starred", "starred", False),
            ("try", "try", True),
            ("with", "with", True),
            ("match", "match", True),
        ):
            if option in self.options and (nested or not needs_depth):
                kinds += [kind, kind]  # a program with the option mostly uses it
        if scope.dicts:
            kinds.append("dict_write")
        if scope.objects:
            kinds.append("object_write")
        if scope.accumulators and not scope.guarded:
            kinds += ["accumulator_update"] * 4
        return kinds

    def _bind(self, scope: _Scope, name: str) -> None:
        for names in (scope.readable, scope.assignable):
            if name not in names:
                names.append(name)

    def stmt_lambda_def(self, scope: _Scope, indent: int) -> None:
        self.used.add("lambda")
        name, t = self._fresh(scope, "fn"), self._fresh(scope, "t")
        body = self._with_variable(scope, t, 2)
        if scope.readable and self.draw(st.integers(0, 3)) == 0:  # a default captured now
            k = self.variable(scope).text
            inner = scope.child(readable=[t, "kk"])
            body = self.expr(inner, 2)
            self.emit(indent, f"{name} = lambda {t}, kk={k}: {body.text}")
        else:
            self.emit(indent, f"{name} = lambda {t}: {body.text}")
        scope.functions.append(name)
        self._call_now(scope, indent, name)

    def stmt_closure_def(self, scope: _Scope, indent: int) -> None:
        """A nested ``def`` reading the enclosing function's variables (and calling the
        local functions made before it)."""
        self.used.add("closure")
        name, t, c = self._fresh(scope, "g"), self._fresh(scope, "t"), self._fresh(scope, "c")
        inner = scope.child(readable=[*scope.readable, t], depth=MAX_DEPTH)
        self.emit(indent, f"def {name}({t}):")
        self.emit(indent + 1, f"{c} = {self.value(inner, 2).text}")
        if self.draw(st.booleans()):
            self.emit(indent + 1, f"if {self.condition(inner)}:")
            self.emit(indent + 2, f"{c} = {c} * {self.value(inner, 1).operand}")
        inner.readable.append(c)
        self.emit(indent + 1, f"return {self._with_variable(inner, c, 2).text}")
        scope.functions.append(name)
        self._call_now(scope, indent, name)

    def stmt_closure_loop(self, scope: _Scope, indent: int) -> None:
        """Closures created in a loop: a lambda or ``def`` with the default ``kk=j`` (the
        loop's value), appended to a list, then called from a generator or by index."""
        self.used.add("closure")
        name, j, t = self._fresh(scope, "fs"), self._fresh(scope, "j"), self._fresh(scope, "t")
        count = self.draw(st.integers(0, 3))
        self.emit(indent, f"{name} = []")
        self.emit(indent, f"for {j} in range({count}):")
        inner = scope.child(readable=[*scope.readable, t, "kk"], depth=MAX_DEPTH)
        body = self._with_variable(inner, t, 2)
        if self.draw(st.booleans()):
            self.emit(indent + 1, f"{name}.append(lambda {t}, kk={j}: {body.text} * kk)")
        else:
            g = self._fresh(scope, "g")
            self.emit(indent + 1, f"def {g}({t}, kk={j}):")
            self.emit(indent + 2, f"return {body.text} + kk")
            self.emit(indent + 1, f"{name}.append({g})")
        target = self._fresh(scope, self.local_prefix)
        f = self._fresh(scope, "f")
        arg = self.value(scope, 1)
        if count and self.draw(st.booleans()):
            self.emit(indent, f"{target} = {name}[{count - 1}]({arg.text})")
        else:
            self.emit(indent, f"{target} = sum({f}({arg.text}) for {f} in {name})")
        self._bind(scope, target)

    def stmt_accumulator_new(self, scope: _Scope, indent: int) -> None:
        self.used.add("method")
        name = self._fresh(scope, "acc")
        self.emit(indent, f"{name} = Accumulator({self.value(scope, 1).text})")
        scope.accumulators.append(name)

    def stmt_accumulator_update(self, scope: _Scope, indent: int) -> None:
        """A method that changes the object's attributes, or a store into one."""
        name = self.draw(st.sampled_from(scope.accumulators))
        e = self.value(scope, 1)
        form = self.draw(st.integers(0, 3))
        if form == 0:
            self.emit(indent, f"{name}.add({e.text})")
        elif form == 1:
            target = self._fresh(scope, self.local_prefix)
            self.emit(indent, f"{target} = {name}.scale({e.text})")
            self._bind(scope, target)
        elif form == 2:
            self.emit(indent, f"{name}.total += {e.operand}")
        else:
            self.emit(indent, f"{name}.total = {name}.total * {e.operand}")

    def stmt_dict_new(self, scope: _Scope, indent: int) -> None:
        self.used.add("dict")
        name = self._fresh(scope, "d")
        a, b = self.value(scope, 1), self.value(scope, 1)
        self.emit(indent, f'{name} = {{"a": {a.text}, "b": {b.text}}}')
        scope.dicts.append(name)
        if self.draw(st.booleans()):
            target = self._fresh(scope, self.local_prefix)
            self.emit(indent, f"{target} = {self.expr_dict_read(scope, 1).text}")
            self._bind(scope, target)

    def stmt_dict_write(self, scope: _Scope, indent: int) -> None:
        name = self.draw(st.sampled_from(scope.dicts))
        e = self.value(scope, 1)
        form = self.draw(
            st.sampled_from(
                [
                    '{d}["a"] = {e}',
                    '{d}["b"] = {d}["b"] * {e}',
                    '{d}["c"] = {e}',
                    '{d}.update({{"a": {e}}})',
                    "for key, item in {d}.items():\n{pad}    {d}[key] = item * {e}",
                    'if "c" in {d}:\n{pad}    {d}["a"] = {d}["c"] + {e}',
                ]
            )
        )
        self.emit(indent, form.format(d=name, e=e.operand, pad="    " * indent))

    def stmt_object_new(self, scope: _Scope, indent: int) -> None:
        self.used.add("method")
        name = self._fresh(scope, "m")
        w, b = self.value(scope, 1), self.value(scope, 1)
        self.emit(indent, f"{name} = Model({w.text}, {b.text})")
        scope.objects.append(name)

    def stmt_object_write(self, scope: _Scope, indent: int) -> None:
        name = self.draw(st.sampled_from(scope.objects))
        attribute = self.draw(st.sampled_from(["w", "b"]))
        e = self.value(scope, 1)
        self.emit(indent, f"{name}.{attribute} = {name}.{attribute} + {e.operand}")

    def stmt_starred(self, scope: _Scope, indent: int) -> None:
        self.used.add("starred")
        length = self.draw(st.integers(1, 4))
        items = ", ".join(self.value(scope, 1).text for _ in range(length))
        first, rest = self._fresh(scope, "s"), self._fresh(scope, "r")
        bracket = self.draw(st.sampled_from(["[{}]", "({},)"])).format(items)
        if length >= 2 and self.draw(st.booleans()):
            last = self._fresh(scope, "e")
            self.emit(indent, f"{first}, *{rest}, {last} = {bracket}")
            self._bind(scope, last)
            scope.seqs.append((rest, length - 2))
        else:
            self.emit(indent, f"{first}, *{rest} = {bracket}")
            scope.seqs.append((rest, length - 1))
        self._bind(scope, first)

    def _raising(self, scope: _Scope, indent: int) -> None:
        """A statement that raises ``ValueError`` on some points (a raise or a helper's)."""
        e = self.value(scope, 1)
        limit = self.constant().operand
        if self.draw(st.booleans()):
            target = self._fresh(scope, self.local_prefix)
            self.emit(indent, f"{target} = guard({e.text}, {limit})")
            self._bind(scope, target)
        else:
            self.emit(indent, f"if {e.operand} > {limit}:")
            self.emit(indent + 1, 'raise ValueError("too large")')

    def stmt_try(self, scope: _Scope, indent: int) -> None:
        """``try`` whose body raises at its first, a middle or its last statement (or
        not), caught by ``except ValueError``; perhaps ``else`` and ``finally``."""
        self.used.add("try")
        self.emit(indent, "try:")
        body = scope.child(depth=scope.depth + 1, guarded=True)
        before, after = self.draw(st.integers(0, 2)), self.draw(st.integers(0, 1))
        for _ in range(before):
            self.statement(body, indent + 1)
        self._raising(body, indent + 1)
        for _ in range(after):
            self.statement(body, indent + 1)
        self.emit(indent, "except ValueError:")
        self.block(scope.child(depth=scope.depth + 1), indent + 1, self.draw(st.integers(1, 2)))
        if self.draw(st.integers(0, 2)) == 0:
            self.emit(indent, "else:")
            self.block(body, indent + 1, 1)  # after the whole body: its names are bound
        if self.draw(st.integers(0, 2)) == 0:
            self.emit(indent, "finally:")
            final = scope.child(depth=MAX_DEPTH, in_loop=False)
            self.stmt_assign(final, indent + 1)  # no break/continue/return in finally
            self._join(scope, final, final.readable)
        # after the statement: only what was bound before (the body may have stopped)

    def stmt_with(self, scope: _Scope, indent: int) -> None:
        self.used.add("with")
        if self.draw(st.integers(0, 3)) == 0:  # the body may stop at its raise
            self.emit(indent, "with contextlib.suppress(ValueError):")
            body = scope.child(depth=scope.depth + 1, guarded=True)
            for _ in range(self.draw(st.integers(0, 1))):
                self.statement(body, indent + 1)
            self._raising(body, indent + 1)
            for _ in range(self.draw(st.integers(0, 1))):
                self.statement(body, indent + 1)
            return
        context = self.draw(st.sampled_from(WITH_CONTEXTS))
        if context.startswith("warnings"):
            self.emit(indent, f"with {context}:")
            self.emit(indent + 1, 'warnings.simplefilter("ignore")')
        else:
            self.emit(indent, f"with {context}:")
        body = scope.child(depth=scope.depth + 1, guarded=True)
        self.block(body, indent + 1, self.draw(st.integers(1, 2)))
        self._join(scope, body, body.readable)  # the body ran whole (or left f or loop)

    def stmt_match(self, scope: _Scope, indent: int) -> None:
        """``match`` on an int (value and or-patterns), a tuple (sequence patterns with a
        guard) or a dict (mapping patterns); the last case always matches."""
        self.used.add("match")
        form = self.draw(st.integers(0, 2))
        cases: list[tuple[str, list[str]]] = []  # (pattern, names it binds)
        if form == 0:
            subject = self.draw(st.sampled_from(scope.ints)) if scope.ints else None
            if subject is None:
                subject = f"int({self.condition(scope)})"
            self.emit(indent, f"match {subject}:")
            cases = [("0", []), ("1 | 2", []), ("_", [])]
        else:
            a, b = self._fresh(scope, "k"), self._fresh(scope, "k")
            guard = f"{a} > {b}"
            if form == 1:
                items = f"({self.value(scope, 1).text}, {self.value(scope, 1).text})"
                self.emit(indent, f"match {items}:")
                cases = [(f"({a}, {b}) if {guard}", [a, b]), (f"[{a}, {b}]", [a, b])]
            else:
                w, v = self.value(scope, 1), self.value(scope, 1)
                self.emit(indent, f'match {{"w": {w.text}, "b": {v.text}}}:')
                cases = [
                    (f'{{"w": {a}, "b": {b}}} if {guard}', [a, b]),
                    (f'{{"w": {a}}}', [a]),
                ]
        common: list[str] | None = None
        for pattern, names in cases:
            self.emit(indent + 1, f"case {pattern}:")
            inner = scope.child(depth=scope.depth + 1, readable=[*scope.readable, *names])
            self.block(inner, indent + 2, self.draw(st.integers(1, 2)))
            bound = [n for n in inner.readable if n not in names]
            common = bound if common is None else [n for n in common if n in bound]
        self._join(scope, scope.child(), common or [])

    def stmt_break(self, scope: _Scope, indent: int) -> None:
        self.emit(indent, f"if {self.condition(scope)}:")
        self.emit(indent + 1, "break")

    def stmt_continue(self, scope: _Scope, indent: int) -> None:
        self.emit(indent, f"if {self.condition(scope)}:")
        self.emit(indent + 1, "continue")

    def stmt_return(self, scope: _Scope, indent: int) -> None:
        if self.draw(st.integers(0, 2)):  # mostly: no early return here
            return self.stmt_assign(scope, indent)
        self.emit(indent, f"if {self.condition(scope)}:")
        self.emit(indent + 1, f"return {self.value(scope).text}")
        return None

    def final_return(self, scope: _Scope) -> None:
        terms = self.draw(
            st.lists(st.sampled_from(scope.readable), min_size=1, max_size=3, unique=True)
        )
        if scope.containers and self.draw(st.integers(0, 3)):
            terms.append(self._container_item(scope))
        gradient_functions = [name for name, _ in scope.helpers if name.startswith("dh")]
        if gradient_functions and self.draw(st.booleans()):
            name = self.draw(st.sampled_from(gradient_functions))
            terms.append(f"{name}({self.variable(scope).text})")
        self.emit(1, f"return {' + '.join(terms)} + {self.expr(scope, 1).operand}")


def _function(
    draw,
    name: str,
    params,
    helpers,
    local_prefix: str,
    avoid,
    options: frozenset[str] = frozenset(),
    containers: bool = False,
    used: set[str] | None = None,
) -> str:
    used = set() if used is None else used
    writer = _Writer(draw, local_prefix, avoid, options, containers, used)
    scope = _Scope(readable=list(params), ints=[], assignable=list(params), helpers=list(helpers))
    writer.block(scope, 1, draw(st.integers(1, 5)))
    writer.final_return(scope)
    text = f"def {name}({', '.join(params)}):\n" + "\n".join(writer.lines) + "\n"
    if "decorated" in options and draw(st.integers(0, 2)) == 0:
        used.add("decorated")
        text = _decorated(draw, name, params, text)
    return text


def _decorated(draw, name: str, params, text: str) -> str:
    """``text`` (a function) behind a decorator whose wrapper does its own arithmetic."""
    wrapper_params = ", ".join(f"w{i}" for i in range(len(params)))
    form = draw(st.sampled_from(WRAPPER_FORMS))
    body = form.format(call=f"fn({wrapper_params})", first="w0")
    wraps = "    @functools.wraps(fn)\n" if draw(st.integers(0, 3)) else ""
    decorator = (
        f"def deco_{name}(fn):\n{wraps}    def wrapper({wrapper_params}):\n"
        f"        return {body}\n\n    return wrapper\n\n\n"
    )
    return f"{decorator}@deco_{name}\n{text}"


@st.composite
def programs(
    draw,
    avoid: frozenset[str] = KNOWN_BUGS,
    max_helpers: int = 2,
    options: frozenset[str] = frozenset(),
) -> Program:
    """A module defining ``f`` (2 or 3 float arguments), its helpers, and a point.

    ``avoid`` names the known bugs whose patterns are kept out, ``options`` the
    optional constructs put in (see the module doc and ``ALL_OPTIONS``).
    """
    unknown = set(options) - ALL_OPTIONS
    assert not unknown, f"unknown fuzz options {sorted(unknown)}"
    arity = draw(st.integers(2, 3))
    used: set[str] = set()
    helpers: list[tuple[str, int]] = []
    parts = [HEADER_WITH_FUNCTOOLS if "decorated" in options else HEADER]
    if "grad-call" in options:
        parts[0] += "\nfrom ad_transform import grad\n"
    if "helper-mutation" in options:
        parts.append(MUTATING_HELPERS)
    if "with" in options:
        parts[0] = "import contextlib\n" + parts[0].replace(
            "import math\n", "import math\nimport warnings\n"
        )
    if "method" in options:
        parts.append(MODEL_CLASS)
    if {"try", "with"} & options:
        parts.append(GUARD_HELPER)
    if "with" in options:
        parts.append(TRACKER_CLASS)
    for k in range(draw(st.integers(0, max_helpers))):
        helper_arity = draw(st.integers(1, 2))
        params = HELPER_PARAMS[:helper_arity]
        parts.append(_function(draw, f"h{k}", params, helpers, "u", avoid, options, False, used))
        helpers.append((f"h{k}", helper_arity))
        if "grad-call" in options and helper_arity == 1 and draw(st.booleans()):
            # a gradient function called by f: a second derivative, or a refusal
            parts.append(f"dh{k} = grad(h{k})\n")
            helpers.append((f"dh{k}", 1))
            used.add("grad-call")
    containers = bool({"helper-mutation", "alias-augassign"} & options)
    parts.append(
        _function(draw, "f", PARAMS[:arity], helpers, "v", avoid, options, containers, used)
    )
    # Points in [-2, 2], off the 'round' numbers of the two-decimal constants, so that
    # exact ties in conditions (where finite differences cannot see a kink) are unlikely.
    point = tuple(
        draw(st.integers(-2000, 2000)) / 1000.0 + 0.000123456789 * (i + 1) for i in range(arity)
    )
    if "zero-points" in options:  # some coordinates exactly 0.0 or 1.0
        point = tuple(draw(st.sampled_from([v, v, v, v, v, 0.0, 1.0, -1.0])) for v in point)
        if any(v in (0.0, 1.0, -1.0) for v in point):
            used.add("zero-points")
    return Program("\n\n".join(parts), arity, point, used=frozenset(used))


_counter = itertools.count()


def load(program: Program, directory: Path):
    """Write ``program`` to a new module file in ``directory``, import it, return ``f``.

    Each module gets a name of its own (never reused in a process), so ``inspect`` and
    ``linecache`` read exactly this text.
    """
    name = f"fuzz_program_{os.getpid()}_{next(_counter)}"
    path = directory / f"{name}.py"
    path.write_text(program.source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return getattr(module, program.name)
