"""The GPU device: PyCUDA memory, modules loaded from cached cubins, launches on one stream, and
CUDA events for timing."""

from __future__ import annotations

import atexit
import importlib
from typing import Any

import numpy as np

from graphflow.backends.cuda.compiler import nvcc_compile
from graphflow.backends.cuda.runtime import Device


class PyCudaDevice(Device):
    """GPU `ordinal` through PyCUDA. `driver` replaces the `pycuda.driver` module (the tests run
    this class on a CPU through a checked stand-in)."""

    def __init__(self, ordinal: int = 0, driver: Any = None):
        drv = driver if driver is not None else importlib.import_module("pycuda.driver")
        drv.init()
        self.drv = drv
        self.dev = drv.Device(ordinal)
        self.ctx = self.dev.retain_primary_context()
        self.ctx.push()
        atexit.register(self._close)
        major, minor = self.dev.compute_capability()
        self.arch = f"sm_{major}{minor}"
        self.name = f"cuda:{ordinal} ({self.dev.name()})"
        self.stream = drv.Stream()
        self._modules: dict[str, Any] = {}

    def _close(self) -> None:
        try:
            self.ctx.pop()
        except Exception:  # noqa: BLE001 - the context may already be gone at exit
            pass

    def alloc(self, nbytes: int) -> Any:
        return self.drv.mem_alloc(max(int(nbytes), 1))

    def upload(self, handle: Any, array: np.ndarray) -> None:
        self.drv.memcpy_htod_async(handle, _contiguous(array), self.stream)

    def download(self, handle: Any, out: np.ndarray) -> None:
        self.drv.memcpy_dtoh_async(out, handle, self.stream)
        self.stream.synchronize()

    def zero(self, handle: Any, nbytes: int) -> None:
        self.drv.memset_d8_async(handle, 0, nbytes, self.stream)

    def load(self, program: Any) -> Any:
        source = program.module_source()
        if source not in self._modules:
            cubin = nvcc_compile(source, self.arch, use_pycuda=True)
            module = self.drv.module_from_buffer(cubin)
            self._modules[source] = (module, {})
        return self._modules[source]

    def launch(self, module: Any, function: str, grid: tuple, block: tuple, args: list[Any],
               param_types: list[str]) -> None:
        mod, funcs = module
        fn = funcs.get(function)
        if fn is None:
            fn = funcs[function] = mod.get_function(function)
        fn(*args, grid=tuple(int(g) for g in grid), block=tuple(int(b) for b in block), stream=self.stream)

    def synchronize(self) -> None:
        self.stream.synchronize()

    def timer(self) -> tuple[Any, Any]:
        """A (start, end) pair of events on the device's stream."""
        return self.drv.Event(), self.drv.Event()

    def time_ms(self, fn, repeat: int = 10) -> float:
        """Mean milliseconds of `fn()` (which launches work on this device), measured with events."""
        fn()
        start, end = self.timer()
        start.record(self.stream)
        for _ in range(repeat):
            fn()
        end.record(self.stream)
        end.synchronize()
        return start.time_till(end) / repeat


def _contiguous(array) -> np.ndarray:
    """A C-contiguous array of the same shape (np.ascontiguousarray would turn 0-d into 1-d)."""
    arr = np.asarray(array)
    return arr if arr.flags.c_contiguous else arr.copy(order="C")
