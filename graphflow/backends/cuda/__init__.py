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


__all__ = ["BACKEND", "CudaBackend", "CudaExecutable", "DeviceArray", "Program", "TABLE", "DECOMPOSITIONS",
           "build_program", "is_available", "partition"]
