"""LSTM, MultiheadAttention and TransformerEncoderLayer against NumPy transcriptions of their
definitions (PyTorch's equations), using the layers' own parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphflow as gf
import graphflow.nn as nn


def P(t):
    return t.detach().numpy().astype(np.float64)


def _sig(x):
    return 1 / (1 + np.exp(-x))


def np_lstm(lstm, x, h0, c0):
    """x: (T, B, in); the layers' parameters; returns output, h_n, c_n."""
    dirs = 2 if lstm.bidirectional else 1
    hs, cs = [], []
    for layer in range(lstm.num_layers):
        outs = []
        for d, suffix in enumerate(("", "_reverse")[:dirs]):
            w_ih, w_hh = P(getattr(lstm, f"weight_ih_l{layer}{suffix}")), P(getattr(lstm, f"weight_hh_l{layer}{suffix}"))
            b = P(getattr(lstm, f"bias_ih_l{layer}{suffix}")) + P(getattr(lstm, f"bias_hh_l{layer}{suffix}"))
            h, c = h0[layer * dirs + d], c0[layer * dirs + d]
            out = [None] * len(x)
            steps = range(len(x) - 1, -1, -1) if suffix else range(len(x))
            for t in steps:
                g = x[t] @ w_ih.T + h @ w_hh.T + b
                i, f, gg, o = np.split(g, 4, axis=-1)
                c = _sig(f) * c + _sig(i) * np.tanh(gg)
                h = _sig(o) * np.tanh(c)
                out[t] = h
            outs.append(np.stack(out))
            hs.append(h)
            cs.append(c)
        x = np.concatenate(outs, -1)
    return x, np.stack(hs), np.stack(cs)


@pytest.mark.parametrize("layers,bidirectional,batch_first", [(1, False, False), (2, False, True), (2, True, False)])
def test_lstm_matches_numpy(layers, bidirectional, batch_first):
    gf.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first).double()
    dirs = 2 if bidirectional else 1
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 2, 3))
    h0, c0 = rng.standard_normal((2, layers * dirs, 2, 4))
    inp = x.transpose(1, 0, 2) if batch_first else x
    out, (h, c) = lstm(gf.tensor(inp), (gf.tensor(h0), gf.tensor(c0)))
    ref_out, ref_h, ref_c = np_lstm(lstm, x, h0, c0)
    np.testing.assert_allclose(P(out), ref_out.transpose(1, 0, 2) if batch_first else ref_out, rtol=1e-10)
    np.testing.assert_allclose(P(h), ref_h, rtol=1e-10)
    np.testing.assert_allclose(P(c), ref_c, rtol=1e-10)


def test_lstm_names_init_unbatched_and_gradients():
    gf.manual_seed(1)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    names = [n for n, _ in lstm.named_parameters()]
    assert names[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert names[4:8] == ["weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse"]
    assert tuple(lstm.weight_ih_l1.shape) == (16, 8)
    assert all(np.abs(P(p)).max() <= 0.5 for p in lstm.parameters())  # U(-1/sqrt(4), 1/sqrt(4))
    out, (h, c) = lstm(gf.randn(6, 3))
    assert tuple(out.shape) == (6, 8) and tuple(h.shape) == (4, 4)
    out.sum().backward()
    assert all(p.grad is not None for p in lstm.parameters())
    with pytest.raises(ValueError, match=r"LSTM\(3 -> 4\) got input of shape \(6, 2, 5\)"):
        lstm(gf.zeros(6, 2, 5))


def np_mha(mha, q, k, v, attn_mask=None, key_padding_mask=None):
    """(L, N, E) inputs; PyTorch's definition."""
    e, h = mha.embed_dim, mha.num_heads
    d = e // h
    w, b = P(mha.in_proj_weight), P(mha.in_proj_bias)
    qp, kp, vp = q @ w[:e].T + b[:e], k @ w[e:2 * e].T + b[e:2 * e], v @ w[2 * e:].T + b[2 * e:]

    def split(x):  # (L, N, E) -> (N, h, L, d)
        return x.reshape(x.shape[0], x.shape[1], h, d).transpose(1, 2, 0, 3)

    s = split(qp) @ split(kp).transpose(0, 1, 3, 2) / math.sqrt(d)
    if attn_mask is not None:
        s = np.where(attn_mask, -np.inf, s)
    if key_padding_mask is not None:
        s = np.where(key_padding_mask[:, None, None, :], -np.inf, s)
    a = np.exp(s - s.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    o = (a @ split(vp)).transpose(2, 0, 1, 3).reshape(q.shape[0], q.shape[1], e)
    return o @ P(mha.out_proj.weight).T + P(mha.out_proj.bias), a.mean(1)


def test_multihead_attention_matches_numpy():
    gf.manual_seed(2)
    mha = nn.MultiheadAttention(8, 2).double()
    with gf.no_grad():
        mha.in_proj_bias.copy_(gf.randn(24, dtype=gf.float64))
        mha.out_proj.bias.copy_(gf.randn(8, dtype=gf.float64))
    rng = np.random.default_rng(3)
    q, k, v = rng.standard_normal((4, 3, 8)), rng.standard_normal((5, 3, 8)), rng.standard_normal((5, 3, 8))
    mask = np.zeros((4, 5), bool)
    mask[0, 3:] = True
    pad = np.zeros((3, 5), bool)
    pad[1, 4] = True
    out, weights = mha(gf.tensor(q), gf.tensor(k), gf.tensor(v), attn_mask=gf.tensor(mask),
                       key_padding_mask=gf.tensor(pad))
    ref, ref_w = np_mha(mha, q, k, v, mask, pad)
    np.testing.assert_allclose(P(out), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(P(weights), ref_w, rtol=1e-10, atol=1e-12)
    assert [n for n, _ in mha.named_parameters()] == ["in_proj_weight", "in_proj_bias", "out_proj.weight",
                                                     "out_proj.bias"]
    # batch_first gives the same numbers transposed
    mha.batch_first = True
    out_bf, _ = mha(*(gf.tensor(t.transpose(1, 0, 2)) for t in (q, k, v)))
    np.testing.assert_allclose(P(out_bf), np_mha(mha, q, k, v)[0].transpose(1, 0, 2), rtol=1e-10, atol=1e-12)


def test_transformer_encoder_layer_matches_numpy():
    gf.manual_seed(4)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0).double()
    x = np.random.default_rng(5).standard_normal((4, 2, 8))

    def ln(z, mod):
        mu, var = z.mean(-1, keepdims=True), z.var(-1, keepdims=True)
        return (z - mu) / np.sqrt(var + 1e-5) * P(mod.weight) + P(mod.bias)

    def ff(z):
        hdn = np.maximum(z @ P(layer.linear1.weight).T + P(layer.linear1.bias), 0)
        return hdn @ P(layer.linear2.weight).T + P(layer.linear2.bias)

    y = ln(x + np_mha(layer.self_attn, x, x, x)[0], layer.norm1)
    ref = ln(y + ff(y), layer.norm2)
    np.testing.assert_allclose(P(layer(gf.tensor(x))), ref, rtol=1e-9, atol=1e-10)
    layer.norm_first = True
    z = x + np_mha(layer.self_attn, *(ln(x, layer.norm1),) * 3)[0]
    ref = z + ff(ln(z, layer.norm2))
    np.testing.assert_allclose(P(layer(gf.tensor(x))), ref, rtol=1e-9, atol=1e-10)
    enc = nn.TransformerEncoder(layer, 2)
    assert len(list(enc.parameters())) == 2 * len(list(layer.parameters()))
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    out = enc(gf.tensor(x))
    out.sum().backward()
    assert enc.layers[0].self_attn.in_proj_weight.grad is not None
