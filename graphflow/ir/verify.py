"""The verifier: checks that a Graph is well formed.

Passes run it after every rewrite in tests and when `GRAPHFLOW_VERIFY=1` (see `verify_enabled`).
Each problem raises a `GraphError` naming the node and the line of user code that created it."""

from __future__ import annotations

import os

from graphflow.errors import GraphError, GraphflowError
from graphflow.ir.dtypes import DType
from graphflow.ir.graph import Attrs, Graph, Node, TensorType, toposort
from graphflow.ir.registry import all_ops
from graphflow.ir.symbolic import Sym

_TRUE = {"1", "true", "yes", "on"}


def verify_enabled() -> bool:
    """True when the environment asks for the verifier after every pass (`GRAPHFLOW_VERIFY=1`)."""
    return os.environ.get("GRAPHFLOW_VERIFY", "").strip().lower() in _TRUE


def maybe_verify(graph: Graph, after: str = "") -> Graph:
    """Verify `graph` when `verify_enabled()`; returns it, so a pipeline can write
    `graph = maybe_verify(pass_(graph), after=pass_.__name__)`."""
    if verify_enabled():
        verify(graph, after=after)
    return graph


def _fail(node: Node | None, problem: str, after: str) -> GraphError:
    where = ""
    if node is not None:
        where = f" at node %{node.id} ({node.op.name}"
        where += f", created at {node.loc})" if node.loc else ", no source line recorded)"
    context = f" after {after}" if after else ""
    return GraphError(f"verify{context}: {problem}{where}")


def _check_type(node: Node, after: str) -> None:
    t = node.type
    if not isinstance(t, TensorType) or not isinstance(t.dtype, DType) or not isinstance(t.shape, tuple):
        raise _fail(node, f"its type {t!r} is not a TensorType of a DType and a shape tuple", after)
    for d in t.shape:
        if isinstance(d, Sym):
            continue
        if isinstance(d, bool) or not isinstance(d, int) or d < 0:
            raise _fail(node, f"its shape {t.shape} has the invalid size {d!r}", after)


def _check_attrs(node: Node, after: str) -> None:
    if not isinstance(node.attrs, Attrs):
        raise _fail(node, f"its attributes are a {type(node.attrs).__name__}, not Attrs", after)
    expected = set(node.op.attrs)
    if set(node.attrs) != expected:
        raise _fail(node, f"its attributes {sorted(node.attrs)} are not the op's {sorted(expected)}", after)
    for name, value in node.attrs.items():
        try:
            hash(value)
        except TypeError:
            raise _fail(node, f"attribute {name!r} is an unhashable {type(value).__name__}", after) from None


def verify(graph: Graph, after: str = "") -> None:
    """Raise GraphError at the first problem found in `graph`:

    - outputs: at least one, each a Node listed in `graph.nodes`;
    - `graph.nodes` has no duplicates and lists every node's inputs before it (graph inputs are
      leaves); the graph has no cycle;
    - each node's op is the registered primitive of that name, with its arity;
    - each node's attributes are exactly the op's, and hashable;
    - re-running the op's `infer` on its inputs' types gives the node's recorded type.
    `after` names the pass that produced the graph, for the message."""
    if not graph.outputs:
        raise _fail(None, "the graph has no outputs", after)
    for pos, out in enumerate(graph.outputs):
        if not isinstance(out, Node):
            raise _fail(None, f"output {pos} is a {type(out).__name__}, not a Node", after)
    input_ids = set()
    for pos, n in enumerate(graph.inputs):
        if not isinstance(n, Node):
            raise _fail(None, f"graph input {pos} is a {type(n).__name__}, not a Node", after)
        if n.id in input_ids:
            raise _fail(n, f"graph input {pos} is listed twice", after)
        input_ids.add(n.id)
    try:  # a fresh walk, independent of any cached node list: finds cycles
        toposort(graph.outputs, stop=graph.inputs)
    except ValueError as exc:
        raise _fail(None, f"the graph has a cycle: {exc}", after) from None

    registry = all_ops()
    seen: set[int] = set()
    for node in graph.nodes:
        if not isinstance(node, Node):
            raise _fail(None, f"graph.nodes holds a {type(node).__name__}, not a Node", after)
        if node.id in seen:
            raise _fail(node, "it is listed twice in graph.nodes", after)
        _check_type(node, after)
        if node.id in input_ids:  # a leaf: its value is given at run time
            seen.add(node.id)
            continue
        if registry.get(node.op.name) is not node.op:
            raise _fail(node, f"its op {node.op.name!r} is not the registered primitive of that name", after)
        if node.op.arity is not None and len(node.inputs) != node.op.arity:
            raise _fail(node, f"it has {len(node.inputs)} inputs; {node.op.name} takes {node.op.arity}", after)
        for k, i in enumerate(node.inputs):
            if not isinstance(i, Node):
                raise _fail(node, f"input {k} is a {type(i).__name__}, not a Node", after)
            if i.id not in seen:
                raise _fail(node, f"input {k} (%{i.id} {i.op.name}) is neither a graph input nor an "
                                  "earlier node of the graph", after)
        _check_attrs(node, after)
        try:
            inferred = node.op.infer(tuple(i.type for i in node.inputs), node.attrs)
        except (GraphflowError, ValueError, TypeError, IndexError, KeyError) as exc:
            raise _fail(node, f"its op rejects its inputs: {exc}", after) from None
        if inferred != node.type:
            raise _fail(node, f"its recorded type {node.type} differs from the inferred {inferred}", after)
        seen.add(node.id)
    for pos, out in enumerate(graph.outputs):
        if out.id not in seen:
            raise _fail(out, f"output {pos} is not among graph.nodes", after)
