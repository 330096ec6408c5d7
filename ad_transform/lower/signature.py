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

A helper's ``**kwargs`` is spread the same way for the keywords a call gives it by name
(``f(x, scale=y)``, or ``f(x, **{"scale": y})`` lowered to that): ``def f(v, **options)``
becomes ``def f(v, *, options_scale)`` with ``options = {"scale": options_scale}`` at the
top of its body, so each keyword is differentiated like a named argument.
``Op.spread_keywords`` carries the keys (in the call's order); they are part of the
cache key of the helper pair.
"""

from __future__ import annotations

import dataclasses
import inspect

import gast

from ..names import NameAllocator
from ..nodes import clone, name_ids


def spread_names(parsed, count: int) -> list[str]:
    """The names of the ``count`` parameters ``*args`` becomes (``args_0``, ...)."""
    names = NameAllocator(name_ids(parsed.tree) | parsed.lowered_objects.keys())
    return [names.fresh(f"{parsed.tree.args.vararg.id}_{i}") for i in range(max(count, 0))]


def spread_keyword_names(parsed, count: int, keywords: tuple[str, ...]) -> list[str]:
    """The names of the keyword-only parameters ``**kwargs`` becomes for ``keywords``
    (``options_scale``, ...), clashing with nothing, the ``*args`` spread included."""
    names = NameAllocator(
        name_ids(parsed.tree) | parsed.lowered_objects.keys() | set(spread_names(parsed, count))
    )
    return [names.fresh(f"{parsed.tree.args.kwarg.id}_{key}") for key in keywords]


def spread_signature(func, parsed, count: int, keywords: tuple[str, ...] = ()) -> inspect.Signature:
    """``func``'s signature as ``spread_varargs(parsed, count, keywords)`` makes it: the
    positional parameters (all given when ``count > 0``) and the spread ones
    positional-only; ``**kwargs`` as keyword-only parameters when ``keywords`` are given."""
    signature = inspect.signature(func, follow_wrapped=False)
    spread = spread_names(parsed, count)
    parameters = []
    for parameter in signature.parameters.values():
        if parameter.kind == parameter.VAR_KEYWORD and keywords:
            parameters += [
                inspect.Parameter(n, parameter.KEYWORD_ONLY)
                for n in spread_keyword_names(parsed, count, keywords)
            ]
        elif parameter.kind == parameter.VAR_POSITIONAL:
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


def spread_varargs(parsed, count: int, keywords: tuple[str, ...] = ()):
    """``parsed`` (a ``ParsedFunction``) with its ``*args`` as ``count`` positional
    parameters gathered into a tuple of the same name at the top of its body, and its
    ``**kwargs`` (when ``keywords`` are given) as keyword-only parameters gathered into a
    dict display; unchanged when it has neither."""
    if keywords and parsed.tree.args.kwarg is not None:
        parsed = _spread_kwargs(parsed, count, keywords)
    vararg = parsed.tree.args.vararg
    if vararg is None:
        return parsed
    spread = spread_names(parsed, count)
    tree = clone(parsed.tree)
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


def _spread_kwargs(parsed, count: int, keywords: tuple[str, ...]):
    kwarg = parsed.tree.args.kwarg
    spread = spread_keyword_names(parsed, count, keywords)
    tree = clone(parsed.tree)
    params = [
        gast.Name(id=name, ctx=gast.Param(), annotation=None, type_comment=None) for name in spread
    ]
    packed = gast.Dict(
        keys=[gast.Constant(value=key, kind=None) for key in keywords],
        values=[
            gast.Name(id=n, ctx=gast.Load(), annotation=None, type_comment=None) for n in spread
        ],
    )
    store = gast.Name(id=kwarg.id, ctx=gast.Store(), annotation=None, type_comment=None)
    gather = gast.Assign(targets=[store], value=packed, type_comment=None)
    for node in (*params, packed, *packed.keys, *packed.values, store, gather):
        for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
            setattr(node, attr, getattr(kwarg, attr, None) or getattr(tree, attr, None))
    tree.args.kwonlyargs = [*tree.args.kwonlyargs, *params]
    tree.args.kw_defaults = [*tree.args.kw_defaults, *([None] * len(params))]
    tree.args.kwarg = None
    tree.body = [gather, *tree.body]
    return dataclasses.replace(
        parsed, tree=tree, lowered_locals=frozenset(parsed.lowered_locals | set(spread))
    )
