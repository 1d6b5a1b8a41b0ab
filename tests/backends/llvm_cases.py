"""The shared op table run on the llvm backend as a few big graphs: each case's op gets its own
inputs and output in one graph, so one compile covers hundreds of cases (LLVM compiles are the
slow part of these tests)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from graphflow.ir import Graph
from tests import op_cases as oc

PER_GROUP = 2  # cases per (op, dtypes): the smallest, and a non-contiguous/broadcast one (else the largest)


@dataclass
class Batch:
    cases: list[oc.OpCase]
    graph: Graph
    arrays: list[np.ndarray]
    slots: list[int]  # output position of each case


def _size(c: oc.OpCase) -> int:
    return sum(int(np.prod(a.shape)) for a in c.inputs)


def selected_cases() -> list[oc.OpCase]:
    groups: dict[tuple, list[oc.OpCase]] = defaultdict(list)
    for c in oc.CASES:
        groups[(c.op, tuple(a.dtype.str for a in c.inputs))].append(c)
    out = []
    for key in sorted(groups, key=repr):
        cases = groups[key]
        picked = sorted(cases, key=_size)
        odd = [c for c in cases if any(not a.flags.c_contiguous for a in c.inputs) or c.broadcast]
        second = odd[0] if odd else picked[-1]
        chosen = {id(picked[0]): picked[0], id(second): second}
        out.extend(list(chosen.values())[:PER_GROUP])
    return out


def batches(cases: list[oc.OpCase], per_batch: int = 400) -> list[Batch]:
    """Cases without state or symbolic bindings, packed into graphs of `per_batch` cases."""
    plain = [c for c in cases if not c.state and not c.bindings and c.op != "input"]
    out = []
    for start in range(0, len(plain), per_batch):
        chunk = plain[start:start + per_batch]
        inputs, outputs, arrays, slots = [], [], [], []
        for k, c in enumerate(chunk):
            xs = oc.input_nodes(c.inputs, prefix=f"c{start + k}_")
            inputs.extend(xs)
            arrays.extend(c.inputs)
            slots.append(len(outputs))
            outputs.append(oc.apply_op(c.op, xs, c.attrs, c.broadcast))
        out.append(Batch(chunk, Graph(outputs, inputs), arrays, slots))
    return out
