"""Elementwise math composed of primitives (PyTorch's semantics): `nan_to_num`, `frac`, `exp2`,
`hypot`, `fmod`."""

from __future__ import annotations

from typing import Any

import ml_dtypes

from graphflow.errors import DTypeError
from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.dtypes import default_float
from graphflow.ops.elementwise import abs as _abs
from graphflow.ops.elementwise import pow as _pow
from graphflow.ops.values import as_value, cast, promote

__all__ = ["nan_to_num", "frac", "exp2", "hypot", "fmod"]


def nan_to_num(input: Any, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Any:  # noqa: A002
    """NaN -> `nan`, +inf -> `posinf`, -inf -> `neginf` (defaults: the dtype's largest and
    smallest finite values); integers and bools are returned as they are. The gradient passes
    where the input is finite."""
    x = as_value(input)
    if x.dtype.kind != "f":
        return x
    info = ml_dtypes.finfo(x.dtype.np)
    hi = float(info.max) if posinf is None else posinf
    lo = float(info.min) if neginf is None else neginf
    inf = B.full_like(x, float("inf"))
    out = bind("where", bind("isnan", x), B.full_like(x, nan), x)
    out = bind("where", bind("eq", x, inf), B.full_like(x, hi), out)
    return bind("where", bind("eq", x, bind("neg", inf)), B.full_like(x, lo), out)


def _float_input(x: Any, op: str) -> Any:
    x = as_value(x)
    if x.dtype.kind != "f":
        raise DTypeError(f"{op}: expects a floating-point input, got {x.dtype.name}")
    return x


def frac(input: Any) -> Any:  # noqa: A002
    """x - trunc(x): the fractional part, with x's sign (floating-point inputs, as torch.frac)."""
    x = _float_input(input, "frac")
    return bind("sub", x, bind("trunc", x))


def exp2(input: Any) -> Any:  # noqa: A002
    """2 ** x (integers give floats); exact for integral x."""
    x = as_value(input)
    if x.dtype.kind != "f":
        x = cast(x, default_float)
    return _pow(B.full_like(x, 2.0), x)


def hypot(input: Any, other: Any) -> Any:  # noqa: A002
    """sqrt(a**2 + b**2) without overflow or underflow in the squares (scaled by max(|a|, |b|));
    the gradient at a = b = 0 is 0. Integers give floats."""
    a, b = promote(input, other, op="hypot")
    if a.dtype.kind != "f":
        a, b = cast(a, default_float), cast(b, default_float)
    big = bind("maximum", _abs(a), _abs(b))
    small = bind("minimum", _abs(a), _abs(b))
    zero = bind("eq", big, B.zeros_like(big))
    safe = bind("where", zero, B.ones_like(big), big)
    ratio = bind("div", small, safe)
    scaled = bind("mul", big, bind("sqrt", bind("add", B.ones_like(ratio), bind("mul", ratio, ratio))))
    # an infinite operand gives inf even when the other is NaN (C's hypot)
    inf = B.full_like(big, float("inf"))
    infinite = bind("logical_or", bind("eq", _abs(a), inf), bind("eq", _abs(b), inf))
    return bind("where", infinite, inf, bind("where", zero, B.zeros_like(big), scaled))


def fmod(input: Any, other: Any) -> Any:  # noqa: A002
    """The remainder of truncated division: it has the sign of the dividend (C's fmod), unlike
    `remainder`. Exact: sign(a) * (|a| mod |b|). Integer division by zero raises."""
    a, b = promote(input, other, op="fmod")
    r = bind("mod", _abs(a), _abs(b))
    return bind("where", bind("lt", a, B.zeros_like(a)), bind("neg", r), r)


# the in-place forms (Tensor.fmod_, ...), applied by the eager tensor and the tracer
INPLACE: dict[str, Any] = {"nan_to_num_": nan_to_num, "frac_": frac, "exp2_": exp2, "hypot_": hypot, "fmod_": fmod}
