"""Running a `Program` on a device: buffers, uploads only of what the user passes as host arrays,
launches in order, and downloads only of what the user asks for."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from math import prod
from typing import Any

import numpy as np

from graphflow.backends.base import Executable
from graphflow.backends.cuda.program import Program
from graphflow.errors import GraphError
from graphflow.ir.shapes import fmt


class Device(ABC):
    """Device memory and kernel launches (PyCUDA on a GPU; the emulator on a CPU)."""

    name: str

    @abstractmethod
    def alloc(self, nbytes: int) -> Any: ...

    @abstractmethod
    def upload(self, handle: Any, array: np.ndarray) -> None: ...

    @abstractmethod
    def download(self, handle: Any, out: np.ndarray) -> None: ...

    @abstractmethod
    def zero(self, handle: Any, nbytes: int) -> None: ...

    @abstractmethod
    def load(self, program: Program) -> Any:
        """Compile (or fetch from the cache) the program's module."""

    @abstractmethod
    def launch(self, module: Any, function: str, grid: tuple, block: tuple, args: list[Any],
               param_types: list[str]) -> None: ...

    def synchronize(self) -> None:  # noqa: B027 - devices that run synchronously need nothing
        pass


class DeviceArray:
    """A tensor in device memory. `get()` copies it to the host (the only way data comes back)."""

    def __init__(self, device: Device, handle: Any, dtype: np.dtype, shape: tuple[int, ...]):
        self.device = device
        self.handle = handle
        self.dtype = np.dtype(dtype)
        self.shape = tuple(shape)

    @classmethod
    def from_host(cls, device: Device, array: np.ndarray) -> DeviceArray:
        arr = _contiguous(array)
        out = cls(device, device.alloc(max(arr.nbytes, 16)), arr.dtype, arr.shape)
        if arr.nbytes:
            device.upload(out.handle, arr)
        return out

    @property
    def nbytes(self) -> int:
        return prod(self.shape) * self.dtype.itemsize

    @property
    def size(self) -> int:
        return prod(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def get(self) -> np.ndarray:
        out = np.empty(self.shape, self.dtype)
        if out.nbytes:
            self.device.synchronize()
            self.device.download(self.handle, out)
        return out

    def __repr__(self) -> str:
        return f"DeviceArray({self.dtype}, {fmt(self.shape)}, on {self.device.name})"


class CudaExecutable(Executable):
    """A compiled graph. `run` takes host arrays or `DeviceArray`s; with `to_host=False` it returns
    `DeviceArray`s and copies nothing back."""

    def __init__(self, program: Program, device: Device):
        self.program = program
        self.graph = program.graph
        self.device = device
        self.module = device.load(program)
        self._constants = {nid: DeviceArray.from_host(device, arr) for nid, arr in program.constants.items()}
        self._err = device.alloc(16) if program.sites.entries else None

    def run(self, inputs: Sequence[Any], state: dict | None = None, bindings: dict[str, int] | None = None,
            to_host: bool = True) -> list[Any]:
        prog, dev = self.program, self.device
        if len(inputs) != len(prog.inputs):
            raise GraphError(f"graph takes {len(prog.inputs)} inputs, got {len(inputs)}")
        state = state if state is not None else {}
        bufs: dict[int, DeviceArray] = dict(self._constants)
        for node, value in zip(self.graph.inputs, inputs):
            bufs[node.id] = self._device_value(node, value)
        for nid, var in prog.variables.items():
            if var not in state:
                raise GraphError(f"variable {var.name!r} is read before it was initialised")
            bufs[nid] = self._device_value(None, state[var], var.dtype.np, var.shape)
        for nid, node in prog.sym_sizes.items():
            expr = node.attrs["expr"]
            value = expr.evaluate(bindings or {}) if hasattr(expr, "evaluate") else expr
            bufs[nid] = DeviceArray.from_host(dev, np.asarray(value, dtype=node.dtype.np))
        for nid, t in prog.buffers.items():
            if nid not in bufs:
                shape = tuple(int(d) for d in t.shape)
                bufs[nid] = DeviceArray(dev, dev.alloc(max(prod(shape) * t.dtype.itemsize, 16)), t.dtype.np, shape)
        if self._err is not None:
            dev.zero(self._err, 16)
        for launch in prog.launches:
            args = [bufs[i].handle for i in launch.buffers] + [self._err if self._err is not None else
                                                              self._null()]
            dev.launch(self.module, launch.function, launch.grid, launch.block, args, launch.param_types)
        if self._err is not None:
            flag = np.zeros(4, np.int32)
            dev.synchronize()
            dev.download(self._err, flag)
            if flag[0]:
                kind, message = prog.error_message(int(flag[0]))
                raise kind(message)
        for nid, var in prog.assigns.items():
            result = bufs[nid]
            state[var] = result if isinstance(state.get(var), DeviceArray) else result.get()
        outs = [bufs[o] for o in prog.outputs]
        if to_host:
            return [o.get() for o in outs]
        # outputs that alias an input or a constant are copied so the caller owns what it gets
        fresh = set(prog.inputs) | set(prog.constants)
        return [DeviceArray.from_host(dev, o.get()) if oid in fresh else o for oid, o in zip(prog.outputs, outs)]

    def _null(self) -> Any:
        if not hasattr(self, "_null_buf"):
            self._null_buf = self.device.alloc(16)
        return self._null_buf

    def _device_value(self, node, value: Any, dtype: np.dtype | None = None, shape: tuple | None = None) -> DeviceArray:
        if isinstance(value, DeviceArray):
            arr_dtype, arr_shape = value.dtype, value.shape
        else:
            value = np.asarray(value)
            arr_dtype, arr_shape = value.dtype, value.shape
        if node is not None:
            dtype, shape = node.dtype.np, tuple(node.shape)
            what = f"input {node.name or node.op.name}"
        else:
            what = "variable"
        if arr_dtype != dtype:
            raise GraphError(f"{what} expects dtype {dtype}, got {arr_dtype}"
                             + (f" (created at {node.loc})" if node is not None and node.loc else ""))
        if tuple(arr_shape) != tuple(shape):
            raise GraphError(f"{what} expects shape {fmt(shape)}, got {fmt(arr_shape)}"
                             + (f" (created at {node.loc})" if node is not None and node.loc else ""))
        if isinstance(value, DeviceArray):
            if value.device is not self.device:
                raise GraphError(f"{what} lives on {value.device.name}, the graph runs on {self.device.name}")
            return value
        return DeviceArray.from_host(self.device, value)


def _contiguous(array) -> np.ndarray:
    """A C-contiguous array of the same shape (np.ascontiguousarray would turn 0-d into 1-d)."""
    arr = np.asarray(array)
    return arr if arr.flags.c_contiguous else arr.copy(order="C")
