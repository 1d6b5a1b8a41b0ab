"""Symbolic sizes: monomial arithmetic, shapes derived from unknown dimensions, and graphs that
carry them through to run time."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from graphflow.autodiff import grad
from graphflow.backends import get_backend
from graphflow.errors import GraphError, ShapeError
from graphflow.ir import Graph, bind
from graphflow.ir.dtypes import float32, int64
from graphflow.ir.shapes import broadcast_shapes, fmt, numel
from graphflow.ir.symbolic import Sym, contains_symbol, is_symbolic, substitute


def sym(name: str) -> Sym:
    return Sym(1, ((name, 1),))


def test_monomial_arithmetic():
    s, t = sym("s"), sym("t")
    assert s * 784 == 784 * s and repr(s * 784) == "784*s"
    assert (s * 784) // 784 == s and (s * 6) // 4 == Sym(Fraction(3, 2), (("s", 1),))
    assert s * t // t == s and s // s == 1 and isinstance(s // s, int)
    assert s * 0 == 0 and isinstance(s * 0, int)
    assert s + s == 2 * s and s + 0 == s and 0 + s == s and s - s == 0 and s * 3 - s == 2 * s
    assert repr(s * t) == "s*t" and repr(s * s) == "s^2"
    assert 12 // (s * 3) == Sym(4, (("s", -1),))
    assert hash(s * 2) == hash(2 * s) and s != t and s != 1 and s == 1 * s


def test_sums_that_are_not_monomials_fail_clearly():
    s, t = sym("s"), sym("t")
    with pytest.raises(ValueError, match="cannot be added"):
        s + 3
    with pytest.raises(ValueError, match="cannot be added"):
        s + t
    with pytest.raises(ZeroDivisionError):
        s // 0


def test_evaluate_and_substitute():
    s, t = sym("s"), sym("t")
    assert (s * t * 3).evaluate({"s": 2, "t": 5}) == 30
    assert ((s * 6) // 4).evaluate({"s": 2}) == 3
    with pytest.raises(ValueError, match="non-integer"):
        ((s * 6) // 4).evaluate({"s": 1})
    with pytest.raises(KeyError):
        s.evaluate({})
    assert substitute((s, 3, (t * 2,)), {"s": 4, "t": 1}) == (4, 3, (2,))
    assert contains_symbol((1, (2, s))) and not contains_symbol((1, 2)) and is_symbolic(s)
    assert Sym.fresh().atoms() != Sym.fresh().atoms()


def test_shapes_with_symbols():
    s = sym("s")
    assert broadcast_shapes((s, 1), (1, 5)) == (s, 5)
    assert broadcast_shapes((s, 3), (4, 3)) == (4, 3)  # checked again once s is known
    assert broadcast_shapes((s,), (s,)) == (s,)
    assert numel((s, 28, 28)) == 784 * s and fmt((s, 784)) == "(s, 784)" and fmt((3,)) == "(3,)"
    with pytest.raises(ShapeError, match="cannot be broadcast"):
        broadcast_shapes((2, 3), (4, 3), op="add")


def _placeholder(shape, dtype=float32, name="x"):
    return bind("input", name=name, dtype=dtype, shape=shape)


def test_flatten_reshape_and_reductions_keep_symbols():
    s = sym("b")
    x = _placeholder((s, 28, 28))
    flat = bind("reshape", x, shape=(-1, 784))
    assert flat.shape == (s, 784)
    back = bind("reshape", flat, shape=(s, 28, 28))
    assert back.shape == (s, 28, 28)
    half = bind("reshape", x, shape=(-1, 2, 784))
    assert half.shape == (s // 2, 2, 784)
    total = bind("reduce_sum", x, axes=(0,), keepdims=False)
    assert total.shape == (28, 28)
    both = bind("concat", x, x, axis=0)
    assert both.shape == (2 * s, 28, 28)
    with pytest.raises(ShapeError, match="cannot be added"):
        bind("concat", x, _placeholder((3, 28, 28), name="y"), axis=0)
    with pytest.raises(ShapeError, match="unknown size"):
        bind("slice", x, starts=(1, 0, 0), stops=(s, 28, 28), steps=(1, 1, 1))


def test_gradients_over_symbolic_shapes():
    s = sym("b")
    x = _placeholder((s, 3))
    w = _placeholder((3, 2), name="w")
    y = bind("reduce_sum", bind("tanh", bind("matmul", x, w)))
    sliced = bind("slice", x, starts=(0, 1), stops=(s, 3), steps=(1, 1))
    z = bind("reduce_sum", bind("pad", sliced, widths=((0, 0), (1, 0))))
    gx, gw = grad(None, [bind("add", y, z)], [x, w])
    assert gx.shape == (s, 3) and gw.shape == (3, 2)
    exe = get_backend("numpy").compile(Graph([gx, gw], [x, w]))
    xv = np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3)
    wv = np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)
    a, b = exe.run([xv, wv])  # the batch size is bound from the fed value
    t = np.tanh(xv @ wv)
    np.testing.assert_allclose(b, xv.T @ (1 - t**2), rtol=1e-5)
    np.testing.assert_allclose(a, (1 - t**2) @ wv.T + np.array([0, 1, 1], np.float32), rtol=1e-5)


def test_sym_size_reads_the_bound_size():
    s = sym("b")
    x = _placeholder((s, 4))
    n = bind("sym_size", expr=s * 4, dtype=int64)
    exe = get_backend("numpy").compile(Graph([n, x], [x]))
    count, _ = exe.run([np.zeros((7, 4), np.float32)])
    assert count == 28 and count.dtype == np.int64
    (count,) = get_backend("numpy").compile(Graph([n], [])).run([], bindings={"b": 2})
    assert count == 8


def test_inputs_sharing_a_symbol_must_agree():
    s = sym("b")
    x, y = _placeholder((s, 2)), _placeholder((s,), name="y")
    out = bind("reduce_sum", x, axes=(1,), keepdims=False)
    exe = get_backend("numpy").compile(Graph([bind("add", out, y)], [x, y]))
    exe.run([np.zeros((3, 2), np.float32), np.zeros(3, np.float32)])
    with pytest.raises(GraphError, match="input 'y' expects shape \\(3,\\), got \\(4,\\)"):
        exe.run([np.zeros((3, 2), np.float32), np.zeros(4, np.float32)])
    with pytest.raises(GraphError, match="input 'x' expects shape \\(3, 2\\), got \\(3, 5\\)"):
        exe.run([np.zeros((3, 5), np.float32), np.zeros(3, np.float32)])
