"""Symbolic tensors of the static front end, operations without a value (`group`, `no_op`),
and the handler through which every op on them enters the graph."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from graphflow.errors import GraphError
from graphflow.ir import source
from graphflow.ir.bind import make_node
from graphflow.ir.dtypes import DType
from graphflow.ir.graph import Node
from graphflow.ir.registry import OpDef, get_op
from graphflow.ir.shapes import fmt
from graphflow.ops.methods import TensorMethods
from graphflow.static.graph import Graph, display_name

_op_ids = itertools.count()


class Tensor(TensorMethods):
    """A value of a static graph: the output of one node. Every op of the eager API accepts it
    and returns another `Tensor`; nothing is computed until a `Session` runs it."""

    __slots__ = ("node", "graph")

    def __init__(self, node: Node, graph: Graph):
        self.node = node
        self.graph = graph

    @property
    def _gf_handler(self) -> StaticHandler:
        return self.graph.handler

    @property
    def shape(self) -> tuple:
        return self.node.shape

    def get_shape(self) -> tuple:
        return self.node.shape

    @property
    def dtype(self) -> DType:
        return self.node.dtype

    @property
    def name(self) -> str:
        return f"{self.node.name}:0"

    @property
    def op_name(self) -> str:
        return self.node.name or ""

    def eval(self, feed_dict: dict | None = None, session: Any = None) -> Any:
        from graphflow.static.session import default_session

        return (session or default_session()).run(self, feed_dict)

    def __bool__(self) -> bool:
        raise TypeError(f"the truth value of the symbolic tensor {self.name!r} is not known while the graph "
                        "is declared; use a Session to compute it, or where() to choose by value")

    def __index__(self) -> int:
        raise TypeError(f"the symbolic tensor {self.name!r} has no value while the graph is declared")

    def __repr__(self) -> str:
        return f"<static.Tensor {self.name!r} shape={fmt(tuple(self.shape))} dtype={self.dtype.name}>"


class Operation:
    """A node without a value (`no_op`, `group`, an initializer, `minimize`): running it runs its
    control inputs; fetching it returns None."""

    def __init__(self, graph: Graph, name: str, control_inputs: tuple[Any, ...], loc: Any = None):
        self.graph = graph
        self.name = name
        self.control_inputs = tuple(control_inputs)
        self.loc = loc
        self.id = next(_op_ids)

    def run(self, feed_dict: dict | None = None, session: Any = None) -> None:
        from graphflow.static.session import default_session

        (session or default_session()).run(self, feed_dict)

    def __repr__(self) -> str:
        return f"<static.Operation {self.name!r} ({len(self.control_inputs)} control inputs)>"


def as_control(graph: Graph, c: Any) -> Any:
    """Normalise a control dependency: a Tensor's node, an Operation, a Variable's read."""
    from graphflow.static.variables import Variable

    if isinstance(c, Tensor):
        _check_graph(graph, c.graph, c.name)
        return c.node
    if isinstance(c, Operation):
        _check_graph(graph, c.graph, c.name)
        return c
    if isinstance(c, Variable):
        return c.read_node()
    if isinstance(c, Node):
        return c
    raise TypeError(f"control dependency must be a Tensor or an Operation, got {type(c).__name__}")


def _check_graph(graph: Graph, other: Graph, name: str) -> None:
    if other is not graph:
        raise GraphError(f"{name!r} belongs to another graph than the one being built")


def eager_array(x: Any) -> np.ndarray:
    """The value of an eager tensor (or anything array-like) as a NumPy array."""
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "numpy"):
        return np.array(x.numpy(), copy=True)
    return np.asarray(x)


class StaticHandler:
    """`bind`'s handler for static tensors: converts the operands to nodes of its graph, builds the
    node under the current name scope and control dependencies, and wraps it as a `Tensor`."""

    level = 2

    def __init__(self, graph: Graph):
        self.graph = graph

    def to_node(self, x: Any) -> Node:
        from graphflow.static.variables import Variable

        if isinstance(x, Tensor):
            _check_graph(self.graph, x.graph, x.name)
            return x.node
        if isinstance(x, Variable):
            _check_graph(self.graph, x.graph, x.name)
            return x.read_node()
        if isinstance(x, Node):
            return x
        # eager tensors, arrays and numbers mixed into a static graph are constants
        return self.constant(eager_array(x)).node

    def add_node(self, op: OpDef, inputs: tuple[Node, ...], attrs: dict[str, Any],
                 name: str | None = None) -> Node:
        graph = self.graph
        if graph.finalized:
            raise GraphError("the graph is finalized and cannot be modified")
        name = graph.unique_name(name or display_name(op.name))
        node = make_node(op, inputs, attrs, name=name, loc=source.capture())
        deps = graph.current_control_inputs()
        if deps:
            graph.control_inputs[node.id] = deps
        return node

    def bind(self, op: OpDef, inputs: tuple[Any, ...], attrs: dict[str, Any]) -> Tensor:
        nodes = tuple(self.to_node(x) for x in inputs)
        return self.wrap(self.add_node(op, nodes, attrs))

    def wrap(self, node: Node) -> Tensor:
        t = Tensor(node, self.graph)
        self.graph.register(node.name, t)
        return t

    def random_key(self, seed: int | None = None) -> Tensor:
        """An int64 key that differs for every random op and every run: the graph's seed
        placeholder (fed by the session with its run count) plus a salt per op."""
        from graphflow.ir.dtypes import int64

        g = self.graph
        if g._seed is None:
            with g.name_scope(None), g.control_dependencies(None):
                node = self.add_node(get_op("input"), (), {"name": "random_seed", "dtype": int64, "shape": ()},
                                     name="random_seed")
                g._seed = self.wrap(node)
        g._random_ops += 1
        salt = (seed if seed is not None else g._random_ops) << 32
        return self.bind(get_op("add"), (g._seed, self.constant(np.asarray(salt, dtype=np.int64))), {})

    def constant(self, array: Any, name: str | None = None) -> Tensor:
        from graphflow.ir.ops.source import ConstValue

        return self.wrap(self.add_node(get_op("constant"), (), {"value": ConstValue(np.asarray(array))},
                                       name=name or "Const"))
