"""Every static-mode error names the node and the line of user code that created it."""

import numpy as np
import pytest
from static_helpers import here

import graphflow.static as tf
from graphflow.errors import DTypeError, GraphError, ShapeError


def _where(line: int) -> str:
    return f"{__file__}:{line}"


def test_unfed_placeholder():
    x = tf.placeholder(tf.float32, [None, 3], name="inputs")
    line = here() - 1
    y = tf.reduce_sum(x)
    with tf.Session() as sess, pytest.raises(GraphError) as err:
        sess.run(y)
    assert "'inputs' must be fed" in str(err.value) and _where(line) in str(err.value)


def test_fed_value_of_wrong_shape_names_both_shapes():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    line = here() - 1
    y = x * 2.0
    with tf.Session() as sess, pytest.raises(ShapeError) as err:
        sess.run(y, {x: np.zeros((4, 5), np.float32)})
    msg = str(err.value)
    assert "'x'" in msg and "(4, 5)" in msg and ", 3)" in msg and _where(line) in msg


def test_fed_value_of_wrong_rank():
    x = tf.placeholder(tf.float32, [2, 3], name="x")
    line = here() - 1
    with tf.Session() as sess, pytest.raises(ShapeError) as err:
        sess.run(x + 1.0, {x: np.zeros(6, np.float32)})
    assert "(2, 3)" in str(err.value) and "(6,)" in str(err.value) and _where(line) in str(err.value)


def test_fed_value_of_wrong_dtype():
    labels = tf.placeholder(tf.int64, [None], name="labels")
    line = here() - 1
    with tf.Session() as sess, pytest.raises(DTypeError) as err:
        sess.run(labels * 2, {labels: np.array([0.5, 1.5])})
    msg = str(err.value)
    assert "'labels'" in msg and "int64" in msg and "float64" in msg and "(2,)" in msg and _where(line) in msg


def test_feed_key_not_in_graph():
    x = tf.placeholder(tf.float32, [2], name="x")
    with tf.Session() as sess:
        with pytest.raises(KeyError, match="feed key 'nope:0' is not in the graph"):
            sess.run(x + 1.0, {"nope:0": [1.0, 2.0]})
        other = tf.Graph()
        with other.as_default():
            z = tf.placeholder(tf.float32, [2], name="z")
        with pytest.raises(GraphError, match="'z:0' belongs to another graph"):
            sess.run(x + 1.0, {x: [1.0, 2.0], z: [1.0, 2.0]})


def test_uninitialised_variable():
    w = tf.Variable(np.ones(3, np.float32), name="weights")
    line = here() - 1
    y = w * 2.0
    with tf.Session() as sess, pytest.raises(GraphError) as err:
        sess.run(y)
    msg = str(err.value)
    assert "'weights'" in msg and "initialised" in msg and _where(line) in msg


def test_closed_session():
    x = tf.constant(1.0)
    sess = tf.Session()
    assert sess.run(x) == 1.0
    sess.close()
    with pytest.raises(GraphError, match="Session is closed"):
        sess.run(x)
    with tf.Session() as s2:
        pass
    with pytest.raises(GraphError, match="closed"):
        s2.run(x)


def test_shape_mismatch_is_raised_at_build_time_at_the_users_line():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.Variable(np.zeros((4, 2), np.float32), name="w")
    with pytest.raises(ValueError) as err:
        tf.matmul(x, w)
    line = here() - 1
    assert "matmul" in str(err.value) and "(4, 2)" in str(err.value) and _where(line) in str(err.value)
    y = tf.placeholder(tf.float32, [5, 3], name="y")
    with pytest.raises(ShapeError) as err:
        y + tf.zeros([4, 3])
    line = here() - 1
    assert "(5, 3)" in str(err.value) and "(4, 3)" in str(err.value) and _where(line) in str(err.value)
    # errors from primitives' shape inference carry the user's line
    with pytest.raises(ShapeError) as err:
        y.reshape(7, 2)
    line = here() - 1
    assert _where(line) in str(err.value)


def test_assign_of_wrong_shape_at_build_time():
    w = tf.Variable(np.zeros((2, 2), np.float32), name="w")
    with pytest.raises(ShapeError) as err:
        w.assign(np.zeros((3, 2), np.float32))
    line = here() - 1
    assert "'w'" in str(err.value) and _where(line) in str(err.value)


def test_symbolic_size_mismatch_found_when_fed_names_the_op_line():
    a = tf.placeholder(tf.float32, [None], name="a")
    b = tf.placeholder(tf.float32, [None], name="b")
    c = a + b
    line = here() - 1
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(c, {a: [1.0, 2.0], b: [3.0, 4.0]}), [4, 6])
        with pytest.raises(ShapeError) as err:
            sess.run(c, {a: [1.0, 2.0], b: [3.0, 4.0, 5.0]})
    assert "(2,)" in str(err.value) and "(3,)" in str(err.value) and _where(line) in str(err.value)


def test_placeholder_needs_a_rank_and_tensors_have_no_truth_value():
    with pytest.raises(ShapeError, match="needs the rank"):
        tf.placeholder(tf.float32)
    x = tf.placeholder(tf.float32, [2])
    with pytest.raises(TypeError, match="truth value"):
        if x > 0:
            pass


def test_fetch_of_unknown_name_and_bad_type():
    with tf.Session() as sess:
        with pytest.raises(KeyError, match="fetch 'missing' is not in the graph"):
            sess.run("missing")
        with pytest.raises(TypeError, match="cannot fetch"):
            sess.run(3.5)
