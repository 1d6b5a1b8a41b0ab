"""Counter-based random numbers: element i of a draw is a pure function of (key, i), so a
compiled graph is reproducible and every backend computes the same bits (splitmix64)."""

from __future__ import annotations

import numpy as np

from graphflow.ir.graph import TensorType
from graphflow.ir.registry import NOT_DIFFERENTIABLE, REQUIRED, OpDef, register
from graphflow.ir.shapes import check_shape

GOLDEN = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on uint64 (wrapping arithmetic)."""
    x = x.astype(np.uint64, copy=True)
    x ^= x >> np.uint64(30)
    x *= np.uint64(MIX1)
    x ^= x >> np.uint64(27)
    x *= np.uint64(MIX2)
    x ^= x >> np.uint64(31)
    return x


def random_bits(key: int, n: int) -> np.ndarray:
    """64 random bits for each counter 0..n-1 under `key`."""
    with np.errstate(over="ignore"):
        base = splitmix64(np.asarray([key], dtype=np.int64).view(np.uint64))[0]
        counters = np.arange(n, dtype=np.uint64) + np.uint64(1)
        return splitmix64(base + counters * np.uint64(GOLDEN))


# significand precision of each float dtype: how many random bits a uniform draw keeps
UNIFORM_BITS = {"float64": 53, "float32": 24, "float16": 11, "bfloat16": 8}


def _uniform_infer(types, attrs):
    (k,) = types
    if k.dtype.kind not in "iu" or k.shape != ():
        raise TypeError(f"key must be an integer scalar, got {k}")
    if attrs["dtype"].kind != "f":
        raise TypeError(f"dtype must be floating point, got {attrs['dtype'].name}")
    return TensorType(attrs["dtype"], check_shape(attrs["shape"], "random_uniform"))


def _uniform_ref(arrays, attrs):
    (key,) = arrays
    shape = attrs["shape"]
    n = int(np.prod(shape, dtype=np.int64))
    bits = random_bits(int(key), n)
    # the top p bits (p = the dtype's significand precision) give evenly spaced values in [0, 1)
    # that the dtype holds exactly, so rounding can never reach 1.0
    p = UNIFORM_BITS[attrs["dtype"].name]
    u = (bits >> np.uint64(64 - p)).astype(np.float64) * (1.0 / (1 << p))
    return u.reshape(shape).astype(attrs["dtype"].np)


register(OpDef("random_uniform", "random", _uniform_infer, _uniform_ref, NOT_DIFFERENTIABLE,
               {"shape": REQUIRED, "dtype": REQUIRED}, 1,
               doc="uniform [0, 1) numbers; element i is a function of (key, i) only"))
