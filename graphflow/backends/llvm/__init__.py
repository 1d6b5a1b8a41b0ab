"""The llvmlite CPU backend: fused kernels compiled to native code for the host CPU.

How a graph runs (one module per graph, one native entry point):

- `plan.py` cuts the optimiser's partition (`graphflow.passes.fusion`, else one kernel per node)
  into units: elementwise loop nests, row/column reductions (softmax's max and sum merge into one
  pass per row), BLAS matmuls (NumPy's OpenBLAS, called from the generated code) followed by their
  epilogue, a serial scatter, or a NumPy-reference callback for the few ops in
  `lowering.FALLBACK` (listed on `Executable.fallbacks`).
- `evaluator.py` computes a unit's nodes per element: loads, index maths for movement ops
  (`indexing.py`: affine forms, so reshapes are free), and the lowering table (`lowering.py`,
  one entry per (op, dtype kind)); float32 transcendentals come from `mathlib.py` as branch-free,
  vectorisable IR.
- `codegen.py` emits one function per unit, a task for the native thread pool (`pool.py`:
  chunks claimed from an atomic counter) for large ones and tiles of big matmuls,
  and `gf_main(buffers, callback) -> status`, which runs every unit in order.
- `executable.py` validates inputs, gives outputs aligned memory nothing else references (an
  earlier call's output the caller has dropped, else new), calls `gf_main` once and turns a
  status into an exception naming the op and the user's line; `cache.py` keeps compiled
  objects in memory and on disk (checksummed, atomic writes).
- `eager.py` is eager mode's `run_op`: shape-generic kernels compiled once per op and dtype.
"""

from graphflow.backends.llvm.backend import BACKEND, LLVMBackend, kernel_sources

__all__ = ["BACKEND", "LLVMBackend", "kernel_sources"]
