"""Planning: the fusion partition cut into units this backend emits (one loop nest, one BLAS call
or one NumPy-reference callback each), and the buffers they read and write."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from graphflow.backends.llvm.evaluator import NEEDS_DIMS
from graphflow.backends.llvm.lowering import FALLBACK, INDEX_OPS, SOURCES, is_fallback
from graphflow.ir.graph import Graph, Node
from graphflow.passes.kernel import PartitionedGraph, one_kernel_per_node

EW, REDUCE, MATMUL, SCATTER, CALLBACK, SCAN = "ew", "reduce", "matmul", "scatter", "callback", "scan"
SCANS = frozenset({"cumsum", "cumprod"})  # run as SCAN units: each row walked in order
PARALLEL_MIN_ELEMENTS = 1 << 16  # below this a kernel stays on one core (waking a thread costs more)
HEAVY_ELEMENTS = 1 << 20  # graphs with a kernel this large get the full (slower) O3 loop pipeline


def partition(graph: Graph) -> PartitionedGraph:
    """The optimiser's fusion when it is present, else one kernel per node."""
    try:
        from graphflow.passes.fusion import partition as fuse
    except ImportError:
        return one_kernel_per_node(graph)
    return fuse(graph)


@dataclass
class Buffer:
    index: int
    node: Node
    kind: str  # input | const | host | out | fresh | scratch
    pos: int | None = None  # graph input position, or first output position


@dataclass
class Unit:
    kind: str
    nodes: list[Node]  # computed by this unit, topological order
    outputs: list[Node]  # written to buffers
    name: str = ""
    reds: list[Node] = field(default_factory=list)
    matmul: Node | None = None
    flat: bool = False
    # MATMUL units: elementwise nodes over the product's output, run on each tile right after its
    # BLAS call (bias, activation, SGD update) while the tile is in cache
    epilogue: list[Node] = field(default_factory=list)
    # the output whose buffer the product is written to (and the epilogue reads it from, in
    # place) when the product itself is not needed outside the unit
    alias: Node | None = None

    def reads(self) -> list[Node]:
        """Buffers this unit loads from (materialised values it does not compute itself)."""
        own = {n.id for n in self.nodes}
        seen: dict[int, Node] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i.id not in own and i.id not in seen:
                    seen[i.id] = i
        if self.kind == MATMUL:
            for i in self.matmul.inputs:
                if i.id not in own:
                    seen.setdefault(i.id, i)
        return list(seen.values())

    def pointer_reads(self) -> set[int]:
        """Values this unit hands to native code by address (a BLAS call's operands, through
        a transpose fused into the unit): they need a buffer, never an inlined scalar."""
        if self.kind != MATMUL:
            return set()
        own = {n.id for n in self.nodes}
        return {(x.inputs[0] if x.id in own else x).id for x in self.matmul.inputs}


def numel(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _is_transpose(n: Node) -> bool:
    perm = n.attrs["perm"] if n.op.name == "permute" else None
    if perm is None or len(perm) < 2:
        return False
    k = len(perm)
    return tuple(perm) == tuple(range(k - 2)) + (k - 1, k - 2)


@dataclass
class Plan:
    graph: Graph
    buffers: list[Buffer]
    units: list[Unit]
    buffer_of: dict[int, int]  # node id -> buffer index
    scalars: dict[int, object]  # node id -> inlined scalar constant
    fallbacks: list[str]

    @property
    def light(self) -> bool:
        """No kernel big enough for unrolled/interleaved loops to pay for their compile time."""
        return all(max((numel(n.shape) for n in u.nodes), default=0) < HEAVY_ELEMENTS for u in self.units)

    def describe(self) -> str:
        lines = []
        for k, u in enumerate(self.units):
            lines.append(f"unit {k} [{u.kind}{' flat' if u.flat else ''}] {' '.join(n.op.name for n in u.nodes)}")
        return "\n".join(lines)


def make_plan(graph: Graph, parts: PartitionedGraph, split_all: bool = False) -> Plan:
    input_pos = {n.id: k for k, n in enumerate(graph.inputs)}
    output_ids = {o.id for o in graph.outputs}
    users: dict[int, set[int]] = {}
    for n in graph.nodes:
        if n.id in input_pos:
            continue
        for i in n.inputs:
            users.setdefault(i.id, set()).add(n.id)

    # a cheap value (index maths, casts) is recomputed by each kernel that reads it: a user in a
    # kernel that holds the value itself needs no buffer of it
    kernels_of: dict[int, set[int]] = {}
    for k, kernel in enumerate(parts.kernels):
        for n in kernel.nodes:
            kernels_of.setdefault(n.id, set()).add(k)

    def read_elsewhere(n: Node, own: set[int]) -> bool:
        mine = kernels_of.get(n.id, set())
        return any(u not in own and not (kernels_of.get(u) or {-1}) <= mine for u in users.get(n.id, ()))

    scalars: dict[int, object] = {}
    sources: list[Node] = []
    units: list[Unit] = []
    fallbacks: list[str] = []
    for kernel in parts.kernels:
        nodes = []
        for n in kernel.nodes:
            if n.id in input_pos or n.op.name in SOURCES:
                sources.append(n)
            else:
                nodes.append(n)
        if not nodes:
            continue
        own = {n.id for n in nodes}
        needed = [n for n in nodes if n.id in output_ids or n.op.name == "assign" or read_elsewhere(n, own)]
        units.extend(_units_for(nodes, needed, split_all, fallbacks))
    if not split_all:
        units = _merge_rows(units, users, output_ids)

    by_pointer = set().union(*(u.pointer_reads() for u in units))
    for n in sources:
        if (n.op.name == "constant" and n.id not in output_ids and n.attrs["value"].array.size == 1
                and n.id not in input_pos and n.id not in by_pointer):
            arr = n.attrs["value"].array
            scalars[n.id] = bool(arr.item()) if arr.dtype == np.bool_ else (
                arr.view(np.uint16).item() if arr.dtype.name in ("float16", "bfloat16") else arr.item())

    buffers: list[Buffer] = []
    buffer_of: dict[int, int] = {}

    def add(node: Node, kind: str, pos: int | None = None) -> None:
        buffer_of[node.id] = len(buffers)
        buffers.append(Buffer(len(buffers), node, kind, pos))

    for n in graph.inputs:
        add(n, "input", input_pos[n.id])
    for n in dict.fromkeys(sources):
        if n.id in buffer_of or n.id in scalars:
            continue
        add(n, "const" if n.op.name == "constant" else "host")
    first_out = {}
    for k, o in enumerate(graph.outputs):
        first_out.setdefault(o.id, k)
    for u in units:
        for o in u.outputs:
            if o.id in buffer_of:
                continue
            if o.id in first_out:
                add(o, "out", first_out[o.id])
            elif o.op.name == "assign":
                add(o, "fresh")
            else:
                add(o, "scratch")
    for k, u in enumerate(units):
        u.name = f"u{k}_{u.kind}_{'_'.join(dict.fromkeys(n.op.name for n in u.nodes))}"[:60]
    return Plan(graph, buffers, units, buffer_of, scalars, fallbacks)


def _units_for(nodes: list[Node], needed: list[Node], split_all: bool, fallbacks: list[str]) -> list[Unit]:
    if not split_all and not any(is_fallback(n.op.name, _kind_dtype(n)) for n in nodes):
        try:
            return _fused_units(nodes, needed)
        except _Split:
            pass
    return [_single(n, fallbacks) for n in nodes]


class _Split(Exception):
    pass


def _kind_dtype(n: Node):
    return n.inputs[0].dtype if n.inputs else n.dtype


def _single(n: Node, fallbacks: list[str]) -> Unit:
    name = n.op.name
    if is_fallback(name, _kind_dtype(n)):
        reason = FALLBACK.get(name) or FALLBACK.get((name, _kind_dtype(n).kind))
        fallbacks.append(f"{name} ({_kind_dtype(n).name}): {reason}")
        return Unit(CALLBACK, [n], [n])
    if n.op.category == "reduce":
        return Unit(REDUCE, [n], [n], reds=[n])
    if name == "matmul":
        return Unit(MATMUL, [n], [n], matmul=n)
    if name == "scatter_add":
        return Unit(SCATTER, [n], [n])
    if name in SCANS:
        return Unit(SCAN, [n], [n])
    return Unit(EW, [n], [n], flat=_flat([n], n.shape))


def _fused_units(nodes: list[Node], needed: list[Node]) -> list[Unit]:
    if any(n.op.name == "scatter_add" or n.op.name in SCANS for n in nodes):
        raise _Split
    mms = [n for n in nodes if n.op.name == "matmul"]
    reds = [n for n in nodes if n.op.category == "reduce"]
    if mms:
        if len(mms) > 1 or reds:
            raise _Split
        m = mms[0]
        own = {n.id for n in nodes}
        before = [n for n in nodes if n is not m and is_ancestor(n, m, own)]
        for n in before:
            if not _is_transpose(n) or n.inputs[0].id in own:
                raise _Split
        rest = [n for n in nodes if n is not m and n not in before]
        outs = [o for o in needed if o is not m]
        if any(o not in rest for o in outs):
            raise _Split
        if rest and all(numel(o.shape) == numel(m.shape) for o in outs):
            return [_epilogue_unit(before, m, rest, outs, any(o is m for o in needed))]
        units = [Unit(MATMUL, before + [m], [m], matmul=m)]
        if rest:
            units.extend(_ew_units(rest, outs))
        return units
    if reds:
        return [_reduce_unit(nodes, needed, reds)]
    return _ew_units(nodes, needed)


def _epilogue_unit(before: list[Node], m: Node, rest: list[Node], outs: list[Node], keep: bool) -> Unit:
    """A product and its elementwise epilogue as one unit. When the product is not needed
    elsewhere it gets no buffer: BLAS writes it into an output of the same dtype and size, which
    the epilogue then overwrites element by element (each element is read before it is written)."""
    alias = None
    if not keep:
        alias = next((o for o in outs if o.dtype == m.dtype), None)
    outputs = ([m] if alias is None else []) + outs
    return Unit(MATMUL, before + [m] + rest, outputs, matmul=m, epilogue=rest, alias=alias)


def is_ancestor(a: Node, b: Node, own: set[int]) -> bool:
    """Whether `b` reads `a`, walking only through nodes in `own` (a kernel's nodes)."""
    stack, seen = [b], set()
    while stack:
        n = stack.pop()
        for i in n.inputs:
            if i is a:
                return True
            if i.id in own and i.id not in seen:
                seen.add(i.id)
                stack.append(i)
    return False


def _ew_units(nodes: list[Node], needed: list[Node]) -> list[Unit]:
    groups: dict[int, list[Node]] = {}
    for o in needed:
        groups.setdefault(numel(o.shape), []).append(o)
    units = []
    for outs in groups.values():
        cone = _cone(outs, {n.id for n in nodes})
        units.append(Unit(EW, cone, outs, flat=_flat(cone, outs[0].shape)))
    return units


def _cone(outs: list[Node], own: set[int]) -> list[Node]:
    """The kernel nodes the outputs depend on (what a unit recomputes), topologically."""
    from graphflow.ir.graph import toposort

    order = toposort(outs, stop=())
    return [n for n in order if n.id in own]


def _flat(cone: list[Node], domain) -> bool:
    """Can the unit run as one loop over linear positions (no per-dimension index maths)?"""
    size = numel(domain)
    for n in cone:
        if n.op.name in NEEDS_DIMS:
            return False
        if n.op.name == "broadcast_to" and numel(n.inputs[0].shape) != numel(n.shape):
            return False
        if n.op.name == "random_uniform" or numel(n.shape) != size and n.op.name not in INDEX_OPS:
            return False
    return True


_ROW_OPS = frozenset({"reshape", "broadcast_to", "assign"})


def _reduce_unit(nodes: list[Node], needed: list[Node], reds: list[Node]) -> Unit:
    shape = reds[0].inputs[0].shape
    axes = reduced_axes(reds[0])
    for r in reds:
        if r.op.name not in ("reduce_sum", "reduce_prod", "reduce_max", "reduce_min"):
            raise _Split
        if r.inputs[0].shape != shape or reduced_axes(r) != axes:
            raise _Split
    for n in nodes:
        if n.op.category not in ("elementwise", "reduce") and n.op.name not in _ROW_OPS:
            raise _Split
    kept = numel([d for i, d in enumerate(shape) if i not in axes])
    full = numel(shape)
    for o in needed:
        if numel(o.shape) not in (kept, full):
            raise _Split
    return Unit(REDUCE, nodes, needed, reds=reds)


def _merge_rows(units: list[Unit], users: dict[int, set[int]], output_ids: set[int]) -> list[Unit]:
    """Join consecutive row reductions over the same values (softmax's max, then its sum and
    division) into one unit, so each row is read from memory once and stays in cache. An output
    of the first stays a buffer while a user outside the merged unit reads it, counting users
    that the merged unit computes but another unit also recomputes (a cheap broadcast)."""
    computed = Counter(n.id for u in units for n in u.nodes)
    out: list[Unit] = []
    for u in units:
        prev = out[-1] if out else None
        if (prev is not None and prev.kind == REDUCE and u.kind == REDUCE
                and prev.reds[0].inputs[0].shape == u.reds[0].inputs[0].shape
                and reduced_axes(prev.reds[0]) == reduced_axes(u.reds[0])
                and any(r.id in {o.id for o in prev.outputs} for r in u.reads())):
            here = Counter(n.id for n in prev.nodes) + Counter(n.id for n in u.nodes)
            keep = [o for o in prev.outputs if o.id in output_ids or o.op.name == "assign"
                    or any(computed[x] > here[x] for x in users.get(o.id, ()))]
            out[-1] = Unit(REDUCE, prev.nodes + u.nodes, keep + u.outputs, reds=prev.reds + u.reds)
            continue
        out.append(u)
    return out


def reduced_axes(r: Node) -> tuple[int, ...]:
    """The axes reduction `r` runs over: `axes` (None: all), or an arg-reduction's one `axis`."""
    ndim = len(r.inputs[0].shape)
    if "axis" in r.attrs:
        a = r.attrs["axis"]
        return tuple(range(ndim)) if a is None else (a % ndim,)
    ax = r.attrs["axes"]
    return tuple(range(ndim)) if ax is None else tuple(ax)
