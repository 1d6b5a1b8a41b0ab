"""Ops whose result's shape depends on the input's values (PyTorch's semantics): `nonzero`,
`argwhere`, `masked_select`, `unique`, `bincount`.

The data-dependent ones need concrete values (eager tensors, NumPy arrays): they compute the
positions now, in NumPy, and return values of the input's kind (on its device). In a static graph
or under gf.compile they raise a TypeError naming the op, as boolean-mask indexing does.
`masked_select` reads the selected elements with `gather`, so it is differentiable."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphflow.errors import ShapeError
from graphflow.ir.bind import DYNAMIC, bind
from graphflow.ir.builder import literal
from graphflow.ir.dtypes import float32, float64
from graphflow.ir.shapes import broadcast_shapes, fmt, normalize_axis
from graphflow.ops.values import as_value, broadcast_to, cast, is_value

__all__ = ["nonzero", "argwhere", "masked_select", "unique", "bincount"]


def concrete(op: str, v: Any, what: str = "input") -> np.ndarray:
    """The values behind `v` now, or a TypeError saying why `op` needs them."""
    arr = None
    if not is_value(v):
        arr = np.asarray(v)
    elif not DYNAMIC:
        data = getattr(v, "_data", None)
        if isinstance(data, np.ndarray):
            arr = data
        else:
            host = getattr(v, "_host", None)  # an eager tensor on a device: its values, copied back
            arr = host() if host is not None else None
    if arr is None:
        raise TypeError(f"{op}: the shape of its result depends on the values of the {what} (a tensor of shape "
                        f"{fmt(v.shape)}), so it needs concrete values (eager mode); it cannot be part of a static "
                        "graph or a gf.compile trace. Use a fixed-shape form instead (where, a masked "
                        "reduction, sort/topk)")
    return arr


def _like(x: Any) -> Any:
    return x if is_value(x) else None


def _host_dtype(a: np.ndarray) -> np.ndarray:
    """The half types compared in float32 (exact), NumPy's own types as they are."""
    return a.astype(np.float32) if a.dtype.itemsize == 2 and a.dtype.kind not in "iu" else a


def nonzero(input: Any, *, as_tuple: bool = False) -> Any:  # noqa: A002
    """The indices of the non-zero elements: an int64 (count, ndim) tensor in row-major order,
    or with `as_tuple` one 1-D index tensor per dimension."""
    arr = concrete("nonzero", input)
    like = _like(input)
    if as_tuple:
        if arr.ndim == 0:
            return (literal(np.arange(int(bool(arr)), dtype=np.int64), like),)
        return tuple(literal(np.ascontiguousarray(i, dtype=np.int64), like) for i in np.nonzero(arr))
    return literal(np.ascontiguousarray(np.argwhere(arr), dtype=np.int64), like)


def argwhere(input: Any) -> Any:  # noqa: A002
    """`nonzero(input)`: the (count, ndim) indices of the non-zero elements."""
    return nonzero(input)


def masked_select(input: Any, mask: Any) -> Any:  # noqa: A002
    """The elements of `input` where the bool `mask` is True, as a 1-D tensor in row-major order
    (input and mask broadcast together). The gradient reaches the selected elements."""
    x = as_value(input)
    m = concrete("masked_select", mask, "mask")
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select: expected a bool mask, got {m.dtype.name}")
    shape = broadcast_shapes(tuple(x.shape), m.shape, op="masked_select")
    positions = np.flatnonzero(np.broadcast_to(m, shape)).astype(np.int64)
    n = int(np.prod(shape, dtype=np.int64))
    flat = bind("reshape", broadcast_to(x, shape), shape=(n,))
    return bind("gather", flat, literal(positions, x), axis=0)


def unique(input: Any, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
           dim: int | None = None) -> Any:
    """The distinct elements (dim=None, flattened) or distinct slices along `dim`, in ascending
    order (also when `sorted=False`); with `return_inverse` the index of each element (slice) in
    the result, with `return_counts` how often each occurs. NaNs are never equal to each other,
    so each is its own element (as PyTorch)."""
    arr = concrete("unique", input)
    like = _like(input)
    work = _host_dtype(arr)
    if dim is None:
        flat = work.reshape(-1)
        values, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True, equal_nan=False)
        inverse = inverse.reshape(arr.shape)
    else:
        axis = normalize_axis(dim, arr.ndim, "unique")
        if arr.ndim == 0:
            raise ShapeError("unique: dim cannot be used with a 0-d input")
        if arr.shape[axis] == 0:
            values = arr
            inverse, counts = np.zeros((0,), np.int64), np.zeros((0,), np.int64)
        else:
            values, inverse, counts = np.unique(work, return_inverse=True, return_counts=True, axis=axis)
            inverse = inverse.reshape(-1)
    out = literal(np.ascontiguousarray(np.asarray(values).astype(arr.dtype)), like)
    extras = []
    if return_inverse:
        extras.append(literal(np.ascontiguousarray(inverse, dtype=np.int64), like))
    if return_counts:
        extras.append(literal(np.ascontiguousarray(counts, dtype=np.int64), like))
    return (out, *extras) if extras else out


def bincount(input: Any, weights: Any = None, minlength: int = 0) -> Any:  # noqa: A002
    """How often each value 0..max occurs in a 1-D tensor of non-negative integers (at least
    `minlength` bins). With `weights`, the sum of the weights of each value instead: float32
    weights give float32 (accumulated in float32), others float64, as PyTorch; differentiable in
    the weights."""
    arr = concrete("bincount", input)
    if arr.ndim != 1 or arr.dtype.kind not in "bui":
        raise ValueError(f"bincount: only supports 1-d non-negative integral inputs, got {arr.dtype.name} of shape "
                         f"{fmt(arr.shape)}")
    if not isinstance(minlength, int) or minlength < 0:
        raise ValueError(f"bincount: minlength should be >= 0, got {minlength}")
    idx = arr.astype(np.int64)
    if idx.size and idx.min() < 0:
        raise ValueError(f"bincount: input values must be non-negative, found {int(idx.min())}")
    length = max(int(idx.max()) + 1 if idx.size else 0, minlength)
    like = _like(input)
    if weights is None:
        return literal(np.bincount(idx, minlength=length).astype(np.int64), like)
    w = as_value(weights, like=like)
    if tuple(w.shape) != arr.shape:
        raise ShapeError(f"bincount: weights of shape {fmt(w.shape)} should have the input's shape {fmt(arr.shape)}")
    w = cast(w, float32 if w.dtype is float32 else float64)
    zeros = literal(np.zeros((length,), dtype=w.dtype.np), w)
    return bind("scatter_add", zeros, literal(idx, w), w, axis=0)
