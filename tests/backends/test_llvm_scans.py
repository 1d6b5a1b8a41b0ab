"""The llvm backend's scans and sorts: cumsum and cumprod are native row loops (SCAN units, rows
split over the pool), bit-identical to the NumPy reference in every dtype, either direction and
every axis; cumarg and argsort run through the NumPy callback inside the compiled program."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from graphflow.backends import get_backend
from graphflow.backends.llvm.plan import CALLBACK, SCAN, make_plan, partition
from graphflow.ir import Graph, bind
from tests.op_cases import input_nodes

RNG = np.random.default_rng(3)
DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16, np.int8, np.uint8, np.int16, np.int32, np.int64]


def _both(graph, arrays):
    got = get_backend("llvm").compile(graph).run(arrays)
    want = get_backend("numpy").compile(graph).run(arrays)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("dt", DTYPES, ids=lambda d: np.dtype(d).name)
def test_native_scans_equal_the_reference_bitwise(dt):
    x = RNG.integers(-4, 5, size=(3, 5, 4)).astype(dt) if np.dtype(dt).kind != "u" else \
        RNG.integers(0, 9, size=(3, 5, 4)).astype(dt)
    xs = input_nodes([x])
    outs = [bind("cumsum", xs[0], axis=a, reverse=r) for a in range(3) for r in (False, True)]
    outs += [bind("cumprod", xs[0], axis=a) for a in range(3)]
    graph = Graph(outs, xs)
    plan = make_plan(graph, partition(graph))
    assert sum(u.kind == SCAN for u in plan.units) == len(outs) and not plan.fallbacks
    _both(graph, [x])


def test_scans_of_big_rows_run_on_the_pool_and_fuse_with_neighbours():
    x = RNG.standard_normal((600, 257)).astype(np.float32)  # many rows: split over the threads
    xs = input_nodes([x])
    y = bind("cumsum", bind("mul", xs[0], xs[0]), axis=1)  # an elementwise producer before it
    z = bind("neg", bind("cumsum", bind("permute", xs[0], perm=(1, 0)), axis=0, reverse=True))
    _both(Graph([y, z, bind("cumprod", bind("reshape", xs[0], shape=(257 * 600,)), axis=0)], xs), [x])
    empty = np.zeros((0, 3), np.float32)
    es = input_nodes([empty])
    _both(Graph([bind("cumsum", es[0], axis=0), bind("cumprod", es[0], axis=1)], es), [empty])


def test_cumarg_and_argsort_run_through_the_callback():
    x = RNG.integers(0, 3, size=(4, 9)).astype(np.float64)
    x[1, 4] = np.nan
    xs = input_nodes([x])
    idx = bind("argsort", xs[0], axis=1, descending=True)
    graph = Graph([bind("gather", xs[0], idx, axis=1), bind("cumarg", xs[0], axis=0, largest=False)], xs)
    plan = make_plan(graph, partition(graph))
    assert {u.nodes[0].op.name for u in plan.units if u.kind == CALLBACK} == {"argsort", "cumarg"}
    _both(graph, [x])
