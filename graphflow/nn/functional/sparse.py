"""Index-based ops: embedding (gather rows) and one_hot."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphflow.ir.bind import bind
from graphflow.ir.dtypes import int64
from graphflow.ir.shapes import fmt
from graphflow.ops import elementwise as E
from graphflow.ops.shape import reshape
from graphflow.ops.values import as_value, broadcast_to, cast

__all__ = ["embedding", "one_hot", "concrete", "stop_gradient"]


def concrete(x: Any) -> np.ndarray | None:
    """The NumPy value of an already computed tensor (eager), or None for symbolic values.

    Used only for checks that can be made early (labels out of range); the computation itself
    never depends on it."""
    if isinstance(x, np.ndarray | int | float | list | tuple):
        return np.asarray(x)
    if type(x).__name__ == "Node":
        return x.attrs["value"].array if x.op.name == "constant" else None
    from graphflow.eager.tensor import Tensor

    if isinstance(x, Tensor) and (x._device is None or x._device.type == "cpu"):  # its array, only read
        return x._data
    return None


def stop_gradient(x: Any) -> Any:
    """`x` with no gradient flowing back (detach where the value supports it)."""
    detach = getattr(x, "detach", None)
    return detach() if detach is not None else x


def embedding(input: Any, weight: Any, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Any:
    """Rows of `weight` (num_embeddings, dim) picked by the integer `input`: shape input.shape + (dim,).
    Rows picked at `padding_idx` get no gradient."""
    w = as_value(weight)
    idx = as_value(input, like=w)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be an integer tensor, got {idx.dtype.name}")
    if w.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got {fmt(w.shape)}")
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not supported")
    num, dim = w.shape
    values = concrete(idx)
    if values is not None and values.size and (values.min() < 0 or values.max() >= num):
        bad = values[(values < 0) | (values >= num)].reshape(-1)[0]
        raise IndexError(f"embedding: index {int(bad)} is out of range for {num} embeddings")
    flat = reshape(cast(idx, int64), (-1, 1))
    n = flat.shape[0]
    rows = bind("gather", w, broadcast_to(flat, (n, dim)), axis=0)
    if padding_idx is not None:
        pad = padding_idx + num if padding_idx < 0 else padding_idx
        frozen = bind("gather", stop_gradient(w), broadcast_to(flat, (n, dim)), axis=0)
        rows = E.where(broadcast_to(E.eq(flat, pad), (n, dim)), frozen, rows)
    return reshape(rows, tuple(idx.shape) + (dim,))


def one_hot(tensor: Any, num_classes: int = -1) -> Any:
    """int64 one-hot encoding along a new last dimension (num_classes=-1: max + 1, needs a computed tensor)."""
    idx = as_value(tensor)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expects an integer tensor of class indices, got {idx.dtype.name}")
    values = concrete(idx)
    if num_classes == -1:
        if values is None:
            raise ValueError("one_hot: num_classes=-1 needs a computed tensor; pass num_classes for symbolic ones")
        num_classes = int(values.max()) + 1 if values.size else 0
    if values is not None and values.size and (values.min() < 0 or values.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got min {values.min()} "
                         f"and max {values.max()}")
    classes = as_value(np.arange(num_classes, dtype=np.int64), like=idx)
    out = E.eq(reshape(cast(idx, int64), tuple(idx.shape) + (1,)), classes)
    return cast(out, int64)
