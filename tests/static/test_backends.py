"""A static training program gives the NumPy transcription's losses on every CPU backend (the
`backend` fixture of conftest.py)."""

import numpy as np

import graphflow.static as tf


def test_training_program_on_backend(backend):
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(17, 3)).astype(np.float32)
    ys = (xs @ np.array([[1.0], [-1.0], [2.0]], np.float32)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    w = tf.Variable(np.zeros((3, 1), np.float32))
    v = tf.Variable(0.0)
    loss = tf.reduce_mean(tf.square(x @ w - y))
    train = tf.train.AdamOptimizer(0.1).minimize(loss)
    with tf.control_dependencies([train]):
        count = v.assign_add(1.0)
    losses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(5):
            losses.append(sess.run([loss, count], {x: xs, y: ys}))
    # NumPy transcription of the same five Adam steps (TF1's epsilon-hat form)
    wn, m, s = np.zeros((3, 1)), np.zeros((3, 1)), np.zeros((3, 1))
    expected = []
    for t in range(1, 6):
        r = xs @ wn - ys
        expected.append((np.mean(r ** 2), float(t)))
        g = 2 * xs.T @ r / r.size
        m = 0.9 * m + 0.1 * g
        s = 0.999 * s + 0.001 * g * g
        wn = wn - 0.1 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (np.sqrt(s) + 1e-8)
    np.testing.assert_allclose(np.array(losses, np.float64), np.array(expected), rtol=1e-5)
