"""Normalisation layers' functional forms: layer_norm, batch_norm, group_norm, instance_norm, normalize."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from graphflow.ir.shapes import fmt
from graphflow.ops import elementwise as E
from graphflow.ops import reductions as R
from graphflow.ops.composite import offer_or_run
from graphflow.ops.indexing import getitem
from graphflow.ops.shape import reshape, stack
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
    return offer_or_run("layer_norm", lambda v, w, b: _layer_norm(v, axes, eps, w, b), x, (weight, bias),
                        (axes, float(eps)))


def _layer_norm(x: Any, axes: tuple[int, ...], eps: float, weight: Any, bias: Any) -> Any:
    y = _standardise(x, axes, eps)
    if weight is not None:
        y = E.mul(y, weight)
    if bias is not None:
        y = E.add(y, bias)
    return y


def _standardise(x: Any, axes: Any, eps: float) -> Any:
    """(x - mean) / sqrt(biased variance + eps) over `axes` (the layer, group and instance norms)."""
    mu = R.mean(x, axes, keepdim=True)
    centred = E.sub(x, mu)
    var = R.mean(E.mul(centred, centred), axes, keepdim=True)
    return E.mul(centred, E.rsqrt(E.add(var, eps)))


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
    # the batch moments, then the normalised output: each one compiled graph for eager CPU tensors
    moments = offer_or_run("batch_moments", lambda v: _moments(v, axes), x, (), (axes,))
    mean, var = getitem(moments, 0), getitem(moments, 1)
    y = offer_or_run("batch_norm_apply", lambda v, m, w, b: _normalise(v, getitem(m, 0), getitem(m, 1), eps, w, b),
                     x, (moments, weight, bias), (float(eps),))
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


def _moments(x: Any, axes: tuple[int, ...]) -> Any:
    """The mean and the biased variance over `axes` (kept as size-1 dimensions), stacked: one
    value, so that eager mode computes both in one compiled graph."""
    mean = R.mean(x, axes, keepdim=True)
    centred = E.sub(x, mean)
    return stack([mean, R.mean(E.mul(centred, centred), axes, keepdim=True)])


def _normalise(x: Any, mean: Any, var: Any, eps: float, weight: Any, bias: Any) -> Any:
    return _affine(E.mul(E.sub(x, mean), E.rsqrt(E.add(var, eps))), x, weight, bias)


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
    def evaluate(v: Any, m: Any, r: Any, w: Any, b: Any) -> Any:
        return _normalise(v, _channel_view(m, v), _channel_view(r, v), eps, w, b)
    return offer_or_run("batch_norm_eval", evaluate, x, (running_mean, running_var, weight, bias), (float(eps),))


def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Any:
    x = as_value(input)
    c = x.shape[1]
    if c % num_groups:
        raise ValueError(f"group_norm: num_groups={num_groups} must divide the {c} channels of {fmt(x.shape)}")
    return offer_or_run("group_norm", lambda v, w, b: _group_norm(v, num_groups, eps, w, b), x, (weight, bias),
                        (num_groups, float(eps)))


def _group_norm(x: Any, num_groups: int, eps: float, weight: Any, bias: Any) -> Any:
    y = _standardise(reshape(x, (x.shape[0], num_groups, -1)), 2, eps)
    return _affine(reshape(y, tuple(x.shape)), x, weight, bias)


def instance_norm(input: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Any:
    """Normalise each (sample, channel) over its spatial positions (no running statistics)."""
    x = as_value(input)
    axes = tuple(range(2, x.ndim))

    def instance(v: Any, w: Any, b: Any) -> Any:
        return _affine(_standardise(v, axes, eps), v, w, b)
    return offer_or_run("instance_norm", instance, x, (weight, bias), (axes, float(eps)))


def normalize(input: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Any:
    """x / max(||x||_p, eps) along `dim`."""
    x = as_value(input)
    return E.div(x, E.clamp(R.norm(x, p, dim, keepdim=True), min=eps))
