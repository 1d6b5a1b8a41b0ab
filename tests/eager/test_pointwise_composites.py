"""isclose, allclose, equal, nan_to_num, frac, exp2, hypot, fmod, count_nonzero, var_mean,
std_mean, meshgrid and cartesian_prod on eager tensors (each CPU backend): values against NumPy,
special values (NaN, +-inf, -0, huge and tiny), awkward shapes, views, dtypes, gradients by
central differences in float64, and errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
from graphflow.errors import DTypeError, ShapeError

RNG = np.random.default_rng(23)
NAN, INF = np.nan, np.inf


def _t(a):
    return gf.tensor(np.asarray(a))


# ---- isclose, allclose, equal ---------------------------------------------------------------
A = np.array([1.0, INF, -INF, NAN, 1e-9, 1.0, 1e300, INF, NAN, 0.0, -3.0, 2.0])
B = np.array([1.0 + 1e-6, INF, INF, NAN, 0.0, 1.1, -1e300, 5.0, 1.0, -0.0, -3.00002, 2.0 + 3e-5])


@pytest.mark.parametrize("equal_nan", [False, True])
@pytest.mark.parametrize("rtol,atol", [(1e-5, 1e-8), (0.0, 0.0), (0.2, 0.0), (0.0, 1e-4)])
def test_isclose_matches_numpy(rtol, atol, equal_nan):
    got = gf.isclose(_t(A), _t(B), rtol=rtol, atol=atol, equal_nan=equal_nan)
    assert got.dtype is gf.bool
    np.testing.assert_array_equal(got.numpy(), np.isclose(A, B, rtol=rtol, atol=atol, equal_nan=equal_nan))
    a32, b32 = (np.where(np.abs(v) == 1e300, 1e30, v).astype(np.float32) for v in (A, B))
    f32 = gf.isclose(_t(a32), _t(b32), rtol, atol, equal_nan)
    np.testing.assert_array_equal(f32.numpy(), np.isclose(a32, b32, rtol=rtol, atol=atol, equal_nan=equal_nan))


def test_isclose_broadcasts_ints_scalars_and_views():
    a = RNG.standard_normal((3, 4))
    np.testing.assert_array_equal(gf.isclose(_t(a), _t(a[0])).numpy(), np.isclose(a, a[0]))
    np.testing.assert_array_equal(_t(a).isclose(0.5, atol=1.0).numpy(), np.isclose(a, 0.5, atol=1.0))
    ia, ib = np.array([1, 2, 3, 100]), np.array([1, 3, 3, 101])
    np.testing.assert_array_equal(gf.isclose(_t(ia), _t(ib)).numpy(), np.isclose(ia, ib))
    np.testing.assert_array_equal(gf.isclose(_t(ia), _t(ib), rtol=0.01, atol=0).numpy(),
                                  np.isclose(ia, ib, rtol=0.01, atol=0))
    t = gf.tensor(a.T.copy()).t()
    np.testing.assert_array_equal(gf.isclose(t, _t(a)).numpy(), np.ones((3, 4), bool))
    assert gf.isclose(gf.zeros(0), gf.zeros(0)).shape == (0,)
    with pytest.raises(ValueError, match=r"isclose: rtol and atol must be non-negative, got rtol=-1"):
        gf.isclose(_t(a), _t(a), rtol=-1)


def test_allclose_and_equal_give_python_bools():
    a = RNG.standard_normal((2, 17))
    r = gf.allclose(_t(a), _t(a + 1e-9))
    assert r is True
    assert gf.allclose(_t(a), _t(a + 1e-3)) is False and _t(a).allclose(_t(a + 1e-3), atol=1e-2) is True
    assert gf.allclose(_t([NAN, 1.0]), _t([NAN, 1.0])) is False
    assert gf.allclose(_t([NAN, 1.0]), _t([NAN, 1.0]), equal_nan=True) is True
    assert gf.allclose(gf.zeros(0), gf.zeros(0)) is True
    assert gf.equal(_t(a), _t(a.copy())) is True
    assert gf.equal(_t(a), _t(a[:, :16])) is False  # different shapes, no broadcasting
    assert gf.equal(gf.zeros(1, 3), gf.zeros(3)) is False
    assert gf.equal(_t([1, 2]), _t([1.0, 2.0])) is True
    assert gf.equal(_t([NAN]), _t([NAN])) is False
    assert _t(a).equal(_t(a + 1)) is False
    assert gf.equal(gf.tensor(a).t(), gf.tensor(a.T.copy())) is True


# ---- nan_to_num, frac, exp2, hypot, fmod ----------------------------------------------------
SPECIAL = np.array([NAN, INF, -INF, 1.5, -2.75, 0.0, -0.0, 3.0, 1e-30, -7.25e20])


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_nan_to_num_matches_numpy(dtype):
    with np.errstate(over="ignore"):  # -7.25e20 is -inf in float16
        x = SPECIAL.astype(dtype)
    np.testing.assert_array_equal(gf.nan_to_num(_t(x)).numpy(), np.nan_to_num(x))
    np.testing.assert_array_equal(_t(x).nan_to_num(nan=1.0, posinf=2.0, neginf=-3.0).numpy(),
                                  np.nan_to_num(x, nan=1.0, posinf=2.0, neginf=-3.0))
    np.testing.assert_array_equal(gf.nan_to_num(_t(x), posinf=9.0).numpy(), np.nan_to_num(x, posinf=9.0))


def test_nan_to_num_bfloat16_ints_and_gradient(check_grad):
    b = gf.nan_to_num(gf.tensor(SPECIAL[:3]).to(gf.bfloat16)).float().numpy()
    assert b[0] == 0 and b[1] > 3.3e38 and b[2] < -3.3e38  # bfloat16's finite extremes
    i = gf.nan_to_num(_t(np.array([1, -2, 3], np.int32)))
    assert i.dtype is gf.int32 and i.tolist() == [1, -2, 3]
    x = gf.tensor(SPECIAL, requires_grad=True)
    gf.nan_to_num(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.isfinite(SPECIAL).astype(float))
    check_grad(lambda v: gf.nan_to_num(v) * 2, RNG.standard_normal(5))


def test_frac_and_exp2():
    x = np.array([1.5, -2.75, 0.0, 3.0, -0.25, 1e20, 17.125])
    np.testing.assert_array_equal(gf.frac(_t(x)).numpy(), x - np.trunc(x))
    np.testing.assert_array_equal(_t(x.astype(np.float32)).frac().numpy(), (x - np.trunc(x)).astype(np.float32))
    with pytest.raises(DTypeError, match="frac: expects a floating-point input, got int64"):
        gf.frac(gf.tensor([1, 2]))
    e = np.array([-3.0, 0.0, 0.5, 10.0, 52.0, -1074.0, 1024.0])
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(gf.exp2(_t(e)).numpy(), np.exp2(e))
    ints = gf.exp2(gf.tensor([0, 3, 10]))
    assert ints.dtype is gf.float32 and ints.tolist() == [1.0, 8.0, 1024.0]
    np.testing.assert_array_equal(_t(e[:4]).exp2().numpy(), np.exp2(e[:4]))


def test_hypot_matches_numpy():
    a = np.array([3e200, 0.0, 3.0, NAN, INF, -5.0, 1e-200, -INF, NAN, 0.0, 2.0])
    b = np.array([4e200, 0.0, -4.0, INF, NAN, 12.0, 1e-200, 1.0, 1.0, -0.0, 2.0])
    np.testing.assert_allclose(gf.hypot(_t(a), _t(b)).numpy(), np.hypot(a, b), rtol=1e-15)
    np.testing.assert_allclose(_t(a).hypot(_t(b)).numpy(), np.hypot(a, b), rtol=1e-15)
    m = RNG.standard_normal((3, 4))
    np.testing.assert_allclose(gf.hypot(_t(m), _t(m[:, :1])).numpy(), np.hypot(m, m[:, :1]), rtol=1e-15)
    f = gf.hypot(gf.tensor([3e30], dtype=gf.float32), gf.tensor([4e30], dtype=gf.float32))
    assert f.dtype is gf.float32 and np.isclose(f.item(), 5e30, rtol=1e-6)  # the squares would overflow
    assert gf.hypot(gf.tensor([3, 5]), gf.tensor([4, 12])).tolist() == [5.0, 13.0]


def test_hypot_gradient_is_finite_at_zero(check_grad):
    check_grad(gf.hypot, RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3)))
    a = gf.tensor([0.0, 3.0], dtype=gf.float64, requires_grad=True)
    b = gf.tensor([0.0, 3.0], dtype=gf.float64, requires_grad=True)
    gf.hypot(a, b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [0.0, 1 / np.sqrt(2)], rtol=1e-12)  # ties split evenly
    np.testing.assert_allclose(b.grad.numpy(), [0.0, 1 / np.sqrt(2)], rtol=1e-12)


def test_fmod_matches_numpy():
    a = np.array([-7.0, 7.0, -7.0, 7.0, 5.5, -1e-20, 3.0, 1e300, -0.5, INF, 2.0, NAN])
    b = np.array([3.0, -3.0, -3.0, 3.0, 2.0, 1.0, 0.0, 7.0, 0.25, 1.0, INF, 1.0])
    with np.errstate(invalid="ignore"):
        expected, by_scalar = np.fmod(a, b), np.fmod(a, 2.5)
    np.testing.assert_array_equal(gf.fmod(_t(a), _t(b)).numpy(), expected)
    np.testing.assert_array_equal(_t(a).fmod(2.5).numpy(), by_scalar)
    np.testing.assert_array_equal(gf.remainder(_t(a[:4]), _t(b[:4])).numpy(), np.mod(a[:4], b[:4]))  # differs
    ia, ib = np.array([-7, 7, -7, 7, 0, -1]), np.array([3, -3, -3, 3, 5, 4])
    got = gf.fmod(_t(ia), _t(ib))
    assert got.dtype is gf.int64
    np.testing.assert_array_equal(got.numpy(), np.fmod(ia, ib))
    assert gf.fmod(gf.tensor([-5], dtype=gf.int32), 3).dtype is gf.int32


def test_elementwise_gradients(check_grad):
    x = np.array([[1.3, -2.6, 0.4], [3.7, -0.2, 5.1]])
    check_grad(lambda v: gf.frac(v) * v, x)
    check_grad(gf.exp2, x)
    check_grad(gf.fmod, x, np.array([[0.7, 0.9, -1.1], [-1.3, 0.3, 2.0]]))


# ---- count_nonzero, var_mean, std_mean --------------------------------------------------------
def test_count_nonzero():
    x = np.array([[0.0, 1.0, -0.0, NAN], [2.0, 0.0, 0.0, 3.0], [0.0, 0.0, 0.0, 0.0]])
    assert gf.count_nonzero(_t(x)).item() == np.count_nonzero(x)
    for dim in (0, 1, -1, (0, 1)):
        got = gf.count_nonzero(_t(x), dim)
        assert got.dtype is gf.int64
        np.testing.assert_array_equal(got.numpy(), np.count_nonzero(x, axis=dim))
    np.testing.assert_array_equal(_t(x).count_nonzero(dim=1).numpy(), np.count_nonzero(x, axis=1))
    b = np.array([True, False, True])
    assert gf.count_nonzero(_t(b)).item() == 2
    assert gf.count_nonzero(_t(np.array([0, 5, -1], np.int32))).item() == 2
    assert gf.count_nonzero(gf.zeros(0, 3), 0).tolist() == [0, 0, 0]
    assert gf.count_nonzero(gf.tensor(x).t(), 0).tolist() == np.count_nonzero(x.T, axis=0).tolist()


@pytest.mark.parametrize("dim,keepdim,correction", [(None, False, None), (0, False, None), (-1, True, 0),
                                                    ((0, 2), False, 2), (1, True, 1)])
def test_var_mean_std_mean(dim, keepdim, correction):
    x = RNG.standard_normal((3, 4, 5))
    ddof = 1 if correction is None else correction
    axis = dim if dim is None or isinstance(dim, int) else tuple(dim)
    v, m = gf.var_mean(_t(x), dim, keepdim=keepdim, correction=correction)
    np.testing.assert_allclose(v.numpy(), np.var(x, axis=axis, ddof=ddof, keepdims=keepdim), rtol=1e-12)
    np.testing.assert_allclose(m.numpy(), np.mean(x, axis=axis, keepdims=keepdim), rtol=1e-12)
    s, m2 = gf.std_mean(_t(x), dim, keepdim=keepdim, correction=correction)
    np.testing.assert_allclose(s.numpy(), np.std(x, axis=axis, ddof=ddof, keepdims=keepdim), rtol=1e-12)
    np.testing.assert_allclose(m2.numpy(), m.numpy(), rtol=0)


def test_var_mean_unbiased_ints_and_gradient(check_grad):
    x = RNG.standard_normal((4, 17))
    v, m = gf.var_mean(_t(x), 1, False)  # positional unbiased=False
    np.testing.assert_allclose(v.numpy(), np.var(x, axis=1), rtol=1e-12)
    iv, im = gf.var_mean(gf.tensor([1, 2, 3, 4]))
    assert iv.dtype is gf.float32 and np.isclose(iv.item(), np.var([1, 2, 3, 4], ddof=1)) and im.item() == 2.5
    one, _ = gf.var_mean(gf.tensor([1.0]))
    assert np.isnan(one.item())  # n - 1 = 0, as torch
    check_grad(lambda t: gf.var_mean(t, 1)[0] + gf.var_mean(t, 1)[1] * 2, x[:2, :5])
    check_grad(lambda t: gf.std_mean(t, 0)[0] * 3 + gf.std_mean(t, 0)[1], x[:3, :4])


# ---- meshgrid and cartesian_prod ----------------------------------------------------------
@pytest.mark.parametrize("indexing", ["ij", "xy"])
@pytest.mark.parametrize("sizes", [(3,), (2, 3), (2, 3, 4), (0, 3), (1, 17)])
def test_meshgrid_matches_numpy(sizes, indexing):
    vs = [RNG.standard_normal(n) for n in sizes]
    got = gf.meshgrid(*[_t(v) for v in vs], indexing=indexing)
    expected = np.meshgrid(*vs, indexing=indexing)
    assert isinstance(got, tuple) and len(got) == len(sizes)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g.numpy(), e)
    listed = gf.meshgrid([_t(v) for v in vs], indexing=indexing)
    np.testing.assert_array_equal(listed[-1].numpy(), expected[-1])


def test_meshgrid_default_ij_scalars_views_and_gradient(check_grad):
    a, b = gf.tensor([1, 2, 3]), gf.tensor([4, 5])
    x, y = gf.meshgrid(a, b)
    assert x.shape == (3, 2) and x.dtype is gf.int64 and y.tolist() == [[4, 5]] * 3
    s, t = gf.meshgrid(gf.tensor(7.0), gf.tensor([1.0, 2.0]))
    assert s.shape == (1, 2)
    strided = gf.tensor(np.arange(8.0))[::3]
    np.testing.assert_array_equal(gf.meshgrid(strided, strided)[1].numpy(),
                                  np.meshgrid(np.arange(8.0)[::3], np.arange(8.0)[::3], indexing="ij")[1])
    w = gf.tensor(np.arange(12.0).reshape(3, 4))
    check_grad(lambda u, v: (gf.meshgrid(u, v)[0] * w + gf.meshgrid(u, v)[1] ** 2), RNG.standard_normal(3),
               RNG.standard_normal(4))


def test_cartesian_prod():
    a, b, c = np.array([1, 2, 3]), np.array([4, 5]), np.array([6, 7])
    got = gf.cartesian_prod(_t(a), _t(b), _t(c))
    expected = np.array([[i, j, k] for i in a for j in b for k in c])
    np.testing.assert_array_equal(got.numpy(), expected)
    assert gf.cartesian_prod(_t(a)).tolist() == [1, 2, 3]
    assert gf.cartesian_prod(_t(a), gf.zeros(0, dtype=gf.int64)).shape == (0, 2)


def test_grid_errors():
    with pytest.raises(ShapeError, match=r"meshgrid: expects 0-D or 1-D tensors, got tensor 1 of shape \(2, 2\)"):
        gf.meshgrid(gf.zeros(2), gf.zeros(2, 2))
    with pytest.raises(ValueError, match="meshgrid: indexing must be 'ij' or 'xy', got 'ji'"):
        gf.meshgrid(gf.zeros(2), indexing="ji")
    with pytest.raises(DTypeError, match="meshgrid: expects all tensors to have the same dtype, got float32, int64"):
        gf.meshgrid(gf.zeros(2), gf.tensor([1]))


def test_against_torch_when_installed():
    torch = pytest.importorskip("torch")
    a, b = torch.tensor(A), torch.tensor(B)
    np.testing.assert_array_equal(gf.isclose(_t(A), _t(B)).numpy(), torch.isclose(a, b).numpy())
    np.testing.assert_array_equal(gf.nan_to_num(_t(SPECIAL)).numpy(), torch.nan_to_num(torch.tensor(SPECIAL)).numpy())
    x, y = RNG.standard_normal(6) * 5, RNG.standard_normal(6) * 2
    for name in ("fmod", "hypot"):
        np.testing.assert_allclose(getattr(gf, name)(_t(x), _t(y)).numpy(),
                                   getattr(torch, name)(torch.tensor(x), torch.tensor(y)).numpy(), rtol=1e-14)
    np.testing.assert_allclose(gf.frac(_t(x)).numpy(), torch.frac(torch.tensor(x)).numpy(), rtol=1e-14)
    v, m = gf.var_mean(_t(x.reshape(2, 3)), 1)
    tv, tm = torch.var_mean(torch.tensor(x.reshape(2, 3)), 1)
    np.testing.assert_allclose(v.numpy(), tv.numpy(), rtol=1e-12)
    grids = gf.meshgrid(_t(x[:2]), _t(y[:3]), indexing="xy")
    tgrids = torch.meshgrid(torch.tensor(x[:2]), torch.tensor(y[:3]), indexing="xy")
    for g, tg in zip(grids, tgrids):
        np.testing.assert_array_equal(g.numpy(), tg.numpy())


def test_inplace_forms():
    x = RNG.standard_normal((3, 4))
    t = gf.tensor(x)
    assert t.tril_(-1) is t
    np.testing.assert_array_equal(t.numpy(), np.tril(x, -1))
    t = gf.tensor(x)
    t[1:].triu_()  # through a view: the base changes
    np.testing.assert_array_equal(t.numpy(), np.concatenate([x[:1], np.triu(x[1:])]))
    t = gf.tensor(x * 5)
    t.fmod_(2.0).frac_()
    np.testing.assert_allclose(t.numpy(), np.fmod(np.fmod(x * 5, 2.0), 1.0), rtol=1e-12)
    t = gf.tensor(np.array([np.nan, np.inf, 1.0]))
    t.nan_to_num_(posinf=7.0)
    assert t.tolist() == [0.0, 7.0, 1.0]
    t = gf.tensor(np.array([3.0, 5.0]))
    t.hypot_(gf.tensor(np.array([4.0, 12.0]))).exp2_()
    assert t.tolist() == [32.0, 8192.0]
    with pytest.raises(DTypeError, match="exp2_"):
        gf.tensor([1, 2]).exp2_()  # a float result cannot be written into an integer tensor
    leaf = gf.tensor(x, requires_grad=True)
    with pytest.raises(RuntimeError):
        leaf.tril_()
    y = leaf * 1.0
    y.triu_(1)
    y.sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), np.triu(np.ones((3, 4)), 1))
