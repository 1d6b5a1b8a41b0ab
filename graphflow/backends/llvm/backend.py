"""The `Backend` object: compile graphs, run single ops (eager mode), show kernel sources."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graphflow.backends.base import Backend
from graphflow.backends.llvm.executable import LLVMExecutable
from graphflow.ir.graph import Attrs, Graph, TensorType
from graphflow.ir.registry import OpDef
from graphflow.passes.kernel import PartitionedGraph


class LLVMBackend(Backend):
    name = "llvm"

    def availability(self) -> tuple[bool, str]:
        try:
            from graphflow.backends.llvm import jit

            jit.target_machine()
        except Exception as exc:  # noqa: BLE001 - any failure is the reason
            return False, f"LLVM could not target this CPU: {exc}"
        return True, "available"

    def compile(self, graph: Graph) -> LLVMExecutable:
        return LLVMExecutable(graph)

    def run_op(self, op: OpDef, inputs: Sequence[np.ndarray], attrs: Attrs, out: TensorType) -> np.ndarray:
        from graphflow.backends.llvm.eager import run_op

        return run_op(op, inputs, attrs, out)

    def reference_below(self, op: OpDef) -> int:
        from graphflow.backends.llvm.eager import reference_below

        return reference_below(op.name)


def kernel_sources(partitioned: PartitionedGraph) -> list[str]:
    """LLVM IR text (before optimisation) of each unit the partition compiles to."""
    return [text for _, text in unit_sources(partitioned)]


def unit_sources(partitioned: PartitionedGraph) -> list[tuple[list[int], str]]:
    """(ids of the nodes it computes, LLVM IR text before optimisation) of each compiled unit. Units
    may split a kernel of the partition (a matmul and its epilogue) or merge several (row
    reductions), so `explain` matches them to kernels by the nodes they share."""
    from graphflow.backends.llvm.codegen import ModuleBuilder
    from graphflow.backends.llvm.plan import CALLBACK, make_plan

    plan = make_plan(partitioned.graph, partitioned)
    out = []
    for k, unit in enumerate(plan.units):
        ids = [n.id for n in unit.nodes]
        if unit.kind == CALLBACK:
            out.append((ids, f"; {unit.name}: runs {unit.nodes[0].op.name} with the NumPy reference"))
            continue
        mb = ModuleBuilder(plan)
        mb.emit_unit(k, unit)
        out.append((ids, str(mb.module)))
    return out


BACKEND = LLVMBackend()
