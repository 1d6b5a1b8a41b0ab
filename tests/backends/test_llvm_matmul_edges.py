"""Matmuls with degenerate sizes (M, N or K of 0 or 1) on the llvm backend, their operands coming
from every kind of producer: graph inputs, transposes folded into the BLAS call, reshapes,
broadcasts, fused elementwise producers and constants (a one-element constant is otherwise
inlined into the code as a scalar and has no buffer a BLAS call could be handed). Compiled
graphs, eager single ops, and the training step of a one-output linear layer."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import graphflow.ops as ops
from graphflow.backends import available, get_backend
from graphflow.ir import Graph, bind, get_op
from graphflow.ir.bind import GRAPH_BUILDER
from graphflow.ir.dtypes import get_dtype
from graphflow.ir.graph import Attrs, TensorType

pytestmark = pytest.mark.skipif(available().get("llvm") != "available", reason="llvm backend unavailable")

SIZES = (0, 1, 3)
# (M, K, N): every combination with at least one size of 0 or 1, plus one plain product
SHAPES = [s for s in itertools.product(SIZES, repeat=3) if min(s) <= 1] + [(3, 3, 3)]


def _inp(name: str, shape, dtype: str) -> object:
    return bind("input", name=name, dtype=get_dtype(dtype), shape=tuple(shape))


def _operand(kind: str, shape: tuple[int, int], dtype: str, name: str, rng, feeds: list, inputs: list):
    """A node of `shape` made by producer `kind`, and (in place) the arrays and inputs it needs.
    Returns (node, the operand's value as NumPy computes it)."""
    r, c = shape

    def value(s):
        v = rng.integers(-3, 4, s) if dtype.startswith("int") else rng.uniform(-2, 2, s)
        return np.asarray(v).astype(dtype)

    if kind == "const":
        a = value(shape)
        return GRAPH_BUILDER.constant(a), a
    if kind == "const_t":  # a transposed constant: the BLAS call reads the constant's memory
        a = value((c, r))
        return ops.transpose(GRAPH_BUILDER.constant(a), 0, 1), a.T
    if kind == "input":
        a = value(shape)
        node = _inp(name, shape, dtype)
    elif kind == "transpose":
        a = value((c, r))
        node = _inp(name, (c, r), dtype)
        feeds.append(a)
        inputs.append(node)
        return ops.transpose(node, 0, 1), a.T
    elif kind == "reshape":
        a = value((r * c,))
        node = _inp(name, (r * c,), dtype)
        feeds.append(a)
        inputs.append(node)
        return ops.reshape(node, r, c), a.reshape(r, c)
    elif kind == "broadcast":  # a row broadcast down the rows
        a = value((1, c))
        node = _inp(name, (1, c), dtype)
        feeds.append(a)
        inputs.append(node)
        return bind("broadcast_to", node, shape=(r, c)), np.broadcast_to(a, (r, c))
    elif kind == "fused":  # an elementwise producer the fusion may place next to the matmul
        a = value(shape)
        node = _inp(name, shape, dtype)
        feeds.append(a)
        inputs.append(node)
        return ops.mul(ops.add(node, node), node), (a + a) * a
    else:
        raise AssertionError(kind)
    feeds.append(a)
    inputs.append(node)
    return node, a


KINDS = ("input", "transpose", "reshape", "broadcast", "fused", "const", "const_t")


def _case_graph(cases, dtype: str, seed: int):
    """All cases as one graph (one compile): returns (graph, feeds, expected outputs). Every
    other case gets an elementwise epilogue after the product (fused with it)."""
    rng = np.random.default_rng(seed)
    feeds, inputs, outs, want = [], [], [], []
    for k, ((M, K, N), ka, kb) in enumerate(cases):
        a, av = _operand(ka, (M, K), dtype, f"a{k}", rng, feeds, inputs)
        b, bv = _operand(kb, (K, N), dtype, f"b{k}", rng, feeds, inputs)
        y = ops.matmul(a, b)
        expected = av.astype(np.float64) @ bv.astype(np.float64)
        if k % 2:
            y = ops.add(y, y)
            expected = expected * 2
        outs.append(y)
        want.append(expected)
    return Graph(outs, inputs), feeds, want


def _check(graph, feeds, want, dtype: str) -> None:
    got = get_backend("llvm").compile(graph).run(feeds)
    ref = get_backend("numpy").compile(graph).run(feeds)
    for g, r, w in zip(got, ref, want):
        assert g.shape == w.shape and g.dtype == np.dtype(dtype)
        if dtype.startswith("int"):
            np.testing.assert_array_equal(g, w.astype(dtype))
        else:
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5)


def test_degenerate_matmuls_every_producer_float32():
    """float32 (the BLAS path): every pair of operand producers on single-element and
    vector-shaped products, and each producer on every degenerate shape."""
    pairs = list(itertools.product(KINDS, KINDS))
    cases = [(s, ka, kb) for s in [(1, 1, 1), (1, 3, 1), (3, 1, 1), (1, 1, 3)] for ka, kb in pairs]
    cases += [(s, k, k2) for s in SHAPES for k, k2 in zip(KINDS, KINDS[2:] + KINDS[:2])]
    graph, feeds, want = _case_graph(cases, "float32", 1)
    _check(graph, feeds, want, "float32")


@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_degenerate_matmuls_other_dtypes(dtype):
    """float64 (BLAS) and int32 (the generic loop): each producer on each degenerate shape."""
    cases = [(s, k, k2) for s in SHAPES for k, k2 in zip(KINDS, KINDS[1:] + KINDS[:1])]
    graph, feeds, want = _case_graph(cases, dtype, 2)
    _check(graph, feeds, want, dtype)


def test_one_element_constant_operand_of_blas_matmul():
    """The seed of a gradient, ones((1, 1)), times an input: the constant needs a buffer."""
    x = _inp("x", (1, 3), "float32")
    y = ops.matmul(GRAPH_BUILDER.constant(np.ones((1, 1), np.float32)), x)
    got = get_backend("llvm").compile(Graph([y], [x])).run([np.arange(3, dtype=np.float32).reshape(1, 3)])[0]
    np.testing.assert_array_equal(got, [[0, 1, 2]])


@pytest.mark.parametrize("M, K, N", [(1, 1, 1), (1, 3, 1), (0, 3, 2), (2, 0, 3), (2, 3, 0), (1, 0, 1), (3, 1, 4)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_eager_degenerate_matmul(M, K, N, dtype):
    """Eager single ops: degenerate sizes and non-contiguous (transposed, strided) operands."""
    rng = np.random.default_rng(M * 100 + K * 10 + N)
    a = rng.uniform(-2, 2, (K, M)).astype(dtype).T  # transposed view
    b = rng.uniform(-2, 2, (K, 2 * N)).astype(dtype)[:, ::2]  # strided view
    got = get_backend("llvm").run_op(get_op("matmul"), [a, b], Attrs({}), TensorType(get_dtype(dtype), (M, N)))
    assert got.shape == (M, N) and got.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("batch, out", [(1, 1), (1, 2), (2, 1)])
def test_linear_step_with_one_output_or_one_row(batch, out):
    """gf.compile of a step through a bias-free Linear with one output feature or a batch of
    one: the backward pass multiplies by the one-element gradient seed."""
    import graphflow as gf
    import graphflow.nn as nn
    from graphflow.eager.runtime import RUNTIME

    prev = RUNTIME.name or None
    gf.set_backend("llvm")
    try:
        lin = nn.Linear(3, out, bias=False)
        x = np.arange(1, 3 * batch + 1, dtype=np.float32).reshape(batch, 3)

        def step(x):
            lin.weight.grad = None
            loss = lin(x).sum()
            loss.backward()
            return loss

        w = np.array(lin.weight.detach().numpy(), copy=True)
        loss = gf.compile(step)(gf.tensor(x))
        np.testing.assert_allclose(loss.detach().numpy(), (x @ w.T).sum(), rtol=1e-5)
        np.testing.assert_allclose(lin.weight.grad.numpy(), np.broadcast_to(x.sum(0), (out, 3)), rtol=1e-6)
        eager = step(gf.tensor(x))  # the same step op by op
        np.testing.assert_allclose(eager.detach().numpy(), (x @ w.T).sum(), rtol=1e-5)
        np.testing.assert_allclose(lin.weight.grad.numpy(), np.broadcast_to(x.sum(0), (out, 3)), rtol=1e-6)
    finally:
        gf.set_backend(prev)


@pytest.mark.parametrize("M, K, N", [(64, 256, 255), (64, 256, 257), (257, 128, 130), (130, 64, 513), (17, 1000, 300)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_eager_matmul_either_side_of_the_pool_threshold(M, K, N, dtype):
    """Eager products just below and above `EAGER_PARALLEL_MACS` (one call on this thread, or
    tiles of C over the pool split along the longer of M and N, with a ragged last tile) give
    the product of every row and column."""
    from graphflow.backends.llvm.eager import EAGER_PARALLEL_MACS

    rng = np.random.default_rng(M + K + N)
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    got = get_backend("llvm").run_op(get_op("matmul"), [a, b], Attrs({}), TensorType(get_dtype(dtype), (M, N)))
    want = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    assert 64 * 256 * 255 < EAGER_PARALLEL_MACS <= 64 * 256 * 257  # the first two shapes straddle it
