"""Training-step workloads: one SGD step (forward, cross-entropy, backward, update) of an MLP and of
a small CNN. The first step is checked (loss and every updated parameter) against the float64
NumPy reference; the timed steps then keep training the same parameters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from benchmarks.workloads import npref
from benchmarks.workloads.base import GraphflowSpec, Inputs, Prepared, Workload, to64

F32 = np.float32
LR = 0.01
MLP_PARAMS = ("w1", "b1", "w2", "b2", "w3", "b3")
CNN_PARAMS = ("k1", "c1", "k2", "c2", "w3", "b3")


def _uniform(rng: np.random.Generator, fan_in: int, shape: tuple) -> np.ndarray:
    bound = 1.0 / np.sqrt(fan_in)  # PyTorch's default bound for Linear and Conv2d
    return rng.uniform(-bound, bound, shape).astype(F32)


def _labels(rng: np.random.Generator, n: int, classes: int = 10) -> np.ndarray:
    return np.eye(classes, dtype=F32)[rng.integers(0, classes, n)]


def _mlp_inputs(size: tuple, rng: np.random.Generator) -> Inputs:
    batch, *dims = size
    out: Inputs = {"x": rng.standard_normal((batch, dims[0])).astype(F32), "onehot": _labels(rng, batch, dims[-1])}
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:]), start=1):
        out[f"w{i}"] = _uniform(rng, a, (a, b))
        out[f"b{i}"] = _uniform(rng, a, (b,))
    return out


def _cnn_inputs(size: tuple, rng: np.random.Generator) -> Inputs:
    batch, hw = size
    out_hw = (hw + 1) // 2
    return {"x": rng.standard_normal((batch, 1, hw, hw)).astype(F32), "onehot": _labels(rng, batch),
            "k1": _uniform(rng, 9, (8, 1, 3, 3)), "c1": _uniform(rng, 9, (8,)),
            "k2": _uniform(rng, 72, (16, 8, 3, 3)), "c2": _uniform(rng, 72, (16,)),
            "w3": _uniform(rng, 16 * out_hw**2, (16 * out_hw**2, 10)), "b3": _uniform(rng, 16 * out_hw**2, (10,))}


# ---- graphflow (one loss, every mode) ----------------------------------------------------------------

def _gf_cross_entropy(ops: Any, logits: Any, onehot: Any) -> Any:
    return ops.neg(ops.mean(ops.sum(ops.mul(onehot, ops.log_softmax(logits, -1)), -1)))


def _gf_mlp_loss(ops: Any, params: Sequence[Any], x: Any, onehot: Any) -> Any:
    w1, b1, w2, b2, w3, b3 = params
    h = ops.relu(ops.add(ops.matmul(x, w1), b1))
    h = ops.relu(ops.add(ops.matmul(h, w2), b2))
    return _gf_cross_entropy(ops, ops.add(ops.matmul(h, w3), b3), onehot)


def _gf_cnn_loss(ops: Any, params: Sequence[Any], x: Any, onehot: Any) -> Any:
    k1, c1, k2, c2, w3, b3 = params
    h = ops.relu(ops.F.conv2d(x, k1, c1, stride=1, padding=1))
    h = ops.relu(ops.F.conv2d(h, k2, c2, stride=2, padding=1))
    h = ops.reshape(h, (x.shape[0], -1))
    return _gf_cross_entropy(ops, ops.add(ops.matmul(h, w3), b3), onehot)


# ---- peers -----------------------------------------------------------------------------------------

def _torch_mlp_loss(torch: Any, p: Sequence[Any], x: Any, onehot: Any) -> Any:
    h = torch.relu(x @ p[0] + p[1])
    h = torch.relu(h @ p[2] + p[3])
    return torch.nn.functional.cross_entropy(h @ p[4] + p[5], onehot)


def _torch_cnn_loss(torch: Any, p: Sequence[Any], x: Any, onehot: Any) -> Any:
    conv = torch.nn.functional.conv2d
    h = torch.relu(conv(x, p[0], p[1], padding=1))
    h = torch.relu(conv(h, p[2], p[3], stride=2, padding=1))
    return torch.nn.functional.cross_entropy(h.flatten(1) @ p[4] + p[5], onehot)


def _jax_ce(jnp: Any, logits: Any, onehot: Any) -> Any:
    import jax

    return -(onehot * jax.nn.log_softmax(logits, axis=-1)).sum(-1).mean()


def _jax_mlp_loss(jnp: Any, p: Sequence[Any], x: Any, onehot: Any) -> Any:
    import jax

    h = jax.nn.relu(x @ p[0] + p[1])
    h = jax.nn.relu(h @ p[2] + p[3])
    return _jax_ce(jnp, h @ p[4] + p[5], onehot)


def _jax_cnn_loss(jnp: Any, p: Sequence[Any], x: Any, onehot: Any) -> Any:
    import jax

    def conv(a: Any, k: Any, b: Any, s: int) -> Any:
        out = jax.lax.conv_general_dilated(a, k, (s, s), ((1, 1), (1, 1)), dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return out + b[None, :, None, None]

    h = jax.nn.relu(conv(x, p[0], p[1], 1))
    h = jax.nn.relu(conv(h, p[2], p[3], 2))
    return _jax_ce(jnp, h.reshape(h.shape[0], -1) @ p[4] + p[5], onehot)


def numpy_train(step: Callable[..., list], names: Sequence[str]) -> Callable[..., Prepared]:
    def build(inputs: Inputs) -> Prepared:
        state = [inputs[n].copy() for n in names]

        def run():
            out = step(inputs["x"], inputs["onehot"], *state, lr=F32(LR))
            state[:] = out[1:]
            return out

        return run, list

    return build


def torch_train(loss_fn: Callable[..., Any], names: Sequence[str]) -> Callable[..., Prepared]:
    def build(inputs: Inputs, torch: Any, wrap: Callable) -> Prepared:
        params = [torch.from_numpy(inputs[n].copy()).requires_grad_() for n in names]
        x, onehot = torch.from_numpy(inputs["x"]), torch.from_numpy(inputs["onehot"])

        def step():
            for p in params:
                p.grad = None
            loss = loss_fn(torch, params, x, onehot)
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p -= LR * p.grad
            return loss

        f = wrap(step)
        return f, lambda loss: [loss.detach().numpy()] + [p.detach().numpy().copy() for p in params]

    return build


def jax_train(loss_fn: Callable[..., Any], names: Sequence[str]) -> Callable[..., Prepared]:
    def build(inputs: Inputs, jax: Any) -> Prepared:
        import jax.numpy as jnp

        x, onehot = jnp.asarray(inputs["x"]), jnp.asarray(inputs["onehot"])

        @jax.jit
        def step(params, x, onehot):
            loss, grads = jax.value_and_grad(lambda p: loss_fn(jnp, p, x, onehot))(params)
            return loss, [p - LR * g for p, g in zip(params, grads)]

        state = [[jnp.asarray(inputs[n]) for n in names]]

        def run():
            loss, state[0] = jax.block_until_ready(step(state[0], x, onehot))
            return loss, state[0]

        return run, lambda out: [np.asarray(out[0])] + [np.asarray(p) for p in out[1]]

    return build


def _reference(step: Callable[..., list], names: Sequence[str]) -> Callable[[Inputs], list[np.ndarray]]:
    def reference(inputs: Inputs) -> list[np.ndarray]:
        i64 = to64(inputs)
        return step(i64["x"], i64["onehot"], *(i64[n] for n in names), lr=LR)

    return reference


MLP_STEP = Workload(
    name="mlp_step",
    title="MLP training step",
    description="one SGD step (lr 0.01) of the MLP 784-256-128-10 with ReLU and mean cross-entropy; "
                "size = (batch, layer widths...)",
    sizes={"quick": (16, 784, 256, 128, 10), "full": (64, 784, 256, 128, 10)},
    sweep=tuple((b, 784, 256, 128, 10) for b in (16, 64, 256, 1024)),
    make_inputs=_mlp_inputs,
    reference=_reference(npref.mlp_step, MLP_PARAMS),
    graphflow=GraphflowSpec("train", _gf_mlp_loss, ("x", "onehot"), wrt=MLP_PARAMS, lr=LR),
    peers={"numpy": numpy_train(npref.mlp_step, MLP_PARAMS),
           "torch": torch_train(_torch_mlp_loss, MLP_PARAMS),
           "jax": jax_train(_jax_mlp_loss, MLP_PARAMS)},
    work=lambda s: (6.0 * s[0] * sum(a * b for a, b in zip(s[1:-1], s[2:])), "GFLOP/s"),
    rtol=1e-4, atol=1e-5,
    output_names=("loss",) + MLP_PARAMS,
)

CNN_STEP = Workload(
    name="cnn_step",
    title="small CNN training step",
    description="one SGD step (lr 0.01) of conv3x3(1->8) -> ReLU -> conv3x3 stride 2 (8->16) -> ReLU -> "
                "flatten -> linear(->10) with mean cross-entropy; size = (batch, image height=width)",
    sizes={"quick": (8, 12), "full": (32, 28)},
    sweep=tuple((b, 28) for b in (8, 32, 128)),
    make_inputs=_cnn_inputs,
    reference=_reference(npref.cnn_step, CNN_PARAMS),
    graphflow=GraphflowSpec("train", _gf_cnn_loss, ("x", "onehot"), wrt=CNN_PARAMS, lr=LR, needs=("F.conv2d",)),
    peers={"numpy": numpy_train(npref.cnn_step, CNN_PARAMS),
           "torch": torch_train(_torch_cnn_loss, CNN_PARAMS),
           "jax": jax_train(_jax_cnn_loss, CNN_PARAMS)},
    rtol=1e-4, atol=1e-5,
    output_names=("loss",) + CNN_PARAMS,
)

TRAINING = (MLP_STEP, CNN_STEP)
