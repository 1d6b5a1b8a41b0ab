"""Normalisation layers' functional forms: layer_norm, batch_norm, group_norm, instance_norm, normalize."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from graphflow.ir.shapes import fmt
from graphflow.ops import elementwise as E
from graphflow.ops import reductions as R
from graphflow.ops.shape import reshape
from graphflow.ops.values import as_value

__all__ = ["layer_norm", "batch_norm", "batch_norm_train", "BatchNormResult", "group_norm", "instance_norm",
           "normalize"]


def layer_norm(input: Any, normalized_shape: int | Sequence[int], weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Any:
    """Normalise over the trailing `normalized_shape` dimensions (biased variance), then scale and shift."""
    x = as_value(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or k > x.ndim or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(f"layer_norm: input of shape {fmt(x.shape)} does not end with normalized_shape {fmt(shape)}")
    axes = tuple(range(x.ndim - k, x.ndim))
    mu = R.mean(x, axes, keepdim=True)
    centred = E.sub(x, mu)
    var = R.mean(E.mul(centred, centred), axes, keepdim=True)
    y = E.mul(centred, E.rsqrt(E.add(var, eps)))
    if weight is not None:
        y = E.mul(y, weight)
    if bias is not None:
        y = E.add(y, bias)
    return y


def _channel_view(v: Any, x: Any) -> Any:
    """A per-channel (C,) value reshaped to broadcast against (N, C, ...)."""
    return reshape(as_value(v, like=x), (x.shape[1],) + (1,) * (x.ndim - 2))


class BatchNormResult(NamedTuple):
    """The normalised output and the updated running statistics (None where not tracked)."""

    output: Any
    running_mean: Any
    running_var: Any


def batch_norm_train(input: Any, running_mean: Any = None, running_var: Any = None, weight: Any = None,
                     bias: Any = None, momentum: float | None = 0.1, eps: float = 1e-5,
                     num_batches_tracked: Any = None) -> BatchNormResult:
    """Training-mode batch norm without side effects: normalises by the batch statistics (biased
    variance) and returns the new running statistics (unbiased variance, exponential average with
    `momentum`, or the cumulative average when momentum is None, as in PyTorch)."""
    x = as_value(input)
    _check_bn_input(x)
    axes = (0,) + tuple(range(2, x.ndim))
    count = 1
    for a in axes:
        count *= x.shape[a]
    if isinstance(count, int) and count <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input of "
                         f"shape {fmt(x.shape)}")
    mean = R.mean(x, axes, keepdim=True)
    centred = E.sub(x, mean)
    var = R.mean(E.mul(centred, centred), axes, keepdim=True)
    y = _affine(E.mul(centred, E.rsqrt(E.add(var, eps))), x, weight, bias)
    new_mean = new_var = None
    if running_mean is not None and running_var is not None:
        flat_mean = reshape(mean, (x.shape[1],))
        if isinstance(count, int):
            bessel: Any = count / (count - 1)
        else:  # a symbolic batch size: the correction is computed when the graph runs
            n = R.count_of(x, axes, x.dtype)
            bessel = E.div(n, E.sub(n, 1.0))
        unbiased = E.mul(reshape(var, (x.shape[1],)), bessel)
        if momentum is None:  # cumulative moving average over the batches seen
            factor = E.div(1.0, E.add(num_batches_tracked, 1)) if num_batches_tracked is not None else 1.0
        else:
            factor = momentum
        keep = 1.0 - factor if isinstance(factor, float) else E.sub(1.0, factor)
        new_mean = E.add(E.mul(running_mean, keep), E.mul(flat_mean, factor))
        new_var = E.add(E.mul(running_var, keep), E.mul(unbiased, factor))
    return BatchNormResult(y, new_mean, new_var)


def _affine(y: Any, x: Any, weight: Any, bias: Any) -> Any:
    if weight is not None:
        y = E.mul(y, _channel_view(weight, x))
    if bias is not None:
        y = E.add(y, _channel_view(bias, x))
    return y


def _check_bn_input(x: Any) -> None:
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of at least 2 dimensions (N, C, ...), got {fmt(x.shape)}")


def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None, bias: Any = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Any:
    """torch.nn.functional.batch_norm's output. In training mode the batch statistics normalise;
    the running statistics are NOT updated here (values are never modified in place) — use
    `batch_norm_train` to get their new values, as `nn.BatchNorm*d` does."""
    x = as_value(input)
    _check_bn_input(x)
    if training:
        return batch_norm_train(x, None, None, weight, bias, momentum, eps).output
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var are needed in evaluation mode")
    inv = E.rsqrt(E.add(_channel_view(running_var, x), eps))
    return _affine(E.mul(E.sub(x, _channel_view(running_mean, x)), inv), x, weight, bias)


def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Any:
    x = as_value(input)
    n, c = x.shape[0], x.shape[1]
    if c % num_groups:
        raise ValueError(f"group_norm: num_groups={num_groups} must divide the {c} channels of {fmt(x.shape)}")
    g = reshape(x, (n, num_groups, -1))
    mu = R.mean(g, 2, keepdim=True)
    centred = E.sub(g, mu)
    var = R.mean(E.mul(centred, centred), 2, keepdim=True)
    y = reshape(E.mul(centred, E.rsqrt(E.add(var, eps))), tuple(x.shape))
    return _affine(y, x, weight, bias)


def instance_norm(input: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Any:
    """Normalise each (sample, channel) over its spatial positions (no running statistics)."""
    x = as_value(input)
    axes = tuple(range(2, x.ndim))
    mu = R.mean(x, axes, keepdim=True)
    centred = E.sub(x, mu)
    var = R.mean(E.mul(centred, centred), axes, keepdim=True)
    return _affine(E.mul(centred, E.rsqrt(E.add(var, eps))), x, weight, bias)


def normalize(input: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Any:
    """x / max(||x||_p, eps) along `dim`."""
    x = as_value(input)
    return E.div(x, E.clamp(R.norm(x, p, dim, keepdim=True), min=eps))
