"""The tape: IR nodes that hold their realised values.

An eager op that must be differentiated records a `TapeNode` (a graph `Node` plus the array it
produced and the version of the tensor that holds it). The inputs of a tape node are the tape
nodes of its input tensors; leaves are `input` nodes. `backward()` hands these nodes to
`graphflow.autodiff`, so no gradient is derived here."""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from graphflow.ir.graph import Attrs, Node, TensorType
from graphflow.ir.registry import get_op

INPUT_OP = get_op("input")


class VersionCounter:
    """Counts in-place writes to one buffer; shared by tensors that share it (detach, views)."""

    __slots__ = ("version", "last_op")

    def __init__(self) -> None:
        self.version = 0
        self.last_op = ""

    def bump(self, op: str) -> None:
        self.version += 1
        self.last_op = op


class TapeNode(Node):
    """A node of eager mode's tape: `value` is the array the op produced (None once freed by a
    backward pass without `retain_graph`), `vc`/`version` detect in-place changes to it, `rg`
    tells whether a gradient flows through it, and `leaf` (for leaves requiring grad) is a weak
    reference to the tensor whose `.grad` receives the gradient."""

    __slots__ = ("value", "vc", "version", "rg", "leaf")

    def __setattr__(self, key: str, value: Any) -> None:
        # the graph structure stays immutable; only the tape's bookkeeping changes
        if key in _TAPE_FIELDS:
            object.__setattr__(self, key, value)
        else:
            Node.__setattr__(self, key, value)

    value: np.ndarray | None
    vc: VersionCounter
    version: int
    rg: bool
    leaf: Any

    @property
    def is_leaf(self) -> bool:
        return not self.inputs and self.op is INPUT_OP


_TAPE_FIELDS = frozenset(TapeNode.__slots__)
_LEAF_ATTRS: dict[tuple, Attrs] = {}


def leaf_node(tensor: Any, rg: bool) -> TapeNode:
    """An `input` node standing for the current value of a tensor without history."""
    data = tensor._data
    type_ = TensorType(tensor._dtype, data.shape)
    key = (tensor._dtype, data.shape)
    attrs = _LEAF_ATTRS.get(key)
    if attrs is None:
        attrs = _LEAF_ATTRS[key] = Attrs({"name": "leaf", "dtype": tensor._dtype, "shape": data.shape})
    node = TapeNode(INPUT_OP, (), attrs, type_)
    vc = tensor._vc
    if vc is None:
        vc = tensor._vc = VersionCounter()
    node.value = data
    node.vc = vc
    node.version = vc.version
    node.rg = rg
    node.leaf = weakref.ref(tensor) if rg else None
    return node


def op_label(node: Node) -> str:
    where = f" (created at {node.loc})" if node.loc else ""
    return f"`{node.op.name}`{where}"
