"""Memory planning: give every value a kernel writes a buffer, reusing a buffer once the last
kernel that reads its value has run.

Values live from the kernel that writes them to the last kernel that reads them. Graph outputs live
to the end and are never reused (the caller keeps them); graph inputs, constants and variables are
the caller's memory and are not planned. A kernel never writes into a buffer it reads (no in-place
updates), so a buffer freed by kernel k is available from kernel k + 1 on. Free buffers are reused
best-fit (the smallest one large enough; otherwise the largest free one grows).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from graphflow.ir.graph import Node
from graphflow.ir.shapes import fmt, numel
from graphflow.passes.kernel import SOURCE, PartitionedGraph


@dataclass
class Buffer:
    index: int
    nbytes: int
    values: list[int] = field(default_factory=list)  # node ids stored here over time


@dataclass
class MemoryPlan:
    """Buffers for a partitioned graph.

    `buffer_of`: node id -> buffer index for every value a kernel writes. `live`: node id ->
    (index of the writing kernel, index of the last kernel reading it) in `partitioned.kernels`.
    `peak_bytes`: the most bytes of planned values alive at once; `arena_bytes`: the sum of the
    buffers' sizes (what the plan allocates); `naive_bytes`: what one buffer per value would take."""

    buffers: list[Buffer]
    buffer_of: dict[int, int]
    live: dict[int, tuple[int, int]]
    nbytes: dict[int, int]
    peak_bytes: int
    arena_bytes: int
    naive_bytes: int
    outputs: set[int]

    def summary(self) -> str:
        return (f"{len(self.buffer_of)} values in {len(self.buffers)} buffers: arena {self.arena_bytes} bytes, "
                f"peak live {self.peak_bytes} bytes (one buffer each: {self.naive_bytes} bytes)")


def value_bytes(node: Node) -> int:
    n = numel(node.shape)
    if not isinstance(n, int):
        raise ValueError(f"plan_memory: {node.op.name} %{node.id} has symbolic shape {fmt(node.shape)}; "
                         "specialise the graph to concrete shapes first")
    return n * node.dtype.itemsize


def plan_memory(partitioned: PartitionedGraph) -> MemoryPlan:
    """Assign buffers to the values kernels write (see the module docstring)."""
    kernels = partitioned.kernels
    output_ids = {o.id for o in partitioned.graph.outputs}
    written: dict[int, int] = {}  # node id -> writing kernel
    last_read: dict[int, int] = {}
    nodes: dict[int, Node] = {}
    for k, kernel in enumerate(kernels):
        if kernel.kind == SOURCE:
            continue
        for i in kernel.inputs:
            last_read[i.id] = k
        for o in kernel.outputs:
            written.setdefault(o.id, k)
            nodes[o.id] = o
    end = len(kernels)
    live = {nid: (k, end if nid in output_ids else max(last_read.get(nid, k), k)) for nid, k in written.items()}
    sizes = {nid: value_bytes(nodes[nid]) for nid in written}

    frees_at: dict[int, list[int]] = {}
    for nid, (_, last) in live.items():
        frees_at.setdefault(last, []).append(nid)
    buffers: list[Buffer] = []
    free: list[tuple[int, int]] = []
    buffer_of: dict[int, int] = {}
    current = peak = 0
    for k, kernel in enumerate(kernels):
        for o in kernel.outputs:
            if o.id not in written or written[o.id] != k or o.id in buffer_of:
                continue
            need = sizes[o.id]
            b = _take(buffers, free, need)
            buffers[b].values.append(o.id)
            buffer_of[o.id] = b
            current += need
        peak = max(peak, current)
        for nid in frees_at.get(k, ()):
            if nid in output_ids:
                continue
            b = buffer_of[nid]
            bisect.insort(free, (buffers[b].nbytes, b))
            current -= sizes[nid]
    arena = sum(b.nbytes for b in buffers)
    return MemoryPlan(buffers, buffer_of, live, sizes, peak, arena, sum(sizes.values()), output_ids & set(written))


def _take(buffers: list[Buffer], free: list[tuple[int, int]], need: int) -> int:
    """A buffer of at least `need` bytes: the smallest free one that fits, else the largest free
    one grown, else a new one. `free` is kept sorted by (size, index)."""
    at = bisect.bisect_left(free, (need, -1))
    if at < len(free):
        return free.pop(at)[1]
    if free:
        _, b = free.pop()
        buffers[b].nbytes = need
        return b
    buffers.append(Buffer(len(buffers), need))
    return len(buffers) - 1
