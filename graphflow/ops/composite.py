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

__all__ = ["offer", "offer_or_run"]


def offer(name: str, fn: Callable[..., Any], inputs: tuple, static: tuple, min_elements: int = 0) -> Any:
    """fn(*inputs) through the inputs' handler's `composite` hook, or None (see the module docstring)."""
    hook = getattr(handler_of(*inputs), "composite", None)
    return None if hook is None else hook(name, fn, inputs, static, min_elements)


def offer_or_run(name: str, fn: Callable[..., Any], x: Any, optional: tuple, static: tuple,
                 min_elements: int = 0) -> Any:
    """fn(x, *optional), where optional values may be None, offered whole to x's handler (eager CPU
    tensors with more than `min_elements` elements: one compiled graph, a pass or two over memory
    instead of one per op), else computed op by op. `static` holds every other value fn closes over."""
    from graphflow.ops.values import as_value

    has = tuple(v is not None for v in optional)
    present = tuple(as_value(v, like=x) for v in optional if v is not None)

    def whole(v: Any, *values: Any) -> Any:
        it = iter(values)
        return fn(v, *(next(it) if h else None for h in has))
    out = offer(name, whole, (x, *present), static + (has,), min_elements)
    return out if out is not None else whole(x, *present)
