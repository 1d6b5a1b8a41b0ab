"""Learning-rate schedulers against their published closed forms (PyTorch's documented formulas)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphflow as gf
import graphflow.nn as nn
import graphflow.optim as optim
from graphflow.optim import lr_scheduler as S


def _opt(lr=0.1, cls=optim.SGD, **kw):
    return cls([nn.Parameter(gf.ones(1))], lr=lr, **kw)


def _trace(sched, n):
    out = [sched.get_last_lr()[0]]
    for _ in range(n):
        sched.optimizer.step()
        sched.step()
        out.append(sched.get_last_lr()[0])
    return out


def test_step_lr():
    lrs = _trace(S.StepLR(_opt(), step_size=3, gamma=0.5), 7)
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025])


def test_multistep_and_exponential_and_lambda():
    np.testing.assert_allclose(_trace(S.MultiStepLR(_opt(), [2, 4], 0.1), 5), [0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    np.testing.assert_allclose(_trace(S.ExponentialLR(_opt(), 0.9), 4), [0.1 * 0.9**k for k in range(5)])
    np.testing.assert_allclose(_trace(S.LambdaLR(_opt(), lambda e: 1 / (e + 1)), 3), [0.1, 0.05, 0.1 / 3, 0.025])


def test_cosine_annealing():
    opt = _opt(1.0)
    lrs = _trace(S.CosineAnnealingLR(opt, T_max=10, eta_min=0.1), 20)
    ref = [0.1 + 0.9 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(21)]
    np.testing.assert_allclose(lrs, ref, atol=1e-12)
    assert opt.param_groups[0]["lr"] == lrs[-1]


def test_one_cycle_sgd_momentum():
    opt = _opt(0.1, momentum=0.9)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.3)
    lrs, moms = [opt.param_groups[0]["lr"]], [opt.param_groups[0]["momentum"]]
    for _ in range(9):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])

    def cos(start, end, pct):
        return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)

    init, low = 1.0 / 25, 1.0 / 25 / 1e4
    up_end = 0.3 * 10 - 1
    ref_lr, ref_m = [], []
    for t in range(10):
        if t <= up_end:
            pct = t / up_end
            ref_lr.append(cos(init, 1.0, pct))
            ref_m.append(cos(0.95, 0.85, pct))
        else:
            pct = (t - up_end) / (9 - up_end)
            ref_lr.append(cos(1.0, low, pct))
            ref_m.append(cos(0.85, 0.95, pct))
    np.testing.assert_allclose(lrs, ref_lr, rtol=1e-12)
    np.testing.assert_allclose(moms, ref_m, rtol=1e-12)
    sched.step()
    with pytest.raises(ValueError, match="Tried to step 11 times"):
        sched.step()


def test_one_cycle_adam_beta1_and_linear():
    opt = _opt(0.1, cls=optim.Adam)
    sched = S.OneCycleLR(opt, max_lr=0.5, epochs=2, steps_per_epoch=5, anneal_strategy="linear",
                         cycle_momentum=True)
    assert opt.param_groups[0]["betas"] == (0.95, 0.999)
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.02 + (0.5 - 0.02) * 1 / 2)
    assert opt.param_groups[0]["betas"][0] == pytest.approx(0.95 - 0.1 / 2)
    with pytest.raises(ValueError, match="total_steps OR"):
        S.OneCycleLR(_opt(), max_lr=1.0)


def test_reduce_on_plateau():
    opt = _opt(1.0)
    sched = S.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    metrics = [10, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]
    lrs = []
    for m in metrics:
        sched.step(m)
        lrs.append(sched.get_last_lr()[0])
    # bad epochs after 9: 1, 2, 3 -> reduce (cooldown 1), then 0 (cooldown), 1, 2, 3 -> reduce, ...
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]
    for _ in range(10):
        sched.step(9)
    assert sched.get_last_lr() == [0.2]  # floored at min_lr
    up = S.ReduceLROnPlateau(_opt(1.0), mode="max", patience=0, threshold=0.1, threshold_mode="abs")
    up.step(1.0)
    up.step(1.05)  # not better by 0.1
    assert up.get_last_lr() == pytest.approx([0.1])


def test_scheduler_drives_training_lr():
    opt = _opt(1.0)
    p = opt.param_groups[0]["params"][0]
    sched = S.StepLR(opt, 1, gamma=0.5)
    for expected in (1.0, 0.5, 0.25):
        before = p.detach().numpy().copy()
        p.grad = gf.ones(1)
        opt.step()
        np.testing.assert_allclose(before - p.detach().numpy(), expected)
        sched.step()
