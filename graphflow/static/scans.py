"""TF1's names for scans, sorting and searching (`tf.cumsum`, `tf.cumprod`, `tf.sort`,
`tf.argsort`, `tf.math.top_k` / `tf.nn.top_k`, `tf.searchsorted`), as aliases of the functional
layer's ops with TF's argument names and conventions (int32 indices, 'ASCENDING'/'DESCENDING')."""

from __future__ import annotations

from typing import Any, NamedTuple

from graphflow.errors import ShapeError
from graphflow.ir.dtypes import get_dtype, int32, int64
from graphflow.ir.shapes import fmt, normalize_axis
from graphflow.ops import scans as SCN
from graphflow.ops import sorting as SRT
from graphflow.ops.shape import slice_axis
from graphflow.ops.values import as_value, cast

__all__ = ["cumsum", "cumprod", "cumulative_logsumexp", "sort", "argsort", "top_k", "searchsorted", "TopKV2"]


class TopKV2(NamedTuple):
    """(values, indices), as tf.math.top_k returns."""

    values: Any
    indices: Any


def _cumulative(op: str, x: Any, axis: int, exclusive: bool, reverse: bool) -> Any:
    from graphflow.ir.bind import bind

    x = as_value(x)
    if not x.shape:
        raise ShapeError(f"{op}: expects a tensor with at least one dimension, got a 0-d tensor")
    a = normalize_axis(axis, len(x.shape), op)
    n = x.shape[a]
    if exclusive and n:
        # shift the input by one along the axis, the identity (0 or 1) coming in: exact for both
        identity = 0 if op == "cumsum" else 1
        widths = tuple(((0, 1) if reverse else (1, 0)) if i == a else (0, 0) for i in range(len(x.shape)))
        kept = slice_axis(x, a, 1, n) if reverse else slice_axis(x, a, 0, n - 1)
        x = bind("pad", kept, widths=widths, value=identity if x.dtype.kind in "bui" else float(identity))
    if op == "cumsum":
        if x.dtype.kind == "b":
            x = cast(x, int64)
        return bind("cumsum", x, axis=a, reverse=bool(reverse))
    if x.dtype.kind == "b":
        x = cast(x, int64)
    if reverse:
        return bind("flip", bind("cumprod", bind("flip", x, axes=(a,)), axis=a), axes=(a,))
    return bind("cumprod", x, axis=a)


def cumsum(x: Any, axis: int = 0, exclusive: bool = False, reverse: bool = False, name: str | None = None) -> Any:
    """Running sums along `axis` in x's dtype; `exclusive` leaves each element out of its own sum,
    `reverse` sums from the end."""
    return _cumulative("cumsum", x, axis, exclusive, reverse)


def cumprod(x: Any, axis: int = 0, exclusive: bool = False, reverse: bool = False, name: str | None = None) -> Any:
    """Running products along `axis` in x's dtype; `exclusive` and `reverse` as in `cumsum`."""
    return _cumulative("cumprod", x, axis, exclusive, reverse)


def cumulative_logsumexp(x: Any, axis: int = 0, exclusive: bool = False, reverse: bool = False,
                         name: str | None = None) -> Any:
    """log(cumsum(exp(x))) along `axis` (see graphflow.logcumsumexp for its range)."""
    from graphflow.ir.bind import bind

    x = as_value(x)
    if exclusive:
        raise NotImplementedError("cumulative_logsumexp: exclusive=True is not supported")
    a = normalize_axis(axis, len(x.shape), "cumulative_logsumexp")
    if reverse:
        return bind("flip", SCN.logcumsumexp(bind("flip", x, axes=(a,)), a), axes=(a,))
    return SCN.logcumsumexp(x, a)


def _descending(direction: str, op: str) -> bool:
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"{op}: direction must be 'ASCENDING' or 'DESCENDING', got {direction!r}")
    return direction == "DESCENDING"


def sort(values: Any, axis: int = -1, direction: str = "ASCENDING", name: str | None = None) -> Any:
    """The values sorted along `axis` (a stable sort; NaN as the largest value)."""
    return SRT.sort(values, axis, _descending(direction, "sort")).values


def argsort(values: Any, axis: int = -1, direction: str = "ASCENDING", stable: bool = False,
            name: str | None = None) -> Any:
    """The int32 indices that sort `values` along `axis` (always stable)."""
    return cast(SRT.argsort(values, axis, _descending(direction, "argsort")), int32)


def top_k(input: Any, k: int = 1, sorted: bool = True, name: str | None = None) -> TopKV2:  # noqa: A002
    """The k largest entries along the last dimension and their int32 indices, largest first
    (of equal entries the earlier one first)."""
    x = as_value(input)
    if not x.shape:
        raise ShapeError(f"top_k: input must have at least 1 dimension, got shape {fmt(x.shape)}")
    out = SRT.topk(x, int(k), -1, True, True)
    return TopKV2(out.values, cast(out.indices, int32))


def searchsorted(sorted_sequence: Any, values: Any, side: str = "left", out_type: Any = int32,
                 name: str | None = None) -> Any:
    """For each row of `values`, where each value goes in the same row of `sorted_sequence`
    (leading dimensions match): the first index whose element is not smaller ('left') or larger
    ('right')."""
    out_type = get_dtype(out_type)
    return cast(SRT.searchsorted(sorted_sequence, values, side=side), out_type)
