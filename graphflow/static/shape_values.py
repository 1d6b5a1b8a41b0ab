"""Shape arithmetic known while the graph is built: the value of a tensor computed only from
`tf.shape(...)` parts (sizes, including a placeholder's unknown ones) and constants, so TF1's
`tf.reshape(x, [tf.shape(x)[0], -1])` gets a static target shape with the symbolic size in it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from graphflow.ir.graph import Node


def _slice(node: Node, x: np.ndarray) -> np.ndarray:
    return node.op.reference([x], node.attrs)  # a NumPy view: works on object arrays


def _binary(fn: Callable[[Any, Any], Any]) -> Callable[[Node, np.ndarray, np.ndarray], np.ndarray]:
    return lambda node, a, b: np.vectorize(fn, otypes=[object])(a, b)


# op name -> how its value follows from its inputs' values (object arrays of ints and sizes)
_RULES: dict[str, Callable[..., np.ndarray | None]] = {
    "cast": lambda node, x: x,
    "reshape": lambda node, x: x.reshape(tuple(node.shape)),
    "broadcast_to": lambda node, x: np.broadcast_to(x, tuple(node.shape)),
    "slice": _slice,
    "concat": lambda node, *xs: np.concatenate(xs, axis=node.attrs["axis"]),
    "add": _binary(lambda a, b: a + b),
    "mul": _binary(lambda a, b: a * b),
}


def static_value(node: Node, depth: int = 64) -> np.ndarray | None:
    """The value of `node` as an object array of ints and symbolic sizes, or None when it
    depends on fed data (or on ops this does not follow)."""
    name = node.op.name
    if name == "constant":
        arr = node.attrs["value"].array
        return arr.astype(object) if arr.dtype.kind in "iu" else None
    if name == "sym_size":
        return np.array(node.attrs["expr"], dtype=object)
    if depth == 0:
        return None
    rule = _RULES.get(name)
    if rule is None:
        return None
    values = [static_value(i, depth - 1) for i in node.inputs]
    if any(v is None for v in values):
        return None
    try:
        return rule(node, *values)
    except (TypeError, ValueError):  # arithmetic a symbolic size does not represent (s0 + 1)
        return None
