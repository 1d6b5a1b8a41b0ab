"""This machine's float32 FMA peak, measured: the ceiling any GEMM here is held against.

    .venv/bin/python -m benchmarks.fma_peak [--seconds 0.5] [--rounds 5]

A generated loop of independent `<8 x float>` fused multiply-adds (12 accumulators, as many as
the GEMM micro-kernel keeps, enough to cover the FMA latency on both pipes) runs on one thread,
then on every core at once (one Python thread each; ctypes releases the GIL). Nothing but FMAs
runs in the loop, so the figure is the cores' arithmetic ceiling at the clock they hold under
that load; a GEMM also packs, loads and stores, so ~90% of it is what the best libraries reach."""

from __future__ import annotations

import argparse
import ctypes
import os
import threading
import time

import llvmlite.ir as ir

LANES = 8
CHAINS = 12
UNROLL = 4
SYMBOL = "gf_fma_peak"


def build_ir() -> str:
    """`void gf_fma_peak(i64 trips, float *io)`: trips x UNROLL x CHAINS vector FMAs
    acc = acc * io[0] + io[1], their sum stored to io[0..8) (operands read at run time, so the
    compiler cannot fold the FMA into an add)."""
    from graphflow.backends.llvm import jit
    from graphflow.backends.llvm.emit import F32, I64, PTR, const

    mod = ir.Module(name="graphflow_fma_peak")
    mod.triple = jit.triple()
    vt = ir.VectorType(F32, LANES)
    fma = ir.Function(mod, ir.FunctionType(vt, [vt, vt, vt]), "llvm.fma.v8f32")
    fn = ir.Function(mod, ir.FunctionType(ir.VoidType(), [I64, PTR]), SYMBOL)
    trips, io = fn.args
    entry = fn.append_basic_block("entry")
    loop = fn.append_basic_block("loop")
    done = fn.append_basic_block("done")
    b = ir.IRBuilder(entry)
    undef = ir.Constant(vt, ir.Undefined)
    lane0 = ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES)

    def splat(k: int) -> ir.Value:
        x = b.load(b.gep(io, [const(I64, k)], source_etype=F32), typ=F32)
        return b.shuffle_vector(b.insert_element(undef, x, const(ir.IntType(32), 0)), undef, lane0)

    mul, add = splat(0), splat(1)
    inits = [ir.Constant(vt, [float(i + 1)] * LANES) for i in range(CHAINS)]
    b.branch(loop)
    b.position_at_end(loop)
    i = b.phi(I64)
    i.add_incoming(const(I64, 0), entry)
    accs = [b.phi(vt) for _ in range(CHAINS)]
    for acc, init in zip(accs, inits):
        acc.add_incoming(init, entry)
    cur = list(accs)
    for _ in range(UNROLL):
        cur = [b.call(fma, [c, mul, add]) for c in cur]
    nxt = b.add(i, const(I64, 1))
    i.add_incoming(nxt, loop)
    for acc, c in zip(accs, cur):
        acc.add_incoming(c, loop)
    b.cbranch(b.icmp_signed("<", nxt, trips), loop, done)
    b.position_at_end(done)
    total = cur[0]
    for c in cur[1:]:
        total = b.fadd(total, c)
    b.store(total, io, align=4)
    b.ret_void()
    return str(mod)


def _kernel() -> ctypes._CFuncPtr:
    from graphflow.backends.llvm import jit

    loaded = jit.LoadedObject(jit.compile_ir(build_ir()))
    fn = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_void_p)(loaded.address(SYMBOL))
    fn._keep = loaded  # the engine lives as long as the function
    return fn


def gflops(fn, threads: int, seconds: float) -> float:
    """Aggregate GFLOP/s of `threads` threads each running the FMA loop for about `seconds`."""
    flops_per_trip = UNROLL * CHAINS * LANES * 2
    bufs = [(ctypes.c_float * LANES)(1.0, 1e-30) for _ in range(threads + 1)]  # x * 1 + tiny: finite
    probe = bufs.pop()  # held while the loop writes its sum there
    t = time.perf_counter()
    fn(1 << 16, ctypes.addressof(probe))
    per_trip = max((time.perf_counter() - t) / (1 << 16), 1e-10)
    trips = max(1, int(seconds / per_trip))
    workers = [threading.Thread(target=fn, args=(trips, ctypes.addressof(buf))) for buf in bufs]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return threads * trips * flops_per_trip / (time.perf_counter() - start) / 1e9


def measure(seconds: float = 0.5, rounds: int = 5) -> dict[str, float]:
    """Best of `rounds` for one thread and for one thread per core (the machine's peak is the
    best it sustains; lower rounds are other tenants' load)."""
    fn = _kernel()
    cores = os.cpu_count() or 1
    one = max(gflops(fn, 1, seconds) for _ in range(rounds))
    every = max(gflops(fn, cores, seconds) for _ in range(rounds))
    return {"cores": cores, "one_thread": one, "all_cores": every}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=0.5)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    peak = measure(args.seconds, args.rounds)
    print(f"float32 FMA peak: {peak['one_thread']:.1f} GFLOP/s on one thread, {peak['all_cores']:.1f} on "
          f"{peak['cores']} threads (best of {args.rounds} rounds of {args.seconds} s)")


if __name__ == "__main__":
    main()
