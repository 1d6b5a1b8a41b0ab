"""Convolution and pooling, lowered to primitives.

conv2d is composite (the architecture's decision): the input is padded (`pad`), each of the
kh*kw kernel taps is a strided `slice` of it, the taps are joined (`concat`/`reshape`) into an
im2col matrix of shape (N, groups, C/groups*kh*kw, Ho*Wo), and one batched `matmul` with the
weight reshaped to (groups, O/groups, C/groups*kh*kw) gives the output. Its gradient therefore
comes from the primitives' rules (slice -> pad, concat -> slice, matmul), and backends only see
a matmul. Pooling uses the same window extraction followed by a reduction.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphflow.ir import builder as B
from graphflow.ir.shapes import fmt
from graphflow.ops import elementwise as E
from graphflow.ops import reductions as R
from graphflow.ops.composite import offer_or_run
from graphflow.ops.linalg import matmul
from graphflow.ops.shape import cat, pad, reshape, slice_axis
from graphflow.ops.values import as_value

__all__ = ["conv2d", "conv1d", "max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d", "adaptive_avg_pool2d",
           "unfold", "pair"]


def pair(v: Any, name: str = "argument") -> tuple[int, int]:
    """An int or a pair of ints as a pair."""
    if isinstance(v, int):
        return (v, v)
    t = tuple(v)
    if len(t) == 1:
        return (t[0], t[0])
    if len(t) != 2 or not all(isinstance(i, int) for i in t):
        raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
    return t  # type: ignore[return-value]


def _out_size(size: int, k: int, s: int, lo: int, hi: int, d: int, op: str) -> int:
    span = d * (k - 1) + 1
    n = (size + lo + hi - span) // s + 1
    if n <= 0:
        raise ValueError(f"{op}: the kernel (size {k}, dilation {d}) is larger than the padded input "
                         f"(size {size} + padding {lo}+{hi})")
    return n


def _windows(x: Any, k: tuple[int, int], s: tuple[int, int], d: tuple[int, int],
             out: tuple[int, int]) -> Any:
    """The kh*kw strided views of a padded (N, C, H, W) value, joined to (N, C, kh*kw, Ho, Wo)."""
    n, c = x.shape[0], x.shape[1]
    taps = []
    for i in range(k[0]):
        row = slice_axis(x, 2, i * d[0], i * d[0] + s[0] * (out[0] - 1) + 1, s[0])
        for j in range(k[1]):
            tap = slice_axis(row, 3, j * d[1], j * d[1] + s[1] * (out[1] - 1) + 1, s[1])
            taps.append(reshape(tap, (n, c, 1, out[0], out[1])))
    return taps[0] if len(taps) == 1 else cat(taps, 2)


def _as_batched(x: Any, op: str, spatial: int = 2) -> tuple[Any, bool]:
    want = spatial + 2
    if x.ndim == want - 1:
        return reshape(x, (1,) + tuple(x.shape)), True
    if x.ndim != want:
        raise ValueError(f"{op}: expected a {want - 1}-D (unbatched) or {want}-D input, got shape {fmt(x.shape)}")
    return x, False


def _same_padding(k: tuple[int, int], d: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    total = [dd * (kk - 1) for kk, dd in zip(k, d)]
    return tuple((t // 2, t - t // 2) for t in total)  # type: ignore[return-value]


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Any:
    """2-D cross-correlation (torch.nn.functional.conv2d) as im2col + matmul; see the module docstring.

    input (N, C, H, W) or (C, H, W); weight (O, C/groups, kh, kw); padding an int, a pair,
    'valid' or 'same' (stride 1)."""
    x, unbatched = _as_batched(as_value(input), "conv2d")
    w = as_value(weight, like=x)
    if w.ndim != 4:
        raise ValueError(f"conv2d: weight must be 4-D (out_channels, in_channels/groups, kh, kw), got {fmt(w.shape)}")
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    if groups < 1 or c % groups or o % groups:
        raise ValueError(f"conv2d: groups={groups} must divide in_channels={c} and out_channels={o}")
    if c // groups != cg:
        raise ValueError(f"conv2d: input of shape {fmt(x.shape)} has {c} channels but weight {fmt(w.shape)} "
                         f"expects {cg * groups} (in_channels/groups={cg}, groups={groups})")
    s, d = pair(stride, "conv2d stride"), pair(dilation, "conv2d dilation")
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0), (0, 0))
        elif padding == "same":
            if s != (1, 1):
                raise ValueError("conv2d: padding='same' is not supported for strided convolutions")
            pads = _same_padding((kh, kw), d)
        else:
            raise ValueError(f"conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    else:
        p = pair(padding, "conv2d padding")
        pads = ((p[0], p[0]), (p[1], p[1]))
    out = (_out_size(h, kh, s[0], *pads[0], d[0], "conv2d"), _out_size(wd, kw, s[1], *pads[1], d[1], "conv2d"))

    def im2col(x: Any, w: Any, b: Any) -> Any:
        xp = pad(x, (pads[1][0], pads[1][1], pads[0][0], pads[0][1]))
        cols = _windows(xp, (kh, kw), s, d, out)  # (N, C, kh*kw, Ho, Wo)
        k = cg * kh * kw
        cols = reshape(cols, (n, groups, k, out[0] * out[1]))
        wm = reshape(w, (groups, o // groups, k))
        y = reshape(matmul(wm, cols), (n, o, out[0], out[1]))
        return y if b is None else E.add(y, reshape(b, (o, 1, 1)))
    # eager CPU tensors run it as one compiled graph (the windows are read in place, not copied op by op)
    y = offer_or_run("conv2d", im2col, x, (w, bias), (s, d, pads, groups))
    return reshape(y, tuple(y.shape[1:])) if unbatched else y


def conv1d(input: Any, weight: Any, bias: Any = None, stride: int = 1, padding: Any = 0, dilation: int = 1,
           groups: int = 1) -> Any:
    """1-D convolution as a conv2d over a height-1 image."""
    x = as_value(input)
    unbatched = x.ndim == 2
    if unbatched:
        x = reshape(x, (1,) + tuple(x.shape))
    if x.ndim != 3:
        raise ValueError(f"conv1d: expected a 2-D (unbatched) or 3-D input, got shape {fmt(x.shape)}")
    w = as_value(weight, like=x)
    x4 = reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2]))
    w4 = reshape(w, (w.shape[0], w.shape[1], 1, w.shape[2]))
    p = padding if isinstance(padding, str) else (0, pair(padding)[0])
    y = conv2d(x4, w4, bias, (1, stride if isinstance(stride, int) else stride[0]), p,
               (1, dilation if isinstance(dilation, int) else dilation[0]), groups)
    y = reshape(y, (y.shape[0], y.shape[1], y.shape[3]))
    return reshape(y, tuple(y.shape[1:])) if unbatched else y


def _pool_geometry(x: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool, op: str):
    k = pair(kernel_size, f"{op} kernel_size")
    s = pair(stride if stride is not None and stride != () else kernel_size, f"{op} stride")
    p = pair(padding, f"{op} padding")
    d = pair(dilation, f"{op} dilation")
    if any(pp > kk // 2 for pp, kk in zip(p, k)):
        raise ValueError(f"{op}: padding {p} should be at most half of the kernel size {k}")
    outs, extra = [], []
    for size, kk, ss, pp, dd in zip(x.shape[2:], k, s, p, d):
        span = dd * (kk - 1) + 1
        num = size + 2 * pp - span
        if num < 0:
            raise ValueError(f"{op}: the window (size {kk}, dilation {dd}) is larger than the padded input "
                             f"{fmt(x.shape)}")
        n = (-(-num // ss) if ceil_mode else num // ss) + 1
        if ceil_mode and (n - 1) * ss >= size + pp:
            n -= 1  # the last window must start inside the input or the left padding
        outs.append(n)
        extra.append(max((n - 1) * ss + span - (size + 2 * pp), 0))
    return k, s, p, d, tuple(outs), tuple(extra)


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over kh*kw windows; padding counts as -inf; the gradient goes to one maximum per window."""
    if return_indices:
        raise NotImplementedError("max_pool2d: return_indices=True is not supported")
    x, unbatched = _as_batched(as_value(input), "max_pool2d")
    k, s, p, d, out, extra = _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d")
    fill = float("-inf") if x.dtype.kind == "f" else np.iinfo(x.dtype.np).min

    def pool(x: Any) -> Any:
        xp = x
        if any(p) or any(extra):
            from graphflow.ir.bind import bind

            xp = bind("pad", x, widths=((0, 0), (0, 0), (p[0], p[0] + extra[0]), (p[1], p[1] + extra[1])),
                      value=float(fill))
        return R.max(_windows(xp, k, s, d, out), 2).values
    y = offer_or_run("max_pool2d", pool, x, (), (k, s, p, d, out, extra))
    return reshape(y, tuple(y.shape[1:])) if unbatched else y


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Any:
    """Mean over kh*kw windows (torch.nn.functional.avg_pool2d's divisor rules)."""
    x, unbatched = _as_batched(as_value(input), "avg_pool2d")
    k, s, p, d, out, extra = _pool_geometry(x, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d")

    def pool(x: Any) -> Any:
        xp = pad(x, (p[1], p[1] + extra[1], p[0], p[0] + extra[0])) if any(p) or any(extra) else x
        total = R.sum(_windows(xp, k, s, d, out), 2)
        if divisor_override:
            divisor: Any = float(divisor_override)
        else:
            divisor = B.constant(_avg_divisors(tuple(x.shape[2:]), k, s, p, out, count_include_pad),
                                 x.dtype, like=x)
        return E.div(total, divisor)
    y = offer_or_run("avg_pool2d", pool, x, (), (k, s, p, d, out, extra, bool(count_include_pad), divisor_override))
    return reshape(y, tuple(y.shape[1:])) if unbatched else y


def _avg_divisors(size, k, s, p, out, include_pad) -> np.ndarray:
    """Per output position, how many elements its window averages (windows clipped to the
    padded input; padding counted only with count_include_pad)."""
    per_axis = []
    for n, kk, ss, pp, sz in zip(out, k, s, p, size):
        start = np.arange(n) * ss - pp
        end = np.minimum(start + kk, sz + pp)
        if not include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, sz)
        per_axis.append(end - start)
    return np.outer(per_axis[0], per_axis[1])


def _as_2d_pool(fn, input: Any, kernel_size: int, stride: Any, padding: int, **kw) -> Any:
    x = as_value(input)
    unbatched = x.ndim == 2
    if unbatched:
        x = reshape(x, (1,) + tuple(x.shape))
    x4 = reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2]))
    k = kernel_size if isinstance(kernel_size, int) else kernel_size[0]
    st = k if stride is None else (stride if isinstance(stride, int) else stride[0])
    pd = padding if isinstance(padding, int) else padding[0]
    y = fn(x4, (1, k), (1, st), (0, pd), **kw)
    y = reshape(y, (y.shape[0], y.shape[1], y.shape[3]))
    return reshape(y, tuple(y.shape[1:])) if unbatched else y


def max_pool1d(input: Any, kernel_size: int, stride: Any = None, padding: int = 0, dilation: int = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    return _as_2d_pool(max_pool2d, input, kernel_size, stride, padding, dilation=(1, dilation), ceil_mode=ceil_mode,
                       return_indices=return_indices)


def avg_pool1d(input: Any, kernel_size: int, stride: Any = None, padding: int = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Any:
    return _as_2d_pool(avg_pool2d, input, kernel_size, stride, padding, ceil_mode=ceil_mode,
                       count_include_pad=count_include_pad)


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Any:
    """Average over PyTorch's adaptive windows [floor(i*H/Ho), ceil((i+1)*H/Ho))."""
    x, unbatched = _as_batched(as_value(input), "adaptive_avg_pool2d")
    h, w = x.shape[2], x.shape[3]
    oh, ow = pair(output_size, "adaptive_avg_pool2d output_size") if output_size is not None else (h, w)
    oh, ow = oh if oh is not None else h, ow if ow is not None else w
    rows = []
    for i in range(oh):
        h0, h1 = (i * h) // oh, math.ceil((i + 1) * h / oh)
        cells = []
        for j in range(ow):
            w0, w1 = (j * w) // ow, math.ceil((j + 1) * w / ow)
            win = slice_axis(slice_axis(x, 2, h0, h1), 3, w0, w1)
            cells.append(R.mean(win, (2, 3), keepdim=True))
        rows.append(cat(cells, 3) if len(cells) > 1 else cells[0])
    y = cat(rows, 2) if len(rows) > 1 else rows[0]
    return reshape(y, tuple(y.shape[1:])) if unbatched else y


def unfold(input: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Any:
    """im2col (torch.nn.functional.unfold): (N, C, H, W) -> (N, C*kh*kw, L)."""
    x, unbatched = _as_batched(as_value(input), "unfold")
    k, s, d, p = pair(kernel_size), pair(stride), pair(dilation), pair(padding)
    out = tuple(_out_size(sz, kk, ss, pp, pp, dd, "unfold") for sz, kk, ss, pp, dd in zip(x.shape[2:], k, s, p, d))
    xp = pad(x, (p[1], p[1], p[0], p[0]))
    cols = reshape(_windows(xp, k, s, d, out), (x.shape[0], x.shape[1] * k[0] * k[1], out[0] * out[1]))
    return reshape(cols, tuple(cols.shape[1:])) if unbatched else cols
