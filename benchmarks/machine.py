"""A description of the machine and software a set of figures was measured on."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

# the CPU features that decide how fast compiled numeric code can be
_INTERESTING_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512bw", "avx512vl",
                      "avx512_bf16", "avx512_vnni", "amx_tile", "neon", "asimd", "sve")
_PACKAGES = ("graphflow", "numpy", "llvmlite", "scipy", "networkx", "ml_dtypes", "matplotlib", "scikit-learn",
             "torch", "jax", "jaxlib", "pycuda")


def _cpuinfo(path: Path = Path("/proc/cpuinfo")) -> dict:
    info: dict = {}
    try:
        text = path.read_text()
    except OSError:
        return info
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "model name" and "model" not in info:
            info["model"] = value
        elif key in ("flags", "Features") and "flags" not in info:
            info["flags"] = value.split()
        elif key == "cpu MHz" and "mhz" not in info:
            info["mhz"] = float(value)
    return info


def versions() -> dict[str, str | None]:
    """Installed versions of the packages that matter to the figures (None: not installed)."""
    out: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the OS has none): other work on the
    machine makes figures noisy, so the file records how busy it was."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def busy_warning(desc: dict) -> str | None:
    """A warning when other processes already keep the cores busy."""
    load = desc.get("load_average")
    cores = desc.get("usable_cores") or 1
    if load and load[0] > 0.5 * cores:
        return f"warning: the machine is busy (load {load[0]:.1f} on {cores} cores): timings will be noisy"
    return None


def describe(cpuinfo_path: Path = Path("/proc/cpuinfo")) -> dict:
    """CPU model, features, core counts, OS and package versions, as a JSON-ready dict."""
    cpu = _cpuinfo(cpuinfo_path)
    flags = cpu.get("flags", [])
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    desc = {
        "cpu_model": cpu.get("model") or platform.processor() or "unknown",
        "cpu_mhz": cpu.get("mhz"),
        "cpu_features": [f for f in _INTERESTING_FLAGS if f in flags],
        "cpu_flags": flags,
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "machine": platform.machine(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "versions": versions(),
        "load_average": load_average(),
    }
    try:
        import llvmlite.binding as llvm

        desc["llvm_version"] = ".".join(map(str, llvm.llvm_version_info))
        desc["llvm_host_cpu"] = llvm.get_host_cpu_name()
    except Exception:  # noqa: BLE001 - llvmlite missing or broken: leave the field out
        pass
    return desc


def one_line(desc: dict) -> str:
    """A short human summary, e.g. 'AMD EPYC, 2 cores (avx2 fma avx512f), Python 3.12.3, NumPy 2.1.0'."""
    feats = " ".join(desc["cpu_features"]) or "no SIMD features listed"
    v = desc["versions"]
    parts = [f"{desc['cpu_model']}, {desc['usable_cores']} cores ({feats})", f"Python {desc['python']}",
             f"NumPy {v.get('numpy')}"]
    if v.get("llvmlite"):
        parts.append(f"llvmlite {v['llvmlite']}")
    return ", ".join(parts)
