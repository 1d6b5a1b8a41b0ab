"""The order units run in, and which independent units run side by side.

A training step's backward pass has independent products of the same layer (the gradient of the
activations, g @ W^T, and of the weights, h^T @ g): each is too small to split well over the
cores (every tile repacks the shared operand, and the threads meet after each product), but two
of them run side by side, one per core, each whole. `steps(plan)` orders the units by dependency
level (as soon as their inputs are ready; ties in plan order) and returns the run order cut into
steps: a step of several units is one pool job whose items are whole units."""

from __future__ import annotations

from graphflow.backends.llvm.plan import CALLBACK, MATMUL, REDUCE, Plan, Unit, numel

GROUP_MIN_COST = 1 << 16  # units cheaper than this (MACs or elements) are not worth a pool job


def cost(unit: Unit) -> int:
    """Rough work of a unit: multiply-adds of its product plus elements it writes or reduces."""
    work = max((numel(o.shape) for o in unit.outputs), default=0)
    if unit.kind == REDUCE:
        work = max(work, numel(unit.reds[0].inputs[0].shape))
    if unit.kind == MATMUL:
        m = unit.matmul
        work += numel(m.shape) * m.inputs[0].shape[-1]
    return work


def dependencies(plan: Plan) -> list[set[int]]:
    """For each unit, the earlier units it must run after: it reads what they write, or writes
    what they read or write. Units run by the NumPy callback are barriers."""
    deps: list[set[int]] = []
    writes: list[set[int]] = []
    reads: list[set[int]] = []
    barrier = -1
    for k, u in enumerate(plan.units):
        w = {plan.buffer_of[o.id] for o in u.outputs if o.id in plan.buffer_of}
        if u.alias is not None:
            w.add(plan.buffer_of[u.alias.id])
        r = {plan.buffer_of[n.id] for n in u.reads() if n.id in plan.buffer_of}
        if u.kind == CALLBACK:
            d = set(range(k))
            barrier = k
        else:
            d = {j for j in range(k) if writes[j] & r or (reads[j] | writes[j]) & w}
            if barrier >= 0:
                d.add(barrier)
        deps.append(d)
        writes.append(w)
        reads.append(r)
    return deps


def steps(plan: Plan) -> list[list[int]]:
    """Unit indices in run order, cut into steps; a step of several units runs as one pool job.
    A step groups the units of one dependency level when at least two of them cost
    GROUP_MIN_COST or more (callbacks never join one)."""
    deps = dependencies(plan)
    level: list[int] = []
    for d in deps:
        level.append(1 + max((level[j] for j in d), default=-1))
    out: list[list[int]] = []
    grouped = False
    for lv in sorted(set(level)):
        members = [k for k in range(len(plan.units)) if level[k] == lv]
        group = [k for k in members if plan.units[k].kind != CALLBACK]
        if sum(cost(plan.units[k]) >= GROUP_MIN_COST for k in group) >= 2:
            out.extend([k] for k in members if k not in group)
            out.append(group)
            grouped = True
        else:
            out.extend([k] for k in members)
    return out if grouped else [[k] for k in range(len(plan.units))]  # nothing to gain: plan order
