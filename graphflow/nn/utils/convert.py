"""Flattening parameters into one vector and back."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphflow.eager.grad_mode import no_grad
from graphflow.ops.shape import cat, reshape

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Any]) -> Any:
    return cat([reshape(p, (-1,)) for p in parameters])


def vector_to_parameters(vec: Any, parameters: Iterable[Any]) -> None:
    offset = 0
    with no_grad():
        for p in parameters:
            n = p.numel()
            p.copy_(reshape(vec[offset:offset + n], tuple(p.shape)))
            offset += n
