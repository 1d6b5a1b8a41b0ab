"""In-place ops through views (slices, integer indices, transposes, permutes, reshapes and chains
of them) update the base's values and its history, as PyTorch's CopySlices does: gradients are
checked against hand-computed values and float64 central differences."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf

X = np.arange(1.0, 7.0).reshape(2, 3)  # [[1, 2, 3], [4, 5, 6]]


def _leaf(a=X):
    return gf.tensor(np.array(a, dtype=np.float64), requires_grad=True)


# ---- values and hand-computed gradients -----------------------------------------------------
def test_slice_update_reaches_base_values_and_gradients():
    x, w = _leaf([1.0, 2.0, 3.0, 4.0]), _leaf([10.0, 20.0])
    y = x * 2.0
    v = y[1:3]
    v += w * w  # w enters through the in-place op only
    assert y.tolist() == [2.0, 104.0, 406.0, 8.0] and v.tolist() == [104.0, 406.0]
    assert y.grad_fn is not None and v.grad_fn is not None and not v.is_leaf
    (y * y).sum().backward()
    assert x.grad.tolist() == [8.0, 416.0, 1624.0, 32.0]  # 2y * 2
    assert w.grad.tolist() == [2 * 104.0 * 20.0, 2 * 406.0 * 40.0]  # 2y * 2w


def test_augmented_assignment_on_an_index_and_a_slice():
    x, w = _leaf(), _leaf([1.0, -1.0, 2.0])
    y = x * 1.0
    y[1:3] += w  # rows 1 and 2 (only 1 exists); Python: getitem, iadd on the view, setitem back
    y[0] *= 3.0
    assert y.tolist() == [[3.0, 6.0, 9.0], [5.0, 4.0, 8.0]]
    (y * y).sum().backward()
    assert x.grad.tolist() == [[18.0, 36.0, 54.0], [10.0, 8.0, 16.0]]
    assert w.grad.tolist() == [10.0, 8.0, 16.0]


def test_integer_index_mul():
    x = _leaf()
    y = x * 1.0
    row = y[0]
    row.mul_(2.0)
    assert y.tolist() == [[2.0, 4.0, 6.0], [4.0, 5.0, 6.0]] and row.tolist() == [2.0, 4.0, 6.0]
    y.sum().backward()
    assert x.grad.tolist() == [[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]]


def test_scalar_element_through_two_integer_indices():
    x = _leaf()
    y = x * 1.0
    e = y[1][2]  # a 0-d view of a view
    e.mul_(10.0)
    assert y.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 60.0]] and e.item() == 60.0
    (y * y).sum().backward()
    expect = 2 * X
    expect[1, 2] = 2 * 60.0 * 10.0
    np.testing.assert_array_equal(x.grad.numpy(), expect)


def test_transpose_and_permute_views():
    x = _leaf()
    y = x * 1.0
    y.t().add_(1.0)
    assert y.tolist() == (X + 1).tolist()
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * (X + 1))

    a = np.arange(24.0).reshape(2, 3, 4)
    x3, w = _leaf(a), _leaf(np.linspace(-1, 1, 4 * 2 * 3).reshape(4, 2, 3))
    y3 = x3 * 1.0
    p = y3.permute(2, 0, 1)
    p.mul_(w.detach())  # a factor without grad: the old value is not needed
    p.add_(w * 2.0)
    wt = w.detach().numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(y3.detach().numpy(), a * wt + 2 * wt)
    y3.sum().backward()
    np.testing.assert_allclose(x3.grad.numpy(), wt)
    np.testing.assert_allclose(w.grad.numpy(), np.full((4, 2, 3), 2.0))


def test_setitem_on_a_reshaped_view():
    x, w = _leaf(), _leaf([10.0, 20.0])
    y = x * 1.0
    y.view(6)[2:4] = w
    assert y.tolist() == [[1.0, 2.0, 10.0], [20.0, 5.0, 6.0]]
    (y * y).sum().backward()
    assert x.grad.tolist() == [[2.0, 4.0, 0.0], [0.0, 10.0, 12.0]]
    assert w.grad.tolist() == [20.0, 40.0]


def test_chained_views_with_negative_and_strided_steps():
    x = _leaf(np.arange(1.0, 13.0).reshape(3, 4))
    y = x * 1.0
    z = y.t()[::-2, 1:]  # rows 3 and 1 of y.t() (columns of y), rows 1: of y
    z.mul_(3.0)
    expect = np.arange(1.0, 13.0).reshape(3, 4)
    expect[1:, 3] *= 3
    expect[1:, 1] *= 3
    np.testing.assert_array_equal(y.detach().numpy(), expect)
    y.sum().backward()
    g = np.ones((3, 4))
    g[1:, [1, 3]] = 3.0
    np.testing.assert_array_equal(x.grad.numpy(), g)


def test_other_views_see_the_new_values_and_history():
    x = _leaf()
    y = x * 1.0
    row, col = y[0], y[:, 1]
    row.mul_(2.0)
    assert col.tolist() == [4.0, 5.0]  # a view made before the write reads the new value
    col.sum().backward()  # ... and its history goes through the write
    assert x.grad.tolist() == [[0.0, 2.0, 0.0], [0.0, 1.0, 0.0]]


def test_base_written_after_a_view_was_taken():
    x = _leaf([1.0, 2.0, 3.0])
    y = x * 1.0
    v = y[0:2]
    y.mul_(3.0)
    assert v.tolist() == [3.0, 6.0]
    (v * 1.0).sum().backward()  # an op on the view records its re-derived history
    assert x.grad.tolist() == [3.0, 3.0, 0.0]
    x.grad = None
    y = x * 1.0
    v = y[1:]
    y.add_(1.0)
    v.sum().backward()  # backward from the view itself
    assert x.grad.tolist() == [0.0, 1.0, 1.0]


def test_view_of_a_tensor_without_grad_gains_history():
    w = _leaf([5.0, 7.0])
    y = gf.zeros(2, 3, dtype=gf.float64)
    y[:, 0].add_(w)
    assert y.requires_grad and y.tolist() == [[5.0, 0.0, 0.0], [7.0, 0.0, 0.0]]
    (y * y).sum().backward()
    assert w.grad.tolist() == [10.0, 14.0]


def test_views_share_the_version_counter():
    y = gf.zeros(4)
    v, u = y[1:3], y.view(2, 2)
    v.add_(1.0)
    assert y._version == v._version == u._version == 1
    assert u.tolist() == [[0.0, 1.0], [1.0, 0.0]]
    y.zero_()
    assert v._version == 2 and v.tolist() == [0.0, 0.0]


# ---- odd shapes -------------------------------------------------------------------------------
def test_empty_and_single_element_views():
    x = _leaf([1.0, 2.0, 3.0])
    y = x * 1.0
    empty = y[2:2]
    empty.add_(5.0)  # writes nothing, still a recorded write
    one = y[1:2]
    one.mul_(4.0)
    assert y.tolist() == [1.0, 8.0, 3.0] and empty.shape == (0,)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 4.0, 1.0]
    z = gf.zeros(0, 3)
    z.t().add_(1.0)
    assert z.shape == (0, 3)


def test_reshape_that_copies_is_no_view():
    y = gf.tensor(np.arange(6.0).reshape(2, 3)).t()  # non-contiguous: reshape copies (as PyTorch)
    flat = y.reshape(6)
    flat.add_(100.0)
    assert y.tolist() == np.arange(6.0).reshape(2, 3).T.tolist()


def test_non_contiguous_and_broadcast_updates_match_numpy():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 7))
    y = gf.tensor(a.copy())
    ref = a.copy()
    y.t()[1:6:2, ::3].mul_(gf.tensor(np.array([[2.0], [-1.0], [0.5]])))  # broadcast over the view
    ref.T[1:6:2, ::3] *= np.array([[2.0], [-1.0], [0.5]])
    np.testing.assert_array_equal(y.numpy(), ref)


# ---- finite differences (float64) -----------------------------------------------------------
def _program(x, w, u):
    y = x * 1.5
    y[1:3, ::2] *= 2.5  # strided slice, python augmented assignment
    y[1:3, ::2] += w * x[0:2, 1:4]
    y.t()[0].add_(u * u)  # a column through a transpose
    r = y.view(-1)[3:7]
    r.mul_(-1.5)
    r.add_(u[1:2] * 3.0)  # a view of an argument, broadcast
    return y * y + y.sum()


def test_program_gradient_matches_central_differences(check_grad):
    rng = np.random.default_rng(1)
    check_grad(_program, rng.standard_normal((4, 5)), rng.standard_normal((2, 3)), rng.standard_normal(4))


@pytest.mark.parametrize("shape,key", [((7,), slice(1, 6, 2)), ((3, 1), 2), ((1, 5), (0, slice(None, None, -1))),
                                       ((2, 3, 4), (slice(None), 1))])
def test_odd_shapes_against_central_differences(check_grad, shape, key):
    rng = np.random.default_rng(2)
    x0 = rng.standard_normal(shape)
    w0 = rng.standard_normal(x0[key].shape)

    def fn(x, w):
        y = x * x  # (exp would save its output, which the write changes: PyTorch refuses that too)
        v = y[key]
        v.mul_(-0.5)
        v.add_(w.tanh())
        return y * y
    check_grad(fn, x0, w0)


# ---- errors and version checks ----------------------------------------------------------------
def test_view_of_a_leaf_requiring_grad_refuses_in_place_ops():
    x = _leaf([1.0, 2.0, 3.0])
    for update in (lambda v: v.add_(1.0), lambda v: v.mul_(gf.ones(2)), lambda v: v.fill_(0.0),
                   lambda v: v.__setitem__(0, 5.0)):
        with pytest.raises(RuntimeError, match="view of a leaf tensor that requires grad"):
            update(x[0:2])
    with gf.no_grad():  # outside grad mode the view writes into the leaf
        x[0:2].add_(1.0)
        x.t()[2] = 10.0
    assert x.tolist() == [2.0, 3.0, 10.0] and x.requires_grad and x.is_leaf


def test_view_made_without_grad_mode_refuses_a_recorded_write():
    x = _leaf([1.0, 2.0])
    y = x * 1.0
    with gf.no_grad():
        v = y[0:1]
    with pytest.raises(RuntimeError, match="no_grad mode"):
        v.mul_(gf.tensor([2.0], requires_grad=True))
    # an operand without history (a number, a plain tensor) is refused just the same, as PyTorch does
    for update in (lambda t: t.add_(1.0), lambda t: t.mul_(gf.ones(1)), lambda t: t.__isub__(2.0)):
        with pytest.raises(RuntimeError, match="no_grad mode"):
            update(v)
    assert y.tolist() == [1.0, 2.0]  # nothing written
    with gf.no_grad():  # inside no_grad the same writes go through
        v.add_(1.0)
    assert y.tolist() == [2.0, 2.0]


def test_values_saved_from_the_storage_are_checked_after_a_view_write():
    x = _leaf([1.0, 2.0, 3.0])
    y = x * 1.0
    v = y[0:2]
    loss = (v * v).sum()  # saves the view's value
    y[2:].mul_(2.0)  # another view of the same storage: the version moves
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()
    w = _leaf([1.0, 2.0])
    loss = (w * w).sum()
    with gf.no_grad():
        w[0:1].add_(1.0)  # written through a view without grad: the leaf's saved value changed
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_values_the_write_replaces_are_not_kept():
    """As PyTorch: `v.mul_(w)` with w requiring grad needs v's old value, which the write replaced."""
    x, w = _leaf([1.0, 2.0, 3.0]), _leaf([2.0, 2.0])
    y = x * 1.0
    y[0:2].mul_(w)
    assert y.tolist() == [2.0, 4.0, 3.0]
    with pytest.raises(RuntimeError, match="modified by an in-place operation.*`slice`"):
        y.sum().backward()
    x = _leaf([1.0, 2.0, 3.0])
    y = x.exp()
    y[1:].add_(1.0)  # exp's gradient reads its output
    with pytest.raises(RuntimeError, match="modified by an in-place operation.*`exp`"):
        y.sum().backward()


def test_shape_errors_name_the_op_and_shapes():
    y = gf.zeros(2, 3)
    with pytest.raises(Exception, match=r"add.*\(3,\).*\(4,\)"):
        y[0].add_(gf.ones(4))
    with pytest.raises(Exception, match=r"__setitem__.*\(3,\).*\(3, 2\)"):
        y.t()[0] = gf.ones(3)


def test_no_grad_writes_through_views_keep_sharing_storage():
    a = np.zeros((3, 4))
    y = gf.from_numpy(a)
    y[1].add_(1.0)
    y.t()[3].fill_(7.0)
    y.view(12)[0] = 5.0
    expect = np.zeros((3, 4))
    expect[1] = 1.0
    expect[:, 3] = 7.0
    expect[0, 0] = 5.0
    np.testing.assert_array_equal(a, expect)  # the user's array is the storage
