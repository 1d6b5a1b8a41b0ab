"""`Parameter`: an eager tensor that a `Module` registers as trainable (requires_grad=True)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphflow.eager.tensor import Tensor

__all__ = ["Parameter", "Buffer", "is_parameter"]


def _adopt(cls: type, data: Any) -> Tensor:
    """A `cls` instance sharing `data`'s storage (no copy), without history."""
    src = data if isinstance(data, Tensor) else Tensor(np.asarray(data))
    t = object.__new__(cls)
    t._data = src._data
    t._dtype = src._dtype
    t._device = src._device
    t._rg = False
    t._node = None
    t._vc = src._vc
    t._alias = src._alias
    t.grad = None
    return t


class Parameter(Tensor):
    """A tensor that is a module parameter: assigning one to a `Module` attribute registers it,
    and it requires grad by default. `Parameter(t)` shares `t`'s storage, as in PyTorch."""

    def __new__(cls, data: Any = None, requires_grad: bool = True) -> Parameter:
        if data is None:
            data = np.zeros((0,), np.float32)
        t = _adopt(cls, data)
        if requires_grad:
            t.requires_grad = True
        return t  # type: ignore[return-value]

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        pass  # everything is set up in __new__

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        p = Parameter(Tensor(np.array(self._data, copy=True)), requires_grad=self.requires_grad)
        p._device = self._device
        if self.grad is not None:
            p.grad = self.grad.__deepcopy__(memo)
        memo[id(self)] = p
        return p

    def __reduce__(self):
        raise TypeError("Parameters are not pickled; save a state dict with gf.save(module.state_dict(), path)")


class Buffer(Tensor):
    """Marks a tensor assigned to a Module attribute as a buffer (`self.x = nn.Buffer(t)`)."""

    def __new__(cls, data: Any = None, *, persistent: bool = True) -> Buffer:
        t = _adopt(cls, data if data is not None else np.zeros((0,), np.float32))
        t.persistent = persistent
        return t  # type: ignore[return-value]

    def __init__(self, data: Any = None, *, persistent: bool = True) -> None:
        pass


def is_parameter(x: Any) -> bool:
    return isinstance(x, Parameter)
