"""Sorting and order statistics (PyTorch's semantics) over the `argsort` primitive: `sort`,
`argsort`, `msort`, `topk`, `kthvalue`, `median`, `nanmedian`, `quantile`, `nanquantile`, and
`searchsorted` / `bucketize` (comparisons, so they run in graphs too).

Order: every sort is stable (equal elements keep their order, also when descending), so ties
are deterministic: `topk` and `kthvalue` pick the earliest of equal elements, `median` the one
whose stable sorted position is the lower middle. NaN sorts as the largest value. Values come
from the indices by `gather`, so a gradient reaches exactly the selected elements."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphflow.errors import ShapeError
from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.dtypes import int32, int64, promote_types
from graphflow.ir.shapes import fmt, normalize_axis
from graphflow.ir.symbolic import Sym
from graphflow.ops.scans import ValuesIndices
from graphflow.ops.shape import movedim, slice_axis
from graphflow.ops.values import as_value, cast, is_value

__all__ = ["sort", "argsort", "msort", "topk", "kthvalue", "median", "nanmedian", "quantile", "nanquantile",
           "searchsorted", "bucketize"]


def _axis_input(input: Any, dim: int, op: str) -> tuple[Any, int]:  # noqa: A002
    x = as_value(input)
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    return x, normalize_axis(dim, len(x.shape), op)


def _size(x: Any, axis: int, op: str) -> Any:
    """The length of `axis`: an int, or a symbolic size (a static placeholder's None), which is
    only checked when the graph runs (an out-of-range position raises there)."""
    n = x.shape[axis]
    if isinstance(n, int) and n < 0:
        raise ShapeError(f"{op}: bad size {n} of dimension {axis}")
    return n


def _size_value(x: Any, axis: int, shape: tuple, dtype: Any, minus: int = 0) -> Any:
    """size(axis) - minus as a value of `dtype` broadcast to `shape` (a `sym_size` node when the
    size is symbolic)."""
    n = x.shape[axis]
    if not isinstance(n, Sym):
        return B.full(shape, n - minus, dtype, like=x)
    from graphflow.ops.reductions import count_of

    v = count_of(x, (axis,), dtype)
    if minus:
        v = bind("sub", v, B.constant(minus, dtype, like=x))
    return bind("broadcast_to", v, shape=tuple(shape))


def _positions(v: Any, axis: int, start: int, count: int) -> Any:
    """v[..., start:start + count, ...] along `axis`: a slice, or a gather at those positions when
    the axis has a symbolic size (a slice needs a known one)."""
    if not isinstance(v.shape[axis], Sym):
        return slice_axis(v, axis, start, start + count)
    from graphflow.ir.builder import positions

    line = bind("add", positions(count, v), B.full((count,), start, int64, like=v)) if start else positions(count, v)
    shape = tuple(count if i == axis else d for i, d in enumerate(v.shape))
    line = bind("reshape", line, shape=tuple(count if i == axis else 1 for i in range(len(v.shape))))
    return bind("gather", v, bind("broadcast_to", line, shape=shape), axis=axis)


def _order(x: Any, axis: int, descending: bool) -> Any:
    return bind("argsort", x, axis=axis, descending=bool(descending))


def argsort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:  # noqa: A002
    """The indices that sort `input` along `dim` (int64). The sort is always stable, so `stable`
    changes nothing; NaN sorts as the largest value."""
    x, axis = _axis_input(input, dim, "argsort")
    if not x.shape:
        return B.constant(0, int64, like=x)
    return _order(x, axis, descending)


def sort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> ValuesIndices:  # noqa: A002
    """(sorted values, their indices in `input`) along `dim`: a stable sort, NaN as the largest."""
    x, axis = _axis_input(input, dim, "sort")
    if not x.shape:
        return ValuesIndices(x, B.constant(0, int64, like=x))
    idx = _order(x, axis, descending)
    return ValuesIndices(bind("gather", x, idx, axis=axis), idx)


def msort(input: Any) -> Any:  # noqa: A002
    """The values sorted along the first dimension."""
    return sort(input, 0).values


def _k_of_scalar(op: str, x: Any, k: Any) -> ValuesIndices:
    """A 0-d input: its one element (k must be 1) at index 0."""
    if k != 1:
        raise IndexError(f"{op}: k ({k}) is out of range for a 0-d input (k must be 1)")
    return ValuesIndices(x, B.constant(0, int64, like=x))


def _check_k(op: str, x: Any, axis: int, k: Any, low: int, note: str) -> None:
    n = _size(x, axis, op)
    if not isinstance(k, int) or k < low or (not isinstance(n, Sym) and k > n):
        raise IndexError(f"{op}: k ({k}) is out of range for dimension {axis} of size {n} (input of shape "
                         f"{fmt(x.shape)}{note})")


def topk(input: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> ValuesIndices:  # noqa: A002
    """The k largest (smallest unless `largest`) elements along `dim` and their indices, in sorted
    order (also when `sorted=False`). Of equal elements the earlier ones come first; NaN counts as
    the largest value."""
    x, axis = _axis_input(input, dim, "topk")
    if not x.shape:
        return _k_of_scalar("topk", x, k)
    _check_k("topk", x, axis, k, 0, "")
    idx = _positions(_order(x, axis, largest), axis, 0, k)
    return ValuesIndices(bind("gather", x, idx, axis=axis), idx)


def _pick(x: Any, axis: int, idx: Any, keepdim: bool) -> ValuesIndices:
    """Values at keepdims-shaped indices along `axis`, squeezed unless `keepdim`."""
    values = bind("gather", x, idx, axis=axis)
    if not keepdim:
        shape = tuple(d for i, d in enumerate(x.shape) if i != axis)
        values, idx = bind("reshape", values, shape=shape), bind("reshape", idx, shape=shape)
    return ValuesIndices(values, idx)


def kthvalue(input: Any, k: int, dim: int = -1, keepdim: bool = False) -> ValuesIndices:  # noqa: A002
    """The k-th smallest element (k counts from 1) along `dim` and its index."""
    x, axis = _axis_input(input, dim, "kthvalue")
    if not x.shape:
        return _k_of_scalar("kthvalue", x, k)
    _check_k("kthvalue", x, axis, k, 1, "; k counts from 1")
    idx = _positions(_order(x, axis, False), axis, k - 1, 1)
    return _pick(x, axis, idx, keepdim)


def _nan_count(x: Any, axis: int) -> Any:
    return bind("reduce_sum", cast(bind("isnan", x), int64), axes=(axis,), keepdims=True)


def _median(op: str, input: Any, dim: int | None, keepdim: bool, ignore_nan: bool) -> Any:  # noqa: A002
    x = as_value(input)
    if dim is None:
        n = 1
        for d in x.shape:
            n = n * d
        if isinstance(n, int) and n == 0:
            if x.dtype.kind != "f":
                raise IndexError(f"{op}: cannot take the median of an empty tensor of shape {fmt(x.shape)}")
            return B.constant(float("nan"), x.dtype, like=x)
        flat = bind("reshape", x, shape=(n,))
        return _median_along(op, flat, 0, False, ignore_nan).values
    x, axis = _axis_input(x, dim, op)
    if not x.shape:
        return ValuesIndices(x, B.constant(0, int64, like=x))
    return _median_along(op, x, axis, keepdim, ignore_nan)


def _median_along(op: str, x: Any, axis: int, keepdim: bool, ignore_nan: bool) -> ValuesIndices:
    n = _size(x, axis, op)
    if n == 0:
        raise IndexError(f"{op}: cannot take the median over dimension {axis} of size 0 (input of shape "
                         f"{fmt(x.shape)})")
    order = _order(x, axis, False)  # NaNs last, in their original order
    kept = tuple(1 if i == axis else d for i, d in enumerate(x.shape))
    size = _size_value(x, axis, kept, int64)
    two = B.full(kept, 2, int64, like=x)
    if x.dtype.kind != "f":
        pos = bind("floor_div", bind("sub", size, B.ones_like(size)), two)
        return _pick(x, axis, bind("gather", order, pos, axis=axis), keepdim)
    nans = _nan_count(x, axis)
    if ignore_nan:  # the lower middle of the non-NaN values (a NaN when there are none)
        valid = bind("sub", size, nans)
        half = bind("floor_div", bind("sub", valid, B.ones_like(valid)), two)
        pos = bind("where", bind("gt", valid, B.zeros_like(valid)), half, B.zeros_like(valid))
    else:  # PyTorch: a row holding NaN has the first NaN (by index) as its median
        pos = bind("where", bind("gt", nans, B.zeros_like(nans)), bind("sub", size, nans),
                   bind("floor_div", bind("sub", size, B.ones_like(size)), two))
    return _pick(x, axis, bind("gather", order, pos, axis=axis), keepdim)


def median(input: Any, dim: int | None = None, keepdim: bool = False) -> Any:  # noqa: A002
    """The median: of two middle values the lower one (as PyTorch). Without `dim`, the median of
    every element (a 0-d value); with `dim`, (values, indices) along it. A NaN makes the median
    NaN (the first NaN of the row, and its index)."""
    return _median("median", input, dim, keepdim, ignore_nan=False)


def nanmedian(input: Any, dim: int | None = None, keepdim: bool = False) -> Any:  # noqa: A002
    """`median` ignoring NaNs (NaN only where every element is NaN)."""
    return _median("nanmedian", input, dim, keepdim, ignore_nan=True)


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _q_value(q: Any, x: Any, op: str) -> tuple[Any, bool]:
    """q as a 1-D value of x's dtype and kind, and whether it was a scalar."""
    if is_value(q):
        qv = cast(q, x.dtype)
        data = getattr(q, "_data", None)
        arr = np.asarray(data) if isinstance(data, np.ndarray) else None
    else:
        arr = np.asarray(q, dtype=np.float64)
        qv = as_value(arr.astype(x.dtype.np), like=x)
    if len(qv.shape) > 1:
        raise ValueError(f"{op}: q must be a scalar or 1D tensor, but got a tensor of shape {fmt(qv.shape)}")
    if arr is not None and arr.size and not ((arr >= 0) & (arr <= 1)).all():
        raise ValueError(f"{op}: q values must be in the range [0, 1], got {arr.reshape(-1).tolist()}")
    scalar = not qv.shape
    return (bind("reshape", qv, shape=(1,)) if scalar else qv), scalar


def _quantile(op: str, input: Any, q: Any, dim: int | None, keepdim: bool, interpolation: str,  # noqa: A002
              ignore_nan: bool) -> Any:
    x = as_value(input)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input tensor must be either float or double dtype, got {x.dtype.name}")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"{op}: interpolation must be one of {', '.join(_INTERPOLATIONS)}, got {interpolation!r}")
    qv, scalar_q = _q_value(q, x, op)
    if dim is None:
        n = 1
        for d in x.shape:
            n = n * d
        work, kept = bind("reshape", x, shape=(n,)), (1,) * len(x.shape)
        axis = 0
    else:
        x, axis = _axis_input(x, dim, op)
        work = x if x.shape else bind("reshape", x, shape=(1,))
        kept = tuple(1 if i == axis else d for i, d in enumerate(x.shape))
        axis = axis if x.shape else 0
    n = _size(work, axis, op)
    if n == 0:
        raise IndexError(f"{op}: input tensor must be non-empty (input of shape {fmt(x.shape)})")
    rows = movedim(work, axis, -1)  # (..., n)
    batch = tuple(rows.shape[:-1])
    last = len(rows.shape) - 1
    m = qv.shape[0]
    values = bind("gather", rows, _order(rows, last, False), axis=last)  # sorted, NaNs last
    q_b = bind("broadcast_to", bind("reshape", qv, shape=(1,) * len(batch) + (m,)), shape=batch + (m,))
    if ignore_nan:  # ranks among the non-NaN values of each row
        count = bind("sub", _size_value(rows, last, batch + (1,), int64), _nan_count(rows, last))
        top = bind("where", bind("gt", count, B.zeros_like(count)), bind("sub", count, B.ones_like(count)),
                   B.zeros_like(count))
        rank = bind("mul", q_b, bind("broadcast_to", cast(top, x.dtype), shape=batch + (m,)))
    else:
        rank = bind("mul", q_b, _size_value(rows, last, batch + (m,), x.dtype, minus=1))
    lo, hi = bind("floor", rank), bind("ceil", rank)

    def at(pos: Any) -> Any:
        return bind("gather", values, cast(pos, int64), axis=last)

    if interpolation == "lower":
        out = at(lo)
    elif interpolation == "higher":
        out = at(hi)
    elif interpolation == "nearest":
        out = at(bind("round", rank))  # half to even, as torch.round
    else:
        a, b = at(lo), at(hi)
        if interpolation == "midpoint":
            out = bind("mul", bind("add", a, b), B.full_like(a, 0.5))
        else:
            out = bind("add", a, bind("mul", bind("sub", rank, lo), bind("sub", b, a)))
    if not ignore_nan:  # a row holding NaN has a NaN quantile (its largest sorted value is NaN)
        last_pos = _size_value(rows, last, batch + (1,), int64, minus=1)
        top_value = bind("broadcast_to", bind("gather", values, last_pos, axis=last), shape=batch + (m,))
        out = bind("where", bind("isnan", top_value), top_value, out)
    out = movedim(out, -1, 0)  # (m, ...)
    out = bind("reshape", out, shape=(m,) + (kept if keepdim else batch))
    return bind("reshape", out, shape=tuple(out.shape[1:])) if scalar_q else out


def quantile(input: Any, q: Any, dim: int | None = None, keepdim: bool = False, *,  # noqa: A002
             interpolation: str = "linear") -> Any:
    """The q-th quantiles along `dim` (all elements when None) of a float input, as
    torch.quantile: q a float or 1-D tensor in [0, 1] (a 1-D q adds a leading dimension);
    `interpolation` between the two nearest sorted values: 'linear', 'lower', 'higher',
    'midpoint' or 'nearest' (half to even). A row holding NaN gives NaN."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, ignore_nan=False)


def nanquantile(input: Any, q: Any, dim: int | None = None, keepdim: bool = False, *,  # noqa: A002
                interpolation: str = "linear") -> Any:
    """`quantile` ignoring NaNs (NaN only where a row has no other value)."""
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, ignore_nan=True)


# ---- searchsorted -----------------------------------------------------------------------------

def _before(a: Any, b: Any, floats: bool) -> Any:
    """a sorts strictly before b (NaN is the largest value)."""
    lt = bind("lt", a, b)
    if not floats:
        return lt
    return bind("logical_or", lt, bind("logical_and", bind("isnan", b), bind("logical_not", bind("isnan", a))))


def _host(v: Any) -> np.ndarray | None:
    from graphflow.ir.bind import DYNAMIC

    data = getattr(v, "_data", None)
    return data if isinstance(data, np.ndarray) and not DYNAMIC else None


def searchsorted(sorted_sequence: Any, input: Any, *, out_int32: bool = False, right: bool = False,  # noqa: A002
                 side: str | None = None, sorter: Any = None) -> Any:
    """For each value, the index where it would be inserted into the innermost dimension of
    `sorted_sequence` to keep it sorted: the first position whose element is not smaller
    (`right=False` / side='left') or larger (`right=True` / side='right'). `sorted_sequence` is
    1-D, or has the values' leading dimensions. NaN counts as the largest value (NumPy's order).
    Eager CPU tensors use np.searchsorted; other values are one comparison per (value, element),
    so the op also runs in graphs."""
    if side is not None:
        if side not in ("left", "right"):
            raise ValueError(f"searchsorted: side can only be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise ValueError("searchsorted: side and right can't be set to opposites, got side of left while "
                             "right was True")
        right = side == "right"
    s = as_value(sorted_sequence)
    if not s.shape:
        raise ShapeError("searchsorted: sorted_sequence must have at least one dimension, got a 0-d tensor")
    if sorter is not None:
        from graphflow.ops.gathering import take_along_dim

        s = take_along_dim(s, as_value(sorter, like=s), -1)
    scalar = not is_value(input) and np.ndim(input) == 0
    v = as_value(input, like=s)
    if len(s.shape) > 1 and (len(v.shape) != len(s.shape) or tuple(v.shape[:-1]) != tuple(s.shape[:-1])):
        raise ShapeError(f"searchsorted: boundaries tensor should be 1 dimension or the first N-1 dimensions of "
                         f"boundaries tensor and input value tensor must match, but we got boundaries tensor "
                         f"{fmt(s.shape)} and input value tensor {fmt(v.shape)}")
    if scalar and len(s.shape) > 1:
        raise ShapeError("searchsorted: a scalar value needs a 1-D sorted_sequence, got shape " + fmt(s.shape))
    dtype = promote_types(s.dtype, v.dtype)
    s, v = cast(s, dtype), cast(v, dtype)
    out_dtype = int32 if out_int32 else int64
    hs, hv = _host(s), _host(v)
    if hs is not None and hv is not None and getattr(s, "_device", None) is None:
        return as_value(_np_searchsorted(hs, hv, right).astype(out_dtype.np), like=s)
    m = s.shape[-1]
    if len(s.shape) == 1:
        grid = tuple(v.shape) + (m,)
        s_b = bind("broadcast_to", bind("reshape", s, shape=(1,) * len(v.shape) + (m,)), shape=grid)
    else:
        grid = tuple(v.shape) + (m,)
        s_b = bind("broadcast_to", bind("reshape", s, shape=tuple(s.shape[:-1]) + (1, m)), shape=grid)
    v_b = bind("broadcast_to", bind("reshape", v, shape=tuple(v.shape) + (1,)), shape=grid)
    floats = dtype.kind == "f"
    hit = bind("logical_not", _before(v_b, s_b, floats)) if right else _before(s_b, v_b, floats)
    count = bind("reduce_sum", cast(hit, int64), axes=(len(grid) - 1,), keepdims=False)
    return cast(count, out_dtype)


def _np_searchsorted(s: np.ndarray, v: np.ndarray, right: bool) -> np.ndarray:
    side = "right" if right else "left"
    if s.dtype.itemsize == 2 and s.dtype.kind not in "iu":  # the half types, compared exactly in float32
        s, v = s.astype(np.float32), v.astype(np.float32)
    if s.ndim == 1:
        return np.asarray(np.searchsorted(s, v, side=side), dtype=np.int64)
    out = np.empty(v.shape, dtype=np.int64)
    for idx in np.ndindex(*s.shape[:-1]):
        out[idx] = np.searchsorted(s[idx], v[idx], side=side)
    return out


def bucketize(input: Any, boundaries: Any, *, out_int32: bool = False, right: bool = False) -> Any:  # noqa: A002
    """The bucket of each value among 1-D `boundaries` (torch.bucketize: searchsorted with the
    arguments swapped)."""
    b = as_value(boundaries)
    if len(b.shape) != 1:
        raise ShapeError(f"bucketize: boundaries tensor must be 1 dimension, but got a tensor of shape {fmt(b.shape)}")
    return searchsorted(b, input, out_int32=out_int32, right=right)
