import numpy as np
import pytest
from static_helpers import here

from graphflow.backends import get_backend
from graphflow.errors import ShapeError
from graphflow.ir import Graph, get_op, make_node
from graphflow.ir.dtypes import float32
from graphflow.ir.specialize import bind_symbols, is_symbolic_graph, specialize
from graphflow.ir.symbolic import Sym
from graphflow.ops import elementwise as E
from graphflow.ops import reductions as R
from graphflow.ops import shape as S


def _input(name, shape):
    return make_node(get_op("input"), (), {"name": name, "dtype": float32, "shape": shape}, name=name)


def test_specialize_reshape_broadcast_mean_and_sym_size():
    n = Sym.fresh()
    x = _input("x", (n, 4))
    flat = S.reshape(x, (-1,))
    m = R.mean(x, 0)  # divides by a sym_size node
    b = E.add(x, S.reshape(m, (1, 4)))  # broadcast_to (n, 4)
    g = Graph([flat, m, b], [x])
    assert is_symbolic_graph(g)
    bindings = bind_symbols(g.inputs, [np.zeros((3, 4), np.float32)])
    assert bindings == {n.factors[0][0]: 3}
    c = specialize(g, bindings)
    assert not is_symbolic_graph(c)
    assert [o.shape for o in c.outputs] == [(12,), (4,), (3, 4)]
    assert all(node.op.name != "sym_size" for node in c.nodes)
    xv = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = get_backend("numpy").compile(c).run([xv])
    np.testing.assert_allclose(out[1], xv.mean(0))
    np.testing.assert_allclose(out[2], xv + xv.mean(0))


def test_specialize_keeps_names_locations_and_unchanged_nodes():
    x = _input("x", (2, 3))
    y = E.exp(x)
    g = Graph([y], [x])
    c = specialize(g, {})
    assert c.outputs[0] is y  # nothing symbolic: reused as is
    n = Sym.fresh()
    xs = _input("xs", (n, 3))
    ys = E.exp(xs)
    line = here() - 1
    c = specialize(Graph([ys], [xs]), {n.factors[0][0]: 5})
    assert c.outputs[0].shape == (5, 3)
    assert c.outputs[0].loc.line == line and c.outputs[0].loc.file == __file__
    assert c.inputs[0].name == "xs"


def test_specialize_reports_a_broadcast_that_no_longer_fits_at_the_users_line():
    n = Sym.fresh()
    x = _input("x", (n, 4))
    y = _input("y", (5, 4))
    z = E.add(x, y)  # s0 meets 5: accepted while symbolic
    line = here() - 1
    g = Graph([z], [x, y])
    bindings = bind_symbols(g.inputs, [np.zeros((3, 4)), np.zeros((5, 4))])
    with pytest.raises(ShapeError) as err:
        specialize(g, bindings)
    msg = str(err.value)
    assert "broadcast" in msg and "(3, 4)" in msg and f"{__file__}:{line}" in msg


def test_bind_symbols_errors_name_input_and_both_shapes():
    n = Sym.fresh()
    x = _input("x", (n, 4))
    with pytest.raises(ShapeError, match=r"'x'.*\(s\d+, 4\).*\(3, 5\)"):
        bind_symbols([x], [np.zeros((3, 5))])
    with pytest.raises(ShapeError, match="rank 1 instead of 2"):
        bind_symbols([x], [np.zeros(3)])
    y = _input("y", (n, 2))
    with pytest.raises(ShapeError, match="'y'.*'x' was fed shape"):
        bind_symbols([x, y], [np.zeros((3, 4)), np.zeros((7, 2))])


def test_bind_symbols_checks_compound_sizes():
    n = Sym.fresh()
    x = _input("x", (n, 2))
    z = _input("z", (n * 2,))
    assert bind_symbols([x, z], [np.zeros((3, 2)), np.zeros(6)]) == {n.factors[0][0]: 3}
    with pytest.raises(ShapeError, match="should be"):
        bind_symbols([x, z], [np.zeros((3, 2)), np.zeros(7)])


def test_specialize_deep_graph_is_iterative():
    n = Sym.fresh()
    x = _input("x", (n,))
    y = x
    for _ in range(5000):
        y = E.add(y, y)
    c = specialize(Graph([y], [x]), {n.factors[0][0]: 2})
    assert c.outputs[0].shape == (2,)
