"""The lowering table: (op, dtype kind) -> IRBuilder emission of one element.

An entry is `fn(b, xs, cx) -> value`: `xs` are the operands in their compute types (see
`emit.compute_type`), `cx` gives the op's dtypes and attributes and can raise run-time errors.
Kinds: "f" float, "i" signed int, "u" unsigned int, "b" bool. Ops missing here are either index
maths handled by the kernel emitters (`INDEX_OPS`), or run by the NumPy reference (`FALLBACK`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import llvmlite.ir as ir

from graphflow.backends.llvm.emit import F32, F64, FP_FLAGS, I1, I32, I64, compute_type, const, fcall, intrinsic
from graphflow.backends.llvm.mathlib import call_math
from graphflow.ir.dtypes import DType

ERR_ZERO_DIV = 1
ERR_INDEX = 2
ERROR_TEXT = {ERR_ZERO_DIV: (ZeroDivisionError, "integer division by zero"),
              ERR_INDEX: (IndexError, "index out of bounds")}


@dataclass
class Ctx:
    """What an emission may need besides its operands."""

    in_dtypes: tuple[DType, ...]
    out_dtype: DType
    attrs: Any
    raise_if: Callable[[ir.IRBuilder, ir.Value, int], None] | None = None

    @property
    def dtype(self) -> DType:
        return self.in_dtypes[0]


Lowering = Callable[[ir.IRBuilder, list, Ctx], ir.Value]
TABLE: dict[tuple[str, str], Lowering] = {}
FLOAT, SIGNED, UNSIGNED, BOOL = "f", "i", "u", "b"
INTS = (SIGNED, UNSIGNED)
NUMERIC = (FLOAT, SIGNED, UNSIGNED)


def _rule(name: str, kinds, fn: Lowering) -> None:
    for k in kinds:
        TABLE[(name, k)] = fn


def _fc(t: ir.Type, v: float) -> ir.Constant:
    return const(t, v)


def _is_f64(x) -> bool:
    return isinstance(x.type, ir.DoubleType)


def _libm(name32: str, name64: str | None = None, intrinsic_name: str | None = None):
    """A transcendental: vectorisable IR for float32, libm (through an intrinsic when LLVM has one)
    for float64."""

    def emit(b, xs, cx):
        (x,) = xs
        if not _is_f64(x):
            return call_math(b, name32, x)
        if intrinsic_name:
            return fcall(b, intrinsic_name, x)
        return intrinsic(b, name64, F64, [x])

    return emit


def _sigmoid(b, xs, cx):
    (x,) = xs
    if not _is_f64(x):
        return call_math(b, "sigmoid", x)
    e = fcall(b, "exp", b.fneg(fcall(b, "fabs", x)))
    inv = b.fdiv(_fc(F64, 1.0), b.fadd(_fc(F64, 1.0), e))
    return b.select(b.fcmp_unordered("uge", x, _fc(F64, 0.0)), inv, b.fmul(e, inv))


def _sign_f(b, xs, cx):
    (x,) = xs
    t = x.type
    r = b.select(b.fcmp_ordered("<", x, _fc(t, 0)), _fc(t, -1), x)
    return b.select(b.fcmp_ordered(">", x, _fc(t, 0)), _fc(t, 1), r)


def _sign_i(b, xs, cx):
    (x,) = xs
    t = x.type
    pos = b.zext(b.icmp_signed(">", x, const(t, 0)), t)
    neg = b.zext(b.icmp_signed("<", x, const(t, 0)), t)
    return b.sub(pos, neg)


def _sign_u(b, xs, cx):
    (x,) = xs
    return b.zext(b.icmp_unsigned("!=", x, const(x.type, 0)), x.type)


def _abs_i(b, xs, cx):
    (x,) = xs
    return b.select(b.icmp_signed("<", x, const(x.type, 0)), b.neg(x), x)


def _same(b, xs, cx):
    return xs[0]


# --- unary -------------------------------------------------------------------------------------
_rule("neg", [FLOAT], lambda b, xs, cx: b.fneg(xs[0]))
_rule("neg", INTS, lambda b, xs, cx: b.neg(xs[0]))
_rule("abs", [FLOAT], lambda b, xs, cx: fcall(b, "fabs", xs[0]))
_rule("abs", [SIGNED], _abs_i)
_rule("abs", [UNSIGNED], _same)
_rule("sign", [FLOAT], _sign_f)
_rule("sign", [SIGNED], _sign_i)
_rule("sign", [UNSIGNED], _sign_u)
for _name, _intr in (("floor", "floor"), ("ceil", "ceil"), ("round", "roundeven"), ("trunc", "trunc")):
    _rule(_name, [FLOAT], lambda b, xs, cx, _i=_intr: fcall(b, _i, xs[0]))
    _rule(_name, INTS, _same)
_rule("exp", [FLOAT], _libm("exp", intrinsic_name="exp"))
_rule("expm1", [FLOAT], _libm("expm1", "expm1"))
_rule("log", [FLOAT], _libm("log", intrinsic_name="log"))
_rule("log1p", [FLOAT], _libm("log1p", "log1p"))
_rule("sin", [FLOAT], _libm("sin", intrinsic_name="sin"))
_rule("cos", [FLOAT], _libm("cos", intrinsic_name="cos"))
_rule("tanh", [FLOAT], _libm("tanh", intrinsic_name="tanh"))
_rule("erf", [FLOAT], _libm("erf", "erf"))
_rule("sigmoid", [FLOAT], _sigmoid)
_rule("sqrt", [FLOAT], lambda b, xs, cx: fcall(b, "sqrt", xs[0]))
_rule("rsqrt", [FLOAT], lambda b, xs, cx: b.fdiv(_fc(xs[0].type, 1.0), fcall(b, "sqrt", xs[0])))
_rule("reciprocal", [FLOAT], lambda b, xs, cx: b.fdiv(_fc(xs[0].type, 1.0), xs[0]))
_rule("logical_not", [BOOL], lambda b, xs, cx: b.xor(xs[0], const(I1, 1)))
_rule("bitwise_not", [BOOL], lambda b, xs, cx: b.xor(xs[0], const(I1, 1)))
_rule("bitwise_not", INTS, lambda b, xs, cx: b.xor(xs[0], const(xs[0].type, -1)))
_rule("isnan", [FLOAT], lambda b, xs, cx: b.fcmp_unordered("uno", xs[0], xs[0]))
_rule("isnan", INTS + (BOOL,), lambda b, xs, cx: const(I1, 0))


# --- binary ------------------------------------------------------------------------------------
def _fbin(op: str):
    return lambda b, xs, cx: getattr(b, op)(xs[0], xs[1], flags=FP_FLAGS)


_rule("add", [FLOAT], _fbin("fadd"))
_rule("sub", [FLOAT], _fbin("fsub"))
_rule("mul", [FLOAT], _fbin("fmul"))
_rule("div", [FLOAT], _fbin("fdiv"))
_rule("add", INTS, lambda b, xs, cx: b.add(*xs))
_rule("sub", INTS, lambda b, xs, cx: b.sub(*xs))
_rule("mul", INTS, lambda b, xs, cx: b.mul(*xs))
_rule("pow", [FLOAT], lambda b, xs, cx: fcall(b, "pow", *xs))
_rule("atan2", [FLOAT], lambda b, xs, cx: fcall(b, "atan2", *xs))
_rule("maximum", [FLOAT], lambda b, xs, cx: fcall(b, "maximum", *xs))  # NaN-propagating, as NumPy
_rule("minimum", [FLOAT], lambda b, xs, cx: fcall(b, "minimum", *xs))
_rule("maximum", [SIGNED], lambda b, xs, cx: intrinsic(b, f"llvm.smax.i{xs[0].type.width}", xs[0].type, xs))
_rule("minimum", [SIGNED], lambda b, xs, cx: intrinsic(b, f"llvm.smin.i{xs[0].type.width}", xs[0].type, xs))
_rule("maximum", [UNSIGNED], lambda b, xs, cx: intrinsic(b, f"llvm.umax.i{xs[0].type.width}", xs[0].type, xs))
_rule("minimum", [UNSIGNED], lambda b, xs, cx: intrinsic(b, f"llvm.umin.i{xs[0].type.width}", xs[0].type, xs))


def _fmod_parts(b, x, y):
    """NumPy's divmod for floats: (floor quotient, modulo with the divisor's sign)."""
    t = x.type
    mod = b.frem(x, y)
    div = b.fdiv(b.fsub(x, mod), y)
    fix = b.and_(b.fcmp_unordered("une", mod, _fc(t, 0)),
                 b.xor(b.fcmp_ordered("<", y, _fc(t, 0)), b.fcmp_ordered("<", mod, _fc(t, 0))))
    mod = b.select(fix, b.fadd(mod, y), mod)
    div = b.select(fix, b.fsub(div, _fc(t, 1)), div)
    mod = b.select(b.fcmp_ordered("==", mod, _fc(t, 0)), fcall(b, "copysign", _fc(t, 0), y), mod)
    fl = fcall(b, "floor", div)
    fl = b.select(b.fcmp_ordered(">", b.fsub(div, fl), _fc(t, 0.5)), b.fadd(fl, _fc(t, 1)), fl)
    q = b.select(b.fcmp_ordered("==", div, _fc(t, 0)), fcall(b, "copysign", _fc(t, 0), b.fdiv(x, y)), fl)
    q = b.select(b.fcmp_ordered("==", y, _fc(t, 0)), b.fdiv(x, y), q)
    return q, mod


def _int_divmod(b, xs, cx, signed: bool):
    x, y = xs
    t = x.type
    zero = b.icmp_unsigned("==", y, const(t, 0))
    if cx.raise_if is not None:
        cx.raise_if(b, zero, ERR_ZERO_DIV)
    ys = b.select(zero, const(t, 1), y)
    if not signed:
        return b.udiv(x, ys), b.urem(x, ys)
    # avoid INT_MIN / -1 (undefined in LLVM; NumPy wraps to INT_MIN)
    ys = b.select(b.and_(b.icmp_signed("==", ys, const(t, -1)),
                         b.icmp_signed("==", x, const(t, -(1 << (t.width - 1))))), const(t, 1), ys)
    q, r = b.sdiv(x, ys), b.srem(x, ys)
    adjust = b.and_(b.icmp_signed("!=", r, const(t, 0)),
                    b.xor(b.icmp_signed("<", r, const(t, 0)), b.icmp_signed("<", ys, const(t, 0))))
    q = b.select(adjust, b.sub(q, const(t, 1)), q)
    r = b.select(adjust, b.add(r, ys), r)
    q = b.select(b.icmp_signed("==", y, const(t, -1)), b.neg(x), q)
    return q, r


_rule("floor_div", [FLOAT], lambda b, xs, cx: _fmod_parts(b, *xs)[0])
_rule("mod", [FLOAT], lambda b, xs, cx: _fmod_parts(b, *xs)[1])
_rule("floor_div", [SIGNED], lambda b, xs, cx: _int_divmod(b, xs, cx, True)[0])
_rule("mod", [SIGNED], lambda b, xs, cx: _int_divmod(b, xs, cx, True)[1])
_rule("floor_div", [UNSIGNED], lambda b, xs, cx: _int_divmod(b, xs, cx, False)[0])
_rule("mod", [UNSIGNED], lambda b, xs, cx: _int_divmod(b, xs, cx, False)[1])

_FCMP = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
for _name, _pred in _FCMP.items():
    if _name == "ne":  # NaN != anything is true: unordered
        _rule(_name, [FLOAT], lambda b, xs, cx: b.fcmp_unordered("!=", *xs))
    else:
        _rule(_name, [FLOAT], lambda b, xs, cx, _p=_pred: b.fcmp_ordered(_p, *xs))
    _rule(_name, [SIGNED], lambda b, xs, cx, _p=_pred: b.icmp_signed(_p, *xs))
    _rule(_name, [UNSIGNED, BOOL], lambda b, xs, cx, _p=_pred: b.icmp_unsigned(_p, *xs))
for _name, _m in (("logical_and", "and_"), ("logical_or", "or_"), ("logical_xor", "xor")):
    _rule(_name, [BOOL], lambda b, xs, cx, _m=_m: getattr(b, _m)(*xs))
for _name, _m in (("bitwise_and", "and_"), ("bitwise_or", "or_"), ("bitwise_xor", "xor")):
    _rule(_name, INTS + (BOOL,), lambda b, xs, cx, _m=_m: getattr(b, _m)(*xs))

for _k in NUMERIC + (BOOL,):
    TABLE[("where", _k)] = lambda b, xs, cx: b.select(*xs)


# --- cast --------------------------------------------------------------------------------------
def _cast(b, xs, cx):
    """NumPy's astype on x86: float->int truncates toward zero through a 32/64-bit integer and
    wraps; anything -> bool is `!= 0`."""
    (x,) = xs
    src, dst = cx.in_dtypes[0], cx.out_dtype
    st, dt = x.type, compute_type(dst)
    if dst.kind == "b":
        if src.kind == "f":
            return b.fcmp_unordered("!=", x, _fc(st, 0))
        return x if src.kind == "b" else b.icmp_unsigned("!=", x, const(st, 0))
    if src.kind == "b":
        return b.uitofp(x, dt) if dst.kind == "f" else b.zext(x, dt)
    if dst.kind == "f":
        if src.kind == "f":
            if st == dt:
                return x
            return b.fpext(x, dt) if isinstance(dt, ir.DoubleType) else b.fptrunc(x, dt)
        return b.sitofp(x, dt) if src.kind == "i" else b.uitofp(x, dt)
    if src.kind == "f":
        wide = I64 if dst.itemsize == 8 else I32
        v = b.fptosi(_sanitise(b, x, wide), wide)
        return v if wide == dt else b.trunc(v, dt)
    if st.width == dt.width:
        return x
    if st.width > dt.width:
        return b.trunc(x, dt)
    return b.sext(x, dt) if src.kind == "i" else b.zext(x, dt)


def _sanitise(b, x, wide):
    """Out-of-range floats give the x86 'integer indefinite' value (INT_MIN) as NumPy does there,
    instead of LLVM poison."""
    lim = float(1 << (wide.width - 1))
    t = x.type
    ok = b.and_(b.fcmp_ordered("<", x, _fc(t, lim)), b.fcmp_ordered(">=", x, _fc(t, -lim)))
    return b.select(ok, x, _fc(t, -lim))


for _k in NUMERIC + (BOOL,):
    TABLE[("cast", _k)] = _cast


# --- reductions: (identity, combine) per (op, kind); accumulate in the compute type -----------
def _fred(name):
    return {"reduce_sum": (0.0, lambda b, a, x: b.fadd(a, x, flags=("reassoc", "contract"))),
            "reduce_prod": (1.0, lambda b, a, x: b.fmul(a, x, flags=("reassoc", "contract"))),
            "reduce_max": (-math.inf, lambda b, a, x: fcall(b, "maximum", a, x)),
            "reduce_min": (math.inf, lambda b, a, x: fcall(b, "minimum", a, x))}[name]


def _ired(name, signed):
    w = "s" if signed else "u"
    return {"reduce_sum": (0, lambda b, a, x: b.add(a, x)),
            "reduce_prod": (1, lambda b, a, x: b.mul(a, x)),
            "reduce_max": ("min", lambda b, a, x: intrinsic(b, f"llvm.{w}max.i{a.type.width}", a.type, [a, x])),
            "reduce_min": ("max", lambda b, a, x: intrinsic(b, f"llvm.{w}min.i{a.type.width}", a.type, [a, x]))}[name]


def reduction(name: str, d: DType) -> tuple[ir.Type, ir.Constant, Callable]:
    """(accumulator type, identity, combine(b, acc, x)) of a reduction over dtype `d`. Bool sums
    and products count in int64 and are turned back into bool by `!= 0`, as NumPy does."""
    t = compute_type(d)
    if d.kind == "f":
        ident, comb = _fred(name)
        return t, _fc(t, ident), comb
    if d.kind == "b":
        if name in ("reduce_max", "reduce_sum"):
            return I1, const(I1, 0), lambda b, a, x: b.or_(a, x)
        return I1, const(I1, 1), lambda b, a, x: b.and_(a, x)
    ident, comb = _ired(name, d.kind == "i")
    if ident in ("min", "max"):
        w = t.width
        if d.kind == "i":
            ident = -(1 << (w - 1)) if ident == "min" else (1 << (w - 1)) - 1
        else:
            ident = 0 if ident == "min" else (1 << w) - 1
    return t, const(t, ident), comb


REDUCTIONS = ("reduce_sum", "reduce_prod", "reduce_max", "reduce_min", "argmax", "argmin")
ARG_REDUCTIONS = ("argmax", "argmin")


def arg_reduction(name: str, d: DType) -> tuple[ir.Type, ir.Constant, Callable]:
    """(accumulator type {value, index}, identity, step(b, acc, value, index)) of argmax/argmin
    over dtype `d`, as NumPy: the first extreme wins, and NaN counts as the extreme (the first NaN)."""
    t = compute_type(d)
    is_max = name == "argmax"
    pair = ir.LiteralStructType([t, I64])
    if d.kind == "f":
        start = _fc(t, -math.inf if is_max else math.inf)
    elif d.kind == "b":
        start = const(I1, 0 if is_max else 1)
    else:
        w = t.width
        signed = d.kind == "i"
        lo, hi = (-(1 << (w - 1)), (1 << (w - 1)) - 1) if signed else (0, (1 << w) - 1)
        start = const(t, lo if is_max else hi)

    def step(b: ir.IRBuilder, acc: ir.Value, v: ir.Value, i: ir.Value) -> ir.Value:
        best = b.extract_value(acc, 0)
        if d.kind == "f":
            take = b.fcmp_ordered(">" if is_max else "<", v, best)
            first_nan = b.and_(b.fcmp_unordered("uno", v, v), b.fcmp_ordered("ord", best, best))
            take = b.or_(take, first_nan)
        elif d.kind == "i":
            take = b.icmp_signed(">" if is_max else "<", v, best)
        else:
            take = b.icmp_unsigned(">" if is_max else "<", v, best)
        out = b.insert_value(acc, b.select(take, v, best), 0)
        return b.insert_value(out, b.select(take, i, b.extract_value(acc, 1)), 1)
    return pair, ir.Constant(pair, [start, const(I64, 0)]), step

# ops the kernel emitters implement as index maths (no per-element arithmetic of their own)
INDEX_OPS = frozenset({"reshape", "broadcast_to", "permute", "slice", "pad", "concat", "flip", "iota",
                       "gather", "random_uniform"})
# ops computed by library calls or copies
SPECIAL = frozenset({"matmul", "assign", "scatter_add", "cumsum", "cumprod"})  # scans: a loop over each row
# buffers supplied by the host (graph inputs, constants, variables, symbolic sizes)
SOURCES = frozenset({"input", "constant", "variable", "sym_size"})
# ops (or op/kind pairs) run by the NumPy reference inside the compiled program, through a callback
FALLBACK = {
    ("pow", SIGNED): "integer pow (negative exponents raise) is run by the NumPy reference",
    ("pow", UNSIGNED): "integer pow is run by the NumPy reference",
    "cumarg": "the running arg-extreme is run by the NumPy reference",
    "argsort": "sorting is run by the NumPy reference (a stable sort)",
}


def kind_of(d: DType) -> str:
    return d.kind


def lowering_for(op: str, d: DType) -> Lowering | None:
    return TABLE.get((op, kind_of(d)))


def is_fallback(op: str, d: DType | None) -> bool:
    if op in FALLBACK:
        return True
    return d is not None and (op, kind_of(d)) in FALLBACK


def coverage(op: str) -> str | None:
    """How this backend runs `op`: 'lowered', 'index', 'special', 'source', 'reduction',
    'fallback', or None when it cannot."""
    if any(k[0] == op for k in TABLE):
        return "lowered"
    if op in INDEX_OPS:
        return "index"
    if op in SPECIAL:
        return "special"
    if op in SOURCES:
        return "source"
    if op in REDUCTIONS:
        return "reduction"
    if op in FALLBACK:
        return "fallback"
    return None


_ = F32  # float32 is the default compute type of the half types (see emit.compute_type)
