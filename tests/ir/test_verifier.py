"""The verifier accepts well-formed graphs and names the node and line of each problem."""

from __future__ import annotations

import sys

import pytest

from graphflow.errors import GraphError
from graphflow.ir import Attrs, Graph, Node, TensorType, bind, get_op, maybe_verify, verify, verify_enabled
from graphflow.ir.dtypes import float32, int64
from graphflow.ir.registry import OpDef
from tests.op_cases import CASES, build_case_graph

THIS_FILE = "test_verifier.py"


def inp(shape=(3,), name="x", dtype=float32):
    return bind("input", name=name, dtype=dtype, shape=shape)


def _tamper(node: Node, field: str, value) -> None:
    object.__setattr__(node, field, value)  # simulate a buggy pass that bypasses bind


def test_every_case_graph_verifies():
    for case in CASES:
        graph, _ = build_case_graph(case)
        verify(graph)


def test_wrong_recorded_type_names_node_and_line():
    x = inp()
    line = sys._getframe().f_lineno + 1
    y = bind("exp", x)
    _tamper(y, "type", TensorType(float32, (4,)))
    with pytest.raises(GraphError) as info:
        verify(Graph([y], [x]), after="my_pass")
    msg = str(info.value)
    assert msg.startswith("verify after my_pass:") and "float32(4,)" in msg and "float32(3,)" in msg
    assert f"%{y.id} (exp" in msg and f"{THIS_FILE}:{line}" in msg


def test_rejected_inputs():
    x = inp()
    y = bind("exp", x)
    _tamper(y, "inputs", (inp((3,), dtype=int64),))
    with pytest.raises(GraphError, match="its op rejects its inputs: exp: expects a floating-point dtype"):
        verify(Graph([y]))


def test_input_missing_from_the_node_list():
    x = inp()
    h = bind("exp", x)
    y = bind("sin", h)
    g = Graph([y], [x])
    g._nodes = [x, y]  # a pass that forgot to list h
    with pytest.raises(GraphError, match=f"input 0 \\(%{h.id} exp\\) is neither a graph input nor an earlier node"):
        verify(g)
    g._nodes = [x, y, h]  # listed, but after its user
    with pytest.raises(GraphError, match="neither a graph input nor an earlier node"):
        verify(g)
    g._nodes = [x, h, h, y]
    with pytest.raises(GraphError, match="listed twice"):
        verify(g)
    g._nodes = [x, h]
    with pytest.raises(GraphError, match="output 0 is not among graph.nodes"):
        verify(g)


def test_cycles():
    x = inp()
    a = bind("exp", x)
    b = bind("sin", a)
    _tamper(a, "inputs", (b,))
    with pytest.raises(GraphError, match="cycle"):
        verify(Graph([b]))


def test_attributes():
    x = inp((2, 3))
    y = bind("reduce_sum", x, axes=(1,))
    _tamper(y, "attrs", Attrs({"axes": (1,)}))
    with pytest.raises(GraphError, match="attributes \\['axes'\\] are not the op's \\['axes', 'keepdims'\\]"):
        verify(Graph([y], [x]))

    class Unhashable:
        __hash__ = None

    bad = Attrs.__new__(Attrs)  # an Attrs whose value cannot be hashed (built around the check)
    object.__setattr__(bad, "_dict", {"axes": Unhashable(), "keepdims": False})
    object.__setattr__(bad, "_items", ())
    object.__setattr__(bad, "_hash", 0)
    _tamper(y, "attrs", bad)
    with pytest.raises(GraphError, match="attribute 'axes' is an unhashable Unhashable"):
        verify(Graph([y], [x]))
    _tamper(y, "attrs", {"axes": (1,), "keepdims": False})
    with pytest.raises(GraphError, match="are a dict, not Attrs"):
        verify(Graph([y], [x]))


def test_unregistered_op_and_arity():
    x = inp()
    fake = OpDef("exp", "elementwise", lambda t, a: t[0], lambda a, at: a[0], lambda n, g: [g])
    y = Node(fake, (x,), Attrs(), x.type)
    with pytest.raises(GraphError, match="not the registered primitive"):
        verify(Graph([y], [x]))
    z = Node(get_op("exp"), (x, x), Attrs(), x.type)
    with pytest.raises(GraphError, match="it has 2 inputs; exp takes 1"):
        verify(Graph([z], [x]))


def test_outputs_and_inputs():
    x = inp()
    with pytest.raises(GraphError, match="no outputs"):
        verify(Graph([], [x]))
    with pytest.raises(GraphError, match="graph input 1 is listed twice"):
        verify(Graph([bind("exp", x)], [x, x]))
    bad_shape = Node(get_op("input"), (), x.attrs, TensorType(float32, (-1,)))
    with pytest.raises(GraphError, match="invalid size -1"):
        verify(Graph([bad_shape]))


def test_graph_inputs_are_leaves_of_any_op():
    # eager backward graphs take realised forward values as inputs: no check past them
    x = inp()
    h = bind("exp", x)
    y = bind("sin", h)
    verify(Graph([y], [h]))


def test_verify_enabled_reads_the_environment(monkeypatch):
    x = inp()
    y = bind("exp", x)
    _tamper(y, "type", TensorType(float32, (5,)))
    g = Graph([y], [x])
    for value, on in (("1", True), ("true", True), ("", False), ("0", False), ("no", False)):
        monkeypatch.setenv("GRAPHFLOW_VERIFY", value)
        assert verify_enabled() is on
    monkeypatch.delenv("GRAPHFLOW_VERIFY")
    assert verify_enabled() is False and maybe_verify(g, after="p") is g
    monkeypatch.setenv("GRAPHFLOW_VERIFY", "1")
    with pytest.raises(GraphError, match="verify after fold:"):
        maybe_verify(g, after="fold")
