"""`graphflow.static.nn`: TF1's `tf.nn` names, as aliases of `graphflow.nn.functional` and the
functional op layer (one implementation for eager, static and traced code)."""

from __future__ import annotations

from typing import Any

from graphflow.ir.dtypes import int64
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


__all__ += ["sigmoid_cross_entropy_with_logits", "weighted_cross_entropy_with_logits", "moments",
            "batch_normalization", "l2_normalize", "softplus", "elu", "leaky_relu", "relu6", "embedding_lookup",
            "in_top_k"]


def _labels_logits(op: str, labels: Any, logits: Any) -> tuple[Any, Any]:
    if labels is None or logits is None:
        raise TypeError(f"{op}: pass labels= and logits= by keyword")
    x = as_value(logits)
    z = as_value(labels, like=x)
    if z.dtype != x.dtype:
        z = cast(z, x.dtype)
    return z, x


def sigmoid_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None, logits: Any = None,
                                      name: str | None = None) -> Any:
    """Elementwise -z*log(sigmoid(x)) - (1-z)*log(1-sigmoid(x)), computed stably as TF does:
    max(x, 0) - x*z + log(1 + exp(-|x|))."""
    if _sentinel is not None:
        raise TypeError("sigmoid_cross_entropy_with_logits: pass labels= and logits= by keyword")
    z, x = _labels_logits("sigmoid_cross_entropy_with_logits", labels, logits)
    # where(x >= 0, ...) rather than relu/abs: the gradient at x = 0 is then sigmoid(0) - z, as TF's
    pos = E.ge(x, 0)
    relu_x = E.where(pos, x, E.mul(x, 0))
    neg_abs = E.where(pos, E.neg(x), x)
    return E.add(E.sub(relu_x, E.mul(x, z)), E.log1p(E.exp(neg_abs)))


def weighted_cross_entropy_with_logits(labels: Any = None, logits: Any = None, pos_weight: Any = None,
                                       name: str | None = None, targets: Any = None) -> Any:
    """sigmoid cross entropy with the positive term weighted by pos_weight, stably as TF:
    (1 - z)*x + (1 + (q - 1)*z) * (log(1 + exp(-|x|)) + max(-x, 0)). `targets` is TF1's name."""
    if pos_weight is None:
        raise TypeError("weighted_cross_entropy_with_logits: pass pos_weight=")
    z, x = _labels_logits("weighted_cross_entropy_with_logits", targets if labels is None else labels, logits)
    lw = E.add(E.mul(E.sub(pos_weight, 1), z), 1)
    soft = E.add(E.log1p(E.exp(E.neg(E.abs(x)))), E.relu(E.neg(x)))
    return E.add(E.mul(E.sub(1, z), x), E.mul(lw, soft))


def moments(x: Any, axes: Any, shift: Any = None, name: str | None = None, keep_dims: bool | None = None,
            keepdims: bool | None = None) -> tuple[Any, Any]:
    """(mean, variance) of x over `axes`, the population variance, as tf.nn.moments (whose
    variance treats the mean as a constant: the same gradient, since deviations sum to 0)."""
    from graphflow.static.ops import stop_gradient

    keep = bool(keepdims if keepdims is not None else keep_dims)
    x = as_value(x)
    axes = tuple(axes) if isinstance(axes, (list, tuple)) else (axes,)
    mean = R.mean(x, axes, True)
    variance = R.mean(E.square(E.sub(x, stop_gradient(mean))), axes, True)
    if not keep:
        from graphflow.ops.shape import squeeze

        mean, variance = squeeze(mean, axes), squeeze(variance, axes)
    return mean, variance


def batch_normalization(x: Any, mean: Any, variance: Any, offset: Any, scale: Any, variance_epsilon: float,
                        name: str | None = None) -> Any:
    """(x - mean) * scale / sqrt(variance + variance_epsilon) + offset (offset, scale may be None),
    in TF's form x * inv + (offset - mean * inv)."""
    inv = E.rsqrt(E.add(variance, variance_epsilon))
    if scale is not None:
        inv = E.mul(inv, scale)
    shift = E.neg(E.mul(mean, inv)) if offset is None else E.sub(offset, E.mul(mean, inv))
    return E.add(E.mul(x, cast(inv, as_value(x).dtype)), shift)


def l2_normalize(x: Any, axis: Any = None, epsilon: float = 1e-12, name: str | None = None, dim: Any = None) -> Any:
    """x / sqrt(max(sum(x ** 2, axis), epsilon)) (all axes by default; `dim` is TF1's old name)."""
    x = as_value(x)
    axis = dim if axis is None else axis
    if isinstance(axis, list):
        axis = tuple(axis)
    return E.mul(x, E.rsqrt(E.maximum(R.sum(E.square(x), axis, True), epsilon)))


def softplus(features: Any, name: str | None = None) -> Any:
    """log(1 + exp(features)), stably."""
    return E.softplus(features, 1.0, float("inf"))


def elu(features: Any, name: str | None = None) -> Any:
    return F.elu(features)


def leaky_relu(features: Any, alpha: float = 0.2, name: str | None = None) -> Any:
    return F.leaky_relu(features, alpha)


def relu6(features: Any, name: str | None = None) -> Any:
    return F.relu6(features)


def embedding_lookup(params: Any, ids: Any, partition_strategy: str = "mod", name: str | None = None,
                     validate_indices: bool = True, max_norm: float | None = None) -> Any:
    """Rows of `params` at `ids` (tf.gather on axis 0); a list of one tensor is that tensor."""
    from graphflow.static.ops import gather

    if isinstance(params, (list, tuple)):
        if len(params) != 1:
            raise NotImplementedError("embedding_lookup: sharded params (a list of several tensors) are not supported")
        params = params[0]
    if max_norm is not None:
        raise NotImplementedError("embedding_lookup: max_norm is not supported")
    return gather(params, ids)


def in_top_k(predictions: Any, targets: Any, k: int, name: str | None = None) -> Any:
    """Whether each target class is among the k largest predictions of its row (bool, shape
    [batch]); classes tied with the k-th largest all count as in the top k, as in TF."""
    from graphflow.ops.gathering import take_along_dim
    from graphflow.ops.shape import reshape

    p = as_value(predictions)
    t = _match_sizes(cast(as_value(targets, like=p), int64), tuple(p.shape[:1]))
    target = take_along_dim(p, reshape(t, (-1, 1)), 1)
    above = R.sum(cast(E.gt(p, target), int64), 1)
    return E.lt(above, int(k))
