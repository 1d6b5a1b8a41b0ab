"""`gf.static.explain(fetches, feed_dict)`: what the optimiser and the backend make of one
`Session.run`: the run's pruned, pure graph (see `lowering`), specialised to the fed shapes, after
each pass, its kernels and their generated code (`graphflow.passes.explain.explain_graph`)."""

from __future__ import annotations

from typing import Any

from graphflow.ir.specialize import bind_symbols, specialize
from graphflow.passes.explain import ExplainReport, explain_graph
from graphflow.static.executor import cpu_backend_name
from graphflow.static.graph import get_default_graph

__all__ = ["explain"]


def _graph_of(fetches: Any) -> Any:
    stack = [fetches]
    while stack:
        f = stack.pop()
        if isinstance(f, dict):
            stack.extend(f.values())
        elif isinstance(f, (list, tuple)):
            stack.extend(f)
        elif hasattr(f, "graph") and hasattr(f.graph, "tensor_feeds"):
            return f.graph
    return get_default_graph()


def explain(fetches: Any, feed_dict: dict | None = None, backend_name: str | None = None,
            session: Any = None) -> ExplainReport:
    """The report for `session.run(fetches, feed_dict)` without running it. Placeholders whose
    shape has a None size must be fed (the value gives the size; any values do); others default
    to zeros. Variables need no initialisation. The code shown is the current CPU backend's
    (`gf.set_backend`), or `backend_name`'s."""
    from graphflow.static.session import Session

    sess = session if session is not None else Session(_graph_of(fetches))
    _, _, plan, arrays = sess._prepare(fetches, feed_dict, shapes_only=True)
    concrete = specialize(plan.graph, bind_symbols(plan.graph.inputs, arrays))
    return explain_graph(concrete, backend_name or cpu_backend_name())
