"""Small helper pairs written into their caller's loops, as a person inlines a helper.

A helper pair (``pipeline._Builder.helper_pair``) whose forward and backward halves are
straight-line code with no tape of their own (``InlineForm``, recorded by ``emit_split``)
is spliced into the caller at each call: ``r, saved = f_fwd(a, b)`` becomes the forward
half's statements (parameters replaced by the arguments, other names renamed fresh)
and ``r = <its result>``; ``dx, dy = f_bwd(saved, g)`` becomes ``dr = g``, the
backward half's statements and ``dx, dy = <its gradients>``. The values the pair saved
are the caller's names now: where the caller pushed ``saved`` it pushes them instead,
and ``tape.compact_tape`` (which runs next) treats them like its own (loop constants,
values computed again).

Inlined only where it changes nothing but speed: the helper's globals are the caller's,
each name the halves read from outside is the same object in the caller (or bound
through a closure cell), every argument is a name or a constant, and both calls are
found exactly once, as whole statements.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field

import gast

from .. import runtime
from ..nodes import clone, name_ids
from .walk import COMPOUND


@dataclass
class InlineForm:
    """What a pair's caller needs to write the pair's halves into its own code."""

    params: list[str]
    forward: list[gast.stmt]
    backward: list[gast.stmt]
    saved: list[str]
    seed: str
    result: gast.expr
    returned: gast.expr  # the backward half's return value
    cells: dict = field(default_factory=dict)  # name -> closure cell the halves read
    globals: dict = field(default_factory=dict)
    kinds: dict = field(default_factory=dict)  # the pair's kinds of its names


def inline_form(program, params, saved, seed, returned, func) -> InlineForm | None:
    """The pair's halves as an ``InlineForm``, or None if they cannot be inlined."""
    if program.tape or getattr(program, "inout_adjoints", None):
        return None
    for stmt in _every_statement([*program.forward, *program.backward]):
        if getattr(stmt, "ad_catch", False) or isinstance(stmt, (gast.Return, gast.Try)):
            return None
    if any(isinstance(s, gast.If) for s in _every_statement(program.forward)):
        return None  # a saved value may be bound on one branch only
    if not isinstance(program.result, (gast.Name, gast.Constant)):
        return None
    stored = name_ids(program.forward, gast.Store) | name_ids(program.backward, gast.Store)
    if stored & set(params) or seed in params:
        return None
    cells = dict(program.fn.parsed.closure)
    cells.update(program.bindings.cells)
    return InlineForm(
        list(params),
        clone(program.forward),
        clone(program.backward),
        list(saved),
        seed,
        clone(program.result),
        clone(returned),
        cells,
        func.__globals__,
        dict(program.analysis.kinds),
    )


def inline_pairs(program) -> bool:
    """Write each inlinable pair the program calls into its sweeps; whether any was."""
    seen = set()
    inlined = False
    for pair in getattr(program, "pairs_used", []):
        if id(pair) in seen:
            continue
        seen.add(id(pair))
        form = getattr(getattr(pair, "generated", None), "inline", None)
        if form is None or form.globals is not program.fn.parsed.globals:
            continue
        fwd_name = _bound_name(program, pair.fwd_cell)
        bwd_name = _bound_name(program, pair.bwd_cell)
        if fwd_name is None or bwd_name is None:
            continue
        for site in _call_sites(program, fwd_name, bwd_name):
            inlined |= _inline_site(program, form, *site)
    return inlined


def _bound_name(program, cell) -> str | None:
    for name, bound in program.bindings.cells.items():
        if bound is cell:
            return name
    return None


def _call_sites(program, fwd_name: str, bwd_name: str) -> list[tuple]:
    """(forward block, forward statement, backward block, backward statement, saved name)
    of each call found exactly once in each sweep."""
    forwards: dict[str, list] = {}
    backwards: dict[str, list] = {}
    for block, stmt in _looped_statements(program.forward, False):
        call = getattr(stmt, "value", None)
        if _calls(call, fwd_name) and isinstance(stmt, gast.Assign):
            target = stmt.targets[0]
            if isinstance(target, gast.Tuple) and len(target.elts) == 2:
                saved = target.elts[1]
                if isinstance(saved, gast.Name) and isinstance(target.elts[0], gast.Name):
                    forwards.setdefault(saved.id, []).append((block, stmt))
    for block, stmt in _statements(program.backward):
        call = getattr(stmt, "value", None)
        if _calls(call, bwd_name) and isinstance(stmt, (gast.Assign, gast.AugAssign)):
            saved = call.args[0] if len(call.args) == 2 else None
            if isinstance(saved, gast.Name):
                backwards.setdefault(saved.id, []).append((block, stmt))
    mentioned = _calls_anywhere(program, fwd_name, bwd_name)
    if not forwards:
        return []
    sites = []
    for saved, found in forwards.items():
        back = backwards.get(saved, [])
        if len(found) == 1 and len(back) == 1:
            sites.append((*found[0], *back[0], saved))
    if mentioned != 2 * len(_all_forward_calls(program, fwd_name)) or len(sites) != len(forwards):
        return []  # a call this pass does not understand: leave every one as it is
    return sites


def _all_forward_calls(program, fwd_name: str) -> list:
    return [
        stmt
        for _, stmt in _statements(program.forward)
        if _calls(getattr(stmt, "value", None), fwd_name)
    ]


def _looped_statements(block: list[gast.stmt], looped: bool):
    """(block, statement) of the statements inside loops: a call there runs many times,
    where inlining pays; a call outside stays a call (the source names the helper)."""
    for stmt in block:
        if looped:
            yield block, stmt
        if isinstance(stmt, COMPOUND):
            inner = looped or isinstance(stmt, (gast.For, gast.While))
            yield from _looped_statements(stmt.body, inner)
            yield from _looped_statements(stmt.orelse, inner)


def _calls(node, name: str) -> bool:
    return (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Name)
        and node.func.id == name
        and not node.keywords
        and not any(isinstance(a, gast.Starred) for a in node.args)
    )


def _calls_anywhere(program, fwd_name: str, bwd_name: str) -> int:
    count = 0
    for stmts in (program.forward, program.backward):
        for node in gast.walk(gast.Module(body=list(stmts), type_ignores=[])):
            if isinstance(node, gast.Name) and node.id in (fwd_name, bwd_name):
                count += 1
    return count


def _every_statement(block: list[gast.stmt]):
    for _, stmt in _statements(block):
        yield stmt


def _statements(block: list[gast.stmt]):
    for stmt in block:
        yield block, stmt
        if isinstance(stmt, COMPOUND):
            yield from _statements(stmt.body)
            yield from _statements(stmt.orelse)


def _inline_site(program, form: InlineForm, fblock, fstmt, bblock, bstmt, saved_name) -> bool:
    """Write one call of the pair into the caller; whether it was (else it stays a call)."""
    call = fstmt.value
    args = call.args
    if len(args) != len(form.params) or not all(
        isinstance(a, gast.Constant) or (isinstance(a, gast.Name) and a.id in _locals(program))
        for a in args
    ):
        return False  # a global or closure name given would become a local of the sweeps
    renames = _renames(program, form)
    if renames is None:
        return False
    substitute = {p: a for p, a in zip(form.params, args)}
    line = getattr(fstmt, "origin_line", None)
    forward = [_renamed(s, renames, substitute, line) for s in form.forward]
    result_name = fstmt.targets[0].elts[0].id
    forward.append(_assign(result_name, _renamed(form.result, renames, substitute, line), line))
    saved_atoms = [_renamed(_name(s), renames, substitute, line) for s in form.saved]
    saved_names = [a.id for a in saved_atoms if isinstance(a, gast.Name)]
    if not saved_names or not _replace_on_tape(program, saved_name, saved_names):
        return False
    bcall = bstmt.value
    bline = getattr(bstmt, "origin_line", None)
    seed = renames[form.seed]
    body = [_renamed(s, renames, substitute, bline) for s in form.backward]
    if isinstance(bcall.args[1], gast.Tuple):  # the adjoints of a tuple's elements
        body = _with_elements(body, seed, bcall.args[1], form, renames)
    returned = _renamed(form.returned, renames, substitute, bline)
    if isinstance(bcall.args[1], gast.Tuple):
        returned = _element_reads(returned, seed, bcall.args[1])
    if any(seed in name_ids(s) for s in [*body, returned]):
        body.insert(0, _assign(seed, bcall.args[1], bline))
    backward = body
    if isinstance(bstmt, gast.AugAssign):
        last = gast.AugAssign(target=bstmt.target, op=bstmt.op, value=returned)
    else:
        last = gast.Assign(targets=bstmt.targets, value=returned, type_comment=None)
    last.origin_line = bline
    last.ad_pure = getattr(bstmt, "ad_pure", True)
    backward.append(last)
    position = next(i for i, s in enumerate(fblock) if s is fstmt)
    fblock[position : position + 1] = forward
    position = next(i for i, s in enumerate(bblock) if s is bstmt)
    bblock[position : position + 1] = backward
    kinds = program.analysis.kinds
    for old, new in renames.items():
        if old in form.kinds and new not in kinds:
            kinds[new] = form.kinds[old]
    names = getattr(program, "inlined_names", None)
    if names is None:
        names = program.inlined_names = set()
    names |= set(renames.values()) | name_ids(last, gast.Store)
    return True


def _locals(program) -> set[str]:
    """The names the generated function binds: its parameters and what its sweeps assign."""
    args = program.fn.tree.args
    params = {a.id for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    return params | name_ids(program.forward, gast.Store) | name_ids(program.backward, gast.Store)


def _with_elements(body: list, seed: str, elements: gast.Tuple, form, renames) -> list:
    """The inlined backward half given a tuple display as seed: ``if not is_zero(seed):``
    (never zero) keeps its body, and ``seed[i]`` is the element itself."""
    is_zero = next(
        (renames.get(n, n) for n, c in form.cells.items() if _holds(c, runtime.is_zero)), None
    )
    out = []
    for stmt in body:
        test = getattr(stmt, "test", None)
        if (
            isinstance(stmt, gast.If)
            and not stmt.orelse
            and isinstance(test, gast.UnaryOp)
            and isinstance(test.op, gast.Not)
            and isinstance(test.operand, gast.Call)
            and isinstance(test.operand.func, gast.Name)
            and test.operand.func.id == is_zero
            and len(test.operand.args) == 1
            and isinstance(test.operand.args[0], gast.Name)
            and test.operand.args[0].id == seed
        ):
            out.extend(stmt.body)
        else:
            out.append(stmt)
    return [_element_reads(stmt, seed, elements) for stmt in out]


def _holds(cell, obj) -> bool:
    try:
        return cell.cell_contents is obj
    except ValueError:
        return False


def _element_reads(node, seed: str, elements: gast.Tuple):
    """``node`` with ``seed[i]`` (a constant index in range) replaced by element ``i``."""
    if (
        isinstance(node, gast.Subscript)
        and isinstance(node.value, gast.Name)
        and node.value.id == seed
        and isinstance(node.slice, gast.Constant)
        and type(node.slice.value) is int
        and 0 <= node.slice.value < len(elements.elts)
    ):
        return clone(elements.elts[node.slice.value])
    for name, value in gast.iter_fields(node):
        if isinstance(value, gast.AST):
            setattr(node, name, _element_reads(value, seed, elements))
        elif isinstance(value, list):
            value[:] = [
                _element_reads(v, seed, elements) if isinstance(v, gast.AST) else v for v in value
            ]
    return node


def _renames(program, form: InlineForm) -> dict[str, str] | None:
    """Each name of the halves -> its name in the caller: fresh for their own names, the
    caller's binding of the same cell for closure cells, the same name for a global or
    builtin the caller reads as the same object (None if one is not)."""
    own = set(form.params)
    for stmts in (form.forward, form.backward):
        own |= name_ids(stmts, gast.Store)
    own |= {form.seed, *form.saved}
    every = name_ids([*form.forward, *form.backward, form.result, form.returned])
    every |= {form.seed, *form.saved}
    renames: dict[str, str] = {}
    fn = program.fn
    for name in sorted(every):
        if name in form.params:
            continue
        if name in own:
            renames[name] = fn.names.fresh(name)
        elif name in form.cells:
            renames[name] = program.bindings.bind_cell(name, form.cells[name])
        else:
            obj = form.globals.get(name, getattr(builtins, name, _MISSING))
            mine = fn.parsed.lookup(name) if name in fn.free_names else _MISSING
            reserved = getattr(program, "inlined_globals", None)
            if reserved is None:
                reserved = program.inlined_globals = {}
            if (mine is not _MISSING and mine is obj) or reserved.get(name, _MISSING) is obj:
                renames[name] = name
            elif name not in fn.names.taken and name not in fn.parsed.closure:
                fn.names.reserve(name)  # found through the same globals, as in the helper
                reserved[name] = obj
                renames[name] = name
            else:
                return None
    return renames


_MISSING = object()


def _replace_on_tape(program, saved_name: str, names: list[str]) -> bool:
    """Where the caller pushed and popped ``saved_name``, push and pop ``names``."""
    tape = getattr(program, "tape", None) or {}
    push, pop = tape.get("push"), tape.get("pop")
    edits = []
    for sweep in (program.forward, program.backward):
        for _, stmt in _statements(sweep):
            if saved_name not in name_ids(stmt):
                continue
            value = getattr(stmt, "value", None)
            if isinstance(stmt, gast.Expr) and _calls(value, push) and len(value.args) == 1:
                edits.append((stmt, "push"))
            elif isinstance(stmt, gast.Assign) and _calls(value, pop) and not value.args:
                edits.append((stmt, "pop"))
    for stmt, role in edits:
        node = stmt.value.args[0] if role == "push" else stmt.targets[0]
        elements = node.elts if isinstance(node, gast.Tuple) else [node]
        if not all(isinstance(e, gast.Name) for e in elements):
            return False
    for stmt, role in edits:
        node = stmt.value.args[0] if role == "push" else stmt.targets[0]
        elements = node.elts if isinstance(node, gast.Tuple) else [node]
        ctx = gast.Load() if role == "push" else gast.Store()
        kept = []
        for e in elements:
            if e.id == saved_name:
                kept.extend(n for n in names if n not in kept)
            elif e.id not in kept:
                kept.append(e.id)
        nodes = [_name(n, type(ctx)()) for n in kept]
        new = nodes[0] if len(nodes) == 1 else gast.Tuple(elts=nodes, ctx=ctx)
        if role == "push":
            stmt.value.args[0] = new
        else:
            stmt.targets[0] = new
        for key in ("_ad_names", "_ad_loaded", "_ad_assigned"):
            stmt.__dict__.pop(key, None)
    return True


def _renamed(node, renames: dict, substitute: dict, line):
    """A copy of ``node`` with the parameters replaced by the call's arguments and the
    other names of the halves renamed (a substituted argument is never renamed)."""
    node = _rewrite_names(clone(node), renames, substitute)
    for inner in gast.walk(node):
        if isinstance(inner, gast.stmt):  # the helper's lines print as the call's
            inner.origin_line = line
    return node


def _rewrite_names(node, renames: dict, substitute: dict):
    if isinstance(node, gast.Name):
        if node.id in substitute:
            return clone(substitute[node.id])
        node.id = renames.get(node.id, node.id)
        return node
    for key in ("_ad_names", "_ad_loaded", "_ad_assigned"):
        node.__dict__.pop(key, None)
    for name, value in gast.iter_fields(node):
        if isinstance(value, gast.AST):
            setattr(node, name, _rewrite_names(value, renames, substitute))
        elif isinstance(value, list):
            value[:] = [
                _rewrite_names(v, renames, substitute) if isinstance(v, gast.AST) else v
                for v in value
            ]
    return node


def _assign(target: str, value: gast.expr, line) -> gast.Assign:
    stmt = gast.Assign(targets=[_name(target, gast.Store())], value=value, type_comment=None)
    stmt.origin_line = line
    return stmt


def _name(identifier: str, ctx=None) -> gast.Name:
    return gast.Name(id=identifier, ctx=ctx or gast.Load(), annotation=None, type_comment=None)
