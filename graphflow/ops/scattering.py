"""Writing elements by index (PyTorch's semantics): `scatter_add`, `scatter`, `masked_fill`,
`index_put`, `index_add`, functional (they return the updated value) and differentiable in the
input and in the written values; `INPLACE` names their in-place forms (`scatter_`, ...).

Repeated positions: the accumulating ops (`scatter_add`, `index_add`, `index_put(...,
accumulate=True)`) sum them. The assigning ops (`scatter`, `index_put`) keep the last write
(PyTorch leaves that unspecified; here it is deterministic in every mode). The last writers are
found from the index's values when they are known (eager), and in graphs by comparing every pair
of index entries along `dim` (scatter: index.numel() * index.size(dim) comparisons; index_put:
among the broadcast index entries)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphflow.errors import DTypeError, ShapeError
from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.dtypes import bool_
from graphflow.ir.shapes import fmt, normalize_axis
from graphflow.ops import elementwise as E
from graphflow.ops import reductions as R
from graphflow.ops import shape as S
from graphflow.ops.index_args import check_range, check_rank, check_within, crop, index_value
from graphflow.ops.indexing import _concrete, keep_last, place, selection
from graphflow.ops.values import as_value, broadcast_to, broadcast_values, cast, is_value

__all__ = ["scatter_add", "scatter", "masked_fill", "index_put", "index_add"]


def _target(op: str, input: Any, dim: int, index: Any) -> tuple[Any, int, Any]:  # noqa: A002
    """(input as a value, dim normalised, index checked: int64, input's rank, within input's
    sizes outside dim, values in range)."""
    x = as_value(input)
    idx = index_value(op, index, x)
    check_rank(op, "index", idx, x)
    axis = normalize_axis(dim, len(x.shape), op)
    check_within(op, idx, "input", x, skip=axis)
    idx = check_range(op, idx, x, axis)
    return x, axis, idx


def _source(op: str, src: Any, x: Any, idx: Any) -> Any:
    """src as a value of index's shape: a number (filled), or a tensor of input's dtype at least
    as large as index in every dimension (its leading corner is used, as in PyTorch)."""
    if not is_value(src) and np.ndim(src) == 0:
        return B.full(tuple(idx.shape), src, x.dtype, like=x)
    s = as_value(src, x) if is_value(src) else as_value(src, x, x.dtype)
    if s.dtype is not x.dtype:
        raise DTypeError(f"{op}: src has dtype {s.dtype.name}, the input {x.dtype.name}; they must be the same")
    check_rank(op, "src", s, x)
    check_within(op, idx, "src", s)
    return crop(s, tuple(idx.shape))


def _along(x: Any, axis: int, idx: Any, write: Any) -> Any:
    """write(region) on the leading corner of x that index covers (all of x when index matches
    x outside `axis`, the usual case), pasted back into x."""
    region = crop(x, tuple(idx.shape), skip=axis)
    out = write(region)
    return out if region is x else _paste(x, out)


def _paste(x: Any, corner: Any) -> Any:
    """x with its leading corner replaced by `corner`, by concatenation (exact, and the gradient
    of each part reaches its source)."""
    out = corner
    n = len(x.shape)
    for d in reversed(range(n)):
        c, full = corner.shape[d], x.shape[d]
        if c == full:
            continue
        # x beyond the corner along d, within the corner along the dims before d
        starts = tuple(c if a == d else 0 for a in range(n))
        stops = tuple(corner.shape[a] if a < d else x.shape[a] for a in range(n))
        rest = bind("slice", x, starts=starts, stops=stops, steps=(1,) * n)
        out = bind("concat", out, rest, axis=d)
    return out


def scatter_add(input: Any, dim: int, index: Any, src: Any) -> Any:  # noqa: A002
    """out = input with src[i][j][k] added at out[index[i][j][k]][j][k] (dim=0; likewise for other
    dims); repeated indices accumulate. index has input's rank, index.size(d) <= src.size(d) for
    every d and <= input.size(d) for d != dim."""
    x, axis, idx = _target("scatter_add", input, dim, index)
    s = _source("scatter_add", src, x, idx)
    return _along(x, axis, idx, lambda r: bind("scatter_add", r, idx, s, axis=axis))


def scatter(input: Any, dim: int, index: Any, src: Any = None, *, value: Any = None,  # noqa: A002
            reduce: str | None = None) -> Any:
    """out = input with out[index[i][j][k]][j][k] = src[i][j][k] (dim=0; likewise for other dims);
    src may be a tensor or a number (`value`). Repeated positions keep the last write along dim.
    The gradient is zero for input at the written positions; for src it is the gradient gathered
    at index (zero for writes that a later one overwrote). reduce='add' is scatter_add."""
    if (src is None) == (value is None):
        raise TypeError("scatter: give exactly one of src (a tensor or a number) and value")
    src = value if src is None else src
    if reduce is not None:
        if reduce != "add":
            raise NotImplementedError(f"scatter: reduce={reduce!r} is not supported (use reduce='add' or None)")
        return scatter_add(input, dim, index, src)
    x, axis, idx = _target("scatter", input, dim, index)
    s = _source("scatter", src, x, idx)
    winners = _last_writers(idx, axis)
    if winners is not None:  # overwritten writes send nothing (and get no gradient)
        s = bind("where", winners, s, B.full(tuple(s.shape), False if x.dtype is bool_ else 0, x.dtype, like=x))
    return _along(x, axis, idx, lambda r: place(r, idx, s, axis))


def _last_writers(idx: Any, axis: int) -> Any:
    """A bool value of index's shape, True where no later entry along `axis` (same other
    coordinates) holds the same index; None when every entry is such a last write."""
    k = idx.shape[axis] if idx.shape else 1
    if isinstance(k, int) and k <= 1:
        return None
    known = _concrete(idx)
    if known is not None:
        rows = np.moveaxis(np.asarray(known, dtype=np.int64), axis, -1)
        flat = rows.reshape(-1, k)
        span = int(flat.max()) + 1 if flat.size else 1
        keys = (flat + np.arange(flat.shape[0], dtype=np.int64)[:, None] * span).reshape(-1)
        _, last = np.unique(keys[::-1], return_index=True)  # first in reverse order: last in order
        if len(last) == keys.size:
            return None
        win = np.zeros(keys.size, dtype=bool)
        win[keys.size - 1 - last] = True
        return as_value(np.moveaxis(win.reshape(rows.shape), -1, axis), idx)
    if not isinstance(k, int):
        raise ShapeError(f"scatter: in a graph, the size of index along dim ({k}) must be known to resolve "
                         f"repeated positions; index {fmt(idx.shape)}")
    same = E.eq(S.unsqueeze(idx, axis + 1), S.unsqueeze(idx, axis))  # [.., k, k', ..]: idx[k] == idx[k']
    later = np.arange(k)[None, :] > np.arange(k)[:, None]
    later = later.reshape(tuple(k if a in (axis, axis + 1) else 1 for a in range(len(idx.shape) + 1)))
    overwritten = R.any(E.logical_and(same, as_value(later, idx)), dim=axis + 1)
    return E.logical_not(overwritten)


def masked_fill(input: Any, mask: Any, value: Any) -> Any:  # noqa: A002
    """input with `value` (a number or a 0-d tensor, cast to input's dtype) where the bool `mask`
    (broadcast with input) is True. The gradient is zero for input where masked; for a 0-d
    tensor value it is the sum of the gradient over the masked positions."""
    x = as_value(input)
    m = as_value(mask, x)
    if m.dtype is not bool_:
        raise DTypeError(f"masked_fill: expected a bool mask, got {m.dtype.name}")
    if np.ndim(value) if not is_value(value) else len(value.shape):
        shape = value.shape if is_value(value) else np.shape(value)
        raise ShapeError(f"masked_fill: the value must be a number or a 0-d tensor, got shape {fmt(tuple(shape))}")
    v = cast(value, x.dtype) if is_value(value) else as_value(value, x, x.dtype)
    m, xb = broadcast_values(m, x, op="masked_fill")
    return bind("where", m, broadcast_to(v, tuple(xb.shape)), xb)


def index_put(input: Any, indices: Any, values: Any, accumulate: bool = False) -> Any:  # noqa: A002
    """input with input[indices] = values (broadcast), indices a tuple of index tensors (integer
    or bool) as in input[indices]. accumulate=True adds instead, repeated positions summing;
    otherwise the last of repeated positions wins."""
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put: indices must be a tuple of index tensors, got {type(indices).__name__}")
    return put(as_value(input), tuple(indices), values, accumulate, "index_put")


def put(x: Any, key: Any, values: Any, accumulate: bool, op: str) -> Any:
    """x with x[key] = values (`index_put`, and `indexing.setitem` for any key: ints, slices,
    masks, index tensors); `op` names the caller in errors."""
    shape = tuple(x.shape)
    positions, v = selection(x, key, values, op)
    if not accumulate:  # the last of repeated positions wins
        if _concrete(positions) is not None:
            positions, v = keep_last(x, positions, v)
        else:
            v = _drop_overwritten(x, key if isinstance(key, tuple) else (key,), positions, v)
    flat = bind("reshape", x, shape=(_numel(x),))
    if accumulate:
        return bind("reshape", bind("scatter_add", flat, positions, v, axis=0), shape=shape)
    return bind("reshape", place(flat, positions, v, 0), shape=shape)


def _drop_overwritten(x: Any, key: tuple, positions: Any, v: Any) -> Any:
    """v with zeros for the writes a later one overwrites, for symbolic integer indices into the
    leading dimensions: the selection is then (broadcast index shape) + (the other dimensions),
    and repeats are found among the broadcast index entries (pairwise, as scatter does)."""
    if not all(is_value(k) and k.dtype.kind in "iu" for k in key):
        return v  # masks and lists are known values, handled above
    from graphflow.ir.shapes import broadcast_shapes

    lead = broadcast_shapes(*(tuple(k.shape) for k in key), op="index_put")
    b, m = _numel_of(lead), positions.shape[0]
    if not (isinstance(b, int) and isinstance(m, int)) or b <= 1 or m == 0:
        return v
    rest = m // b
    first = bind("reshape", crop(bind("reshape", positions, shape=(b, rest)), (b, 1)), shape=(b,))
    winners = _last_writers(first, 0)
    if winners is None:
        return v
    winners = bind("reshape", broadcast_to(bind("reshape", winners, shape=(b, 1)), (b, rest)), shape=(m,))
    return bind("where", winners, v, B.full((m,), False if x.dtype is bool_ else 0, x.dtype, like=x))


def _numel_of(shape: tuple) -> Any:
    n = 1
    for d in shape:
        n = n * d
    return n


def index_add(input: Any, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> Any:  # noqa: A002
    """input with alpha * source[..., k, ...] added at input[..., index[k], ...] along `dim`, for a
    1-D index; source has input's shape with dim's size len(index). Repeated indices accumulate."""
    x = as_value(input)
    idx = index_value("index_add", index, x)
    if len(idx.shape) > 1:
        raise ShapeError(f"index_add: index must be 1-D (or 0-d), got shape {fmt(idx.shape)}")
    axis = normalize_axis(dim, len(x.shape), "index_add")
    src = as_value(source, x) if is_value(source) else as_value(source, x, x.dtype)
    if src.dtype is not x.dtype:
        raise DTypeError(f"index_add: source has dtype {src.dtype.name}, the input {x.dtype.name}; they must be "
                         "the same")
    k = idx.shape[0] if idx.shape else 1
    want = tuple(k if d == axis else s for d, s in enumerate(x.shape))
    if tuple(src.shape) != want and not (not x.shape and _numel(src) == 1):
        raise ShapeError(f"index_add: source {fmt(src.shape)} must have shape {fmt(want)}: the input "
                         f"{fmt(x.shape)} with dimension {axis} of size len(index) = {k}")
    idx = check_range("index_add", idx, x, axis)
    if not (isinstance(alpha, (int, float)) and alpha == 1):
        src = cast(E.mul(src, alpha), x.dtype)
    if not x.shape:
        return bind("scatter_add", x, bind("reshape", idx, shape=()), bind("reshape", src, shape=()), axis=0)
    line = bind("reshape", idx, shape=tuple(k if d == axis else 1 for d in range(len(x.shape))))
    return bind("scatter_add", x, broadcast_to(line, want), src, axis=axis)


def _numel(x: Any) -> Any:
    return _numel_of(tuple(x.shape))


# the in-place forms (Tensor.scatter_ ...): the eager tensor and the tracer apply them through
# their own in-place machinery (version counters, leaf checks)
INPLACE: dict[str, Any] = {
    "scatter_": scatter, "scatter_add_": scatter_add, "masked_fill_": masked_fill, "index_put_": index_put,
    "index_add_": index_add,
}
