"""`.minimize(loss)` for static symbolic losses.

The loss's graph holds one Variable per module parameter (created when the module was called on
symbolic tensors, see `graphflow.nn.symbolic`). `minimize` builds, for each parameter of the
optimizer that the loss depends on, the optimizer's own update rule on symbolic values: the
gradient comes from `graphflow.static.gradients`, the optimizer state lives in non-trainable
variables initialised by the optimizer's state spec, and every new value is assigned. The op
returned runs all assignments, after the graph's UPDATE_OPS (batch-norm statistics).

SGD's momentum buffer starts at zero in graphs, which equals PyTorch's first step when
dampening is 0 (TF's MomentumOptimizer semantics otherwise)."""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

from graphflow.nn.symbolic import UPDATE_OPS, variable_for

__all__ = ["minimize"]

# optimizer -> {(id(graph), id(param)): {state name: Variable}}
_STATE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _static():
    import graphflow.static as static

    return static


def _state_variables(opt: Any, graph: Any, group: dict, p: Any, var: Any) -> dict[str, Any]:
    from graphflow.static.variables import Variable

    table = _STATE.setdefault(opt, {})
    key = (id(graph), id(p))
    state = table.setdefault(key, {})
    for name, initial in opt._state_spec(group, var, lazy=False).items():
        if name not in state:
            state[name] = Variable(initial, trainable=False, name=f"{var.op_name}/{type(opt).__name__}/{name}",
                                   graph=graph)
    return state


def minimize(opt: Any, loss: Any, var_list: Any = None, global_step: Any = None, name: str | None = None) -> Any:
    static = _static()
    graph = getattr(loss, "graph", None)
    if graph is None or not hasattr(loss, "node"):
        raise TypeError(f"{type(opt).__name__}.minimize: expects a static symbolic loss, got {type(loss).__name__}; "
                        "in eager mode call loss.backward() and optimizer.step()")
    wanted = None if var_list is None else {id(v) for v in var_list}
    triples = []
    for group in opt.param_groups:
        for p in group["params"]:
            var = variable_for(graph, p)
            if var is None or (wanted is not None and id(var) not in wanted and id(p) not in wanted):
                continue
            triples.append((group, p, var))
    if not triples:
        raise ValueError(f"{type(opt).__name__}.minimize: none of the optimizer's parameters is used by the loss "
                         "(call the module on the graph's placeholders first)")
    grads = static.gradients(loss, [v for _, _, v in triples])
    updates = list(graph.get_collection(UPDATE_OPS))
    # state variables first: their initialisers must not depend on the update ops below
    states = [_state_variables(opt, graph, group, p, var) for group, p, var in triples]
    with graph.control_dependencies(updates) if updates else contextlib.nullcontext():
        assigns = []
        for (group, _p, var), grad, state in zip(triples, grads, states):
            if grad is None:
                continue
            read = {k: v.value() for k, v in state.items()}
            new = opt._update(group, var.value(), grad, read)
            assigns.append(var.assign(new.pop("param")))
            for key, value in new.items():
                if value is not None and key in state:
                    assigns.append(state[key].assign(value))
        if global_step is not None:
            assigns.append(global_step.assign_add(1))
    return static.group(*assigns, *updates, name=name or "minimize")

