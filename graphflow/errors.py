"""Exception types. Every error raised by graphflow derives from `GraphflowError` and also from the
builtin exception a Python user would expect (`ValueError` for shapes, `TypeError` for dtypes), so
`except ValueError` keeps working for people porting PyTorch or TF1 code."""

from __future__ import annotations


class GraphflowError(Exception):
    """Base class of graphflow's errors."""


class ShapeError(GraphflowError, ValueError):
    """Operand shapes that an op cannot combine."""


class DTypeError(GraphflowError, TypeError):
    """Operand dtypes that an op does not accept."""


class DeviceError(GraphflowError, RuntimeError):
    """Tensors on different devices, or a device that is not present."""


class BackendUnavailableError(GraphflowError, RuntimeError):
    """A backend that cannot run on this machine; the message says why."""


class GraphError(GraphflowError, RuntimeError):
    """A malformed graph (found by the verifier) or a graph that cannot run (unfed input, ...)."""


def at(message: str, loc: object | None) -> str:
    """Append 'created at file:line' to a message when a source location is known."""
    return f"{message} (created at {loc})" if loc else message
