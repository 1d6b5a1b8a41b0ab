"""Eager mode's cheaper dispatch: composites recorded as one tape node, direct in-place arithmetic,
the reference's own function wherever a backend promises `run_op` is the reference, same-dtype
broadcasting without promotion, and gradients handed out without a copy. Each is checked against
the general path it replaces."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
import graphflow.nn.functional as F
from graphflow.backends import get_backend
from graphflow.eager import composite
from graphflow.ir.registry import get_op


def _primitive_path():
    """A context in which composites run op by op (the path they replace)."""
    class Ctx:
        def __enter__(self):
            self.saved, composite.run = composite.run, lambda *a: None

        def __exit__(self, *exc):
            composite.run = self.saved
    return Ctx()


# ---- composites as one tape node -------------------------------------------------------------

def test_composite_is_one_tape_node_named_like_pytorch():
    x = gf.randn(8, 5, requires_grad=True)
    loss = F.cross_entropy(x, gf.tensor(np.arange(8) % 5))
    assert loss.grad_fn.name() == "CrossEntropyBackward0"
    assert [n.op.name for n in loss._node.inputs] == ["input", "input"]  # the logits and labels leaves
    y = F.softmax(gf.randn(3, 4, requires_grad=True), dim=1)
    assert y.grad_fn.name() == "SoftmaxBackward0"


@pytest.mark.parametrize("shape,dim", [((1,), 0), ((3, 1), 1), ((5, 17), 1), ((5, 17), 0), ((2, 3, 33), -1)])
def test_composite_second_order_matches_primitives(shape, dim):
    a = np.random.default_rng(0).standard_normal(shape)
    grads = []
    for use_composite in (True, False):
        x = gf.tensor(a, requires_grad=True)
        ctx = _primitive_path() if not use_composite else None
        if ctx:
            ctx.__enter__()
        try:
            y = (F.log_softmax(x, dim=dim) * gf.tensor(np.cos(a))).sum()
            (g,) = gf.autograd.grad(y, [x], create_graph=True)
            (g * g).sum().backward()
        finally:
            if ctx:
                ctx.__exit__()
        grads.append((g.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-10, atol=1e-12)


def test_composite_grad_against_finite_differences(check_grad):
    rng = np.random.default_rng(1)
    check_grad(lambda x: F.softmax(x, dim=1)[:, 0], rng.standard_normal((5, 3)))
    labels = gf.tensor(np.array([2, 0, 1]))
    check_grad(lambda x: F.cross_entropy(x, labels, label_smoothing=0.1), rng.standard_normal((3, 4)))


def test_composite_input_modified_in_place_is_detected():
    x = gf.randn(70, 80, requires_grad=True)
    h = x * 1.0
    y = F.relu(h)
    h.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_composite_retain_graph_backward_twice():
    x = gf.randn(6, 4, requires_grad=True)
    loss = F.cross_entropy(x, gf.tensor(np.array([0, 1, 2, 3, 0, 1])))
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-6)


def test_composite_with_inputs_not_requiring_grad():
    x = gf.randn(70, 80)
    w = gf.randn(5, 80, requires_grad=True)
    y = F.relu(F.linear(x, w))
    y.sum().backward()
    mask = (x.numpy() @ w.detach().numpy().T) > 0
    np.testing.assert_allclose(w.grad.numpy(), mask.astype(np.float32).T @ x.numpy(), rtol=1e-4, atol=1e-4)
    assert x.grad is None


# ---- direct in-place arithmetic ----------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["add_", "sub_", "mul_", "div_"])
@pytest.mark.parametrize("other_shape", [(), (17,), (1, 17), (33, 17)])
def test_inplace_matches_out_of_place(dtype, name, other_shape):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((33, 17)).astype(dtype)
    b = (rng.standard_normal(other_shape) + 3).astype(dtype)
    t = gf.tensor(a.copy())
    version = t._version
    getattr(t, name)(gf.tensor(b))
    want = getattr(gf.tensor(a), name.rstrip("_"))(gf.tensor(b))
    np.testing.assert_array_equal(t.numpy(), want.numpy())
    assert t._version == version + 1
    getattr(t, name)(0.5)  # a Python number
    np.testing.assert_array_equal(t.numpy(), getattr(want, name.rstrip("_"))(0.5).numpy())


def test_inplace_on_views_and_overlapping_operands():
    base = gf.arange(10, dtype=gf.float32)
    view = base[2:7]
    view += 1.0
    np.testing.assert_array_equal(base.numpy(), [0, 1, 3, 4, 5, 6, 7, 7, 8, 9])
    x = gf.arange(6, dtype=gf.float64)
    x[1:] += x[:-1]  # NumPy copies the overlapping operand first
    np.testing.assert_array_equal(x.numpy(), [0, 1, 3, 5, 7, 9])
    col = gf.zeros(4, 3)[:, 1]  # non-contiguous
    col.add_(gf.ones(4))
    np.testing.assert_array_equal(col.numpy(), np.ones(4))


def test_inplace_general_path_cases():
    t = gf.zeros(3, dtype=gf.int64)
    t += 2  # integers: the general path
    np.testing.assert_array_equal(t.numpy(), [2, 2, 2])
    with pytest.raises(Exception, match="can't be cast"):
        t.add_(0.5)  # promotes to float: refused, as in PyTorch
    f = gf.zeros(3)
    with pytest.raises(Exception, match="broadcast"):
        f.add_(gf.ones(2, 3))  # would broadcast the tensor written into
    f.add_(gf.ones(3, dtype=gf.float64))  # another dtype: cast back, general path
    np.testing.assert_array_equal(f.numpy(), [1, 1, 1])
    leaf = gf.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf -= 1.0
    with gf.no_grad():
        leaf -= 1.0
    np.testing.assert_array_equal(leaf.detach().numpy(), [0, 0, 0])


def test_inplace_while_recording_stays_on_the_tape():
    x = gf.randn(4, requires_grad=True)
    y = x * 2.0
    y += x  # recorded: d/dx = 3
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(4, 3.0))


# ---- the reference's function where run_op is the reference -----------------------------------

@pytest.mark.parametrize("name", ["add", "mul", "maximum", "exp", "tanh", "reduce_sum"])
def test_reference_below_is_honest(name, cpu_backend):
    """Where a backend says run_op is the reference, it is (bit for bit), just below the limit."""
    backend = get_backend(cpu_backend)
    op = get_op(name)
    limit = backend.reference_below(op)
    n = min(limit - 1, 1 << 18) if limit > 0 else 0
    if n <= 0:
        pytest.skip(f"{backend.name} makes no promise for {name}")
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(n).astype(np.float32) for _ in range(1 if name in ("exp", "tanh", "reduce_sum")
                                                                       else 2)]
    from graphflow.backends.numpy.interpreter import evaluate
    from graphflow.ir.bind import infer_type, normalize_attrs
    from graphflow.ir.graph import TensorType

    attrs = normalize_attrs(op, {"axes": (0,), "keepdims": False} if name == "reduce_sum" else {})

    class T:
        def __init__(self, a):
            self.type = TensorType(gf.float32, a.shape)
    out = infer_type(op, tuple(T(a) for a in arrays), attrs, None)
    np.testing.assert_array_equal(backend.run_op(op, arrays, attrs, out), evaluate(op, arrays, attrs, out))


def test_same_dtype_broadcast_fast_path_matches_functional_layer():
    rng = np.random.default_rng(4)
    h = gf.tensor(rng.standard_normal((64, 33)).astype(np.float32), requires_grad=True)
    b = gf.tensor(rng.standard_normal(33).astype(np.float32), requires_grad=True)
    col = gf.tensor(rng.standard_normal((64, 1)).astype(np.float32))
    for got, want in ((h + b, h.detach().numpy() + b.detach().numpy()),
                      (b - h, b.detach().numpy() - h.detach().numpy()),
                      (col * b, col.numpy() * b.detach().numpy())):
        np.testing.assert_array_equal(got.detach().numpy(), want)
    (h + b).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), np.full(33, 64, np.float32))
    with pytest.raises(Exception, match=r"test_lean_dispatch.py"):  # the error names the user's line
        h + gf.ones(5)


# ---- gradients without a copy -------------------------------------------------------------------

def test_gradients_are_private_and_survive_the_next_backward():
    w = gf.randn(300, 200, requires_grad=True)
    x = gf.randn(16, 300)
    (x @ w).sum().backward()
    first = w.grad
    held = first.numpy().copy()
    assert first.numpy().flags.writeable
    w.grad = None
    (x @ w * 2.0).sum().backward()
    np.testing.assert_array_equal(first.numpy(), held)  # the held gradient was not reused
    np.testing.assert_allclose(w.grad.numpy(), 2 * held, rtol=1e-6)
    first.add_(1.0)  # a kept gradient can be updated in place without touching the new one
    np.testing.assert_allclose(w.grad.numpy(), 2 * held, rtol=1e-6)
