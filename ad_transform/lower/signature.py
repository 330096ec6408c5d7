"""``*args`` of the differentiated function, spread for the number of arguments passed.

The transformation is specialised per call signature anyway (one generated function per
tuple of argument kinds), so a call with two extra positional arguments gets code for
``def f(x, args_0, args_1)`` whose body starts with ``args = (args_0, args_1)``: a tuple
display, whose elements the backward sweep already differentiates. ``wrt`` therefore
counts the arguments as passed: ``grad(f, wrt=2)(x, a, b)`` is the derivative with
respect to ``b``, ``args[1]`` inside ``f``, as with JAX or autograd.

A helper's ``*args`` is spread the same way for each call site's number of positional
arguments (``analyze`` binds the call to ``spread_signature``; ``pipeline.helper_pair``
builds the pair from ``spread_varargs``; ``Op.spread`` carries the number).
"""

from __future__ import annotations

import copy
import dataclasses
import inspect

import gast

from ..names import NameAllocator
from ..nodes import name_ids


def spread_names(parsed, count: int) -> list[str]:
    """The names of the ``count`` parameters ``*args`` becomes (``args_0``, ...)."""
    names = NameAllocator(name_ids(parsed.tree) | parsed.lowered_objects.keys())
    return [names.fresh(f"{parsed.tree.args.vararg.id}_{i}") for i in range(max(count, 0))]


def spread_signature(func, parsed, count: int) -> inspect.Signature:
    """``func``'s signature as ``spread_varargs(parsed, count)`` makes it: the positional
    parameters (all given when ``count > 0``) and the spread ones positional-only."""
    signature = inspect.signature(func, follow_wrapped=False)
    spread = spread_names(parsed, count)
    parameters = []
    for parameter in signature.parameters.values():
        if parameter.kind == parameter.VAR_POSITIONAL:
            parameters += [inspect.Parameter(n, parameter.POSITIONAL_ONLY) for n in spread]
        elif count > 0 and parameter.kind in (
            parameter.POSITIONAL_ONLY,
            parameter.POSITIONAL_OR_KEYWORD,
        ):
            parameters.append(
                parameter.replace(kind=parameter.POSITIONAL_ONLY, default=parameter.empty)
            )
        else:
            parameters.append(parameter)
    return signature.replace(parameters=parameters)


def spread_varargs(parsed, count: int):
    """``parsed`` (a ``ParsedFunction``) with its ``*args`` as ``count`` positional
    parameters gathered into a tuple of the same name at the top of its body; unchanged
    when it has no ``*args``."""
    vararg = parsed.tree.args.vararg
    if vararg is None:
        return parsed
    spread = spread_names(parsed, count)
    tree = copy.deepcopy(parsed.tree)
    params = [
        gast.Name(id=name, ctx=gast.Param(), annotation=None, type_comment=None) for name in spread
    ]
    packed = gast.Tuple(
        elts=[gast.Name(id=n, ctx=gast.Load(), annotation=None, type_comment=None) for n in spread],
        ctx=gast.Load(),
    )
    store = gast.Name(id=vararg.id, ctx=gast.Store(), annotation=None, type_comment=None)
    gather = gast.Assign(targets=[store], value=packed, type_comment=None)
    for node in (*params, packed, *packed.elts, store, gather):
        for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
            setattr(node, attr, getattr(vararg, attr, None) or getattr(tree, attr, None))
    tree.args.args = [*tree.args.args, *params]
    tree.args.vararg = None
    tree.body = [gather, *tree.body]
    return dataclasses.replace(
        parsed, tree=tree, lowered_locals=frozenset(parsed.lowered_locals | set(spread))
    )
