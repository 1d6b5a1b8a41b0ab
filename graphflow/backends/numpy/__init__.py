"""The NumPy reference backend: interprets each op's registry `reference`. Slow, obviously
right, always available; the oracle the compiled backends are tested against."""

from graphflow.backends.numpy.interpreter import BACKEND, NumpyBackend, NumpyExecutable

__all__ = ["BACKEND", "NumpyBackend", "NumpyExecutable"]
