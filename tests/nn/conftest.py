"""Helpers: run functions of graph nodes through the NumPy reference backend, and check their
symbolic gradients against central finite differences in float64."""

from __future__ import annotations

import numpy as np
import pytest

from graphflow import autodiff
from graphflow.backends import get_backend
from graphflow.ir import Graph, bind
from graphflow.ir import builder as B
from graphflow.ir.dtypes import get_dtype


def _inputs(arrays):
    return [bind("input", name=f"x{i}", dtype=get_dtype(np.asarray(a).dtype), shape=np.shape(a))
            for i, a in enumerate(arrays)]


def run_graph(fn, *arrays, **kwargs):
    """fn(*input nodes, **kwargs) -> node or tuple of nodes; returns NumPy values."""
    inputs = _inputs(arrays)
    out = fn(*inputs, **kwargs)
    single = not isinstance(out, tuple | list)
    outs = [out] if single else [o for o in out]
    values = get_backend("numpy").compile(Graph(outs, inputs)).run([np.asarray(a) for a in arrays])
    return values[0] if single else tuple(values)


def check_grad(fn, *arrays, wrt=None, eps=1e-6, rtol=1e-5, atol=1e-7, seed=0):
    """Compare d<r, fn(x)>/dx (symbolic) with central differences, for the float inputs in `wrt`
    (indices; default every floating-point input)."""
    arrays = [np.asarray(a) for a in arrays]
    wrt = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"] if wrt is None else list(wrt)
    inputs = _inputs(arrays)
    y = fn(*inputs)
    rng = np.random.default_rng(seed)
    r = rng.standard_normal(y.shape).astype(y.dtype.np)
    grads = autodiff.grad(None, [y], [inputs[i] for i in wrt], seeds=[B.constant(r, y.dtype)])
    backend = get_backend("numpy")
    exe = backend.compile(Graph([y] + [g if g is not None else B.zeros_like(inputs[i])
                                       for g, i in zip(grads, wrt)], inputs))
    fwd = backend.compile(Graph([y], inputs))
    symbolic = exe.run(arrays)[1:]

    def f(arrs):
        return float(np.sum(fwd.run(arrs)[0] * r))

    for g, i in zip(symbolic, wrt):
        num = np.zeros(arrays[i].shape)
        flat = num.reshape(-1)
        for k in range(arrays[i].size):
            plus = [a.copy() for a in arrays]
            minus = [a.copy() for a in arrays]
            plus[i].reshape(-1)[k] += eps
            minus[i].reshape(-1)[k] -= eps
            flat[k] = (f(plus) - f(minus)) / (2 * eps)
        np.testing.assert_allclose(g, num, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")


@pytest.fixture
def graph_run():
    return run_graph


@pytest.fixture
def gradcheck():
    return check_grad


def eager_check_grad(fn, *arrays, eps=1e-6, rtol=1e-5, atol=1e-7, seed=0):
    """`backward()` of <r, fn(tensors)> against central differences of the same eager function (float64)."""
    import graphflow as gf

    tensors = [gf.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
    y = fn(*tensors)
    r = np.random.default_rng(seed).standard_normal(tuple(y.shape))
    (y * gf.tensor(r)).sum().backward()
    for i, t in enumerate(tensors):
        num = np.zeros(t.shape)
        flat = num.reshape(-1)
        for k in range(t.numel()):
            vals = []
            for sign in (1, -1):
                arrs = [np.array(a, np.float64, copy=True) for a in arrays]
                arrs[i].reshape(-1)[k] += sign * eps
                with gf.no_grad():
                    vals.append(float((fn(*[gf.tensor(a) for a in arrs]).detach().numpy() * r).sum()))
            flat[k] = (vals[0] - vals[1]) / (2 * eps)
        np.testing.assert_allclose(t.grad.numpy(), num, rtol=rtol, atol=atol, err_msg=f"gradient of argument {i}")


@pytest.fixture
def eager_gradcheck():
    return eager_check_grad
