"""Which backend eager ops run on: `gf.set_backend("llvm" | "numpy")`, the environment variable
`GRAPHFLOW_CPU_BACKEND`, and by default llvm once it is available (else the NumPy reference)."""

from __future__ import annotations

import os

from graphflow.backends import Backend, available, get_backend

ENV_VAR = "GRAPHFLOW_CPU_BACKEND"
CPU_BACKENDS = ("llvm", "numpy")


class _Runtime:
    __slots__ = ("backend", "name")

    def __init__(self) -> None:
        self.backend: Backend | None = None
        self.name = ""


RUNTIME = _Runtime()


def _default_name() -> str:
    env = os.environ.get(ENV_VAR)
    if env:
        if env not in CPU_BACKENDS:
            raise ValueError(f"{ENV_VAR}={env!r}: expected one of {', '.join(CPU_BACKENDS)}")
        return env
    return "llvm" if available().get("llvm") == "available" else "numpy"


def cpu_backend() -> Backend:
    """The backend eager CPU ops run on (chosen on first use)."""
    if RUNTIME.backend is None:
        set_backend(_default_name())
    return RUNTIME.backend  # type: ignore[return-value]


def set_backend(name: str) -> None:
    """Pick the CPU backend for eager ops and `backward()`: 'llvm' or 'numpy'."""
    if name not in CPU_BACKENDS:
        raise ValueError(f"set_backend: expected one of {', '.join(CPU_BACKENDS)}, got {name!r}")
    RUNTIME.backend = get_backend(name)  # raises with the reason when unavailable
    RUNTIME.name = name


def get_backend_name() -> str:
    cpu_backend()
    return RUNTIME.name
