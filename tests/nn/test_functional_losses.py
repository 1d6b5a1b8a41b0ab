"""Losses against NumPy formulas (PyTorch's definitions), gradients by finite differences, bad labels."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow.nn.functional as F
from graphflow.ir import bind
from graphflow.ir.dtypes import float32, int64


def np_log_softmax(x, axis=1):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


def np_cross_entropy(x, t, weight=None, ignore_index=-100, reduction="mean", ls=0.0):
    """Transcription of PyTorch's documented formula for class indices, (N, C, d...) input."""
    logp = np_log_softmax(x, 1)
    c = x.shape[1]
    w = np.ones(c) if weight is None else weight
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    picked = np.take_along_axis(logp, safe[:, None], 1)[:, 0]
    wt = w[safe] * valid
    nll = -picked * wt
    smooth = -(logp * w.reshape((1, c) + (1,) * (x.ndim - 2))).sum(1) * valid
    if reduction == "mean":
        nll_r, smooth_r = nll.sum() / wt.sum(), smooth.sum() / (wt.sum() if weight is not None else valid.sum())
    elif reduction == "sum":
        nll_r, smooth_r = nll.sum(), smooth.sum()
    else:
        nll_r, smooth_r = nll, smooth
    return (1 - ls) * nll_r + ls / c * smooth_r


RNG = np.random.default_rng(0)
LOGITS = RNG.standard_normal((5, 4))
LABELS = np.array([0, 3, 1, 3, 2])
WEIGHT = np.array([0.5, 2.0, 1.0, 1.5])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_cross_entropy_indices(graph_run, reduction, weighted, ignore, ls):
    t = LABELS.copy()
    if ignore:
        t[1] = -100
    w = WEIGHT if weighted else None
    if weighted:
        out = graph_run(lambda x, y, ww: F.cross_entropy(x, y, ww, reduction=reduction, label_smoothing=ls),
                        LOGITS, t, w)
    else:
        out = graph_run(lambda x, y: F.cross_entropy(x, y, reduction=reduction, label_smoothing=ls), LOGITS, t)
    np.testing.assert_allclose(out, np_cross_entropy(LOGITS, t, w, reduction=reduction, ls=ls), rtol=1e-12)


def test_cross_entropy_spatial_and_custom_ignore(graph_run):
    x = RNG.standard_normal((2, 3, 4, 2))
    t = RNG.integers(0, 3, (2, 4, 2))
    t[0, 1, 1] = 7
    out = graph_run(lambda a, b: F.cross_entropy(a, b, ignore_index=7), x, t)
    np.testing.assert_allclose(out, np_cross_entropy(x, t, ignore_index=7), rtol=1e-12)


def test_cross_entropy_unbatched(graph_run):
    x = RNG.standard_normal(4)
    out = graph_run(lambda a, b: F.cross_entropy(a, b), x, np.array(2))
    np.testing.assert_allclose(out, -np_log_softmax(x[None])[0, 2], rtol=1e-12)


@pytest.mark.parametrize("ls", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_probabilities(graph_run, ls, weighted):
    p = np.exp(RNG.standard_normal((5, 4)))
    p /= p.sum(1, keepdims=True)
    q = p * (1 - ls) + ls / 4
    w = WEIGHT if weighted else np.ones(4)
    ref = (-(np_log_softmax(LOGITS) * q * w).sum(1)).mean()
    if weighted:
        out = graph_run(lambda a, b, c: F.cross_entropy(a, b, c, label_smoothing=ls), LOGITS, p, WEIGHT)
    else:
        out = graph_run(lambda a, b: F.cross_entropy(a, b, label_smoothing=ls), LOGITS, p)
    np.testing.assert_allclose(out, ref, rtol=1e-12)


def test_cross_entropy_gradients(gradcheck):
    t = LABELS.copy()
    t[2] = -100
    gradcheck(lambda x, w: F.cross_entropy(x, bind("constant", value=_const(t)), w, label_smoothing=0.1),
              LOGITS, WEIGHT, wrt=[0])
    p = np.full((5, 4), 0.25)
    gradcheck(lambda x: F.cross_entropy(x, bind("constant", value=_const(p))), LOGITS)


def _const(a):
    from graphflow.ir.ops.source import ConstValue

    return ConstValue(np.asarray(a))


def test_cross_entropy_stable_for_huge_logits(graph_run):
    x = np.array([[1000.0, -1000.0, 0.0]], np.float32)
    out = graph_run(lambda a, b: F.cross_entropy(a, b), x, np.array([1]))
    np.testing.assert_allclose(out, 2000.0, rtol=1e-6)


def test_cross_entropy_bad_labels():
    x = bind("input", name="x", dtype=float32, shape=(3, 4))
    with pytest.raises(IndexError, match="out of bounds for 4 classes"):
        F.cross_entropy(x, bind("constant", value=_const(np.array([0, 4, 1]))))
    with pytest.raises(IndexError, match="target -1"):
        F.cross_entropy(x, bind("constant", value=_const(np.array([0, -1, 1]))))
    with pytest.raises(TypeError, match="integer dtype"):
        F.cross_entropy(x, bind("input", name="t", dtype=float32, shape=(3,)))
    with pytest.raises(ValueError, match="must have shape"):
        F.cross_entropy(x, bind("input", name="t", dtype=int64, shape=(4,)))


def test_cross_entropy_bad_symbolic_label_fails_at_run_time(graph_run):
    with pytest.raises(IndexError, match="out of bounds"):
        graph_run(lambda a, b: F.cross_entropy(a, b), LOGITS, np.array([0, 1, -3, 1, 2]))
    with pytest.raises(IndexError, match="out of bounds"):
        graph_run(lambda a, b: F.cross_entropy(a, b), LOGITS, np.array([0, 1, 9, 1, 2]))


def test_nll_loss(graph_run):
    logp = np_log_softmax(LOGITS)
    t = LABELS.copy()
    t[0] = -100
    out = graph_run(lambda a, b, c: F.nll_loss(a, b, c), logp, t, WEIGHT)
    valid = t != -100
    safe = np.where(valid, t, 0)
    ref = -(logp[np.arange(5), safe] * WEIGHT[safe] * valid).sum() / (WEIGHT[safe] * valid).sum()
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    with pytest.raises(TypeError, match="integer dtype"):
        graph_run(lambda a, b: F.nll_loss(a, b), logp, t.astype(np.float64))


X = RNG.standard_normal((3, 4))
Y = RNG.standard_normal((3, 4))

REGRESSION = {
    "mse": (F.mse_loss, lambda x, y: (x - y) ** 2),
    "l1": (F.l1_loss, lambda x, y: np.abs(x - y)),
    "smooth_l1": (lambda x, y, **k: F.smooth_l1_loss(x, y, beta=0.5, **k),
                  lambda x, y: np.where(np.abs(x - y) < 0.5, 0.5 * (x - y) ** 2 / 0.5, np.abs(x - y) - 0.25)),
    "huber": (lambda x, y, **k: F.huber_loss(x, y, delta=0.8, **k),
              lambda x, y: np.where(np.abs(x - y) < 0.8, 0.5 * (x - y) ** 2, 0.8 * (np.abs(x - y) - 0.4))),
    "bce_logits": (F.binary_cross_entropy_with_logits,
                   lambda x, y: -(_s(y) * np.log(_s(x)) + (1 - _s(y)) * np.log(1 - _s(x)))),
}


def _s(v):
    return 1 / (1 + np.exp(-v))


@pytest.mark.parametrize("name", sorted(REGRESSION))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_pointwise_losses(graph_run, gradcheck, name, reduction):
    fn, ref = REGRESSION[name]
    y = _s(Y) if name == "bce_logits" else Y
    expected = ref(X, Y)
    expected = {"mean": expected.mean(), "sum": expected.sum(), "none": expected}[reduction]
    np.testing.assert_allclose(graph_run(lambda a, b: fn(a, b, reduction=reduction), X, y), expected, rtol=1e-10)
    if reduction == "mean":
        gradcheck(lambda a, b: fn(a, b), X, y)


def test_bce_with_logits_pos_weight_and_weight(graph_run):
    pw = np.array([1.0, 2.0, 0.5, 3.0])
    w = np.array([[1.0], [0.5], [2.0]])
    t = (Y > 0).astype(np.float64)
    out = graph_run(lambda a, b, c, d: F.binary_cross_entropy_with_logits(a, b, d, pos_weight=c), X, t, pw, w)
    ref = -(pw * t * np.log(_s(X)) + (1 - t) * np.log(1 - _s(X))) * w
    np.testing.assert_allclose(out, ref.mean(), rtol=1e-12)


def test_binary_cross_entropy(graph_run, gradcheck):
    p, t = _s(X), _s(Y)
    out = graph_run(lambda a, b: F.binary_cross_entropy(a, b, reduction="sum"), p, t)
    np.testing.assert_allclose(out, -(t * np.log(p) + (1 - t) * np.log(1 - p)).sum(), rtol=1e-12)
    gradcheck(lambda a, b: F.binary_cross_entropy(a, b), p, t)
    # log(0) is clamped to -100 as in PyTorch
    out = graph_run(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"), np.array([0.0, 1.0]),
                    np.array([1.0, 1.0]))
    np.testing.assert_allclose(out, [100.0, 0.0])


def test_kl_div(graph_run):
    logq = np_log_softmax(X)
    p = np.exp(np_log_softmax(Y))
    out = graph_run(lambda a, b: F.kl_div(a, b, reduction="batchmean"), logq, p)
    np.testing.assert_allclose(out, (p * (np.log(p) - logq)).sum() / 3, rtol=1e-12)


def test_shape_mismatch_names_loss():
    a = bind("input", name="a", dtype=float32, shape=(3, 4))
    b = bind("input", name="b", dtype=float32, shape=(3, 5))
    with pytest.raises(ValueError, match=r"mse_loss: target of shape \(3, 5\)"):
        F.mse_loss(a, b)
    with pytest.raises(ValueError, match="reduction"):
        F.l1_loss(a, a, reduction="avg")
