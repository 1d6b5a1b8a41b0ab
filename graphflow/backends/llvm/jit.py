"""LLVM setup for the host CPU: target machine, the new pass manager pipeline, object emission and
loading object code into a JIT (so cached objects load without recompiling)."""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import select
import signal
import struct
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from functools import lru_cache

import llvmlite
import llvmlite.binding as llvm

_lock = threading.RLock()


@lru_cache(maxsize=1)
def _init() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    _load_runtime_libraries()


def _load_runtime_libraries() -> None:
    """Make the symbols generated code calls resolvable: libm, libgomp, NumPy's OpenBLAS."""
    # idle OpenMP threads sleep instead of spinning: the cores are shared with OpenBLAS's threads
    # and the Python thread (spinning workers made a small training step 2x slower)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    for name, soname in (("m", "libm.so.6"), ("gomp", "libgomp.so.1")):
        try:
            llvm.load_library_permanently(soname)  # the usual name: no search subprocess
        except RuntimeError:
            path = ctypes.util.find_library(name)
            if path:
                llvm.load_library_permanently(path)
    blas = blas_library()
    if blas:
        llvm.load_library_permanently(blas)


@lru_cache(maxsize=1)
def blas_library() -> str | None:
    """The OpenBLAS that NumPy ships (its `scipy_cblas_*64_` symbols), or None."""
    import numpy as np

    root = os.path.dirname(os.path.dirname(np.__file__))
    found = sorted(glob.glob(os.path.join(root, "numpy.libs", "libscipy_openblas64_*.so")))
    if not found:
        return None
    try:
        lib = ctypes.CDLL(found[0])
        lib.scipy_cblas_sgemm64_  # noqa: B018 - probe the symbol
    except (OSError, AttributeError):
        return None
    return found[0]


@lru_cache(maxsize=1)
def has_gomp() -> bool:
    """Is the OpenMP runtime loadable (kernels call GOMP_parallel from the generated code)?"""
    _init()
    return llvm.address_of_symbol("GOMP_parallel") is not None


@lru_cache(maxsize=1)
def target_machine() -> llvm.TargetMachine:
    _init()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(), features=host_features(),
                                        opt=3, reloc="pic", codemodel="default")


@lru_cache(maxsize=1)
def host_features() -> str:
    _init()
    return llvm.get_host_cpu_features().flatten()


def fingerprint() -> str:
    """What compiled code depends on besides the graph: CPU, its features, llvmlite, LLVM."""
    _init()
    return "|".join([llvm.get_host_cpu_name(), host_features(), llvmlite.__version__,
                     ".".join(map(str, llvm.llvm_version_info)), str(bool(blas_library()))])


def triple() -> str:
    _init()
    return llvm.get_process_triple()


def compile_ir(text: str, speed_level: int = 3, light: bool = False, optimise: bool = True) -> bytes:
    """Parse, optimise (O3 with loop and SLP vectorisation) and emit native object code. `light`
    turns loop unrolling and interleaving off: half the compile time, for graphs whose kernels
    are too small for them to pay."""
    _init()
    with _lock:
        return _compile(text, speed_level, light, optimise)


Job = tuple  # (module text or a function building it, light, optimise): `compile_ir`'s arguments


def compile_all(jobs: Sequence[Job]) -> list[bytes]:
    """Compile several modules at the same time: the first here, each other one in a forked
    child process (LLVM work in one process is serialised by llvmlite's lock, so threads would
    not overlap). A child that fails, or a platform without fork, leaves its module to this
    process. The objects come back in the order of the jobs."""
    _init()
    with _lock:  # no other thread of this process is inside LLVM while the children fork
        children = [_fork_compile(job) for job in jobs[1:]] if _can_fork() else [None] * (len(jobs) - 1)
        objs = [_compile(jobs[0][0], 3, jobs[0][1], jobs[0][2])]
        for job, child in zip(jobs[1:], children):
            obj = _collect(child) if child is not None else None
            objs.append(obj if obj is not None else _compile(job[0], 3, job[1], job[2]))
    return objs


_PACKED = b"GFPARTS1"


def pack(objs: Sequence[bytes]) -> bytes:
    """Several objects as one blob (the cache stores one entry per graph)."""
    head = struct.pack(f"<I{len(objs)}Q", len(objs), *(len(o) for o in objs))
    return _PACKED + head + b"".join(objs)


def unpack(blob: bytes) -> list[bytes]:
    """The objects of `pack` (a plain object stays itself)."""
    if not blob.startswith(_PACKED):
        return [blob]
    at = len(_PACKED)
    (count,) = struct.unpack_from("<I", blob, at)
    sizes = struct.unpack_from(f"<{count}Q", blob, at + 4)
    at += 4 + 8 * count
    out = []
    for size in sizes:
        out.append(blob[at:at + size])
        at += size
    return out


def compile_jobs() -> int:
    """How many modules a big graph is split into: `GRAPHFLOW_COMPILE_JOBS`, else the cores."""
    env = os.environ.get("GRAPHFLOW_COMPILE_JOBS")
    if env:
        return max(1, int(env))
    from graphflow.backends.llvm import pool

    return pool.threads()


def _can_fork() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def _fork_compile(job: Job) -> tuple[int, int] | None:
    """(pid, read end of a pipe) of a child that compiles the job's module and writes the object."""
    r, w = os.pipe()
    try:
        with warnings.catch_warnings():  # (Python 3.12+ and some libraries warn about fork with
            warnings.simplefilter("ignore")  # threads: the child runs LLVM only, then exits)
            pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return None
    if pid == 0:  # the child: compile, write, leave at once (no cleanup of the parent's state)
        code = 1
        try:
            os.close(r)
            view = memoryview(_compile(job[0], 3, job[1], job[2]))
            while view:
                view = view[os.write(w, view):]
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    return pid, r


CHILD_TIMEOUT_S = 120.0  # a child still silent then is stuck (a lock held at fork time): kill it


def _collect(child: tuple[int, int]) -> bytes | None:
    """The child's object, or None when it failed or is stuck (killed after CHILD_TIMEOUT_S)."""
    pid, r = child
    chunks = []
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    with os.fdopen(r, "rb", buffering=0) as f:
        while True:
            ready, _, _ = select.select([f], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return None
            chunk = f.read(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    data = b"".join(chunks)
    return data if status == 0 and data else None


def _compile(text: str | Callable[[], str], speed_level: int, light: bool, optimise: bool) -> bytes:
    """Parse, optimise and emit (the caller holds `_lock`, or is a forked child); `text` may be
    a function that builds it."""
    mod = llvm.parse_assembly(text if isinstance(text, str) else text())
    mod.triple = llvm.get_process_triple()
    tm = target_machine()
    mod.data_layout = str(tm.target_data)
    mod.verify()
    if not optimise:  # hand-written runtime code: instruction selection is all it needs
        return tm.emit_object(mod)
    pto = llvm.create_pipeline_tuning_options(speed_level=speed_level)
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pto.loop_unrolling = not light
    pto.loop_interleaving = not light
    pb = llvm.create_pass_builder(tm, pto)
    mpm = pb.getModulePassManager()
    mpm.run(mod, pb)
    return tm.emit_object(mod)


def optimised_ir(text: str) -> str:
    """The optimised IR of a module (for inspection)."""
    _init()
    with _lock:
        mod = llvm.parse_assembly(text)
        tm = target_machine()
        mod.triple = llvm.get_process_triple()
        mod.data_layout = str(tm.target_data)
        pto = llvm.create_pipeline_tuning_options(speed_level=3)
        pb = llvm.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(mod, pb)
        return str(mod)


_ALIVE: list = []  # engines are never disposed: native code may still be referenced by ctypes


class LoadedObject:
    """Object code loaded into its own execution engine (kept for the life of the process)."""

    def __init__(self, obj: bytes):
        _init()
        from graphflow.backends.llvm import pool

        pool.ensure()  # generated code links against its gf_parallel
        from graphflow.backends.llvm import gemm

        names = gemm.needed(obj)
        if names:  # ... and against graphflow's GEMM, compiled once per process
            gemm.ensure(names)
        with _lock:
            backing = llvm.parse_assembly("")
            backing.triple = llvm.get_process_triple()
            self._engine = llvm.create_mcjit_compiler(backing, target_machine())
            self._objrefs = [llvm.ObjectFileRef.from_data(o) for o in unpack(obj)]
            for ref in self._objrefs:  # the engine resolves the calls between them
                self._engine.add_object_file(ref)
            self._engine.finalize_object()
            self._engine.run_static_constructors()
            _ALIVE.append(self)

    def address(self, name: str) -> int:
        with _lock:
            addr = self._engine.get_function_address(name)
        if not addr:
            raise RuntimeError(f"symbol {name!r} missing from the compiled object")
        return addr
