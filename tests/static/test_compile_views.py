"""gf.compile of code that assigns into tensors and writes through views: `y[key] = v` traces,
an in-place op on a slice, permute or reshape view reaches its base (and every other view of it),
captured eager buffers included, exactly as in eager mode; a reshape that copies in eager mode
stays a copy. Each case runs eagerly and compiled (trace, then a replay with other values)."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
import graphflow.static as tf
from graphflow.ops.indexing import setitem


def _same(fn, *calls):
    """fn eagerly and compiled on each argument list: equal results (first call traces)."""
    compiled = gf.compile(fn)
    for args in calls:
        want = fn(*[gf.tensor(a) for a in args])
        got = compiled(*[gf.tensor(a) for a in args])
        want, got = (want, got) if isinstance(want, tuple) else ((want,), (got,))
        for w, g in zip(want, got):
            np.testing.assert_array_equal(g.detach().numpy(), w.detach().numpy())


def test_assignment_with_ints_slices_and_steps():
    def f(x):
        y = x * 1.0
        y[0] = -1.0
        y[1:, ::2] = 5.0
        y[-1, 1] += 10.0
        return y

    _same(f, [np.arange(12.0).reshape(3, 4)], [np.ones((3, 4))])


def test_assignment_through_index_tensors_keeps_the_last_of_repeats():
    def f(x, idx, v):
        y = x * 1.0
        y[idx] = v
        return y

    x, v = np.zeros(6), np.array([10.0, 20.0, 30.0, 40.0])
    _same(f, [x, np.array([1, 4, 1, 1]), v], [x, np.array([0, 0, 5, 2]), v], [x, np.array([3, 2, 1, 0]), v])


def test_assignment_of_rows_through_an_index_tensor():
    def f(x, idx, v):
        y = x * 1.0
        y[idx] = v
        return y

    x, v = np.zeros((4, 3)), np.arange(6.0).reshape(2, 3)
    _same(f, [x, np.array([2, 2]), v], [x, np.array([3, 0]), v])


def test_assignment_through_a_traced_mask_of_one_value():
    def f(x, m):
        y = x * 2.0
        y[m] = -7.0
        return y

    x = np.arange(6.0).reshape(2, 3)
    _same(f, [x, x > 2.5], [x, x < 1.5])


def test_assignment_gradients_match_eager():
    def f(x, v, idx):
        y = x * 3.0
        y[idx] = v * v
        loss = (y * y).sum()
        loss.backward()
        return loss

    x0, v0, idx = np.arange(5.0), np.array([1.0, 2.0, 3.0]), np.array([4, 0, 4])
    grads = []
    for fn in (f, gf.compile(f)):
        x = gf.tensor(x0, requires_grad=True)
        v = gf.tensor(v0, requires_grad=True)
        loss = fn(x, v, gf.tensor(idx))
        grads.append((float(loss.item()), x.grad.numpy().copy(), v.grad.numpy().copy()))
    assert grads[0][0] == pytest.approx(grads[1][0])
    np.testing.assert_allclose(grads[0][1], grads[1][1])
    np.testing.assert_allclose(grads[0][2], grads[1][2])  # the overwritten v[0] gets no gradient
    assert grads[1][2][0] == 0.0


@pytest.mark.parametrize("view", ["slice", "permute", "reshape", "chain"])
def test_in_place_ops_through_views_reach_the_base(view):
    def f(x):
        y = x * 1.0
        if view == "slice":
            z = y[1:, 1:3]
        elif view == "permute":
            z = y.t()
        elif view == "reshape":
            z = y.reshape(-1)
        else:
            z = y.reshape(2, 2, 3)[1].t()[::2]
        z.mul_(2.0)
        z.add_(1.0)
        z[0] = -3.0
        return y, z

    _same(f, [np.arange(12.0).reshape(4, 3)], [np.ones((4, 3))])


def test_other_views_see_a_write_to_the_base_or_a_sibling():
    def f(x):
        y = x * 1.0
        a, b = y[0], y[:, 1]
        y.add_(1.0)  # both views see it
        b.mul_(10.0)  # the base and `a` (which shares y[0, 1]) see it
        return y, a, b

    _same(f, [np.arange(6.0).reshape(2, 3)])


def test_a_reshape_that_copies_in_eager_mode_stays_a_copy():
    def f(x):
        y = x * 1.0
        r = y.t().reshape(-1)  # not contiguous: a copy
        r.add_(5.0)
        s = y.reshape(-1)  # contiguous: a view
        s.mul_(2.0)
        return y, r, s

    _same(f, [np.arange(6.0).reshape(2, 3)])


def test_views_of_captured_buffers_write_the_buffer():
    buf = gf.zeros(5)

    def f(x):
        v = buf[1:4]
        v.add_(x)
        v[1] = 0.5
        return buf * 1.0

    compiled = gf.compile(f)
    for k in range(1, 4):
        out = compiled(gf.ones(3))
        np.testing.assert_array_equal(buf.numpy(), [0.0, k, 0.5, k, 0.0])
        np.testing.assert_array_equal(out.numpy(), buf.numpy())


def test_static_assignment_with_repeated_symbolic_indices_keeps_the_last():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(gf.float32, [5])
        idx = tf.placeholder(gf.int64, [4])
        v = tf.placeholder(gf.float32, [4])
        out = setitem(x, idx, v)
        with tf.Session(graph) as sess:
            got = sess.run(out, {x: np.zeros(5, np.float32), idx: np.array([1, 3, 1, 3]),
                                 v: np.array([10, 20, 30, 40], np.float32)})
    np.testing.assert_array_equal(got, [0, 30, 0, 40, 0])
