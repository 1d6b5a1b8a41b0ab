"""One compiled graph per parameter group for eager `Optimizer.step()`.

Run op by op, an update costs a few eager ops per parameter (SGD: a multiply, a subtract and a
copy back), each with its own dispatch and its own pass over memory. When every parameter of a
group is a plain CPU tensor, the group's update rule (the optimizer's `_update`, i.e. the pure
rules of `graphflow.optim.functional`) is instead traced once into a graph over `input` nodes —
parameters, gradients, state tensors, and the hyper-parameters an optimizer lists in
`_fused_inputs` (fed as 0-d values of the parameter's dtype, so a learning-rate schedule does not
recompile) — compiled by the current CPU backend, and run as one call per step; the results are
copied back into the parameters and state in place (version counters bumped as `copy_` does).

The plan is cached per (optimizer class, hyper-parameters not fed, per-parameter dtype, shape and
state entries, backend); a rule whose trace does not give every state entry a value (a state
created by its first update) runs op by op that step. An optimizer whose hyper-parameters keep
changing stops fusing after `MAX_PLANS` compiles (the op-by-op path needs no compile)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphflow.eager.runtime import RUNTIME, cpu_backend
from graphflow.eager.tensor import Tensor
from graphflow.ir.bind import bind
from graphflow.ir.graph import Graph, Node

MAX_PLANS = 8
_UNFUSABLE = object()


class FusedPlan:
    """A group's update as one executable: input order per parameter is (param, grad, fed
    hyper-parameters..., state entries...); outputs per parameter are the new param and the new
    value of each state entry in `writes`."""

    __slots__ = ("exe", "writes", "n_fed")

    def __init__(self, exe: Any, writes: list[tuple[str, ...]], n_fed: int) -> None:
        self.exe = exe
        self.writes = writes
        self.n_fed = n_fed


def eligible(params: list[Tensor]) -> bool:
    """Plain, contiguous, floating CPU tensors whose gradients match them in dtype and shape."""
    for p in params:
        g = p.grad
        if p.__class__ is not Tensor and not isinstance(p, Tensor):
            return False
        if g.__class__ is not Tensor and not isinstance(g, Tensor):
            return False
        pd, gd = p._data, g._data
        if (p._device is not None or g._device is not None or p._dtype.kind != "f" or g._dtype is not p._dtype
                or pd.shape != gd.shape or not pd.flags.c_contiguous or not pd.flags.writeable):
            return False
    return True


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def plan_key(opt: Any, group: dict[str, Any], params: list[Tensor], backend: Any) -> tuple:
    fed = opt._fused_inputs
    hyper = tuple((k, _hashable(v)) for k, v in group.items() if k != "params" and k not in fed)
    per = []
    for p in params:
        st = opt.state.get(p, {})
        per.append((p._dtype, p._data.shape, tuple((k, v._dtype, v._data.shape) if isinstance(v, Tensor)
                                                   else (k, _hashable(v)) for k, v in st.items())))
    return (type(opt), hyper, tuple(per), id(backend))


def _input(name: str, dtype: Any, shape: tuple) -> Node:
    return bind("input", name=name, dtype=dtype, shape=shape)


def build(opt: Any, group: dict[str, Any], params: list[Tensor], backend: Any) -> FusedPlan | None:
    """Trace the group's update over input nodes and compile it; None when the rule does not fit
    (a new state entry, a state value that is not a tensor, an output that is not a graph node)."""
    fed = opt._fused_inputs
    inputs: list[Node] = []
    outputs: list[Node] = []
    writes: list[tuple[str, ...]] = []
    for i, p in enumerate(params):
        state = opt.state[p]
        pn = _input(f"p{i}", p._dtype, p._data.shape)
        gn = _input(f"g{i}", p._dtype, p._data.shape)
        fed_nodes = {k: _input(f"{k}{i}", p._dtype, ()) for k in fed}
        keys = []
        state_nodes = {}
        for k, v in state.items():
            if not isinstance(v, Tensor) or v._device is not None or not v._data.flags.c_contiguous:
                return None
            state_nodes[k] = _input(f"{k}{i}", v._dtype, v._data.shape)
            keys.append(k)
        view = dict(group)
        view.update(fed_nodes)
        new = opt._update(view, pn, gn, state_nodes)
        new_p = new.pop("param")
        outs = [new_p]
        names = []
        for k, v in new.items():
            if v is None:
                continue
            if k not in state_nodes:
                return None  # a state entry created by this update: the op-by-op path creates it
            outs.append(v)
            names.append(k)
        for o in outs:
            if not isinstance(o, Node):
                return None
        inputs += [pn, gn, *fed_nodes.values(), *(state_nodes[k] for k in keys)]
        outputs += outs
        writes.append(tuple(names))
    return FusedPlan(backend.compile(Graph(outputs, inputs)), writes, len(fed))


def step_group(opt: Any, group: dict[str, Any], params: list[Tensor]) -> bool:
    """Apply the group's update with its fused plan; False when the caller must run it op by op."""
    if opt._fused_compiles > MAX_PLANS:
        return False
    backend = RUNTIME.backend or cpu_backend()
    key = plan_key(opt, group, params, backend)
    cache = opt._fused_plans
    plan = cache.get(key)
    if plan is None:
        opt._fused_compiles += 1
        plan = build(opt, group, params, backend) or _UNFUSABLE
        cache[key] = plan
    if plan is _UNFUSABLE:
        return False
    arrays: list[np.ndarray] = []
    fed = opt._fused_inputs
    for p in params:
        arrays.append(p._data)
        arrays.append(p.grad._data)
        np_dtype = p._dtype.np
        for k in fed:
            arrays.append(np.asarray(group[k], np_dtype))
        for v in opt.state[p].values():
            arrays.append(v._data)
    outs = plan.exe.run(arrays)
    k = 0
    state = opt.state
    for p, names in zip(params, plan.writes):
        _write(p, outs[k])
        k += 1
        st = state[p]
        for name in names:
            _write(st[name], outs[k])
            k += 1
    return True


def _write(t: Tensor, value: np.ndarray) -> None:
    """`t.copy_(value)` under no_grad, without the dispatch (the same buffer rules)."""
    data = t._data
    if not data.flags.writeable or (data.base is not None and not t._alias and t._rg):
        t._data = data = np.array(data, copy=True)
    np.copyto(data, value)
    t._vc_().bump("copy_")
