"""The optimisation pipeline: every `Graph -> Graph` pass, in the order they run.

Static graphs, compiled traces and the backward graphs autodiff produces all go through this list.
After the graph passes, `graphflow.passes.fusion.partition` cuts the result into kernels and
`graphflow.passes.memory.plan_memory` assigns their buffers.

The IR verifier (`graphflow.ir.verify.verify`) runs after each pass when `verify=True`, or when
`verify` is None and the environment sets `GRAPHFLOW_VERIFY=1`. Where the verifier is not
available, a type re-inference check runs instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import partial

from graphflow.errors import GraphError
from graphflow.ir.bind import infer_type
from graphflow.ir.graph import Graph
from graphflow.passes.algebraic import simplify
from graphflow.passes.cse import cse
from graphflow.passes.dce import dce
from graphflow.passes.fold import fold_constants
from graphflow.passes.patterns import FAST_MATH
from graphflow.passes.stability import stabilize

Pass = Callable[[Graph], Graph]

PASSES: list[tuple[str, Pass]] = [
    ("dce", dce),
    ("cse", cse),
    ("fold_constants", fold_constants),
    ("stabilize", stabilize),  # before simplify: it matches the shapes composite ops are built in
    ("simplify", simplify),
    ("cse", cse),
    ("dce", dce),
]

FAST_MATH_PASSES: list[tuple[str, Pass]] = [
    (name, partial(simplify, safety=FAST_MATH) if fn is simplify else fn) for name, fn in PASSES
]


def verify_enabled(verify: bool | None = None) -> bool:
    if verify is not None:
        return verify
    return os.environ.get("GRAPHFLOW_VERIFY", "") not in ("", "0")


def check_graph(graph: Graph, after: str = "") -> None:
    """Run the IR verifier on `graph` (or, where it is not available, re-infer every type)."""
    try:
        from graphflow.ir.verify import verify as ir_verify
    except ImportError:
        ir_verify = None
    where = f" after pass {after!r}" if after else ""
    if ir_verify is not None:
        try:
            ir_verify(graph, after=after)
        except GraphError:
            raise
        except Exception as exc:
            raise GraphError(f"graph verification failed{where}: {exc}") from exc
        return
    input_ids = {n.id for n in graph.inputs}
    for n in graph.nodes:
        if n.id in input_ids:
            continue
        t = infer_type(n.op, n.inputs, n.attrs, n.loc)
        if t != n.type:
            raise GraphError(f"graph verification failed{where}: {n!r} has type {n.type}, its inputs give {t}")


def _named(passes: Sequence[tuple[str, Pass] | Pass] | None) -> list[tuple[str, Pass]]:
    out = []
    for p in PASSES if passes is None else passes:
        if isinstance(p, tuple):
            out.append(p)
        else:
            out.append((getattr(p, "__name__", type(p).__name__), p))
    return out


def run_pipeline_traced(graph: Graph, passes: Sequence[tuple[str, Pass] | Pass] | None = None,
                        verify: bool | None = None) -> list[tuple[str, Graph]]:
    """The graph after each pass, as (pass name, graph); the first entry is ("input", graph)."""
    check = verify_enabled(verify)
    if check:
        check_graph(graph, "input")
    trace = [("input", graph)]
    for name, fn in _named(passes):
        graph = fn(graph)
        if check:
            check_graph(graph, name)
        trace.append((name, graph))
    return trace


def run_pipeline(graph: Graph, passes: Sequence[tuple[str, Pass] | Pass] | None = None,
                 verify: bool | None = None) -> Graph:
    """Optimise `graph` with `passes` (default: `PASSES`), in order."""
    return run_pipeline_traced(graph, passes, verify)[-1][1]
