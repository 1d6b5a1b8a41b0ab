"""Comparing whole tensors (PyTorch's semantics): `isclose`, `allclose`, `equal`.

`allclose` and `equal` answer a Python bool when the values are known now (eager tensors, as
torch does); for symbolic values (static tensors, tracers, graph nodes) they return a 0-d bool
value computed when the graph runs."""

from __future__ import annotations

from typing import Any

from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.dtypes import bool_, default_float
from graphflow.ops.elementwise import abs as _abs
from graphflow.ops.indexing import _concrete
from graphflow.ops.reductions import all as _all
from graphflow.ops.values import as_value, cast, is_value, promote

__all__ = ["isclose", "allclose", "equal"]


def isclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Any:  # noqa: A002
    """|input - other| <= atol + rtol * |other| elementwise (broadcasting), with infinities close
    only to themselves and NaN close to NaN only when equal_nan (torch.isclose)."""
    if rtol < 0 or atol < 0:
        raise ValueError(f"isclose: rtol and atol must be non-negative, got rtol={rtol} and atol={atol}")
    a, b = promote(input, other, op="isclose")
    same = bind("eq", a, b)  # also inf == inf, and the exact answer for integers and bools
    if a.dtype is bool_ or (a.dtype.kind in "iu" and rtol == 0 and atol == 0):
        return same
    if a.dtype.kind != "f":  # integers: the tolerance is a float comparison
        a, b = cast(a, default_float), cast(b, default_float)
    diff = bind("sub", a, b)
    allowed = bind("add", B.full_like(b, atol), bind("mul", B.full_like(b, rtol), _abs(b)))
    finite = bind("logical_not", bind("logical_or", bind("isnan", diff),
                                      bind("eq", _abs(diff), B.full_like(diff, float("inf")))))
    near = bind("logical_and", finite, bind("le", _abs(diff), allowed))
    out = bind("logical_or", same, near)
    if equal_nan:
        out = bind("logical_or", out, bind("logical_and", bind("isnan", a), bind("isnan", b)))
    return out


def _answer(value: Any) -> Any:
    """A Python bool for a known 0-d result, else the value itself."""
    arr = _concrete(value)
    return bool(arr) if arr is not None else value


def allclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Any:  # noqa: A002
    """Whether every element of isclose(input, other, ...) holds (a Python bool for eager tensors)."""
    return _answer(_all(isclose(input, other, rtol, atol, equal_nan)))


def equal(input: Any, other: Any) -> Any:  # noqa: A002
    """True when both have the same shape and the same values (NaN equals nothing), as torch.equal;
    a Python bool for eager tensors."""
    like = input if is_value(input) else other
    a, b = as_value(input, like), as_value(other, like)
    if tuple(a.shape) != tuple(b.shape):
        return _answer(B.constant(False, bool_, like=a))
    a, b = promote(a, b, op="equal")
    return _answer(_all(bind("eq", a, b)))
