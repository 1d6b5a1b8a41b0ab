"""tf.reshape with a target shape built from tf.shape(...) parts and constants (TF1's
`tf.reshape(x, [tf.shape(x)[0], -1])`): known while the graph is built, the unknown batch size
kept symbolic, so one graph runs at every fed batch size; shapes that depend on fed values, or
arithmetic an unknown size cannot express, raise a clear error."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow.static as tf
from graphflow.errors import ShapeError


def _shapes(x):
    s = tf.shape(x)
    return {
        "batch, -1": ([s[0], -1], (12,)),
        "-1, product": ([-1, s[1] * s[2]], (12,)),
        "stacked": (tf.stack([s[0], 12]), (12,)),
        "permuted sizes": ([s[0], s[2], s[1]], (3, 4)),
        "whole shape": (s, (4, 3)),
        "slice of the shape and a constant": (tf.concat([s[:1], tf.constant([6, 2])], 0), (6, 2)),
    }


@pytest.mark.parametrize("case", list(_shapes(tf.placeholder(tf.float32, [None, 4, 3]))))
def test_reshape_to_shapes_from_tf_shape(case):
    x = tf.placeholder(tf.float32, [None, 4, 3])
    target, rest = _shapes(x)[case]
    y = tf.reshape(x, target)
    assert tuple(y.shape[1:]) == rest and str(y.shape[0]) == str(x.shape[0])
    with tf.Session() as sess:
        for batch in (1, 5):
            data = np.arange(batch * 12, dtype=np.float32).reshape(batch, 4, 3)
            np.testing.assert_array_equal(sess.run(y, {x: data}), data.reshape((batch,) + rest))


def test_gradient_through_such_a_reshape():
    x = tf.placeholder(tf.float64, [None, 2, 2])
    y = tf.reshape(x, [tf.shape(x)[0], -1])
    (g,) = tf.gradients(tf.reduce_sum(y * tf.constant(np.arange(4.0))), [x])
    with tf.Session() as sess:
        got = sess.run(g, {x: np.ones((3, 2, 2))})
    np.testing.assert_array_equal(got, np.broadcast_to(np.arange(4.0).reshape(2, 2), (3, 2, 2)))


def test_shapes_not_known_while_building_raise():
    x = tf.placeholder(tf.float32, [None, 4, 3])
    fed = tf.placeholder(tf.int32, [2])
    with pytest.raises(ShapeError, match="reshape: the shape is not known while the graph is built"):
        tf.reshape(x, fed)
    with pytest.raises(ShapeError, match="entry 0 of the shape is not known"):
        tf.reshape(x, [tf.shape(x)[0] + 1, -1])
    with pytest.raises(ShapeError, match="entry 1 of the shape must be a scalar"):
        tf.reshape(x, [-1, tf.shape(x)[1:]])


def test_a_fetch_that_reads_no_fed_value_still_gets_the_fed_batch_size():
    """The gradient of sum(reshape(x, [-1, 4]) * c) is c broadcast to x's shape: it reads none of
    x's values, yet x's batch size comes from the value fed to x (it was left unbound)."""
    x = tf.placeholder(tf.float32, [None, 2, 2])
    (g,) = tf.gradients(tf.reduce_sum(tf.reshape(x, [-1, 4]) * tf.constant(np.arange(4.0, dtype=np.float32))), [x])
    with tf.Session() as sess:
        for batch in (3, 1):
            got = sess.run(g, {x: np.ones((batch, 2, 2), np.float32)})
            np.testing.assert_array_equal(got, np.broadcast_to(np.arange(4.0).reshape(2, 2), (batch, 2, 2)))
        with pytest.raises(ShapeError, match="Placeholder"):
            sess.run(g, {x: np.ones((3, 4), np.float32)})  # still checked against its declared shape
