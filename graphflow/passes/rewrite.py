"""The rewrite engine: apply a table of (pattern -> replacement) rules to a graph until none fires.

One walk in topological order: each node is rebuilt over its (already rewritten) inputs, looked up
in a structural table (so equal subexpressions become one node, which patterns such as `x - x`
rely on), then rules are tried at that node until none applies. Because a node's inputs are final
before the node is visited, that single walk reaches the fixed point for rules that look down the
graph, which all rules in the tables do. Nodes a rule builds are simplified as they are built.

Replacements keep the replaced node's source location (`loc`), so a run-time error in rewritten
code still names the user's line; a replacement whose type differs from the node it replaces is a
bug in the rule and raises at once, naming it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from graphflow.errors import GraphError
from graphflow.ir.bind import infer_type, normalize_attrs
from graphflow.ir.graph import Attrs, Graph, Node
from graphflow.ir.registry import get_op
from graphflow.passes.patterns import DEFAULT_SAFETY, LEAF_IDS, Rule

_MAX_REWRITES_PER_NODE = 64  # a guard against rules that undo each other
_MAX_NESTING = 24  # replacements built inside replacements are simplified up to this depth


def is_pure(node: Node) -> bool:
    """Nodes that may be merged with structurally equal ones (not graph inputs or state ops)."""
    return node.op.category != "state" and node.op.name != "input"


def build_node(op_name: str, inputs: Sequence[Node], attrs: dict[str, Any] | Attrs, loc: object,
               name: str | None = None) -> Node:
    """A node with exactly this source location (None stays None; nothing is captured)."""
    op = get_op(op_name)
    attrs = attrs if isinstance(attrs, Attrs) else normalize_attrs(op, attrs)
    inputs = tuple(inputs)
    return Node(op, inputs, attrs, infer_type(op, inputs, attrs, loc), loc=loc, name=name)


class Rewriter:
    """State of one rewrite walk; rules build replacement nodes through `op` and `splat`."""

    def __init__(self, rules: Iterable[Rule], safety: frozenset[str] = DEFAULT_SAFETY, intern: bool = True):
        self.by_op: dict[str, list[Rule]] = {}
        self.generic: list[Rule] = []
        for r in rules:
            if r.safety not in safety:
                continue
            roots = r.root_ops()
            if roots is None:
                self.generic.append(r)
            else:
                for name in roots:
                    self.by_op.setdefault(name, []).append(r)
        self.intern_enabled = intern
        self.table: dict[tuple, Node] = {}
        self.loc: object = None
        self.depth = 0
        self.fired: dict[str, int] = {}

    # -- building replacement nodes ----------------------------------------------------------
    def op(self, op_name: str, *inputs: Node, **attrs: Any) -> Node:
        """A new node `op_name(*inputs)` at the current root's source line, itself simplified."""
        node = build_node(op_name, inputs, attrs, self.loc)
        return self.finish(node)

    def const(self, value: Any, dtype: Any) -> Node:
        from graphflow.ir.ops.source import ConstValue

        arr = np.asarray(value, dtype=dtype.np)
        return self.finish(build_node("constant", (), {"value": ConstValue(arr)}, self.loc))

    def splat(self, value: Any, like: Node) -> Node:
        """`value` broadcast to `like`'s shape and dtype (a scalar constant plus a broadcast)."""
        c = self.const(value, like.dtype)
        return c if tuple(like.shape) == () else self.op("broadcast_to", c, shape=tuple(like.shape))

    def finish(self, node: Node) -> Node:
        node = self.intern(node)
        if self.depth >= _MAX_NESTING:
            return node
        self.depth += 1
        try:
            return self.simplify(node)
        finally:
            self.depth -= 1

    def intern(self, node: Node) -> Node:
        if not self.intern_enabled or not is_pure(node):
            return node
        key = node.key()
        found = self.table.get(key)
        if found is not None:
            return found
        self.table[key] = node
        return node

    # -- applying rules ----------------------------------------------------------------------
    def simplify(self, node: Node) -> Node:
        saved = self.loc
        for _ in range(_MAX_REWRITES_PER_NODE):
            rules = self.by_op.get(node.op.name, ())
            self.loc = node.loc if node.loc is not None else saved
            replaced = None
            for rule in (*rules, *self.generic):
                if node.dtype.kind not in rule.kinds:
                    continue
                m = rule.pattern.match(node, {})
                if m is None:
                    continue
                m["root"] = node
                out = rule.build(m, self)
                if out is None or out is node:
                    continue
                if out.type != node.type:
                    raise GraphError(f"rewrite rule {rule.name!r} replaced {node.describe()} by a value of "
                                     f"type {out.type}")
                self.fired[rule.name] = self.fired.get(rule.name, 0) + 1
                replaced = out
                break
            if replaced is None:
                break
            node = replaced
        self.loc = saved
        return node


def rewrite(graph: Graph, rules: Iterable[Rule], safety: frozenset[str] = DEFAULT_SAFETY,
            intern: bool = True) -> Graph:
    """Apply `rules` (those whose safety class is in `safety`) to a fixed point."""
    rw = Rewriter(rules, safety, intern)
    return rebuild(graph, rw)


def rebuild(graph: Graph, rw: Rewriter | None = None) -> Graph:
    """Walk `graph` in topological order, rebuilding nodes whose inputs changed and passing each
    through `rw` (interning and rules). Graph inputs are never touched."""
    input_ids = frozenset(n.id for n in graph.inputs)
    token = LEAF_IDS.set(input_ids)
    try:
        return _rebuild(graph, rw, input_ids)
    finally:
        LEAF_IDS.reset(token)


def _rebuild(graph: Graph, rw: Rewriter | None, input_ids: frozenset[int]) -> Graph:
    mapping: dict[int, Node] = {}
    for n in graph.nodes:
        if n.id in input_ids:
            mapping[n.id] = n
            continue
        new_inputs = tuple(mapping[i.id] for i in n.inputs)
        if any(a is not b for a, b in zip(new_inputs, n.inputs)):
            node = Node(n.op, new_inputs, n.attrs, n.type, loc=n.loc, name=n.name)
        else:
            node = n
        if rw is not None:
            node = rw.intern(node)
            node = rw.simplify(node)
        mapping[n.id] = node
    outputs = [mapping[o.id] for o in graph.outputs]
    if all(a is b for a, b in zip(outputs, graph.outputs)):
        return graph  # nothing changed (graphs are immutable, so sharing is safe)
    return Graph(outputs, graph.inputs)
