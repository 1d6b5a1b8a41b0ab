"""Modules called on symbolic values.

When a module is called on static symbolic tensors, its parameters and buffers must become part
of the graph as variables (so a session trains them), not be frozen in as constants. While
`forward` runs, `Module.__getattr__` serves each parameter/buffer name from a table filled here:

- a handler that defines ``module_state(tensor, name, trainable)`` supplies the symbolic value
  itself (a tracer can use this hook to make parameters state of the compiled graph);
- static graphs get one `graphflow.static.Variable` per (graph, tensor), created on first use
  (`graphflow.static.variables.tensor_variable`): its initializer takes the tensor's value when it
  runs, and every `Session.run` that assigns it writes the new value back into the tensor, so the
  module's parameters follow training; `variable_for` finds it again (the optimizers'
  `.minimize(loss)` uses it). `sync_to_module` copies a session's values into the tensors
  explicitly (e.g. after `Saver.restore`).

Writing a buffer (BatchNorm's running statistics) goes through `assign_state`: an in-place copy
for eager tensors, an `assign` op collected under the graph's UPDATE_OPS for variables."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import Any

from graphflow.ir.bind import handler_of

__all__ = ["binder_for", "bound", "variable_for", "assign_state", "sync_to_module", "UPDATE_OPS"]

UPDATE_OPS = "update_ops"

# static graph -> {id(tensor): (tensor, variable)}
_VARIABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _flatten(values: Any) -> Iterator[Any]:
    stack = [values]
    while stack:
        v = stack.pop()
        if isinstance(v, list | tuple):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
        else:
            yield v


def _static_handler_class() -> type | None:
    try:
        from graphflow.static.tensor import StaticHandler
    except ImportError:
        return None
    return StaticHandler


class _StaticBinder:
    def __init__(self, graph: Any) -> None:
        self.graph = graph

    def __call__(self, module: Any, name: str, tensor: Any, trainable: bool) -> Any:
        return variable_for(self.graph, tensor, f"{module._get_name()}/{name}", trainable, create=True)


class _HookBinder:
    def __init__(self, hook: Any) -> None:
        self.hook = hook

    def __call__(self, module: Any, name: str, tensor: Any, trainable: bool) -> Any:
        return self.hook(tensor, name, trainable)


def binder_for(args: tuple, kwargs: dict) -> Any:
    """How to bind a module's state for a call with these arguments (None: use the tensors)."""
    handler = handler_of(*_flatten((args, kwargs)))
    hook = getattr(handler, "module_state", None)
    if hook is not None:
        return _HookBinder(hook)
    cls = _static_handler_class()
    if cls is not None and isinstance(handler, cls):
        return _StaticBinder(handler.graph)
    return None


@contextlib.contextmanager
def bound(module: Any, binder: Any) -> Iterator[None]:
    """Serve `module`'s own parameters and buffers as symbolic values while the block runs."""
    table = {}
    for name, p in module._parameters.items():
        if p is not None:
            table[name] = binder(module, name, p, True)
    for name, b in module._buffers.items():
        if b is not None:
            table[name] = binder(module, name, b, False)
    previous = module.__dict__.get("_symbolic")
    object.__setattr__(module, "_symbolic", table)
    try:
        yield
    finally:
        object.__setattr__(module, "_symbolic", previous)


def variable_for(graph: Any, tensor: Any, name: str = "param", trainable: bool = True, create: bool = False) -> Any:
    """The static Variable standing for eager `tensor` in `graph` (created when `create`)."""
    table = _VARIABLES.setdefault(graph, {})
    entry = table.get(id(tensor))
    if entry is not None and entry[0] is tensor:
        return entry[1]
    if not create:
        return None
    from graphflow.static.variables import tensor_variable

    # initialised from the tensor's value when the initializer runs; runs write trained values back
    var = tensor_variable(tensor, name.replace(".", "_"), trainable=trainable and tensor.requires_grad, graph=graph)
    table[id(tensor)] = (tensor, var)
    return var


def assign_state(module: Any, name: str, value: Any) -> None:
    """Make `value` the new content of buffer `name` of `module` (see the module docstring)."""
    symbolic = module.__dict__.get("_symbolic")
    if symbolic is not None and name in symbolic:
        target = symbolic[name]
        assign = getattr(target, "assign", None)
        if assign is None:
            raise TypeError(f"{module._get_name()}: cannot update buffer {name!r} inside this symbolic call")
        op = assign(value)
        graph = getattr(target, "graph", None)
        if graph is not None and hasattr(graph, "add_to_collection"):
            graph.add_to_collection(UPDATE_OPS, op)
        return
    buffer = module._buffers[name]
    hook = getattr(handler_of(value), "assign_state", None)
    if hook is not None:
        hook(buffer, value)
        return
    from graphflow.eager.grad_mode import no_grad

    with no_grad():
        buffer.copy_(value.detach() if hasattr(value, "detach") else value)


def sync_to_module(session: Any, graph: Any = None) -> int:
    """Copy the values of the variables that stand for module tensors from `session` back into the
    tensors; returns how many were copied."""
    graph = graph if graph is not None else session.graph
    table = _VARIABLES.get(graph, {})
    from graphflow.eager.grad_mode import no_grad
    from graphflow.eager.tensor import Tensor

    count = 0
    for tensor, var in list(table.values()):
        value = session.run(var)
        with no_grad():
            tensor.copy_(Tensor(value))
        count += 1
    return count
