"""Composites offered whole (`graphflow.ops.composite.offer`: softmax, log_softmax, relu, linear,
the cross-entropy core) run as one cached compiled graph in eager mode (`graphflow.eager.composite`):
cache hits and misses, values and gradients equal to the op-by-op primitives, the same errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
import graphflow.nn.functional as F
from graphflow.eager import composite
from graphflow.ops import reductions as R


def _keys(name):
    return {k for k in composite._CACHE if k[0] == name}


def test_softmax_cache_hit_and_miss():
    x = gf.randn(5, 7)
    F.softmax(x, dim=1)
    before = _keys("softmax")
    plan = composite._CACHE[next(k for k in before if k[2] == ((x.dtype, (5, 7)),))]
    F.softmax(gf.randn(5, 7), dim=1)
    assert _keys("softmax") == before  # same signature: the cached plan
    assert composite._CACHE[next(k for k in before if k[2] == ((x.dtype, (5, 7)),))] is plan
    F.softmax(gf.randn(6, 7), dim=1)  # new shape
    F.softmax(gf.randn(5, 7, dtype=gf.float64), dim=1)  # new dtype
    F.softmax(x, dim=0)  # new axis
    F.softmax(gf.randn(5, 7, requires_grad=True), dim=1)  # gradient needed: another plan
    assert len(_keys("softmax") - before) == 4


@pytest.mark.parametrize("shape,dim", [((4, 9), 1), ((4, 9), 0), ((3, 1), -1), ((2, 3, 5), 1), ((1,), 0)])
def test_softmax_values_and_grads_match_primitives(shape, dim):
    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    a.reshape(-1)[0] = -np.inf if a.size > 1 else a.reshape(-1)[0]
    w = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    for fused, prim in ((F.softmax, R._softmax), (F.log_softmax, R._log_softmax)):
        x1, x2 = gf.tensor(a, requires_grad=True), gf.tensor(a, requires_grad=True)
        y1, y2 = fused(x1, dim=dim), prim(x2, dim)
        np.testing.assert_allclose(y1.detach().numpy(), y2.detach().numpy(), rtol=2e-6, atol=1e-6)
        (y1 * gf.tensor(w)).sum().backward()
        (y2 * gf.tensor(w)).sum().backward()
        np.testing.assert_allclose(x1.grad.numpy(), x2.grad.numpy(), rtol=2e-5, atol=1e-6)
        with gf.no_grad():
            np.testing.assert_allclose(fused(gf.tensor(a), dim=dim).numpy(), y2.detach().numpy(), rtol=2e-6,
                                       atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_primitives(reduction):
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((6, 5)).astype(np.float32)
    labels = np.array([0, 4, 2, -100, 1, 3])
    x1, x2 = gf.tensor(logits, requires_grad=True), gf.tensor(logits, requires_grad=True)
    y = gf.tensor(labels)
    got = F.cross_entropy(x1, y, reduction=reduction)
    assert ("cross_entropy", (1, -100, reduction)) in {k[:2] for k in composite._CACHE}
    saved, composite.run = composite.run, lambda *a: None  # force the op-by-op path
    try:
        want = F.cross_entropy(x2, y, reduction=reduction)
    finally:
        composite.run = saved
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=2e-6, atol=1e-6)
    got.sum().backward()
    want.sum().backward()
    np.testing.assert_allclose(x1.grad.numpy(), x2.grad.numpy(), rtol=2e-5, atol=1e-7)


def test_cross_entropy_grad_against_finite_differences(check_grad):
    labels = gf.tensor(np.array([1, 0, 2, 2]))
    rng = np.random.default_rng(3)
    check_grad(lambda x: F.cross_entropy(x, labels), rng.standard_normal((4, 3)))
    check_grad(lambda x: F.log_softmax(x, dim=0) * 0.5, rng.standard_normal((4, 3)))


def test_errors_and_tape_behaviour_unchanged():
    with pytest.raises(IndexError, match="out of bounds for 3 classes"):
        F.cross_entropy(gf.randn(2, 3), gf.tensor(np.array([0, 3])))
    with pytest.raises(Exception, match="softmax"):
        F.softmax(gf.randn(2, 3), dim=5)
    x = gf.randn(3, 4, requires_grad=True)
    y = F.softmax(x, dim=1)
    assert y.requires_grad and y.grad_fn is not None
    with gf.no_grad():
        assert not F.softmax(x, dim=1).requires_grad
    loss = F.cross_entropy(x, gf.tensor(np.array([0, 1, 2])))
    loss.backward()
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_linear_and_relu_match_primitives():
    rng = np.random.default_rng(4)
    a, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((1000, 9), (5, 9), (5,)))
    ts1 = [gf.tensor(v, requires_grad=True) for v in (a, w, b)]
    ts2 = [gf.tensor(v, requires_grad=True) for v in (a, w, b)]
    y1 = F.relu(F.linear(*ts1))
    from graphflow.nn.functional.linear import _linear
    from graphflow.ops import elementwise as E

    y2 = E._relu(_linear(*ts2))
    np.testing.assert_allclose(y1.detach().numpy(), y2.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert ("linear", ()) in {k[:2] for k in composite._CACHE} and ("relu", ()) in {k[:2] for k in composite._CACHE}
    (y1 * y1).sum().backward()
    (y2 * y2).sum().backward()
    for t1, t2 in zip(ts1, ts2):
        np.testing.assert_allclose(t1.grad.numpy(), t2.grad.numpy(), rtol=1e-5, atol=1e-5)
    y = F.linear(gf.tensor(a), gf.tensor(w))  # no bias: its own signature
    np.testing.assert_allclose(y.numpy(), a @ w.T, rtol=1e-5, atol=1e-5)


def test_too_many_signatures_run_op_by_op(monkeypatch):
    monkeypatch.setattr(composite, "MAX_SIGNATURES", 2)
    monkeypatch.setattr(composite, "_COMPILED", {})
    outs = [F.softmax(gf.ones(2, n), dim=1) for n in (3, 4, 5, 6)]
    for n, o in zip((3, 4, 5, 6), outs):
        np.testing.assert_allclose(o.numpy(), np.full((2, n), 1.0 / n), rtol=1e-6)
    assert composite._COMPILED["softmax"] == 2


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_with_probabilities_matches_primitives(smoothing):
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((6, 4)).astype(np.float32)
    probs = rng.dirichlet(np.ones(4), 6).astype(np.float32)
    x1, x2 = gf.tensor(logits, requires_grad=True), gf.tensor(logits, requires_grad=True)
    got = F.cross_entropy(x1, gf.tensor(probs), label_smoothing=smoothing)
    assert ("cross_entropy_probs", (1, "mean", smoothing)) in {k[:2] for k in composite._CACHE}
    saved, composite.run = composite.run, lambda *a: None
    try:
        want = F.cross_entropy(x2, gf.tensor(probs), label_smoothing=smoothing)
    finally:
        composite.run = saved
    np.testing.assert_allclose(got.item(), want.item(), rtol=2e-6)
    got.backward()
    want.backward()
    np.testing.assert_allclose(x1.grad.numpy(), x2.grad.numpy(), rtol=2e-5, atol=1e-7)


def test_functional_layer_and_methods_offer_composites():
    x = gf.randn(70, 80)
    before = set(composite._CACHE)
    for fn in (lambda: gf.softmax(x, 1) if hasattr(gf, "softmax") else R.softmax(x, 1), lambda: R.log_softmax(x, 0),
               lambda: x.relu() if hasattr(x, "relu") else F.relu(x)):
        fn()
    names = {k[0] for k in set(composite._CACHE) - before}
    assert {"softmax", "log_softmax", "relu"} <= names
    small = gf.randn(4, 4)
    before = set(composite._CACHE)
    F.relu(small)  # under relu's size threshold: op by op
    assert not {k for k in set(composite._CACHE) - before if k[0] == "relu"}


def test_backward_reads_a_transposed_weight_through_the_weight():
    from graphflow.eager import engine

    w = gf.randn(3, 4, requires_grad=True)
    x = gf.randn(5, 4, requires_grad=True)
    y = (x @ w.T).sum()  # dx reads w.T: fed as w itself, transposed inside the gradient graph
    y.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), np.tile(w.detach().numpy().sum(0), (5, 1)), rtol=1e-5)
    plan = list(engine._CACHE.values())[-1]
    fed = [tuple(n.type.shape) for n in plan.graph.inputs]
    assert (3, 4) in fed and (4, 3) not in fed  # w fed, not its transposed view
    assert any(n.op.name == "permute" for n in plan.graph.nodes)
    with gf.no_grad():
        w.add_(1.0)  # the value backward reads changed: detected through w's version
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


@pytest.mark.parametrize("with_weight,with_bias", [(True, True), (True, False), (False, True), (False, False)])
def test_layer_norm_matches_primitives(with_weight, with_bias):
    rng = np.random.default_rng(7)
    a = rng.standard_normal((5, 3, 7)).astype(np.float32) * 3 + 1
    w, b = rng.standard_normal((3, 7)).astype(np.float32), rng.standard_normal((3, 7)).astype(np.float32)
    seed = rng.standard_normal((5, 3, 7)).astype(np.float32)
    runs = []
    for whole in (True, False):
        x = gf.tensor(a, requires_grad=True)
        wt = gf.tensor(w, requires_grad=True) if with_weight else None
        bt = gf.tensor(b, requires_grad=True) if with_bias else None
        saved = composite.run
        if not whole:
            composite.run = lambda *args: None  # force the op-by-op path
        try:
            y = F.layer_norm(x, (3, 7), wt, bt, eps=1e-3)
        finally:
            composite.run = saved
        (y * gf.tensor(seed)).sum().backward()
        runs.append([y.detach().numpy()] + [t.grad.numpy() for t in (x, wt, bt) if t is not None])
    assert ("layer_norm", ((1, 2), 1e-3, (with_weight, with_bias))) in {k[:2] for k in composite._CACHE}
    for got, want in zip(*runs):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


def _norms():
    """(name of the composite, function of (x, weight, bias), x's shape, weight/bias shape)."""
    return [
        ("batch_norm_apply", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (4, 3, 5, 2), (3,)),
        ("batch_norm_eval", lambda x, w, b: F.batch_norm(x, gf.tensor([0.5, -1.0, 2.0]), gf.tensor([1.5, 0.2, 3.0]),
                                                         w, b), (4, 3, 5), (3,)),
        ("group_norm", lambda x, w, b: F.group_norm(x, 3, w, b), (2, 6, 5), (6,)),
        ("instance_norm", lambda x, w, b: F.instance_norm(x, w, b), (2, 3, 4, 3), (3,)),
    ]


@pytest.mark.parametrize("name,fn,shape,pshape", _norms(), ids=[n[0] for n in _norms()])
def test_norms_run_whole_and_match_primitives(name, fn, shape, pshape):
    rng = np.random.default_rng(11)
    a = rng.standard_normal(shape).astype(np.float32) * 2 - 0.5
    w, b = (rng.standard_normal(pshape).astype(np.float32) for _ in range(2))
    seed = gf.tensor(rng.standard_normal(shape).astype(np.float32))
    runs = []
    for whole in (True, False):
        ts = [gf.tensor(v, requires_grad=True) for v in (a, w, b)]
        before = set(composite._CACHE)
        saved = composite.run
        if not whole:
            composite.run = lambda *args: None  # force the op-by-op path
        try:
            y = fn(*ts)
        finally:
            composite.run = saved
        if whole:
            assert name in {k[0] for k in set(composite._CACHE) - before} or \
                name in {k[0] for k in composite._CACHE}
        (y * seed).sum().backward()
        runs.append([y.detach().numpy()] + [t.grad.numpy() for t in ts])
    for got, want in zip(*runs):
        np.testing.assert_allclose(got, want, rtol=5e-5, atol=5e-5)


@pytest.mark.parametrize("name,fn,shape,pshape", _norms(), ids=[n[0] for n in _norms()])
def test_norm_composites_gradient_against_central_differences(name, fn, shape, pshape, check_grad):
    rng = np.random.default_rng(12)
    check_grad(fn, rng.standard_normal(shape) * 2 - 0.5, rng.standard_normal(pshape), rng.standard_normal(pshape))


def test_batch_norm_module_running_statistics_match_numpy():
    rng = np.random.default_rng(13)
    a = rng.standard_normal((8, 3, 4, 4)).astype(np.float32) * 3 + 1
    bn = gf.nn.BatchNorm2d(3, momentum=0.3)
    y = bn(gf.tensor(a))
    mean, var = a.mean((0, 2, 3)), a.var((0, 2, 3))
    np.testing.assert_allclose(y.detach().numpy(), (a - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.3 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.7 + 0.3 * var * 128 / 127, rtol=1e-5)


@pytest.mark.parametrize("stride,padding,dilation,groups,bias", [
    (1, 1, 1, 1, True), (2, 0, 1, 1, False), (1, "same", 2, 1, True), ((2, 1), (1, 2), 1, 2, True)])
def test_conv2d_runs_whole_and_matches_primitives(stride, padding, dilation, groups, bias):
    rng = np.random.default_rng(14)
    a = rng.standard_normal((2, 4, 7, 6)).astype(np.float32)
    w = rng.standard_normal((6, 4 // groups, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    runs = []
    for whole in (True, False):
        ts = [gf.tensor(v, requires_grad=True) for v in (a, w, b)]
        saved = composite.run
        if not whole:
            composite.run = lambda *args: None  # force the op-by-op path
        try:
            y = F.conv2d(ts[0], ts[1], ts[2] if bias else None, stride, padding, dilation, groups)
        finally:
            composite.run = saved
        (y * gf.tensor(np.linspace(-1, 1, y.numel(), dtype=np.float32).reshape(y.shape))).sum().backward()
        runs.append([y.detach().numpy()] + [t.grad.numpy() for t in ts[:2 + bias]])
    assert "conv2d" in {k[0] for k in composite._CACHE}
    for got, want in zip(*runs):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def _whole_and_op_by_op(fn, arrays):
    """[output, grads...] of fn on fresh tensors, run whole (composite) and op by op."""
    runs = []
    for whole in (True, False):
        ts = [gf.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
        saved = composite.run
        if not whole:
            composite.run = lambda *args: None
        try:
            y = fn(*ts)
        finally:
            composite.run = saved
        seed = np.linspace(-1, 1, y.numel(), dtype=np.float32).reshape(tuple(y.shape))
        (y * gf.tensor(seed)).sum().backward()
        runs.append([y.detach().numpy()] + [t.grad.numpy() for t in ts if t.requires_grad])
    return runs


@pytest.mark.parametrize("name,fn,shape", [
    ("gelu", lambda x: F.gelu(x), (70, 80)),
    ("gelu", lambda x: F.gelu(x, approximate="tanh"), (70, 80)),
    ("silu", F.silu, (5000,)),
    ("mish", F.mish, (64, 70)),
    ("max_pool2d", lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), (2, 3, 9, 8)),
    ("max_pool2d", lambda x: F.max_pool2d(x, 2), (2, 3, 8, 8)),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), (2, 3, 9, 8)),
    ("dropout", lambda x: F.dropout(x, 0.3, key=1234), (40, 130)),
])
def test_activations_pools_and_dropout_run_whole_and_match_primitives(name, fn, shape):
    a = np.random.default_rng(15).standard_normal(shape).astype(np.float32)
    got, want = _whole_and_op_by_op(fn, [a])
    assert name in {k[0] for k in composite._CACHE}
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)


def test_dropout_whole_keeps_the_op_by_op_draws_and_the_expectation():
    x = gf.ones(256, 256)
    gf.manual_seed(3)
    a = F.dropout(x, 0.25).numpy()
    saved, composite.run = composite.run, lambda *args: None
    try:
        gf.manual_seed(3)
        b = F.dropout(x, 0.25).numpy()
    finally:
        composite.run = saved
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, np.float32(1 / 0.75)} and abs((a == 0).mean() - 0.25) < 0.01
