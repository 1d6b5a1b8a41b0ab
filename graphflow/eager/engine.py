"""`backward()` and `autograd.grad` over the tape.

The gradient graph comes from `graphflow.autodiff.grad` applied to the tape's nodes; forward
nodes whose values the gradient reads become the graph's inputs, fed from the values the tape
holds. The compiled gradient graph is cached by the tape's structure (ops, attributes, types,
wiring), so a training loop whose structure repeats compiles once. With `create_graph=True` the
gradient graph is replayed through the eager handler instead, so the gradients are themselves
recorded (higher-order derivatives)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from graphflow import autodiff
from graphflow.eager.devices import device_backend
from graphflow.eager.fast import TINY, make_kernel
from graphflow.eager.grad_mode import STATE as GRAD
from graphflow.eager.runtime import RUNTIME, cpu_backend
from graphflow.eager.tape import INPUT_OP, TapeNode, op_label
from graphflow.eager.tensor import HANDLER, Tensor, _new, _node_of, apply
from graphflow.eager.transfer import COPY_OP
from graphflow.eager.views import View
from graphflow.ir.graph import Attrs, Graph, Node, TensorType
from graphflow.passes.cse import cse
from graphflow.passes.dce import dce

_CACHE: dict[tuple, _Plan] = {}
_CACHE_LIMIT = 256
_set = object.__setattr__

FREED = ("Trying to backward through the graph a second time (or to read values after they were freed). "
         "Pass retain_graph=True to backward() or autograd.grad() the first time if you need to backward "
         "through the graph again.")


class _Plan:
    """A cached gradient graph: which tape positions feed it and which target each output is.
    `runner` is the lean step list for tiny graphs (see `LeanRunner`), else None and `exe` is the
    backend's compiled executable (built on first use)."""

    __slots__ = ("graph", "exe", "runner", "needed", "out_targets", "n_seeds", "backend")

    def __init__(self, graph: Graph, needed: list[int], out_targets: list[int], n_seeds: int, backend: Any):
        self.graph = graph
        self.exe = None
        self.runner: LeanRunner | None = None
        self.needed = needed
        self.out_targets = out_targets
        self.n_seeds = n_seeds
        self.backend = backend

    def private_outputs(self) -> bool:
        """Whether `run`'s arrays are fresh memory (the lean runner copies what is not)."""
        return self.runner is not None or bool(getattr(self.exe, "private_outputs", False))

    def run(self, arrays: list[Any]) -> list[Any]:
        if self.runner is not None:
            return self.runner.run(arrays)
        if self.exe is None:
            self.exe = self.backend.compile(self.graph)
        if getattr(self.backend, "name", "") == "cuda":
            return self.exe.run(arrays, to_host=False)
        return self.exe.run(arrays)


class LeanRunner:
    """Runs a tiny gradient graph as a flat list of NumPy calls (`fast.make_kernel`: what the
    registry's references compute, without their per-call overheads), one list of values indexed
    by position, no per-run checks. Used for graphs whose
    every value is below `fast.TINY` elements, where both CPU backends run the references too."""

    __slots__ = ("steps", "outs", "n_in")

    def __init__(self, graph: Graph):
        slot = {n.id: k for k, n in enumerate(graph.inputs)}
        self.n_in = len(graph.inputs)
        steps = []
        for n in graph.nodes:
            if n.id in slot:
                continue
            fn = make_kernel(n.op, n.inputs[0].type.dtype if n.inputs else None, n.attrs)
            steps.append((fn, tuple(slot[i.id] for i in n.inputs), n.type.dtype.np))
            slot[n.id] = len(slot)
        self.steps = steps
        self.outs = [slot[o.id] for o in graph.outputs]

    @staticmethod
    def fits(graph: Graph) -> bool:
        inputs = {n.id for n in graph.inputs}
        for n in graph.nodes:
            if _numel(n.type.shape) > TINY or (n.op.needs_context and n.id not in inputs):
                return False
        return True

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        vals = list(inputs)
        for fn, args, npdt in self.steps:
            r = fn(*[vals[i] for i in args])
            if r.__class__ is not np.ndarray:
                r = np.asarray(r)
            if r.dtype is not npdt:
                r = r.astype(npdt)
            vals.append(r)
        n_in = self.n_in
        out = []
        seen: set[int] = set()
        for k in self.outs:
            r = vals[k]
            # the caller keeps and updates gradients in place: hand out fresh buffers only
            if k < n_in or not r.flags.owndata or id(r) in seen:
                r = r.copy()
            seen.add(id(r))
            out.append(r)
        return out


def _numel(shape: tuple) -> int:
    n = 1
    for d in shape:
        if not isinstance(d, int):
            return 1 << 62
        n *= d
    return n


def _walk(roots: Sequence[TapeNode]) -> tuple[list[TapeNode], dict[int, int], tuple]:
    """The tape reachable from the roots, inputs before users (iterative depth-first post-order),
    each node's position, and the tape's structure: per node its structure id and its inputs'
    positions. Two tapes with equal structures have the same gradient graph."""
    pos: dict[int, int] = {}
    order: list[TapeNode] = []
    rows: list = []
    for root in roots:
        stack = [root]
        while stack:
            n = stack[-1]
            if n.id in pos:
                stack.pop()
                continue
            ins = n.inputs
            if ins:
                pending = [i for i in ins if i.id not in pos]
                if pending:
                    pending.reverse()
                    stack.extend(pending)
                    continue
                if n.value is None:
                    raise RuntimeError(FREED)
                rows.append((n.sig, *[pos[i.id] for i in ins]))
            else:
                rows.append(n.sig)
            stack.pop()
            pos[n.id] = len(order)
            order.append(n)
    return order, pos, tuple(rows)


def _seed_node(i: int, t: TensorType) -> Node:
    return Node(INPUT_OP, (), Attrs({"name": f"seed{i}", "dtype": t.dtype, "shape": t.shape}), t)


def _detached(outputs: list[Node], seeds: list[Node], needed: list[Node]) -> Graph:
    """The gradient graph with each forward value it reads replaced by a plain `input` node: the
    optimiser sees opaque inputs (it must not rewrite through the tape's nodes, e.g. cancel a
    transpose of a weight the tape holds, and then read a value that is not fed)."""
    new: dict[int, Node] = {s.id: s for s in seeds}
    fed = list(seeds)
    for k, n in enumerate(needed):
        leaf = Node(INPUT_OP, (), Attrs({"name": f"fwd{k}", "dtype": n.type.dtype, "shape": n.type.shape}),
                    n.type, loc=n.loc)
        new[n.id] = leaf
        fed.append(leaf)
    for n in Graph(outputs, inputs=seeds + needed).nodes:
        if n.id not in new:
            new[n.id] = Node(n.op, tuple(new[i.id] for i in n.inputs), n.attrs, n.type, loc=n.loc, name=n.name)
    return Graph([new[o.id] for o in outputs], inputs=fed)


# movement ops whose values are views of their input: the gradient graph reads the input instead
# and recomputes the view (a transposed weight is fed as the weight itself: contiguous, no copy, and
# its version counter guards it)
_VIEWS = frozenset({"permute", "reshape", "broadcast_to"})


def _sources(nodes: list[Node], fwd: dict[int, int]) -> list[int]:
    """Tape positions of the values the gradient graph is fed: each read forward value, or for a
    movement op over a tape value, that value (repeatedly)."""
    out: list[int] = []
    seen: set[int] = set()
    for n in nodes:
        while n.op.name in _VIEWS and n.inputs and n.inputs[0].id in fwd:
            n = n.inputs[0]
        if n.id not in seen:
            seen.add(n.id)
            out.append(fwd[n.id])
    return out


def _plan(order: list[TapeNode], roots: list[int], targets: list[int], backend: Any, lean: bool) -> _Plan:
    seeds = [_seed_node(i, order[r].type) for i, r in enumerate(roots)]
    grads = autodiff.grad(None, [order[r] for r in roots], [order[t] for t in targets], seeds=seeds)
    outputs = [g for g in grads if g is not None]
    out_targets = [k for k, g in enumerate(grads) if g is not None]
    fwd = {n.id: pos for pos, n in enumerate(order)}
    reached = Graph(outputs, inputs=list(order) + seeds).nodes
    needed = _sources([n for n in reached if n.id in fwd], fwd)
    graph = _detached(outputs, seeds, [order[p] for p in needed])
    plan = _Plan(graph, needed, out_targets, len(seeds), backend)
    if lean and outputs and LeanRunner.fits(graph):
        # value-preserving clean-up only (the gradient rules repeat subexpressions)
        plan.runner = LeanRunner(dce(cse(graph)))
    return plan


def _check_version(node: TapeNode) -> None:
    if node.version != node.vc.version:
        what = "the leaf tensor" if not node.inputs else f"the output of {op_label(node)}"
        raise RuntimeError(
            f"one of the values needed for gradient computation has been modified by an in-place operation: "
            f"{what}, of type {node.type}, is at version {node.vc.version} (last changed by "
            f"`{node.vc.last_op}`); expected version {node.version}. Avoid the in-place op, or clone() the "
            f"value before modifying it.")


_ONES: dict[tuple, np.ndarray] = {}


def _ones(shape: tuple, dtype: np.dtype) -> np.ndarray:
    """A read-only array of ones, shared between backward passes (seeds are only read)."""
    a = _ONES.get((shape, dtype))
    if a is None:
        if len(_ONES) > 256:
            _ONES.clear()
        a = _ONES[(shape, dtype)] = np.ones(shape, dtype)
        a.flags.writeable = False
    return a


def _seed_tensor(root: Tensor, gradient: Any) -> Tensor:
    if gradient is None:
        if root._data.size != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs (got an output of shape "
                               f"{tuple(root.shape)}); pass gradient= with the output's shape")
        ones = _ones(root._data.shape, root._dtype.np)
        if root._device is not None:
            from graphflow.eager.devices import upload

            ones = upload(ones, root._device)
        return _new(ones, root._dtype, root._device)
    if not isinstance(gradient, Tensor):
        gradient = HANDLER.constant(np.asarray(gradient, dtype=root._dtype.np))
    if tuple(gradient.shape) != tuple(root.shape):
        raise RuntimeError(f"mismatch in shape: grad_output has shape {tuple(gradient.shape)} and output has "
                           f"shape {tuple(root.shape)}")
    if gradient._dtype is not root._dtype:
        from graphflow.ops.values import cast

        gradient = cast(gradient, root._dtype)
    return gradient


def run(roots: Sequence[Tensor], gradients: Sequence[Any], targets: Sequence[Tensor] | None,
        retain_graph: bool, create_graph: bool, hops: list | None = None,
        visited: list | None = None) -> tuple[list[Tensor | None], list[TapeNode]]:
    """Gradients of the roots (seeded by `gradients`) with respect to `targets` (None: every leaf
    requiring grad, and every tensor that called `retain_grad()`). Returns the gradients and, when
    targets is None, the tape nodes they belong to. The gradients reaching device copies
    (`transfer.Hop`) are appended to `hops` as (hop, gradient); `visited` collects the tape."""
    root_nodes = []
    for k, r in enumerate(roots):
        if not r._rg:
            raise RuntimeError(f"element {k} of tensors does not require grad and does not have a grad_fn")
        if r._node is None or r._alias.__class__ is View:  # a leaf no op has used yet; a view
            _node_of(r)  # (whose base may have changed since its node was recorded)
        root_nodes.append(r._node)
    seeds = [_seed_tensor(r, g) for r, g in zip(roots, gradients)]
    order, index, rows = _walk(root_nodes)
    if visited is not None:
        visited.append(order)
    if targets is None:
        target_pos = [p for p, n in enumerate(order) if n.leaf is not None and n.rg and n.op is not COPY_OP]
    else:
        target_pos = [index.get(t._node.id, -1) if t._node is not None else -1 for t in targets]
    used = [p for p in target_pos if p >= 0]
    n_used = len(used)
    hop_pos = [p for p, n in enumerate(order) if n.op is COPY_OP] if hops is not None else []
    used += [p for p in hop_pos if p not in used]
    root_pos = [index[n.id] for n in root_nodes]
    dev = roots[0]._device
    backend = (RUNTIME.backend or cpu_backend()) if dev is None else device_backend(dev)
    key = (rows, tuple(root_pos), tuple(used), id(backend), create_graph)
    plan = _CACHE.get(key)
    if plan is None:
        plan = _plan(order, root_pos, used, backend, lean=dev is None and not create_graph)
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = plan
    for p in plan.needed:
        n = order[p]
        if n.version != n.vc.version:
            _check_version(n)
    results: list[Tensor | None] = [None] * len(used)
    if plan.out_targets:
        if create_graph:
            outs = _replay(plan, order, seeds, dev)
        else:
            arrays = [s._data for s in seeds] + [order[p].value for p in plan.needed]
            raw = plan.run(arrays)
            own = _same if dev is not None or plan.private_outputs() else _own
            outs = [_new(own(a), order[used[k]].type.dtype, dev) for a, k in zip(raw, plan.out_targets)]
        for g, k in zip(outs, plan.out_targets):
            results[k] = g
    if hop_pos:
        at = {p: results[k] for k, p in enumerate(used)}
        hops.extend((order[p].leaf, at[p]) for p in hop_pos if at[p] is not None)
        results = results[:n_used]
        used = used[:n_used]
    if not retain_graph:
        for n in order:
            if n.inputs:
                _set(n, "value", None)
    if targets is None:
        return results, [order[p] for p in used]
    # back to one entry per requested target (-1: not in the graph)
    it = iter(results)
    return [next(it) if p >= 0 else None for p in target_pos], [order[p] for p in used]


def _same(a: Any) -> Any:
    return a


def _own(a: np.ndarray) -> np.ndarray:
    """A gradient buffer the caller may keep and update in place."""
    return a if (a.flags.writeable and a.flags.owndata and a.flags.c_contiguous) else np.array(a, copy=True)


def _replay(plan: _Plan, order: list[TapeNode], seeds: list[Tensor], dev: Any = None) -> list[Tensor]:
    """Evaluate the gradient graph through the eager handler so every op is recorded."""
    graph = plan.graph
    env: dict[int, Any] = {}
    for node, s in zip(graph.inputs[:plan.n_seeds], seeds):
        env[node.id] = s
    # the cached graph may come from an earlier tape of the same structure: match by position
    for cached, p in zip(graph.inputs[plan.n_seeds:], plan.needed):
        n = order[p]
        t = _new(n.value, n.type.dtype, dev)  # every value of one pass lives on its device
        t._vc = n.vc
        t._rg = n.rg
        t._node = n
        env[cached.id] = t
    prev = GRAD.enabled
    GRAD.enabled = True
    try:
        for n in graph.nodes:
            if n.id in env:
                continue
            env[n.id] = apply(n.op, tuple(env[i.id] for i in n.inputs), n.attrs)
    finally:
        GRAD.enabled = prev
    return [env[o.id] for o in graph.outputs]


def backward(tensors: Sequence[Tensor], grad_tensors: Sequence[Any], retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Sequence[Tensor] | None = None) -> None:
    """Accumulate gradients of `tensors` into the `.grad` of the leaves (or of `inputs`)."""
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for t, g in _run_devices(tensors, grad_tensors, inputs, retain_graph, create_graph):
        if inputs is not None:
            t = inputs[t]
        if t is not None and g is not None:
            _accumulate(t, g, create_graph)


def _run_devices(roots: Sequence[Tensor], seeds: Sequence[Any], targets: list[Tensor] | None,
                 retain_graph: bool, create_graph: bool) -> list[tuple[Any, Tensor | None]]:
    """`run` over each device's part of the tape: (position in targets, or the leaf when targets
    is None; gradient) pairs, a target appearing once per part its gradient comes from. A gradient reaching a device copy moves to
    the source's device and goes on from the source's node there (one pass per device while
    gradients remain); values are freed only after the last pass, which may revisit nodes."""
    hops: list = []
    visited: list = []
    grads, leaves = run(roots, seeds, targets, True, create_graph, hops, visited)
    pairs = list(enumerate(grads)) if targets is not None else [(n.leaf(), g) for n, g in zip(leaves, grads)]
    while hops:
        groups: dict[Any, dict[int, list]] = {}  # device -> source node id -> [node, gradient]
        for hop, g in hops:
            kept = hop.retained() if hop.retained is not None else None
            if kept is not None:
                pairs.append((kept, g))
            g = _move_gradient(g, hop.device, create_graph)
            entry = groups.setdefault(str(hop.device), {}).get(hop.src.id)
            if entry is None:
                groups[str(hop.device)][hop.src.id] = [hop.src, g, hop.device]
            else:
                entry[1] = _sum(entry[1], g, create_graph)
        hops = []
        for group in groups.values():
            nodes = list(group.values())
            part_roots = [_stand_in(n, dev) for n, _, dev in nodes]
            grads, leaves = run(part_roots, [g for _, g, _ in nodes], targets, True, create_graph, hops, visited)
            pairs += list(enumerate(grads)) if targets is not None else \
                [(n.leaf(), g) for n, g in zip(leaves, grads)]
    if not retain_graph:
        for order in visited:
            for n in order:
                if n.inputs:
                    _set(n, "value", None)
    return pairs


def _stand_in(node: TapeNode, dev: Any) -> Tensor:
    """A tensor whose history is `node` (the root of a later pass)."""
    t = _new(node.value, node.type.dtype, dev)
    t._node = node
    t._rg = True
    t._vc = node.vc
    return t


def _move_gradient(g: Tensor, dev: Any, create_graph: bool) -> Tensor:
    """The copy's gradient (the identity) on the source's device; recorded with create_graph."""
    from graphflow.eager.device import CPU
    from graphflow.eager.tensor import _move

    prev = GRAD.enabled
    GRAD.enabled = create_graph
    try:
        return _move(g, dev or CPU) if (g._device or None) != (dev or None) else g
    finally:
        GRAD.enabled = prev


def _sum(a: Tensor, b: Tensor, create_graph: bool) -> Tensor:
    prev = GRAD.enabled
    GRAD.enabled = create_graph
    try:
        return a + b
    finally:
        GRAD.enabled = prev


def _accumulate(t: Tensor, g: Tensor, create_graph: bool) -> None:
    if t.grad is None:
        if not create_graph:
            g._rg, g._node = False, None
        g._device = t._device
        t.grad = g
    elif create_graph or t.grad._rg or t.grad._device is not None:
        prev = GRAD.enabled
        GRAD.enabled = create_graph
        try:
            t.grad = t.grad + g
        finally:
            GRAD.enabled = prev
    else:
        cur = t.grad._data
        if cur.flags.writeable:
            np.add(cur, g._data, out=cur)
            t.grad._vc_().bump("accumulate")
        else:
            t.grad = _new(cur + g._data, t.grad._dtype, t.grad._device)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple[Tensor | None, ...]:
    """Gradients of `outputs` with respect to `inputs`, returned (not accumulated into `.grad`)."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for k, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"grad: inputs[{k}] is a {type(x).__name__}, expected a Tensor")
        if not x._rg:
            raise RuntimeError(f"grad: inputs[{k}] does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    grads: list[Tensor | None] = [None] * len(inputs)
    for k, g in _run_devices(outputs, grad_outputs, inputs, retain_graph, create_graph):
        if g is not None:
            grads[k] = g if grads[k] is None else _sum(grads[k], g, create_graph)
    for k, g in enumerate(grads):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: inputs[{k}] was not used to compute the outputs (pass allow_unused=True "
                               "to get None for it)")
        if g is not None and not create_graph:
            g._rg, g._node = False, None
    return tuple(grads)
