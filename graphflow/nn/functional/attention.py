"""Scaled dot-product attention, the core of nn.MultiheadAttention."""

from __future__ import annotations

import math
from typing import Any

from graphflow.ir.dtypes import bool_
from graphflow.ops import elementwise as E
from graphflow.ops import reductions as R
from graphflow.ops.linalg import matmul
from graphflow.ops.shape import transpose
from graphflow.ops.values import as_value

__all__ = ["scaled_dot_product_attention"]


def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None, *,
                                 training: bool = True) -> Any:
    """softmax(q k^T * scale + mask) v over the last two dimensions (..., L, E) x (..., S, E).

    A bool mask marks the positions that MAY attend (True = keep), as in PyTorch; a float mask is added."""
    q = as_value(query)
    k, v = as_value(key, like=q), as_value(value, like=q)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = E.mul(matmul(q, transpose(k, -2, -1)), scale)
    L, S = q.shape[-2], k.shape[-2]
    if is_causal:
        import numpy as np

        causal = as_value(np.tril(np.ones((L, S), dtype=bool)), like=q)
        scores = E.where(causal, scores, float("-inf"))
    if attn_mask is not None:
        m = as_value(attn_mask, like=q)
        scores = E.where(m, scores, float("-inf")) if m.dtype is bool_ else E.add(scores, m)
    attn = R.softmax(scores, -1)
    if dropout_p > 0.0 and training:
        from graphflow.nn.functional.dropout import dropout

        attn = dropout(attn, dropout_p, True)
    return matmul(attn, v)
