"""NumPy oracles for gather, scatter and friends, written element by element (or with NumPy's own
take_along_axis / add.at / where), independently of graphflow's compositions."""

from __future__ import annotations

import numpy as np


def gather(x: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
    """PyTorch's gather: out[pos] = x[pos with pos[dim] replaced by index[pos]]."""
    out = np.empty(index.shape, dtype=x.dtype)
    dim = dim % max(x.ndim, 1)
    for pos in np.ndindex(*index.shape):
        src = list(pos)
        if src:
            src[dim] = index[pos]
        out[pos] = x[tuple(src)]
    return out


def scatter(x: np.ndarray, dim: int, index: np.ndarray, src, accumulate: bool) -> np.ndarray:
    """PyTorch's scatter / scatter_add, visiting index in row-major order (a later write wins)."""
    out = np.array(x, copy=True)
    dim = dim % max(x.ndim, 1)
    for pos in np.ndindex(*index.shape):
        dst = list(pos)
        if dst:
            dst[dim] = index[pos]
        value = src[pos] if np.ndim(src) else src
        out[tuple(dst)] = out[tuple(dst)] + value if accumulate else value
    return out


def index_add(x: np.ndarray, dim: int, index: np.ndarray, source: np.ndarray, alpha=1) -> np.ndarray:
    out = np.array(x, copy=True)
    key = (slice(None),) * (dim % x.ndim) + (index,)
    np.add.at(out, key, source * alpha)
    return out


def index_put(x: np.ndarray, indices: tuple, values, accumulate: bool) -> np.ndarray:
    out = np.array(x, copy=True)
    if accumulate:
        np.add.at(out, indices, values)
    else:
        out[indices] = values
    return out
