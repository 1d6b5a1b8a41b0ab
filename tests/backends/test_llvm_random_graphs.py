"""Small random graphs (elementwise chains, broadcasts, transposes, reshapes, reductions,
softmax and matmuls, with sizes of 0, 1 and a few) through the optimiser, the fusion and the
llvm backend, against the NumPy reference interpreter: the kernel shapes the fusion can produce
from such mixes (fused producers, transposed or one-element operands, epilogues) all compile and
agree."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphflow.ops as ops
from graphflow.backends import available, get_backend
from graphflow.ir import Graph, bind
from graphflow.ir.bind import GRAPH_BUILDER
from graphflow.ir.dtypes import get_dtype

pytestmark = pytest.mark.skipif(available().get("llvm") != "available", reason="llvm backend unavailable")

DIMS = st.sampled_from([0, 1, 1, 2, 3, 5])
UNARY = {"tanh": ops.tanh, "neg": ops.neg, "abs": ops.abs, "sigmoid": ops.sigmoid,
         "exp_tanh": lambda v: ops.exp(ops.tanh(v)), "relu": ops.relu}
BINARY = {"add": ops.add, "sub": ops.sub, "mul": ops.mul, "maximum": ops.maximum}


class _Builder:
    """A growing pool of 2-D float32 graph values with the NumPy arrays fed to its inputs."""

    def __init__(self, draw):
        self.draw = draw
        self.inputs, self.feeds, self.pool = [], [], []
        self.rng = np.random.default_rng(draw(st.integers(0, 2**16)))

    def new_input(self, shape) -> object:
        node = bind("input", name=f"x{len(self.inputs)}", dtype=get_dtype("float32"), shape=tuple(shape))
        self.inputs.append(node)
        self.feeds.append(self.rng.uniform(-2, 2, shape).astype(np.float32))
        return node

    def new_operand(self, shape) -> object:
        """An operand of `shape`: an input, a transposed input, a constant or a broadcast row."""
        kind = self.draw(st.sampled_from(["input", "transpose", "const", "broadcast"]))
        if kind == "input":
            return self.new_input(shape)
        if kind == "transpose":
            return ops.transpose(self.new_input(shape[::-1]), 0, 1)
        if kind == "const":
            return GRAPH_BUILDER.constant(self.rng.uniform(-2, 2, shape).astype(np.float32))
        return ops.broadcast_to(self.new_input((1, shape[1])), tuple(shape))

    def step(self) -> None:
        v = self.draw(st.sampled_from(self.pool))
        shape = tuple(v.shape)
        what = self.draw(st.sampled_from(["unary", "binary", "binary_scalar", "transpose", "reshape",
                                          "sum", "max", "softmax", "matmul", "matmul_left"]))
        if what == "unary":
            out = UNARY[self.draw(st.sampled_from(sorted(UNARY)))](v)
        elif what == "binary":
            same = [p for p in self.pool if tuple(p.shape) == shape]
            other = self.draw(st.sampled_from(same)) if self.draw(st.booleans()) else self.new_operand(shape)
            out = BINARY[self.draw(st.sampled_from(sorted(BINARY)))](v, other)
        elif what == "binary_scalar":  # a one-element constant broadcast against v
            c = GRAPH_BUILDER.constant(np.full((1, 1), self.draw(st.sampled_from([0.5, -1.0, 2.0])), np.float32))
            out = BINARY[self.draw(st.sampled_from(sorted(BINARY)))](v, c)
        elif what == "transpose":
            out = ops.transpose(v, 0, 1)
        elif what == "reshape":
            n = int(np.prod(shape))
            out = ops.reshape(v, *self.draw(st.sampled_from([(1, n), (n, 1), shape[::-1] if shape[0] == 1 or
                                                             shape[1] == 1 else (1, n)])))
        elif what == "sum":
            axis = self.draw(st.sampled_from([0, 1]))
            out = ops.sum(v, axis, keepdim=True)
            if self.draw(st.booleans()):  # a row epilogue: divide by (or add) the reduced value
                out = ops.add(v, out)
        elif what == "max":
            if 0 in shape:
                return
            out = ops.amax(v, 1, keepdim=True)
            out = ops.sub(v, out)
        elif what == "softmax":
            if 0 in shape:
                return
            out = ops.softmax(v, 1)
        else:  # a product with a new operand on the right (matmul) or on the left (matmul_left)
            n = self.draw(DIMS)
            if what == "matmul":
                out = ops.matmul(v, self.new_operand((shape[1], n)))
            else:
                out = ops.matmul(self.new_operand((n, shape[0])), v)
            if self.draw(st.booleans()):  # an epilogue the fusion joins to the product
                out = ops.tanh(ops.add(out, self.new_operand(tuple(out.shape))))
        self.pool.append(out)


@st.composite
def programs(draw):
    b = _Builder(draw)
    b.pool.append(b.new_input((draw(DIMS), draw(DIMS))))
    for _ in range(draw(st.integers(1, 6))):
        b.step()
    outs = [b.pool[-1]] + draw(st.lists(st.sampled_from(b.pool[1:] or b.pool), max_size=2))
    return Graph(outs, b.inputs), b.feeds


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs())
def test_random_graphs_match_numpy_reference(program):
    graph, feeds = program
    want = get_backend("numpy").compile(graph).run(feeds)
    got = get_backend("llvm").compile(graph).run(feeds)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-5)


def test_unused_inputs_are_part_of_the_compile_key():
    """Two graphs alike but for an unused input: each input holds a slot of the buffer table,
    so they are different programs (one module for both wrote its output over an input)."""
    llvm = get_backend("llvm")
    x, spare = (bind("input", name=n, dtype=get_dtype("float32"), shape=(5, 1)) for n in ("x", "spare"))
    one = llvm.compile(Graph([ops.add(ops.abs(x), x)], [x]))
    two = llvm.compile(Graph([ops.add(ops.abs(x), x)], [x, spare]))
    a = np.linspace(-2, 2, 5, dtype=np.float32).reshape(5, 1)
    np.testing.assert_array_equal(one.run([a])[0], np.abs(a) + a)
    s = np.full((5, 1), 7, np.float32)
    np.testing.assert_array_equal(two.run([a, s])[0], np.abs(a) + a)
    np.testing.assert_array_equal(s, 7)


def test_transpose_of_an_empty_value_next_to_its_source():
    """A fused kernel writing an empty value and its transpose (index maths over a size-0 dim)."""
    x = bind("input", name="x", dtype=get_dtype("float32"), shape=(0, 1))
    y = ops.abs(x)
    got = get_backend("llvm").compile(Graph([y, ops.transpose(y, 0, 1)], [x])).run([np.zeros((0, 1), np.float32)])
    assert got[0].shape == (0, 1) and got[1].shape == (1, 0)
