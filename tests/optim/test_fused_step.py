"""Eager `step()` runs each parameter group's update as one cached compiled graph
(`graphflow.optim.fused`): cache hits, recompiles on a new structure, fed learning rates, and
results equal to the op-by-op update."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
import graphflow.nn as nn
import graphflow.optim as optim
from graphflow.backends import available, cpu_backend_choice
from graphflow.optim.fused import FusedPlan


@pytest.fixture(autouse=True, params=["numpy", "llvm"])
def cpu_backend(request):
    if available().get(request.param) != "available":
        pytest.skip(f"{request.param} unavailable")
    previous = cpu_backend_choice()
    gf.set_backend(request.param)
    yield request.param
    gf.set_backend(previous)


def _pair(shapes, dtype=np.float32, seed=0, **kw):
    """Two identical parameter sets with SGD optimizers: one fused, one forced op by op."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    a = [nn.Parameter(gf.tensor(x)) for x in init]
    b = [nn.Parameter(gf.tensor(x)) for x in init]
    fused, plain = optim.SGD(a, **kw), optim.SGD(b, **kw)
    plain._fusable = False
    return rng, a, b, fused, plain


# llvm may contract a multiply-add (one rounding fewer): equal to float32 rounding; the NumPy
# reference runs the same ops as the op-by-op path, bit for bit
TOL = dict(rtol=1e-6, atol=3e-7)


def _step_both(rng, a, b, fused, plain, dtype=np.float32):
    for pa, pb in zip(a, b):
        g = rng.standard_normal(tuple(pa.shape)).astype(dtype)
        pa.grad, pb.grad = gf.tensor(g), gf.tensor(g.copy())
    fused.step()
    plain.step()


@pytest.mark.parametrize("kw", [dict(lr=0.1), dict(lr=0.05, momentum=0.9),
                                dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01),
                                dict(lr=0.05, momentum=0.9, dampening=0.5), dict(lr=0.1, maximize=True)])
def test_fused_equals_op_by_op(kw, cpu_backend):
    shapes = ((3, 5), (5,), (1,), (0, 4), (17, 33))
    rng, a, b, fused, plain = _pair(shapes, **kw)
    for _ in range(4):
        _step_both(rng, a, b, fused, plain)
        for pa, pb in zip(a, b):
            if cpu_backend == "numpy":
                np.testing.assert_array_equal(pa.detach().numpy(), pb.detach().numpy())
            np.testing.assert_allclose(pa.detach().numpy(), pb.detach().numpy(), **TOL)
        for pa, pb in zip(a, b):
            for k, v in plain.state[pb].items():
                np.testing.assert_allclose(fused.state[pa][k].numpy(), v.numpy(), rtol=1e-6, atol=3e-7)
    # dampening: the first update creates the momentum buffer op by op, then the steps are fused
    assert any(isinstance(p, FusedPlan) for p in fused._fused_plans.values())


def test_plan_is_cached_and_updates_in_place():
    rng, a, b, fused, plain = _pair(((4, 3), (3,)), lr=0.1, momentum=0.9)
    _step_both(rng, a, b, fused, plain)
    buffers = [p._data for p in a]
    versions = [p._vc_().version for p in a]
    for _ in range(3):
        _step_both(rng, a, b, fused, plain)
    assert fused._fused_compiles == 1 and len(fused._fused_plans) == 1
    for p, buf, v in zip(a, buffers, versions):
        assert p._data is buf  # written in place
        assert p._vc_().version == v + 3  # each update counts as an in-place write


def test_learning_rate_is_fed_not_compiled():
    rng, a, b, fused, plain = _pair(((6,),), lr=0.1)
    sched_a = optim.lr_scheduler.StepLR(fused, step_size=1, gamma=0.5)
    sched_b = optim.lr_scheduler.StepLR(plain, step_size=1, gamma=0.5)
    for _ in range(4):
        _step_both(rng, a, b, fused, plain)
        sched_a.step()
        sched_b.step()
        np.testing.assert_allclose(a[0].detach().numpy(), b[0].detach().numpy(), rtol=1e-6, atol=3e-7)
    assert fused._fused_compiles == 1


def test_new_shape_or_dtype_or_setting_recompiles():
    rng, a, b, fused, plain = _pair(((4,),), lr=0.1)
    _step_both(rng, a, b, fused, plain)
    fused.param_groups[0]["momentum"] = 0.5  # a compiled-in setting: a new plan
    plain.param_groups[0]["momentum"] = 0.5
    _step_both(rng, a, b, fused, plain)
    np.testing.assert_allclose(a[0].detach().numpy(), b[0].detach().numpy(), rtol=1e-6, atol=3e-7)
    n = fused._fused_compiles
    assert n >= 2
    p64 = nn.Parameter(gf.tensor(np.ones(4)))
    opt = optim.SGD([p64], lr=0.5)
    p64.grad = gf.tensor(np.full(4, 2.0))
    opt.step()
    np.testing.assert_array_equal(p64.detach().numpy(), np.zeros(4))
    assert p64.dtype == gf.float64
    p64.grad = gf.tensor(np.full(4, 2.0, np.float32))  # grad dtype differs: op by op, as before
    opt.step()
    np.testing.assert_array_equal(p64.detach().numpy(), np.full(4, -1.0))


def test_too_many_compiles_fall_back_to_op_by_op():
    rng, a, b, fused, plain = _pair(((3,),), lr=0.1)
    for k in range(12):
        fused.param_groups[0]["weight_decay"] = plain.param_groups[0]["weight_decay"] = 0.01 * k
        _step_both(rng, a, b, fused, plain)
    from graphflow.optim.fused import MAX_PLANS

    assert fused._fused_compiles == MAX_PLANS + 1
    np.testing.assert_allclose(a[0].detach().numpy(), b[0].detach().numpy(), rtol=1e-6, atol=1e-7)


def test_training_loop_matches_op_by_op():
    gf.manual_seed(0)
    m1 = nn.Sequential(nn.Linear(7, 5), nn.ReLU(), nn.Linear(5, 3))
    m2 = nn.Sequential(nn.Linear(7, 5), nn.ReLU(), nn.Linear(5, 3))
    m2.load_state_dict(m1.state_dict())
    o1, o2 = optim.SGD(m1.parameters(), lr=0.1, momentum=0.9), optim.SGD(m2.parameters(), lr=0.1, momentum=0.9)
    o2._fusable = False
    x, y = gf.randn(8, 7), gf.randint(0, 3, (8,))
    for _ in range(5):
        for m, o in ((m1, o1), (m2, o2)):
            o.zero_grad()
            gf.nn.functional.cross_entropy(m(x), y).backward()
            o.step()
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_allclose(p1.detach().numpy(), p2.detach().numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("make", [lambda ps: optim.Adam(ps, lr=0.01), lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True,
                                                                                              weight_decay=0.1),
                                  lambda ps: optim.AdamW(ps, lr=0.01), lambda ps: optim.RMSprop(ps, lr=0.01),
                                  lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.9, centered=True)])
def test_other_optimizers_fused_equal_op_by_op(make):
    rng = np.random.default_rng(7)
    init = [rng.standard_normal(s).astype(np.float32) for s in ((5, 3), (3,))]
    a = [nn.Parameter(gf.tensor(x)) for x in init]
    b = [nn.Parameter(gf.tensor(x)) for x in init]
    fused, plain = make(a), make(b)
    plain._fusable = False
    for _ in range(6):
        _step_both(rng, a, b, fused, plain)
        for pa, pb in zip(a, b):
            # bias corrections in float32 (fused) or in Python (op by op): a few float32 roundings apart
            np.testing.assert_allclose(pa.detach().numpy(), pb.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert fused._fused_compiles == 1 and all(isinstance(p, FusedPlan) for p in fused._fused_plans.values())
