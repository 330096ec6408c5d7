"""The operations of stage 3 (analyze.py): the forms a normalized statement takes, one
resolved statement (:class:`Op`) and the analysis of a function (:class:`Analysis`).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import gast

from .normalize import NormalizedFunction
from .rules.registry import (
    Rule,
)
from .shapes import ShapeFacts
from .user_classes import class_of_atom

BINARY_OPERATORS = {
    gast.Add: operator.add,
    gast.Sub: operator.sub,
    gast.Mult: operator.mul,
    gast.Div: operator.truediv,
    gast.Pow: operator.pow,
    gast.MatMult: operator.matmul,
    gast.Mod: operator.mod,
    gast.FloorDiv: operator.floordiv,
    gast.BitAnd: operator.and_,
    gast.BitOr: operator.or_,
    gast.BitXor: operator.xor,
    gast.LShift: operator.lshift,
    gast.RShift: operator.rshift,
}


UNARY_OPERATORS = {
    gast.USub: operator.neg,
    gast.UAdd: operator.pos,
    gast.Not: operator.not_,
    gast.Invert: operator.invert,
}


# What an operation is: a rule's primitive, a copy, a user function, or something opaque.
RULE, COPY, CONSTANT, USER_CALL, BUILD, OPAQUE, RETURN, STORE_ITEM, APPEND = (
    "rule",
    "copy",
    "constant",
    "user_call",
    "build",
    "opaque",
    "return",
    "store_item",
    "append",
)


EXTEND = "extend"  # xs.extend(values) on a list


# Objects of user classes (objects.py): ``Cls(...)`` of a record class, and the read of an
# attribute stored on an object of a known class.
RECORD, FIELD = "record", "field"


# A user helper's in-place change of a container passed to it: never a statement's own
# op, only in the data flow (one per in-out argument, after the call's USER_CALL op).
CALL_WRITE = "call_write"


MUTATIONS = (STORE_ITEM, APPEND, EXTEND, CALL_WRITE)  # statements that change an object in place


@dataclass
class Op:
    """One normalized statement, resolved."""

    stmt: gast.stmt
    form: str
    target: str | None = None
    rule: Rule | None = None
    callee: object = None
    inputs: dict[str, gast.expr] = field(default_factory=dict)  # parameter -> atom
    active_inputs: list[str] = field(default_factory=list)
    active: bool = False
    pure: bool = True
    depth: int = 0  # how many loops enclose the statement
    # a user call: the in-out parameters the helper changes in place -> the caller's atoms
    writes: dict[str, gast.Name] = field(default_factory=dict)
    result_used: bool = True  # a user call: whether its result's adjoint is needed
    # a user call: arguments that must be numbers when it runs (the helper would change
    # an array in place), each with the helper's parameter
    number_checks: list[tuple[gast.Name, str]] = field(default_factory=list)
    # a user call of a helper with ``*args``: how many positional arguments it spreads
    spread: int | None = None
    # a user call where complex values may appear: its pair is checked for them too
    complex_context: bool = False
    # the keywords such a call gives a helper's ``**kwargs`` by name (spread like ``*args``)
    spread_keywords: tuple[str, ...] = ()
    # a user call: atoms that reach the helper through ``**`` (a ``**d`` at the call, or
    # keywords its ``**kwargs`` collects): never differentiated, refused if varied
    keyword_rest: list[gast.expr] = field(default_factory=list)
    # a method, property or operator method of a user class called as a user function:
    # the arguments of the call of its pair (the receiver first), and the classes known
    # of its arguments (parameter -> class), which its pair is specialised for
    call_args: list[gast.expr] | None = None
    call_keywords: list[gast.keyword] = field(default_factory=list)
    arg_classes: dict[str, type] = field(default_factory=dict)
    # a user call: the facts of the leaves of container arguments (leaf_kinds.py)
    arg_leaf_kinds: dict = field(default_factory=dict)
    # a method looked up on a receiver whose instance attributes are not known: the
    # receiver and the name, checked when it runs (an instance attribute would shadow it)
    class_method_check: tuple[gast.expr, str] | None = None
    lookups: list[tuple] = field(default_factory=list)  # (namespace, name, object) resolved
    attr: str | None = None  # FIELD: the attribute read
    refusal: str | None = None  # why an operation on an object cannot be differentiated

    @property
    def value(self) -> gast.expr:
        return self.stmt.value


@dataclass
class Analysis:
    """The resolved, kind-annotated and activity-annotated trace of one function."""

    fn: NormalizedFunction
    wrt: tuple[str, ...]
    ops: list[Op]
    kinds: dict[str, str | None]
    varied: set[str]
    useful: set[str]
    op_of: dict[int, Op] = field(default_factory=dict)  # id(statement) -> Op
    loop_variant: set[str] = field(default_factory=set)  # names assigned inside a loop
    # a helper's in-out parameters: changed in place for its caller, adjoints in and out
    inout: tuple[str, ...] = ()
    classes: dict[str, type] = field(default_factory=dict)  # names of objects of user classes
    # complex values may appear (complex_flows.py): adjoints are added out of place, so a
    # real value's adjoint may become complex (its real part is the gradient)
    complex_values: bool = False
    # what is known of each value's rank, dtype and unit axes (shapes.py); empty for
    # code not specialised by shape
    shapes: ShapeFacts = field(default_factory=lambda: ShapeFacts({}, {}))
    # free names (globals, closure variables) holding a Python number when it was
    # analysed, treated as scalars: name -> namespace (a globals dict or a closure cell);
    # the generated code is stale once one of them holds something else
    scalar_globals: dict[str, object] = field(default_factory=dict)
    # what the kinds of the results of user functions called here relied on by name
    # (``result_dependencies``): the generated code is stale once one is rebound
    call_dependencies: list = field(default_factory=list)
    # names certainly holding a tuple of a known length -> the kinds of its elements
    items: dict[str, tuple] = field(default_factory=dict)
    # names holding an integer leaf of a container parameter (``leaf_kinds.INT``): varied
    # where they enter arithmetic; as an index, a count or a shape they carry no derivative
    integer_names: frozenset[str] = frozenset()
    # names certainly holding numbers or exact ndarrays (reverse.plain_values), computed once
    plain: frozenset[str] | None = None

    def class_of(self, atom: gast.expr) -> type | None:
        return class_of_atom(atom, self.classes, self.fn)

    def op(self, stmt: gast.stmt) -> Op:
        return self.op_of[id(stmt)]

    @property
    def result(self) -> gast.expr:
        return self.ops[-1].stmt.value

    def kind_of(self, atom: gast.expr) -> str | None:
        from .kinds import atom_kind  # imported here: a cycle

        return atom_kind(atom, self.kinds, self.fn)

    def is_active(self, atom: gast.expr) -> bool:
        return isinstance(atom, gast.Name) and atom.id in self.varied and atom.id in self.useful

    def sequence_form(self, op: Op) -> str:
        from .kinds import (
            definitions_of,  # imported here: a cycle
            sequence_form,  # imported here: a cycle
        )

        if not hasattr(self, "_definitions"):
            self._definitions = definitions_of(self.ops)
        return sequence_form(op, self.kinds, self.fn, self._definitions)

    def certainly_numeric(self, atom: gast.expr) -> bool:
        """Whether ``atom`` is certainly a number or a NumPy value (never a list)."""
        from .kinds import (
            definitions_of,  # imported here: a cycle
            numeric,  # imported here: a cycle
        )

        if not hasattr(self, "_definitions"):
            self._definitions = definitions_of(self.ops)
        return numeric(atom, self.kinds, self.fn, self._definitions, set())
