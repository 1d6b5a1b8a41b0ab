"""Checking and preparing the index arguments of gather, scatter and friends (PyTorch's rules):
the index dtype, its rank and sizes against the input's, and the range of its values."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphflow.errors import DTypeError, ShapeError
from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.dtypes import int32, int64
from graphflow.ir.shapes import fmt
from graphflow.ops.indexing import _concrete
from graphflow.ops.reductions import count_of
from graphflow.ops.values import as_value, broadcast_to, cast, is_value

__all__ = ["index_value", "check_rank", "check_within", "check_range", "crop"]


def index_value(op: str, index: Any, like: Any) -> Any:
    """`index` as an int64 value of `like`'s kind; int32 is accepted and widened, any other
    dtype (float, bool, narrow ints) is an error, as in PyTorch."""
    if not is_value(index):
        arr = np.asarray(index)
        if arr.dtype.kind in "iu" or arr.size == 0:
            arr = arr.astype(np.int64)
        index = arr
    v = as_value(index, like)
    if v.dtype not in (int64, int32):
        raise DTypeError(f"{op}: expected an int64 (or int32) index tensor, got {v.dtype.name}")
    return cast(v, int64)


def check_rank(op: str, what: str, value: Any, x: Any) -> None:
    if len(value.shape) != len(x.shape):
        raise ShapeError(f"{op}: {what} {fmt(value.shape)} must have as many dimensions as the input "
                         f"{fmt(x.shape)} ({len(value.shape)} != {len(x.shape)})")


def check_within(op: str, index: Any, what: str, other: Any, skip: int | None = None) -> None:
    """index.size(d) <= other.size(d) for every dimension d except `skip`."""
    for d, (i, o) in enumerate(zip(index.shape, other.shape)):
        if d != skip and isinstance(i, int) and isinstance(o, int) and i > o:
            but = "" if skip is None else f" (only dimension {skip} may be larger)"
            raise ShapeError(f"{op}: index {fmt(index.shape)} is larger than {what} {fmt(other.shape)} in "
                             f"dimension {d}{but}")


def check_range(op: str, index: Any, x: Any, dim: int) -> Any:
    """Index values must lie in [0, x.size(dim)) (negative indices are errors, as in PyTorch).

    Known values (eager) are checked now. For symbolic values, negative entries are sent to the
    size so the primitive (which would wrap them) raises when the graph runs."""
    shape = tuple(x.shape)
    size = shape[dim] if shape else 1
    arr = _concrete(index)
    if arr is not None:
        arr = np.asarray(arr)
        bad = (arr < 0) | (arr >= size)
        if arr.size and bad.any():
            valid = f"0 to {size - 1}" if size else "none: the dimension is empty"
            raise IndexError(f"{op}: index {int(arr[bad].reshape(-1)[0])} is out of bounds for dimension {dim} "
                             f"with size {size} of the input {fmt(shape)} (valid indices: {valid})")
        return index
    neg = bind("lt", index, B.zeros_like(index))
    beyond = broadcast_to(count_of(x, (dim,) if shape else (), int64), tuple(index.shape))
    return bind("where", neg, beyond, index)


def crop(x: Any, shape: tuple, skip: int | None = None) -> Any:
    """x[:shape[0], :shape[1], ...] (dimension `skip` kept whole)."""
    full = tuple(x.shape)
    stops = tuple(d if a == skip or not isinstance(s, int) else s for a, (d, s) in enumerate(zip(full, shape)))
    if stops == full:
        return x
    n = len(full)
    return bind("slice", x, starts=(0,) * n, stops=stops, steps=(1,) * n)
