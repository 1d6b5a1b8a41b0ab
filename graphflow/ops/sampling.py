"""Sampling with tensor parameters (PyTorch's semantics): `bernoulli`, `normal`, `multinomial`,
over the counter-based `random_uniform` primitive.

Keys come as for dropout: from `generator`, else from the value's handler (a static graph or a
gf.compile trace feeds a fresh seed on every run, so compiled graphs are reproducible and still
draw new numbers each run), else from graphflow's default generator (`gf.manual_seed`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphflow.errors import ShapeError
from graphflow.ir.bind import DYNAMIC, bind, handler_of
from graphflow.ir.dtypes import DType, default_float, float32, float64, get_dtype, int64
from graphflow.ir.shapes import broadcast_shapes, fmt
from graphflow.ops import elementwise as E
from graphflow.ops.values import as_value, broadcast_to, cast, is_value

__all__ = ["bernoulli", "normal", "multinomial"]


def random_key(like: Any, generator: Any = None) -> Any:
    """An int64 scalar key of `like`'s kind: from `generator`, the handler's per-run key, or the
    default generator."""
    key = None
    if generator is not None:
        key = generator.next_key()
    else:
        hook = getattr(handler_of(like), "random_key", None)
        if hook is not None:
            key = hook()
    if key is None:
        from graphflow.random import default_generator

        key = default_generator.next_key()
    if is_value(key):
        return cast(key, int64)
    return as_value(np.asarray(int(key), dtype=np.uint64).astype(np.int64), like=like)


def _host(v: Any) -> np.ndarray | None:
    """An eager value's array (None for symbolic values, or while gf.compile traces)."""
    if not is_value(v):
        return np.asarray(v)
    data = getattr(v, "_data", None)
    return data if isinstance(data, np.ndarray) and not DYNAMIC else None


def _draw_dtype(d: DType) -> DType:
    return float64 if d is float64 else float32


def bernoulli(input: Any, p: Any = None, *, generator: Any = None) -> Any:  # noqa: A002
    """0/1 draws, 1 with probability `input` (or `p`, a float or tensor, when given), in input's
    dtype and shape."""
    x = as_value(input)
    probs = x if p is None else (as_value(p, like=x) if not is_value(p) else p)
    if probs.dtype.kind != "f":
        probs = cast(probs, default_float)
    probs = broadcast_to(probs, tuple(x.shape)) if tuple(probs.shape) != tuple(x.shape) else probs
    if p is None and x.dtype.kind != "f":
        raise TypeError(f"bernoulli: expects a floating-point tensor of probabilities, got {x.dtype.name}")
    arr = _host(p if p is not None else x)
    if arr is not None and arr.size and not ((arr >= 0) & (arr <= 1)).all():
        raise ValueError("bernoulli: all probabilities must be in [0, 1]")
    work = _draw_dtype(probs.dtype)
    u = bind("random_uniform", random_key(x, generator), shape=tuple(x.shape), dtype=work)
    return cast(bind("lt", u, cast(probs, work)), x.dtype)


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, generator: Any = None, dtype: Any = None,
           device: Any = None, requires_grad: bool = False) -> Any:
    """Normal draws with the given means and standard deviations: tensors broadcast together (the
    result's shape), or floats with `size`. The result is mean + std * z (z standard normal),
    so gradients reach mean and std (PyTorch gives them none)."""
    from graphflow import random as R

    if not is_value(mean) and not is_value(std):
        if size is None:
            raise TypeError("normal: with a float mean and std, size is required")
        shape = (int(size),) if isinstance(size, int) else tuple(int(s) for s in size)
        if float(std) < 0:
            raise ValueError(f"normal: expects std >= 0.0, but found std {float(std)}")
        if not DYNAMIC:
            from graphflow.eager.creation import randn

            z = randn(shape, generator=generator, dtype=dtype, device=device)
            out = E.add(E.mul(z, float(std)), float(mean)) if (std, mean) != (1.0, 0.0) else z
            return out.requires_grad_() if requires_grad else out
        d = get_dtype(dtype) if dtype is not None else default_float
        z = R.normal(shape, d, key=random_key(None, generator))
        return E.add(E.mul(z, float(std)), float(mean))
    like = mean if is_value(mean) else std
    m, s = as_value(mean, like=like), as_value(std, like=like)
    d = get_dtype(dtype) if dtype is not None else (m.dtype if m.dtype.kind == "f" else default_float)
    if s.dtype.kind == "f" and is_value(std) and is_value(mean):
        from graphflow.ir.dtypes import promote_types

        d = promote_types(d, s.dtype) if dtype is None else d
    m, s = cast(m, d), cast(s, d)
    if size is not None:
        raise TypeError("normal: size is only accepted with a float mean and std")
    shape = broadcast_shapes(tuple(m.shape), tuple(s.shape), op="normal")
    arr = _host(std)
    if arr is not None and arr.size and (arr < 0).any():
        raise ValueError(f"normal: expects all elements of std >= 0.0 (std of shape {fmt(np.shape(arr))})")
    z = R.normal(shape, d, key=random_key(like, generator))
    return E.add(broadcast_to(m, shape), E.mul(broadcast_to(s, shape), z))


def multinomial(input: Any, num_samples: int, replacement: bool = False, *, generator: Any = None) -> Any:  # noqa: A002
    """`num_samples` category indices per row of the non-negative weights `input` (1-D: one row,
    2-D: one per row), drawn with probability proportional to the weights: with `replacement` by
    inverting the cumulative weights, else the categories of the `num_samples` largest
    log(w) + Gumbel noise (sampling without replacement). int64; runs in graphs too."""
    from graphflow.ops.scans import cumsum
    from graphflow.ops.sorting import searchsorted, topk

    w = as_value(input)
    if len(w.shape) not in (1, 2):
        raise ShapeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {fmt(w.shape)}")
    if w.dtype.kind != "f":
        raise TypeError(f"multinomial: only supports floating-point dtypes for input, got {w.dtype.name}")
    n = w.shape[-1]
    if not isinstance(num_samples, int) or num_samples <= 0:
        raise ValueError(f"multinomial: cannot sample n_sample <= 0 samples, got {num_samples}")
    if not replacement and num_samples > n:
        raise ValueError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement "
                         f"({num_samples} > {n}, input of shape {fmt(w.shape)})")
    arr = _host(w)
    if arr is not None:
        a = arr.astype(np.float64).reshape(-1, n)
        if not np.isfinite(a).all() or (a < 0).any():
            raise ValueError("multinomial: probability tensor contains either inf, nan or element < 0")
        if (a.sum(axis=1) <= 0).any():
            raise ValueError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
        if not replacement and ((a > 0).sum(axis=1) < num_samples).any():
            raise ValueError("multinomial: invalid multinomial distribution (with replacement=False, not enough "
                             "non-negative category to sample)")
    rows = (w.shape[0],) if len(w.shape) == 2 else ()
    p = cast(w, float64)
    key = random_key(w, generator)
    if replacement:
        cdf = cumsum(p, -1)
        total = _last(cdf)
        u = bind("random_uniform", key, shape=rows + (num_samples,), dtype=float64)
        target = E.mul(u, broadcast_to(total, rows + (num_samples,)))
        idx = searchsorted(cdf, target, right=True)
        return E.minimum(idx, n - 1)  # a target rounded up to the total picks the last category
    u = bind("random_uniform", key, shape=tuple(w.shape), dtype=float64)
    gumbel = E.neg(E.log(E.neg(E.log1p(E.neg(u)))))  # -log(-log(1 - u)): 1 - u is in (0, 1]
    keys = E.add(E.log(p), gumbel)  # a zero weight gives -inf: never drawn while others remain
    return topk(keys, num_samples, -1).indices


def _last(x: Any) -> Any:
    """The last element along the last axis, keeping that axis (size 1)."""
    shape = tuple(x.shape)
    starts = tuple(0 for _ in shape[:-1]) + (shape[-1] - 1,)
    return bind("slice", x, starts=starts, stops=shape, steps=(1,) * len(shape))
