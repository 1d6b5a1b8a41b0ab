"""The workload registry, in the order they are run and shown."""

from __future__ import annotations

from benchmarks.workloads.base import GraphflowSpec, Inputs, Prepared, Unsupported, Workload
from benchmarks.workloads.forward import FORWARD
from benchmarks.workloads.tiny import TINY
from benchmarks.workloads.training import TRAINING

WORKLOADS: dict[str, Workload] = {w.name: w for w in (*FORWARD, *TRAINING, *TINY)}

__all__ = ["WORKLOADS", "GraphflowSpec", "Inputs", "Prepared", "Unsupported", "Workload"]
