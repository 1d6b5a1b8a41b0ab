"""The kernel partition: what fusion produces and every compiling backend consumes.

A `Kernel` is a group of nodes compiled into one loop nest (or one library call). Values it reads
from outside are `inputs`; values other kernels or the graph's outputs need are `outputs`
(materialised into buffers); everything else stays in registers."""

from __future__ import annotations

from collections.abc import Iterable
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
    # node id -> its part in the kernel: "root", "prologue", "epilogue", "row-epilogue", "operand"
    # (a transposed matmul operand) or "body" (see graphflow.passes.fusion for what each means)
    roles: dict[int, str] = field(default_factory=dict)

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
        """Node id -> the kernel computing it. A cheap node recomputed in several kernels maps to
        one of them; a value written to memory maps to the kernel that writes it."""
        out = {n.id: k for k in self.kernels for n in k.nodes}
        out.update({n.id: k for k in self.kernels for n in k.outputs})
        return out

    @property
    def compute_kernels(self) -> list[Kernel]:
        """The kernels that run code (every kind but SOURCE)."""
        return [k for k in self.kernels if k.kind != SOURCE]

    def validate(self) -> None:
        """Check the partition is well formed: every value a kernel reads is computed inside it or
        written by an earlier kernel (or is a source), every graph output is written, and each
        kernel's nodes are in topological order. Raises ValueError naming the kernel."""
        written: set[int] = set()
        for k in self.kernels:
            inside: set[int] = set()
            for n in k.nodes:
                if k.kind != SOURCE:
                    for i in n.inputs:
                        if i.id not in inside and i.id not in written:
                            raise ValueError(f"kernel {k.name}: {n!r} reads %{i.id}, which no earlier kernel wrote")
                        if i.id not in inside and i not in k.inputs:
                            raise ValueError(f"kernel {k.name}: %{i.id} is read but not listed in its inputs")
                inside.add(n.id)
            for o in k.outputs:
                if o.id not in inside:
                    raise ValueError(f"kernel {k.name}: output %{o.id} is not computed by it")
            written.update(o.id for o in k.outputs)
        missing = [o for o in self.graph.outputs if o.id not in written]
        if missing:
            raise ValueError(f"graph outputs {', '.join(f'%{o.id}' for o in missing)} are written by no kernel")


def kernel_counts(kernels: Iterable[Kernel]) -> dict[str, int]:
    """How many kernels of each kind."""
    out: dict[str, int] = {}
    for k in kernels:
        out[k.kind] = out.get(k.kind, 0) + 1
    return out


def one_kernel_per_node(graph: Graph) -> PartitionedGraph:
    """The trivial partition (no fusion): each non-source node its own kernel."""
    input_ids = {n.id for n in graph.inputs}
    kernels = []
    for n in graph.nodes:
        if n.id in input_ids or n.op.category in ("source", "state") and not n.inputs:
            kernels.append(Kernel(SOURCE, [n], [], [n], name=f"k{len(kernels)}_{n.op.name}", roles={n.id: "root"}))
            continue
        kind = {"elementwise": ELEMENTWISE, "movement": ELEMENTWISE, "reduce": REDUCE,
                "linalg": MATMUL}.get(n.op.category, OPAQUE)
        kernels.append(Kernel(kind, [n], list(dict.fromkeys(n.inputs)), [n], name=f"k{len(kernels)}_{n.op.name}",
                              roles={n.id: "root"}))
    return PartitionedGraph(graph, kernels)
