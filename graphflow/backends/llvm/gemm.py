"""graphflow's own packed GEMM (BLIS-style), generated as LLVM IR and compiled once per process.

`gf_sgemm64` / `gf_dgemm64` take exactly the arguments of `scipy_cblas_sgemm64_`
(order, transA, transB as i32 CBLAS enums; M, N, K, lda, ldb, ldc as i64) and compute
C = alpha * op(A) @ op(B) + beta * C on the calling thread (the graph's pool threads call it
concurrently, each on its own tile of C).

The loops are BLIS's: for each NC-wide block of columns and KC-deep block of the inner
dimension, B is packed into NR-column panels (KC x NR, contiguous: the micro-kernel's B panel
stays in L1); for each MC-tall block of rows A is packed into MR-row panels (the MC x KC block
stays in L2); the MR x NR micro-kernel keeps its tile of C in 12 vector registers and runs one
broadcast of A and two FMAs per B vector along k. Transposes and strides are handled in the
packing only; edges are zero-padded in the packed panels and written back element by element,
so nothing outside the M x N region of C is touched. With beta == 0, C is never read (NaN in C
does not leak into the result), as in BLAS; alpha == 0 or K == 0 only scales C by beta.

Packing scratch (64-byte aligned) comes from a small table of per-call slots claimed with an
atomic compare-exchange and kept for the life of the process (allocated on first use); when all
are taken a call allocates and frees its own."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

import llvmlite.binding as llvm
import llvmlite.ir as ir

from graphflow.backends.llvm.emit import F32, F64, I1, I32, I64, PTR, const

VOID = ir.VoidType()
ROW_MAJOR, COL_MAJOR, NO_TRANS, TRANS = 101, 102, 111, 112
PREFETCH_A = 8  # unrolled k iterations ahead the micro-kernel prefetches its A panel
SLOTS = 8  # concurrent calls with a kept scratch buffer (more threads than this allocate per call)


@dataclass(frozen=True)
class Blocking:
    """Register and cache blocking of one dtype (BLIS's Zen values; KC x NR panel of B in L1,
    MC x KC block of A in L2, KC x NC block of B in L3)."""

    name: str
    ft: ir.Type
    width: int  # vector lanes (256-bit AVX2 registers)
    mr: int
    nr: int  # a multiple of width
    mc: int  # a multiple of mr
    kc: int
    nc: int  # a multiple of nr
    unroll: int  # k iterations per trip of the micro-kernel's loop


BLOCKING = {
    "float32": Blocking("gf_sgemm64", F32, 8, 6, 16, 144, 256, 4080, 4),
    "float64": Blocking("gf_dgemm64", F64, 4, 6, 8, 72, 256, 4080, 4),
}
SYMBOLS = {d: blk.name for d, blk in BLOCKING.items()}
BLAS_SYMBOLS = {"float32": "scipy_cblas_sgemm64_", "float64": "scipy_cblas_dgemm64_"}
# per dtype, the products (M*N*K multiply-adds per call) this kernel takes over from NumPy's
# OpenBLAS when that is present: [start, stop) (stop None: no bound); without OpenBLAS it takes
# every product. float64: on par or better (benchmarks/gemm_kernel.py, interleaved). float32
# stays with OpenBLAS: single calls measured 0.95-1.3x it depending on the shape, but the compiled
# MLP training step ran at the same speed either way (0.60 vs 0.60 ms, interleaved), and a first
# compile on a machine would also build the kernel (cold start of that step 0.50 s instead of 0.37)
NATIVE_MACS: dict[str, tuple[int, int | None]] = {"float64": (0, None)}


def _ours(dtype_name: str, macs: int) -> bool:
    start, stop = NATIVE_MACS.get(dtype_name, (None, None))
    return start is not None and macs >= start and (stop is None or macs < stop)


def has_blas() -> bool:
    from graphflow.backends.llvm import jit

    return jit.blas_library() is not None


def symbol(dtype_name: str, macs: int) -> str:
    """The GEMM entry point (CBLAS signature) generated code calls for a product of `macs`
    multiply-adds of `dtype_name`: this module's kernel where it measured faster or where NumPy
    ships no OpenBLAS, else OpenBLAS's."""
    return SYMBOLS[dtype_name] if not has_blas() or _ours(dtype_name, macs) else BLAS_SYMBOLS[dtype_name]


def _declare_gemm(mod: ir.Module, name: str, ft: ir.Type) -> ir.Function:
    return mod.globals.get(name) or ir.Function(mod, ir.FunctionType(
        VOID, [I32, I32, I32, I64, I64, I64, ft, PTR, I64, PTR, I64, ft, PTR, I64]), name)


def call(b: ir.IRBuilder, dtype_name: str, macs: int | ir.Value, args: list) -> None:
    """Emit the GEMM call (CBLAS arguments) for a product of `macs` multiply-adds: a constant
    picks the symbol now (`symbol`), a run-time value branches between the two."""
    ft = F32 if dtype_name == "float32" else F64
    mod = b.module
    if isinstance(macs, int):
        b.call(_declare_gemm(mod, symbol(dtype_name, macs), ft), args)
        return
    start, stop = NATIVE_MACS.get(dtype_name, (None, None))
    if start is None or not has_blas():
        b.call(_declare_gemm(mod, symbol(dtype_name, 0), ft), args)
        return
    inside = b.icmp_signed(">=", macs, const(I64, start))
    if stop is not None:
        inside = b.and_(inside, b.icmp_signed("<", macs, const(I64, stop)))
    with b.if_else(inside) as (ours, theirs):
        with ours:
            b.call(_declare_gemm(mod, SYMBOLS[dtype_name], ft), args)
        with theirs:
            b.call(_declare_gemm(mod, BLAS_SYMBOLS[dtype_name], ft), args)


# -- IR helpers ------------------------------------------------------------------------------------
def _loop(b: ir.IRBuilder, lo, hi, step, body, carried: list | None = None) -> list:
    """for i in [lo, hi) by step: body(i, carried) -> carried. Returns the final carried values."""
    carried = carried or []
    fn = b.function
    entry = b.block
    head = fn.append_basic_block("head")
    body_bb = fn.append_basic_block("body")
    exit_bb = fn.append_basic_block("exit")
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64)
    i.add_incoming(lo, entry)
    phis = []
    for v in carried:
        p = b.phi(v.type)
        p.add_incoming(v, entry)
        phis.append(p)
    b.cbranch(b.icmp_signed("<", i, hi), body_bb, exit_bb)
    b.position_at_end(body_bb)
    new = body(i, phis) or []
    i.add_incoming(b.add(i, step if isinstance(step, ir.Value) else const(I64, step)), b.block)
    for p, v in zip(phis, new):
        p.add_incoming(v, b.block)
    b.branch(head)
    b.position_at_end(exit_bb)
    return phis


def _vstore(b, v, p, align: int = 1) -> None:
    """Store a vector through an untyped element pointer (a pointer to the vector's type)."""
    b.store(v, b.bitcast(p, ir.PointerType(v.type)), align=align)


def _min(b, x, y):
    return b.select(b.icmp_signed("<", x, y), x, y)


def _gep(b, p, off, t):
    return b.gep(p, [off], source_etype=t)


def _declare(mod: ir.Module, name: str, ret: ir.Type, args: list) -> ir.Function:
    return mod.globals.get(name) or ir.Function(mod, ir.FunctionType(ret, args), name)


def _internal(mod: ir.Module, name: str, ret: ir.Type, args: list, noalias: tuple = ()) -> ir.Function:
    fn = ir.Function(mod, ir.FunctionType(ret, args), name)
    fn.linkage = "internal"
    for k in noalias:
        fn.args[k].add_attribute("noalias")
    return fn


# -- the micro-kernel ------------------------------------------------------------------------------
def _micro_kernel(mod: ir.Module, k: Blocking) -> ir.Function:
    """ukr(kc, pa, pb, c, ldc, alpha, beta, m, n): C[:m, :n] = alpha * Pa @ Pb + beta * C[:m, :n]
    for packed panels Pa (kc x MR, k-major) and Pb (kc x NR, k-major, 32-byte aligned)."""
    ft, W, MR, NR = k.ft, k.width, k.mr, k.nr
    vt = ir.VectorType(ft, W)
    nv = NR // W
    sfx = f"v{W}{_sfx(ft)}"
    fma = _declare(mod, f"llvm.fma.{sfx}", vt, [vt, vt, vt])
    prefetch = _declare(mod, "llvm.prefetch.p0", VOID, [PTR, I32, I32, I32])
    fn = _internal(mod, "gf_gemm_ukr", VOID, [I64, PTR, PTR, PTR, I64, ft, ft, I64, I64], noalias=(1, 2, 3))
    kc, pa, pb, c, ldc, alpha, beta, m, n = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    zero_v = ir.Constant(vt, [0.0] * W)
    undef_v = ir.Constant(vt, ir.Undefined)
    splat_mask = ir.Constant(ir.VectorType(I32, W), [0] * W)

    def splat(x):
        return b.shuffle_vector(b.insert_element(undef_v, x, const(I32, 0)), undef_v, splat_mask)

    for i in range(MR):  # the tile of C is updated at the end: fetch it while k runs
        row = _gep(b, c, b.mul(const(I64, i), ldc), ft)
        b.call(prefetch, [row, const(I32, 1), const(I32, 3), const(I32, 1)])
        b.call(prefetch, [_gep(b, row, const(I64, NR - 1), ft), const(I32, 1), const(I32, 3), const(I32, 1)])

    def step(pa_, pb_, accs, u):
        bv = [b.load(_gep(b, pb_, const(I64, u * NR + j * W), ft), typ=vt, align=W * _bytes(ft))
              for j in range(nv)]
        out = list(accs)
        for i in range(MR):
            a = splat(b.load(_gep(b, pa_, const(I64, u * MR + i), ft), typ=ft))
            for j in range(nv):
                out[i * nv + j] = b.call(fma, [a, bv[j], out[i * nv + j]])
        return out

    U = k.unroll
    trips = b.sdiv(kc, const(I64, U))

    def unrolled(t, carried):
        pa_, pb_, *accs = carried
        if PREFETCH_A:
            b.call(prefetch, [_gep(b, pa_, const(I64, PREFETCH_A * MR * U), ft), const(I32, 0), const(I32, 3),
                              const(I32, 1)])
        for u in range(U):
            accs = step(pa_, pb_, accs, u)
        return [_gep(b, pa_, const(I64, U * MR), ft), _gep(b, pb_, const(I64, U * NR), ft)] + accs
    res = _loop(b, const(I64, 0), trips, 1, unrolled, [pa, pb] + [zero_v] * (MR * nv))

    def single(t, carried):
        pa_, pb_, *accs = carried
        accs = step(pa_, pb_, accs, 0)
        return [_gep(b, pa_, const(I64, MR), ft), _gep(b, pb_, const(I64, NR), ft)] + accs
    res = _loop(b, b.mul(trips, const(I64, U)), kc, 1, single, list(res))
    accs = res[2:]

    va = splat(alpha)
    vb = splat(beta)
    full = b.and_(b.icmp_signed("==", m, const(I64, MR)), b.icmp_signed("==", n, const(I64, NR)))
    beta0 = b.fcmp_ordered("==", beta, ir.Constant(ft, 0.0))
    with b.if_else(full) as (whole, edge):
        with whole:
            with b.if_else(beta0) as (overwrite, update):
                with overwrite:  # C is not read: NaN or garbage there must not reach the result
                    for i in range(MR):
                        row = _gep(b, c, b.mul(const(I64, i), ldc), ft)
                        for j in range(nv):
                            _vstore(b, b.fmul(accs[i * nv + j], va), _gep(b, row, const(I64, j * W), ft))
                with update:
                    for i in range(MR):
                        row = _gep(b, c, b.mul(const(I64, i), ldc), ft)
                        for j in range(nv):
                            p = _gep(b, row, const(I64, j * W), ft)
                            old = b.load(p, typ=vt, align=1)
                            _vstore(b, b.call(fma, [old, vb, b.fmul(accs[i * nv + j], va)]), p)
        with edge:  # through a stack tile, only the m x n corner reaches C
            tmp = b.alloca(ft, size=const(I32, MR * NR))
            tmp.align = 64
            for i in range(MR):
                for j in range(nv):
                    _vstore(b, b.fmul(accs[i * nv + j], va), _gep(b, tmp, const(I64, i * NR + j * W), ft), 4)

            def row(i, _):
                crow = _gep(b, c, b.mul(i, ldc), ft)
                trow = _gep(b, tmp, b.mul(i, const(I64, NR)), ft)

                def col(j, _):
                    p = _gep(b, crow, j, ft)
                    v = b.load(_gep(b, trow, j, ft), typ=ft)
                    old = b.load(p, typ=ft)
                    upd = b.call(_declare(mod, f"llvm.fma.{_sfx(ft)}", ft, [ft, ft, ft]), [old, beta, v])
                    b.store(b.select(beta0, v, upd), p)
                _loop(b, const(I64, 0), n, 1, col)
            _loop(b, const(I64, 0), m, 1, row)
    b.ret_void()
    return fn


def _sfx(ft: ir.Type) -> str:
    return "f32" if ft == F32 else "f64"


def _bytes(ft: ir.Type) -> int:
    return 4 if ft == F32 else 8


# -- packing ---------------------------------------------------------------------------------------
def _pack(mod: ir.Module, k: Blocking, name: str, R: int) -> ir.Function:
    """pack(rows, depth, src, rs, cs, dst): panels of R rows of src (element (r, d) at
    src[r*rs + d*cs]), each depth x R, d-major, rows past `rows` zero. For A rows are rows of
    op(A) (R = MR); for B rows are columns of op(B) (R = NR)."""
    ft, W = k.ft, k.width
    vt = ir.VectorType(ft, W)
    fn = _internal(mod, name, VOID, [I64, I64, PTR, I64, I64, PTR], noalias=(2, 5))
    rows, depth, src, rs, cs, dst = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    zero = ir.Constant(ft, 0.0)

    def panel(p, _):
        r0 = p
        out = _gep(b, dst, b.mul(r0, depth), ft)  # panel index * R * depth
        base = _gep(b, src, b.mul(r0, rs), ft)
        have = _min(b, b.sub(rows, r0), const(I64, R))
        whole = b.icmp_signed("==", have, const(I64, R))
        unit_rows = b.icmp_signed("==", rs, const(I64, 1))  # R contiguous elements per d
        with b.if_else(b.and_(whole, unit_rows)) as (vec, other):
            with vec:
                def d_vec(d, _):
                    s = _gep(b, base, b.mul(d, cs), ft)
                    o = _gep(b, out, b.mul(d, const(I64, R)), ft)
                    for j in range(0, R - R % W, W):
                        _vstore(b, b.load(_gep(b, s, const(I64, j), ft), typ=vt, align=1), _gep(b, o, const(I64, j), ft))
                    for j in range(R - R % W, R):
                        b.store(b.load(_gep(b, s, const(I64, j), ft), typ=ft), _gep(b, o, const(I64, j), ft))
                _loop(b, const(I64, 0), depth, 1, d_vec)
            with other:
                with b.if_else(whole) as (strided, edge):
                    with strided:  # R strided streams (each contiguous along d when cs == 1)
                        def d_str(d, _):
                            s = _gep(b, base, b.mul(d, cs), ft)
                            o = _gep(b, out, b.mul(d, const(I64, R)), ft)
                            for j in range(R):
                                b.store(b.load(_gep(b, s, b.mul(const(I64, j), rs), ft), typ=ft),
                                        _gep(b, o, const(I64, j), ft))
                        done = const(I64, 0)
                        if R % W == 0:  # rows contiguous along d: W x W blocks transposed in registers
                            unit_d = b.icmp_signed("==", cs, const(I64, 1))
                            done = b.select(unit_d, b.mul(b.sdiv(depth, const(I64, W)), const(I64, W)), done)

                            def d_blk(d, _):
                                o = _gep(b, out, b.mul(d, const(I64, R)), ft)
                                for g in range(0, R, W):
                                    vs = [b.load(_gep(b, base, b.add(b.mul(const(I64, g + i), rs), d), ft), typ=vt,
                                                 align=1) for i in range(W)]
                                    for j, t in enumerate(_transpose(b, vs)):
                                        _vstore(b, t, _gep(b, o, const(I64, j * R + g), ft))
                            _loop(b, const(I64, 0), done, W, d_blk)
                        _loop(b, done, depth, 1, d_str)
                    with edge:
                        def d_edge(d, _):
                            s = _gep(b, base, b.mul(d, cs), ft)
                            o = _gep(b, out, b.mul(d, const(I64, R)), ft)
                            for j in range(R):
                                inside = b.icmp_signed("<", const(I64, j), have)
                                with b.if_else(inside) as (yes, no):
                                    with yes:
                                        b.store(b.load(_gep(b, s, b.mul(const(I64, j), rs), ft), typ=ft),
                                                _gep(b, o, const(I64, j), ft))
                                    with no:
                                        b.store(zero, _gep(b, o, const(I64, j), ft))
                        _loop(b, const(I64, 0), depth, 1, d_edge)
    _loop(b, const(I64, 0), rows, R, panel)
    b.ret_void()
    return fn


def _transpose(b: ir.IRBuilder, vs: list) -> list:
    """W vectors of W lanes -> their transpose (out[j][i] = vs[i][j]): log2(W) rounds of
    interleaving the low and high halves of vectors W/2 apart."""
    W = len(vs)
    h = W // 2
    lo = ir.Constant(ir.VectorType(I32, W), [x for k in range(h) for x in (k, W + k)])
    hi = ir.Constant(ir.VectorType(I32, W), [x for k in range(h, W) for x in (k, W + k)])
    for _ in range(W.bit_length() - 1):
        vs = [v for i in range(h) for v in (b.shuffle_vector(vs[i], vs[i + h], lo),
                                            b.shuffle_vector(vs[i], vs[i + h], hi))]
    return vs


# -- scratch slots ---------------------------------------------------------------------------------
def _scratch(mod: ir.Module, k: Blocking) -> tuple[ir.Function, ir.Function, int]:
    """claim() -> ptr and release(ptr): a kept 64-byte aligned buffer of MC*KC + KC*NC elements."""
    elems = k.mc * k.kc + k.kc * k.nc
    nbytes = elems * (4 if k.ft == F32 else 8)
    def slot_global(name: str, t: ir.Type) -> ir.GlobalVariable:
        g = ir.GlobalVariable(mod, t, name)
        g.initializer = ir.Constant(t, None)
        g.linkage = "internal"
        g.align = 64  # each on its own cache line: threads claim different slots
        return g
    flags = [slot_global(f"{k.name}_busy{s}", I32) for s in range(SLOTS)]
    bufs = [slot_global(f"{k.name}_buf{s}", PTR) for s in range(SLOTS)]
    alloc = _declare(mod, "aligned_alloc", PTR, [I64, I64])
    free = _declare(mod, "free", VOID, [PTR])

    claim = _internal(mod, k.name + "_claim", PTR, [])
    b = ir.IRBuilder(claim.append_basic_block("entry"))
    for s in range(SLOTS):
        flag = flags[s]
        got = b.extract_value(b.cmpxchg(flag, const(I32, 0), const(I32, 1), "acquire", "monotonic"), 1)
        with b.if_then(got):
            slot = bufs[s]
            cur = b.load(slot, typ=PTR)
            with b.if_then(b.icmp_unsigned("==", cur, ir.Constant(PTR, None))):
                b.store(b.call(alloc, [const(I64, 64), const(I64, nbytes)]), slot)
            b.ret(b.load(slot, typ=PTR))
    b.ret(b.call(alloc, [const(I64, 64), const(I64, nbytes)]))

    release = _internal(mod, k.name + "_release", VOID, [PTR])
    b = ir.IRBuilder(release.append_basic_block("entry"))
    p = release.args[0]
    for s in range(SLOTS):
        slot = bufs[s]
        with b.if_then(b.icmp_unsigned("==", b.load(slot, typ=PTR), p)):
            flag = flags[s]
            b.store_atomic(const(I32, 0), flag, "release", 4)
            b.ret_void()
    b.call(free, [p])
    b.ret_void()
    return claim, release, k.mc * k.kc


# -- the entry point -------------------------------------------------------------------------------
def _gemm(mod: ir.Module, k: Blocking) -> ir.Function:
    ft, MR, NR = k.ft, k.mr, k.nr
    ukr = _micro_kernel(mod, k)
    pack_a = _pack(mod, k, "gf_gemm_pack_a", MR)
    pack_b = _pack(mod, k, "gf_gemm_pack_b", NR)
    claim, release, b_offset = _scratch(mod, k)

    # row-major core: C[M, N] = alpha * op(A) @ op(B) + beta * C
    core = _internal(mod, "gf_gemm_rm", VOID, [I1, I1, I64, I64, I64, ft, PTR, I64, PTR, I64, ft, PTR, I64])
    ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc = core.args
    b = ir.IRBuilder(core.append_basic_block("entry"))
    one = const(I64, 1)
    rsa, csa = b.select(ta, one, lda), b.select(ta, lda, one)  # element (i, p) of op(A): A[i*rsa + p*csa]
    rsb, csb = b.select(tb, ldb, one), b.select(tb, one, ldb)  # element (j, p) of op(B)^T: B[j*rsb + p*csb]
    fzero = ir.Constant(ft, 0.0)
    empty = b.or_(b.icmp_signed("<=", M, const(I64, 0)), b.icmp_signed("<=", N, const(I64, 0)))
    with b.if_then(empty):
        b.ret_void()
    scale_only = b.or_(b.icmp_signed("<=", K, const(I64, 0)), b.fcmp_ordered("==", alpha, fzero))
    with b.if_then(scale_only):  # C = beta * C (zeros when beta == 0, whatever C held)
        beta0 = b.fcmp_ordered("==", beta, fzero)

        def srow(i, _):
            def scol(j, _):
                p = _gep(b, C, b.add(b.mul(i, ldc), j), ft)
                b.store(b.select(beta0, fzero, b.fmul(beta, b.load(p, typ=ft))), p)
            _loop(b, const(I64, 0), N, 1, scol)
        _loop(b, const(I64, 0), M, 1, srow)
        b.ret_void()
    buf = b.call(claim, [])
    abuf = buf
    bbuf = _gep(b, buf, const(I64, b_offset), ft)
    # equal KC blocks (K = 784 runs 4 blocks of 196, not 3 of 256 and one of 16)
    nk = b.sdiv(b.add(K, const(I64, k.kc - 1)), const(I64, k.kc))
    kcb = b.sdiv(b.add(K, b.sub(nk, one)), nk)
    kcb = b.mul(b.sdiv(b.add(kcb, const(I64, k.unroll - 1)), const(I64, k.unroll)), const(I64, k.unroll))
    kcb = _min(b, kcb, const(I64, k.kc))

    def jc_loop(jc, _):
        nc = _min(b, b.sub(N, jc), const(I64, k.nc))

        def pc_loop(pc, _):
            kc = _min(b, b.sub(K, pc), kcb)
            beta_ = b.select(b.icmp_signed("==", pc, const(I64, 0)), beta, ir.Constant(ft, 1.0))
            b.call(pack_b, [nc, kc, _gep(b, B, b.add(b.mul(jc, rsb), b.mul(pc, csb)), ft), rsb, csb, bbuf])

            def ic_loop(ic, _):
                mc = _min(b, b.sub(M, ic), const(I64, k.mc))
                b.call(pack_a, [mc, kc, _gep(b, A, b.add(b.mul(ic, rsa), b.mul(pc, csa)), ft), rsa, csa, abuf])

                def jr_loop(jr, _):
                    nr = _min(b, b.sub(nc, jr), const(I64, NR))
                    pbp = _gep(b, bbuf, b.mul(jr, kc), ft)
                    cc = _gep(b, C, b.add(b.mul(ic, ldc), b.add(jc, jr)), ft)

                    def ir_loop(i, _):
                        mr = _min(b, b.sub(mc, i), const(I64, MR))
                        b.call(ukr, [kc, _gep(b, abuf, b.mul(i, kc), ft), pbp, _gep(b, cc, b.mul(i, ldc), ft),
                                     ldc, alpha, beta_, mr, nr])
                    _loop(b, const(I64, 0), mc, MR, ir_loop)
                _loop(b, const(I64, 0), nc, NR, jr_loop)
            _loop(b, const(I64, 0), M, k.mc, ic_loop)
        _loop(b, const(I64, 0), K, kcb, pc_loop)
    _loop(b, const(I64, 0), N, k.nc, jc_loop)
    b.call(release, [buf])
    b.ret_void()

    # the CBLAS entry: column-major C is row-major C^T = op(B)^T @ op(A)^T
    fn = ir.Function(mod, ir.FunctionType(VOID, [I32, I32, I32, I64, I64, I64, ft, PTR, I64, PTR, I64, ft, PTR,
                                                  I64]), k.name)
    order, tra, trb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    t_a = b.icmp_signed("!=", tra, const(I32, NO_TRANS))
    t_b = b.icmp_signed("!=", trb, const(I32, NO_TRANS))
    with b.if_else(b.icmp_signed("==", order, const(I32, COL_MAJOR))) as (col, row):
        with col:
            b.call(core, [t_b, t_a, N, M, K, alpha, B, ldb, A, lda, beta, C, ldc])
        with row:
            b.call(core, [t_a, t_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc])
    b.ret_void()
    return fn


def build_ir(dtype_name: str) -> str:
    """The kernel module of one dtype (its symbol and internal helpers)."""
    from graphflow.backends.llvm import jit

    k = BLOCKING[dtype_name]
    mod = ir.Module(name=k.name)
    mod.triple = jit.triple()
    _gemm(mod, k)
    return str(mod)


_lock = threading.RLock()
_loaded: dict[str, object] = {}  # symbol -> its LoadedObject (kept: generated code calls into it)
_starting: set[str] = set()


def ensure(names: tuple[str, ...] | None = None) -> dict[str, int]:
    """Compile (or load from the disk cache) the kernels named (all by default) once per process
    and register their symbols for generated code. Returns {symbol: address} of those loaded."""
    from graphflow.backends.llvm import cache, jit

    wanted = [d for d, blk in BLOCKING.items() if names is None or blk.name in names]
    with _lock:
        for d in wanted:
            name = BLOCKING[d].name
            if name in _loaded or name in _starting:  # ready, or this thread is loading it below
                continue
            _starting.add(name)
            try:
                key = cache_key(d)
                obj = cache.get(key)
                if obj is None:
                    obj = jit.compile_all([job(d)])[0]
                    cache.put(key, obj)
                lo = jit.LoadedObject(obj)
                llvm.add_symbol(name, lo.address(name))
                _loaded[name] = lo
            finally:
                _starting.discard(name)
        return {BLOCKING[d].name: _loaded[BLOCKING[d].name].address(BLOCKING[d].name)
                for d in wanted if BLOCKING[d].name in _loaded}


def cache_key(dtype_name: str) -> str:
    """The kernel's cache key, without building it (building its IR costs ~0.1 s, which a warm
    start would pay): the backend's code digest covers the generator, the blocking and this."""
    from graphflow.backends.llvm import jit
    from graphflow.backends.llvm.executable import _CODE_DIGEST

    text = repr((dtype_name, BLOCKING[dtype_name], _CODE_DIGEST, jit.fingerprint()))
    return "gemm-" + hashlib.sha256(text.encode()).hexdigest()


def job(dtype_name: str) -> tuple:
    """The compile job (`jit.Job`) of a kernel's module, built where the job runs (a forked child
    builds it in parallel with the graph): explicit vector code, where instruction selection
    alone gives the O3 pipeline's speed (measured 72-85 GFLOP/s both) in a fifth of the time,
    which a cold compile of a graph calling the kernel would otherwise pay."""
    return (lambda: build_ir(dtype_name)), False, False


def missing(text: str) -> list[str]:
    """The dtypes of the kernels a graph's module text calls that are neither loaded in this
    process nor in the cache: the graph compile builds them at the same time (`job`)."""
    from graphflow.backends.llvm import cache

    return [d for d, blk in BLOCKING.items()
            if blk.name not in _loaded and f'@"{blk.name}"' in text and not cache.contains(cache_key(d))]


def needed(obj: bytes) -> tuple[str, ...]:
    """The kernels this object code refers to (they must be registered before it is loaded)."""
    return tuple(name for name in SYMBOLS.values() if name.encode() in obj)
