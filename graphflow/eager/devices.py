"""Eager tensors on a GPU: moving data between host and device, and running ops there.

A cuda tensor holds a `DeviceArray` of the cuda backend (device memory; `get()` is the only way
its data comes back). Ops on cuda tensors run through the cuda backend's `run_op` and stay on the
device; `to("cpu")` / `.cpu()` / `.numpy()` after `.cpu()` copy back. Where there is no GPU,
moving a tensor raises `DeviceError` with the reason `graphflow.backends.available()["cuda"]`
gives. `use_backend("cuda", backend)` installs another backend object for a device type (the
tests run the whole path on the CPU through the cuda backend's emulator device)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from graphflow.eager.device import device
from graphflow.ir.graph import Attrs, TensorType
from graphflow.ir.registry import OpDef

_OVERRIDE: dict[str, Any] = {}


def overridden(kind: str) -> bool:
    return kind in _OVERRIDE


@contextmanager
def use_backend(kind: str, backend: Any) -> Iterator[Any]:
    """Run ops on devices of type `kind` with `backend` inside the block."""
    prev = _OVERRIDE.get(kind)
    _OVERRIDE[kind] = backend
    try:
        yield backend
    finally:
        if prev is None:
            del _OVERRIDE[kind]
        else:
            _OVERRIDE[kind] = prev


def device_backend(dev: device) -> Any:
    """The backend that runs ops on `dev` (raises with the reason when it is unavailable)."""
    backend = _OVERRIDE.get(dev.type)
    if backend is not None:
        return backend
    from graphflow.backends import get_backend

    return get_backend(dev.type)


def upload(array: np.ndarray, dev: device) -> Any:
    """A device copy of a host array."""
    from graphflow.backends.cuda.runtime import DeviceArray

    return DeviceArray.from_host(device_backend(dev).device, np.ascontiguousarray(array) if array.ndim else array)


def download(data: Any) -> np.ndarray:
    """The host copy of device data (host arrays pass through)."""
    return data if isinstance(data, np.ndarray) else data.get()


def run_op(dev: device, op: OpDef, arrays: Sequence[Any], attrs: Attrs, out: TensorType) -> Any:
    """Run one op on `dev`; the result stays there."""
    backend = device_backend(dev)
    result = backend.run_op(op, arrays, attrs, out)
    if isinstance(result, np.ndarray):  # a backend that hands results back to the host
        result = upload(result, dev)
    return result


def ones(dev: device, shape: tuple, dtype: Any) -> Any:
    return upload(np.ones(shape, dtype), dev)
