"""A stand-in for the part of `pycuda.driver` that `PyCudaDevice` uses, for tests on machines
without a GPU. Kernels run on the CPU through the cuda emulator (the same CUDA C text nvcc gets);
every call is checked the way PyCUDA (2024.1) and the CUDA driver check it:

- argument types as PyCUDA's Boost.Python wrappers convert them: sizes, grid and block entries
  are Python ints (a NumPy integer is refused, as `extract<unsigned>` refuses it); grid and
  block are tuples; device pointers are `DeviceAllocation`s or ints; host buffers are taken with
  `PyBUF_ANY_CONTIGUOUS` (plus `PyBUF_WRITABLE` for a copy's destination);
- kernel arguments as `pycuda.driver._build_arg_buf` packs them: NumPy scalars, arrays (by
  value), `np.void`, `DeviceAllocation`s, objects with `__cuda_array_interface__` or `.gpudata`;
  anything else (a Python int or float) is a TypeError. The packed parameters must match the
  kernel's signature (parsed from its source) in size and offset, pointer for pointer;
- what the driver refuses: no current context, a zero-byte allocation, a copy or memset outside
  one live allocation, a freed allocation, a pointer not aligned to its element, more than 1024
  threads per block (or more than the kernel's `__launch_bounds__`), a zero grid or block
  dimension, a function the module lacks, an elapsed time between events not both recorded.

Fresh allocations are filled with 0xFF bytes (device memory is not zeroed), so code that reads
memory it never wrote sees NaN or -1. Work runs when it is issued (a stream is in order and a
copy to pageable host memory waits for it), which is what a single-stream program observes.

`module_from_buffer` takes either a real cubin whose source was registered with `register_cubin`
(nvcc ran; the kernel names must be in its symbol table) or `source_image(source)`, the source
text behind a marker, for tests that skip nvcc. Never installed as `pycuda`: tests hand a
`FakeDriver()` to `PyCudaDevice(driver=...)`."""

from __future__ import annotations

import bisect
import ctypes
import hashlib
import re
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphflow.backends.cuda.emulation import EmulatorDevice

SOURCE_MARKER = b"GF-CUDA-SOURCE\0"
ALIGNMENT = 256  # cuMemAlloc's alignment
MAX_THREADS = 1024
MAX_BLOCK = (1024, 1024, 64)
MAX_GRID = ((1 << 31) - 1, 65535, 65535)
MAX_PARAM_BYTES = 4096
MAX_SHARED = 48 * 1024

# C scalar types of kernel parameters: (size, alignment)
C_SCALARS = {"bool": 1, "char": 1, "signed char": 1, "unsigned char": 1, "short": 2, "unsigned short": 2,
             "int": 4, "unsigned": 4, "unsigned int": 4, "long long": 8, "unsigned long long": 8, "float": 4,
             "double": 8, "__half": 2, "__nv_bfloat16": 2}
_KERNEL = re.compile(r'extern "C" __global__ void (?:__launch_bounds__\((\d+)\) )?(\w+)\(([^)]*)\)')

# Python's buffer-protocol flags (PyCUDA asks for these in its memcpy wrappers)
PyBUF_WRITABLE = 0x0001
PyBUF_ANY_CONTIGUOUS = 0x0080 | 0x0010 | 0x0008


# ---- errors: pycuda.driver's classes ---------------------------------------------------------
class Error(Exception):
    """pycuda.driver.Error"""


class LogicError(Error):
    """pycuda.driver.LogicError: invalid value, handle, context or image."""


class LaunchError(Error):
    """pycuda.driver.LaunchError: the launch failed or asked for too many resources."""


class CudaMemoryError(Error):
    """pycuda.driver.MemoryError"""


class CudaRuntimeError(Error):
    """pycuda.driver.RuntimeError"""


def source_image(source: str) -> bytes:
    """The stand-in for a cubin when nvcc is skipped: the source behind a marker."""
    return SOURCE_MARKER + source.encode()


# ---- the host-buffer view PyCUDA takes (PyObject_GetBuffer) ---------------------------------
class _Py_buffer(ctypes.Structure):
    _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p), ("len", ctypes.c_ssize_t),
                ("itemsize", ctypes.c_ssize_t), ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
                ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p), ("strides", ctypes.c_void_p),
                ("suboffsets", ctypes.c_void_p), ("internal", ctypes.c_void_p)]


_GetBuffer = ctypes.pythonapi.PyObject_GetBuffer
_GetBuffer.argtypes = [ctypes.py_object, ctypes.POINTER(_Py_buffer), ctypes.c_int]
_GetBuffer.restype = ctypes.c_int
_ReleaseBuffer = ctypes.pythonapi.PyBuffer_Release
_ReleaseBuffer.argtypes = [ctypes.POINTER(_Py_buffer)]
_ReleaseBuffer.restype = None


class _HostBuffer:
    """`with _HostBuffer(obj, writable) as (address, nbytes)`: PyCUDA's py_buffer_wrapper."""

    def __init__(self, obj: Any, writable: bool):
        self.obj, self.flags = obj, PyBUF_ANY_CONTIGUOUS | (PyBUF_WRITABLE if writable else 0)
        self.view = _Py_buffer()

    def __enter__(self) -> tuple[int, int]:
        _GetBuffer(self.obj, ctypes.byref(self.view), self.flags)  # raises TypeError/ValueError/BufferError
        return self.view.buf or 0, self.view.len

    def __exit__(self, *exc: Any) -> None:
        _ReleaseBuffer(ctypes.byref(self.view))


# ---- argument conversions as Boost.Python does them -------------------------------------------
def _int(value: Any, what: str) -> int:
    if not isinstance(value, int):  # Boost.Python takes PyLong only (a NumPy integer is not one)
        raise TypeError(f"Python argument types did not match C++ signature: {what} must be int, "
                        f"got {type(value).__name__}")
    return value


def _unsigned(value: Any, what: str, bits: int = 32) -> int:
    value = _int(value, what)
    if not 0 <= value < (1 << bits):
        raise OverflowError(f"{what}: {value} does not fit an unsigned {bits}-bit integer")
    return value


@dataclass
class Param:
    type: str  # as in the signature, without names and qualifiers: "const float*", "long long"
    size: int
    align: int
    pointee: int = 0  # element size a pointer points at (its required alignment)

    @property
    def is_pointer(self) -> bool:
        return self.type.endswith("*")


def parse_param(text: str) -> Param:
    words = text.replace("*", " * ").split()
    words = [w for w in words[:-1] if w != "__restrict__"]  # the last word is the name
    ctype = " ".join(words).replace(" *", "*")
    if ctype.endswith("*"):
        base = ctype.rstrip("*").replace("const ", "").strip()
        return Param(ctype, 8, 8, C_SCALARS.get(base, 1))
    base = ctype.replace("const ", "").strip()
    if base not in C_SCALARS:
        raise LogicError(f"kernel parameter type {ctype!r} is not one the fake driver knows")
    return Param(ctype, C_SCALARS[base], C_SCALARS[base])


@dataclass
class KernelSig:
    name: str
    params: list[Param]
    launch_bounds: int | None

    def offsets(self) -> tuple[list[int], int]:
        offs, end = [], 0
        for p in self.params:
            end = -(-end // p.align) * p.align
            offs.append(end)
            end += p.size
        return offs, end


def parse_kernels(source: str) -> dict[str, KernelSig]:
    out = {}
    for bounds, name, params in _KERNEL.findall(source):
        out[name] = KernelSig(name, [parse_param(p) for p in params.split(",") if p.strip()],
                              int(bounds) if bounds else None)
    if len(out) != source.count("__global__"):
        raise LogicError("could not read every __global__ function's signature from the module source")
    return out


# ---- the driver --------------------------------------------------------------------------
class FakeDriver:
    """One fake `pycuda.driver` module with its own devices, memory and call log."""

    Error, LogicError, LaunchError = Error, LogicError, LaunchError
    MemoryError, RuntimeError = CudaMemoryError, CudaRuntimeError

    def __init__(self, count: int = 1, compute_capability: tuple[int, int] = (8, 0),
                 total_memory: int = 1 << 32, emulator: EmulatorDevice | None = None):
        self._initialised = False
        self._count = count
        self.compute_capability = compute_capability
        self.total_memory = total_memory
        self.emulator = emulator or EmulatorDevice()
        self.calls: list[tuple[str, Any]] = []  # (api name, details): what the code under test asked for
        self.allocated = 0
        self._starts: list[int] = []  # sorted start addresses of live allocations
        self._live: dict[int, DeviceAllocation] = {}
        self._cubins: dict[str, str] = {}  # sha256 of a cubin -> its source
        self._local = threading.local()
        self.freed = 0
        drv = self

        class Device(_Device):
            _drv = drv

        class Context(_Context):
            _drv = drv
            pop = staticmethod(lambda: _Context._api_pop(drv))  # static in PyCUDA: ctx.pop() or Context.pop()

        self.Device, self.Context = Device, Context
        self.Stream = lambda flags=0: _Stream(drv, _int(flags, "flags"))
        self.Event = lambda flags=0: _Event(drv, _int(flags, "flags"))
        self.DeviceAllocation = DeviceAllocation
        self.Function, self.Module = Function, Module
        self.event_flags = type("event_flags", (), {"DEFAULT": 0, "BLOCKING_SYNC": 1, "DISABLE_TIMING": 2})

    # -- bookkeeping --
    def log(self, name: str, details: Any = None) -> None:
        self.calls.append((name, details))

    def count_calls(self, name: str) -> int:
        return sum(1 for n, _ in self.calls if n == name)

    def register_cubin(self, cubin: bytes, source: str) -> None:
        """Say which source a cubin nvcc produced was compiled from."""
        self._cubins[hashlib.sha256(bytes(cubin)).hexdigest()] = source

    @property
    def live_allocations(self) -> int:
        return len(self._live)

    def _stack(self) -> list:
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        return self._local.stack

    def _need(self, api: str) -> None:
        if not self._initialised:
            raise LogicError(f"{api} failed: initialization error (cuInit has not been called)")
        if not self._stack():
            raise LogicError(f"{api} failed: invalid device context")

    def _region(self, api: str, ptr: Any, nbytes: int) -> int:
        """The host address behind [ptr, ptr + nbytes), which must lie in one live allocation."""
        if isinstance(ptr, DeviceAllocation):
            if ptr._drv is not self:
                raise LogicError(f"{api} failed: invalid argument (allocation of another driver)")
            addr = ptr._addr
        else:
            addr = _int(ptr, "device pointer")
        i = bisect.bisect_right(self._starts, addr) - 1
        alloc = self._live.get(self._starts[i]) if i >= 0 else None
        if alloc is None or not alloc._addr <= addr < alloc._addr + alloc._size:
            raise LogicError(f"{api} failed: invalid argument (address {addr:#x} is not in a live allocation"
                             + (": it was freed" if isinstance(ptr, DeviceAllocation) else "") + ")")
        if addr + nbytes > alloc._addr + alloc._size:
            raise LogicError(f"{api} failed: invalid argument ({nbytes} bytes at offset {addr - alloc._addr} "
                             f"of a {alloc._size}-byte allocation)")
        return addr

    def _stream(self, api: str, stream: Any) -> None:
        if stream is not None and not (isinstance(stream, _Stream) and stream._drv is self):
            raise TypeError(f"{api}: stream must be a pycuda.driver.Stream or None, got {type(stream).__name__}")

    # -- pycuda.driver functions --
    def init(self, flags: int = 0) -> None:
        if _int(flags, "flags") != 0:
            raise LogicError("cuInit failed: invalid value")
        self._initialised = True
        self.log("init")

    def mem_alloc(self, bytes: int) -> DeviceAllocation:  # noqa: A002 - PyCUDA's keyword
        self._need("cuMemAlloc")
        size = _unsigned(bytes, "bytes", 64)
        if size == 0:
            raise LogicError("cuMemAlloc failed: invalid argument")
        if self.allocated + size > self.total_memory:
            raise CudaMemoryError("cuMemAlloc failed: out of memory")
        alloc = DeviceAllocation(self, size)
        bisect.insort(self._starts, alloc._addr)
        self._live[alloc._addr] = alloc
        self.allocated += size
        self.log("mem_alloc", size)
        return alloc

    def _free(self, alloc: DeviceAllocation) -> None:
        self._starts.pop(bisect.bisect_left(self._starts, alloc._addr))
        del self._live[alloc._addr]
        self.allocated -= alloc._size
        self.freed += 1

    def memcpy_htod_async(self, dest: Any, src: Any, stream: Any = None) -> None:
        self._need("cuMemcpyHtoDAsync")
        self._stream("memcpy_htod_async", stream)
        with _HostBuffer(src, writable=False) as (host, nbytes):
            addr = self._region("cuMemcpyHtoDAsync", dest, nbytes)
            ctypes.memmove(addr, host, nbytes)
        self.log("memcpy_htod_async", (nbytes, stream))

    def memcpy_dtoh_async(self, dest: Any, src: Any, stream: Any = None) -> None:
        self._need("cuMemcpyDtoHAsync")
        self._stream("memcpy_dtoh_async", stream)
        with _HostBuffer(dest, writable=True) as (host, nbytes):
            addr = self._region("cuMemcpyDtoHAsync", src, nbytes)
            ctypes.memmove(host, addr, nbytes)
        self.log("memcpy_dtoh_async", (nbytes, stream))

    def memcpy_htod(self, dest: Any, src: Any) -> None:
        self.memcpy_htod_async(dest, src)

    def memcpy_dtoh(self, dest: Any, src: Any) -> None:
        self.memcpy_dtoh_async(dest, src)

    def memcpy_dtod_async(self, dest: Any, src: Any, size: int, stream: Any = None) -> None:
        self._need("cuMemcpyDtoDAsync")
        self._stream("memcpy_dtod_async", stream)
        size = _unsigned(size, "size", 64)
        ctypes.memmove(self._region("cuMemcpyDtoDAsync", dest, size), self._region("cuMemcpyDtoDAsync", src, size),
                       size)
        self.log("memcpy_dtod_async", (size, stream))

    def memcpy_dtod(self, dest: Any, src: Any, size: int) -> None:
        self.memcpy_dtod_async(dest, src, size)

    def memset_d8_async(self, dest: Any, data: int, size: int, stream: Any = None) -> None:
        self._need("cuMemsetD8Async")
        self._stream("memset_d8_async", stream)
        value, size = _unsigned(data, "data", 8), _unsigned(size, "size", 64)
        ctypes.memset(self._region("cuMemsetD8Async", dest, size), value, size)
        self.log("memset_d8_async", (size, stream))

    def memset_d8(self, dest: Any, data: int, size: int) -> None:
        self.memset_d8_async(dest, data, size)

    def module_from_buffer(self, buffer: Any, options: list | None = None,
                           message_handler: Any = None) -> Module:
        self._need("cuModuleLoadDataEx")
        image = bytes(memoryview(buffer))
        if options is not None and not all(isinstance(o, tuple) and len(o) == 2 for o in options):
            raise TypeError("module_from_buffer: options must be a list of (jit_option, value) tuples")
        if image.startswith(SOURCE_MARKER):
            source, cubin = image[len(SOURCE_MARKER):].decode(), None
        elif image[:4] == b"\x7fELF":
            source = self._cubins.get(hashlib.sha256(image).hexdigest())
            if source is None:
                raise LogicError("cuModuleLoadDataEx failed: this fake driver was not told the cubin's source")
            cubin = image
        else:
            raise LogicError("cuModuleLoadDataEx failed: device kernel image is invalid")
        kernels = parse_kernels(source)
        if cubin is not None:
            missing = [k for k in kernels if k.encode() + b"\0" not in cubin]
            if missing:
                raise LogicError(f"cuModuleLoadDataEx: the cubin lacks kernels {missing} of its source")
        lib = self.emulator.load_source(source, [(k.name, [p.type for p in k.params]) for k in kernels.values()])
        self.log("module_from_buffer", len(image))
        return Module(self, kernels, lib)


class DeviceAllocation:
    """pycuda.driver.DeviceAllocation: `int(a)` is the device address; freed by `free()` or
    when garbage-collected."""

    def __init__(self, drv: FakeDriver, size: int):
        raw = np.empty(size + ALIGNMENT, np.uint8)
        raw.fill(0xFF)  # device memory is not zeroed: reading unwritten memory shows
        off = (-raw.ctypes.data) % ALIGNMENT
        self._drv, self._raw, self._size = drv, raw, size
        self._addr = raw.ctypes.data + off
        self._valid = True

    def __int__(self) -> int:
        return self._addr

    __index__ = __int__

    def free(self) -> None:
        if not self._valid:
            raise LogicError("cuMemFree failed: invalid argument (already freed)")
        self._valid = False
        self._drv._free(self)
        self._raw = None  # the memory is gone: a stale pointer cannot be read through

    def __del__(self) -> None:
        if getattr(self, "_valid", False):
            self.free()


class _Device:
    _drv: FakeDriver

    def __init__(self, number: int):
        if not self._drv._initialised:
            raise LogicError("cuDeviceGet failed: initialization error")
        if not 0 <= _int(number, "number") < self._drv._count:
            raise LogicError("cuDeviceGet failed: invalid device ordinal")
        self.number = number

    @classmethod
    def count(cls) -> int:
        if not cls._drv._initialised:
            raise LogicError("cuDeviceGetCount failed: initialization error")
        return cls._drv._count

    def name(self) -> str:
        return "Fake CUDA Device (CPU emulator)"

    def compute_capability(self) -> tuple[int, int]:
        return self._drv.compute_capability

    def total_memory(self) -> int:
        return self._drv.total_memory

    def retain_primary_context(self) -> _Context:
        return self._drv.Context(self)

    def make_context(self, flags: int = 0) -> _Context:
        ctx = self._drv.Context(self)
        ctx.push()
        return ctx


class _Context:
    _drv: FakeDriver

    def __init__(self, device: _Device):
        self.device = device

    def push(self) -> None:
        self._drv._stack().append(self)
        self._drv.log("Context.push")

    @staticmethod
    def _api_pop(drv: FakeDriver) -> None:
        stack = drv._stack()
        if not stack:
            raise LogicError("cuCtxPopCurrent failed: invalid device context")
        stack.pop()
        drv.log("Context.pop")

    @classmethod
    def get_current(cls) -> _Context | None:
        stack = cls._drv._stack()
        return stack[-1] if stack else None

    @classmethod
    def synchronize(cls) -> None:
        cls._drv._need("cuCtxSynchronize")

    def get_device(self) -> _Device:
        return self.device


class _Stream:
    def __init__(self, drv: FakeDriver, flags: int):
        drv._need("cuStreamCreate")
        self._drv, self.flags = drv, flags

    def synchronize(self) -> None:
        self._drv._need("cuStreamSynchronize")
        self._drv.log("Stream.synchronize")

    def is_done(self) -> bool:
        return True


class _Event:
    def __init__(self, drv: FakeDriver, flags: int):
        drv._need("cuEventCreate")
        self._drv, self.flags, self._time = drv, flags, None

    def record(self, stream: Any = None) -> _Event:
        self._drv._need("cuEventRecord")
        self._drv._stream("Event.record", stream)
        self._time = time.perf_counter()  # work is done when issued: the event completes at once
        self._drv.log("Event.record", stream)
        return self

    def synchronize(self) -> _Event:
        self._drv._need("cuEventSynchronize")
        return self

    def query(self) -> bool:
        return True

    def time_till(self, event: _Event) -> float:
        """Milliseconds from this event to `event` (cuEventElapsedTime(self, event))."""
        if not isinstance(event, _Event):
            raise TypeError(f"time_till: expected an Event, got {type(event).__name__}")
        self._drv._need("cuEventElapsedTime")
        for e in (self, event):
            if e.flags & 2:
                raise LogicError("cuEventElapsedTime failed: invalid resource handle (timing disabled)")
            if e._time is None:
                raise LogicError("cuEventElapsedTime failed: invalid resource handle (event not recorded)")
        return (event._time - self._time) * 1e3

    def time_since(self, event: _Event) -> float:
        return event.time_till(self)


class Module:
    def __init__(self, drv: FakeDriver, kernels: dict[str, KernelSig], lib: ctypes.CDLL):
        self._drv, self._kernels, self._lib = drv, kernels, lib

    def get_function(self, name: str) -> Function:
        if not isinstance(name, str):
            raise TypeError(f"get_function: name must be str, got {type(name).__name__}")
        self._drv._need("cuModuleGetFunction")
        sig = self._kernels.get(name)
        if sig is None:
            raise LogicError("cuModuleGetFunction failed: named symbol not found")
        return Function(self._drv, sig, getattr(self._lib, f"gf_launch_{name}"))


def _pack_args(args: tuple) -> tuple[str, list[str], bytes]:
    """pycuda.driver._build_arg_buf: (format, per-argument formats, packed bytes)."""
    data, formats = [], []
    for i, arg in enumerate(args):
        if isinstance(arg, np.number):
            data.append(arg)
            formats.append(arg.dtype.char)
        elif isinstance(arg, DeviceAllocation):
            data.append(int(arg))
            formats.append("P")
        elif isinstance(arg, np.ndarray):
            data.append(arg.tobytes())
            formats.append(f"{arg.nbytes}s")
        elif isinstance(arg, np.void):
            data.append(bytes(memoryview(arg)))
            formats.append(f"{arg.itemsize}s")
        else:
            cai = getattr(arg, "__cuda_array_interface__", None)
            if cai:
                data.append(cai["data"][0])
                formats.append("P")
                continue
            try:
                gpudata = np.uintp(arg.gpudata)
            except AttributeError:
                raise TypeError(f"invalid type on parameter #{i} (0-based)") from None
            data.append(int(gpudata))
            formats.append("P")
    fmt = "".join(formats)
    return fmt, formats, struct.pack(fmt, *data)


class Function:
    """pycuda.driver.Function: called as PyCUDA's `function_call`."""

    def __init__(self, drv: FakeDriver, sig: KernelSig, entry: Any):
        self._drv, self.sig, self._entry = drv, sig, entry
        self._entry.restype = ctypes.c_int

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        grid = kwargs.pop("grid", (1, 1))
        stream = kwargs.pop("stream", None)
        block = kwargs.pop("block", None)
        shared = kwargs.pop("shared", 0)
        kwargs.pop("texrefs", [])
        time_kernel = kwargs.pop("time_kernel", False)
        if kwargs:
            raise ValueError(f"extra keyword arguments: {','.join(kwargs)}")
        if block is None:
            raise ValueError("must specify block size")
        if stream is not None and time_kernel:
            raise AssertionError("Can't time the kernel on an asynchronous invocation")
        fmt, formats, buf = _pack_args(args)
        self._launch_kernel(grid, block, formats, buf, shared, stream)

    def _launch_kernel(self, grid: Any, block: Any, formats: list[str], buf: bytes, shared: Any,
                       stream: Any) -> None:
        drv, sig = self._drv, self.sig
        drv._need("cuLaunchKernel")
        for what, dims in (("grid", grid), ("block", block)):
            if not isinstance(dims, tuple):  # Boost.Python's py::tuple parameter
                raise TypeError(f"Python argument types did not match C++ signature: {what} must be a tuple, "
                                f"got {type(dims).__name__}")
            if len(dims) > 3:
                raise LogicError(f"function::launch_kernel failed: too many {what} dimensions in kernel launch")
        g = [_unsigned(v, "grid dimension") for v in grid] + [1] * (3 - len(grid))
        b = [_unsigned(v, "block dimension") for v in block] + [1] * (3 - len(block))
        _unsigned(shared, "shared")
        drv._stream("Function.__call__", stream)
        where = f"kernel {sig.name} with grid {tuple(g)}, block {tuple(b)}"
        if min(g) == 0 or min(b) == 0 or any(v > m for v, m in zip(g, MAX_GRID)) or \
                any(v > m for v, m in zip(b, MAX_BLOCK)) or shared > MAX_SHARED:
            raise LogicError(f"cuLaunchKernel failed: invalid argument ({where})")
        threads = b[0] * b[1] * b[2]
        if threads > MAX_THREADS:
            raise LogicError(f"cuLaunchKernel failed: invalid argument ({where}: {threads} threads per block)")
        if sig.launch_bounds is not None and threads > sig.launch_bounds:
            raise LaunchError(f"cuLaunchKernel failed: too many resources requested for launch ({where}: "
                              f"__launch_bounds__({sig.launch_bounds}))")
        offsets, size = sig.offsets()
        if len(formats) != len(sig.params) or size > MAX_PARAM_BYTES:
            raise LogicError(f"cuLaunchKernel failed: invalid argument ({where}: {len(formats)} arguments, "
                             f"the kernel takes {len(sig.params)} in {size} bytes)")
        for i, (f, p, off) in enumerate(zip(formats, sig.params, offsets)):
            packed = struct.calcsize(f)
            as_pointer = f == "P" or (f in "qQlL" and packed == 8)  # np.uintp(address) is a pointer too
            if (not as_pointer if p.is_pointer else f == "P") or packed != p.size:
                raise LogicError(f"{where}: parameter #{i} is {p.type!r} ({p.size} bytes), got argument "
                                 f"format {f!r} ({packed} bytes)")
            if p.is_pointer:
                (addr,) = struct.unpack_from("Q", buf, off)
                drv._region(f"{where}, parameter #{i}", addr, 0)
                if addr % max(p.pointee, 1):
                    raise LaunchError(f"{where}: parameter #{i} ({p.type}) is misaligned: {addr:#x}")
        if len(buf) != size:  # every argument of the right size, yet placed where the kernel does not look
            raise LogicError(f"cuLaunchKernel failed: invalid argument ({where}: arguments packed in {len(buf)} "
                             f"bytes, the kernel's parameters take {size})")
        # the emulator's launcher reads parameter i at args[i], as cuLaunchKernel's kernelParams
        raw = ctypes.create_string_buffer(buf, max(len(buf), 1))
        base = ctypes.addressof(raw)
        argv = (ctypes.c_void_p * max(len(offsets), 1))(*[base + off for off in offsets])
        drv.log("launch", (sig.name, tuple(g), tuple(b), stream))
        rc = self._entry(*[ctypes.c_uint(v) for v in (*g, *b)], argv)
        if rc:
            raise LaunchError(f"cuLaunchKernel failed: unspecified launch failure ({where}, emulator code {rc})")
