"""gather / scatter_add along one axis (PyTorch's `gather` and `scatter_add` semantics): the
primitives behind integer indexing, embeddings and picking class scores."""

from __future__ import annotations

import numpy as np

from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.graph import TensorType
from graphflow.ir.registry import OpDef, register
from graphflow.ir.shapes import fmt, normalize_axis


def _check_index(name, x, index, axis):
    if index.dtype.kind not in "iu":
        raise TypeError(f"index must be an integer tensor, got {index.dtype.name}")
    if len(index.shape) != len(x.shape):
        raise ValueError(f"index {fmt(index.shape)} must have as many dimensions as the input {fmt(x.shape)}")
    a = normalize_axis(axis, len(x.shape), name)
    if a != axis:
        raise ValueError("axis must be normalised (non-negative)")
    for i, (di, dx) in enumerate(zip(index.shape, x.shape)):
        if i != a and di != dx:
            raise ValueError(f"index {fmt(index.shape)} and input {fmt(x.shape)} must match outside dimension {a}")


def _gather_infer(types, attrs):
    x, index = types
    _check_index("gather", x, index, attrs["axis"])
    return TensorType(x.dtype, index.shape)


def _bounds(name, index, size):
    if index.size and (index.min() < -size or index.max() >= size):
        bad = index[(index < -size) | (index >= size)].reshape(-1)[0]
        raise IndexError(f"{name}: index {int(bad)} is out of bounds for dimension of size {size}")


def _gather_ref(arrays, attrs):
    x, index = arrays
    axis = attrs["axis"]
    if x.ndim == 0:  # a scalar has one element: index 0 (or -1)
        _bounds("gather", index, 1)
        return x.copy()
    _bounds("gather", index, x.shape[axis])
    return np.take_along_axis(x, index.astype(np.int64) % max(x.shape[axis], 1), axis=axis)


def _gather_vjp(node, g):
    x, index = node.inputs
    return [bind("scatter_add", B.zeros_like(x), index, g, axis=node.attrs["axis"]), None]


def _scatter_infer(types, attrs):
    x, index, src = types
    a = attrs["axis"]
    if len(index.shape) != len(x.shape) or index.dtype.kind not in "iu":
        raise ValueError(f"index {index} must be an integer tensor with the input's rank {fmt(x.shape)}")
    normalize_axis(a, len(x.shape), "scatter_add")
    for i, (di, dx) in enumerate(zip(index.shape, x.shape)):
        if i != a and di != dx:
            raise ValueError(f"index {fmt(index.shape)} and input {fmt(x.shape)} must match outside dimension {a}")
    if src.shape != index.shape or src.dtype is not x.dtype:
        raise ValueError(f"src {src} must have the index's shape {fmt(index.shape)} and the input's dtype {x.dtype.name}")
    return x


def _scatter_ref(arrays, attrs):
    x, index, src = arrays
    axis = attrs["axis"]
    # float16/bfloat16 accumulate in float32 and round once, as the compiled backends do
    work = np.float32 if x.dtype.itemsize == 2 and x.dtype.kind not in "iu" else x.dtype
    out = np.array(x, dtype=work, copy=True)
    if out.ndim == 0:
        _bounds("scatter_add", index, 1)
        return (out + src.astype(work)).astype(x.dtype)
    _bounds("scatter_add", index, x.shape[axis])
    grid = list(np.indices(index.shape, sparse=True))
    grid[axis] = index.astype(np.int64) % max(x.shape[axis], 1)
    np.add.at(out, tuple(grid), src.astype(work))
    return out.astype(x.dtype, copy=False)


def _scatter_vjp(node, g):
    x, index, src = node.inputs
    return [g, None, bind("gather", g, index, axis=node.attrs["axis"])]


register(OpDef("gather", "index", _gather_infer, _gather_ref, _gather_vjp, {"axis": 0}, 2,
               doc="out[..i..] = x[..index[..i..]..] along `axis` (negative indices count from the end)"))
register(OpDef("scatter_add", "index", _scatter_infer, _scatter_ref, _scatter_vjp, {"axis": 0}, 3,
               doc="x with src added at index along `axis` (repeated indices accumulate)"))
