"""Memory planning and the explain report."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
import graphflow.ops as O
from graphflow.ir import Graph
from graphflow.ir.symbolic import Sym
from graphflow.passes.explain import ExplainReport, explain_graph, pseudocode
from graphflow.passes.fusion import partition
from graphflow.passes.memory import plan_memory
from graphflow.passes.pipeline import PASSES, run_pipeline

from .conftest import inp
from .partition_exec import check_memory_plan


def test_buffers_are_reused_after_their_last_reader():
    x = inp("x", (1000,))
    y = x
    for _ in range(4):
        y = O.softmax(O.reshape(y, (10, 100)), dim=1)
        y = O.reshape(y, (1000,))
    pg = partition(run_pipeline(Graph([y], [x])))
    plan = plan_memory(pg)
    check_memory_plan(pg)
    assert plan.arena_bytes < plan.naive_bytes
    big = [b for b in plan.buffers if b.nbytes == 8000]
    assert any(len(b.values) > 1 for b in plan.buffers)  # something was reused
    assert len(big) <= 2 and plan.peak_bytes <= 2 * 8000 + 2 * 80
    assert "buffers" in plan.summary()


def test_graph_outputs_are_never_reused():
    x = inp("x", (50,))
    a = O.sum(O.exp(x))
    b = O.sum(O.sin(O.add(x, a)))
    pg = partition(run_pipeline(Graph([a, O.exp(O.add(x, b))], [x])))
    plan = plan_memory(pg)
    check_memory_plan(pg)
    out_buffers = [plan.buffer_of[o.id] for o in pg.graph.outputs]
    for nid, buf in plan.buffer_of.items():
        if buf in out_buffers:
            assert nid in {o.id for o in pg.graph.outputs}


def test_symbolic_shapes_must_be_specialised_first():
    from graphflow.ir import bind

    x = bind("input", name="x", dtype=gf.float32, shape=(Sym.fresh("n"), 4))
    with pytest.raises(ValueError, match="specialise"):
        plan_memory(partition(Graph([O.exp(x)], [x])))


def test_explain_report():
    x, w = inp("x", (4, 8)), inp("w", (8, 3))
    g = Graph([O.softmax(O.matmul(O.mul(x, 1.0), w), dim=1)], [x, w])
    report = explain_graph(g)
    assert isinstance(report, ExplainReport) and report.backend == "numpy"
    assert [n for n, _ in report.passes] == ["input"] + [n for n, _ in PASSES]
    assert all(isinstance(t, str) and t.startswith("graph {") for _, t in report.passes)
    assert len(report.kernels) == 3
    assert report.kernels[0].ops[0] == "matmul" and "reduce_sum" in report.kernels[2].ops
    text = str(report)
    for needle in ("after simplify", "k", "matmul", "reduce_max", "memory:", "store buf"):
        assert needle in text
    assert "for each" in report.kernels[0].source


def test_explain_uses_the_backends_kernel_sources(monkeypatch):
    from graphflow.backends.numpy.interpreter import BACKEND

    monkeypatch.setattr(type(BACKEND), "kernel_sources",
                        lambda self, pg: [f"// code for {k.name}" for k in pg.kernels], raising=False)
    x = inp("x", (4, 8))
    report = explain_graph(Graph([O.softmax(x, dim=1)], [x]))
    assert [k.source for k in report.kernels] == [f"// code for {k.name}" for k in report.kernels]


def test_pseudocode_names_roles_and_stores():
    x = inp("x", (4, 8))
    pg = partition(run_pipeline(Graph([O.softmax(x, dim=1)], [x])))
    text = pseudocode(pg.compute_kernels[1])
    assert "(prologue)" in text and "(row-epilogue)" in text and "store buf" in text
    np.testing.assert_equal(len(pg.compute_kernels), 2)


def test_gf_explain_traces_eager_code():
    from graphflow.eager import from_numpy

    def f(x, w):
        return O.softmax(O.add(O.matmul(x, w), 1.0), dim=1)

    report = gf.explain(f, from_numpy(np.ones((4, 8), np.float32)), from_numpy(np.ones((8, 3), np.float32)))
    assert isinstance(report, ExplainReport)
    assert any("matmul" in k.ops for k in report.kernels) and any("exp" in k.ops for k in report.kernels)
    assert "after simplify" in str(report) or "unchanged" in str(report)
