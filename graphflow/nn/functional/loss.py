"""Loss functions (torch.nn.functional's names, arguments and reductions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphflow.ir.bind import bind
from graphflow.ir.dtypes import int64
from graphflow.ir.shapes import fmt
from graphflow.ir.symbolic import Sym
from graphflow.nn.functional.activation import fused
from graphflow.nn.functional.sparse import concrete
from graphflow.ops import elementwise as E
from graphflow.ops import reductions as R
from graphflow.ops.shape import reshape, unsqueeze
from graphflow.ops.values import as_value, cast

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "reduce_loss"]

_REDUCTIONS: dict[str, Callable[[Any], Any]] = {
    "none": lambda x: x,
    "mean": lambda x: R.mean(x),
    "sum": lambda x: R.sum(x),
}


def reduce_loss(loss: Any, reduction: str, op: str = "loss") -> Any:
    """Apply a reduction named as PyTorch names them ('none', 'mean', 'sum')."""
    try:
        return _REDUCTIONS[reduction](loss)
    except KeyError:
        raise ValueError(f"{op}: reduction must be one of {sorted(_REDUCTIONS)}, got {reduction!r}") from None


def _legacy_reduction(size_average: Any, reduce: Any, reduction: str) -> str:
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return "none" if not reduce else ("mean" if size_average else "sum")


def unify_sizes(t: Any, shape: tuple) -> Any:
    """`t` seen with `shape` when the two differ only in symbolic sizes (two static placeholders'
    batch sizes); checked again when the graph is specialised to the fed shapes."""
    if tuple(t.shape) == tuple(shape) or len(t.shape) != len(shape):
        return t
    if not any(isinstance(d, Sym) for d in (*t.shape, *shape)):
        return t
    try:
        from graphflow.static.nn import _match_sizes
    except ImportError:
        return t
    return _match_sizes(t, tuple(shape))


def _check_same_shape(op: str, input: Any, target: Any) -> tuple[Any, Any]:
    x = as_value(input)
    t = unify_sizes(as_value(target, like=x), tuple(x.shape))
    if tuple(x.shape) != tuple(t.shape):
        raise ValueError(f"{op}: target of shape {fmt(t.shape)} must have the input's shape {fmt(x.shape)}")
    if t.dtype is not x.dtype:
        t = cast(t, x.dtype)
    return x, t


def _class_axis_check(op: str, x: Any, target: Any) -> None:
    if x.ndim == 0:
        raise ValueError(f"{op}: input must have a class dimension, got a 0-D input")
    expected = tuple(x.shape[:1]) + tuple(x.shape[2:]) if x.ndim > 1 else ()
    if tuple(unify_sizes(target, expected).shape) != expected:
        raise ValueError(f"{op}: for input of shape {fmt(x.shape)} the class-index target must have shape "
                         f"{fmt(expected)}, got {fmt(target.shape)}")


def _check_labels(op: str, target: Any, num_classes: int, ignore_index: int) -> None:
    """Labels outside [0, C) (other than ignore_index) raise: at once for computed tensors; for
    symbolic ones they are sent out of range so the gather fails when the graph runs."""
    values = concrete(target)
    if values is None or not values.size:
        return
    if values.min() >= 0 and values.max() < num_classes:  # the usual case: two reductions, no temporaries
        return
    bad = (values != ignore_index) & ((values < 0) | (values >= num_classes))
    if bad.any():
        raise IndexError(f"{op}: target {int(values[bad].reshape(-1)[0])} is out of bounds for {num_classes} "
                         f"classes (valid labels are 0..{num_classes - 1}, or ignore_index={ignore_index})")


def _pick(logp: Any, target: Any, ignore_index: int) -> tuple[Any, Any, Any]:
    """(logp at the target class along the class dim, mask of non-ignored positions, the safe
    indices used to read it)."""
    c = logp.shape[1] if logp.ndim > 1 else logp.shape[0]
    t = cast(target, int64)
    valid = E.ne(t, ignore_index)
    # ignored positions read class 0 (masked later); other negatives become C so gather raises
    safe = E.where(valid, E.where(E.lt(t, 0), c, t), 0)
    if logp.ndim == 1:
        picked = reshape(bind("gather", logp, reshape(safe, (1,)), axis=0), ())
    else:
        picked = reshape(bind("gather", logp, unsqueeze(safe, 1), axis=1), tuple(t.shape))
    return picked, valid, safe


def nll_loss(input: Any, target: Any, weight: Any = None, size_average: Any = None, ignore_index: int = -100,
             reduce: Any = None, reduction: str = "mean") -> Any:
    """-input[n, target[n]] * weight[target[n]]; 'mean' divides by the total weight of the
    non-ignored targets (PyTorch's weighted mean)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    x = as_value(input)
    t = as_value(target, like=x)
    if t.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: expected class indices of an integer dtype, got a {t.dtype.name} target "
                        f"(use cross_entropy for class probabilities)")
    t = unify_sizes(t, tuple(x.shape[:1]) + tuple(x.shape[2:]) if x.ndim > 1 else ())
    _class_axis_check("nll_loss", x, t)
    c = x.shape[1] if x.ndim > 1 else x.shape[0]
    _check_labels("nll_loss", t, c, ignore_index)
    return _nll(x, t, weight, ignore_index, reduction, "nll_loss")


def _nll(logp: Any, t: Any, weight: Any, ignore_index: int, reduction: str, op: str) -> Any:
    picked, valid, safe = _pick(logp, t, ignore_index)
    if weight is not None:
        w = as_value(weight, like=logp)
        if w.dtype is not logp.dtype:
            w = cast(w, logp.dtype)
        wt = reshape(bind("gather", w, reshape(safe, (-1,)), axis=0), tuple(safe.shape))
        wt = E.where(valid, wt, 0.0)
    else:
        wt = E.where(valid, 1.0, 0.0)
        wt = cast(wt, logp.dtype)
    loss = E.neg(E.mul(picked, wt))
    if reduction == "mean":
        return E.div(R.sum(loss), R.sum(wt))
    return reduce_loss(loss, reduction, op)


def cross_entropy(input: Any, target: Any, weight: Any = None, size_average: Any = None, ignore_index: int = -100,
                  reduce: Any = None, reduction: str = "mean", label_smoothing: float = 0.0) -> Any:
    """Cross entropy between logits `input` (N, C, ...) (or (C,)) and `target`: class indices of
    shape (N, ...) or class probabilities of the input's shape. Computed through log_softmax.

    Labels outside [0, C) raise; a floating-point target whose shape is not the input's raises
    (class indices must be integers)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    x = as_value(input)
    t = as_value(target, like=x)
    if x.ndim == 0:
        raise ValueError("cross_entropy: input must have a class dimension, got a 0-D input")
    class_dim = 1 if x.ndim > 1 else 0
    c = x.shape[class_dim]
    if t.dtype.kind in "iu" and weight is None and label_smoothing == 0.0:
        t = unify_sizes(t, tuple(x.shape[:1]) + tuple(x.shape[2:]) if x.ndim > 1 else ())
        _class_axis_check("cross_entropy", x, t)
        _check_labels("cross_entropy", t, c, ignore_index)
        out = fused("cross_entropy", lambda xv, tv: _nll(R.log_softmax(xv, class_dim), tv, None, ignore_index,
                                                         reduction, "cross_entropy"),
                    (x, t), (class_dim, ignore_index, reduction))
        if out is not None:
            return out
    if t.dtype.kind == "f":
        t = unify_sizes(t, tuple(x.shape))
        if tuple(t.shape) != tuple(x.shape):
            raise TypeError(f"cross_entropy: expected class indices of an integer dtype (shape "
                            f"{fmt(tuple(x.shape[:1]) + tuple(x.shape[2:]) if x.ndim > 1 else ())}) or class "
                            f"probabilities of the input's shape {fmt(x.shape)}, got a {t.dtype.name} target of "
                            f"shape {fmt(t.shape)}")
        if weight is None:
            def soft(xv: Any, tv: Any) -> Any:
                lp = R.log_softmax(xv, class_dim)
                return _soft_cross_entropy(lp, cast(tv, lp.dtype), None, reduction, label_smoothing, class_dim)
            out = fused("cross_entropy_probs", soft, (x, t), (class_dim, reduction, label_smoothing))
            if out is not None:
                return out
        logp = R.log_softmax(x, class_dim)
        return _soft_cross_entropy(logp, cast(t, logp.dtype), weight, reduction, label_smoothing, class_dim)
    logp = R.log_softmax(x, class_dim)
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class indices or float probabilities, "
                        f"got {t.dtype.name}")
    t = unify_sizes(t, tuple(x.shape[:1]) + tuple(x.shape[2:]) if x.ndim > 1 else ())
    _class_axis_check("cross_entropy", x, t)
    _check_labels("cross_entropy", t, c, ignore_index)
    nll = _nll(logp, t, weight, ignore_index, reduction, "cross_entropy")
    if label_smoothing == 0.0:
        return nll
    # PyTorch: (1 - eps) * nll + eps / C * (-sum_c w_c logp_c), ignored positions excluded
    w = None if weight is None else _class_view(as_value(weight, like=x), logp, class_dim)
    smooth = E.neg(R.sum(logp if w is None else E.mul(logp, w), class_dim))
    valid = E.ne(cast(t, int64), ignore_index)
    smooth = E.where(valid, smooth, 0.0)
    if reduction == "mean":
        if weight is None:
            denom = R.sum(cast(valid, logp.dtype))
        else:
            _, _, safe = _pick(logp, t, ignore_index)
            wt = reshape(bind("gather", cast(as_value(weight, like=x), logp.dtype), reshape(safe, (-1,)), axis=0),
                         tuple(safe.shape))
            denom = R.sum(E.where(valid, wt, 0.0))
        smooth = E.div(R.sum(smooth), denom)
    else:
        smooth = reduce_loss(smooth, reduction, "cross_entropy")
    return E.add(E.mul(nll, 1.0 - label_smoothing), E.mul(smooth, label_smoothing / c))


def _class_view(w: Any, logp: Any, class_dim: int) -> Any:
    if w.dtype is not logp.dtype:
        w = cast(w, logp.dtype)
    shape = [1] * logp.ndim
    shape[class_dim] = logp.shape[class_dim]
    return reshape(w, tuple(shape))


def _soft_cross_entropy(logp: Any, t: Any, weight: Any, reduction: str, label_smoothing: float,
                        class_dim: int) -> Any:
    c = logp.shape[class_dim]
    if label_smoothing:
        t = E.add(E.mul(t, 1.0 - label_smoothing), label_smoothing / c)
    prod = E.mul(logp, t)
    if weight is not None:
        prod = E.mul(prod, _class_view(as_value(weight, like=logp), logp, class_dim))
    loss = E.neg(R.sum(prod, class_dim))
    return reduce_loss(loss, reduction, "cross_entropy")


def mse_loss(input: Any, target: Any, size_average: Any = None, reduce: Any = None, reduction: str = "mean") -> Any:
    x, t = _check_same_shape("mse_loss", input, target)
    d = E.sub(x, t)
    return reduce_loss(E.mul(d, d), _legacy_reduction(size_average, reduce, reduction), "mse_loss")


def l1_loss(input: Any, target: Any, size_average: Any = None, reduce: Any = None, reduction: str = "mean") -> Any:
    x, t = _check_same_shape("l1_loss", input, target)
    return reduce_loss(E.abs(E.sub(x, t)), _legacy_reduction(size_average, reduce, reduction), "l1_loss")


def smooth_l1_loss(input: Any, target: Any, size_average: Any = None, reduce: Any = None, reduction: str = "mean",
                   beta: float = 1.0) -> Any:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (beta = 0 is the L1 loss)."""
    x, t = _check_same_shape("smooth_l1_loss", input, target)
    d = E.abs(E.sub(x, t))
    if beta == 0.0:
        loss = d
    else:
        loss = E.where(E.lt(d, beta), E.mul(E.mul(d, d), 0.5 / beta), E.sub(d, 0.5 * beta))
    return reduce_loss(loss, _legacy_reduction(size_average, reduce, reduction), "smooth_l1_loss")


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Any:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)."""
    x, t = _check_same_shape("huber_loss", input, target)
    d = E.abs(E.sub(x, t))
    loss = E.where(E.lt(d, delta), E.mul(E.mul(d, d), 0.5), E.mul(E.sub(d, 0.5 * delta), delta))
    return reduce_loss(loss, reduction, "huber_loss")


def binary_cross_entropy(input: Any, target: Any, weight: Any = None, size_average: Any = None, reduce: Any = None,
                         reduction: str = "mean") -> Any:
    """-(t log p + (1 - t) log(1 - p)), each log clamped at -100 as in PyTorch."""
    x, t = _check_same_shape("binary_cross_entropy", input, target)
    values = concrete(x)
    if values is not None and values.size and ((values < 0) | (values > 1)).any():
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1")
    log_p = E.clamp(E.log(x), min=-100.0)
    log_q = E.clamp(E.log(E.sub(1.0, x)), min=-100.0)
    loss = E.neg(E.add(E.mul(t, log_p), E.mul(E.sub(1.0, t), log_q)))
    if weight is not None:
        loss = E.mul(loss, weight)
    return reduce_loss(loss, _legacy_reduction(size_average, reduce, reduction), "binary_cross_entropy")


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None, size_average: Any = None,
                                     reduce: Any = None, reduction: str = "mean", pos_weight: Any = None) -> Any:
    """sigmoid + binary cross entropy in one stable formula:
    (1 - t) x + (1 + (pw - 1) t) (log1p(exp(-|x|)) + max(-x, 0))."""
    x, t = _check_same_shape("binary_cross_entropy_with_logits", input, target)
    softplus_neg = E.add(E.log1p(E.exp(E.neg(E.abs(x)))), E.relu(E.neg(x)))  # log(1 + exp(-x))
    if pos_weight is None:
        loss = E.add(E.mul(E.sub(1.0, t), x), softplus_neg)
    else:
        coeff = E.add(E.mul(E.sub(pos_weight, 1.0), t), 1.0)
        loss = E.add(E.mul(E.sub(1.0, t), x), E.mul(coeff, softplus_neg))
    if weight is not None:
        loss = E.mul(loss, weight)
    return reduce_loss(loss, _legacy_reduction(size_average, reduce, reduction), "binary_cross_entropy_with_logits")


def kl_div(input: Any, target: Any, size_average: Any = None, reduce: Any = None, reduction: str = "mean",
           log_target: bool = False) -> Any:
    """target * (log target - input) pointwise (input holds log-probabilities); 'batchmean' divides
    the sum by the batch size."""
    x, t = _check_same_shape("kl_div", input, target)
    if log_target:
        loss = E.mul(E.exp(t), E.sub(t, x))
    else:
        safe_log = E.log(E.where(E.gt(t, 0), t, 1.0))
        loss = E.where(E.gt(t, 0), E.mul(t, E.sub(safe_log, x)), 0.0)
    if reduction == "batchmean":
        return E.div(R.sum(loss), float(x.shape[0]) if x.ndim else 1.0)
    return reduce_loss(loss, _legacy_reduction(size_average, reduce, reduction), "kl_div")

