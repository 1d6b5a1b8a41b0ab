"""Indexing over any value kind (eager, symbolic, graph nodes), through `bind`.

`getitem` handles ints, slices with any step, negative indices, `None`, `...`, integer arrays or
tensors (NumPy's advanced indexing rules, computed with one `gather`) and boolean masks (turned
into integer indices; this needs concrete values, since the result's shape depends on the data).
`setitem` is functional: it returns the updated value (`scatter_add` + `where`), so it is
differentiable with respect to both the tensor and the assigned value."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphflow.errors import ShapeError
from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.dtypes import bool_, int64
from graphflow.ir.shapes import broadcast_shapes, fmt
from graphflow.ops.values import as_value, broadcast_to, cast, is_value

__all__ = ["getitem", "setitem", "selection", "keep_last", "place", "concrete_key"]


def _concrete(v: Any) -> np.ndarray | None:
    """The array behind an index when it is known now (NumPy data, lists, eager tensors)."""
    if isinstance(v, np.ndarray):
        return v
    if isinstance(v, (list, tuple)):
        return np.asarray([_concrete(e) if is_value(e) else e for e in v])
    data = getattr(v, "_data", None)
    if isinstance(data, np.ndarray):
        return data
    host = getattr(v, "_host", None)  # an eager tensor on a device: its values, copied back (as
    return host() if host is not None else None  # PyTorch syncs for a mask or a bounds check)


def concrete_key(key: Any) -> Any:
    """The key with every tensor replaced by its array (for direct NumPy assignment)."""
    if isinstance(key, tuple):
        return tuple(concrete_key(k) for k in key)
    if is_value(key):
        arr = _concrete(key)
        if arr is None:
            raise TypeError("indexing with a symbolic tensor needs a graph op, not direct assignment")
        return arr
    return key


def _is_index_array(k: Any) -> bool:
    return is_value(k) or isinstance(k, (np.ndarray, list))


def _dtype_kind(k: Any) -> str:
    if is_value(k):
        return k.dtype.kind
    return np.asarray(k).dtype.kind


def _expand(x: Any, key: Any) -> list[tuple[str, Any]]:
    """Key entries as (kind, payload), with `...` expanded and masks turned into index arrays."""
    if not isinstance(key, tuple):
        key = (key,)
    entries: list[tuple[str, Any]] = []
    for k in key:
        if k is None:
            entries.append(("new", None))
        elif k is Ellipsis:
            entries.append(("ellipsis", None))
        elif isinstance(k, bool):
            raise TypeError("indexing with a Python bool is not supported; use a boolean tensor as a mask")
        elif isinstance(k, (int, np.integer)):
            entries.append(("int", int(k)))
        elif isinstance(k, slice):
            entries.append(("slice", k))
        elif _is_index_array(k):
            kind = _dtype_kind(k)
            if kind == "b":
                entries.append(("mask", k))
            elif kind in "iu" or (isinstance(k, list) and len(k) == 0):
                entries.append(("adv", k))
            else:
                raise TypeError(f"index tensors must be integer or bool, got a {kind!r} kind array")
        else:
            raise TypeError(f"invalid index of type {type(k).__name__}; expected int, slice, None, ..., an integer "
                            "tensor or a boolean mask")
    consumed = sum(1 if kind in ("int", "slice", "adv") else (_ndim(p) if kind == "mask" else 0)
                   for kind, p in entries)
    ndim = len(x.shape)
    if consumed > ndim:
        raise IndexError(f"too many indices for a tensor of {ndim} dimensions {fmt(x.shape)}")
    if sum(kind == "ellipsis" for kind, _ in entries) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    out: list[tuple[str, Any]] = []
    for kind, p in entries:
        if kind == "ellipsis":
            out.extend(("slice", slice(None)) for _ in range(ndim - consumed))
        else:
            out.append((kind, p))
    if not any(kind == "ellipsis" for kind, _ in entries):
        out.extend(("slice", slice(None)) for _ in range(ndim - consumed))
    return _masks_to_indices(x, out)


def _ndim(k: Any) -> int:
    return len(k.shape) if is_value(k) else np.ndim(k)


def _masks_to_indices(x: Any, entries: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    dim = 0
    for kind, p in entries:
        if kind == "mask":
            arr = _concrete(p)
            if arr is None:
                raise TypeError("indexing with a boolean mask needs concrete values (eager mode): the result's "
                                "shape depends on the data. In a graph, use where(mask, x, 0) or a masked "
                                "reduction instead")
            arr = np.asarray(arr, dtype=bool)
            want = tuple(x.shape[dim:dim + arr.ndim])
            if arr.shape != want:
                raise IndexError(f"the shape of the mask {fmt(arr.shape)} does not match the shape {fmt(want)} of "
                                 f"the indexed dimensions starting at dimension {dim}")
            if arr.ndim == 0:  # x[mask_scalar]: a new axis of length 0 or 1
                out.append(("new", None))
                if not arr:
                    out.append(("emptynew", None))
                continue
            for idx in np.nonzero(arr):
                out.append(("adv", idx.astype(np.int64)))
            dim += arr.ndim
            continue
        out.append((kind, p))
        if kind in ("int", "slice", "adv"):
            dim += 1
    return out


def _norm_slice(s: slice, d: Any, dim: int = 0) -> tuple[Any, Any, int]:
    if s.step == 0:
        raise ValueError("slice step cannot be zero")
    if not isinstance(d, (int, np.integer)):  # a symbolic size (a placeholder's None)
        return _symbolic_slice(s, d, dim)
    start, stop, step = s.indices(d)
    if len(range(start, stop, step)) == 0:
        return 0, 0, 1
    return start, stop, step


def _symbolic_slice(s: slice, d: Any, dim: int) -> tuple[Any, Any, int]:
    """Bounds along a dimension of unknown size: the whole of it, or fixed non-negative bounds
    (checked against the size once it is fed); what depends on the size (negative or open
    ends short of the whole) has no static shape."""
    step = 1 if s.step is None else s.step
    if s.start in (None, 0) and s.stop is None and step == 1:
        return 0, d, 1
    if step > 0 and isinstance(s.start, (int, type(None))) and isinstance(s.stop, int) and \
            (s.start or 0) >= 0 and s.stop >= (s.start or 0):
        return s.start or 0, s.stop, step
    raise ShapeError(f"getitem: dimension {dim} has an unknown size ({d}): it takes `:`, an index >= 0 or a "
                     f"slice with fixed non-negative bounds (start:stop), got {_slice_text(s)}")


def _slice_text(s: slice) -> str:
    text = ":".join("" if v is None else str(v) for v in (s.start, s.stop, s.step))
    return text[:-1] if s.step is None else text


def getitem(x: Any, key: Any) -> Any:
    """x[key] with NumPy/PyTorch semantics; differentiable."""
    x = as_value(x)
    entries = _expand(x, key)
    has_adv = any(kind == "adv" for kind, _ in entries)
    starts, stops, steps = [], [], []
    out_shape: list[int] = []  # shape after slicing, dropping ints and inserting new axes
    adv: list[tuple[int, Any, int]] = []  # (position in out_shape, index, size of that dimension)
    dim = 0
    for kind, p in entries:
        if kind in ("new", "emptynew"):
            if kind == "emptynew":
                out_shape[-1] = 0
            else:
                out_shape.append(1)
            continue
        d = x.shape[dim]
        if kind == "int":
            if not isinstance(d, (int, np.integer)):  # unknown size: a fixed index, checked when fed
                if p < 0:
                    raise ShapeError(f"getitem: dimension {dim} has an unknown size ({d}): a negative index "
                                     f"({p}) needs the size; index from the front")
                i = p
            else:
                i = p + d if p < 0 else p
                if not 0 <= i < d:
                    raise IndexError(f"index {p} is out of bounds for dimension {dim} with size {d}")
            if has_adv:  # NumPy: ints join the advanced indices when there are any
                starts.append(0), stops.append(d), steps.append(1)
                adv.append((len(out_shape), np.asarray(i, dtype=np.int64), d))
                out_shape.append(d)
            else:
                starts.append(i), stops.append(i + 1), steps.append(1)
        elif kind == "slice":
            s, e, st = _norm_slice(p, d, dim)
            starts.append(s), stops.append(e), steps.append(st)
            out_shape.append(d if not isinstance(d, (int, np.integer)) and e is d else len(range(s, e, st)))
        else:  # adv
            starts.append(0), stops.append(d), steps.append(1)
            adv.append((len(out_shape), p, d))
            out_shape.append(d)
        dim += 1
    y = x
    shape = tuple(x.shape)
    if (tuple(starts), tuple(stops), tuple(steps)) != ((0,) * len(shape), shape, (1,) * len(shape)):
        y = bind("slice", y, starts=tuple(starts), stops=tuple(stops), steps=tuple(steps))
    if tuple(y.shape) != tuple(out_shape):
        y = bind("reshape", y, shape=tuple(out_shape))
    if adv:
        y = _advanced(y, adv)
    return y


def _index_value(idx: Any, size: int, like: Any) -> Any:
    """An int64 index value with negative entries wrapped (checked now when the data is known)."""
    arr = _concrete(idx)
    if arr is not None:
        arr = np.asarray(arr)
        if arr.size and (arr.min() < -size or arr.max() >= size):
            bad = arr[(arr < -size) | (arr >= size)].reshape(-1)[0]
            raise IndexError(f"index {int(bad)} is out of bounds for dimension with size {size}")
        if not is_value(idx):
            return as_value(np.where(arr < 0, arr + size, arr).astype(np.int64), like)
    v = cast(as_value(idx, like), int64)
    neg = bind("lt", v, B.zeros_like(v))
    return bind("where", neg, bind("add", v, B.full_like(v, size)), v)


def _advanced(y: Any, adv: list[tuple[int, Any, int]]) -> Any:
    positions = [p for p, _, _ in adv]
    sizes = [s for _, _, s in adv]
    idx = [_index_value(i, s, y) for _, i, s in adv]
    bshape = broadcast_shapes(*(tuple(i.shape) for i in idx), op="index")
    n = len(y.shape)
    rest = [a for a in range(n) if a not in positions]
    y2 = bind("permute", y, perm=tuple(positions + rest)) if positions + rest != list(range(n)) else y
    rest_shape = tuple(y.shape[a] for a in rest)
    total = 1
    for s in sizes:
        total *= s
    y2 = bind("reshape", y2, shape=(total,) + rest_shape)
    # one linear index into the flattened advanced dimensions
    linear = None
    stride = 1
    for i, s in zip(reversed(idx), reversed(sizes)):
        term = broadcast_to(i, bshape)
        if stride != 1:
            term = bind("mul", term, B.full_like(term, stride))
        linear = term if linear is None else bind("add", linear, term)
        stride *= s
    count = 1
    for d in bshape:
        count *= d
    lin = bind("reshape", linear, shape=(count,) + (1,) * len(rest_shape))
    lin = broadcast_to(lin, (count,) + rest_shape)
    out = bind("gather", y2, lin, axis=0)
    out = bind("reshape", out, shape=tuple(bshape) + rest_shape)
    contiguous = positions == list(range(positions[0], positions[0] + len(positions)))
    if contiguous and positions[0] > 0:
        m, p0 = len(bshape), positions[0]
        perm = tuple(range(m, m + p0)) + tuple(range(m)) + tuple(range(m + p0, m + len(rest_shape)))
        out = bind("permute", out, perm=perm)
    return out


def setitem(x: Any, key: Any, value: Any, op: str = "setitem") -> Any:
    """A copy of x with x[key] replaced by value (broadcast); differentiable in both. Of repeated
    positions the last write wins, also for symbolic integer index tensors (`scattering.put`).
    `op` names the caller in errors."""
    from graphflow.ops.scattering import masked_fill, put  # scattering builds on this module's helpers

    x = as_value(x)
    if _symbolic_full_mask(x, key) and not (value.shape if is_value(value) else np.shape(value)):
        # a mask known only when the graph runs selects a data-dependent number of elements, but
        # writing one value through it is where(mask, value, x): no data-dependent shape
        return masked_fill(x, key, value)
    return put(x, key, value, False, op)


def _symbolic_full_mask(x: Any, key: Any) -> bool:
    return is_value(key) and key.dtype is bool_ and _concrete(key) is None and tuple(key.shape) == tuple(x.shape)


def keep_last(x: Any, sel_f: Any, v_f: Any) -> tuple[Any, Any]:
    """(positions, values) with only the last write to each repeated position when the positions
    are known now (as in NumPy and PyTorch on the CPU); symbolic positions are returned as is."""
    m = sel_f.shape[0]
    known = _concrete(sel_f)
    if known is not None and m:
        _, last = np.unique(known[::-1], return_index=True)
        if len(last) != m:
            keep = np.sort(m - 1 - last).astype(np.int64)
            return as_value(known[keep], x), bind("gather", v_f, as_value(keep, x), axis=0)
    return sel_f, v_f


def _numel(shape: tuple) -> Any:
    n = 1
    for d in shape:
        n *= d
    return n


def selection(x: Any, key: Any, value: Any, op: str) -> tuple[Any, Any]:
    """(the flat positions of x[key] in x, `value` cast to x's dtype, broadcast to the selection
    and flattened alike), both 1-D."""
    shape = tuple(x.shape)
    n = _numel(shape)
    lin = B.positions(n, x)
    sel = getitem(bind("reshape", lin, shape=shape), key)
    v = cast(as_value(value, x), x.dtype)
    sel_shape = tuple(sel.shape)
    if tuple(v.shape) != sel_shape:
        vs = tuple(v.shape)
        while len(vs) > len(sel_shape) and vs[0] == 1:  # PyTorch drops leading unit dimensions
            vs = vs[1:]
        v = bind("reshape", v, shape=vs) if vs != tuple(v.shape) else v
        try:
            v = broadcast_to(v, sel_shape)
        except ValueError:
            raise ValueError(f"{op}: cannot assign a value of shape {fmt(value.shape if is_value(value) else np.shape(value))}"
                             f" to a selection of shape {fmt(sel_shape)}") from None
    m = _numel(sel_shape)
    return bind("reshape", sel, shape=(m,)), bind("reshape", v, shape=(m,))


def place(x: Any, index: Any, src: Any, axis: int) -> Any:
    """x with src written (not added) at index along `axis`: positions index hits take the sum of
    the src elements sent there, the others keep x. Callers leave one writer per position (or
    zero the src of the others) to get plain assignment."""
    hits = bind("scatter_add", B.full(tuple(x.shape), 0, int64, like=x), index,
                B.full(tuple(index.shape), 1, int64, like=x), axis=axis)
    hit = bind("gt", hits, B.zeros_like(hits))
    zero = B.full(tuple(x.shape), False if x.dtype is bool_ else 0, x.dtype, like=x)
    placed = bind("scatter_add", zero, index, src, axis=axis)
    return bind("where", hit, placed, x)
