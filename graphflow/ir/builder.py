"""Small helpers for writing gradient rules and composite ops over `bind`.

They accept any value `bind` accepts (graph Nodes, eager or symbolic tensors): a gradient rule
written with them works wherever autodiff runs."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphflow.ir.bind import bind, handler_of
from graphflow.ir.dtypes import DType
from graphflow.ir.shapes import Shape


def constant(value: Any, dtype: DType, like: Any = None) -> Any:
    """A literal, of the same kind of value as `like` (a Node when `like` is None)."""
    return literal(np.asarray(value, dtype=dtype.np), like)


def literal(array: np.ndarray, like: Any = None) -> Any:
    """`array` as a value of `like`'s kind; a handler whose values live on devices (eager tensors)
    puts it on `like`'s device through its `constant_like`."""
    handler = handler_of(like)
    place = getattr(handler, "constant_like", None)
    return handler.constant(array) if place is None else place(array, like)


def positions(n: int, like: Any) -> Any:
    """int64 0, 1, ..., n-1 as a value of `like`'s kind: an `iota` node in graphs; for values that
    live on devices (eager tensors) computed now and placed on `like`'s device, since an op without
    inputs would run on the CPU."""
    handler = handler_of(like)
    if getattr(handler, "constant_like", None) is not None:
        return literal(np.arange(n, dtype=np.int64), like)
    from graphflow.ir.dtypes import int64
    from graphflow.ir.registry import get_op

    return handler.bind(get_op("iota"), (), {"shape": (n,), "axis": 0, "dtype": int64})


def full(shape: Shape, value: Any, dtype: DType, like: Any = None) -> Any:
    """A tensor of `shape` filled with `value` (a broadcast scalar constant)."""
    c = constant(value, dtype, like)
    return c if tuple(shape) == () else bind("broadcast_to", c, shape=tuple(shape))


def full_like(x: Any, value: Any, dtype: DType | None = None) -> Any:
    return full(x.shape, value, dtype or x.dtype, like=x)


def zeros_like(x: Any) -> Any:
    return full_like(x, 0)


def ones_like(x: Any) -> Any:
    return full_like(x, 1)


def scalar_op(op: str, x: Any, value: Any) -> Any:
    """x <op> value, with value a Python scalar broadcast to x."""
    return bind(op, x, full_like(x, value))


def sum_to(g: Any, shape: Shape) -> Any:
    """Sum `g` down to `shape` (undo broadcasting): the gradient of broadcast_to."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = len(g.shape) - len(shape)
    axes = list(range(lead))
    for i, d in enumerate(shape):
        if d == 1 and g.shape[lead + i] != 1:
            axes.append(lead + i)
    out = bind("reduce_sum", g, axes=tuple(axes), keepdims=False) if axes else g
    if tuple(out.shape) != shape:
        out = bind("reshape", out, shape=shape)
    return out


def keepdims_shape(shape: Shape, axes: tuple[int, ...]) -> Shape:
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def expand_reduced(g: Any, in_shape: Shape, axes: tuple[int, ...], keepdims: bool) -> Any:
    """Broadcast a reduction's cotangent back over the reduced axes."""
    if not keepdims:
        g = bind("reshape", g, shape=keepdims_shape(in_shape, axes))
    return bind("broadcast_to", g, shape=tuple(in_shape))


def transpose_last2(x: Any) -> Any:
    n = len(x.shape)
    perm = tuple(range(n - 2)) + (n - 1, n - 2)
    return bind("permute", x, perm=perm)
