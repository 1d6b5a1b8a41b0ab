"""How graphflow dtypes look in CUDA C: storage type, compute type, conversions, literals."""

from __future__ import annotations

import math

import numpy as np

from graphflow.ir.dtypes import DType

# storage type in memory
STORAGE = {"bool": "bool", "uint8": "unsigned char", "int8": "signed char", "int16": "short", "int32": "int",
           "int64": "long long", "float16": "__half", "bfloat16": "__nv_bfloat16", "float32": "float",
           "float64": "double"}
# half types are computed in float and rounded after every op (as the NumPy reference does)
COMPUTE = {**STORAGE, "float16": "float", "bfloat16": "float"}
# reductions and matmul accumulate in these (integers in 64 bits: wrapping sums match NumPy's modulo result)
ACCUMULATE = {**COMPUTE, "bool": "long long", "uint8": "long long", "int8": "long long", "int16": "long long",
              "int32": "long long"}
_LOAD = {"float16": "__half2float({})", "bfloat16": "__bfloat162float({})"}
_STORE = {"float16": "__float2half_rn({})", "bfloat16": "__float2bfloat16_rn({})"}
_ROUND = {"float16": "__half2float(__float2half_rn({}))", "bfloat16": "__bfloat162float(__float2bfloat16_rn({}))"}


def key(d: DType) -> str:
    """The lowering table's dtype class: f (float32 and the half types, computed in float), d (float64),
    i (signed int), u (uint8), b (bool)."""
    if d.kind == "f":
        return "d" if d.name == "float64" else "f"
    return d.kind


def storage(d: DType) -> str:
    return STORAGE[d.name]


def compute(d: DType) -> str:
    return COMPUTE[d.name]


def load(d: DType, expr: str) -> str:
    """A stored element as a compute-type value."""
    return _LOAD.get(d.name, "{}").format(expr)


def store(d: DType, expr: str) -> str:
    """A compute-type value converted for storing."""
    return _STORE.get(d.name, "{}").format(expr)


def round_to(d: DType, expr: str) -> str:
    """A compute-type value rounded to d's precision (identity except for the half types)."""
    return _ROUND.get(d.name, "{}").format(expr)


def literal(value: object, d: DType) -> str:
    """A C literal of dtype d's compute type."""
    v = np.asarray(value).astype(d.np).item()
    if d.kind == "b":
        return "true" if v else "false"
    if d.kind in "iu":
        v = int(v)
        if d.name == "int64":
            return "(-9223372036854775807LL - 1)" if v == -(1 << 63) else f"{v}LL"
        return f"(({compute(d)}){v})"
    f = float(v)
    ct = compute(d)
    if math.isnan(f):
        return f"(({ct})NAN)"
    if math.isinf(f):
        return f"(({ct})INFINITY)" if f > 0 else f"(-({ct})INFINITY)"
    if ct == "double":
        return repr(f)
    return f"{float(np.float32(f))!r}f"
