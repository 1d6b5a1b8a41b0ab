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
           "bias_add", "l2_loss"]


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
    return F.cross_entropy(_last_axis_first(x, axis), _last_axis_first(t, axis), reduction="none")


softmax_cross_entropy_with_logits_v2 = softmax_cross_entropy_with_logits


def sparse_softmax_cross_entropy_with_logits(labels: Any = None, logits: Any = None,
                                             name: str | None = None) -> Any:
    """Per-example cross entropy between integer class `labels` and `logits` (classes last)."""
    if labels is None or logits is None:
        raise TypeError("sparse_softmax_cross_entropy_with_logits: pass labels= and logits= by keyword")
    x = as_value(logits)
    return F.cross_entropy(_last_axis_first(x, -1), as_value(labels, like=x), reduction="none")


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
