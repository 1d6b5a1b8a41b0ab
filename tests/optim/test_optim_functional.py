"""The pure update rules against NumPy transcriptions of the published algorithms (PyTorch's
documented pseudo-code for SGD, Adam/AdamW, RMSprop; TF1's Adam form), step by step."""

from __future__ import annotations

import numpy as np
import pytest

from graphflow.optim.functional import adam_update, rmsprop_update, sgd_update


def np_sgd(p, g, buf, lr, momentum, dampening, nesterov, wd, maximize):
    g = -g if maximize else g
    g = g + wd * p
    if momentum:
        buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    return p - lr * g, buf


def np_adam(p, g, m, v, vmax, t, lr, b1, b2, eps, wd, decoupled, amsgrad, maximize):
    g = -g if maximize else g
    if decoupled:
        p = p * (1 - lr * wd)
    else:
        g = g + wd * p
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    mhat = m / (1 - b1 ** t)
    if amsgrad:
        vmax = np.maximum(vmax, v)
        vhat = vmax / (1 - b2 ** t)
    else:
        vhat = v / (1 - b2 ** t)
    return p - lr * mhat / (np.sqrt(vhat) + eps), m, v, vmax


def np_rmsprop(p, g, sq, buf, gavg, lr, alpha, eps, wd, momentum, centered, maximize):
    g = -g if maximize else g
    g = g + wd * p
    sq = alpha * sq + (1 - alpha) * g * g
    vt = sq
    if centered:
        gavg = alpha * gavg + (1 - alpha) * g
        vt = sq - gavg * gavg
    if momentum > 0:
        buf = momentum * buf + g / (np.sqrt(vt) + eps)
        p = p - lr * buf
    else:
        p = p - lr * g / (np.sqrt(vt) + eps)
    return p, sq, buf, gavg


def _grads(rng, shape, steps):
    return [rng.standard_normal(shape) for _ in range(steps)]


@pytest.mark.parametrize("momentum,dampening,nesterov,wd,maximize", [
    (0.0, 0.0, False, 0.0, False), (0.9, 0.0, False, 0.0, False), (0.9, 0.3, False, 1e-2, False),
    (0.8, 0.0, True, 1e-3, False), (0.5, 0.1, False, 0.0, True)])
def test_sgd_matches_numpy(graph_run, momentum, dampening, nesterov, wd, maximize):
    rng = np.random.default_rng(0)
    p = rng.standard_normal((3, 5))
    ref_p, ref_buf = p.copy(), None
    buf = None
    kw = dict(lr=0.1, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=wd, maximize=maximize)
    for g in _grads(rng, p.shape, 4):
        ref_p, ref_buf = np_sgd(ref_p, g, ref_buf, 0.1, momentum, dampening, nesterov, wd, maximize)
        if buf is None:
            p, buf = graph_run(lambda a, b: sgd_update(a, b, None, **kw), p, g)
        else:
            p, buf = graph_run(lambda a, b, c: sgd_update(a, b, c, **kw), p, g, buf)
        np.testing.assert_allclose(p, ref_p, rtol=1e-12, atol=1e-12)
        if momentum:
            np.testing.assert_allclose(buf, ref_buf, rtol=1e-12, atol=1e-12)
        else:
            assert buf is None


def test_sgd_zero_buffer_is_tf_momentum(graph_run):
    """A zero-initialised buffer with dampening 0 is TF1's MomentumOptimizer."""
    rng = np.random.default_rng(1)
    var, accum = rng.standard_normal(4), np.zeros(4)
    for g in _grads(rng, 4, 3):
        new_var, new_accum = graph_run(lambda a, b, c: sgd_update(a, b, c, lr=0.05, momentum=0.9), var, g, accum)
        accum = 0.9 * accum + g
        var = var - 0.05 * accum
        np.testing.assert_allclose(new_var, var, rtol=1e-12)
        np.testing.assert_allclose(new_accum, accum, rtol=1e-12)


def test_sgd_nesterov_needs_momentum():
    with pytest.raises(ValueError, match="Nesterov"):
        sgd_update(np.zeros(1), np.zeros(1), lr=0.1, nesterov=True)


@pytest.mark.parametrize("wd,decoupled,amsgrad,maximize", [
    (0.0, False, False, False), (0.1, False, False, False), (0.1, True, False, False),
    (0.0, False, True, False), (0.01, True, True, True)])
@pytest.mark.parametrize("step_as_value", [False, True])
def test_adam_matches_numpy(graph_run, wd, decoupled, amsgrad, maximize, step_as_value):
    rng = np.random.default_rng(2)
    shape = (2, 3)
    p = rng.standard_normal(shape)
    m, v, vmax = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    ref = (p.copy(), m.copy(), v.copy(), vmax.copy())
    kw = dict(lr=0.01, beta1=0.8, beta2=0.95, eps=1e-6, weight_decay=wd, decoupled_weight_decay=decoupled,
              amsgrad=amsgrad, maximize=maximize)
    for t, g in enumerate(_grads(rng, shape, 5), start=1):
        ref = np_adam(ref[0], g, ref[1], ref[2], ref[3], t, 0.01, 0.8, 0.95, 1e-6, wd, decoupled, amsgrad, maximize)
        if step_as_value:
            out = graph_run(lambda a, b, c, d, e, s: adam_update(a, b, c, d, s, max_exp_avg_sq=e if amsgrad else None,
                                                                 **kw), p, g, m, v, vmax, np.int64(t))
        else:
            out = graph_run(lambda a, b, c, d, e, t=t: adam_update(a, b, c, d, t, max_exp_avg_sq=e if amsgrad else None,
                                                              **kw), p, g, m, v, vmax)
        p, m, v, new_max = out
        tol = 1e-12
        np.testing.assert_allclose(p, ref[0], rtol=tol, atol=tol)
        np.testing.assert_allclose(m, ref[1], rtol=1e-12)
        np.testing.assert_allclose(v, ref[2], rtol=1e-12)
        if amsgrad:
            vmax = new_max
            np.testing.assert_allclose(vmax, ref[3], rtol=1e-12)
        else:
            assert new_max is None


def test_adam_epsilon_hat_is_tf_adam(graph_run):
    rng = np.random.default_rng(3)
    var = rng.standard_normal(5)
    m, v = np.zeros(5), np.zeros(5)
    ref_var, ref_m, ref_v = var.copy(), m.copy(), v.copy()
    for t, g in enumerate(_grads(rng, 5, 4), start=1):
        var, m, v, _ = graph_run(lambda a, b, c, d, t=t: adam_update(a, b, c, d, t, lr=0.001, epsilon_hat=True), var, g, m, v)
        lr_t = 0.001 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        ref_m = 0.9 * ref_m + 0.1 * g
        ref_v = 0.999 * ref_v + 0.001 * g * g
        ref_var = ref_var - lr_t * ref_m / (np.sqrt(ref_v) + 1e-8)
        np.testing.assert_allclose(var, ref_var, rtol=1e-12)


def test_adam_amsgrad_needs_state():
    with pytest.raises(ValueError, match="max_exp_avg_sq"):
        adam_update(np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1), 1, amsgrad=True)


@pytest.mark.parametrize("wd,momentum,centered,maximize", [
    (0.0, 0.0, False, False), (0.1, 0.0, False, False), (0.0, 0.9, False, False),
    (0.0, 0.0, True, False), (0.05, 0.5, True, True)])
def test_rmsprop_matches_numpy(graph_run, wd, momentum, centered, maximize):
    rng = np.random.default_rng(4)
    shape = (4,)
    p = rng.standard_normal(shape)
    sq, buf, gavg = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    ref = [p.copy(), sq.copy(), buf.copy(), gavg.copy()]
    kw = dict(lr=0.01, alpha=0.9, eps=1e-8, weight_decay=wd, momentum=momentum, centered=centered, maximize=maximize)
    for g in _grads(rng, shape, 4):
        ref = np_rmsprop(ref[0], g, ref[1], ref[2], ref[3], 0.01, 0.9, 1e-8, wd, momentum, centered, maximize)
        p, sq, new_buf, new_gavg = graph_run(
            lambda a, b, c, d, e: rmsprop_update(a, b, c, d if momentum else None, e if centered else None, **kw),
            p, g, sq, buf, gavg)
        np.testing.assert_allclose(p, ref[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(sq, ref[1], rtol=1e-12)
        if momentum:
            buf = new_buf
            np.testing.assert_allclose(buf, ref[2], rtol=1e-12)
        else:
            assert new_buf is None
        if centered:
            gavg = new_gavg
            np.testing.assert_allclose(gavg, ref[3], rtol=1e-12)


def test_float32_stays_float32(graph_run):
    p = np.ones(3, np.float32)
    out = graph_run(lambda a, b, c, d: adam_update(a, b, c, d, 1, lr=0.1), p, p, p, p)
    assert all(o.dtype == np.float32 for o in out if o is not None)
    out = graph_run(lambda a, b: sgd_update(a, b, lr=0.1, momentum=0.9, weight_decay=0.1), p, p)
    assert all(o.dtype == np.float32 for o in out)


def test_learning_rate_as_value(graph_run):
    p, g = np.ones(3), np.full(3, 2.0)
    new_p, _ = graph_run(lambda a, b, lr: sgd_update(a, b, lr=lr), p, g, np.float64(0.25))
    np.testing.assert_allclose(new_p, [0.5, 0.5, 0.5])
