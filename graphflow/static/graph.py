"""The static front end's graph: a registry of the nodes a TF1-style program declares.

The IR itself needs no container (a node knows its inputs); this class keeps what the static API
adds on top: unique names under name scopes, control dependencies, collections, the variables
and placeholders of the program, and the default-graph stack."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from graphflow.ir.graph import Node

if TYPE_CHECKING:
    from graphflow.static.tensor import Operation, StaticHandler, Tensor
    from graphflow.static.variables import Variable

GLOBAL_VARIABLES = "variables"
TRAINABLE_VARIABLES = "trainable_variables"

# TF's display names for the primitives users see most; the rest are CamelCased
_OP_NAMES = {
    "matmul": "MatMul", "add": "Add", "sub": "Sub", "mul": "Mul", "div": "RealDiv", "neg": "Neg",
    "reduce_sum": "Sum", "reduce_max": "Max", "reduce_min": "Min", "reduce_prod": "Prod",
    "input": "Placeholder", "constant": "Const", "variable": "ReadVariableOp", "assign": "Assign",
    "broadcast_to": "BroadcastTo", "reshape": "Reshape", "permute": "Transpose", "cast": "Cast",
    "random_uniform": "RandomUniform", "sym_size": "Size",
}


def display_name(op_name: str) -> str:
    return _OP_NAMES.get(op_name) or "".join(p.capitalize() for p in op_name.split("_"))


_VALID = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\-/]*$")


class Graph:
    """A TF1-style graph: `with g.as_default():` makes ops declared in the block land in `g`."""

    def __init__(self) -> None:
        from graphflow.static.tensor import StaticHandler

        self.handler: StaticHandler = StaticHandler(self)
        self._names: dict[str, int] = {}  # every name used (ops and scopes) -> next suffix
        self._by_name: dict[str, Tensor | Operation | Variable] = {}
        self._scope: list[str] = []
        self._control: list[tuple[Any, ...]] = []  # stack of control_dependencies blocks
        self.control_inputs: dict[int, tuple[Any, ...]] = {}  # node id -> what must run before it
        self._collections: dict[str, list[Any]] = {}
        self.variables: list[Variable] = []
        self.var_reads: dict[Any, list[Node]] = {}  # VarRef -> its read nodes (for gradients)
        self.var_of_ref: dict[Any, Variable] = {}
        # placeholders a session feeds itself: node id -> (node, weakref to the eager tensor whose
        # current value it takes); the initial values of variables that stand for module tensors
        self.tensor_feeds: dict[int, tuple[Node, Any]] = {}
        self._seed: Tensor | None = None
        self._random_ops = 0
        self.version = 0  # bumped on every new node: sessions use it to validate name lookups
        self.finalized = False

    # ---- default graph ---------------------------------------------------------------------
    @contextlib.contextmanager
    def as_default(self) -> Iterator[Graph]:
        _stack().append(self)
        try:
            yield self
        finally:
            _stack().pop()

    # ---- names -----------------------------------------------------------------------------
    def unique_name(self, base: str, mark_used: bool = True) -> str:
        """`scope/base`, suffixed `_1`, `_2`, ... when already taken (as TF's unique_name)."""
        if not base or not _VALID.match(base):
            raise ValueError(f"{base!r} is not a valid op name (letters, digits, '.', '_', '-', '/')")
        full = "/".join(self._scope + [base])
        name = full
        if name in self._names:
            k = self._names[full]
            while f"{full}_{k}" in self._names:
                k += 1
            self._names[full] = k + 1
            name = f"{full}_{k}"
        if mark_used:
            self._names[name] = 1
        return name

    @contextlib.contextmanager
    def name_scope(self, name: str | None) -> Iterator[str]:
        """Names created inside start with `name/`; re-entering a used scope gives `name_1/`."""
        if not name:
            saved, self._scope = self._scope, []
            try:
                yield ""
            finally:
                self._scope = saved
            return
        if name.endswith("/"):  # an absolute scope, as returned by an earlier name_scope
            scope = name.rstrip("/")
            saved, self._scope = self._scope, scope.split("/")
        else:
            scope = self.unique_name(name)
            saved, self._scope = self._scope, scope.split("/")
        try:
            yield scope + "/"
        finally:
            self._scope = saved

    def register(self, name: str, obj: Any) -> None:
        self._by_name[name] = obj
        self.version += 1

    def get(self, name: str) -> Any:
        """The tensor (`"x:0"` or `"x"`), operation or variable called `name`, or None."""
        if name.endswith(":0"):
            name = name[:-2]
        return self._by_name.get(name)

    # ---- control dependencies --------------------------------------------------------------
    @contextlib.contextmanager
    def control_dependencies(self, control_inputs: Any) -> Iterator[None]:
        """Ops created inside run after everything in `control_inputs` (None clears the stack)."""
        if control_inputs is None:
            saved, self._control = self._control, []
            try:
                yield
            finally:
                self._control = saved
            return
        from graphflow.static.tensor import as_control

        deps = tuple(as_control(self, c) for c in control_inputs)
        self._control.append(deps)
        try:
            yield
        finally:
            self._control.pop()

    def current_control_inputs(self) -> tuple[Any, ...]:
        out: list[Any] = []
        seen: set[int] = set()
        for block in self._control:
            for c in block:
                if id(c) not in seen:
                    seen.add(id(c))
                    out.append(c)
        return tuple(out)

    # ---- collections -----------------------------------------------------------------------
    def add_to_collection(self, name: str, value: Any) -> None:
        self._collections.setdefault(name, []).append(value)

    def get_collection(self, name: str) -> list[Any]:
        return list(self._collections.get(name, []))

    def get_operation_by_name(self, name: str) -> Any:
        obj = self.get(name)
        if obj is None:
            raise KeyError(f"no operation named {name!r} in the graph")
        return obj

    def get_tensor_by_name(self, name: str) -> Any:
        return self.get_operation_by_name(name)

    def finalize(self) -> None:
        self.finalized = True


_local = threading.local()
_global_default: list[Graph] = [Graph()]


def _stack() -> list[Graph]:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def get_default_graph() -> Graph:
    """The innermost graph made default with `as_default()`, else the global default graph."""
    stack = _stack()
    return stack[-1] if stack else _global_default[0]


def reset_default_graph() -> None:
    """Replace the global default graph by a new, empty one (not inside an `as_default` block)."""
    if _stack():
        raise RuntimeError("reset_default_graph() cannot be called inside a `with graph.as_default()` block")
    _global_default[0] = Graph()


def name_scope(name: str | None) -> contextlib.AbstractContextManager[str]:
    return get_default_graph().name_scope(name)


def control_dependencies(control_inputs: Any) -> contextlib.AbstractContextManager[None]:
    return get_default_graph().control_dependencies(control_inputs)


def get_collection(name: str) -> list[Any]:
    return get_default_graph().get_collection(name)


def add_to_collection(name: str, value: Any) -> None:
    get_default_graph().add_to_collection(name, value)
