"""Backends turn graphs into executables. `available()` reports each one, with the reason when
it cannot run here. `current_cpu_backend()` is the CPU backend every mode runs on (chosen with
`gf.set_backend`, else `GRAPHFLOW_CPU_BACKEND`, else llvm when available, else numpy)."""

from graphflow.backends.base import (
    Backend,
    Executable,
    available,
    cpu_backend_choice,
    cpu_backend_name,
    current_cpu_backend,
    get_backend,
    register_backend,
    set_cpu_backend,
)

__all__ = ["Backend", "Executable", "available", "get_backend", "register_backend", "current_cpu_backend",
           "cpu_backend_name", "cpu_backend_choice", "set_cpu_backend"]
