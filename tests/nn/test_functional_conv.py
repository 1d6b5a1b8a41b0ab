"""conv2d (im2col lowering) and pooling against direct NumPy loops; gradients by finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from tests_nn_refs import np_conv2d

import graphflow.nn.functional as F

CONV_CASES = [
    dict(),
    dict(stride=(2, 2)),
    dict(padding=(1, 2)),
    dict(dilation=(2, 1), padding=(1, 1)),
    dict(stride=(2, 1), padding=(1, 0), groups=2),
    dict(groups=4),
]


@pytest.mark.parametrize("kw", CONV_CASES)
def test_conv2d_values(graph_run, kw):
    rng = np.random.default_rng(0)
    groups = kw.get("groups", 1)
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((4, 4 // groups, 3, 2))
    b = rng.standard_normal(4)
    out = graph_run(lambda x_, w_, b_: F.conv2d(x_, w_, b_, **kw), x, w, b)
    np.testing.assert_allclose(out, np_conv2d(x, w, b, **{k: v for k, v in kw.items()}), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [dict(), dict(stride=(2, 2), padding=(1, 1)), dict(groups=2, dilation=(1, 2))])
def test_conv2d_gradients(gradcheck, kw):
    rng = np.random.default_rng(1)
    groups = kw.get("groups", 1)
    x = rng.standard_normal((2, 2, 5, 5))
    w = rng.standard_normal((2, 2 // groups, 2, 2))
    b = rng.standard_normal(2)
    gradcheck(lambda x_, w_, b_: F.conv2d(x_, w_, b_, **kw), x, w, b)


def test_conv2d_same_padding_and_unbatched(graph_run):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 6, 5))
    w = rng.standard_normal((2, 3, 3, 4))
    out = graph_run(lambda a, b: F.conv2d(a, b, padding="same"), x, w)
    assert out.shape == (2, 6, 5)
    # 'same' with an even kernel pads 1 before and 2 after along width (PyTorch's rule)
    ref = np_conv2d(np.pad(x[None], ((0, 0), (0, 0), (1, 1), (1, 2))), w)[0]
    np.testing.assert_allclose(out, ref, rtol=1e-12)


def test_conv2d_bad_channels():
    from graphflow.ir import bind
    from graphflow.ir.dtypes import float32

    x = bind("input", name="x", dtype=float32, shape=(1, 3, 8, 8))
    w = bind("input", name="w", dtype=float32, shape=(4, 2, 3, 3))
    with pytest.raises(ValueError, match="3 channels"):
        F.conv2d(x, w)
    with pytest.raises(ValueError, match="larger than the padded input"):
        F.conv2d(x, bind("input", name="w2", dtype=float32, shape=(4, 3, 9, 9)))


def test_conv1d(graph_run):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 9))
    w = rng.standard_normal((4, 3, 3))
    out = graph_run(lambda a, b: F.conv1d(a, b, stride=2, padding=1), x, w)
    ref = np_conv2d(x[:, :, None, :], w[:, :, None, :], stride=(1, 2), padding=(0, 1))[:, :, 0, :]
    np.testing.assert_allclose(out, ref, rtol=1e-12)


def np_pool(x, k, s, p, reducer, fill, ceil=False, include_pad=True, avg=False):
    n, c, h, w = x.shape

    def outn(size, kk, ss, pp):
        num = size + 2 * pp - kk
        o = (-(-num // ss) if ceil else num // ss) + 1
        if ceil and (o - 1) * ss >= size + pp:
            o -= 1
        return o

    ho, wo = outn(h, k[0], s[0], p[0]), outn(w, k[1], s[1], p[1])
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            h0, w0 = i * s[0] - p[0], j * s[1] - p[1]
            h1, w1 = min(h0 + k[0], h + p[0]), min(w0 + k[1], w + p[1])
            hs, ws = max(h0, 0), max(w0, 0)
            he, we = min(h1, h), min(w1, w)
            win = x[:, :, hs:he, ws:we]
            if avg:
                div = (h1 - h0) * (w1 - w0) if include_pad else (he - hs) * (we - ws)
                out[:, :, i, j] = win.sum(axis=(2, 3)) / div
            else:
                out[:, :, i, j] = win.max(axis=(2, 3))
    return out


@pytest.mark.parametrize("k,s,p,ceil", [((2, 2), (2, 2), (0, 0), False), ((3, 3), (2, 2), (1, 1), False),
                                        ((3, 2), (2, 1), (1, 0), True), ((2, 2), (2, 2), (0, 0), True)])
def test_max_pool2d(graph_run, k, s, p, ceil):
    x = np.random.default_rng(4).standard_normal((2, 3, 7, 6))
    out = graph_run(lambda a: F.max_pool2d(a, k, s, p, ceil_mode=ceil), x)
    np.testing.assert_allclose(out, np_pool(x, k, s, p, None, None, ceil), rtol=1e-12)


@pytest.mark.parametrize("k,s,p,ceil,include", [((2, 2), (2, 2), (0, 0), False, True),
                                                ((3, 3), (2, 2), (1, 1), False, True),
                                                ((3, 3), (2, 2), (1, 1), False, False),
                                                ((3, 2), (2, 2), (1, 1), True, True),
                                                ((3, 2), (2, 2), (1, 1), True, False)])
def test_avg_pool2d(graph_run, k, s, p, ceil, include):
    x = np.random.default_rng(5).standard_normal((2, 3, 7, 6))
    out = graph_run(lambda a: F.avg_pool2d(a, k, s, p, ceil_mode=ceil, count_include_pad=include), x)
    np.testing.assert_allclose(out, np_pool(x, k, s, p, None, None, ceil, include, avg=True), rtol=1e-12)


def test_pool_gradients(gradcheck):
    x = np.random.default_rng(6).permutation(72).reshape(2, 1, 6, 6).astype(np.float64) / 7.0  # distinct values
    gradcheck(lambda a: F.max_pool2d(a, 3, 2, 1), x)
    gradcheck(lambda a: F.avg_pool2d(a, 2, 1, 1, count_include_pad=False), x)


def test_adaptive_avg_pool2d(graph_run):
    x = np.random.default_rng(7).standard_normal((1, 2, 5, 7))
    out = graph_run(lambda a: F.adaptive_avg_pool2d(a, (2, 3)), x)
    ref = np.zeros((1, 2, 2, 3))
    for i in range(2):
        for j in range(3):
            h0, h1 = (i * 5) // 2, -(-((i + 1) * 5) // 2)
            w0, w1 = (j * 7) // 3, -(-((j + 1) * 7) // 3)
            ref[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    np.testing.assert_allclose(out, ref, rtol=1e-12)


def test_unfold_matches_conv(graph_run):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 5, 5))
    w = rng.standard_normal((4, 3, 2, 2))
    cols = graph_run(lambda a: F.unfold(a, 2, padding=1, stride=2), x)
    conv = np_conv2d(x, w, stride=(2, 2), padding=(1, 1))
    np.testing.assert_allclose((w.reshape(4, -1) @ cols).reshape(conv.shape), conv, rtol=1e-12)
