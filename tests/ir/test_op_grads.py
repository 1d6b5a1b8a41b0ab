"""Every differentiable primitive's vjp against central finite differences in float64, through
the real `graphflow.autodiff.grad` path, on the shared case table; then second order (the
gradient of each op's gradient), since vjps are IR and get differentiated again."""

from __future__ import annotations

import numpy as np
import pytest

from graphflow.autodiff import grad
from graphflow.ir import builder as B
from tests.ir.gradcheck import check_grad
from tests.op_cases import GRAD_CASES, OpCase, apply_op, input_nodes


def _grad_tolerance(case: OpCase) -> dict:
    # float32 outputs (a cast) are only good to about 1e-7 relative, seen through a 1e-2 step
    return {"eps": case.eps, "rtol": 1e-5 if case.eps <= 1e-6 else 1e-4, "atol": 1e-6 if case.eps <= 1e-6 else 1e-4}


@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: c.id)
def test_vjp_matches_finite_differences(case: OpCase):
    check_grad(lambda *xs: apply_op(case.op, xs, case.attrs, case.broadcast), case.inputs, case.wrt_inputs,
               **_grad_tolerance(case))


SECOND_ORDER = [c for c in GRAD_CASES if c.op != "cast" and all(a.size <= 17 for a in c.inputs)]


@pytest.mark.parametrize("case", SECOND_ORDER, ids=lambda c: c.id)
def test_second_order_matches_finite_differences(case: OpCase):
    def first_order(*xs):
        y = apply_op(case.op, xs, case.attrs, case.broadcast)
        n = int(np.prod(y.shape))
        # a fixed non-uniform seed, so every output element weighs differently
        seed = B.constant(np.linspace(-1.0, 1.5, n).reshape(y.shape), y.dtype)
        grads = grad(None, [y], [xs[i] for i in case.wrt_inputs], seeds=[seed])
        return [g for g in grads if g is not None]

    if not first_order(*input_nodes(case.inputs)):
        pytest.skip("no gradient reaches the inputs")
    check_grad(first_order, case.inputs, case.wrt_inputs, rtol=1e-4, atol=1e-5)
