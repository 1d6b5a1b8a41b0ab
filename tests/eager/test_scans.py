"""gf.cumsum, cumprod, cummax, cummin, logcumsumexp and diff on eager tensors (each CPU backend):
values against NumPy on awkward shapes, dtypes and layouts, gradients against central
differences in float64 (zeros in cumprod's input included), and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf

RNG = np.random.default_rng(11)
SHAPES = [((0,), 0), ((1,), 0), ((17,), 0), ((17,), -1), ((3, 11), 1), ((3, 11), 0), ((2, 3, 4), -2),
          ((2, 0, 3), 2)]


def _ids(cases):
    return [str(c) for c in cases]


@pytest.mark.parametrize("shape,dim", SHAPES, ids=_ids(SHAPES))
def test_cumsum_and_cumprod_match_numpy(shape, dim):
    x = RNG.standard_normal(shape)
    t = gf.tensor(x)
    np.testing.assert_allclose(gf.cumsum(t, dim).numpy(), np.cumsum(x, axis=dim), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t.cumprod(dim).numpy(), np.cumprod(x, axis=dim), rtol=1e-12, atol=1e-12)
    assert gf.cumsum(t, dim).shape == shape


def test_cumsum_dtypes_follow_pytorch():
    ints = np.array([[1, 2, 3], [4, 5, 6]], np.int32)
    out = gf.cumsum(gf.tensor(ints), 1)
    assert out.dtype is gf.int64  # integers accumulate as int64
    np.testing.assert_array_equal(out.numpy(), np.cumsum(ints, 1))
    b = gf.tensor(np.array([True, False, True, True]))
    assert b.cumsum(0).dtype is gf.int64 and b.cumsum(0).tolist() == [1, 1, 2, 3]
    assert gf.cumprod(gf.tensor(ints), 0).dtype is gf.int64
    f = gf.cumsum(gf.tensor(ints), 1, dtype=gf.float32)
    assert f.dtype is gf.float32 and f.tolist() == [[1, 3, 6], [4, 9, 15]]
    h = gf.tensor(np.full(300, 0.1, np.float16))
    # float16 accumulates in float32 and rounds once per element (no float16 drift)
    want = np.cumsum(np.full(300, 0.1, np.float16).astype(np.float32)).astype(np.float16)
    assert h.cumsum(0).dtype is gf.float16
    np.testing.assert_array_equal(h.cumsum(0).numpy(), want)


def test_scans_of_0d_and_non_contiguous_inputs():
    s = gf.tensor(2.5)
    assert gf.cumsum(s, 0).shape == () and gf.cumsum(s, -1).item() == 2.5 and gf.cumprod(s, 0).item() == 2.5
    assert gf.cummax(s, 0).indices.item() == 0
    base = RNG.standard_normal((5, 6))
    t = gf.tensor(base).t()  # a permuted view (6, 5)
    np.testing.assert_allclose(t.cumsum(1).numpy(), np.cumsum(base.T, 1), rtol=1e-12)
    s2 = gf.tensor(base)[:, ::2]  # strided
    np.testing.assert_allclose(s2.cumprod(0).numpy(), np.cumprod(base[:, ::2], 0), rtol=1e-12)


def test_cumsum_wraps_only_in_int64_and_handles_inf_and_nan():
    x = np.array([1.0, np.inf, -np.inf, 2.0, np.nan])
    with np.errstate(invalid="ignore"):
        want = np.cumsum(x)
    np.testing.assert_array_equal(gf.cumsum(gf.tensor(x), 0).numpy(), want)
    big = np.array([2**62, 2**62, 2**62], np.int64)
    np.testing.assert_array_equal(gf.cumsum(gf.tensor(big), 0).numpy(), np.cumsum(big))


def _cum_index(x, largest):
    """PyTorch's rule: the last index of the running extreme; after a NaN, the latest NaN."""
    out = np.zeros(x.shape, np.int64)
    for r in np.ndindex(*x.shape[:-1]):
        best, bi = None, 0
        for j, v in enumerate(x[r]):
            if j == 0 or v != v or (best == best and (v >= best if largest else v <= best)):
                best, bi = v, j
            out[r + (j,)] = bi
    return out


@pytest.mark.parametrize("largest", [True, False])
def test_cummax_cummin_values_indices_ties_nan(largest):
    fn = gf.cummax if largest else gf.cummin
    acc = np.maximum.accumulate if largest else np.minimum.accumulate
    x = RNG.integers(0, 4, size=(3, 17)).astype(np.float64)  # many ties
    x[1, 5] = np.nan
    x[1, 9] = np.nan
    values, indices = fn(gf.tensor(x), 1)
    np.testing.assert_array_equal(values.numpy(), acc(x, axis=1))
    np.testing.assert_array_equal(indices.numpy(), _cum_index(x, largest))
    np.testing.assert_array_equal(np.take_along_axis(x, indices.numpy(), 1), values.numpy())
    ints = RNG.integers(-5, 5, size=(4, 3)).astype(np.int32)
    v, i = getattr(gf.tensor(ints), "cummax" if largest else "cummin")(0)
    assert v.dtype is gf.int32
    np.testing.assert_array_equal(v.numpy(), acc(ints, axis=0))
    np.testing.assert_array_equal(i.numpy(), _cum_index(ints.T, largest).T)
    empty = fn(gf.zeros(2, 0), 1)
    assert empty.values.shape == (2, 0) and empty.indices.dtype is gf.int64


def test_logcumsumexp_matches_numpy():
    x = RNG.standard_normal((3, 17)) * 30
    got = gf.logcumsumexp(gf.tensor(x), 1).numpy()
    np.testing.assert_allclose(got, np.logaddexp.accumulate(x, axis=1), rtol=1e-12)
    x32 = np.array([800.0, 0.0, -50.0, 60.0], np.float32)  # float32: would overflow without the shift
    np.testing.assert_allclose(gf.tensor(x32).logcumsumexp(0).numpy(),
                               np.logaddexp.accumulate(x32.astype(np.float64)), rtol=1e-6)
    assert gf.logcumsumexp(gf.tensor([-np.inf, -np.inf]), 0).tolist() == [-np.inf, -np.inf]


@pytest.mark.parametrize("n,dim", [(1, -1), (2, 1), (1, 0), (3, -1), (20, 1), (0, 1)])
def test_diff_matches_numpy(n, dim):
    x = RNG.standard_normal((4, 6))
    np.testing.assert_allclose(gf.diff(gf.tensor(x), n, dim).numpy(), np.diff(x, n, axis=dim), rtol=1e-12)


def test_diff_prepend_append_bool_and_errors():
    x = RNG.standard_normal((3, 5))
    pre, app = RNG.standard_normal((3, 2)), RNG.standard_normal((3, 1))
    got = gf.tensor(x).diff(dim=1, prepend=gf.tensor(pre), append=gf.tensor(app))
    np.testing.assert_allclose(got.numpy(), np.diff(x, axis=1, prepend=pre, append=app), rtol=1e-12)
    b = np.array([True, True, False, True])
    assert gf.diff(gf.tensor(b)).tolist() == np.diff(b).tolist()
    with pytest.raises(ValueError, match="diff"):
        gf.diff(gf.tensor(1.0))


def test_gradients_by_central_differences(check_grad):
    x = RNG.standard_normal((3, 5))
    check_grad(lambda t: gf.cumsum(t, 1) * gf.tensor(np.linspace(-1, 2, 15).reshape(3, 5)), x)
    check_grad(lambda t: gf.cumsum(t, 0) ** 2, x)
    check_grad(lambda t: gf.cumprod(t, 1) * gf.tensor(np.linspace(-1, 2, 15).reshape(3, 5)), x)
    check_grad(lambda t: gf.cummax(t, 1).values * gf.tensor(np.arange(15.0).reshape(3, 5)), x)
    check_grad(lambda t: gf.cummin(t, 0).values ** 2, x)
    check_grad(lambda t: gf.logcumsumexp(t, 1) * gf.tensor(np.linspace(-1, 2, 15).reshape(3, 5)), x)
    check_grad(lambda t: gf.diff(t, 2, 1) ** 2, x)


def test_cumprod_gradient_with_zeros(check_grad):
    w = gf.tensor(np.linspace(-1.0, 2.0, 20).reshape(4, 5))
    zeros = np.array([[2.0, 0.0, 3.0, 4.0, 0.5], [0.0, 0.0, 5.0, 1.5, 2.0], [1.0, 2.0, 3.0, 1.5, 0.0],
                      [0.0, 3.0, 0.0, 2.0, 1.0]])
    check_grad(lambda t: gf.cumprod(t, 1) * w, zeros)
    check_grad(lambda t: gf.cumprod(t, 0) * w, zeros)
    # by hand: d/dx sum(cumprod([2, 0, 3])) = [1 + 0 + 0, 2 + 6, 0]
    t = gf.tensor([2.0, 0.0, 3.0], requires_grad=True)
    gf.cumprod(t, 0).sum().backward()
    assert t.grad.tolist() == [1.0, 8.0, 0.0]


def test_second_order_cumprod_gradient():
    t = gf.tensor([1.5, 0.0, 2.0, 3.0], dtype=gf.float64, requires_grad=True)
    (g,) = gf.autograd.grad(gf.cumprod(t, 0).sum(), t, create_graph=True)
    (h,) = gf.autograd.grad(g[1], t)  # d/dx of d sum / d x1 = 1 + x2 + x2 x3 (x1's factor is gone)
    np.testing.assert_allclose(h.numpy(), [1 + 2 + 6, 0.0, 1.5 + 1.5 * 3, 1.5 * 2])


def test_errors_name_the_op():
    with pytest.raises(IndexError, match="cumsum"):
        gf.cumsum(gf.zeros(2, 3), 2)
    with pytest.raises(TypeError, match="cummax"):
        gf.cummax(gf.zeros(3), 0.5)
    with pytest.raises(TypeError, match="logcumsumexp"):
        gf.logcumsumexp(gf.tensor([1, 2]), 0)


def test_against_torch_when_installed():
    torch = pytest.importorskip("torch")
    x = RNG.integers(0, 3, size=(3, 9)).astype(np.float64)
    x[0, 4] = np.nan
    for name in ("cummax", "cummin"):
        v, i = getattr(gf, name)(gf.tensor(x), 1)
        tv, ti = getattr(torch, name)(torch.tensor(x), 1)
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
    z = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 1.0]])
    tz = torch.tensor(z, requires_grad=True)
    torch.cumprod(tz, 1).sum().backward()
    gz = gf.tensor(z, requires_grad=True)
    gf.cumprod(gz, 1).sum().backward()
    np.testing.assert_allclose(gz.grad.numpy(), tz.grad.numpy())
