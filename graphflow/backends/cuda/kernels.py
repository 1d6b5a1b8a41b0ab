"""Kernel generators: one per kernel kind of the partition (elementwise, row-wise reduction,
tiled matmul, atomic scatter). Each turns a `Kernel` into CUDA C functions and their launches."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from math import prod

from graphflow.backends.cuda import ctypes_ as C
from graphflow.backends.cuda.emit import Counter, Emitter, Params, Sites, Unsupported, delinear, linear
from graphflow.backends.cuda.lowering import TABLE, Cast, Expr, Reduction, lowering
from graphflow.ir.graph import Node
from graphflow.passes.kernel import Kernel

BLOCK = 256
GRID_CAP = 4096  # grid-stride loops cover the rest
ROW_GRID_CAP = 65535
TILE = 64  # matmul block tile (TILE x TILE outputs)
TILE_K = 16


@dataclass
class Launch:
    """One kernel launch: `buffers` are node ids in the function's pointer-parameter order."""

    function: str
    buffers: list[int]
    param_types: list[str]
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    label: str = ""


@dataclass
class Generated:
    source: list[str] = field(default_factory=list)
    launches: list[Launch] = field(default_factory=list)
    reads: dict[int, Node] = field(default_factory=dict)
    writes: dict[int, Node] = field(default_factory=dict)


@dataclass
class Context:
    """What generators share while building one program."""

    prefix: str
    sites: Sites
    wmma: bool = False
    names: Counter = field(default_factory=Counter)

    def fname(self, kernel: Kernel) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", kernel.name or kernel.kind)
        return f"{self.prefix}_{base}_{self.names('f')}"


def _finish(gen: Generated, ctx: Context, fname: str, params: Params, body: list[str], grid, block,
            label: str, bounds: int | None = None) -> None:
    lb = f"__launch_bounds__({bounds}) " if bounds else ""
    gen.source.append(f'extern "C" __global__ void {lb}{fname}({params.signature()}) {{\n' + "\n".join(body) + "\n}\n")
    types = [f"const {C.storage(n.dtype)}*" for _, n in params.reads.values()]
    types += [f"{C.storage(n.dtype)}*" for _, n in params.writes.values()]
    gen.launches.append(Launch(fname, params.buffers(), types + ["int*"], tuple(grid), tuple(block), label))
    gen.reads.update({i: n for i, (_, n) in params.reads.items()})
    gen.writes.update({i: n for i, (_, n) in params.writes.items()})


def _grid(work: int, block: int = BLOCK, cap: int = GRID_CAP) -> int:
    return max(1, min(cap, -(-work // block)))


# ---------------------------------------------------------------- elementwise

def elementwise(k: Kernel, ctx: Context) -> Generated:
    """One grid-stride loop per output shape; float4 loads and stores when every operand is a
    same-shaped float32 buffer and the pointers are 16-byte aligned."""
    gen = Generated()
    ids = {n.id for n in k.nodes}
    groups: dict[tuple, list[Node]] = {}
    for o in k.outputs:
        groups.setdefault(tuple(o.shape), []).append(o)
    for shape, outs in groups.items():
        n = prod(shape)
        if n == 0:
            continue
        fname = ctx.fname(k)
        params = Params()
        counter = Counter()
        scalar: list[str] = []
        em = Emitter(set(ids), params, ctx.sites, scalar, " " * 8, counter=counter)
        idx = tuple(em.index_var(e) for e in delinear("i", shape))
        for o in outs:
            v = em.value(o, idx)
            em.emit(f"{params.write(o)}[i] = {C.store(o.dtype, v)};")
        body = [f"    const long long n = {n}LL;",
                "    const long long stride = (long long)blockDim.x * gridDim.x;",
                "    const long long tid = (long long)blockIdx.x * blockDim.x + threadIdx.x;",
                "    long long first = 0;"]
        vector = _vectorizable(k, ids, shape, params)
        if vector:
            body += _vector_body(ids, params, ctx, shape, counter)
        body += ["    for (long long i = first + tid; i < n; i += stride) {", *scalar, "    }"]
        _finish(gen, ctx, fname, params, body, (_grid(n // 4 if vector else n), 1, 1), (BLOCK, 1, 1),
                "+".join(k.ops), BLOCK)
    return gen


def _vectorizable(k: Kernel, ids: set[int], shape: tuple, params: Params) -> bool:
    if prod(shape) < 4:
        return False
    if not all(n.op.name in TABLE and isinstance(TABLE[n.op.name], Expr | Cast) for n in k.nodes if n.id in ids):
        return False
    nodes = [n for _, n in params.reads.values()] + [n for _, n in params.writes.values()]
    return all(n.dtype.name == "float32" and tuple(n.shape) == shape for n in nodes)


def _vector_body(ids: set[int], params: Params, ctx: Context, shape: tuple, counter: Counter) -> list[str]:
    ptrs = [name for name, _ in params.reads.values()] + [name for name, _ in params.writes.values()]
    aligned = " | ".join(f"(unsigned long long){p}" for p in ptrs)
    lines = [f"    if ((({aligned}) & 15ull) == 0) {{",
             "        const long long nv = n >> 2;",
             "        for (long long q = tid; q < nv; q += stride) {"]
    for name, _ in params.reads.values():
        lines.append(f"            const float4 {name}_v = reinterpret_cast<const float4*>({name})[q];")
    outs = {name: node for name, node in params.writes.values()}
    for name in outs:
        lines.append(f"            float4 {name}_v;")
    read_names = {nid: name for nid, (name, _) in params.reads.items()}
    for lane in "xyzw":
        def loader(node: Node, idx, lane=lane):
            return f"{read_names[node.id]}_v.{lane}" if node.id in read_names else None
        body: list[str] = []
        em = Emitter(set(ids), params, ctx.sites, body, " " * 12, counter=counter, loader=loader)
        lin = {"x": 0, "y": 1, "z": 2, "w": 3}[lane]
        idx = delinear(f"(q * 4 + {lin})", shape)
        for name, node in outs.items():
            v = em.value(node, idx)
            em.emit(f"{name}_v.{lane} = {v};")
        lines += body
    for name in outs:
        lines.append(f"            reinterpret_cast<float4*>({name})[q] = {name}_v;")
    lines += ["        }", "        first = nv << 2;", "    }"]
    return lines


# ---------------------------------------------------------------- reductions (row kernels)

def _red_axes(node: Node) -> tuple[int, ...]:
    nd = len(node.inputs[0].shape)
    if node.op.name in ("argmax", "argmin"):
        a = node.attrs["axis"]
        return tuple(range(nd)) if a is None or nd == 0 else (a % nd,)
    axes = node.attrs["axes"]
    return tuple(range(nd)) if axes is None else tuple(axes)


def reduce_rows(k: Kernel, ctx: Context) -> Generated:
    """One block per row (the kept dimensions): each reduction loops over the row with a per-thread
    accumulator, then combines with warp shuffles and shared memory; later reductions and the
    elementwise epilogue (softmax, layer norm) read earlier results from registers."""
    reds = [n for n in k.nodes if n.op.category == "reduce"]
    if not reds:
        raise Unsupported("reduce kernel without a reduction")
    src_shape = tuple(reds[0].inputs[0].shape)
    axes = _red_axes(reds[0])
    for r in reds[1:]:
        if tuple(r.inputs[0].shape) != src_shape or _red_axes(r) != axes:
            raise Unsupported("reductions over different shapes or axes in one kernel")
    kept = [a for a in range(len(src_shape)) if a not in axes]
    kept_shape = tuple(src_shape[a] for a in kept)
    red_shape = tuple(src_shape[a] for a in axes)
    keep_shape = tuple(1 if a in axes else d for a, d in enumerate(src_shape))
    rows, rlen = prod(kept_shape), prod(red_shape)
    trailing = list(axes) == list(range(len(kept), len(src_shape)))
    row_outs, full_outs = [], []
    for o in k.outputs:
        shp = tuple(o.shape)
        if shp in (kept_shape, keep_shape) or prod(shp) == rows and rows != prod(src_shape):
            row_outs.append(o)
        elif shp == src_shape or prod(shp) == prod(src_shape) and trailing:
            full_outs.append(o)
        else:
            raise Unsupported(f"output of shape {shp} in a row kernel over {src_shape}")
    gen = Generated()
    if rows == 0:
        return gen
    block = 32
    while block < min(rlen, BLOCK):
        block *= 2
    fname = ctx.fname(k)
    params = Params()
    counter = Counter()
    ids = {n.id for n in k.nodes}
    special: dict[int, str] = {}
    lines: list[str] = []
    ind = " " * 8

    def scope(body: list[str], indent: str) -> Emitter:
        return Emitter(ids, params, ctx.sites, body, indent, special, counter)

    def row_idx(shape: tuple, em: Emitter) -> tuple:
        if shape == kept_shape:
            return kept_idx
        if shape == keep_shape:
            return tuple("0" if a in axes else kept_idx[kept.index(a)] for a in range(len(src_shape)))
        return tuple(em.index_var(e) for e in delinear("row", shape))

    def full_idx(em: Emitter) -> tuple:
        red_idx = [em.index_var(e) for e in delinear("r", red_shape)]
        return tuple(kept_idx[kept.index(a)] if a in kept else red_idx[axes.index(a)] for a in range(len(src_shape)))

    top = scope(lines, ind)
    kept_idx = tuple(top.index_var(e) for e in delinear("row", kept_shape))
    smem = []
    for j, r in enumerate(reds):
        low: Reduction = lowering(r.op.name)
        x = r.inputs[0]
        acc_t = C.ACCUMULATE[x.dtype.name]
        dk = C.key(x.dtype)
        body: list[str] = []
        em = scope(body, ind + "    ")
        v = em.value(x, full_idx(em))
        if low.arg:
            is_max = low.combine
            smem.append(f"    __shared__ {acc_t} sv{j}[33];\n    __shared__ long long si{j}[33];")
            lines.append(f"{ind}{acc_t} av{j} = 0; long long ai{j} = -1;")
            lines.append(f"{ind}for (long long r = threadIdx.x; r < {rlen}LL; r += blockDim.x) {{")
            lines += body
            lines.append(f"{ind}    gf_arg_combine<{acc_t}, {is_max}>(av{j}, ai{j}, ({acc_t}){v}, r);")
            lines.append(f"{ind}}}")
            lines.append(f"{ind}const long long red{j} = gf_block_argreduce<{acc_t}, {is_max}>(av{j}, ai{j}, sv{j}, si{j});")
            special[r.id] = f"red{j}"
            continue
        ident = low.identity.get(dk) or low.identity.get("*")
        smem.append(f"    __shared__ {acc_t} sm{j}[33];")
        lines.append(f"{ind}{acc_t} acc{j} = ({acc_t}){ident};")
        lines.append(f"{ind}for (long long r = threadIdx.x; r < {rlen}LL; r += blockDim.x) {{")
        lines += body
        lines.append(f"{ind}    acc{j} = {low.combine}()(acc{j}, ({acc_t}){v});")
        lines.append(f"{ind}}}")
        lines.append(f"{ind}const {acc_t} tot{j} = gf_block_reduce<{acc_t}>(acc{j}, {low.combine}(), ({acc_t}){ident}, sm{j});")
        special[r.id] = top.let(C.compute(r.dtype), _from_acc(r, f"tot{j}"), "red")
    if row_outs:
        body = []
        em = scope(body, ind + "    ")
        for o in row_outs:
            v = em.value(o, row_idx(tuple(o.shape), em))
            em.emit(f"{params.write(o)}[row] = {C.store(o.dtype, v)};")
        lines += [f"{ind}if (threadIdx.x == 0) {{", *body, f"{ind}}}"]
    if full_outs:
        body = []
        em = scope(body, ind + "    ")
        fi = full_idx(em)
        for o in full_outs:
            if tuple(o.shape) == src_shape:
                v = em.value(o, fi)
            else:
                v = em.value(o, delinear(f"(row * {rlen}LL + r)", tuple(o.shape)))
            em.emit(f"{params.write(o)}[{linear(fi, src_shape)}] = {C.store(o.dtype, v)};")
        lines += [f"{ind}for (long long r = threadIdx.x; r < {rlen}LL; r += blockDim.x) {{", *body, f"{ind}}}"]
    src = [*smem, f"    for (long long row = blockIdx.x; row < {rows}LL; row += gridDim.x) {{", *lines, "    }"]
    _finish(gen, ctx, fname, params, src, (min(rows, ROW_GRID_CAP), 1, 1), (block, 1, 1), "+".join(k.ops), BLOCK)
    return gen


def _from_acc(r: Node, acc: str) -> str:
    """A reduction's accumulator as the op's dtype (wrapping integers, rounding half types)."""
    d = r.dtype
    if d.kind == "b":
        return f"({acc} != 0)"
    if d.kind in "iu":
        return f"({C.compute(d)})({acc})"
    return C.round_to(d, acc)


# ---------------------------------------------------------------- matmul

def matmul(k: Kernel, ctx: Context) -> Generated:
    """Tiled GEMM: TILE x TILE outputs per block staged through shared memory in TILE_K slices;
    operands are read through the emitter (so transposes and casts before it are index maths)
    and the epilogue runs on the accumulators before the single store."""
    mms = [n for n in k.nodes if n.op.name == "matmul"]
    if len(mms) != 1:
        raise Unsupported("a matmul kernel needs exactly one matmul")
    mm = mms[0]
    a, b = mm.inputs
    M, K = a.shape[-2], a.shape[-1]
    N = b.shape[-1]
    batch_shape = tuple(mm.shape[:-2])
    batch = prod(batch_shape)
    total = prod(mm.shape)
    ids = {n.id for n in k.nodes}
    for o in k.outputs:
        if prod(o.shape) != total or not _downstream(o, mm, ids):
            raise Unsupported("matmul kernel outputs must be the matmul or its epilogue")
    gen = Generated()
    if total == 0:
        return gen
    use_wmma = ctx.wmma and mm.dtype.name in ("float16", "bfloat16")
    fname = ctx.fname(k)
    params = Params()
    counter = Counter()
    special: dict[int, str] = {}
    ind = " " * 8

    def scope(body: list[str], indent: str) -> Emitter:
        return Emitter(ids, params, ctx.sites, body, indent, special, counter)

    lines: list[str] = []
    top = scope(lines, ind)
    bidx = tuple(top.index_var(e) for e in delinear("b", batch_shape))

    def load_tile(operand: Node, r: str, c: str, rows: int, cols: int, dest: str, conv) -> list[str]:
        body: list[str] = []
        em = scope(body, ind + "        ")
        v = em.value(operand, bidx + (r, c))
        return [f"{ind}    if ({r} < {rows}LL && {c} < {cols}LL) {{", *body,
                f"{ind}        {dest} = {conv(v)};", f"{ind}    }} else {{", f"{ind}        {dest} = {conv('0')};",
                f"{ind}    }}"]

    def epilogue(acc: str, gm: str, gn: str, indent: str) -> list[str]:
        body: list[str] = []
        em = scope(body, indent + "    ")
        special[mm.id] = em.let(C.compute(mm.dtype), _from_acc(mm, acc), "c")
        oidx = bidx + (gm, gn)
        for o in k.outputs:
            v = em.value(o, oidx if tuple(o.shape) == tuple(mm.shape)
                         else delinear(linear(oidx, tuple(mm.shape)), tuple(o.shape)))
            em.emit(f"{params.write(o)}[{linear(oidx, tuple(mm.shape))}] = {C.store(o.dtype, v)};")
        del special[mm.id]
        return [f"{indent}if ({gm} < {M}LL && {gn} < {N}LL) {{", *body, f"{indent}}}"]

    if use_wmma:
        ht = C.storage(mm.dtype)
        def conv(v):
            return (C.store(mm.dtype, f"(float)({v})"))
        smem = [f"    __shared__ __align__(32) {ht} As[{TILE}][{TILE_K + 8}];",
                f"    __shared__ __align__(32) {ht} Bs[{TILE_K}][{TILE + 8}];",
                f"    __shared__ __align__(32) float Cs[{TILE}][{TILE + 4}];",
                "    const int tid = threadIdx.x, warp = tid >> 5, wm = warp >> 1, wn = warp & 1;"]
        lines += [f"{ind}const long long m0 = (long long)blockIdx.y * {TILE}, n0 = (long long)blockIdx.x * {TILE};",
                  f"{ind}nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> fc[2][2];",
                  f"{ind}for (int i = 0; i < 2; ++i) for (int j = 0; j < 2; ++j) nvcuda::wmma::fill_fragment(fc[i][j], 0.0f);",
                  f"{ind}for (long long k0 = 0; k0 < {K}LL; k0 += {TILE_K}) {{",
                  f"{ind}    for (int e = tid; e < {TILE * TILE_K}; e += 128) {{",
                  f"{ind}        const long long am = m0 + e / {TILE_K}, ak = k0 + e % {TILE_K};",
                  f"{ind}        const long long bk = k0 + e / {TILE}, bn = n0 + e % {TILE};"]
        lines += [ind + "    " + s for s in load_tile(a, "am", "ak", M, K, f"As[e / {TILE_K}][e % {TILE_K}]", conv)]
        lines += [ind + "    " + s for s in load_tile(b, "bk", "bn", K, N, f"Bs[e / {TILE}][e % {TILE}]", conv)]
        frag = "nvcuda::wmma::fragment<nvcuda::wmma::matrix_{}, 16, 16, 16, " + ht + ", nvcuda::wmma::row_major>"
        lines += [f"{ind}    }}", f"{ind}    __syncthreads();",
                  f"{ind}    {frag.format('a')} fa[2];", f"{ind}    {frag.format('b')} fb[2];",
                  f"{ind}    for (int i = 0; i < 2; ++i) nvcuda::wmma::load_matrix_sync(fa[i], &As[wm * 32 + i * 16][0], {TILE_K + 8});",
                  f"{ind}    for (int j = 0; j < 2; ++j) nvcuda::wmma::load_matrix_sync(fb[j], &Bs[0][wn * 32 + j * 16], {TILE + 8});",
                  f"{ind}    for (int i = 0; i < 2; ++i) for (int j = 0; j < 2; ++j) nvcuda::wmma::mma_sync(fc[i][j], fa[i], fb[j], fc[i][j]);",
                  f"{ind}    __syncthreads();", f"{ind}}}",
                  f"{ind}for (int i = 0; i < 2; ++i) for (int j = 0; j < 2; ++j)",
                  f"{ind}    nvcuda::wmma::store_matrix_sync(&Cs[wm * 32 + i * 16][wn * 32 + j * 16], fc[i][j], {TILE + 4}, nvcuda::wmma::mem_row_major);",
                  f"{ind}__syncthreads();",
                  f"{ind}for (int e = tid; e < {TILE * TILE}; e += 128) {{",
                  f"{ind}    const long long gm = m0 + e / {TILE}, gn = n0 + e % {TILE};"]
        lines += epilogue(f"Cs[e / {TILE}][e % {TILE}]", "gm", "gn", ind + "    ")
        lines += [f"{ind}}}", f"{ind}__syncthreads();"]
        block = (128, 1, 1)
    else:
        acc_t = "unsigned long long" if mm.dtype.kind in "iu" else C.ACCUMULATE[mm.dtype.name]
        def conv(v):
            return (f"({acc_t})({v})")
        per = TILE // 16
        smem = [f"    __shared__ {acc_t} As[{TILE_K}][{TILE + 1}];",
                f"    __shared__ {acc_t} Bs[{TILE_K}][{TILE + 1}];",
                "    const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * 16 + tx;"]
        lines += [f"{ind}const long long m0 = (long long)blockIdx.y * {TILE}, n0 = (long long)blockIdx.x * {TILE};",
                  f"{ind}{acc_t} acc[{per}][{per}];",
                  f"{ind}for (int i = 0; i < {per}; ++i) for (int j = 0; j < {per}; ++j) acc[i][j] = 0;",
                  f"{ind}for (long long k0 = 0; k0 < {K}LL; k0 += {TILE_K}) {{",
                  f"{ind}    for (int e = tid; e < {TILE * TILE_K}; e += 256) {{",
                  f"{ind}        const long long am = m0 + e / {TILE_K}, ak = k0 + e % {TILE_K};",
                  f"{ind}        const long long bk = k0 + e / {TILE}, bn = n0 + e % {TILE};"]
        lines += [ind + "    " + s for s in load_tile(a, "am", "ak", M, K, f"As[e % {TILE_K}][e / {TILE_K}]", conv)]
        lines += [ind + "    " + s for s in load_tile(b, "bk", "bn", K, N, f"Bs[e / {TILE}][e % {TILE}]", conv)]
        lines += [f"{ind}    }}", f"{ind}    __syncthreads();",
                  f"{ind}    for (int kk = 0; kk < {TILE_K}; ++kk) {{",
                  f"{ind}        {acc_t} ra[{per}], rb[{per}];",
                  f"{ind}        for (int i = 0; i < {per}; ++i) ra[i] = As[kk][ty + 16 * i];",
                  f"{ind}        for (int j = 0; j < {per}; ++j) rb[j] = Bs[kk][tx + 16 * j];",
                  f"{ind}        for (int i = 0; i < {per}; ++i) for (int j = 0; j < {per}; ++j) acc[i][j] += ra[i] * rb[j];",
                  f"{ind}    }}", f"{ind}    __syncthreads();", f"{ind}}}",
                  f"{ind}for (int i = 0; i < {per}; ++i) for (int j = 0; j < {per}; ++j) {{",
                  f"{ind}    const long long gm = m0 + ty + 16 * i, gn = n0 + tx + 16 * j;"]
        lines += epilogue("acc[i][j]", "gm", "gn", ind + "    ")
        lines += [f"{ind}}}"]
        block = (16, 16, 1)
    src = [*smem, f"    for (long long b = blockIdx.z; b < {batch}LL; b += gridDim.z) {{", *lines, "    }"]
    grid = (-(-N // TILE), -(-M // TILE), min(batch, 65535))
    _finish(gen, ctx, fname, params, src, grid, block, "+".join(k.ops), block[0] * block[1])
    return gen


def _downstream(o: Node, root: Node, ids: set[int]) -> bool:
    stack, seen = [o], set()
    while stack:
        n = stack.pop()
        if n.id == root.id:
            return True
        if n.id in seen or n.id not in ids:
            continue
        seen.add(n.id)
        stack.extend(n.inputs)
    return False


# ---------------------------------------------------------------- scatter_add

_ATOMIC = {"float32": "atomicAdd(&{p}, {v})", "float64": "atomicAdd(&{p}, {v})", "int32": "atomicAdd(&{p}, {v})",
           "int64": "atomicAdd((unsigned long long*)&{p}, (unsigned long long){v})",
           "float16": "atomicAdd(&{p}, __float2half_rn({v}))", "bfloat16": "atomicAdd(&{p}, __float2bfloat16_rn({v}))",
           "int8": "gf_atomic_add_small(&{p}, {v})", "uint8": "gf_atomic_add_small(&{p}, {v})",
           "int16": "gf_atomic_add_small(&{p}, {v})", "bool": "if ({v}) {p} = true"}


def scatter_add(k: Kernel, ctx: Context) -> Generated:
    """Two launches: copy the input, then add every source element at its index with atomics."""
    if len(k.nodes) != 1:
        raise Unsupported("scatter_add runs as a kernel of its own")
    (sc,) = k.nodes
    x, index, src = sc.inputs
    gen = Generated()
    copy = Kernel("elementwise", [], [x], [x], name=k.name + "_copy")
    # the copy reads x (a buffer) and writes the scatter's buffer
    n = prod(x.shape)
    if n:
        params = Params()
        body: list[str] = []
        em = Emitter(set(), params, ctx.sites, body, " " * 8)
        v = em.value(x, delinear("i", tuple(x.shape)))
        em.emit(f"{params.write(sc)}[i] = {C.store(x.dtype, v)};")
        src_lines = ["    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; "
                     f"i < {n}LL; i += (long long)blockDim.x * gridDim.x) {{", *body, "    }"]
        _finish(gen, ctx, ctx.fname(copy), params, src_lines, (_grid(n), 1, 1), (BLOCK, 1, 1), "scatter_add.copy", BLOCK)
    m = prod(index.shape)
    if m == 0 or n == 0:
        return gen
    params = Params()
    params.write(sc)
    body = []
    em = Emitter(set(), params, ctx.sites, body, " " * 8)
    idx = tuple(em.index_var(e) for e in delinear("i", tuple(index.shape)))
    if len(x.shape):
        axis = sc.attrs["axis"]
        dim = x.shape[axis]
        raw = em.value(index, idx)
        site = ctx.sites.add(sc, f"index out of bounds for dimension {axis} of size {dim}")
        em.emit(f"long long j = (long long){raw};")
        em.emit(f"if (j < 0) j += {dim}LL;")
        em.emit(f"if (j < 0 || j >= {dim}LL) {{ gf_fail(gf_err, {site}); continue; }}")
        target = linear(idx[:axis] + ("j",) + idx[axis + 1:], tuple(x.shape))
    else:
        target = "0"
    v = em.value(src, idx)
    val = v if x.dtype.kind in "f" else f"({C.storage(x.dtype)})({v})"
    em.emit(_ATOMIC[x.dtype.name].format(p=f"out0[{target}]", v=val) + ";")
    src_lines = ["    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; "
                 f"i < {m}LL; i += (long long)blockDim.x * gridDim.x) {{", *body, "    }"]
    _finish(gen, ctx, ctx.fname(k), params, src_lines, (_grid(m), 1, 1), (BLOCK, 1, 1), "scatter_add", BLOCK)
    return gen


# ---------------------------------------------------------------- scans and sorting

def _rows(x: Node, axis: int) -> tuple[int, int, int]:
    """(rows, length, inner) of an axis: element j of row r is at (r / inner) * length * inner + r % inner + j * inner."""
    shape = tuple(x.shape)
    n = shape[axis]
    inner = prod(shape[axis + 1:])
    return prod(shape[:axis]) * inner, n, inner


def _is_nan(d, v: str) -> str:
    return f"({v} != {v})" if d.kind == "f" else "false"


def scan(k: Kernel, ctx: Context) -> Generated:
    """cumsum, cumprod and cumarg: one thread per row, walking the row in order (integers wrap
    in 64 bits and are stored in their width; the half types accumulate in float and round once
    per output, as the reference does)."""
    if len(k.nodes) != 1:
        raise Unsupported("a scan runs as a kernel of its own")
    (node,) = k.nodes
    (x,) = node.inputs
    name = node.op.name
    rows, n, inner = _rows(x, node.attrs["axis"])
    gen = Generated()
    if rows * n == 0:
        return gen
    params = Params()
    src, dst = params.read(x), params.write(node)
    d = x.dtype
    v = C.load(d, f"{src}[p]")
    reverse = node.attrs.get("reverse", False)
    pos = "n - 1 - t" if reverse else "t"
    if name == "cumarg":
        largest = node.attrs["largest"]
        cmp = ">=" if largest else "<="
        ct = C.compute(d)
        init = [f"        {ct} best = {C.literal(0, d)};", "        long long bi = 0;"]
        step = [f"            const {ct} v = {v};",
                f"            if (t == 0 || {_is_nan(d, 'v')} || (!{_is_nan(d, 'best')} && v {cmp} best)) "
                "{ best = v; bi = t; }",
                f"            {dst}[p] = bi;"]
    else:
        op = "+" if name == "cumsum" else "*"
        if d.kind in "iu":
            init = [f"        unsigned long long acc = {'0' if op == '+' else '1'}ull;"]
            step = [f"            acc = acc {op} (unsigned long long)(long long)({v});",
                    f"            {dst}[p] = ({C.storage(d)})(long long)acc;"]
        else:
            ct = C.compute(d)
            init = [f"        {ct} acc = {C.literal(0 if op == '+' else 1, d)};"]
            step = [f"            acc = acc {op} {v};",
                    f"            {dst}[p] = {C.store(d, 'acc')};"]
    body = [f"    const long long rows = {rows}LL, n = {n}LL, inner = {inner}LL;",
            "    for (long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x; r < rows; "
            "r += (long long)blockDim.x * gridDim.x) {",
            "        const long long base = (r / inner) * n * inner + r % inner;",
            *init,
            "        for (long long t = 0; t < n; ++t) {",
            f"            const long long p = base + ({pos}) * inner;",
            *step,
            "        }",
            "    }"]
    _finish(gen, ctx, ctx.fname(k), params, body, (_grid(rows), 1, 1), (BLOCK, 1, 1), name, BLOCK)
    return gen


def argsort(k: Kernel, ctx: Context) -> Generated:
    """A stable argsort by ranks: one thread per element counts the elements of its row that sort
    before it (smaller, or equal and earlier; NaN is the largest) and writes its index there."""
    if len(k.nodes) != 1:
        raise Unsupported("argsort runs as a kernel of its own")
    (node,) = k.nodes
    (x,) = node.inputs
    rows, n, inner = _rows(x, node.attrs["axis"])
    gen = Generated()
    total = rows * n
    if total == 0:
        return gen
    params = Params()
    src, dst = params.read(x), params.write(node)
    d = x.dtype
    ct = C.compute(d)

    def before(a: str, b: str) -> str:  # a sorts strictly before b
        if node.attrs["descending"]:
            return f"({a} > {b} || ({_is_nan(d, a)} && !{_is_nan(d, b)}))"
        return f"({a} < {b} || ({_is_nan(d, b)} && !{_is_nan(d, a)}))"

    body = [f"    const long long total = {total}LL, n = {n}LL, inner = {inner}LL;",
            "    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < total; "
            "e += (long long)blockDim.x * gridDim.x) {",
            "        const long long r = e / n, a = e % n;",
            "        const long long base = (r / inner) * n * inner + r % inner;",
            f"        const {ct} va = {C.load(d, f'{src}[base + a * inner]')};",
            "        long long rank = 0;",
            "        for (long long b = 0; b < n; ++b) {",
            f"            const {ct} vb = {C.load(d, f'{src}[base + b * inner]')};",
            f"            if ({before('vb', 'va')} || (b < a && !{before('va', 'vb')})) ++rank;",
            "        }",
            f"        {dst}[base + rank * inner] = a;",
            "    }"]
    _finish(gen, ctx, ctx.fname(k), params, body, (_grid(total), 1, 1), (BLOCK, 1, 1), "argsort", BLOCK)
    return gen


# ops with a kernel generator of their own (each runs alone)
OWN_KERNELS = {"cumsum": scan, "cumprod": scan, "cumarg": scan, "argsort": argsort}
