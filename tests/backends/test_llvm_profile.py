"""Per-unit timing of compiled graphs, and the pool's watching mode around graphs with several
parallel units (entered and left on every path, errors included)."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow.ops as ops
from graphflow.backends import available, get_backend
from graphflow.ir import Graph, bind
from graphflow.ir.dtypes import get_dtype

pytestmark = pytest.mark.skipif(available().get("llvm") != "available", reason="llvm backend unavailable")


def _inp(name: str, shape, dtype: str = "float32"):
    return bind("input", name=name, dtype=get_dtype(dtype), shape=tuple(shape))


def _two_parallel_units():
    """exp over 300x300 and an integer floor division over 400x200: two pool-run units."""
    xf, xi, yi = _inp("xf", (300, 300)), _inp("xi", (400, 200), "int32"), _inp("yi", (400, 200), "int32")
    return Graph([ops.exp(xf), bind("floor_div", xi, yi)], [xf, xi, yi])


def test_profile_times_every_unit_and_leaves_results_intact():
    from graphflow.backends.llvm.profile import profile_units, report

    rng = np.random.default_rng(0)
    x, w, b = _inp("x", (40, 30)), _inp("w", (30, 20)), _inp("b", (20,))
    out = ops.softmax(ops.add(ops.matmul(x, w), b), -1)
    g = Graph([out], [x, w, b])
    feeds = [rng.normal(size=s).astype(np.float32) for s in ((40, 30), (30, 20), (20,))]
    ex = get_backend("llvm").compile(g)
    units, whole = profile_units(ex, feeds, repeat=5)
    assert [u.index for u in units] == list(range(len(ex.plan.units))) and len(units) >= 2
    assert all(u.seconds > 0 for u in units) and whole > 0
    text = report((units, whole))
    assert "whole entry point" in text and units[0].name in text
    want = get_backend("numpy").compile(g).run(feeds)
    np.testing.assert_allclose(ex.run(feeds)[0], want[0], rtol=1e-5, atol=1e-6)


def test_graphs_with_several_parallel_units_enter_and_leave_the_pool_on_every_path():
    from graphflow.backends.llvm import pool
    from graphflow.backends.llvm.codegen import ModuleBuilder

    ex = get_backend("llvm").compile(_two_parallel_units())
    assert pool.ENTER in ModuleBuilder(ex.plan).build()
    rng = np.random.default_rng(1)
    xf = rng.normal(size=(300, 300)).astype(np.float32)
    xi = rng.integers(-50, 50, (400, 200)).astype(np.int32)
    yi = rng.integers(1, 7, (400, 200)).astype(np.int32)
    got = ex.run([xf, xi, yi])
    np.testing.assert_allclose(got[0], np.exp(xf), rtol=1e-6)
    np.testing.assert_array_equal(got[1], xi // yi)
    assert pool.running_graphs() == 0
    yi[7, 3] = 0
    with pytest.raises(ZeroDivisionError, match="floor_div"):
        ex.run([xf, xi, yi])
    assert pool.running_graphs() == 0


def test_single_parallel_unit_leaves_the_workers_asleep():
    from graphflow.backends.llvm import pool
    from graphflow.backends.llvm.codegen import ModuleBuilder

    x = _inp("x", (512, 256))
    ex = get_backend("llvm").compile(Graph([ops.exp(x)], [x]))
    assert pool.ENTER not in ModuleBuilder(ex.plan).build()


@pytest.mark.parametrize("spin,linger", [(0, 0), (1 << 30, 1 << 30)])
def test_pool_watching_settings_keep_results(spin, linger):
    """Workers that never watch, and workers that watch long, give the same answers."""
    from graphflow.backends.llvm import pool

    ex = get_backend("llvm").compile(_two_parallel_units())
    rng = np.random.default_rng(2)
    xf = rng.normal(size=(300, 300)).astype(np.float32)
    xi = rng.integers(-50, 50, (400, 200)).astype(np.int32)
    yi = rng.integers(1, 7, (400, 200)).astype(np.int32)
    try:
        pool.set_spin(spin)
        pool.set_linger(linger)
        for _ in range(3):
            got = ex.run([xf, xi, yi])
            np.testing.assert_allclose(got[0], np.exp(xf), rtol=1e-6)
            np.testing.assert_array_equal(got[1], xi // yi)
    finally:
        pool.set_spin(pool.SPIN_CYCLES)
        pool.set_linger(pool.LINGER_CYCLES)
