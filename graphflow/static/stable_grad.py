"""Gradients of the stabilised forward graph (used by `gradients`, `minimize` and `gf.compile`'s
`backward()`).

The stability rewrites (`graphflow.passes.stability`: log-softmax, log-sigmoid, softplus,
logsumexp, ...) only help gradients when they run before differentiation: the derivative of a
naive `log(softmax(x))` divides by a softmax that underflowed to 0, and no later rewrite of the
gradient graph can undo that. So the ys' forward graph is rewritten first and autodiff walks the
stable copy. The copy is used only by the gradient nodes; the user's own nodes (their names,
control dependencies, fetches) are untouched, and the optimiser's CSE later merges the copy with
the forward values the pipeline stabilises in the same way.

What the rewrite must not change is kept as a leaf of the rewritten graph: the xs (so the
gradients are with respect to the very nodes asked for), the `stop` nodes (values treated as
constants: `detach()`), and state ops (`assign`, whose identity the static lowering relies on;
variable reads and graph inputs are never rewritten anyway)."""

from __future__ import annotations

from collections.abc import Sequence

from graphflow import autodiff
from graphflow.ir.graph import Attrs, Graph, Node, toposort
from graphflow.ir.registry import get_op

__all__ = ["stable_grad", "stabilized"]


def _substitute(ys: Sequence[Node], table: dict[int, Node]) -> list[Node]:
    """`ys` with each node whose id is in `table` replaced by its entry (not walking past them)."""
    stops = [n for n in toposort(ys) if n.id in table] if table else []
    mapping: dict[int, Node] = {}
    for n in toposort(ys, stop=stops):
        if n.id in table:
            mapping[n.id] = table[n.id]
            continue
        inputs = tuple(mapping[i.id] for i in n.inputs)
        same = all(a is b for a, b in zip(inputs, n.inputs))
        mapping[n.id] = n if same else Node(n.op, inputs, n.attrs, n.type, loc=n.loc, name=n.name)
    return [mapping[y.id] for y in ys]


def stabilized(ys: Sequence[Node], keep: Sequence[Node] = ()) -> list[Node]:
    """`ys` after the stability rewrites, with the nodes in `keep` (and state ops) left as they are.

    Rewrite patterns look down the graph, past a rewrite's inputs, so each kept node that has
    inputs is swapped for an opaque stand-in while the rules run and put back afterwards."""
    from graphflow.passes.stability import stabilize

    input_op = get_op("input")
    kept = {n.id: n for n in keep}
    for n in toposort(ys, stop=list(kept.values())):
        if n.id not in kept and n.op.category == "state" and n.inputs:
            kept[n.id] = n
    stand_in = {i: Node(input_op, (), Attrs({"name": f"kept{i}", "dtype": n.dtype, "shape": tuple(n.shape)}),
                        n.type) for i, n in kept.items() if n.op is not input_op}
    opaque = _substitute(ys, stand_in)
    stable = stabilize(Graph(opaque, [*stand_in.values(), *(n for n in kept.values() if n.op is input_op)]))
    if all(a is b for a, b in zip(stable.outputs, opaque)):
        return list(ys)  # nothing to stabilise
    return _substitute(stable.outputs, {s.id: kept[i] for i, s in stand_in.items()})


def stable_grad(ys: Sequence[Node], xs: Sequence[Node], seeds: Sequence[Node | None] | None = None,
                stop: Sequence[Node] = ()) -> list[Node | None]:
    """`graphflow.autodiff.grad(ys, xs, seeds)` computed on the stabilised form of the ys; no
    gradient flows back through the `stop` nodes."""
    ys = list(ys)
    if not ys:
        return [None] * len(xs)
    stable = stabilized(ys, [*xs, *stop])
    return autodiff.grad(Graph(stable, list(stop)) if stop else None, stable, list(xs), seeds)
