"""The shared op graph: dtypes, shapes, the op registry, `bind`, `Graph`/`Node`."""

from graphflow.ir.bind import bind, make_node
from graphflow.ir.graph import Attrs, Graph, Node, TensorType, toposort
from graphflow.ir.registry import NOT_DIFFERENTIABLE, OpDef, all_ops, get_op

__all__ = ["bind", "make_node", "Attrs", "Graph", "Node", "TensorType", "toposort",
           "NOT_DIFFERENTIABLE", "OpDef", "all_ops", "get_op"]
