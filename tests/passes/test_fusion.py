"""Kernel-count tests for known graphs, the cost rules at kernel boundaries, and kernel-by-kernel
execution of partitions against the NumPy reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphflow as gf
import graphflow.ops as O
from graphflow import autodiff
from graphflow.ir import Graph, bind
from graphflow.passes.fusion import partition
from graphflow.passes.kernel import ELEMENTWISE, MATMUL, OPAQUE, REDUCE, kernel_counts, one_kernel_per_node
from graphflow.passes.pipeline import run_pipeline

from .conftest import inp, run
from .partition_exec import check_memory_plan, run_partitioned

F32 = gf.float32


def compiled(outputs, inputs):
    g = run_pipeline(Graph(outputs, inputs), verify=True)
    pg = partition(g)
    pg.validate()
    check_memory_plan(pg)
    return g, pg


def agrees(g, pg, *arrays):
    want = run(g, *arrays)
    got = run_partitioned(pg, list(arrays))
    for a, b in zip(want, got):
        np.testing.assert_allclose(b, a, rtol=1e-6, equal_nan=True)


def gelu_tanh(h):
    inner = O.mul(math.sqrt(2 / math.pi), O.add(h, O.mul(0.044715, O.mul(O.mul(h, h), h))))
    return O.mul(O.mul(h, 0.5), O.add(1.0, O.tanh(inner)))


def test_gelu_of_affine_is_one_kernel():
    x, w, b = inp("x", (8, 16), F32), inp("w", (8, 16), F32), inp("b", (16,), F32)
    g, pg = compiled([gelu_tanh(O.add(O.mul(x, w), b))], [x, w, b])
    assert len(pg.compute_kernels) == 1 and pg.compute_kernels[0].kind == ELEMENTWISE
    assert {"tanh", "mul", "add", "broadcast_to"} <= set(pg.compute_kernels[0].ops)
    rng = np.random.default_rng(0)
    agrees(g, pg, *(rng.normal(size=s).astype(np.float32) for s in ((8, 16), (8, 16), (16,))))


def test_gelu_matmul_epilogue_is_one_kernel():
    x, w, b = inp("x", (8, 16), F32), inp("w", (16, 4), F32), inp("b", (4,), F32)
    g, pg = compiled([gelu_tanh(O.add(O.matmul(x, w), b))], [x, w, b])
    (k,) = pg.compute_kernels
    assert k.kind == MATMUL and "tanh" in k.ops and k.root.op.name == "matmul"


def test_softmax_over_rows_is_at_most_two_kernels():
    x = inp("x", (5, 7), F32)
    g, pg = compiled([O.softmax(x, dim=1)], [x])
    kernels = pg.compute_kernels
    assert len(kernels) <= 2
    assert [k.kind for k in kernels] == [REDUCE, REDUCE]
    second = kernels[1]
    assert second.roles[second.root.id] == "root" and "exp" in second.ops and "div" in second.ops
    agrees(g, pg, np.random.default_rng(1).normal(size=(5, 7)).astype(np.float32))


def test_reduction_takes_producers_and_consumers():
    x = inp("x", (6, 9), F32)
    g, pg = compiled([O.sqrt(O.mean(O.mul(x, x), dim=1))], [x])  # rms: mul -> sum -> div -> sqrt
    (k,) = pg.compute_kernels
    assert k.kind == REDUCE and k.ops.count("reduce_sum") == 1 and "sqrt" in k.ops and "mul" in k.ops


def test_value_used_by_two_reductions_is_materialised_once():
    x = inp("x", (4, 6), F32)
    y = O.exp(x)
    g, pg = compiled([O.sum(y, 1), O.amax(y, 1)], [x])
    kinds = kernel_counts(pg.compute_kernels)
    assert kinds == {ELEMENTWISE: 1, REDUCE: 2}
    assert sum(k.ops.count("exp") for k in pg.compute_kernels) == 1


def test_cheap_shared_value_is_recomputed_not_materialised():
    x, b = inp("x", (4, 6), F32), inp("b", (6,), F32)
    bb = O.broadcast_to(b, (4, 6))
    g, pg = compiled([O.sum(O.add(x, bb), 1), O.amax(O.mul(x, bb), 1)], [x, b])
    assert kernel_counts(pg.compute_kernels) == {REDUCE: 2}
    assert all("broadcast_to" in k.ops for k in pg.compute_kernels)


def test_expensive_value_is_not_recomputed_through_an_expanding_broadcast():
    x, b = inp("x", (64, 6), F32), inp("b", (6,), F32)
    g, pg = compiled([O.add(x, O.broadcast_to(O.exp(b), (64, 6)))], [x, b])
    assert len(pg.compute_kernels) == 2
    assert pg.compute_kernels[0].ops == ["exp"]


def test_graph_output_is_fused_only_when_fully_computed():
    x = inp("x", (10,), F32)
    y = O.mul(x, 2.0)
    _, sliced = compiled([y, O.add(bind("slice", y, starts=(0,), stops=(5,), steps=(1,)), 1.0)], [x])
    assert len(sliced.compute_kernels) == 2
    _, flipped = compiled([y, O.add(O.flip(y, (0,)), 1.0)], [x])
    assert len(flipped.compute_kernels) == 1


def test_transpose_folds_into_the_matmul_operand():
    x, w = inp("x", (8, 16), F32), inp("w", (4, 16), F32)
    g, pg = compiled([O.matmul(x, O.t(w))], [x, w])
    (k,) = pg.compute_kernels
    assert k.kind == MATMUL and k.ops == ["permute", "matmul"]
    assert [k.roles[n.id] for n in k.nodes] == ["operand", "root"]
    rng = np.random.default_rng(2)
    agrees(g, pg, rng.normal(size=(8, 16)).astype(np.float32), rng.normal(size=(4, 16)).astype(np.float32))


def mlp_training_step(B=32, D=20, H=64, C=10, lr=0.1):
    x, t = inp("x", (B, D), F32), inp("t", (B,), gf.int64)
    W1, b1, W2, b2 = inp("W1", (D, H), F32), inp("b1", (H,), F32), inp("W2", (H, C), F32), inp("b2", (C,), F32)
    params = [W1, b1, W2, b2]
    h = O.relu(O.add(O.matmul(x, W1), b1))
    logits = O.add(O.matmul(h, W2), b2)
    picked = bind("gather", O.log_softmax(logits, dim=1), O.reshape(t, (B, 1)), axis=1)
    loss = O.neg(O.mean(picked))
    fwd = run_pipeline(Graph([loss], [x, t, *params]))  # stabilise before differentiating
    grads = autodiff.grad(fwd, fwd.outputs, params)
    new = [O.sub(p, O.mul(g, lr)) for p, g in zip(params, grads)]
    return Graph([fwd.outputs[0], *new], [x, t, *params])


def test_mlp_training_step_kernel_count():
    """The documented count for one SGD step of a 2-layer MLP with softmax cross-entropy (17
    kernels, from 76 unfused):

    forward: 2 matmuls with bias/relu epilogues; logsumexp's guarded max (1 reduction whose row
    epilogue also starts the max's gradient mask) and its sum (whose epilogues give log-softmax,
    the softmax and the start of its gradient); the gather; the mean with its scale.
    backward: 3 for the gather's gradient (two fills and the scatter_add); 4 row reductions for
    the log-softmax and max gradients; 3 matmuls whose epilogues apply the relu mask or the SGD
    update; 2 column reductions (bias gradients) with the SGD update fused."""
    step = mlp_training_step()
    assert len(one_kernel_per_node(step).compute_kernels) == 76
    opt = run_pipeline(step, verify=True)
    pg = partition(opt)
    pg.validate()
    assert len(pg.compute_kernels) == 17
    assert kernel_counts(pg.compute_kernels) == {MATMUL: 5, REDUCE: 8, ELEMENTWISE: 2, OPAQUE: 2}
    check_memory_plan(pg)
    rng = np.random.default_rng(3)
    arrays = [rng.normal(size=(32, 20)).astype(np.float32), rng.integers(0, 10, size=32),
              rng.normal(size=(20, 64)).astype(np.float32) * 0.1, np.zeros(64, np.float32),
              rng.normal(size=(64, 10)).astype(np.float32) * 0.1, np.zeros(10, np.float32)]
    agrees(opt, pg, *arrays)
    unopt = run(step, *arrays)
    for a, b in zip(run(opt, *arrays), unopt):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("shape", [(0, 4), (1, 1), (3, 5)])
def test_odd_shapes_partition_and_run(shape):
    x = inp("x", shape, F32)
    y = O.add(O.softmax(O.mul(x, 3.0), dim=1), O.sum(x, 1, keepdim=True))
    g, pg = compiled([y], [x])
    agrees(g, pg, np.random.default_rng(4).normal(size=shape).astype(np.float32))
