"""graphflow's packed GEMM (graphflow/backends/llvm/gemm.py) against NumPy's OpenBLAS, measured
interleaved in one process (the machine is shared: each round times every contender once, and
the figures are medians, and bests, over the rounds).

    .venv/bin/python -m benchmarks.gemm_kernel [--rounds 15] [--dtype float32]

Single thread: both kernels called through their CBLAS entry points via ctypes (OpenBLAS set to
one thread). Two threads: each of two Python threads (ctypes drops the GIL) runs one half of the
rows of C, as the graph's pool tiles a product; "openblas-own" is one OpenBLAS call on its own two
threads; "graph" is a compiled graphflow matmul (whatever gemm.symbol picks, on the pool)."""

from __future__ import annotations

import argparse
import ctypes
import threading
import time
from functools import partial

import numpy as np

_P, _I, _L = ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64
# (label, M, N, K, A transposed, B transposed): the MLP's forward and gradient products included
SHAPES = [("1024^3", 1024, 1024, 1024, False, False), ("256^3", 256, 256, 256, False, False),
          ("64x784 @ 784x256", 64, 256, 784, False, False), ("64x256 @ 256x128", 64, 128, 256, False, False),
          ("x^T g: 784x64 @ 64x256 (A^T B)", 784, 256, 64, True, False),
          ("g W^T: 64x256 @ 256x784 (A B^T)", 64, 784, 256, False, True),
          ("512^3", 512, 512, 512, False, False)]


def _kernels(dtype: str) -> dict:
    from graphflow.backends.llvm import gemm, jit

    ct = ctypes.c_float if dtype == "float32" else ctypes.c_double
    proto = ctypes.CFUNCTYPE(None, _I, _I, _I, _L, _L, _L, ct, _P, _L, _P, _L, ct, _P, _L)
    name = gemm.SYMBOLS[dtype]
    ours = proto(gemm.ensure((name,))[name])
    lib = ctypes.CDLL(jit.blas_library())
    theirs = proto(ctypes.cast(getattr(lib, gemm.BLAS_SYMBOLS[dtype]), ctypes.c_void_p).value)
    setn = lib.scipy_openblas_set_num_threads64_
    setn.argtypes = [ctypes.c_int]
    return {"graphflow": ours, "openblas": theirs, "set_threads": setn}


def _operands(M, N, K, ta, tb, dtype):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    B = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    return A, B, np.zeros((M, N), dtype)


def _call(fn, M, N, K, ta, tb, A, B, C, row0=0, rows=None):
    rows = M - row0 if rows is None else rows
    size = A.itemsize
    a_off = row0 * size if ta else row0 * A.shape[1] * size
    fn(101, 112 if ta else 111, 112 if tb else 111, rows, N, K, 1.0, A.ctypes.data + a_off, A.shape[1],
       B.ctypes.data, B.shape[1], 0.0, C.ctypes.data + row0 * N * size, N)


def _two_threads(fn, M, N, K, ta, tb, A, B, C):
    half = (M // 2 + 15) // 16 * 16
    ts = [threading.Thread(target=_call, args=(fn, M, N, K, ta, tb, A, B, C, 0, half)),
          threading.Thread(target=_call, args=(fn, M, N, K, ta, tb, A, B, C, half, M - half))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def _time(run, flops: float, min_seconds: float = 0.02) -> float:
    reps, elapsed = 0, 0.0
    start = time.perf_counter()
    while elapsed < min_seconds:
        run()
        reps += 1
        elapsed = time.perf_counter() - start
    return flops * reps / elapsed / 1e9


def _report(label: str, figures: dict[str, list[float]]) -> None:
    med = {k: float(np.median(v)) for k, v in figures.items()}
    parts = "  ".join(f"{k} {med[k]:6.1f} (best {max(v):6.1f})" for k, v in figures.items())
    ratio = med["graphflow"] / med["openblas"] if "openblas" in med else float("nan")
    print(f"{label:34s} {parts}  ratio {ratio:4.2f}")


def _graph_runner(M, N, K, dtype):
    from graphflow.backends import get_backend
    from graphflow.ir import Graph, bind
    from graphflow.ir.dtypes import get_dtype

    x = bind("input", name="a", dtype=get_dtype(dtype), shape=(M, K))
    y = bind("input", name="b", dtype=get_dtype(dtype), shape=(K, N))
    exe = get_backend("llvm").compile(Graph([bind("matmul", x, y)], [x, y]))
    A, B, _ = _operands(M, N, K, False, False, dtype)
    return lambda: exe.run([A, B])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args()
    k = _kernels(args.dtype)
    print(f"GFLOP/s, {args.dtype}, median (best) of {args.rounds} interleaved rounds")
    print("-- one thread")
    k["set_threads"](1)
    for label, M, N, K, ta, tb in SHAPES:
        A, B, C = _operands(M, N, K, ta, tb, args.dtype)
        figs: dict[str, list[float]] = {"graphflow": [], "openblas": []}
        for _ in range(args.rounds):
            for name in figs:
                figs[name].append(_time(partial(_call, k[name], M, N, K, ta, tb, A, B, C), 2.0 * M * N * K))
        _report(label, figs)
    print("-- two threads, 1024^3")
    M = N = K = 1024
    A, B, C = _operands(M, N, K, False, False, args.dtype)
    graph = _graph_runner(M, N, K, args.dtype)
    figs = {"graphflow": [], "openblas": [], "openblas-own": [], "graph": []}
    for _ in range(args.rounds):
        k["set_threads"](1)
        for name in ("graphflow", "openblas"):
            figs[name].append(_time(partial(_two_threads, k[name], M, N, K, False, False, A, B, C),
                                    2.0 * M * N * K))
        k["set_threads"](2)
        figs["openblas-own"].append(_time(partial(_call, k["openblas"], M, N, K, False, False, A, B, C),
                                          2.0 * M * N * K))
        k["set_threads"](1)
        figs["graph"].append(_time(graph, 2.0 * M * N * K))
    _report("1024^3 (2 threads)", figs)


if __name__ == "__main__":
    main()
