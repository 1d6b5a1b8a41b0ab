"""Reductions over values: sum, mean, prod, max/min (values and indices), arg-reductions, var,
std, logsumexp, all/any, and the row-wise softmax family built on them."""

from __future__ import annotations

from typing import Any, NamedTuple

from graphflow.ir import builder as B
from graphflow.ir.bind import bind, handler_of
from graphflow.ir.dtypes import DType, bool_, default_float, get_dtype, int64
from graphflow.ir.registry import get_op
from graphflow.ir.shapes import normalize_axes, normalize_axis, numel
from graphflow.ir.symbolic import Sym
from graphflow.ops.composite import offer
from graphflow.ops.elementwise import exp, log, sub
from graphflow.ops.values import as_value, cast

__all__ = ["sum", "mean", "prod", "amax", "amin", "max", "min", "argmax", "argmin", "var", "std",
           "logsumexp", "all", "any", "softmax", "log_softmax", "count_of", "MinMax", "norm"]


class MinMax(NamedTuple):
    """(values, indices), as torch.max(x, dim) returns."""

    values: Any
    indices: Any


def _axes(x: Any, dim: Any, op: str) -> tuple[int, ...]:
    if dim is not None and not isinstance(dim, int) and len(tuple(dim)) == 0:
        dim = None
    return normalize_axes(dim, len(x.shape), op)


def _accumulate_dtype(x: Any, dtype: DType | None) -> DType:
    if dtype is not None:
        return get_dtype(dtype)
    return int64 if x.dtype.kind in "bui" else x.dtype  # PyTorch sums integers and bools as int64


def sum(x: Any, dim: Any = None, keepdim: bool = False, dtype: DType | None = None) -> Any:  # noqa: A001
    x = as_value(x)
    x = cast(x, _accumulate_dtype(x, dtype))
    return bind("reduce_sum", x, axes=_axes(x, dim, "sum"), keepdims=keepdim)


def count_of(x: Any, axes: tuple[int, ...], dtype: DType) -> Any:
    """The number of elements over `axes` as a scalar (a symbolic size becomes a `sym_size` node,
    folded once the graph is specialised to real shapes)."""
    n = numel([x.shape[a] for a in axes])
    if isinstance(n, Sym):
        return cast(handler_of(x).bind(get_op("sym_size"), (), {"expr": n}), dtype)
    return B.constant(n, dtype, like=x)


def mean(x: Any, dim: Any = None, keepdim: bool = False, dtype: DType | None = None) -> Any:
    x = as_value(x)
    if dtype is not None:
        x = cast(x, dtype)
    if x.dtype.kind != "f":
        raise TypeError(f"mean: expects a floating-point input, got {x.dtype.name} (pass dtype= or cast first)")
    axes = _axes(x, dim, "mean")
    total = bind("reduce_sum", x, axes=axes, keepdims=keepdim)
    n = count_of(x, axes, x.dtype)
    return bind("div", total, bind("broadcast_to", n, shape=total.shape) if total.shape else n)


def prod(x: Any, dim: Any = None, keepdim: bool = False, dtype: DType | None = None) -> Any:
    x = as_value(x)
    x = cast(x, _accumulate_dtype(x, dtype))
    return bind("reduce_prod", x, axes=_axes(x, dim, "prod"), keepdims=keepdim)


def amax(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
    x = as_value(x)
    return bind("reduce_max", x, axes=_axes(x, dim, "amax"), keepdims=keepdim)


def amin(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
    x = as_value(x)
    return bind("reduce_min", x, axes=_axes(x, dim, "amin"), keepdims=keepdim)


def _extreme(op: str, arg: str, x: Any, dim: Any, keepdim: bool, other: Any = None) -> Any:
    x = as_value(x)
    if other is not None and not isinstance(other, int):
        from graphflow.ops.elementwise import maximum, minimum

        return (maximum if op == "reduce_max" else minimum)(x, other)
    if dim is None:
        return bind(op, x, axes=tuple(range(len(x.shape))), keepdims=False)
    axis = normalize_axis(dim, len(x.shape), op[7:])
    if x.ndim == 0:
        return MinMax(x, B.constant(0, int64, like=x))
    # the value at the index, so the gradient flows to that one element (PyTorch's max(dim) rule)
    idx = bind(arg, x, axis=axis, keepdims=True)
    values = bind("gather", x, idx, axis=axis)
    if not keepdim:
        values = bind("reshape", values, shape=tuple(d for i, d in enumerate(x.shape) if i != axis))
        idx = bind("reshape", idx, shape=values.shape)
    return MinMax(values, idx)


def max(x: Any, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """max(x) -> the largest element; max(x, dim) -> (values, indices); max(x, other) -> maximum."""
    return _extreme("reduce_max", "argmax", x, dim, keepdim, other=dim if not isinstance(dim, (int, type(None))) else None)


def min(x: Any, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    return _extreme("reduce_min", "argmin", x, dim, keepdim, other=dim if not isinstance(dim, (int, type(None))) else None)


def argmax(x: Any, dim: int | None = None, keepdim: bool = False) -> Any:
    x = as_value(x)
    return bind("argmax", x, axis=None if dim is None else normalize_axis(dim, len(x.shape), "argmax"),
                keepdims=keepdim)


def argmin(x: Any, dim: int | None = None, keepdim: bool = False) -> Any:
    x = as_value(x)
    return bind("argmin", x, axis=None if dim is None else normalize_axis(dim, len(x.shape), "argmin"),
                keepdims=keepdim)


def var(x: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        correction: int | None = None) -> Any:
    """Variance with Bessel's correction by default (as torch.var)."""
    x = as_value(x)
    if x.dtype.kind != "f":
        x = cast(x, default_float)
    if correction is None:
        correction = 0 if unbiased is False else 1
    axes = _axes(x, dim, "var")
    centred = sub(x, mean(x, axes, keepdim=True))
    sq = bind("reduce_sum", bind("mul", centred, centred), axes=axes, keepdims=keepdim)
    n = count_of(x, axes, x.dtype)
    denom = bind("sub", n, B.constant(correction, x.dtype, like=x)) if correction else n
    return bind("div", sq, bind("broadcast_to", denom, shape=sq.shape) if sq.shape else denom)


def std(x: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        correction: int | None = None) -> Any:
    return bind("sqrt", var(x, dim, unbiased, keepdim, correction))


def logsumexp(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """log(sum(exp(x))) computed stably (shifted by the max; all -inf rows give -inf)."""
    x = as_value(x)
    if x.dtype.kind != "f":
        x = cast(x, default_float)
    axes = _axes(x, dim, "logsumexp")
    m = bind("reduce_max", x, axes=axes, keepdims=True)
    # a row of -inf (or +inf) would give inf - inf: shift by 0 there instead
    finite = bind("logical_not", bind("eq", bind("abs", m), B.full_like(m, float("inf"))))
    m = bind("where", finite, m, B.zeros_like(m))
    m_b = bind("broadcast_to", m, shape=x.shape)
    s = bind("reduce_sum", exp(sub(x, m_b)), axes=axes, keepdims=True)
    out = bind("add", log(s), m)
    if not keepdim:
        out = bind("reshape", out, shape=tuple(d for i, d in enumerate(x.shape) if i not in axes))
    return out


def all(x: Any, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    x = cast(as_value(x), bool_)
    # all == min over bools; computed as a sum of negations to keep reductions numeric
    bad = bind("reduce_sum", cast(bind("logical_not", x), int64), axes=_axes(x, dim, "all"), keepdims=keepdim)
    return bind("eq", bad, B.zeros_like(bad))


def any(x: Any, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    x = cast(as_value(x), bool_)
    hits = bind("reduce_sum", cast(x, int64), axes=_axes(x, dim, "any"), keepdims=keepdim)
    return bind("gt", hits, B.zeros_like(hits))


def _softmax_input(x: Any, dim: int, dtype: DType | None):
    x = as_value(x)
    if dtype is not None:
        x = cast(x, dtype)
    if x.dtype.kind != "f":
        x = cast(x, default_float)
    return x, normalize_axis(dim, len(x.shape), "softmax")


def softmax(x: Any, dim: int = -1, dtype: DType | None = None) -> Any:
    """exp(x - max) / sum(exp(x - max)) along `dim`."""
    if dtype is None:
        out = offer("softmax", lambda v: _softmax(v, dim), (x,), (dim,))
        if out is not None:
            return out
    return _softmax(x, dim, dtype)


def _softmax(x: Any, dim: int, dtype: DType | None = None) -> Any:
    x, axis = _softmax_input(x, dim, dtype)
    m = bind("broadcast_to", bind("reduce_max", x, axes=(axis,), keepdims=True), shape=x.shape)
    e = exp(sub(x, m))
    s = bind("broadcast_to", bind("reduce_sum", e, axes=(axis,), keepdims=True), shape=x.shape)
    return bind("div", e, s)


def log_softmax(x: Any, dim: int = -1, dtype: DType | None = None) -> Any:
    """x - logsumexp(x) along `dim` (finite for logits of any size)."""
    if dtype is None:
        out = offer("log_softmax", lambda v: _log_softmax(v, dim), (x,), (dim,))
        if out is not None:
            return out
    return _log_softmax(x, dim, dtype)


def _log_softmax(x: Any, dim: int, dtype: DType | None = None) -> Any:
    x, axis = _softmax_input(x, dim, dtype)
    return sub(x, bind("broadcast_to", logsumexp(x, axis, keepdim=True), shape=x.shape))


def norm(x: Any, p: float = 2, dim: Any = None, keepdim: bool = False) -> Any:
    x = as_value(x)
    if p == 2:
        return bind("sqrt", sum(bind("mul", x, x), dim, keepdim))
    if p == 1:
        return sum(bind("abs", x), dim, keepdim)
    if p == float("inf"):
        return amax(bind("abs", x), dim, keepdim)
    from graphflow.ops.elementwise import pow as _pow

    return _pow(sum(_pow(bind("abs", x), p), dim, keepdim), 1.0 / p)
