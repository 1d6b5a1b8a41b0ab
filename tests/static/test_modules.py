"""`nn.Module`s called on static placeholders: parameters become variables (not constants), the
variables start from the module's current values, and every `Session.run` that trains them
writes the new values back into the module's own tensors (`state_dict()` follows training)."""

import numpy as np
import pytest

import graphflow as gf
import graphflow.nn as nn
import graphflow.nn.functional as F
import graphflow.static as tf
from tests.datasets import digits_split


def _mlp(n_in=64, hidden=32, n_out=10):
    gf.manual_seed(0)
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


def _state(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def digits():
    return digits_split(1200)


def test_mlp_trained_in_a_session_learns_and_updates_the_module(digits):
    Xtr, ytr, Xte, yte = digits
    model = _mlp()
    initial = _state(model)
    x = tf.placeholder(tf.float32, [None, 64])
    y = tf.placeholder(tf.int64, [None])
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    train = gf.optim.Adam(model.parameters(), lr=1e-2).minimize(loss)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
    weights = [v for v in tf.trainable_variables() if "weight" in v.op_name]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert all(np.array_equal(_state(model)[k], initial[k]) for k in initial)  # init changed nothing
        losses = []
        rng = np.random.default_rng(1)
        for _ in range(6):
            for idx in np.array_split(rng.permutation(len(Xtr)), 10):
                losses.append(float(sess.run([loss, train], {x: Xtr[idx], y: ytr[idx]})[0]))
            # no explicit sync: the module holds exactly what the session trained
            for v in weights:
                np.testing.assert_array_equal(sess.run(v), v._gf_module_tensor().detach().numpy())
        static_acc = float(sess.run(accuracy, {x: Xte, y: yte}))
    assert losses[-1] < 0.3 * losses[0]
    assert static_acc >= 0.9
    trained = _state(model)
    assert all(not np.allclose(trained[k], initial[k]) for k in initial)  # every parameter moved
    with gf.no_grad():  # the eager module, with its own (trained) parameters, agrees with the graph
        eager_acc = float((model(gf.tensor(Xte)).argmax(1).numpy() == yte).mean())
    assert eager_acc == pytest.approx(static_acc)


def test_parameters_are_variables_not_constants():
    model = _mlp(5, 4, 3)
    x = tf.placeholder(tf.float32, [None, 5])
    out = model(x)
    names = sorted(v.op_name for v in tf.trainable_variables())
    assert len(names) == 4 and all("weight" in n or "bias" in n for n in names)
    from graphflow.ir.graph import toposort

    ops = [n.op.name for n in toposort([out.node])]
    assert "constant" not in [n.op.name for n in toposort([out.node]) if tuple(n.shape) in ((4, 5), (3, 4))]
    assert ops.count("variable") == 4
    model(x)  # a second call reuses the variables
    assert len(tf.trainable_variables()) == 4


def test_initializer_takes_the_module_value_when_it_runs():
    model = nn.Linear(3, 2)
    x = tf.placeholder(tf.float32, [None, 3])
    out = model(x)
    with gf.no_grad():  # changed after the graph was built, before the initializer runs
        model.weight.copy_(gf.tensor(np.arange(6, dtype=np.float32).reshape(2, 3)))
        model.bias.fill_(0.5)
    xs = np.array([[1.0, 0.0, -1.0]], np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(out, {x: xs})
    np.testing.assert_allclose(got, xs @ np.arange(6).reshape(2, 3).T + 0.5, rtol=1e-6)


def test_gradient_descent_step_written_back_exactly():
    model = nn.Linear(2, 1)
    w0, b0 = model.weight.detach().numpy().copy(), model.bias.detach().numpy().copy()
    x = tf.placeholder(tf.float32, [None, 2])
    t = tf.placeholder(tf.float32, [None, 1])
    loss = tf.reduce_mean(tf.square(model(x) - t))
    step = gf.optim.SGD(model.parameters(), lr=0.1).minimize(loss)
    xs = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, 3.0]], np.float32)
    ts = np.array([[1.0], [0.0], [2.0]], np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(step, {x: xs, t: ts})
        r = xs @ w0.T + b0 - ts  # one hand-computed step of mean squared error
        np.testing.assert_allclose(model.weight.detach().numpy(), w0 - 0.1 * 2 * r.T @ xs / 3, rtol=1e-5)
        np.testing.assert_allclose(model.bias.detach().numpy(), b0 - 0.1 * 2 * r.sum(0) / 3, rtol=1e-5)


def test_batchnorm_statistics_follow_training_runs():
    gf.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    x = tf.placeholder(tf.float32, [None, 3])
    train = gf.optim.SGD(model.parameters(), lr=0.01).minimize(model(x).square().mean())
    xs = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {x: xs})
    bn = model[1]
    assert int(bn.num_batches_tracked.item()) == 1
    assert not np.allclose(bn.running_mean.numpy(), 0)


def test_saver_restore_writes_into_the_module(tmp_path):
    model = nn.Linear(3, 2)
    model(tf.placeholder(tf.float32, [None, 3]))
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "ckpt"))
    saved = _state(model)
    with gf.no_grad():
        model.weight.zero_()
    with tf.Session() as sess:
        saver.restore(sess, path)
    np.testing.assert_array_equal(model.weight.detach().numpy(), saved["weight"])
