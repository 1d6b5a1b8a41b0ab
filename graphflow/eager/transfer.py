"""Differentiable copies between devices (`to("cuda")`, `.cpu()`, `to(device, dtype)`).

A gradient graph runs on one backend, so a copy is where one device's part of the tape ends: the
copy's result gets a `to_copy` tape node without inputs (a leaf for that device's gradient graph)
whose `leaf` is a `Hop` naming the source's tape node and device. `backward()` computes the
gradient reaching each hop with the rest of that device's tape, moves it to the source device
(the copy's gradient is the identity) and continues from the source node there, until no hop is
left (`graphflow.eager.engine`)."""

from __future__ import annotations

import itertools
import weakref
from typing import Any

from graphflow.eager.tape import SIG_IDS, TapeNode, VersionCounter, user_loc
from graphflow.ir.graph import Attrs, TensorType
from graphflow.ir.registry import NOT_DIFFERENTIABLE, OpDef


def _identity(arrays: list, attrs: Any) -> Any:
    return arrays[0]


# not a registered primitive: it never enters a graph (gradient graphs read its value as an input)
COPY_OP = OpDef("to_copy", "movement", lambda types, attrs: types[0], _identity, NOT_DIFFERENTIABLE, arity=0,
                doc="a copy between devices on eager mode's tape")
_SIGS: dict[tuple, int] = {}
_set = object.__setattr__
_counter = itertools.count()


class Hop:
    """Where a device copy's gradient goes next: `src` (the source's tape node) on `device`
    (None: the CPU). `retained` is set by `retain_grad()` on the copy. Calling it returns itself,
    as `TapeNode.leaf` is called to reach a leaf's tensor."""

    __slots__ = ("src", "device", "retained")

    def __init__(self, src: TapeNode, device: Any):
        self.src = src
        self.device = device
        self.retained: Any = None

    def __call__(self) -> Hop:
        return self

    def retain(self, tensor: Any) -> None:
        self.retained = weakref.ref(tensor)


def record(out: Any, src_node: TapeNode, src_device: Any) -> None:
    """Make `out` (a copy of a tensor whose tape node is `src_node`) differentiable."""
    dtype, shape = out._dtype, tuple(out._data.shape)
    key = (dtype, shape, str(src_device), str(out._device))
    sig = _SIGS.get(key)
    if sig is None:
        if len(_SIGS) > 10000:
            _SIGS.clear()
        sig = _SIGS[key] = next(SIG_IDS)
    attrs = Attrs({"dtype": dtype, "shape": shape, "source": str(src_device or "cpu")})
    node = TapeNode(COPY_OP, (), attrs, TensorType(dtype, shape), loc=user_loc(3))
    vc = VersionCounter()
    _set(node, "value", out._data)
    _set(node, "vc", vc)
    _set(node, "version", 0)
    _set(node, "rg", True)
    _set(node, "leaf", Hop(src_node, src_device))
    _set(node, "sig", sig)
    out._node = node
    out._vc = vc
    out._rg = True
