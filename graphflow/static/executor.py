"""Compiling a pure graph for given input shapes: specialise symbolic sizes, run the optimiser
pipeline, hand the result to the current CPU backend. Shared by `Session` and `gf.compile`."""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence

import numpy as np

from graphflow import backends
from graphflow.backends.base import Backend, Executable
from graphflow.ir.graph import Graph
from graphflow.ir.specialize import bind_symbols, specialize


def cpu_backend_name() -> str:
    """`GRAPHFLOW_CPU_BACKEND`, else the one `gf.set_backend` chose, else llvm when it can run
    here, else numpy."""
    name = os.environ.get("GRAPHFLOW_CPU_BACKEND")
    if name:
        return name
    chosen = getattr(backends, "current_cpu_backend", None)
    if callable(chosen):
        picked = chosen()
        if picked:
            return picked if isinstance(picked, str) else picked.name
    return "llvm" if backends.available().get("llvm") == "available" else "numpy"


def cpu_backend() -> Backend:
    return backends.get_backend(cpu_backend_name())


def optimize(graph: Graph) -> Graph:
    """The optimiser pipeline, when this version of graphflow has one."""
    try:
        pipeline = importlib.import_module("graphflow.passes.pipeline")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("graphflow.passes"):
            return graph
        raise
    out = pipeline.run_pipeline(graph)
    if len(out.inputs) != len(graph.inputs) or len(out.outputs) != len(graph.outputs):
        raise AssertionError("the optimiser pipeline changed the graph's signature")
    return out


def compile_for(graph: Graph, arrays: Sequence[np.ndarray], backend: Backend | None = None) -> Executable:
    """An executable of `graph` for inputs shaped like `arrays` (raises ShapeError naming the input
    and both shapes when they do not fit)."""
    bindings = bind_symbols(graph.inputs, arrays)
    concrete = specialize(graph, bindings)
    return (backend or cpu_backend()).compile(optimize(concrete))
