"""Whole-graph compilation: plan, emit one module, compile (or load from the cache), and run it
through its single native entry point."""

from __future__ import annotations

import ctypes
import hashlib
import sys
import threading
from collections.abc import Sequence

import llvmlite
import numpy as np

from graphflow.backends.base import Executable
from graphflow.backends.llvm import cache, gemm, jit
from graphflow.backends.llvm.codegen import CALLBACK_ERROR, ENTRY, ModuleBuilder
from graphflow.backends.llvm.indexing import Unsupported
from graphflow.backends.llvm.lowering import ERROR_TEXT
from graphflow.backends.llvm.plan import Plan, make_plan, partition
from graphflow.backends.llvm.split import split
from graphflow.backends.memory import ALIGN, address, aligned_empty
from graphflow.backends.numpy.interpreter import evaluate
from graphflow.errors import GraphError
from graphflow.ir.graph import Graph, Node
from graphflow.ir.ops.source import ConstValue, RunContext, VarRef
from graphflow.ir.shapes import fmt

SPARE_OUTPUTS = 2  # memory blocks kept per output for reuse (a training loop feeds outputs back)
CODEGEN_VERSION = "1"
# modules of this many lines compile as parts on all cores at once (a training step: 1,900 lines,
# 0.36 s on one core); below, forking costs more than it saves
SPLIT_MIN_LINES = 800


def _code_digest() -> str:
    """Changes whenever this backend's code generator changes (part of every cache key)."""
    import os

    h = hashlib.sha256(CODEGEN_VERSION.encode())
    here = os.path.dirname(__file__)
    for name in sorted(os.listdir(here)):
        if name.endswith(".py"):
            with open(os.path.join(here, name), "rb") as f:
                h.update(f.read())
    return h.hexdigest()


_CODE_DIGEST = _code_digest()
_ENTRY_TYPE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p)
_CB_TYPE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int32)
_loaded: dict[str, jit.LoadedObject] = {}
_split_keys: set[str] = set()
_load_lock = threading.Lock()


def _stable(obj) -> str:
    """A deterministic text of attribute values (constants by dtype and shape: their contents
    live in buffers, except single elements, which are inlined into the code)."""
    if isinstance(obj, ConstValue):
        a = obj.array
        return f"const({a.dtype.str},{a.shape}{',' + repr(a.tobytes()) if a.size == 1 else ''})"
    if isinstance(obj, VarRef):
        return f"var({obj.dtype.name},{obj.shape})"
    if isinstance(obj, (tuple, list)):
        return "(" + ",".join(_stable(x) for x in obj) + ")"
    if hasattr(obj, "items") and hasattr(obj, "keys"):
        return "{" + ",".join(f"{k}:{_stable(v)}" for k, v in sorted(obj.items())) + "}"
    if hasattr(obj, "name") and hasattr(obj, "kind") and hasattr(obj, "np"):
        return obj.name
    return repr(obj)


def graph_key(graph: Graph, parts) -> str:
    pos = {n.id: k for k, n in enumerate(graph.nodes)}
    layout = [(k.kind, tuple(pos.get(n.id, -1) for n in k.nodes)) for k in parts.kernels]
    # every input, used or not: each takes a slot of the buffer table the code indexes
    inputs = [(n.dtype.name, tuple(n.shape)) for n in graph.inputs]
    text = "|".join([_stable(graph.structure_key()), repr(layout), repr(inputs), jit.fingerprint(), _CODE_DIGEST,
                     llvmlite.__version__])
    return hashlib.sha256(text.encode()).hexdigest()


def optimise(graph: Graph) -> Graph:
    """The optimiser's pass pipeline when it is present."""
    try:
        from graphflow.passes.pipeline import run_pipeline
    except ImportError:
        return graph
    return run_pipeline(graph)


def build_plan(graph: Graph) -> tuple[Plan, str]:
    parts = partition(graph)
    key = graph_key(graph, parts)
    split = key in _split_keys or _has_split_marker(key)
    return make_plan(graph, parts, split_all=split), key + ("-split" if split else "")


def _has_split_marker(key: str) -> bool:
    return cache.get(key + "-needs-split") is not None


def compile_plan(plan: Plan, key: str) -> tuple[jit.LoadedObject, Plan, str]:
    with _load_lock:
        if key in _loaded:
            return _loaded[key], plan, key
    obj = cache.get(key)
    if obj is None:
        try:
            text = ModuleBuilder(plan).build()
        except Unsupported:
            # a fused kernel shape the emitter does not cover: remember, and compile unfused
            cache.put(key + "-needs-split", b"1")
            _split_keys.add(key)
            parts = partition(plan.graph)
            plan = make_plan(plan.graph, parts, split_all=True)
            key = key + "-split"
            text = ModuleBuilder(plan).build()
        # the module in parts, and the runtime kernels it calls that were never built here, all
        # compiled at the same time on the cores
        parts = split(text, jit.compile_jobs()) if text.count("\n") >= SPLIT_MIN_LINES else [text]
        kernels = gemm.missing(text)
        objs = jit.compile_all([(t, plan.light, True) for t in parts] + [gemm.job(d) for d in kernels])
        for d, kernel_obj in zip(kernels, objs[len(parts):]):
            cache.put(gemm.cache_key(d), kernel_obj)
        obj = jit.pack(objs[:len(parts)]) if len(parts) > 1 else objs[0]
        cache.put(key, obj)
    loaded = jit.LoadedObject(obj)
    with _load_lock:
        _loaded[key] = loaded
    return loaded, plan, key


class LLVMExecutable(Executable):
    """A graph compiled to one native module; `run` validates, calls `gf_main` once, returns
    output arrays no other live array shares memory with."""

    private_outputs = True

    def __init__(self, graph: Graph):
        self.source_graph = graph
        self.graph = graph
        g = optimise(graph)
        self.optimised = g
        plan, key = build_plan(g)
        self._object, self.plan, self.key = compile_plan(plan, key)
        self._entry = _ENTRY_TYPE(self._object.address(ENTRY))
        self._cb = _CB_TYPE(self._callback)
        self._cb_addr = ctypes.cast(self._cb, ctypes.c_void_p).value
        self._lock = threading.Lock()
        self._pending: BaseException | None = None
        self._ctx: RunContext | None = None
        self._prepare()

    @property
    def fallbacks(self) -> list[str]:
        return self.plan.fallbacks

    def _prepare(self) -> None:
        plan = self.plan
        nb = len(plan.buffers)
        self._table = (ctypes.c_uint64 * max(nb, 1))()  # item stores are cheaper than NumPy's
        self._table_addr = ctypes.addressof(self._table)
        self._arrays: list[np.ndarray | None] = [None] * nb
        offsets, total = [], 0
        for buf in plan.buffers:
            if buf.kind == "scratch":
                offsets.append((buf, total))
                nbytes = int(np.prod(buf.node.shape, dtype=np.int64)) * buf.node.dtype.itemsize
                total += -(-max(nbytes, 1) // ALIGN) * ALIGN
        self._arena = aligned_empty((max(total, 1),), np.uint8)
        for buf, off in offsets:
            n = buf.node
            nbytes = int(np.prod(n.shape, dtype=np.int64)) * n.dtype.itemsize
            arr = self._arena[off:off + nbytes].view(n.dtype.np).reshape(n.shape)
            self._set(buf.index, arr)
        for buf in plan.buffers:
            if buf.kind == "const":
                arr = buf.node.attrs["value"].array
                if not arr.flags.c_contiguous or address(arr) % ALIGN:
                    copy = aligned_empty(arr.shape, arr.dtype)
                    copy[...] = arr
                    arr = copy
                self._set(buf.index, arr)
        self._inputs = [b for b in plan.buffers if b.kind == "input"]
        self._hosts = [b for b in plan.buffers if b.kind == "host"]
        self._fresh = [b for b in plan.buffers if b.kind in ("out", "fresh")]
        # the hot path's view of the buffers, computed once
        self._in_specs = [(b.index, b.pos, b.node.dtype.np, tuple(b.node.shape), b.node) for b in self._inputs]
        self._host_specs = [(b.index, b.node) for b in self._hosts]
        # the outputs of earlier calls, per fresh buffer, as [memory, array, address]: reused
        # when the caller has dropped every array that views it (no page faults or zeroing)
        self._spare: dict[int, list[list]] = {b.index: [] for b in self._fresh}
        self._out_specs = [(b.index, self._spare[b.index], b.node.dtype.np, tuple(b.node.shape))
                           for b in self._fresh]
        self._fresh_indices = [b.index for b in self._fresh]
        # per graph output: (None, a constant to copy) for inlined scalars, else (buffer index,
        # whether the array goes out as it is: a fresh buffer's first mention) or a copy
        self._results: list[tuple[int | None, object]] = []
        seen: set[int] = set()
        for o in plan.graph.outputs:
            if o.id in plan.scalars:
                self._results.append((None, o.attrs["value"].array))
                continue
            buf = plan.buffers[plan.buffer_of[o.id]]
            self._results.append((buf.index, buf.kind in ("out", "fresh") and o.id not in seen))
            seen.add(o.id)
        self._assigns = [(plan.buffer_of[n.id], n.attrs["var"]) for n in plan.graph.nodes
                         if n.op.name == "assign" and n.id in plan.buffer_of]

    def _set(self, index: int, arr: np.ndarray) -> None:
        self._arrays[index] = arr
        self._table[index] = address(arr) if arr.size else 0

    def run(self, inputs: Sequence[np.ndarray], state: dict | None = None,
            bindings: dict[str, int] | None = None) -> list[np.ndarray]:
        if len(inputs) != len(self._in_specs):
            raise GraphError(f"graph takes {len(self._in_specs)} inputs, got {len(inputs)}")
        state = state if state is not None else {}
        table, arrays = self._table, self._arrays
        getrefcount = sys.getrefcount
        with self._lock:
            for index, pos, dt, shape, node in self._in_specs:
                arr = inputs[pos]
                # the common case checked inline; anything else goes through the full check
                if not (type(arr) is np.ndarray and arr.dtype == dt and arr.shape == shape
                        and arr.flags.c_contiguous):
                    arr = _check_input(node, arr, pos)
                elif arr is arrays[index]:
                    continue  # the array of the last call: held since, so its memory has not moved
                addr = address(arr) if arr.size else 0
                if addr % arr.itemsize:
                    arr = contiguous(arr)
                    addr = address(arr)
                arrays[index] = arr
                table[index] = addr
            ctx = RunContext(state=state, bindings=bindings)
            self._ctx = ctx
            for index, node in self._host_specs:
                arr = _host_value(node, ctx)
                if arr is not arrays[index]:
                    arrays[index] = arr
                    table[index] = address(arr) if arr.size else 0
            for index, pool, dt, shape in self._out_specs:
                for entry in pool:
                    # the memory: the entry, the array's base and the argument; the array: entry, argument
                    if getrefcount(entry[0]) == 3 and getrefcount(entry[1]) == 2:
                        arrays[index] = entry[1]
                        table[index] = entry[2]
                        break
                else:
                    arrays[index], table[index] = _new_output(pool, dt, shape)
            try:
                status = self._entry(self._table_addr, self._cb_addr)
                if status:
                    self._raise(status)
                for index, var in self._assigns:
                    state[var] = arrays[index]
                return [(arrays[index] if how else arrays[index].copy()) if index is not None
                        else np.array(how, copy=True) for index, how in self._results]
            finally:
                for index in self._fresh_indices:  # only the caller keeps outputs alive
                    arrays[index] = None

    def _callback(self, k: int) -> int:
        """Runs one unit with the NumPy reference (ops this backend does not lower)."""
        try:
            unit = self.plan.units[k]
            n = unit.nodes[0]
            args = [self._value_of(i) for i in n.inputs]
            result = evaluate(n.op, args, n.attrs, n.type, self._ctx)
            np.copyto(self._arrays[self.plan.buffer_of[n.id]], result, casting="unsafe")
            return 0
        except BaseException as exc:  # noqa: BLE001 - re-raised by run() after the native call returns
            self._pending = exc
            return 1

    def _value_of(self, n: Node) -> np.ndarray:
        if n.id in self.plan.scalars:
            return n.attrs["value"].array
        return self._arrays[self.plan.buffer_of[n.id]]

    def _raise(self, status: int) -> None:
        unit = self.plan.units[(status >> 8) - 1]
        code = status & 0xFF
        if code == CALLBACK_ERROR:
            exc, self._pending = self._pending, None
            n = unit.nodes[0]
            where = f" (node created at {n.loc})" if n.loc else ""
            if isinstance(exc, (ValueError, IndexError, ZeroDivisionError, KeyError, TypeError)):
                raise type(exc)(f"{n.op.name}: {exc}{where}") from None
            raise exc
        cls, text = ERROR_TEXT.get(code, (RuntimeError, f"error {code}"))
        culprit = next((n for n in unit.nodes if n.op.name in ("gather", "scatter_add", "floor_div", "mod")),
                       unit.nodes[0])
        where = f" (node created at {culprit.loc})" if culprit.loc else ""
        raise cls(f"{culprit.op.name}: {text} in {culprit.describe()}{where}")


def _new_output(pool: list[list], dt: np.dtype, shape: tuple) -> tuple[np.ndarray, int]:
    """A new aligned array for an output and its address, remembered in `pool` (at most
    SPARE_OUTPUTS blocks) so a later call can reuse it once the caller has dropped it (no page
    faults or zeroing of fresh pages)."""
    arr = aligned_empty(shape, dt)
    if not arr.size:
        return arr, 0
    if len(pool) >= SPARE_OUTPUTS:
        pool.pop(0)
    addr = address(arr)
    pool.append([arr.base, arr, addr])
    return arr, addr


def _check_input(node: Node, value, pos: int) -> np.ndarray:
    arr = np.asarray(value)
    t = node.type
    label = node.name or (node.attrs.get("name") if node.op.name == "input" else None) or f"#{pos}"
    where = f" (created at {node.loc})" if node.loc else ""
    if arr.dtype != t.dtype.np:
        raise GraphError(f"input {label} expects dtype {t.dtype.name}, got {arr.dtype}{where}")
    if arr.shape != tuple(t.shape):
        raise GraphError(f"input {label} expects shape {fmt(t.shape)}, got {fmt(arr.shape)}{where}")
    return contiguous(arr)


def contiguous(arr: np.ndarray) -> np.ndarray:
    """`arr` itself when C-contiguous and element-aligned, else an aligned copy (0-d stays 0-d)."""
    if arr.flags.c_contiguous and not (arr.size and address(arr) % arr.dtype.itemsize):
        return arr
    out = aligned_empty(arr.shape, arr.dtype)
    out[...] = arr
    return out


def _host_value(node: Node, ctx: RunContext) -> np.ndarray:
    if node.op.name == "variable":
        var = node.attrs["var"]
        if var not in ctx.state:
            raise GraphError(f"variable {var.name!r} is read before it was initialised"
                             + (f" (created at {node.loc})" if node.loc else ""))
        arr = np.asarray(ctx.state[var])
        if arr.dtype != var.dtype.np or arr.shape != tuple(var.shape):
            raise GraphError(f"variable {var.name!r} holds {arr.dtype}{fmt(arr.shape)}, expected "
                             f"{var.dtype.name}{fmt(var.shape)}")
        return contiguous(arr)
    return contiguous(np.asarray(evaluate(node.op, [], node.attrs, node.type, ctx)))
