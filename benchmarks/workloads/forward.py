"""Forward-only workloads: the elementwise chain, softmax, layer-norm, GEMM and conv2d."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.workloads import npref
from benchmarks.workloads.base import GraphflowSpec, Workload, to64
from benchmarks.workloads.peers import jax_forward, numpy_forward, torch_forward

F32 = np.float32


# ---- the elementwise chain --------------------------------------------------------------------------

def _gf_gelu_chain(ops: Any, x: Any) -> list:
    y = ops.add(ops.mul(x, 1.5), 0.25)
    cube = ops.pow(y, 3)  # `y**3`, as every peer writes it: turning it into multiplies is the compiler's job
    inner = ops.mul(ops.add(y, ops.mul(cube, 0.044715)), 0.79788)
    return [ops.mul(ops.mul(y, 0.5), ops.add(ops.tanh(inner), 1.0))]


def _lib_gelu_chain(lib: Any, x: Any) -> Any:
    y = x * 1.5 + 0.25
    return 0.5 * y * (1 + lib.tanh(0.79788 * (y + 0.044715 * y**3)))


ELEMENTWISE = Workload(
    name="elementwise",
    title="elementwise chain",
    description="0.5*y*(1+tanh(0.79788*(y+0.044715*y^3))) with y = x*1.5+0.25 (a GELU-like chain of 10 ops) "
                "over a float32 vector: memory bound when fused into one pass",
    sizes={"quick": (1 << 18,), "full": (1 << 22,)},
    sweep=tuple((1 << k,) for k in range(12, 23, 2)),
    make_inputs=lambda size, rng: {"x": rng.standard_normal(size).astype(F32)},
    reference=lambda inp: [npref.gelu_chain(to64(inp)["x"])],
    graphflow=GraphflowSpec("forward", _gf_gelu_chain, ("x",)),
    peers={"numpy": numpy_forward(npref.gelu_chain, ("x",)),
           "torch": torch_forward(_lib_gelu_chain, ("x",)),
           "jax": jax_forward(_lib_gelu_chain, ("x",))},
    work=lambda size: (8.0 * size[0], "GB/s"),  # read 4 bytes, write 4 bytes per element
    rtol=2e-5, atol=2e-6,
)


# ---- softmax over rows ------------------------------------------------------------------------------

def _jax_softmax(jnp: Any, x: Any) -> Any:
    import jax

    return jax.nn.softmax(x, axis=-1)


SOFTMAX = Workload(
    name="softmax",
    title="softmax over rows",
    description="softmax along the last axis of a float32 matrix (max, exp, sum, divide per row)",
    sizes={"quick": (512, 1024), "full": (4096, 1024)},
    sweep=tuple((r, 1024) for r in (64, 256, 1024, 4096)),
    make_inputs=lambda size, rng: {"x": (rng.standard_normal(size) * 3).astype(F32)},
    reference=lambda inp: [npref.softmax(to64(inp)["x"])],
    graphflow=GraphflowSpec("forward", lambda ops, x: [ops.softmax(x, -1)], ("x",)),
    peers={"numpy": numpy_forward(npref.softmax, ("x",)),
           "torch": torch_forward(lambda torch, x: torch.softmax(x, -1), ("x",)),
           "jax": jax_forward(_jax_softmax, ("x",))},
    work=lambda size: (8.0 * size[0] * size[1], "GB/s"),
    rtol=1e-4, atol=1e-7,
)


# ---- layer-norm -------------------------------------------------------------------------------------

def _gf_layer_norm(ops: Any, x: Any, gamma: Any, beta: Any) -> list:
    F = getattr(ops, "F", None)
    if F is not None and hasattr(F, "layer_norm"):  # what a user writes, once nn exists
        return [F.layer_norm(x, (x.shape[-1],), gamma, beta, 1e-5)]
    mu = ops.mean(x, -1, keepdim=True)
    c = ops.sub(x, mu)
    var = ops.mean(ops.mul(c, c), -1, keepdim=True)
    return [ops.add(ops.mul(ops.mul(c, ops.rsqrt(ops.add(var, 1e-5))), gamma), beta)]


def _jax_layer_norm(jnp: Any, x: Any, g: Any, b: Any) -> Any:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / jnp.sqrt(var + 1e-5) * g + b


def _ln_inputs(size: tuple, rng: np.random.Generator) -> dict:
    return {"x": rng.standard_normal(size).astype(F32), "gamma": rng.uniform(0.5, 1.5, size[-1]).astype(F32),
            "beta": rng.standard_normal(size[-1]).astype(F32)}


LAYER_NORM = Workload(
    name="layernorm",
    title="layer-norm",
    description="layer normalisation over the last axis with a learned scale and shift (eps 1e-5)",
    sizes={"quick": (512, 1024), "full": (4096, 1024)},
    sweep=tuple((r, 1024) for r in (64, 256, 1024, 4096)),
    make_inputs=_ln_inputs,
    reference=lambda inp: [npref.layer_norm(**to64(inp))],
    graphflow=GraphflowSpec("forward", _gf_layer_norm, ("x", "gamma", "beta")),
    peers={"numpy": numpy_forward(npref.layer_norm, ("x", "gamma", "beta")),
           "torch": torch_forward(lambda torch, x, g, b: torch.nn.functional.layer_norm(x, (x.shape[-1],), g, b, 1e-5),
                                  ("x", "gamma", "beta")),
           "jax": jax_forward(_jax_layer_norm, ("x", "gamma", "beta"))},
    work=lambda size: (8.0 * size[0] * size[1], "GB/s"),
    rtol=1e-4, atol=2e-5,
)


# ---- GEMM ---------------------------------------------------------------------------------------------

GEMM = Workload(
    name="gemm",
    title="GEMM",
    description="float32 matrix product (M x K) @ (K x N)",
    sizes={"quick": (256, 256, 256), "full": (1024, 1024, 1024)},
    sweep=tuple((n, n, n) for n in (64, 128, 256, 512, 1024)),
    make_inputs=lambda size, rng: {"a": rng.standard_normal(size[:2]).astype(F32),
                                   "b": rng.standard_normal(size[1:]).astype(F32)},
    reference=lambda inp: [to64(inp)["a"] @ to64(inp)["b"]],
    graphflow=GraphflowSpec("forward", lambda ops, a, b: [ops.matmul(a, b)], ("a", "b")),
    peers={"numpy": numpy_forward(np.matmul, ("a", "b")),
           "torch": torch_forward(lambda torch, a, b: a @ b, ("a", "b")),
           "jax": jax_forward(lambda jnp, a, b: a @ b, ("a", "b"))},
    work=lambda size: (2.0 * size[0] * size[1] * size[2], "GFLOP/s"),
    rtol=1e-4, atol=2e-4,  # sums of K products: float32 rounding grows with sqrt(K)
)


# ---- conv2d -------------------------------------------------------------------------------------------

def _gf_conv2d(ops: Any, x: Any, w: Any, b: Any) -> list:
    return [ops.F.conv2d(x, w, b, stride=1, padding=1)]


def _jax_conv2d(jnp: Any, x: Any, w: Any, b: Any) -> Any:
    import jax

    out = jax.lax.conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)), dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return out + b[None, :, None, None]


def _conv_inputs(size: tuple, rng: np.random.Generator) -> dict:
    n, c, hw, k = size
    return {"x": rng.standard_normal((n, c, hw, hw)).astype(F32),
            "w": (rng.standard_normal((k, c, 3, 3)) / np.sqrt(9 * c)).astype(F32),
            "b": rng.standard_normal(k).astype(F32)}


CONV2D = Workload(
    name="conv2d",
    title="conv2d",
    description="3x3 convolution, stride 1, padding 1, with bias; size = (batch, in channels, height=width, "
                "out channels), NCHW layout",
    sizes={"quick": (4, 8, 16, 16), "full": (16, 32, 32, 64)},
    sweep=tuple((16, 32, hw, 64) for hw in (8, 16, 32, 64)),
    make_inputs=_conv_inputs,
    reference=lambda inp: [npref.conv2d(**to64(inp), stride=1, pad=1)],
    graphflow=GraphflowSpec("forward", _gf_conv2d, ("x", "w", "b"), needs=("F.conv2d",)),
    peers={"numpy": numpy_forward(lambda x, w, b: npref.conv2d(x, w, b, 1, 1), ("x", "w", "b")),
           "torch": torch_forward(lambda torch, x, w, b: torch.nn.functional.conv2d(x, w, b, padding=1),
                                  ("x", "w", "b")),
           "jax": jax_forward(_jax_conv2d, ("x", "w", "b"))},
    work=lambda size: (2.0 * size[0] * size[3] * size[1] * 9 * size[2] ** 2, "GFLOP/s"),
    rtol=1e-4, atol=1e-4,
)

FORWARD = (ELEMENTWISE, SOFTMAX, LAYER_NORM, GEMM, CONV2D)
