"""`gf.compile(fn_or_module)`: trace eager-style code into one static graph per input signature,
compile it, and replay it on later calls.

The signature is the tensor arguments' shapes, dtypes, devices and requires_grad flags, the
other arguments' values, the grad mode and (for modules) every submodule's train/eval flag; a new
signature traces again. Parameter, buffer and optimizer-state updates made in place by the traced
code are applied in place on every call, and `.grad` attributes set by `backward()` /
`zero_grad()` are set again, so a compiled training step behaves as the eager one."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphflow.ir.bind import DYNAMIC, make_node
from graphflow.ir.graph import Graph, Node
from graphflow.ir.registry import get_op
from graphflow.static.executor import compile_for, cpu_backend
from graphflow.static.tracing import Slot, Trace, TraceError, Tracer, _is_eager

__all__ = ["compile", "CompiledFunction", "TraceError"]

_UNSET = object()
_OUTPUT = object()  # a result leaf computed by the graph (any other leaf is returned as traced)


def _grad_enabled() -> bool:
    try:
        from graphflow.eager.grad_mode import STATE
    except ImportError:
        return True
    return STATE.enabled


def _new_eager(arr: np.ndarray) -> Any:
    from graphflow.eager import from_numpy

    return from_numpy(np.array(arr, copy=True) if not arr.flags.writeable or arr.base is not None else arr)


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


def _owners_of_grads(fn: Any, args: list[Any]) -> list[Any]:
    """Eager tensors whose `.grad` the function may set: parameters of the modules and optimizers
    it can reach (itself, its closure, the globals it names, its arguments)."""
    seen: dict[int, Any] = {}
    objs: list[Any] = [fn, getattr(fn, "__self__", None), *args]
    code = getattr(fn, "__code__", None)
    if code is not None:
        objs += [c.cell_contents for c in (fn.__closure__ or ()) if _filled(c)]
        g = getattr(fn, "__globals__", {})
        objs += [g[n] for n in code.co_names if n in g]
    for o in objs:
        if o is None:
            continue
        params: list[Any] = []
        if hasattr(o, "parameters") and callable(o.parameters) and hasattr(o, "modules"):
            params = list(o.parameters())
        elif hasattr(o, "param_groups"):
            params = [p for group in o.param_groups for p in group["params"]]
        elif _is_eager(o):
            params = [o]
        for p in params:
            seen.setdefault(id(p), p)
    return list(seen.values())


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


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


class CompiledFunction:
    """The callable `gf.compile` returns. `traces` counts how many times it traced."""

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn
        self._cache: dict[tuple, _Compiled] = {}
        self.traces = 0
        self._calls = 0
        self._owners: list[Any] | None = None  # tensors whose .grad the function sets
        functools.update_wrapper(self, fn, updated=())

    def _signature(self, flat: list[Any]) -> tuple:
        modes: tuple = ()
        fn = self.fn
        if hasattr(fn, "modules") and callable(fn.modules):
            modes = tuple(bool(m.training) for m in fn.modules())
        if self._owners is None:  # arguments' own .grad is handled by position (see _trace)
            self._owners = _owners_of_grads(fn, [x for x in flat if not _is_eager(x)])
        grads = tuple(t.grad is None for t in self._owners)  # backward sets or accumulates
        return (tuple(_key_of(x) for x in flat), _grad_enabled(), modes, grads)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        flat: list[Any] = []
        _leaves((args, kwargs), flat)
        key = self._signature(flat)
        entry = self._cache.get(key)
        if entry is None:
            entry = self._trace(args, kwargs)
            self._cache[key] = entry
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
        for i, x in enumerate(flat):
            if _is_eager(x):
                node = make_node(get_op("input"), (), {"name": f"arg{i}", "dtype": x.dtype,
                                                         "shape": tuple(x.shape)}, name=f"arg{i}")
                inputs.append(node)
                t = Tracer(node, trace, bool(x.requires_grad))
                if x.requires_grad:
                    trace.add_leaf(t)
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
        owners = list(self._owners or ())
        before = {id(t): t.grad for t in owners}
        DYNAMIC.append(trace.handler)
        try:
            out = self.fn(*targs, **tkwargs)
        finally:
            DYNAMIC.pop()
            after = {id(t): t.grad for t in owners}
            for t in list(trace.grad_owners.values()):
                if id(t) not in before:
                    owners.append(t)
                    self._owners.append(t)
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
        graph_inputs = (inputs + grad_inputs + ([trace.seed] if trace.seed is not None else [])
                        + [s.input for s in slots])
        graph = Graph(outputs + [s.current for s in written] + grad_nodes + arg_grad_nodes, graph_inputs)
        return _Compiled(graph, {}, len(inputs), trace.seed is not None, slots, n_results, rebuild, kinds, written,
                         grad_effects, [i for i, _, g in arg_leaves if g is not None], arg_effects)

    # ---- replay ----------------------------------------------------------------------------
    def _run(self, c: _Compiled, flat: list[Any]) -> Any:
        arrays = [x._data for x in flat if _is_eager(x)]
        arrays += [flat[i].grad._data for i in c.arg_grads_in]
        if c.uses_seed:
            arrays.append(np.asarray(self._seed(), dtype=np.int64))
        arrays += [s.tensor._data for s in c.slots]
        backend = cpu_backend()  # gf.set_backend between calls takes effect
        exe = c.exes.get(backend.name)
        if exe is None:
            exe = c.exes[backend.name] = compile_for(c.graph, arrays, backend)
        outs = exe.run(arrays)
        given = {id(a) for a in arrays}
        results = [np.array(o, copy=True) if id(o) in given else np.asarray(o) for o in outs]
        k = c.n_results
        for s, value in zip(c.written, results[k:k + len(c.written)]):
            data = s.tensor._data
            if data.flags.writeable:
                np.copyto(data, value)
            else:
                s.tensor._data = np.array(value, copy=True)
        k += len(c.written)
        owner_outputs = [e for e in c.grad_effects if isinstance(e[1], str) and e[1] == "output"]
        for (t, _effect), value in zip(owner_outputs, results[k:]):
            t.grad = _new_eager(np.asarray(value))
        k += len(owner_outputs)
        for t, effect in c.grad_effects:
            if not (isinstance(effect, str) and effect == "output"):
                t.grad = effect
        for i, effect in c.arg_grad_effects:
            if effect is None:
                flat[i].grad = None
            else:
                flat[i].grad = _new_eager(np.asarray(results[k]))
                k += 1
        it = iter(results[:c.n_results])
        values = [_new_eager(np.asarray(next(it))) if kind is _OUTPUT else kind for kind in c.result_kinds]
        return c.rebuild(values)

    def _seed(self) -> int:
        try:
            from graphflow.nn.functional.dropout import _default_key

            return _default_key()
        except ImportError:
            self._calls += 1
            return self._calls


def compile(fn_or_module: Callable[..., Any]) -> CompiledFunction:  # noqa: A001 - the public name
    """Trace `fn_or_module` on its first call for each input signature into a static graph,
    compile it, and replay it afterwards (see the module docstring)."""
    if isinstance(fn_or_module, CompiledFunction):
        return fn_or_module
    if not callable(fn_or_module):
        raise TypeError(f"gf.compile: expected a function or a module, got {type(fn_or_module).__name__}")
    return CompiledFunction(fn_or_module)
