"""TF1 names added to graphflow.static (tf.shape, tf.split, tf.pad, tf.nn.moments, ...): each built
on placeholders (a None batch dimension where it makes sense), run in a Session and compared with
NumPy; gradients of the differentiable ones against central differences in float64."""

import numpy as np
import pytest

import graphflow.static as tf

RNG = np.random.default_rng(0)


def run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def check_grad(build, x0, *extra, eps=1e-6, tol=1e-6):
    """tf.gradients of sum(w * build(x, ...)) against central differences (float64)."""
    xs = [tf.placeholder(tf.float64, np.shape(a)) for a in (x0, *extra)]
    out = build(*xs)
    outs = out if isinstance(out, (list, tuple)) else [out]
    feed = {p: a for p, a in zip(xs, (x0, *extra))}
    shapes = run(outs, feed)
    ws = [tf.constant(RNG.normal(size=np.shape(v))) for v in shapes]
    loss = tf.add_n([tf.reduce_sum(w * o) for w, o in zip(ws, outs)])
    grads = tf.gradients(loss, xs)
    with tf.Session() as sess:
        got = sess.run(grads, feed)
        for k, (p, a) in enumerate(zip(xs, (x0, *extra))):
            num = np.zeros(np.shape(a))
            for i in np.ndindex(*np.shape(a)):
                hi, lo = np.array(a, dtype=np.float64), np.array(a, dtype=np.float64)
                hi[i] += eps
                lo[i] -= eps
                num[i] = (sess.run(loss, {**feed, p: hi}) - sess.run(loss, {**feed, p: lo})) / (2 * eps)
            np.testing.assert_allclose(got[k], num, rtol=tol, atol=tol)


# ---- shapes ----------------------------------------------------------------------------------
def test_shape_size_rank_with_unknown_batch():
    x = tf.placeholder(tf.float32, [None, 4, 2])
    s, n, r = tf.shape(x), tf.size(x), tf.rank(x)
    out = run([s, n, r, tf.shape(x, out_type=tf.int64)], {x: np.zeros((3, 4, 2), np.float32)})
    np.testing.assert_array_equal(out[0], [3, 4, 2])
    assert out[0].dtype == np.int32 and out[3].dtype == np.int64
    assert out[1] == 24 and out[2] == 3
    # the same graph fed another batch size
    assert run(s, {x: np.zeros((5, 4, 2), np.float32)}).tolist() == [5, 4, 2]
    np.testing.assert_array_equal(run(tf.shape(tf.constant(np.zeros((2, 3))))), [2, 3])


def test_zeros_like_ones_like():
    x = tf.placeholder(tf.float32, [None, 3])
    z, o, oi = tf.zeros_like(x), tf.ones_like(x), tf.ones_like(x, dtype=tf.int32)
    a, b, c = run([z, o, oi], {x: np.full((2, 3), 7, np.float32)})
    np.testing.assert_array_equal(a, np.zeros((2, 3)))
    np.testing.assert_array_equal(b, np.ones((2, 3)))
    assert c.dtype == np.int32 and c.shape == (2, 3)


def test_split_equal_and_sizes():
    x = tf.placeholder(tf.float32, [None, 6])
    a = RNG.normal(size=(3, 6)).astype(np.float32)
    parts = run(tf.split(x, 3, axis=1), {x: a})
    for got, want in zip(parts, np.split(a, 3, axis=1)):
        np.testing.assert_array_equal(got, want)
    parts = run(tf.split(x, [1, -1, 2], 1), {x: a})
    assert [p.shape for p in parts] == [(3, 1), (3, 3), (3, 2)]
    np.testing.assert_array_equal(parts[1], a[:, 1:4])
    with pytest.raises(ValueError, match="equal pieces"):
        tf.split(x, 4, axis=1)
    check_grad(lambda v: tf.split(v, [2, -1], 1), RNG.normal(size=(2, 5)))


def test_unstack():
    x = tf.placeholder(tf.float32, [None, 3])
    a = RNG.normal(size=(2, 3)).astype(np.float32)
    got = run(tf.unstack(x, axis=1), {x: a})
    assert len(got) == 3
    for i, g in enumerate(got):
        np.testing.assert_array_equal(g, a[:, i])


def test_slice_and_strided_slice():
    x = tf.placeholder(tf.float32, [None, 5, 4])
    a = RNG.normal(size=(3, 5, 4)).astype(np.float32)
    got = run(tf.slice(x, [0, 1, 2], [-1, 3, -1]), {x: a})
    np.testing.assert_array_equal(got, a[:, 1:4, 2:])
    y = tf.placeholder(tf.float32, [5, 4])
    b = a[0]
    np.testing.assert_array_equal(run(tf.strided_slice(y, [1, 0], [5, 4], [2, 1]), {y: b}), b[1:5:2, 0:4])
    np.testing.assert_array_equal(run(tf.strided_slice(y, [0, 3], [3, 0], [1, -1], begin_mask=1), {y: b}),
                                  b[:3, 3:0:-1])
    np.testing.assert_array_equal(run(tf.strided_slice(y, [2, 0], [3, 4], shrink_axis_mask=1), {y: b}), b[2])
    check_grad(lambda v: tf.slice(v, [0, 1], [-1, 2]), RNG.normal(size=(2, 4)))


@pytest.mark.parametrize("mode", ["CONSTANT", "REFLECT", "SYMMETRIC"])
def test_pad(mode):
    a = RNG.normal(size=(3, 4)).astype(np.float32)
    pads = [[1, 2], [2, 1]]
    y = tf.placeholder(tf.float32, [3, 4])
    got = run(tf.pad(y, pads, mode=mode, constant_values=0.5), {y: a})
    want = np.pad(a, pads, mode=mode.lower(), **({"constant_values": 0.5} if mode == "CONSTANT" else {}))
    np.testing.assert_array_equal(got, want)
    check_grad(lambda v: tf.pad(v, [[0, 0], [2, 1]], mode=mode), RNG.normal(size=(2, 4)))


def test_pad_unknown_batch_and_errors():
    x = tf.placeholder(tf.float32, [None, 2])
    a = np.ones((3, 2), np.float32)
    np.testing.assert_array_equal(run(tf.pad(x, [[0, 0], [1, 1]]), {x: a}), np.pad(a, [[0, 0], [1, 1]]))
    with pytest.raises(ValueError, match="too large"):
        tf.pad(tf.placeholder(tf.float32, [2, 2]), [[0, 0], [2, 0]], mode="REFLECT")
    with pytest.raises(ValueError, match="mode"):
        tf.pad(x, [[0, 0], [1, 1]], mode="WRAP")


def test_range_linspace():
    r = tf.range(5)
    got = run([r, tf.range(2, 11, 3), tf.range(0.0, 1.0, 0.25), tf.range(3, dtype=tf.float64), tf.linspace(0.0, 1.0, 5)])
    np.testing.assert_array_equal(got[0], np.arange(5))
    assert got[0].dtype == np.int32
    np.testing.assert_array_equal(got[1], [2, 5, 8])
    np.testing.assert_array_equal(got[2], [0, 0.25, 0.5, 0.75])
    assert got[2].dtype == np.float32 and got[3].dtype == np.float64
    np.testing.assert_allclose(got[4], [0, 0.25, 0.5, 0.75, 1.0])


def test_one_hot():
    i = tf.placeholder(tf.int32, [None])
    idx = np.array([0, 2, -1, 5, 1], np.int32)
    eye = np.eye(3, dtype=np.float32)
    want = np.stack([eye[k] if 0 <= k < 3 else np.zeros(3, np.float32) for k in idx])
    a, b, c = run([tf.one_hot(i, 3), tf.one_hot(i, 3, axis=0), tf.one_hot(i, 3, on_value=5, off_value=-1)], {i: idx})
    assert a.dtype == np.float32 and c.dtype == np.int32
    np.testing.assert_array_equal(a, want)
    np.testing.assert_array_equal(b, want.T)
    np.testing.assert_array_equal(c, np.where(want == 1, 5, -1))


def test_reverse():
    x = tf.placeholder(tf.float32, [None, 3])
    a = RNG.normal(size=(2, 3)).astype(np.float32)
    np.testing.assert_array_equal(run(tf.reverse(x, [1]), {x: a}), a[:, ::-1])
    np.testing.assert_array_equal(run(tf.reverse(x, [0, 1]), {x: a}), a[::-1, ::-1])


def test_boolean_mask_raises_in_graph_for_fed_mask():
    x = tf.placeholder(tf.float32, [4])
    m = tf.placeholder(tf.bool, [4])
    with pytest.raises(TypeError, match="boolean_mask: the result's shape depends on the values"):
        tf.boolean_mask(x, m)
    # a constant mask is known when the graph is built
    got = run(tf.boolean_mask(x, np.array([True, False, True, True])), {x: np.arange(4, dtype=np.float32)})
    np.testing.assert_array_equal(got, [0, 2, 3])


def test_where():
    c = tf.placeholder(tf.bool, [None, 2])
    x = tf.placeholder(tf.float32, [None, 2])
    cv = np.array([[True, False], [False, True]])
    xv = np.array([[1, 2], [3, 4]], np.float32)
    np.testing.assert_array_equal(run(tf.where(c, x, -x), {c: cv, x: xv}), np.where(cv, xv, -xv))
    with pytest.raises(TypeError, match="one-argument form"):
        tf.where(c)
    with pytest.raises(ValueError, match="both x and y"):
        tf.where(c, x)


# ---- clipping and norms -------------------------------------------------------------------------
def test_clip_by_value_and_norm():
    x = tf.placeholder(tf.float32, [None, 3])
    a = np.array([[3.0, -4.0, 0.0], [0.1, 0.2, -0.2]], np.float32)
    np.testing.assert_array_equal(run(tf.clip_by_value(x, -1.0, 0.15), {x: a}), np.clip(a, -1, 0.15))
    got = run(tf.clip_by_norm(x, 1.0), {x: a})
    np.testing.assert_allclose(got, a / max(np.linalg.norm(a), 1.0), rtol=1e-6)
    got = run(tf.clip_by_norm(x, 1.0, axes=[1]), {x: a})
    n = np.linalg.norm(a, axis=1, keepdims=True)
    np.testing.assert_allclose(got, a / np.maximum(n, 1.0), rtol=1e-6)
    z = tf.placeholder(tf.float64, [2])
    g = run(tf.gradients(tf.reduce_sum(tf.clip_by_norm(z, 1.0)), z), {z: np.zeros(2)})[0]
    assert np.isfinite(g).all()


@pytest.mark.parametrize("clip", [0.5, 100.0])
def test_clip_by_global_norm(clip):
    a = RNG.normal(size=(2, 3))
    b = RNG.normal(size=(4,))
    x, y = tf.placeholder(tf.float64, [None, 3]), tf.placeholder(tf.float64, [4])
    clipped, norm = tf.clip_by_global_norm([x, None, y], clip)
    assert clipped[1] is None
    cx, cy, n, gn = run([clipped[0], clipped[2], norm, tf.global_norm([x, y])], {x: a, y: b})
    want = np.sqrt((a ** 2).sum() + (b ** 2).sum())
    np.testing.assert_allclose([n, gn], [want, want])
    scale = clip / max(want, clip)
    np.testing.assert_allclose(cx, a * scale)
    np.testing.assert_allclose(cy, b * scale)
    check_grad(lambda u, v: tf.clip_by_global_norm([u, v], clip)[0], a, b[None, :])


def test_stop_gradient():
    x = tf.placeholder(tf.float64, [None])
    y = tf.reduce_sum(x * tf.stop_gradient(x))
    a = np.array([1.0, -2.0, 3.0])
    v, g = run([y, tf.gradients(y, x)[0]], {x: a})
    assert v == pytest.approx((a * a).sum())
    np.testing.assert_allclose(g, a)  # not 2a


# ---- reductions and elementwise math -----------------------------------------------------------
def test_reductions():
    x = tf.placeholder(tf.float32, [None, 3])
    a = RNG.normal(size=(4, 3)).astype(np.float32)
    b = a > 0
    got = run([tf.squared_difference(x, 1.0), tf.reduce_any(x > 0, axis=1), tf.reduce_all(x > 0, 0, keepdims=True),
               tf.reduce_logsumexp(x, 1), tf.reduce_logsumexp(x), tf.math.reduce_std(x, 0), tf.math.reduce_variance(x),
               tf.count_nonzero(tf.maximum(x, 0.0), axis=1), tf.count_nonzero(x > 0)], {x: a})
    np.testing.assert_allclose(got[0], (a - 1) ** 2, rtol=1e-6)
    np.testing.assert_array_equal(got[1], b.any(1))
    np.testing.assert_array_equal(got[2], b.all(0, keepdims=True))
    np.testing.assert_allclose(got[3], np.log(np.exp(a).sum(1)), rtol=1e-5)
    np.testing.assert_allclose(got[4], np.log(np.exp(a).sum()), rtol=1e-5)
    np.testing.assert_allclose(got[5], a.std(0), rtol=1e-5)
    np.testing.assert_allclose(got[6], a.var(), rtol=1e-5)
    np.testing.assert_array_equal(got[7], b.sum(1))
    assert got[7].dtype == np.int64 and got[8] == b.sum()


def test_elementwise():
    x = tf.placeholder(tf.float32, [None])
    a = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.7, 3.2, 4.0], np.float32)
    got = run([tf.floor(x), tf.ceil(x), tf.round(x), tf.sign(x), tf.sqrt(tf.abs(x)), tf.rsqrt(tf.abs(x)),
               tf.pow(tf.abs(x), 1.5), tf.negative(x), tf.reciprocal(x), tf.math.round(x)], {x: a})
    want = [np.floor(a), np.ceil(a), np.round(a), np.sign(a), np.sqrt(np.abs(a)), 1 / np.sqrt(np.abs(a)),
            np.abs(a) ** 1.5, -a, 1 / a, np.round(a)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)
    np.testing.assert_array_equal(got[2][:5], [0, 2, 2, -0, -2])  # half to even


def test_integer_division_and_comparisons():
    i = tf.placeholder(tf.int32, [None])
    j = tf.placeholder(tf.int32, [None])
    a = np.array([7, -7, 7, -7, 0], np.int32)
    b = np.array([2, 2, -2, -2, 3], np.int32)
    got = run([tf.floordiv(i, j), tf.mod(i, j), tf.math.floormod(i, j), tf.truediv(i, j), tf.greater(i, j),
               tf.greater_equal(i, j), tf.less(i, j), tf.less_equal(i, j), tf.not_equal(i, j)], {i: a, j: b})
    np.testing.assert_array_equal(got[0], a // b)
    np.testing.assert_array_equal(got[1], a % b)
    np.testing.assert_array_equal(got[2], a % b)
    assert got[3].dtype == np.float64
    np.testing.assert_allclose(got[3], a / b)
    for g, w in zip(got[4:], [a > b, a >= b, a < b, a <= b, a != b]):
        np.testing.assert_array_equal(g, w)


def test_logical_and_add_n_tensordot():
    p, q = tf.placeholder(tf.bool, [None]), tf.placeholder(tf.bool, [None])
    u, v = np.array([True, True, False, False]), np.array([True, False, True, False])
    got = run([tf.logical_and(p, q), tf.logical_or(p, q), tf.logical_xor(p, q), tf.logical_not(p)], {p: u, q: v})
    for g, w in zip(got, [u & v, u | v, u ^ v, ~u]):
        np.testing.assert_array_equal(g, w)
    x = tf.placeholder(tf.float32, [None, 3])
    a = RNG.normal(size=(2, 3)).astype(np.float32)
    np.testing.assert_allclose(run(tf.add_n([x, x * 2, x]), {x: a}), 4 * a, rtol=1e-6)
    m = RNG.normal(size=(3, 4)).astype(np.float32)
    t = RNG.normal(size=(2, 3, 4)).astype(np.float32)
    got = run([tf.tensordot(x, m, 1), tf.tensordot(t, m, [[1, 2], [0, 1]]), tf.tensordot(m, t, axes=[[0], [1]])],
              {x: a})
    np.testing.assert_allclose(got[0], np.tensordot(a, m, 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], np.tensordot(t, m, [[1, 2], [0, 1]]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[2], np.tensordot(m, t, [[0], [1]]), rtol=1e-5, atol=1e-6)


# ---- tf.nn --------------------------------------------------------------------------------------
def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_sigmoid_cross_entropy_with_logits():
    x = tf.placeholder(tf.float64, [None, 3])
    z = tf.placeholder(tf.float64, [None, 3])
    xv = np.array([[0.0, 2.0, -3.0], [50.0, -50.0, 0.5]])
    zv = np.array([[1.0, 0.0, 0.3], [0.0, 1.0, 1.0]])
    loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x)
    got, g = run([loss, tf.gradients(tf.reduce_sum(loss), x)[0]], {x: xv, z: zv})
    want = np.maximum(xv, 0) - xv * zv + np.log1p(np.exp(-np.abs(xv)))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(g, _np_sigmoid(xv) - zv, rtol=1e-9, atol=1e-12)  # at x = 0 too
    with pytest.raises(TypeError, match="labels="):
        tf.nn.sigmoid_cross_entropy_with_logits(x, z)
    check_grad(lambda a, b: tf.nn.sigmoid_cross_entropy_with_logits(labels=b, logits=a), xv[:, 1:] * 0.3, zv[:, 1:])


def test_weighted_cross_entropy_with_logits():
    x = tf.placeholder(tf.float64, [None])
    xv, zv, q = np.array([-2.0, 0.3, 4.0]), np.array([1.0, 0.0, 0.6]), 3.0
    got = run(tf.nn.weighted_cross_entropy_with_logits(labels=zv, logits=x, pos_weight=q), {x: xv})
    s = _np_sigmoid(xv)
    np.testing.assert_allclose(got, -(q * zv * np.log(s) + (1 - zv) * np.log(1 - s)), rtol=1e-10)


def test_moments():
    x = tf.placeholder(tf.float64, [None, 3])
    a = RNG.normal(size=(5, 3))
    m, v = tf.nn.moments(x, axes=[0])
    mk, vk = tf.nn.moments(x, [0, 1], keepdims=True)
    got = run([m, v, mk, vk], {x: a})
    np.testing.assert_allclose(got[0], a.mean(0))
    np.testing.assert_allclose(got[1], a.var(0))
    assert got[2].shape == (1, 1)
    np.testing.assert_allclose(got[3], a.var(keepdims=True))
    check_grad(lambda u: tf.nn.moments(u, [0]), a[:3])


def test_batch_normalization():
    x = tf.placeholder(tf.float64, [None, 3])
    a, mu, var = RNG.normal(size=(4, 3)), RNG.normal(size=3), RNG.uniform(0.5, 2, size=3)
    off, sc = RNG.normal(size=3), RNG.normal(size=3)
    y = tf.nn.batch_normalization(x, mu, var, off, sc, 1e-3)
    y0 = tf.nn.batch_normalization(x, mu, var, None, None, 1e-3)
    got = run([y, y0], {x: a})
    np.testing.assert_allclose(got[0], (a - mu) / np.sqrt(var + 1e-3) * sc + off, rtol=1e-10)
    np.testing.assert_allclose(got[1], (a - mu) / np.sqrt(var + 1e-3), rtol=1e-10)

    def build(u, m, v, o, s):
        return tf.nn.batch_normalization(u, m, v, o, s, 1e-3)

    check_grad(build, a[:2], mu[None], var[None], off[None], sc[None])


def test_l2_normalize():
    x = tf.placeholder(tf.float64, [None, 3])
    a = RNG.normal(size=(2, 3))
    got = run([tf.nn.l2_normalize(x, axis=1), tf.nn.l2_normalize(x), tf.math.l2_normalize(x * 0, 1)], {x: a})
    np.testing.assert_allclose(got[0], a / np.linalg.norm(a, axis=1, keepdims=True))
    np.testing.assert_allclose(got[1], a / np.linalg.norm(a))
    np.testing.assert_array_equal(got[2], np.zeros((2, 3)))
    check_grad(lambda u: tf.nn.l2_normalize(u, 1), a)


def test_activations():
    x = tf.placeholder(tf.float32, [None])
    a = np.array([-30.0, -2.0, -0.5, 0.0, 0.5, 3.0, 7.0, 40.0], np.float32)
    got = run([tf.nn.softplus(x), tf.math.softplus(x), tf.nn.elu(x), tf.nn.leaky_relu(x), tf.nn.leaky_relu(x, 0.1),
               tf.nn.relu6(x)], {x: a})
    sp = np.logaddexp(0, a.astype(np.float64))
    want = [sp, sp, np.where(a > 0, a, np.expm1(a)), np.where(a > 0, a, 0.2 * a), np.where(a > 0, a, 0.1 * a),
            np.clip(a, 0, 6)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)


def test_embedding_lookup_and_in_top_k():
    params = RNG.normal(size=(5, 2)).astype(np.float32)
    ids = tf.placeholder(tf.int32, [None, 2])
    iv = np.array([[0, 4], [2, 2], [1, 3]], np.int32)
    np.testing.assert_array_equal(run(tf.nn.embedding_lookup(params, ids), {ids: iv}), params[iv])
    np.testing.assert_array_equal(run(tf.nn.embedding_lookup([params], ids), {ids: iv}), params[iv])
    p = tf.placeholder(tf.float32, [None, 4])
    t = tf.placeholder(tf.int32, [None])
    pv = np.array([[0.1, 0.5, 0.3, 0.1], [0.4, 0.4, 0.1, 0.1], [0.0, 0.1, 0.2, 0.7]], np.float32)
    tv = np.array([2, 1, 0], np.int32)
    np.testing.assert_array_equal(run(tf.nn.in_top_k(pv, tv, 1)), [False, True, False])
    np.testing.assert_array_equal(run(tf.nn.in_top_k(p, t, 2), {p: pv, t: tv}), [True, True, False])


def test_existing_nn_names_still_there():
    for name in ("l2_loss", "log_softmax", "bias_add", "top_k", "dropout"):
        assert hasattr(tf.nn, name)
    x = tf.placeholder(tf.float32, [None])
    assert run(tf.nn.l2_loss(x), {x: np.array([1.0, 2.0], np.float32)}) == pytest.approx(2.5)
