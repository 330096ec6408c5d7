"""Random NumPy array programs for differential fuzzing of ``value_and_grad``.

:func:`generate` draws (from a seed, deterministically) an :class:`ArrayProgram`: the
text of a module defining ``f`` of two or three float64 arrays (shapes from ``()``,
``(3,)``, ``(2, 3)``, ``(3, 1)``, ``(1, 3)``), up to two helper functions ``h0``,
``h1``, and module-level weight arrays ``W0``, ``W1``, ...; ``f`` returns
``np.sum(W0 * v) + np.sum(W1 * u) + ...`` for its arrays, with random,
non-uniform weights, so that an adjoint that is transposed, reversed or summed on the
wrong axis shows. The generator knows the shape of every expression it writes, so
every program runs; what it draws from:

* ``ufunc``: unary ufuncs on safe domains and ``+ - * /`` (denominators ``1 + b*b``),
  ``np.maximum``/``np.minimum``/``np.hypot``, with broadcasting between shapes;
* ``reduce``: ``sum``/``mean``/``max``/``min``/``prod`` with ``axis`` and ``keepdims``
  (function and method forms);
* ``shape``: ``reshape``, ``transpose``/``.T``, ``swapaxes``, ``flip``, ``roll``,
  ``tile``, ``concatenate``, ``stack``, ``expand_dims``, ``squeeze``, ``cumsum``,
  ``diagonal``;
* ``index``: basic slices, integer items, fancy indexes (with repeats), boolean masks
  (inside a reduction);
* ``contract``: ``einsum``, ``@``/``np.matmul``, ``np.dot``, ``np.outer``;
* ``where``: ``np.where`` with broadcasting;
* ``branch``: ``if`` on reduced values (``np.sum(v) > c``, ``v[0] > c``);
* ``loop-writes``: item and slice writes (``=``, ``+=``, ``*=``) inside ``for`` loops
  into arrays ``f`` created;
* ``write-into-results``: the arrays written in loops are also results of
  ``np.stack``/``np.concatenate``/``np.where``/reductions/``cumsum``/``einsum``/
  ``outer``/``tile``/``roll``/``astype``, fancy-index reads (else ``np.zeros``,
  ``v * 1.0``, ``np.copy``, ``.copy()``, ``np.array``);
* ``list-stack``: a list filled in a loop, then ``np.stack``/``np.array``/``sum``;
* ``helpers``: helper functions with array parameters;
* ``helper-writes``: a helper that writes into an array its caller created;
* ``partial-output``: the output weighs only some of the latest names (else every
  name bound at the end of ``f``), so some values are used only on paths not taken
  (their adjoint stays zero);
* ``overwrite``: a variable overwritten (in a branch or a loop) without reading its
  old value (the old value's adjoint is zero);
* ``zero-trip``: loops of zero iterations (lists and buffers filled only in them);
* ``alias``: an array written in a loop also has a second name (read later), and a
  name may be assigned another array name (else such an assignment copies);
* ``nested-writes``: arrays written in loops and lists stacked may also be created
  inside a branch or a loop body (else only at the top level of a function);
* ``writes-in-helpers``: helpers also create, write and stack arrays and lists;
* ``self-view-write``: ``b[:] = b``, ``b[::-1] = b`` (a write of an array into a view
  of itself);
* ``repeated-index-write``: ``b[[0, 0]] += e``, ``b[[0, 1, 0]] = e`` (fancy writes
  with a repeated index).

The constructs of issue 12 (``CONSTRUCT_OPTIONS``), each an option too:

* ``comprehension``: ``np.array([... for r in v])``, ``np.stack(...)``, ``sum(... for r
  in v if ...)`` (with a start, so an empty one keeps its shape), ``zip`` of two arrays,
  ``np.stack([... for j in range(k)])``, ``sum({float(...) for e in v})`` (a set of the
  elements of a vector);
* ``lambda``, ``closure``: local functions of one array (a ``lambda``, a nested ``def``
  with a local), reading the enclosing function's arrays, called in expressions; closures
  created in a loop (a lambda with the default ``kk=j`` appended to a list), called from
  a generator or by index;
* ``dict``: ``{"a": ..., "b": ...}`` read by key or ``.get``, written by key, ``update``;
* ``method``: a module-level ``Affine`` class (``__call__``, ``apply``, a property),
  objects made inline or kept in a variable; a ``Moments`` object whose methods change
  its attributes (``self.total = self.total + v``), updated and read between updates;
* ``try``: ``try``/``except ValueError`` (perhaps ``finally``) whose body raises on a
  reduced value at its first, a middle or its last statement;
* ``with``: ``np.errstate``, ``nullcontext``, ``catch_warnings``, ``suppress`` around a
  raise;
* ``match``: ``match int(<condition>)`` with a wildcard, a tuple with a guarded sequence
  pattern;
* ``starred``: ``s, *rest = [...]`` then ``np.stack([*rest, s])`` or ``sum(rest, s)``.

Each group is an option of :func:`generate`; ``ALL_OPTIONS`` has them all. Only names
bound on every path are read, and a name keeps its shape on every path, so a program
never raises by itself (values can overflow: the fuzz test skips those points).
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import fuzz_programs
import numpy as np

ALL_OPTIONS: frozenset[str] = frozenset(
    {
        "ufunc",
        "reduce",
        "shape",
        "index",
        "contract",
        "where",
        "branch",
        "loop-writes",
        "list-stack",
        "helpers",
        "helper-writes",
        "overwrite",
        "zero-trip",
        "self-view-write",
        "repeated-index-write",
        "write-into-results",
        "partial-output",
        "alias",
        "nested-writes",
        "writes-in-helpers",
        # issue 12 (CONSTRUCT_OPTIONS); test_fuzz_arrays.py keeps them out while pending
        "comprehension",
        "lambda",
        "closure",
        "dict",
        "method",
        "try",
        "with",
        "match",
        "starred",
    }
)
# The constructs of issue 12, each an option of its own (see the module doc).
CONSTRUCT_OPTIONS: frozenset[str] = frozenset(
    {"comprehension", "lambda", "closure", "dict", "method", "try", "with", "match", "starred"}
)

SHAPES: tuple[tuple[int, ...], ...] = ((), (3,), (2, 3), (3, 1), (1, 3))
PARAMS = ("x", "y", "z")

UNARY = (
    "np.sin({a})",
    "np.cos({a})",
    "np.tanh({a})",
    "np.arctan({a})",
    "np.exp(np.tanh({a}))",
    "np.log1p({a} * {a})",
    "np.sqrt(1.0 + {a} * {a})",
    "np.square({a})",
    "np.abs({a})",
    "-{a}",
    "{a} ** 2",
    "2.0 * {a}",
)
BINARY = ("+", "-", "*", "/")
BINARY_CALLS = ("np.maximum({a}, {b})", "np.minimum({a}, {b})", "np.hypot({a}, {b})")
REDUCTIONS = ("sum", "mean", "max", "min", "prod")

# a small user class ("method")
AFFINE_CLASS = """\
class Affine:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def __call__(self, t):
        return self.w * t + self.b

    def apply(self, t):
        return np.tanh(self.w * t) + self.b

    @property
    def scale(self):
        return np.sum(self.w * self.w)


class Moments:
    def __init__(self, start):
        self.total = start
        self.count = 0.0

    def add(self, v):
        self.total = self.total + v
        self.count += 1.0

    def rescale(self, k):
        self.total = self.total * k
        return np.sum(self.total) + self.count
"""

HELPER_WRITERS = """\
def put(buf, i, v):
    buf[i] = v


def bump(buf, i, v):
    buf[i] += v
"""


@dataclass
class ArrayProgram:
    """A generated module, the arguments to differentiate at, and its options."""

    source: str
    args: tuple[np.ndarray, ...]
    seed: int
    used: frozenset[str] = frozenset()
    name: str = "f"

    def __str__(self) -> str:
        shapes = ", ".join(str(a.shape) for a in self.args)
        args = ", ".join(f"np.array({a.tolist()!r})" for a in self.args)
        return f"# seed {self.seed}, argument shapes {shapes}\n{self.source}\n# args: ({args},)\n"


class Expr(NamedTuple):
    text: str
    shape: tuple[int, ...]
    atomic: bool = True

    @property
    def operand(self) -> str:
        return self.text if self.atomic else f"({self.text})"


def broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """The broadcast shape of ``a`` and ``b``, or None where they do not broadcast."""
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        return None


@dataclass
class _Helper:
    name: str
    params: tuple[tuple[int, ...], ...]
    returns: tuple[int, ...]


@dataclass
class _Writer:
    """Writes one function body; knows the shape of every readable name."""

    rng: random.Random
    options: frozenset[str]
    used: set[str]
    names: dict[str, tuple[int, ...]]
    helpers: list[_Helper]
    prefix: str = "v"
    lines: list[str] = field(default_factory=list)
    fresh: itertools.count = field(default_factory=itertools.count)
    depth: int = 0
    # issue 12: local functions, dicts (key -> shape), Affine objects (-> shape); those
    # made in a nested block are dropped after it
    local_fns: list[_Helper] = field(default_factory=list)
    dicts: dict[str, dict[str, tuple[int, ...]]] = field(default_factory=dict)
    objects: dict[str, tuple[int, ...]] = field(default_factory=dict)
    moments: dict[str, tuple[int, ...]] = field(default_factory=dict)  # -> total's shape
    guarded: int = 0  # inside a try or with body: no attribute-changing method calls

    def on(self, option: str) -> bool:
        return option in self.options

    def use(self, option: str) -> None:
        self.used.add(option)

    def new_name(self, stem: str | None = None) -> str:
        return f"{stem or self.prefix}{next(self.fresh)}"

    def emit(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    # -- expressions ---------------------------------------------------------------------
    def constant(self) -> Expr:
        value = self.rng.randint(-150, 150) / 100.0
        return Expr(repr(value), (), value >= 0)

    def variable(self, shape: tuple[int, ...] | None = None) -> Expr | None:
        names = [n for n, s in self.names.items() if shape is None or s == shape]
        if not names:
            return None
        name = self.rng.choice(names)
        return Expr(name, self.names[name])

    def leaf(self) -> Expr:
        if self.rng.random() < 0.12:
            return self.constant()
        return self.variable()

    def expr(self, depth: int = 2) -> Expr:
        """Any expression of at most ``depth`` levels; its shape is known."""
        if depth <= 0 or self.rng.random() < 0.25:
            return self.leaf()
        kinds = [
            k for k in ("ufunc", "reduce", "shape", "index", "contract", "where") if self.on(k)
        ]
        if self.on("helpers") and self.helpers:
            kinds.append("helpers")
        kinds += [k for k in ("comprehension", "method") if self.on(k)]
        if self.local_fns:
            kinds.append("local_fn")
        if self.dicts:
            kinds.append("dict_read")
        if self.moments:
            kinds.append("moments_read")
        if not kinds:
            return self.leaf()
        kind = self.rng.choice(kinds + ["ufunc"] * ("ufunc" in kinds))
        made = getattr(self, "expr_" + kind.replace("-", "_"))(depth)
        if made is None:
            return self.leaf()
        if kind in ALL_OPTIONS:
            self.use(kind)
        return made

    def expr_ufunc(self, depth: int) -> Expr:
        a = self.expr(depth - 1)
        choice = self.rng.random()
        if choice < 0.4:
            template = self.rng.choice(UNARY)
            text = template.format(
                a=a.operand if "{a} " in template or " {a}" in template else a.text
            )
            if template.startswith("-") or "**" in template or template.startswith("2.0"):
                return Expr(text, a.shape, False)
            return Expr(text, a.shape)
        b = self.expr(depth - 1)
        shape = broadcast(a.shape, b.shape)
        if shape is None:
            b = self.constant()
            shape = a.shape
        if choice < 0.85:
            op = self.rng.choice(BINARY)
            if op == "/":
                return Expr(f"{a.operand} / (1.0 + {b.operand} * {b.operand})", shape, False)
            return Expr(f"{a.operand} {op} {b.operand}", shape, False)
        template = self.rng.choice(BINARY_CALLS)
        return Expr(template.format(a=a.text, b=b.text), shape)

    def expr_reduce(self, depth: int) -> Expr:
        a = self.expr(depth - 1)
        name = self.rng.choice(REDUCTIONS)
        if not a.shape or self.rng.random() < 0.3:
            return Expr(f"np.{name}({a.text})", ())
        axis = self.rng.randrange(-1, len(a.shape))
        keepdims = self.rng.random() < 0.3
        shape = list(a.shape)
        if keepdims:
            shape[axis] = 1
        else:
            del shape[axis]
        extra = ", keepdims=True" if keepdims else ""
        if self.rng.random() < 0.3:
            return Expr(f"{a.operand}.{name}(axis={axis}{extra})", tuple(shape))
        return Expr(f"np.{name}({a.text}, axis={axis}{extra})", tuple(shape))

    def expr_shape(self, depth: int) -> Expr | None:
        a = self.expr(depth - 1)
        s, nd, rng = a.shape, len(a.shape), self.rng
        forms: list[Expr] = []
        size = int(np.prod(s)) if s else 1
        if nd:
            forms.append(Expr(f"np.reshape({a.text}, (-1,))", (size,)))
            axis = rng.randrange(nd)
            forms.append(Expr(f"np.flip({a.text}, axis={axis})", s))
            forms.append(Expr(f"np.roll({a.text}, {rng.choice([1, -1, 2])}, axis={axis})", s))
            forms.append(Expr(f"np.cumsum({a.text}, axis={axis})", s))
            forms.append(Expr(f"np.expand_dims({a.text}, {axis})", s[:axis] + (1,) + s[axis:]))
            forms.append(Expr(f"np.tile({a.text}, 2)", s[:-1] + (2 * s[-1],)))
            other = self.variable(s)
            if other is not None:
                cat = s[:axis] + (2 * s[axis],) + s[axis + 1 :]
                forms.append(Expr(f"np.concatenate([{a.text}, {other.text}], axis={axis})", cat))
                forms.append(Expr(f"np.stack([{a.text}, {other.text}])", (2, *s)))
        if nd == 2:
            forms.append(Expr(f"{a.operand}.T", s[::-1]))
            forms.append(Expr(f"np.transpose({a.text})", s[::-1]))
            forms.append(Expr(f"np.swapaxes({a.text}, 0, 1)", s[::-1]))
            forms.append(Expr(f"np.diagonal({a.text})", (min(s),)))
            if size == 6:
                forms.append(Expr(f"{a.operand}.reshape(3, 2)", (3, 2)))
            if 1 in s:
                forms.append(Expr(f"np.squeeze({a.text})", tuple(d for d in s if d != 1)))
        if nd == 1 and s[0] == 3:
            forms.append(Expr(f"np.reshape({a.text}, (3, 1))", (3, 1)))
        if nd == 0:
            forms.append(Expr(f"np.reshape({a.text}, (1,))", (1,)))
        return rng.choice(forms)

    def expr_index(self, depth: int) -> Expr | None:
        a = self.variable() if self.rng.random() < 0.6 else self.expr(depth - 1)
        s, rng = a.shape, self.rng
        if not s:
            return None
        n = s[0]
        forms = [
            Expr(f"{a.operand}[{rng.randrange(n)}]", s[1:]),
            Expr(f"{a.operand}[::-1]", s),
        ]
        if n > 1:
            forms.append(Expr(f"{a.operand}[1:]", (n - 1, *s[1:])))
            forms.append(Expr(f"{a.operand}[:-1]", (n - 1, *s[1:])))
        index = [rng.randrange(n) for _ in range(rng.randint(1, 4))]
        forms.append(Expr(f"{a.operand}[{index!r}]", (len(index), *s[1:])))
        forms.append(Expr(f"{a.operand}[np.array({index!r})]", (len(index), *s[1:])))
        forms.append(Expr(f"np.sum({a.operand}[{a.operand} > {self.constant().text}])", ()))
        if len(s) == 2:
            j = rng.randrange(s[1])
            forms.append(Expr(f"{a.operand}[:, {j}]", (n,)))
            forms.append(Expr(f"{a.operand}[..., ::-1]", s))
            forms.append(Expr(f"{a.operand}[None, :, {j}]", (1, n)))
        return rng.choice(forms)

    def expr_contract(self, depth: int) -> Expr | None:
        vecs = [n for n, s in self.names.items() if len(s) == 1]
        mats = [n for n, s in self.names.items() if len(s) == 2]
        rng, forms = self.rng, []
        for m in mats:
            ms = self.names[m]
            for v in vecs:
                if self.names[v][0] == ms[1]:
                    forms.append(Expr(f"{m} @ {v}", (ms[0],), False))
                    forms.append(Expr(f"np.einsum('ij,j->i', {m}, {v})", (ms[0],)))
                if self.names[v][0] == ms[0]:
                    forms.append(Expr(f"np.dot({v}, {m})", (ms[1],)))
            for m2 in mats:
                m2s = self.names[m2]
                if m2s == ms:
                    forms.append(Expr(f"np.einsum('ij,ij->', {m}, {m2})", ()))
                    forms.append(Expr(f"np.matmul({m}, {m2}.T)", (ms[0], ms[0])))
                    forms.append(Expr(f"np.einsum('ij,kj->ik', {m}, {m2})", (ms[0], ms[0])))
            forms.append(Expr(f"np.einsum('ij->ji', {m})", ms[::-1]))
        for v in vecs:
            for w in vecs:
                forms.append(Expr(f"np.outer({v}, {w})", (self.names[v][0], self.names[w][0])))
                if self.names[v] == self.names[w]:
                    forms.append(Expr(f"np.dot({v}, {w})", ()))
        return rng.choice(forms) if forms else None

    def expr_where(self, depth: int) -> Expr:
        a, b = self.expr(depth - 1), self.expr(depth - 1)
        shape = broadcast(a.shape, b.shape)
        if shape is None:
            b, shape = self.constant(), a.shape
        c = self.constant()
        return Expr(f"np.where({a.operand} > {c.operand}, {a.text}, {b.text})", shape)

    def expr_helpers(self, depth: int) -> Expr:
        helper = self.rng.choice(self.helpers)
        args = [self.of_shape(s, depth - 1).text for s in helper.params]
        return Expr(f"{helper.name}({', '.join(args)})", helper.returns)

    def of_shape(self, shape: tuple[int, ...], depth: int = 2) -> Expr:
        """An expression of exactly ``shape`` (broadcast up or reduced where needed)."""
        for _ in range(3):
            e = self.expr(depth)
            if e.shape == shape:
                return e
            if broadcast(e.shape, shape) == shape and self.rng.random() < 0.5:
                partner = self.variable(shape)
                if partner is not None:
                    return Expr(f"{e.operand} * {partner.operand}", shape, False)
        v = self.variable(shape)
        if v is not None:
            return v
        e = self.expr(depth - 1)
        total = f"np.sum({e.text})"
        return Expr(f"{total} * np.ones({shape!r})", shape, False) if shape else Expr(total, ())

    # -- statements ----------------------------------------------------------------------
    def block(self, indent: int, size: int) -> None:
        start = len(self.lines)
        for _ in range(size):
            self.statement(indent)
        if len(self.lines) == start:
            self.emit(indent, "pass")

    def statement(self, indent: int) -> None:
        kinds = ["assign", "assign", "update"]
        # arrays and lists created in a nested block only with "nested-writes"
        top = self.depth == 0 or self.on("nested-writes")
        if self.depth < 2:
            if self.on("branch"):
                kinds += ["if", "if"]
            kinds += ["for"]
            if self.on("loop-writes") and top:
                kinds += ["loop_writes", "loop_writes"]
            if self.on("list-stack") and top:
                kinds += ["list_stack"]
            if self.on("overwrite"):
                kinds += ["overwrite_pair"]
        kinds += self._construct_statements()
        getattr(self, "stmt_" + self.rng.choice(kinds))(indent)

    def unaliased(self, e: Expr) -> Expr:
        """``e``, made a new array where it is a bare name (unless ``alias`` is on)."""
        if e.text.isidentifier() and e.shape and not self.on("alias"):
            return Expr(f"{e.text} * 1.0", e.shape, False)
        if e.text.isidentifier() and e.shape:
            self.use("alias")
        return e

    def stmt_assign(self, indent: int) -> None:
        e = self.unaliased(self.expr(2))
        name = self.new_name()
        self.emit(indent, f"{name} = {e.text}")
        self.names[name] = e.shape

    def stmt_update(self, indent: int) -> None:
        """A name reassigned, reading its old value unless ``overwrite`` is on."""
        target = self.variable()
        e = self.of_shape(target.shape, 2)
        if self.on("overwrite") and self.rng.random() < 0.4:
            self.use("overwrite")
            self.emit(indent, f"{target.text} = {self.unaliased(e).text}")
            return
        form = self.rng.choice(
            ["{t} = {t} + {e}", "{t} = {t} * np.cos({x})", "{t} = np.tanh({t}) - {e}"]
        )
        self.emit(indent, form.format(t=target.text, e=e.operand, x=e.text))

    def stmt_overwrite_pair(self, indent: int) -> None:
        """A new name, then overwritten in a branch or a loop without reading it."""
        self.use("overwrite")
        e = self.expr(2)
        name = self.new_name()
        self.emit(indent, f"{name} = {e.text}")
        if self.rng.random() < 0.6:
            self.emit(indent, f"if {self.condition()}:")
        else:
            self.emit(indent, f"for i{self.depth} in range({self.trip_count()}):")
        self.names[name] = e.shape
        self.emit(indent + 1, f"{name} = {self.unaliased(self.of_shape(e.shape, 2)).text}")

    def _inner(self, indent: int, size: int) -> None:
        """A nested block: names first bound in it are not readable after it."""
        before = self._save()
        self.depth += 1
        self.block(indent, size)
        self.depth -= 1
        self._restore(before)

    def _save(self) -> tuple:
        """What a nested block may add to: names, local functions, dicts, objects."""
        return (
            dict(self.names),
            list(self.local_fns),
            dict(self.dicts),
            dict(self.objects),
            dict(self.moments),
        )

    def _restore(self, saved: tuple) -> None:
        """After a nested block: only what was bound before it is readable."""
        self.names, self.local_fns, self.dicts, self.objects, self.moments = (
            dict(saved[0]),
            list(saved[1]),
            dict(saved[2]),
            dict(saved[3]),
            dict(saved[4]),
        )

    def condition(self) -> str:
        e = self.expr(1)
        c = self.constant()
        if e.shape and self.rng.random() < 0.3:
            item = ", ".join("0" for _ in e.shape)
            return f"{e.operand}[{item}] > {c.operand}"
        reducer = self.rng.choice(["np.sum", "np.max", "np.mean"])
        return f"{reducer}({e.text}) {self.rng.choice(['>', '<'])} {c.operand}"

    def stmt_if(self, indent: int) -> None:
        self.use("branch")
        self.emit(indent, f"if {self.condition()}:")
        self._inner(indent + 1, self.rng.randint(1, 2))
        if self.rng.random() < 0.5:
            self.emit(indent, "else:")
            self._inner(indent + 1, self.rng.randint(1, 2))

    def trip_count(self, low: int = 1, high: int = 3) -> int:
        if self.on("zero-trip") and self.rng.random() < 0.2:
            self.use("zero-trip")
            return 0
        return self.rng.randint(low, high)

    def stmt_for(self, indent: int) -> None:
        index = f"i{self.depth}"
        self.emit(indent, f"for {index} in range({self.trip_count()}):")
        self._inner(indent + 1, self.rng.randint(1, 2))

    def fresh_array(self, shape: tuple[int, ...]) -> str:
        """An expression for a new array of ``shape`` that ``f`` owns."""
        v = self.variable(shape)
        forms = [f"np.zeros({shape!r})", f"{self.of_shape(shape, 1).operand} * 1.0"]
        if v is not None:
            forms += [f"np.copy({v.text})", f"{v.text}.copy()", f"np.array({v.text})"]
        if not self.on("write-into-results"):
            return self.rng.choice(forms)
        self.use("write-into-results")
        forms = []
        if v is not None:
            forms += [f"{v.text}.astype(float)"]
            forms += [f"np.where({v.text} > 0.0, {v.text}, 0.5 * {v.text})"]
            forms += [f"np.cumsum({v.text}, axis=0)", f"np.roll({v.text}, 1, axis=0)"]
            forms += [f"{v.text}[{list(range(shape[0]))[::-1]!r}]"]  # a fancy-index read
        if len(shape) == 2:
            row = self.variable(shape[1:])
            if row is not None and shape[0] == 2:
                forms += [f"np.stack([{row.text}, 2.0 * {row.text}])"]
            if row is not None:
                forms += [f"np.tile({row.text}, ({shape[0]}, 1))"]
            col = self.variable((shape[0],))
            if col is not None and row is not None:
                forms += [f"np.outer({col.text}, {row.text})"]
        if len(shape) == 1:
            m = [n for n, s in self.names.items() if len(s) == 2 and s[1] == shape[0]]
            if m:
                forms += [f"np.sum({self.rng.choice(m)}, axis=0)"]
            if shape[0] == 3:
                vec = self.variable((3,))
                if vec is not None:
                    forms += [f"np.concatenate([{vec.text}[:1], {vec.text}[1:]])"]
                    forms += [f"np.einsum('i,i->i', {vec.text}, {vec.text})"]
        return self.rng.choice(forms or [f"np.zeros({shape!r})"])

    def stmt_loop_writes(self, indent: int) -> None:
        """A new array ``f`` owns, written item by item (or by slices) in a loop."""
        shapes = [s for s in set(self.names.values()) if s] or [(3,)]
        shape = self.rng.choice(shapes)
        buf = self.new_name("b")
        self.emit(indent, f"{buf} = {self.fresh_array(shape)}")
        self.use("loop-writes")
        self._note_where_created()
        if self.on("alias") and self.rng.random() < 0.5:  # a second name, read later
            self.use("alias")
            alias = self.new_name("alias")
            self.emit(indent, f"{alias} = {buf}")
            self.names[alias] = shape
        n = shape[0]
        index = f"i{self.depth}"
        self.emit(indent, f"for {index} in range({self.trip_count(1, n) if n > 0 else 0}):")
        self.names[buf] = shape
        item = self.of_shape(shape[1:], 1)
        forms = ["{b}[{i}] = {e}", "{b}[{i}] += {e}", "{b}[{i}] *= np.cos({x})"]
        if n > 1:
            forms += ["{b}[1:] = {b}[:-1] * 0.5 + {b}[1:]", "{b}[{i}] = {b}[{i}] - {e}"]
        if self.on("helper-writes"):
            forms += ["put({b}, {i}, {x})", "bump({b}, {i}, {x})"]
        if self.on("self-view-write"):
            forms += ["{b}[:] = {b}", "{b}[::-1] = {b}"]
        if self.on("repeated-index-write") and n > 1:
            forms += ["{b}[[0, 0]] += {e}", "{b}[[0, 1, 0]] = {b}[[1, 0, 1]] * 2.0"]
        form = self.rng.choice(forms)
        for option, marker in (
            ("helper-writes", "put("),
            ("helper-writes", "bump("),
            ("self-view-write", "{b}[:] = {b}"),
            ("self-view-write", "{b}[::-1] = {b}"),
            ("repeated-index-write", "[[0, "),
        ):
            if marker in form:
                self.use(option)
        self.emit(indent + 1, form.format(b=buf, i=index, e=item.operand, x=item.text))
        if self.rng.random() < 0.5:
            before = self._save()
            self.depth += 1
            self.statement(indent + 1)
            self.depth -= 1
            self._restore(before)

    def _note_where_created(self) -> None:
        if self.depth > 0:
            self.use("nested-writes")
        if self.prefix == "u":
            self.use("writes-in-helpers")

    def stmt_list_stack(self, indent: int) -> None:
        """A list filled in a loop, then stacked (or summed)."""
        shape = self.rng.choice(sorted(set(self.names.values())))
        acc = self.new_name("acc")
        empty = self.on("zero-trip") and self.rng.random() < 0.2
        self.emit(indent, f"{acc} = []" if empty else f"{acc} = [{self.of_shape(shape, 1).text}]")
        self.use("list-stack")
        self._note_where_created()
        trips = self.rng.randint(1, 3) if empty else self.trip_count()
        self.emit(indent, f"for i{self.depth} in range({trips}):")
        before = self._save()
        self.depth += 1
        self.emit(indent + 1, f"{acc}.append({self.of_shape(shape, 2).text})")
        self.depth -= 1
        self._restore(before)
        name = self.new_name()
        combine = self.rng.choice(["np.stack({a})", "np.array({a})", "sum({a})"])
        self.emit(indent, f"{name} = {combine.format(a=acc)}")
        length = trips + (0 if empty else 1)
        self.names[name] = shape if combine.startswith("sum") else (length, *shape)

    # -- the constructs of issue 12 (options "comprehension" ... "starred") -------------
    def _temporary(self, names: dict[str, tuple[int, ...]], make):
        """``make()`` with ``names`` readable (a comprehension's or a lambda's variable)."""
        saved = dict(self.names)
        self.names.update(names)
        try:
            return make()
        finally:
            self.names = saved

    def _reading(self, name: str, shape: tuple[int, ...], depth: int) -> Expr:
        """An expression of ``shape`` that reads ``name`` (of ``shape`` too)."""
        e = self._temporary({name: shape}, lambda: self.of_shape(shape, depth))
        if not re.search(rf"\b{name}\b", e.text):
            op = self.rng.choice(["*", "+", "-"])
            e = Expr(f"{name} {op} {e.operand}", shape, False)
        return e

    def expr_comprehension(self, depth: int) -> Expr:
        rows = [n for n, s in self.names.items() if s]
        r = self.new_name("r")
        vectors = [n for n, s in self.names.items() if len(s) == 1]
        if vectors and self.rng.random() < 0.15:  # a set of a vector's elements
            v = self.rng.choice(vectors)
            body = self._reading(r, (), depth - 1)
            return Expr(f"sum({{float({body.text}) for {r} in {v}}})", ())
        if rows and self.rng.random() < 0.75:
            v = self.rng.choice(rows)
            shape = self.names[v]
            row = shape[1:]
            body = self._reading(r, row, depth - 1)
            form = self.rng.randrange(4)
            if form == 0:
                return Expr(f"np.array([{body.text} for {r} in {v}])", shape)
            if form == 1:
                return Expr(f"np.stack([{body.text} for {r} in {v}])", shape)
            if form == 2:  # a filter: perhaps empty, the start keeps the shape
                test = f"np.sum({r}) > {self.constant().operand}"
                start = f"np.zeros({row!r})"
                return Expr(f"sum(({body.text} for {r} in {v} if {test}), {start})", row)
            partners = [n for n, s in self.names.items() if s == shape and n != v]
            if partners:
                w, q = self.rng.choice(partners), self.new_name("r")
                both = self._temporary({q: row}, lambda: self._reading(r, row, depth - 1))
                text = f"np.array([{both.operand} * {q} for {r}, {q} in zip({v}, {w})])"
                return Expr(text, shape)
            return Expr(f"sum({body.text} for {r} in {v})", row)
        e = self.expr(depth - 1)
        j, k = self.new_name("j"), self.rng.randint(1, 3)
        return Expr(f"np.stack([{e.operand} * ({j} + 1.0) for {j} in range({k})])", (k, *e.shape))

    def expr_moments_read(self, depth: int) -> Expr:
        name = self.rng.choice(sorted(self.moments))
        if self.rng.random() < 0.3:
            return Expr(f"{name}.count * {self.of_shape((), depth - 1).operand}", ())
        return Expr(f"{name}.total", self.moments[name])

    def expr_local_fn(self, depth: int) -> Expr:
        fn = self.rng.choice(self.local_fns)
        args = [self.of_shape(s, depth - 1).text for s in fn.params]
        return Expr(f"{fn.name}({', '.join(args)})", fn.returns)

    def expr_dict_read(self, depth: int) -> Expr:
        name = self.rng.choice(sorted(self.dicts))
        key = self.rng.choice(sorted(self.dicts[name]))
        if self.rng.random() < 0.3:
            return Expr(f'{name}.get("{key}")', self.dicts[name][key])
        return Expr(f'{name}["{key}"]', self.dicts[name][key])

    def expr_method(self, depth: int) -> Expr:
        if self.objects and self.rng.random() < 0.6:
            name = self.rng.choice(sorted(self.objects))
            shape = self.objects[name]
        else:
            e = self.expr(depth - 1)
            shape = e.shape
            name = f"Affine({e.text}, {self.of_shape(shape, depth - 1).text})"
        t = self.of_shape(shape, depth - 1).text
        form = self.rng.choice(["({t})", ".apply({t})", ".scale", ".w"])
        return Expr(name + form.format(t=t), () if form == ".scale" else shape)

    def _construct_statements(self) -> list[str]:
        kinds = []
        for option, kind, nested in (
            ("lambda", "lambda_def", False),
            ("closure", "closure_def", False),
            ("closure", "closure_loop", False),
            ("method", "moments_new", False),
            ("dict", "dict_new", False),
            ("method", "object_new", False),
            ("starred", "starred", False),
            ("try", "try", True),
            ("with", "with", True),
            ("match", "match", True),
        ):
            if self.on(option) and (self.depth < 2 or not nested):
                kinds.append(kind)
        if self.dicts:
            kinds.append("dict_write")
        if self.moments and not self.guarded:
            kinds += ["moments_update", "moments_update"]
        return kinds

    def _param_shape(self) -> tuple[int, ...]:
        return self.rng.choice(sorted(set(self.names.values())))

    def stmt_lambda_def(self, indent: int) -> None:
        self.use("lambda")
        name, a = self.new_name("fn"), self.new_name("a")
        shape = self._param_shape()
        body = self._temporary({a: shape}, lambda: self.expr(2))
        if not re.search(rf"\b{a}\b", body.text):
            body = self._reading(a, shape, 1)
        self.emit(indent, f"{name} = lambda {a}: {body.text}")
        self.local_fns.append(_Helper(name, (shape,), body.shape))

    def stmt_closure_def(self, indent: int) -> None:
        """A nested ``def`` over the enclosing function's arrays."""
        self.use("closure")
        name, a, c = self.new_name("g"), self.new_name("a"), self.new_name("c")
        shape = self._param_shape()
        self.emit(indent, f"def {name}({a}):")
        first = self._reading(a, shape, 2)
        self.emit(indent + 1, f"{c} = {first.text}")
        result = self._temporary({a: shape}, lambda: self._reading(c, shape, 2))
        self.emit(indent + 1, f"return {result.text}")
        self.local_fns.append(_Helper(name, (shape,), shape))

    def stmt_closure_loop(self, indent: int) -> None:
        """Closures created in a loop: ``fs.append(lambda a, kk=j: ...)``, then called."""
        self.use("closure")
        name, j, a = self.new_name("fs"), self.new_name("j"), self.new_name("a")
        shape = self._param_shape()
        count = self.rng.randint(0, 3)
        body = self._reading(a, shape, 2)
        self.emit(indent, f"{name} = []")
        self.emit(indent, f"for {j} in range({count}):")
        self.emit(indent + 1, f"{name}.append(lambda {a}, kk={j}: {body.operand} * (kk + 1.0))")
        out, f = self.new_name(), self.new_name("f")
        arg = self.of_shape(shape, 1).text
        if count and self.rng.random() < 0.4:
            self.emit(indent, f"{out} = {name}[{count - 1}]({arg})")
        else:
            start = f"np.zeros({shape!r})" if shape else "0.0"
            self.emit(indent, f"{out} = sum(({f}({arg}) for {f} in {name}), {start})")
        self.names[out] = shape

    def stmt_moments_new(self, indent: int) -> None:
        self.use("method")
        name = self.new_name("acc")
        start = self.expr(2)
        self.emit(indent, f"{name} = Moments({self.unaliased(start).text})")
        self.moments[name] = start.shape

    def stmt_moments_update(self, indent: int) -> None:
        """A method that changes the object's attributes, or a store into one."""
        name = self.rng.choice(sorted(self.moments))
        shape = self.moments[name]
        form = self.rng.randrange(3)
        if form == 0:
            self.emit(indent, f"{name}.add({self.of_shape(shape, 1).text})")
        elif form == 1:
            out = self.new_name()
            self.emit(indent, f"{out} = {name}.rescale({self.of_shape((), 1).text})")
            self.names[out] = ()
        else:
            e = self.of_shape(shape, 1)
            self.emit(indent, f"{name}.total = {name}.total * {e.operand}")

    def stmt_dict_new(self, indent: int) -> None:
        self.use("dict")
        name = self.new_name("d")
        a, b = self.expr(2), self.expr(1)
        self.emit(indent, f'{name} = {{"a": {a.text}, "b": {b.text}}}')
        self.dicts[name] = {"a": a.shape, "b": b.shape}

    def stmt_dict_write(self, indent: int) -> None:
        name = self.rng.choice(sorted(self.dicts))
        key = self.rng.choice(sorted(self.dicts[name]))
        e = self.of_shape(self.dicts[name][key], 1)
        form = self.rng.choice(
            ['{d}["{k}"] = {e}', '{d}["{k}"] = {d}["{k}"] * {e}', '{d}.update({{"{k}": {e}}})']
        )
        self.emit(indent, form.format(d=name, k=key, e=e.operand))

    def stmt_object_new(self, indent: int) -> None:
        self.use("method")
        name = self.new_name("m")
        w = self.expr(2)
        b = self.of_shape(w.shape, 1)
        self.emit(indent, f"{name} = Affine({w.text}, {b.text})")
        self.objects[name] = w.shape

    def stmt_starred(self, indent: int) -> None:
        self.use("starred")
        shape = self._param_shape()
        count = self.rng.randint(1, 4)
        items = ", ".join(self.of_shape(shape, 1).text for _ in range(count))
        first, rest, out = self.new_name("s"), self.new_name("rest"), self.new_name()
        self.emit(indent, f"{first}, *{rest} = [{items}]")
        self.names[first] = shape
        if self.rng.random() < 0.5:
            self.emit(indent, f"{out} = np.stack([*{rest}, {first}])")
            self.names[out] = (count, *shape)
        else:
            self.emit(indent, f"{out} = sum({rest}, {first})")
            self.names[out] = shape

    def _raise_sometimes(self, indent: int) -> None:
        self.emit(indent, f"if {self.condition()}:")
        self.emit(indent + 1, 'raise ValueError("out of range")')

    def stmt_try(self, indent: int) -> None:
        """``try`` that raises at its first, a middle or its last statement (or not)."""
        self.use("try")
        self.emit(indent, "try:")
        before = self._save()
        self.depth += 1
        self.guarded += 1
        for _ in range(self.rng.randint(0, 2)):
            self.statement(indent + 1)
        self._raise_sometimes(indent + 1)
        for _ in range(self.rng.randint(0, 1)):
            self.statement(indent + 1)
        self.depth -= 1
        self.guarded -= 1
        self._restore(before)
        self.emit(indent, "except ValueError:")
        self._inner(indent + 1, self.rng.randint(1, 2))
        if self.rng.random() < 0.3:
            self.emit(indent, "finally:")
            self._inner(indent + 1, 1)

    def stmt_with(self, indent: int) -> None:
        self.use("with")
        context = self.rng.choice(
            [
                'np.errstate(all="ignore")',
                "contextlib.nullcontext()",
                "warnings.catch_warnings()",
                "contextlib.suppress(ValueError)",
            ]
        )
        self.emit(indent, f"with {context}:")
        if context.startswith("contextlib.suppress"):
            self._raise_sometimes(indent + 1)
        self.guarded += 1
        self._inner(indent + 1, self.rng.randint(1, 2))
        self.guarded -= 1

    def stmt_match(self, indent: int) -> None:
        self.use("match")
        if self.rng.random() < 0.5:
            self.emit(indent, f"match int({self.condition()}):")
            for pattern in ("0", "_"):
                self.emit(indent + 1, f"case {pattern}:")
                self._inner(indent + 2, self.rng.randint(1, 2))
            return
        a, b = self.expr(1), self.expr(1)
        p, q = self.new_name("p"), self.new_name("q")
        self.emit(indent, f"match ({a.text}, {b.text}):")
        for pattern in (f"({p}, {q}) if np.sum({p}) > np.sum({q})", f"[{p}, {q}]"):
            self.emit(indent + 1, f"case {pattern}:")
            outer = dict(self.names)
            self.names.update({p: a.shape, q: b.shape})
            self._inner(indent + 2, self.rng.randint(1, 2))
            self.names = outer


def _weights(rng: random.Random, shape: tuple[int, ...]) -> str:
    values = np.round(
        np.array([rng.uniform(0.2, 2.0) * rng.choice([-1, 1]) for _ in range(int(np.prod(shape)))]),
        2,
    )
    if not shape:
        return repr(float(values[0]))
    return f"np.array({values.reshape(shape).tolist()!r})"


def _function(
    writer: _Writer, name: str, params: dict[str, tuple[int, ...]], statements: int
) -> list[str]:
    writer.block(1, statements)
    return [f"def {name}({', '.join(params)}):", *writer.lines]


def generate(seed: int, options: frozenset[str] = ALL_OPTIONS) -> ArrayProgram:
    """The program of ``seed`` (the same text and arguments for the same seed and options)."""
    unknown = set(options) - ALL_OPTIONS
    assert not unknown, f"unknown array fuzz options {sorted(unknown)}"
    rng = random.Random(seed)
    used: set[str] = set()
    parts = ["import numpy as np\n"]
    if "with" in options:
        parts[0] = "import contextlib\nimport warnings\n\nimport numpy as np\n"
    if "helper-writes" in options:
        parts.append(HELPER_WRITERS)
    if "method" in options:
        parts.append(AFFINE_CLASS)
    helpers: list[_Helper] = []
    if "helpers" in options:
        for k in range(rng.randint(0, 2)):
            params = {p: rng.choice(SHAPES) for p in ("a", "b")[: rng.randint(1, 2)]}
            helper_options = options - {"helper-writes"}
            if "writes-in-helpers" not in options:
                helper_options -= {"loop-writes", "list-stack"}
            writer = _Writer(rng, helper_options, used, dict(params), list(helpers), "u")
            lines = _function(writer, f"h{k}", params, rng.randint(0, 2))
            result = writer.expr(2)
            lines.append(f"    return {result.text}")
            parts.append("\n".join(lines) + "\n")
            helpers.append(_Helper(f"h{k}", tuple(params.values()), result.shape))
    arity = rng.randint(2, 3)
    params = {p: rng.choice(SHAPES) for p in PARAMS[:arity]}
    writer = _Writer(rng, options, used, dict(params), helpers)
    lines = _function(writer, "f", params, rng.randint(2, 6))
    if "partial-output" in options:  # some values are then used only on some paths
        used.add("partial-output")
        recent = list(writer.names)[-4:]  # the latest names: most of the body reaches them
        outputs = rng.sample(recent, min(len(recent), rng.randint(1, 3)))
    else:
        outputs = list(writer.names)
    weights = []
    terms = []
    for k, name in enumerate(outputs):
        weights.append(f"W{k} = {_weights(rng, writer.names[name])}")
        terms.append(f"np.sum(W{k} * {name})")
    lines.append(f"    return {' + '.join(terms)}")
    parts.insert(1, "\n".join(weights) + "\n")
    parts.append("\n".join(lines) + "\n")
    args = tuple(
        np.array(
            np.round(rng.uniform(-1.5, 1.5), 3)
            if not s
            else np.round([rng.uniform(-1.5, 1.5) for _ in range(int(np.prod(s)))], 3).reshape(s),
            dtype=np.float64,
        )
        for s in params.values()
    )
    return ArrayProgram("\n\n".join(parts), args, seed, frozenset(used))


def load(program: ArrayProgram, directory: Path):
    """Write ``program`` to a new module file in ``directory``, import it, return ``f``
    (the scalar fuzzer's loader: each module a name of its own)."""
    return fuzz_programs.load(program, directory)


def _block_end(lines: list[str], start: int) -> int:
    """The index after the statement at ``start`` (with its indented block, if any)."""
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines) and (
        not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent
    ):
        end += 1
    return end


def _candidates(source: str):
    """Smaller variants of ``source``: a statement (with its block) or a returned term less."""
    lines = source.split("\n")
    for i in range(len(lines) - 1, -1, -1):
        text = lines[i].strip()
        if not text or text.startswith(("import ", "return ")) or lines[i].startswith("def "):
            continue
        end = _block_end(lines, i)
        yield "\n".join(lines[:i] + lines[end:])
        if text.endswith(":") and not text.startswith("else"):  # the block without its header
            body = [line[4:] for line in lines[i + 1 : end]]
            if not any(line.strip().startswith("else") for line in body):
                yield "\n".join(lines[:i] + body + lines[end:])
    for i, line in enumerate(lines):
        if line.strip().startswith("return ") and " + " in line:
            terms = line.strip()[len("return ") :].split(" + np.sum(")
            for k in range(len(terms)):
                kept = [t for j, t in enumerate(terms) if j != k]
                text = " + np.sum(".join(kept)
                if not text.startswith("np.sum(") and k == 0:
                    text = "np.sum(" + text
                indent = line[: len(line) - len(line.lstrip())]
                yield "\n".join([*lines[:i], f"{indent}return {text}", *lines[i + 1 :]])


def minimize(program: ArrayProgram, still_fails) -> ArrayProgram:
    """Delete statements and returned terms of ``program`` while ``still_fails`` holds.

    ``still_fails(candidate)`` decides for an :class:`ArrayProgram`; a candidate that
    does not compile or whose ``f`` raises is not a failure of the same kind.
    """
    current = program
    changed = True
    while changed:
        changed = False
        for text in _candidates(current.source):
            try:
                compile(text, "<candidate>", "exec")
            except SyntaxError:
                continue
            candidate = ArrayProgram(text, current.args, current.seed, current.used)
            try:
                fails = still_fails(candidate)
            except Exception:
                fails = False
            if fails:
                current, changed = candidate, True
                break
    return current
