"""Tracing eager-style Python into a static graph (the machinery behind `gf.compile`).

While a function is traced, every op goes to the `TraceHandler` (it is pushed on
`graphflow.ir.bind.DYNAMIC`, so even ops on eager tensors only are recorded, not run once at
trace time). The function's tensor arguments become graph inputs; eager tensors it reaches
(module parameters, optimizer state, closures) become state: read at the start of each call,
and, when the function writes them in place (`p.sub_(...)`, `buf.mul_(...)`, `copy_`), written
back into the same buffers after each call. `loss.backward()` builds symbolic gradients and
stores them in `.grad` as tracers; after the trace each `.grad` that changed is an output that
every call sets again."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphflow.errors import GraphflowError
from graphflow.ir import builder as B
from graphflow.ir import source
from graphflow.ir.bind import DYNAMIC, make_node
from graphflow.ir.dtypes import DType, int64
from graphflow.ir.graph import Node
from graphflow.ir.registry import OpDef, get_op
from graphflow.ir.shapes import fmt
from graphflow.ops import elementwise as E
from graphflow.ops.indexing import place, setitem
from graphflow.ops.methods import TensorMethods
from graphflow.ops.pointwise import INPLACE as POINTWISE_INPLACE
from graphflow.ops.scattering import INPLACE as SCATTER_INPLACE
from graphflow.ops.triangular import INPLACE as TRIANGULAR_INPLACE
from graphflow.ops.values import cast
from graphflow.static.stable_grad import stable_grad

_ids = itertools.count()


class TraceError(GraphflowError, RuntimeError):
    """Python code that cannot be traced into a graph (control flow on tensor values, ...)."""


def _untraceable(what: str) -> TraceError:
    loc = source.capture()
    where = f" at {loc}" if loc else ""
    return TraceError(f"gf.compile cannot trace {what}{where}: the traced function's Python control flow depends "
                      "on a tensor's value, which is unknown while tracing. Compute both branches and choose with "
                      "gf.where(), move the decision out of the compiled function, or run it eagerly")


class Tracer(TensorMethods):
    """A symbolic stand-in for an eager tensor while a function is traced."""

    __slots__ = ("_node", "trace", "grad", "_rg", "_view")

    def __init__(self, node: Node, trace: Trace, requires_grad: bool = False):
        self._node = node
        self.trace = trace
        self.grad = None
        self._rg = requires_grad
        self._view: TracedView | None = None

    @property
    def node(self) -> Node:
        """The traced value; a view re-derives it from its base when the base was written since."""
        view = self._view
        if view is not None:
            current = view.base_node(self.trace)
            if current is not view.seen:
                self._node = view.derive(current)
                view.seen = current
        return self._node

    @node.setter
    def node(self, node: Node) -> None:
        self._node = node

    @property
    def _gf_handler(self) -> TraceHandler:
        return self.trace.handler

    @property
    def shape(self) -> tuple:
        return self.node.shape

    @property
    def dtype(self) -> DType:
        return self.node.dtype

    @property
    def device(self) -> Any:
        return self.trace.device

    @property
    def requires_grad(self) -> bool:
        return self._rg

    def requires_grad_(self, flag: bool = True) -> Tracer:
        self._rg = flag
        if flag:
            self.trace.add_leaf(self)
        return self

    # ---- value-dependent Python: cannot be traced -----------------------------------------
    def __bool__(self) -> bool:
        raise _untraceable("bool() of a tensor (an `if` or `while` on a tensor)")

    def item(self) -> Any:
        raise _untraceable("tensor.item()")

    def tolist(self) -> Any:
        raise _untraceable("tensor.tolist()")

    def numpy(self, force: bool = False) -> Any:
        raise _untraceable("tensor.numpy()")

    def __float__(self) -> float:
        raise _untraceable("float() of a tensor")

    def __int__(self) -> int:
        raise _untraceable("int() of a tensor")

    def __index__(self) -> int:
        raise _untraceable("a tensor used as a Python index or size")

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise _untraceable("a tensor converted to a NumPy array")

    def __repr__(self) -> str:
        return f"<traced tensor shape={fmt(tuple(self.shape))} dtype={self.dtype.name}>"

    # ---- autograd on the trace -------------------------------------------------------------
    def detach(self) -> Tracer:
        """The same value as a new node that gradients do not flow back through."""
        node = make_node(get_op("reshape"), (self.node,), {"shape": tuple(self.shape)}, loc=source.capture())
        self.trace.stops.append(node)
        return Tracer(node, self.trace)

    def backward(self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        self.trace.backward(self, gradient)

    # ---- in-place ops rebind the tracer to the new value -----------------------------------
    def _set(self, result: Any) -> Tracer:
        node = self.trace.handler.to_node(result)
        if tuple(node.shape) != tuple(self.shape):
            node = self.trace.handler.to_node(B.full(self.shape, 0, self.dtype, like=self) + Tracer(node, self.trace))
        if node.dtype is not self.dtype:
            node = self.trace.handler.to_node(cast(Tracer(node, self.trace), self.dtype))
        if self._view is not None:  # a view: the write reaches its base, as in eager mode
            self._view.write(self.trace, node)
        self._node = node
        return self

    def add_(self, other: Any, alpha: Any = 1) -> Tracer:
        return self._set(E.add(self, other, alpha=alpha))

    def sub_(self, other: Any, alpha: Any = 1) -> Tracer:
        return self._set(E.sub(self, other, alpha=alpha))

    def mul_(self, other: Any) -> Tracer:
        return self._set(E.mul(self, other))

    def div_(self, other: Any) -> Tracer:
        return self._set(E.div(self, other))

    def zero_(self) -> Tracer:
        return self._set(B.zeros_like(self))

    def fill_(self, value: Any) -> Tracer:
        return self._set(B.full_like(self, value))

    def copy_(self, src: Any, non_blocking: bool = False) -> Tracer:
        return self._set(src)

    def clamp_(self, min: Any = None, max: Any = None) -> Tracer:  # noqa: A002
        return self._set(E.clamp(self, min, max))

    def relu_(self) -> Tracer:
        return self._set(E.relu(self))

    def bernoulli_(self, p: Any = 0.5, *, generator: Any = None) -> Tracer:
        from graphflow.ops.sampling import bernoulli

        return self._set(bernoulli(self, p, generator=generator))

    def __setitem__(self, key: Any, value: Any) -> None:
        """self[key] = value: the traced value becomes the copy with the selection replaced (ints,
        slices, masks known now, index tensors; of repeated positions the last write wins, as
        in eager mode)."""
        self._set(setitem(self, key, value, op="__setitem__"))

    def __iadd__(self, other: Any) -> Tracer:
        return self.add_(other)

    def __isub__(self, other: Any) -> Tracer:
        return self.sub_(other)

    def __imul__(self, other: Any) -> Tracer:
        return self.mul_(other)

    def __itruediv__(self, other: Any) -> Tracer:
        return self.div_(other)

    def clone(self) -> Tracer:
        return Tracer(self.node, self.trace, self._rg)

    def contiguous(self) -> Tracer:
        return self

    def to(self, *args: Any, **kwargs: Any) -> Tracer:
        for a in (*args, kwargs.get("dtype")):
            if isinstance(a, DType):
                return cast(self, a)
        return self


def _traced_inplace(name: str, fn: Any) -> Any:
    def method(self: Tracer, *args: Any, **kwargs: Any) -> Tracer:
        return self._set(fn(self, *args, **kwargs))

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In place: self = {fn.__name__}(self, *args, **kwargs), as torch.Tensor.{name}."
    return method


for _name, _fn in {**SCATTER_INPLACE, **POINTWISE_INPLACE, **TRIANGULAR_INPLACE}.items():
    setattr(Tracer, _name, _traced_inplace(_name, _fn))


@dataclass
class Slot:
    """One eager buffer the traced function reaches: read as a graph input, maybe written."""

    tensor: Any  # an eager tensor owning the buffer
    array: np.ndarray
    input: Node
    current: Node
    written: bool = False


@dataclass
class Trace:
    """What one trace collects."""

    device: Any = None
    handler: TraceHandler = None  # type: ignore[assignment]
    inputs: list[Node] = field(default_factory=list)
    slots: dict[int, Slot] = field(default_factory=dict)  # id(buffer) -> slot
    grad_owners: dict[int, Any] = field(default_factory=dict)  # id(tensor) -> eager tensor whose .grad changed
    grads_before: dict[int, Any] = field(default_factory=dict)
    seed: Node | None = None
    random_ops: int = 0
    leaves: list[tuple[Tracer, Node]] = field(default_factory=list)  # tracers requiring grad, their leaf node
    stops: list[Node] = field(default_factory=list)  # detach() results: gradients stop there
    aliases: dict[int, Any] = field(default_factory=dict)  # id(argument tracer) -> the eager tensor passed
    entry_grads: dict[int, Any] = field(default_factory=dict)  # id(eager argument) -> its .grad on entry

    def __post_init__(self) -> None:
        self.handler = TraceHandler(self)

    # ---- state -----------------------------------------------------------------------------
    def slot(self, t: Any) -> Slot:
        arr = t._data
        s = self.slots.get(id(arr))
        if s is None:
            k = len(self.slots)
            node = make_node(get_op("input"), (), {"name": f"state{k}", "dtype": t.dtype, "shape": tuple(arr.shape)},
                             name=f"state{k}")
            s = Slot(t, arr, node, node)
            self.slots[id(arr)] = s
        elif t.requires_grad and not s.tensor.requires_grad:
            s.tensor = t
        return s

    def read(self, t: Any) -> Node:
        return self.slot(t).current

    def write_eager(self, target: Any, name: str, value: Any, broadcast: bool = False) -> Any:
        """An in-place op on an eager tensor during the trace: its buffer gets `value`."""
        s = self.slot(target)
        h = self.handler
        node = h.to_node(value) if not isinstance(value, (int, float, bool)) else \
            h.to_node(B.full(tuple(s.array.shape), value, target.dtype, like=h.wrap(s.current)))
        if tuple(node.shape) != tuple(s.array.shape):
            if not broadcast:
                raise TraceError(f"{name}: the result of shape {fmt(tuple(node.shape))} does not match the tensor's "
                                 f"shape {fmt(tuple(s.array.shape))}")
            node = h.to_node(E.add(B.zeros_like(h.wrap(s.current)), h.wrap(node)))
        if node.dtype is not target.dtype:
            node = h.to_node(cast(h.wrap(node), target.dtype))
        s.current = node
        s.written = True
        return target

    # ---- gradients -------------------------------------------------------------------------
    def add_leaf(self, t: Tracer) -> None:
        """`t` (an argument requiring grad, or `x.detach().requires_grad_()`) gets a `.grad`."""
        if all(t is not other for other, _ in self.leaves):
            self.leaves.append((t, t.node))

    def alias(self, t: Tracer, x: Any) -> None:
        """`t` stands for the eager argument `x`: code that reads `x.grad` (a tensor captured by the
        function and also passed to it) sees what backward gives `t`, as in eager mode."""
        self.aliases[id(t)] = x
        self.entry_grads[id(x)] = x.grad

    def restore_aliases(self) -> None:
        """Give the eager arguments back the .grad they had before the trace."""
        for x in self.aliases.values():
            x.grad = self.entry_grads[id(x)]

    def backward(self, y: Tracer, gradient: Any = None) -> None:
        if gradient is None and y.node.shape != ():
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs, got shape "
                               f"{fmt(tuple(y.shape))}")
        seeds = None if gradient is None else [self.handler.to_node(cast(gradient, y.dtype))]
        params = [s for s in self.slots.values() if getattr(s.tensor, "requires_grad", False)]
        xs = [s.input for s in params] + [node for _, node in self.leaves]
        DYNAMIC.append(_PLAIN)  # autodiff builds plain nodes
        try:
            grads = stable_grad([y.node], xs, seeds, self.stops)
        finally:
            DYNAMIC.pop()
        if all(g is None for g in grads):  # as eager mode: y does not depend on anything requiring grad
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn"
                               + (f" (backward() at {source.capture()})" if source.capture() else ""))
        for (t, _), g in zip(self.leaves, grads[len(params):]):
            if g is None:
                continue
            x = self.aliases.get(id(t))
            base = t.grad
            if x is not None and not (x.grad is not None and not isinstance(x.grad, Tracer)):
                base = x.grad  # the function reset or replaced the argument's .grad itself
            t.grad = Tracer(g, self) if base is None else \
                Tracer(self.handler.to_node(E.add(base, Tracer(g, self))), self)
            if x is not None:
                x.grad = t.grad  # restored by `restore_aliases`; each call sets it from the results
        for s, g in zip(params, grads):
            if g is None:
                continue
            t = s.tensor
            if id(t) not in self.grad_owners:
                self.grad_owners[id(t)] = t
                self.grads_before[id(t)] = t.grad
            old = t.grad
            if old is None:
                t.grad = Tracer(g, self)
            else:
                t.grad = Tracer(self.handler.to_node(E.add(old if isinstance(old, Tracer) else self.handler.wrap(
                    self.read(old)), Tracer(g, self))), self)


class _PlainBuilder:
    """While autodiff runs inside a trace, nodes are plain graph nodes."""

    level = 0

    def bind(self, op: OpDef, inputs: tuple, attrs: dict) -> Node:
        return make_node(op, inputs, attrs)

    def constant(self, array: Any) -> Node:
        from graphflow.ir.bind import GRAPH_BUILDER

        return GRAPH_BUILDER.constant(array)


_PLAIN = _PlainBuilder()


VIEW_OPS = frozenset(get_op(n) for n in ("slice", "reshape", "permute"))


@dataclass
class TracedView:
    """How a traced view reads its base (a tracer that is no view, or an eager tensor the function
    reached): the chain of view ops from it, and the base's value it was last derived from. An
    in-place op on the view writes the base (`write`), and every view of that base re-derives its
    value on next use, as views share storage in eager mode. `layout` is a stand-in array with
    the view's strides over a one-byte buffer (never read), which tells, as NumPy does, whether a
    further reshape is a view or a copy."""

    base: Any
    chain: tuple
    layout: np.ndarray
    seen: Node

    def base_node(self, trace: Trace) -> Node:
        return self.base._node if isinstance(self.base, Tracer) else trace.read(self.base)

    def derive(self, node: Node) -> Node:
        for op, attrs in self.chain:
            node = make_node(op, (node,), attrs, loc=source.capture())
        return node

    def write(self, trace: Trace, value: Node) -> None:
        """The base with this view's elements replaced by `value` (of the view's shape and dtype)."""
        h = trace.handler
        current = self.base_node(trace)
        shape = tuple(current.shape)
        n = int(np.prod(shape, dtype=np.int64))
        iota = h.to_node(B.positions(n, h.wrap(current)))
        where = self.derive(make_node(get_op("reshape"), (iota,), {"shape": shape}))  # base positions in view
        m = int(np.prod(tuple(value.shape), dtype=np.int64))
        flat = h.wrap(make_node(get_op("reshape"), (current,), {"shape": (n,)}))
        at = h.wrap(make_node(get_op("reshape"), (where,), {"shape": (m,)}))
        new = h.wrap(make_node(get_op("reshape"), (value,), {"shape": (m,)}))
        written = h.to_node(place(flat, at, new, 0))
        written = make_node(get_op("reshape"), (written,), {"shape": shape})
        if isinstance(self.base, Tracer):
            self.base._set(written)
        else:
            trace.write_eager(self.base, "an in-place op on a view", written)
        self.seen = self.base_node(trace)


def _layout_of(layout: np.ndarray, op: OpDef, attrs: Any) -> np.ndarray | None:
    """The stand-in array after one view op, or None where NumPy would copy (a reshape of a
    non-contiguous view): the result is then no view."""
    if op.name == "slice":
        return op.reference([layout], attrs)
    if op.name == "permute":
        return layout.transpose(tuple(attrs["perm"]))
    try:
        return np.reshape(layout, tuple(attrs["shape"]), copy=False)
    except ValueError:  # a copy would be needed
        return None
    except TypeError:  # NumPy < 2.1 has no copy=: assigning the shape never copies
        out = layout.view()
        try:
            out.shape = tuple(attrs["shape"])
        except AttributeError:
            return None
        return out


def _stand_in(shape: tuple) -> np.ndarray:
    """An int8 array of `shape` with C strides over a single byte: its views' strides are real,
    its elements must never be read."""
    strides = [1] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        strides[k] = strides[k + 1] * max(shape[k + 1], 1)
    return np.lib.stride_tricks.as_strided(np.zeros(1, np.int8), shape=shape, strides=strides, writeable=False)


class TraceHandler:
    """Level 3: tracers outrank static tensors, eager tensors and nodes."""

    level = 3

    def __init__(self, trace: Trace):
        self.trace = trace

    def to_node(self, x: Any) -> Node:
        if isinstance(x, Tracer):
            if x.trace is not self.trace:
                raise TraceError("a tensor traced by another gf.compile call was used here (tracers cannot escape "
                                 "the function that created them)")
            return x.node
        if isinstance(x, Node):
            return x
        if _is_eager(x):
            return self.trace.read(x)
        if hasattr(x, "_gf_handler"):
            raise TraceError(f"a {type(x).__name__} cannot be used inside a compiled function")
        return self.constant(np.asarray(x)).node

    def wrap(self, node: Node) -> Tracer:
        return Tracer(node, self.trace)

    def bind(self, op: OpDef, inputs: tuple, attrs: dict) -> Tracer:
        nodes = tuple(self.to_node(x) for x in inputs)
        out = Tracer(make_node(op, nodes, attrs, loc=source.capture()), self.trace)
        if op in VIEW_OPS:
            self._tag_view(out, inputs[0], nodes[0])
        return out

    def _tag_view(self, out: Tracer, src: Any, src_node: Node) -> None:
        """Make `out` a view of src's base when eager mode would (slices, permutes, reshapes that
        need no copy), so in-place ops through either reach the other."""
        if isinstance(src, Tracer):
            view = src._view
            base, chain, layout = (src, (), _stand_in(tuple(src_node.shape))) if view is None else (
                view.base, view.chain, view.layout)
        elif _is_eager(src):
            base, chain, layout = src, (), _stand_in(tuple(src_node.shape))
        else:
            return
        node = out._node
        layout = _layout_of(layout, node.op, node.attrs)
        if layout is not None:
            view = TracedView(base, chain + ((node.op, node.attrs),), layout, None)  # type: ignore[arg-type]
            view.seen = view.base_node(self.trace)
            out._view = view

    def constant(self, array: Any) -> Tracer:
        from graphflow.ir.ops.source import ConstValue

        return Tracer(make_node(get_op("constant"), (), {"value": ConstValue(np.asarray(array))}), self.trace)

    def random_key(self, seed: int | None = None) -> Tracer:
        """The call's seed input plus a salt per random op: fresh numbers on every call."""
        t = self.trace
        if t.seed is None:
            t.seed = make_node(get_op("input"), (), {"name": "random_seed", "dtype": int64, "shape": ()},
                               name="random_seed")
        t.random_ops += 1
        salt = (seed if seed is not None else t.random_ops) << 32
        return self.bind(get_op("add"), (t.seed, self.constant(np.asarray(salt, dtype=np.int64))), {})

    def write_eager(self, target: Any, name: str, value: Any, broadcast: bool = False) -> Any:
        return self.trace.write_eager(target, name, value, broadcast)

    def assign_state(self, target: Any, value: Any) -> None:
        """An optimizer writing a parameter or its state (graphflow.optim's `write`)."""
        self.trace.write_eager(target, "optimizer update", value, broadcast=True)


def _is_eager(x: Any) -> bool:
    h = getattr(x, "_gf_handler", None)
    return h is not None and getattr(h, "level", None) == 1 and hasattr(x, "_data")
