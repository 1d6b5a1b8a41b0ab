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
from graphflow.ir.graph import Graph, Node, toposort

__all__ = ["stable_grad", "stabilized"]


def stabilized(ys: Sequence[Node], keep: Sequence[Node] = ()) -> list[Node]:
    """`ys` after the stability rewrites, with the nodes in `keep` (and state ops) left as they are."""
    from graphflow.passes.stability import stabilize

    keep_ids = {n.id for n in keep}
    leaves = list(keep)
    for n in toposort(ys, stop=keep):
        if n.id not in keep_ids and n.op.category == "state" and n.inputs:
            leaves.append(n)
            keep_ids.add(n.id)
    return list(stabilize(Graph(list(ys), leaves)).outputs)


def stable_grad(ys: Sequence[Node], xs: Sequence[Node], seeds: Sequence[Node | None] | None = None,
                stop: Sequence[Node] = ()) -> list[Node | None]:
    """`graphflow.autodiff.grad(ys, xs, seeds)` computed on the stabilised form of the ys; no
    gradient flows back through the `stop` nodes."""
    ys = list(ys)
    if not ys:
        return [None] * len(xs)
    stable = stabilized(ys, [*xs, *stop])
    return autodiff.grad(Graph(stable, list(stop)) if stop else None, stable, list(xs), seeds)
