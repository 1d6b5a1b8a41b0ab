"""Scans and sorting along one axis: `cumsum`, `cumprod`, `cumarg` (the running arg-extreme,
behind cummax/cummin) and `argsort` (behind sort, topk, kthvalue, median, quantile).

Every op keeps its input's shape and works along one normalised (non-negative) `axis` of an
input with at least one dimension (the functional layer reshapes 0-d values). Index outputs are
int64 and not differentiable: values come from them by `gather`, so a gradient reaches exactly
the selected elements (as in PyTorch)."""

from __future__ import annotations

import numpy as np

from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.dtypes import int64
from graphflow.ir.graph import TensorType
from graphflow.ir.registry import NOT_DIFFERENTIABLE, OpDef, register
from graphflow.ir.shapes import fmt


def _check_axis(name: str, t: TensorType, axis: object) -> int:
    if not t.shape:
        raise ValueError(f"needs an input with at least one dimension, got shape {fmt(t.shape)} "
                         "(reshape a 0-d value to (1,) first)")
    if not isinstance(axis, int) or isinstance(axis, bool) or not 0 <= axis < len(t.shape):
        raise ValueError(f"axis must be a normalised dimension in [0, {len(t.shape) - 1}] for an input of shape "
                         f"{fmt(t.shape)}, got {axis!r}")
    return axis


def _is_half(x: np.ndarray) -> bool:
    return x.dtype.itemsize == 2 and x.dtype.kind not in "iu"


def _work(x: np.ndarray) -> np.ndarray:
    """float16/bfloat16 computed in float32 (rounded once per output, as the compiled backends do)."""
    return x.astype(np.float32) if _is_half(x) else x


# ---- cumsum / cumprod ------------------------------------------------------------------------

def _cum_infer(name: str):
    def infer(types, attrs):
        (t,) = types
        _check_axis(name, t, attrs["axis"])
        if t.dtype.kind == "b":
            raise TypeError("expects a numeric (non-bool) dtype, got bool (cast to an integer type first)")
        return t

    return infer


def _cum_reference(fn):
    def reference(arrays, attrs):
        (x,) = arrays
        axis = attrs["axis"]
        work = _work(x)
        reverse = attrs.get("reverse", False)
        if reverse:
            work = np.flip(work, axis)
        with np.errstate(over="ignore", invalid="ignore"):
            out = fn(work, axis=axis, dtype=work.dtype)  # integers wrap in their own width
        if reverse:
            out = np.flip(out, axis)
        return out.astype(x.dtype, copy=False)

    return reference


def _cumsum_vjp(node, g):
    a = node.attrs
    return [bind("cumsum", g, axis=a["axis"], reverse=not a["reverse"])]


def _cumprod_vjp(node, g):
    """d y_i / d x_k = prod_{j <= i, j != k} x_j for i >= k. With z the first zero along the axis:
      k < z: sum_{i >= k} g_i y_i / x_k   (the reversed cumsum of g * y, divided by x_k != 0);
      k = z: sum_{i >= z} g_i y'_i, y' the cumprod of x with x_z replaced by 1;
      k > z: 0 (every such product holds x_z = 0).
    Built from cumprod, cumsum, where and a division by a value that is never zero where it is
    kept, so its own derivative (second order) is right too."""
    (x,) = node.inputs
    axis = node.attrs["axis"]
    is_zero = bind("eq", x, B.zeros_like(x))
    zeros_so_far = bind("cumsum", bind("cast", is_zero, dtype=int64), axis=axis, reverse=False)
    before = bind("eq", zeros_so_far, B.zeros_like(zeros_so_far))
    first = bind("logical_and", is_zero, bind("eq", zeros_so_far, B.ones_like(zeros_so_far)))
    ones = B.ones_like(x)
    tail = bind("cumsum", bind("mul", g, node), axis=axis, reverse=True)
    part_before = bind("div", tail, bind("where", before, x, ones))
    skip_zero = bind("cumprod", bind("where", first, ones, x), axis=axis)
    part_first = bind("cumsum", bind("mul", g, skip_zero), axis=axis, reverse=True)
    return [bind("where", before, part_before, bind("where", first, part_first, B.zeros_like(x)))]


register(OpDef("cumsum", "scan", _cum_infer("cumsum"), _cum_reference(np.cumsum), _cumsum_vjp,
               {"axis": 0, "reverse": False}, 1,
               doc="running sums along `axis` (from the end when `reverse`); integers wrap in their width"))
register(OpDef("cumprod", "scan", _cum_infer("cumprod"), _cum_reference(np.cumprod), _cumprod_vjp,
               {"axis": 0}, 1, doc="running products along `axis`; integers wrap in their width"))


# ---- cumarg: the index of the running maximum (minimum) ----------------------------------------

def _cumarg_infer(types, attrs):
    (t,) = types
    _check_axis("cumarg", t, attrs["axis"])
    return TensorType(int64, t.shape)


def _cumarg_ref(arrays, attrs):
    """PyTorch's cummax/cummin index: the last position j <= i holding the running extreme; once
    a NaN is seen the extreme is NaN and the index that of the latest NaN."""
    (x,) = arrays
    axis = attrs["axis"]
    work = x.astype(np.int8) if x.dtype.kind == "b" else _work(x)
    ext = (np.maximum if attrs["largest"] else np.minimum).accumulate(work, axis=axis) if work.size else work
    hit = work == ext
    if work.dtype.kind == "f":
        hit |= np.isnan(work) & np.isnan(ext)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    pos = np.arange(x.shape[axis], dtype=np.int64).reshape(shape)
    cand = np.where(hit, pos, np.int64(-1))
    return np.maximum.accumulate(cand, axis=axis) if cand.size else cand.astype(np.int64)


register(OpDef("cumarg", "scan", _cumarg_infer, _cumarg_ref, NOT_DIFFERENTIABLE, {"axis": 0, "largest": True}, 1,
               doc="index of the running max (min unless `largest`) along `axis`: the last of equal extremes; "
                   "NaN counts as the extreme"))


# ---- argsort ------------------------------------------------------------------------------------

def _argsort_infer(types, attrs):
    (t,) = types
    _check_axis("argsort", t, attrs["axis"])
    return TensorType(int64, t.shape)


def _argsort_ref(arrays, attrs):
    """A stable sort: equal elements keep their order, in both directions; NaN sorts as the
    largest value (last ascending, first descending)."""
    (x,) = arrays
    axis = attrs["axis"]
    work = _work(x)
    if not attrs["descending"]:
        return np.argsort(work, axis=axis, kind="stable").astype(np.int64, copy=False)
    # sort the reversed row ascending, then reverse the result: ties come out in their original order
    n = x.shape[axis]
    idx = np.flip(np.argsort(np.flip(work, axis), axis=axis, kind="stable"), axis)
    return (n - 1 - idx).astype(np.int64)


register(OpDef("argsort", "sort", _argsort_infer, _argsort_ref, NOT_DIFFERENTIABLE,
               {"axis": 0, "descending": False}, 1,
               doc="the permutation that sorts along `axis` (stable: ties keep their order; NaN is the largest)"))
