"""gf.bernoulli (and Tensor.bernoulli_), gf.normal and gf.multinomial on eager tensors (each CPU
backend): reproducible under gf.manual_seed and a Generator, statistics within loose bounds,
the edge cases (p of 0 and 1, zero weights) exactly, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf


def _same(a, b):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_bernoulli_reproducible_and_statistics():
    p = gf.full((20000,), 0.3)
    gf.manual_seed(5)
    a = gf.bernoulli(p)
    gf.manual_seed(5)
    b = p.bernoulli()
    _same(a, b)
    assert not np.array_equal(a.numpy(), gf.bernoulli(p).numpy())  # the stream moves on
    g1, g2 = gf.Generator().manual_seed(9), gf.Generator().manual_seed(9)
    _same(gf.bernoulli(p, generator=g1), gf.bernoulli(p, generator=g2))
    assert a.dtype is gf.float32 and set(np.unique(a.numpy())) <= {0.0, 1.0}
    assert abs(a.numpy().mean() - 0.3) < 0.02
    probs = gf.tensor(np.array([[0.0, 1.0, 0.5]] * 4000, np.float64))
    draws = gf.bernoulli(probs).numpy()
    assert draws.dtype == np.float64 and (draws[:, 0] == 0).all() and (draws[:, 1] == 1).all()
    assert abs(draws[:, 2].mean() - 0.5) < 0.05
    assert gf.bernoulli(gf.zeros(2, 0)).shape == (2, 0)


def test_bernoulli_float_p_inplace_and_errors():
    x = gf.zeros(3, 4000, dtype=gf.int64)
    gf.manual_seed(1)
    x.bernoulli_(0.75)
    assert x.dtype is gf.int64 and set(np.unique(x.numpy())) <= {0, 1}
    assert abs(x.numpy().mean() - 0.75) < 0.03
    rows = gf.zeros(2, 3000)
    rows.bernoulli_(gf.tensor([[0.1], [0.9]]))  # a tensor p broadcast to the tensor
    m = rows.numpy().mean(1)
    assert abs(m[0] - 0.1) < 0.03 and abs(m[1] - 0.9) < 0.03
    y = gf.bernoulli(gf.zeros(1000), 0.5)
    assert 0.4 < y.numpy().mean() < 0.6
    with pytest.raises(ValueError, match=r"bernoulli.*\[0, 1\]"):
        gf.bernoulli(gf.tensor([0.5, 1.5]))
    with pytest.raises(TypeError, match="bernoulli"):
        gf.bernoulli(gf.tensor([0, 1]))


def test_normal_forms_reproducible_and_statistics():
    mean = gf.tensor(np.array([[-3.0], [0.0], [5.0]]))
    std = gf.tensor(np.array([0.5, 1.0, 2.0, 4.0] * 1000))
    gf.manual_seed(3)
    a = gf.normal(mean, std)
    gf.manual_seed(3)
    b = gf.normal(mean, std)
    _same(a, b)
    assert a.shape == (3, 4000) and a.dtype is gf.float64
    z = a.numpy()
    np.testing.assert_allclose(z.mean(1), [-3.0, 0.0, 5.0], atol=0.15)
    np.testing.assert_allclose((z - z.mean(1, keepdims=True)).reshape(3, 1000, 4).std(axis=(0, 1)), [0.5, 1, 2, 4], rtol=0.08)
    c = gf.normal(gf.zeros(5000), 2.0, generator=gf.Generator().manual_seed(1))
    d = gf.normal(gf.zeros(5000), 2.0, generator=gf.Generator().manual_seed(1))
    _same(c, d)
    assert abs(c.numpy().std() - 2.0) < 0.1 and c.dtype is gf.float32
    e = gf.normal(1.0, gf.full((5000,), 0.5))
    assert abs(e.numpy().mean() - 1.0) < 0.05 and abs(e.numpy().std() - 0.5) < 0.05
    f = gf.normal(2.0, 3.0, (4000,))
    assert f.shape == (4000,) and f.dtype is gf.float32
    assert abs(f.numpy().mean() - 2.0) < 0.2 and abs(f.numpy().std() - 3.0) < 0.2
    g = gf.normal(0.0, 1.0, size=(2, 3), generator=gf.Generator().manual_seed(4), dtype=gf.float64)
    assert g.dtype is gf.float64 and g.shape == (2, 3)


def test_normal_errors_and_gradient():
    with pytest.raises(TypeError, match="normal.*size"):
        gf.normal(0.0, 1.0)
    with pytest.raises(ValueError, match="normal.*std"):
        gf.normal(gf.zeros(3), gf.tensor([1.0, -1.0, 1.0]))
    m = gf.zeros(4, requires_grad=True)
    gf.normal(m, 1.0).sum().backward()  # mean + std * z: the gradient passes to the mean
    assert m.grad.tolist() == [1.0] * 4


def test_multinomial_with_replacement_frequencies():
    w = gf.tensor([1.0, 0.0, 3.0, 6.0])
    gf.manual_seed(7)
    a = gf.multinomial(w, 20000, replacement=True)
    gf.manual_seed(7)
    _same(a, w.multinomial(20000, True))
    assert a.dtype is gf.int64 and a.shape == (20000,)
    freq = np.bincount(a.numpy(), minlength=4) / 20000
    assert freq[1] == 0.0  # a zero weight is never drawn
    np.testing.assert_allclose(freq, [0.1, 0.0, 0.3, 0.6], atol=0.015)
    rows = gf.multinomial(gf.tensor([[1.0, 1.0], [0.0, 2.0]]), 500, True, generator=gf.Generator().manual_seed(2))
    assert rows.shape == (2, 500) and (rows.numpy()[1] == 1).all() and 0.4 < rows.numpy()[0].mean() < 0.6


def test_multinomial_without_replacement():
    w = gf.tensor([[5.0, 1.0, 0.0, 1.0, 3.0]] * 3000)
    out = gf.multinomial(w, 3, generator=gf.Generator().manual_seed(11)).numpy()
    assert out.shape == (3000, 3)
    assert all(len(set(r)) == 3 for r in out[:200]) and (out != 2).all()  # distinct, never the zero weight
    first = np.bincount(out[:, 0], minlength=5) / 3000  # the first draw follows the weights
    np.testing.assert_allclose(first, [0.5, 0.1, 0.0, 0.1, 0.3], atol=0.03)
    full = gf.multinomial(gf.tensor([1.0, 2.0, 3.0]), 3).numpy()
    assert sorted(full.tolist()) == [0, 1, 2]
    with pytest.raises(ValueError, match="multinomial.*without replacement"):
        gf.multinomial(gf.tensor([1.0, 2.0]), 3)
    with pytest.raises(ValueError, match="multinomial.*not enough"):
        gf.multinomial(gf.tensor([1.0, 0.0, 0.0]), 2)
    with pytest.raises(ValueError, match="multinomial.*element < 0"):
        gf.multinomial(gf.tensor([1.0, -1.0]), 1)
    with pytest.raises(ValueError, match="multinomial.*sum"):
        gf.multinomial(gf.tensor([0.0, 0.0]), 1, True)
    with pytest.raises(ValueError, match="multinomial.*1 or 2 dim"):
        gf.multinomial(gf.ones(2, 2, 2), 1)
