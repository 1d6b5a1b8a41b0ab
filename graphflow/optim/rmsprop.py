"""RMSprop (Hinton's lecture 6e, as torch.optim.RMSprop: optional momentum and centring)."""

from __future__ import annotations

from typing import Any

from graphflow.ops.elementwise import add
from graphflow.optim.functional import rmsprop_update
from graphflow.optim.optimizer import Optimizer, step_zero, zeros_of

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    _fusable = True
    _fused_inputs = ("lr",)  # enters the rule only as `x * lr`: fed or literal, the same float

    def __init__(self, params: Any, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        for name, value in (("learning rate", lr), ("epsilon value", eps), ("momentum value", momentum),
                            ("weight_decay value", weight_decay), ("alpha value", alpha)):
            if value < 0.0:
                raise ValueError(f"Invalid {name}: {value}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _state_spec(self, group: dict[str, Any], p: Any, lazy: bool = True) -> dict[str, Any]:
        spec = {"step": step_zero(), "square_avg": zeros_of(p)}
        if group["momentum"] > 0:
            spec["momentum_buffer"] = zeros_of(p)
        if group["centered"]:
            spec["grad_avg"] = zeros_of(p)
        return spec

    def _update(self, group: dict[str, Any], param: Any, grad: Any, state: dict[str, Any]) -> dict[str, Any]:
        out = rmsprop_update(param, grad, state["square_avg"], state.get("momentum_buffer"), state.get("grad_avg"),
                             lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                             weight_decay=group["weight_decay"], momentum=group["momentum"],
                             centered=group["centered"], maximize=group["maximize"])
        return {"param": out.param, "step": add(state["step"], 1.0), "square_avg": out.square_avg,
                "momentum_buffer": out.momentum_buffer, "grad_avg": out.grad_avg}
