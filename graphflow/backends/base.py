"""The backend contract and the registry of backends."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from graphflow.errors import BackendUnavailableError
from graphflow.ir.graph import Attrs, Graph, TensorType
from graphflow.ir.registry import OpDef


class Executable(ABC):
    """A compiled graph. `run` takes one array per graph input (in `graph.inputs` order) and the
    variable state, and returns one array per output."""

    graph: Graph

    @abstractmethod
    def run(self, inputs: Sequence[np.ndarray], state: dict | None = None,
            bindings: dict[str, int] | None = None) -> list[np.ndarray]: ...


class Backend(ABC):
    name: str

    @abstractmethod
    def availability(self) -> tuple[bool, str]:
        """(True, "available") or (False, the reason)."""

    @abstractmethod
    def compile(self, graph: Graph) -> Executable: ...

    @abstractmethod
    def run_op(self, op: OpDef, inputs: Sequence[np.ndarray], attrs: Attrs, out: TensorType) -> np.ndarray:
        """Run one op at once (eager mode's path)."""


# name -> module that defines `BACKEND` (imported lazily: a missing dependency becomes a reason)
_KNOWN = {"numpy": "graphflow.backends.numpy", "llvm": "graphflow.backends.llvm",
          "cuda": "graphflow.backends.cuda"}
_LOADED: dict[str, Backend] = {}
_FAILED: dict[str, str] = {}


def register_backend(name: str, module: str) -> None:
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


def available() -> dict[str, Any]:
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
    backend = _load(name)
    if backend is None:
        raise BackendUnavailableError(f"backend {name!r} is unavailable: {_FAILED[name]}")
    ok, reason = backend.availability()
    if not ok:
        raise BackendUnavailableError(f"backend {name!r} is unavailable: {reason}")
    return backend
