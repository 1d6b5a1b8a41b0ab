"""The CPU benchmark's MLP step computes the same thing in each of its graphflow forms."""

from __future__ import annotations

import numpy as np
import pytest

from graphflow.backends import available

pytestmark = pytest.mark.skipif(available().get("llvm") != "available", reason="llvm backend unavailable")


def test_static_session_step_matches_the_compiled_graph():
    from benchmarks import cpu_kernels as ck
    from graphflow.backends import get_backend

    step = ck.gf_static("mlp")
    loss, _ = step()
    feeds = ck.mlp_feeds()
    want = get_backend("numpy").compile(ck.mlp_graph()).run(feeds)
    np.testing.assert_allclose(loss, want[0], rtol=1e-5)
    for var, b in zip(step.variables, want[1:]):  # parameters in the graph's order
        a = step.session.get_value(var)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
