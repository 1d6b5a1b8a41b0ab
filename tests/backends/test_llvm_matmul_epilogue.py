"""Matmul epilogues on the llvm backend: the elementwise ops after a product (bias, relu, the
relu-gradient mask, an SGD update) run on each tile right after its BLAS call, the product written
into an output's buffer when nothing else reads it. Values against the NumPy reference for odd
and tiled shapes, transposed operands, batches, other dtypes; plan structure for the MLP step."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow.ops as ops
from graphflow.backends import available, get_backend
from graphflow.backends.llvm.plan import EW, MATMUL
from graphflow.ir import Graph, bind
from graphflow.ir.dtypes import get_dtype

pytestmark = pytest.mark.skipif(available().get("llvm") != "available", reason="llvm backend unavailable")

# (M, K, N): degenerate sizes, a vector width plus one, and products big enough to be cut into
# tiles over rows (M >= N) or columns (M < N)
SHAPES = [(1, 1, 1), (1, 5, 17), (17, 1, 3), (0, 3, 4), (3, 0, 4), (64, 33, 17), (130, 70, 120), (40, 300, 100)]
LR = 0.125


def _inp(name: str, shape, dtype: str = "float32"):
    return bind("input", name=name, dtype=get_dtype(dtype), shape=tuple(shape))


def _values(rng, shape, dtype="float32"):
    if dtype.startswith("int"):
        return rng.integers(-3, 4, shape).astype(dtype)
    return rng.uniform(-2, 2, shape).astype(dtype)


def _check(outs, inputs, feeds, rtol=2e-5):
    g = Graph(outs, inputs)
    ex = get_backend("llvm").compile(g)
    got = ex.run(feeds)
    want = get_backend("numpy").compile(g).run(feeds)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
    # a second call reuses the executable's memory: same answers
    for a, b in zip(ex.run(feeds), want):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
    return ex


@pytest.mark.parametrize("M,K,N", SHAPES)
def test_bias_relu_and_mask(M, K, N):
    rng = np.random.default_rng(M * 100 + K * 10 + N)
    x, w, b = _inp("x", (M, K)), _inp("w", (K, N)), _inp("b", (N,))
    h = ops.add(ops.matmul(x, w), b)
    mask = ops.le(h, 0.0)
    relu = ops.where(mask, 0.0, h)
    ex = _check([mask, relu], [x, w, b], [_values(rng, (M, K)), _values(rng, (K, N)), _values(rng, (N,))])
    units = [u for u in ex.plan.units if u.kind != "callback"]
    assert [u.kind for u in units] == [MATMUL] or M * N == 0
    if M * N:
        mm = units[0]
        assert mm.alias is not None and all(o.op.name != "matmul" for o in mm.outputs)


@pytest.mark.parametrize("M,K,N", SHAPES)
def test_sgd_update_of_a_transposed_product(M, K, N):
    """w - lr * (a^T @ g): the weight gradient of a linear layer and its update, one unit; the
    transpose is a BLAS flag, never a copy."""
    rng = np.random.default_rng(M + K + N)
    a, g, w = _inp("a", (K, M)), _inp("g", (K, N)), _inp("w", (M, N))
    new = ops.sub(w, ops.mul(ops.matmul(ops.transpose(a, 0, 1), g), LR))
    ex = _check([new], [a, g, w], [_values(rng, (K, M)), _values(rng, (K, N)), _values(rng, (M, N))])
    if M * N:
        assert [u.kind for u in ex.plan.units] == [MATMUL]
        assert not any(ex.plan.buffers[ex.plan.buffer_of[n.id]].kind == "scratch"
                       for n in ex.plan.graph.nodes if n.id in ex.plan.buffer_of)


@pytest.mark.parametrize("M,K,N", SHAPES)
def test_relu_gradient_with_a_transposed_weight(M, K, N):
    rng = np.random.default_rng(7 + M)
    g, w, m = _inp("g", (M, K)), _inp("w", (N, K)), _inp("m", (M, N), "bool")
    out = ops.where(m, 0.0, ops.matmul(g, ops.transpose(w, 0, 1)))
    _check([out], [g, w, m], [_values(rng, (M, K)), _values(rng, (N, K)), rng.random((M, N)) < 0.5])


@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_other_dtypes(dtype):
    """float64 through dgemm, int32 through the generic loops (epilogue per element)."""
    rng = np.random.default_rng(3)
    x, w, b = _inp("x", (9, 5), dtype), _inp("w", (5, 17), dtype), _inp("b", (17,), dtype)
    out = ops.maximum(ops.add(ops.matmul(x, w), b), ops.mul(b, 2))
    _check([out], [x, w, b], [_values(rng, (9, 5), dtype), _values(rng, (5, 17), dtype), _values(rng, (17,), dtype)],
           rtol=1e-12)


def test_batched_product_with_epilogue():
    rng = np.random.default_rng(4)
    x, w, c = _inp("x", (3, 2, 70, 40)), _inp("w", (3, 2, 40, 130)), _inp("c", (2, 1, 130))
    out = ops.tanh(ops.add(ops.matmul(x, w), c))
    _check([out], [x, w, c], [_values(rng, (3, 2, 70, 40)), _values(rng, (3, 2, 40, 130)), _values(rng, (2, 1, 130))])


def test_product_read_elsewhere_keeps_its_buffer():
    """The product is also a graph output: it gets its own buffer, the epilogue reads it."""
    rng = np.random.default_rng(5)
    x, w = _inp("x", (33, 20)), _inp("w", (20, 129))
    p = ops.matmul(x, w)
    out = ops.exp(ops.neg(p))
    ex = _check([p, out, ops.reshape(ops.mul(p, 3.0), -1)], [x, w], [_values(rng, (33, 20)), _values(rng, (20, 129))])
    mm = [u for u in ex.plan.units if u.kind == MATMUL]
    assert len(mm) == 1 and mm[0].alias is None and any(o.op.name == "matmul" for o in mm[0].outputs)


def test_non_contiguous_feeds():
    rng = np.random.default_rng(6)
    x, w, b = _inp("x", (31, 18)), _inp("w", (18, 65)), _inp("b", (65,))
    out = ops.sigmoid(ops.add(ops.matmul(x, w), b))
    _check([out], [x, w, b], [_values(rng, (18, 31)).T, _values(rng, (65, 18)).T, _values(rng, (130,))[::2]])


def test_mlp_step_plan_has_no_separate_epilogue_passes():
    """Every elementwise pass over a product's output is fused into the product's unit, no
    transposed operand is materialised, and recomputed index maths (a broadcast zero) is not
    written to memory by the kernels that recompute it."""
    from benchmarks.cpu_kernels import mlp_executable

    ex, feeds = mlp_executable()
    plan = ex.plan
    products = {u.matmul.id for u in plan.units if u.kind == MATMUL}
    for u in plan.units:
        assert u.kind != EW or not any(r.id in products for r in u.reads()), u.name
    written = [plan.buffers[plan.buffer_of[o.id]].node for u in plan.units for o in u.outputs]
    assert not any(n.op.name == "permute" for n in written)
    assert not any(n.op.name == "broadcast_to" and n.shape in ((64, 256), (64, 128)) for n in written)
    assert sum(u.kind == MATMUL for u in plan.units) == 8
    assert all(u.epilogue for u in plan.units if u.kind == MATMUL)
    ref = get_backend("numpy").compile(ex.source_graph).run(feeds)
    for a, b in zip(ex.run(feeds), ref):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
