"""The shared op graph: dtypes, shapes, the op registry, `bind`, `Graph`/`Node`, the verifier."""

from graphflow.ir.bind import bind, make_node
from graphflow.ir.graph import Attrs, Graph, Node, TensorType, toposort
from graphflow.ir.registry import NOT_DIFFERENTIABLE, OpDef, all_ops, get_op
from graphflow.ir.verify import maybe_verify, verify, verify_enabled

__all__ = ["bind", "make_node", "Attrs", "Graph", "Node", "TensorType", "toposort",
           "NOT_DIFFERENTIABLE", "OpDef", "all_ops", "get_op", "verify", "verify_enabled", "maybe_verify"]
