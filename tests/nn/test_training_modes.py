"""The same training written once, run eagerly, compiled with gf.compile, and as a static graph
(module called on placeholders, optimizer.minimize): identical losses on a small run, and an MLP
on scikit-learn's digits reaching >= 97% test accuracy in each mode."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
import graphflow.nn as nn
import graphflow.nn.functional as F
import graphflow.optim as optim
import graphflow.static as tf
from graphflow.data import DataLoader, TensorDataset
from graphflow.nn.symbolic import sync_to_module
from tests.datasets import digits_split


def _small_model():
    gf.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Dropout(0.0), nn.Linear(16, 3))


def _small_data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((24, 5)).astype(np.float32), rng.integers(0, 3, 24)


def _eager_or_compiled(compiled: bool, steps: int = 6):
    model = _small_model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    x, y = _small_data()

    def step(xb, yb):
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb, label_smoothing=0.1)
        loss.backward()
        opt.step()
        return loss

    fn = gf.compile(step) if compiled else step
    losses = [float(fn(gf.tensor(x), gf.tensor(y)).item()) for _ in range(steps)]
    return losses, model


def _static(steps: int = 6):
    model = _small_model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    x, y = _small_data()
    tf.reset_default_graph()
    xp = tf.placeholder(gf.float32, [None, 5])
    yp = tf.placeholder(gf.int64, [None])
    loss = F.cross_entropy(model(xp), yp, label_smoothing=0.1)
    train = opt.minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        losses = [float(sess.run([loss, train], {xp: x, yp: y})[0]) for _ in range(steps)]
        sync_to_module(sess)
    return losses, model


def test_same_losses_in_every_mode():
    eager, m_eager = _eager_or_compiled(False)
    compiled, m_compiled = _eager_or_compiled(True)
    static, m_static = _static()
    assert eager[-1] < eager[0]
    np.testing.assert_allclose(compiled, eager, rtol=1e-5)
    np.testing.assert_allclose(static, eager, rtol=1e-5)
    for other in (m_compiled, m_static):  # parameters and running statistics end up the same
        for (name, a), (_, b) in zip(m_eager.state_dict().items(), other.state_dict().items()):
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


def test_static_module_uses_variables_not_constants():
    model = _small_model()
    tf.reset_default_graph()
    xp = tf.placeholder(gf.float32, [None, 5])
    out = model(xp)
    names = {v.op_name for v in tf.trainable_variables()}
    assert len(tf.trainable_variables()) == 6 and any("Linear/weight" in n for n in names)
    assert len(tf.global_variables()) == 9  # + running_mean, running_var, num_batches_tracked
    model(xp)  # calling again reuses the same variables
    assert len(tf.global_variables()) == 9
    model.eval()
    x, _ = _small_data()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(model(xp), {xp: x})
    np.testing.assert_allclose(got, model(gf.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert tuple(out.shape)[1] == 3


@pytest.fixture(scope="module")
def digits():
    return digits_split(1400)


def _mlp():
    gf.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def _loader(X, y):
    return DataLoader(TensorDataset(gf.tensor(X), gf.tensor(y)), batch_size=128, shuffle=True, drop_last=True,
                      generator=gf.Generator().manual_seed(0))


def _accuracy(model, X, y):
    model.eval()
    with gf.no_grad():
        return float((model(gf.tensor(X)).argmax(1).numpy() == y).mean())


EPOCHS = 12


@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_digits_mlp_eager_and_compiled(digits, mode):
    Xtr, ytr, Xte, yte = digits
    model = _mlp()
    opt = optim.Adam(model.parameters(), lr=1e-2)

    def step(xb, yb):
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    fn = gf.compile(step) if mode == "compiled" else step
    for _ in range(EPOCHS):
        for xb, yb in _loader(Xtr, ytr):
            fn(xb, yb)
    assert _accuracy(model, Xte, yte) >= 0.97


def test_digits_mlp_static(digits):
    Xtr, ytr, Xte, yte = digits
    model = _mlp()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    tf.reset_default_graph()
    xp = tf.placeholder(gf.float32, [None, 64])
    yp = tf.placeholder(gf.int64, [None])
    train = opt.minimize(F.cross_entropy(model(xp), yp))
    predict = model(xp).argmax(1)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(EPOCHS):
            for xb, yb in _loader(Xtr, ytr):
                sess.run(train, {xp: xb.numpy(), yp: yb.numpy()})
        static_acc = float((sess.run(predict, {xp: Xte}) == yte).mean())
        sync_to_module(sess)
    assert static_acc >= 0.97
    assert _accuracy(model, Xte, yte) == pytest.approx(static_acc)  # the module holds the trained values
