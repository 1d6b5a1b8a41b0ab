"""The kernel partition: what fusion produces and every compiling backend consumes.

A `Kernel` is a group of nodes compiled into one loop nest (or one library call). Values it reads
from outside are `inputs`; values other kernels or the graph's outputs need are `outputs`
(materialised into buffers); everything else stays in registers."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphflow.ir.graph import Graph, Node

# kernel kinds, the cost classes fusion decides by
ELEMENTWISE = "elementwise"  # one loop over the output's elements (movement ops as index maths)
REDUCE = "reduce"  # a reduction with its elementwise producers (prologue) and consumers (epilogue)
MATMUL = "matmul"  # a matmul with an elementwise epilogue (bias, activation)
OPAQUE = "opaque"  # one op run by itself (gather, scatter_add, concat, random...)
SOURCE = "source"  # inputs, constants, variables: no code, a buffer


@dataclass
class Kernel:
    kind: str
    nodes: list[Node]  # topological order, every node computed by this kernel
    inputs: list[Node]  # values read from outside the kernel
    outputs: list[Node]  # values written to memory
    name: str = ""

    @property
    def ops(self) -> list[str]:
        """Names of the primitive ops this kernel fuses."""
        return [n.op.name for n in self.nodes]

    @property
    def root(self) -> Node:
        """The node that defines the iteration space (the reduction or matmul, else the last output)."""
        for n in self.nodes:
            if self.kind == REDUCE and n.op.category == "reduce":
                return n
            if self.kind == MATMUL and n.op.name == "matmul":
                return n
        return self.outputs[-1]


@dataclass
class PartitionedGraph:
    """A graph cut into kernels, in an order that respects their dependencies."""

    graph: Graph
    kernels: list[Kernel] = field(default_factory=list)

    def kernel_of(self) -> dict[int, Kernel]:
        return {n.id: k for k in self.kernels for n in k.nodes}


def one_kernel_per_node(graph: Graph) -> PartitionedGraph:
    """The trivial partition (no fusion): each non-source node its own kernel."""
    input_ids = {n.id for n in graph.inputs}
    kernels = []
    for n in graph.nodes:
        if n.id in input_ids or n.op.category in ("source", "state") and not n.inputs:
            kernels.append(Kernel(SOURCE, [n], [], [n], name=f"k{len(kernels)}_{n.op.name}"))
            continue
        kind = {"elementwise": ELEMENTWISE, "movement": ELEMENTWISE, "reduce": REDUCE,
                "linalg": MATMUL}.get(n.op.category, OPAQUE)
        kernels.append(Kernel(kind, [n], list(dict.fromkeys(n.inputs)), [n], name=f"k{len(kernels)}_{n.op.name}"))
    return PartitionedGraph(graph, kernels)
