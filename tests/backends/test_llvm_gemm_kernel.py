"""graphflow's own packed GEMM (`graphflow/backends/llvm/gemm.py`): called directly through its
CBLAS signature (transposes, strides larger than the minimum, alpha/beta, column-major order,
edges of every size against the MR x NR register tile, C outside the written region untouched,
beta == 0 ignoring NaN in C) and through compiled graphs and eager matmuls, against float64
NumPy products with float32 tolerances."""

from __future__ import annotations

import ctypes
import itertools
import threading

import numpy as np
import pytest

from graphflow.backends import available, get_backend
from graphflow.ir import Graph, bind, get_op
from graphflow.ir.dtypes import get_dtype
from graphflow.ir.graph import Attrs, TensorType

pytestmark = pytest.mark.skipif(available().get("llvm") != "available", reason="llvm backend unavailable")

SIZES = (0, 1, 2, 5, 6, 7, 15, 16, 17, 31, 100, 257)
TOL = {"float32": 2e-5, "float64": 1e-12}
_P, _I, _L = ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64


def _kernel(dtype: str):
    from graphflow.backends.llvm import gemm

    name = gemm.SYMBOLS[dtype]
    addr = gemm.ensure((name,))[name]
    ct = ctypes.c_float if dtype == "float32" else ctypes.c_double
    return ctypes.CFUNCTYPE(None, _I, _I, _I, _L, _L, _L, ct, _P, _L, _P, _L, ct, _P, _L)(addr)


def _sampled_shapes(count: int, seed: int) -> list[tuple[int, int, int]]:
    every = list(itertools.product(SIZES, repeat=3))
    rng = np.random.default_rng(seed)
    picked = [every[k] for k in rng.choice(len(every), count, replace=False)]
    return picked + [(257, 257, 257), (6, 16, 4), (7, 17, 300), (0, 5, 5), (5, 5, 0)]


def _check(dtype, M, N, K, ta, tb, alpha, beta, pad, rng, order="row"):
    """Run the kernel on padded operands (lda/ldb/ldc larger than needed, C in a larger array)
    and compare the M x N region with float64 NumPy; everything around it must be untouched."""
    fn = _kernel(dtype)
    np_t = np.dtype(dtype)
    a_rows, a_cols = (K, M) if ta else (M, K)
    b_rows, b_cols = (N, K) if tb else (K, N)
    A = rng.standard_normal((max(a_rows, 1), a_cols + pad)).astype(np_t)
    B = rng.standard_normal((max(b_rows, 1), b_cols + pad)).astype(np_t)
    C = rng.standard_normal((M + 2, N + pad + 2)).astype(np_t)
    if beta == 0:
        C[1:M + 1, 1:N + 1] = np.nan  # C is not read when beta == 0
    before = C.copy()
    a = A[:a_rows, :a_cols].astype(np.float64)
    b = B[:b_rows, :b_cols].astype(np.float64)
    prod = (a.T if ta else a) @ (b.T if tb else b)
    old = np.nan_to_num(before[1:M + 1, 1:N + 1].astype(np.float64))
    want = alpha * prod + (beta * old if beta != 0 else 0)
    lda, ldb, ldc = A.shape[1], B.shape[1], C.shape[1]
    c_ptr = C.ctypes.data + (ldc + 1) * np_t.itemsize
    if order == "row":
        fn(101, 112 if ta else 111, 112 if tb else 111, M, N, K, alpha, A.ctypes.data, lda, B.ctypes.data, ldb,
           beta, c_ptr, ldc)
    else:  # column-major: C^T = op(B)^T op(A)^T with the same row-major buffers read as columns
        fn(102, 112 if tb else 111, 112 if ta else 111, N, M, K, alpha, B.ctypes.data, ldb, A.ctypes.data, lda,
           beta, c_ptr, ldc)
    got = C[1:M + 1, 1:N + 1].astype(np.float64)
    scale = np.sqrt(max(K, 1)) * (abs(alpha) + abs(beta)) + 1
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype] * scale,
                               err_msg=f"{dtype} M={M} N={N} K={K} ta={ta} tb={tb} alpha={alpha} beta={beta}")
    outside = np.ones(C.shape, bool)
    outside[1:M + 1, 1:N + 1] = False
    np.testing.assert_array_equal(C[outside], before[outside])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ta,tb", list(itertools.product([False, True], repeat=2)))
def test_direct_sampled_shapes(dtype, ta, tb):
    rng = np.random.default_rng(len(dtype) + 2 * ta + tb)
    for k, (M, N, K) in enumerate(_sampled_shapes(30, 7 + 2 * ta + tb)):
        _check(dtype, M, N, K, ta, tb, 1.0, 0.0, pad=k % 3 * 5, rng=rng)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (0.5, -2.0), (-1.5, 0.0), (0.0, 0.5), (0.0, 0.0), (2.0, 1.0)])
def test_direct_alpha_beta(dtype, alpha, beta):
    rng = np.random.default_rng(3)
    for M, N, K in [(17, 31, 5), (100, 16, 257), (7, 6, 0), (6, 33, 600)]:
        _check(dtype, M, N, K, True, False, alpha, beta, pad=3, rng=rng)
        _check(dtype, M, N, K, False, True, alpha, beta, pad=0, rng=rng)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_direct_column_major(dtype):
    rng = np.random.default_rng(5)
    for (M, N, K), (ta, tb) in zip([(15, 17, 31), (100, 7, 16), (6, 257, 2)], [(False, False), (True, False),
                                                                              (False, True)]):
        _check(dtype, M, N, K, ta, tb, 0.75, 1.0, pad=2, rng=rng, order="col")


def test_blocks_larger_than_the_cache_blocking():
    """K beyond KC (several accumulation passes), M beyond MC, N beyond NC."""
    from graphflow.backends.llvm import gemm

    blk = gemm.BLOCKING["float32"]
    rng = np.random.default_rng(11)
    _check("float32", blk.mc + 7, 40, 2 * blk.kc + 3, False, False, 1.0, 0.5, pad=1, rng=rng)
    _check("float32", 9, blk.nc + 21, 12, False, True, 1.0, 0.0, pad=0, rng=rng)


def test_concurrent_calls_keep_their_own_scratch():
    fn = _kernel("float32")
    rng = np.random.default_rng(2)
    jobs = []
    for t in range(6):
        A = rng.standard_normal((150, 70 + t)).astype(np.float32)
        B = rng.standard_normal((70 + t, 90)).astype(np.float32)
        jobs.append((A, B, np.empty((150, 90), np.float32)))

    def work(A, B, C):
        for _ in range(20):
            fn(101, 111, 111, 150, 90, A.shape[1], 1.0, A.ctypes.data, A.shape[1], B.ctypes.data, 90, 0.0,
               C.ctypes.data, 90)
    threads = [threading.Thread(target=work, args=j) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for A, B, C in jobs:
        np.testing.assert_allclose(C, A.astype(np.float64) @ B.astype(np.float64), rtol=1e-5, atol=1e-4)


def _inp(name: str, shape, dtype: str):
    return bind("input", name=name, dtype=get_dtype(dtype), shape=tuple(shape))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_graphs_batched_and_transposed(dtype):
    """Compiled graphs: plain, transposed operands (folded into the call) and batched products,
    sizes large enough to be tiled over the pool and small ones run whole."""
    from graphflow import ops

    rng = np.random.default_rng(9)
    cases = [((257, 100), (100, 31), False, False), ((64, 784), (256, 784), False, True),
             ((256, 64), (256, 784), True, False), ((3, 17, 31), (3, 31, 100), False, False),
             ((2, 300, 5), (2, 5, 7), False, False), ((400, 300), (300, 500), False, False)]
    inputs, feeds, outs, want = [], [], [], []
    for k, (sa, sb, ta, tb) in enumerate(cases):
        x, y = _inp(f"a{k}", sa, dtype), _inp(f"b{k}", sb, dtype)
        a = rng.standard_normal(sa).astype(dtype)
        b = rng.standard_normal(sb).astype(dtype)
        xx = ops.transpose(x, -2, -1) if ta else x
        yy = ops.transpose(y, -2, -1) if tb else y
        outs.append(bind("matmul", xx, yy))
        inputs += [x, y]
        feeds += [a, b]
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        want.append(np.matmul(np.swapaxes(a64, -1, -2) if ta else a64, np.swapaxes(b64, -1, -2) if tb else b64))
    got = get_backend("llvm").compile(Graph(outs, inputs)).run(feeds)
    for g, w, (sa, *_rest) in zip(got, want, cases):
        K = sa[-2] if _rest[1] else sa[-1]
        np.testing.assert_allclose(g, w, rtol=TOL[dtype], atol=TOL[dtype] * np.sqrt(K) * 4)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("M,K,N", [(64, 784, 256), (257, 17, 100), (1, 31, 7), (600, 300, 200), (5, 0, 3)])
def test_eager_matmul(dtype, M, K, N):
    rng = np.random.default_rng(M * 7 + K)
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    got = get_backend("llvm").run_op(get_op("matmul"), [a, b], Attrs({}), TensorType(get_dtype(dtype), (M, N)))
    want = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype] * np.sqrt(max(K, 1)) * 4)


def test_symbol_table():
    from graphflow.backends.llvm import gemm

    if gemm.has_blas():
        for macs in (1, 1 << 20, 1 << 40):
            assert gemm.symbol("float32", macs) == gemm.BLAS_SYMBOLS["float32"]
    for d, (start, stop) in gemm.NATIVE_MACS.items():
        assert gemm.symbol(d, start) == gemm.SYMBOLS[d]
        if start:
            assert gemm.symbol(d, start - 1) == gemm.BLAS_SYMBOLS[d]
        if stop is not None:
            assert gemm.symbol(d, stop) == gemm.BLAS_SYMBOLS[d]
            assert gemm.symbol(d, stop - 1) == gemm.SYMBOLS[d]


def test_without_openblas_every_product_runs_graphflows_kernel(monkeypatch, tmp_path):
    """A NumPy built without OpenBLAS (MKL, Accelerate): graphs and eager matmul call the own
    kernel, and nothing refers to OpenBLAS's symbols."""
    from graphflow import ops
    from graphflow.backends.llvm import cache, eager, executable, gemm, jit

    monkeypatch.setattr(jit, "blas_library", lambda: None)
    monkeypatch.setattr(eager, "_kernels", {})
    monkeypatch.setenv("GRAPHFLOW_CACHE_DIR", str(tmp_path))
    cache.clear_memory()
    monkeypatch.setattr(executable, "_loaded", {})
    for d in ("float32", "float64"):
        assert gemm.symbol(d, 1 << 30) == gemm.SYMBOLS[d]
    rng = np.random.default_rng(3)
    a = rng.standard_normal((70, 33)).astype(np.float32)
    b = rng.standard_normal((33, 90)).astype(np.float32)
    x, w = _inp("x", (70, 33), "float32"), _inp("w", (33, 90), "float32")
    ex = get_backend("llvm").compile(Graph([ops.relu(ops.matmul(x, w))], [x, w]))
    blob = cache.get(ex.key)
    assert b"openblas" not in blob and b"scipy_cblas" not in blob
    want = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(ex.run([a, b])[0], np.maximum(want, 0), rtol=1e-5, atol=1e-4)
    got = get_backend("llvm").run_op(get_op("matmul"), [a, b], Attrs({}), TensorType(get_dtype("float32"), (70, 90)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
