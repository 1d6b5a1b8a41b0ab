"""Hand-written NumPy versions of the workloads, generic over the float dtype: in float64 they are
the reference every result is checked against, in float32 they are the NumPy peer."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def gelu_chain(x: np.ndarray) -> np.ndarray:
    y = x * 1.5 + 0.25
    return 0.5 * y * (1 + np.tanh(0.79788 * (y + 0.044715 * y**3)))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    c = x - mu
    var = (c * c).mean(axis=-1, keepdims=True)
    return c / np.sqrt(var + eps) * gamma + beta


# ---- convolution through im2col (NCHW input, OIHW weight), forward and backward -------------------

def _pad(x: np.ndarray, pad: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x


def im2col(x: np.ndarray, kh: int, kw: int, stride: int, pad: int) -> np.ndarray:
    """(N, C, H, W) -> (N, OH, OW, C*kh*kw), the patch of each output position in (C, kh, kw) order."""
    win = sliding_window_view(_pad(x, pad), (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    n, c, oh, ow = win.shape[:4]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n, oh, ow, c * kh * kw)


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: int = 1, pad: int = 0) -> np.ndarray:
    k, c, kh, kw = w.shape
    cols = im2col(x, kh, kw, stride, pad)
    out = cols @ w.reshape(k, -1).T  # (N, OH, OW, K)
    if b is not None:
        out = out + b
    return out.transpose(0, 3, 1, 2)


def conv2d_backward(x: np.ndarray, w: np.ndarray, dout: np.ndarray, stride: int, pad: int):
    """Gradients (dx, dw, db) of conv2d for the output gradient `dout` (N, K, OH, OW)."""
    k, c, kh, kw = w.shape
    n, _, oh, ow = dout.shape
    cols = im2col(x, kh, kw, stride, pad).reshape(-1, c * kh * kw)
    d = dout.transpose(0, 2, 3, 1).reshape(-1, k)
    dw = (d.T @ cols).reshape(w.shape)
    db = d.sum(axis=0)
    dcols = (d @ w.reshape(k, -1)).reshape(n, oh, ow, c, kh, kw)
    xp = np.zeros(_pad(x, pad).shape, dtype=x.dtype)
    for i in range(kh):  # col2im: scatter each kernel tap back onto the padded input
        for j in range(kw):
            xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    dx = xp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]] if pad else xp
    return dx, dw, db


# ---- training steps (SGD with mean cross-entropy over one-hot labels) ------------------------------

def _ce_grad(logits: np.ndarray, onehot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean cross-entropy and its gradient w.r.t. the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = logits.shape[0]
    loss = -(onehot * logp).sum() / n
    return np.asarray(loss, dtype=logits.dtype), (np.exp(logp) - onehot) / n


def mlp_step(x, onehot, w1, b1, w2, b2, w3, b3, lr: float) -> list[np.ndarray]:
    """One SGD step of the MLP relu(x W1 + b1) -> relu(. W2 + b2) -> . W3 + b3 (weights (in, out));
    returns [loss, *updated params]."""
    h1 = np.maximum(x @ w1 + b1, 0)
    h2 = np.maximum(h1 @ w2 + b2, 0)
    loss, dz3 = _ce_grad(h2 @ w3 + b3, onehot)
    dz2 = (dz3 @ w3.T) * (h2 > 0)
    dz1 = (dz2 @ w2.T) * (h1 > 0)
    grads = [x.T @ dz1, dz1.sum(0), h1.T @ dz2, dz2.sum(0), h2.T @ dz3, dz3.sum(0)]
    params = [w1, b1, w2, b2, w3, b3]
    return [loss] + [p - lr * g for p, g in zip(params, grads)]


def cnn_step(x, onehot, k1, c1, k2, c2, w3, b3, lr: float) -> list[np.ndarray]:
    """One SGD step of conv(3x3, pad 1) -> relu -> conv(3x3, stride 2, pad 1) -> relu -> flatten -> linear."""
    a1 = conv2d(x, k1, c1, 1, 1)
    h1 = np.maximum(a1, 0)
    a2 = conv2d(h1, k2, c2, 2, 1)
    h2 = np.maximum(a2, 0)
    flat = h2.reshape(h2.shape[0], -1)
    loss, dz3 = _ce_grad(flat @ w3 + b3, onehot)
    dflat = dz3 @ w3.T
    da2 = dflat.reshape(h2.shape) * (a2 > 0)
    dh1, dk2, dc2 = conv2d_backward(h1, k2, da2, 2, 1)
    da1 = dh1 * (a1 > 0)
    _, dk1, dc1 = conv2d_backward(x, k1, da1, 1, 1)
    grads = [dk1, dc1, dk2, dc2, flat.T @ dz3, dz3.sum(0)]
    params = [k1, c1, k2, c2, w3, b3]
    return [loss] + [p - lr * g for p, g in zip(params, grads)]
