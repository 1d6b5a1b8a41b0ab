"""`graphflow.static.nn`: TF1's `tf.nn` names, as aliases of `graphflow.nn.functional` and the
functional op layer (one implementation for eager, static and traced code)."""

from __future__ import annotations

from typing import Any

from graphflow.nn import functional as F
from graphflow.ops import elementwise as E
from graphflow.ops import reductions as R
from graphflow.ops.values import as_value, cast

__all__ = ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "softmax_cross_entropy_with_logits",
           "softmax_cross_entropy_with_logits_v2", "sparse_softmax_cross_entropy_with_logits", "dropout",
           "bias_add", "l2_loss", "top_k"]


def relu(features: Any, name: str | None = None) -> Any:
    return E.relu(features)


def sigmoid(x: Any, name: str | None = None) -> Any:
    return E.sigmoid(x)


def tanh(x: Any, name: str | None = None) -> Any:
    return E.tanh(x)


def softmax(logits: Any, axis: int = -1, name: str | None = None) -> Any:
    return R.softmax(logits, axis)


def log_softmax(logits: Any, axis: int = -1, name: str | None = None) -> Any:
    return R.log_softmax(logits, axis)


def _last_axis_first(x: Any, axis: int) -> Any:
    # F.cross_entropy takes classes on dimension 1 (PyTorch); TF's default is the last axis
    from graphflow.ops.shape import movedim

    return x if x.ndim <= 2 and axis in (-1, x.ndim - 1) else movedim(x, axis, 1)


def softmax_cross_entropy_with_logits(labels: Any = None, logits: Any = None, axis: int = -1,
                                      name: str | None = None) -> Any:
    """Per-example cross entropy between class probabilities `labels` and `logits`."""
    if labels is None or logits is None:
        raise TypeError("softmax_cross_entropy_with_logits: pass labels= and logits= by keyword")
    x = as_value(logits)
    t = as_value(labels, like=x)
    if t.dtype.kind != "f":
        t = cast(t, x.dtype)
    t = _match_sizes(t, tuple(x.shape))
    return F.cross_entropy(_last_axis_first(x, axis), _last_axis_first(t, axis), reduction="none")


softmax_cross_entropy_with_logits_v2 = softmax_cross_entropy_with_logits


def _match_sizes(t: Any, shape: tuple) -> Any:
    """`t` seen with `shape` where the two differ only in symbolic sizes (two placeholders' batch
    sizes): a reshape whose type is taken on trust now and checked once the graph is specialised
    to the fed shapes (a mismatch then names the line that built it)."""
    from graphflow.ir.graph import Node, TensorType
    from graphflow.ir.registry import get_op
    from graphflow.ir.symbolic import Sym

    if tuple(t.shape) == tuple(shape) or len(t.shape) != len(shape) or not hasattr(t, "graph"):
        return t
    if any(a != b and not (isinstance(a, Sym) or isinstance(b, Sym)) for a, b in zip(t.shape, shape)):
        return t  # a real mismatch: let the op report it
    h = t.graph.handler
    src = h.to_node(t)
    node = h.add_node(get_op("reshape"), (src,), {"shape": tuple(src.shape)})
    node = Node(node.op, node.inputs, node.attrs.replace(shape=tuple(shape)), TensorType(src.dtype, tuple(shape)),
                loc=node.loc, name=node.name)
    return h.wrap(node)


def sparse_softmax_cross_entropy_with_logits(labels: Any = None, logits: Any = None,
                                             name: str | None = None) -> Any:
    """Per-example cross entropy between integer class `labels` and `logits` (classes last)."""
    if labels is None or logits is None:
        raise TypeError("sparse_softmax_cross_entropy_with_logits: pass labels= and logits= by keyword")
    x = as_value(logits)
    t = _match_sizes(as_value(labels, like=x), tuple(x.shape[:-1]))
    return F.cross_entropy(_last_axis_first(x, -1), t, reduction="none")


def dropout(x: Any, keep_prob: float | None = None, noise_shape: Any = None, seed: int | None = None,
            name: str | None = None, rate: float | None = None) -> Any:
    """Zero each element with probability `rate` (or 1 - keep_prob), scale the rest by 1/(1-rate);
    a fresh mask on every run."""
    if rate is None:
        if keep_prob is None:
            raise TypeError("dropout: pass rate= (or keep_prob=)")
        rate = 1.0 - keep_prob
    x = as_value(x)
    key = None
    if seed is not None:
        key = x._gf_handler.random_key(seed) if hasattr(x, "_gf_handler") else seed
    return F.dropout(x, p=rate, training=True, key=key)


def bias_add(value: Any, bias: Any, name: str | None = None) -> Any:
    return E.add(value, bias)


def l2_loss(t: Any, name: str | None = None) -> Any:
    """sum(t ** 2) / 2"""
    return E.mul(R.sum(E.square(t)), 0.5)


def top_k(input: Any, k: int = 1, sorted: bool = True, name: str | None = None) -> Any:  # noqa: A002
    """tf.nn.top_k: the k largest entries along the last dimension and their int32 indices."""
    from graphflow.static.scans import top_k as _top_k

    return _top_k(input, k, sorted)
