"""Graph inputs are leaves: a rewrite must never look through one to the (unfed) node behind it.
Eager backward graphs take realised forward values this way, e.g. a transposed weight."""

import numpy as np

import graphflow as gf
from graphflow.ir import Graph, bind
from graphflow.passes.pipeline import run_pipeline


def test_rewrites_do_not_look_through_a_graph_input():
    w = bind("input", name="w", dtype=gf.float32, shape=(3, 4))
    wt = bind("permute", w, perm=(1, 0))  # fed as a value: its producer is not part of the graph
    x = bind("input", name="x", dtype=gf.float32, shape=(2, 3))
    y = bind("matmul", x, bind("permute", wt, perm=(1, 0)))  # permute of permute would fold to w
    neg = bind("neg", bind("neg", wt))  # double negation through a leaf stays inside the graph
    graph = Graph([y, neg], [wt, x])
    optimised = run_pipeline(graph)
    reachable = {n.id for n in optimised.nodes}
    assert w.id not in reachable, "the optimised graph reads the unfed producer of a graph input"
    backend = gf.backends.get_backend("numpy")
    wt_value = np.arange(12, dtype=np.float32).reshape(4, 3)
    x_value = np.ones((2, 3), dtype=np.float32)
    got = backend.compile(optimised).run([wt_value, x_value])
    np.testing.assert_allclose(got[0], x_value @ wt_value.T)
    np.testing.assert_array_equal(got[1], wt_value)
