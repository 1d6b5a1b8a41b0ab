"""The data-dependent ops on eager tensors (each CPU backend): gf.nonzero, argwhere, masked_select,
unique and bincount against NumPy; masked_select's and bincount's gradients; and the errors they
raise where values are not known (static graphs, gf.compile)."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
import graphflow.static as tf

RNG = np.random.default_rng(31)


@pytest.mark.parametrize("shape", [(0,), (1,), (17,), (3, 11), (2, 0, 3), (2, 3, 4)], ids=str)
def test_nonzero_and_argwhere_match_numpy(shape):
    x = RNG.integers(0, 3, size=shape).astype(np.float32)
    t = gf.tensor(x)
    got = gf.nonzero(t)
    assert got.dtype is gf.int64 and got.shape == (np.count_nonzero(x), len(shape))
    np.testing.assert_array_equal(got.numpy(), np.argwhere(x))
    np.testing.assert_array_equal(t.argwhere().numpy(), np.argwhere(x))
    for a, b in zip(t.nonzero(as_tuple=True), np.nonzero(x)):
        np.testing.assert_array_equal(a.numpy(), b)
    assert gf.nonzero(gf.tensor(3.0)).shape == (1, 0) and gf.nonzero(gf.tensor(0.0)).shape == (0, 0)
    assert gf.nonzero(gf.tensor(True), as_tuple=True)[0].tolist() == [0]


def test_masked_select_matches_numpy_broadcasts_and_differentiates(check_grad):
    x = RNG.standard_normal((3, 5))
    mask = RNG.random((3, 5)) < 0.5
    np.testing.assert_array_equal(gf.masked_select(gf.tensor(x), gf.tensor(mask)).numpy(), x[mask])
    row = np.array([True, False, True, True, False])  # broadcast along the rows
    np.testing.assert_array_equal(gf.tensor(x).masked_select(gf.tensor(row)).numpy(),
                                  x[np.broadcast_to(row, x.shape)])
    t = gf.tensor(x.T).t()  # a non-contiguous input
    np.testing.assert_array_equal(gf.masked_select(t, gf.tensor(mask)).numpy(), x[mask])
    check_grad(lambda v: gf.masked_select(v, gf.tensor(mask)) ** 2, x)
    with pytest.raises(TypeError, match="masked_select: expected a bool mask"):
        gf.masked_select(gf.tensor(x), gf.tensor(mask.astype(np.int64)))
    with pytest.raises(ValueError, match="masked_select"):
        gf.masked_select(gf.tensor(x), gf.tensor(np.ones(4, bool)))


def test_unique_matches_numpy():
    x = RNG.integers(0, 5, size=(4, 6))
    t = gf.tensor(x)
    np.testing.assert_array_equal(gf.unique(t).numpy(), np.unique(x))
    values, inverse, counts = gf.unique(t, return_inverse=True, return_counts=True)
    want_v, want_i, want_c = np.unique(x, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(values.numpy(), want_v)
    np.testing.assert_array_equal(inverse.numpy(), want_i.reshape(x.shape))
    np.testing.assert_array_equal(counts.numpy(), want_c)
    assert inverse.shape == (4, 6) and values.dtype is gf.int64
    v, c = t.unique(sorted=False, return_counts=True)
    np.testing.assert_array_equal(v.numpy(), want_v)
    np.testing.assert_array_equal(c.numpy(), want_c)


def test_unique_dim_floats_nan_and_empty():
    rows = np.array([[1, 2], [0, 5], [1, 2], [0, 5], [3, 3]], np.float32)
    v, inv = gf.unique(gf.tensor(rows), dim=0, return_inverse=True)
    want_v, want_i = np.unique(rows, axis=0, return_inverse=True)
    np.testing.assert_array_equal(v.numpy(), want_v)
    np.testing.assert_array_equal(inv.numpy(), want_i.reshape(-1))
    cols = gf.unique(gf.tensor(rows.T), dim=1)
    np.testing.assert_array_equal(cols.numpy(), np.unique(rows.T, axis=1))
    assert np.isnan(gf.unique(gf.tensor([np.nan, 1.0, np.nan])).numpy()).sum() == 2  # NaNs are distinct
    assert gf.unique(gf.zeros(0)).shape == (0,)


def test_bincount_matches_numpy_and_differentiates_in_the_weights(check_grad):
    x = RNG.integers(0, 7, size=20)
    t = gf.tensor(x)
    got = gf.bincount(t)
    assert got.dtype is gf.int64
    np.testing.assert_array_equal(got.numpy(), np.bincount(x))
    np.testing.assert_array_equal(t.bincount(minlength=12).numpy(), np.bincount(x, minlength=12))
    w = RNG.standard_normal(20)
    np.testing.assert_allclose(gf.bincount(t, gf.tensor(w)).numpy(), np.bincount(x, w), rtol=1e-12)
    assert gf.bincount(t, gf.tensor(w.astype(np.float32))).dtype is gf.float32  # as PyTorch
    assert gf.bincount(t, gf.tensor(x)).dtype is gf.float64
    assert gf.bincount(gf.tensor(np.zeros(0, np.int64))).shape == (0,)
    check_grad(lambda v: gf.bincount(t, v) ** 2, w)
    with pytest.raises(ValueError, match="bincount.*non-negative"):
        gf.bincount(gf.tensor([1, -1]))
    with pytest.raises(ValueError, match="bincount.*1-d"):
        gf.bincount(gf.tensor([[1]]))


def test_device_free_results_are_plain_tensors():
    out = gf.nonzero(gf.tensor([0.0, 2.0]))
    assert isinstance(out, gf.Tensor) and not out.requires_grad


def test_in_graphs_they_raise_naming_the_op_and_shape():
    x = tf.placeholder(gf.float32, (None, 3))
    for name, call, shape in (("nonzero", gf.nonzero, r"\(s\d+, 3\)"), ("nonzero", gf.argwhere, r"\(s\d+, 3\)"),
                              ("unique", gf.unique, r"\(s\d+, 3\)"),
                              ("masked_select", lambda v: gf.masked_select(v, v > 0), r"mask .*\(s\d+, 3\)"),
                              ("bincount", lambda v: gf.bincount(v.long().sum(1)), r"\(s\d+,\)")):
        with pytest.raises(TypeError, match=rf"{name}: the shape of its result depends on the values of the "
                                            rf".*{shape}.*static graph"):
            call(x)

    @gf.compile
    def step(v):
        return gf.nonzero(v).sum()

    with pytest.raises(TypeError, match=r"nonzero: .*\(4,\).*gf.compile"):
        step(gf.ones(4))
    captured = gf.ones(3)

    @gf.compile
    def uses_captured(v):
        return v + gf.unique(captured).sum()

    with pytest.raises(TypeError, match="unique"):
        uses_captured(gf.ones(3))
