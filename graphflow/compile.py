"""`gf.compile(fn_or_module)`: trace eager-style code into one static graph per input signature,
compile it, and replay it on later calls.

The signature is the tensor arguments' shapes, dtypes, devices and requires_grad flags, the
other arguments' values, the grad mode and (for modules) every submodule's train/eval flag; a new
signature traces again. Parameter, buffer and optimizer-state updates made in place by the traced
code, and in-place ops on tensor arguments, are applied in place on every call (bumping the
tensors' version counters, so a tape recorded before the call that saved a changed value refuses
to run backward, as after an eager in-place op), and `.grad` attributes set by `backward()` /
`zero_grad()` are set again, so a compiled training step behaves as the eager one."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphflow.ir.bind import DYNAMIC, make_node
from graphflow.ir.graph import Graph, Node
from graphflow.ir.registry import get_op
from graphflow.static.executor import compile_for, cpu_backend
from graphflow.static.guards import World
from graphflow.static.tracing import Slot, Trace, TraceError, Tracer, _is_eager

__all__ = ["compile", "CompiledFunction", "TraceError"]

_UNSET = object()
_OUTPUT = object()  # a result leaf computed by the graph (any other leaf is returned as traced)


def _grad_enabled() -> bool:
    state = _EAGER.get("grad")
    if state is None:
        try:
            from graphflow.eager.grad_mode import STATE
        except ImportError:
            return True
        state = _EAGER["grad"] = STATE
    return state.enabled


_EAGER: dict[str, Any] = {}  # eager-mode objects, imported on first use (eager imports this module)


def _new_eager(arr: np.ndarray) -> Any:
    """An eager tensor over `arr` (an executable's output, which the caller owns: no copy)."""
    from_numpy = _EAGER.get("from_numpy")
    if from_numpy is None:
        from graphflow.eager import from_numpy

        _EAGER["from_numpy"] = from_numpy
    return from_numpy(arr if arr.flags.writeable else np.array(arr, copy=True))


class _Stale(Exception):
    """A state tensor's buffer changed shape or dtype since the trace: trace again."""


def _leaves(x: Any, out: list[Any]) -> Callable[[list[Any]], Any]:
    """Flatten nested lists/tuples/dicts; returns a function rebuilding the structure."""
    if isinstance(x, dict):
        keys = list(x)
        parts = [_leaves(x[k], out) for k in keys]
        return lambda vals: type(x)(zip(keys, (p(vals) for p in parts)))
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        parts = [_leaves(v, out) for v in x]
        return lambda vals: type(x)(*(p(vals) for p in parts))
    if isinstance(x, (list, tuple)):
        parts = [_leaves(v, out) for v in x]
        return lambda vals: type(x)(p(vals) for p in parts)
    i = len(out)
    out.append(x)
    return lambda vals: vals[i]


def _key_of(x: Any) -> Any:
    if _is_eager(x):
        rg = bool(x.requires_grad)  # backward() sets or accumulates into an argument's .grad
        return ("T", tuple(x.shape), x.dtype.name, str(getattr(x, "device", "cpu")), rg, rg and x.grad is None)
    if isinstance(x, (int, float, bool, str, type(None))):
        return ("P", type(x).__name__, x)
    if isinstance(x, np.ndarray):
        raise TypeError("gf.compile: pass tensors, not NumPy arrays, as a compiled function's array arguments")
    return ("O", id(x))


@dataclass
class _Compiled:
    graph: Graph
    exes: dict[str, Any]  # backend name -> executable (compiled on first use)
    n_args: int
    uses_seed: bool
    slots: list[Slot]
    n_results: int
    rebuild: Callable[[list[Any]], Any]
    result_kinds: list[Any]  # per leaf: _OUTPUT (an output slot) or the Python value to return as is
    written: list[Slot]
    grad_effects: list[tuple[Any, Any]]  # (tensor, "output" | None | an eager tensor)
    arg_grads_in: list[int]  # flat positions of arguments whose current .grad is an input
    arg_grad_effects: list[tuple[int, Any]]  # (flat position, "output" | None): what backward did to .grad
    arg_writes: list[int] = field(default_factory=list)  # flat positions of arguments written in place
    label: str = "gf.compile"  # the version counters' `last_op` for the writes of a replay
    # ---- precomputed for replay (see _finish) ----
    arg_pos: list[int] = None  # type: ignore[assignment]  # flat positions of tensor arguments
    state: list[tuple[Any, tuple, np.dtype]] = None  # type: ignore[assignment]  # (tensor, shape, dtype) per slot
    written_tensors: list[Any] = None  # type: ignore[assignment]
    grad_outputs: list[Any] = None  # type: ignore[assignment]  # tensors whose .grad is an output, in order
    grad_sets: list[tuple[Any, Any]] = None  # type: ignore[assignment]  # (tensor, None | eager tensor)

    def finish(self, flat: list[Any]) -> _Compiled:
        self.arg_pos = [i for i, x in enumerate(flat) if _is_eager(x)]
        self.state = [(s.tensor, tuple(s.array.shape), s.array.dtype) for s in self.slots]
        self.written_tensors = [s.tensor for s in self.written]
        self.grad_outputs = [t for t, e in self.grad_effects if isinstance(e, str)]
        self.grad_sets = [(t, e) for t, e in self.grad_effects if not isinstance(e, str)]
        return self


class CompiledFunction:
    """The callable `gf.compile` returns. `traces` counts how many times it traced."""

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn
        self._cache: dict[tuple, _Compiled] = {}
        self.traces = 0
        self._calls = 0
        self._world: World | None = None  # modules, optimizers, tensors the function reaches
        self._traced_owners: list[Any] = []  # tensors whose .grad a trace set that the world did not list
        functools.update_wrapper(self, fn, updated=())

    def _collect(self, flat: list[Any]) -> World:
        """Find what the function reaches again (after a trace, or when something was swapped)."""
        self._world = World(self.fn, [x for x in flat if not _is_eager(x)], self._traced_owners)
        return self._world

    def _signature(self, flat: list[Any], world: World) -> tuple:
        return (tuple([_key_of(x) for x in flat]), _grad_enabled(), world.key())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs or any(isinstance(a, (list, tuple, dict)) for a in args):
            flat: list[Any] = []
            _leaves((args, kwargs), flat)
        else:
            flat = list(args)
        world = self._world
        if world is None or not world.valid():
            # a parameter, module, optimizer or its state was replaced: every trace is stale
            self._cache.clear()
            world = self._collect(flat)
        key = self._signature(flat, world)
        entry = self._cache.get(key)
        if entry is not None:
            try:
                return self._run(entry, flat)
            except _Stale:
                del self._cache[key]
        entry = self._trace(args, kwargs)
        # the trace may have created state (an optimizer's first step): collect again; the
        # key reads the state as it was before this call (the trace restored every .grad)
        key = self._signature(flat, self._collect(flat))
        self._cache[key] = entry.finish(flat)
        return self._run(entry, flat)

    # ---- tracing ---------------------------------------------------------------------------
    def _trace(self, args: tuple, kwargs: dict) -> _Compiled:
        self.traces += 1
        trace = Trace()
        flat: list[Any] = []
        rebuild_args = _leaves((args, kwargs), flat)
        inputs: list[Node] = []
        traced: list[Any] = []
        arg_leaves: list[tuple[int, Tracer, Node | None]] = []  # (position, tracer, node of its .grad on entry)
        grad_inputs: list[Node] = []
        arg_positions: list[int] = []
        arg_tracers: list[Tracer] = []
        for i, x in enumerate(flat):
            if _is_eager(x):
                node = make_node(get_op("input"), (), {"name": f"arg{i}", "dtype": x.dtype,
                                                         "shape": tuple(x.shape)}, name=f"arg{i}")
                inputs.append(node)
                t = Tracer(node, trace, bool(x.requires_grad))
                arg_positions.append(i)
                arg_tracers.append(t)
                if x.requires_grad:
                    trace.add_leaf(t)
                    trace.alias(t, x)
                    g = None
                    if x.grad is not None:  # backward accumulates into the .grad of each call's argument
                        g = make_node(get_op("input"), (), {"name": f"arg{i}_grad", "dtype": x.grad.dtype,
                                                              "shape": tuple(x.grad.shape)}, name=f"arg{i}_grad")
                        grad_inputs.append(g)
                        t.grad = Tracer(g, trace)
                    arg_leaves.append((i, t, g))
                traced.append(t)
            else:
                traced.append(x)
        targs, tkwargs = rebuild_args(traced)
        owners = list(self._world.owners if self._world is not None else ())
        before = {id(t): t.grad for t in owners}
        DYNAMIC.append(trace.handler)
        try:
            out = self.fn(*targs, **tkwargs)
        finally:
            DYNAMIC.pop()
            trace.restore_aliases()
            after = {id(t): t.grad for t in owners}
            for t in list(trace.grad_owners.values()):
                if id(t) not in before:
                    owners.append(t)
                    self._traced_owners.append(t)
                    before[id(t)] = trace.grads_before[id(t)]
                    after[id(t)] = t.grad
            for t in owners:
                t.grad = before[id(t)]
        leaves: list[Any] = []
        rebuild = _leaves(out, leaves)
        outputs: list[Node] = []
        kinds: list[Any] = []
        for leaf in leaves:
            if isinstance(leaf, Tracer):
                kinds.append(_OUTPUT)
                outputs.append(leaf.node)
            elif _is_eager(leaf):
                kinds.append(_OUTPUT)
                outputs.append(trace.read(leaf))
            else:
                kinds.append(leaf)
        n_results = len(outputs)
        grad_effects: list[tuple[Any, Any]] = []
        grad_nodes: list[Node] = []
        for t in owners:
            new = after.get(id(t), before[id(t)])
            if new is before[id(t)]:
                continue
            if isinstance(new, Tracer):
                grad_effects.append((t, "output"))
                grad_nodes.append(new.node)
            elif new is None or _is_eager(new):
                grad_effects.append((t, new))
            else:
                raise TraceError(f"gf.compile: .grad was set to a {type(new).__name__}")
        arg_effects: list[tuple[int, Any]] = []
        arg_grad_nodes: list[Node] = []
        for i, t, entry in arg_leaves:
            g = t.grad
            if isinstance(g, Tracer) and g.node is entry or g is None and entry is None:
                continue
            if g is None:
                arg_effects.append((i, None))
                continue
            arg_effects.append((i, "output"))
            arg_grad_nodes.append(g.node if isinstance(g, Tracer) else trace.read(g))
        slots = list(trace.slots.values())
        written = [s for s in slots if s.written]
        # arguments whose tracer an in-place op rebound (`x.add_(1)`): the caller's tensor gets the value
        arg_writes = [i for i, t, node in zip(arg_positions, arg_tracers, inputs) if t.node is not node]
        write_nodes = [arg_tracers[arg_positions.index(i)].node for i in arg_writes]
        graph_inputs = (inputs + grad_inputs + ([trace.seed] if trace.seed is not None else [])
                        + [s.input for s in slots])
        graph = Graph(outputs + [s.current for s in written] + grad_nodes + arg_grad_nodes + write_nodes,
                      graph_inputs)
        label = f"{getattr(self.fn, '__name__', type(self.fn).__name__)} (gf.compile)"
        return _Compiled(graph, {}, len(inputs), trace.seed is not None, slots, n_results, rebuild, kinds, written,
                         grad_effects, [i for i, _, g in arg_leaves if g is not None], arg_effects, arg_writes,
                         label)

    # ---- replay ----------------------------------------------------------------------------
    def _run(self, c: _Compiled, flat: list[Any]) -> Any:
        arrays = [flat[i]._data for i in c.arg_pos]
        for i in c.arg_grads_in:
            arrays.append(flat[i].grad._data)
        if c.uses_seed:
            arrays.append(np.asarray(self._seed(), dtype=np.int64))
        for t, shape, dtype in c.state:
            a = t._data
            if a.shape != shape or a.dtype != dtype:
                raise _Stale
            arrays.append(a)
        dev = next((flat[i]._device for i in c.arg_pos if flat[i]._device is not None), None)
        if dev is not None:  # arguments on a device: the graph runs there, its results stay there
            return self._run_on(dev, c, flat, arrays)
        backend = cpu_backend()  # gf.set_backend between calls takes effect
        exe = c.exes.get(backend.name)
        if exe is None:
            exe = c.exes[backend.name] = compile_for(c.graph, arrays, backend)
        outs = exe.run(arrays)
        # outputs are the caller's (the backend contract); copy only one that is a fed array or
        # repeats an earlier output, so no two returned tensors share memory
        seen = {id(a) for a in arrays}
        results = []
        for o in outs:
            if id(o) in seen:
                o = np.array(o, copy=True)
            seen.add(id(o))
            results.append(o)
        return self._apply(c, flat, results, _new_eager)

    def _run_on(self, dev: Any, c: _Compiled, flat: list[Any], arrays: list[Any]) -> Any:
        """Replay on device `dev` (device buffers are never written in place: results need no copies)."""
        from graphflow.eager.devices import device_backend
        from graphflow.eager.tensor import _new
        from graphflow.ir.dtypes import from_numpy_dtype

        backend = device_backend(dev)
        exe = c.exes.get(f"{backend.name}:{dev}")
        if exe is None:
            exe = c.exes[f"{backend.name}:{dev}"] = compile_for(c.graph, arrays, backend)
        results = exe.run(arrays, to_host=False)
        return self._apply(c, flat, results, lambda a: _new(a, from_numpy_dtype(a.dtype), dev))

    def _apply(self, c: _Compiled, flat: list[Any], results: list[Any], wrap: Callable[[Any], Any]) -> Any:
        """Write the results back: in-place updates, .grad effects, then the returned structure."""
        k = c.n_results
        for t in c.written_tensors:  # in place: whoever holds the buffer sees the update
            data = t._data
            if data.__class__ is not np.ndarray:
                t._data = results[k]
            elif data.flags.writeable:
                np.copyto(data, results[k])
            else:
                t._data = np.array(results[k], copy=True)
            t._vc_().bump(c.label)  # values a tape saved from this buffer are stale now
            k += 1
        for t in c.grad_outputs:
            t.grad = wrap(results[k])
            k += 1
        for t, effect in c.grad_sets:
            t.grad = effect
        for i, effect in c.arg_grad_effects:
            if effect is None:
                flat[i].grad = None
            else:
                flat[i].grad = wrap(results[k])
                k += 1
        for i in c.arg_writes:
            _write_argument(flat[i], wrap(results[k]), c.label)
            k += 1
        values = []
        k = 0
        for kind in c.result_kinds:
            if kind is _OUTPUT:
                values.append(wrap(results[k]))
                k += 1
            else:
                values.append(kind)
        return c.rebuild(values)

    def _seed(self) -> int:
        try:
            from graphflow.nn.functional.dropout import _default_key

            return _default_key()
        except ImportError:
            self._calls += 1
            return self._calls


def _write_argument(t: Any, value: Any, label: str) -> None:
    """An argument's in-place update, as an eager in-place op outside grad mode: into its storage
    (through a view into the base's), its version counter bumped."""
    state = _EAGER.get("grad")
    if state is None:
        _grad_enabled()
        state = _EAGER["grad"]
    prev = state.enabled
    state.enabled = False
    try:
        t.copy_(value)
    finally:
        state.enabled = prev
    t._vc.last_op = label


def compile(fn_or_module: Callable[..., Any]) -> CompiledFunction:  # noqa: A001 - the public name
    """Trace `fn_or_module` on its first call for each input signature into a static graph,
    compile it, and replay it afterwards (see the module docstring)."""
    if isinstance(fn_or_module, CompiledFunction):
        return fn_or_module
    if not callable(fn_or_module):
        raise TypeError(f"gf.compile: expected a function or a module, got {type(fn_or_module).__name__}")
    return CompiledFunction(fn_or_module)
