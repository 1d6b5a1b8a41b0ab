"""Helpers for eager-mode tests: numerical gradient checks in float64, and the CPU backend each
test runs on."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import graphflow as gf
from tests.cpu_backends import CPU_BACKENDS, on_cpu_backend


def numeric_grad(fn, arrays, eps=1e-6):
    """Central differences of sum(fn(*arrays)) with respect to each array."""
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        flat = a.reshape(-1)
        gflat = g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            hi = fn(*[gf.tensor(x) for x in arrays]).sum().item()
            flat[i] = old - eps
            lo = fn(*[gf.tensor(x) for x in arrays]).sum().item()
            flat[i] = old
            gflat[i] = (hi - lo) / (2 * eps)
        grads.append(g)
    return grads


def check_grad(fn, *arrays, atol=1e-6, rtol=1e-5):
    """Compare backward() of sum(fn(*tensors)) with central differences (float64)."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    ts = [gf.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts).sum()
    out.backward()
    expected = numeric_grad(fn, [a.copy() for a in arrays])
    for t, e in zip(ts, expected):
        got = np.zeros_like(e) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(got, e, atol=atol, rtol=rtol)


@pytest.fixture(autouse=True, params=CPU_BACKENDS)
def cpu_backend(request):
    """Every eager test runs on each CPU backend present."""
    with on_cpu_backend(request.param):
        assert gf.is_grad_enabled()
        yield request.param
        gf.set_grad_enabled(True)


@pytest.fixture(name="check_grad")
def _check_grad_fixture():
    return check_grad


@pytest.fixture(scope="module")
def cuda():
    """Eager cuda tensors on the CPU emulator of the CUDA backend (the generated CUDA C compiled with
    the host C++ compiler), for the device tests of a module."""
    if shutil.which("g++") is None and shutil.which("c++") is None:
        pytest.skip("no C++ compiler for the cuda emulator")
    from graphflow.backends.cuda import CudaBackend
    from graphflow.backends.cuda.emulation import EmulatorDevice
    from graphflow.eager.devices import use_backend

    with use_backend("cuda", CudaBackend(device=EmulatorDevice())) as backend:
        yield backend
