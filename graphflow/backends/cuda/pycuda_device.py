"""The GPU device: PyCUDA memory, modules loaded from cached cubins, launches on one stream, and
CUDA events for timing."""

from __future__ import annotations

import atexit
import importlib
import threading
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
        self._thread = threading.local()  # threads that made the context current (it is per thread in CUDA)
        self._thread.current = True
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

    def _enter(self) -> None:
        """Make the context current on the calling thread (a thread that never pushed it has none)."""
        if not getattr(self._thread, "current", False):
            self.ctx.push()
            self._thread.current = True

    def alloc(self, nbytes: int) -> Any:
        self._enter()
        return self.drv.mem_alloc(max(int(nbytes), 1))

    def upload(self, handle: Any, array: np.ndarray) -> None:
        self._enter()
        self.drv.memcpy_htod_async(handle, _contiguous(array), self.stream)

    def download(self, handle: Any, out: np.ndarray) -> None:
        self._enter()
        self.drv.memcpy_dtoh_async(out, handle, self.stream)
        self.stream.synchronize()

    def zero(self, handle: Any, nbytes: int) -> None:
        self._enter()
        self.drv.memset_d8_async(handle, 0, int(nbytes), self.stream)

    def load(self, program: Any) -> Any:
        self._enter()
        source = program.module_source()
        if source not in self._modules:
            cubin = nvcc_compile(source, self.arch, use_pycuda=True)
            module = self.drv.module_from_buffer(cubin)
            self._modules[source] = (module, {})
        return self._modules[source]

    def launch(self, module: Any, function: str, grid: tuple, block: tuple, args: list[Any],
               param_types: list[str]) -> None:
        self._enter()
        mod, funcs = module
        fn = funcs.get(function)
        if fn is None:
            fn = funcs[function] = mod.get_function(function)
        # PyCUDA packs NumPy scalars by their dtype and refuses Python numbers: scalars get the
        # parameter's C type; pointers go as the allocations
        values = [a if t.endswith("*") else _SCALARS[t.replace("const ", "").strip()](a)
                  for a, t in zip(args, param_types, strict=True)]
        fn(*values, grid=tuple(int(g) for g in grid), block=tuple(int(b) for b in block), stream=self.stream)

    def synchronize(self) -> None:
        self._enter()
        self.stream.synchronize()

    def timer(self) -> tuple[Any, Any]:
        """A (start, end) pair of events on the device's stream."""
        self._enter()
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


# kernel scalar parameters: C type -> the NumPy scalar PyCUDA packs with that layout
_SCALARS = {"bool": np.bool_, "signed char": np.int8, "unsigned char": np.uint8, "short": np.int16, "int": np.int32,
            "unsigned": np.uint32, "unsigned int": np.uint32, "long long": np.int64, "unsigned long long": np.uint64,
            "float": np.float32, "double": np.float64}


def _contiguous(array) -> np.ndarray:
    """A C-contiguous array of the same shape (np.ascontiguousarray would turn 0-d into 1-d)."""
    arr = np.asarray(array)
    return arr if arr.flags.c_contiguous else arr.copy(order="C")
