"""Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from graphflow.eager.grad_mode import no_grad
from graphflow.eager.tensor import Tensor
from graphflow.ops import elementwise as E
from graphflow.ops import reductions as R
from graphflow.ops.shape import stack

__all__ = ["clip_grad_norm_", "clip_grad_value_", "total_norm"]


def _params(parameters: Any) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def total_norm(grads: list[Any], norm_type: float) -> Any:
    """The p-norm of all gradients taken together, as a 0-d value."""
    if norm_type == math.inf:
        return R.amax(stack([R.amax(E.abs(g)) for g in grads]))
    return R.norm(stack([R.norm(g, norm_type) for g in grads]), norm_type)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: Any = None) -> Tensor:
    """Scale the gradients in place so their combined `norm_type`-norm is at most `max_norm`;
    returns the norm before clipping."""
    grads = [p.grad for p in _params(parameters) if p.grad is not None]
    norm_type = float(norm_type)
    if not grads:
        return Tensor(0.0)
    with no_grad():
        norm = total_norm([g.detach() for g in grads], norm_type)
        if error_if_nonfinite and not math.isfinite(float(norm)):
            raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is "
                               "non-finite, so it cannot be clipped. To disable this error and scale the "
                               "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
        coef = E.clamp(E.div(float(max_norm), E.add(norm, 1e-6)), max=1.0)
        for g in grads:
            g.mul_(E.cast(coef, g.dtype))
    return norm


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: Any = None) -> None:
    """Clamp every gradient element into [-clip_value, clip_value] in place."""
    with no_grad():
        for p in _params(parameters):
            if p.grad is not None:
                p.grad.clamp_(-clip_value, clip_value)
