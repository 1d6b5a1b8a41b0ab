"""A reference executor for partitioned graphs: runs kernel by kernel, each kernel seeing only the
buffers it lists as inputs, so a kernel that reads a value nobody wrote fails loudly."""

from __future__ import annotations

import numpy as np

from graphflow.backends.numpy.interpreter import evaluate
from graphflow.ir.ops.source import RunContext
from graphflow.passes.kernel import SOURCE, PartitionedGraph
from graphflow.passes.memory import plan_memory


def run_partitioned(pg: PartitionedGraph, inputs: list[np.ndarray]) -> list[np.ndarray]:
    pg.validate()
    graph = pg.graph
    pos = {n.id: k for k, n in enumerate(graph.inputs)}
    buffers: dict[int, np.ndarray] = {}
    ctx = RunContext()
    for k in pg.kernels:
        if k.kind == SOURCE:
            (n,) = k.nodes
            buffers[n.id] = inputs[pos[n.id]] if n.id in pos else evaluate(n.op, [], n.attrs, n.type, ctx)
            continue
        env = {i.id: buffers[i.id] for i in k.inputs}
        for n in k.nodes:
            env[n.id] = evaluate(n.op, [env[i.id] for i in n.inputs], n.attrs, n.type, ctx)
        for o in k.outputs:
            buffers[o.id] = env[o.id]
    return [buffers[o.id] for o in graph.outputs]


def check_memory_plan(pg: PartitionedGraph) -> None:
    """No two values that are alive at once share a buffer; peak matches a brute-force count."""
    plan = plan_memory(pg)
    by_buffer: dict[int, list[int]] = {}
    for nid, b in plan.buffer_of.items():
        by_buffer.setdefault(b, []).append(nid)
    for b, values in by_buffer.items():
        spans = sorted(plan.live[v] for v in values)
        for (_, e1), (s2, _) in zip(spans, spans[1:]):
            assert e1 < s2, f"buffer {b} holds two live values: {spans}"
        assert plan.buffers[b].nbytes >= max(plan.nbytes[v] for v in values)
    steps = range(len(pg.kernels) + 1)
    brute = max((sum(plan.nbytes[v] for v, (s, e) in plan.live.items() if s <= k <= e) for k in steps), default=0)
    assert plan.peak_bytes == brute
    assert plan.peak_bytes <= plan.arena_bytes <= plan.naive_bytes
