"""A `gf.compile`d function's in-place updates (optimizer steps, `add_` on captured tensors or on
arguments) reach the eager tensors and bump their version counters, so a tape recorded before the
call refuses to run backward through the changed values, as after an eager in-place op."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf

STALE = "modified by an in-place operation"


def test_optimizer_step_makes_an_earlier_tape_stale():
    w = gf.tensor([1.0, 2.0], requires_grad=True)
    opt = gf.optim.SGD([w], lr=0.5)
    w.grad = gf.tensor([1.0, 1.0])

    def step():
        opt.step()

    compiled = gf.compile(step)
    loss = (w * w).sum()  # saves w's value
    compiled()
    assert w.tolist() == [0.5, 1.5] and w._version == 1
    with pytest.raises(RuntimeError, match=rf"{STALE}.*last changed by `step \(gf.compile\)`"):
        loss.backward()
    compiled()  # a replay bumps again
    assert w.tolist() == [0.0, 1.0] and w._version == 2
    w.grad = None
    (w * w).sum().backward()  # a tape recorded after the call is fine
    assert w.grad.tolist() == [0.0, 2.0]


def test_compiled_training_step_and_an_outside_tape():
    gf.manual_seed(0)
    model = gf.nn.Linear(3, 2)
    opt = gf.optim.SGD(model.parameters(), lr=0.1)
    x = gf.randn(4, 3, requires_grad=True)  # its gradient reads the weight

    @gf.compile
    def train(inp):
        opt.zero_grad()
        loss = (model(inp) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    before = [p._version for p in model.parameters()]
    outside = (model(x) ** 2).mean()
    first = train(x).item()
    assert all(p._version > v for p, v in zip(model.parameters(), before))
    with pytest.raises(RuntimeError, match=STALE):
        outside.backward()
    assert train(x).item() < first  # the replays keep training


def test_captured_tensor_written_in_place():
    count = gf.zeros(3)

    @gf.compile
    def bump(v):
        count.add_(v)
        return count * 2.0

    leaf = gf.tensor([1.0, 1.0, 1.0], requires_grad=True)
    saved = (leaf * count).sum()  # saves count's value
    out = bump(gf.ones(3))
    assert count.tolist() == [1.0, 1.0, 1.0] and out.tolist() == [2.0, 2.0, 2.0] and count._version == 1
    bump(gf.ones(3))
    assert count.tolist() == [2.0, 2.0, 2.0] and count._version == 2
    with pytest.raises(RuntimeError, match=STALE):
        saved.backward()


def test_arguments_written_in_place_are_updated():
    @gf.compile
    def shift(t, by):
        t.add_(by)
        return t * 2.0

    x = gf.tensor([1.0, 2.0])
    assert shift(x, 1.0).tolist() == [4.0, 6.0] and x.tolist() == [2.0, 3.0] and x._version == 1
    assert shift(x, 1.0).tolist() == [6.0, 8.0] and x.tolist() == [3.0, 4.0] and x._version == 2
    leaf = gf.tensor([1.0, 1.0], requires_grad=True)
    saved = (leaf * x).sum()
    shift(x, 0.5)
    with pytest.raises(RuntimeError, match=STALE):
        saved.backward()
    untouched = gf.tensor([5.0])
    gf.compile(lambda t: t * 2.0)(untouched)
    assert untouched._version == 0


def test_argument_views_write_into_their_base():
    @gf.compile
    def double(t):
        t.mul_(2.0)

    base = gf.tensor(np.arange(6.0).reshape(2, 3))
    double(base[1])
    double(base.t()[0])
    assert base.tolist() == [[0.0, 1.0, 2.0], [12.0, 8.0, 10.0]]  # row 1, then column 0
    assert base._version == 2
    empty = gf.zeros(0)
    double(empty)
    assert empty.shape == (0,)
