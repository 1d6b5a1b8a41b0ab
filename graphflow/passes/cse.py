"""Common-subexpression elimination: structurally equal nodes (same op, same inputs, same
attributes) become one. Graph inputs and state ops (variable reads, assignments) are never merged:
two reads of one variable may see different values around an assignment."""

from __future__ import annotations

from graphflow.ir.graph import Graph
from graphflow.passes.rewrite import Rewriter, rebuild


def cse(graph: Graph) -> Graph:
    """Merge structurally equal pure nodes (one walk, inputs before users, so chains merge too)."""
    return rebuild(graph, Rewriter(()))
