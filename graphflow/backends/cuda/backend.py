"""The cuda backend: graph -> partition -> CUDA program -> executable on a device."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from graphflow.backends.base import Backend
from graphflow.backends.cuda.availability import probe
from graphflow.backends.cuda.program import Program, build_program
from graphflow.backends.cuda.runtime import CudaExecutable, Device, DeviceArray
from graphflow.ir.bind import make_node
from graphflow.ir.graph import Attrs, Graph, TensorType
from graphflow.ir.registry import OpDef, get_op
from graphflow.passes.kernel import PartitionedGraph, one_kernel_per_node


def partition(graph: Graph) -> PartitionedGraph:
    """The optimiser's fusion when it is present, else one kernel per node."""
    try:
        from graphflow.passes.fusion import partition as fuse
    except ImportError:
        return one_kernel_per_node(graph)
    return fuse(graph)


class CudaBackend(Backend):
    """Compiles graphs to CUDA C. `device` defaults to the first GPU through PyCUDA; the emulator
    device (`graphflow.backends.cuda.emulation.EmulatorDevice`) runs the same programs on a CPU.
    `wmma=True` (or GRAPHFLOW_CUDA_WMMA=1) uses tensor cores for float16/bfloat16 matmuls."""

    name = "cuda"

    def __init__(self, device: Device | None = None, wmma: bool | None = None):
        self._device = device
        self.wmma = wmma if wmma is not None else os.environ.get("GRAPHFLOW_CUDA_WMMA", "0") == "1"
        self._op_cache: dict[tuple, CudaExecutable] = {}

    def availability(self) -> tuple[bool, str]:
        if self._device is not None:
            return True, "available"
        return probe()

    @property
    def device(self) -> Device:
        if self._device is None:
            ok, reason = probe()
            if not ok:
                from graphflow.errors import BackendUnavailableError

                raise BackendUnavailableError(f"backend 'cuda' is unavailable: {reason}")
            from graphflow.backends.cuda.pycuda_device import PyCudaDevice

            self._device = PyCudaDevice()
        return self._device

    def program(self, graph: Graph | PartitionedGraph) -> Program:
        """The CUDA program (source, launches, buffers) the graph compiles to."""
        pg = graph if isinstance(graph, PartitionedGraph) else partition(graph)
        return build_program(pg, wmma=self.wmma)

    def source(self, graph: Graph | PartitionedGraph) -> str:
        """The generated CUDA C (for `explain`)."""
        return self.program(graph).module_source()

    def compile(self, graph: Graph | PartitionedGraph) -> CudaExecutable:
        return CudaExecutable(self.program(graph), self.device)

    def run_op(self, op: OpDef, inputs: Sequence[np.ndarray], attrs: Attrs, out: TensorType) -> np.ndarray:
        """One op at once. Host arrays in: a host array out. `DeviceArray`s in (eager cuda
        tensors): the result stays on the device."""
        on_device = any(isinstance(a, DeviceArray) for a in inputs)
        arrays = list(inputs) if on_device else [np.asarray(a) for a in inputs]
        key = (op.name, attrs, tuple((a.dtype.str, tuple(a.shape)) for a in arrays))
        exe = self._op_cache.get(key)
        if exe is None:
            from graphflow.ir.dtypes import from_numpy_dtype

            leaves = [make_node(get_op("input"), (), {"name": f"x{i}", "dtype": from_numpy_dtype(a.dtype),
                                                        "shape": tuple(a.shape)}) for i, a in enumerate(arrays)]
            node = make_node(op, tuple(leaves), attrs)
            exe = self._op_cache[key] = self.compile(Graph([node], leaves))
        if on_device:
            return exe.run(arrays, to_host=False)[0]
        return exe.run(arrays)[0]
