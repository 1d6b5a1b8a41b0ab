"""Every op of the shared case table on the llvm backend (odd shapes, every dtype, broadcasting,
non-contiguous inputs), against the same independent expectations the NumPy reference meets."""

from __future__ import annotations

import numpy as np
import pytest

from graphflow.backends import available, get_backend
from tests import op_cases as oc
from tests.backends.llvm_cases import batches, selected_cases

pytestmark = pytest.mark.skipif(available().get("llvm") != "available", reason="llvm backend unavailable")

CASES = selected_cases()
_results: dict[int, np.ndarray] = {}


@pytest.fixture(scope="module")
def results() -> dict[int, np.ndarray]:
    """All plain cases compiled as a few graphs and run once."""
    if not _results:
        llvm = get_backend("llvm")
        for batch in batches(CASES):
            outs = llvm.compile(batch.graph).run(batch.arrays)
            for case, slot in zip(batch.cases, batch.slots):
                _results[id(case)] = outs[slot]
    return _results


def _assert_matches(case: oc.OpCase, out: np.ndarray, expected: np.ndarray) -> None:
    assert expected.shape == out.shape, f"{case.id}: shape {out.shape}, expected {expected.shape}"
    if out.dtype.kind == "f" or out.dtype == oc.BF16:
        rtol, atol = oc.tolerance(case, out.dtype)
        if out.dtype == np.float32:  # vectorised sums reassociate; transcendentals are within a few ulp
            rtol, atol = max(rtol, 1e-5), max(atol, 1e-5)
        want = expected.astype(out.dtype).astype(np.float64)
        np.testing.assert_allclose(out.astype(np.float64), want, rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=case.id)
    else:
        np.testing.assert_array_equal(out, expected.astype(out.dtype), err_msg=case.id)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_op_case(case: oc.OpCase, results):
    graph, _ = oc.build_case_graph(case)
    node = graph.outputs[0]
    if id(case) in results:
        out = results[id(case)]
    else:  # state, bindings or the input op itself: a graph of its own
        out = oc.run_case(case, "llvm")
    assert out.dtype == node.dtype.np and out.shape == tuple(node.shape), case.id
    _assert_matches(case, out, case.expected())
