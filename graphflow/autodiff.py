"""Symbolic reverse-mode differentiation over the IR.

`grad` walks the graph once, in reverse topological order, asking each op's `vjp` rule for its
inputs' cotangents. The result is new graph nodes, so gradients are optimised and compiled like
any forward graph, and differentiating them again gives higher-order derivatives."""

from __future__ import annotations

from collections.abc import Sequence

from graphflow.errors import GraphError
from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.graph import Graph, Node, toposort


def grad(graph: Graph | None, ys: Sequence[Node], xs: Sequence[Node],
         seeds: Sequence[Node | None] | None = None) -> list[Node | None]:
    """Cotangents of sum(seeds[i] * ys[i]) with respect to each x.

    seeds default to ones (so a non-scalar y is summed, as `tf.gradients` does). Each result is
    the total derivative: when one x depends on another, the path through it counts (as in
    `tf.gradients` and `torch.autograd.grad`). A graph's inputs are leaves: differentiation does
    not walk past them. Only floating-point values carry gradients; an x that no y depends on
    through floating-point values gets None."""
    ys, xs = list(ys), list(xs)
    if seeds is None:
        seeds = [None] * len(ys)
    seeds = list(seeds)
    if len(seeds) != len(ys):
        raise ValueError(f"grad: {len(seeds)} seeds for {len(ys)} outputs")
    stop = list(graph.inputs) if graph is not None else []
    stop_ids = {n.id for n in stop}
    x_ids = {x.id for x in xs}
    order = toposort(ys, stop=stop)

    # float values that depend on some x: only they carry a gradient
    relevant: set[int] = set()
    for n in order:
        if n.dtype.kind != "f":
            continue
        if n.id in x_ids or (n.id not in stop_ids and any(i.id in relevant for i in n.inputs)):
            relevant.add(n.id)

    cotangents: dict[int, list[Node]] = {}
    for y, seed in zip(ys, seeds):
        if seed is not None and (tuple(seed.shape) != tuple(y.shape) or seed.dtype is not y.dtype):
            raise ValueError(f"grad: seed of type {seed.type} for an output of type {y.type}")
        if y.id not in relevant:
            continue
        cotangents.setdefault(y.id, []).append(B.ones_like(y) if seed is None else seed)

    results: dict[int, Node] = {}
    for node in reversed(order):
        cts = cotangents.pop(node.id, None)
        if not cts:
            continue
        g = _sum(cts)
        if node.id in x_ids:
            results[node.id] = g
        if node.id in stop_ids or not node.op.differentiable:
            continue
        input_grads = node.op.vjp(node, g)
        if len(input_grads) != len(node.inputs):
            raise GraphError(f"vjp of {node.op.name} returned {len(input_grads)} cotangents "
                             f"for {len(node.inputs)} inputs")
        for inp, gi in zip(node.inputs, input_grads):
            if gi is None or inp.id not in relevant:
                continue
            if tuple(gi.shape) != tuple(inp.shape) or gi.dtype is not inp.dtype:
                raise GraphError(f"vjp of {node.op.name} gave a cotangent {gi.type} for an input "
                                 f"{inp.type} (node created at {node.loc})")
            cotangents.setdefault(inp.id, []).append(gi)
    return [results.get(x.id) for x in xs]


def _sum(values: list[Node]) -> Node:
    total = values[0]
    for v in values[1:]:
        total = bind("add", total, v)
    return total
