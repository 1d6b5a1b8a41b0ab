"""Specialising a graph with symbolic sizes to concrete shapes.

Static placeholders declared with `None` dims give shapes that contain `Sym`s. Backends only see
concrete shapes, so before a graph is compiled `bind_symbols` reads the sizes from the values
actually fed, and `specialize` rebuilds the graph with every symbol replaced: symbolic attributes
(`broadcast_to`/`reshape`/`iota`/random shapes, slice bounds, pad widths) are evaluated,
`sym_size` nodes become constants, and every rebuilt node's type is inferred again, so a size
that turns out not to fit (broadcasting 3 against 5) is reported at the line that built the op.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from graphflow.errors import ShapeError
from graphflow.ir.bind import infer_type
from graphflow.ir.graph import Attrs, Graph, Node, TensorType
from graphflow.ir.registry import get_op
from graphflow.ir.shapes import fmt
from graphflow.ir.symbolic import Sym, contains_symbol, substitute

__all__ = ["specialize", "bind_symbols", "is_symbolic_graph"]


def _attrs_symbolic(attrs: Attrs) -> bool:
    return any(contains_symbol(v) for v in attrs.values())


def _substitute_attrs(attrs: Attrs, bindings: dict[str, int]) -> Attrs:
    return Attrs({k: substitute(v, bindings) for k, v in attrs.items()})


def is_symbolic_graph(graph: Graph) -> bool:
    """True when some node's shape or attributes still contain a symbolic size."""
    return any(contains_symbol(tuple(n.shape)) or _attrs_symbolic(n.attrs) for n in graph.nodes)


def _unbound(node: Node, exc: KeyError) -> ShapeError:
    where = f" (created at {node.loc})" if node.loc else ""
    return ShapeError(f"{node.op.name}: the symbolic size {exc.args[0]} of {node.describe()} is not "
                      f"bound by any fed value{where}")


def specialize(graph: Graph, bindings: dict[str, int]) -> Graph:
    """A copy of `graph` with every symbolic size evaluated under `bindings`.

    Nodes that neither hold a symbol nor read a rebuilt node are reused as they are (so a graph
    without symbols comes back unchanged). Names and source locations are kept. The walk is
    iterative (`graph.nodes` is a topological order)."""
    sym_size = get_op("sym_size")
    constant = get_op("constant")
    from graphflow.ir.ops.source import ConstValue

    input_ids = {n.id for n in graph.inputs}
    new: dict[int, Node] = {}
    for node in graph.nodes:
        inputs = () if node.id in input_ids else tuple(new[i.id] for i in node.inputs)
        changed_inputs = any(a is not b for a, b in zip(inputs, node.inputs))
        symbolic = _attrs_symbolic(node.attrs) or contains_symbol(tuple(node.shape))
        if not changed_inputs and not symbolic:
            new[node.id] = node
            continue
        try:
            if node.op is sym_size:
                expr = node.attrs["expr"]
                value = expr.evaluate(bindings) if isinstance(expr, Sym) else expr
                arr = np.asarray(value, dtype=node.attrs["dtype"].np)
                attrs = Attrs({"value": ConstValue(arr)})
                new[node.id] = Node(constant, (), attrs, TensorType(node.dtype, ()), loc=node.loc, name=node.name)
                continue
            attrs = _substitute_attrs(node.attrs, bindings) if symbolic else node.attrs
        except KeyError as exc:
            raise _unbound(node, exc) from None
        if node.id in input_ids and node.op.name != "input":
            # a leaf of the graph that is not an `input` op (a realised value): only its type changes
            try:
                shape = substitute(tuple(node.shape), bindings)
            except KeyError as exc:
                raise _unbound(node, exc) from None
            type_ = TensorType(node.dtype, shape)
        else:
            type_ = infer_type(node.op, inputs, attrs, node.loc)
        new[node.id] = Node(node.op, inputs, attrs, type_, loc=node.loc, name=node.name)
    # inputs the outputs do not read are not in graph.nodes: only their types change (a fed value
    # that binds a size the outputs use, checked against its specialised shape like any input)
    return Graph([new[o.id] for o in graph.outputs], [new.get(i.id) or _unread_input(i, bindings)
                                                      for i in graph.inputs])


def _unread_input(node: Node, bindings: dict[str, int]) -> Node:
    if not contains_symbol(tuple(node.shape)):
        return node
    try:
        shape = substitute(tuple(node.shape), bindings)
        attrs = _substitute_attrs(node.attrs, bindings)
    except KeyError as exc:
        raise _unbound(node, exc) from None
    return Node(node.op, (), attrs, TensorType(node.dtype, shape), loc=node.loc, name=node.name)


def _label(node: Node) -> str:
    name = node.attrs.get("name") if node.op.name == "input" else None
    return repr(name or node.name or node.op.name)


def _mismatch(node: Node, got: Sequence[int], why: str) -> ShapeError:
    where = f" (created at {node.loc})" if node.loc else ""
    return ShapeError(f"{node.op.name} {_label(node)}: expects shape {fmt(tuple(node.shape))}, was fed "
                      f"shape {fmt(tuple(got))}: {why}{where}")


def bind_symbols(input_nodes: Sequence[Node], arrays: Sequence[Any]) -> dict[str, int]:
    """Bind the symbols in the input nodes' shapes from the shapes of the values fed to them.

    A symbol standing alone in a dimension (`s0`) is bound from that dimension; dimensions that
    are products of symbols (`784*s0`) or integers are checked once all symbols are known.
    A rank or size mismatch, or two values giving one symbol different sizes, raises ShapeError
    naming the input, both shapes and the line that created it."""
    bindings: dict[str, int] = {}
    origin: dict[str, tuple[Node, tuple[int, ...]]] = {}
    deferred: list[tuple[Node, tuple[int, ...]]] = []
    for node, value in zip(input_nodes, arrays):
        got = tuple(int(d) for d in np.shape(value))
        want = tuple(node.shape)
        if len(got) != len(want):
            raise _mismatch(node, got, f"rank {len(got)} instead of {len(want)}")
        for axis, (d, g) in enumerate(zip(want, got)):
            if isinstance(d, Sym) and d.coeff == 1 and len(d.factors) == 1 and d.factors[0][1] == 1:
                atom = d.factors[0][0]
                if atom in bindings and bindings[atom] != g:
                    other, other_shape = origin[atom]
                    raise _mismatch(node, got, f"dimension {axis} is {g} but {_label(other)} was fed shape "
                                    f"{fmt(other_shape)}, which makes that size {bindings[atom]}")
                bindings[atom] = g
                origin.setdefault(atom, (node, got))
            elif isinstance(d, Sym):
                deferred.append((node, got))
            elif d != g:
                raise _mismatch(node, got, f"dimension {axis} is {g} instead of {d}")
    for node, got in deferred:
        for axis, (d, g) in enumerate(zip(tuple(node.shape), got)):
            if not isinstance(d, Sym):
                continue
            try:
                value = d.evaluate(bindings)
            except KeyError:
                raise _mismatch(node, got, f"dimension {axis} ({d}) names a size no fed value binds") from None
            except ValueError as exc:
                raise _mismatch(node, got, str(exc)) from None
            if value != g:
                raise _mismatch(node, got, f"dimension {axis} should be {d} = {value}, is {g}")
    return bindings
