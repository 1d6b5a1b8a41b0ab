"""`Optimizer`: parameter groups, per-parameter state, `zero_grad`, `step`, state dicts, and
`.minimize(loss)` for static symbolic losses.

Every optimizer implements one method, `_update(group, param, grad, state) -> dict`, which calls
a pure rule from `graphflow.optim.functional` and returns the new parameter (key "param") and
new state values. The base class writes them back through `write`, the single place where
optimizer updates touch state:

- eager tensors are overwritten in place (no gradient is recorded);
- when the new value belongs to a handler that defines ``assign_state(target, value)`` (a tracer
  compiling a training step), the write is handed to it, so the compiled graph updates the
  parameters and optimizer state in place;
- in static mode (`.minimize`) the same rule runs on symbolic values and each write becomes an
  `assign` to a variable."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from graphflow.eager.grad_mode import no_grad
from graphflow.eager.tensor import Tensor
from graphflow.ir.bind import DYNAMIC, handler_of
from graphflow.ir.shapes import fmt
from graphflow.optim import fused

__all__ = ["Optimizer", "write", "required", "zeros_of", "step_zero"]


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


def write(target: Tensor, value: Any) -> None:
    """Overwrite eager tensor `target` with `value` (see the module docstring)."""
    hook = getattr(handler_of(value), "assign_state", None)
    if hook is not None:
        hook(target, value)
        return
    with no_grad():
        target.copy_(value)


class Optimizer:
    """Base class: `Optimizer(params, defaults)` with params an iterable of tensors or of dicts
    (parameter groups, each overriding some defaults)."""

    # eager steps run each group's update as one compiled graph (`graphflow.optim.fused`) when
    # `_fusable`; `_fused_inputs` names the hyper-parameters fed at run time instead of compiled in
    _fusable = False
    _fused_inputs: tuple[str, ...] = ()

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._fused_plans: dict[tuple, Any] = {}
        self._fused_compiles = 0
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {type(params).__name__}")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (defaults fill the rest)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate hyper-parameters (subclasses raise ValueError like PyTorch)."""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)

    # ---- stepping -------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    with no_grad():
                        p.grad = p.grad.detach()
                        p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; `closure` re-evaluates the loss first."""
        loss = None
        if closure is not None:
            from graphflow.eager.grad_mode import enable_grad

            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                params = [p for p in group["params"] if p.grad is not None]
                for p in params:
                    state = self.state.setdefault(p, {})
                    for key, initial in self._state_spec(group, p).items():
                        if key not in state:
                            state[key] = _on_device_of(Tensor(initial), p)
                if params and self._fusable and not DYNAMIC and fused.eligible(params) and \
                        fused.step_group(self, group, params):
                    continue
                for p in params:
                    state = self.state[p]
                    new = self._update(group, p, p.grad, state)
                    self._store(p, state, new)
        return loss

    def _store(self, p: Tensor, state: dict[str, Any], new: dict[str, Any]) -> None:
        write(p, new.pop("param"))
        for key, value in new.items():
            if value is None:
                continue
            if key in state and isinstance(state[key], Tensor):
                write(state[key], value)
            else:  # first step: the state tensor starts as a copy of its first value
                state[key] = _materialise(value)

    def _state_spec(self, group: dict[str, Any], p: Any, lazy: bool = True) -> dict[str, np.ndarray]:
        """The state entries `p` needs under `group`'s settings, with their initial values
        (created before the first update, and when a setting such as momentum is turned on).
        `lazy=False` asks for every entry up front (graphs cannot create state on their first run)."""
        return {}

    def _update(self, group: dict[str, Any], param: Any, grad: Any, state: dict[str, Any]) -> dict[str, Any]:
        """One update: new values for "param" and for each state entry (None: unchanged)."""
        raise NotImplementedError

    # ---- state dicts ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: {name: value}}, 'param_groups': [{hyper-parameters, 'params': [indices]}]},
        indices numbering the parameters in group order (PyTorch's layout)."""
        index: dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed = {k: copy.deepcopy(v) for k, v in g.items() if k != "params"}
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if p in self.state and self.state[p]:
                    state[index[id(p)]] = {k: (v.detach().clone() if isinstance(v, Tensor) else v)
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and state saved by `state_dict` (groups must match in number and size)."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(groups)} parameter groups, the optimizer has "
                             f"{len(self.param_groups)}")
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(f"loaded state dict contains a parameter group {i} of {len(saved['params'])} "
                                 f"parameters, which doesn't match the size of the optimizer's group "
                                 f"({len(own['params'])})")
        by_index = {}
        for saved, own in zip(groups, self.param_groups):
            for idx, p in zip(saved["params"], own["params"]):
                by_index[int(idx)] = p
        self.state = {}
        for idx, entries in state_dict["state"].items():
            p = by_index.get(int(idx))
            if p is None:
                continue
            restored = {}
            for k, v in entries.items():
                restored[k] = _restore(v, p, k)
            self.state[p] = restored
        for saved, own in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    own[k] = copy.deepcopy(v)

    # ---- static graphs --------------------------------------------------------------------
    def minimize(self, loss: Any, var_list: Any = None, global_step: Any = None, name: str | None = None) -> Any:
        """For a static symbolic loss: an op that applies one update of this optimizer to the
        variables standing for its parameters (see `graphflow.optim.static`)."""
        from graphflow.optim.static import minimize

        return minimize(self, loss, var_list, global_step, name)


def _on_device_of(t: Tensor, p: Tensor) -> Tensor:
    """`t` on parameter `p`'s device (optimizer state lives beside its parameter, as in PyTorch)."""
    return t if p._device is None else t.to(p.device)


def _materialise(value: Any) -> Tensor:
    """A new eager state tensor holding `value` (the first value of a lazily created state entry)."""
    if isinstance(value, Tensor):
        if value._device is not None:  # state lives beside its parameter (a cuda tensor has no .numpy())
            return value.detach().clone()
        return Tensor(np.array(value.detach().numpy(), copy=True))
    hook = getattr(handler_of(value), "assign_state", None)
    if hook is not None:  # a traced value: allocate the state eagerly, let the tracer fill it
        t = Tensor(np.zeros(tuple(value.shape), value.dtype.np))
        hook(t, value)
        return t
    return Tensor(np.array(value, copy=True))


def is_eager_value(x: Any) -> bool:
    """An eager tensor with a value now (not inside a gf.compile trace)."""
    from graphflow.ir.bind import DYNAMIC

    return isinstance(x, Tensor) and not DYNAMIC


def zeros_of(p: Any, dtype: Any = None) -> np.ndarray:
    """Initial zeros shaped like parameter `p` (optimizer state)."""
    return np.zeros(tuple(p.shape), (dtype or p.dtype).np)


def step_zero() -> np.ndarray:
    """PyTorch keeps `step` as a 0-d float32 tensor."""
    return np.zeros((), np.float32)


def _restore(value: Any, p: Tensor, key: str) -> Any:
    if isinstance(value, Tensor | np.ndarray):
        arr = np.asarray(value.detach().cpu().numpy() if isinstance(value, Tensor) else value)
        if key == "step":  # the step count stays on the CPU, as in PyTorch
            return Tensor(np.array(arr, copy=True))
        if arr.dtype.kind == "f":
            arr = arr.astype(p.dtype.np)  # floating state follows the parameter's dtype, as in PyTorch
            if arr.shape != tuple(p.shape):
                raise ValueError(f"optimizer state {key!r} of shape {fmt(arr.shape)} does not match its parameter "
                                 f"of shape {fmt(tuple(p.shape))}")
        return _on_device_of(Tensor(np.array(arr, copy=True)), p)  # and its device
    return value


