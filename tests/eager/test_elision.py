"""Temporary elision of eager arithmetic (`graphflow.eager.tensor._temporary`): a big unnamed
temporary's buffer receives the next result, bit for bit what a fresh result holds; anything
that can still be seen (named tensors, arrays shared with NumPy, views, tape values) is never
overwritten."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import graphflow as gf

T = sys.modules["graphflow.eager.tensor"]
N = T.ELIDE_MIN + 3  # big enough to elide, not a multiple of a vector width


def _gelu(x):
    return 0.5 * x * (1 + gf.tanh(0.79788 * (x + 0.044715 * x * x * x)))


@pytest.fixture
def elisions(monkeypatch):
    count = [0]
    orig = T._temporary

    def spy(t, refs, held=0):
        out = orig(t, refs, held)
        count[0] += out is not None
        return out
    monkeypatch.setattr(T, "_temporary", spy)
    return count


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elided_chain_is_bit_identical(dtype, elisions, monkeypatch):
    x = gf.tensor(np.random.default_rng(0).standard_normal(N).astype(dtype))
    before = x.numpy().copy()
    got = _gelu(x * 1.5 + 0.25).numpy()
    assert elisions[0] >= 5
    np.testing.assert_array_equal(x.numpy(), before)  # the named input is untouched
    monkeypatch.setattr(T, "ELIDE_MIN", 1 << 62)
    want = _gelu(x * 1.5 + 0.25).numpy()
    np.testing.assert_array_equal(got, want)
    a, b = gf.tensor(np.full(N, 3.0, dtype)), gf.tensor(np.full(N, 2.0, dtype))
    for expr, value in ((lambda: (a * 1) - b, 1.0), (lambda: a - (b * 1), 1.0), (lambda: (a * 1) / b, 1.5),
                        (lambda: a / (b * 1), 1.5), (lambda: 1 - (a * 1), -2.0), (lambda: 6 / (a * 1), 2.0)):
        np.testing.assert_array_equal(expr().numpy(), np.full(N, value, dtype))


def test_visible_buffers_are_never_overwritten(elisions):
    x = gf.ones(N)
    y = x * 2  # named: the next op must not write into it
    z = y + 1
    np.testing.assert_array_equal(y.numpy(), np.full(N, 2.0, np.float32))
    arr = np.full(N, 5.0, np.float32)
    w = gf.from_numpy(arr) + 1  # the tensor is a temporary, its array is the caller's
    np.testing.assert_array_equal(arr, np.full(N, 5.0, np.float32))
    t = x * 3
    view = t[:10]
    u = t + 0  # t is named; and its array has a view
    del t
    np.testing.assert_array_equal(view.numpy(), np.full(10, 3.0, np.float32))

    def inner(v):
        return v + 1  # an argument is named inside the function
    kept = x * 4
    inner(kept)
    np.testing.assert_array_equal(kept.numpy(), np.full(N, 4.0, np.float32))
    assert elisions[0] == 0
    np.testing.assert_array_equal(z.numpy(), np.full(N, 3.0, np.float32))
    np.testing.assert_array_equal(w.numpy(), np.full(N, 6.0, np.float32))
    np.testing.assert_array_equal(u.numpy(), np.full(N, 3.0, np.float32))


def test_no_elision_with_a_tape_or_small_tensors(elisions):
    w = gf.ones(N, requires_grad=True)
    loss = ((w * 2) * 3 + 1).sum()  # recorded: the tape holds each value
    loss.backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.full(N, 6.0, np.float32))
    small = gf.ones(100)
    _ = (small * 2) + 1
    half = gf.ones(N, dtype=gf.float16)
    _ = (half * 2) + 1
    assert elisions[0] == 0
    with gf.no_grad():
        _ = (w * 2) + 1  # no tape under no_grad
    assert elisions[0] == 1
