"""tril, triu, diag, diag_embed, diagonal, trace, roll, tile, addmm, baddbmm, addmv and inner on
eager tensors (each CPU backend): values against NumPy, awkward shapes (empty, size 1, 17
elements, batches, transposed and strided inputs, negative dims), integer dtypes, gradients
against central differences in float64, and errors naming the op and the shapes."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
from graphflow.errors import DTypeError, ShapeError

RNG = np.random.default_rng(3)


def _t(a):
    return gf.tensor(np.asarray(a))


def _noncontiguous(shape):
    """A transposed view and a strided slice, with their NumPy values."""
    base = RNG.standard_normal((shape[1], shape[0]))
    wide = RNG.standard_normal((shape[0], 2 * shape[1]))
    return [(gf.tensor(base).t(), base.T), (gf.tensor(wide)[:, ::2], wide[:, ::2])]


# ---- triangles and diagonals --------------------------------------------------------------
TRI_SHAPES = [(3, 4), (4, 3), (1, 1), (0, 3), (3, 0), (2, 3, 4), (2, 1, 3, 3), (1, 17)]


@pytest.mark.parametrize("shape", TRI_SHAPES, ids=str)
@pytest.mark.parametrize("k", [-5, -1, 0, 2, 6])
def test_tril_triu_match_numpy(shape, k):
    x = RNG.standard_normal(shape)
    np.testing.assert_array_equal(gf.tril(_t(x), k).numpy(), np.tril(x, k))
    np.testing.assert_array_equal(_t(x).triu(diagonal=k).numpy(), np.triu(x, k))
    assert gf.tril(_t(x), k).shape == shape


def test_tril_triu_default_diagonal_ints_bools_and_views():
    i = np.arange(12, dtype=np.int32).reshape(3, 4)
    out = gf.tril(_t(i))
    assert out.dtype is gf.int32
    np.testing.assert_array_equal(out.numpy(), np.tril(i))
    b = np.ones((3, 3), dtype=bool)
    np.testing.assert_array_equal(gf.triu(_t(b), 1).numpy(), np.triu(b, 1))
    for t, a in _noncontiguous((4, 3)):
        np.testing.assert_array_equal(gf.tril(t, -1).numpy(), np.tril(a, -1))
        np.testing.assert_array_equal(gf.triu(t).numpy(), np.triu(a))


def test_tril_triu_gradients(check_grad):
    x = RNG.standard_normal((2, 3, 4))
    check_grad(lambda v: gf.tril(v, 1) * 1.5, x)
    check_grad(lambda v: gf.triu(v, -1) ** 2, x)


@pytest.mark.parametrize("n", [0, 1, 3, 17])
@pytest.mark.parametrize("k", [-2, 0, 1])
def test_diag_vector_to_matrix_and_back(n, k):
    v = RNG.standard_normal(n)
    m = gf.diag(_t(v), k)
    np.testing.assert_array_equal(m.numpy(), np.diag(v, k))
    a = RNG.standard_normal((n, n + 2))
    np.testing.assert_array_equal(gf.diag(_t(a), k).numpy(), np.diag(a, k))
    np.testing.assert_array_equal(_t(a).diag(k).numpy(), np.diag(a, k))


def test_diag_integer_dtype_and_views():
    v = np.arange(1, 5, dtype=np.int64)
    m = gf.diag(_t(v), -1)
    assert m.dtype is gf.int64
    np.testing.assert_array_equal(m.numpy(), np.diag(v, -1))
    for t, a in _noncontiguous((3, 5)):
        np.testing.assert_array_equal(gf.diag(t, 1).numpy(), np.diag(a, 1))
    s = gf.tensor(np.arange(10.0))[::3]  # a strided vector
    np.testing.assert_array_equal(gf.diag(s).numpy(), np.diag(np.arange(10.0)[::3]))


@pytest.mark.parametrize("shape,offset,d1,d2", [
    ((3, 4), 0, 0, 1), ((3, 4), 2, 0, 1), ((3, 4), -2, 1, 0), ((2, 3, 4), 1, 1, 2), ((2, 3, 4), -1, -1, 0),
    ((2, 3, 4), 0, 2, 1), ((3, 4), 5, 0, 1), ((0, 3), 0, 0, 1), ((2, 1, 17), 0, 0, -1),
])
def test_diagonal_matches_numpy(shape, offset, d1, d2):
    x = RNG.standard_normal(shape)
    got = gf.diagonal(_t(x), offset, d1, d2)
    np.testing.assert_array_equal(got.numpy(), np.diagonal(x, offset, d1, d2))
    np.testing.assert_array_equal(_t(x).diagonal(offset=offset, dim1=d1, dim2=d2).numpy(),
                                  np.diagonal(x, offset, d1, d2))


@pytest.mark.parametrize("offset,d1,d2", [(0, -2, -1), (1, 0, 2), (-2, 2, 0), (0, 1, 0)])
def test_diag_embed_matches_stacked_diag(offset, d1, d2):
    x = RNG.standard_normal((2, 3))
    got = gf.diag_embed(_t(x), offset, d1, d2).numpy()
    stacked = np.stack([np.diag(r, offset) for r in x])  # (2, n, n): rows, then columns
    n = 3
    dims = [d % n for d in (d1, d2)]
    rest = [d for d in range(n) if d not in dims]
    order = [0] * n
    order[dims[0]], order[dims[1]], order[rest[0]] = 1, 2, 0
    np.testing.assert_array_equal(got, np.transpose(stacked, order))


def test_trace():
    a = RNG.standard_normal((3, 5))
    np.testing.assert_allclose(gf.trace(_t(a)).item(), np.trace(a), rtol=1e-12)
    np.testing.assert_allclose(_t(a).t().trace().item(), np.trace(a.T), rtol=1e-12)
    i = gf.trace(_t(np.arange(9, dtype=np.int32).reshape(3, 3)))
    assert i.dtype is gf.int64 and i.item() == 12  # integers sum as int64, as torch.trace
    assert gf.trace(gf.zeros(0, 3)).item() == 0.0


def test_diagonal_gradients(check_grad):
    check_grad(lambda v: gf.diag(v, 1), RNG.standard_normal(4))
    check_grad(lambda v: gf.diag(v, -1), RNG.standard_normal((3, 4)))
    check_grad(lambda v: gf.diagonal(v, 1, 0, 2) * 2, RNG.standard_normal((3, 2, 4)))
    check_grad(lambda v: gf.diag_embed(v, -1) * 3, RNG.standard_normal((2, 3)))
    check_grad(lambda v: gf.trace(v) ** 2, RNG.standard_normal((3, 3)))


def test_triangular_errors_name_the_op_and_shape():
    with pytest.raises(ShapeError, match=r"tril: .*\(3,\)"):
        gf.tril(gf.zeros(3))
    with pytest.raises(ShapeError, match=r"triu: .*\(\)"):
        gf.triu(gf.tensor(1.0))
    with pytest.raises(ShapeError, match=r"diag: .*3-D \(2, 2, 2\)"):
        gf.diag(gf.zeros(2, 2, 2))
    with pytest.raises(ValueError, match=r"diagonal: dimensions cannot be identical 1, -1 \(input \(3, 4\)\)"):
        gf.diagonal(gf.zeros(3, 4), 0, 1, -1)
    with pytest.raises(IndexError, match="diagonal"):
        gf.diagonal(gf.zeros(3, 4), 0, 0, 2)
    with pytest.raises(ShapeError, match=r"trace: .*\(2, 2, 2\)"):
        gf.trace(gf.zeros(2, 2, 2))
    with pytest.raises(TypeError, match="tril: diagonal must be an int"):
        gf.tril(gf.zeros(2, 2), 0.5)


# ---- roll and tile ------------------------------------------------------------------------
@pytest.mark.parametrize("shape,shifts,dims", [
    ((5,), 2, None), ((5,), -7, 0), ((2, 3, 4), 5, None), ((2, 3, 4), (1, -2), (0, -1)), ((2, 3, 4), 3, 1),
    ((2, 3, 4), (1, 1), (2, 2)), ((17,), 16, 0), ((1,), 3, 0), ((0, 3), 1, 0), ((3, 0), 2, None), ((), 1, None),
    ((3, 4), 0, 1),
])
def test_roll_matches_numpy(shape, shifts, dims):
    x = RNG.standard_normal(shape)
    got = gf.roll(_t(x), shifts, dims)
    np.testing.assert_array_equal(got.numpy(), np.roll(x, shifts, dims))
    np.testing.assert_array_equal(_t(x).roll(shifts, dims).numpy(), np.roll(x, shifts, dims))


def test_roll_views_ints_and_gradient(check_grad):
    for t, a in _noncontiguous((3, 4)):
        np.testing.assert_array_equal(gf.roll(t, (1, 2), (0, 1)).numpy(), np.roll(a, (1, 2), (0, 1)))
    i = np.arange(6, dtype=np.int32)
    assert gf.roll(_t(i), 2).dtype is gf.int32
    check_grad(lambda v: gf.roll(v, (1, -1), (0, 1)) * gf.tensor(np.arange(12.0).reshape(3, 4)),
               RNG.standard_normal((3, 4)))
    check_grad(lambda v: gf.roll(v, 4) * gf.tensor(np.arange(6.0).reshape(2, 3)), RNG.standard_normal((2, 3)))


def test_roll_errors():
    with pytest.raises(ValueError, match=r"roll: shifts and dims must align, got 2 shifts \(1, 2\) and 1 dims"):
        gf.roll(gf.zeros(2, 3), (1, 2), 0)
    with pytest.raises(IndexError, match="roll"):
        gf.roll(gf.zeros(2, 3), 1, 2)
    with pytest.raises(TypeError, match="roll: shifts must be ints"):
        gf.roll(gf.zeros(2, 3), 1.5, 0)


@pytest.mark.parametrize("shape,reps", [
    ((2, 3), (2,)), ((2, 3), (2, 1)), ((2, 3), (1, 2, 3)), ((3,), (0,)), ((0, 2), (3, 1)), ((), (4,)),
    ((17,), (1,)), ((2, 1, 3), (1, 2)), ((2,), ()),
])
def test_tile_matches_numpy(shape, reps):
    x = RNG.standard_normal(shape)
    np.testing.assert_array_equal(gf.tile(_t(x), reps).numpy(), np.tile(x, reps))
    np.testing.assert_array_equal(_t(x).tile(reps).numpy(), np.tile(x, reps))


def test_tile_views_ints_gradient_and_errors(check_grad):
    for t, a in _noncontiguous((2, 3)):
        np.testing.assert_array_equal(gf.tile(t, (2, 2)).numpy(), np.tile(a, (2, 2)))
    assert gf.tile(gf.tensor([1, 2]), (3,)).tolist() == [1, 2] * 3
    check_grad(lambda v: gf.tile(v, (2, 1, 3)) * gf.tensor(np.arange(36.0).reshape(2, 2, 9)), RNG.standard_normal((2, 3)))
    with pytest.raises(ValueError, match=r"tile: repeat counts must be non-negative, got \(-1,\) for input \(2,\)"):
        gf.tile(gf.zeros(2), (-1,))


# ---- products with an added term, inner -----------------------------------------------------
def test_addmm_baddbmm_addmv_match_numpy():
    inp, a, b = RNG.standard_normal((3, 5)), RNG.standard_normal((3, 4)), RNG.standard_normal((4, 5))
    np.testing.assert_allclose(gf.addmm(_t(inp), _t(a), _t(b)).numpy(), inp + a @ b, rtol=1e-12)
    np.testing.assert_allclose(gf.addmm(_t(inp[0]), _t(a), _t(b), beta=0.5, alpha=-2).numpy(),
                               0.5 * inp[0] + -2 * (a @ b), rtol=1e-12)
    np.testing.assert_allclose(_t(inp).addmm(_t(a), _t(b), alpha=3).numpy(), inp + 3 * (a @ b), rtol=1e-12)
    nan = np.full((3, 5), np.nan)
    np.testing.assert_allclose(gf.addmm(_t(nan), _t(a), _t(b), beta=0).numpy(), a @ b, rtol=1e-12)  # ignored
    ba, bb, bi = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 4, 5)), RNG.standard_normal((3, 1))
    np.testing.assert_allclose(gf.baddbmm(_t(bi), _t(ba), _t(bb), beta=2, alpha=0.5).numpy(),
                               2 * bi + 0.5 * (ba @ bb), rtol=1e-12)
    v, iv = RNG.standard_normal(4), RNG.standard_normal(3)
    np.testing.assert_allclose(gf.addmv(_t(iv), _t(a), _t(v)).numpy(), iv + a @ v, rtol=1e-12)
    np.testing.assert_allclose(_t(iv).addmv(_t(a), _t(v), beta=-1).numpy(), -iv + a @ v, rtol=1e-12)
    # transposed and strided operands, empty inner dimension, integers
    ta = gf.tensor(a.T.copy()).t()
    np.testing.assert_allclose(gf.addmm(_t(inp), ta, gf.tensor(np.repeat(b, 2, 1))[:, ::2]).numpy(), inp + a @ b,
                               rtol=1e-12)
    np.testing.assert_array_equal(gf.addmm(gf.ones(2, 3), gf.zeros(2, 0), gf.zeros(0, 3)).numpy(), np.ones((2, 3)))
    ia, ib = np.arange(6).reshape(2, 3), np.arange(6).reshape(3, 2)
    out = gf.addmm(_t(np.ones((2, 2), np.int64)), _t(ia), _t(ib), beta=2, alpha=3)
    assert out.dtype is gf.int64
    np.testing.assert_array_equal(out.numpy(), 2 + 3 * (ia @ ib))


def test_products_gradients(check_grad):
    inp, a, b = RNG.standard_normal((3, 5)), RNG.standard_normal((3, 4)), RNG.standard_normal((4, 5))
    check_grad(lambda i, x, y: gf.addmm(i, x, y, beta=0.5, alpha=2), inp[:1], a, b)
    check_grad(lambda i, x, y: gf.baddbmm(i, x, y, alpha=-1), RNG.standard_normal((2, 3, 2)),
               RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 4, 2)))
    check_grad(lambda i, m, v: gf.addmv(i, m, v, beta=3), RNG.standard_normal(3), a, RNG.standard_normal(4))
    check_grad(lambda x, y: gf.inner(x, y), RNG.standard_normal((2, 3)), RNG.standard_normal((4, 3)))


@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (3,)), ((2, 3), (4, 3)), ((2, 1, 3), (5, 3)),
                                   ((), (2, 3)), ((2, 3), ()), ((2, 0), (3, 0)), ((17,), (1, 17))])
def test_inner_matches_numpy(sa, sb):
    a, b = RNG.standard_normal(sa), RNG.standard_normal(sb)
    got = gf.inner(_t(a), _t(b))
    np.testing.assert_allclose(got.numpy(), np.inner(a, b), rtol=1e-12, atol=1e-12)
    assert got.shape == np.inner(a, b).shape
    assert _t(a).inner(_t(b)).shape == np.inner(a, b).shape


def test_product_errors_name_the_op_and_shapes():
    with pytest.raises(ShapeError, match=r"addmm: mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"):
        gf.addmm(gf.zeros(2, 5), gf.zeros(2, 3), gf.zeros(4, 5))
    with pytest.raises(ShapeError, match=r"addmm: mat1 must be a matrix, got a 1-D tensor \(3,\)"):
        gf.addmm(gf.zeros(2), gf.zeros(3), gf.zeros(3, 2))
    with pytest.raises(ShapeError, match=r"addmm: input \(3, 3\) does not broadcast to the product's shape \(2, 3\)"):
        gf.addmm(gf.zeros(3, 3), gf.zeros(2, 4), gf.zeros(4, 3))
    with pytest.raises(ShapeError, match=r"baddbmm: batch1 \(2, 3, 4\) and batch2 \(3, 4, 5\)"):
        gf.baddbmm(gf.zeros(1), gf.zeros(2, 3, 4), gf.zeros(3, 4, 5))
    with pytest.raises(ShapeError, match=r"addmv: vec must be a vector, got a 2-D tensor \(3, 1\)"):
        gf.addmv(gf.zeros(2), gf.zeros(2, 3), gf.zeros(3, 1))
    with pytest.raises(ShapeError, match=r"inner: the last dimensions must match, got shapes \(2, 3\) and \(4,\)"):
        gf.inner(gf.zeros(2, 3), gf.zeros(4))
    with pytest.raises(DTypeError, match="addmm: for integer tensors"):
        gf.addmm(gf.tensor([[1]]), gf.tensor([[1]]), gf.tensor([[1]]), beta=0.5)


def test_against_torch_when_installed():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((3, 4))
    tx = torch.tensor(x)
    np.testing.assert_array_equal(gf.tril(_t(x), -1).numpy(), torch.tril(tx, -1).numpy())
    np.testing.assert_array_equal(gf.diag(_t(x), 1).numpy(), torch.diag(tx, 1).numpy())
    np.testing.assert_array_equal(gf.diag(_t(x[0]), -2).numpy(), torch.diag(tx[0], -2).numpy())
    np.testing.assert_array_equal(gf.roll(_t(x), (1, -3), (0, 1)).numpy(), torch.roll(tx, (1, -3), (0, 1)).numpy())
    np.testing.assert_array_equal(gf.tile(_t(x), (2, 1, 2)).numpy(), torch.tile(tx, (2, 1, 2)).numpy())
    np.testing.assert_array_equal(gf.diag_embed(_t(x), 1, 0, 2).numpy(), torch.diag_embed(tx, 1, 0, 2).numpy())
    np.testing.assert_allclose(gf.inner(_t(x), _t(x)).numpy(), torch.inner(tx, tx).numpy(), rtol=1e-12)
