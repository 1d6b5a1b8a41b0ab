"""Indexing and index assignment on eager tensors, against NumPy, with gradients."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
from graphflow.ir import Graph, bind
from graphflow.ops.indexing import getitem

A = np.arange(60, dtype=np.float64).reshape(3, 4, 5)

KEYS = [
    1, -1, (0, 2), (slice(None), 1), slice(1, None), (Ellipsis, 2), (slice(None, None, -1),),
    (slice(None), slice(None, None, 2), slice(4, 0, -2)), (None, 1, Ellipsis, None), (slice(5, 1),),
    (-2, slice(None), -1), [2, 0, 2], (slice(None), [3, -1]), ([0, 2], [1, 3]), ([[0], [2]], slice(None), [1, 4]),
    (0, slice(None), [1, 2]), (Ellipsis, [0, 0]), (np.array([1, 0]), 2), (slice(None), None, [1, 2], 0),
]


@pytest.mark.parametrize("key", KEYS, ids=[repr(k) for k in KEYS])
def test_getitem_matches_numpy(key):
    np_key = tuple(np.asarray(k) if isinstance(k, list) else k for k in key) if isinstance(key, tuple) else \
        (np.asarray(key) if isinstance(key, list) else key)
    expected = A[np_key]
    got = gf.tensor(A)[key]
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got.numpy(), expected)


@pytest.mark.parametrize("key", KEYS, ids=[repr(k) for k in KEYS])
def test_getitem_gradient(key, check_grad):
    check_grad(lambda x: x[key] * x[key], A / 10)


def test_tensor_indices_and_bool_masks():
    x = gf.tensor(A)
    idx = gf.tensor([2, 0])
    np.testing.assert_array_equal(x[:, idx].numpy(), A[:, [2, 0]])
    mask = x > 30
    np.testing.assert_array_equal(x[mask].numpy(), A[A > 30])
    row_mask = gf.tensor([True, False, True])
    np.testing.assert_array_equal(x[row_mask, 1].numpy(), A[[True, False, True], 1])
    np.testing.assert_array_equal(x[:, gf.tensor([True, False, False, True])].numpy(), A[:, [0, 3]])


def test_bool_mask_gradient():
    x = gf.tensor(A, requires_grad=True)
    (x[x > 30] * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.where(A > 30, 2.0, 0.0))


def test_index_errors():
    x = gf.tensor(A)
    with pytest.raises(IndexError, match="out of bounds"):
        x[3]
    with pytest.raises(IndexError, match="out of bounds"):
        x[:, [0, 7]]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0, 0]
    with pytest.raises(IndexError, match="mask"):
        x[gf.tensor([True, False])]


def test_symbolic_bool_mask_raises_clearly():
    n = bind("input", name="x", dtype=gf.float32, shape=(4,))
    with pytest.raises(TypeError, match="concrete values"):
        getitem(n, bind("gt", n, n))
    g = getitem(n, (slice(None, None, -2),))  # basic indexing works on graph nodes
    assert g.shape == (2,)
    assert Graph([g], [n]).nodes[-1].op.name == "slice"


def test_setitem_values():
    x = gf.tensor(A)
    ref = A.copy()
    for key, val in [((0, 1), 5.0), ((slice(None), -1), gf.arange(5, dtype=gf.float64)), ((1, [0, 2]), -1.0),
                     (gf.tensor(A) > 50, 0.0), ((Ellipsis, slice(None, None, -2)), 9.0)]:
        v = val.numpy() if isinstance(val, gf.Tensor) else val
        k = tuple(kk.numpy() if isinstance(kk, gf.Tensor) else kk for kk in key) if isinstance(key, tuple) else \
            key.numpy()
        x[key] = val
        ref[k] = v
        np.testing.assert_array_equal(x.numpy(), ref)
    assert x._version == 5


def test_setitem_is_differentiable():
    x = gf.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    v = gf.tensor([10.0, 20.0], requires_grad=True)
    y = x * 1
    y[:, 1] = v * 2
    (y * gf.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 3.0], [4.0, 0.0, 6.0]]
    assert v.grad.tolist() == [4.0, 10.0]
    assert y.tolist() == [[0.0, 20.0, 2.0], [3.0, 40.0, 5.0]]


def test_setitem_repeated_index_last_wins():
    x = gf.zeros(4)
    y = gf.zeros(4, requires_grad=True) * 1
    x[[1, 1]] = gf.tensor([3.0, 4.0])
    y[[1, 1]] = gf.tensor([3.0, 4.0])
    assert x.tolist() == [0.0, 4.0, 0.0, 0.0] and y.tolist() == [0.0, 4.0, 0.0, 0.0]


def test_augmented_assignment_through_index():
    x = gf.tensor([1.0, 2.0, 3.0])
    x[1] += 5
    assert x.tolist() == [1.0, 7.0, 3.0]
    w = gf.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = w * 1
    y[0] *= 3
    y.sum().backward()
    assert w.grad.tolist() == [3.0, 1.0, 1.0]


def test_iteration_and_len():
    x = gf.tensor([[1, 2], [3, 4]])
    assert len(x) == 2 and [r.tolist() for r in x] == [[1, 2], [3, 4]]
