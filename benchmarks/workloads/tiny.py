"""Dispatch overhead: ops so small (16 floats) that the time is all framework overhead."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.workloads.base import GraphflowSpec, Inputs, Prepared, Workload, to64
from benchmarks.workloads.peers import jax_forward, numpy_forward, torch_forward

F32 = np.float32


def _tiny_inputs(size: tuple, rng: np.random.Generator) -> Inputs:
    return {"a": rng.standard_normal(size).astype(F32), "b": rng.standard_normal(size).astype(F32)}


DISPATCH = Workload(
    name="dispatch",
    title="dispatch: small + small",
    description="one addition of two 16-float vectors: the cost of calling an op (or a compiled graph) at all",
    sizes={"quick": (16,), "full": (16,)},
    make_inputs=_tiny_inputs,
    reference=lambda inp: [to64(inp)["a"] + to64(inp)["b"]],
    graphflow=GraphflowSpec("forward", lambda ops, a, b: [ops.add(a, b)], ("a", "b")),
    peers={"numpy": numpy_forward(np.add, ("a", "b")),
           "torch": torch_forward(lambda torch, a, b: a + b, ("a", "b")),
           "jax": jax_forward(lambda jnp, a, b: a + b, ("a", "b"))},
    rtol=1e-6, atol=1e-7,
)


# ---- a 3-op forward and backward -------------------------------------------------------------------

def _np_grad(x: np.ndarray, w: np.ndarray) -> list[np.ndarray]:
    t = np.tanh(x * w)
    d = 1 - t * t
    return [np.asarray(t.sum(), dtype=x.dtype), d * w, d * x]


def _torch_grad(inputs: Inputs, torch: Any, wrap: Callable) -> Prepared:
    x = torch.from_numpy(inputs["a"].copy()).requires_grad_()
    w = torch.from_numpy(inputs["b"].copy()).requires_grad_()

    def step():
        x.grad = w.grad = None
        y = (x * w).tanh().sum()
        y.backward()
        return y, x.grad, w.grad

    return wrap(step), lambda out: [o.detach().numpy() for o in out]


def _jax_grad(inputs: Inputs, jax: Any) -> Prepared:
    import jax.numpy as jnp

    f = jax.jit(jax.value_and_grad(lambda x, w: jnp.tanh(x * w).sum(), argnums=(0, 1)))
    x, w = jnp.asarray(inputs["a"]), jnp.asarray(inputs["b"])
    return (lambda: jax.block_until_ready(f(x, w))), lambda out: [np.asarray(out[0])] + [np.asarray(g) for g in out[1]]


DISPATCH_GRAD = Workload(
    name="dispatch_grad",
    title="dispatch: 3-op forward+backward",
    description="y = sum(tanh(x*w)) on 16 floats and its gradients w.r.t. x and w: the cost of recording a "
                "tape and running backward for a tiny graph",
    sizes={"quick": (16,), "full": (16,)},
    make_inputs=_tiny_inputs,
    reference=lambda inp: _np_grad(to64(inp)["a"], to64(inp)["b"]),
    graphflow=GraphflowSpec("grad", lambda ops, x, w: ops.sum(ops.tanh(ops.mul(x, w))), ("a", "b"), wrt=("a", "b")),
    peers={"numpy": numpy_forward(_np_grad, ("a", "b")), "torch": _torch_grad, "jax": _jax_grad},
    rtol=1e-5, atol=1e-6,
    output_names=("y", "dy/dx", "dy/dw"),
)

TINY = (DISPATCH, DISPATCH_GRAD)
