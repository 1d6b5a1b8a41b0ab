"""Shape operations over values: reshape/view, permute/transpose, squeeze/unsqueeze, flatten,
expand, repeat, cat/stack, split/chunk, flip, narrow, pad."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphflow.ir.bind import bind
from graphflow.ir.shapes import check_shape, fmt, normalize_axes, normalize_axis
from graphflow.ops.values import as_value, broadcast_to, joint_dtype

__all__ = ["reshape", "view", "permute", "transpose", "t", "squeeze", "unsqueeze", "flatten",
           "expand", "broadcast_to", "repeat", "cat", "concat", "stack", "split", "chunk", "flip",
           "narrow", "pad", "movedim", "unbind", "slice_axis"]


def _shape_arg(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def reshape(x: Any, *shape: Any) -> Any:
    x = as_value(x)
    shape = _shape_arg(shape)
    if tuple(x.shape) == shape:
        return x
    return bind("reshape", x, shape=shape)


view = reshape


def permute(x: Any, *dims: Any) -> Any:
    x = as_value(x)
    dims = _shape_arg(dims)
    n = len(x.shape)
    if len(dims) != n:
        raise ValueError(f"permute: got {len(dims)} dims {dims} for a tensor of {n} dimensions {fmt(x.shape)}")
    perm = tuple(normalize_axis(d, n, "permute") for d in dims)
    if perm == tuple(range(n)):
        return x
    return bind("permute", x, perm=perm)


def transpose(x: Any, dim0: int, dim1: int) -> Any:
    x = as_value(x)
    n = len(x.shape)
    if n == 0:
        return x
    a, b = normalize_axis(dim0, n, "transpose"), normalize_axis(dim1, n, "transpose")
    perm = list(range(n))
    perm[a], perm[b] = perm[b], perm[a]
    return permute(x, perm)


def t(x: Any) -> Any:
    """Transpose of a matrix (0-D and 1-D tensors are returned as is)."""
    x = as_value(x)
    if len(x.shape) > 2:
        raise ValueError(f"t: expects a tensor of at most 2 dimensions, got {fmt(x.shape)}")
    return transpose(x, 0, 1) if len(x.shape) == 2 else x


def squeeze(x: Any, dim: Any = None) -> Any:
    x = as_value(x)
    if dim is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = tuple(a for a in normalize_axes(dim, len(x.shape), "squeeze") if x.shape[a] == 1)
    return reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in axes))


def unsqueeze(x: Any, dim: int) -> Any:
    x = as_value(x)
    axis = normalize_axis(dim, len(x.shape) + 1, "unsqueeze")
    shape = tuple(x.shape)
    return reshape(x, shape[:axis] + (1,) + shape[axis:])


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    x = as_value(x)
    n = len(x.shape)
    if n == 0:
        return reshape(x, (1,))
    a, b = normalize_axis(start_dim, n, "flatten"), normalize_axis(end_dim, n, "flatten")
    if a > b:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    mid = 1
    for d in x.shape[a:b + 1]:
        mid = mid * d
    return reshape(x, tuple(x.shape[:a]) + (mid,) + tuple(x.shape[b + 1:]))


def expand(x: Any, *sizes: Any) -> Any:
    """Broadcast to `sizes`; -1 keeps a dimension's size."""
    x = as_value(x)
    sizes = _shape_arg(sizes)
    lead = len(sizes) - len(x.shape)
    if lead < 0:
        raise ValueError(f"expand: cannot expand {fmt(x.shape)} to fewer dimensions {sizes}")
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    return broadcast_to(x, check_shape(shape, "expand"))


def repeat(x: Any, *repeats: Any) -> Any:
    """Tile `x` (torch.Tensor.repeat): each dimension repeated the given number of times."""
    x = as_value(x)
    reps = _shape_arg(repeats)
    if len(reps) < len(x.shape):
        raise ValueError(f"repeat: needs at least {len(x.shape)} repeat counts, got {reps}")
    shape = (1,) * (len(reps) - len(x.shape)) + tuple(x.shape)
    x = reshape(x, shape)
    # (a, b) -> (1, a, 1, b) -> broadcast (ra, a, rb, b) -> reshape (ra*a, rb*b)
    inter = tuple(v for r, d in zip(reps, shape) for v in (1, d))
    big = tuple(v for r, d in zip(reps, shape) for v in (r, d))
    y = broadcast_to(reshape(x, inter), big)
    return reshape(y, tuple(r * d for r, d in zip(reps, shape)))


def cat(tensors: Sequence[Any], dim: int = 0) -> Any:
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expects a non-empty list of tensors")
    values = joint_dtype(*tensors)
    # legacy PyTorch rule: 1-D empty tensors are skipped whatever the others' rank
    values = [v for v in values if not (tuple(v.shape) == (0,))] or values[:1]
    ranks = {len(v.shape) for v in values}
    if len(ranks) != 1:
        raise ValueError(f"cat: tensors must have the same number of dimensions, got shapes "
                         f"{', '.join(fmt(v.shape) for v in values)}")
    axis = normalize_axis(dim, len(values[0].shape), "cat")
    if len(values) == 1:
        return values[0]
    return bind("concat", *values, axis=axis)


concat = cat


def stack(tensors: Sequence[Any], dim: int = 0) -> Any:
    tensors = [as_value(v) for v in tensors]
    if not tensors:
        raise ValueError("stack: expects a non-empty list of tensors")
    shapes = {tuple(v.shape) for v in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: tensors must all have the same shape, got {', '.join(fmt(s) for s in shapes)}")
    axis = normalize_axis(dim, len(tensors[0].shape) + 1, "stack")
    return cat([unsqueeze(v, axis) for v in tensors], axis)


def slice_axis(x: Any, axis: int, start: int, stop: int, step: int = 1) -> Any:
    """x[..., start:stop:step, ...] on one axis, bounds already normalised."""
    shape = tuple(x.shape)
    starts = tuple(start if i == axis else 0 for i in range(len(shape)))
    stops = tuple(stop if i == axis else d for i, d in enumerate(shape))
    steps = tuple(step if i == axis else 1 for i in range(len(shape)))
    if starts == (0,) * len(shape) and stops == shape and step == 1:
        return x
    return bind("slice", x, starts=starts, stops=stops, steps=steps)


def narrow(x: Any, dim: int, start: int, length: int) -> Any:
    x = as_value(x)
    axis = normalize_axis(dim, len(x.shape), "narrow")
    size = x.shape[axis]
    if start < 0:
        start += size
    if not (0 <= start <= size and 0 <= length and start + length <= size):
        raise IndexError(f"narrow: start {start} and length {length} out of range for size {size}")
    return slice_axis(x, axis, start, start + length)


def split(x: Any, split_size_or_sections: Any, dim: int = 0) -> tuple:
    x = as_value(x)
    axis = normalize_axis(dim, len(x.shape), "split")
    size = x.shape[axis]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise ValueError(f"split: split size must be positive, got {step}")
        sizes = [min(step, size - s) for s in range(0, size, step)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != size:
            raise ValueError(f"split: sections {sizes} do not add up to the size {size} of dimension {dim}")
    out, start = [], 0
    for n in sizes:
        out.append(slice_axis(x, axis, start, start + n))
        start += n
    return tuple(out)


def chunk(x: Any, chunks: int, dim: int = 0) -> tuple:
    x = as_value(x)
    if chunks <= 0:
        raise ValueError(f"chunk: number of chunks must be positive, got {chunks}")
    size = x.shape[normalize_axis(dim, len(x.shape), "chunk")]
    step = max(-(-size // chunks), 1)
    return split(x, step, dim)


def unbind(x: Any, dim: int = 0) -> tuple:
    x = as_value(x)
    axis = normalize_axis(dim, len(x.shape), "unbind")
    return tuple(squeeze(s, axis) for s in split(x, 1, axis))


def flip(x: Any, dims: Any) -> Any:
    x = as_value(x)
    axes = normalize_axes(dims, len(x.shape), "flip")
    return bind("flip", x, axes=axes) if axes else x


def movedim(x: Any, source: int, destination: int) -> Any:
    x = as_value(x)
    n = len(x.shape)
    s, d = normalize_axis(source, n, "movedim"), normalize_axis(destination, n, "movedim")
    order = [i for i in range(n) if i != s]
    order.insert(d, s)
    return permute(x, order)


def pad(x: Any, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Any:
    """torch.nn.functional.pad: `pad` lists (before, after) pairs starting from the LAST dimension;
    negative amounts crop."""
    x = as_value(x)
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not supported (only 'constant')")
    if len(pad) % 2 or len(pad) // 2 > len(x.shape):
        raise ValueError(f"pad: {tuple(pad)} must hold (before, after) pairs for at most {len(x.shape)} dimensions")
    n = len(x.shape)
    widths = [[0, 0] for _ in range(n)]
    for k in range(len(pad) // 2):
        widths[n - 1 - k] = [pad[2 * k], pad[2 * k + 1]]
    # crop first (negative widths), then pad
    for axis, (lo, hi) in enumerate(widths):
        if lo < 0 or hi < 0:
            size = x.shape[axis]
            x = slice_axis(x, axis, max(-lo, 0), size - max(-hi, 0))
    grow = tuple((max(lo, 0), max(hi, 0)) for lo, hi in widths)
    if any(lo or hi for lo, hi in grow):
        x = bind("pad", x, widths=grow, value=float(value))
    return x
