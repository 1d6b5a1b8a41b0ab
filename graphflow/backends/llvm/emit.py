"""Small IRBuilder helpers shared by the lowering table, the math library and the kernel emitters."""

from __future__ import annotations

import llvmlite.ir as ir

from graphflow.ir.dtypes import DType

I1, I8, I16, I32, I64 = (ir.IntType(n) for n in (1, 8, 16, 32, 64))
F16, F32, F64 = ir.HalfType(), ir.FloatType(), ir.DoubleType()
PTR = ir.PointerType()

# only flags that keep NaN/inf semantics: contraction into FMA is allowed, nothing else
FP_FLAGS = ("contract",)
# reductions may also reassociate (sums are not bit-exact to NumPy's pairwise order anyway)
REDUCE_FLAGS = ("contract", "reassoc")


def storage_type(d: DType) -> ir.Type:
    """How a dtype's elements lie in memory."""
    return {"bool": I8, "uint8": I8, "int8": I8, "int16": I16, "int32": I32, "int64": I64,
            "float16": I16, "bfloat16": I16, "float32": F32, "float64": F64}[d.name]


def compute_type(d: DType) -> ir.Type:
    """The type values take in registers: bool is i1, half types compute in float32."""
    return {"bool": I1, "float16": F32, "bfloat16": F32}.get(d.name) or storage_type(d)


def is_float(t: ir.Type) -> bool:
    return isinstance(t, (ir.FloatType, ir.DoubleType, ir.HalfType))


def intrinsic(b: ir.IRBuilder, name: str, ret: ir.Type, args: list) -> ir.Value:
    """Call an LLVM intrinsic or C function by name, declaring it on first use."""
    mod = b.module
    fn = mod.globals.get(name)
    if fn is None:
        fn = ir.Function(mod, ir.FunctionType(ret, [a.type for a in args]), name)
    return b.call(fn, args)


def suffix(t: ir.Type) -> str:
    if isinstance(t, ir.FloatType):
        return "f32"
    if isinstance(t, ir.DoubleType):
        return "f64"
    if isinstance(t, ir.HalfType):
        return "f16"
    return f"i{t.width}"


def fcall(b: ir.IRBuilder, base: str, *args: ir.Value) -> ir.Value:
    """An overloaded float intrinsic such as llvm.fma / llvm.floor on the arguments' type."""
    t = args[0].type
    return intrinsic(b, f"llvm.{base}.{suffix(t)}", t, list(args))


def const(t: ir.Type, v) -> ir.Constant:
    if isinstance(t, ir.IntType):
        v = int(v)
        if t.width > 1 and v < 0:
            v &= (1 << t.width) - 1
        return ir.Constant(t, v)
    return ir.Constant(t, float(v))


def load_value(b: ir.IRBuilder, ptr: ir.Value, d: DType) -> ir.Value:
    """Load one element and widen it to its compute type."""
    raw = b.load(ptr, typ=storage_type(d))
    return widen(b, raw, d)


def widen(b: ir.IRBuilder, raw: ir.Value, d: DType) -> ir.Value:
    if d.name == "bool":
        return b.icmp_unsigned("!=", raw, const(I8, 0))
    if d.name == "float16":
        return b.fpext(b.bitcast(raw, F16), F32)
    if d.name == "bfloat16":
        return b.bitcast(b.shl(b.zext(raw, I32), const(I32, 16)), F32)
    return raw


def narrow(b: ir.IRBuilder, v: ir.Value, d: DType) -> ir.Value:
    """Compute type -> storage type (round to nearest even for the half types)."""
    if d.name == "bool":
        return b.zext(v, I8)
    if d.name == "float16":
        return b.bitcast(b.fptrunc(v, F16), I16)
    if d.name == "bfloat16":
        bits = b.bitcast(v, I32)
        lsb = b.and_(b.lshr(bits, const(I32, 16)), const(I32, 1))
        rounded = b.lshr(b.add(b.add(bits, const(I32, 0x7FFF)), lsb), const(I32, 16))
        quiet = b.or_(b.lshr(bits, const(I32, 16)), const(I32, 0x40))
        isnan = b.fcmp_unordered("uno", v, v)
        return b.trunc(b.select(isnan, quiet, rounded), I16)
    return v


def store_value(b: ir.IRBuilder, v: ir.Value, ptr: ir.Value, d: DType) -> None:
    b.store(narrow(b, v, d), ptr)
