"""Reading elements by index along one dimension: `gather`, `take_along_dim`, `index_select`
(PyTorch's semantics), each one `gather` primitive over any value kind."""

from __future__ import annotations

from typing import Any

from graphflow.errors import ShapeError
from graphflow.ir.bind import bind
from graphflow.ir.shapes import fmt, normalize_axis
from graphflow.ops.index_args import check_range, check_rank, check_within, crop, index_value
from graphflow.ops.values import as_value, broadcast_to

__all__ = ["gather", "take_along_dim", "index_select"]


def gather(input: Any, dim: int, index: Any, *, sparse_grad: bool = False) -> Any:  # noqa: A002
    """out[i][j][k] = input[index[i][j][k]][j][k] for dim=0 (likewise for other dims).

    `index` has input's rank and index.size(d) <= input.size(d) for d != dim; the result has
    index's shape. Indices must lie in [0, input.size(dim)). The gradient scatters back
    (duplicates accumulate). `sparse_grad` is accepted for PyTorch compatibility and ignored."""
    return _gather("gather", as_value(input), dim, index)


def _gather(op: str, x: Any, dim: int, index: Any) -> Any:
    idx = index_value(op, index, x)
    check_rank(op, "index", idx, x)
    axis = normalize_axis(dim, len(x.shape), op)
    check_within(op, idx, "input", x, skip=axis)
    idx = check_range(op, idx, x, axis)
    # the primitive wants index and input to agree outside `axis`: read the covered corner only
    return bind("gather", crop(x, tuple(idx.shape), skip=axis), idx, axis=axis)


def take_along_dim(input: Any, indices: Any, dim: int | None = None) -> Any:  # noqa: A002
    """`gather` after broadcasting input and indices against each other outside `dim`
    (numpy.take_along_axis); with dim=None both are flattened first."""
    x = as_value(input)
    idx = index_value("take_along_dim", indices, x)
    if dim is None:
        flat = bind("reshape", x, shape=(_numel(x),))
        return _gather("take_along_dim", flat, 0, bind("reshape", idx, shape=(_numel(idx),)))
    check_rank("take_along_dim", "indices", idx, x)
    axis = normalize_axis(dim, len(x.shape), "take_along_dim")
    shape = []
    for d, (a, b) in enumerate(zip(x.shape, idx.shape)):
        if d == axis:
            shape.append(None)
        elif a == b or b == 1:
            shape.append(a)
        elif a == 1:
            shape.append(b)
        else:
            raise ShapeError(f"take_along_dim: input {fmt(x.shape)} and indices {fmt(idx.shape)} do not broadcast "
                             f"in dimension {d}")
    x = broadcast_to(x, tuple(x.shape[d] if s is None else s for d, s in enumerate(shape)))
    idx = broadcast_to(idx, tuple(idx.shape[d] if s is None else s for d, s in enumerate(shape)))
    return _gather("take_along_dim", x, axis, idx)


def index_select(input: Any, dim: int, index: Any) -> Any:  # noqa: A002
    """The slices input[..., index[k], ...] along `dim`, for a 1-D (or 0-d) index; the result has
    input's shape with dim's size replaced by len(index). Negative indices are errors."""
    x = as_value(input)
    idx = index_value("index_select", index, x)
    if len(idx.shape) > 1:
        raise ShapeError(f"index_select: index must be 1-D (or 0-d), got shape {fmt(idx.shape)}")
    axis = normalize_axis(dim, len(x.shape), "index_select")
    idx = check_range("index_select", idx, x, axis)
    k = idx.shape[0] if idx.shape else 1
    if not x.shape:  # a 0-d input: one element, read (PyTorch returns a 0-d result)
        if k != 1:
            raise ShapeError(f"index_select: a 0-d input takes an index of one element, got {fmt(idx.shape)}")
        return bind("gather", x, bind("reshape", idx, shape=()), axis=0)
    out_shape = tuple(k if d == axis else s for d, s in enumerate(x.shape))
    line = bind("reshape", idx, shape=tuple(k if d == axis else 1 for d in range(len(x.shape))))
    return bind("gather", x, broadcast_to(line, out_shape), axis=axis)


def _numel(x: Any) -> Any:
    n = 1
    for d in x.shape:
        n = n * d
    return n
