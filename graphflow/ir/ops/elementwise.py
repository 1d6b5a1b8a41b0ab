"""Elementwise primitives, declared as tables: unary, binary, `where` and `cast`.

Binary primitives take operands of one shape and one dtype: broadcasting and type promotion are
made explicit (`broadcast_to`, `cast`) by the functional layer, so backends and gradient rules
never handle them implicitly."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.dtypes import DType, bool_, get_dtype
from graphflow.ir.graph import TensorType
from graphflow.ir.registry import NOT_DIFFERENTIABLE, REQUIRED, OpDef, register
from graphflow.ir.shapes import fmt

# dtype rules: which input dtypes an op accepts, and its output dtype.
FLOAT = "float"  # float in, same float out
NUMERIC = "numeric"  # int or float in (not bool), same out
ANY = "any"  # any dtype in, same out
BOOL = "bool"  # bool in, bool out
INTEGRAL = "integral"  # bool or int in, same out
COMPARE = "compare"  # any in, bool out

_ACCEPTS = {
    FLOAT: lambda d: d.kind == "f",
    NUMERIC: lambda d: d.kind in "uif",
    ANY: lambda d: True,
    BOOL: lambda d: d.kind == "b",
    INTEGRAL: lambda d: d.kind in "bui",
    COMPARE: lambda d: True,
}
_ACCEPTS_TEXT = {FLOAT: "a floating-point", NUMERIC: "a numeric (non-bool)", ANY: "any",
                 BOOL: "a bool", INTEGRAL: "a bool or integer", COMPARE: "any"}


def _out_dtype(rule: str, d: DType) -> DType:
    return bool_ if rule == COMPARE else d


def _half(fn: Callable) -> Callable:
    """Compute float16/bfloat16 in float32 and round once, as the compiled backends do."""

    def run(*arrays: np.ndarray) -> np.ndarray:
        dt = arrays[0].dtype
        if dt.kind == "f" and dt.itemsize == 2 or dt.name == "bfloat16":
            return fn(*(a.astype(np.float32) for a in arrays)).astype(dt)
        return fn(*arrays)

    return run


def _check_dtype(name: str, rule: str, types: tuple[TensorType, ...]) -> None:
    for t in types:
        if not _ACCEPTS[rule](t.dtype):
            raise TypeError(f"{name}: expects {_ACCEPTS_TEXT[rule]} dtype, got {t.dtype.name}")


def _infer_unary(name: str, rule: str):
    def infer(types, attrs):
        _check_dtype(name, rule, types)
        return TensorType(_out_dtype(rule, types[0].dtype), types[0].shape)

    return infer


def _infer_nary(name: str, rule: str):
    def infer(types, attrs):
        first = types[0]
        for t in types[1:]:
            if t.dtype is not first.dtype:
                raise TypeError(f"{name}: operands must share a dtype, got "
                                f"{' and '.join(x.dtype.name for x in types)}")
            if t.shape != first.shape:
                raise ValueError(f"{name}: operands must share a shape, got "
                                 f"{' and '.join(fmt(x.shape) for x in types)}")
        _check_dtype(name, rule, types)
        return TensorType(_out_dtype(rule, first.dtype), first.shape)

    return infer


def _erf(x: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import erf
    except ImportError:  # pragma: no cover - scipy is optional
        return np.frompyfunc(math.erf, 1, 1)(x).astype(x.dtype)
    return erf(x).astype(x.dtype, copy=False)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # the two-branch form never overflows
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _round_half_even(x: np.ndarray) -> np.ndarray:
    return np.round(x) if x.dtype.kind == "f" else x.copy()


def _identity_int(fn: Callable) -> Callable:
    return lambda x: fn(x) if x.dtype.kind == "f" else x.copy()


def _zero_grad(node, g):
    return [B.zeros_like(node.inputs[0])]


U = B.scalar_op  # x <op> python scalar

# name: (numpy, dtype rule, vjp(node, g, x, out) -> gx)
UNARY: dict[str, tuple[Callable, str, Callable | None]] = {
    "neg": (np.negative, NUMERIC, lambda g, x, out: bind("neg", g)),
    "abs": (np.abs, NUMERIC, lambda g, x, out: bind("mul", g, bind("sign", x))),
    "sign": (np.sign, NUMERIC, lambda g, x, out: B.zeros_like(x)),
    "floor": (_identity_int(np.floor), NUMERIC, lambda g, x, out: B.zeros_like(x)),
    "ceil": (_identity_int(np.ceil), NUMERIC, lambda g, x, out: B.zeros_like(x)),
    "round": (_round_half_even, NUMERIC, lambda g, x, out: B.zeros_like(x)),
    "trunc": (_identity_int(np.trunc), NUMERIC, lambda g, x, out: B.zeros_like(x)),
    "exp": (np.exp, FLOAT, lambda g, x, out: bind("mul", g, out)),
    "expm1": (np.expm1, FLOAT, lambda g, x, out: bind("mul", g, U("add", out, 1))),
    "log": (np.log, FLOAT, lambda g, x, out: bind("div", g, x)),
    "log1p": (np.log1p, FLOAT, lambda g, x, out: bind("div", g, U("add", x, 1))),
    "sin": (np.sin, FLOAT, lambda g, x, out: bind("mul", g, bind("cos", x))),
    "cos": (np.cos, FLOAT, lambda g, x, out: bind("neg", bind("mul", g, bind("sin", x)))),
    "tanh": (np.tanh, FLOAT,
             lambda g, x, out: bind("mul", g, bind("sub", B.ones_like(out), bind("mul", out, out)))),
    "sigmoid": (_sigmoid, FLOAT,
                lambda g, x, out: bind("mul", bind("mul", g, out), bind("sub", B.ones_like(out), out))),
    "sqrt": (np.sqrt, FLOAT, lambda g, x, out: bind("div", U("mul", g, 0.5), out)),
    "rsqrt": (lambda x: 1 / np.sqrt(x), FLOAT,
              lambda g, x, out: bind("mul", U("mul", g, -0.5), bind("mul", out, bind("mul", out, out)))),
    "reciprocal": (np.reciprocal, FLOAT,
                   lambda g, x, out: bind("neg", bind("mul", g, bind("mul", out, out)))),
    "erf": (_erf, FLOAT,
            lambda g, x, out: bind("mul", U("mul", g, 2 / math.sqrt(math.pi)),
                                   bind("exp", bind("neg", bind("mul", x, x))))),
    "logical_not": (np.logical_not, BOOL, None),
    "bitwise_not": (np.invert, INTEGRAL, None),
    "isnan": (np.isnan, COMPARE, None),
}


def _pow_grads(g, x, y, out):
    zero_y = bind("eq", y, B.zeros_like(y))
    gx = bind("where", zero_y, B.zeros_like(x),
              bind("mul", g, bind("mul", y, bind("pow", x, U("sub", y, 1)))))
    safe_x = bind("where", bind("eq", x, B.zeros_like(x)), B.ones_like(x), x)
    gy = bind("mul", g, bind("mul", out, bind("log", safe_x)))
    return gx, gy


def _max_grads(g, x, y, out, pick_x_when):
    # ties split the gradient evenly, as PyTorch does
    share = bind("where", bind(pick_x_when, x, y), B.ones_like(x),
                 bind("where", bind("eq", x, y), B.full_like(x, 0.5), B.zeros_like(x)))
    gx = bind("mul", g, share)
    return gx, bind("sub", g, gx)


def _div_grads(g, x, y, out):
    gx = bind("div", g, y)
    return gx, bind("neg", bind("mul", gx, bind("div", x, y)))


def _py_mod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.mod(a, b) if a.dtype.kind == "f" else _int_safe(np.mod, a, b)


def _py_floordiv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.floor_divide(a, b) if a.dtype.kind == "f" else _int_safe(np.floor_divide, a, b)


def _int_safe(fn, a, b):
    if np.any(b == 0):
        raise ZeroDivisionError("integer division by zero")
    return fn(a, b)


def _true_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.true_divide(a, b).astype(a.dtype, copy=False)


def _pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "iu" and np.any(b < 0):
        raise ValueError("integers to negative integer powers are not allowed")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.power(a, b)


# name: (numpy, dtype rule, vjp(g, x, y, out) -> (gx, gy))
BINARY: dict[str, tuple[Callable, str, Callable | None]] = {
    "add": (np.add, NUMERIC, lambda g, x, y, out: (g, g)),
    "sub": (np.subtract, NUMERIC, lambda g, x, y, out: (g, bind("neg", g))),
    "mul": (np.multiply, NUMERIC, lambda g, x, y, out: (bind("mul", g, y), bind("mul", g, x))),
    "div": (_true_div, FLOAT, _div_grads),
    "pow": (_pow, NUMERIC, _pow_grads),
    "maximum": (np.maximum, NUMERIC, lambda g, x, y, out: _max_grads(g, x, y, out, "gt")),
    "minimum": (np.minimum, NUMERIC, lambda g, x, y, out: _max_grads(g, x, y, out, "lt")),
    "floor_div": (_py_floordiv, NUMERIC, lambda g, x, y, out: (B.zeros_like(x), B.zeros_like(y))),
    "mod": (_py_mod, NUMERIC,
            lambda g, x, y, out: (g, bind("neg", bind("mul", g, bind("floor_div", x, y))))),
    "atan2": (np.arctan2, FLOAT,
              lambda g, x, y, out: (
                  bind("div", bind("mul", g, y), bind("add", bind("mul", x, x), bind("mul", y, y))),
                  bind("div", bind("neg", bind("mul", g, x)), bind("add", bind("mul", x, x), bind("mul", y, y))))),
    "eq": (np.equal, COMPARE, None),
    "ne": (np.not_equal, COMPARE, None),
    "lt": (np.less, COMPARE, None),
    "le": (np.less_equal, COMPARE, None),
    "gt": (np.greater, COMPARE, None),
    "ge": (np.greater_equal, COMPARE, None),
    "logical_and": (np.logical_and, BOOL, None),
    "logical_or": (np.logical_or, BOOL, None),
    "logical_xor": (np.logical_xor, BOOL, None),
    "bitwise_and": (np.bitwise_and, INTEGRAL, None),
    "bitwise_or": (np.bitwise_or, INTEGRAL, None),
    "bitwise_xor": (np.bitwise_xor, INTEGRAL, None),
}


def _unary_vjp(rule: Callable) -> Callable:
    def vjp(node, g):
        return [rule(g, node.inputs[0], node)]

    return vjp


def _binary_vjp(rule: Callable) -> Callable:
    def vjp(node, g):
        x, y = node.inputs
        return list(rule(g, x, y, node))

    return vjp


def _unary_reference(fn: Callable) -> Callable:
    fn = _half(fn)

    def reference(arrays, attrs):
        (x,) = arrays
        with np.errstate(all="ignore"):
            return np.asarray(fn(x), dtype=_result_np(fn, x))

    return reference


def _result_np(fn, x):
    return None  # let NumPy pick; backends cast to the inferred dtype


def _binary_reference(fn: Callable) -> Callable:
    fn = _half(fn)

    def reference(arrays, attrs):
        a, b = arrays
        with np.errstate(all="ignore"):
            return np.asarray(fn(a, b))

    return reference


for _name, (_fn, _rule, _grad) in UNARY.items():
    register(OpDef(_name, "elementwise", _infer_unary(_name, _rule), _unary_reference(_fn),
                   _unary_vjp(_grad) if _grad else NOT_DIFFERENTIABLE, {}, 1,
                   doc=f"elementwise {_name}"))

for _name, (_fn, _rule, _grad) in BINARY.items():
    register(OpDef(_name, "elementwise", _infer_nary(_name, _rule), _binary_reference(_fn),
                   _binary_vjp(_grad) if _grad else NOT_DIFFERENTIABLE, {}, 2,
                   doc=f"elementwise {_name} of two operands of one shape and dtype"))


def _where_infer(types, attrs):
    c, a, b = types
    if c.dtype is not bool_:
        raise TypeError(f"condition must be bool, got {c.dtype.name}")
    if a.dtype is not b.dtype:
        raise TypeError(f"branches must share a dtype, got {a.dtype.name} and {b.dtype.name}")
    if not (c.shape == a.shape == b.shape):
        raise ValueError(f"operands must share a shape, got {fmt(c.shape)}, {fmt(a.shape)}, {fmt(b.shape)}")
    return TensorType(a.dtype, a.shape)


def _where_vjp(node, g):
    c, a, b = node.inputs
    zero = B.zeros_like(g)
    return [None, bind("where", c, g, zero), bind("where", c, zero, g)]


register(OpDef("where", "elementwise", _where_infer, lambda arrays, attrs: np.where(*arrays), _where_vjp,
               {}, 3, doc="cond ? a : b elementwise"))


def _cast_infer(types, attrs):
    return TensorType(get_dtype(attrs["dtype"]), types[0].shape)


def _cast_ref(arrays, attrs):
    (x,) = arrays
    target = attrs["dtype"].np
    with np.errstate(invalid="ignore", over="ignore"):
        if x.dtype.name == "bfloat16" and target.kind != "f":
            x = x.astype(np.float32)
        if target == np.bool_:
            return x != 0
        return x.astype(target)


def _cast_vjp(node, g):
    (x,) = node.inputs
    if x.dtype.kind != "f":
        return [None]
    return [bind("cast", g, dtype=x.dtype) if g.dtype is not x.dtype else g]


register(OpDef("cast", "elementwise", _cast_infer, _cast_ref, _cast_vjp, {"dtype": REQUIRED}, 1,
               doc="convert to another dtype (float to int truncates toward zero)"))
