"""Module emission: one function per unit, an OpenMP driver for the parallel ones, and ONE entry
point `gf_main(ptr buffers, ptr callback) -> i32` that runs every unit in order (0: success;
otherwise (unit + 1) << 8 | error code)."""

from __future__ import annotations

import re
from collections.abc import Callable

import llvmlite.ir as ir

from graphflow.backends.llvm import gemm, jit, pool, schedule
from graphflow.backends.llvm.emit import (
    F32,
    F64,
    FP_FLAGS,
    I32,
    I64,
    PTR,
    compute_type,
    const,
    fcall,
    is_float,
    load_value,
    storage_type,
    store_value,
)
from graphflow.backends.llvm.evaluator import Evaluator
from graphflow.backends.llvm.indexing import Aff, Index, Var
from graphflow.backends.llvm.lowering import ARG_REDUCTIONS, ERR_INDEX, TABLE, Ctx, arg_reduction, reduction
from graphflow.backends.llvm.plan import (
    CALLBACK,
    EW,
    MATMUL,
    PARALLEL_MIN_ELEMENTS,
    REDUCE,
    SCAN,
    SCATTER,
    Plan,
    Unit,
    _is_transpose,
    is_ancestor,
    numel,
    reduced_axes,
)
from graphflow.ir.graph import Node

ENTRY = "gf_main"
UNIT_ENTRY = "gf_unit_"
CALLBACK_ERROR = 255
GRAIN_ELEMENTS = 1 << 15  # elements per chunk a thread claims at a time in a parallel kernel
BLAS_PARALLEL_MACS = 1 << 20  # smaller products: one BLAS call on the calling thread
BLAS_OWN_THREADS_MACS = 1 << 40  # larger products: one call on OpenBLAS's own threads (measured
# slower than the pool's tiles, which keep working when a core is taken by another process)
BLAS_BIG_MACS = 1 << 26
TILES_PER_THREAD = 1  # tiles per pool thread for mid-sized products (more cost packing than they balance)
TILE_MIN = 16
HOT_PARALLEL_UNITS = 2  # graphs with this many pool-run units keep the workers watching while they run
VOID = ir.VoidType()


INTERLEAVE = 4  # vector iterations in flight in a hot inner loop (its chains are long: exp, tanh)
INTERLEAVE_MIN_ELEMENTS = 1 << 18
ROW_INTERLEAVE_MIN = 256  # reduced rows at least this long are interleaved (shorter: remainder loops dominate)
SCALAR_TRIPS = 16  # loops with fewer (constant) iterations are not vectorised: saves compile time
_HINT = "gf.loop."
_HINTS = {
    "interleave": lambda n: f'!{{!"llvm.loop.interleave.count", i32 {n}}}',
    "scalar": lambda n: '!{!"llvm.loop.vectorize.width", i32 1}, !{!"llvm.loop.interleave.count", i32 1}',
}


def with_loop_hints(text: str) -> str:
    """Turn the placeholder metadata `for_range` leaves into LLVM loop IDs (self-referential
    distinct nodes, which llvmlite.ir cannot build)."""
    return re.sub(r'^(![0-9]+) = !\{ *!"' + re.escape(_HINT) + r'([a-z]+)\.([0-9]+)\.[0-9]+" *\}$',
                  lambda m: f'{m[1]} = distinct !{{{m[1]}, {_HINTS[m[2]](m[3])}}}', text, flags=re.M)


def for_range(b: ir.IRBuilder, lo: ir.Value, hi: ir.Value, body: Callable, init: ir.Value | None = None,
              interleave: int = 0):
    """Emit `for i in [lo, hi)`; body(i, acc) returns the next acc (when `init` is given).
    Returns the final acc (or None). `interleave` > 1 asks the vectoriser for that many vector
    iterations in flight (independent dependency chains hide latency); a loop with a few constant
    iterations is left scalar (vectorising it costs compile time and gains nothing)."""
    fn = b.function
    entry = b.block
    body_bb = fn.append_basic_block("loop")
    exit_bb = fn.append_basic_block("after")
    b.cbranch(b.icmp_signed("<", lo, hi), body_bb, exit_bb)
    b.position_at_end(body_bb)
    i = b.phi(I64)
    i.add_incoming(lo, entry)
    acc = None
    if init is not None:
        acc = b.phi(init.type)
        acc.add_incoming(init, entry)
    new = body(i, acc)
    latch = b.block
    nxt = b.add(i, const(I64, 1))
    i.add_incoming(nxt, latch)
    if acc is not None:
        acc.add_incoming(new, latch)
    latch_br = b.cbranch(b.icmp_signed("<", nxt, hi), body_bb, exit_bb)
    hint = None
    if interleave > 1:
        hint = f"interleave.{interleave}"
    elif isinstance(lo, ir.Constant) and isinstance(hi, ir.Constant) and hi.constant - lo.constant < SCALAR_TRIPS:
        hint = "scalar.1"
    if hint:
        tag = f"{_HINT}{hint}.{len(b.module.metadata)}"
        latch_br.set_metadata("llvm.loop", b.module.add_metadata([ir.MetaDataString(b.module, tag)]))
    b.position_at_end(exit_bb)
    if init is None:
        return None
    out = b.phi(init.type)
    out.add_incoming(init, entry)
    out.add_incoming(new, latch)
    return out


class ModuleBuilder:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.module = ir.Module(name="graphflow")
        self.module.triple = jit.triple()
        self.sources: list[str] = []
        self._tiled: set[str] = set()  # BLAS units split into tiles for the thread pool
        self._untiled: set[str] = set()  # BLAS units run whole beside other units (schedule.py)

    # -- per unit ------------------------------------------------------------------------------
    def _params(self, unit: Unit) -> list[Node]:
        nodes = [n for n in unit.reads() if n.id not in self.plan.scalars] + list(unit.outputs)
        return list({n.id: n for n in nodes}.values())

    def emit_unit(self, k: int, unit: Unit) -> tuple[ir.Function, int, bool]:
        """Returns (loader function(lo, hi, bufs, err), parallel trip count, may_raise)."""
        params = self._params(unit)
        body = ir.Function(self.module, ir.FunctionType(VOID, [I64, I64] + [PTR] * len(params) + [PTR]),
                           f"{unit.name}_body")
        body.linkage = "internal"
        # units stay separate functions: inlining them all into gf_main made one huge function
        # whose optimisation cost a third of a cold compile, for no speed at run time
        body.attributes.add("noinline")
        for p in body.args[2:-1]:
            p.add_attribute("noalias")
        lo, hi = body.args[0], body.args[1]
        err = body.args[-1]
        b = ir.IRBuilder(body.append_basic_block("entry"))
        ptrs = {n.id: a for n, a in zip(params, body.args[2:-1])}
        raised = []

        def raise_if(bb: ir.IRBuilder, cond: ir.Value, code: int) -> None:
            raised.append(code)
            with bb.if_then(cond, likely=False):
                bb.store(const(I32, code), err)

        out_ids = {o.id for o in unit.outputs}
        reads = {n.id: a for n, a in zip(params, body.args[2:-1]) if n.id not in out_ids or n in unit.reads()}
        ev = Evaluator(b, reads, self.plan.scalars, raise_if)
        total = {EW: self._ew, REDUCE: self._reduce, MATMUL: self._matmul,
                 SCATTER: self._scatter, SCAN: self._scan}[unit.kind](b, ev, unit, lo, hi, ptrs)
        b.ret_void()

        loader = ir.Function(self.module, ir.FunctionType(VOID, [I64, I64, PTR, PTR]), unit.name)
        loader.linkage = "internal"
        loader.attributes.add("noinline")
        lb = ir.IRBuilder(loader.append_basic_block("entry"))
        bufs = loader.args[2]
        args = []
        for n in params:
            slot = lb.gep(bufs, [const(I64, self.plan.buffer_of[n.id])], source_etype=PTR)
            args.append(lb.load(slot, typ=PTR))
        lb.call(body, [loader.args[0], loader.args[1]] + args + [loader.args[3]])
        lb.ret_void()
        return loader, total, bool(raised)

    def _store(self, b, ptrs, node: Node, lin: Aff, v: ir.Value) -> None:
        ptr = b.gep(ptrs[node.id], [lin.emit(b)], source_etype=storage_type(node.dtype))
        store_value(b, v, ptr, node.dtype)

    def _ew(self, b, ev: Evaluator, unit: Unit, lo, hi, ptrs) -> int:
        shape = unit.outputs[0].shape
        size = numel(shape)
        cat = _concat_output(unit)
        if cat is not None:
            return self._ew_concat(b, ev, unit.outputs[0], cat, lo, hi, ptrs)
        if unit.flat or len(shape) <= 1:
            def body(i, acc):
                ev.push()
                lin = Aff.var(Var(i, size))
                for o in unit.outputs:
                    idx = Index(o.shape, lin=lin) if len(shape) != 1 or o.shape != shape else Index(
                        shape, dims=(lin,), lin=lin)
                    self._store(b, ptrs, o, lin, ev.value(o, idx))
                ev.pop()
            for_range(b, lo, hi, body, interleave=_hint(size))
            return size

        def nest(level: int, dims: list[Aff]) -> None:
            if level == len(shape):
                ev.push()
                full = Index(shape, dims=dims)
                for o in unit.outputs:
                    idx = full if o.shape == shape else Index(o.shape, lin=full.lin())
                    self._store(b, ptrs, o, full.lin(), ev.value(o, idx))
                ev.pop()
                return
            start, stop = (lo, hi) if level == 0 else (const(I64, 0), const(I64, shape[level]))
            for_range(b, start, stop, lambda i, acc: nest(level + 1, dims + [Aff.var(Var(i, shape[level]))]),
                      interleave=_hint(size) if level == len(shape) - 1 else 0)

        nest(0, [])
        return shape[0]

    def _ew_concat(self, b, ev: Evaluator, out: Node, cat: Node, lo, hi, ptrs) -> int:
        """A unit whose one output is a concat (through reshapes, which keep linear order): one
        loop nest per input over that input's own shape, so each element is computed from the
        one input it comes from (the generic nest computes every input and selects; im2col's
        nine taps cost nine loads and a compare chain per element that way)."""
        axis = cat.attrs["axis"]
        size = numel(cat.shape)

        def piece(x: Node, offset: int, n0: Aff) -> None:
            shape = x.shape

            def nest(level: int, dims: list[Aff]) -> None:
                if level == len(shape):
                    ev.push()
                    at = list(dims)
                    at[axis] = at[axis] + offset
                    self._store(b, ptrs, out, Index(cat.shape, dims=at).lin(),
                                ev.value(x, Index(shape, dims=dims)))
                    ev.pop()
                    return
                for_range(b, const(I64, 0), const(I64, shape[level]),
                          lambda i, acc: nest(level + 1, dims + [Aff.var(Var(i, shape[level]))]),
                          interleave=_hint(size) if level == len(shape) - 1 else 0)
            nest(1, [n0])

        def outer(i, acc):
            ev.push()
            n0 = Aff.var(Var(i, cat.shape[0]))
            offset = 0
            for x in cat.inputs:
                if numel(x.shape):
                    piece(x, offset, n0)
                offset += x.shape[axis]
            ev.pop()
        for_range(b, lo, hi, outer)
        return cat.shape[0]

    def _reduce(self, b, ev: Evaluator, unit: Unit, lo, hi, ptrs) -> int:
        red0 = unit.reds[0]
        shape = red0.inputs[0].shape
        axes = reduced_axes(red0)
        kept = [p for p in range(len(shape)) if p not in axes]
        kept_size = numel([shape[p] for p in kept])
        full_size = numel(shape)
        if _column_shaped(unit, axes, kept, kept_size):
            return self._reduce_columns(b, ev, unit, lo, hi, ptrs, numel([shape[p] for p in axes]), kept_size)

        def inner(level: int, dims: dict, leaf: Callable, acc):
            if level == len(axes):
                return leaf(dims, acc)
            p = axes[level]

            def step(i, a):
                ev.push()
                out = inner(level + 1, {**dims, p: Aff.var(Var(i, shape[p]))}, leaf, a)
                ev.pop()
                return out
            # a long row's loop keeps several vectors in flight (exp's chain is long)
            hint = _hint(full_size) if level == len(axes) - 1 and shape[p] >= ROW_INTERLEAVE_MIN else 0
            return for_range(b, const(I64, 0), const(I64, shape[p]), step, acc, interleave=hint)

        full_outs = [o for o in unit.outputs
                     if not (numel(o.shape) == kept_size and (o.op.category == "reduce" or kept_size != full_size))]
        stash = _stashes(unit, full_outs, ev)

        recips = _row_divisions(unit, shape, axes)

        def row(dims: dict) -> None:
            ev.push()
            totals = {}
            for r in unit.reds:
                if r.op.name in ARG_REDUCTIONS:  # {best value, its index within the reduced axes}
                    _, ident, step = arg_reduction(r.op.name, r.inputs[0].dtype)
                    strides = {p: numel([shape[q] for q in axes[k + 1:]]) for k, p in enumerate(axes)}

                    def leaf(d, acc, r=r, step=step, strides=strides):
                        v = ev.value(r.inputs[0], Index(shape, dims=[d[p] for p in range(len(shape))]))
                        pos = Aff()
                        for p, st in strides.items():
                            pos = pos + d[p].scale(st)
                        return step(b, acc, v, pos.emit(b))
                    total = b.extract_value(inner(0, dims, leaf, ident), 1)
                else:
                    acc_t, ident, combine = reduction(r.op.name, r.dtype)

                    def leaf(d, acc, r=r, combine=combine):
                        full = Index(shape, dims=[d[p] for p in range(len(shape))])
                        v = ev.value(r.inputs[0], full)
                        if r.id in stash:  # keep the value for the output pass (read back from cache)
                            self._store(b, ptrs, stash[r.id], full.lin(), v)
                        return combine(b, acc, v)
                    total = inner(0, dims, leaf, ident)
                totals[r.id] = total
                if r.attrs["keepdims"]:
                    rdims = [dims[p] if p in dims else Aff() for p in range(len(shape))]
                else:
                    rdims = [dims[p] for p in kept]
                ev.remember(r, Index(r.shape, dims=rdims), total)
            kept_index = Index([shape[p] for p in kept], dims=[dims[p] for p in kept])
            for o in unit.outputs:
                if o not in full_outs:
                    lin = kept_index.lin()
                    self._store(b, ptrs, o, lin, ev.value(o, Index(o.shape, lin=lin)))
            if full_outs:
                def leaf(d, acc):
                    full = Index(shape, dims=[d[p] for p in range(len(shape))])
                    for r in unit.reds:
                        if r.id in stash:
                            o = stash[r.id]
                            ptr = b.gep(ptrs[o.id], [full.lin().emit(b)], source_etype=storage_type(o.dtype))
                            ev.remember(r.inputs[0], full, b.load(ptr, typ=storage_type(o.dtype)))
                    for o in full_outs:
                        idx = full if o.shape == shape else Index(o.shape, lin=full.lin())
                        self._store(b, ptrs, o, full.lin(), ev.value(o, idx))
                    return None
                if not recips:
                    inner(0, dims, lambda d, acc: leaf(d, acc), None)
                else:
                    self._divide_by_reciprocal(b, ev, recips, totals, lambda: inner(0, dims, leaf, None))
            ev.pop()

        def outer(level: int, dims: dict) -> None:
            if level == len(kept):
                row(dims)
                return
            p = kept[level]
            start, stop = (lo, hi) if level == 0 else (const(I64, 0), const(I64, shape[p]))

            def step(i, acc):
                ev.push()
                outer(level + 1, {**dims, p: Aff.var(Var(i, shape[p]))})
                ev.pop()
            for_range(b, start, stop, step)

        if not kept:
            with b.if_then(b.icmp_signed("<", lo, hi)):
                row({})
            return 1
        outer(0, {})
        return shape[kept[0]]

    def _divide_by_reciprocal(self, b, ev: Evaluator, recips: dict, totals: dict, output_pass: Callable) -> None:
        """Divisions by a row's reduction (softmax's sum) multiply by its reciprocal, computed once
        per row, when that reciprocal is a normal number (the divisor's magnitude within
        [2^-125, 2^125] for float32); the pass runs with true divisions otherwise, so zeros,
        infinities, NaN and subnormals behave exactly as IEEE division. The product is within an
        ulp or so of the quotient; a vector division costs ~20x a multiplication."""
        ok, rcp = None, {}
        for div, red in recips.items():
            s = totals[red.id]
            lim = 2.0 ** (125 if s.type == F32 else 1021)
            mag = fcall(b, "fabs", s)
            good = b.and_(b.fcmp_ordered(">=", mag, const(s.type, 1 / lim)), b.fcmp_ordered("<=", mag, const(s.type, lim)))
            ok = good if ok is None else b.and_(ok, good)
            rcp[div.id] = b.fdiv(const(s.type, 1.0), s, flags=FP_FLAGS)
        with b.if_else(ok, likely=True) as (fast, slow):
            with fast:
                ev.push()
                ev.overrides = {k: (lambda bb, xs, r=r: bb.fmul(xs[0], r, flags=FP_FLAGS)) for k, r in rcp.items()}
                try:
                    output_pass()
                finally:
                    ev.overrides = {}
                    ev.pop()
            with slow:
                ev.push()
                output_pass()
                ev.pop()

    def _reduce_columns(self, b, ev: Evaluator, unit: Unit, lo, hi, ptrs, R: int, K: int) -> int:
        """A reduction over leading axes: for each reduced row r, accumulate x[r, k] into a
        per-column accumulator (vectorised over the contiguous kept columns k), then run the
        epilogue per column. Threads split the columns."""
        red = unit.reds[0]
        shape = red.inputs[0].shape
        acc_t, ident, combine = reduction(red.op.name, red.dtype)
        acc = b.alloca(acc_t, size=const(I64, K))

        def init(k, _):
            b.store(ident, b.gep(acc, [k], source_etype=acc_t))
        for_range(b, lo, hi, init)

        def over_rows(r, _):
            rv = Var(r, R)

            def lane(k, _):
                ev.push()
                lin = Aff.var(rv).scale(K) + Aff.var(Var(k, K))
                slot = b.gep(acc, [k], source_etype=acc_t)
                b.store(combine(b, b.load(slot, typ=acc_t), ev.value(red.inputs[0], Index(shape, lin=lin))), slot)
                ev.pop()
            for_range(b, lo, hi, lane)
        for_range(b, const(I64, 0), const(I64, R), over_rows)

        def finish(k, _):
            ev.push()
            lin = Aff.var(Var(k, K))
            ev.remember(red, Index(red.shape, lin=lin), b.load(b.gep(acc, [k], source_etype=acc_t), typ=acc_t))
            for o in unit.outputs:
                self._store(b, ptrs, o, lin, ev.value(o, Index(o.shape, lin=lin)))
            ev.pop()
        for_range(b, lo, hi, finish)
        return K

    def _scatter(self, b, ev: Evaluator, unit: Unit, lo, hi, ptrs) -> int:
        """out = x, then out[.., index[i], ..] += src[i] in order (repeated indices accumulate);
        serial, as the order of the additions is part of the result."""
        n = unit.nodes[0]
        x, index, src = n.inputs
        st = storage_type(n.dtype)
        size = numel(x.shape)
        out = ptrs[n.id]
        with b.if_then(b.icmp_signed("<", lo, hi)):
            def copy(i, _):
                ev.push()
                lin = Aff.var(Var(i, size))
                self._store(b, ptrs, n, lin, ev.value(x, Index(x.shape, lin=lin)))
                ev.pop()
            for_range(b, const(I64, 0), const(I64, size), copy)
            axis = n.attrs["axis"]
            shape = index.shape
            strides = [1] * len(x.shape)
            for k in range(len(x.shape) - 2, -1, -1):
                strides[k] = strides[k + 1] * x.shape[k + 1]

            def nest(level: int, dims: list) -> None:
                if level == len(shape):
                    ev.push()
                    idx = Index(shape, dims=dims)
                    if x.shape:
                        raw = ev.value(index, idx)
                        iv = raw if raw.type.width == 64 else (
                            b.sext(raw, I64) if index.dtype.kind == "i" else b.zext(raw, I64))
                        dim = x.shape[axis]
                        iv = b.select(b.icmp_signed("<", iv, const(I64, 0)), b.add(iv, const(I64, dim)), iv)
                        bad = b.or_(b.icmp_signed("<", iv, const(I64, 0)), b.icmp_signed(">=", iv, const(I64, dim)))
                        ev.raise_if(b, bad, ERR_INDEX)
                        iv = b.select(bad, const(I64, 0), iv)
                        target = [d.emit(b) if k != axis else iv for k, d in enumerate(dims)]
                        off = const(I64, 0)
                        for t, s_ in zip(target, strides):
                            off = b.add(off, b.mul(t, const(I64, s_)))
                    else:
                        off = const(I64, 0)
                    slot = b.gep(out, [off], source_etype=st)
                    add = TABLE[("add", n.dtype.kind if n.dtype.kind != "b" else "i")] if n.dtype.kind != "b" else None
                    cur = load_value(b, slot, n.dtype)
                    v = ev.value(src, idx)
                    new = b.or_(cur, v) if add is None else add(b, [cur, v], Ctx((n.dtype,) * 2, n.dtype, n.attrs))
                    store_value(b, new, slot, n.dtype)
                    ev.pop()
                    return
                for_range(b, const(I64, 0), const(I64, shape[level]),
                          lambda i, _: nest(level + 1, dims + [Aff.var(Var(i, shape[level]))]))
            nest(0, [])
        return 1

    def _scan(self, b, ev: Evaluator, unit: Unit, lo, hi, ptrs) -> int:
        """cumsum / cumprod: rows [lo, hi) along the axis, each walked in order with one running
        value in the compute type (the half types in float32, rounded once per output; integers
        wrap in their width), so the result is the reference's, bit for bit."""
        n = unit.nodes[0]
        (x,) = n.inputs
        shape = tuple(x.shape)
        axis = n.attrs["axis"]
        length, inner = shape[axis], numel(shape[axis + 1:])
        rows = numel(shape[:axis]) * inner
        if rows * length == 0:
            return 0
        reverse = n.attrs.get("reverse", False)
        ct = compute_type(n.dtype)
        floats = is_float(ct)
        combine = (b.fadd if floats else b.add) if n.op.name == "cumsum" else (b.fmul if floats else b.mul)
        start = ir.Constant(ct, 0.0 if n.op.name == "cumsum" else 1.0) if floats else \
            const(ct, 0 if n.op.name == "cumsum" else 1)

        def row(r, _):
            base = b.add(b.mul(b.udiv(r, const(I64, inner)), const(I64, length * inner)), b.urem(r, const(I64, inner)))

            def step(j, acc):
                ev.push()
                pos = b.sub(const(I64, length - 1), j) if reverse else j
                lin = Aff.var(Var(b.add(base, b.mul(pos, const(I64, inner))), numel(shape)))
                new = combine(acc, ev.value(x, Index(shape, lin=lin)))
                self._store(b, ptrs, n, lin, new)
                ev.pop()
                return new
            for_range(b, const(I64, 0), const(I64, length), step, init=start)
        for_range(b, lo, hi, row)
        return rows

    def _matmul(self, b, ev: Evaluator, unit: Unit, lo, hi, ptrs) -> int:
        m = unit.matmul
        a, bb = m.inputs
        batch_shape = m.shape[:-2]
        M, N = m.shape[-2], m.shape[-1]
        K = a.shape[-1]
        nb = numel(batch_shape)
        d = m.dtype
        blas = d.name in ("float32", "float64")  # OpenBLAS's GEMM or graphflow's own (gemm.py)
        if unit.alias is not None:  # the product lives in an output's buffer until the epilogue
            ptrs[m.id] = ptrs[unit.alias.id]
        out = ptrs[m.id]
        if unit.epilogue:
            ev.ptrs[m.id] = out  # the epilogue loads the product back from the tile just written
        if M * N == 0:
            return 1
        if blas and K > 0:
            ta, pa = (True, a.inputs[0]) if _is_transpose(a) and a.id not in ptrs else (False, a)
            tb, pb = (True, bb.inputs[0]) if _is_transpose(bb) and bb.id not in ptrs else (False, bb)
            ft = F32 if d.name == "float32" else F64
            lda = M if ta else K
            ldb = K if tb else N
            macs = nb * M * N * K
            # the pool runs tiles of C (whole products, or blocks of the longer of M and N), each a
            # single-threaded BLAS call; OpenBLAS's own threads only for very large products
            split_m = M >= N
            dim = M if split_m else N
            own_threads = macs >= BLAS_OWN_THREADS_MACS
            per_thread = TILES_PER_THREAD if macs < BLAS_BIG_MACS else 2  # big tiles pack less
            tiles_wanted = 1 if (macs < BLAS_PARALLEL_MACS or own_threads or unit.name in self._untiled) else (
                per_thread * pool.threads())
            per = _ceil(tiles_wanted, nb)  # tiles per product
            size = max(TILE_MIN, _ceil(_ceil(dim, per), TILE_MIN) * TILE_MIN)
            per = _ceil(dim, size)
            total = nb * per

            def tile(t, acc):
                i = b.sdiv(t, const(I64, per))
                j = b.srem(t, const(I64, per))
                start = b.mul(j, const(I64, size))
                extent = b.sub(const(I64, dim), start)
                extent = b.select(b.icmp_signed("<", extent, const(I64, size)), extent, const(I64, size))
                off_a = b.mul(i, const(I64, M * K))
                off_b = b.mul(i, const(I64, K * N))
                off_c = b.mul(i, const(I64, M * N))
                if split_m:  # rows of A (columns when A is transposed) and of C
                    off_a = b.add(off_a, start if ta else b.mul(start, const(I64, K)))
                    off_c = b.add(off_c, b.mul(start, const(I64, N)))
                    rows, cols = extent, const(I64, N)
                else:  # columns of B (rows when B is transposed) and of C
                    off_b = b.add(off_b, b.mul(start, const(I64, K)) if tb else start)
                    off_c = b.add(off_c, start)
                    rows, cols = const(I64, M), extent
                # graphflow's packed GEMM where it measured faster than OpenBLAS (gemm.py)
                gemm.call(b, d.name, macs // total, [
                            const(I32, 101), const(I32, 112 if ta else 111), const(I32, 112 if tb else 111),
                            rows, cols, const(I64, K), const(ft, 1.0),
                            b.gep(ptrs[pa.id], [off_a], source_etype=ft), const(I64, max(lda, 1)),
                            b.gep(ptrs[pb.id], [off_b], source_etype=ft), const(I64, max(ldb, 1)),
                            const(ft, 0.0), b.gep(out, [off_c], source_etype=ft), const(I64, max(N, 1))])
                if unit.epilogue:
                    end = b.add(start, extent)
                    rows_, cols_ = ((start, end), (const(I64, 0), const(I64, N))) if split_m else (
                        (const(I64, 0), const(I64, M)), (start, end))
                    self._epilogue(b, ev, unit, ptrs, i, rows_, cols_)
            pin = not own_threads and jit.blas_library() is not None
            if pin:  # OpenBLAS's thread hand-off costs more than these products
                setn = self.module.globals.get("openblas_set_num_threads_local") or ir.Function(
                    self.module, ir.FunctionType(I32, [I32]), "openblas_set_num_threads_local")
                prev = b.call(setn, [const(I32, 1)])
            for_range(b, lo, hi, tile)
            if pin:
                b.call(setn, [prev])
            if total > 1:
                self._tiled.add(unit.name)
            return total
        # any dtype: out[.., i, j] = sum_k a[.., i, k] * b[.., k, j], operands through the evaluator
        acc_t, ident, combine = reduction("reduce_sum", d)
        mul = TABLE[("mul", d.kind if d.kind != "b" else "i")]
        cx = Ctx((d, d), d, m.attrs)
        nd = len(m.shape)

        def loops(level: int, dims: list[Aff]) -> None:
            if level == nd:
                ev.push()

                def leaf(k, acc):
                    ev.push()
                    kv = Aff.var(Var(k, K))
                    x = ev.value(a, Index(a.shape, dims=dims[:-1] + [kv]))
                    y = ev.value(bb, Index(bb.shape, dims=dims[:-2] + [kv, dims[-1]]))
                    ev.pop()
                    return combine(b, acc, mul(b, [x, y], cx))
                total = for_range(b, const(I64, 0), const(I64, K), leaf, ident)
                idx = Index(m.shape, dims=dims)
                if unit.alias is None:
                    self._store(b, ptrs, m, idx.lin(), total)
                if unit.epilogue:
                    ev.remember(m, idx, total)
                    self._epilogue_at(b, ev, unit, ptrs, idx)
                ev.pop()
                return
            start, stop = (lo, hi) if level == 0 else (const(I64, 0), const(I64, m.shape[level]))
            for_range(b, start, stop, lambda i, acc: loops(level + 1, dims + [Aff.var(Var(i, m.shape[level]))]))

        loops(0, [])
        return m.shape[0]

    def _epilogue(self, b, ev: Evaluator, unit: Unit, ptrs, prod: ir.Value, rows: tuple, cols: tuple) -> None:
        """The unit's epilogue over one tile of product `prod`: rows x cols of its output."""
        m = unit.matmul
        M, N = m.shape[-2], m.shape[-1]
        batch = m.shape[:-2]
        ev.push()
        lead = list(Index(batch, lin=Aff.var(Var(prod, numel(batch)))).dims(b)) if batch else []

        def row(r, _):
            ev.push()
            rv = Aff.var(Var(r, M))

            def col(c, _):
                ev.push()
                self._epilogue_at(b, ev, unit, ptrs, Index(m.shape, dims=lead + [rv, Aff.var(Var(c, N))]))
                ev.pop()
            for_range(b, cols[0], cols[1], col)
            ev.pop()
        for_range(b, rows[0], rows[1], row)
        ev.pop()

    def _epilogue_at(self, b, ev: Evaluator, unit: Unit, ptrs, idx: Index) -> None:
        """Every epilogue output at the product's element `idx`: all values first, then the
        stores (one output may share the product's buffer)."""
        m = unit.matmul
        lin = idx.lin()
        values = [(o, ev.value(o, idx if o.shape == m.shape else Index(o.shape, lin=lin)))
                  for o in unit.outputs if o is not m]
        for o, v in values:
            self._store(b, ptrs, o, lin, v)

    # -- the module ----------------------------------------------------------------------------
    def build(self, per_unit: bool = False) -> str:
        """The module text. `per_unit` also exports `gf_unit_<k>(bufs, callback) -> i32` running
        unit k alone exactly as `gf_main` runs it (for per-unit timing; see `profile.py`)."""
        mod = self.module
        entry_type = ir.FunctionType(I32, [PTR, PTR])
        body = ir.Function(mod, entry_type, f"{ENTRY}_units")
        body.linkage = "internal"
        b = ir.IRBuilder(body.append_basic_block("entry"))
        state = self._frame(b, body)
        units = self.plan.units
        order = schedule.steps(self.plan)
        # units run side by side run whole: one core each, no tiles
        self._untiled = {units[k].name for step in order if len(step) > 1 for k in step}
        emitted = [None if u.kind == CALLBACK else self.emit_unit(k, u) for k, u in enumerate(units)]
        parallel = 0
        for step in order:
            if len(step) > 1 and not any(emitted[k][2] for k in step):  # (a raising unit runs alone)
                self._side_by_side(b, state, [emitted[k] for k in step])
                parallel += 1
                continue
            for k in step:
                parallel += self._dispatch(b, state, k, units[k], emitted[k])
        if per_unit:
            for k, unit in enumerate(units):
                fn = ir.Function(mod, entry_type, f"{UNIT_ENTRY}{k}")
                ub = ir.IRBuilder(fn.append_basic_block("entry"))
                self._dispatch(ub, self._frame(ub, fn), k, unit, emitted[k])
                ub.ret(const(I32, 0))
        b.ret(const(I32, 0))
        main = ir.Function(mod, entry_type, ENTRY)
        mb = ir.IRBuilder(main.append_basic_block("entry"))
        hot = parallel >= HOT_PARALLEL_UNITS  # keep the pool's workers watching between them
        if hot:
            mb.call(self._pool_fn(pool.ENTER), [])
        status = mb.call(body, list(main.args))
        if hot:
            mb.call(self._pool_fn(pool.LEAVE), [])
        mb.ret(status)
        return with_loop_hints(str(mod))

    def _pool_fn(self, name: str) -> ir.Function:
        return self.module.globals.get(name) or ir.Function(self.module, ir.FunctionType(VOID, []), name)

    @staticmethod
    def _frame(b: ir.IRBuilder, fn: ir.Function) -> tuple:
        """(buffer table, callback, error slot, task data) of an entry function."""
        bufs, cb = fn.args
        err = b.bitcast(b.alloca(I32), PTR)
        data = b.alloca(PTR, size=const(I32, 2))
        b.store(const(I32, 0), err)
        return bufs, cb, err, data

    def _dispatch(self, b: ir.IRBuilder, state: tuple, k: int, unit: Unit, emitted) -> bool:
        """Run unit k (its callback, or its loader on this thread or the pool); return its
        status from the enclosing function when it fails. True when it runs on the pool."""
        bufs, cb, err, data = state
        if unit.kind == CALLBACK:
            status = b.call(_FnPtr(cb, ir.FunctionType(I32, [I32])), [const(I32, k)])
            with b.if_then(b.icmp_signed("!=", status, const(I32, 0)), likely=False):
                b.ret(const(I32, ((k + 1) << 8) | CALLBACK_ERROR))
            return False
        loader, total, may_raise = emitted
        work = max((numel(o.shape) for o in unit.outputs), default=0)
        if unit.kind == REDUCE:
            work = max(work, numel(unit.reds[0].inputs[0].shape))
        pooled = True
        if unit.name in self._tiled:
            self._parallel(b, loader, bufs, err, data, total, 1)
        elif unit.kind != MATMUL and total >= 2 and work >= PARALLEL_MIN_ELEMENTS:
            self._parallel(b, loader, bufs, err, data, total, max(1, -(-GRAIN_ELEMENTS * total // work)))
        else:
            b.call(loader, [const(I64, 0), const(I64, total), bufs, err])
            pooled = False
        if may_raise:
            code = b.load(err, typ=I32)
            with b.if_then(b.icmp_signed("!=", code, const(I32, 0)), likely=False):
                b.ret(b.or_(code, const(I32, (k + 1) << 8)))
        return pooled

    def _side_by_side(self, b: ir.IRBuilder, state: tuple, emitted: list) -> None:
        """Independent units as one pool job: item i runs unit i whole."""
        bufs, cb, err, data = state
        fn, fb, fbufs, ferr = self._task(f"{emitted[0][0].name}_with_{len(emitted) - 1}")

        def item(i, _):
            done = fn.append_basic_block("next")
            sw = fb.switch(i, done)
            for j, (loader, total, _raises) in enumerate(emitted):
                case = fn.append_basic_block(f"item{j}")
                sw.add_case(const(I64, j), case)
                fb.position_at_end(case)
                fb.call(loader, [const(I64, 0), const(I64, total), fbufs, ferr])
                fb.branch(done)
            fb.position_at_end(done)
        for_range(fb, fn.args[0], fn.args[1], item)
        fb.ret_void()
        self._run_on_pool(b, fn, bufs, err, data, len(emitted), 1)

    def _parallel(self, b, loader, bufs, err, data, total: int, grain: int) -> None:
        """Run the unit over [0, total) on the thread pool (`pool.py`), `grain` iterations per
        chunk: a task(lo, hi, data) trampoline loads the buffer table and error slot."""
        fn = self.module.globals.get(f"{loader.name}_task")
        if fn is None:
            fn, fb, fbufs, ferr = self._task(f"{loader.name}_task")
            fb.call(loader, [fn.args[0], fn.args[1], fbufs, ferr])
            fb.ret_void()
        self._run_on_pool(b, fn, bufs, err, data, total, grain)

    def _task(self, name: str) -> tuple[ir.Function, ir.IRBuilder, ir.Value, ir.Value]:
        """A pool task(lo, hi, data) with its builder, and the buffer table and error slot it
        loads from data[0] and data[1]."""
        fn = ir.Function(self.module, pool.TASK, name)
        fn.linkage = "internal"
        fb = ir.IRBuilder(fn.append_basic_block("entry"))
        p = fn.args[2]
        fbufs = fb.load(fb.gep(p, [const(I64, 0)], source_etype=PTR), typ=PTR)
        ferr = fb.load(fb.gep(p, [const(I64, 1)], source_etype=PTR), typ=PTR)
        return fn, fb, fbufs, ferr

    def _run_on_pool(self, b, task: ir.Function, bufs, err, data, total: int, grain: int) -> None:
        """gf_parallel(task, data = [buffer table, error slot], total, grain)."""
        mod = self.module
        par = mod.globals.get(pool.SYMBOL) or ir.Function(mod, ir.FunctionType(VOID, [PTR, PTR, I64, I64]),
                                                          pool.SYMBOL)
        b.store(bufs, b.gep(data, [const(I64, 0)], source_etype=PTR))
        b.store(err, b.gep(data, [const(I64, 1)], source_etype=PTR))
        b.call(par, [task, data, const(I64, total), const(I64, grain)])

    def _omp(self, b, name: str) -> ir.Value:
        fn = self.module.globals.get(name) or ir.Function(self.module, ir.FunctionType(I32, []), name)
        return b.call(fn, [])


def _row_divisions(unit: Unit, shape: tuple, axes: tuple) -> dict[Node, Node]:
    """Float divisions in a row-reduction unit whose divisor is one of the unit's reductions,
    only broadcast along the reduced axes (and reshaped by size-1 dims): div node -> reduction."""
    own = {n.id for n in unit.nodes}
    reds = {r.id: r for r in unit.reds}
    out: dict[Node, Node] = {}
    for n in unit.nodes:
        if n.op.name != "div" or n.dtype.name not in ("float32", "float64") or tuple(n.shape) != tuple(shape):
            continue
        d = n.inputs[1]
        while d.id in own and d.id not in reds:
            src = d.inputs[0] if d.inputs else None
            if d.op.name == "broadcast_to" and tuple(d.shape) == tuple(shape):
                lead = len(shape) - len(src.shape)
                if any(a >= lead and src.shape[a - lead] != 1 for a in axes):
                    break
            elif d.op.name != "reshape" or [x for x in d.shape if x != 1] != [x for x in src.shape if x != 1]:
                break
            d = src
        red = reds.get(d.id)
        if red is not None and red.dtype == n.dtype and red.op.name in ("reduce_sum", "reduce_max", "reduce_min") \
                and [x for x in red.shape if x != 1] == [shape[p] for p in range(len(shape)) if p not in axes and shape[p] != 1]:
            out[n] = red
    return out


def _stashes(unit: Unit, full_outs: list[Node], ev: Evaluator) -> dict[int, Node]:
    """Reductions whose (computed, not loaded) input feeds a full-shape output of the same float
    type: the reduction pass writes that input into the output's buffer and the output pass reads
    it back from cache instead of recomputing it (softmax's exp is computed once)."""
    out: dict[int, Node] = {}
    used: set[int] = set()
    own = {n.id for n in unit.nodes}
    for r in reversed(unit.reds):
        pre = r.inputs[0]
        if pre.id not in own or pre.op.category != "elementwise" or pre.dtype.name not in ("float32", "float64"):
            continue
        for o in full_outs:
            if o.id not in used and o.dtype is pre.dtype and o.shape == pre.shape and o is not pre \
                    and is_ancestor(pre, o, own) and not any(s.id == pre.id for s in unit.outputs):
                out[r.id] = o
                used.add(o.id)
                break
    return out


def _concat_output(unit: Unit) -> Node | None:
    """The concat (along an axis other than the first) that a one-output unit's output is,
    through reshapes computed in the unit; None otherwise."""
    if len(unit.outputs) != 1:
        return None
    own = {n.id for n in unit.nodes}
    n = unit.outputs[0]
    while n.op.name == "reshape" and n.inputs[0].id in own:
        n = n.inputs[0]
    if n.op.name != "concat" or n.id not in own or n.attrs["axis"] == 0 or not n.shape or 0 in n.shape:
        return None
    return n


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _hint(size: int) -> int:
    """Interleave the innermost loop of kernels big enough to be worth its longer code."""
    return INTERLEAVE if size >= INTERLEAVE_MIN_ELEMENTS else 0


COLUMN_MAX = 1 << 14  # kept columns accumulated on the stack (64 KiB of float32)


def _column_shaped(unit: Unit, axes: tuple, kept: list, kept_size: int) -> bool:
    """One reduction over leading axes whose outputs are all column-shaped: worth accumulating
    whole rows at a time instead of walking each column with a stride."""
    return (len(unit.reds) == 1 and bool(kept) and axes == tuple(range(len(axes)))
            and 1 < kept_size <= COLUMN_MAX
            and all(numel(o.shape) == kept_size for o in unit.outputs)
            and unit.reds[0].op.name in ("reduce_sum", "reduce_max", "reduce_min", "reduce_prod"))


class _FnPtr:
    """Lets IRBuilder.call call through a function pointer of a known type."""

    def __init__(self, ptr: ir.Value, ftype: ir.FunctionType):
        self._ptr = ptr
        self.function_type = ftype
        self.type = PTR

    def get_reference(self) -> str:
        return self._ptr.get_reference()

    @property
    def name(self) -> str:
        return self._ptr.name


_ = compute_type
