"""Matrix products over values, with NumPy/PyTorch's rules for 1-D operands and batch broadcasting."""

from __future__ import annotations

from typing import Any

from graphflow.ir.bind import bind
from graphflow.ir.shapes import broadcast_shapes, fmt
from graphflow.ops.shape import reshape
from graphflow.ops.values import broadcast_to

__all__ = ["matmul", "mm", "bmm", "dot", "outer"]


def matmul(a: Any, b: Any) -> Any:
    """torch.matmul: 1-D operands are promoted to matrices and the added dimension removed after;
    batch dimensions broadcast."""
    if a.__class__ is b.__class__ and hasattr(a, "_gf_handler"):  # the common case, checked cheaply
        sa, sb = a.shape, b.shape
        if len(sa) == 2 and len(sb) == 2 and sa[1] == sb[0] and a.dtype is b.dtype:
            return bind("matmul", a, b)
    x, y = _promote_dtypes(a, b) if _needs_promotion(a, b) else (a, b)
    if len(x.shape) == 0 or len(y.shape) == 0:
        raise ValueError(f"matmul: both arguments need at least 1 dimension, got {fmt(x.shape)} and {fmt(y.shape)}")
    squeeze_front = len(x.shape) == 1
    squeeze_back = len(y.shape) == 1
    if squeeze_front:
        x = reshape(x, (1,) + tuple(x.shape))
    if squeeze_back:
        y = reshape(y, tuple(y.shape) + (1,))
    if x.shape[-1] != y.shape[-2]:
        from graphflow.errors import ShapeError, at
        from graphflow.ir import source

        raise ShapeError(at(f"matmul: shapes {fmt(a.shape)} and {fmt(b.shape)} cannot be multiplied "
                            f"({x.shape[-1]} != {y.shape[-2]})", source.capture()))
    batch = broadcast_shapes(tuple(x.shape[:-2]), tuple(y.shape[:-2]), op="matmul")
    x = broadcast_to(x, batch + tuple(x.shape[-2:]))
    y = broadcast_to(y, batch + tuple(y.shape[-2:]))
    out = bind("matmul", x, y)
    if squeeze_front or squeeze_back:
        shape = tuple(out.shape)
        if squeeze_back:
            shape = shape[:-1]
        if squeeze_front:
            shape = shape[:-2] + shape[-1:] if squeeze_back is False else shape[:-1]
        out = reshape(out, shape)
    return out


def _promote_dtypes(a: Any, b: Any) -> tuple[Any, Any]:
    """One dtype for both operands (matmul's shapes do not broadcast elementwise)."""
    from graphflow.ir.dtypes import result_type
    from graphflow.ops.values import _dtype_of, _priority, as_value, is_value

    like = a if is_value(a) else b
    dtype = result_type((_dtype_of(a), _priority(a)), (_dtype_of(b), _priority(b)))
    return as_value(a, like, dtype), as_value(b, like, dtype)


def _needs_promotion(a: Any, b: Any) -> bool:
    return not (hasattr(a, "dtype") and hasattr(b, "dtype") and hasattr(a, "shape") and hasattr(b, "shape")
                and a.dtype is b.dtype and (hasattr(a, "_gf_handler") or hasattr(b, "_gf_handler")
                                            or type(a).__name__ == "Node"))


def mm(a: Any, b: Any) -> Any:
    if len(a.shape) != 2 or len(b.shape) != 2:
        raise ValueError(f"mm: expects two matrices, got {fmt(a.shape)} and {fmt(b.shape)}")
    return matmul(a, b)


def bmm(a: Any, b: Any) -> Any:
    if len(a.shape) != 3 or len(b.shape) != 3:
        raise ValueError(f"bmm: expects two 3-D tensors, got {fmt(a.shape)} and {fmt(b.shape)}")
    return matmul(a, b)


def dot(a: Any, b: Any) -> Any:
    if len(a.shape) != 1 or len(b.shape) != 1:
        raise ValueError(f"dot: expects two 1-D tensors, got {fmt(a.shape)} and {fmt(b.shape)}")
    return matmul(a, b)


def outer(a: Any, b: Any) -> Any:
    return matmul(reshape(a, (-1, 1)), reshape(b, (1, -1)))
