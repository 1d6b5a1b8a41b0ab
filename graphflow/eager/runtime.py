"""Which backend eager ops run on: `gf.set_backend("llvm" | "numpy")`, the environment variable
`GRAPHFLOW_CPU_BACKEND`, and by default llvm once it is available (else the NumPy reference).

The choice itself lives in `graphflow.backends` (`current_cpu_backend`), shared with `Session`
and `gf.compile`; `RUNTIME` only caches an explicit choice for eager mode's per-op fast path."""

from __future__ import annotations

from graphflow.backends import Backend, base

ENV_VAR = base.CPU_BACKEND_ENV
CPU_BACKENDS = base.CPU_BACKENDS


class _Runtime:
    __slots__ = ("backend", "name")

    def __init__(self) -> None:
        self.backend: Backend | None = None  # set only by set_backend (else resolved on each use)
        self.name = ""


RUNTIME = _Runtime()


def _default_name() -> str:
    return base.default_cpu_backend_name()


def cpu_backend() -> Backend:
    """The backend eager CPU ops run on."""
    return RUNTIME.backend or base.current_cpu_backend()


def set_backend(name: str | None) -> None:
    """Pick the CPU backend for every mode (eager ops, `backward()`, `Session.run`, `gf.compile`):
    'llvm' or 'numpy'; None goes back to `GRAPHFLOW_CPU_BACKEND`, else the default."""
    backend = base.set_cpu_backend(name)  # raises with the reason when unavailable
    RUNTIME.backend = backend
    RUNTIME.name = name or ""


def get_backend_name() -> str:
    return RUNTIME.name or base.cpu_backend_name()
