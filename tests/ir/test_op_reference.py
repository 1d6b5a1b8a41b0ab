"""Every primitive's NumPy reference against independent formulas and hand-computed values,
on the shared case table (odd shapes, every accepted dtype, broadcasting, non-contiguous inputs)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.op_cases import CASES, OpCase, assert_case_close, build_case_graph, run_case, run_reference


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_reference(case: OpCase):
    graph, _ = build_case_graph(case)
    node = graph.outputs[0]
    out = run_case(case)
    # the backend hands back exactly the inferred type
    assert out.dtype == node.dtype.np and out.shape == tuple(node.shape), case.id
    assert_case_close(case, out, case.expected())


def test_run_reference_helper_builds_through_bind():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = run_reference("reduce_sum", [x], {"axes": (1,), "keepdims": True})
    np.testing.assert_array_equal(out, [[3.0], [12.0]])
    out = run_reference("add", [np.float64(1.0), np.arange(3.0)], broadcast=[(3,), None])
    np.testing.assert_array_equal(out, [1.0, 2.0, 3.0])


def test_inputs_are_not_modified():
    # references must never write into their inputs (the backend hands them the caller's arrays)
    for case in CASES:
        before = [a.copy() for a in case.inputs]
        run_case(case)
        for a, b in zip(case.inputs, before):
            assert a.tobytes() == b.tobytes(), case.id  # bitwise: NaNs included
