"""MultiheadAttention and TransformerEncoderLayer (PyTorch's parameters, defaults and masks)."""

from __future__ import annotations

from typing import Any

from graphflow.ir.dtypes import bool_
from graphflow.ir.shapes import fmt
from graphflow.nn import functional as F
from graphflow.nn import init
from graphflow.nn.module import Module
from graphflow.nn.modules._util import new_parameter
from graphflow.nn.modules.container import ModuleList
from graphflow.nn.modules.dropout import Dropout
from graphflow.nn.modules.linear import Linear
from graphflow.nn.modules.normalization import LayerNorm
from graphflow.ops import elementwise as E
from graphflow.ops import reductions as R
from graphflow.ops.linalg import matmul
from graphflow.ops.shape import chunk, reshape, transpose
from graphflow.ops.values import as_value

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder"]


class MultiheadAttention(Module):
    """softmax(Q K^T / sqrt(d) + mask) V over `num_heads` heads of size embed_dim / num_heads, with
    packed input projections (`in_proj_weight`, `in_proj_bias`) and `out_proj`. Masks follow
    PyTorch: in `attn_mask` and `key_padding_mask` True marks a position that may NOT be attended;
    float masks are added to the scores. Returns (output, weights averaged over heads or None)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError("embed_dim must be divisible by num_heads")
        if add_bias_kv or add_zero_attn or (kdim not in (None, embed_dim)) or (vdim not in (None, embed_dim)):
            raise NotImplementedError("MultiheadAttention: add_bias_kv, add_zero_attn and kdim/vdim != embed_dim "
                                      "are not supported")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight = new_parameter((3 * embed_dim, embed_dim), dtype, device)
        if bias:
            self.in_proj_bias = new_parameter((3 * embed_dim,), dtype, device)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        init.xavier_uniform_(self.in_proj_weight)
        if bias:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None, need_weights: bool = True,
                attn_mask: Any = None, average_attn_weights: bool = True, is_causal: bool = False) -> tuple:
        q, k, v = as_value(query), as_value(key, like=query), as_value(value, like=query)
        unbatched = q.ndim == 2
        if q.ndim not in (2, 3) or q.shape[-1] != self.embed_dim:
            raise ValueError(f"MultiheadAttention(embed_dim={self.embed_dim}) got query of shape "
                             f"{fmt(tuple(q.shape))}; expected (L, N, {self.embed_dim})"
                             f"{' with batch_first' if self.batch_first else ''}")
        if unbatched:
            q, k, v = (reshape(t, (1,) + tuple(t.shape)) for t in (q, k, v))
        elif not self.batch_first:
            q, k, v = (transpose(t, 0, 1) for t in (q, k, v))
        n, lq, e = q.shape
        s = k.shape[1]
        w_q, w_k, w_v = chunk(self.in_proj_weight, 3, 0)
        b_q, b_k, b_v = chunk(self.in_proj_bias, 3, 0) if self.in_proj_bias is not None else (None, None, None)
        h, d = self.num_heads, self.head_dim

        def heads(x: Any, w: Any, b: Any, length: Any) -> Any:  # (N, L, E) -> (N, heads, L, d)
            return transpose(reshape(F.linear(x, w, b), (n, length, h, d)), 1, 2)

        qh, kh, vh = heads(q, w_q, b_q, lq), heads(k, w_k, b_k, s), heads(v, w_v, b_v, s)
        scores = E.mul(matmul(qh, transpose(kh, -2, -1)), 1.0 / d**0.5)  # (N, heads, L, S)
        blocked = None
        if is_causal and attn_mask is None:
            import numpy as np

            attn_mask = as_value(np.triu(np.ones((lq, s), dtype=bool), 1), like=q)
        if attn_mask is not None:
            m = as_value(attn_mask, like=q)
            if m.dtype is bool_:
                blocked = m if m.ndim == 2 else reshape(m, (n, h, lq, s))
            else:
                scores = E.add(scores, m if m.ndim == 2 else reshape(m, (n, h, lq, s)))
        if key_padding_mask is not None:
            kp = as_value(key_padding_mask, like=q)
            kp = reshape(kp, (1, 1, s) if unbatched else (n, 1, 1, s))
            if kp.dtype is bool_:
                blocked = kp if blocked is None else E.logical_or(blocked, kp)
            else:
                scores = E.add(scores, kp)
        if blocked is not None:
            scores = E.where(blocked, float("-inf"), scores)
        attn = R.softmax(scores, -1)
        if self.dropout and self.training:
            attn = F.dropout(attn, self.dropout, True)
        out = reshape(transpose(matmul(attn, vh), 1, 2), (n, lq, e))
        out = self.out_proj(out)
        if unbatched:
            out = reshape(out, (lq, e))
        elif not self.batch_first:
            out = transpose(out, 0, 1)
        weights = None
        if need_weights:
            weights = R.mean(attn, 1) if average_attn_weights else attn
            if unbatched:
                weights = reshape(weights, tuple(weights.shape[1:]))
        return out, weights


_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual connection and LayerNorm
    (after the residual by default, before it with norm_first=True)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: Any = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise RuntimeError(f"activation should be relu/gelu, not {activation}")
            activation = _ACTIVATIONS[activation]
        self.activation = activation

    def _sa(self, x: Any, mask: Any, padding: Any, is_causal: bool) -> Any:
        out = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=padding, need_weights=False,
                             is_causal=is_causal)[0]
        return self.dropout1(out)

    def _ff(self, x: Any) -> Any:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src: Any, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Any:
        x = src
        if self.norm_first:
            x = E.add(x, self._sa(self.norm1(x), src_mask, src_key_padding_mask, is_causal))
            return E.add(x, self._ff(self.norm2(x)))
        x = self.norm1(E.add(x, self._sa(x, src_mask, src_key_padding_mask, is_causal)))
        return self.norm2(E.add(x, self._ff(x)))


class TransformerEncoder(Module):
    """A stack of `num_layers` copies of `encoder_layer` (fresh parameters each), with an optional final norm."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        import copy

        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src: Any, mask: Any = None, src_key_padding_mask: Any = None, is_causal: bool = False) -> Any:
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)
        return self.norm(x) if self.norm is not None else x
