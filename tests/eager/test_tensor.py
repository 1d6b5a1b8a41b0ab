"""Eager tensors: creation, attributes, the NumPy bridge, repr, dtypes, devices, backends."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
from graphflow.errors import DeviceError


def test_tensor_copies_and_infers_dtypes():
    data = [1.0, 2.0]
    t = gf.tensor(data)
    assert t.dtype is gf.float32 and t.shape == (2,) and t.ndim == 1 and t.numel() == 2
    assert gf.tensor([1, 2]).dtype is gf.int64
    assert gf.tensor([True, False]).dtype is gf.bool
    assert gf.tensor(3.5).shape == () and gf.tensor(3.5).item() == 3.5
    arr = np.arange(3.0)
    t = gf.tensor(arr)
    arr[0] = 7
    assert t.tolist() == [0.0, 1.0, 2.0] and t.dtype is gf.float64
    assert gf.tensor([[1, 2], [3, 4]], dtype=gf.float16).dtype is gf.float16


def test_creation_functions():
    assert gf.zeros(2, 3).tolist() == [[0.0] * 3] * 2
    assert gf.ones((2,), dtype=gf.int32).dtype is gf.int32
    assert gf.full((2,), 7).dtype is gf.int64 and gf.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert gf.empty(0, 4).shape == (0, 4)
    assert gf.arange(5).tolist() == [0, 1, 2, 3, 4] and gf.arange(5).dtype is gf.int64
    np.testing.assert_allclose(gf.arange(0, 1, 0.25).numpy(), [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(gf.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5), rtol=1e-6)
    assert gf.eye(3).tolist() == np.eye(3).tolist()
    x = gf.ones(2, 3, dtype=gf.float64)
    for fn in (gf.zeros_like, gf.ones_like, gf.empty_like, gf.rand_like, gf.randn_like):
        y = fn(x)
        assert y.shape == (2, 3) and y.dtype is gf.float64
    assert gf.full_like(x, 2).tolist() == [[2.0] * 3] * 2
    assert gf.zeros(2, requires_grad=True).requires_grad


def test_creation_arrays_are_aligned():
    for shape in [(1,), (3, 5), (17,)]:
        assert gf.zeros(*shape).numpy().ctypes.data % 64 == 0
        assert gf.tensor(np.ones(shape)).numpy().ctypes.data % 64 == 0


def test_random_reproducible_and_generators():
    gf.manual_seed(0)
    a = gf.rand(100)
    gf.manual_seed(0)
    b = gf.rand(100)
    assert np.array_equal(a.numpy(), b.numpy())
    assert 0 <= a.numpy().min() and a.numpy().max() < 1
    g1 = gf.Generator().manual_seed(5)
    g2 = gf.Generator().manual_seed(5)
    assert np.array_equal(gf.randn(7, generator=g1).numpy(), gf.randn(7, generator=g2).numpy())
    assert not np.array_equal(gf.randn(7, generator=g1).numpy(), gf.randn(7, generator=g1.manual_seed(6)).numpy())
    n = gf.randn(20000, generator=gf.Generator().manual_seed(1)).numpy()
    assert abs(n.mean()) < 0.03 and abs(n.std() - 1) < 0.03 and np.isfinite(n).all()
    r = gf.randint(3, 7, (1000,), generator=gf.Generator().manual_seed(2))
    assert r.dtype is gf.int64 and set(r.tolist()) == {3, 4, 5, 6}
    assert gf.randint(4, (3,)).shape == (3,)
    assert sorted(gf.randperm(6).tolist()) == list(range(6))


def test_from_numpy_and_numpy_share_memory():
    arr = np.zeros(3, dtype=np.float32)
    t = gf.from_numpy(arr)
    arr[1] = 5
    assert t.tolist() == [0, 5, 0]
    t.add_(1)
    assert arr.tolist() == [1, 6, 1]
    out = t.numpy()
    assert out is arr
    u = gf.ones(2)
    view = u.numpy()
    u.mul_(3)
    assert view.tolist() == [3, 3]


def test_numpy_on_requires_grad_raises_with_detach_hint():
    t = gf.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        t.numpy()
    assert t.detach().numpy().tolist() == [1, 1]


def test_item_tolist_and_python_conversions():
    assert gf.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert isinstance(gf.tensor([2]).item(), int) and isinstance(gf.tensor(2.5).item(), float)
    with pytest.raises(RuntimeError, match="4 elements"):
        gf.ones(4).item()
    assert float(gf.tensor(1.5)) == 1.5 and int(gf.tensor(3)) == 3 and bool(gf.tensor([True]))
    assert [1, 2, 3][gf.tensor(1)] == 2
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(gf.ones(2))


@pytest.mark.parametrize("make, text", [
    (lambda: gf.tensor([1.0, 2.0]), "tensor([1., 2.])"),
    (lambda: gf.tensor([1.0, 2.0], requires_grad=True), "tensor([1., 2.], requires_grad=True)"),
    (lambda: gf.tensor([1.5, 2.25]), "tensor([1.5000, 2.2500])"),
    (lambda: gf.tensor([1, 2]), "tensor([1, 2])"),
    (lambda: gf.tensor([1, 2], dtype=gf.int32), "tensor([1, 2], dtype=graphflow.int32)"),
    (lambda: gf.tensor([1.0, 2.0], dtype=gf.float64), "tensor([1., 2.], dtype=graphflow.float64)"),
    (lambda: gf.tensor(3.0), "tensor(3.)"),
    (lambda: gf.tensor([True, False]), "tensor([ True, False])"),
    (lambda: gf.tensor([[1.0, 2.0], [3.0, 4.0]]), "tensor([[1., 2.],\n        [3., 4.]])"),
    (lambda: gf.zeros(0), "tensor([])"),
    (lambda: gf.zeros(0, 3), "tensor([], size=(0, 3))"),
    (lambda: gf.tensor([1e-5, 1e5]), "tensor([1.0000e-05, 1.0000e+05])"),
    (lambda: gf.tensor([float("nan"), 1.0, float("inf")]), "tensor([nan, 1., inf])"),
    (lambda: gf.tensor([1.0, 2.0], requires_grad=True) * 2, "tensor([2., 4.], grad_fn=<MulBackward0>)"),
])
def test_repr_like_pytorch(make, text):
    assert repr(make()) == text


def test_dtype_promotion_in_eager_ops():
    i = gf.tensor([1, 2])
    f = gf.tensor([1.0, 2.0])
    assert (i + f).dtype is gf.float32
    assert (i + 1).dtype is gf.int64
    assert (i + 1.5).dtype is gf.float32
    assert (i / 2).dtype is gf.float32 and (i / 2).tolist() == [0.5, 1.0]
    assert (gf.tensor([1], dtype=gf.int32) + gf.tensor(5)).dtype is gf.int32
    assert (gf.tensor([1.0], dtype=gf.float16) + gf.tensor([1.0], dtype=gf.float64)).dtype is gf.float64
    assert (gf.tensor([True]) + gf.tensor([2], dtype=gf.uint8)).dtype is gf.uint8
    assert (f > 1).dtype is gf.bool and (f > 1).tolist() == [False, True]
    assert (2 * f).tolist() == [2.0, 4.0] and (1 - f).tolist() == [0.0, -1.0]
    assert (np.float32(2) * f).dtype is gf.float32


def test_top_level_functions():
    x = gf.tensor([[1.0, -2.0], [3.0, 0.5]])
    np.testing.assert_allclose(gf.exp(x).numpy(), np.exp(x.numpy()), rtol=1e-6)
    np.testing.assert_allclose(gf.matmul(x, x).numpy(), x.numpy() @ x.numpy(), rtol=1e-6)
    assert gf.where(x > 0, x, gf.zeros(1)).tolist() == [[1.0, 0.0], [3.0, 0.5]]
    assert gf.cat([x, x], dim=0).shape == (4, 2) and gf.stack([x, x], 1).shape == (2, 2, 2)
    np.testing.assert_allclose(gf.softmax(x, dim=1).numpy().sum(1), [1, 1], rtol=1e-6)
    assert gf.sum(x).item() == 2.5 and x.sum(1).tolist() == [-1.0, 3.5]
    values, idx = gf.max(x, dim=1)
    assert values.tolist() == [1.0, 3.0] and idx.tolist() == [0, 0]


def test_nan_and_inf_propagate():
    nan, inf = float("nan"), float("inf")
    x = gf.tensor([nan, -1.0, inf, -inf])
    r = gf.relu(x).tolist()
    assert np.isnan(r[0]) and r[1:] == [0.0, inf, 0.0]
    m = gf.maximum(x, gf.zeros(4)).tolist()
    assert np.isnan(m[0]) and m[1:] == [0.0, inf, 0.0]
    assert np.isnan(x.max().item()) and np.isnan(x.sum().item())
    assert np.isnan(gf.clamp(x, -2, 2).tolist()[0])
    assert (gf.tensor([1.0]) / 0).tolist() == [inf]


def test_devices():
    assert gf.device("cpu") == gf.device("cpu") and str(gf.device("cuda:1")) == "cuda:1"
    assert gf.ones(1).device == gf.device("cpu") and gf.ones(1).device == "cpu"
    assert isinstance(gf.cuda.is_available(), bool)
    if not gf.cuda.is_available():
        assert gf.cuda.device_count() == 0
        with pytest.raises(DeviceError, match="CUDA is not available"):
            gf.ones(2).to("cuda")
        with pytest.raises(DeviceError, match="CUDA is not available"):
            gf.ones(2).cuda()
        with pytest.raises(DeviceError):
            gf.zeros(2, device="cuda")
    assert gf.ones(2).cpu().to("cpu").device.type == "cpu"


def test_mixing_devices_names_both():
    a = gf.ones(2)
    b = gf.ones(2)
    b._device = gf.device("cuda:0")  # as a tensor on a GPU would be; never runs
    with pytest.raises(DeviceError, match=r"add.*cpu and cuda:0"):
        a + b


def test_to_dtype_and_conversions():
    x = gf.tensor([1.7, -2.2], requires_grad=True)
    assert x.to(gf.float64).dtype is gf.float64
    assert x.to(gf.float64).requires_grad
    assert x.long().tolist() == [1, -2] and x.int().dtype is gf.int32
    assert x.double().dtype is gf.float64 and x.half().dtype is gf.float16 and x.bool().dtype is gf.bool
    assert x.to("cpu", gf.float64).dtype is gf.float64


def test_backend_selection(monkeypatch):
    gf.set_backend("numpy")
    assert gf.eager.get_backend_name() == "numpy"
    with pytest.raises(ValueError):
        gf.set_backend("tpu")
    if gf.backends.available()["llvm"] != "available":
        with pytest.raises(RuntimeError, match="llvm"):
            gf.set_backend("llvm")
    from graphflow.eager import runtime

    monkeypatch.setenv("GRAPHFLOW_CPU_BACKEND", "numpy")
    assert runtime._default_name() == "numpy"
    monkeypatch.delenv("GRAPHFLOW_CPU_BACKEND")
    expected = "llvm" if gf.backends.available()["llvm"] == "available" else "numpy"
    assert runtime._default_name() == expected


def test_non_contiguous_inputs():
    base = np.arange(12, dtype=np.float64).reshape(3, 4)
    t = gf.from_numpy(base.T)
    assert not t.is_contiguous() and t.contiguous().is_contiguous()
    np.testing.assert_allclose((t * 2 + 1).numpy(), base.T * 2 + 1)
    np.testing.assert_allclose(gf.matmul(t, gf.from_numpy(base)).numpy(), base.T @ base)
    np.testing.assert_allclose(t.sum(0).numpy(), base.T.sum(0))


def test_shape_methods():
    x = gf.arange(24).reshape(2, 3, 4)
    assert x.view(6, 4).shape == (6, 4) and x.permute(2, 0, 1).shape == (4, 2, 3)
    assert x.transpose(0, 2).shape == (4, 3, 2) and x.flatten().shape == (24,)
    assert x.unsqueeze(0).squeeze().shape == (2, 3, 4) and x.size(-1) == 4 and x.dim() == 3
    assert [c.shape for c in x.chunk(2, dim=2)] == [(2, 3, 2), (2, 3, 2)]
    assert x[0].T.shape == (4, 3) and gf.ones(3).expand(2, 3).shape == (2, 3)
    assert gf.ones(2, 1).repeat(1, 3).shape == (2, 3) and len(x.split(1, 1)) == 3


@pytest.mark.parametrize("dtype", [gf.float32, gf.float64, gf.float16, gf.int64, gf.int32, gf.uint8, gf.bool])
@pytest.mark.parametrize("scalar", [2, 2.5, True])
def test_scalar_operators_follow_promotion(dtype, scalar):
    import graphflow.ops.elementwise as E

    if dtype is gf.bool and scalar is True:
        return  # bool arithmetic on bools is the functional layer's business
    x = gf.tensor([1, 0, 3], dtype=dtype)
    for op, fn in [("+", E.add), ("-", E.sub), ("*", E.mul), ("/", E.div)]:
        if dtype is gf.bool and op == "-":
            continue
        for left, right in [(x, scalar), (scalar, x)]:
            got = eval(f"left {op} right")
            expected = fn(left, right)  # the functional layer's promotion rules
            assert got.dtype is expected.dtype, (op, left, right)
            np.testing.assert_array_equal(got.numpy(), expected.numpy())
