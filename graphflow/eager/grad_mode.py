"""Grad modes: whether eager ops are recorded for `backward()`.

`no_grad()` / `enable_grad()` / `set_grad_enabled(b)` work as context managers and as decorators,
as in PyTorch. The flag is process-wide (read on every op, so it is a plain attribute)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _GradState:
    __slots__ = ("enabled",)

    def __init__(self) -> None:
        self.enabled = True


STATE = _GradState()


def is_grad_enabled() -> bool:
    """Whether ops on tensors that require grad are being recorded."""
    return STATE.enabled


class _GradMode:
    """Base of the grad-mode switches: a context manager that is also a decorator."""

    _mode: bool = True

    def __init__(self) -> None:
        self._prev: list[bool] = []

    def __enter__(self) -> None:
        self._prev.append(STATE.enabled)
        STATE.enabled = self._mode

    def __exit__(self, *exc: object) -> None:
        STATE.enabled = self._prev.pop()

    def __call__(self, fn: F) -> F:
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = STATE.enabled
            STATE.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                STATE.enabled = prev

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Disable recording: ops run but build no graph (inference, manual parameter updates)."""

    _mode = False


class enable_grad(_GradMode):  # noqa: N801
    """Re-enable recording inside a `no_grad` block."""

    _mode = True


class set_grad_enabled(_GradMode):  # noqa: N801
    """`set_grad_enabled(False)` switches recording off at once (and back on exit when used as a
    context manager or decorator)."""

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self._mode = bool(mode)
        self._prev.append(STATE.enabled)
        STATE.enabled = self._mode

    def __enter__(self) -> None:
        pass  # already switched in __init__ (as torch.set_grad_enabled)

    def __call__(self, fn: F) -> F:
        STATE.enabled = self._prev.pop()  # used as a decorator: undo the immediate switch
        return super().__call__(fn)
