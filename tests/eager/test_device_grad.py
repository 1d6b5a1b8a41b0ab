"""Copies between devices and dtypes are differentiable: `to("cuda")`, `.cpu()`, `to(device, dtype)`
and casts pass the gradient back (moved to the source's device). Without a GPU the cuda device
is the cuda backend's emulator (as in test_devices_retain.py)."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf


def _leaf(values, device="cpu", dtype=gf.float64):
    return gf.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, device=device, requires_grad=True)


def test_cpu_to_cuda_and_back(cuda):
    x = _leaf([1.0, -2.0, 3.0])
    d = x.to("cuda")
    assert d.device == "cuda:0" and d.requires_grad and not d.is_leaf
    assert d.grad_fn.name() == "ToCopyBackward0"
    (fn, _), = d.grad_fn.next_functions
    assert fn.name() == "AccumulateGrad" and fn.variable is x
    loss = (d * d).sum().cpu() * 3.0
    assert loss.device == "cpu" and loss.item() == 42.0
    loss.backward()
    assert x.grad.device == "cpu" and x.grad.tolist() == [6.0, -12.0, 18.0]


def test_cuda_leaf_through_the_cpu(cuda):
    w = _leaf([[1.0, 2.0], [3.0, 4.0]], device="cuda")
    c = gf.tensor([[0.5, -1.0], [2.0, 0.0]], dtype=gf.float64)
    (w.cpu() * c).sum().backward()
    assert w.grad.device == "cuda:0" and w.grad.tolist() == c.tolist()
    (w.cuda() * 2.0).sum().backward()  # a copy to the device it is on is the tensor itself
    assert w.grad.tolist() == (c.numpy() + 2.0).tolist()


def test_paths_on_both_devices_add_up(cuda):
    x = _leaf([1.0, 2.0])
    h = x * x  # an inner value reached from the cpu and from the device
    loss = (h.cuda() * 3.0).sum().cpu() + h.sum()
    loss.backward()
    assert x.grad.tolist() == [8.0, 16.0]  # 2x * (3 + 1)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()  # values were freed after the last pass


def test_round_trips_and_retained_copies(cuda):
    x = _leaf([0.5, 1.5])
    d = x.cuda()
    d.retain_grad()
    back = (d * 4.0).cpu()
    again = (back * back).cuda()
    out = again.sum().cpu()
    out.backward(retain_graph=True)
    expect = 2 * (4 * x.detach().numpy()) * 4
    np.testing.assert_allclose(x.grad.numpy(), expect)
    assert d.grad.device == "cuda:0"
    np.testing.assert_allclose(d.grad.cpu().numpy(), expect)
    out.backward()  # retained: a second pass accumulates
    np.testing.assert_allclose(x.grad.numpy(), 2 * expect)


def test_device_and_dtype_in_one_call(cuda):
    x = _leaf([1.0, 2.0, 3.0])
    y = x.to("cuda", gf.float32)
    assert y.dtype is gf.float32 and y.device == "cuda:0"
    (y * y).sum().cpu().backward()
    assert x.grad.dtype is gf.float64 and x.grad.device == "cpu" and x.grad.tolist() == [2.0, 4.0, 6.0]


def test_autograd_grad_across_devices(cuda):
    a, b = _leaf([1.0, 2.0]), _leaf([3.0, 4.0], device="cuda")
    out = (a.cuda() * b).sum().cpu() + a.sum()
    ga, gb = gf.autograd.grad(out, [a, b])
    assert ga.device == "cpu" and ga.tolist() == [4.0, 5.0]
    assert gb.device == "cuda:0" and gb.tolist() == [1.0, 2.0]
    assert a.grad is None and b.grad is None


def test_second_derivative_through_a_copy(cuda):
    x = _leaf([1.0, -2.0])
    y = (x.cuda() * x.cuda() * x.cuda()).sum().cpu()
    (g,) = gf.autograd.grad(y, x, create_graph=True)
    assert g.tolist() == [3.0, 12.0] and g.requires_grad
    g.sum().backward()
    assert x.grad.tolist() == [6.0, -12.0]


def test_copies_match_central_differences(cuda, check_grad):
    rng = np.random.default_rng(0)

    def fn(a, b):
        return (a.cuda() * b.cuda()).cpu() * a + b.to("cuda").sum().cpu()
    check_grad(fn, rng.standard_normal((2, 3)), rng.standard_normal((2, 3)))


def test_odd_shapes_and_no_grad(cuda):
    for shape in [(0,), (1,), (3, 1)]:
        x = gf.tensor(np.ones(shape), dtype=gf.float64, requires_grad=True)
        (x.cuda() * 2.0).sum().cpu().backward()
        assert x.grad.shape == shape and np.all(x.grad.numpy() == 2.0)
    x = _leaf([1.0])
    with gf.no_grad():
        d = x.cuda()
    assert not d.requires_grad and d.grad_fn is None
    assert not x.detach().cuda().requires_grad


def test_in_place_on_a_copy(cuda):
    x = _leaf([1.0, 2.0])
    d = x.cuda()
    d.mul_(3.0)  # the copy is no leaf: in-place ops are recorded on it
    d.sum().cpu().backward()
    assert x.grad.tolist() == [3.0, 3.0]


# ---- dtype casts (no device needed) -------------------------------------------------------------
def test_dtype_casts_are_differentiable():
    x = _leaf([1.0, 2.5])
    for y in (x.to(gf.float32), x.float(), x.half(), x.to(dtype=gf.bfloat16), x.type_as(gf.ones(1)), x.double()):
        (y * 2.0).sum().backward()
        assert x.grad.dtype is gf.float64 and x.grad.tolist() == [2.0, 2.0]
        x.grad = None
    h = gf.tensor([1.0, 2.0], dtype=gf.float32, requires_grad=True)
    (h.to(gf.float64) ** 2).sum().backward()
    assert h.grad.dtype is gf.float32 and h.grad.tolist() == [2.0, 4.0]
    assert not x.to(gf.int64).requires_grad  # integers carry no gradient



# ---- views of device tensors ------------------------------------------------------------------
def test_writes_through_device_views_reach_the_base(cuda):
    d = gf.zeros(2, 3, dtype=gf.float64, device="cuda")
    d[1].add_(1.0)
    d.t()[0].fill_(5.0)
    d[0, 1:] = gf.tensor([7.0, 8.0], dtype=gf.float64).cuda()
    assert d.device == "cuda:0" and d.tolist() == [[5.0, 7.0, 8.0], [5.0, 1.0, 1.0]]
    x, w = _leaf([[1.0, 2.0], [3.0, 4.0]], device="cuda"), _leaf([10.0, 20.0], device="cuda")
    y = x * 1.0
    row = y[0]
    row.add_(w * w)
    assert y.tolist() == [[101.0, 402.0], [3.0, 4.0]] and row.tolist() == [101.0, 402.0]
    (y * 2.0).sum().cpu().backward()
    assert x.grad.device == "cuda:0" and x.grad.tolist() == [[2.0, 2.0], [2.0, 2.0]]
    assert w.grad.tolist() == [40.0, 80.0]
