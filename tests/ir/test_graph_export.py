"""Export to networkx and Graphviz DOT."""

from __future__ import annotations

import networkx as nx

from graphflow.ir import Graph, bind
from graphflow.ir.dtypes import float32
from graphflow.ir.export import to_dot, to_networkx


def _graph():
    x = bind("input", name="x", dtype=float32, shape=(3,))
    w = bind("input", name="w", dtype=float32, shape=(3,))
    h = bind("mul", x, w)
    y = bind("reduce_sum", bind("add", h, h), axes=(0,))
    return Graph([y], [x, w]), x, w, h, y


def test_networkx_export():
    g, x, w, h, y = _graph()
    d = to_networkx(g)
    assert isinstance(d, nx.DiGraph) and nx.is_directed_acyclic_graph(d)
    assert set(d.nodes) == {n.id for n in g.nodes}
    assert d.nodes[x.id]["is_input"] and not d.nodes[h.id]["is_input"]
    assert d.nodes[y.id]["op"] == "reduce_sum" and d.nodes[y.id]["attrs"] == {"axes": (0,), "keepdims": False}
    assert d.nodes[h.id]["type"] == "float32(3,)" and "test_graph_export.py" in d.nodes[h.id]["loc"]
    assert d.has_edge(x.id, h.id) and d.has_edge(h.id, y.inputs[0].id)
    assert d.graph["outputs"] == [y.id]
    assert [n for n in nx.topological_sort(d)][-1] == y.id


def test_dot_export():
    g, x, w, h, y = _graph()
    dot = to_dot(g, name='my "net"')
    assert dot.startswith('digraph "my \\"net\\"" {') and dot.rstrip().endswith("}")
    assert f"n{x.id} -> n{h.id};" in dot and f"n{w.id} -> n{h.id};" in dot
    assert f'n{h.id} [label="%{h.id} mul\\nfloat32(3,)"];' in dot
    assert "#d0e8ff" in dot and "#ffe0b0" in dot  # inputs and outputs are marked
    assert dot.count("->") == sum(len(n.inputs) for n in g.nodes if n.op.name != "input")
