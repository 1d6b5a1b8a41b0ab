"""CUDA C -> cubin through nvcc (PyCUDA's `compiler.compile` when PyCUDA is present), cached on disk
by source hash, architecture and CUDA version."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

NVCC_FLAGS = ["-std=c++17", "-O3", "-lineinfo"]  # no fast-math: NaN and inf keep their meaning


def find_nvcc() -> str | None:
    for cand in (os.environ.get("NVCC"), shutil.which("nvcc"),
                 os.path.join(os.environ.get("CUDA_ROOT") or os.environ.get("CUDA_HOME") or "/usr/local/cuda",
                              "bin", "nvcc")):
        if cand and os.path.exists(cand):
            return cand
    return None


@functools.cache
def cuda_version(nvcc: str) -> str:
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1] if out.strip() else "unknown"


def cache_dir() -> Path:
    root = os.environ.get("GRAPHFLOW_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "graphflow")
    path = Path(root) / "cuda"
    path.mkdir(parents=True, exist_ok=True)
    return path


def nvcc_compile(source: str, arch: str, target: str = "cubin", nvcc: str | None = None,
                 use_pycuda: bool = False, cache: Path | None = None, flags: list[str] | None = None) -> bytes:
    """Compile `source` for `arch` (e.g. "sm_80") to a cubin (or "ptx"); cached on disk.
    `flags` replaces NVCC_FLAGS (the tests compile unoptimised: same front end and ptxas checks, faster)."""
    flags = list(NVCC_FLAGS if flags is None else flags)
    nvcc = nvcc or find_nvcc()
    if nvcc is None:
        raise RuntimeError("nvcc not found (set CUDA_ROOT or put nvcc on PATH)")
    key = hashlib.sha256("\0".join([source, arch, target, cuda_version(nvcc), *flags]).encode()).hexdigest()
    cache = cache or cache_dir()
    path = cache / f"{key}.{target}"
    if path.exists():
        return path.read_bytes()
    if use_pycuda and target == "cubin":
        from pycuda.compiler import compile as pycuda_compile

        data = pycuda_compile(source, nvcc=nvcc, options=flags, arch=arch, no_extern_c=True, cache_dir=False)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "kernels.cu"
            out = Path(tmp) / f"kernels.{target}"
            src.write_text(source)
            cmd = [nvcc, f"-arch={arch}", f"-{target}", *flags, "-o", str(out), str(src)]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode:
                raise RuntimeError(f"nvcc failed ({' '.join(cmd)}):\n{res.stderr[-8000:]}")
            data = out.read_bytes()
    tmp_path = path.with_suffix(f".{os.getpid()}.tmp")
    tmp_path.write_bytes(data)
    os.replace(tmp_path, path)
    return data
