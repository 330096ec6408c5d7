"""The computation graph: nodes, data edges, the adjoints on the edges, DOT, rendering."""

from __future__ import annotations

import math
import re
import shutil
import sys

import numpy as np
import pytest

from ad_transform import trace_table
from ad_transform.graph import ComputationGraph, GraphvizNotFoundError, computation_graph


def seed(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def long_loop(x, n):
    s = x
    for _ in range(n):
        s = np.sin(s) * 0.9 + x
    return s


def short_loop(x):
    s = x
    for _ in range(2):
        s = s * s + 1.0
    return s


def two_layer(W1, b1, W2, b2, X, y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    return np.mean((out - y) ** 2)


def _edges(graph: ComputationGraph) -> dict:
    return {(e.source, e.target): e for e in graph.edges}


def test_seed_graph_nodes_and_data_edges():
    graph = computation_graph(seed, 2.0, 5.0)
    assert {n.id for n in graph.nodes} == {"v_-1", "v0", "v1", "v2", "v3", "v4", "v5", "y"}
    assert set(_edges(graph)) == {
        ("v_-1", "v1"),
        ("v_-1", "v2"),
        ("v0", "v2"),
        ("v1", "v3"),
        ("v2", "v3"),
        ("v0", "v4"),
        ("v3", "v5"),
        ("v4", "v5"),
        ("v5", "y"),
    }
    nodes = {n.id: n for n in graph.nodes}
    assert nodes["v1"].title == "v1 = log(v_-1)" and nodes["v1"].value == "0.693"
    assert nodes["v_-1"].adjoint == "v̄-1 = 5.500"  # 1/x1 + x2
    assert nodes["v0"].adjoint == "v̄0 = 1.716"  # x1 - cos(x2)


def test_edges_carry_the_adjoint_that_flowed_back_along_them():
    x1, x2 = 2.0, 5.0
    edges = _edges(computation_graph(seed, x1, x2))
    expected = {  # d(node)/d(source), times the node's adjoint (1 or -1 here)
        ("v_-1", "v1"): 1 / x1,
        ("v_-1", "v2"): x2,
        ("v0", "v2"): x1,
        ("v1", "v3"): 1.0,
        ("v2", "v3"): 1.0,
        ("v0", "v4"): -math.cos(x2),
        ("v3", "v5"): 1.0,
        ("v4", "v5"): -1.0,
    }
    for key, value in expected.items():
        assert edges[key].adjoint == pytest.approx(value, abs=1e-15), key
    # the adjoints flowing into an input add up to its gradient
    into_x2 = edges[("v0", "v2")].adjoint + edges[("v0", "v4")].adjoint
    assert into_x2 == pytest.approx(x1 - math.cos(x2), abs=1e-15)


def test_dot_text():
    dot = computation_graph(seed, 2.0, 5.0).to_dot()
    assert dot.startswith('digraph "seed" {') and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    assert '"v_-1" -> "v2" [label="5.000"];' in dot
    assert '"v1" [label="v1 = log(v_-1)\\n0.693\\nv̄1 = 1.000"' in dot
    assert "shape=ellipse" in dot and "shape=doublecircle" in dot
    assert len(re.findall(r" -> ", dot)) == 9


def test_loop_iterations_are_boxes_and_long_loops_are_summarised():
    small = computation_graph(short_loop, 0.5)
    dot = small.to_dot()
    assert dot.count("subgraph") == 2  # one box per iteration
    assert "iteration 1" in dot and "iteration 2" in dot
    assert not any(n.kind == "group" for n in small.nodes)

    big = computation_graph(long_loop, 0.5, 12, wrt=0)  # 3 nodes per iteration, 36 in all
    groups = [n for n in big.nodes if n.kind == "group"]
    assert len(groups) == 1
    assert "iterations 2 to 11" in groups[0].title and groups[0].members == 30
    kept = {n.iteration[0][1] for n in big.nodes if n.iteration and n.kind != "group"}
    assert kept == {1, 12}
    assert len(big.nodes) == 2 + 3 + 1 + 3 + 1  # inputs, first, summary, last, output
    ids = {n.id for n in big.nodes}
    assert all(e.source in ids and e.target in ids for e in big.edges)
    unsummarised = trace_table(long_loop, 0.5, 12, wrt=0).graph(max_loop_nodes=1000)
    assert len(unsummarised.nodes) == 2 + 36 + 1


def test_two_layer_network_graph_is_small():
    rng = np.random.default_rng(1)
    args = (
        rng.normal(size=(4, 3)),
        rng.normal(size=3),
        rng.normal(size=(3, 2)),
        rng.normal(size=2),
        rng.normal(size=(5, 4)),
        rng.normal(size=(5, 2)),
    )
    graph = computation_graph(two_layer, *args, wrt=(0, 1, 2, 3))
    assert len(graph.nodes) == 6 + 8 + 1
    titles = [n.title for n in graph.nodes]
    assert "v3 = tanh(v2)" in titles and "v8 = mean(v7)" in titles
    assert {n.value for n in graph.nodes if n.id == "v1"} == {"<5x3 array>"}


def test_render_dot_file_needs_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz fails
    graph = computation_graph(seed, 2.0, 5.0)
    path = graph.render(tmp_path / "seed.dot")
    assert path.read_text(encoding="utf-8") == graph.to_dot()
    with pytest.raises(GraphvizNotFoundError, match="Graphviz's 'dot' program"):
        graph.render(tmp_path / "seed.svg")
    assert not (tmp_path / "seed.svg").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_render_svg_and_png(tmp_path):
    graph = computation_graph(seed, 2.0, 5.0)
    svg = graph.render(tmp_path / "seed.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "log(v_" in svg
    png = graph.render(tmp_path / "seed.png").read_bytes()
    assert png.startswith(b"\x89PNG")
