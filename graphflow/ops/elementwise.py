"""Elementwise math over any values, with PyTorch's promotion rules."""

from __future__ import annotations

from typing import Any

from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.dtypes import bool_, default_float
from graphflow.ops.composite import offer
from graphflow.ops.values import as_value, broadcast_values, cast, is_value, promote

__all__ = [
    "add", "sub", "mul", "div", "true_divide", "floor_divide", "remainder", "pow", "maximum", "minimum",
    "atan2", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "neg", "abs", "sign", "floor", "ceil",
    "round", "trunc", "exp", "expm1", "log", "log1p", "log2", "log10", "sin", "cos", "tan", "tanh",
    "sigmoid", "sqrt", "rsqrt", "reciprocal", "erf", "square", "relu", "clamp", "where", "isnan",
    "isinf", "isfinite", "cast", "lerp", "softplus",
]


def _binary(op: str, a: Any, b: Any, float_result: bool = False) -> Any:
    if is_value(a) and is_value(b) and a.dtype is b.dtype and tuple(a.shape) == tuple(b.shape) and (
        not float_result or a.dtype.kind == "f"
    ):
        return bind(op, a, b)  # the common case: nothing to convert
    x, y = promote(a, b, op=op)
    if float_result and x.dtype.kind != "f":
        x, y = cast(x, default_float), cast(y, default_float)
    return bind(op, x, y)


def _float_unary(op: str, x: Any) -> Any:
    x = as_value(x)
    if x.dtype.kind != "f":
        x = cast(x, default_float)  # exp(int) is a float, as in PyTorch
    return bind(op, x)


def add(a: Any, b: Any, alpha: Any = 1) -> Any:
    """a + alpha * b"""
    return _binary("add", a, b if alpha == 1 else mul(b, alpha))


def sub(a: Any, b: Any, alpha: Any = 1) -> Any:
    """a - alpha * b"""
    return _binary("sub", a, b if alpha == 1 else mul(b, alpha))


def mul(a: Any, b: Any) -> Any:
    return _binary("mul", a, b)


def div(a: Any, b: Any, rounding_mode: str | None = None) -> Any:
    """True division (integers give floats), or 'floor'/'trunc' division as in torch.div."""
    if rounding_mode is None:
        return _binary("div", a, b, float_result=True)
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode == "trunc":
        q = _binary("div", a, b, float_result=True)
        out = bind("trunc", q)
        x, _ = promote(a, b)
        return cast(out, x.dtype)
    raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")


true_divide = div


def floor_divide(a: Any, b: Any) -> Any:
    return _binary("floor_div", a, b)


def remainder(a: Any, b: Any) -> Any:
    """Python's % (the result takes the divisor's sign), as torch.remainder."""
    return _binary("mod", a, b)


def pow(a: Any, b: Any) -> Any:  # noqa: A001
    return _binary("pow", a, b)


def maximum(a: Any, b: Any) -> Any:
    return _binary("maximum", a, b)


def minimum(a: Any, b: Any) -> Any:
    return _binary("minimum", a, b)


def atan2(a: Any, b: Any) -> Any:
    return _binary("atan2", a, b, float_result=True)


def _compare(op: str):
    def compare(a: Any, b: Any) -> Any:
        return _binary(op, a, b)

    compare.__name__ = op
    compare.__doc__ = f"elementwise {op} (a bool tensor)"
    return compare


eq, ne, lt, le, gt, ge = (_compare(n) for n in ("eq", "ne", "lt", "le", "gt", "ge"))


def _logical(op: str):
    def logical(a: Any, b: Any) -> Any:
        x, y = promote(a, b, op=op, dtype=bool_)
        return bind(op, x, y)

    logical.__name__ = op
    return logical


logical_and, logical_or, logical_xor = (_logical(n) for n in ("logical_and", "logical_or", "logical_xor"))


def logical_not(x: Any) -> Any:
    return bind("logical_not", cast(as_value(x), bool_))


def _bitwise(op: str):
    def bitwise(a: Any, b: Any) -> Any:
        x, y = promote(a, b, op=op)
        if x.dtype.kind == "f":
            raise TypeError(f"{op}: not defined for floating-point dtype {x.dtype.name}")
        return bind(op, x, y)

    bitwise.__name__ = op
    return bitwise


bitwise_and, bitwise_or, bitwise_xor = (_bitwise(n) for n in ("bitwise_and", "bitwise_or", "bitwise_xor"))


def bitwise_not(x: Any) -> Any:
    return bind("logical_not" if x.dtype is bool_ else "bitwise_not", x)


def _same_unary(op: str):
    def unary(x: Any) -> Any:
        return bind(op, as_value(x))

    unary.__name__ = op
    return unary


neg, abs, sign, floor, ceil, round, trunc = (  # noqa: A001
    _same_unary(n) for n in ("neg", "abs", "sign", "floor", "ceil", "round", "trunc"))


def _float_fn(op: str):
    def fn(x: Any) -> Any:
        return _float_unary(op, x)

    fn.__name__ = op
    return fn


exp, expm1, log, log1p, sin, cos, tanh, sigmoid, sqrt, rsqrt, reciprocal, erf = (
    _float_fn(n) for n in ("exp", "expm1", "log", "log1p", "sin", "cos", "tanh", "sigmoid", "sqrt",
                           "rsqrt", "reciprocal", "erf"))


def log2(x: Any) -> Any:
    return mul(log(x), 1.4426950408889634)


def log10(x: Any) -> Any:
    return mul(log(x), 0.4342944819032518)


def tan(x: Any) -> Any:
    return div(sin(x), cos(x))


def square(x: Any) -> Any:
    return mul(x, x)


def relu(x: Any) -> Any:
    """max(x, 0); NaN stays NaN, and the gradient at 0 is 0 (as in PyTorch)."""
    out = offer("relu", _relu, (x,), (), min_elements=4096)
    return _relu(x) if out is None else out


def _relu(x: Any) -> Any:
    x = as_value(x)
    return bind("where", bind("le", x, B.zeros_like(x)), B.zeros_like(x), x)


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """log(1 + exp(beta x)) / beta, linear above `threshold` (as torch.nn.functional.softplus)."""
    x = as_value(x)
    bx = mul(x, beta) if beta != 1 else x
    # log1p(exp(-|bx|)) + max(bx, 0) never overflows
    soft = add(log1p(exp(neg(abs(bx)))), relu(bx))
    soft = div(soft, beta) if beta != 1 else soft
    return where(gt(bx, threshold), x, soft)


def clamp(x: Any, min: Any = None, max: Any = None) -> Any:  # noqa: A002
    """Clamp into [min, max]; NaN stays NaN; the gradient passes where x is inside the bounds."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    bounds = [v for v in (min, max) if v is not None]
    out, *vals = promote(x, *bounds, op="clamp")
    if min is not None:
        lo = vals.pop(0)
        out = bind("where", bind("lt", out, lo), lo, out)
    if max is not None:
        hi = vals.pop(0)
        out = bind("where", bind("gt", out, hi), hi, out)
    return out


def where(cond: Any, a: Any, b: Any) -> Any:
    """cond ? a : b, broadcasting all three."""
    like = next((v for v in (cond, a, b) if is_value(v)), None)
    c = cast(as_value(cond, like), bool_)
    x, y = promote(a, b, op="where", like=like)
    c, x, y = broadcast_values(c, x, y, op="where")
    return bind("where", c, x, y)


def isnan(x: Any) -> Any:
    return bind("isnan", as_value(x))


def isinf(x: Any) -> Any:
    x = as_value(x)
    if x.dtype.kind != "f":
        return B.full_like(x, False, bool_)
    return eq(abs(x), float("inf"))


def isfinite(x: Any) -> Any:
    x = as_value(x)
    if x.dtype.kind != "f":
        return B.full_like(x, True, bool_)
    return logical_not(logical_or(isnan(x), isinf(x)))


def lerp(a: Any, b: Any, weight: Any) -> Any:
    return add(a, mul(weight, sub(b, a)))
