"""Dead-code elimination.

A `Graph` lists only the nodes its outputs need, so what rewrites orphan disappears when a new graph
is built over the outputs; this pass makes that explicit (a fresh graph, a fresh node list) and is
the place the pipeline drops dead code. Graph inputs are kept even when unused: they are the
graph's signature. Side effects (`assign`) are kept only when reachable from an output, which is
how the front ends request them."""

from __future__ import annotations

from graphflow.ir.graph import Graph


def dce(graph: Graph) -> Graph:
    """The graph restricted to what its outputs need."""
    return Graph(graph.outputs, graph.inputs)


def dead_nodes(before: Graph, after: Graph) -> int:
    """How many nodes of `before` are not in `after` (for reports)."""
    alive = {n.id for n in after.nodes}
    return sum(1 for n in before.nodes if n.id not in alive)
