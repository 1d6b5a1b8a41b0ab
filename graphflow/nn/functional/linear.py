"""Affine maps: linear and bilinear."""

from __future__ import annotations

from typing import Any

from graphflow.ir.shapes import fmt
from graphflow.nn.functional.activation import fused
from graphflow.ops import elementwise as E
from graphflow.ops.linalg import matmul
from graphflow.ops.shape import transpose
from graphflow.ops.values import as_value

__all__ = ["linear", "bilinear"]


def linear(input: Any, weight: Any, bias: Any = None) -> Any:
    """input @ weight.T + bias, with weight of shape (out_features, in_features)."""
    if getattr(weight, "ndim", 0) == 2 and getattr(input, "ndim", 0) >= 1 and \
            getattr(input, "dtype", None) is weight.dtype and input.shape[-1] == weight.shape[-1]:
        # offered whole (eager: one cached compiled graph, the bias add as the matmul's epilogue)
        out = fused("linear", _linear, (input, weight) if bias is None else (input, weight, bias), ())
        if out is not None:
            return out
    return _linear(input, weight, bias)


def _linear(input: Any, weight: Any, bias: Any = None) -> Any:
    x = as_value(input)
    w = as_value(weight, like=x)
    if w.ndim not in (1, 2):
        raise ValueError(f"linear: weight must be 1-D or 2-D, got shape {fmt(w.shape)}")
    if x.ndim == 0 or x.shape[-1] != w.shape[-1]:
        raise ValueError(f"linear: input of shape {fmt(x.shape)} does not match weight of shape {fmt(w.shape)} "
                         f"(expected the input's last dimension to be {w.shape[-1]})")
    out = matmul(x, transpose(w, 0, 1) if w.ndim == 2 else w)
    return out if bias is None else E.add(out, bias)


def bilinear(input1: Any, input2: Any, weight: Any, bias: Any = None) -> Any:
    """y_k = x1^T W_k x2 + b_k, weight of shape (out, in1, in2)."""
    from graphflow.ops.shape import unsqueeze

    x1, x2 = as_value(input1), as_value(input2)
    # (..., 1, 1, in1) @ (out, in1, in2) -> (..., out, 1, in2), then dot with x2
    left = matmul(unsqueeze(unsqueeze(x1, -2), -3), weight)
    out = matmul(left, unsqueeze(unsqueeze(x2, -2), -1))  # (..., out, 1, 1)
    from graphflow.ops.shape import reshape

    out = reshape(out, tuple(out.shape[:-2]))
    return out if bias is None else E.add(out, bias)
