"""Property tests for the movement op with the most index arithmetic: `slice` (any start, stop
and step, normalised as Python's `slice.indices` does), forward and gradient."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from graphflow.ir import bind
from tests.ir.gradcheck import check_grad
from tests.op_cases import run_reference


@st.composite
def sliced_arrays(draw):
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=1, max_size=3)))
    triples = []
    for d in shape:
        start = draw(st.one_of(st.none(), st.integers(-8, 8)))
        stop = draw(st.one_of(st.none(), st.integers(-8, 8)))
        step = draw(st.sampled_from([1, 2, 3, -1, -2, -3]))
        triples.append(slice(start, stop, step).indices(d))
    return shape, triples


def _attrs(triples):
    return {"starts": tuple(t[0] for t in triples), "stops": tuple(t[1] for t in triples),
            "steps": tuple(t[2] for t in triples)}


def _picked(x, triples):
    # element k along an axis is index s + k*step for k < len(range(s, e, step)) (Python's meaning)
    return x[np.ix_(*[np.array(range(*t), dtype=np.intp) for t in triples])]


@settings(max_examples=60, deadline=None)
@given(sliced_arrays())
def test_slice_matches_python_slicing(spec):
    shape, triples = spec
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    out = run_reference("slice", [x], _attrs(triples))
    np.testing.assert_array_equal(out, _picked(x, triples))


@settings(max_examples=25, deadline=None)
@given(sliced_arrays())
def test_slice_gradient_matches_finite_differences(spec):
    shape, triples = spec
    x = np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape)
    check_grad(lambda v: bind("slice", v, **_attrs(triples)), [x])
