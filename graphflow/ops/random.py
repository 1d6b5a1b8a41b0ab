"""Random numbers over a key value: every draw is the counter-based `random_uniform` primitive
(element i is a function of (key, i)), transformed by composite ops written once for all modes.
The key is a 0-d integer value of the caller's kind (an eager tensor, a static tensor, a node)."""

from __future__ import annotations

import math
from typing import Any

from graphflow.ir.bind import bind
from graphflow.ir.dtypes import DType, default_float, get_dtype
from graphflow.ops import elementwise as E
from graphflow.ops.shape import reshape, slice_axis

__all__ = ["uniform", "normal", "truncated_normal"]


def uniform(key: Any, shape: tuple, dtype: DType | None = None, low: Any = 0.0, high: Any = 1.0) -> Any:
    """Uniform numbers in [low, high)."""
    dtype = get_dtype(dtype or default_float)
    u = bind("random_uniform", key, shape=tuple(shape), dtype=dtype)
    if low == 0.0 and high == 1.0:
        return u
    numbers = isinstance(high, (int, float)) and isinstance(low, (int, float))
    scale = float(high) - float(low) if numbers else E.sub(high, low)
    return E.add(E.mul(u, scale), low)


def normal(key: Any, shape: tuple, dtype: DType | None = None, mean: Any = 0.0, std: Any = 1.0) -> Any:
    """Normal numbers (Box-Muller over one draw of twice the size)."""
    dtype = get_dtype(dtype or default_float)
    shape = tuple(shape)
    u = bind("random_uniform", key, shape=(2,) + shape, dtype=dtype)
    u1 = reshape(slice_axis(u, 0, 0, 1), shape)
    u2 = reshape(slice_axis(u, 0, 1, 2), shape)
    radius = E.sqrt(E.mul(E.log(E.sub(1.0, u1)), -2.0))  # 1 - u1 is in (0, 1]: the log is finite
    z = E.mul(radius, E.cos(E.mul(u2, 2.0 * math.pi)))
    if std != 1.0:
        z = E.mul(z, std)
    if mean != 0.0:
        z = E.add(z, mean)
    return z


def truncated_normal(key: Any, shape: tuple, dtype: DType | None = None, mean: Any = 0.0, std: Any = 1.0,
                     rounds: int = 4) -> Any:
    """Normal numbers redrawn while more than two standard deviations from the mean (as
    tf.truncated_normal): `rounds` candidates per element, the first inside the bounds wins;
    the rare element with none inside (probability 0.0455**rounds) is clamped."""
    shape = tuple(shape)
    z = normal(key, (rounds,) + shape, dtype)
    out = E.clamp(reshape(slice_axis(z, 0, rounds - 1, rounds), shape), -2.0, 2.0)
    for r in reversed(range(rounds - 1)):
        cand = reshape(slice_axis(z, 0, r, r + 1), shape)
        out = E.where(E.lt(E.abs(cand), 2.0), cand, out)
    if std != 1.0:
        out = E.mul(out, std)
    if mean != 0.0:
        out = E.add(out, mean)
    return out
