"""Composite functions offered to the value kind's handler as a whole.

A functional composite (softmax, relu, ...) calls `offer` first: when the handler of its inputs
defines `composite(name, fn, inputs, static, min_elements)`, it may compute `fn(*inputs)` its own
way and return the result (eager mode runs it as one cached compiled graph, recording the same
primitives); None — or a handler without the hook — means the caller runs `fn` op by op as usual.
`static` holds the hashable arguments `fn` closes over (part of a cache key)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphflow.ir.bind import handler_of

__all__ = ["offer"]


def offer(name: str, fn: Callable[..., Any], inputs: tuple, static: tuple, min_elements: int = 0) -> Any:
    """fn(*inputs) through the inputs' handler's `composite` hook, or None (see the module docstring)."""
    hook = getattr(handler_of(*inputs), "composite", None)
    return None if hook is None else hook(name, fn, inputs, static, min_elements)
