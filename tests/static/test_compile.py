"""gf.compile against eager mode, and the same model in eager, static and compiled modes."""

import numpy as np
import pytest
from static_helpers import here

import graphflow as gf
import graphflow.static as tf
from graphflow.compile import TraceError
from graphflow.nn import functional as F
from graphflow.optim.functional import sgd_update


def _data():
    rng = np.random.default_rng(3)
    xs = rng.normal(size=(32, 4)).astype(np.float32)
    labels = (xs[:, 0] + 0.5 * xs[:, 1] > 0).astype(np.int64) + (xs[:, 2] > 1).astype(np.int64)
    w1 = (rng.normal(size=(4, 8)) * 0.5).astype(np.float32)
    w2 = (rng.normal(size=(8, 3)) * 0.5).astype(np.float32)
    return xs, labels, w1, w2


LR, MOMENTUM, STEPS = 0.2, 0.9, 5


def _eager_params(w1, w2):
    params = [gf.tensor(w1, requires_grad=True), gf.tensor(np.zeros(8, np.float32), requires_grad=True),
              gf.tensor(w2, requires_grad=True), gf.tensor(np.zeros(3, np.float32), requires_grad=True)]
    bufs = [gf.zeros(p.shape) for p in params]
    return params, bufs


def _make_step(params, bufs):
    def train_step(x, y):
        for p in params:  # zero_grad (set to None, as PyTorch)
            p.grad = None
        w1, b1, w2, b2 = params
        logits = F.relu(x @ w1 + b1) @ w2 + b2
        loss = F.cross_entropy(logits, y)
        loss.backward()
        with gf.no_grad():
            for p, buf in zip(params, bufs):
                new = sgd_update(p, p.grad, buf, lr=LR, momentum=MOMENTUM)
                p.copy_(new.param)
                buf.copy_(new.momentum_buffer)
        return loss

    return train_step


def _eager_losses():
    xs, labels, w1, w2 = _data()
    params, bufs = _eager_params(w1, w2)
    step = _make_step(params, bufs)
    x, y = gf.tensor(xs), gf.tensor(labels)
    return [float(step(x, y).item()) for _ in range(STEPS)], [p.detach().numpy().copy() for p in params]


def _compiled_losses():
    xs, labels, w1, w2 = _data()
    params, bufs = _eager_params(w1, w2)
    step = gf.compile(_make_step(params, bufs))
    x, y = gf.tensor(xs), gf.tensor(labels)
    losses = [float(step(x, y).item()) for _ in range(STEPS)]
    assert step.traces == 2  # once with .grad unset (first call), once with it set
    # parameters, momentum buffers and .grad were updated in place, as eager mode does
    assert all(p.grad is not None and p.grad.shape == p.shape for p in params)
    assert float(np.abs(bufs[0].numpy()).sum()) > 0
    return losses, [p.detach().numpy().copy() for p in params]


def _static_losses():
    xs, labels, w1, w2 = _data()
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    y = tf.placeholder(tf.int64, [None], name="y")
    W1, W2 = tf.Variable(w1), tf.Variable(w2)
    b1, b2 = tf.Variable(tf.zeros([8])), tf.Variable(tf.zeros([3]))
    logits = tf.nn.relu(x @ W1 + b1) @ W2 + b2
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train = tf.train.MomentumOptimizer(LR, MOMENTUM).minimize(loss)
    losses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(STEPS):
            lv, _ = sess.run([loss, train], {x: xs, y: labels})
            losses.append(float(lv))
        final = sess.run([W1, b1, W2, b2])
    return losses, final


def test_same_model_eager_static_and_compiled_give_the_same_losses():
    eager, pe = _eager_losses()
    compiled, pc = _compiled_losses()
    static, ps = _static_losses()
    assert eager[-1] < eager[0]
    np.testing.assert_allclose(compiled, eager, rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(static, eager, rtol=2e-6, atol=1e-6)
    for a, b, c in zip(pe, pc, ps):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(c, a, rtol=1e-5, atol=1e-6)


def test_compile_caches_by_signature_and_retraces():
    w = gf.tensor(np.arange(6, dtype=np.float32).reshape(3, 2))

    def f(x, scale):
        return (x @ w).sum(1) * scale

    cf = gf.compile(f)
    x3 = gf.tensor(np.ones((3, 3), np.float32))
    np.testing.assert_allclose(cf(x3, 2.0).numpy(), (np.ones((3, 3)) @ w.numpy()).sum(1) * 2)
    cf(x3, 2.0)
    assert cf.traces == 1
    cf(gf.tensor(np.ones((5, 3), np.float32)), 2.0)  # new shape
    cf(x3, 3.0)  # a Python argument is part of the signature
    cf(gf.tensor(np.ones((3, 3), np.float64)), 2.0)  # new dtype
    assert cf.traces == 4
    with gf.no_grad():
        cf(x3, 2.0)  # grad mode is part of the signature
    assert cf.traces == 5
    # a captured tensor changed eagerly between calls is read afresh (state, not a constant)
    with gf.no_grad():
        w.mul_(2.0)
    np.testing.assert_allclose(cf(x3, 2.0).numpy(), (np.ones((3, 3)) @ w.numpy()).sum(1) * 2)


def test_compiled_function_returns_structures():
    def f(a, b):
        return {"sum": a + b, "pair": (a * b, 7)}

    out = gf.compile(f)(gf.tensor([1.0, 2.0]), gf.tensor([3.0, 4.0]))
    np.testing.assert_allclose(out["sum"].numpy(), [4, 6])
    np.testing.assert_allclose(out["pair"][0].numpy(), [3, 8])
    assert out["pair"][1] == 7


def test_data_dependent_control_flow_cannot_be_traced():
    def f(x):
        if x.sum() > 0:
            return x
        return -x

    line = here() - 4
    with pytest.raises(TraceError) as err:
        gf.compile(f)(gf.tensor([1.0, 2.0]))
    msg = str(err.value)
    assert "cannot trace bool()" in msg and f"{__file__}:{line}" in msg

    def g(x):
        return x * x.max().item()

    with pytest.raises(TraceError, match=r"tensor\.item\(\)"):
        gf.compile(g)(gf.tensor([1.0, 2.0]))


def test_tracing_leaves_no_side_effects_before_the_compiled_run():
    p = gf.tensor(np.ones(3, np.float32), requires_grad=True)

    def step(x):
        loss = (p * x).sum()
        loss.backward()
        with gf.no_grad():
            p.sub_(p.grad)
        return loss

    cs = gf.compile(step)
    out = cs(gf.tensor([1.0, 2.0, 3.0]))
    assert float(out.item()) == 6.0
    np.testing.assert_allclose(p.detach().numpy(), [0, -1, -2])  # applied once, by the compiled run
    np.testing.assert_allclose(p.grad.numpy(), [1, 2, 3])
    cs(gf.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(p.grad.numpy(), [2, 4, 6])  # .grad accumulates across calls, as eager
    np.testing.assert_allclose(p.detach().numpy(), [-2, -5, -8])


@pytest.mark.parametrize("make_opt", [
    lambda ps: gf.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: gf.optim.Adam(ps, lr=0.05),
], ids=["sgd-nesterov", "adam"])
def test_compiled_training_step_with_gf_optim_matches_eager(make_opt):
    xs, labels, w1, w2 = _data()
    runs = []
    for compiled in (False, True):
        params, _ = _eager_params(w1, w2)
        opt = make_opt(params)

        def step(x, y, params=params, opt=opt):
            opt.zero_grad()
            w1_, b1, w2_, b2 = params
            loss = F.cross_entropy(F.relu(x @ w1_ + b1) @ w2_ + b2, y)
            loss.backward()
            opt.step()
            return loss

        fn = gf.compile(step) if compiled else step
        x, y = gf.tensor(xs), gf.tensor(labels)
        losses = [float(fn(x, y).item()) for _ in range(STEPS)]
        state = [np.asarray(v.numpy()).copy() for s in opt.state.values() for v in s.values()
                 if hasattr(v, "numpy")]
        runs.append((losses, [p.detach().numpy().copy() for p in params], state))
        if compiled:
            assert fn.traces <= 2
    (le, pe, se), (lc, pc, sc) = runs
    assert le[-1] < le[0]
    np.testing.assert_allclose(lc, le, rtol=2e-6, atol=1e-6)
    for a, b in zip(pe + se, pc + sc):
        # Adam's m / sqrt(v) amplifies float32 rounding where a gradient is near zero: 1e-4 of a step
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=5e-6)
