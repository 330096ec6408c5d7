"""Objects whose attributes change, made inside the function, as one local per attribute.

``acc = Accumulator()`` whose ``__init__`` computes (``self.total = 0.0``) and whose
methods change it (``acc.add(v)`` with ``self.total += v``) cannot be a ``RECORD``
(``objects.py``: an object's attributes never change). When the function uses such an
object only by reading its attributes (``acc.total``), storing into them
(``acc.total = v``, ``acc.total += v``) and calling its methods, the object is never
made: each attribute is a local of the function (``acc_total``), and each method (and
``__init__``) becomes a *field function* compiled from its source in its own module:
the attributes it reads are keyword-only parameters (``self_total``), ``self.a`` in its
body is the name ``self_a``, and it returns its result with the attributes it assigns::

    acc = Accumulator()   ->  acc_init, acc_total = Accumulator_init()
    acc.add(x * x)        ->  acc_add, acc_total = Accumulator_add(x * x, self_total=acc_total)
    r = acc.mean()        ->  r = Accumulator_mean(self_total=acc_total)  (changes nothing)
    return acc.total      ->  return acc_total

The field functions are plain user functions, so helper pairs differentiate them (the
attribute a method changes is one more result). Conditions (else the object is left to
``objects.py``, which refuses it when it must): the class is a user class with Python's
plain attribute access, no ``__new__``/``__setattr__``; the object is bound once, by
``name = Cls(...)``, and never used in a nested function; every attribute the methods
and the function use is assigned at the top level of ``__init__``; ``self`` in the
methods appears only as ``self.attribute``. A method that changes attributes is called
in a statement of its own (``acc.add(v)`` or ``r = acc.add(v)``), not inside a ``try``
or ``with`` body (an exception after the change would lose it).
"""

from __future__ import annotations

import types
import weakref

import gast

from ..nodes import clone, subnodes
from ..nodes import parents as parents_of

# method -> (fields it reads, fields it writes) -> its field function
_FIELD_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class _Refused(Exception):
    """The object cannot be lowered this way (the message says why)."""


def run(context) -> None:
    """Lower the objects of ``context.tree`` whose attributes change (module docstring)."""
    for stmt, name, cls, call in _creations(context):
        try:
            _Object(context, stmt, name, cls, call).lower()
        except _Refused as reason:
            if _changes_attributes(context, name, cls):
                raise context.error(
                    f"unsupported construct: the object '{name}' of the class "
                    f"{cls.__qualname__}, whose attributes change: {reason}",
                    stmt,
                ) from None


def _applies(tree: gast.FunctionDef) -> bool:
    return any(isinstance(n, gast.Call) for n in subnodes(tree.body))


run.applies = _applies


def _own_nodes(tree):
    from .function_values import _own_nodes as own

    return own(tree.body)


def _creations(context) -> list[tuple]:
    """``(stmt, name, cls, call)`` for each ``name = Cls(...)`` of a user class."""
    from ..user_classes import is_user_class

    found = []
    local_names = _locals(context.tree)
    for node in _own_nodes(context.tree):
        if not (
            isinstance(node, gast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], gast.Name)
            and isinstance(node.value, gast.Call)
            and isinstance(node.value.func, gast.Name)
            and node.value.func.id not in local_names
        ):
            continue
        cls = context.parsed.lookup(node.value.func.id)
        if isinstance(cls, type) and is_user_class(cls):
            found.append((node, node.targets[0].id, cls, node.value))
    return found


def _locals(tree: gast.FunctionDef) -> set[str]:
    from .function_values import _bound

    return _bound(tree)


def _changes_attributes(context, name: str, cls: type) -> bool:
    """Whether the function changes ``name``'s attributes (a method it calls assigns
    ``self.a``, or it stores into one): the object needs this pass, or a refusal."""
    from ..object_operations import _changed_attributes
    from ..user_classes import find_attribute

    for node in subnodes(context.tree.body):
        if (
            isinstance(node, gast.Attribute)
            and isinstance(node.value, gast.Name)
            and node.value.id == name
        ):
            if isinstance(node.ctx, gast.Store):
                return True
            found = find_attribute(cls, node.attr)
            method = found[1] if found is not None else None
            if isinstance(method, types.FunctionType) and _changed_attributes(method):
                return True
    return False


class _Object:
    def __init__(self, context, stmt, name: str, cls: type, call: gast.Call) -> None:
        self.context = context
        self.stmt = stmt
        self.name = name
        self.cls = cls
        self.call = call
        self.fields: list[str] = []
        self.locals: dict[str, str] = {}  # attribute -> the function's local for it
        self.methods: dict[str, tuple] = {}  # method -> (tree, parsed, reads, writes)

    # -- checks -----------------------------------------------------------------------
    def lower(self) -> None:
        self.check_class()
        uses = self.uses()
        init = self.method_source("__init__")
        self.fields = self.init_fields(init)
        needed = {"__init__"} | {attr for attr, call in uses if call}
        for method in sorted(needed):
            self.methods[method] = self.method_info(method)
        for attr, call in uses:
            if not call and attr not in self.fields:
                raise _Refused(f"'{self.name}.{attr}' is not an attribute its __init__ assigns")
        if not _changes_attributes(self.context, self.name, self.cls) and not isinstance(
            _layout(self.cls), str
        ):
            return  # a record: objects.py follows it as it is
        for field in self.fields:
            self.locals[field] = self.context.fresh(f"{self.name}_{field}")
        self.rewrite()

    def check_class(self) -> None:
        from ..user_classes import plain_attribute_access

        access = plain_attribute_access(self.cls)
        if access is not None:
            raise _Refused(access)
        if self.cls.__new__ is not object.__new__:
            raise _Refused(f"the class {self.cls.__qualname__} defines __new__")
        if self.cls.__setattr__ is not object.__setattr__:
            raise _Refused(f"the class {self.cls.__qualname__} defines __setattr__")
        if not isinstance(self.cls.__init__, types.FunctionType):
            raise _Refused(f"the class {self.cls.__qualname__} has no __init__ written in Python")
        if any(isinstance(a, gast.Starred) for a in self.call.args) or any(
            k.arg is None for k in self.call.keywords
        ):
            raise _Refused("it is made with '*' or '**' arguments")

    def uses(self) -> list[tuple[str, bool]]:
        """``(attribute, called)`` for each use of the object; refuses any other use."""
        count = 0
        uses = []
        parents = parents_of(self.context.tree)
        inner = set()
        for node in _own_nodes(self.context.tree):
            if isinstance(node, (gast.FunctionDef, gast.Lambda)):
                inner |= {id(n) for n in subnodes(node)}
        for node in subnodes(self.context.tree.body):
            if not (isinstance(node, gast.Name) and node.id == self.name):
                continue
            if id(node) in inner:
                raise _Refused("it is used inside a nested function or lambda")
            if not isinstance(node.ctx, gast.Load):
                count += 1
                continue
            parent = parents.get(id(node))
            if not isinstance(parent, gast.Attribute) or parent.value is not node:
                raise _Refused(
                    "it is used other than by reading or storing its attributes and calling "
                    "its methods (passed, stored, returned or compared)"
                )
            grand = parents.get(id(parent))
            uses.append((parent.attr, isinstance(grand, gast.Call) and grand.func is parent))
        if count != 1:
            raise _Refused(f"the name '{self.name}' is bound more than once")
        return uses

    def method_source(self, method: str):
        from ..errors import ADTransformError
        from ..parse import parse_source
        from ..user_classes import find_attribute

        found = find_attribute(self.cls, method)
        if found is None or not isinstance(found[1], types.FunctionType):
            raise _Refused(f"'{method}' is not a method written with 'def' in its class")
        try:
            parsed = parse_source(found[1])
        except ADTransformError as exc:
            raise _Refused(f"the source of {method} cannot be read ({exc})") from None
        tree = parsed.tree
        if tree.decorator_list:
            raise _Refused(f"the method {method} is decorated")
        positional = tree.args.posonlyargs + tree.args.args
        if not positional:
            raise _Refused(f"the method {method} has no 'self' parameter")
        return found[1], parsed

    def init_fields(self, init) -> list[str]:
        """The attributes the top level of ``__init__`` assigns, in order."""
        _, parsed = init
        receiver = _receiver(parsed.tree)
        fields = []
        for stmt in parsed.tree.body:
            targets = (
                stmt.targets if isinstance(stmt, gast.Assign) else [getattr(stmt, "target", None)]
            )
            for target in targets:
                if _attribute_of(target, receiver) and target.attr not in fields:
                    fields.append(target.attr)
        from ..user_classes import find_attribute, is_data_descriptor

        for field in fields:
            found = find_attribute(self.cls, field)
            if field.startswith("__") or (found is not None and is_data_descriptor(found[1])):
                raise _Refused(f"its attribute '{field}' is special or a property")
        return fields

    def method_info(self, method: str) -> tuple:
        """``(function, parsed, reads, writes)`` of a method, checking its uses of self."""
        function, parsed = self.method_source(method)
        receiver = _receiver(parsed.tree)
        reads, writes = [], []
        parents = parents_of(parsed.tree)
        for node in subnodes(parsed.tree.body):
            if isinstance(node, gast.Name) and node.id == receiver:
                parent = parents.get(id(node))
                if not (_attribute_of(parent, receiver) and parent.attr in self.fields):
                    raise _Refused(
                        f"its method {method} uses '{receiver}' other than by reading or "
                        "assigning an attribute its __init__ assigns"
                    )
                if not isinstance(node.ctx, gast.Load):
                    raise _Refused(f"its method {method} rebinds '{receiver}'")
                target = (
                    writes
                    if isinstance(parent.ctx, gast.Store) or _augmented(parent, parents)
                    else reads
                )
                if parent.attr not in target:
                    target.append(parent.attr)
                if _augmented(parent, parents) and parent.attr not in reads:
                    reads.append(parent.attr)
            elif isinstance(node, (gast.FunctionDef, gast.Lambda)) and receiver in {
                n.id for n in subnodes(node) if isinstance(n, gast.Name)
            }:
                raise _Refused(f"its method {method} uses '{receiver}' in a nested function")
        taken = {n.id for n in subnodes(parsed.tree) if isinstance(n, gast.Name)}
        for field in reads + writes:
            if f"self_{field}" in taken:
                raise _Refused(f"its method {method} uses the name 'self_{field}'")
        if method == "__init__":
            reads = [r for r in reads if r not in writes]
            writes = list(self.fields)
        return (
            function,
            parsed,
            sorted(reads, key=self.fields.index),
            [f for f in self.fields if f in writes],
        )

    # -- the rewriting --------------------------------------------------------------------
    def field_function(self, method: str) -> str:
        """The name (a closure cell of the lowered function) of the method's field function."""
        from .function_registry import compile_lifted, lifted_entry
        from .function_values import _param
        from .lifting import _returning_rebound

        function, parsed, reads, writes = self.methods[method]
        key = (tuple(reads), tuple(writes))
        known = _FIELD_FUNCTIONS.setdefault(function, {})
        if key not in known or lifted_entry(known[key]) is None:
            tree = clone(parsed.tree)
            receiver = _receiver(tree)
            if tree.args.posonlyargs:
                tree.args.posonlyargs = tree.args.posonlyargs[1:]
            else:
                tree.args.args = tree.args.args[1:]
            for field in reads:
                tree.args.kwonlyargs.append(_param(f"self_{field}", tree))
                tree.args.kw_defaults.append(None)
            tree.body = [_renamed_receiver(s, receiver) for s in tree.body]
            if writes:
                tree.body = _returning_rebound(tree.body, tuple(f"self_{f}" for f in writes), tree)
            tree.name = f"{self.cls.__name__}_{method.strip('_')}"
            keyword_defaults = dict(function.__kwdefaults__ or {}) or None
            known[key] = compile_lifted(
                tree,
                parsed,
                function.__globals__,
                dict(parsed.closure),
                (function.__defaults__, keyword_defaults),
            )
        func = known[key]
        name = self.context.names.fresh(func.__name__)
        self.context.bind_cell(name, types.CellType(func))
        from ..user_classes import dependencies_of_lookup

        self.context.dependencies.extend(dependencies_of_lookup(self.cls, method))
        return name

    def rewrite(self) -> None:
        namespace = self.context.parsed
        binding = self.call.func.id
        if binding in namespace.closure:
            self.context.dependencies.append((namespace.closure[binding], binding, self.cls))
        elif binding in namespace.globals:
            self.context.dependencies.append((namespace.globals, binding, self.cls))
        self.context.tree.body = self.block(self.context.tree.body, guarded=False)

    def block(self, stmts: list, guarded: bool) -> list:
        out = []
        for stmt in stmts:
            inner_guard = guarded or isinstance(stmt, (gast.Try, gast.With))
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                    protected = inner_guard if field == "body" else guarded
                    setattr(stmt, field, self.block(inner, protected))
            for handler in getattr(stmt, "handlers", []):
                handler.body = self.block(handler.body, guarded)
            for case in getattr(stmt, "cases", []):
                case.body = self.block(case.body, guarded)
            out.append(self.statement(stmt, guarded))
        return out

    def statement(self, stmt, guarded: bool):
        from .function_values import _name

        if stmt is self.stmt:
            self.arguments(self.call)
            result = self.context.fresh(f"{self.name}_init")
            targets = [_name(result, stmt, store=True)] + [
                _name(self.locals[f], stmt, store=True) for f in self.fields
            ]
            call = self.method_call("__init__", self.call)
            return _assign_tuple(targets, call, stmt)
        called = _method_statement(stmt, self.name)
        if called is not None:
            target, call = called
            method = call.func.attr
            writes = self.methods[method][3]
            if writes:
                if guarded:
                    raise self.context.error(
                        f"unsupported construct: a call of {self.cls.__qualname__}.{method}, "
                        f"which changes the attributes of '{self.name}', inside a 'try' or "
                        "'with' body (an exception after the change would lose it)",
                        stmt,
                    )
                self.arguments(call)
                result = target or self.context.fresh(f"{self.name}_{method.strip('_')}")
                targets = [_name(result, stmt, store=True)] + [
                    _name(self.locals[f], stmt, store=True) for f in writes
                ]
                return _assign_tuple(targets, self.method_call(method, call), stmt)
        self.expressions(stmt)
        return stmt

    def arguments(self, call: gast.Call) -> None:
        call.args = [self.expression(a) for a in call.args]
        for keyword in call.keywords:
            keyword.value = self.expression(keyword.value)

    def expressions(self, node) -> None:
        """Rewrite the object's attribute reads and stores and its non-changing method calls
        in ``node`` (its nested statements are handled by ``block``)."""
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                if value and isinstance(value[0], gast.stmt):
                    continue
                setattr(node, name, [self.expression(v) for v in value])
            elif isinstance(value, gast.AST) and not isinstance(value, gast.stmt):
                setattr(node, name, self.expression(value))

    def expression(self, node):
        from .function_values import _name

        if not isinstance(node, gast.AST):
            return node
        if (
            isinstance(node, gast.Call)
            and isinstance(node.func, gast.Attribute)
            and isinstance(node.func.value, gast.Name)
            and node.func.value.id == self.name
        ):
            method = node.func.attr
            if self.methods[method][3]:
                raise self.context.error(
                    f"unsupported construct: a call of {self.cls.__qualname__}.{method}, which "
                    f"changes the attributes of '{self.name}', inside an expression; call it "
                    f"in a statement of its own ('{self.name}.{method}(...)' or "
                    f"'r = {self.name}.{method}(...)')",
                    node,
                )
            self.arguments(node)
            return self.method_call(method, node)
        if (
            isinstance(node, gast.Attribute)
            and isinstance(node.value, gast.Name)
            and node.value.id == self.name
        ):
            return _name(self.locals[node.attr], node, store=isinstance(node.ctx, gast.Store))
        self.expressions(node)
        return node

    def method_call(self, method: str, call: gast.Call) -> gast.Call:
        from .function_values import _locate, _name

        function = self.field_function(method)
        _, _, reads, _ = self.methods[method]
        keywords = list(call.keywords) + [
            gast.keyword(arg=f"self_{f}", value=_name(self.locals[f], call)) for f in reads
        ]
        return _locate(
            gast.Call(func=_name(function, call), args=list(call.args), keywords=keywords), call
        )


def _layout(cls: type):
    from ..user_classes import record_layout

    return record_layout(cls)


def _receiver(tree: gast.FunctionDef) -> str:
    return (tree.args.posonlyargs + tree.args.args)[0].id


def _attribute_of(node, receiver: str) -> bool:
    return (
        isinstance(node, gast.Attribute)
        and isinstance(node.value, gast.Name)
        and node.value.id == receiver
    )


def _augmented(attribute: gast.Attribute, parents: dict) -> bool:
    parent = parents.get(id(attribute))
    return isinstance(parent, gast.AugAssign) and parent.target is attribute


def _renamed_receiver(stmt, receiver: str):
    """``self.a`` -> ``self_a`` everywhere in ``stmt``."""
    from .function_values import _name

    class Rename(gast.NodeTransformer):
        def visit_Attribute(self, node):
            if _attribute_of(node, receiver):
                return _name(f"self_{node.attr}", node, store=not isinstance(node.ctx, gast.Load))
            self.generic_visit(node)
            return node

    return Rename().visit(stmt)


def _method_statement(stmt, name: str):
    """``(target or None, call)`` of ``name.m(...)`` or ``t = name.m(...)``."""
    if isinstance(stmt, gast.Expr):
        target, call = None, stmt.value
    elif (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
    ):
        target, call = stmt.targets[0].id, stmt.value
    else:
        return None
    if (
        isinstance(call, gast.Call)
        and isinstance(call.func, gast.Attribute)
        and isinstance(call.func.value, gast.Name)
        and call.func.value.id == name
    ):
        return target, call
    return None


def _assign_tuple(targets: list, value: gast.expr, like) -> gast.Assign:
    from .function_values import _locate

    node = gast.Assign(
        targets=[gast.Tuple(elts=targets, ctx=gast.Store())], value=value, type_comment=None
    )
    return _locate(gast.copy_location(node, like), like)
