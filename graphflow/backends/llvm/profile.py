"""Per-unit timing of a compiled graph: where the time of one `run` goes.

    from graphflow.backends.llvm.profile import profile_units, report
    print(report(profile_units(executable, feeds)))

The executable's plan is compiled once more with one exported entry per unit (`gf_unit_<k>`,
running that unit exactly as `gf_main` does: same loops, same thread pool use) and each unit is
timed alone, repeatedly, on the buffers of a real run. A unit timed alone finds its operands in
cache more often than inside the whole step, so the figures are lower bounds; their sum beside
the whole step's time shows what sequencing costs."""

from __future__ import annotations

import ctypes
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from graphflow.backends.llvm import jit, pool
from graphflow.backends.llvm.codegen import ENTRY, UNIT_ENTRY, ModuleBuilder
from graphflow.backends.llvm.executable import LLVMExecutable, aligned_empty

_ENTRY_TYPE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p)


@dataclass
class UnitTime:
    """One unit's median time (seconds) and what it computes."""

    index: int
    name: str
    kind: str
    outputs: str
    seconds: float


def profile_units(executable: LLVMExecutable, inputs: Sequence[np.ndarray], state: dict | None = None,
                  repeat: int = 200) -> tuple[list[UnitTime], float]:
    """Median time of each unit of `executable` run alone on `inputs`, and of the whole entry
    point called the same way (no Python validation around it)."""
    plan = executable.plan
    executable.run(inputs, state)  # binds inputs, hosts and scratch into the executable's table
    table = (ctypes.c_uint64 * max(len(plan.buffers), 1))(*executable._table)
    own = {}
    for index in executable._fresh_indices:  # outputs: our own blocks (the run's went to the caller)
        node = plan.buffers[index].node
        own[index] = arr = aligned_empty(tuple(node.shape), node.dtype.np)
        table[index] = arr.__array_interface__["data"][0] if arr.size else 0
        executable._arrays[index] = arr  # for units run by the NumPy reference callback
    text = ModuleBuilder(plan).build(per_unit=True)
    loaded = jit.LoadedObject(jit.compile_ir(text, light=plan.light))
    addr, cb = ctypes.addressof(table), executable._cb_addr
    pool.ensure()
    hot = ctypes.CFUNCTYPE(None)(pool._state["loaded"].address(pool.ENTER))
    cool = ctypes.CFUNCTYPE(None)(pool._state["loaded"].address(pool.LEAVE))
    hot()  # units timed alone find the workers watching, as inside a graph that keeps them so
    try:
        def timed(symbol: str) -> float:
            fn = _ENTRY_TYPE(loaded.address(symbol))
            status = fn(addr, cb)
            if status:
                raise RuntimeError(f"{symbol} failed with status {status}")
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                fn(addr, cb)
                times.append(time.perf_counter() - t)
            return statistics.median(times)

        units = []
        for k, u in enumerate(plan.units):
            outs = " ".join(f"{o.op.name}{list(o.shape)}" for o in u.outputs)
            units.append(UnitTime(k, u.name, u.kind, outs, timed(f"{UNIT_ENTRY}{k}")))
        return units, timed(ENTRY)
    finally:
        cool()
        for index in own:
            executable._arrays[index] = None


def report(profile: tuple[list[UnitTime], float]) -> str:
    """A table of the units, slowest marked, with their sum beside the whole entry point."""
    units, whole = profile
    total = sum(u.seconds for u in units)
    lines = [f"{'unit':>4} {'kind':8} {'us':>8} {'share':>6}  outputs"]
    for u in units:
        lines.append(f"{u.index:4d} {u.kind:8} {u.seconds * 1e6:8.1f} {u.seconds / total:6.1%}  "
                     f"{u.name}: {u.outputs}")
    lines.append(f"sum of units {total * 1e6:.1f} us; whole entry point {whole * 1e6:.1f} us")
    return "\n".join(lines)
