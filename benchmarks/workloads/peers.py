"""Adapters that turn a peer's plain function into a prepared run (see `base.Prepared`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from benchmarks.workloads.base import Inputs, Prepared


def _as_list(out: Any) -> list:
    return list(out) if isinstance(out, list | tuple) else [out]


def numpy_forward(fn: Callable[..., Any], names: Sequence[str]) -> Callable[..., Prepared]:
    """NumPy peer: fn(*arrays) -> array or list of arrays."""

    def build(inputs: Inputs) -> Prepared:
        args = [inputs[n] for n in names]
        return (lambda: fn(*args)), _as_list

    return build


def torch_forward(fn: Callable[..., Any], names: Sequence[str]) -> Callable[..., Prepared]:
    """PyTorch peer: fn(torch, *tensors); `wrap` is the identity or torch.compile."""

    def build(inputs: Inputs, torch: Any, wrap: Callable) -> Prepared:
        args = [torch.from_numpy(np.ascontiguousarray(inputs[n])) for n in names]
        f = wrap(lambda *a: fn(torch, *a))

        def run():
            with torch.no_grad():
                return f(*args)

        return run, lambda out: [o.detach().cpu().numpy() for o in _as_list(out)]

    return build


def jax_forward(fn: Callable[..., Any], names: Sequence[str]) -> Callable[..., Prepared]:
    """JAX peer: fn(jax.numpy, *arrays), always under jax.jit (how JAX is meant to be used)."""

    def build(inputs: Inputs, jax: Any) -> Prepared:
        import jax.numpy as jnp

        args = [jnp.asarray(inputs[n]) for n in names]
        f = jax.jit(lambda *a: fn(jnp, *a))
        return (lambda: jax.block_until_ready(f(*args))), lambda out: [np.asarray(o) for o in _as_list(out)]

    return build
