"""Backends turn graphs into executables. `available()` reports each one, with the reason when
it cannot run here."""

from graphflow.backends.base import Backend, Executable, available, get_backend, register_backend

__all__ = ["Backend", "Executable", "available", "get_backend", "register_backend"]
