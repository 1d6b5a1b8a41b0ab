"""Binary operators on CPU tensors of one dtype whose shapes broadcast (a bias row, a column
against a row) take one NumPy call that broadcasts as it reads: same bits as `broadcast_to`
followed by the op, and with a gradient the same tape (nodes, structure ids, gradients)."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import graphflow as gf
import graphflow.ops as ops

nan, inf = float("nan"), float("inf")

OPERATORS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
             "lt": operator.lt, "eq": operator.eq}
# (left shape, right shape): a bias row, a column, both sides growing, 0-d, size 0, one element
SHAPES = [((4, 17), (17,)), ((17,), (4, 17)), ((5, 1), (1, 3)), ((3, 4, 5), (4, 1)), ((2, 3), ()),
          ((0, 3), (3,)), ((1,), (6, 1))]


def _values(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, shape).astype(dtype)
    if x.size > 2 and dtype.startswith("float"):
        x.flat[0], x.flat[1] = nan, -inf  # specials broadcast like any value
    return x


FUNCTIONAL = {"add": ops.add, "sub": ops.sub, "mul": ops.mul, "truediv": ops.div, "lt": ops.lt, "eq": ops.eq}


def _general(name, a, b):
    """The op-by-op path: the functional layer inserts a `broadcast_to` op and runs both."""
    return FUNCTIONAL[name](a, b)


@pytest.mark.parametrize("name", list(OPERATORS))
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_values_match_the_op_by_op_path(name, shapes, dtype):
    if name == "truediv" and dtype == "int32":
        pytest.skip("true division of integers promotes: the general path")
    a = gf.from_numpy(_values(shapes[0], dtype, 1))
    b = gf.from_numpy(_values(shapes[1], dtype, 2))
    got, want = OPERATORS[name](a, b), _general(name, a, b)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(np.signbit(got.numpy()), np.signbit(want.numpy()))
    with np.errstate(all="ignore"):
        ref = OPERATORS[name](a.numpy(), b.numpy())
    np.testing.assert_array_equal(got.numpy(), ref.astype(got.numpy().dtype))


@pytest.mark.parametrize("shapes", [((4, 17), (17,)), ((17,), (4, 17)), ((5, 1), (1, 3)), ((3, 4, 5), (4, 1))])
@pytest.mark.parametrize("name", ["add", "sub", "mul", "truediv"])
def test_gradients_and_tape_match_the_op_by_op_path(shapes, name):
    grads = []
    for fn in (OPERATORS[name], FUNCTIONAL[name]):  # the operator's direct path, the op-by-op path
        rng = np.random.default_rng(3)
        a = gf.from_numpy(rng.uniform(1, 4, shapes[0])).requires_grad_()
        b = gf.from_numpy(rng.uniform(1, 4, shapes[1])).requires_grad_()
        y = fn(a, b)
        z = (y * y).sum()
        nodes = _tape(y._node)
        z.backward()
        grads.append((y.detach().numpy().copy(), a.grad.numpy().copy(), b.grad.numpy().copy(), nodes))
    (y1, ga1, gb1, n1), (y2, ga2, gb2, n2) = grads
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_allclose(ga1, ga2, rtol=1e-12)
    np.testing.assert_allclose(gb1, gb2, rtol=1e-12)
    assert n1 == n2  # same ops and structure ids: the backward plans are shared


def test_gradient_against_central_differences(check_grad):
    rng = np.random.default_rng(5)
    w = gf.from_numpy(rng.standard_normal((3, 7)))
    check_grad(lambda h, b: (h + b) * (b - h) * w / (b * b + 1.0), rng.standard_normal((3, 7)), rng.standard_normal(7))


def test_one_side_without_gradient_and_no_grad_mode():
    h = gf.from_numpy(np.arange(12.0).reshape(3, 4)).requires_grad_()
    b = gf.from_numpy(np.arange(4.0))
    y = h * b
    assert y.requires_grad and y.grad_fn is not None
    y.sum().backward()
    np.testing.assert_array_equal(h.grad.numpy(), np.broadcast_to(np.arange(4.0), (3, 4)))
    with gf.no_grad():
        z = h + b
    assert not z.requires_grad and z.grad_fn is None


def test_other_cases_keep_the_general_path():
    h = gf.from_numpy(np.ones((2, 3), np.float32))
    assert (h + gf.from_numpy(np.ones(3, np.float16))).dtype == gf.float32  # promotion
    assert (gf.from_numpy(np.ones((2, 3), np.float16)) + gf.from_numpy(np.ones(3, np.float16))).dtype == gf.float16
    with pytest.raises(Exception, match=r"broadcast|shape"):
        h + gf.from_numpy(np.ones(4, np.float32))


def _tape(node):
    """(op name, structure id) of every node reached from `node`, in a fixed order."""
    seen, order, stack = set(), [], [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        order.append((n.op.name, n.sig, tuple(n.shape)))
        stack.extend(n.inputs)
    return order
