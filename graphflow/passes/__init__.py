"""Graph optimisation: pure `Graph -> Graph` passes (listed in order in `pipeline`), fusion into
kernels (`fusion.partition`), memory planning (`memory.plan_memory`) and `explain`."""

from graphflow.passes.kernel import Kernel, PartitionedGraph, one_kernel_per_node
from graphflow.passes.pipeline import PASSES, run_pipeline, run_pipeline_traced

__all__ = ["Kernel", "PartitionedGraph", "one_kernel_per_node", "PASSES", "run_pipeline", "run_pipeline_traced"]
