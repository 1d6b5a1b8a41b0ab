"""Export a Graph to networkx or Graphviz DOT."""

from __future__ import annotations

import networkx as nx

from graphflow.ir.graph import Graph


def to_networkx(graph: Graph) -> nx.DiGraph:
    g = nx.DiGraph()
    input_ids = {n.id for n in graph.inputs}
    for n in graph.nodes:
        g.add_node(n.id, op=n.op.name, type=str(n.type), attrs=dict(n.attrs),
                   loc=str(n.loc) if n.loc else None, is_input=n.id in input_ids)
        if n.id not in input_ids:
            for pos, i in enumerate(n.inputs):
                g.add_edge(i.id, n.id, index=pos)
    g.graph["outputs"] = [o.id for o in graph.outputs]
    return g


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(graph: Graph, name: str = "graphflow") -> str:
    lines = [f'digraph "{_escape(name)}" {{', "  rankdir=TB;", "  node [shape=box, fontname=monospace];"]
    outputs = {o.id for o in graph.outputs}
    input_ids = {n.id for n in graph.inputs}
    for n in graph.nodes:
        label = f"%{n.id} {n.op.name}\\n{_escape(str(n.type))}"
        style = ', style=filled, fillcolor="#ffe0b0"' if n.id in outputs else ""
        if n.id in input_ids:
            style = ', style=filled, fillcolor="#d0e8ff"'
        lines.append(f'  n{n.id} [label="{label}"{style}];')
        if n.id not in input_ids:
            for i in n.inputs:
                lines.append(f"  n{i.id} -> n{n.id};")
    lines.append("}")
    return "\n".join(lines)
