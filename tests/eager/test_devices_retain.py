"""Devices (`to`, `cuda`, `cpu`, `model.to`) and `retain_grad()`.

Without a GPU the cuda path runs on the cuda backend's emulator device (the generated CUDA C
compiled for the CPU), so moving data, running ops on the device and backward there are
exercised here; tests that need a real GPU skip."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
from graphflow.backends import available
from graphflow.errors import DeviceError


# ---- without a GPU ------------------------------------------------------------------------
@pytest.mark.skipif(gf.cuda.is_available(), reason="checks the error where there is no GPU")
def test_to_cuda_without_gpu_names_the_reason():
    reason = available()["cuda"]
    assert reason.startswith("unavailable: ")
    detail = reason[len("unavailable: "):]
    x = gf.ones(2)
    for move in (lambda: x.to("cuda"), lambda: x.cuda(), lambda: x.to("cuda:0", gf.float64),
                 lambda: gf.zeros(2, device="cuda"), lambda: gf.tensor([1.0], device="cuda"),
                 lambda: gf.nn.Linear(2, 2).to("cuda")):
        with pytest.raises(DeviceError) as info:
            move()
        assert "CUDA is not available" in str(info.value) and detail in str(info.value)
    assert gf.cuda.device_count() == 0


def test_to_dtype_and_device_together_on_cpu():
    x = gf.tensor([1.5, -2.5])
    y = x.to("cpu", gf.float64)
    assert y.dtype is gf.float64 and y.device == "cpu" and y.tolist() == [1.5, -2.5]
    assert x.to("cpu") is x and x.cpu() is x
    assert x.to(gf.float32, copy=True) is not x


# ---- the cuda path on the emulator device ---------------------------------------------------
def test_tensors_move_and_compute_on_device(cuda):
    from graphflow.backends.cuda.runtime import DeviceArray

    a = gf.tensor([1.0, 2.0, 3.0])
    d = a.to("cuda")
    assert d.device == "cuda:0" and d.is_cuda and isinstance(d._data, DeviceArray)
    assert a.device == "cpu"  # the source stays where it was
    out = d * d + 1.0
    assert out.device == "cuda:0" and isinstance(out._data, DeviceArray)
    back = out.cpu()
    assert back.device == "cpu" and isinstance(back._data, np.ndarray) and back.tolist() == [2.0, 5.0, 10.0]
    assert out.tolist() == [2.0, 5.0, 10.0] and "device='cuda:0'" in repr(out)
    with pytest.raises(DeviceError, match="cpu"):
        out.numpy()
    both = d.to("cuda", gf.float64)
    assert both.dtype is gf.float64 and both.device == "cuda:0" and both.tolist() == [1.0, 2.0, 3.0]
    assert a.cuda().device == "cuda:0"


def test_cross_device_ops_name_both_devices(cuda):
    with pytest.raises(DeviceError, match=r"mul.*(cpu and cuda:0|cuda:0 and cpu)"):
        gf.ones(2).cuda() * gf.ones(2)
    with pytest.raises(DeviceError, match=r"(cpu and cuda:0|cuda:0 and cpu)"):
        gf.ones(2) + gf.ones(2).cuda()


def test_backward_on_device(cuda):
    w = gf.tensor([1.0, 2.0, 3.0], device="cuda", requires_grad=True)
    x = gf.tensor([0.5, -1.0, 2.0]).cuda()
    for _ in range(2):  # the second pass accumulates on the device
        (w * x).sum().backward()
    assert w.grad.device == "cuda:0" and w.grad.tolist() == [1.0, -2.0, 4.0]
    moved = (w * x).cpu()  # a recorded copy (test_device_grad.py checks its gradients)
    assert moved.device == "cpu" and moved.grad_fn.name() == "ToCopyBackward0"
    assert (w * x).detach().cpu().tolist() == [0.5, -2.0, 6.0]


def test_model_to_cuda_moves_parameters(cuda):
    gf.manual_seed(0)
    model = gf.nn.Linear(3, 2)
    x = gf.tensor([[1.0, 2.0, 3.0]])
    ref = model(x).detach().tolist()
    model.to("cuda")
    assert all(p.device == "cuda:0" and isinstance(p, gf.nn.Parameter) and p.requires_grad
               for p in model.parameters())
    out = model(x.cuda())
    assert out.device == "cuda:0"
    np.testing.assert_allclose(out.detach().cpu().numpy(), ref, rtol=1e-6)
    model.cpu()
    assert all(p.device == "cpu" for p in model.parameters())
    np.testing.assert_allclose(model(x).detach().numpy(), ref, rtol=1e-6)


@pytest.mark.skipif(not gf.cuda.is_available(), reason=f"needs a GPU ({available()['cuda']})")
def test_real_gpu_round_trip():
    x = gf.randn(1000)
    y = (x.cuda() * 2.0).sin().cpu()
    np.testing.assert_allclose(y.numpy(), np.sin(x.numpy() * 2.0), rtol=1e-5, atol=1e-6)


# ---- retain_grad ----------------------------------------------------------------------------
def test_retain_grad_keeps_the_gradient_of_an_inner_tensor():
    x = gf.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    y.retain_grad()
    assert y.retains_grad and not x.retains_grad
    z = (y * 3.0).sum()
    z.backward()
    assert y.grad.tolist() == [3.0, 3.0, 3.0] and x.grad.tolist() == [6.0, 12.0, 18.0]
    assert not y.grad.requires_grad and y.grad.grad_fn is None
    v = x * 2.0
    (v * y.detach()).sum().backward()
    assert v.grad is None  # not retained: no gradient kept (as PyTorch)


def test_retain_grad_accumulates_and_follows_inplace_writes():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    y.retain_grad()
    out = (y * y).sum()
    out.backward(retain_graph=True)
    out.backward()
    assert y.grad.tolist() == [8.0, 16.0]  # 2 * (2y) accumulated over two passes
    a = gf.tensor([1.0, 2.0], requires_grad=True)
    b = a * 1.0
    b.retain_grad()
    b.mul_(3.0)  # in place: the retained gradient is the one of b's new value
    (b * b).sum().backward()
    assert b.grad.tolist() == [6.0, 12.0]
    assert a.grad.tolist() == [18.0, 36.0]


def test_retain_grad_on_leaves_and_errors():
    leaf = gf.tensor([1.0], requires_grad=True)
    leaf.retain_grad()  # a no-op for leaves
    (leaf * 2.0).sum().backward()
    assert leaf.grad.tolist() == [2.0] and not leaf.retains_grad
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        gf.ones(2).retain_grad()


def test_retain_grad_with_autograd_grad_and_create_graph():
    x = gf.tensor([2.0], requires_grad=True)
    y = x * x
    y.retain_grad()
    (g,) = gf.autograd.grad(y.sum(), x, create_graph=True)
    assert y.grad is None  # autograd.grad fills no .grad
    assert g.tolist() == [4.0] and g.requires_grad
    (y * x).sum().backward(create_graph=True)
    assert y.grad.tolist() == [2.0]
