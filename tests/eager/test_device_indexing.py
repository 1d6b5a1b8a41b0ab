"""Indexing and index assignment on `cuda` tensors (the cuda backend's emulator without a GPU)
against NumPy: basic, advanced and boolean-mask keys, repeated positions, gradients, and index
errors. Device views are copies, so a write must reach the tensor itself, never a temporary."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
from graphflow.errors import DeviceError

A = np.arange(60, dtype=np.float64).reshape(3, 4, 5)


def _np_key(key):
    conv = lambda k: k.cpu().numpy() if isinstance(k, gf.Tensor) else (np.asarray(k) if isinstance(k, list) else k)  # noqa: E731
    return tuple(conv(k) for k in key) if isinstance(key, tuple) else conv(key)


def _keys():
    """Keys over A's shape; tensors in them are made on the device by `_on`."""
    return [1, (0, 2), (slice(None), slice(None, None, 2)), [2, 0, 2], (slice(None), [3, -1]), ([0, 2], [1, 3]),
            ([[0], [2]], slice(None), [1, 4]), (Ellipsis, [0, 0]), ("mask",), (slice(None), "mask4"),
            ("idx", 2)]


def _on(key, dev):
    def one(k):
        if isinstance(k, str):
            return {"mask": gf.tensor(A > 30, device=dev), "mask4": gf.tensor([True, False, False, True], device=dev),
                    "idx": gf.tensor([2, -3, 0], device=dev)}[k]
        return k
    return tuple(one(k) for k in key) if isinstance(key, tuple) else one(key)


@pytest.mark.parametrize("key", _keys(), ids=repr)
def test_getitem_on_the_device(cuda, key):
    dkey = _on(key, "cuda")
    if isinstance(dkey, tuple) and len(dkey) == 1:
        dkey = dkey[0]
    got = gf.tensor(A, device="cuda")[dkey]
    assert got.device == "cuda:0"
    np.testing.assert_array_equal(got.cpu().numpy(), A[_np_key(dkey)])


@pytest.mark.parametrize("key", _keys(), ids=repr)
def test_setitem_on_the_device_writes_the_tensor(cuda, key):
    dkey = _on(key, "cuda")
    if isinstance(dkey, tuple) and len(dkey) == 1:
        dkey = dkey[0]
    sel_shape = A[_np_key(dkey)].shape
    value = np.arange(int(np.prod(sel_shape)), dtype=np.float64).reshape(sel_shape) - 100.0
    for v in (value, -7.0):
        expected = A.copy()
        expected[_np_key(dkey)] = v
        x = gf.tensor(A, device="cuda")
        x[dkey] = gf.tensor(v, device="cuda") if isinstance(v, np.ndarray) else v
        np.testing.assert_array_equal(x.cpu().numpy(), expected)


def test_repeated_positions_last_wins_and_negative_indices(cuda):
    x = gf.zeros(5, device="cuda")
    x[[1, 1, -1]] = gf.tensor([3.0, 4.0, 5.0], device="cuda")
    assert x.cpu().tolist() == [0.0, 4.0, 0.0, 0.0, 5.0]
    x[gf.tensor([0, 0], device="cuda")] = 2.0
    assert x.cpu().tolist() == [2.0, 4.0, 0.0, 0.0, 5.0]


def test_setitem_gradient_on_the_device_matches_the_cpu(cuda):
    grads = {}
    for dev in ("cpu", "cuda"):
        x = gf.tensor(np.arange(12.0).reshape(3, 4), device=dev, requires_grad=True)
        v = gf.tensor([10.0, 20.0], device=dev, requires_grad=True)
        y = x * 1
        y[[2, 0], 1] = v * 3
        y[y > 8] = 0.0
        w = gf.tensor(np.arange(1.0, 13.0).reshape(3, 4), device=dev)
        (y * w).sum().backward()
        grads[dev] = (y.detach().cpu().numpy(), x.grad.cpu().numpy(), v.grad.cpu().numpy())
    for got, want in zip(grads["cuda"], grads["cpu"]):
        np.testing.assert_array_equal(got, want)


def test_index_errors_on_the_device(cuda):
    x = gf.tensor(A, device="cuda")
    with pytest.raises(IndexError, match="out of bounds"):
        x[:, [0, 7]] = 1.0
    with pytest.raises(IndexError, match="out of bounds"):
        x[gf.tensor([3], device="cuda")]
    with pytest.raises(DeviceError, match="device"):
        x[0] = gf.ones(4, 5)  # a CPU value into a cuda tensor
    np.testing.assert_array_equal(x.cpu().numpy(), A)  # nothing written by the failed calls
