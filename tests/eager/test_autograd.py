"""Autograd in eager mode: gradients vs finite differences, accumulation, grad modes, retain/
create graph, gf.autograd.grad, in-place rules and version counters."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf

rng = np.random.default_rng(0)


@pytest.mark.parametrize("fn, shapes", [
    (lambda x: (x * x).sin(), [(5,)]),
    (lambda x, y: x * y + x / (y * y + 1), [(3, 1), (1, 4)]),
    (lambda x: gf.softmax(x, dim=1) * gf.arange(7, dtype=gf.float64), [(3, 7)]),
    (lambda x: gf.log_softmax(x, dim=0), [(7, 3)]),
    (lambda x, w: gf.matmul(x, w).tanh(), [(3, 5), (5, 2)]),
    (lambda x: x.max(dim=1).values + x.amin(0).sum(), [(4, 3)]),
    (lambda x: x.mean(0) * x.var(1).sum() + x.std(), [(3, 5)]),
    (lambda x: gf.logsumexp(x, dim=1) + x.exp().log1p().sum(), [(2, 9)]),
    (lambda x: x.relu() * gf.sigmoid(x) + x.clamp(-0.5, 0.5), [(13,)]),
    (lambda x: x.reshape(3, 4).T.flatten()[1::3] ** 2, [(12,)]),
    (lambda x, y: gf.cat([x, y * 2], dim=1).sqrt(), [(2, 3), (2, 5)]),
    (lambda x: gf.stack([x, -x], 0).abs().prod(0), [(1, 1)]),
    (lambda x: gf.where(x > 0, x, x * 0.1).unsqueeze(1).expand(3, 2, 3).sum(1), [(3, 3)]),
])
def test_gradients_match_finite_differences(fn, shapes, check_grad):
    arrays = [rng.uniform(0.3, 1.5, s) * rng.choice([-1, 1], s) for s in shapes]
    if "sqrt" in fn.__code__.co_names or "prod" in fn.__code__.co_names:
        arrays = [np.abs(a) for a in arrays]
    check_grad(fn, *arrays)


def test_non_contiguous_leaf_gradient():
    base = rng.normal(size=(4, 3))
    x = gf.from_numpy(base.T.copy().T)  # a transposed (Fortran-order) view
    x.requires_grad_()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * base)


def test_gradients_accumulate_and_zero():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]
    x.grad.zero_()
    assert x.grad.tolist() == [0.0, 0.0]
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_leaf_attributes_like_pytorch():
    x = gf.ones(2, requires_grad=True)
    c = gf.ones(2)
    y = x * 2
    assert x.is_leaf and c.is_leaf and not y.is_leaf
    assert x.grad_fn is None and y.grad_fn.name() == "MulBackward0"
    assert y.requires_grad and not (c * 2).requires_grad
    assert y.detach().is_leaf and not y.detach().requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    with pytest.raises(RuntimeError, match="floating point"):
        gf.tensor([1, 2]).requires_grad_()
    assert (x > 0).requires_grad is False and x.argmax().requires_grad is False


def test_non_scalar_backward_needs_gradient():
    x = gf.ones(3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar outputs"):
        y.backward()
    y.backward(gf.tensor([1.0, 2.0, 3.0]))
    assert x.grad.tolist() == [2.0, 4.0, 6.0]


def test_backward_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        gf.ones(1).sum().backward()


def test_second_backward_needs_retain_graph():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_no_grad_context_and_decorator():
    x = gf.ones(2, requires_grad=True)
    with gf.no_grad():
        assert not gf.is_grad_enabled()
        y = x * 2
        with gf.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None and z.requires_grad

    @gf.no_grad()
    def infer(t):
        return t * 3

    assert not infer(x).requires_grad and gf.is_grad_enabled()

    @gf.enable_grad()
    def train(t):
        return t * 3

    with gf.no_grad():
        assert train(x).requires_grad


def test_set_grad_enabled():
    x = gf.ones(1, requires_grad=True)
    gf.set_grad_enabled(False)
    assert not (x * 2).requires_grad
    gf.set_grad_enabled(True)
    assert (x * 2).requires_grad
    with gf.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert gf.is_grad_enabled()


def test_detach_shares_storage():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    with gf.no_grad():
        d.mul_(10)
    assert x.tolist() == [10.0, 20.0]


def test_autograd_grad_and_allow_unused():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    w = gf.tensor([3.0, 4.0], requires_grad=True)
    y = (x * x * w).sum()
    gx, gw = gf.autograd.grad(y, [x, w], retain_graph=True)
    assert gx.tolist() == [6.0, 16.0] and gw.tolist() == [1.0, 4.0]
    assert x.grad is None  # autograd.grad does not accumulate
    u = gf.ones(1, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        gf.autograd.grad(y, [x, u], retain_graph=True)
    gx2, gu = gf.autograd.grad(y, [x, u], allow_unused=True)
    assert gu is None and gx2.tolist() == [6.0, 16.0]


def test_grad_of_intermediate_and_grad_outputs():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = h * h
    (gh,) = gf.autograd.grad(y, h, grad_outputs=gf.tensor([1.0, 0.5]))
    assert gh.tolist() == [6.0, 6.0]


def test_create_graph_higher_order():
    x = gf.tensor([0.5, -1.2, 2.0], dtype=gf.float64, requires_grad=True)
    y = (x ** 3).sum()
    (g,) = gf.autograd.grad(y, x, create_graph=True)
    assert g.requires_grad
    np.testing.assert_allclose(g.detach().numpy(), 3 * x.detach().numpy() ** 2)
    (g2,) = gf.autograd.grad(g.sum(), x, create_graph=True)
    np.testing.assert_allclose(g2.detach().numpy(), 6 * x.detach().numpy())
    (g3,) = gf.autograd.grad(g2.sum(), x)
    np.testing.assert_allclose(g3.numpy(), [6.0, 6.0, 6.0])


def test_backward_create_graph_gives_differentiable_grad():
    x = gf.tensor([1.0, 2.0], dtype=gf.float64, requires_grad=True)
    (x.sin() * x).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    xn = x.detach().numpy()
    np.testing.assert_allclose(x.grad.detach().numpy(), np.cos(xn) * xn + np.sin(xn))
    (gg,) = gf.autograd.grad(x.grad.sum(), x)
    np.testing.assert_allclose(gg.numpy(), -np.sin(xn) * xn + 2 * np.cos(xn))


def test_gradient_penalty_pattern_repeats_with_cache():
    for _ in range(3):
        x = gf.tensor([0.3, 0.7], dtype=gf.float64, requires_grad=True)
        (g,) = gf.autograd.grad((x.exp() * x).sum(), x, create_graph=True)
        (g * g).sum().backward()
        xn = np.array([0.3, 0.7])
        d1 = np.exp(xn) * (1 + xn)
        np.testing.assert_allclose(x.grad.numpy(), 2 * d1 * np.exp(xn) * (2 + xn))


def test_inplace_on_leaf_requiring_grad_raises():
    w = gf.ones(2, requires_grad=True)
    for op in (lambda: w.add_(1), lambda: w.mul_(2), lambda: w.zero_(), lambda: w.__isub__(1)):
        with pytest.raises(RuntimeError, match="leaf"):
            op()
    with pytest.raises(RuntimeError, match="leaf"):
        w[0] = 3.0


def test_manual_sgd_under_no_grad():
    w = gf.tensor([1.0, -1.0], requires_grad=True)
    for _ in range(3):
        loss = (w * w).sum()
        loss.backward()
        with gf.no_grad():
            w -= 0.25 * w.grad
        w.grad.zero_()
    assert w.tolist() == [0.125, -0.125] and w.is_leaf and w.requires_grad


def test_inplace_ops_values():
    x = gf.tensor([1.0, -2.0, 3.0])
    x.add_(1).mul_(2)
    assert x.tolist() == [4.0, -2.0, 8.0]
    x.sub_(gf.ones(3), alpha=2).div_(2)
    assert x.tolist() == [1.0, -2.0, 3.0]
    x.clamp_(-1, 2)
    assert x.tolist() == [1.0, -1.0, 2.0]
    x.relu_()
    assert x.tolist() == [1.0, 0.0, 2.0]
    x.fill_(7)
    assert x.tolist() == [7.0] * 3
    x.copy_(gf.tensor([1, 2, 3]))
    assert x.tolist() == [1.0, 2.0, 3.0]
    x += 1
    x -= 2
    x *= 3
    x /= 3
    assert x.tolist() == [0.0, 1.0, 2.0]
    x.zero_()
    assert x.tolist() == [0.0] * 3
    i = gf.tensor([1, 2])
    with pytest.raises(TypeError, match="can't be cast"):
        i.add_(0.5)


def test_inplace_on_non_leaf_is_recorded():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.add_(1)
    y.mul_(2)
    assert not y.is_leaf and y.grad_fn.name() == "MulBackward0"
    assert y.tolist() == [8.0, 14.0]
    (y * x).sum().backward()
    assert x.grad.tolist() == [8.0 + 6.0, 14.0 + 12.0]


def test_modified_value_needed_by_backward_raises_naming_op():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    y = x.sigmoid()
    z = y * y
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"in-place.*`sigmoid`.*add_"):
        z.sum().backward()
    a = gf.tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    c = b.exp()  # exp's gradient reads its output, not b
    b.mul_(5)
    c.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * np.exp([2.0, 4.0]), rtol=1e-6)


def test_leaf_modified_under_no_grad_after_use_raises():
    w = gf.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    with gf.no_grad():
        w.mul_(2)
    with pytest.raises(RuntimeError, match="version"):
        loss.backward()


def test_inplace_on_plain_tensor_with_grad_operand():
    a = gf.zeros(2)
    w = gf.tensor([1.0, 2.0], requires_grad=True)
    a.add_(w * w)
    assert a.requires_grad and not a.is_leaf
    a.sum().backward()
    assert w.grad.tolist() == [2.0, 4.0]


def test_fill_and_copy_cut_the_old_history():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    s = gf.tensor([5.0, 6.0], requires_grad=True)
    y = x * 2
    y.copy_(s * 3)
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0] and s.grad.tolist() == [3.0, 3.0]


def test_clone_is_differentiable_and_independent():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert not c.is_leaf
    (c * c).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    d = gf.ones(2)
    e = d.clone()
    e.add_(1)
    assert d.tolist() == [1.0, 1.0]


def test_training_loop_compiles_backward_once():
    from graphflow.eager import engine

    engine._CACHE.clear()
    w = gf.tensor(rng.normal(size=(3, 2)), requires_grad=True)
    x = gf.tensor(rng.normal(size=(4, 3)))
    for _ in range(5):
        loss = gf.matmul(x, w).tanh().pow(2).mean()
        loss.backward()
        with gf.no_grad():
            w -= 0.1 * w.grad
        w.grad = None
    assert len(engine._CACHE) == 1


def test_grad_of_reused_tensor_and_broadcast():
    x = gf.tensor([[1.0], [2.0]], requires_grad=True)
    y = gf.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * y + x).sum().backward()
    assert x.grad.tolist() == [[9.0], [9.0]] and y.grad.tolist() == [3.0, 3.0, 3.0]


def test_relu_and_max_gradients_with_nan():
    x = gf.tensor([float("nan"), 1.0, -1.0], requires_grad=True)
    gf.relu(x).sum().backward()
    g = x.grad.tolist()
    assert g[1:] == [1.0, 0.0]


def test_backward_inputs_argument_and_autograd_backward():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    w = gf.tensor([3.0, 4.0], requires_grad=True)
    (x * w).sum().backward(inputs=[x])
    assert x.grad.tolist() == [3.0, 4.0] and w.grad is None
    gf.autograd.backward([(x * x).sum()], [None])
    assert x.grad.tolist() == [5.0, 8.0]


def test_small_mlp_trains_with_one_cached_plan():
    from graphflow.eager import engine

    gf.manual_seed(0)
    engine._CACHE.clear()
    xs = gf.randn(32, 4, dtype=gf.float64)
    ys = (xs[:, :1] * 2 - xs[:, 1:2]).tanh()
    w1 = (gf.randn(4, 8, dtype=gf.float64) * 0.5).requires_grad_()
    w2 = (gf.randn(8, 1, dtype=gf.float64) * 0.5).requires_grad_()
    b1 = gf.zeros(8, dtype=gf.float64, requires_grad=True)
    losses = []
    for _ in range(60):
        loss = ((gf.relu(xs @ w1 + b1) @ w2 - ys) ** 2).mean()
        losses.append(loss.item())
        loss.backward()
        with gf.no_grad():
            for p in (w1, w2, b1):
                p -= 0.1 * p.grad
                p.grad.zero_()
    assert losses[-1] < 0.5 * losses[0]
    assert len(engine._CACHE) == 1
