"""Compile time of the optimiser: the pass pipeline, fusion and memory planning on graphs of about
1k and 10k nodes (a wide network of layers, and one deep chain), with time per node so the
scaling is visible (near-linear passes keep it flat).

    python -m benchmarks.compile_time [--sizes 1000 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import time

import graphflow as gf
import graphflow.ops as O
from graphflow import autodiff
from graphflow.ir import Graph, bind
from graphflow.passes.fusion import partition
from graphflow.passes.memory import plan_memory
from graphflow.passes.pipeline import run_pipeline


def layered(target_nodes: int) -> Graph:
    """Blocks of matmul + bias + gelu + layer-norm-like normalisation + softmax, with the gradient
    of the whole, until the graph has about `target_nodes` nodes."""
    x = bind("input", name="x", dtype=gf.float32, shape=(16, 32))
    params, h = [], x
    nodes = 0
    k = 0
    while True:
        w = bind("input", name=f"w{k}", dtype=gf.float32, shape=(32, 32))
        b = bind("input", name=f"b{k}", dtype=gf.float32, shape=(32,))
        params += [w, b]
        a = O.add(O.matmul(h, w), b)
        g = O.mul(O.mul(a, 0.5), O.add(1.0, O.tanh(O.mul(math.sqrt(2 / math.pi), O.add(a, O.mul(0.044715, O.mul(a, O.mul(a, a))))))))
        mu = O.mean(g, 1, keepdim=True)
        c = O.sub(g, mu)
        h = O.div(c, O.sqrt(O.add(O.mean(O.mul(c, c), 1, keepdim=True), 1e-5)))
        h = O.add(O.mul(h, 1.0), O.log(O.softmax(h, dim=1)))
        k += 1
        loss = O.sum(h)
        nodes = len(Graph([loss], [x, *params]).nodes)
        if nodes * 3 >= target_nodes:  # the backward roughly doubles it
            break
    grads = autodiff.grad(None, [loss], params)
    return Graph([loss, *grads], [x, *params])


def chain(target_nodes: int) -> Graph:
    """One deep elementwise chain (no recursion may depend on its depth)."""
    x = bind("input", name="x", dtype=gf.float32, shape=(8,))
    y = x
    ops = ("neg", "tanh", "exp", "sin", "abs")
    for i in range(target_nodes):
        y = bind(ops[i % len(ops)], y)
    return Graph([y], [x])


def measure(graph: Graph, repeat: int) -> dict[str, float]:
    best = {"pipeline": math.inf, "partition": math.inf, "memory": math.inf}
    for _ in range(repeat):
        t0 = time.perf_counter()
        opt = run_pipeline(graph, verify=False)
        t1 = time.perf_counter()
        pg = partition(opt)
        t2 = time.perf_counter()
        plan_memory(pg)
        t3 = time.perf_counter()
        best["pipeline"] = min(best["pipeline"], t1 - t0)
        best["partition"] = min(best["partition"], t2 - t1)
        best["memory"] = min(best["memory"], t3 - t2)
    best["kernels"] = len(pg.compute_kernels)
    best["optimised_nodes"] = len(opt.nodes)
    return best


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    print(f"{'graph':<10}{'nodes':>8}{'pipeline s':>12}{'partition s':>13}{'memory s':>10}"
          f"{'us/node':>9}{'kernels':>9}{'opt nodes':>11}")
    per_node = {}
    for build in (layered, chain):
        for size in args.sizes:
            g = build(size)
            n = len(g.nodes)
            r = measure(g, args.repeat)
            total = r["pipeline"] + r["partition"] + r["memory"]
            per_node[(build.__name__, size)] = total / n
            print(f"{build.__name__:<10}{n:>8}{r['pipeline']:>12.3f}{r['partition']:>13.3f}{r['memory']:>10.4f}"
                  f"{1e6 * total / n:>9.1f}{r['kernels']:>9}{r['optimised_nodes']:>11}")
    if len(args.sizes) >= 2:
        lo, hi = min(args.sizes), max(args.sizes)
        for name in ("layered", "chain"):
            ratio = per_node[(name, hi)] / per_node[(name, lo)]
            print(f"{name}: time per node at {hi} / at {lo} = {ratio:.2f} (1.0 is linear)")


if __name__ == "__main__":
    main()
