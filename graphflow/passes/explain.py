"""`explain`: what the optimiser did to a graph, for a person to read.

The report lists the graph after each pass, the kernels fusion made (with the primitive ops each
fuses), the code the backend generates for each, and the memory plan. Code comes from the backend
in use through its optional `unit_sources(partitioned) -> [(node ids, text)]` (one entry per unit
it compiles; units are matched to kernels by the nodes they share, since a backend may split or
merge kernels) or `kernel_sources(partitioned) -> list[str]` (one string per kernel of
`partitioned.kernels`, or one per compute kernel), as a method of the backend or a function of the
module defining it; a backend without either (the NumPy reference) gets a readable pseudo-code
listing of each kernel's loop.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from graphflow.ir.graph import Graph, Node
from graphflow.ir.shapes import fmt
from graphflow.passes.fusion import partition
from graphflow.passes.kernel import MATMUL, REDUCE, SOURCE, Kernel, PartitionedGraph
from graphflow.passes.memory import MemoryPlan, plan_memory
from graphflow.passes.pipeline import run_pipeline_traced


@dataclass
class KernelReport:
    name: str
    kind: str
    ops: list[str]  # names of the primitive ops the kernel fuses
    source: str  # generated code (or pseudo-code)

    def __str__(self) -> str:
        return f"{self.name} [{self.kind}] fuses {', '.join(self.ops)}\n{self.source}"


@dataclass
class ExplainReport:
    passes: list[tuple[str, str]]  # (pass name, graph text after it)
    kernels: list[KernelReport]
    backend: str
    memory: MemoryPlan | None = None
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        out = [f"== graphflow explain (backend: {self.backend}) =="]
        previous = None
        for name, text in self.passes:
            if text == previous:
                out.append(f"-- after {name}: unchanged")
                continue
            out.append(f"-- after {name}:\n{text}")
            previous = text
        out.append(f"-- {len(self.kernels)} kernel(s):")
        for k in self.kernels:
            out.append(str(k))
        if self.memory is not None:
            out.append(f"-- memory: {self.memory.summary()}")
        out.extend(f"-- note: {n}" for n in self.notes)
        return "\n".join(out)

    def __repr__(self) -> str:
        return f"<ExplainReport backend={self.backend!r}: {len(self.passes)} passes, {len(self.kernels)} kernels>"


def _ref(n: Node, inside: set[int]) -> str:
    return f"%{n.id}" if n.id in inside else f"in%{n.id}"


def pseudocode(kernel: Kernel) -> str:
    """A readable listing of what one kernel computes."""
    inside = {n.id for n in kernel.nodes}
    outs = {o.id for o in kernel.outputs}
    root = kernel.root
    if kernel.kind == REDUCE:
        head = f"for each output element of {fmt(root.shape)}: reduce over {fmt(root.inputs[0].shape)}"
    elif kernel.kind == MATMUL:
        head = f"for each (i, j) of {fmt(root.shape)}: dot product over k = {root.inputs[0].shape[-1]}"
    else:
        head = f"for each element of {fmt(root.shape)}"
    lines = [f"  // reads {', '.join(f'in%{i.id}: {i.type}' for i in kernel.inputs) or 'nothing'}",
             f"  {head}:"]
    for n in kernel.nodes:
        args = ", ".join(_ref(i, inside) for i in n.inputs)
        attrs = f" [{n.attrs!r}]" if len(n.attrs) else ""
        role = kernel.roles.get(n.id, "")
        store = f"  -> store buf%{n.id}" if n.id in outs else ""
        tag = f"  ({role})" if role and role not in ("body",) else ""
        lines.append(f"    %{n.id} = {n.op.name}({args}){attrs} : {n.type}{store}{tag}")
    return "\n".join(lines)


def _backend_hook(backend, name: str):
    """A code-listing function of the backend object, or of the module that defines it."""
    if backend is None:
        return None
    return getattr(backend, name, None) or getattr(sys.modules.get(type(backend).__module__), name, None)


def _sources(backend, partitioned: PartitionedGraph) -> list[str]:
    compute = partitioned.compute_kernels
    units = _backend_hook(backend, "unit_sources")
    if units is not None:  # (node ids, text) per compiled unit: match units to kernels by shared nodes
        pieces = [(set(ids), text) for ids, text in units(partitioned)]
        out = []
        for k in compute:
            own = {n.id for n in k.nodes}
            texts = [text for ids, text in pieces if ids & own]
            out.append("\n".join(texts) if texts else pseudocode(k))
        return out
    getter = _backend_hook(backend, "kernel_sources")
    if getter is not None:
        texts = list(getter(partitioned))
        if len(texts) == len(partitioned.kernels):
            return [t for t, k in zip(texts, partitioned.kernels) if k.kind != SOURCE]
        if len(texts) == len(compute):
            return texts
    return [pseudocode(k) for k in compute]


def explain_graph(graph: Graph, backend_name: str | None = None) -> ExplainReport:
    """Optimise `graph`, partition it and report every step. `backend_name` picks the backend whose
    generated code is shown (default "numpy": pseudo-code)."""
    name = backend_name or "numpy"
    notes: list[str] = []
    backend = None
    try:
        from graphflow.backends import get_backend

        backend = get_backend(name)
    except Exception as exc:  # noqa: BLE001 - the report says why no code is shown
        notes.append(f"backend {name!r} unavailable ({exc}); showing pseudo-code")
    trace = run_pipeline_traced(graph)
    final = trace[-1][1]
    partitioned = partition(final)
    try:
        sources = _sources(backend, partitioned)
    except Exception as exc:  # noqa: BLE001
        notes.append(f"backend {name!r} could not generate code ({type(exc).__name__}: {exc}); showing pseudo-code")
        sources = [pseudocode(k) for k in partitioned.compute_kernels]
    kernels = [KernelReport(k.name, k.kind, k.ops, src) for k, src in zip(partitioned.compute_kernels, sources)]
    try:
        memory = plan_memory(partitioned)
    except ValueError as exc:
        memory = None
        notes.append(str(exc))
    return ExplainReport([(n, g.text()) for n, g in trace], kernels, name, memory, notes)


def explain(fn, *args, backend_name: str | None = None, **kwargs) -> ExplainReport:
    """`gf.explain(fn, *args)`: trace eager-style `fn` on these arguments (as `gf.compile` would,
    without running it), specialise the graph to the arguments' shapes and explain it."""
    from graphflow.compile import CompiledFunction
    from graphflow.ir.specialize import bind_symbols, specialize
    from graphflow.static.executor import cpu_backend_name

    compiled = fn if isinstance(fn, CompiledFunction) else CompiledFunction(fn)
    entry = compiled._trace(args, kwargs)
    graph = entry.graph
    arrays = [np.asarray(a._data) for a in _eager_leaves((args, kwargs))]
    if entry.uses_seed:
        arrays.append(np.asarray(0, dtype=np.int64))
    arrays += [s.tensor._data for s in entry.slots]
    concrete = specialize(graph, bind_symbols(graph.inputs, arrays))
    return explain_graph(concrete, backend_name or cpu_backend_name())


def _eager_leaves(x) -> list:
    from graphflow.compile import _leaves
    from graphflow.static.tracing import _is_eager

    flat: list = []
    _leaves(x, flat)
    return [v for v in flat if _is_eager(v)]
