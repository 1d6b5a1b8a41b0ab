"""The emulator device: host memory as device memory, kernels compiled by g++ over cuda_emu.h."""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from graphflow.backends.cuda.runtime import Device

INCLUDE = Path(__file__).parent / "include"
FLAGS = ["-std=c++17", "-O0", "-shared", "-fPIC", "-w", "-fno-strict-aliasing"]


def _cxx() -> str:
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not cxx:
        raise RuntimeError("the CUDA emulator needs a C++ compiler (g++)")
    return cxx


def launcher_source(functions: list[tuple[str, list[str]]]) -> str:
    """Host entry points `gf_launch_<name>(grid, block, args)`: args[i] points at parameter i's value,
    as cuLaunchKernel's kernelParams do."""
    out = []
    for name, types in functions:
        call = ", ".join(f"*({t}*)args[{i}]" for i, t in enumerate(types))
        out.append(f"static void gf_thunk_{name}(void** args) {{ {name}({call}); }}\n"
                   f'extern "C" int gf_launch_{name}(unsigned gx, unsigned gy, unsigned gz, unsigned bx, '
                   f"unsigned by, unsigned bz, void** args) {{\n"
                   f"    return gf_emu::launch(dim3(gx, gy, gz), dim3(bx, by, bz), gf_thunk_{name}, args);\n}}\n")
    return "\n".join(out)


def compile_emulated(source: str, functions: list[tuple[str, list[str]]], cache_dir: str | Path | None = None) -> ctypes.CDLL:
    """Compile CUDA C `source` (as nvcc would get it) for the CPU; cached by content."""
    text = source + "\n// ---- emulator launchers ----\n" + launcher_source(functions)
    header = (INCLUDE / "cuda_emu.h").read_text()
    digest = hashlib.sha256((text + header + " ".join(FLAGS)).encode()).hexdigest()[:24]
    cache = Path(cache_dir or os.environ.get("GRAPHFLOW_CUDA_EMU_CACHE") or
                 Path(tempfile.gettempdir()) / f"graphflow-cuda-emu-{os.getuid()}")
    cache.mkdir(parents=True, exist_ok=True)
    so = cache / f"{digest}.so"
    if not so.exists():
        src = cache / f"{digest}.cpp"
        src.write_text(text)
        tmp = cache / f"{digest}.{os.getpid()}.so"
        cmd = [_cxx(), *FLAGS, "-include", str(INCLUDE / "cuda_emu.h"), "-I", str(INCLUDE), "-o", str(tmp), str(src)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode:
            raise RuntimeError(f"emulator build failed ({' '.join(cmd)}):\n{res.stderr[-6000:]}")
        os.replace(tmp, so)
    return ctypes.CDLL(str(so))


class EmulatorDevice(Device):
    """Runs programs on the CPU, one fiber per CUDA thread. Slow; for proving code generation."""

    name = "cuda-emulator"

    def __init__(self, cache_dir: str | Path | None = None):
        self.cache_dir = cache_dir
        self._modules: dict[str, ctypes.CDLL] = {}

    def alloc(self, nbytes: int) -> np.ndarray:
        raw = np.zeros(nbytes + 64, np.uint8)
        off = (-raw.ctypes.data) % 64
        return raw[off:off + nbytes]

    def upload(self, handle: np.ndarray, array: np.ndarray) -> None:
        handle[:array.nbytes] = _contiguous(array).reshape(-1).view(np.uint8)

    def download(self, handle: np.ndarray, out: np.ndarray) -> None:
        out.reshape(-1).view(np.uint8)[:] = handle[:out.nbytes]

    def zero(self, handle: np.ndarray, nbytes: int) -> None:
        handle[:nbytes] = 0

    def load_many(self, programs: list[Any]) -> ctypes.CDLL:
        """Compile several programs (with distinct prefixes) as one module: one compiler run."""
        from graphflow.backends.cuda.prelude import PRELUDE

        source = PRELUDE + "\n" + "\n".join(p.source for p in programs)
        functions = [(launch.function, launch.param_types) for p in programs for launch in p.launches]
        module = self.load_source(source, functions)
        for p in programs:
            self._modules[hashlib.sha256(p.module_source().encode()).hexdigest()] = module
        return module

    def load(self, program: Any) -> ctypes.CDLL:
        functions = [(launch.function, launch.param_types) for launch in program.launches]
        return self.load_source(program.module_source(), functions)

    def load_source(self, source: str, functions: list[tuple[str, list[str]]]) -> ctypes.CDLL:
        key = hashlib.sha256(source.encode()).hexdigest()
        if key not in self._modules:
            self._modules[key] = compile_emulated(source, functions, self.cache_dir)
        return self._modules[key]

    def launch(self, module: ctypes.CDLL, function: str, grid: tuple, block: tuple, args: list[Any],
               param_types: list[str]) -> None:
        ptrs = [ctypes.c_void_p(a.ctypes.data) for a in args]
        argv = (ctypes.c_void_p * len(ptrs))(*[ctypes.cast(ctypes.pointer(p), ctypes.c_void_p) for p in ptrs])
        fn = getattr(module, f"gf_launch_{function}")
        fn.restype = ctypes.c_int
        rc = fn(*[ctypes.c_uint(int(v)) for v in (*grid, *block)], argv)
        if rc:
            raise RuntimeError(f"emulated kernel {function} failed (code {rc}: barrier divergence or bad launch)")


def _contiguous(array) -> np.ndarray:
    """A C-contiguous array of the same shape (np.ascontiguousarray would turn 0-d into 1-d)."""
    arr = np.asarray(array)
    return arr if arr.flags.c_contiguous else arr.copy(order="C")
