"""`backward()` inside a function compiled by gf.compile: values and gradients as eager mode's
(arguments requiring grad, closure parameters, detach, accumulation across calls), and the
stability rewrites applied before differentiation."""

import numpy as np
import pytest

import graphflow as gf
from graphflow.compile import TraceError


def _run(fn, compiled, *arrays, calls=1, rg=True):
    f = gf.compile(fn) if compiled else fn
    xs = [gf.tensor(a, requires_grad=rg) for a in arrays]
    outs = [f(*xs) for _ in range(calls)]
    return outs, xs, f


def _np(v):
    return None if v is None else v.detach().numpy()


def sin_sq(x):
    y = (x * x).sin().sum()
    y.backward()
    return y


@pytest.mark.parametrize("shape", [(), (1,), (3,), (2, 5), (0, 4), (17,)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_backward_matches_eager(shape, dtype):
    a = np.linspace(-1.5, 2.0, int(np.prod(shape))).reshape(shape).astype(dtype)
    (ye,), (xe,), _ = _run(sin_sq, False, a)
    (yc,), (xc,), f = _run(sin_sq, True, a)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(_np(yc), _np(ye), rtol=tol, atol=tol)
    np.testing.assert_allclose(_np(xc.grad), _np(xe.grad), rtol=tol, atol=tol)
    np.testing.assert_allclose(_np(xc.grad), 2 * a * np.cos(a * a), rtol=10 * tol, atol=10 * tol)
    assert xc.grad.dtype is xe.grad.dtype and f.traces == 1


def test_grad_accumulates_across_calls_and_follows_the_argument():
    a = np.array([0.5, -1.0, 2.0])
    f = gf.compile(sin_sq)
    x = gf.tensor(a, requires_grad=True)
    f(x)
    f(x)  # .grad accumulates, as two eager backward() calls do
    np.testing.assert_allclose(x.grad.numpy(), 2 * (2 * a * np.cos(a * a)), rtol=1e-12)
    z = gf.tensor(a * 2, requires_grad=True)
    f(z)  # a new argument gets its own .grad; x's is left alone
    np.testing.assert_allclose(z.grad.numpy(), 4 * a * np.cos(4 * a * a), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), 2 * (2 * a * np.cos(a * a)), rtol=1e-12)
    x.grad = None
    f(x)
    np.testing.assert_allclose(x.grad.numpy(), 2 * a * np.cos(a * a), rtol=1e-12)
    assert f.traces == 2  # .grad None and .grad set are two signatures (set vs accumulate)


def test_results_may_hold_none_and_the_new_grad():
    def f(x):
        before = x.grad
        y = (x.exp() * x).sum()
        y.backward()
        return y, before, x.grad, {"n": 3}

    a = np.array([[0.1, 0.2], [-0.3, 1.0]], np.float32)
    (re,), (xe,), _ = _run(f, False, a)
    (rc,), (xc,), _ = _run(f, True, a)
    assert rc[1] is None and rc[3] == {"n": 3}
    np.testing.assert_allclose(_np(rc[0]), _np(re[0]), rtol=1e-6)
    np.testing.assert_allclose(_np(rc[2]), _np(re[2]), rtol=1e-6)
    np.testing.assert_allclose(_np(rc[2]), (1 + a) * np.exp(a), rtol=1e-6)
    np.testing.assert_allclose(_np(xc.grad), _np(xe.grad), rtol=1e-6)


def test_closure_parameters_and_arguments_together():
    w_init = np.array([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]])
    a = np.array([[1.0, 2.0, -1.0], [0.5, -0.5, 0.25]])

    def run(compiled):
        w = gf.tensor(w_init, requires_grad=True)

        def f(x):
            y = gf.nn.functional.softplus(x @ w).mean()
            y.backward()
            return y

        (_, y), (x,), _ = _run(f, compiled, a, calls=2)  # grads accumulate over the two calls
        return _np(y), _np(x.grad), _np(w.grad)

    for got, want in zip(run(True), run(False)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_detach_stops_gradients():
    def f(x):
        y = (x * x.detach()).sum() + (x.detach().exp()).sum()
        y.backward()
        return y

    a = np.array([1.0, -2.0, 0.5])
    (ye,), (xe,), _ = _run(f, False, a)
    (yc,), (xc,), _ = _run(f, True, a)
    np.testing.assert_allclose(_np(yc), _np(ye), rtol=1e-12)
    np.testing.assert_allclose(_np(xc.grad), a, rtol=1e-12)  # d/dx (x * c) = c
    np.testing.assert_allclose(_np(xc.grad), _np(xe.grad), rtol=1e-12)


def test_new_leaf_inside_the_function():
    def f(x):
        z = x.detach().requires_grad_()
        y = (z ** 3).sum()
        y.backward()
        return y, z.grad

    a = np.array([1.0, 2.0, -1.0])
    (rc,), _, _ = _run(f, True, a, rg=False)
    np.testing.assert_allclose(_np(rc[1]), 3 * a * a, rtol=1e-12)


def test_backward_without_anything_requiring_grad_raises_as_eager():
    a = np.array([1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        _run(sin_sq, False, a, rg=False)
    with pytest.raises(RuntimeError, match="does not require grad"):
        _run(sin_sq, True, a, rg=False)


def test_backward_of_a_non_scalar_needs_a_gradient():
    def f(x, g):
        y = x.tanh()
        y.backward(g)
        return y

    a = np.array([[0.1, -0.2, 0.3]])
    g = np.array([[1.0, 2.0, -1.0]])
    f_c = gf.compile(f)
    x = gf.tensor(a, requires_grad=True)
    f_c(x, gf.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g * (1 - np.tanh(a) ** 2), rtol=1e-12)
    with pytest.raises(RuntimeError, match="scalar"):
        gf.compile(lambda x: x.tanh().backward())(gf.tensor(a, requires_grad=True))


def test_value_dependent_control_flow_still_raises():
    def f(x):
        y = (x * x).sum()
        if y > 1:
            y.backward()
        return y

    with pytest.raises(TraceError, match="bool"):
        gf.compile(f)(gf.tensor([1.0, 2.0], requires_grad=True))


def test_naive_log_softmax_gradients_are_finite_for_large_logits():
    def loss(x):
        p = x.exp() / x.exp().sum(1, keepdim=True)
        y = -(p.log() * gf.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])).sum()
        y.backward()
        return y

    a = np.array([[1000.0, -1000.0, 0.0], [3.0, 1.0, -2.0]], np.float32)
    (y,), (x,), _ = _run(loss, True, a)
    # d/dx of -log softmax(x)[label] = softmax(x) - onehot(label)
    e = np.exp(a - a.max(1, keepdims=True))
    sm = e / e.sum(1, keepdims=True)
    onehot = np.array([[1.0, 0, 0], [0, 0, 1.0]])
    expected_loss = -(np.log(sm[1, 2]))  # row 0 contributes -log(1) = 0
    assert np.isfinite(_np(y)) and np.all(np.isfinite(_np(x.grad)))
    np.testing.assert_allclose(_np(y), expected_loss, rtol=1e-5)
    np.testing.assert_allclose(_np(x.grad), sm - onehot, rtol=1e-5, atol=1e-6)


def test_grad_of_an_argument_read_inside_the_compiled_function():
    """A tensor passed to the compiled function and also captured by it: reading its .grad after
    backward() inside the function gives the gradient, as in eager mode, on every call."""
    x = gf.tensor(np.arange(4, dtype=np.float32), requires_grad=True)
    w = gf.tensor(np.linspace(-1, 1, 4).astype(np.float32), requires_grad=True)
    captured = [x, w]

    def step(a, b):
        for t in captured:
            t.grad = None
        y = (a * b).tanh().sum()
        y.backward()
        return [y] + [t.grad for t in captured]

    compiled = gf.compile(step)
    d = 1 - np.tanh(x.detach().numpy() * w.detach().numpy()) ** 2
    for _ in range(3):
        y, gx, gw = compiled(x, w)
        np.testing.assert_allclose(gx.numpy(), d * w.detach().numpy(), rtol=1e-5)
        np.testing.assert_allclose(gw.numpy(), d * x.detach().numpy(), rtol=1e-5)
        np.testing.assert_allclose(x.grad.numpy(), gx.numpy())
