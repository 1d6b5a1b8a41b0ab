"""Independent units run side by side (one pool job, each unit whole on one core): the run order
respects every dependency, the values match the NumPy reference, a unit that may raise and a
NumPy-callback unit still run alone."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow.ops as ops
from graphflow.backends import available, get_backend
from graphflow.ir import Graph, bind
from graphflow.ir.dtypes import get_dtype

pytestmark = pytest.mark.skipif(available().get("llvm") != "available", reason="llvm backend unavailable")


def _inp(name: str, shape, dtype: str = "float32"):
    return bind("input", name=name, dtype=get_dtype(dtype), shape=tuple(shape))


def _check_order(plan):
    from graphflow.backends.llvm import schedule

    order = schedule.steps(plan)
    deps = schedule.dependencies(plan)
    flat = [k for step in order for k in step]
    assert sorted(flat) == list(range(len(plan.units)))
    pos = {k: i for i, k in enumerate(flat)}
    step_of = {k: i for i, step in enumerate(order) for k in step}
    for k, d in enumerate(deps):
        for j in d:
            assert pos[j] < pos[k] and step_of[j] != step_of[k], (j, k)
    return order


def test_mlp_backward_products_run_side_by_side():
    from benchmarks.cpu_kernels import mlp_executable

    ex, feeds = mlp_executable()
    order = _check_order(ex.plan)
    groups = [[ex.plan.units[k] for k in step] for step in order if len(step) > 1]
    # the gradients of the hidden activations and of the weights of one layer, side by side
    assert any(sum(u.kind == "matmul" and u.matmul.shape in ((64, 256), (256, 128)) for u in g) == 2 for g in groups)
    ref = get_backend("numpy").compile(ex.source_graph).run(feeds)
    for a, b in zip(ex.run(feeds), ref):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _two_products(extra=None):
    rng = np.random.default_rng(0)
    x, w1, w2 = _inp("x", (70, 60)), _inp("w1", (60, 90)), _inp("w2", (60, 110))
    outs = [ops.tanh(ops.matmul(x, w1)), ops.mul(ops.matmul(x, w2), 2.0)]
    inputs = [x, w1, w2]
    feeds = [rng.normal(size=s).astype(np.float32) for s in ((70, 60), (60, 90), (60, 110))]
    if extra:
        extra(outs, inputs, feeds, rng)
    return Graph(outs, inputs), feeds


@pytest.mark.parametrize("extra", ["none", "raising", "callback"])
def test_independent_units_values_and_ordering(extra):
    def raising(outs, inputs, feeds, rng):
        a, d = _inp("a", (300, 300), "int32"), _inp("d", (300, 300), "int32")
        outs.append(bind("floor_div", a, d))
        inputs += [a, d]
        feeds += [rng.integers(-9, 9, (300, 300)).astype(np.int32), rng.integers(1, 5, (300, 300)).astype(np.int32)]

    def callback(outs, inputs, feeds, rng):
        outs.append(bind("argmax", outs[1], axis=1, keepdims=False))  # (tanh saturates: ties)

    g, feeds = _two_products({"none": None, "raising": raising, "callback": callback}[extra])
    ex = get_backend("llvm").compile(g)
    order = _check_order(ex.plan)
    assert any(len(step) > 1 for step in order)
    want = get_backend("numpy").compile(g).run(feeds)
    for _ in range(2):
        for a, b in zip(ex.run(feeds), want):
            # float32 products of 60 terms summed in another order than NumPy's BLAS: an error
            # of a few eps * sum |x w| (~5e-6 here) where the result cancels to near zero
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-5)
    if extra == "raising":
        feeds[-1][5, 5] = 0
        with pytest.raises(ZeroDivisionError, match="floor_div"):
            ex.run(feeds)
