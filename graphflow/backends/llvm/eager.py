"""Eager mode's single ops: shape-generic native kernels (sizes passed at run time), compiled once
per (op, dtypes, attributes without sizes) and cached in memory and on disk, so a new batch size
costs no compile. Tiny tensors, movement ops and ops without a generic kernel take the NumPy
reference, which is faster there (no native call to set up)."""

from __future__ import annotations

import ctypes
import hashlib
import math
import sys
import threading
from collections.abc import Sequence

import llvmlite.ir as ir
import numpy as np

from graphflow.backends.llvm import cache, jit, pool
from graphflow.backends.llvm.codegen import VOID, for_range
from graphflow.backends.llvm.emit import (
    F32,
    F64,
    I32,
    I64,
    PTR,
    compute_type,
    const,
    load_value,
    storage_type,
    store_value,
)
from graphflow.backends.llvm.executable import _CODE_DIGEST, contiguous
from graphflow.backends.llvm.lowering import ERROR_TEXT, Ctx, is_fallback, lowering_for, reduction
from graphflow.backends.memory import address, eager_blocks
from graphflow.backends.numpy.interpreter import evaluate
from graphflow.ir.graph import Attrs, TensorType
from graphflow.ir.registry import OpDef

new_result = eager_blocks.empty  # results of a few MB reuse freed blocks (no page faults)

# below this many output elements NumPy's per-call cost beats a native call (measured by
# benchmarks/cpu_kernels.py); above PARALLEL the kernel splits over the cores
TINY = 1024
PARALLEL = 1 << 17
_P = ctypes.c_void_p
# gf_eager(n, reduced, inner, p0, p1, p2, p3): sizes at run time, up to four buffers by address
_RUN = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, _P, _P, _P, _P)
_SLOTS = 4
_kernels: dict[tuple, object] = {}
_lock = threading.Lock()
_REDUCE = ("reduce_sum", "reduce_prod", "reduce_max", "reduce_min")
_NATIVE_REDUCE_DTYPES = ("float32", "float64", "int8", "uint8", "int16", "int32", "int64")


# elementwise ops where a native kernel beats NumPy's ufunc loop (measured with
# benchmarks/cpu_kernels.py and /tmp-free timing of run_op): the transcendental functions (NumPy
# calls scalar libm or computes in several passes) and Python-semantics integer division. Plain
# arithmetic, comparisons and casts are memory-bound, where NumPy's loops are as fast and cost
# less per call, so they stay on NumPy.
NATIVE_ELEMENTWISE = frozenset({"exp", "expm1", "log", "log1p", "sin", "cos", "tanh", "sigmoid", "erf", "rsqrt",
                                "floor_div", "mod"})
REDUCE_MIN = 1 << 16
# memory-bound arithmetic: from ARITH_MIN output elements up the native kernel (vectorised, on
# every core, a Python-scalar operand read once instead of a broadcast view) beats NumPy's
# single-threaded loop; below, NumPy costs less per call. Measured on 2 cores, float32, fresh
# output (NumPy / native, ms): add 256K 0.10/0.13, 1M 0.31/0.31, 2M 0.89/0.67, 4M 2.25/1.64;
# mul 256K 0.06/0.11, 1M 0.20/0.22, 2M 0.70/0.51, 4M 1.72/1.26. Results are bit-identical: IEEE
# add/sub/mul/div are correctly rounded in both, and the kernel uses no flag that changes them.
ARITH = frozenset({"add", "sub", "mul", "div", "neg"})  # not max/min: NumPy's choice between equal zeros differs
ARITH_MIN = 1 << 21
# `x ** 2` and `x ** 3` with a scalar exponent: x*x and (x*x)*x, as the optimiser's STABLE rule
# does in compiled graphs (x*x is correctly rounded; the cube within 1 ulp of pow, with NaN, inf
# and signed zeros as pow gives them); NumPy's float power is a libm call per element
POW_AS_PRODUCT = {2.0: 2, 3.0: 3}
_FLOATS = ("float32", "float64")
# every product takes the native kernel, which runs BLAS single-threaded below
# `EAGER_PARALLEL_MACS` (NumPy's matmul lets OpenBLAS start its own threads, which spin
# against this backend's pool and any other process on a small machine: measured 0.1 -> 13 ms)
MATMUL_MIN_MACS = 1
# an eager product splits over the pool from this many multiply-adds: four times a compiled
# graph's `codegen.BLAS_PARALLEL_MACS`, because between eager ops the workers sleep and waking
# one costs tens of microseconds on a virtual machine (a graph keeps them watching). The MLP
# step's 64x256 @ 256x128 (2M): 182-198 us median split, 131-152 us on the calling thread.
EAGER_PARALLEL_MACS = 1 << 22
# per op, the first input's element count below which `run_op` is exactly the reference (the
# branches above); ops absent here never take a native kernel in eager mode
_NATIVE_FROM = {**dict.fromkeys(NATIVE_ELEMENTWISE, TINY), **dict.fromkeys(ARITH, ARITH_MIN), "pow": TINY,
                "matmul": 0, **dict.fromkeys(_REDUCE, REDUCE_MIN)}


def reference_below(name: str) -> int:
    """See `Backend.reference_below`."""
    return _NATIVE_FROM.get(name, sys.maxsize)


def run_op(op: OpDef, arrays: Sequence[np.ndarray], attrs: Attrs, out: TensorType) -> np.ndarray:
    """Run one op at once; the result is a fresh array of exactly `out`'s dtype and shape."""
    size = math.prod(out.shape)
    name = op.name
    if name in NATIVE_ELEMENTWISE and size >= TINY:
        plan = _layout(arrays, out, copy=True)
        fn = plan and _elementwise_kernel(op, arrays, attrs, out, plan[0])
        if fn is not None:
            return _run_elementwise(fn, op, plan[1], out, size)
    elif name in ARITH and size >= ARITH_MIN:
        plan = _layout(arrays, out, copy=False)
        fn = plan and _elementwise_kernel(op, arrays, attrs, out, plan[0])
        if fn is not None:
            return _run_elementwise(fn, op, plan[1], out, size)
    elif name == "pow" and size >= TINY and out.dtype.name in _FLOATS:
        plan = _layout(arrays, out, copy=False)
        if plan is not None and plan[0][1] == "s" and plan[0][0] == "v":
            k = POW_AS_PRODUCT.get(float(plan[1][1].item(0)))
            if k is not None:
                fn = _product_kernel(op, out, k)
                return _run_elementwise(fn, op, plan[1][:1], out, size)
    elif op.name == "matmul" and len(arrays) == 2 and out.dtype.name in ("float32", "float64") \
            and len(out.shape) == 2 and size * arrays[0].shape[-1] >= MATMUL_MIN_MACS:
        a, b = (_contig(np.asarray(x)) for x in arrays)
        if a.dtype == out.dtype.np and b.dtype == out.dtype.np and a.ndim == b.ndim == 2:
            result = new_result(out.shape, out.dtype.np)
            M, K = a.shape
            _matmul_kernel(out.dtype)(M, b.shape[1], K, *_ptrs([a, b, result]))
            return result
    elif op.name in _REDUCE and arrays and arrays[0].size >= REDUCE_MIN:
        plan = _reduce_shape(arrays[0].shape, attrs["axes"])
        if plan is not None and arrays[0].dtype.name in _NATIVE_REDUCE_DTYPES:
            fn = _reduce_kernel(op.name, out.dtype)
            return _run_reduce(fn, op, arrays[0], plan, out)
    return evaluate(op, arrays, attrs, out)


def _contig(a: np.ndarray) -> np.ndarray:
    return contiguous(a)


def _ptrs(arrays: Sequence[np.ndarray]) -> list[int]:
    out = [address(a) for a in arrays]
    return out + [0] * (_SLOTS - len(out))


def _check(status: int, op: OpDef) -> None:
    if status:
        cls, text = ERROR_TEXT.get(status & 0xFF, (RuntimeError, f"error {status}"))
        raise cls(f"{op.name}: {text}")


def _layout(arrays, out: TensorType, copy: bool) -> tuple[tuple[str, ...], list[np.ndarray]] | None:
    """Per input, "v" (a contiguous array of out's shape) or "s" (one value broadcast: every
    stride 0, as a Python scalar operand arrives), with the arrays to pass; None when an input
    has another shape, or is strided and `copy` is False (NumPy reads strides in place, cheaper
    than a copy and a native pass)."""
    shape = tuple(out.shape)
    modes = []
    ins = []
    for a in arrays:
        a = np.asarray(a)
        if a.shape != shape:
            return None
        if a.size > 1 and not any(a.strides):
            modes.append("s")
        elif a.flags.c_contiguous and not address(a) % a.dtype.itemsize:
            modes.append("v")
        elif copy:
            a = _contig(a)
            modes.append("v")
        else:
            return None
        ins.append(a)
    return tuple(modes), ins


def _run_elementwise(fn, op, ins, out: TensorType, size: int) -> np.ndarray:
    result = new_result(out.shape, out.dtype.np)
    _check(fn(size, 0, 0, *_ptrs(list(ins) + [result])), op)
    return result


def _load(key: tuple, build) -> object:
    with _lock:
        fn = _kernels.get(key)
    if fn is not None:
        return fn
    digest = hashlib.sha256(repr((key, _CODE_DIGEST, jit.fingerprint())).encode()).hexdigest()
    obj = cache.get("eager-" + digest)
    if obj is None:
        module = build()
        obj = jit.compile_ir(str(module))
        cache.put("eager-" + digest, obj)
    loaded = jit.LoadedObject(obj)
    fn = _RUN(loaded.address("gf_eager"))
    fn._keep = loaded  # the engine lives as long as the function
    with _lock:
        _kernels[key] = fn
    return fn


def _attrs_key(attrs: Attrs) -> tuple:
    return tuple((k, getattr(v, "name", v)) for k, v in sorted(attrs.items()))


def _elementwise_kernel(op: OpDef, arrays, attrs, out: TensorType, modes: tuple[str, ...]):
    from graphflow.ir.dtypes import get_dtype

    gdt = tuple(get_dtype(np.asarray(a).dtype) for a in arrays)
    if is_fallback(op.name, gdt[0]) or lowering_for(op.name, gdt[0]) is None:
        return None
    key = ("ew", op.name, tuple(d.name for d in gdt), out.dtype.name, _attrs_key(attrs), modes)
    rule = lowering_for(op.name, gdt[0])
    return _load(key, lambda: _build_elementwise(rule, gdt, attrs, out, modes))


def _product_kernel(op: OpDef, out: TensorType, k: int):
    """x*x (k = 2) or (x*x)*x (k = 3) with the backend's own multiply."""
    mul = lowering_for("mul", out.dtype)

    def power(b, xs, cx):
        acc = xs[0]
        for _ in range(k - 1):
            acc = mul(b, [acc, xs[0]], cx)
        return acc
    key = ("ew-pow", k, out.dtype.name)
    return _load(key, lambda: _build_elementwise(power, (out.dtype,), {}, out, ("v",)))


def _entry(mod: ir.Module) -> tuple[ir.Function, ir.IRBuilder]:
    fn = ir.Function(mod, ir.FunctionType(I32, [I64, I64, I64] + [PTR] * _SLOTS), "gf_eager")
    return fn, ir.IRBuilder(fn.append_basic_block("entry"))


def _parallel(mod: ir.Module, b: ir.IRBuilder, body: ir.Function, n: ir.Value, args: list[ir.Value]) -> None:
    """Run body(lo, hi, *args) over [0, n), on the thread pool when n is large."""
    task = ir.Function(mod, pool.TASK, "gf_eager_task")
    task.linkage = "internal"
    sb = ir.IRBuilder(task.append_basic_block("entry"))
    data = task.args[2]
    vals = [sb.load(sb.gep(data, [const(I64, k)], source_etype=I64), typ=I64) for k in range(len(args))]
    rest = [v if a.type == I64 else sb.inttoptr(v, PTR) for v, a in zip(vals, args)]
    sb.call(body, [task.args[0], task.args[1]] + rest)
    sb.ret_void()
    par = mod.globals.get(pool.SYMBOL) or ir.Function(mod, ir.FunctionType(VOID, [PTR, PTR, I64, I64]),
                                                      pool.SYMBOL)
    big = b.icmp_signed(">=", n, const(I64, PARALLEL))
    with b.if_else(big) as (then, otherwise):
        with then:
            slot = b.alloca(I64, size=const(I32, max(1, len(args))))
            words = [a if a.type == I64 else b.ptrtoint(a, I64) for a in args]
            for k, w in enumerate(words):
                b.store(w, b.gep(slot, [const(I64, k)], source_etype=I64))
            # about 32 chunks, each a multiple of 64 iterations (whole cache lines of output)
            grain = b.mul(b.add(b.udiv(n, const(I64, 32 * 64)), const(I64, 1)), const(I64, 64))
            b.call(par, [task, slot, n, grain])
        with otherwise:
            b.call(body, [const(I64, 0), n] + args)


def _build_elementwise(rule, dtypes, attrs, out: TensorType, modes: tuple[str, ...]) -> ir.Module:
    """out[i] = rule(x0[i], x1[i], ...) over [0, n); an input of mode "s" is one value, loaded
    once before the loop (the loop then vectorises with it splatted)."""
    mod = ir.Module(name="graphflow_eager")
    mod.triple = jit.triple()
    k = len(dtypes)
    body = ir.Function(mod, ir.FunctionType(VOID, [I64, I64] + [PTR] * (k + 2)), "body")
    body.linkage = "internal"
    for a in body.args[2:-1]:
        a.add_attribute("noalias")
    b = ir.IRBuilder(body.append_basic_block("entry"))
    ins, dst, err = body.args[2:2 + k], body.args[2 + k], body.args[-1]

    def raise_if(bb, cond, code):
        with bb.if_then(cond, likely=False):
            bb.store(const(I32, code), err)

    cx = Ctx(tuple(dtypes), out.dtype, attrs, raise_if)
    fixed = {j: load_value(b, b.gep(p, [const(I64, 0)], source_etype=storage_type(d)), d)
             for j, (p, d, m) in enumerate(zip(ins, dtypes, modes)) if m == "s"}

    def step(i, acc):
        xs = [fixed[j] if j in fixed else load_value(b, b.gep(p, [i], source_etype=storage_type(d)), d)
              for j, (p, d) in enumerate(zip(ins, dtypes))]
        store_value(b, rule(b, xs, cx), b.gep(dst, [i], source_etype=storage_type(out.dtype)), out.dtype)
    for_range(b, body.args[0], body.args[1], step)
    b.ret_void()

    fn, eb = _entry(mod)
    n = fn.args[0]
    err_slot = eb.alloca(I32)
    eb.store(const(I32, 0), err_slot)
    ptrs = list(fn.args[3:3 + k + 1])
    _parallel(mod, eb, body, n, ptrs + [err_slot])
    eb.ret(eb.load(err_slot, typ=I32))
    return mod


def _reduce_shape(shape: tuple[int, ...], axes) -> tuple[int, int, int] | None:
    """(outer, reduced, inner) sizes when the reduced axes form one block after merging, else None."""
    nd = len(shape)
    red = set(range(nd)) if axes is None else set(axes)
    groups: list[list] = []
    for i, d in enumerate(shape):
        if d == 1:
            continue
        r = i in red
        if groups and groups[-1][1] == r:
            groups[-1][0] *= d
        else:
            groups.append([d, r])
    flags = [r for _, r in groups]
    if flags.count(True) > 1:
        return None
    if True not in flags:
        return int(np.prod(shape, dtype=np.int64)), 1, 1
    j = flags.index(True)
    outer = int(np.prod([g[0] for g in groups[:j]], dtype=np.int64))
    inner = int(np.prod([g[0] for g in groups[j + 1:]], dtype=np.int64))
    return outer, groups[j][0], inner


def _matmul_kernel(dtype):
    return _load(("matmul", dtype.name), lambda: _build_matmul(dtype))


def _build_matmul(d) -> ir.Module:
    """C[M, N] = A[M, K] @ B[K, N], sizes at run time: one single-threaded BLAS call, or for big
    products tiles of C (blocks of the longer of M and N) on the thread pool, as compiled graphs
    do (`codegen.ModuleBuilder._matmul`)."""
    from graphflow.backends.llvm import gemm
    from graphflow.backends.llvm.codegen import BLAS_BIG_MACS, TILE_MIN, TILES_PER_THREAD

    mod = ir.Module(name="graphflow_eager")
    mod.triple = jit.triple()
    ft = F32 if d.name == "float32" else F64
    blas = jit.blas_library() is not None  # (else every product runs graphflow's own GEMM)
    setn = ir.Function(mod, ir.FunctionType(I32, [I32]), "openblas_set_num_threads_local") if blas else None
    # task(lo, hi, data): data = [M, N, K, a, b, c, tile size, split over M (1) or N (0)]
    task = ir.Function(mod, pool.TASK, "gf_matmul_tiles")
    task.linkage = "internal"
    b = ir.IRBuilder(task.append_basic_block("entry"))
    data = task.args[2]
    M, N, K, pa, pb, pc, size, split_m = (b.load(b.gep(data, [const(I64, k)], source_etype=I64), typ=I64)
                                          for k in range(8))
    pa, pb, pc = (b.inttoptr(p, PTR) for p in (pa, pb, pc))
    by_rows = b.icmp_signed("!=", split_m, const(I64, 0))
    dim = b.select(by_rows, M, N)
    prev = b.call(setn, [const(I32, 1)]) if blas else None

    def tile(t, _):
        start = b.mul(t, size)
        extent = b.sub(dim, start)
        extent = b.select(b.icmp_signed("<", extent, size), extent, size)
        off_a = b.select(by_rows, b.mul(start, K), const(I64, 0))
        off_b = b.select(by_rows, const(I64, 0), start)
        off_c = b.select(by_rows, b.mul(start, N), start)
        rows, cols = b.select(by_rows, extent, M), b.select(by_rows, N, extent)
        gemm.call(b, d.name, b.mul(b.mul(rows, cols), K), [  # graphflow's GEMM where it measured faster
            const(I32, 101), const(I32, 111), const(I32, 111), rows, cols, K, const(ft, 1.0),
            b.gep(pa, [off_a], source_etype=ft), K, b.gep(pb, [off_b], source_etype=ft), N,
            const(ft, 0.0), b.gep(pc, [off_c], source_etype=ft), N])
    for_range(b, task.args[0], task.args[1], tile)
    if blas:
        b.call(setn, [prev])
    b.ret_void()

    fn, eb = _entry(mod)
    M, N, K = fn.args[:3]
    macs = eb.mul(eb.mul(M, N), K)
    split_m = eb.icmp_signed(">=", M, N)
    dim = eb.select(split_m, M, N)
    threads = pool.threads()
    per_thread = eb.select(eb.icmp_signed("<", macs, const(I64, BLAS_BIG_MACS)), const(I64, TILES_PER_THREAD),
                           const(I64, 2))
    wanted = eb.select(eb.icmp_signed("<", macs, const(I64, EAGER_PARALLEL_MACS)), const(I64, 1),
                       eb.mul(per_thread, const(I64, threads)))
    size = eb.sdiv(eb.add(dim, eb.sub(wanted, const(I64, 1))), wanted)
    size = eb.mul(eb.sdiv(eb.add(size, const(I64, TILE_MIN - 1)), const(I64, TILE_MIN)), const(I64, TILE_MIN))
    ntiles = eb.sdiv(eb.add(dim, eb.sub(size, const(I64, 1))), size)
    slot = eb.alloca(I64, size=const(I32, 8))
    words = [M, N, K] + [eb.ptrtoint(p, I64) for p in fn.args[3:6]] + [size, eb.zext(split_m, I64)]
    for k, w in enumerate(words):
        eb.store(w, eb.gep(slot, [const(I64, k)], source_etype=I64))
    par = ir.Function(mod, ir.FunctionType(VOID, [PTR, PTR, I64, I64]), pool.SYMBOL)
    eb.call(par, [task, slot, ntiles, const(I64, 1)])  # one tile: runs on this thread
    eb.ret(const(I32, 0))
    return mod


def _reduce_kernel(name: str, dtype):
    return _load(("reduce", name, dtype.name), lambda: _build_reduce(name, dtype))


def _build_reduce(name: str, d) -> ir.Module:
    """rows: out[o] = R-reduce x[o, :] (vectorised over the row); columns: out[o, :] accumulates
    x[o, r, :] for each r (vectorised over the inner extent)."""
    mod = ir.Module(name="graphflow_eager")
    mod.triple = jit.triple()
    acc_t, ident, combine = reduction(name, d)
    st = storage_type(d)
    t = compute_type(d)
    _ = t
    body = ir.Function(mod, ir.FunctionType(VOID, [I64, I64, I64, I64, PTR, PTR]), "body")
    body.linkage = "internal"
    lo, hi, R, inner, x, y = body.args
    x.add_attribute("noalias")
    y.add_attribute("noalias")
    b = ir.IRBuilder(body.append_basic_block("entry"))
    with b.if_else(b.icmp_signed("==", inner, const(I64, 1))) as (rows, cols):
        with rows:
            def row(o, _):
                base = b.mul(o, R)
                total = for_range(b, const(I64, 0), R, lambda r, acc: combine(
                    b, acc, load_value(b, b.gep(x, [b.add(base, r)], source_etype=st), d)), ident)
                store_value(b, total, b.gep(y, [o], source_etype=st), d)
            for_range(b, lo, hi, row)
        with cols:
            def col(o, _):
                obase = b.mul(o, inner)
                for_range(b, const(I64, 0), inner, lambda i, _: store_value(
                    b, ident, b.gep(y, [b.add(obase, i)], source_etype=st), d))

                def over_r(r, _):
                    xbase = b.mul(b.add(b.mul(o, R), r), inner)

                    def lane(i, _):
                        p = b.gep(y, [b.add(obase, i)], source_etype=st)
                        v = combine(b, load_value(b, p, d), load_value(b, b.gep(x, [b.add(xbase, i)], source_etype=st), d))
                        store_value(b, v, p, d)
                    for_range(b, const(I64, 0), inner, lane)
                for_range(b, const(I64, 0), R, over_r)
            for_range(b, lo, hi, col)
    b.ret_void()

    fn, eb = _entry(mod)
    outer, R_, inner_, xp, yp = fn.args[:5]
    # split over the outer extent; with one outer row the (rare) single-row case stays serial
    _parallel(mod, eb, body, outer, [R_, inner_, xp, yp])
    eb.ret(const(I32, 0))
    _ = acc_t
    return mod


def _run_reduce(fn, op, x: np.ndarray, plan, out: TensorType) -> np.ndarray:
    outer, R, inner = plan
    if math.prod(out.shape) != outer * inner:
        raise ValueError(f"{op.name}: output type {out} does not fit an input of shape {x.shape}")
    x = _contig(x)
    result = new_result(out.shape, out.dtype.np)
    fn(outer, R, inner, *_ptrs([x, result]))
    return result
