"""gf.sort, argsort, topk, kthvalue, median, nanmedian, quantile, nanquantile, searchsorted and
bucketize on eager tensors (each CPU backend): values against NumPy (stable sorts, np.partition
expectations, the lower median, np.quantile's methods), ties and NaN, awkward shapes, gradients
against central differences in float64, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
from graphflow.ops.sorting import searchsorted as functional_searchsorted

RNG = np.random.default_rng(23)
SHAPES = [((0,), -1), ((1,), 0), ((17,), 0), ((3, 11), 1), ((3, 11), 0), ((2, 3, 5), -2), ((4, 0), 1)]


def _ids(cases):
    return [str(c) for c in cases]


def _stable_descending(x, axis):
    """Descending stable order (ties keep their order), NaN first: from NumPy's ascending sort."""
    n = x.shape[axis]
    return n - 1 - np.flip(np.argsort(np.flip(x, axis), axis=axis, kind="stable"), axis)


@pytest.mark.parametrize("shape,dim", SHAPES, ids=_ids(SHAPES))
def test_sort_and_argsort_match_numpy_stable(shape, dim):
    x = RNG.integers(0, 4, size=shape).astype(np.float64)  # many ties
    t = gf.tensor(x)
    values, indices = gf.sort(t, dim)
    np.testing.assert_array_equal(indices.numpy(), np.argsort(x, axis=dim, kind="stable"))
    np.testing.assert_array_equal(values.numpy(), np.sort(x, axis=dim))
    np.testing.assert_array_equal(t.argsort(dim).numpy(), np.argsort(x, axis=dim, kind="stable"))
    down = t.sort(dim, descending=True)
    np.testing.assert_array_equal(down.indices.numpy(), _stable_descending(x, dim))
    np.testing.assert_array_equal(down.values.numpy(), -np.sort(-x, axis=dim))
    assert indices.dtype is gf.int64


def test_sort_nan_is_largest_and_ints_bools_halfs():
    x = np.array([3.0, np.nan, 1.0, -np.inf, np.nan, 1.0, -0.0, 0.0])
    idx = gf.argsort(gf.tensor(x)).numpy()
    np.testing.assert_array_equal(idx, np.argsort(x, kind="stable"))  # NumPy puts NaN last too
    assert idx.tolist() == [3, 6, 7, 2, 5, 0, 1, 4]
    assert gf.argsort(gf.tensor(x), descending=True).tolist() == [1, 4, 0, 2, 5, 6, 7, 3]
    for dt in (np.int8, np.uint8, np.int64, np.bool_, np.float16, np.float32):
        a = RNG.integers(0, 3, size=(2, 9)).astype(dt)
        np.testing.assert_array_equal(gf.sort(gf.tensor(a), stable=True).values.numpy(), np.sort(a, -1))
        np.testing.assert_array_equal(gf.argsort(gf.tensor(a), 1).numpy(), np.argsort(a, 1, kind="stable"))
    s = gf.sort(gf.tensor(4.0))  # a 0-d input
    assert s.values.item() == 4.0 and s.indices.item() == 0 and gf.msort(gf.tensor([[2, 1], [0, 3]])).tolist() == [
        [0, 1], [2, 3]]


def test_sort_non_contiguous_inputs():
    base = RNG.standard_normal((5, 6))
    t = gf.tensor(base).t()
    np.testing.assert_array_equal(t.sort(1).values.numpy(), np.sort(base.T, 1))
    s = gf.tensor(base)[::2, 1:]
    np.testing.assert_array_equal(s.argsort(0).numpy(), np.argsort(base[::2, 1:], 0, kind="stable"))


@pytest.mark.parametrize("k,dim,largest", [(3, -1, True), (1, 0, True), (0, 1, False), (11, 1, False),
                                           (2, 0, False)])
def test_topk_matches_partition(k, dim, largest):
    x = RNG.standard_normal((3, 11))
    values, indices = gf.topk(gf.tensor(x), k, dim, largest)
    n = x.shape[dim]
    part = np.partition(x, n - k if largest else max(k - 1, 0), axis=dim) if k else x
    if largest:
        want = -np.sort(-np.take(part, range(n - k, n), axis=dim), axis=dim)
    else:
        want = np.sort(np.take(part, range(0, k), axis=dim), axis=dim)
    np.testing.assert_array_equal(values.numpy(), want)
    np.testing.assert_array_equal(np.take_along_axis(x, indices.numpy(), dim), values.numpy())


def test_topk_ties_and_nan():
    x = gf.tensor([1.0, 3.0, 3.0, np.nan, 2.0, 3.0])
    assert gf.topk(x, 3).indices.tolist() == [3, 1, 2]  # NaN is the largest, then the earlier 3s
    assert x.topk(2, largest=False).indices.tolist() == [0, 4]


@pytest.mark.parametrize("k", [1, 4, 9])
def test_kthvalue_matches_partition(k):
    x = RNG.standard_normal((4, 9))
    values, indices = gf.kthvalue(gf.tensor(x), k, 1)
    np.testing.assert_array_equal(values.numpy(), np.partition(x, k - 1, axis=1)[:, k - 1])
    np.testing.assert_array_equal(x[np.arange(4), indices.numpy()], values.numpy())
    k0 = min(k, 4)
    kept = gf.tensor(x).kthvalue(k0, 0, keepdim=True)
    assert kept.values.shape == (1, 9)
    np.testing.assert_array_equal(kept.values.numpy()[0], np.partition(x, k0 - 1, axis=0)[k0 - 1])


def _lower_median(x, axis):
    n = x.shape[axis]
    return np.take(np.sort(x, axis=axis), (n - 1) // 2, axis=axis)


@pytest.mark.parametrize("shape,dim", [((17,), 0), ((4, 6), 1), ((4, 6), 0), ((2, 3, 5), -1), ((1,), 0)])
def test_median_is_the_lower_middle(shape, dim):
    x = RNG.standard_normal(shape)
    values, indices = gf.median(gf.tensor(x), dim)
    np.testing.assert_array_equal(values.numpy(), _lower_median(x, dim))
    picked = np.take_along_axis(x, np.expand_dims(indices.numpy(), dim), dim)
    np.testing.assert_array_equal(np.squeeze(picked, dim), values.numpy())
    whole = gf.median(gf.tensor(x))
    assert whole.shape == () and whole.item() == _lower_median(x.reshape(-1), 0)
    if x.size % 2 == 0:  # np.median averages; torch's (and ours) takes the lower one
        assert whole.item() <= np.median(x)


def test_median_nan_ties_keepdim_ints():
    x = np.array([[2.0, np.nan, 1.0, np.nan], [3.0, 1.0, 3.0, 2.0]])
    v, i = gf.tensor(x).median(1)
    assert np.isnan(v.numpy()[0]) and i.tolist() == [1, 3]  # the first NaN; the lower middle 2.0 at index 3
    assert np.isnan(gf.median(gf.tensor(x)).item())
    nv, ni = gf.nanmedian(gf.tensor(x), 1)
    assert nv.tolist() == [1.0, 2.0] and ni.tolist() == [2, 3]
    assert gf.nanmedian(gf.tensor(x)).item() == 2.0
    assert np.isnan(gf.nanmedian(gf.tensor([np.nan, np.nan])).item())
    kept = gf.median(gf.tensor(x), 0, keepdim=True)
    assert kept.values.shape == (1, 4)
    ints = gf.tensor([[5, 1, 4, 2]])
    assert gf.median(ints, 1).values.tolist() == [2] and gf.median(ints).item() == 2
    assert np.isnan(gf.median(gf.zeros(0)).item())


QUANTILE_METHODS = ["linear", "lower", "higher", "midpoint", "nearest"]


@pytest.mark.parametrize("interpolation", QUANTILE_METHODS)
def test_quantile_matches_numpy(interpolation):
    x = RNG.standard_normal((3, 10))
    q = [0.0, 0.1, 0.25, 0.5, 0.9, 1.0]
    got = gf.quantile(gf.tensor(x), gf.tensor(q, dtype=gf.float64), dim=1, interpolation=interpolation)
    want = np.quantile(x, q, axis=1, method=interpolation)
    assert got.shape == (6, 3)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
    one = gf.quantile(gf.tensor(x), 0.3, interpolation=interpolation)
    np.testing.assert_allclose(one.numpy(), np.quantile(x, 0.3, method=interpolation), rtol=1e-12)
    kept = gf.tensor(x).quantile(q[:2], 0, keepdim=True, interpolation=interpolation)
    assert kept.shape == (2, 1, 10)
    np.testing.assert_allclose(kept.numpy(), np.quantile(x, q[:2], axis=0, keepdims=True, method=interpolation),
                               rtol=1e-12, atol=1e-12)


def test_quantile_nan_float32_and_errors():
    x = np.array([[1.0, np.nan, 3.0], [4.0, 2.0, 0.0]], np.float32)
    got = gf.quantile(gf.tensor(x), 0.5, dim=1)
    assert np.isnan(got.numpy()[0]) and got.numpy()[1] == 2.0 and got.dtype is gf.float32
    np.testing.assert_allclose(gf.nanquantile(gf.tensor(x), [0.25, 0.75], dim=1).numpy(),
                               np.nanquantile(x.astype(np.float64), [0.25, 0.75], axis=1), rtol=1e-6)
    with pytest.raises(ValueError, match="quantile.*range"):
        gf.quantile(gf.tensor(x), 1.5)
    with pytest.raises(TypeError, match="quantile"):
        gf.quantile(gf.tensor([1, 2]), 0.5)
    with pytest.raises(IndexError, match="quantile.*non-empty"):
        gf.quantile(gf.zeros(0), 0.5)


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_matches_numpy(right):
    s = np.sort(RNG.integers(0, 6, size=17)).astype(np.float64)  # repeats
    v = RNG.integers(-1, 7, size=(3, 5)).astype(np.float64)
    side = "right" if right else "left"
    got = gf.searchsorted(gf.tensor(s), gf.tensor(v), right=right)
    np.testing.assert_array_equal(got.numpy(), np.searchsorted(s, v, side=side))
    # eager CPU tensors take np.searchsorted; a compiled graph the comparison form: both agree
    # with NumPy, NaN included
    sn, vn = np.append(s, np.nan), np.append(v.reshape(-1), [np.nan, np.inf])
    eager = gf.searchsorted(gf.tensor(sn), gf.tensor(vn), side=side)
    np.testing.assert_array_equal(eager.numpy(), np.searchsorted(sn, vn, side=side))
    graph = gf.compile(lambda a, b: functional_searchsorted(a, b, right=right))(gf.tensor(sn), gf.tensor(vn))
    np.testing.assert_array_equal(graph.numpy(), np.searchsorted(sn, vn, side=side))
    rows = np.sort(RNG.standard_normal((3, 6)), axis=1)
    vals = RNG.standard_normal((3, 4))
    got = gf.searchsorted(gf.tensor(rows), gf.tensor(vals), right=right, out_int32=True)
    assert got.dtype is gf.int32
    np.testing.assert_array_equal(got.numpy(), [np.searchsorted(r, q, side=side) for r, q in zip(rows, vals)])
    assert gf.searchsorted(gf.tensor([1, 3, 5]), 3, right=right).item() == (2 if right else 1)
    assert gf.bucketize(gf.tensor([0.5, 3.0]), gf.tensor([1.0, 3.0]), right=right).tolist() == [0, 2 if right else 1]


def test_searchsorted_sorter_and_errors():
    s = np.array([3.0, 1.0, 2.0])
    sorter = np.argsort(s)
    got = gf.searchsorted(gf.tensor(s), gf.tensor([2.5, 0.0]), sorter=gf.tensor(sorter))
    np.testing.assert_array_equal(got.numpy(), np.searchsorted(s, [2.5, 0.0], sorter=sorter))
    with pytest.raises(ValueError, match="searchsorted.*boundaries"):
        gf.searchsorted(gf.zeros(2, 3), gf.zeros(3, 3))
    with pytest.raises(ValueError, match="opposites"):
        gf.searchsorted(gf.zeros(3), gf.zeros(2), right=True, side="left")


def test_errors_name_the_op_and_shapes():
    with pytest.raises(IndexError, match=r"topk: k \(5\) is out of range for dimension 1 of size 3.*\(2, 3\)"):
        gf.topk(gf.zeros(2, 3), 5)
    with pytest.raises(IndexError, match="kthvalue.*size 3"):
        gf.kthvalue(gf.zeros(2, 3), 0)
    with pytest.raises(IndexError, match="median.*size 0"):
        gf.median(gf.zeros(2, 0), 1)
    with pytest.raises(IndexError, match="sort"):
        gf.sort(gf.zeros(2, 3), 2)


def test_gradients_by_central_differences(check_grad):
    x = RNG.standard_normal((3, 7))
    w = gf.tensor(np.linspace(-1.0, 2.0, 21).reshape(3, 7))
    check_grad(lambda t: gf.sort(t, 1).values * w, x)
    check_grad(lambda t: gf.sort(t, 0, descending=True).values * w, x)
    check_grad(lambda t: gf.topk(t, 3, 1).values * w[:, :3], x)
    check_grad(lambda t: gf.kthvalue(t, 2, 0).values * w[0], x)
    check_grad(lambda t: gf.median(t, 1).values * w[:, 0], x)
    check_grad(lambda t: gf.median(t) * 3.0, x)
    check_grad(lambda t: gf.quantile(t, [0.3, 0.5, 0.8], dim=1) * w[:, :3].t(), x)
    # the gradient reaches exactly the selected elements
    t = gf.tensor(x, requires_grad=True)
    gf.topk(t, 2, 1).values.sum().backward()
    assert (t.grad.numpy() != 0).sum() == 6 and t.grad.numpy().max() == 1.0


def test_against_torch_when_installed():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((4, 9))
    x[1, 3] = np.nan
    for dim in (0, 1):
        v, i = gf.median(gf.tensor(x), dim)
        tv, ti = torch.median(torch.tensor(x), dim)
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
    y = RNG.standard_normal((4, 9))
    for interp in QUANTILE_METHODS:
        np.testing.assert_allclose(gf.quantile(gf.tensor(y), [0.2, 0.5], 1, interpolation=interp).numpy(),
                                   torch.quantile(torch.tensor(y), torch.tensor([0.2, 0.5], dtype=torch.float64), 1,
                                                  interpolation=interp).numpy(), rtol=1e-12)
    np.testing.assert_array_equal(gf.sort(gf.tensor(x), 1, stable=True).indices.numpy(),
                                  torch.sort(torch.tensor(x), 1, stable=True).indices.numpy())
    s = np.sort(RNG.standard_normal(8))
    np.testing.assert_array_equal(gf.searchsorted(gf.tensor(s), gf.tensor(y)).numpy(),
                                  torch.searchsorted(torch.tensor(s), torch.tensor(y)).numpy())
