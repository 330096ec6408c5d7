"""What each operation on an object of a user class becomes (part of ``objects.py``): a
method call, ``super()`` call, property, attribute read, operator or constructor
resolved to a user call of the class's function, a record field or a refusal naming the
construct (:class:`_Context`, one per normalized function)."""

from __future__ import annotations

import ast
import dataclasses
import operator
import textwrap
import types
from dataclasses import dataclass

import gast

from . import runtime
from .transform_memo import source_lines
from .user_classes import (
    _SPECIAL_ATTRIBUTES,
    BINARY_METHODS,
    UNARY_METHODS,
    RecordLayout,
    TheClass,
    _namedtuple_bases,
    class_of_atom,
    dependencies_of_lookup,
    find_attribute,
    mentions_not_implemented,
    plain_attribute_access,
    record_layout,
)


def _changed_attributes(func: object) -> list[str]:
    """The attributes of its first parameter (``self``) the method ``func`` assigns."""
    try:
        lines, _ = source_lines(func.__code__)
        tree = ast.parse(textwrap.dedent("".join(lines))).body[0]
    except (AttributeError, OSError, TypeError, SyntaxError, IndexError):
        return []
    if not isinstance(tree, ast.FunctionDef) or not tree.args.args:
        return []
    receiver = tree.args.args[0].arg
    changed = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for target in (
            targets if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) else []
        ):
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == receiver
                and target.attr not in changed
            ):
                changed.append(target.attr)
    return changed


def _is_tree_helper(primitive: object) -> bool:
    """``tree_leaves`` and the primitives of a lowered ``tree_map`` (``runtime/trees.py``):
    they take dataclass, named tuple and registered objects apart as trees."""
    from . import pytree

    helpers = (
        pytree.tree_leaves,
        runtime.tree_structure,
        runtime.tree_rebuilt,
        runtime.tree_leaves_like,
    )
    return any(primitive is helper for helper in helpers)


@dataclass
class _Context:
    op: object
    fn: object
    classes: dict
    records: set
    # names of ``super()`` proxies: (class, receiver atom, its class); of objects whose
    # construction is not followed: (None, None, class)
    proxies: dict
    ops: list = dataclasses.field(default_factory=list)  # every op (for the user's words)

    def class_of(self, atom) -> type | None:
        return class_of_atom(atom, self.classes, self.fn)

    def error_text(self, atom, cls: type, what: str) -> str:
        from .dispatch import user_name

        name = user_name(atom.id, self.fn, self.ops) if isinstance(atom, gast.Name) else "it"
        what_it_is = (
            f"the class {cls.cls.__qualname__} itself"
            if isinstance(cls, TheClass)
            else f"an instance of the class {cls.__qualname__}"
        )
        return f"cannot differentiate this operation: '{name}' is {what_it_is}, and {what}"

    def refuse_objects(self, atoms: list) -> None:
        """An operation with no rule for objects, given one: refused if it is active."""
        for atom in atoms:
            cls = self.class_of(atom) if isinstance(atom, gast.Name) else None
            if cls is not None and self.op.callee in (
                runtime.enter_context,
                runtime.exit_context,
            ):
                self.op.refusal = self.with_refusal(atom, cls)
                return
            if cls is not None:
                from .emit import expression_source

                self.op.refusal = self.error_text(
                    atom,
                    cls,
                    f"'{expression_source(self.op.stmt.value)}' is not a method, property or "
                    "operator method of that class written in Python (nor an attribute "
                    "stored on the object)",
                )
                return

    def with_refusal(self, manager, cls) -> str:
        """``with m as v:`` where ``m`` (an object of a user class) depends on the
        differentiated argument: what its ``__enter__``/``__exit__`` do is not followed."""
        from .dispatch import user_name

        what = user_name(manager.id, self.fn, self.ops)
        return (
            f"cannot differentiate 'with {what}': the context manager depends on the "
            f"differentiated argument, and its class {cls.__qualname__}'s __enter__ and "
            "__exit__ run as written in the forward sweep (what they do with the value, or "
            "return from it, is not differentiated); read the value before the 'with', or "
            "give the manager values that are not differentiated"
        )

    def user_call(self, func, args: list, keywords: list, cls: type, name: str):
        """A ``USER_CALL`` of ``func`` with ``args`` (the receiver first)."""
        from .ops import USER_CALL, Op
        from .resolve import bind_arguments

        inputs = bind_arguments(func, args, keywords, self.fn, self.op.stmt)
        op = Op(self.op.stmt, USER_CALL, self.op.target, callee=func, inputs=inputs, pure=False)
        op.call_args, op.call_keywords = list(args), list(keywords)
        op.lookups = dependencies_of_lookup(cls, name)
        return op

    def access_refusal(self, atom, cls: type) -> bool:
        reason = plain_attribute_access(cls)
        if reason is not None:
            self.op.refusal = self.error_text(atom, cls, f"{reason}, which is not followed")
        return reason is not None

    # -- calls ----------------------------------------------------------------------------
    def call(self, call: gast.Call):
        func = call.func
        owner = func.value if isinstance(func, gast.Attribute) else None
        if isinstance(owner, gast.Name) and owner.id in self.proxies:
            start, receiver, cls = self.proxies[owner.id]
            if start is None:
                self.refuse_unfollowed(owner, cls, func.attr, call=True)
                return None
            return self.super_method_call(call, start, receiver, cls, func.attr)  # super().m()
        if isinstance(func, gast.Attribute) and not getattr(func, "ad_static", False):
            cls = self.class_of(func.value)
            if cls is not None:
                return self.method_call(call, func.value, cls, func.attr)
        elif getattr(func, "ad_static", False) or (
            isinstance(func, gast.Name) and func.id not in self.fn.source_of
        ):
            resolved = self.static_call(call)
            if resolved is not None:
                return resolved
        if isinstance(func, gast.Name):
            cls = self.class_of(func)
            if cls is not None:
                return self.operator_method(
                    func, cls, "__call__", [func, *call.args], call.keywords
                )
        if self.op.rule is not None and _is_tree_helper(self.op.rule.primitive):
            return None  # tree_leaves(model): its adjoint takes the object's fields apart
        self.refuse_objects([*call.args, *(kw.value for kw in call.keywords)])
        return None

    def static_call(self, call: gast.Call):
        """``MODEL.predict(x)``, ``Model.create(x)`` (a classmethod) and ``MODEL(x)`` of a
        global object: the method's function with the object (or class) first."""
        from .ops import OPAQUE
        from .resolve import is_user_function

        if self.op.form != OPAQUE:
            return None
        callee = self.op.callee
        func = call.func
        if isinstance(callee, types.MethodType) and is_user_function(callee.__func__):
            if not isinstance(func, gast.Attribute):
                return None
            owner = callee.__self__
            cls = owner if isinstance(owner, type) else type(owner)
            op = self.user_call(
                callee.__func__, [func.value, *call.args], call.keywords, cls, func.attr
            )
            if not isinstance(owner, type):
                op.class_method_check = (func.value, func.attr)
            return op
        cls = self.class_of(func)
        if cls is not None:
            return self.operator_method(func, cls, "__call__", [func, *call.args], call.keywords)
        return None

    def method_call(self, call: gast.Call, receiver, cls, name: str):
        from .resolve import is_user_function

        if isinstance(cls, TheClass):
            return self.class_call(call, receiver, cls.cls, name)
        if self.access_refusal(receiver, cls):
            return None
        found = find_attribute(cls, name)
        value = found[1] if found is not None else None
        receivers = [receiver]
        if isinstance(value, staticmethod):
            value, receivers = value.__func__, []
        elif isinstance(value, classmethod):
            value, receivers = value.__func__, [_class_atom(cls, receiver)]
        if found is None and isinstance(cls, type):
            # an attribute stored on the object (a sub-module, ``self.l1(x)``): what it
            # holds is called through the method its class has when the call runs
            from .dispatch import dynamic_op

            return dynamic_op(
                self.op,
                self.fn,
                self.ops,
                receiver,
                list(call.args),
                list(call.keywords),
                "__call__",
                through=name,
            )
        if not is_user_function(value):
            what = f"'{name}" + "' is not a method written in Python"
            self.op.refusal = self.error_text(receiver, cls, what)
            return None
        op = self.user_call(value, [*receivers, *call.args], call.keywords, cls, name)
        if isinstance(receiver, gast.Name) and receiver.id not in self.records:
            op.class_method_check = (receiver, name)
        elif _shadowed_by_field(cls, name):
            self.op.refusal = self.error_text(
                receiver, cls, f"its attribute '{name}' hides the method of that name"
            )
            return None
        return op

    def refuse_unfollowed(self, atom, cls: type, name: str, call: bool) -> None:
        """``obj.name`` or ``obj.name(...)`` on an object made here by a constructor that
        is not followed: refused (if active) with the reason."""
        user_name = self.fn.source_of.get(atom.id, atom.id)
        found = find_attribute(cls, name)
        changed = _changed_attributes(found[1]) if found is not None else []
        change = (
            f"; its method '{name}' changes the object's attribute"
            f"{'s' if len(changed) > 1 else ''} {', '.join(repr(a) for a in changed)} "
            "(objects whose attributes change after construction are not supported)"
            if changed
            else ""
        )
        reason = record_layout(cls)
        self.op.refusal = (
            f"cannot differentiate '{user_name}.{name}{'(...)' if call else ''}': "
            f"'{user_name}' is an instance of the class "
            f"{cls.__qualname__} whose construction is not followed"
            f"{': ' + reason if isinstance(reason, str) else ''}{change}"
        )

    def super_method_call(self, call: gast.Call, start: type, receiver, cls: type, name: str):
        """``super().name(...)`` in a method of ``start`` given an instance of ``cls``: the
        ``name`` found in the classes after ``start`` in ``cls.__mro__``, called on the
        instance (the instance's own attributes are not looked at, as in Python)."""
        from .resolve import is_user_function

        if self.access_refusal(receiver, cls):
            return None
        after = cls.__mro__[cls.__mro__.index(start) + 1 :]
        owner = next((k for k in after if name in vars(k)), None)
        value = vars(owner)[name] if owner is not None else None
        receivers = [receiver]
        if isinstance(value, staticmethod):
            value, receivers = value.__func__, []
        elif isinstance(value, classmethod):
            value, receivers = value.__func__, [_class_atom(cls, receiver)]
        if not is_user_function(value):
            self.op.refusal = self.error_text(
                receiver,
                cls,
                f"'super().{name}' (after {start.__qualname__} in its MRO) is not a method "
                "written in Python",
            )
            return None
        return self.user_call(value, [*receivers, *call.args], call.keywords, cls, name)

    def class_call(self, call: gast.Call, receiver, cls: type, name: str):
        """``cls.name(...)`` on a name holding the class itself: a static method or a
        plain function gets the arguments as they are, a class method the class first."""
        from .resolve import is_user_function

        found = find_attribute(cls, name)
        value = found[1] if found is not None else None
        receivers = []
        if isinstance(value, staticmethod):
            value = value.__func__
        elif isinstance(value, classmethod):
            value, receivers = value.__func__, [_class_atom(cls, receiver)]
        if not is_user_function(value):
            self.op.refusal = self.error_text(
                receiver,
                TheClass(cls),
                f"'{name}' is not a function of that class written in Python",
            )
            return None
        return self.user_call(value, [*receivers, *call.args], call.keywords, cls, name)

    def operator_method(self, receiver, cls, name: str, args: list, keywords=()):
        """``type(receiver).name(*args)``: looked up on the class, as Python does."""
        from .resolve import is_user_function

        if isinstance(cls, TheClass):
            if name == "__call__":  # cls(...): a constructor
                return self.constructor(cls.cls, args[1:], list(keywords))
            self.op.refusal = self.error_text(
                receiver, cls, "operators on classes are not differentiated"
            )
            return None
        if self.access_refusal(receiver, cls):
            return None
        found = find_attribute(cls, name)
        func = found[1] if found is not None else None
        if not is_user_function(func):
            self.op.refusal = self.error_text(
                receiver, cls, f"it has no method {name} written in Python"
            )
            return None
        if name != "__call__" and mentions_not_implemented(func):
            self.op.refusal = self.error_text(
                receiver,
                cls,
                f"its {name} may return NotImplemented (Python then asks the other "
                "operand), which is not followed",
            )
            return None
        return self.user_call(func, args, list(keywords), cls, name)

    def constructor(self, cls: type, args: list, keywords: list):
        from .resolve import constructor_op

        call = gast.Call(func=gast.Constant(value=None, kind=None), args=args, keywords=keywords)
        gast.copy_location(call, self.op.stmt.value)
        return constructor_op(self.op.stmt, self.op.target, cls, call, self.fn)

    # -- named tuples ---------------------------------------------------------------------
    def namedtuple_read(self, node: gast.Subscript | gast.Attribute):
        """``t[i]`` of a named tuple is a tuple's item (its rule as it stands); ``t.x`` of a
        field ``x`` (the class's own field getter) is ``t[i]`` of its position. Anything
        else on a named tuple (its methods, other attributes) is refused when active."""
        from .resolve import rule_op

        if isinstance(node, gast.Subscript):
            return None
        cls = self.class_of(node.value)
        fields = cls._fields
        getter = find_attribute(cls, node.attr)
        if node.attr not in fields or getter is None or getter[0] not in _namedtuple_bases(cls):
            self.op.refusal = self.error_text(
                node.value, cls, f"'{node.attr}' is not one of its fields {fields}"
            )
            return None
        index = gast.Constant(value=fields.index(node.attr), kind=None)
        return rule_op(
            self.op.stmt, self.op.target, operator.getitem, [node.value, index], {}, self.fn
        )

    # -- attributes -----------------------------------------------------------------------
    def attribute(self, node: gast.Attribute):
        from .ops import FIELD, Op
        from .resolve import is_user_function

        receiver = node.value
        if isinstance(receiver, gast.Name) and receiver.id in self.proxies:
            start, _, unfollowed = self.proxies[receiver.id]
            if start is None:
                self.refuse_unfollowed(receiver, unfollowed, node.attr, call=False)
            return None
        cls = self.class_of(receiver) if isinstance(receiver, gast.Name) else None
        if isinstance(cls, TheClass):
            return None  # a class attribute: a constant, opaque
        if cls is None or self.access_refusal(receiver, cls):
            return None
        name = node.attr
        found = find_attribute(cls, name)
        value = found[1] if found is not None else None
        if isinstance(value, property):
            if is_user_function(value.fget):
                return self.user_call(value.fget, [receiver], [], cls, name)
            self.op.refusal = self.error_text(
                receiver, cls, f"its property '{name}' has no getter written in Python"
            )
            return None
        descriptor = hasattr(type(value), "__get__")
        slot = isinstance(value, types.MemberDescriptorType)  # an entry of __slots__
        if name in _SPECIAL_ATTRIBUTES or (found is not None and descriptor and not slot):
            self.op.refusal = self.error_text(
                receiver, cls, f"'{name}' is not an attribute stored on the object"
            )
            return None
        op = Op(self.op.stmt, FIELD, self.op.target, inputs={"obj": receiver})
        op.attr = name
        op.lookups = dependencies_of_lookup(cls, name)
        return op

    # -- operators ------------------------------------------------------------------------
    def binary(self, node: gast.BinOp):
        left, right = node.left, node.right
        left_class, right_class = self.class_of(left), self.class_of(right)
        if left_class is None and right_class is None:
            return None
        methods = BINARY_METHODS.get(type(node.op).__name__)
        receiver, cls = (left, left_class) if left_class is not None else (right, right_class)
        if methods is None or isinstance(left_class, TheClass) or isinstance(right_class, TheClass):
            self.op.refusal = self.error_text(
                receiver, cls, "this operator is not differentiated on objects"
            )
            return None
        method, reflected, in_place = methods
        mutation = getattr(self.op.stmt, "ad_mutation", None)
        augmented = mutation is not None and mutation.augmented
        if augmented and left_class is not None and find_attribute(left_class, in_place):
            self.op.refusal = self.error_text(
                receiver,
                cls,
                f"its {in_place} (an augmented assignment that may change the object in "
                "place) is not followed; write 'a = a + b'",
            )
            return None
        if left_class is not None:
            if (
                right_class is not None
                and right_class is not left_class
                and issubclass(right_class, left_class)
            ):
                self.op.refusal = self.error_text(
                    right,
                    right_class,
                    f"a subclass on the right may take the operator first ({reflected})",
                )
                return None
            return self.operator_method(left, left_class, method, [left, right])
        number = isinstance(left, gast.Constant) and type(left.value) in (int, float)
        if not number:
            self.op.refusal = self.error_text(
                right,
                right_class,
                f"the left operand is not a number literal; {reflected} is differentiated "
                "only where the left operand is one (write the object on the left)",
            )
            return None
        return self.operator_method(right, right_class, reflected, [right, left])

    def unary(self, node: gast.UnaryOp):
        cls = self.class_of(node.operand)
        if cls is None:
            return None
        method = UNARY_METHODS.get(type(node.op).__name__)
        if method is None:
            self.op.refusal = self.error_text(
                node.operand, cls, "this operator is not differentiated on objects"
            )
            return None
        return self.operator_method(node.operand, cls, method, [node.operand])


def _class_atom(cls: type, like) -> gast.expr:
    """An operand that stands for the class ``cls`` itself (a classmethod's ``cls``):
    ``reverse`` binds it to the class object."""
    atom = gast.Constant(value=None, kind=None)
    atom.ad_object = cls
    gast.copy_location(atom, like)
    return atom


def _shadowed_by_field(cls: type, name: str) -> bool:
    layout = record_layout(cls)
    return isinstance(layout, RecordLayout) and name in layout.fields
