"""Graph interpreter over the registry's reference functions."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from graphflow.backends.base import Backend, Executable
from graphflow.errors import GraphError, GraphflowError
from graphflow.ir.graph import Attrs, Graph, Node, TensorType
from graphflow.ir.ops.source import RunContext
from graphflow.ir.registry import OpDef
from graphflow.ir.shapes import fmt
from graphflow.ir.symbolic import Sym, contains_symbol, substitute


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
    expected = _concrete(out.shape, ctx.bindings if ctx is not None else {})
    if expected is not None and result.shape != expected:
        # infer and reference disagree: a bug in the op's definition, never the user's
        raise GraphError(f"{op.name}: reference produced shape {fmt(result.shape)} but infer gave "
                         f"{fmt(out.shape)}")
    return result


def _concrete(shape: Sequence, bindings: dict[str, int]) -> tuple[int, ...] | None:
    """The shape with its symbols bound, or None when some symbol is unbound."""
    out = []
    for d in shape:
        if isinstance(d, Sym):
            try:
                d = d.evaluate(bindings)
            except KeyError:
                return None
        out.append(d)
    return tuple(out)


def _where(node: Node) -> str:
    return f" (created at {node.loc})" if node.loc else ""


def _label(node: Node) -> str:
    """How errors name a graph input: its node name, a placeholder's name, or its op."""
    if node.name:
        return node.name
    return node.attrs["name"] if node.op.name == "input" else f"%{node.id} ({node.op.name})"


def bind_symbols(node: Node, shape: tuple[int, ...], bindings: dict[str, int]) -> None:
    """Bind the symbols of an input's declared shape from the shape of the value fed to it, and
    check the sizes it must agree with (a symbol bound by an earlier input, or a fixed size)."""
    label = _label(node)
    declared = node.type.shape
    if len(shape) != len(declared):
        raise GraphError(f"input {label!r} expects shape {fmt(declared)}, got {fmt(shape)}{_where(node)}")
    for d, actual in zip(declared, shape):
        if isinstance(d, Sym) and d.coeff == 1 and d.factors[0][1] == 1 and len(d.factors) == 1:
            atom = d.factors[0][0]
            if bindings.setdefault(atom, actual) == actual:
                continue
        expected = _concrete((d,), bindings)
        if expected is not None and expected[0] != actual:
            raise GraphError(f"input {label!r} expects shape {fmt(_concrete(declared, bindings) or declared)}, "
                             f"got {fmt(shape)}{_where(node)}")


class NumpyExecutable(Executable):
    """Runs a graph node by node; each intermediate value is dropped right after its last use."""

    def __init__(self, graph: Graph):
        self.graph = graph
        input_pos = {n.id: k for k, n in enumerate(graph.inputs)}
        last_use: dict[int, int] = {}
        for pos, n in enumerate(graph.nodes):
            if n.id not in input_pos:
                for i in n.inputs:
                    last_use[i.id] = pos
        keep = {o.id for o in graph.outputs}
        # (node, position among the graph inputs or None, ids whose last reader this node is,
        #  whether its attributes hold symbolic sizes to bind at run time)
        self._steps: list[tuple[Node, int | None, list[int], bool]] = []
        for pos, n in enumerate(graph.nodes):
            free = [] if n.id in input_pos else [
                i.id for i in {i.id: i for i in n.inputs}.values() if last_use.get(i.id) == pos and i.id not in keep]
            symbolic = any(contains_symbol(v) for v in n.attrs.values())
            self._steps.append((n, input_pos.get(n.id), free, symbolic))
        self.peak_live = 0  # most values held at once during the last run (memory check in tests)

    def run(self, inputs: Sequence[np.ndarray], state: dict | None = None,
            bindings: dict[str, int] | None = None) -> list[np.ndarray]:
        graph = self.graph
        if len(inputs) != len(graph.inputs):
            raise GraphError(f"graph takes {len(graph.inputs)} inputs, got {len(inputs)}")
        bound = dict(bindings or {})
        fed = [self._check_input(node, value, bound) for node, value in zip(graph.inputs, inputs)]
        ctx = RunContext(state=state if state is not None else {}, bindings=bound)
        values: dict[int, np.ndarray] = {}
        peak = 0
        for node, input_pos, free, symbolic in self._steps:
            if input_pos is not None:
                values[node.id] = fed[input_pos]
                continue
            args = [values[i.id] for i in node.inputs]
            try:
                attrs = _bind_attrs(node, bound) if symbolic else node.attrs
                values[node.id] = evaluate(node.op, args, attrs, node.type, ctx)
            except GraphflowError as exc:
                msg = str(exc) if str(exc).startswith(node.op.name) else f"{node.op.name}: {exc}"
                raise type(exc)(msg + _where(node)) from None
            except (ValueError, IndexError, ZeroDivisionError, KeyError, TypeError) as exc:
                raise type(exc)(f"{node.op.name}: {exc}{_where(node)}") from None
            peak = max(peak, len(values))
            for fid in free:
                del values[fid]
        self.peak_live = peak
        held = list(fed) + list(ctx.state.values())
        results: list[np.ndarray] = []
        for o in graph.outputs:
            results.append(_owned(values[o.id], held))
            held.append(results[-1])  # the same node listed twice gives two arrays
        return results

    @staticmethod
    def _check_input(node: Node, value: object, bindings: dict[str, int]) -> np.ndarray:
        arr = np.asarray(value)
        t = node.type
        if arr.dtype != t.dtype.np:
            raise GraphError(f"input {_label(node)!r} expects dtype {t.dtype.name}, got {arr.dtype}{_where(node)}")
        bind_symbols(node, arr.shape, bindings)
        return arr


def _bind_attrs(node: Node, bindings: dict[str, int]) -> Attrs:
    """The node's attributes with the run's sizes in place of symbols (a graph that was not
    specialised before compiling still runs here)."""
    try:
        return Attrs({k: substitute(v, bindings) for k, v in node.attrs.items()})
    except KeyError as exc:
        raise GraphError(f"the size {exc.args[0]} is not bound: feed the input that defines it, or pass "
                         "bindings") from None


def _owned(result: np.ndarray, held: list[np.ndarray]) -> np.ndarray:
    """An output the caller may keep and modify: copy values that are read-only (constants,
    broadcasts) or share memory with an input or a variable."""
    if not result.flags.writeable or any(np.may_share_memory(result, h) for h in held):
        return result.copy()
    return result


class NumpyBackend(Backend):
    """The reference backend: always available, runs any graph of registered primitives."""

    name = "numpy"

    def availability(self) -> tuple[bool, str]:
        return True, "available"

    def compile(self, graph: Graph) -> NumpyExecutable:
        return NumpyExecutable(graph)

    def run_op(self, op: OpDef, inputs: Sequence[np.ndarray], attrs: Attrs, out: TensorType) -> np.ndarray:
        return evaluate(op, inputs, attrs, out)

    def reference_below(self, op: OpDef) -> int:
        return sys.maxsize  # the reference is all this backend runs


BACKEND = NumpyBackend()
