"""TF1-style programs run through Session."""

import collections

import numpy as np
import pytest

import graphflow as gf
import graphflow.static as tf
from graphflow.nn import functional as F


def test_names_scopes_and_lookup():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.Variable(np.ones((3, 2), np.float32), name="W")
    with tf.name_scope("dense"):
        a = x @ w
        b = tf.matmul(x, w)
    with tf.name_scope("dense"):
        c = gf.ops.matmul(x, w) if hasattr(gf, "ops") else tf.matmul(x, w)
    assert (a.name, b.name) == ("dense/MatMul:0", "dense/MatMul_1:0")
    assert c.name == "dense_1/MatMul:0"
    assert x.name == "x:0" and w.name == "W:0"
    g = tf.get_default_graph()
    assert g.get_tensor_by_name("dense/MatMul:0") is a
    assert tf.global_variables() == [w] and tf.trainable_variables() == [w]
    v2 = tf.Variable(0.0, trainable=False)
    assert tf.global_variables() == [w, v2] and tf.trainable_variables() == [w]
    assert v2.dtype is gf.float32


def test_same_ops_as_eager_on_symbolic_tensors():
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    w = tf.Variable(np.arange(8, dtype=np.float32).reshape(4, 2) / 8)
    h = F.relu(x @ w - 0.5)
    s = h.sum(1)
    p = tf.nn.softmax(h)
    m = tf.reduce_mean(h, axis=0, keepdims=True)
    xv = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        hv, sv, pv, mv = sess.run([h, s, p, m], {x: xv})
    ref = np.maximum(xv @ (np.arange(8, dtype=np.float32).reshape(4, 2) / 8) - 0.5, 0)
    np.testing.assert_allclose(hv, ref, rtol=1e-6)
    np.testing.assert_allclose(sv, ref.sum(1), rtol=1e-6)
    e = np.exp(ref - ref.max(1, keepdims=True))
    np.testing.assert_allclose(pv, e / e.sum(1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(mv, ref.mean(0, keepdims=True), rtol=1e-6)


def test_nested_fetches_keep_their_structure():
    Pair = collections.namedtuple("Pair", "a b")
    x = tf.placeholder(tf.float32, [2], name="x")
    y = x * 2.0
    z = x + 1.0
    noop = tf.no_op()
    with tf.Session() as sess:
        out = sess.run({"p": Pair(y, [z, (y, noop)]), "q": z, "r": "x:0"}, feed_dict={"x": [1.0, 2.0]})
    assert isinstance(out, dict) and isinstance(out["p"], Pair)
    np.testing.assert_array_equal(out["p"].a, [2, 4])
    assert isinstance(out["p"].b, list) and isinstance(out["p"].b[1], tuple)
    np.testing.assert_array_equal(out["p"].b[0], [2, 3])
    assert out["p"].b[1][1] is None
    np.testing.assert_array_equal(out["r"], [1, 2])


def test_feeding_an_intermediate_tensor_cuts_the_graph():
    x = tf.placeholder(tf.float32, [3], name="x")
    h = tf.exp(x)
    y = h * 2.0
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {h: np.ones(3, np.float32)}), [2, 2, 2])


def test_runs_are_cached_per_fetches_and_feed_shapes():
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    y = tf.reduce_sum(x * x, axis=1)
    with tf.Session() as sess:
        for n in (3, 3, 5, 3):
            np.testing.assert_allclose(sess.run(y, {x: np.ones((n, 2))}), np.full(n, 2.0))
        assert len(sess._executables) == 2 and len(sess._plans) == 1


def test_control_dependencies_order_reads_after_assignments():
    v = tf.Variable(1.0, name="v")
    before = v.value()  # a read no assignment is ordered before: sees the run's snapshot
    inc = v.assign_add(10.0)
    with tf.control_dependencies([inc]):
        after = tf.identity(v)  # ordered after the increment
        doubled = v.assign(v * 2.0)  # reads the incremented value
    with tf.Session() as sess:
        sess.run(v.initializer)
        b, a = sess.run([before, after])
        assert (b, a) == (1.0, 11.0)
        assert sess.run(v) == 11.0
        assert sess.run(doubled) == 42.0  # (11 + 10) * 2: the chain runs in order
        assert sess.run(v) == 42.0
        b, d = sess.run([before, doubled])
        assert (b, d) == (42.0, 104.0)


def test_group_runs_all_updates_from_one_snapshot():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    swap = tf.group(a.assign(b), b.assign(a))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(swap) is None
        assert sess.run([a, b]) == [2.0, 1.0]


def test_fetched_arrays_do_not_alias_the_variable_store():
    v = tf.Variable(np.zeros(3, np.float32))
    with tf.Session() as sess:
        sess.run(v.initializer)
        got = sess.run(v)
        got[0] = 5.0
        np.testing.assert_array_equal(sess.run(v), np.zeros(3))


def test_random_ops_change_every_run_and_have_the_right_moments():
    r = tf.random_normal([20000], mean=1.0, stddev=2.0)
    t = tf.truncated_normal([20000])
    u = tf.random_uniform([4], minval=-1.0, maxval=1.0)
    with tf.Session() as sess:
        rv, tv, u1 = sess.run([r, t, u])
        u2 = sess.run(u)
    assert abs(rv.mean() - 1.0) < 0.06 and abs(rv.std() - 2.0) < 0.06
    assert np.abs(tv).max() <= 2.0 and 0.8 < tv.std() < 0.9  # std of N(0,1) truncated at 2: 0.88
    assert not np.array_equal(u1, u2) and u1.min() >= -1 and u1.max() < 1


def test_gradients_none_for_unconnected_and_grad_ys():
    x = tf.placeholder(tf.float32, [3], name="x")
    w = tf.Variable(np.array([1.0, 2.0, 3.0], np.float32))
    u = tf.Variable(np.zeros(3, np.float32))
    y = w * x
    gw, gu, gx = tf.gradients(y, [w, u, x], grad_ys=[tf.constant([1.0, 10.0, 100.0])])
    assert gu is None
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        gwv, gxv = sess.run([gw, gx], {x: [4.0, 5.0, 6.0]})
    np.testing.assert_allclose(gwv, [4, 50, 600])
    np.testing.assert_allclose(gxv, [1, 20, 300])


def test_linear_regression_with_minimize_converges():
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(64, 3)).astype(np.float32)
    true_w = np.array([[1.5], [-2.0], [0.5]], np.float32)
    ys = xs @ true_w + 0.3
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    w = tf.Variable(tf.zeros([3, 1]), name="w")
    b = tf.Variable(0.0, name="b")
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
    step = tf.train.get_or_create_global_step()
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=step)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss, {x: xs, y: ys})
        for _ in range(200):
            sess.run(train, {x: xs, y: ys})
        last, wv, bv, sv = sess.run([loss, w, b, step], {x: xs, y: ys})
    assert first > 1.0 and last < 1e-6
    np.testing.assert_allclose(wv, true_w, atol=1e-3)
    assert abs(bv - 0.3) < 1e-3 and sv == 200


def _mlp_data():
    rng = np.random.default_rng(1)
    centers = np.array([[2, 0], [-2, 0], [0, 2.5]], np.float32)
    labels = rng.integers(0, 3, size=150)
    xs = (centers[labels] + rng.normal(scale=0.6, size=(150, 2))).astype(np.float32)
    return xs, labels.astype(np.int64)


@pytest.mark.parametrize("opt", ["sgd", "momentum", "adam"])
def test_mlp_classifier_learns(opt):
    xs, labels = _mlp_data()
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    t = tf.placeholder(tf.int64, [None], name="labels")
    with tf.name_scope("hidden"):
        w1 = tf.Variable(tf.truncated_normal([2, 16], stddev=0.5), name="w")
        b1 = tf.Variable(tf.zeros([16]), name="b")
        h = tf.nn.relu(x @ w1 + b1)
    with tf.name_scope("out"):
        w2 = tf.Variable(tf.truncated_normal([16, 3], stddev=0.5), name="w")
        b2 = tf.Variable(tf.zeros([3]), name="b")
        logits = h @ w2 + b2
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=t, logits=logits))
    acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), t), tf.float32))
    optimizer = {"sgd": tf.train.GradientDescentOptimizer(0.5),
                 "momentum": tf.train.MomentumOptimizer(0.1, 0.9),
                 "adam": tf.train.AdamOptimizer(0.05)}[opt]
    train = optimizer.minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(60):
            sess.run(train, {x: xs, t: labels})
        lv, av = sess.run((loss, acc), {x: xs, t: labels})
    assert lv < 0.25 and av > 0.93


def test_optimizer_rules_match_tf1_formulas():
    g_val = np.array([0.5, -1.0], np.float32)
    for make, ref in [
        (lambda: tf.train.MomentumOptimizer(0.1, 0.9), "momentum"),
        (lambda: tf.train.AdamOptimizer(0.01), "adam"),
    ]:
        tf.reset_default_graph()
        v = tf.Variable(np.array([1.0, 2.0], np.float32))
        c = tf.constant(g_val)
        loss = tf.reduce_sum(v * c)  # gradient == g_val
        step = make().minimize(loss)
        p = np.array([1.0, 2.0], np.float32)
        m = np.zeros(2, np.float32)
        s = np.zeros(2, np.float32)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for k in range(1, 4):
                sess.run(step)
                if ref == "momentum":
                    m = 0.9 * m + g_val
                    p = p - 0.1 * m
                else:
                    m = 0.9 * m + 0.1 * g_val
                    s = 0.999 * s + 0.001 * g_val * g_val
                    lr_t = 0.01 * np.sqrt(1 - 0.999 ** k) / (1 - 0.9 ** k)
                    p = p - lr_t * m / (np.sqrt(s) + 1e-8)
                np.testing.assert_allclose(sess.run(v), p, rtol=1e-5)


def test_saver_round_trip(tmp_path):
    w = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="w")
    n = tf.Variable(np.int64(7), name="n")
    saver = tf.train.Saver()
    path = str(tmp_path / "model.gf")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(w.assign(w * 10.0))
        assert saver.save(sess, path) == path
    with tf.Session() as sess:
        saver.restore(sess, path)  # no initializer needed
        np.testing.assert_array_equal(sess.run(w), np.arange(6).reshape(2, 3) * 10)
        assert sess.run(n) == 7
    from graphflow import io as gio

    arrays = gio.load_arrays(path)
    assert set(arrays) == {"w", "n"} and arrays["n"].dtype == np.int64
    # a Saver for another program with different shapes refuses the file
    tf.reset_default_graph()
    tf.Variable(np.zeros(4, np.float32), name="w")
    tf.Variable(np.int64(0), name="n")
    with tf.Session() as sess, pytest.raises(ValueError, match="'w' in the file is float32"):
        tf.train.Saver().restore(sess, path)


def test_damaged_file_raises(tmp_path):
    from graphflow import io as gio

    p = tmp_path / "bad"
    p.write_bytes(b"\xff" * 32)
    with pytest.raises(gio.FormatError, match="not a graphflow file"):
        gio.load_arrays(p)


def test_dropout_is_scaled_and_fresh_every_run():
    x = tf.placeholder(tf.float32, [1000], name="x")
    d = tf.nn.dropout(x, rate=0.25)
    with tf.Session() as sess:
        a = sess.run(d, {x: np.ones(1000, np.float32)})
        b = sess.run(d, {x: np.ones(1000, np.float32)})
    assert set(np.unique(a)) <= {0.0, np.float32(1 / 0.75)}
    assert 0.2 < (a == 0).mean() < 0.3 and not np.array_equal(a, b)


def test_softmax_cross_entropy_with_logits_matches_numpy():
    logits = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], np.float32)
    labels = np.array([[0.2, 0.7, 0.1], [0.0, 0.0, 1.0]], np.float32)
    lab = tf.placeholder(tf.float32, [None, 3])
    z = tf.placeholder(tf.float32, [None, 3])
    ce = tf.nn.softmax_cross_entropy_with_logits(labels=lab, logits=z)
    with tf.Session() as sess:
        got = sess.run(ce, {lab: labels, z: logits})
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    np.testing.assert_allclose(got, -(labels * logp).sum(1), rtol=1e-6)
