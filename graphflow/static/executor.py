"""Compiling a pure graph for given input shapes: specialise symbolic sizes, run the optimiser
pipeline, hand the result to the current CPU backend. Shared by `Session` and `gf.compile`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graphflow import backends
from graphflow.backends.base import Backend, Executable
from graphflow.ir.graph import Graph
from graphflow.ir.specialize import bind_symbols, specialize
from graphflow.passes.pipeline import run_pipeline


def cpu_backend_name() -> str:
    """The shared CPU backend choice (`graphflow.backends.cpu_backend_name`): `gf.set_backend`'s,
    else `GRAPHFLOW_CPU_BACKEND`, else llvm when it can run here, else numpy."""
    return backends.cpu_backend_name()


def cpu_backend() -> Backend:
    """The backend `Session.run` and `gf.compile` compile for (the one eager ops run on)."""
    return backends.current_cpu_backend()


def optimize(graph: Graph) -> Graph:
    """The optimiser pipeline, checked to keep the graph's signature."""
    out = run_pipeline(graph)
    if len(out.inputs) != len(graph.inputs) or len(out.outputs) != len(graph.outputs):
        raise AssertionError("the optimiser pipeline changed the graph's signature")
    return out


def compile_for(graph: Graph, arrays: Sequence[np.ndarray], backend: Backend | None = None) -> Executable:
    """An executable of `graph` for inputs shaped like `arrays` (raises ShapeError naming the input
    and both shapes when they do not fit)."""
    bindings = bind_symbols(graph.inputs, arrays)
    concrete = specialize(graph, bindings)
    return (backend or cpu_backend()).compile(optimize(concrete))
