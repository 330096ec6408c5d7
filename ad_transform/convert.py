"""Copies between ``ast`` and ``gast`` trees, faster than gast's own converters.

gast converts with a generic ``NodeTransformer`` (a visitor method lookup, a dict of
fields and a constructor call by keywords per node), which was the larger part of the
parse stage and of printing the generated code. Here the nodes that gast spells like
``ast`` (same class name, same fields) and converts field by field are copied
directly; every other node (``FunctionDef``, ``arguments``, ``Lambda``...) goes through
gast's converter, so the result is the tree gast builds, on every Python gast supports.
"""

from __future__ import annotations

import ast

import gast
from gast.ast3 import Ast3ToGAst, GAstToAst3

from .nodes import subnodes

_LOCATION = ("lineno", "col_offset", "end_lineno", "end_col_offset")

# Candidates: what function bodies and generated code are made of.
_SIMPLE = (
    *("BoolOp", "BinOp", "UnaryOp", "Compare", "Call", "keyword", "Attribute", "Subscript"),
    *("Slice", "Starred", "Tuple", "List", "Dict", "Set", "IfExp", "Constant"),
    *("Expr", "Assign", "AugAssign", "Return", "Pass", "Break", "Continue", "Delete"),
    *("If", "For", "While", "Load", "Store", "Del", "And", "Or", "Not", "Invert", "UAdd"),
    *("USub", "Add", "Sub", "Mult", "MatMult", "Div", "FloorDiv", "Mod", "Pow"),
    *("LShift", "RShift", "BitOr", "BitXor", "BitAnd"),
    *("Eq", "NotEq", "Lt", "LtE", "Gt", "GtE", "Is", "IsNot", "In", "NotIn"),
)


def _copied_field_by_field(name: str, translator: type) -> bool:
    """Whether gast's ``translator`` copies node class ``name`` generically, to a class
    with the same fields (the visitor's own ``visit_Constant`` is generic too)."""
    gast_class, ast_class = getattr(gast, name, None), getattr(ast, name, None)
    method = getattr(translator, "visit_" + name, None)
    return (
        gast_class is not None
        and ast_class is not None
        and gast_class._fields == ast_class._fields
        and (method is None or method is getattr(ast.NodeVisitor, "visit_" + name, None))
    )


_TO_GAST: dict[type, type] = {
    getattr(ast, name): getattr(gast, name)
    for name in _SIMPLE
    if _copied_field_by_field(name, Ast3ToGAst)
}
_TO_AST: dict[type, type] = {
    getattr(gast, name): getattr(ast, name)
    for name in _SIMPLE
    if _copied_field_by_field(name, GAstToAst3)
}


def to_gast(node, line_offset: int = 0, col_offset: int = 0):
    """A gast copy of an ast tree (or list), as ``gast.ast_to_gast`` builds it, with every
    location moved by ``line_offset`` lines and ``col_offset`` columns."""
    if type(node) is list:
        return [to_gast(item, line_offset, col_offset) for item in node]
    if not isinstance(node, ast.AST):
        return node
    kind = type(node)
    if kind is ast.Name:
        new = gast.Name(node.id, to_gast(node.ctx), None, None)
    elif kind in _TO_GAST:
        fields = node.__dict__
        new = _TO_GAST[kind](
            **{
                name: to_gast(fields[name], line_offset, col_offset)
                for name in kind._fields
                if name in fields
            }
        )
    else:
        new = gast.ast_to_gast(node)
        _shift_locations(new, line_offset, col_offset)
        return new
    for attr in _LOCATION:
        value = getattr(node, attr, None)
        if value is not None:
            setattr(new, attr, value + (line_offset if "line" in attr else col_offset))
    return new


def function_to_gast(node: ast.FunctionDef, line_offset: int, col_offset: int) -> gast.AST:
    """``to_gast`` of a ``def``: gast converts its signature, the fast copy its body."""
    body, node.body = node.body, []
    try:
        new = gast.ast_to_gast(node)
    finally:
        node.body = body
    _shift_locations(new, line_offset, col_offset)
    new.body = to_gast(body, line_offset, col_offset)
    return new


# Contexts and operators: no fields, no location; ``unparse`` only reads their class.
_SHARED_AST = {
    gast_class: ast_class()
    for gast_class, ast_class in _TO_AST.items()
    if not gast_class._fields and not gast_class._attributes
}


def to_ast(node):
    """An ``ast`` copy of a gast tree (or list), for ``ast.unparse``.

    The tree ``gast.gast_to_ast`` builds, minus the source locations ``unparse`` never
    reads (a statement keeps a ``lineno``: ``unparse`` looks it up), and with one shared
    instance per context and operator (as ``ast.parse`` does).
    """
    if type(node) is list:
        return [to_ast(item) for item in node]
    kind = type(node)
    shared = _SHARED_AST.get(kind)
    if shared is not None:
        return shared
    if kind is gast.Name:  # gast's Name also has the fields of ast's arg
        return ast.Name(node.id, to_ast(node.ctx))
    if kind is gast.Assign:  # gast's converter drops the type comment
        new = ast.Assign(to_ast(node.targets), to_ast(node.value))
    elif kind in _TO_AST:
        fields = node.__dict__
        new = _TO_AST[kind](
            **{name: to_ast(fields[name]) for name in kind._fields if name in fields}
        )
    elif isinstance(node, gast.AST):
        return ast.fix_missing_locations(gast.gast_to_ast(node))
    else:
        return node
    if isinstance(new, ast.stmt):
        new.lineno = getattr(node, "lineno", 1)
    return new


def _shift_locations(tree: gast.AST, line_offset: int, col_offset: int) -> None:
    if not line_offset and not col_offset:
        return
    for node in subnodes(tree):
        if getattr(node, "lineno", None) is not None:
            node.lineno += line_offset
            node.col_offset += col_offset
        if getattr(node, "end_lineno", None) is not None:
            node.end_lineno += line_offset
            node.end_col_offset += col_offset
