"""Static gradients are taken of the stabilised forward graph: naive formulas (log of a softmax,
log of a sigmoid, log(1 + exp)) get finite, correct gradients for logits of +-1000, in
`gradients` and in `minimize`, with symbolic batch sizes; the user's own nodes are untouched."""

import numpy as np

import graphflow as gf
import graphflow.static as tf
from graphflow.static.stable_grad import stabilized, stable_grad

LOGITS = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 0.0, 1000.0], [0.5, -0.25, 2.0]], np.float32)
LABELS = np.array([0, 0, 2])


def _log_softmax(a):
    shifted = a - a.max(1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(1, keepdims=True))


def _softmax(a):
    return np.exp(_log_softmax(a))


def _naive_log_softmax(z):
    return tf.log(tf.exp(z) / tf.reduce_sum(tf.exp(z), 1, keepdims=True))


def test_gradients_of_naive_log_softmax_are_finite():
    x = tf.placeholder(tf.float32, [None, 3])
    onehot = tf.placeholder(tf.float32, [None, 3])
    loss = -tf.reduce_sum(_naive_log_softmax(x) * onehot)
    gx, = tf.gradients(loss, [x])
    eye = np.eye(3, dtype=np.float32)[LABELS]
    with tf.Session() as sess:
        value, grad = sess.run([loss, gx], {x: LOGITS, onehot: eye})
    sm = _softmax(LOGITS.astype(np.float64))
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(value, -_log_softmax(LOGITS.astype(np.float64))[np.arange(3), LABELS].sum(), rtol=1e-5)
    np.testing.assert_allclose(grad, sm - eye, rtol=1e-5, atol=1e-6)


def test_gradients_of_naive_log_sigmoid_and_softplus():
    x = tf.placeholder(tf.float32, [None])
    bce = -(tf.log(tf.sigmoid(x)) + tf.log(1.0 - tf.sigmoid(x)))  # both halves at once
    softplus = tf.log(1.0 + tf.exp(x))
    g_bce, g_sp = tf.gradients(tf.reduce_sum(bce), x)[0], tf.gradients(tf.reduce_sum(softplus), x)[0]
    xs = np.array([-1000.0, -20.0, 0.0, 3.0, 1000.0], np.float32)
    with tf.Session() as sess:
        a, b = sess.run([g_bce, g_sp], {x: xs})
    s = np.exp(-np.logaddexp(0.0, -xs.astype(np.float64)))  # sigmoid without overflow
    np.testing.assert_allclose(a, -(1 - s) + s, rtol=1e-5, atol=1e-6)  # d/dx[-log s - log(1-s)] = 2s - 1
    np.testing.assert_allclose(b, s, rtol=1e-5, atol=1e-6)


def test_minimize_with_a_naive_loss_stays_finite():
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.placeholder(tf.int64, [None])
    w = tf.Variable(np.eye(3, dtype=np.float32) * 10)
    z = x @ w
    onehot = tf.cast(tf.equal(tf.expand_dims(y, 1), tf.constant(np.arange(3))), tf.float32)
    loss = -tf.reduce_mean(tf.reduce_sum(_naive_log_softmax(z) * onehot, 1))
    train = tf.train.GradientDescentOptimizer(1e-3).minimize(loss)
    xs = LOGITS / 10
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(loss, {x: xs, y: LABELS})
        for _ in range(3):
            sess.run(train, {x: xs, y: LABELS})
        w_new, after = sess.run([w, loss], {x: xs, y: LABELS})
    assert np.all(np.isfinite(w_new)) and np.isfinite(after) and after < before


def test_minimize_with_gf_optim_and_a_module_on_naive_loss():
    gf.manual_seed(0)
    model = gf.nn.Linear(3, 3)
    with gf.no_grad():
        model.weight.copy_(gf.tensor(np.eye(3, dtype=np.float32) * 100))
    x = tf.placeholder(tf.float32, [None, 3])
    onehot = tf.placeholder(tf.float32, [None, 3])
    loss = -tf.reduce_mean(tf.reduce_sum(_naive_log_softmax(model(x)) * onehot, 1))
    train = gf.optim.SGD(model.parameters(), lr=1e-4).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {x: LOGITS / 100, onehot: np.eye(3, dtype=np.float32)[LABELS]})
    assert np.all(np.isfinite(model.weight.detach().numpy()))
    assert not np.allclose(model.weight.detach().numpy(), np.eye(3) * 100)


def test_user_nodes_are_left_alone():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    ls = tf.identity(_naive_log_softmax(x), name="ls")
    nodes_before = {id(n) for n in gf.ir.graph.toposort([ls.node])}
    gx, = tf.gradients(tf.reduce_sum(ls), [x])
    assert tf.get_default_graph().get("ls") is not None
    assert ls.node.op.name == "reshape" and {id(n) for n in gf.ir.graph.toposort([ls.node])} == nodes_before
    with tf.Session() as sess:
        got = sess.run(ls, {x: LOGITS})
    np.testing.assert_allclose(got, _log_softmax(LOGITS.astype(np.float64)), rtol=1e-5)  # finite: the pipeline
    # stabilises the forward value too


def test_stable_grad_keeps_the_xs_and_the_stops():
    from graphflow.ir.bind import bind, make_node
    from graphflow.ir.dtypes import float64
    from graphflow.ir.registry import get_op

    a = make_node(get_op("input"), (), {"name": "a", "dtype": float64, "shape": (2,)})
    h = bind("exp", a)  # an intermediate x: the rewrite must not replace it
    y = bind("reduce_sum", bind("log", bind("div", h, bind("broadcast_to", bind("reduce_sum", h, axes=(0,),
                                                                                    keepdims=True), shape=(2,)))),
             axes=None)
    assert stabilized([y], [a])[0] is not y  # log(exp(a) / sum(exp(a))) is rewritten ...
    assert stabilized([y], [h])[0] is y  # ... but not through h, when h is kept
    gh, ga = stable_grad([y], [h, a])  # so the gradient is with respect to h itself
    assert gh is not None and ga is not None
    stop = bind("reshape", a, shape=(2,))
    assert stable_grad([bind("reduce_sum", bind("mul", stop, a), axes=None)], [a], stop=[stop])[0] is not None
    assert stable_grad([bind("reduce_sum", bind("exp", stop), axes=None)], [a], stop=[stop]) == [None]
