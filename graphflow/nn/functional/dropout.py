"""Dropout with counter-based random numbers (the `random_uniform` primitive).

A draw needs an integer key. It comes, in order, from the `key` argument (a Python int or an
integer scalar value), from `generator`, from the handler of the input (static graphs and traced
functions provide a key that changes on every run), or from graphflow's default generator
(`gf.manual_seed`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphflow.ir.bind import bind, handler_of
from graphflow.ir.dtypes import int64
from graphflow.ops import elementwise as E
from graphflow.ops.composite import offer
from graphflow.ops.values import as_value, cast, is_value

__all__ = ["dropout", "dropout1d", "dropout2d", "alpha_dropout", "random_key", "uniform"]

def random_key(like: Any, key: Any = None, generator: Any = None) -> Any:
    """An int64 scalar key of `like`'s kind of value (see the module docstring for the order)."""
    if key is None and generator is not None:
        key = _generator_key(generator)
    if key is None:
        hook = getattr(handler_of(like), "random_key", None)
        if hook is not None:
            key = hook()
    if key is None:
        key = _default_key()
    if is_value(key):
        return cast(key, int64)
    return as_value(np.int64(np.uint64(int(key) & 0xFFFFFFFFFFFFFFFF).astype(np.int64)), like=like)


def _generator_key(generator: Any) -> Any:
    for name in ("next_key", "random_key"):
        fn = getattr(generator, name, None)
        if fn is not None:
            return fn()
    if isinstance(generator, np.random.Generator):
        return int(generator.integers(0, 2**63 - 1))
    raise TypeError(f"dropout: cannot draw a random key from a {type(generator).__name__}")


def _default_key() -> int:
    from graphflow.random import default_generator  # the generator behind gf.manual_seed

    return default_generator.next_key()


def uniform(like: Any, shape: tuple, dtype: Any, key: Any = None, generator: Any = None) -> Any:
    """Uniform [0, 1) numbers of `shape`, as a value of `like`'s kind."""
    return bind("random_uniform", random_key(like, key, generator), shape=tuple(shape), dtype=dtype)


def _keep_scaled(x: Any, p: float, mask_shape: tuple, key: Any, generator: Any) -> Any:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if p == 1.0:
        return E.mul(x, 0.0)
    k = random_key(x, key, generator)

    def drop(v: Any, k: Any) -> Any:
        keep = E.ge(bind("random_uniform", k, shape=mask_shape, dtype=v.dtype), p)
        # inverted dropout: survivors are scaled by 1/(1-p) so the expectation is unchanged
        return E.where(keep, E.mul(v, 1.0 / (1.0 - p)), 0.0)
    # eager CPU tensors run it as one compiled graph: the counter-based draw is native code there
    out = offer("dropout", drop, (x, k), (float(p), tuple(mask_shape)))
    return out if out is not None else drop(x, k)


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False, *, key: Any = None,
            generator: Any = None) -> Any:
    """Zero each element with probability p and scale the rest by 1/(1-p); identity when not training."""
    x = as_value(input)
    if not training or p == 0.0:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        return x
    return _keep_scaled(x, p, tuple(x.shape), key, generator)


def dropout2d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False, *, key: Any = None,
              generator: Any = None) -> Any:
    """Zero whole channels: (N, C, H, W) inputs share one draw per (n, c)."""
    x = as_value(input)
    if not training or p == 0.0:
        return x
    mask_shape = tuple(x.shape[:-2]) + (1, 1)
    return _keep_scaled(x, p, mask_shape, key, generator)


def dropout1d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False, *, key: Any = None,
              generator: Any = None) -> Any:
    x = as_value(input)
    if not training or p == 0.0:
        return x
    return _keep_scaled(x, p, tuple(x.shape[:-1]) + (1,), key, generator)


_ALPHA_PRIME = -1.7580993408473766  # -selu_scale * selu_alpha


def alpha_dropout(input: Any, p: float = 0.5, training: bool = False, inplace: bool = False, *, key: Any = None,
                  generator: Any = None) -> Any:
    """Dropout that keeps SELU's zero mean and unit variance."""
    x = as_value(input)
    if not training or p == 0.0:
        return x
    a = (1.0 / ((1 - p) * (1 + p * _ALPHA_PRIME**2))) ** 0.5
    b = -a * _ALPHA_PRIME * p
    keep = E.ge(uniform(x, tuple(x.shape), x.dtype, key, generator), p)
    return E.add(E.mul(E.where(keep, x, _ALPHA_PRIME), a), b)
