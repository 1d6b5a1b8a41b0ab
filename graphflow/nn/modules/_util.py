"""Shared helpers for layers: creating parameters and checking input shapes with clear errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphflow.eager.tensor import Tensor
from graphflow.ir.dtypes import default_float, get_dtype
from graphflow.ir.shapes import fmt
from graphflow.nn.parameter import Parameter


def new_tensor(shape: tuple, dtype: Any = None, device: Any = None, fill: float = 0.0) -> Tensor:
    dt = get_dtype(dtype) if dtype is not None else default_float
    return Tensor(np.full(shape, fill, dtype=dt.np), device=device)


def new_parameter(shape: tuple, dtype: Any = None, device: Any = None) -> Parameter:
    """An uninitialised (zero) parameter; layers fill it in `reset_parameters`."""
    return Parameter(new_tensor(tuple(shape), dtype, device))


def optional_parameter(module: Any, name: str, shape: tuple, present: bool, dtype: Any = None,
                       device: Any = None) -> None:
    """Give `module` a parameter `name` of `shape`, or register it as None (PyTorch's `bias=False`)."""
    if present:
        setattr(module, name, new_parameter(shape, dtype, device))
    else:
        module.register_parameter(name, None)


def reset_fan_in_uniform(weight: Any, bias: Any, fan_in: int) -> None:
    """PyTorch's default for Linear and Conv: kaiming_uniform_(a=sqrt(5)) weights and a bias drawn
    from U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    from graphflow.nn import init

    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


def check_input(layer: Any, x: Any, ndims: tuple[int, ...], expected: str, ok: bool = True) -> None:
    """Raise `<layer> got input of shape (...)` when x's rank is not in `ndims` or `ok` is False."""
    if x.ndim not in ndims or not ok:
        raise ValueError(f"{layer.short_repr()} got input of shape {fmt(tuple(x.shape))}; expected {expected}")
