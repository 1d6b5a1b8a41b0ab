"""Constant folding: ops whose inputs are all known at compile time are evaluated with the NumPy
reference and replaced by `constant` nodes.

Two rules keep huge arrays out of the graph:
- a result with more than `FOLD_MAX_ELEMENTS` elements is left to run time;
- a broadcast is never materialised: an elementwise op over splats (every element equal) becomes
  a scalar constant broadcast again (`splat_fold`), so `full((4096, 4096), 2.0) * 3` stays one
  scalar and one `broadcast_to`.

An op that fails while folding (integer division by zero, an index out of range) is left alone, so
the error happens at run time and names the user's line.
"""

from __future__ import annotations

import numpy as np

from graphflow.ir.graph import Graph, Node
from graphflow.passes.patterns import EXACT, Pattern, Rule, splat_value, static_numel
from graphflow.passes.rewrite import Rewriter, rewrite

FOLD_MAX_ELEMENTS = 4096

_NEVER_FOLD_CATEGORIES = ("source", "state", "random")


def _evaluate(node: Node, arrays: list[np.ndarray]) -> np.ndarray | None:
    from graphflow.backends.numpy.interpreter import evaluate  # the reference semantics

    try:
        with np.errstate(all="ignore"):
            out = evaluate(node.op, arrays, node.attrs, node.type)
    except Exception:  # noqa: BLE001 - a failing op is left for run time, where it names its line
        return None
    if out.shape != tuple(node.shape) or out.dtype != node.dtype.np:
        return None
    return out


class _AllConstant(Pattern):
    def match(self, node: Node, b):
        if node.op.category in _NEVER_FOLD_CATEGORIES or node.op.needs_context or not node.inputs:
            return None
        if not all(i.op.name == "constant" for i in node.inputs):
            return None
        n = static_numel(node)
        if n is None or n > FOLD_MAX_ELEMENTS:
            return None
        if node.op.name == "broadcast_to" and n != static_numel(node.inputs[0]):
            return None  # a broadcast stays a broadcast
        return b


class _AllSplat(Pattern):
    """An elementwise op whose operands are all splats (and not all plain constants)."""

    def match(self, node: Node, b):
        if node.op.category != "elementwise" or not node.inputs:
            return None
        if all(i.op.name == "constant" for i in node.inputs) and (static_numel(node) or 0) <= FOLD_MAX_ELEMENTS:
            return None  # `fold_constant` handles it
        values = [splat_value(i) for i in node.inputs]
        if any(v is None for v in values):
            return None
        return {**b, "values": values}


def _fold_constant(m, rw: Rewriter) -> Node | None:
    node = m["root"]
    out = _evaluate(node, [i.attrs["value"].array for i in node.inputs])
    return None if out is None else rw.const(out, node.dtype)


def _splat_fold(m, rw: Rewriter) -> Node | None:
    node = m["root"]
    arrays = [np.asarray(v) for v in m["values"]]
    from graphflow.backends.numpy.interpreter import evaluate
    from graphflow.ir.graph import TensorType

    try:
        with np.errstate(all="ignore"):
            out = evaluate(node.op, arrays, node.attrs, TensorType(node.dtype, ()))
    except Exception:  # noqa: BLE001 - left for run time
        return None
    return rw.splat(out.reshape(()), node)


FOLD_RULES: list[Rule] = [
    Rule("fold_constant", _AllConstant(), _fold_constant, EXACT,
         doc="an op over constants, with at most FOLD_MAX_ELEMENTS elements, becomes a constant"),
    Rule("splat_fold", _AllSplat(), _splat_fold, EXACT,
         doc="an elementwise op over splats becomes one scalar constant broadcast"),
]


def fold_constants(graph: Graph) -> Graph:
    """Evaluate what is known at compile time (see the module docstring for the limits)."""
    return rewrite(graph, FOLD_RULES)
