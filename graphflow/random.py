"""Random number generation over the counter-based `random_uniform` primitive.

A `Generator` holds a seed and a counter; each draw takes a fresh key (a hash of both), so a
seeded program is reproducible on every backend. `uniform`, `normal` (Box-Muller) and `randint`
are composites over `bind`, usable with eager tensors and in graphs alike."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from graphflow.ir.bind import bind, handler_of
from graphflow.ir.dtypes import DType, default_float, get_dtype, int64
from graphflow.ir.registry import get_op

_MASK = (1 << 64) - 1
DEFAULT_SEED = 67280421310721  # PyTorch's default seed


def _mix(x: int) -> int:
    """splitmix64 finaliser on Python ints."""
    x &= _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


class Generator:
    """A stream of random keys: `Generator().manual_seed(n)`; pass as `generator=`."""

    def __init__(self, device: Any = "cpu") -> None:
        self.device = device
        self._seed = DEFAULT_SEED
        self._counter = 0

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed) & _MASK
        self._counter = 0
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy and return the new seed."""
        self.manual_seed(int.from_bytes(os.urandom(8), "little") >> 1)
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> tuple[int, int]:
        return (self._seed, self._counter)

    def set_state(self, state: tuple[int, int]) -> Generator:
        self._seed, self._counter = int(state[0]), int(state[1])
        return self

    def next_key(self) -> int:
        """A new 63-bit key; consecutive keys are independent streams."""
        key = _mix(_mix(self._seed) ^ (self._counter * 0x9E3779B97F4A7C15 & _MASK))
        self._counter += 1
        return key >> 1

    def __repr__(self) -> str:
        return f"<graphflow.Generator seed={self._seed} draws={self._counter}>"


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (as `torch.manual_seed`)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> tuple[int, int]:
    return default_generator.get_state()


def set_rng_state(state: tuple[int, int]) -> None:
    default_generator.set_state(state)


def _key(generator: Generator | None, like: Any) -> Any:
    gen = generator if generator is not None else default_generator
    return handler_of(like).constant(np.asarray(gen.next_key(), dtype=np.int64))


def uniform(shape: tuple, dtype: DType | None = None, generator: Generator | None = None, like: Any = None,
            key: Any = None) -> Any:
    """Uniform numbers in [0, 1) of `shape` (a value of `like`'s kind)."""
    dtype = get_dtype(dtype) if dtype is not None else default_float
    key = _key(generator, like) if key is None else key
    return handler_of(key).bind(get_op("random_uniform"), (key,), {"shape": tuple(shape), "dtype": dtype})


def normal(shape: tuple, dtype: DType | None = None, generator: Generator | None = None, like: Any = None,
           key: Any = None) -> Any:
    """Standard normal numbers by Box-Muller over one uniform draw of twice the size."""
    from graphflow.ir import builder as B

    dtype = get_dtype(dtype) if dtype is not None else default_float
    shape = tuple(shape)
    n = int(np.prod(shape, dtype=np.int64))
    work = dtype if dtype.itemsize >= 4 else default_float
    u = uniform((2, n), work, generator, like, key)
    u1 = bind("reshape", bind("slice", u, starts=(0, 0), stops=(1, n), steps=(1, 1)), shape=shape)
    u2 = bind("reshape", bind("slice", u, starts=(1, 0), stops=(2, n), steps=(1, 1)), shape=shape)
    # 1 - u1 lies in (0, 1], so the log is finite
    r = bind("sqrt", bind("mul", B.full_like(u1, -2.0), bind("log1p", bind("neg", u1))))
    z = bind("mul", r, bind("cos", bind("mul", u2, B.full_like(u2, 2 * math.pi))))
    return z if work is dtype else bind("cast", z, dtype=dtype)


def randint(low: int, high: int, shape: tuple, dtype: DType | None = None, generator: Generator | None = None,
            like: Any = None) -> Any:
    """Integers uniformly in [low, high)."""
    from graphflow.ir import builder as B

    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    dtype = get_dtype(dtype) if dtype is not None else int64
    u = uniform(tuple(shape), get_dtype("float64"), generator, like)
    scaled = bind("floor", bind("mul", u, B.full_like(u, float(high - low))))
    out = bind("add", bind("cast", scaled, dtype=int64), B.full_like(scaled, low, int64))
    return out if dtype is int64 else bind("cast", out, dtype=dtype)
