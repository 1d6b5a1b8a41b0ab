"""Composite ops (linear, relu, softmax, log_softmax, the cross-entropy core) run as one cached compiled graph.

Op by op, a composite costs one dispatch per primitive (cross entropy: about 25), each with its
own pass over memory. `run(name, fn, inputs, static)` instead traces `fn` — the same functional
code the op-by-op path runs — over `input` nodes once per signature (name, static arguments,
input dtypes and shapes, which inputs need a gradient, backend), compiles it with the current CPU
backend and runs it as one call.

When a gradient is needed, the compiled graph also returns every value the tape needs, and each
traced primitive is recorded as its own `TapeNode` (inputs, attributes and types as traced), so
`backward()` differentiates exactly the primitive graph the op-by-op path would record — only
the forward values come from the fused kernels (equal to float rounding). Values that carry no
gradient enter the tape as leaves, as they would op by op.

Returns None (the caller runs op by op) inside a `gf.compile` trace, for tensors on a device,
for signatures whose trace does not give a graph node, and for new signatures of a composite that
has compiled `MAX_SIGNATURES` already (eager's single ops need no compile for a new shape)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphflow.eager.grad_mode import STATE as GRAD
from graphflow.eager.runtime import RUNTIME, cpu_backend
from graphflow.eager.tape import SIG_IDS, TapeNode, VersionCounter, user_loc
from graphflow.eager.tensor import Tensor, _new, _node_of
from graphflow.ir.bind import DYNAMIC, bind
from graphflow.ir.graph import Graph, Node
from graphflow.ir.registry import NOT_DIFFERENTIABLE

_CACHE: dict[tuple, Any] = {}
_CACHE_LIMIT = 256
MAX_SIGNATURES = 64
_COMPILED: dict[str, int] = {}  # signatures compiled per composite name
_UNFIT = object()
_VIEWS = frozenset({"permute", "reshape", "broadcast_to"})
_set = object.__setattr__


class Plan:
    """A traced composite. Without gradient `exe` returns [output]. With one, `steps` lists per
    value the tape holds how it gets it: ("in", k) input tensor k; ("val", src, node) a value
    without gradient (a leaf); ("rec", src, node, arg_steps, sig) a recorded primitive. src >= 0
    is `exe`'s output src; src < 0 a view (movement op's reference) of step -1 - src's value.
    `out_slot` is the output's step."""

    __slots__ = ("exe", "steps", "out_slot", "grad", "dtype")

    def __init__(self, exe: Any, steps: list[tuple], out_slot: int, grad: bool, dtype: Any) -> None:
        self.exe = exe
        self.steps = steps
        self.out_slot = out_slot
        self.grad = grad
        self.dtype = dtype


def _build(fn: Callable, inputs: tuple[Tensor, ...], rg: tuple[bool, ...], backend: Any) -> Plan | None:
    nodes_in = [bind("input", name=f"x{i}", dtype=t._dtype, shape=t._data.shape) for i, t in enumerate(inputs)]
    out = fn(*nodes_in)
    if not isinstance(out, Node):
        return None
    graph = Graph([out], nodes_in)
    if not any(rg):
        return Plan(backend.compile(graph), [], 0, False, out.type.dtype)
    slot = {n.id: k for k, n in enumerate(nodes_in)}
    flows = {n.id: r for n, r in zip(nodes_in, rg)}
    traced = [n for n in graph.nodes if n.id not in slot]
    for n in traced:
        flows[n.id] = (any(flows[i.id] for i in n.inputs) and n.op.vjp is not NOT_DIFFERENTIABLE
                       and n.type.dtype.kind == "f")
    if not flows[out.id]:
        return Plan(backend.compile(graph), [], 0, False, out.type.dtype)
    # values the tape holds: recorded nodes, and the gradient-free values they read
    wanted: list[Node] = []
    seen: set[int] = set()
    for n in traced:
        if flows[n.id]:
            for i in n.inputs:
                if not flows[i.id] and i.id not in slot and i.id not in seen:
                    seen.add(i.id)
                    wanted.append(i)
            seen.add(n.id)
            wanted.append(n)
    if out.id not in seen:
        return None
    # movement ops over values held here become NumPy views at record time (what the op-by-op
    # path holds), not compiled outputs: no copy of a transposed weight or a broadcast bias
    steps: list[tuple] = []
    pos: dict[int, int] = {}
    for k, n in enumerate(nodes_in):
        pos[n.id] = len(steps)
        steps.append(("in", k))
    outputs: list[Node] = []
    for n in wanted:
        if n.op.name in _VIEWS and n.inputs[0].id in pos:
            src = -1 - pos[n.inputs[0].id]
        else:
            src = len(outputs)
            outputs.append(n)
        pos[n.id] = len(steps)
        if flows[n.id]:
            steps.append(("rec", src, n, tuple(pos[i.id] for i in n.inputs), next(SIG_IDS)))
        else:
            steps.append(("val", src, n))
    if not outputs:
        return None
    exe = backend.compile(Graph(outputs, nodes_in))
    return Plan(exe, steps, pos[out.id], True, out.type.dtype)


def run(name: str, fn: Callable, inputs: tuple[Tensor, ...], static: tuple) -> Tensor | None:
    """fn(*inputs) through its cached compiled graph (see the module docstring), or None."""
    if DYNAMIC:
        return None
    grad_on = GRAD.enabled
    sig = []
    rg = []
    for t in inputs:
        if t.__class__ is not Tensor and not isinstance(t, Tensor):
            return None
        if t._device is not None:
            return None
        sig.append((t._dtype, t._data.shape))
        rg.append(bool(grad_on and t._rg))
    backend = RUNTIME.backend or cpu_backend()
    key = (name, static, tuple(sig), tuple(rg), id(backend))
    plan = _CACHE.get(key)
    if plan is None:
        # shapes that keep changing (inference over many sizes) would compile each time: past
        # MAX_SIGNATURES per composite, new signatures run op by op (shape-generic kernels)
        n = _COMPILED.get(name, 0)
        if n >= MAX_SIGNATURES:
            return None
        plan = _build(fn, inputs, tuple(rg), backend) or _UNFIT  # a failing trace raises: nothing cached
        _COMPILED[name] = n + 1
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = plan
    if plan is _UNFIT:
        return None
    arrays = [t._data for t in inputs]
    values = plan.exe.run(arrays)
    if not plan.grad:
        return _new(values[0], plan.dtype, None)
    return _record(plan, inputs, values)


def _record(plan: Plan, inputs: tuple[Tensor, ...], values: list[Any]) -> Tensor:
    """Put the traced primitives on the tape, holding the compiled graph's values."""
    loc = user_loc(3)
    tape: list[Any] = []
    held: list[Any] = []  # each step's value
    for step in plan.steps:
        kind = step[0]
        if kind == "in":
            t = inputs[step[1]]
            tape.append(_node_of(t))
            held.append(t._data)
            continue
        src, n = step[1], step[2]
        v = values[src] if src >= 0 else n.op.reference([held[-1 - src]], n.attrs)
        held.append(v)
        if kind == "val":
            tape.append(_node_of(_new(v, n.type.dtype, None)))
        else:
            node = TapeNode(n.op, tuple(tape[a] for a in step[3]), n.attrs, n.type, loc=loc)
            _set(node, "value", v)
            _set(node, "vc", VersionCounter())
            _set(node, "version", 0)
            _set(node, "rg", True)
            _set(node, "leaf", None)
            _set(node, "sig", step[4])
            tape.append(node)
    node = tape[plan.out_slot]
    t = _new(node.value, node.type.dtype, None)
    t._node = node
    t._vc = node.vc
    t._rg = True
    return t
