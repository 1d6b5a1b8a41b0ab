"""The gather / scatter family on static symbolic tensors (Session), on raw graph nodes (symbolic
gradients against central differences) and under gf.compile, plus TF1's tf.gather and
tf.gather_nd; each CPU backend."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
import graphflow.static as tf
from graphflow.ops.indexing import getitem
from tests import index_oracles as ref
from tests.ir.gradcheck import check_grad

RNG = np.random.default_rng(5)
X = RNG.standard_normal((4, 5))
IDX = np.array([[0, 3, 3, 1, 0], [3, 3, 0, 2, 0]])  # repeats within columns 1 and 4, and within each row
SRC = RNG.standard_normal((2, 5))
MASK = np.array([True, False, True, False, False])


def _run(fetches, feeds):
    with tf.Session() as sess:
        return sess.run(fetches, feeds)


def test_session_values_match_numpy():
    x = tf.placeholder(gf.float64, [None, 5])  # a symbolic batch size
    xf = tf.placeholder(gf.float64, [4, 5])
    i = tf.placeholder(gf.int64, [2, 5])
    s = tf.placeholder(gf.float64, [2, 5])
    m = tf.placeholder(gf.bool, [5])
    out = _run({"gather": gf.gather(x, 0, i), "take": gf.take_along_dim(x, i[:1], 0),
                "select": x.index_select(1, i[0]), "add": gf.scatter_add(x, 0, i, s),
                "scatter": x.scatter(0, i, s), "value": gf.scatter(xf, 1, i[:, :2], value=9.0),
                "masked": x.masked_fill(m, -1.0), "put": xf.index_put((i[0], i[1]), s[0], accumulate=True),
                "put_last": xf.index_put((i[1], i[0]), s[1]), "put_rows": xf.index_put((i[0, :4],), s[0, 0]),
                "index_add": xf.index_add(1, i[0, :2], xf[:, 3:], alpha=2)},
               {x: X, xf: X, i: IDX, s: SRC, m: MASK})
    np.testing.assert_array_equal(out["gather"], ref.gather(X, 0, IDX))
    np.testing.assert_array_equal(out["take"], np.take_along_axis(X, IDX[:1], 0))
    np.testing.assert_array_equal(out["select"], X[:, IDX[0]])
    np.testing.assert_allclose(out["add"], ref.scatter(X, 0, IDX, SRC, True), rtol=1e-12)
    np.testing.assert_array_equal(out["scatter"], ref.scatter(X, 0, IDX, SRC, False))  # last write wins
    np.testing.assert_array_equal(out["value"], ref.scatter(X, 1, IDX[:, :2], 9.0, False))
    np.testing.assert_array_equal(out["masked"], np.where(MASK, -1.0, X))
    np.testing.assert_allclose(out["put"], ref.index_put(X, (IDX[0], IDX[1]), SRC[0], True), rtol=1e-12)
    np.testing.assert_array_equal(out["put_last"], ref.index_put(X, (IDX[1], IDX[0]), SRC[1], False))
    np.testing.assert_array_equal(out["put_rows"], ref.index_put(X, (IDX[0, :4],), SRC[0, 0], False))
    np.testing.assert_allclose(out["index_add"], ref.index_add(X, 1, IDX[0, :2], X[:, 3:], 2), rtol=1e-12)


def test_session_gradients_match_eager():
    x = tf.placeholder(gf.float64, [4, 5])
    s = tf.placeholder(gf.float64, [2, 5])
    w = RNG.standard_normal((4, 5))
    loss = (gf.scatter(x, 0, tf.constant(IDX), s) * w).sum() + gf.gather(x, 1, tf.constant(IDX)).sum()
    gx, gs = _run(tf.gradients(loss, [x, s]), {x: X, s: SRC})
    ex, es = gf.tensor(X, requires_grad=True), gf.tensor(SRC, requires_grad=True)
    ((gf.scatter(ex, 0, gf.tensor(IDX), es) * gf.tensor(w)).sum() + gf.gather(ex, 1, gf.tensor(IDX)).sum()).backward()
    np.testing.assert_allclose(gx, ex.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gs, es.grad.numpy(), rtol=1e-12)


def test_symbolic_negative_or_large_index_raises_when_run():
    x = tf.placeholder(gf.float32, [None, 5])
    i = tf.placeholder(gf.int64, [1, 5])
    y, z = gf.gather(x, 0, i), gf.scatter_add(x, 0, i, gf.gather(x, 0, i) * 2)
    for bad in (-1, 4):
        index = np.array([[0, bad, 1, 2, 3]])
        for fetch in (y, z):
            with pytest.raises(IndexError, match="out of bounds"):
                _run(fetch, {x: X.astype(np.float32), i: index})


# raw graph nodes: symbolic gradients against central differences (the index is an input node,
# so repeats are resolved symbolically)
GRAPH_CASES = {
    "gather": (lambda x, i: gf.gather(x, 1, i), [X, IDX[:, :4] % 5]),
    "index_select": (lambda x, i: gf.index_select(x, 0, i), [X, np.array([3, 0, 3])]),
    "take_along_dim": (lambda x, i: gf.take_along_dim(x, i, 0), [X, IDX[:1]]),
    "scatter_add": (lambda x, i, s: gf.scatter_add(x, 0, i, s), [X, IDX, SRC]),
    "scatter": (lambda x, i, s: gf.scatter(x, 0, i, s), [X, IDX, SRC]),
    "scatter_corner": (lambda x, i, s: gf.scatter(x, 1, i, s), [X, IDX[:, :3] % 5, SRC]),
    "masked_fill": (lambda x, v: gf.masked_fill(x, _mask(x), v),
                    [X, np.array(0.7)]),
    "index_put": (lambda x, r, c, v: gf.index_put(x, (r, c), v), [X, IDX[0], IDX[1], SRC[0]]),
    "index_put_acc": (lambda x, r, c, v: gf.index_put(x, (r, c), v, accumulate=True), [X, IDX[0], IDX[1], SRC[0]]),
    "index_add": (lambda x, i, s: gf.index_add(x, 0, i, s, alpha=-2), [X, np.array([1, 1, 3]), SRC[:1].repeat(3, 0)]),
}


def _mask(x):
    from graphflow.ir.builder import literal

    return literal(np.broadcast_to(MASK, (4, 5)).copy(), x)


@pytest.mark.parametrize("name", list(GRAPH_CASES))
def test_graph_node_gradients(name, backend):
    fn, inputs = GRAPH_CASES[name]
    check_grad(fn, inputs, backend=backend)


def test_graph_node_scatter_values_with_symbolic_repeats(backend):
    from graphflow.backends import get_backend
    from graphflow.ir import Graph, bind

    x = bind("input", name="x", dtype=gf.float64, shape=(4, 5))
    i = bind("input", name="i", dtype=gf.int64, shape=(2, 5))
    s = bind("input", name="s", dtype=gf.float64, shape=(2, 5))
    rows, cols, first = getitem(i, 0), getitem(i, 1), getitem(s, 0)
    outs = [gf.scatter(x, 0, i, s), gf.index_put(x, (rows, cols), first)]
    got = get_backend(backend).compile(Graph(outs, [x, i, s])).run([X, IDX, SRC])
    np.testing.assert_array_equal(got[0], ref.scatter(X, 0, IDX, SRC, False))
    np.testing.assert_array_equal(got[1], ref.index_put(X, (IDX[0], IDX[1]), SRC[0], False))


def test_compile_matches_eager():
    def step(x, i, s):
        y = x.clone()
        y.scatter_(1, i, s)
        y.masked_fill_(y > 1.0, 0.0)
        y.index_add_(0, i[0, :2], s)
        y.index_put_((i[0], i[1]), s[0], accumulate=True)
        out = (gf.gather(y, 0, i) * y[:2]).sum()
        out.backward()
        return out

    compiled = gf.compile(step)
    for seed in range(2):  # the second call replays the trace
        rng = np.random.default_rng(seed)
        xs, ss = rng.standard_normal((4, 5)), rng.standard_normal((2, 5))
        results = []
        for fn in (step, compiled):
            x, s = gf.tensor(xs, requires_grad=True), gf.tensor(ss, requires_grad=True)
            out = fn(x, gf.tensor(IDX), s)
            results.append((out.item(), x.grad.numpy(), s.grad.numpy()))
        (e, egx, egs), (c, cgx, cgs) = results
        np.testing.assert_allclose(c, e, rtol=1e-12)
        np.testing.assert_allclose(cgx, egx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(cgs, egs, rtol=1e-12, atol=1e-12)
    assert compiled.traces == 1


def test_compile_writes_a_captured_buffer_in_place():
    counts = gf.zeros(5)

    @gf.compile
    def tally(i):
        counts.scatter_add_(0, i, gf.ones(i.shape[0]))
        return counts * 1

    for _ in range(2):
        out = tally(gf.tensor([0, 3, 3, 1]))
    assert counts.tolist() == [2.0, 2.0, 0.0, 4.0, 0.0] and out.tolist() == counts.tolist()


def test_tf_gather_and_gather_nd():
    params = tf.placeholder(gf.float32, [None, 3, 4])
    ind = tf.placeholder(gf.int32, [2, 2])
    p = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    nd_ind = np.array([[1, 2], [0, 0]], dtype=np.int32)
    out = _run([tf.gather(params, ind, axis=1), tf.gather(params, [1, 0, 1]), tf.gather(params, 2, axis=-1),
                tf.gather_nd(params, ind), tf.gather_nd(params, ind[:, :1]), tf.gather_nd(params, [[[1, 2, 3]]])],
               {params: p, ind: nd_ind})
    assert out[0].shape == (2, 2, 2, 4)
    np.testing.assert_array_equal(out[0], np.take(p, nd_ind, axis=1))
    np.testing.assert_array_equal(out[1], p[[1, 0, 1]])
    np.testing.assert_array_equal(out[2], p[..., 2])
    np.testing.assert_array_equal(out[3], p[nd_ind[:, 0], nd_ind[:, 1]])
    np.testing.assert_array_equal(out[4], p[nd_ind[:, 0]])
    np.testing.assert_array_equal(out[5], p[1, 2, 3].reshape(1, 1))
    nd = tf.gather_nd(params, ind)
    g = tf.gather(params, ind, axis=2)
    for bad in ([[0, 3], [1, 0]], [[0, -1], [1, 0]], [[2, 0], [1, 0]]):  # each address checked per dimension
        with pytest.raises(IndexError, match="out of bounds"):
            _run(nd, {params: p, ind: np.array(bad, dtype=np.int32)})
    with pytest.raises(IndexError, match="out of bounds"):
        _run(g, {params: p, ind: np.array([[0, -1], [1, 0]], dtype=np.int32)})
