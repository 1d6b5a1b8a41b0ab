"""Turning operands into values of one kind, one dtype and one shape (PyTorch's promotion and
NumPy's broadcasting), so primitives only ever see matching operands."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphflow.ir.bind import bind
from graphflow.ir.builder import literal
from graphflow.ir.dtypes import DType, get_dtype, result_type, scalar_dtype
from graphflow.ir.shapes import broadcast_shapes


def is_value(x: Any) -> bool:
    """A graph value (Node, eager tensor, symbolic tensor): anything with a type and shape."""
    return hasattr(x, "_gf_handler") or type(x).__name__ == "Node"


def _priority(x: Any) -> int:
    if is_value(x):
        return 2 if len(x.shape) else 1
    return 0


def _dtype_of(x: Any) -> DType:
    if is_value(x):
        return x.dtype
    if isinstance(x, np.ndarray):
        return get_dtype(x.dtype)
    return scalar_dtype(x)


def as_value(x: Any, like: Any = None, dtype: DType | None = None) -> Any:
    """`x` as a value of `like`'s kind, cast to `dtype` when given."""
    if is_value(x):
        return cast(x, dtype) if dtype is not None else x
    if isinstance(x, (list, tuple)) and x and is_value(x[0]):
        raise TypeError("a list of tensors is not a tensor; use stack()")
    arr = np.asarray(x, dtype=(dtype or _dtype_of(x) if not isinstance(x, np.ndarray) else dtype or get_dtype(x.dtype)).np)
    return literal(arr, like)


def as_values(*xs: Any) -> list[Any]:
    """Each of xs as a value of the kind of the first one that is a value (numbers and arrays
    become literals beside it)."""
    like = next((x for x in xs if is_value(x)), None)
    return [as_value(x, like) for x in xs]


def joint_dtype(*xs: Any) -> list[Any]:
    """`as_values`, each cast to their joint dtype (PyTorch's promotion among tensors: ranks
    do not matter), as concatenation and einsum need."""
    values = as_values(*xs)
    dtype = result_type(*((v.dtype, 2) for v in values))
    return [cast(v, dtype) for v in values]


def cast(x: Any, dtype: DType | str) -> Any:
    dtype = get_dtype(dtype)
    return x if x.dtype is dtype else bind("cast", x, dtype=dtype)


def broadcast_to(x: Any, shape: tuple) -> Any:
    shape = tuple(shape)
    return x if tuple(x.shape) == shape else bind("broadcast_to", x, shape=shape)


def broadcast_values(*xs: Any, op: str = "broadcast") -> list[Any]:
    try:
        shape = broadcast_shapes(*(x.shape for x in xs), op=op)
    except ValueError as exc:  # name the user's line, as errors from primitives' inference do
        from graphflow.errors import at
        from graphflow.ir import source

        raise type(exc)(at(str(exc), source.capture())) from None
    return [broadcast_to(x, shape) for x in xs]


def promote(*operands: Any, op: str = "op", dtype: DType | None = None, like: Any = None) -> list[Any]:
    """Operands as values of one kind, the promoted dtype (or `dtype`) and one broadcast shape."""
    if like is None:
        like = next((x for x in operands if is_value(x)), None)
    if dtype is None:
        dtype = result_type(*((_dtype_of(x), _priority(x)) for x in operands))
    values = [as_value(x, like, dtype) for x in operands]
    if all(tuple(v.shape) == tuple(values[0].shape) for v in values):
        return values
    return broadcast_values(*values, op=op)
