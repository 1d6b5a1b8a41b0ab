"""Activation functions, written over the functional ops (so they work on every kind of value)."""

from __future__ import annotations

import math
import warnings
from typing import Any

from graphflow.errors import ShapeError
from graphflow.ir.dtypes import DType
from graphflow.ir.shapes import fmt
from graphflow.ops import elementwise as E
from graphflow.ops import reductions as R
from graphflow.ops.composite import offer, offer_or_run
from graphflow.ops.shape import reshape
from graphflow.ops.values import as_value

__all__ = ["relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "sigmoid", "tanh",
           "hardtanh", "hardsigmoid", "hardswish", "softplus", "softsign", "logsigmoid", "softmax",
           "log_softmax", "softmin", "tanhshrink", "glu", "log_sigmoid", "prelu"]


def relu(input: Any, inplace: bool = False) -> Any:
    """max(x, 0) (gradient 0 at 0, as in PyTorch). `inplace` is accepted and ignored: results are new values."""
    return E.relu(input)


def relu6(input: Any, inplace: bool = False) -> Any:
    return hardtanh(input, 0.0, 6.0)


def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Any:
    return E.clamp(as_value(input), min_val, max_val)


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> Any:
    """x where x > 0, else negative_slope * x."""
    x = as_value(input)
    return E.where(E.gt(x, 0), x, E.mul(x, negative_slope))


def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Any:
    x = as_value(input)
    return E.where(E.gt(x, 0), x, E.mul(E.expm1(x), alpha))


# activations of several ops run whole (one compiled graph) in eager mode above this many elements,
# as relu does: below, the op-by-op NumPy path costs less than a compiled call
ELEMENTWISE_WHOLE = 4096
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Any, inplace: bool = False) -> Any:
    return E.mul(elu(input, _SELU_ALPHA), _SELU_SCALE)


def celu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Any:
    x = as_value(input)
    return E.where(E.gt(x, 0), x, E.mul(E.expm1(E.div(x, alpha)), alpha))


def gelu(input: Any, approximate: str = "none") -> Any:
    """x * Phi(x): exact through erf (approximate='none'), or the tanh approximation ('tanh')."""
    x = as_value(input)
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return offer_or_run("gelu", lambda v: _gelu(v, approximate), x, (), (approximate,), ELEMENTWISE_WHOLE)


def _gelu(x: Any, approximate: str) -> Any:
    if approximate == "none":
        return E.mul(E.mul(x, 0.5), E.add(E.erf(E.mul(x, 1.0 / math.sqrt(2.0))), 1.0))
    inner = E.mul(E.add(x, E.mul(E.mul(E.mul(x, x), x), 0.044715)), math.sqrt(2.0 / math.pi))
    return E.mul(E.mul(x, 0.5), E.add(E.tanh(inner), 1.0))


def silu(input: Any, inplace: bool = False) -> Any:
    """x * sigmoid(x) (also called swish)."""
    return offer_or_run("silu", lambda v: E.mul(v, E.sigmoid(v)), as_value(input), (), (), ELEMENTWISE_WHOLE)


def mish(input: Any, inplace: bool = False) -> Any:
    return offer_or_run("mish", lambda v: E.mul(v, E.tanh(E.softplus(v))), as_value(input), (), (),
                        ELEMENTWISE_WHOLE)


def sigmoid(input: Any) -> Any:
    return E.sigmoid(input)


def tanh(input: Any) -> Any:
    return E.tanh(input)


def tanhshrink(input: Any) -> Any:
    x = as_value(input)
    return E.sub(x, E.tanh(x))


def hardsigmoid(input: Any, inplace: bool = False) -> Any:
    return E.div(E.clamp(E.add(as_value(input), 3.0), 0.0, 6.0), 6.0)


def hardswish(input: Any, inplace: bool = False) -> Any:
    x = as_value(input)
    return E.mul(x, hardsigmoid(x))


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    return E.softplus(input, beta, threshold)


def softsign(input: Any) -> Any:
    x = as_value(input)
    return E.div(x, E.add(E.abs(x), 1.0))


def logsigmoid(input: Any) -> Any:
    """log(sigmoid(x)) = -softplus(-x), finite for large |x|."""
    return E.neg(E.softplus(E.neg(as_value(input))))


log_sigmoid = logsigmoid


def prelu(input: Any, weight: Any) -> Any:
    """x where x > 0, else weight * x; `weight` is one value or one per channel (dimension 1 of
    an input of 2 or more dimensions), as torch.nn.functional.prelu."""
    x = as_value(input)
    w = as_value(weight, like=x)
    if w.ndim > 1:
        raise ShapeError(f"prelu: weight must be a scalar or 1-D tensor, got {fmt(w.shape)}")
    count = w.shape[0] if w.ndim else 1
    if count != 1:
        channels = x.shape[1] if x.ndim > 1 else 1
        if channels != count:
            raise ShapeError(f"prelu: {count} parameters for {channels} channel(s) of input {fmt(x.shape)} "
                             "(dimension 1 holds the channels)")
        w = reshape(w, (1, count) + (1,) * (x.ndim - 2))
    elif w.ndim:
        w = reshape(w, ())
    return E.where(E.gt(x, 0), x, E.mul(w, x))


def _implicit_dim(ndim: int, name: str) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated; pass dim=", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def fused(name: str, fn: Any, inputs: tuple, static: tuple) -> Any:
    """fn(*inputs) offered whole to the inputs' handler (`graphflow.ops.composite.offer`: eager CPU
    tensors run it as one cached compiled graph, recording the same primitives); else None."""
    return offer(name, fn, inputs, static)


def softmax(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: DType | None = None) -> Any:
    x = as_value(input)
    return R.softmax(x, _implicit_dim(x.ndim, "softmax") if dim is None else dim, dtype)


def log_softmax(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: DType | None = None) -> Any:
    x = as_value(input)
    return R.log_softmax(x, _implicit_dim(x.ndim, "log_softmax") if dim is None else dim, dtype)


def softmin(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: DType | None = None) -> Any:
    x = as_value(input)
    return R.softmax(E.neg(x), _implicit_dim(x.ndim, "softmin") if dim is None else dim, dtype)


def glu(input: Any, dim: int = -1) -> Any:
    """a * sigmoid(b) with (a, b) the two halves of `input` along `dim`."""
    from graphflow.ops.shape import chunk

    x = as_value(input)
    if x.shape[dim] % 2:
        raise ValueError(f"glu: dimension {dim} of shape {tuple(x.shape)} must have an even size")
    a, b = chunk(x, 2, dim)
    return E.mul(a, E.sigmoid(b))
