"""Graphs for the cuda backend's tests: a selection of the shared op table (every op, every dtype,
the awkward shapes) plus fused kernels built by hand (softmax, layer norm, matmul epilogues,
float4 chains) and large odd sizes. Every program gets its own prefix so all of them compile as
one module (one compiler run for the emulator, one per architecture for nvcc)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphflow.backends.cuda import build_program
from graphflow.backends.cuda.program import Program
from graphflow.ir import Graph, bind
from graphflow.ir.dtypes import get_dtype
from graphflow.passes.kernel import ELEMENTWISE, MATMUL, REDUCE, SOURCE, Kernel, PartitionedGraph, one_kernel_per_node
from tests import op_cases as oc

PER_GROUP = 2  # op-table cases per (op, dtype): the smallest and the largest


@dataclass
class Case:
    name: str
    graph: Graph
    arrays: list[np.ndarray]
    partition: PartitionedGraph
    state: dict | None = None
    bindings: dict | None = None
    tol: dict[str, tuple[float, float]] = field(default_factory=dict)  # dtype name -> (rtol, atol)
    source_case: Any = None
    program: Program | None = None


def _size(c: oc.OpCase) -> int:
    return sum(int(np.prod(a.shape)) for a in c.inputs)


def op_table_cases() -> list[Case]:
    groups: dict[tuple, list[oc.OpCase]] = defaultdict(list)
    for c in oc.CASES:
        groups[(c.op, c.inputs[0].dtype.str if c.inputs else "-")].append(c)
    out = []
    for (op, _), cases in sorted(groups.items()):
        picked = sorted(cases, key=_size)
        chosen = {id(picked[0]): picked[0], id(picked[-1]): picked[-1]}
        strided = [c for c in cases if any(not a.flags.c_contiguous for a in c.inputs) or c.broadcast]
        if strided:
            chosen.setdefault(id(strided[0]), strided[0])
        for c in list(chosen.values())[:PER_GROUP + 1]:
            graph, arrays = oc.build_case_graph(c)
            out.append(Case(f"{op}[{len(out)}]", graph, arrays, one_kernel_per_node(graph), c.state, c.bindings,
                            source_case=c))
    return out


def _inp(name: str, a: np.ndarray):
    return bind("input", name=name, dtype=get_dtype(a.dtype), shape=a.shape)


def _fused(graph: Graph, groups: list[tuple[str, list]]) -> PartitionedGraph:
    """A partition with the given (kind, nodes) kernels; inputs are source kernels."""
    kernels = [Kernel(SOURCE, [n], [], [n], name=f"src{i}") for i, n in enumerate(graph.inputs)]
    users: dict[int, list] = defaultdict(list)
    for n in graph.nodes:
        for i in n.inputs:
            users[i.id].append(n)
    outs = {o.id for o in graph.outputs}
    for j, (kind, nodes) in enumerate(groups):
        ids = {n.id for n in nodes}
        inputs = list(dict.fromkeys(i for n in nodes for i in n.inputs if i.id not in ids))
        written = [n for n in nodes if n.id in outs or any(u.id not in ids for u in users[n.id])]
        kernels.append(Kernel(kind, nodes, inputs, written, name=f"fused{j}_{kind}"))
    return PartitionedGraph(graph, kernels)


def _const(v, like):
    return bind("broadcast_to", bind("constant", value=_cv(np.asarray(v, like.dtype.np))), shape=like.shape)


def _cv(a):
    from graphflow.ir.ops.source import ConstValue

    return ConstValue(a)


def fused_cases(rng: np.random.Generator) -> list[Case]:
    out: list[Case] = []

    # float4 elementwise chain over an odd large size: gelu-ish tanh(x*w+b) * 0.5
    for n in (1031, 4096 + 3, 4):
        x, w, b = (rng.standard_normal(n).astype(np.float32) for _ in range(3))
        X, W, Bn = _inp("x", x), _inp("w", w), _inp("b", b)
        t = bind("add", bind("mul", X, W), Bn)
        y = bind("mul", bind("tanh", t), _const(0.5, t))
        z = bind("exp", bind("neg", bind("mul", t, t)))
        g = Graph([y, z], [X, W, Bn])
        nodes = [nd for nd in g.nodes if nd.op.name not in ("input",)]
        out.append(Case(f"chain{n}", g, [x, w, b], _fused(g, [(ELEMENTWISE, nodes)])))

    # row softmax and log-softmax in one kernel per row block; rows of 1, 17 and 1000+ elements
    for shape in ((5, 1), (9, 17), (3, 1029), (4, 6, 33)):
        x = (rng.standard_normal(shape) * 3).astype(np.float32)
        X = _inp("x", x)
        ax = (len(shape) - 1,)
        m = bind("reduce_max", X, axes=ax, keepdims=True)
        sh = bind("sub", X, bind("broadcast_to", m, shape=shape))
        e = bind("exp", sh)
        s = bind("reduce_sum", e, axes=ax, keepdims=True)
        sm = bind("div", e, bind("broadcast_to", s, shape=shape))
        lsm = bind("sub", sh, bind("broadcast_to", bind("log", s), shape=shape))
        g = Graph([sm, lsm, s], [X])
        nodes = [nd for nd in g.nodes if nd.op.name != "input"]
        out.append(Case(f"softmax{shape}", g, [x], _fused(g, [(REDUCE, nodes)])))

    # layer norm over the last two axes (mean, variance, normalise, scale) in one kernel
    for shape, dt in (((6, 4, 37), np.float32), ((3, 2, 5), np.float64), ((4, 300), np.float16)):
        x = rng.standard_normal(shape).astype(dt)
        gam = rng.standard_normal(shape[-1]).astype(dt)
        X, G = _inp("x", x), _inp("g", gam)
        ax = tuple(range(1, len(shape)))
        cnt = float(np.prod([shape[a] for a in ax]))
        mean = bind("div", bind("reduce_sum", X, axes=ax, keepdims=True), _const(cnt, bind("reduce_sum", X, axes=ax, keepdims=True)))
        xc = bind("sub", X, bind("broadcast_to", mean, shape=shape))
        var_s = bind("reduce_sum", bind("mul", xc, xc), axes=ax, keepdims=True)
        var = bind("div", var_s, _const(cnt, var_s))
        rstd = bind("rsqrt", bind("add", var, _const(1e-5, var)))
        y = bind("mul", bind("mul", xc, bind("broadcast_to", rstd, shape=shape)), bind("broadcast_to", G, shape=shape))
        g = Graph([y, mean], [X, G])
        nodes = [nd for nd in g.nodes if nd.op.name != "input"]
        out.append(Case(f"layernorm{shape}{np.dtype(dt).name}", g, [x, gam], _fused(g, [(REDUCE, nodes)]),
                        tol={"float16": (1e-2, 1e-2)}))

    # reductions over leading / middle axes with an epilogue, and an int argmax with ties
    x = rng.integers(-3, 4, (7, 1001, 3)).astype(np.int32)
    X = _inp("x", x)
    r = bind("reduce_sum", X, axes=(1,), keepdims=False)
    am = bind("argmax", X, axis=1)
    y = bind("mul", r, r)
    g = Graph([y, am], [X])
    out.append(Case("middle_axis_sum", g, [x], _fused(g, [(REDUCE, [r, y]), (REDUCE, [am])])))

    # matmul with prologue (transpose, cast) and epilogue (bias, relu), odd sizes, batches
    for (bt, m, k, n), dt in ((((), 1, 1, 1), np.float32), (((), 67, 45, 130), np.float32), (((3,), 17, 33, 9), np.float64),
                              (((2,), 40, 70, 65), np.float16), (((), 33, 17, 80), "bfloat16"), (((), 5, 0, 7), np.float32),
                              (((), 19, 23, 29), np.int32)):
        dt = np.dtype(oc.BF16) if dt == "bfloat16" else np.dtype(dt)
        a = rng.standard_normal((*bt, m, k)).astype(dt) if dt.kind == "f" else rng.integers(-5, 5, (*bt, m, k)).astype(dt)
        bT = rng.standard_normal((*bt, n, k)).astype(dt) if dt.kind == "f" else rng.integers(-5, 5, (*bt, n, k)).astype(dt)
        bias = rng.standard_normal(n).astype(dt) if dt.kind == "f" else rng.integers(-5, 5, n).astype(dt)
        A, BT, BI = _inp("a", a), _inp("bt", bT), _inp("bias", bias)
        perm = tuple(range(len(bt))) + (len(bt) + 1, len(bt))
        Bm = bind("permute", BT, perm=perm)
        mm = bind("matmul", A, Bm)
        yb = bind("add", mm, bind("broadcast_to", BI, shape=mm.shape))
        y = bind("maximum", yb, _const(0, yb))
        g = Graph([y], [A, BT, BI])
        nodes = [nd for nd in g.nodes if nd.op.name != "input"]
        tol = {"float32": (1e-4, 1e-4), "float16": (1e-2, 2e-2), "bfloat16": (2e-2, 5e-2), "float64": (1e-10, 1e-10)}
        out.append(Case(f"matmul{(bt, m, k, n)}{dt.name}", g, [a, bT, bias], _fused(g, [(MATMUL, nodes)]), tol=tol))

    # a fused kernel this generator cannot do in one piece (two reductions over different axes):
    # it must fall back to one kernel per node and still be right
    x = rng.standard_normal((5, 6)).astype(np.float32)
    X = _inp("x", x)
    r0 = bind("reduce_sum", X, axes=(0,), keepdims=False)
    r1 = bind("reduce_max", X, axes=(1,), keepdims=False)
    g = Graph([r0, r1], [X])
    out.append(Case("split_fallback", g, [x], _fused(g, [(REDUCE, [r0, r1])])))

    # random numbers: bit-identical to the reference, large odd count
    for dt in ("float32", "float64", "float16", "bfloat16"):
        K = _inp("key", np.asarray(7, np.int64))
        rn = bind("random_uniform", K, shape=(3, 1001), dtype=get_dtype(dt))
        g = Graph([rn], [K])
        out.append(Case(f"random_{dt}", g, [np.asarray(-123456789, np.int64)], one_kernel_per_node(g),
                        tol={dt: (0.0, 0.0)}))
    return out


def all_cases(seed: int = 7) -> list[Case]:
    cases = op_table_cases() + fused_cases(np.random.default_rng(seed))
    for i, c in enumerate(cases):
        c.program = build_program(c.partition, prefix=f"c{i}")
    return cases


def wmma_cases(seed: int = 11) -> list[Case]:
    """float16/bfloat16 matmuls through the tensor-core path."""
    rng = np.random.default_rng(seed)
    out = []
    for i, ((bt, m, k, n), dt) in enumerate(((((), 70, 40, 33), np.float16), (((2,), 16, 16, 16), oc.BF16),
                                             (((), 1, 3, 130), oc.BF16))):
        a = rng.standard_normal((*bt, m, k)).astype(dt)
        b = rng.standard_normal((*bt, k, n)).astype(dt)
        A, Bn = _inp("a", a), _inp("b", b)
        mm = bind("matmul", A, Bn)
        y = bind("mul", mm, _const(2.0, mm))
        g = Graph([y], [A, Bn])
        c = Case(f"wmma{i}", g, [a, b], _fused(g, [(MATMUL, [nd for nd in g.nodes if nd.op.name != "input"])]),
                 tol={"float16": (1e-2, 2e-2), "bfloat16": (2e-2, 5e-2)})
        c.program = build_program(c.partition, prefix=f"w{i}", wmma=True)
        out.append(c)
    return out
