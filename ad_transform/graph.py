"""The evaluation trace as a computation graph, written as Graphviz DOT.

Nodes are the primitives of one call with their forward values (and their final
adjoints ``v̄k``); an edge ``vi -> vk`` says that ``vk`` was computed from ``vi`` and
carries, in red, the adjoint that flowed back along it (the contribution of ``vk``'s
adjoint rule to ``v̄i``). Iterations of a loop are drawn as nested boxes; in a loop with
more than ``max_loop_nodes`` nodes only the first and the last iteration are drawn and
the ones between become one summary node, so that a long loop is not a hairball.

``to_dot()`` needs nothing; ``render("out.svg")`` (or ``.png``, ``.pdf``) runs
Graphviz's ``dot`` program, found on ``PATH`` or through the ``graphviz`` Python
package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .trace import trace_table
from .trace_rows import TraceTable
from .trace_text import adjoint_label, format_value

__all__ = ["ComputationGraph", "Edge", "GraphvizNotFoundError", "Node", "computation_graph"]


class GraphvizNotFoundError(RuntimeError):
    """Rendering needs Graphviz's ``dot`` program, which is not installed."""


@dataclass
class Node:
    id: str
    title: str  # "v2 = v_-1 * v0"
    value: str = ""  # "10.000"
    adjoint: str = ""  # "v̄2 = 1.000"
    kind: str = "op"  # input, op, effect, output, group
    iteration: tuple = ()
    line: int | None = None
    members: int = 0  # nodes a summary node stands for


@dataclass
class Edge:
    source: str
    target: str
    adjoint: object = None  # the adjoint that flowed back along the edge
    count: int = 1  # edges merged into this one (summarised iterations)
    style: str = ""


@dataclass
class ComputationGraph:
    """Nodes and edges of one call's trace; ``to_dot()``, ``render(path)``."""

    name: str
    nodes: list[Node]
    edges: list[Edge]
    clusters: dict = field(default_factory=dict)  # path prefix -> caption
    digits: int = 3

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_trace(cls, table: TraceTable, max_loop_nodes: int = 20) -> ComputationGraph:
        digits = table.digits
        nodes: dict[str, Node] = {}
        edges: dict[tuple[str, str], Edge] = {}
        captions: dict[tuple, str] = {}
        adjoints = _final_adjoints(table)
        for row in table.forward:
            if row.is_marker and row.loop is not None:
                captions[row.iteration] = f"{row.expression}: iteration {row.loop[1]}"
        effects = 0
        for row in table.forward:
            if row.kind in ("input", "primal"):
                node = Node(
                    row.label,
                    f"{row.label} = {row.expression}",
                    row.value_text(digits),
                    _adjoint_text(row.label, adjoints, digits),
                    "input" if row.kind == "input" else "op",
                    row.iteration,
                    row.line,
                )
                nodes[node.id] = node
                for source in row.sources:
                    edges.setdefault((source, node.id), Edge(source, node.id))
            elif row.kind == "effect":
                effects += 1
                node = Node(
                    f"effect{effects}",
                    f"{row.target} {row.op} {row.expression}".strip(),
                    row.value_text(digits),
                    kind="effect",
                    iteration=row.iteration,
                    line=row.line,
                )
                nodes[node.id] = node
                for source in row.sources:
                    edges.setdefault((source, node.id), Edge(source, node.id))
                if row.label:
                    edges[(node.id, row.label)] = Edge(node.id, row.label, style="dashed")
            elif row.kind == "output" and row.label:
                node = Node("y", f"y = {row.label}", row.value_text(digits), kind="output")
                nodes[node.id] = node
                edges[(row.label, "y")] = Edge(row.label, "y")
        for row in table.reverse:
            if row.kind == "adjoint" and row.label and row.via:
                edge = edges.get((row.label, row.via))
                if edge is not None and row.increment is not None:
                    edge.adjoint = (
                        row.increment if edge.adjoint is None else edge.adjoint + row.increment
                    )
        graph = cls(table.function, list(nodes.values()), list(edges.values()), captions, digits)
        return graph.grouped(max_loop_nodes)

    def grouped(self, max_loop_nodes: int) -> ComputationGraph:
        """Iterations between the first and the last of a loop with more than
        ``max_loop_nodes`` nodes become one summary node."""
        loops: dict[tuple, dict] = {}  # (outer path, loop key) -> nodes, trips
        for node in self.nodes:
            for level, (key, number) in enumerate(node.iteration):
                info = loops.setdefault((node.iteration[:level], key), {"nodes": 0, "trips": 0})
                info["nodes"] += 1
                info["trips"] = max(info["trips"], number)

        def group_of(path: tuple) -> tuple | None:
            for level, (key, number) in enumerate(path):
                loop = (path[:level], key)
                info = loops[loop]
                large = info["nodes"] > max_loop_nodes and info["trips"] > 2
                if large and number not in (1, info["trips"]):
                    return loop
            return None

        groups: dict[tuple, Node] = {}
        representative: dict[str, str] = {}
        kept: list[Node] = []
        for node in self.nodes:
            loop = group_of(node.iteration)
            if loop is None:
                kept.append(node)
                representative[node.id] = node.id
                continue
            if loop not in groups:
                outer, key = loop
                trips = loops[loop]["trips"]
                caption = self.clusters.get((*outer, (key, 1)), "loop").rsplit(":", 1)[0]
                groups[loop] = Node(
                    f"group{len(groups) + 1}",
                    f"{caption}\niterations 2 to {trips - 1}",
                    kind="group",
                    iteration=outer,
                )
                kept.append(groups[loop])
            groups[loop].members += 1
            representative[node.id] = groups[loop].id
        if not groups:
            return self
        for group in groups.values():
            group.value = f"{group.members} nodes not drawn"
        merged: dict[tuple[str, str], Edge] = {}
        for edge in self.edges:
            source = representative.get(edge.source, edge.source)
            target = representative.get(edge.target, edge.target)
            if source == target:
                continue
            if (source, target) in merged:
                merged[(source, target)].count += 1
                merged[(source, target)].adjoint = None
            else:
                summarised = source != edge.source or target != edge.target
                merged[(source, target)] = Edge(
                    source,
                    target,
                    None if summarised else edge.adjoint,
                    style="dashed" if summarised else edge.style,
                )
        return ComputationGraph(self.name, kept, list(merged.values()), self.clusters, self.digits)

    # -- DOT -------------------------------------------------------------------------------
    def to_dot(self, rankdir: str = "LR") -> str:
        """The graph as Graphviz DOT text."""
        lines = [
            f"digraph {_quote(self.name)} {{",
            f'  graph [rankdir={rankdir}, fontname="Helvetica", fontsize=12, labelloc=t, '
            f"label={_quote(_caption(self.name))}];",
            '  node [shape=box, style="rounded,filled", fillcolor="#f5f5f5", '
            'fontname="Helvetica", fontsize=11];',
            '  edge [fontname="Helvetica", fontsize=9, color="#666666", fontcolor="#c0392b"];',
        ]
        tree: dict[tuple, list[Node]] = {}
        for node in self.nodes:
            tree.setdefault(node.iteration, []).append(node)
        prefixes = sorted(
            {p[:i] for p in tree for i in range(1, len(p) + 1)}, key=lambda p: (len(p), p)
        )
        lines.extend(self._cluster((), tree, prefixes, 1))
        for edge in self.edges:
            attributes = []
            if edge.adjoint is not None:
                attributes.append(f"label={_quote(format_value(edge.adjoint, self.digits))}")
            elif edge.count > 1:
                attributes.append(f"label={_quote(f'x{edge.count}')}")
            if edge.style:
                attributes.append(f"style={edge.style}")
            suffix = f" [{', '.join(attributes)}]" if attributes else ""
            lines.append(f"  {_quote(edge.source)} -> {_quote(edge.target)}{suffix};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _cluster(self, prefix: tuple, tree: dict, prefixes: list, depth: int) -> list[str]:
        pad = "  " * depth
        lines = [pad + _node_line(node) for node in tree.get(prefix, [])]
        for child in prefixes:
            if len(child) == len(prefix) + 1 and child[: len(prefix)] == prefix:
                inner = self._cluster(child, tree, prefixes, depth + 1)
                if not inner:
                    continue
                name = "cluster_" + "_".join(f"{k[0]}_{k[1]}_{n}" for k, n in child)
                caption = self.clusters.get(child, "iteration")
                lines.append(f"{pad}subgraph {_quote(name)} {{")
                lines.append(
                    f'{pad}  label={_quote(caption)}; style="rounded,dashed"; color="#999999";'
                )
                lines.extend(inner)
                lines.append(f"{pad}}}")
        return lines

    # -- output ----------------------------------------------------------------------------
    def render(self, path, format: str | None = None) -> Path:
        """Write the graph to ``path``: ``.dot`` as text, other formats (``.svg``, ``.png``,
        ``.pdf``) through Graphviz. Raises :class:`GraphvizNotFoundError` without it."""
        path = Path(path)
        fmt = (format or path.suffix.lstrip(".") or "svg").lower()
        if fmt in ("dot", "gv"):
            path.write_text(self.to_dot(), encoding="utf-8")
            return path
        path.write_bytes(self.pipe(fmt))
        return path

    def pipe(self, fmt: str = "svg") -> bytes:
        """The graph rendered by Graphviz in format ``fmt`` (``svg``, ``png``, ...)."""
        source = self.to_dot().encode("utf-8")
        import shutil  # here: importing ad_transform must stay cheap
        import subprocess

        dot = shutil.which("dot")
        if dot is not None:
            done = subprocess.run([dot, f"-T{fmt}"], input=source, capture_output=True, check=False)
            if done.returncode != 0:
                message = done.stderr.decode(errors="replace").strip()
                raise RuntimeError(f"Graphviz 'dot -T{fmt}' failed: {message}")
            return done.stdout
        try:
            import graphviz
        except ImportError:
            raise GraphvizNotFoundError(_MISSING_GRAPHVIZ) from None
        try:
            return graphviz.Source(source.decode("utf-8")).pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFoundError(_MISSING_GRAPHVIZ) from None

    def _repr_svg_(self) -> str | None:
        try:
            return self.pipe("svg").decode("utf-8")
        except (GraphvizNotFoundError, RuntimeError):
            return None


_MISSING_GRAPHVIZ = (
    "rendering SVG/PNG needs Graphviz's 'dot' program, which was not found (install "
    "Graphviz: https://graphviz.org/download/, e.g. 'apt install graphviz' or 'brew install "
    "graphviz'); to_dot() and a '.dot' file work without it"
)


def computation_graph(func, *args, wrt=None, max_loop_nodes: int = 20, **kwargs):
    """The computation graph of ``func(*args, **kwargs)`` with its values and adjoints."""
    table = trace_table(func, *args, wrt=wrt, full=True, **kwargs)
    return table.graph(max_loop_nodes=max_loop_nodes)


def _final_adjoints(table: TraceTable) -> dict[str, object]:
    found: dict[str, object] = {}
    for row in table.reverse:
        if row.kind in ("seed", "adjoint", "gradient") and row.label:
            found[row.label] = row.value
    return found


def _adjoint_text(label: str, adjoints: dict, digits: int) -> str:
    if label not in adjoints:
        return ""
    value = adjoints[label]
    if isinstance(value, np.ndarray) and value.size > 6:
        return f"{adjoint_label(label)}: {format_value(value, digits)}"
    return f"{adjoint_label(label)} = {format_value(value, digits)}"


def _node_line(node: Node) -> str:
    parts = [node.title]
    if node.value:
        parts.append(node.value)
    if node.adjoint:
        parts.append(node.adjoint)
    label = "\n".join(parts)
    attributes = [f"label={_quote(label)}"]
    if node.kind == "input":
        attributes.append('shape=ellipse, fillcolor="#dbe9f6"')
    elif node.kind == "output":
        attributes.append('shape=doublecircle, fillcolor="#fdebd0"')
    elif node.kind == "group":
        attributes.append('shape=box3d, fillcolor="#eeeeee", style="filled,dashed"')
    elif node.kind == "effect":
        attributes.append('fillcolor="#fef9e7"')
    if node.line:
        attributes.append(f"tooltip={_quote(f'line {node.line}')}")
    return f"{_quote(node.id)} [{', '.join(attributes)}];"


def _caption(name: str) -> str:
    return f"{name}: forward values in the nodes, adjoints flowing back in red on the edges"


def _quote(text: str) -> str:
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
