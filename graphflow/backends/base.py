"""The backend contract and the registry of backends."""

from __future__ import annotations

import importlib
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from graphflow.errors import BackendUnavailableError
from graphflow.ir.graph import Attrs, Graph, TensorType
from graphflow.ir.registry import OpDef


class Executable(ABC):
    """A compiled graph. `run` takes one array per graph input (in `graph.inputs` order) and the
    variable state, and returns one array per output."""

    graph: Graph
    # True when every output `run` returns is memory no other live array shares (no input, no
    # other output, no buffer the executable writes again): callers may keep and update it in place
    private_outputs: bool = False

    @abstractmethod
    def run(self, inputs: Sequence[np.ndarray], state: dict | None = None,
            bindings: dict[str, int] | None = None) -> list[np.ndarray]: ...


class Backend(ABC):
    """A way to run graphs: compiles whole graphs and runs single ops (eager mode)."""

    name: str

    @abstractmethod
    def availability(self) -> tuple[bool, str]:
        """(True, "available") or (False, the reason)."""

    @abstractmethod
    def compile(self, graph: Graph) -> Executable:
        """An executable for `graph` (inputs in `graph.inputs` order, outputs in `graph.outputs` order)."""

    @abstractmethod
    def run_op(self, op: OpDef, inputs: Sequence[np.ndarray], attrs: Attrs, out: TensorType) -> np.ndarray:
        """Run one op at once (eager mode's path)."""

    def reference_below(self, op: OpDef) -> int:
        """Element count (of the op's first input) below which `run_op` computes exactly what the
        registry's NumPy reference gives, so eager mode may call the reference's NumPy function
        itself and skip `run_op`'s per-call cost. 0: no promise."""
        return 0


# name -> module that defines `BACKEND` (imported lazily: a missing dependency becomes a reason)
_KNOWN = {"numpy": "graphflow.backends.numpy", "llvm": "graphflow.backends.llvm",
          "cuda": "graphflow.backends.cuda"}
_LOADED: dict[str, Backend] = {}
_FAILED: dict[str, str] = {}


def register_backend(name: str, module: str) -> None:
    """Make `get_backend(name)` import `module` (which must define `BACKEND`) on first use."""
    _KNOWN[name] = module


def _load(name: str) -> Backend | None:
    if name in _LOADED:
        return _LOADED[name]
    if name in _FAILED:
        return None
    if name not in _KNOWN:
        raise KeyError(f"unknown backend {name!r}; known: {', '.join(_KNOWN)}")
    try:
        backend = importlib.import_module(_KNOWN[name]).BACKEND
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(_KNOWN[name]):
            _FAILED[name] = "not built into this version of graphflow"
        else:
            _FAILED[name] = f"missing dependency: {exc.name}"
        return None
    except Exception as exc:  # noqa: BLE001 - any import failure is a reason to report
        _FAILED[name] = f"failed to load: {type(exc).__name__}: {exc}"
        return None
    _LOADED[name] = backend
    return backend


def available() -> dict[str, str]:
    """Each backend's name -> "available" or "unavailable: <reason>"."""
    out = {}
    for name in _KNOWN:
        backend = _load(name)
        if backend is None:
            out[name] = f"unavailable: {_FAILED[name]}"
            continue
        ok, reason = backend.availability()
        out[name] = "available" if ok else f"unavailable: {reason}"
    return out


def get_backend(name: str) -> Backend:
    """The backend called `name`; BackendUnavailableError (with the reason) when it cannot run here."""
    backend = _load(name)
    if backend is None:
        raise BackendUnavailableError(f"backend {name!r} is unavailable: {_FAILED[name]}")
    ok, reason = backend.availability()
    if not ok:
        raise BackendUnavailableError(f"backend {name!r} is unavailable: {reason}")
    return backend


# ---- the CPU backend every mode uses (eager ops, Session runs, gf.compile) ----------------------
CPU_BACKEND_ENV = "GRAPHFLOW_CPU_BACKEND"
CPU_BACKENDS = ("llvm", "numpy")


class _CPUChoice:
    __slots__ = ("name", "default", "backend")

    def __init__(self) -> None:
        self.name: str | None = None  # set by gf.set_backend; None: the environment or the default
        self.default: str | None = None  # llvm when it can run here, else numpy (probed once)
        # the backend in use, resolved once: eager mode asks on every op (reading os.environ each
        # time would cost more than a small op)
        self.backend: Backend | None = None


_CPU = _CPUChoice()


def _check_cpu_name(name: str, where: str) -> str:
    if name not in CPU_BACKENDS:
        raise ValueError(f"{where}: expected one of {', '.join(CPU_BACKENDS)}, got {name!r}")
    return name


def set_cpu_backend(name: str | None) -> Backend | None:
    """Choose the CPU backend for every mode ('llvm' or 'numpy'); None goes back to
    `GRAPHFLOW_CPU_BACKEND` (read again), else the default. Raises, with the reason, when the
    backend cannot run here."""
    if name is None:
        _CPU.name = _CPU.backend = None
        return None
    backend = get_backend(_check_cpu_name(name, "set_backend"))
    _CPU.name, _CPU.backend = name, backend
    return backend


def cpu_backend_choice() -> str | None:
    """The name `set_cpu_backend` chose, or None when the environment/default decides."""
    return _CPU.name


def default_cpu_backend_name() -> str:
    """`GRAPHFLOW_CPU_BACKEND` when set, else llvm when it can run here, else numpy."""
    env = os.environ.get(CPU_BACKEND_ENV)
    if env:
        return _check_cpu_name(env, CPU_BACKEND_ENV)
    if _CPU.default is None:
        _CPU.default = "llvm" if available().get("llvm") == "available" else "numpy"
    return _CPU.default


def current_cpu_backend() -> Backend:
    """The CPU backend eager ops, `Session.run` and `gf.compile` run on: `gf.set_backend`'s
    choice, else `GRAPHFLOW_CPU_BACKEND` (read when first needed, and again after
    `set_backend(None)`), else llvm when it can run here, else numpy."""
    backend = _CPU.backend
    if backend is None:
        backend = _CPU.backend = get_backend(default_cpu_backend_name())
    return backend


def cpu_backend_name() -> str:
    """The name of `current_cpu_backend()`."""
    return current_cpu_backend().name
