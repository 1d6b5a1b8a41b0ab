"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

from typing import Any

from graphflow.optim.functional import sgd_update
from graphflow.optim.optimizer import Optimizer, required, zeros_of

__all__ = ["SGD"]


class SGD(Optimizer):
    """torch.optim.SGD: buf = momentum * buf + (1 - dampening) * g (buf = g on the first step);
    p -= lr * (g + momentum * buf if nesterov else buf)."""

    _fusable = True
    _fused_inputs = ("lr",)  # enters the rule only as `g * lr`: fed or literal, the same float

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False) -> None:
        if lr is not required and lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _state_spec(self, group: dict[str, Any], p: Any, lazy: bool = True) -> dict[str, Any]:
        # with no dampening a zero buffer gives PyTorch's first step exactly (buf = g), and the
        # same update then holds on every step (what a compiled or static step needs)
        if group["momentum"] != 0 and (group["dampening"] == 0 or not lazy):
            return {"momentum_buffer": zeros_of(p)}
        return {}

    def _update(self, group: dict[str, Any], param: Any, grad: Any, state: dict[str, Any]) -> dict[str, Any]:
        new_p, buf = sgd_update(param, grad, state.get("momentum_buffer"), lr=group["lr"],
                                momentum=group["momentum"], dampening=group["dampening"],
                                nesterov=group["nesterov"], weight_decay=group["weight_decay"],
                                maximize=group["maximize"])
        return {"param": new_p, "momentum_buffer": buf}
