"""dtypes and type promotion, against PyTorch's rules written out by hand (no PyTorch needed)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from graphflow.errors import DTypeError
from graphflow.ir import bind
from graphflow.ir.dtypes import (
    ALL_DTYPES,
    bfloat16,
    bool_,
    float16,
    float32,
    float64,
    get_dtype,
    int8,
    int16,
    int32,
    int64,
    promote_types,
    result_type,
    scalar_dtype,
    uint8,
)
from graphflow.ops.values import promote

# torch.promote_types(row, column), as PyTorch documents and computes it
ORDER = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
TORCH_PROMOTE = """
          bool     uint8    int8     int16    int32    int64    float16  bfloat16 float32  float64
bool      bool     uint8    int8     int16    int32    int64    float16  bfloat16 float32  float64
uint8     uint8    uint8    int16    int16    int32    int64    float16  bfloat16 float32  float64
int8      int8     int16    int8     int16    int32    int64    float16  bfloat16 float32  float64
int16     int16    int16    int16    int16    int32    int64    float16  bfloat16 float32  float64
int32     int32    int32    int32    int32    int32    int64    float16  bfloat16 float32  float64
int64     int64    int64    int64    int64    int64    int64    float16  bfloat16 float32  float64
float16   float16  float16  float16  float16  float16  float16  float16  float32  float32  float64
bfloat16  bfloat16 bfloat16 bfloat16 bfloat16 bfloat16 bfloat16 float32  bfloat16 float32  float64
float32   float32  float32  float32  float32  float32  float32  float32  float32  float32  float64
float64   float64  float64  float64  float64  float64  float64  float64  float64  float64  float64
"""


def _table() -> list[tuple[str, str, str]]:
    rows = [line.split() for line in TORCH_PROMOTE.strip().splitlines()]
    header, body = rows[0], rows[1:]
    assert header == ORDER and [r[0] for r in body] == ORDER
    return [(r[0], col, r[1 + k]) for r in body for k, col in enumerate(header)]


@pytest.mark.parametrize("a,b,expected", _table())
def test_promote_types_matches_torch(a, b, expected):
    assert promote_types(get_dtype(a), get_dtype(b)) is get_dtype(expected)


TENSOR, ZERO_DIM, SCALAR = 2, 1, 0

# (operands as (dtype, kind), expected): torch.result_type / the dtype of `a + b` in PyTorch
RESULT_TYPE_CASES = [
    ([(uint8, TENSOR), (int8, TENSOR)], int16),
    ([(int64, TENSOR), (float32, SCALAR)], float32),  # int64 tensor + 2.5 -> float32 (the default float)
    ([(int32, TENSOR), (float32, SCALAR)], float32),
    ([(float16, TENSOR), (bfloat16, TENSOR)], float32),
    ([(int32, TENSOR), (float64, ZERO_DIM)], float64),  # a zero-dim tensor of a higher category counts fully
    ([(float16, TENSOR), (float64, ZERO_DIM)], float16),  # ... but not within the same category
    ([(int8, TENSOR), (int64, ZERO_DIM)], int8),
    ([(uint8, TENSOR), (int64, SCALAR)], uint8),  # uint8 tensor + 1000 stays uint8
    ([(bool_, TENSOR), (int64, SCALAR)], int64),
    ([(bool_, TENSOR), (float32, SCALAR)], float32),
    ([(bool_, TENSOR), (bool_, SCALAR)], bool_),
    ([(bool_, TENSOR), (uint8, ZERO_DIM)], uint8),
    ([(int32, TENSOR), (bool_, ZERO_DIM)], int32),
    ([(int32, ZERO_DIM), (float32, SCALAR)], float32),
    ([(float64, ZERO_DIM), (float32, SCALAR)], float64),
    ([(int32, ZERO_DIM), (int64, ZERO_DIM)], int64),
    ([(int16, ZERO_DIM), (int64, SCALAR)], int16),
    ([(float32, TENSOR), (float64, ZERO_DIM), (int64, SCALAR)], float32),
    ([(int32, TENSOR), (int64, ZERO_DIM), (float32, SCALAR)], float32),
    ([(int8, TENSOR), (float16, ZERO_DIM), (float32, SCALAR)], float16),
    ([(bool_, TENSOR), (int8, ZERO_DIM), (float32, SCALAR)], float32),
    ([(int64, SCALAR), (float32, SCALAR)], float32),
    ([(bool_, SCALAR), (int64, SCALAR)], int64),
    ([(float64, TENSOR), (float16, TENSOR)], float64),
    ([(bfloat16, TENSOR), (int64, TENSOR)], bfloat16),
    ([(uint8, TENSOR), (int16, TENSOR), (int8, TENSOR)], int16),
]


@pytest.mark.parametrize("operands,expected", RESULT_TYPE_CASES,
                         ids=lambda v: "-".join(f"{d.name}{k}" for d, k in v) if isinstance(v, list) else v.name)
def test_result_type_matches_torch(operands, expected):
    assert result_type(*operands) is expected
    assert result_type(*reversed(operands)) is expected  # order never matters


def test_scalar_dtypes():
    assert scalar_dtype(True) is bool_ and scalar_dtype(3) is int64 and scalar_dtype(2.5) is float32
    assert scalar_dtype(np.float64(1.0)) is float32 and scalar_dtype(np.int8(1)) is int64
    with pytest.raises(DTypeError, match="unsupported scalar"):
        scalar_dtype("3")


def test_promote_inserts_casts_and_broadcasts():
    x = bind("input", name="x", dtype=int64, shape=(3, 1))
    a, b = promote(x, 2.5)
    assert a.dtype is float32 and b.dtype is float32 and a.shape == b.shape == (3, 1)
    assert a.op.name == "cast" and b.op.name == "broadcast_to" and b.inputs[0].op.name == "constant"
    u = bind("input", name="u", dtype=uint8, shape=(4,))
    i = bind("input", name="i", dtype=int8, shape=(3, 1))
    a, b = promote(u, i)
    assert a.dtype is b.dtype is int16 and a.shape == b.shape == (3, 4)
    z = bind("input", name="z", dtype=float64, shape=())
    a, b = promote(x, z)
    assert a.dtype is float64 and a.shape == (3, 1)


def test_get_dtype_spellings():
    assert get_dtype("float") is float32 and get_dtype("double") is float64 and get_dtype("half") is float16
    assert get_dtype("long") is int64 and get_dtype("int") is int32 and get_dtype("bool") is bool_
    assert get_dtype(float) is float32 and get_dtype(int) is int64 and get_dtype(bool) is bool_
    assert get_dtype(np.dtype(ml_dtypes.bfloat16)) is bfloat16 and get_dtype(np.uint8) is uint8
    with pytest.raises(DTypeError, match="unknown dtype 'complex64'"):
        get_dtype("complex64")
    with pytest.raises(DTypeError, match="no graphflow counterpart"):
        get_dtype(np.uint16)


def test_dtype_properties():
    assert [d.name for d in ALL_DTYPES] == ["bool", "uint8", "int8", "int16", "int32", "int64", "float16",
                                           "bfloat16", "float32", "float64"]
    assert float16.is_floating_point and not int8.is_floating_point and bfloat16.itemsize == 2
    assert int8.is_signed and not uint8.is_signed and repr(float32) == "graphflow.float32"
    import pickle

    assert pickle.loads(pickle.dumps(bfloat16)) is bfloat16  # singletons survive pickling
