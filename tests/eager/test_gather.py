"""gf.gather, gf.take_along_dim and gf.index_select on eager tensors (each CPU backend): values
against NumPy, gradients against central differences in float64, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
from graphflow.errors import DTypeError, ShapeError
from tests import index_oracles as ref

RNG = np.random.default_rng(7)


def _ints(high, shape):
    return RNG.integers(0, high, size=shape).astype(np.int64)


# (input shape, dim, index shape): index larger along dim, smaller elsewhere, empty, size 1, 17
# elements, 3-D, negative dims, a 0-d input
GATHER_CASES = [
    ((3, 4), 0, (2, 4)), ((3, 4), 1, (3, 6)), ((3, 4), 0, (5, 2)), ((3, 4), -1, (2, 3)), ((2, 3, 4), 1, (2, 5, 4)),
    ((2, 3, 4), -3, (1, 2, 3)), ((17,), 0, (17,)), ((1,), 0, (5,)), ((3, 4), 0, (0, 4)), ((3, 0), 1, (3, 0)),
    ((0, 3), 0, (0, 3)), ((), 0, ()),
]


@pytest.mark.parametrize("shape,dim,ishape", GATHER_CASES, ids=[str(c) for c in GATHER_CASES])
def test_gather_matches_numpy(shape, dim, ishape):
    x = RNG.standard_normal(shape)
    size = shape[dim] if shape else 1
    idx = _ints(size, ishape) if size else np.zeros(ishape, np.int64)
    got = gf.gather(gf.tensor(x), dim, gf.tensor(idx))
    assert got.shape == ishape and got.dtype is gf.float64
    np.testing.assert_array_equal(got.numpy(), ref.gather(x, dim, idx))
    np.testing.assert_array_equal(gf.tensor(x).gather(dim, gf.tensor(idx)).numpy(), ref.gather(x, dim, idx))
    if shape and all(ishape[d] == shape[d] for d in range(len(shape)) if d != dim % len(shape)):
        np.testing.assert_array_equal(got.numpy(), np.take_along_axis(x, idx, axis=dim))


def test_gather_int32_index_and_integer_input():
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    idx = np.array([[2, 0, 1, 1]], dtype=np.int32)
    got = gf.gather(gf.tensor(x), 0, gf.tensor(idx))
    assert got.dtype is gf.int32
    np.testing.assert_array_equal(got.numpy(), np.take_along_axis(x, idx, axis=0))


def test_gather_non_contiguous_inputs():
    base = RNG.standard_normal((5, 6))
    idx = _ints(5, (4, 3))
    t = gf.tensor(base).t()  # (6, 5), a permuted view
    np.testing.assert_array_equal(gf.gather(t, 1, gf.tensor(idx)).numpy(), ref.gather(base.T, 1, idx))
    s = gf.tensor(base)[:, ::2]  # (5, 3), strided
    np.testing.assert_array_equal(s.gather(0, gf.tensor(idx)).numpy(), ref.gather(base[:, ::2], 0, idx))
    it = gf.tensor(idx.T.copy()).t()  # a transposed index
    np.testing.assert_array_equal(gf.gather(gf.tensor(base), 0, it).numpy(), ref.gather(base, 0, idx))


def test_gather_gradient_accumulates_duplicates(check_grad):
    idx = gf.tensor([[0, 0, 2], [0, 1, 0]])  # x[0, 0] read twice (column 0)
    w = gf.tensor(RNG.standard_normal((2, 3)))
    check_grad(lambda x: gf.gather(x, 0, idx) * w, RNG.standard_normal((3, 4)))
    check_grad(lambda x: gf.gather(x.t(), -1, idx) * w, RNG.standard_normal((4, 3)))
    x = gf.tensor(np.zeros((3, 4)), requires_grad=True)
    gf.gather(x, 0, idx).sum().backward()
    assert x.grad.numpy()[0, 0] == 2.0 and x.grad.numpy()[:, 3].sum() == 0.0


@pytest.mark.parametrize("xshape,ishape,dim", [((3, 5), (3, 2), 1), ((3, 5), (1, 2), 1), ((1, 5), (3, 2), 1),
                                               ((4, 1, 3), (2, 5, 1), 0), ((3, 5), (3, 0), -1)])
def test_take_along_dim_broadcasts_as_numpy(xshape, ishape, dim):
    x = RNG.standard_normal(xshape)
    idx = _ints(xshape[dim], ishape)
    got = gf.take_along_dim(gf.tensor(x), gf.tensor(idx), dim)
    np.testing.assert_array_equal(got.numpy(), np.take_along_axis(x, idx, axis=dim))
    np.testing.assert_array_equal(gf.tensor(x).take_along_dim(gf.tensor(idx), dim).numpy(), got.numpy())


def test_take_along_dim_flat_and_gradient(check_grad):
    x = RNG.standard_normal((3, 4))
    idx = _ints(12, (5,))
    np.testing.assert_array_equal(gf.take_along_dim(gf.tensor(x), gf.tensor(idx)).numpy(), x.reshape(-1)[idx])
    w = gf.tensor(RNG.standard_normal((3, 2)))
    check_grad(lambda a: gf.take_along_dim(a, gf.tensor([[1, 1]]), 1) * w, RNG.standard_normal((3, 4)))
    with pytest.raises(ShapeError, match=r"take_along_dim.*\(3, 4\).*\(2, 1\).*dimension 0"):
        gf.take_along_dim(gf.tensor(x), gf.tensor([[0], [1]]), 1)


@pytest.mark.parametrize("shape,dim,index", [((3, 4), 0, [2, 0, 2, 1]), ((3, 4), 1, [3]), ((3, 4), -1, []),
                                             ((2, 17, 1), 1, list(range(16, -1, -2))), ((5,), 0, 4),
                                             ((2, 3, 4), -2, [1, 1])])
def test_index_select_matches_numpy(shape, dim, index):
    x = RNG.standard_normal(shape)
    idx = np.asarray(index, dtype=np.int64)
    got = gf.index_select(gf.tensor(x), dim, gf.tensor(idx))
    np.testing.assert_array_equal(got.numpy(), np.take(x, idx.reshape(-1), axis=dim))
    np.testing.assert_array_equal(gf.tensor(x).index_select(dim, gf.tensor(idx)).numpy(), got.numpy())


def test_index_select_non_contiguous_and_gradient(check_grad):
    base = RNG.standard_normal((4, 6))
    idx = gf.tensor([5, 0, 5, 2])
    np.testing.assert_array_equal(gf.tensor(base).t().index_select(0, idx).numpy(), base.T[[5, 0, 5, 2]])
    w = gf.tensor(RNG.standard_normal((4, 4)))
    check_grad(lambda x: x.t().index_select(0, idx) * w.t(), base)
    check_grad(lambda x: gf.index_select(x, -1, idx) * w, base)


def test_out_of_range_errors_name_op_range_and_shape():
    x = gf.tensor(np.zeros((3, 4)))
    with pytest.raises(IndexError, match=r"gather: index 3 is out of bounds for dimension 0 with size 3 of the "
                                         r"input \(3, 4\) \(valid indices: 0 to 2\)"):
        gf.gather(x, 0, gf.tensor([[0, 3, 1, 0]]))
    with pytest.raises(IndexError, match=r"gather: index -1 .*dimension 1 with size 4 .*\(3, 4\)"):
        x.gather(-1, gf.tensor([[-1]]))  # negative indices are errors, as in PyTorch
    with pytest.raises(IndexError, match=r"index_select: index -1 .*dimension 1 with size 4 .*\(3, 4\)"):
        x.index_select(1, gf.tensor([0, -1]))
    with pytest.raises(IndexError, match=r"index_select: index 4 .*size 4"):
        x.index_select(1, gf.tensor([4]))
    with pytest.raises(IndexError, match=r"take_along_dim: index 7 .*size 4"):
        gf.take_along_dim(x, gf.tensor([[7]]), 1)
    with pytest.raises(IndexError, match=r"valid indices: none"):
        gf.gather(gf.tensor(np.zeros((2, 0))), 1, gf.tensor([[0]]))


def test_index_dtype_rank_and_size_errors():
    x = gf.tensor(np.zeros((3, 4)))
    with pytest.raises(DTypeError, match=r"gather: expected an int64 \(or int32\) index tensor, got float32"):
        gf.gather(x, 0, gf.tensor([[0.0]]))
    with pytest.raises(DTypeError, match=r"index_select: .*got bool"):
        x.index_select(0, gf.tensor([True]))
    with pytest.raises(DTypeError, match=r"gather: .*got uint8"):
        gf.gather(x, 0, gf.tensor([[1]], dtype=gf.uint8))
    with pytest.raises(ShapeError, match=r"gather: index \(4,\) must have as many dimensions as the input \(3, 4\)"):
        gf.gather(x, 0, gf.tensor([0, 1, 2, 0]))
    with pytest.raises(ShapeError, match=r"gather: index \(2, 5\) is larger than input \(3, 4\) in dimension 1"):
        gf.gather(x, 0, gf.zeros(2, 5, dtype=gf.int64))
    with pytest.raises(ShapeError, match=r"index_select: index must be 1-D .*\(1, 2\)"):
        x.index_select(0, gf.tensor([[0, 1]]))
    with pytest.raises(IndexError, match=r"gather: dimension 2 out of range"):
        gf.gather(x, 2, gf.zeros(3, 4, dtype=gf.int64))


def test_matches_torch_when_installed():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((4, 5))
    idx = _ints(4, (3, 5))
    np.testing.assert_allclose(gf.gather(gf.tensor(x), 0, gf.tensor(idx)).numpy(),
                               torch.gather(torch.tensor(x), 0, torch.tensor(idx)).numpy())
    sel = np.array([3, 0, 3])
    np.testing.assert_allclose(gf.index_select(gf.tensor(x), 1, gf.tensor(sel)).numpy(),
                               torch.index_select(torch.tensor(x), 1, torch.tensor(sel)).numpy())
