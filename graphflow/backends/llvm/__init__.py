"""The llvmlite CPU backend: fused kernels compiled to native code for the host CPU."""

from graphflow.backends.llvm.backend import BACKEND, LLVMBackend, kernel_sources

__all__ = ["BACKEND", "LLVMBackend", "kernel_sources"]
