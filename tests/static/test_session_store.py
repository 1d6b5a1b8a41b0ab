"""Session keeps assigned values without copying them, yet never hands out the store's memory:
a fetched value, a fed value and two variables assigned the same value stay independent."""

import numpy as np

import graphflow.static as tf


def test_fetched_assign_result_does_not_alias_the_variable():
    v = tf.Variable(np.ones(3, np.float32), name="v")
    step = v.assign_add(np.ones(3, np.float32))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = sess.run(step)
        out[...] = 100.0  # the caller owns its result
        np.testing.assert_array_equal(sess.run(v), [2, 2, 2])
        again = sess.run(v)
        again[...] = -1.0
        np.testing.assert_array_equal(sess.run(v), [2, 2, 2])


def test_fed_value_assigned_to_two_variables_stays_independent():
    x = tf.placeholder(tf.float32, (3,), name="x")
    a = tf.Variable(np.zeros(3, np.float32), name="a")
    b = tf.Variable(np.zeros(3, np.float32), name="b")
    both = tf.group(a.assign(x), b.assign(x))
    fed = np.array([1, 2, 3], np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(both, {x: fed})
        fed[...] = 0.0  # the caller's array is not the store's
        np.testing.assert_array_equal(sess.run(a), [1, 2, 3])
        sess.run(a.assign_add(np.ones(3, np.float32)))
        np.testing.assert_array_equal(sess.run([a, b]), [[2, 3, 4], [1, 2, 3]])


def test_training_updates_are_kept_across_runs():
    w = tf.Variable(np.zeros((2, 2), np.float32), name="w")
    dec = w.assign_sub(np.full((2, 2), 0.5, np.float32))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        kept = [sess.run(dec) for _ in range(4)]
        np.testing.assert_array_equal(sess.run(w), np.full((2, 2), -2.0))
        np.testing.assert_array_equal([k[0, 0] for k in kept], [-0.5, -1.0, -1.5, -2.0])


def test_a_computed_result_is_handed_out_without_a_copy_and_never_aliases_a_feed():
    """The backend's fresh output (a view of its own aligned block on llvm) reaches the caller as it
    is; a fetch that is the fed array itself, or a view of it, is copied."""
    import graphflow as gf

    x = tf.placeholder(tf.float32, (4, 3), name="x")
    y = x * 2.0
    same = tf.identity(x)
    flat = gf.reshape(x, (12,))
    fed = np.arange(12, dtype=np.float32).reshape(4, 3)
    with tf.Session() as sess:
        sess.run([y, same, flat], {x: fed})
        exe = next(iter(sess._executables.values()))
        returned = []
        run = exe.run
        exe.run = lambda arrays, *a, **k: returned.append(run(arrays, *a, **k)) or returned[-1]
        out, ident, reshaped = sess.run([y, same, flat], {x: fed})
    np.testing.assert_array_equal(out, fed * 2)
    np.testing.assert_array_equal(ident, fed)
    np.testing.assert_array_equal(reshaped, fed.reshape(12))
    assert any(o is out for o in returned[0])  # handed out as the backend returned it
    for r in (ident, reshaped):
        assert not np.shares_memory(r, fed)
    out[...] = 0.0
    assert fed[1, 1] == 4.0
