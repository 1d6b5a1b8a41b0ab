"""Run functions of graph values on NumPy arrays through the reference backend."""

from __future__ import annotations

import numpy as np
import pytest

from graphflow.backends import get_backend
from graphflow.ir import Graph, bind
from graphflow.ir.dtypes import get_dtype


def run_graph(fn, *arrays, **kwargs):
    """fn(*input nodes, **kwargs) -> node or tuple of nodes (None kept); returns numpy values."""
    inputs = [bind("input", name=f"x{i}", dtype=get_dtype(np.asarray(a).dtype), shape=np.shape(a))
              for i, a in enumerate(arrays)]
    out = fn(*inputs, **kwargs)
    single = not isinstance(out, tuple)
    outs = (out,) if single else tuple(out)
    nodes = [o for o in outs if o is not None]
    values = iter(get_backend("numpy").compile(Graph(nodes, inputs)).run([np.asarray(a) for a in arrays]))
    result = tuple(None if o is None else next(values) for o in outs)
    return result[0] if single else result


@pytest.fixture
def graph_run():
    return run_graph
