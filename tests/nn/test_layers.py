"""Layers in eager mode: values against NumPy formulas with the layer's own parameters,
gradients by finite differences, PyTorch's default initialisations, bad-input messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphflow as gf
import graphflow.nn as nn
import graphflow.nn.functional as F


def np_(t):
    return t.detach().numpy()


def test_linear_values_init_and_error(eager_gradcheck):
    gf.manual_seed(0)
    lin = nn.Linear(784, 128)
    w, b = np_(lin.weight), np_(lin.bias)
    bound = 1 / math.sqrt(784)
    assert w.shape == (128, 784) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound  # U(-b, b) has std b / sqrt(3)
    assert np.abs(b).max() <= bound
    x = np.random.default_rng(0).standard_normal((5, 784)).astype(np.float32)
    np.testing.assert_allclose(np_(lin(gf.tensor(x))), x @ w.T + b, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"^Linear\(784 -> 128\) got input of shape \(32, 100\)"):
        lin(gf.zeros(32, 100))
    small = nn.Linear(3, 2).double()
    eager_gradcheck(lambda x, w, b: F.linear(x, w, b), np.ones((2, 3)), np_(small.weight), np_(small.bias))
    assert nn.Linear(3, 2, bias=False).bias is None


def test_linear_trains_its_parameters():
    lin = nn.Linear(3, 1)
    x = gf.randn(8, 3)
    loss = lin(x).pow(2).mean()
    loss.backward()
    xn, w, b = np_(x), np_(lin.weight), np_(lin.bias)
    y = xn @ w.T + b
    np.testing.assert_allclose(np_(lin.weight.grad), (2 * y * xn).mean(0, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(np_(lin.bias.grad), [(2 * y).mean()], rtol=1e-5)


def test_conv2d_layer():
    gf.manual_seed(1)
    conv = nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, groups=2)
    assert tuple(conv.weight.shape) == (6, 2, 3, 2)
    bound = 1 / math.sqrt(2 * 3 * 2)
    assert np.abs(np_(conv.weight)).max() <= bound and np.abs(np_(conv.bias)).max() <= bound
    from tests_nn_refs import np_conv2d

    x = np.random.default_rng(1).standard_normal((2, 4, 5, 6)).astype(np.float32)
    ref = np_conv2d(x.astype(np.float64), np_(conv.weight).astype(np.float64), np_(conv.bias).astype(np.float64),
                    stride=(2, 2), padding=(1, 1), groups=2)
    np.testing.assert_allclose(np_(conv(gf.tensor(x))), ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"Conv2d\(4 -> 6, kernel_size=\(3, 2\)\) got input of shape \(2, 3, 5, 6\)"):
        conv(gf.zeros(2, 3, 5, 6))


def test_pool_layers():
    x = gf.tensor(np.arange(32, dtype=np.float32).reshape(1, 2, 4, 4))
    np.testing.assert_array_equal(np_(nn.MaxPool2d(2)(x)), np.arange(32).reshape(1, 2, 2, 2, 2, 2)
                                  .transpose(0, 1, 2, 4, 3, 5).reshape(1, 2, 2, 2, 4).max(-1))
    np.testing.assert_allclose(np_(nn.AvgPool2d(2)(x))[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_allclose(np_(nn.AdaptiveAvgPool2d(1)(x)).reshape(2), [7.5, 23.5])
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=2\) got input of shape \(4,\)"):
        nn.MaxPool2d(2)(gf.zeros(4))


def test_batchnorm_running_stats_and_eval():
    bn = nn.BatchNorm1d(3, momentum=0.3)
    assert np.all(np_(bn.weight) == 1) and np.all(np_(bn.bias) == 0)
    x = np.random.default_rng(2).standard_normal((6, 3)).astype(np.float32) * 2 + 1
    out = bn(gf.tensor(x))
    np.testing.assert_allclose(np_(out), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np_(bn.running_mean), 0.3 * x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(np_(bn.running_var), 0.7 + 0.3 * x.var(0, ddof=1), rtol=1e-5)
    assert int(bn.num_batches_tracked.item()) == 1
    bn(gf.tensor(x))
    assert int(bn.num_batches_tracked.item()) == 2
    rm, rv = np_(bn.running_mean).copy(), np_(bn.running_var).copy()
    bn.eval()
    out = bn(gf.tensor(x))
    np.testing.assert_allclose(np_(out), (x - rm) / np.sqrt(rv + 1e-5), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np_(bn.running_mean), rm)  # eval leaves statistics alone
    # gradients flow through the batch statistics in training mode
    bn.train()
    xt = gf.tensor(x, requires_grad=True)
    (bn(xt)[:, 0] ** 3).sum().backward()
    assert xt.grad is not None and np.abs(np_(xt.grad)).sum() > 0
    assert bn.running_mean.grad is None and not bn.running_mean.requires_grad


def test_batchnorm2d_cumulative_and_errors():
    bn = nn.BatchNorm2d(2, momentum=None)
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((3, 2, 2, 2)).astype(np.float32) for _ in range(3)]
    for x in xs:
        bn(gf.tensor(x))
    np.testing.assert_allclose(np_(bn.running_mean), np.mean([x.mean((0, 2, 3)) for x in xs], 0), rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(ValueError, match=r"BatchNorm2d\(2\) got input of shape \(3, 5, 2, 2\)"):
        bn(gf.zeros(3, 5, 2, 2))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(2)(gf.zeros(1, 2))
    nostats = nn.BatchNorm1d(2, track_running_stats=False, affine=False).eval()
    assert nostats.running_mean is None and list(nostats.parameters()) == []
    x = rng.standard_normal((4, 2)).astype(np.float32)
    np.testing.assert_allclose(np_(nostats(gf.tensor(x))), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-4,
                               atol=1e-5)


def test_layernorm_layer():
    ln = nn.LayerNorm((2, 3))
    x = np.random.default_rng(4).standard_normal((4, 2, 3)).astype(np.float32)
    mu, var = x.mean((1, 2), keepdims=True), x.var((1, 2), keepdims=True)
    np.testing.assert_allclose(np_(ln(gf.tensor(x))), (x - mu) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"LayerNorm\(\(2, 3\).*got input of shape \(4, 3, 2\)"):
        ln(gf.zeros(4, 3, 2))


def test_dropout_layer_modes():
    gf.manual_seed(5)
    d = nn.Dropout(0.25)
    x = gf.ones(100, 100)
    y = np_(d(x))
    assert abs((y == 0).mean() - 0.25) < 0.02
    np.testing.assert_allclose(y[y != 0], 1 / 0.75, rtol=1e-6)
    assert not np.array_equal(y, np_(d(x)))  # a fresh mask on each call
    d.eval()
    np.testing.assert_array_equal(np_(d(x)), 1.0)
    gf.manual_seed(5)
    np.testing.assert_array_equal(np_(nn.Dropout(0.25)(x)), y)  # reproducible from the seed
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_embedding_layer():
    gf.manual_seed(6)
    emb = nn.Embedding(1000, 16, padding_idx=0)
    w = np_(emb.weight)
    assert abs(w[1:].std() - 1.0) < 0.05 and abs(w[1:].mean()) < 0.05
    np.testing.assert_array_equal(w[0], 0)
    idx = gf.tensor([[0, 3, 3], [5, 0, 9]])
    out = emb(idx)
    np.testing.assert_array_equal(np_(out), w[np.array([[0, 3, 3], [5, 0, 9]])])
    out.sum().backward()
    g = np_(emb.weight.grad)
    assert g[3].tolist() == [2.0] * 16 and g[5].tolist() == [1.0] * 16
    np.testing.assert_array_equal(g[0], 0)  # padding row gets no gradient
    with pytest.raises(IndexError, match="out of range"):
        emb(gf.tensor([1000]))


ACTIVATIONS = [(nn.ReLU(), lambda x: np.maximum(x, 0)), (nn.LeakyReLU(0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
               (nn.GELU(), lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))),
               (nn.GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))),
               (nn.SiLU(), lambda x: x / (1 + np.exp(-x))), (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
               (nn.Tanh(), np.tanh), (nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
               (nn.LogSoftmax(dim=1), lambda x: x - np.log(np.exp(x).sum(1, keepdims=True))),
               (nn.ELU(), lambda x: np.where(x > 0, x, np.expm1(x))), (nn.Identity(), lambda x: x),
               (nn.Flatten(), lambda x: x.reshape(len(x), -1))]


@pytest.mark.parametrize("layer,ref", ACTIVATIONS, ids=[type(a[0]).__name__ for a in ACTIVATIONS])
def test_activation_layers(layer, ref):
    x = np.random.default_rng(7).standard_normal((3, 5)).astype(np.float32)
    np.testing.assert_allclose(np_(layer(gf.tensor(x))), ref(x.astype(np.float64)), rtol=1e-5, atol=1e-6)


def test_loss_modules():
    rng = np.random.default_rng(8)
    logits = rng.standard_normal((4, 3)).astype(np.float32)
    labels = np.array([0, 2, 1, 2])
    lp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    ce = nn.CrossEntropyLoss()(gf.tensor(logits), gf.tensor(labels))
    np.testing.assert_allclose(ce.item(), -lp[np.arange(4), labels].mean(), rtol=1e-5)
    w = np.array([1.0, 2.0, 0.5], np.float32)
    ce_w = nn.CrossEntropyLoss(weight=gf.tensor(w), reduction="sum")(gf.tensor(logits), gf.tensor(labels))
    np.testing.assert_allclose(ce_w.item(), -(lp[np.arange(4), labels] * w[labels]).sum(), rtol=1e-5)
    nll = nn.NLLLoss(ignore_index=2)(gf.tensor(lp), gf.tensor(labels))
    np.testing.assert_allclose(nll.item(), -lp[[0, 2], [0, 1]].mean(), rtol=1e-5)
    a, b = rng.standard_normal((2, 5)).astype(np.float32), rng.standard_normal((2, 5)).astype(np.float32)
    np.testing.assert_allclose(nn.MSELoss()(gf.tensor(a), gf.tensor(b)).item(), ((a - b) ** 2).mean(), rtol=1e-5)
    np.testing.assert_allclose(nn.L1Loss(reduction="sum")(gf.tensor(a), gf.tensor(b)).item(), np.abs(a - b).sum(),
                               rtol=1e-5)
    d = np.abs(a - b)
    np.testing.assert_allclose(nn.SmoothL1Loss()(gf.tensor(a), gf.tensor(b)).item(),
                               np.where(d < 1, 0.5 * d * d, d - 0.5).mean(), rtol=1e-5)
    t = (b > 0).astype(np.float32)
    s = 1 / (1 + np.exp(-a))
    bce = -(t * np.log(s) + (1 - t) * np.log(1 - s)).mean()
    np.testing.assert_allclose(nn.BCEWithLogitsLoss()(gf.tensor(a), gf.tensor(t)).item(), bce, rtol=1e-5)
    np.testing.assert_allclose(nn.BCELoss()(gf.tensor(s), gf.tensor(t)).item(), bce, rtol=1e-5)
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


def test_cross_entropy_bad_labels_eager():
    x = gf.randn(3, 4)
    with pytest.raises(IndexError, match="target 4 is out of bounds for 4 classes"):
        F.cross_entropy(x, gf.tensor([0, 4, 1]))
    with pytest.raises(TypeError, match="integer dtype"):
        F.cross_entropy(x, gf.tensor([0.0, 1.0, 2.0]))
    ce = F.cross_entropy(x, gf.tensor([0, -100, 1]))
    assert math.isfinite(ce.item())


def test_init_functions():
    gf.manual_seed(9)
    w = gf.empty(300, 200)
    nn.init.xavier_uniform_(w)
    a = math.sqrt(6 / 500)
    assert np.abs(np_(w)).max() <= a and abs(np_(w).std() - a / math.sqrt(3)) < 0.02 * a
    nn.init.xavier_normal_(w, gain=2.0)
    assert abs(np_(w).std() - 2 * math.sqrt(2 / 500)) < 0.03 * 2 * math.sqrt(2 / 500)
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(np_(w).std() - math.sqrt(2 / 300)) < 0.03 * math.sqrt(2 / 300)
    nn.init.kaiming_uniform_(w, nonlinearity="relu")
    assert np.abs(np_(w)).max() <= math.sqrt(6 / 200)
    nn.init.trunc_normal_(w, std=0.5, a=-0.4, b=0.6)
    assert np_(w).min() >= -0.4 and np_(w).max() <= 0.6
    nn.init.zeros_(w)
    assert not np_(w).any()
    nn.init.ones_(w)
    assert np.all(np_(w) == 1)
    nn.init.constant_(w, 0.3)
    np.testing.assert_allclose(np_(w), 0.3)
    nn.init.normal_(w, 2.0, 0.1)
    assert abs(np_(w).mean() - 2.0) < 0.01
    nn.init.uniform_(w, -3, -2)
    assert np_(w).min() >= -3 and np_(w).max() < -2
    nn.init.eye_(w)
    np.testing.assert_array_equal(np_(w), np.eye(300, 200))
    nn.init.orthogonal_(w)
    np.testing.assert_allclose(np_(w).T @ np_(w), np.eye(200), atol=1e-4)
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(gf.empty(3))
    p = nn.Parameter(gf.empty(2, 2))
    nn.init.ones_(p)  # works on parameters that require grad (no_grad inside)
    assert p.is_leaf and p.requires_grad


def test_clip_grad_norm():
    p1, p2 = nn.Parameter(gf.zeros(3)), nn.Parameter(gf.zeros(2, 2))
    g1, g2 = np.array([3.0, 0.0, 4.0], np.float32), np.full((2, 2), 6.0, np.float32)
    p1.grad, p2.grad = gf.tensor(g1), gf.tensor(g2)
    total = math.sqrt(25 + 4 * 36)
    norm = nn.utils.clip_grad_norm_([p1, p2], max_norm=1.0)
    assert norm.item() == pytest.approx(total, rel=1e-6)
    coef = 1.0 / (total + 1e-6)
    np.testing.assert_allclose(np_(p1.grad), g1 * coef, rtol=1e-5)
    np.testing.assert_allclose(np_(p2.grad), g2 * coef, rtol=1e-5)
    p1.grad = gf.tensor(g1)
    assert nn.utils.clip_grad_norm_(p1, 10.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(np_(p1.grad), g1)  # under the limit: unchanged
    assert nn.utils.clip_grad_norm_([p1], 1.0, norm_type="inf").item() == pytest.approx(4.0)
    p1.grad = gf.tensor([float("nan"), 1.0, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([p1], 1.0, error_if_nonfinite=True)
    p2.grad = gf.tensor(g2)
    nn.utils.clip_grad_value_([p2], 2.5)
    np.testing.assert_allclose(np_(p2.grad), 2.5)
