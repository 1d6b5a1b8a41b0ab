"""Normalisation, embedding, one_hot, dropout, linear and attention in functional form."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow.nn.functional as F
from graphflow.ir import bind
from graphflow.ir.dtypes import float32, int64

RNG = np.random.default_rng(0)


def test_linear(graph_run, gradcheck):
    x, w, b = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((5, 4)), RNG.standard_normal(5)
    np.testing.assert_allclose(graph_run(F.linear, x, w, b), x @ w.T + b, rtol=1e-12)
    np.testing.assert_allclose(graph_run(F.linear, x, w), x @ w.T, rtol=1e-12)
    gradcheck(F.linear, x, w, b)
    with pytest.raises(ValueError, match=r"input of shape \(2, 3\) does not match weight of shape \(5, 4\)"):
        F.linear(bind("input", name="x", dtype=float32, shape=(2, 3)), bind("input", name="w", dtype=float32,
                                                                            shape=(5, 4)))


def test_bilinear(graph_run):
    x1, x2 = RNG.standard_normal((3, 2)), RNG.standard_normal((3, 4))
    w, b = RNG.standard_normal((5, 2, 4)), RNG.standard_normal(5)
    ref = np.einsum("ni,kij,nj->nk", x1, w, x2) + b
    np.testing.assert_allclose(graph_run(F.bilinear, x1, x2, w, b), ref, rtol=1e-12)


def test_layer_norm(graph_run, gradcheck):
    x = RNG.standard_normal((2, 3, 4))
    w, b = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    mu = x.mean((1, 2), keepdims=True)
    var = x.var((1, 2), keepdims=True)
    ref = (x - mu) / np.sqrt(var + 1e-5) * w + b
    np.testing.assert_allclose(graph_run(lambda a, c, d: F.layer_norm(a, (3, 4), c, d), x, w, b), ref, rtol=1e-10)
    gradcheck(lambda a, c, d: F.layer_norm(a, (3, 4), c, d), x, w, b)
    with pytest.raises(ValueError, match="does not end with normalized_shape"):
        F.layer_norm(bind("input", name="x", dtype=float32, shape=(2, 5)), 4)


def test_batch_norm_train_and_eval(graph_run, gradcheck):
    x = RNG.standard_normal((4, 3, 2, 2))
    rm, rv = RNG.standard_normal(3), RNG.random(3) + 0.5
    w, b = RNG.standard_normal(3), RNG.standard_normal(3)
    out, nm, nv = graph_run(lambda a, m, v, c, d: tuple(F.batch_norm_train(a, m, v, c, d, momentum=0.2)),
                            x, rm, rv, w, b)
    mean = x.mean((0, 2, 3))
    var_b = x.var((0, 2, 3))
    ref = (x - mean[:, None, None]) / np.sqrt(var_b[:, None, None] + 1e-5) * w[:, None, None] + b[:, None, None]
    np.testing.assert_allclose(out, ref, rtol=1e-10)
    np.testing.assert_allclose(nm, 0.8 * rm + 0.2 * mean, rtol=1e-12)
    np.testing.assert_allclose(nv, 0.8 * rv + 0.2 * x.var((0, 2, 3), ddof=1), rtol=1e-12)
    gradcheck(lambda a, c, d: F.batch_norm(a, None, None, c, d, training=True), x, w, b)
    ev = graph_run(lambda a, m, v: F.batch_norm(a, m, v), x, rm, rv)
    np.testing.assert_allclose(ev, (x - rm[:, None, None]) / np.sqrt(rv[:, None, None] + 1e-5), rtol=1e-12)
    # momentum=None: cumulative average with the number of batches seen
    _, nm2, _ = graph_run(lambda a, m, v, n: tuple(F.batch_norm_train(a, m, v, momentum=None, num_batches_tracked=n)),
                          x, rm, rv, np.int64(3))
    np.testing.assert_allclose(nm2, rm + (mean - rm) / 4, rtol=1e-12)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm_train(bind("input", name="x", dtype=float32, shape=(1, 3)))


def test_group_and_instance_norm(graph_run):
    x = RNG.standard_normal((2, 4, 3))
    g = x.reshape(2, 2, 6)
    ref = ((g - g.mean(2, keepdims=True)) / np.sqrt(g.var(2, keepdims=True) + 1e-5)).reshape(x.shape)
    np.testing.assert_allclose(graph_run(lambda a: F.group_norm(a, 2), x), ref, rtol=1e-10)
    ref = (x - x.mean(2, keepdims=True)) / np.sqrt(x.var(2, keepdims=True) + 1e-5)
    np.testing.assert_allclose(graph_run(F.instance_norm, x), ref, rtol=1e-10)


def test_normalize(graph_run):
    x = RNG.standard_normal((3, 4))
    np.testing.assert_allclose(graph_run(F.normalize, x), x / np.linalg.norm(x, axis=1, keepdims=True), rtol=1e-12)


def test_embedding(graph_run, gradcheck):
    w = RNG.standard_normal((6, 3))
    idx = np.array([[0, 5, 2], [2, 2, 1]])
    np.testing.assert_allclose(graph_run(F.embedding, idx, w), w[idx])
    gradcheck(F.embedding, idx, w)
    with pytest.raises(TypeError, match="integer"):
        graph_run(F.embedding, idx.astype(np.float64), w)


def test_one_hot(graph_run):
    t = np.array([0, 3, 1])
    out = graph_run(lambda a: F.one_hot(a, 5), t)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, np.eye(5, dtype=np.int64)[t])
    with pytest.raises(ValueError, match="num_classes"):
        F.one_hot(bind("input", name="t", dtype=int64, shape=(3,)))


def test_dropout_statistics_and_determinism(graph_run):
    x = np.ones((200, 50), np.float32)
    a = graph_run(lambda v: F.dropout(v, 0.3, key=7), x)
    b = graph_run(lambda v: F.dropout(v, 0.3, key=7), x)
    c = graph_run(lambda v: F.dropout(v, 0.3, key=8), x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    kept = a != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(a[kept], 1 / 0.7, rtol=1e-6)
    np.testing.assert_array_equal(graph_run(lambda v: F.dropout(v, 0.3, training=False), x), x)
    np.testing.assert_array_equal(graph_run(lambda v: F.dropout(v, 1.0, key=1), x), 0 * x)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(bind("input", name="x", dtype=float32, shape=(2,)), 1.5)


def test_dropout_gradient_uses_the_same_mask(graph_run):
    from graphflow import autodiff

    x = bind("input", name="x", dtype=float32, shape=(40,))
    y = F.dropout(x, 0.5, key=3)
    (g,) = autodiff.grad(None, [y], [x])
    from graphflow.backends import get_backend
    from graphflow.ir import Graph

    out, grad = get_backend("numpy").compile(Graph([y, g], [x])).run([np.ones(40, np.float32)])
    np.testing.assert_array_equal(grad, out)  # d(mask * x / (1-p))/dx = mask / (1-p) = y at x = 1


def test_dropout2d_drops_whole_channels(graph_run):
    out = graph_run(lambda v: F.dropout2d(v, 0.5, key=11), np.ones((4, 8, 3, 3)))
    per_channel = out.reshape(4, 8, 9)
    assert ((per_channel == 0).all(2) | (per_channel == 2).all(2)).all()


def test_scaled_dot_product_attention(graph_run, gradcheck):
    q, k, v = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 5, 4)), RNG.standard_normal((2, 5, 2))
    s = q @ k.transpose(0, 2, 1) / 2.0
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    np.testing.assert_allclose(graph_run(F.scaled_dot_product_attention, q, k, v), p @ v, rtol=1e-12)
    gradcheck(F.scaled_dot_product_attention, q, k, v)
    qq = RNG.standard_normal((3, 4))
    s = qq @ qq.T / 2.0
    s = np.where(np.tril(np.ones((3, 3), bool)), s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    np.testing.assert_allclose(graph_run(lambda a: F.scaled_dot_product_attention(a, a, a, is_causal=True), qq),
                               p @ qq, rtol=1e-12)
