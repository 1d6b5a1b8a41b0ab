"""Scans, sorting and the data-dependent ops on `cuda` tensors (the cuda backend's emulator, no GPU
needed) against the CPU results: the scan and argsort kernels, gradients through them, the
comparison form of searchsorted, and data-dependent results placed on the device."""

from __future__ import annotations

import numpy as np

import graphflow as gf

X = np.array([[3.0, 1.0, np.nan, 1.0, 2.0, 0.5], [0.0, 0.0, 5.0, -1.0, 5.0, 2.0], [1.5, -2.0, 0.0, 4.0, 4.0, 1.0]])


def _ops(t):
    s = t.sort(1, descending=True)
    return [gf.cumsum(t, 1), gf.cumsum(t, 0), gf.cumprod(t, 1), gf.cummax(t, 1).values, gf.cummin(t, 0).indices,
            s.values, s.indices, gf.topk(t, 2, 0).indices, gf.median(t, 1).values, gf.kthvalue(t, 2, 1).indices,
            gf.searchsorted(gf.sort(t, 1).values, t, right=True)]


def test_kernels_match_the_cpu(cuda):
    dev = gf.tensor(X, device="cuda")
    for got, want in zip(_ops(dev), _ops(gf.tensor(X))):
        assert got.device.type == "cuda"
        np.testing.assert_array_equal(got.cpu().numpy(), want.numpy())
    ints = np.array([[100, 100, 100], [7, -3, 2]], np.int8)  # wraps in int8 (cumsum of int8 is int64)
    np.testing.assert_array_equal(gf.cumsum(gf.tensor(ints, device="cuda"), 1, dtype=gf.int8).cpu().numpy(),
                                  np.cumsum(ints, 1, dtype=np.int8))


def test_gradients_on_the_device(cuda):
    data = np.nan_to_num(X, nan=2.5)

    def loss(t):
        return (gf.cumprod(t, 1) * 0.5).sum() + gf.sort(t, 0).values[0].sum() + gf.cummax(t, 1).values.sum()

    d = gf.tensor(data, device="cuda", requires_grad=True)
    loss(d).backward()
    c = gf.tensor(data, requires_grad=True)
    loss(c).backward()
    np.testing.assert_allclose(d.grad.cpu().numpy(), c.grad.numpy(), rtol=1e-12)


def test_data_dependent_results_live_on_the_device(cuda):
    t = gf.tensor(X, device="cuda")
    nz = gf.nonzero(t)
    assert nz.device.type == "cuda"
    np.testing.assert_array_equal(nz.cpu().numpy(), np.argwhere(X))
    sel = gf.masked_select(t, t > 1)
    np.testing.assert_array_equal(sel.cpu().numpy(), X[X > 1])
    np.testing.assert_array_equal(gf.unique(t).cpu().numpy(), np.unique(X, equal_nan=False))
    assert gf.multinomial(gf.tensor([1.0, 0.0, 3.0], device="cuda"), 2).device.type == "cuda"
