"""The tape: IR nodes that hold their realised values.

An eager op that must be differentiated records a `TapeNode` (a graph `Node` plus the array it
produced and the version of the tensor that holds it). The inputs of a tape node are the tape
nodes of its input tensors; leaves are `input` nodes. `backward()` hands these nodes to
`graphflow.autodiff`, so no gradient is derived here."""

from __future__ import annotations

import itertools
import sys
import weakref
from typing import Any

import numpy as np

from graphflow.ir.graph import Attrs, Node, TensorType
from graphflow.ir.registry import get_op
from graphflow.ir.source import SourceLoc, _is_internal

INPUT_OP = get_op("input")
# structure ids: one per op signature (op, input types, attributes) and per leaf kind; a tape's
# structure is the tuple of its nodes' ids and wiring, the key of the cached backward plans
SIG_IDS = itertools.count(1)


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
    reference to the tensor whose `.grad` receives the gradient (also set on an inner node by
    `retain_grad()`). `sig` is the node's structure id (see `SIG_IDS`)."""

    __slots__ = ("value", "vc", "version", "rg", "leaf", "sig")

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
    sig: int

    @property
    def is_leaf(self) -> bool:
        return not self.inputs and self.op is INPUT_OP


_TAPE_FIELDS = frozenset(TapeNode.__slots__)
_LEAF_ATTRS: dict[tuple, tuple[Attrs, TensorType, int, int]] = {}
_set = object.__setattr__


def leaf_node(tensor: Any, rg: bool) -> TapeNode:
    """An `input` node standing for the current value of a tensor without history."""
    data = tensor._data
    key = (tensor._dtype, data.shape)
    entry = _LEAF_ATTRS.get(key)
    if entry is None:
        attrs = Attrs({"name": "leaf", "dtype": tensor._dtype, "shape": data.shape})
        entry = _LEAF_ATTRS[key] = (attrs, TensorType(tensor._dtype, data.shape), next(SIG_IDS), next(SIG_IDS))
    node = TapeNode(INPUT_OP, (), entry[0], entry[1])
    vc = tensor._vc
    if vc is None:
        vc = tensor._vc = VersionCounter()
    _set(node, "value", data)
    _set(node, "vc", vc)
    _set(node, "version", vc.version)
    _set(node, "rg", rg)
    _set(node, "leaf", weakref.ref(tensor) if rg else None)
    _set(node, "sig", entry[3] if rg else entry[2])
    return node


_INTERNAL: dict[Any, bool] = {}
_LOCS: dict[tuple, SourceLoc] = {}


def user_loc(skip: int = 2) -> SourceLoc | None:
    """The innermost frame outside the graphflow package (as `graphflow.ir.source.capture`),
    with the per-code-object test and the location objects cached: it runs on every recorded op."""
    frame = sys._getframe(skip)
    internal = _INTERNAL
    while frame is not None:
        code = frame.f_code
        inside = internal.get(code)
        if inside is None:
            if len(internal) > 50000:
                internal.clear()
            inside = internal[code] = _is_internal(code.co_filename)
        if not inside:
            key = (code, frame.f_lineno)
            loc = _LOCS.get(key)
            if loc is None:
                if len(_LOCS) > 50000:
                    _LOCS.clear()
                loc = _LOCS[key] = SourceLoc(code.co_filename, frame.f_lineno, code.co_name)
            return loc
        frame = frame.f_back
    return None


def op_label(node: Node) -> str:
    where = f" (created at {node.loc})" if node.loc else ""
    return f"`{node.op.name}`{where}"
