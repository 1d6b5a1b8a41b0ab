"""The cuda backend: the optimiser's kernels rendered as CUDA C, compiled with nvcc (through PyCUDA),
launched with PyCUDA. Where there is no GPU it reports why (`availability()`), and its code
generation still runs on the CPU through the emulator (`emulation.EmulatorDevice`)."""

from graphflow.backends.cuda.availability import probe
from graphflow.backends.cuda.backend import CudaBackend, partition
from graphflow.backends.cuda.lowering import DECOMPOSITIONS, TABLE
from graphflow.backends.cuda.program import Program, build_program
from graphflow.backends.cuda.runtime import CudaExecutable, DeviceArray

BACKEND = CudaBackend()


def is_available() -> bool:
    """Whether a GPU can run graphflow here (`graphflow.backends.available()["cuda"]` says why not)."""
    return probe()[0]


def device_count() -> int:
    """How many GPUs graphflow can use here (0 where `is_available()` is False)."""
    if not is_available():
        return 0
    import pycuda.driver as drv

    return int(drv.Device.count())


def manual_seed(seed: int) -> None:
    """Seed the generator (counter-based: one generator serves every device)."""
    from graphflow.random import manual_seed as seed_all

    seed_all(seed)


manual_seed_all = manual_seed


__all__ = ["BACKEND", "CudaBackend", "CudaExecutable", "DeviceArray", "Program", "TABLE", "DECOMPOSITIONS",
           "build_program", "device_count", "is_available", "manual_seed", "manual_seed_all", "partition"]
