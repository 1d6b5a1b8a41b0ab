"""LSTM (PyTorch's parameter names, gate order i, f, g, o, and initialisation), unrolled over
time with the functional ops, so it runs in every mode."""

from __future__ import annotations

import math
from typing import Any

from graphflow.ir.shapes import fmt
from graphflow.nn import functional as F
from graphflow.nn import init
from graphflow.nn.module import Module
from graphflow.nn.modules._util import new_parameter
from graphflow.ops import elementwise as E
from graphflow.ops.linalg import matmul
from graphflow.ops.shape import cat, chunk, flip, reshape, slice_axis, stack, transpose
from graphflow.ops.values import as_value

__all__ = ["LSTM"]


class LSTM(Module):
    """Multi-layer LSTM: for each step, (i, f, g, o) = split(x W_ih^T + b_ih + h W_hh^T + b_hh),
    c = sigmoid(f) c + sigmoid(i) tanh(g), h = sigmoid(o) tanh(c). Returns
    (output, (h_n, c_n)) as PyTorch does; `batch_first`, `num_layers`, `bidirectional`, and
    dropout between layers in training mode."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if proj_size:
            raise NotImplementedError("LSTM: proj_size is not supported")
        if not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1]")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout, self.bidirectional = bias, batch_first, dropout, bidirectional
        dirs = 2 if bidirectional else 1
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size * dirs
            for suffix in ("", "_reverse")[:dirs]:
                setattr(self, f"weight_ih_l{layer}{suffix}", new_parameter((4 * hidden_size, in_size), dtype, device))
                setattr(self, f"weight_hh_l{layer}{suffix}",
                        new_parameter((4 * hidden_size, hidden_size), dtype, device))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", new_parameter((4 * hidden_size,), dtype, device))
                    setattr(self, f"bias_hh_l{layer}{suffix}", new_parameter((4 * hidden_size,), dtype, device))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def short_repr(self) -> str:
        return f"LSTM({self.input_size} -> {self.hidden_size})"

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    def _direction(self, x: Any, layer: int, suffix: str, h: Any, c: Any) -> tuple[Any, Any, Any]:
        """Run one direction of one layer over x (T, B, in); returns (outputs (T, B, H), h, c)."""
        w_ih, w_hh = getattr(self, f"weight_ih_l{layer}{suffix}"), getattr(self, f"weight_hh_l{layer}{suffix}")
        steps = x.shape[0]
        pre = matmul(x, transpose(w_ih, 0, 1))  # every step's input projection in one matmul
        if self.bias:
            pre = E.add(pre, E.add(getattr(self, f"bias_ih_l{layer}{suffix}"), getattr(self, f"bias_hh_l{layer}{suffix}")))
        w_hh_t = transpose(w_hh, 0, 1)
        outs = []
        order = range(steps - 1, -1, -1) if suffix else range(steps)
        for t in order:
            gates = E.add(reshape(slice_axis(pre, 0, t, t + 1), tuple(pre.shape[1:])), matmul(h, w_hh_t))
            i, f, g, o = chunk(gates, 4, -1)
            c = E.add(E.mul(E.sigmoid(f), c), E.mul(E.sigmoid(i), E.tanh(g)))
            h = E.mul(E.sigmoid(o), E.tanh(c))
            outs.append(h)
        out = stack(outs, 0)
        return (flip(out, 0) if suffix else out), h, c

    def forward(self, input: Any, hx: Any = None) -> Any:
        x = as_value(input)
        unbatched = x.ndim == 2
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"{self.short_repr()} got input of shape {fmt(tuple(x.shape))}; expected "
                             f"(L, N, {self.input_size}){' with batch_first' if self.batch_first else ''} or "
                             f"(L, {self.input_size})")
        if unbatched:
            x = reshape(x, (x.shape[0], 1, x.shape[1]))
        elif self.batch_first:
            x = transpose(x, 0, 1)
        dirs = 2 if self.bidirectional else 1
        batch = x.shape[1]
        if hx is None:
            from graphflow.ir import builder as B

            zeros = B.full((self.num_layers * dirs, batch, self.hidden_size), 0.0, x.dtype, like=x)
            h0, c0 = zeros, zeros
        else:
            h0, c0 = (as_value(v, like=x) for v in hx)
            if unbatched:
                h0, c0 = (reshape(v, (v.shape[0], 1, v.shape[1])) for v in (h0, c0))
        hs, cs = [], []
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:dirs]):
                k = layer * dirs + d
                init_h = reshape(slice_axis(h0, 0, k, k + 1), (batch, self.hidden_size))
                init_c = reshape(slice_axis(c0, 0, k, k + 1), (batch, self.hidden_size))
                out, h, c = self._direction(x, layer, suffix, init_h, init_c)
                outs.append(out)
                hs.append(h)
                cs.append(c)
            x = outs[0] if dirs == 1 else cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        h_n, c_n = stack(hs, 0), stack(cs, 0)
        if unbatched:
            x = reshape(x, (x.shape[0], x.shape[2]))
            h_n, c_n = (reshape(v, (v.shape[0], v.shape[2])) for v in (h_n, c_n))
        elif self.batch_first:
            x = transpose(x, 0, 1)
        return x, (h_n, c_n)
