"""Adam and AdamW."""

from __future__ import annotations

from typing import Any

from graphflow.ops.elementwise import add
from graphflow.optim.functional import adam_update
from graphflow.optim.optimizer import Optimizer, is_eager_value, step_zero, zeros_of

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """torch.optim.Adam (Kingma & Ba, with PyTorch's placement of eps; L2 weight decay added to
    the gradient; optional AMSGrad)."""

    _decoupled = False
    # fused eager steps trace the rule with the step count as a value: bias corrections computed in
    # the parameter's precision (the op-by-op path computes them in Python), equal to float32 rounding
    _fusable = True
    _fused_inputs = ("lr",)

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _state_spec(self, group: dict[str, Any], p: Any, lazy: bool = True) -> dict[str, Any]:
        spec = {"step": step_zero(), "exp_avg": zeros_of(p), "exp_avg_sq": zeros_of(p)}
        if group["amsgrad"]:
            spec["max_exp_avg_sq"] = zeros_of(p)
        return spec

    def _update(self, group: dict[str, Any], param: Any, grad: Any, state: dict[str, Any]) -> dict[str, Any]:
        step = add(state["step"], 1.0)
        beta1, beta2 = group["betas"]
        # an eager step count is known now: bias corrections in Python (fewer ops); a traced or
        # symbolic one stays a value so the compiled update holds for every step
        count = float(step.item()) if is_eager_value(step) else step
        out = adam_update(param, grad, state["exp_avg"], state["exp_avg_sq"], count, lr=group["lr"], beta1=beta1,
                          beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                          decoupled_weight_decay=self._decoupled, amsgrad=group["amsgrad"],
                          max_exp_avg_sq=state.get("max_exp_avg_sq"), maximize=group["maximize"])
        return {"param": out.param, "step": step, "exp_avg": out.exp_avg, "exp_avg_sq": out.exp_avg_sq,
                "max_exp_avg_sq": out.max_exp_avg_sq}


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay (p *= 1 - lr * weight_decay), default 1e-2."""

    _decoupled = True

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
