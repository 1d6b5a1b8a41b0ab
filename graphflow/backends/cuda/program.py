"""A graph's CUDA program: the kernel source, the launches in order, and the buffer plan (which
buffers come from the user, from constants, from variables, and which the run writes)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from graphflow.backends.cuda import kernels as K
from graphflow.backends.cuda.emit import Sites, Unsupported
from graphflow.backends.cuda.prelude import PRELUDE
from graphflow.ir.graph import Graph, Node, TensorType
from graphflow.passes.kernel import ELEMENTWISE, MATMUL, OPAQUE, REDUCE, SOURCE, Kernel, PartitionedGraph

_BY_KIND = {ELEMENTWISE: K.elementwise, REDUCE: K.reduce_rows, MATMUL: K.matmul}
_BUFFER_SOURCES = ("input", "constant", "variable", "sym_size")


@dataclass
class Program:
    graph: Graph
    source: str  # the kernels (without the prelude)
    launches: list[K.Launch]
    buffers: dict[int, TensorType]  # node id -> type, every buffer a run touches
    inputs: list[int]
    outputs: list[int]
    constants: dict[int, np.ndarray] = field(default_factory=dict)
    variables: dict[int, object] = field(default_factory=dict)  # node id -> VarRef
    assigns: dict[int, object] = field(default_factory=dict)
    sym_sizes: dict[int, Node] = field(default_factory=dict)
    sites: Sites = field(default_factory=Sites)
    wmma: bool = False

    def module_source(self) -> str:
        """The complete translation unit (prelude + kernels)."""
        return PRELUDE + "\n" + self.source

    @property
    def functions(self) -> list[str]:
        return [launch.function for launch in self.launches]

    def error_message(self, site: int) -> tuple[type[Exception], str]:
        node, message = self.sites.entries[site - 1]
        where = f" (node created at {node.loc})" if node.loc else ""
        kind = ZeroDivisionError if "by zero" in message else (
            ValueError if "negative" in message else IndexError)
        return kind, f"{node.op.name}: {message}{where}"


def _kernel_for(k: Kernel):
    own = next((K.OWN_KERNELS[n.op.name] for n in k.nodes if n.op.name in K.OWN_KERNELS), None)
    if own is not None:
        return own
    if k.kind == OPAQUE or k.kind == SOURCE:
        if len(k.nodes) == 1 and k.nodes[0].op.name == "scatter_add":
            return K.scatter_add
        return K.elementwise
    if any(n.op.name == "scatter_add" for n in k.nodes):
        return K.scatter_add
    return _BY_KIND[k.kind]


def _split(k: Kernel) -> list[Kernel]:
    """Fallback: each node of the kernel its own kernel."""
    kinds = {"elementwise": ELEMENTWISE, "movement": ELEMENTWISE, "reduce": REDUCE, "linalg": MATMUL}
    return [Kernel(kinds.get(n.op.category, OPAQUE), [n], list(dict.fromkeys(n.inputs)), [n], name=f"{k.name}_{n.op.name}")
            for n in k.nodes]


def build_program(pg: PartitionedGraph, prefix: str | None = None, wmma: bool = False) -> Program:
    """Generate the CUDA program of a partitioned graph."""
    graph = pg.graph
    if prefix is None:
        prefix = "gf" + hashlib.sha1(repr(graph.structure_key()).encode()).hexdigest()[:10]
    ctx = K.Context(prefix, Sites(), wmma=wmma)
    prog = Program(graph, "", [], {}, [n.id for n in graph.inputs], [o.id for o in graph.outputs], sites=ctx.sites,
                   wmma=wmma)
    input_ids = set(prog.inputs)
    graph_out = {o.id for o in graph.outputs}
    sources: list[str] = []
    for k in pg.kernels:
        if k.kind == SOURCE and len(k.nodes) == 1 and (k.nodes[0].id in input_ids or
                                                        k.nodes[0].op.name in _BUFFER_SOURCES):
            _register_source(prog, k.nodes[0], input_ids)
            continue
        k = _with_required_outputs(k, graph_out)
        for part in _generate(k, ctx):
            sources.extend(part.source)
            prog.launches.extend(part.launches)
            for nid, n in {**part.reads, **part.writes}.items():
                prog.buffers[nid] = n.type
                if n.op.name in _BUFFER_SOURCES and nid not in input_ids:
                    _register_source(prog, n, input_ids)
            for n in k.nodes:
                if n.op.name == "assign":
                    prog.assigns[n.id] = n.attrs["var"]
    for o in graph.outputs:
        prog.buffers.setdefault(o.id, o.type)
        if o.op.name in _BUFFER_SOURCES or o.id in input_ids:
            _register_source(prog, o, input_ids)
    prog.source = "\n".join(sources)
    return prog


def _with_required_outputs(k: Kernel, graph_out: set[int]) -> Kernel:
    """Graph outputs and variable writes computed inside a kernel are always stored."""
    extra = [n for n in k.nodes if (n.id in graph_out or n.op.name == "assign") and n not in k.outputs]
    if not extra:
        return k
    return Kernel(k.kind, k.nodes, k.inputs, list(k.outputs) + extra, name=k.name)


def _generate(k: Kernel, ctx: K.Context) -> list[K.Generated]:
    try:
        return [_kernel_for(k)(k, ctx)]
    except Unsupported:
        if len(k.nodes) == 1:
            raise NotImplementedError(f"cuda backend cannot generate a kernel for {k.nodes[0].describe()}") from None
    return [g for part in _split(k) for g in _generate(part, ctx)]


def _register_source(prog: Program, n: Node, input_ids: set[int]) -> None:
    prog.buffers[n.id] = n.type
    if n.id in input_ids:
        return
    name = n.op.name
    if name == "constant":
        prog.constants[n.id] = _contiguous(n.attrs["value"].array)
    elif name == "variable":
        prog.variables[n.id] = n.attrs["var"]
    elif name == "sym_size":
        prog.sym_sizes[n.id] = n
    elif name == "input":
        raise ValueError(f"input node {n.describe()} is not among the graph's inputs")


def _contiguous(array) -> np.ndarray:
    """A C-contiguous array of the same shape (np.ascontiguousarray would turn 0-d into 1-d)."""
    arr = np.asarray(array)
    return arr if arr.flags.c_contiguous else arr.copy(order="C")
