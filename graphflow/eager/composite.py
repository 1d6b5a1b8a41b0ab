"""Composite ops (linear, relu, softmax, log_softmax, the cross-entropy core) run as one cached compiled graph.

Op by op, a composite costs one dispatch per primitive (cross entropy: about 25), each with its
own pass over memory. `run(name, fn, inputs, static)` instead traces `fn` — the same functional
code the op-by-op path runs — over `input` nodes once per signature (name, static arguments,
input dtypes and shapes, which inputs need a gradient, backend), compiles it with the current CPU
backend and runs it as one call.

When a gradient is needed, the result is recorded as ONE tape node whose op is the composite
itself (`grad_fn` shows `CrossEntropyBackward0`, as PyTorch's fused ops do). Its vjp traces `fn`
again over the node's inputs and differentiates that primitive graph with `autodiff.grad`, so
`backward()` computes exactly the gradient the op-by-op path would, and the optimiser fuses the
recomputed forward values (a relu's mask, a softmax's row sums) into the gradient's kernels.
Recording one node instead of every traced primitive keeps the tape, and the backward walk over
it, short.

Returns None (the caller runs op by op) inside a `gf.compile` trace, for tensors on a device,
for signatures whose trace does not give a graph node, and for new signatures of a composite that
has compiled `MAX_SIGNATURES` already (eager's single ops need no compile for a new shape)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphflow import autodiff
from graphflow.eager.grad_mode import STATE as GRAD
from graphflow.eager.runtime import RUNTIME, cpu_backend
from graphflow.eager.tape import SIG_IDS, TapeNode, VersionCounter, user_loc
from graphflow.eager.tensor import Tensor, _new, _node_of
from graphflow.ir.bind import DYNAMIC, bind
from graphflow.ir.graph import Attrs, Graph, Node, TensorType, toposort
from graphflow.ir.registry import NOT_DIFFERENTIABLE, OpDef

_CACHE: dict[tuple, Any] = {}
_CACHE_LIMIT = 256
MAX_SIGNATURES = 64
_COMPILED: dict[str, int] = {}  # signatures compiled per composite name
_UNFIT = object()
_NO_ATTRS = Attrs({})
_set = object.__setattr__


class Plan:
    """A traced composite: `exe` returns [output]; with a gradient, `op` is the composite's tape
    op and `sig` its structure id (the tape's key for cached backward plans)."""

    __slots__ = ("exe", "op", "sig", "dtype")

    def __init__(self, exe: Any, op: OpDef | None, dtype: Any) -> None:
        self.exe = exe
        self.op = op
        self.sig = next(SIG_IDS)
        self.dtype = dtype


def _placeholders(types: list[TensorType]) -> list[Node]:
    return [bind("input", name=f"x{i}", dtype=t.dtype, shape=t.shape) for i, t in enumerate(types)]


def composite_op(name: str, fn: Callable, in_types: list[TensorType], rg: tuple[bool, ...],
                 out_type: TensorType, exe: Any) -> OpDef:
    """The tape op of one composite signature: its vjp is the gradient of `fn`'s primitive graph
    (traced over placeholders, differentiated, then rebuilt over the node's own inputs and g)."""

    def vjp(node: Node, g: Node) -> list[Node | None]:
        ph = _placeholders(in_types)
        seed = bind("input", name="g", dtype=out_type.dtype, shape=out_type.shape)
        out = fn(*ph)
        wrt = [p for p, r in zip(ph, rg) if r]
        grads = autodiff.grad(None, [out], wrt, seeds=[seed])
        new: dict[int, Node] = {p.id: x for p, x in zip(ph, node.inputs)}
        new[seed.id] = g
        present = [x for x in grads if x is not None]
        for n in toposort(present):
            if n.id not in new:
                new[n.id] = Node(n.op, tuple(new[i.id] for i in n.inputs), n.attrs, n.type, loc=node.loc) \
                    if n.inputs else n
        it = iter(grads)
        return [(lambda x: new[x.id] if x is not None else None)(next(it)) if r else None for r in rg]

    def reference(arrays: list, attrs: Any) -> Any:
        return exe.run(list(arrays))[0]

    return OpDef(name, "composite", lambda types, attrs: out_type, reference, vjp, {}, len(in_types),
                 doc=f"the composite {name}, recorded whole on the eager tape")


def _build(name: str, fn: Callable, inputs: tuple[Tensor, ...], rg: tuple[bool, ...], backend: Any) -> Plan | None:
    types = [TensorType(t._dtype, t._data.shape) for t in inputs]
    nodes_in = _placeholders(types)
    out = fn(*nodes_in)
    if not isinstance(out, Node):
        return None
    exe = backend.compile(Graph([out], nodes_in))
    flows = any(rg) and out.op.vjp is not NOT_DIFFERENTIABLE and out.type.dtype.kind == "f"
    op = composite_op(name, fn, types, rg, out.type, exe) if flows else None
    return Plan(exe, op, out.type.dtype)


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
        plan = _build(name, fn, inputs, tuple(rg), backend) or _UNFIT  # a failing trace raises: nothing cached
        _COMPILED[name] = n + 1
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = plan
    if plan is _UNFIT:
        return None
    values = plan.exe.run([t._data for t in inputs])
    if plan.op is None:
        return _new(values[0], plan.dtype, None)
    node = TapeNode(plan.op, tuple([_node_of(t) for t in inputs]), _NO_ATTRS, plan.op.infer((), None),
                    loc=user_loc(3))
    vc = VersionCounter()
    _set(node, "value", values[0])
    _set(node, "vc", vc)
    _set(node, "version", 0)
    _set(node, "rg", True)
    _set(node, "leaf", None)
    _set(node, "sig", plan.sig)
    t = _new(values[0], plan.dtype, None)
    t._node = node
    t._vc = vc
    t._rg = True
    return t
