"""Cyclic shifts and tiling (PyTorch's semantics): `roll` and `tile`.

`roll` along a dimension of known size is two slices and a concat; along a symbolic size it is a
gather at (position - shift) mod size, so it also works on a placeholder's `None` dimension."""

from __future__ import annotations

from typing import Any

from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.dtypes import int64
from graphflow.ir.shapes import fmt, normalize_axis
from graphflow.ops.reductions import count_of
from graphflow.ops.shape import cat, repeat, reshape, slice_axis
from graphflow.ops.values import as_value

__all__ = ["roll", "tile"]


def _ints(value: Any, what: str, op: str) -> tuple[int, ...]:
    try:
        items = (value,) if isinstance(value, int) else tuple(value)
    except TypeError:
        items = (value,)
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{op}: {what} must be ints, got {value!r}")
    return items


def roll(input: Any, shifts: Any, dims: Any = None) -> Any:  # noqa: A002
    """Elements shifted cyclically by `shifts` along `dims` (ints or tuples of equal length);
    dims=None rolls the flattened tensor and restores its shape."""
    x = as_value(input)
    shift = _ints(shifts, "shifts", "roll")
    if dims is None:
        if len(shift) != 1:
            raise ValueError(f"roll: without dims, shifts must be one int, got {shifts!r}")
        shape = tuple(x.shape)
        n = 1
        for d in shape:
            n = n * d
        return reshape(_roll_axis(reshape(x, (n,)), shift[0], 0), shape)
    axes = _ints(dims, "dims", "roll")
    if len(axes) != len(shift):
        raise ValueError(f"roll: shifts and dims must align, got {len(shift)} shifts {shift} and "
                         f"{len(axes)} dims {axes}")
    for s, d in zip(shift, axes):
        x = _roll_axis(x, s, normalize_axis(d, len(x.shape), "roll"))
    return x


def _roll_axis(x: Any, shift: int, axis: int) -> Any:
    if not x.shape:
        return x
    size = x.shape[axis]
    if isinstance(size, int):
        if size == 0 or shift % size == 0:
            return x
        s = shift % size
        return cat([slice_axis(x, axis, size - s, size), slice_axis(x, axis, 0, size - s)], axis)
    # a symbolic size: out[i] = x[(i - shift) mod size]
    n = count_of(x, (axis,), int64)
    pos = B.positions(size, x)
    src = bind("mod", bind("sub", pos, B.full_like(pos, shift)), bind("broadcast_to", n, shape=tuple(pos.shape)))
    line = reshape(src, tuple(size if d == axis else 1 for d in range(len(x.shape))))
    return bind("gather", x, bind("broadcast_to", line, shape=tuple(x.shape)), axis=axis)


def tile(input: Any, dims: Any) -> Any:  # noqa: A002
    """`input` repeated dims[i] times along each dimension; fewer dims than input dimensions are
    padded with 1s in front, more add leading dimensions (torch.tile)."""
    x = as_value(input)
    reps = _ints(dims, "dims", "tile")
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: repeat counts must be non-negative, got {reps} for input {fmt(x.shape)}")
    reps = (1,) * (len(x.shape) - len(reps)) + reps
    if not reps:
        return x
    return repeat(x, reps)

