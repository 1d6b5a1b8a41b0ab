"""gf.scatter_add, gf.scatter, gf.masked_fill, index_put and index_add on eager tensors (each CPU
backend), out of place and in place: values against NumPy oracles, gradients against central
differences in float64, repeated positions, in-place rules and errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
from graphflow.errors import DTypeError, ShapeError
from tests import index_oracles as ref

RNG = np.random.default_rng(11)


def _ints(high, shape):
    return RNG.integers(0, high, size=shape).astype(np.int64)


# (input shape, dim, index shape, src shape): duplicates (random indices), src larger than index,
# index smaller than the input outside dim, empty, size 1, 17 elements, negative dims, 0-d
SCATTER_CASES = [
    ((3, 4), 0, (5, 4), (5, 4)), ((3, 4), 1, (3, 6), (4, 7)), ((4, 5), 0, (2, 3), (3, 3)),
    ((2, 3, 4), -1, (2, 2, 6), (2, 3, 6)), ((2, 3, 4), 1, (1, 4, 2), (1, 4, 2)), ((17,), 0, (17,), (17,)),
    ((1,), 0, (4,), (4,)), ((3, 4), 0, (0, 4), (0, 4)), ((3, 0), 1, (3, 0), (3, 0)), ((), 0, (), ()),
]


def _case(shape, dim, ishape, sshape):
    x = RNG.standard_normal(shape)
    size = shape[dim] if shape else 1
    idx = _ints(size, ishape)
    src = RNG.standard_normal(sshape)
    corner = src[tuple(slice(0, n) for n in ishape)]
    return x, idx, src, corner


@pytest.mark.parametrize("case", SCATTER_CASES, ids=[str(c) for c in SCATTER_CASES])
def test_scatter_add_and_scatter_match_numpy(case):
    x, idx, src, corner = _case(*case)
    dim = case[1]
    got = gf.scatter_add(gf.tensor(x), dim, gf.tensor(idx), gf.tensor(src))
    np.testing.assert_allclose(got.numpy(), ref.scatter(x, dim, idx, corner, True), rtol=1e-12, atol=1e-12)
    got = gf.tensor(x).scatter(dim, gf.tensor(idx), gf.tensor(src))  # repeated positions: the last write wins
    np.testing.assert_array_equal(got.numpy(), ref.scatter(x, dim, idx, corner, False))
    got = gf.scatter(gf.tensor(x), dim, gf.tensor(idx), value=2.5)
    np.testing.assert_array_equal(got.numpy(), ref.scatter(x, dim, idx, 2.5, False))


def test_scatter_add_matches_np_add_at_and_scatter_put_along_axis():
    x = RNG.standard_normal((4, 6))
    idx = np.array([[0, 1, 1, 3, 0, 0], [3, 1, 1, 0, 2, 0], [0, 0, 0, 0, 0, 0]])
    src = RNG.standard_normal((3, 6))
    expected = x.copy()
    np.add.at(expected, (idx, np.arange(6)[None, :]), src)
    np.testing.assert_allclose(gf.tensor(x).scatter_add(0, gf.tensor(idx), gf.tensor(src)).numpy(), expected,
                               rtol=1e-12)
    perm = np.array([[2, 0, 3, 1, 5, 4]])  # no repeats: put_along_axis is unambiguous
    expected = x.copy()
    np.put_along_axis(expected, np.repeat(perm, 4, 0), src[:1].repeat(4, 0), axis=1)
    got = gf.tensor(x).scatter(1, gf.tensor(np.repeat(perm, 4, 0)), gf.tensor(src[:1].repeat(4, 0)))
    np.testing.assert_array_equal(got.numpy(), expected)


def test_scatter_last_write_wins_along_dim():
    got = gf.zeros(2, 3).scatter(1, gf.tensor([[1, 1, 1], [0, 2, 0]]), gf.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    assert got.tolist() == [[0.0, 3.0, 0.0], [6.0, 0.0, 5.0]]
    got = gf.zeros(3, 2).scatter(0, gf.tensor([[2, 0], [2, 0], [1, 0]]), gf.tensor([[1.0, 2.0], [3.0, 4.0],
                                                                                      [5.0, 6.0]]))
    assert got.tolist() == [[0.0, 6.0], [5.0, 0.0], [3.0, 0.0]]


def test_scatter_dtypes_int32_index_and_non_contiguous():
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    idx = np.array([[2, 0, 1, 1]], dtype=np.int32)
    src = np.array([[10, 20, 30, 40]], dtype=np.int32)
    got = gf.tensor(x).scatter_add(0, gf.tensor(idx), gf.tensor(src))
    assert got.dtype is gf.int32
    np.testing.assert_array_equal(got.numpy(), ref.scatter(x, 0, idx, src, True))
    b = np.zeros((2, 3), dtype=bool)
    got = gf.tensor(b).scatter(1, gf.tensor([[2], [0]]), True)
    assert got.tolist() == [[False, False, True], [True, False, False]]
    base = RNG.standard_normal((5, 4))
    tidx = _ints(5, (4, 3))
    tsrc = RNG.standard_normal((5, 4))
    got = gf.tensor(base).t().scatter(1, gf.tensor(tidx), gf.tensor(tsrc).t())  # permuted input and src
    np.testing.assert_array_equal(got.numpy(), ref.scatter(base.T, 1, tidx, tsrc.T[:4, :3], False))
    sidx = _ints(4, (3, 3))
    got = gf.tensor(base)[::2].scatter_add(-1, gf.tensor(sidx), gf.tensor(tsrc)[::2])  # strided input and src
    np.testing.assert_allclose(got.numpy(), ref.scatter(base[::2], -1, sidx, tsrc[::2][:, :3], True), rtol=1e-12)


def test_scatter_gradients(check_grad):
    idx = gf.tensor([[0, 2, 2], [0, 1, 2]])  # repeats in columns 0 and 2
    w = gf.tensor(RNG.standard_normal((3, 4)))
    x0, s0 = RNG.standard_normal((3, 4)), RNG.standard_normal((2, 3))
    check_grad(lambda x, s: gf.scatter_add(x, 0, idx, s) * w, x0, s0)
    check_grad(lambda x, s: gf.scatter(x, 0, idx, s) * w, x0, s0)
    check_grad(lambda x, s: x.t().scatter(1, idx.t(), s.t()) * w.t(), x0, s0)  # transposed operands
    check_grad(lambda x, s: gf.scatter(x, -1, idx, s[:, :3]) * w, x0, RNG.standard_normal((2, 5)))  # larger src
    check_grad(lambda x: gf.scatter(x, 0, idx, value=1.5) * w, x0)


def test_scatter_gradient_rules():
    x = gf.tensor(np.zeros((3, 2)), requires_grad=True)
    s = gf.tensor(np.ones((2, 2)), requires_grad=True)
    idx = gf.tensor([[1, 0], [1, 2]])  # (1, 0) written twice: the second write wins
    g = gf.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    gf.scatter(x, 0, idx, s).backward(g)
    assert x.grad.tolist() == [[1.0, 0.0], [0.0, 4.0], [5.0, 0.0]]  # zero where written
    assert s.grad.tolist() == [[0.0, 2.0], [3.0, 6.0]]  # gathered grad; the overwritten write gets none


MASKS = [((3, 4), (4,)), ((3, 4), (3, 1)), ((3, 4), ()), ((3, 4), (2, 3, 4)), ((17,), (17,)), ((0, 4), (4,)),
         ((1,), (1,))]


@pytest.mark.parametrize("xshape,mshape", MASKS, ids=[str(c) for c in MASKS])
def test_masked_fill_broadcasts_as_numpy(xshape, mshape):
    x = RNG.standard_normal(xshape)
    m = RNG.random(mshape) > 0.5
    got = gf.tensor(x).masked_fill(gf.tensor(m), -7.0)
    np.testing.assert_array_equal(got.numpy(), np.where(m, -7.0, x))
    got = gf.masked_fill(gf.tensor(x), gf.tensor(m), gf.tensor(3.0, dtype=gf.float32))
    assert got.dtype is gf.float64
    np.testing.assert_array_equal(got.numpy(), np.where(m, 3.0, x))


def test_masked_fill_dtypes_and_non_contiguous():
    i = gf.tensor([[1, 2], [3, 4]])
    assert i.masked_fill(gf.tensor([[True, False], [False, True]]), 9.7).tolist() == [[9, 2], [3, 9]]
    base = RNG.standard_normal((4, 3))
    m = base > 0
    np.testing.assert_array_equal(gf.tensor(base).t().masked_fill(gf.tensor(m.T), 0.0).numpy(),
                                  np.where(m.T, 0.0, base.T))


def test_masked_fill_gradients(check_grad):
    m = gf.tensor(RNG.random((3, 4)) > 0.5)
    w = gf.tensor(RNG.standard_normal((3, 4)))
    check_grad(lambda x, v: gf.masked_fill(x, m, v) * w, RNG.standard_normal((3, 4)), np.array(0.3))
    check_grad(lambda x: x.t().masked_fill(m.t(), 2.0) * w.t(), RNG.standard_normal((3, 4)))
    x = gf.tensor(np.ones((3, 4)), requires_grad=True)
    v = gf.tensor(0.5, dtype=gf.float64, requires_grad=True)
    gf.masked_fill(x, m[0], v).sum().backward()  # a broadcast mask
    np.testing.assert_array_equal(x.grad.numpy(), np.where(m.numpy()[0], 0.0, 1.0) * np.ones((3, 4)))
    assert v.grad.item() == 3 * m.numpy()[0].sum()


INDEX_PUTS = [
    ((5, 3), lambda: (np.array([0, 4, 0, 0]),), (4, 3)),
    ((4, 5), lambda: (np.array([0, 3, 0]), np.array([1, 4, 1])), (3,)),
    ((4, 5), lambda: (np.array([[0], [3]]), np.array([1, 4, 1])), ()),
    ((2, 3, 4), lambda: (np.array([1, 1]), np.array([2, 2]), np.array([0, 0])), (2,)),
    ((17,), lambda: (np.arange(17)[::-1] % 5,), (17,)),
    ((3, 4), lambda: (np.array([], dtype=np.int64),), (0, 4)),
]


@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("shape,make,vshape", INDEX_PUTS, ids=[str(i) for i in range(len(INDEX_PUTS))])
def test_index_put_matches_numpy(shape, make, vshape, accumulate):
    x = RNG.standard_normal(shape)
    indices = make()
    values = RNG.standard_normal(vshape)
    got = gf.tensor(x).index_put(tuple(gf.tensor(i) for i in indices), gf.tensor(values), accumulate=accumulate)
    np.testing.assert_allclose(got.numpy(), ref.index_put(x, indices, values, accumulate), rtol=1e-12)


def test_index_put_bool_mask_and_gradients(check_grad):
    x = RNG.standard_normal((3, 4))
    m = x > 0
    got = gf.index_put(gf.tensor(x), (gf.tensor(m),), gf.tensor(0.0, dtype=gf.float64))
    np.testing.assert_array_equal(got.numpy(), np.where(m, 0.0, x))
    rows, cols = gf.tensor([0, 2, 0]), gf.tensor([1, 3, 1])  # (0, 1) twice
    w = gf.tensor(RNG.standard_normal((3, 4)))
    for acc in (False, True):
        check_grad(lambda a, v, acc=acc: gf.index_put(a, (rows, cols), v, accumulate=acc) * w,
                   RNG.standard_normal((3, 4)), RNG.standard_normal(3))
    check_grad(lambda a, v: a.t().index_put((cols, rows), v, accumulate=True) * w.t(), RNG.standard_normal((3, 4)),
               RNG.standard_normal(1))


@pytest.mark.parametrize("shape,dim,index,alpha", [((5, 3), 0, [0, 4, 0], 1), ((3, 5), -1, [4, 4, 4, 0], 2.5),
                                                   ((2, 3, 4), 1, [], 1), ((17,), 0, list(range(17)), -1),
                                                   ((2, 3, 4), -2, [2], 1)])
def test_index_add_matches_numpy(shape, dim, index, alpha):
    x = RNG.standard_normal(shape)
    idx = np.asarray(index, dtype=np.int64)
    sshape = tuple(len(idx) if d == dim % len(shape) else s for d, s in enumerate(shape))
    src = RNG.standard_normal(sshape)
    got = gf.tensor(x).index_add(dim, gf.tensor(idx), gf.tensor(src), alpha=alpha)
    np.testing.assert_allclose(got.numpy(), ref.index_add(x, dim, idx, src, alpha), rtol=1e-12)


def test_index_add_gradients(check_grad):
    idx = gf.tensor([2, 0, 2])
    w = gf.tensor(RNG.standard_normal((4, 3)))
    check_grad(lambda x, s: gf.index_add(x, 0, idx, s, alpha=2) * w, RNG.standard_normal((4, 3)),
               RNG.standard_normal((3, 3)))
    check_grad(lambda x, s: x.t().index_add(1, idx, s.t()) * w.t(), RNG.standard_normal((4, 3)),
               RNG.standard_normal((3, 3)))


def test_in_place_forms_write_the_tensor_and_bump_its_version():
    x = gf.zeros(3, 4)
    v0 = x._version
    idx = gf.tensor([[0, 1, 2, 0]])
    assert x.scatter_add_(0, idx, gf.ones(1, 4)) is x
    assert x.scatter_(1, gf.tensor([[3], [3], [3]]), 5.0) is x
    x.masked_fill_(gf.tensor([True, False, False, False]), -1.0)
    x.index_put_((gf.tensor([2, 2]), gf.tensor([1, 1])), gf.tensor(2.0), accumulate=True)
    x.index_add_(0, gf.tensor([1]), gf.ones(1, 4), alpha=3)
    assert x._version == v0 + 5
    assert x.tolist() == [[-1.0, 0.0, 0.0, 5.0], [2.0, 4.0, 3.0, 8.0], [-1.0, 4.0, 1.0, 5.0]]
    view = x[:, 1:]  # a write through a view reaches the base
    view.masked_fill_(view > 3, 0.0)
    assert x.tolist() == [[-1.0, 0.0, 0.0, 0.0], [2.0, 0.0, 3.0, 0.0], [-1.0, 0.0, 1.0, 0.0]]


def test_in_place_rules():
    w = gf.ones(3, 4, requires_grad=True)
    idx = gf.tensor([[0, 1, 2, 0]])
    for name, call in [("scatter_", lambda: w.scatter_(0, idx, 1.0)),
                       ("scatter_add_", lambda: w.scatter_add_(0, idx, gf.ones(1, 4))),
                       ("masked_fill_", lambda: w.masked_fill_(gf.tensor(True), 0.0)),
                       ("index_put_", lambda: w.index_put_((gf.tensor([0]),), gf.tensor(1.0))),
                       ("index_add_", lambda: w.index_add_(0, gf.tensor([0]), gf.ones(1, 4)))]:
        with pytest.raises(RuntimeError, match=rf"{name}: a leaf tensor that requires grad"):
            call()
    with gf.no_grad():
        w.scatter_(0, idx, 2.0)  # allowed without grad mode
    assert w.numpy(force=True)[0, 0] == 2.0
    x = gf.ones(2, 3)
    with pytest.raises(ShapeError, match=r"masked_fill_: the result of shape \(2, 2, 3\)"):
        x.masked_fill_(gf.tensor(np.zeros((2, 2, 3), dtype=bool)), 0.0)  # in place cannot broadcast self


def test_in_place_on_non_leaf_is_recorded():
    a = gf.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    s = gf.tensor(RNG.standard_normal((1, 4)), requires_grad=True)
    y = a * 2
    y.scatter_(0, gf.tensor([[2, 0, 1, 2]]), s)
    y.masked_fill_(gf.tensor([False, False, False, True]), 0.0)
    assert not y.is_leaf
    y.sum().backward()
    expected = np.full((3, 4), 2.0)
    expected[[2, 0, 1], [0, 1, 2]] = 0.0
    expected[:, 3] = 0.0
    np.testing.assert_array_equal(a.grad.numpy(), expected)
    assert s.grad.tolist() == [[1.0, 1.0, 1.0, 0.0]]


def test_modified_value_needed_by_backward_raises():
    a = gf.tensor([1.0, 2.0], requires_grad=True)
    b = a * 1
    z = b * b
    b.masked_fill_(gf.tensor([True, False]), 0.0)
    with pytest.raises(RuntimeError, match="masked_fill_"):
        z.sum().backward()


def test_errors_name_op_and_shapes():
    x = gf.zeros(3, 4)
    idx = gf.tensor([[0, 1, 2, 0]])
    with pytest.raises(IndexError, match=r"scatter_add: index 3 is out of bounds for dimension 0 with size 3 of the "
                                         r"input \(3, 4\)"):
        x.scatter_add(0, gf.tensor([[3]]), gf.ones(1, 1))
    with pytest.raises(IndexError, match=r"scatter: index -1 .*dimension 1 with size 4"):
        x.scatter(1, gf.tensor([[-1]]), 1.0)
    with pytest.raises(IndexError, match=r"index_add: index 5 .*dimension 0 with size 3"):
        x.index_add(0, gf.tensor([5]), gf.ones(1, 4))
    with pytest.raises(IndexError, match=r"out of bounds"):
        x.index_put((gf.tensor([3]),), gf.tensor(1.0))
    with pytest.raises(DTypeError, match=r"scatter: expected an int64 \(or int32\) index tensor, got float32"):
        x.scatter(0, gf.tensor([[0.0]]), 1.0)
    with pytest.raises(ShapeError, match=r"scatter_add: index \(4,\) must have as many dimensions as the input "
                                         r"\(3, 4\)"):
        x.scatter_add(0, gf.tensor([0, 1, 2, 0]), gf.ones(4))
    with pytest.raises(ShapeError, match=r"scatter_add: index \(1, 4\) is larger than src \(1, 3\) in dimension 1"):
        x.scatter_add(0, idx, gf.ones(1, 3))
    with pytest.raises(ShapeError, match=r"scatter: index \(2, 5\) is larger than input \(3, 4\) in dimension 1"):
        x.scatter(0, gf.zeros(2, 5, dtype=gf.int64), 1.0)
    with pytest.raises(DTypeError, match=r"scatter_add: src has dtype float64, the input float32"):
        x.scatter_add(0, idx, gf.ones(1, 4, dtype=gf.float64))
    with pytest.raises(TypeError, match=r"scatter: give exactly one of src"):
        x.scatter(0, idx)
    with pytest.raises(DTypeError, match=r"masked_fill: expected a bool mask, got int64"):
        x.masked_fill(gf.tensor([1, 0, 0, 1]), 0.0)
    with pytest.raises(ShapeError, match=r"masked_fill: the value must be a number or a 0-d tensor, got shape \(4,\)"):
        x.masked_fill(gf.tensor([True, False, False, True]), gf.ones(4))
    with pytest.raises(ValueError, match=r"masked_fill: .*\(3, 4\).*\(3,\)|\(3,\).*\(3, 4\)"):
        x.masked_fill(gf.tensor([True, False, True]), 0.0)
    with pytest.raises(TypeError, match=r"index_put: indices must be a tuple of index tensors, got Tensor"):
        x.index_put(gf.tensor([0]), gf.tensor(1.0))
    with pytest.raises(ShapeError, match=r"index_add: source \(2, 4\) must have shape \(1, 4\)"):
        x.index_add(0, gf.tensor([1]), gf.ones(2, 4))


def test_matches_torch_when_installed():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((4, 5))
    idx = _ints(4, (3, 5))
    src = RNG.standard_normal((3, 5))
    np.testing.assert_allclose(gf.tensor(x).scatter_add(0, gf.tensor(idx), gf.tensor(src)).numpy(),
                               torch.tensor(x).scatter_add(0, torch.tensor(idx), torch.tensor(src)).numpy())
    m = x > 0
    np.testing.assert_array_equal(gf.tensor(x).masked_fill(gf.tensor(m), 1.0).numpy(),
                                  torch.tensor(x).masked_fill(torch.tensor(m), 1.0).numpy())
