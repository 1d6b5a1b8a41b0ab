"""Graph interpreter over the registry's reference functions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graphflow.backends.base import Backend, Executable
from graphflow.errors import GraphError, GraphflowError
from graphflow.ir.graph import Attrs, Graph, TensorType
from graphflow.ir.ops.source import RunContext
from graphflow.ir.registry import OpDef
from graphflow.ir.shapes import fmt


def evaluate(op: OpDef, arrays: Sequence[np.ndarray], attrs: Attrs, out: TensorType,
             ctx: RunContext | None = None) -> np.ndarray:
    """Run one op's reference and return an array of exactly the inferred dtype and shape."""
    if op.needs_context:
        result = op.reference(arrays, attrs, ctx if ctx is not None else RunContext())
    else:
        result = op.reference(arrays, attrs)
    result = np.asarray(result)
    if result.dtype != out.dtype.np:
        result = result.astype(out.dtype.np)
    return result


class NumpyExecutable(Executable):
    def __init__(self, graph: Graph):
        self.graph = graph
        input_ids = {n.id: k for k, n in enumerate(graph.inputs)}
        users = graph.users()
        self._steps = []  # (node, input slots, position of graph input or None, ids to free after)
        last_use: dict[int, int] = {}
        for pos, n in enumerate(graph.nodes):
            if n.id not in input_ids:
                for i in n.inputs:
                    last_use[i.id] = pos
        keep = {o.id for o in graph.outputs}
        for pos, n in enumerate(graph.nodes):
            free = [] if n.id in input_ids else [
                i.id for i in set(n.inputs) if last_use.get(i.id) == pos and i.id not in keep]
            self._steps.append((n, input_ids.get(n.id), free))
        del users

    def run(self, inputs: Sequence[np.ndarray], state: dict | None = None,
            bindings: dict[str, int] | None = None) -> list[np.ndarray]:
        graph = self.graph
        if len(inputs) != len(graph.inputs):
            raise GraphError(f"graph takes {len(graph.inputs)} inputs, got {len(inputs)}")
        ctx = RunContext(state=state if state is not None else {}, bindings=bindings)
        values: dict[int, np.ndarray] = {}
        for node, input_pos, free in self._steps:
            if input_pos is not None:
                values[node.id] = _check_input(node, inputs[input_pos])
                continue
            args = [values[i.id] for i in node.inputs]
            try:
                values[node.id] = evaluate(node.op, args, node.attrs, node.type, ctx)
            except GraphflowError as exc:
                raise type(exc)(f"{node.op.name}: {exc}" + (f" (node created at {node.loc})" if node.loc else "")) from None
            except (ValueError, IndexError, ZeroDivisionError, KeyError) as exc:
                where = f" (node created at {node.loc})" if node.loc else ""
                raise type(exc)(f"{node.op.name}: {exc}{where}") from None
            for fid in free:
                values.pop(fid, None)
        return [values[o.id] for o in graph.outputs]


def _check_input(node, value) -> np.ndarray:
    arr = np.asarray(value)
    t = node.type
    if arr.dtype != t.dtype.np:
        raise GraphError(f"input {node.name or node.op.name} expects dtype {t.dtype.name}, got {arr.dtype}"
                         + (f" (created at {node.loc})" if node.loc else ""))
    if len(arr.shape) != len(t.shape) or any(isinstance(d, int) and d != a for d, a in zip(t.shape, arr.shape)):
        raise GraphError(f"input {node.name or node.op.name} expects shape {fmt(t.shape)}, got {fmt(arr.shape)}"
                         + (f" (created at {node.loc})" if node.loc else ""))
    return arr


class NumpyBackend(Backend):
    name = "numpy"

    def availability(self) -> tuple[bool, str]:
        return True, "available"

    def compile(self, graph: Graph) -> NumpyExecutable:
        return NumpyExecutable(graph)

    def run_op(self, op, inputs, attrs, out):
        return evaluate(op, inputs, attrs, out)


BACKEND = NumpyBackend()
