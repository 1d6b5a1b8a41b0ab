"""Scans, sorting, searching and sampling in static graphs (Session, TF1's names) and under
gf.compile, each CPU backend: values against NumPy, symbolic gradients against central
differences, replays equal to eager mode, reproducible random draws, and data-dependent ops
refused with the op's name."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
import graphflow.static as tf
from tests.ir.gradcheck import check_grad

RNG = np.random.default_rng(41)
X = RNG.integers(0, 4, size=(3, 7)).astype(np.float64)  # ties
X[1, 2] = np.nan


def _run(fetches, feeds):
    with tf.Session() as sess:
        return sess.run(fetches, feeds)


def test_tf_names_match_numpy():
    x = tf.placeholder(gf.float64, [None, 7])  # a symbolic batch size
    y = tf.placeholder(gf.float64, [3, 7])
    xs = np.nan_to_num(X, nan=9.0)
    out = _run({"cumsum": tf.cumsum(x, 1), "excl": tf.cumsum(x, axis=1, exclusive=True),
                "rev": tf.cumsum(x, 1, reverse=True), "both": tf.cumsum(x, 1, exclusive=True, reverse=True),
                "cumprod": tf.cumprod(x, 0), "cp_excl": tf.math.cumprod(x, 1, exclusive=True, reverse=True),
                "sort": tf.sort(x), "desc": tf.sort(x, direction="DESCENDING"), "argsort": tf.argsort(x, 0),
                "top": tf.math.top_k(y, 3), "nn_top": tf.nn.top_k(y, k=2).indices,
                "search": tf.searchsorted(tf.sort(y), y, side="right"),
                "lse": tf.math.cumulative_logsumexp(x, 1)},
               {x: xs, y: xs})
    np.testing.assert_allclose(out["cumsum"], np.cumsum(xs, 1))
    excl = np.concatenate([np.zeros((3, 1)), np.cumsum(xs, 1)[:, :-1]], 1)
    np.testing.assert_allclose(out["excl"], excl)
    np.testing.assert_allclose(out["rev"], np.cumsum(xs[:, ::-1], 1)[:, ::-1])
    np.testing.assert_allclose(out["both"], out["rev"] - xs)
    np.testing.assert_allclose(out["cumprod"], np.cumprod(xs, 0))
    rprod = np.cumprod(xs[:, ::-1], 1)[:, ::-1]
    np.testing.assert_allclose(out["cp_excl"], np.concatenate([rprod[:, 1:], np.ones((3, 1))], 1))
    np.testing.assert_array_equal(out["sort"], np.sort(xs, 1))
    np.testing.assert_array_equal(out["desc"], -np.sort(-xs, 1))
    assert out["argsort"].dtype == np.int32
    np.testing.assert_array_equal(out["argsort"], np.argsort(xs, 0, kind="stable"))
    values, indices = out["top"]
    assert indices.dtype == np.int32
    np.testing.assert_array_equal(values, -np.sort(-xs, 1)[:, :3])
    np.testing.assert_array_equal(np.take_along_axis(xs, indices.astype(np.int64), 1), values)
    np.testing.assert_array_equal(out["nn_top"], indices[:, :2])
    assert out["search"].dtype == np.int32
    np.testing.assert_array_equal(out["search"], [np.searchsorted(np.sort(r), r, "right") for r in xs])
    np.testing.assert_allclose(out["lse"], np.logaddexp.accumulate(xs, 1))


def test_functional_ops_on_symbolic_tensors():
    x = tf.placeholder(gf.float64, [None, 7])
    out = _run({"median": gf.median(x, 1), "whole": gf.median(x), "q": gf.quantile(x, [0.25, 0.5], 1),
                "cummax": x.cummax(1), "kth": x.kthvalue(2, 1), "topk": x.topk(2, 1, largest=False),
                "diff": x.diff(), "search": gf.searchsorted(gf.sort(x, 1).values, x)}, {x: X})
    v, i = out["median"]
    sorted_x = np.sort(X, 1)
    assert np.isnan(v[1]) and i[1] == 2  # the row with a NaN: the NaN and its index
    np.testing.assert_array_equal(v[[0, 2]], sorted_x[[0, 2], 3])
    assert np.isnan(out["whole"])
    q = out["q"]
    np.testing.assert_allclose(q[:, [0, 2]], np.quantile(X[[0, 2]], [0.25, 0.5], axis=1))
    assert np.isnan(q[:, 1]).all()
    np.testing.assert_array_equal(out["cummax"][0], np.maximum.accumulate(X, 1))
    np.testing.assert_array_equal(out["kth"][0], sorted_x[:, 1])
    np.testing.assert_array_equal(out["topk"][0], sorted_x[:, :2])
    np.testing.assert_array_equal(out["diff"], np.diff(X))
    np.testing.assert_array_equal(out["search"], [np.searchsorted(np.sort(r), r) for r in X])


def test_tf_gradients_match_central_differences():
    a = RNG.standard_normal((3, 5))
    x = tf.placeholder(gf.float64, [3, 5])
    w = tf.constant(np.linspace(-1, 2, 15).reshape(3, 5))
    losses = {"cumsum": tf.reduce_sum(tf.cumsum(x, 1, exclusive=True) * w),
              "cumprod": tf.reduce_sum(tf.cumprod(x, 1) * w),
              "sort": tf.reduce_sum(tf.sort(x, direction="DESCENDING") * w),
              "top_k": tf.reduce_sum(tf.math.top_k(x, 2).values * w[:, :2]),
              "median": tf.reduce_sum(gf.median(x, 0).values * w[0])}
    eps = 1e-6
    with tf.Session() as sess:
        for name, loss in losses.items():
            (g,) = sess.run(tf.gradients(loss, [x]), {x: a})
            num = np.zeros_like(a)
            for idx in np.ndindex(*a.shape):
                hi, lo = a.copy(), a.copy()
                hi[idx] += eps
                lo[idx] -= eps
                num[idx] = (sess.run(loss, {x: hi}) - sess.run(loss, {x: lo})) / (2 * eps)
            np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-6, err_msg=name)


def test_graph_node_gradients_with_zeros():
    from graphflow.ir import bind

    zeros = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [1.5, 2.0, 0.5]])
    check_grad(lambda v: bind("cumprod", v, axis=1), [zeros])
    check_grad(lambda v: bind("cumsum", v, axis=0, reverse=True), [zeros])


def test_compile_matches_eager_and_replays():
    def fn(v):
        s = v.sort(1, descending=True)
        return (v.cumsum(1), v.cumprod(0), s.values, s.indices, gf.topk(v, 3).indices, gf.median(v, 1).values,
                gf.quantile(v, 0.5, 1), v.cummin(1).indices, gf.searchsorted(gf.sort(v, 1).values, v, right=True))

    f = gf.compile(fn)
    for data in (X, RNG.standard_normal((3, 7)), RNG.standard_normal((5, 7))):
        got, want = f(gf.tensor(data)), fn(gf.tensor(data))
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w.numpy())


def test_compile_backward_through_sort_and_cumprod():
    def step(v):
        loss = (gf.sort(v, 1).values[:, :2].sum() + gf.cumprod(v, 1).sum())
        loss.backward()
        return loss

    data = np.array([[2.0, 0.0, 3.0, 1.0], [0.5, 4.0, 1.0, 0.0]])
    a = gf.tensor(data, requires_grad=True)
    step(a)
    b = gf.tensor(data, requires_grad=True)
    gf.compile(step)(b)
    np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy())


def test_random_ops_reproducible_in_graphs():
    p = tf.placeholder(gf.float32, [4000])
    draws = [gf.bernoulli(p), gf.normal(p, 2.0), gf.multinomial(p + 0.5, 3), gf.multinomial(p + 0.5, 8, True)]
    feed = {p: np.full(4000, 0.25, np.float32)}

    def session_runs():
        with tf.Session() as sess:
            return [sess.run(draws, feed) for _ in range(2)]

    first, second = session_runs(), session_runs()
    for run_a, run_b in zip(first, second):  # a new session replays the same draws
        for u, v in zip(run_a, run_b):
            np.testing.assert_array_equal(u, v)
    assert not np.array_equal(first[0][0], first[1][0])  # each run draws anew
    bern, norm, _, _ = first[0]
    assert abs(bern.mean() - 0.25) < 0.03 and abs(norm.std() - 2.0) < 0.1

    @gf.compile
    def sample(v):
        return gf.bernoulli(v), gf.multinomial(v + 0.5, 2)

    v = gf.full((1000,), 0.5)
    gf.manual_seed(3)
    a = sample(v)
    gf.manual_seed(3)
    b = sample(v)
    for u, w in zip(a, b):
        np.testing.assert_array_equal(u.numpy(), w.numpy())


def test_data_dependent_ops_refuse_graphs():
    x = tf.placeholder(gf.float32, [4])
    with pytest.raises(TypeError, match=r"nonzero: .*\(4,\)"):
        gf.nonzero(x)

    @gf.compile
    def f(v):
        return gf.masked_select(v, v > 0)

    with pytest.raises(TypeError, match="masked_select"):
        f(gf.ones(4))
