"""Eager optimizers step by step against NumPy transcriptions of the published algorithms,
parameter groups, state dicts and argument checks."""

from __future__ import annotations

import numpy as np
import pytest
from test_optim_functional import np_adam, np_rmsprop, np_sgd

import graphflow as gf
import graphflow.nn as nn
import graphflow.optim as optim


def _setup(seed=0, shapes=((3, 4), (4,))):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in shapes]
    params = [nn.Parameter(gf.tensor(a)) for a in init]
    return rng, init, params


def _grads(rng, shapes, steps):
    return [[rng.standard_normal(s) for s in shapes] for _ in range(steps)]


def _run(opt, params, grads):
    history = []
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = gf.tensor(g)
        opt.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history


@pytest.mark.parametrize("kw", [dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.05, momentum=0.9, dampening=0.5),
                                dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01),
                                dict(lr=0.1, momentum=0.5, maximize=True)])
def test_sgd(kw):
    shapes = ((3, 4), (4,))
    rng, init, params = _setup(0, shapes)
    grads = _grads(rng, shapes, 5)
    history = _run(optim.SGD(params, **kw), params, grads)
    refs = [a.copy() for a in init]
    bufs = [None, None]
    for step, gs in enumerate(grads):
        for i, g in enumerate(gs):
            refs[i], bufs[i] = np_sgd(refs[i], g, bufs[i], kw["lr"], kw.get("momentum", 0), kw.get("dampening", 0),
                                      kw.get("nesterov", False), kw.get("weight_decay", 0), kw.get("maximize", False))
            np.testing.assert_allclose(history[step][i], refs[i], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls,kw", [(optim.Adam, dict()), (optim.Adam, dict(lr=0.01, weight_decay=0.1)),
                                    (optim.Adam, dict(lr=0.01, betas=(0.8, 0.9), amsgrad=True)),
                                    (optim.AdamW, dict(lr=0.01)), (optim.AdamW, dict(lr=0.02, weight_decay=0.1,
                                                                                     amsgrad=True, maximize=True))])
def test_adam_family(cls, kw):
    shapes = ((2, 3),)
    rng, init, params = _setup(1, shapes)
    grads = _grads(rng, shapes, 6)
    opt = cls(params, **kw)
    history = _run(opt, params, grads)
    lr = kw.get("lr", 1e-3)
    b1, b2 = kw.get("betas", (0.9, 0.999))
    wd = kw.get("weight_decay", 1e-2 if cls is optim.AdamW else 0.0)
    p, m, v, vmax = init[0].copy(), np.zeros(shapes[0]), np.zeros(shapes[0]), np.zeros(shapes[0])
    for t, gs in enumerate(grads, start=1):
        p, m, v, vmax = np_adam(p, gs[0], m, v, vmax, t, lr, b1, b2, 1e-8, wd, cls is optim.AdamW,
                                kw.get("amsgrad", False), kw.get("maximize", False))
        # the step count is a float32 tensor (as in PyTorch); bias corrections agree to float64 rounding
        np.testing.assert_allclose(history[t - 1][0], p, rtol=1e-10, atol=1e-12)
    state = opt.state[params[0]]
    assert state["step"].item() == 6.0
    np.testing.assert_allclose(state["exp_avg"].numpy(), m, rtol=1e-12)
    np.testing.assert_allclose(state["exp_avg_sq"].numpy(), v, rtol=1e-12)


@pytest.mark.parametrize("kw", [dict(), dict(lr=0.01, momentum=0.9), dict(lr=0.01, centered=True, weight_decay=0.1),
                                dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, maximize=True)])
def test_rmsprop(kw):
    shapes = ((5,),)
    rng, init, params = _setup(2, shapes)
    grads = _grads(rng, shapes, 5)
    history = _run(optim.RMSprop(params, **kw), params, grads)
    p, sq, buf, gavg = init[0].copy(), np.zeros(5), np.zeros(5), np.zeros(5)
    for t, gs in enumerate(grads):
        p, sq, buf, gavg = np_rmsprop(p, gs[0], sq, buf, gavg, kw.get("lr", 1e-2), kw.get("alpha", 0.99), 1e-8,
                                      kw.get("weight_decay", 0), kw.get("momentum", 0), kw.get("centered", False),
                                      kw.get("maximize", False))
        np.testing.assert_allclose(history[t][0], p, rtol=1e-10, atol=1e-12)


def test_float32_params_stay_float32_and_in_place():
    lin = nn.Linear(3, 2)
    w = lin.weight
    storage = w.detach().numpy()
    opt = optim.Adam(lin.parameters(), lr=0.1)
    lin(gf.randn(4, 3)).sum().backward()
    opt.step()
    assert lin.weight is w and w.dtype is gf.float32 and w.requires_grad and w.is_leaf
    assert np.shares_memory(w.detach().numpy(), storage)  # updated in place
    assert opt.state[w]["exp_avg"].dtype is gf.float32


def test_param_groups_and_skipping_params_without_grad():
    a, b, c = (nn.Parameter(gf.ones(2)) for _ in range(3))
    opt = optim.SGD([{"params": [a]}, {"params": [b, c], "lr": 0.5}], lr=0.1, momentum=0.9)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.5
    assert opt.param_groups[1]["momentum"] == 0.9
    a.grad, b.grad = gf.ones(2), gf.ones(2)
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), 0.9)
    np.testing.assert_allclose(b.detach().numpy(), 0.5)
    np.testing.assert_allclose(c.detach().numpy(), 1.0)  # no gradient: untouched, no state
    assert c not in opt.state
    d = nn.Parameter(gf.ones(1))
    opt.add_param_group({"params": d, "lr": 1.0})
    assert opt.param_groups[2]["momentum"] == 0.9
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_state_dict_roundtrip_continues_identically():
    shapes = ((3,), (2, 2))
    rng, init, params = _setup(3, shapes)
    grads = _grads(rng, shapes, 6)
    opt = optim.Adam(params, lr=0.05, amsgrad=True)
    _run(opt, params, grads[:3])
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1] and sd["param_groups"][0]["params"] == [0, 1]
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    clones = [nn.Parameter(gf.tensor(p.detach().numpy().copy())) for p in params]
    opt2 = optim.Adam(clones, lr=0.9)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.05
    h1 = _run(opt, params, grads[3:])
    h2 = _run(opt2, clones, grads[3:])
    for x, y in zip(h1[-1], h2[-1]):
        np.testing.assert_array_equal(x, y)
    # the saved state is a copy: stepping the optimizer did not change it
    assert sd["state"][0]["step"].item() == 3.0
    with pytest.raises(ValueError, match="parameter group"):
        optim.Adam([nn.Parameter(gf.ones(1))]).load_state_dict(sd)


def test_argument_checks():
    p = [nn.Parameter(gf.ones(1))]
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.SGD(p, lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        optim.Adam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(p[0], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p[0] * 2], lr=0.1)


def test_closure_and_training_converges():
    gf.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    x = gf.randn(64, 2)
    y = (x[:, :1] * x[:, 1:]).detach()
    opt = optim.Adam(model.parameters(), lr=0.05)

    def closure():
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    first = opt.step(closure).item()
    for _ in range(150):
        last = opt.step(closure).item()
    assert last < 0.25 * first


def test_loaded_state_lives_beside_its_parameter_on_the_device():
    """A checkpoint saved on the CPU and loaded for parameters on `cuda` (the cuda backend's
    emulator without a GPU): floating state moves to the parameter's device and dtype, the
    step count stays on the CPU, and the next steps match the CPU run."""
    import shutil

    if shutil.which("g++") is None and shutil.which("c++") is None:
        pytest.skip("no C++ compiler for the cuda emulator")
    from graphflow.backends.cuda import CudaBackend
    from graphflow.backends.cuda.emulation import EmulatorDevice
    from graphflow.eager.devices import use_backend

    shapes = ((3,), (2, 2))
    rng, init, params = _setup(3, shapes)
    grads = _grads(rng, shapes, 4)
    opt = optim.Adam(params, lr=0.05)
    _run(opt, params, grads[:2])
    sd = opt.state_dict()
    with use_backend("cuda", CudaBackend(device=EmulatorDevice())):
        on_device = [nn.Parameter(gf.tensor(p.detach().numpy().copy(), device="cuda")) for p in params]
        opt2 = optim.Adam(on_device, lr=0.05)
        opt2.load_state_dict(sd)
        state = opt2.state[on_device[1]]
        assert state["exp_avg"].device == "cuda:0" and state["exp_avg_sq"].device == "cuda:0"
        assert state["step"].device == "cpu" and state["step"].item() == 2.0
        for g in grads[2:]:
            for p, gv in zip(on_device, g):
                p.grad = gf.tensor(gv, device="cuda")
            opt2.step()
        _run(opt, params, grads[2:])
        for p, q in zip(params, on_device):
            np.testing.assert_allclose(q.detach().cpu().numpy(), p.detach().numpy(), rtol=1e-6, atol=1e-7)
