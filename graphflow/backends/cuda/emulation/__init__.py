"""Running generated CUDA C on the CPU: the emulation header plus a `Device` that compiles a
program's exact source with the host C++ compiler and launches its kernels through ctypes."""

from graphflow.backends.cuda.emulation.device import EmulatorDevice, compile_emulated

__all__ = ["EmulatorDevice", "compile_emulated"]
