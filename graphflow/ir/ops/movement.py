"""Movement primitives: reshape, broadcast_to, permute, slice, pad, concat, flip."""

from __future__ import annotations

import numpy as np

from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.graph import TensorType
from graphflow.ir.registry import REQUIRED, OpDef, register
from graphflow.ir.shapes import check_shape, fmt, normalize_axes, normalize_axis, numel
from graphflow.ir.symbolic import Sym


def _reshape_infer(types, attrs):
    (t,) = types
    shape = tuple(attrs["shape"])
    if shape.count(-1) > 1:
        raise ValueError(f"only one dimension can be -1, got {shape}")
    known = [d for d in shape if d != -1]
    check_shape(known, "reshape")
    total = numel(t.shape)
    if -1 in shape:
        rest = numel(known)
        if rest == 0:
            raise ValueError(f"cannot infer the -1 of {shape} for an input of shape {fmt(t.shape)}")
        fill = total // rest if isinstance(total, Sym) or isinstance(rest, Sym) else None
        if fill is None:
            if total % rest:
                raise ValueError(f"cannot reshape a tensor of shape {fmt(t.shape)} ({total} elements) to {shape}")
            fill = total // rest
        shape = tuple(fill if d == -1 else d for d in shape)
    if numel(shape) != total:
        raise ValueError(f"cannot reshape a tensor of shape {fmt(t.shape)} ({total} elements) into "
                         f"shape {fmt(shape)} ({numel(shape)} elements)")
    return TensorType(t.dtype, shape)


def _reshape_ref(arrays, attrs):
    return arrays[0].reshape(attrs["shape"])


def _broadcast_infer(types, attrs):
    (t,) = types
    shape = check_shape(attrs["shape"], "broadcast_to")
    if len(shape) < len(t.shape):
        raise ValueError(f"cannot broadcast shape {fmt(t.shape)} to fewer dimensions {fmt(shape)}")
    for d_in, d_out in zip(t.shape[::-1], shape[::-1]):
        if d_in != 1 and d_in != d_out and not (isinstance(d_in, Sym) or isinstance(d_out, Sym)):
            raise ValueError(f"cannot broadcast shape {fmt(t.shape)} to {fmt(shape)}")
    return TensorType(t.dtype, shape)


def _permute_infer(types, attrs):
    (t,) = types
    perm = tuple(attrs["perm"])
    if sorted(perm) != list(range(len(t.shape))):
        raise ValueError(f"perm {perm} is not a permutation of the {len(t.shape)} dimensions of {fmt(t.shape)}")
    return TensorType(t.dtype, tuple(t.shape[p] for p in perm))


def _permute_vjp(node, g):
    perm = node.attrs["perm"]
    inverse = tuple(int(i) for i in np.argsort(perm))
    return [bind("permute", g, perm=inverse)]


def slice_length(dim: int, start: int, stop: int, step: int) -> int:
    return len(range(start, stop, step))


def _slice_infer(types, attrs):
    (t,) = types
    starts, stops, steps = attrs["starts"], attrs["stops"], attrs["steps"]
    if not len(starts) == len(stops) == len(steps) == len(t.shape):
        raise ValueError(f"starts/stops/steps need one entry per dimension of {fmt(t.shape)}")
    out = []
    for d, s, e, st in zip(t.shape, starts, stops, steps):
        if st == 0:
            raise ValueError("slice step cannot be zero")
        if isinstance(d, Sym):
            if (s, e, st) == (0, d, 1):
                out.append(d)
            elif isinstance(s, int) and isinstance(e, int) and 0 <= s <= e and st > 0:
                out.append(len(range(s, e, st)))  # fixed bounds: checked against the size once it is fed
            else:
                raise ValueError(f"slicing a dimension of unknown size {d} takes the whole dimension or fixed "
                                 f"non-negative bounds, got {s}:{e}:{st}")
            continue
        # bounds as Python's slice.indices(d) gives them: element k of the result is index
        # s + k*st for k < len(range(s, e, st)); -1 stands for "before index 0" with a negative step
        lo, hi = (0, d) if st > 0 else (-1, d - 1)
        if not (lo <= s <= hi and lo <= e <= hi) and not (d == 0 and s in (0, -1) and e in (0, -1)):
            raise ValueError(f"normalised slice {s}:{e}:{st} out of range for size {d}")
        out.append(len(range(s, e, st)))
    return TensorType(t.dtype, tuple(out))


def _slice_ref(arrays, attrs):
    (x,) = arrays
    idx = []
    for s, e, st in zip(attrs["starts"], attrs["stops"], attrs["steps"]):
        if not range(s, e, st):
            idx.append(slice(0, 0))  # empty (NumPy would read a start of -1 as the last index)
        else:
            idx.append(slice(s, None if e < 0 else e, st))
    return x[tuple(idx)]


def _slice_vjp(node, g):
    """Scatter g back into zeros: flip negative steps, spread strided axes by interleaving zeros
    (reshape + pad), then pad to the input's extent."""
    (x,) = node.inputs
    starts, steps = node.attrs["starts"], node.attrs["steps"]
    flips = tuple(i for i, st in enumerate(steps) if st < 0)
    if flips:
        g = bind("flip", g, axes=flips)
    widths = []
    for axis, (dim, s, st) in enumerate(zip(x.shape, starts, steps)):
        n = g.shape[axis]
        step = abs(st)
        first = s if st > 0 else s - (n - 1) * step  # lowest index the slice touched
        if step > 1 and n > 0:
            shape = g.shape
            g = bind("reshape", g, shape=shape[:axis + 1] + (1,) + shape[axis + 1:])
            pw = tuple((0, step - 1) if i == axis + 1 else (0, 0) for i in range(len(shape) + 1))
            g = bind("pad", g, widths=pw, value=0.0)
            g = bind("reshape", g, shape=shape[:axis] + (n * step,) + shape[axis + 1:])
            span = (n - 1) * step + 1
            g = bind("slice", g, **_full_slice(g.shape, axis, 0, span))
        extent = g.shape[axis]
        lo = 0 if n == 0 else first
        widths.append((lo, dim - lo - extent))
    return [bind("pad", g, widths=tuple(widths), value=0.0)]


def _full_slice(shape, axis, start, stop):
    starts = tuple(start if i == axis else 0 for i in range(len(shape)))
    stops = tuple(stop if i == axis else d for i, d in enumerate(shape))
    return {"starts": starts, "stops": stops, "steps": (1,) * len(shape)}


def _pad_infer(types, attrs):
    (t,) = types
    widths = attrs["widths"]
    if len(widths) != len(t.shape):
        raise ValueError(f"pad widths {widths} need one (before, after) pair per dimension of {fmt(t.shape)}")
    out = []
    for d, (lo, hi) in zip(t.shape, widths):
        if lo < 0 or hi < 0:
            raise ValueError(f"pad widths must be non-negative, got {widths}")
        out.append(d + lo + hi if (lo or hi) else d)
    return TensorType(t.dtype, tuple(out))


def _pad_ref(arrays, attrs):
    (x,) = arrays
    if x.ndim == 0:  # np.pad rejects the empty widths of a scalar
        return x.copy()
    return np.pad(x, attrs["widths"], constant_values=np.asarray(attrs["value"]).astype(x.dtype))


def _pad_vjp(node, g):
    (x,) = node.inputs
    starts = tuple(lo for lo, _ in node.attrs["widths"])
    stops = tuple(lo + d for (lo, _), d in zip(node.attrs["widths"], x.shape))
    return [bind("slice", g, starts=starts, stops=stops, steps=(1,) * x.ndim)]


def _concat_infer(types, attrs):
    if not types:
        raise ValueError("needs at least one input")
    first = types[0]
    axis = normalize_axis(attrs["axis"], len(first.shape), "concat")
    if axis != attrs["axis"]:
        raise ValueError("axis must be normalised (non-negative)")
    total = 0
    for t in types:
        if t.dtype is not first.dtype:
            raise TypeError(f"inputs must share a dtype, got {', '.join(x.dtype.name for x in types)}")
        if len(t.shape) != len(first.shape) or any(
            a != b for i, (a, b) in enumerate(zip(t.shape, first.shape)) if i != axis
        ):
            raise ValueError(f"shapes {', '.join(fmt(x.shape) for x in types)} differ outside dimension {axis}")
        total = total + t.shape[axis]
    return TensorType(first.dtype, first.shape[:axis] + (total,) + first.shape[axis + 1:])


def _concat_vjp(node, g):
    axis = node.attrs["axis"]
    out, offset = [], 0
    for x in node.inputs:
        n = x.shape[axis]
        out.append(bind("slice", g, **_full_slice(g.shape, axis, offset, offset + n)))
        offset += n
    return out


def _flip_infer(types, attrs):
    (t,) = types
    axes = normalize_axes(attrs["axes"], len(t.shape), "flip")
    if axes != tuple(attrs["axes"]):
        raise ValueError("axes must be sorted non-negative ints")
    return t


register(OpDef("reshape", "movement", _reshape_infer, _reshape_ref,
               lambda node, g: [bind("reshape", g, shape=node.inputs[0].shape)], {"shape": REQUIRED}, 1,
               doc="same elements in row-major order, new shape (one -1 is inferred)"))
register(OpDef("broadcast_to", "movement", _broadcast_infer,
               lambda arrays, attrs: np.broadcast_to(arrays[0], attrs["shape"]),
               lambda node, g: [B.sum_to(g, node.inputs[0].shape)], {"shape": REQUIRED}, 1,
               doc="NumPy broadcasting to `shape`"))
register(OpDef("permute", "movement", _permute_infer,
               lambda arrays, attrs: np.transpose(arrays[0], attrs["perm"]), _permute_vjp, {"perm": REQUIRED}, 1,
               doc="reorder dimensions: out.shape[i] = x.shape[perm[i]]"))
register(OpDef("slice", "movement", _slice_infer, _slice_ref, _slice_vjp,
               {"starts": REQUIRED, "stops": REQUIRED, "steps": REQUIRED}, 1,
               doc="x[s0:e0:st0, ...] with normalised bounds (a negative step's stop may be -1: before 0)"))
register(OpDef("pad", "movement", _pad_infer, _pad_ref, _pad_vjp, {"widths": REQUIRED, "value": 0.0}, 1,
               doc="constant padding: ((before, after), ...) per dimension"))
register(OpDef("concat", "movement", _concat_infer,
               lambda arrays, attrs: np.concatenate(arrays, axis=attrs["axis"]), _concat_vjp,
               {"axis": 0}, None, doc="join along an existing dimension"))
register(OpDef("flip", "movement", _flip_infer, lambda arrays, attrs: np.flip(arrays[0], attrs["axes"]).copy(),
               lambda node, g: [bind("flip", g, axes=node.attrs["axes"])], {"axes": REQUIRED}, 1,
               doc="reverse the order of elements along `axes`"))
