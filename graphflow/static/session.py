"""`Session`: runs parts of a static graph.

Each distinct (fetches, fed tensors) pair is lowered once to a pure graph (see `lowering`), and
each distinct set of fed shapes and dtypes compiles once; later runs only gather the inputs,
call the executable and write the assigned variables back."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from graphflow.errors import DTypeError, GraphError
from graphflow.ir.graph import Node
from graphflow.ir.ops.source import VarRef
from graphflow.ir.registry import get_op
from graphflow.ir.shapes import fmt, is_concrete
from graphflow.static.executor import compile_for, cpu_backend
from graphflow.static.graph import Graph, get_default_graph
from graphflow.static.lowering import RunPlan, lower, unfed_placeholders
from graphflow.static.tensor import Operation, Tensor, eager_array
from graphflow.static.variables import Variable

_local = threading.local()


def default_session() -> Session:
    stack = getattr(_local, "sessions", [])
    if not stack:
        raise GraphError("no default session: use `with Session() as sess:` or pass session=")
    return stack[-1]


def _at(loc: Any) -> str:
    return f" (created at {loc})" if loc else ""


class _Fetches:
    """Flattens nested fetches (lists, tuples, namedtuples, dicts) and rebuilds the structure."""

    def __init__(self, fetches: Any, leaf: Callable[[Any], Any]):
        self.leaves: list[Any] = []
        self._leaf = leaf
        self._build = self._flatten(fetches)

    def _flatten(self, f: Any) -> Callable[[list[Any]], Any]:
        if isinstance(f, dict):
            keys = list(f)
            parts = [self._flatten(f[k]) for k in keys]
            kind = type(f)
            return lambda vals: kind(zip(keys, (p(vals) for p in parts)))
        if isinstance(f, tuple) and hasattr(f, "_fields"):
            parts = [self._flatten(x) for x in f]
            kind = type(f)
            return lambda vals: kind(*(p(vals) for p in parts))
        if isinstance(f, (list, tuple)):
            parts = [self._flatten(x) for x in f]
            kind = type(f)
            return lambda vals: kind(p(vals) for p in parts)
        index = len(self.leaves)
        self.leaves.append(self._leaf(f))
        return lambda vals: vals[index]

    def rebuild(self, values: list[Any]) -> Any:
        return self._build(values)


class Session:
    """`Session(graph=None)`: runs `graph` (the default graph when None). Holds the values of the
    graph's variables. Use as a context manager, or call `close()`."""

    def __init__(self, graph: Graph | None = None, backend: Any = None):
        self.graph = graph or get_default_graph()
        self.variables: dict[VarRef, np.ndarray] = {}
        self._closed = False
        self._plans: dict[tuple, RunPlan] = {}
        self._executables: dict[tuple, Any] = {}
        self._backend = backend
        self._fetch_reads: dict[VarRef, Node] = {}
        self._runs = 0

    # ---- context manager -------------------------------------------------------------------
    def __enter__(self) -> Session:
        _local.sessions = getattr(_local, "sessions", []) + [self]
        self._graph_ctx = self.graph.as_default()
        self._graph_ctx.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._graph_ctx.__exit__(*exc)
        _local.sessions = _local.sessions[:-1]
        self.close()

    def close(self) -> None:
        """Release the variables' values and compiled code; later runs raise."""
        self._closed = True
        self.variables.clear()
        self._plans.clear()
        self._executables.clear()

    @property
    def closed(self) -> bool:
        return self._closed

    # ---- fetches and feeds -----------------------------------------------------------------
    def _lookup(self, name: str, role: str) -> Any:
        obj = self.graph.get(name)
        if obj is None:
            raise KeyError(f"{role} {name!r} is not in the graph (no tensor or operation of that name)")
        return obj

    def _fetch_target(self, f: Any) -> Any:
        if isinstance(f, str):
            f = self._lookup(f, "fetch")
        if isinstance(f, Tensor):
            self._same_graph(f.graph, f.name, "fetch")
            return f.node
        if isinstance(f, Variable):
            self._same_graph(f.graph, f.name, "fetch")
            node = self._fetch_reads.get(f.ref)
            if node is None:
                from graphflow.ir.bind import make_node

                node = make_node(get_op("variable"), (), {"var": f.ref}, name=f.op_name, loc=f.loc)
                self._fetch_reads[f.ref] = node
            return node
        if isinstance(f, Operation):
            self._same_graph(f.graph, f.name, "fetch")
            return f
        if isinstance(f, Node):
            return f
        raise TypeError(f"cannot fetch a {type(f).__name__}: fetches are tensors, variables, operations, "
                        "their names, or lists/tuples/dicts of them")

    def _same_graph(self, g: Graph, name: str, role: str) -> None:
        if g is not self.graph:
            raise GraphError(f"{role} {name!r} belongs to another graph than this session's")

    def _feed_target(self, key: Any) -> Node:
        k = self._lookup(key, "feed key") if isinstance(key, str) else key
        if isinstance(k, Tensor):
            self._same_graph(k.graph, k.name, "feed key")
            return k.node
        if isinstance(k, Node):
            return k
        if isinstance(k, Variable):
            raise TypeError(f"feed key {k.name!r} is a variable: assign to it instead of feeding it")
        raise TypeError(f"feed key {key!r} is not a tensor of the graph (got a {type(key).__name__})")

    @staticmethod
    def _feed_value(node: Node, value: Any) -> np.ndarray:
        arr = eager_array(value) if hasattr(value, "_gf_handler") else np.asarray(value)
        want = node.dtype.np
        if arr.dtype != want:
            if not np.can_cast(arr.dtype, want, "same_kind"):
                label = node.attrs["name"] if node.op.name == "input" else node.name
                raise DTypeError(f"{node.op.name} {label!r} expects dtype {node.dtype.name} (shape "
                                 f"{fmt(tuple(node.shape))}), was fed dtype {arr.dtype} (shape {fmt(arr.shape)})"
                                 f"{_at(node.loc)}")
            arr = arr.astype(want)
        return arr

    # ---- running ---------------------------------------------------------------------------
    def _prepare(self, fetches: Any, feed_dict: dict | None, shapes_only: bool = False
                 ) -> tuple[_Fetches, tuple, RunPlan, list[np.ndarray]]:
        """The fetches' structure, the run's plan (cached) and its input arrays. `shapes_only`
        (for `explain`): uninitialised variables and unfed placeholders of fully known shape get
        zeros, since only the shapes matter."""
        structure = _Fetches(fetches, self._fetch_target)
        feeds: dict[int, tuple[Node, np.ndarray | None]] = {}
        for key, value in (feed_dict or {}).items():
            node = self._feed_target(key)
            feeds[node.id] = (node, self._feed_value(node, value))
        for node_id, (node, _ref) in self.graph.tensor_feeds.items():
            if node_id not in feeds:  # a module tensor's current value, read only if the run needs it
                feeds[node_id] = (node, None)
        seed = self.graph._seed
        if seed is not None and seed.node.id not in feeds:
            feeds[seed.node.id] = (seed.node, np.asarray(self._runs, dtype=np.int64))
        targets = structure.leaves
        if shapes_only:
            for n in unfed_placeholders(targets, [n for n, _ in feeds.values()], self.graph.control_inputs):
                if is_concrete(n.shape):
                    feeds[n.id] = (n, np.zeros(tuple(n.shape), n.dtype.np))

        plan_key = (tuple((type(t).__name__, t.id) for t in targets), tuple(sorted(feeds)))
        plan = self._plans.get(plan_key)
        if plan is None:
            plan = lower(targets, [n for n, _ in feeds.values()], self.graph.control_inputs)
            self._plans[plan_key] = plan
        arrays = [self._tensor_feed(n) if feeds[n.id][1] is None else feeds[n.id][1] for n in plan.feeds]
        for var in plan.state_in:
            value = self.variables.get(var)
            if value is None:
                if shapes_only:
                    value = np.zeros(var.shape, var.dtype.np)
                else:
                    v = self.graph.var_of_ref.get(var)
                    raise GraphError(f"variable {var.name!r} is read before it was initialised: run its initializer "
                                     f"(e.g. global_variables_initializer()) first{_at(getattr(v, 'loc', None))}")
            arrays.append(value)
        return structure, plan_key, plan, arrays

    def run(self, fetches: Any, feed_dict: dict | None = None) -> Any:
        """Compute `fetches` (nested in lists, tuples, namedtuples, dicts: the result has the same
        structure) with `feed_dict` giving values to placeholders or any other tensor (by tensor or
        by name). Operations fetch as None; tensors as NumPy arrays (0-d ones as NumPy scalars)."""
        if self._closed:
            raise GraphError("this Session is closed: create a new Session to run the graph")
        structure, plan_key, plan, arrays = self._prepare(fetches, feed_dict)
        self._runs += 1
        backend = self._backend or cpu_backend()  # gf.set_backend between runs takes effect
        exe_key = (plan_key, tuple((a.shape, a.dtype.str) for a in arrays[:len(plan.feeds)]), backend.name)
        exe = self._executables.get(exe_key)
        if exe is None:
            exe = compile_for(plan.graph, arrays, backend)
            self._executables[exe_key] = exe
        outputs = exe.run(arrays)

        given = {id(a) for a in arrays}
        held = list(arrays)  # memory the results must not be views of: the fed and stored arrays
        for (var, assign), value in zip(plan.state_out, outputs[plan.n_fetches:]):
            value = np.asarray(value)
            if value.shape != var.shape:
                raise GraphError(f"assign {assign.name!r} writes a value of shape {fmt(value.shape)} into variable "
                                 f"{var.name!r} of shape {fmt(var.shape)}{_at(assign.loc)}")
            # an output is the caller's (the backend contract): the store keeps it without a copy
            # unless it is a fed array or already stored for another variable
            self._store(var, value, owned=id(value) not in given)
            given.add(id(value))  # a fetch of the same array gets a copy, never the store's memory
            held.append(value)
        results = [None if slot is None else _result(outputs[slot], given, held) for slot in plan.fetch_slots]
        return structure.rebuild(results)

    # ---- module tensors: variables that stand for eager parameters and buffers -------------
    def _tensor_feed(self, node: Node) -> np.ndarray:
        tensor = self.graph.tensor_feeds[node.id][1]()
        if tensor is None:
            raise GraphError(f"{node.attrs['name']!r}: the module tensor this variable stands for no longer exists"
                             f"{_at(node.loc)}")
        return np.array(eager_array(tensor), copy=True)

    def _store(self, ref: VarRef, value: np.ndarray, owned: bool = False) -> None:
        """The variable's new value; a module tensor it stands for gets it too (in place).
        `owned`: nobody else holds `value`, so it is kept as it is when its dtype fits."""
        if owned and value.dtype == ref.dtype.np and value.flags.writeable and value.flags.c_contiguous:
            arr = value
        else:
            arr = np.array(value, dtype=ref.dtype.np, copy=True)
        self.variables[ref] = arr
        var = self.graph.var_of_ref.get(ref)
        target = getattr(var, "_gf_module_tensor", None)
        tensor = target() if target is not None else None
        if tensor is not None:
            _write_tensor(tensor, arr)

    # ---- variable store (used by Saver and tests) ----------------------------------------
    def get_value(self, var: Variable) -> np.ndarray:
        return self.variables[var.ref].copy()

    def set_value(self, var: Variable, value: Any) -> None:
        arr = np.asarray(value, dtype=var.dtype.np)
        if arr.shape != var.shape:
            raise ValueError(f"variable {var.op_name!r} has shape {fmt(var.shape)}, got a value of shape "
                             f"{fmt(arr.shape)}")
        self._store(var.ref, arr)


def _write_tensor(tensor: Any, value: np.ndarray) -> None:
    """Copy `value` into eager `tensor` in place (no autograd record; its version is bumped, so a
    tape that saved the old value notices)."""
    from graphflow.eager import from_numpy
    from graphflow.eager.grad_mode import no_grad

    with no_grad():
        tensor.copy_(from_numpy(value))


def _result(value: Any, given: set[int], held: list[np.ndarray]) -> Any:
    """A fetched value, never a view of a fed value or of the variable store. An output that is
    a view (the llvm backend's aligned blocks are) is handed out as it is when it overlaps none of
    `held`: copying a 16 MB result cost as long as computing it."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        return arr[()]
    if id(value) in given or not arr.flags.writeable:
        return arr.copy()
    if arr.flags.owndata or not any(np.may_share_memory(arr, h) for h in held):
        return arr
    return arr.copy()
