"""Eager mode: PyTorch-style tensors that run each op at once and record a tape for `backward()`."""

from graphflow.eager.creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from graphflow.eager.device import cuda, device
from graphflow.eager.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from graphflow.eager.runtime import get_backend_name, set_backend
from graphflow.eager.tensor import Tensor, is_tensor

__all__ = [
    "Tensor", "is_tensor", "tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "rand", "randn",
    "randint", "randperm", "arange", "linspace", "eye", "zeros_like", "ones_like", "full_like", "empty_like",
    "rand_like", "randn_like", "randint_like", "device", "cuda", "no_grad", "enable_grad", "set_grad_enabled",
    "is_grad_enabled", "set_backend", "get_backend_name",
]
