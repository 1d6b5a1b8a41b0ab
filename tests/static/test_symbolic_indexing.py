"""Indexing static tensors whose batch size is unknown (a placeholder's None): `:` keeps the
symbolic size, indices >= 0 and fixed non-negative bounds work and are checked once the size is
fed, anything else that needs the size raises an error naming the dimension; gradients flow."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
import graphflow.static as tf
from graphflow.errors import GraphflowError

KEYS = [
    (slice(None), 0), (slice(None), -1), (slice(None), slice(1, 3)), (Ellipsis, 2), 0, 2, slice(1, 3),
    slice(0, 3, 2), (slice(None), None, slice(None, None, 2)), (slice(0, 2), slice(None, None, -1)),
    (slice(None), [0, 3]), (None, slice(None), 1),
]


@pytest.mark.parametrize("key", KEYS, ids=str)
def test_keys_on_an_unknown_batch_size_match_numpy(key):
    x = tf.placeholder(gf.float32, [None, 4])
    y = x[key]
    data = np.arange(20, dtype=np.float32).reshape(5, 4)
    with tf.Session() as sess:
        got = sess.run(y, {x: data})
        again = sess.run(y, {x: data[:3] + 1})  # another batch size, same graph
    np.testing.assert_array_equal(got, data[key])
    np.testing.assert_array_equal(again, (data[:3] + 1)[key])


def test_full_slices_keep_the_symbolic_size():
    x = tf.placeholder(gf.float32, [None, 4])
    assert str(x[:, 1:3].shape[0]) == str(x.shape[0]) and x[:, 1:3].shape[1] == 2
    assert x[1:3].shape == (2, 4)


@pytest.mark.parametrize("key, text", [(-1, "negative index"), (slice(1, None), "1:"), (slice(None, None, -1), "::-1"),
                                       (slice(-2, None), "-2:")])
def test_what_needs_the_size_raises_naming_the_dimension(key, text):
    x = tf.placeholder(gf.float32, [None, 4])
    with pytest.raises(GraphflowError, match="dimension 0 has an unknown size") as err:
        x[key]
    assert text in str(err.value)


def test_fixed_bounds_beyond_the_fed_size_raise_when_run():
    x = tf.placeholder(gf.float32, [None, 4])
    y = x[0:4]
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: np.ones((6, 4), np.float32)}), np.ones((4, 4)))
        with pytest.raises(GraphflowError, match="out of range"):
            sess.run(y, {x: np.ones((3, 4), np.float32)})


def test_gradient_through_a_slice_of_an_unknown_batch():
    x = tf.placeholder(gf.float64, [None, 4])
    y = x[:, 1:3] * x[:, 0:1]
    loss = tf.reduce_sum(y * y)
    (g,) = tf.gradients(loss, [x])
    data = np.random.default_rng(0).standard_normal((3, 4))
    with tf.Session() as sess:
        got = sess.run(g, {x: data})
    want = np.zeros_like(data)
    a, b = data[:, 1:3], data[:, 0:1]
    want[:, 1:3] = 2 * a * b * b
    want[:, 0] = (2 * a * a * b).sum(1)
    np.testing.assert_allclose(got, want, rtol=1e-12)
