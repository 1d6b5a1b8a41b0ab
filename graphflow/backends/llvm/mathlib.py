"""Vectorisable float32 transcendental functions, emitted as branch-free IR (range reduction and
polynomials; selects for the special cases) so the loop vectoriser can widen them. They keep IEEE
NaN/inf behaviour: NaN in gives NaN out, overflow gives inf, underflow gives 0 or subnormals.

Polynomials are the classic Cephes single-precision ones (exp, log, tanh, sin/cos, erf for |x|<1);
erf for |x|>=1 uses Abramowitz-Stegun 7.1.26 on the complement (its absolute error 1.5e-7 is at
most ~2.5 ulp there since erf >= 0.84). Every function is marked alwaysinline."""

from __future__ import annotations

import math
from collections.abc import Callable

import llvmlite.ir as ir

from graphflow.backends.llvm.emit import F32, F64, I32, const, fcall

_BUILDERS: dict[str, Callable[[ir.IRBuilder, ir.Value], ir.Value]] = {}


def _math(name: str):
    def register(fn):
        _BUILDERS[name] = fn
        return fn
    return register


def math_function(module: ir.Module, name: str) -> ir.Function:
    """The module's `gf_<name>f(float) -> float`, defined on first use."""
    fname = f"gf_{name}f"
    fn = module.globals.get(fname)
    if fn is not None:
        return fn
    fn = ir.Function(module, ir.FunctionType(F32, [F32]), fname)
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")
    fn.attributes.add("nounwind")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.ret(_BUILDERS[name](b, fn.args[0]))
    return fn


def call_math(b: ir.IRBuilder, name: str, x: ir.Value) -> ir.Value:
    return b.call(math_function(b.module, name), [x])


def _c(v: float) -> ir.Constant:
    return const(F32, v)


def _fma(b, a, x, c):
    return fcall(b, "fma", a, x, c)


def _poly(b, x, coeffs):
    """Horner's rule with FMA, highest degree first."""
    acc = _c(coeffs[0])
    for c in coeffs[1:]:
        acc = _fma(b, acc, x, _c(c))
    return acc


def _pow2i(b, n):
    """2**n for an int32 n in [-126, 127], built from the exponent bits."""
    return b.bitcast(b.shl(b.add(n, const(I32, 127)), const(I32, 23)), F32)


def _clamp(b, x, lo: float, hi: float):
    """x limited to [lo, hi], NaN passed through: each bound is one vmaxps/vminps (whose
    second operand wins on NaN), where minnum/maxnum would turn NaN into the bound."""
    x = b.select(b.fcmp_ordered("<", x, _c(lo)), _c(lo), x)
    return b.select(b.fcmp_ordered(">", x, _c(hi)), _c(hi), x)


_EXP_POLY = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
             5.0000001201e-1]


def _exp_core(b, x):
    """exp(x) for any float32 x. The argument is clamped to [-104, 89] first: beyond it the
    two-step scaling by 2^n underflows to 0 or overflows to inf by itself (so no compares and
    selects for the special cases), and NaN flows through the arithmetic."""
    xc = _clamp(b, x, -104.0, 89.0)
    n = fcall(b, "roundeven", b.fmul(xc, _c(1.4426950408889634)))  # in [-150, 128]
    r = _fma(b, n, _c(-0.693359375), xc)
    r = _fma(b, n, _c(2.12194440e-4), r)
    p = _poly(b, r, _EXP_POLY)
    p = _fma(b, p, b.fmul(r, r), b.fadd(r, _c(1.0)))
    ni = b.fptosi(n, I32)
    half = b.ashr(ni, const(I32, 1))
    return b.fmul(b.fmul(p, _pow2i(b, half)), _pow2i(b, b.sub(ni, half)))


def _exp_small_range(b, t, n):
    """exp(t) for t in [0, 20] given n = round(t / ln 2): one degree shorter polynomial (tanh
    damps its error, see `_tanh`) and the exponent added to the bits (no overflow possible)."""
    r = _fma(b, n, _c(-0.693359375), t)
    r = _fma(b, n, _c(2.12194440e-4), r)
    p = _poly(b, r, _EXP_POLY[1:])
    p = _fma(b, p, b.fmul(r, r), b.fadd(r, _c(1.0)))
    return b.bitcast(b.add(b.bitcast(p, I32), b.shl(b.fptosi(n, I32), const(I32, 23))), F32)


@_math("exp")
def _exp(b, x):
    return _exp_core(b, x)


@_math("log")
def _log(b, x):
    tiny = b.fcmp_ordered("<", x, _c(1.17549435e-38))
    xs = b.select(tiny, b.fmul(x, _c(8388608.0)), x)  # scale subnormals into the normal range
    bits = b.bitcast(xs, I32)
    e = b.sub(b.and_(b.lshr(bits, const(I32, 23)), const(I32, 0xFF)), const(I32, 126))
    e = b.select(tiny, b.sub(e, const(I32, 23)), e)
    m = b.bitcast(b.or_(b.and_(bits, const(I32, 0x007FFFFF)), const(I32, 0x3F000000)), F32)  # [0.5, 1)
    small = b.fcmp_ordered("<", m, _c(0.707106781186547524))
    e = b.select(small, b.sub(e, const(I32, 1)), e)
    f = b.select(small, b.fsub(b.fadd(m, m), _c(1.0)), b.fsub(m, _c(1.0)))
    ef = b.sitofp(e, F32)
    z = b.fmul(f, f)
    p = _poly(b, f, [7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
                     1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
                     3.3333331174e-1])
    y = b.fmul(b.fmul(f, z), p)
    y = _fma(b, ef, _c(-2.12194440e-4), y)
    y = _fma(b, z, _c(-0.5), y)
    r = b.fadd(f, y)
    r = _fma(b, ef, _c(0.693359375), r)
    r = b.select(b.fcmp_ordered("==", x, _c(math.inf)), _c(math.inf), r)
    r = b.select(b.fcmp_ordered("==", x, _c(0.0)), _c(-math.inf), r)
    r = b.select(b.fcmp_ordered("<", x, _c(0.0)), _c(math.nan), r)
    return b.select(b.fcmp_unordered("uno", x, x), x, r)


@_math("tanh")
def _tanh(b, x):
    ax = fcall(b, "fabs", x)
    z = b.fmul(x, x)
    p = _poly(b, z, [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1,
                     -3.33332819422e-1])
    small = _fma(b, b.fmul(p, z), x, x)
    # beyond |x| = 10 tanh is +-1 in float32: clamping keeps exp in range (no special cases there).
    # 1 - 2/(e + 1) for |x| >= 0.625 shrinks e's relative error by 2e/(e+1)^2 <= 0.35, so e needs
    # one polynomial degree less than exp itself (measured: <= 1.6 ulp overall)
    t = fcall(b, "minnum", ax, _c(10.0))
    n = fcall(b, "roundeven", b.fmul(t, _c(2 * 1.4426950408889634)))
    e = _exp_small_range(b, b.fadd(t, t), n)
    big = b.fsub(_c(1.0), b.fdiv(_c(2.0), b.fadd(e, _c(1.0))))
    # one sign for both branches: x's (the small branch gives +0 for -0); NaN takes the small one
    return fcall(b, "copysign", b.select(b.fcmp_unordered("ult", ax, _c(0.625)), small, big), x)


@_math("sigmoid")
def _sigmoid(b, x):
    e = _exp_core(b, b.fneg(fcall(b, "fabs", x)))
    inv = b.fdiv(_c(1.0), b.fadd(_c(1.0), e))
    return b.select(b.fcmp_unordered("uge", x, _c(0.0)), inv, b.fmul(e, inv))


@_math("erf")
def _erf(b, x):
    ax = fcall(b, "fabs", x)
    z = b.fmul(x, x)
    small = b.fmul(x, _poly(b, z, [7.853861353153693e-5, -8.010193625184903e-4, 5.188327685732524e-3,
                                   -2.685381193529856e-2, 1.128358514861418e-1, -3.761262582423300e-1,
                                   1.128379165726710e0]))
    t = b.fdiv(_c(1.0), _fma(b, ax, _c(0.3275911), _c(1.0)))
    p = b.fmul(t, _poly(b, t, [1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592]))
    big = b.fsub(_c(1.0), b.fmul(p, _exp_core(b, b.fneg(z))))
    big = fcall(b, "copysign", big, x)
    big = b.select(b.fcmp_ordered(">", ax, _c(6.0)), fcall(b, "copysign", _c(1.0), x), big)
    return b.select(b.fcmp_unordered("ult", ax, _c(1.0)), small, big)


def _sincos(b, x, want_cos: bool):
    """Quadrant reduction in double precision (accurate for |x| up to ~1e6), float32 polynomials."""
    finite = b.fcmp_ordered("<", fcall(b, "fabs", x), _c(math.inf))
    xd = b.fpext(b.select(finite, x, _c(0.0)), F64)
    j = fcall(b, "roundeven", b.fmul(xd, const(F64, 2 / math.pi)))
    rd = fcall(b, "fma", j, const(F64, -1.5707963267341256e+00), xd)
    rd = fcall(b, "fma", j, const(F64, -6.0771005065061922e-11), rd)
    r = b.fptrunc(rd, F32)
    q = b.fptosi(j, I32)
    if want_cos:
        q = b.add(q, const(I32, 1))
    z = b.fmul(r, r)
    s = _fma(b, b.fmul(z, r), _poly(b, z, [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1]), r)
    c = _poly(b, z, [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2])
    c = _fma(b, b.fmul(z, z), c, _fma(b, z, _c(-0.5), _c(1.0)))
    odd = b.icmp_unsigned("!=", b.and_(q, const(I32, 1)), const(I32, 0))
    v = b.select(odd, c, s)
    neg = b.icmp_unsigned("!=", b.and_(q, const(I32, 2)), const(I32, 0))
    v = b.select(neg, b.fneg(v), v)
    return b.select(finite, v, _c(math.nan))


@_math("sin")
def _sin(b, x):
    return _sincos(b, x, False)


@_math("cos")
def _cos(b, x):
    return _sincos(b, x, True)


@_math("expm1")
def _expm1(b, x):
    # Kahan's trick: (u - 1) * x / log(u) with u = exp(x) rounded, exact where u is 1 or inf
    u = _exp_core(b, x)
    um1 = b.fsub(u, _c(1.0))
    lg = b.call(math_function(b.module, "log"), [u])
    mid = b.fmul(um1, b.fdiv(x, lg))
    r = b.select(b.fcmp_ordered("==", u, _c(1.0)), x, mid)
    r = b.select(b.fcmp_ordered("==", u, _c(math.inf)), u, r)
    r = b.select(b.fcmp_ordered("<", x, _c(-20.0)), _c(-1.0), r)
    return b.select(b.fcmp_unordered("uno", x, x), x, r)


@_math("log1p")
def _log1p(b, x):
    # log(u) * x / (u - 1) with u = 1 + x rounded, exact where u is 1 or inf
    u = b.fadd(x, _c(1.0))
    lg = b.call(math_function(b.module, "log"), [u])
    mid = b.fmul(lg, b.fdiv(x, b.fsub(u, _c(1.0))))
    r = b.select(b.fcmp_ordered("==", u, _c(1.0)), x, mid)
    r = b.select(b.fcmp_ordered("==", u, _c(math.inf)), lg, r)
    return b.select(b.fcmp_ordered("<=", u, _c(0.0)), lg, r)


FUNCTIONS = tuple(_BUILDERS)
