"""Moment pairs and counts (PyTorch's semantics): `var_mean`, `std_mean` (tuples, Bessel's
correction by default) and `count_nonzero`."""

from __future__ import annotations

from typing import Any

from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.dtypes import default_float, int64
from graphflow.ops.reductions import _axes, mean, var
from graphflow.ops.values import as_value, cast

__all__ = ["var_mean", "std_mean", "count_nonzero"]


def _moments(x: Any, dim: Any, unbiased: bool | None, keepdim: bool, correction: int | None):
    x = as_value(x)
    if x.dtype.kind != "f":
        x = cast(x, default_float)
    return var(x, dim, unbiased, keepdim, correction), mean(x, dim, keepdim)


def var_mean(input: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,  # noqa: A002
             correction: int | None = None) -> tuple[Any, Any]:
    """(variance, mean) over `dim` (correction=1 unless given; unbiased=False means 0)."""
    return _moments(input, dim, unbiased, keepdim, correction)


def std_mean(input: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,  # noqa: A002
             correction: int | None = None) -> tuple[Any, Any]:
    """(standard deviation, mean) over `dim`, as var_mean."""
    v, m = _moments(input, dim, unbiased, keepdim, correction)
    return bind("sqrt", v), m


def count_nonzero(input: Any, dim: Any = None) -> Any:  # noqa: A002
    """The number of non-zero elements over `dim` (int or tuple; None: all), as int64."""
    x = as_value(input)
    nonzero = bind("ne", x, B.zeros_like(x))
    return bind("reduce_sum", cast(nonzero, int64), axes=_axes(x, dim, "count_nonzero"), keepdims=False)
