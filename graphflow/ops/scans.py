"""Scans along one dimension: `cumsum`, `cumprod`, `cummax`, `cummin`, `logcumsumexp` and `diff`
(PyTorch's semantics), over the `cumsum`, `cumprod` and `cumarg` primitives, for every value
kind (eager, static, traced, graph nodes)."""

from __future__ import annotations

from typing import Any, NamedTuple

from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.dtypes import DType, bool_, float64, get_dtype, int64
from graphflow.ir.shapes import fmt, normalize_axis
from graphflow.ops.shape import slice_axis
from graphflow.ops.values import as_value, cast

__all__ = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp", "diff", "ValuesIndices"]


class ValuesIndices(NamedTuple):
    """(values, indices), as torch's cummax, sort, topk, kthvalue and median(dim) return."""

    values: Any
    indices: Any


def _scan_input(x: Any, dim: int, op: str) -> tuple[Any, int, bool]:
    """(x with at least one dimension, the normalised axis, whether x was 0-d)."""
    x = as_value(x)
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    axis = normalize_axis(dim, len(x.shape), op)
    if not x.shape:
        return bind("reshape", x, shape=(1,)), 0, True
    return x, axis, False


def _restore(out: Any, was_scalar: bool) -> Any:
    return bind("reshape", out, shape=()) if was_scalar else out


def _accumulate(op: str, input: Any, dim: int, dtype: DType | None) -> Any:  # noqa: A002
    x, axis, scalar = _scan_input(input, dim, op)
    if dtype is not None:
        x = cast(x, get_dtype(dtype))
    elif x.dtype.kind in "bui":
        x = cast(x, int64)  # PyTorch accumulates integers and bools as int64
    out = bind("cumsum", x, axis=axis, reverse=False) if op == "cumsum" else bind("cumprod", x, axis=axis)
    return _restore(out, scalar)


def cumsum(input: Any, dim: int, *, dtype: DType | None = None) -> Any:  # noqa: A002
    """Running sums along `dim`: out[i] = input[0] + ... + input[i]. Integers and bools give
    int64 unless `dtype` is given (the input is cast to it first); float16/bfloat16 accumulate
    in float32 and round each output once. The gradient is the reversed running sum."""
    return _accumulate("cumsum", input, dim, dtype)


def cumprod(input: Any, dim: int, *, dtype: DType | None = None) -> Any:  # noqa: A002
    """Running products along `dim`; integers and bools give int64 unless `dtype` is given. The
    gradient is exact with zeros in the input (the first zero of a row gets the product of the
    others, later elements none)."""
    return _accumulate("cumprod", input, dim, dtype)


def _running(largest: bool, input: Any, dim: int) -> ValuesIndices:  # noqa: A002
    op = "cummax" if largest else "cummin"
    x, axis, scalar = _scan_input(input, dim, op)
    idx = bind("cumarg", x, axis=axis, largest=largest)
    values = bind("gather", x, idx, axis=axis)  # the gradient reaches the selected elements
    return ValuesIndices(_restore(values, scalar), _restore(idx, scalar))


def cummax(input: Any, dim: int) -> ValuesIndices:  # noqa: A002
    """(running maximum, its index) along `dim`. Of equal maxima the index is the last one (as
    PyTorch); after a NaN the values are NaN and the index is that of the latest NaN."""
    return _running(True, input, dim)


def cummin(input: Any, dim: int) -> ValuesIndices:  # noqa: A002
    """(running minimum, its index) along `dim`; ties and NaN as in `cummax`."""
    return _running(False, input, dim)


def logcumsumexp(input: Any, dim: int) -> Any:  # noqa: A002
    """log(cumsum(exp(input))) along `dim`, shifted by each row's maximum so nothing overflows.
    float32 and the half types are computed in float64. Limitation: a prefix lying entirely more
    than ~700 below its row's maximum underflows (its result is -inf instead of the prefix's
    value); PyTorch's pairwise log-add-exp scan has no such limit."""
    x, axis, scalar = _scan_input(input, dim, "logcumsumexp")
    if x.dtype.kind != "f":
        raise TypeError(f"logcumsumexp: expects a floating-point input, got {x.dtype.name}")
    out_dtype = x.dtype
    work = cast(x, float64)
    if x.shape[axis] == 0:
        return _restore(x, scalar)
    m = bind("reduce_max", work, axes=(axis,), keepdims=True)
    # a row of -inf (or holding +inf) would give inf - inf: shift by 0 there instead
    finite = bind("logical_not", bind("eq", bind("abs", m), B.full_like(m, float("inf"))))
    m = bind("broadcast_to", bind("where", finite, m, B.zeros_like(m)), shape=work.shape)
    s = bind("cumsum", bind("exp", bind("sub", work, m)), axis=axis, reverse=False)
    out = bind("add", bind("log", s), m)
    return _restore(cast(out, out_dtype), scalar)


def diff(input: Any, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None) -> Any:  # noqa: A002
    """The n-th forward difference along `dim`: out[i] = input[i + 1] - input[i], applied n times
    (bools: input[i + 1] != input[i]); `prepend`/`append` are concatenated along `dim` first."""
    from graphflow.ops.shape import cat

    x = as_value(input)
    if not x.shape:
        raise ValueError("diff: expects input to be at least one-dimensional")
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"diff: order must be non-negative but got {n}")
    axis = normalize_axis(dim, len(x.shape), "diff")
    parts = []
    for extra in (prepend, append):
        if extra is None:
            parts.append(None)
            continue
        e = as_value(extra, like=x, dtype=x.dtype)
        if not e.shape:  # a scalar is broadcast to one slice
            e = bind("broadcast_to", e, shape=tuple(1 if i == axis else d for i, d in enumerate(x.shape)))
        if len(e.shape) != len(x.shape):
            raise ValueError(f"diff: prepend/append of shape {fmt(e.shape)} must have the input's "
                             f"{len(x.shape)} dimensions (input of shape {fmt(x.shape)})")
        parts.append(e)
    if parts[0] is not None or parts[1] is not None:
        x = cat([p for p in (parts[0], x, parts[1]) if p is not None], axis)
    for _ in range(n):
        size = x.shape[axis]
        if size == 0:
            break
        hi, lo = slice_axis(x, axis, 1, size), slice_axis(x, axis, 0, size - 1)
        x = bind("ne", hi, lo) if x.dtype is bool_ else bind("sub", hi, lo)
    return x
