"""The shared op graph: `Node` (one value produced by one primitive op) and `Graph` (a function
from input nodes to output nodes). Walks are iterative so 100k-deep graphs never hit the
recursion limit."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphflow.ir.dtypes import DType
from graphflow.ir.shapes import Shape, fmt

if TYPE_CHECKING:
    from graphflow.ir.registry import OpDef
    from graphflow.ir.source import SourceLoc


@dataclass(frozen=True, slots=True)
class TensorType:
    dtype: DType
    shape: Shape

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __str__(self) -> str:
        return f"{self.dtype.name}{fmt(self.shape)}"


class Attrs(Mapping[str, Any]):
    """Frozen, hashable op attributes."""

    __slots__ = ("_items", "_dict", "_hash")

    def __init__(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()):
        d = dict(items)
        self._dict = d
        self._items = tuple(sorted(d.items()))
        self._hash = hash(self._items)

    def __getitem__(self, key: str) -> Any:
        return self._dict[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Attrs) and self._items == other._items

    def replace(self, **changes: Any) -> Attrs:
        return Attrs({**self._dict, **changes})

    def __repr__(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self._items)


_ids = itertools.count()
_set = object.__setattr__


class Node:
    """One value in the graph: the output of `op` applied to `inputs` with `attrs`.

    Nodes are immutable once built; identity is equality (two structurally equal nodes are
    distinct values until CSE merges them)."""

    __slots__ = ("op", "inputs", "attrs", "type", "loc", "name", "id", "__weakref__")

    def __init__(self, op: OpDef, inputs: tuple[Node, ...], attrs: Attrs, type: TensorType,
                 loc: SourceLoc | None = None, name: str | None = None):
        init = _set
        init(self, "op", op)
        init(self, "inputs", tuple(inputs))
        init(self, "attrs", attrs)
        init(self, "type", type)
        init(self, "loc", loc)
        init(self, "name", name)
        init(self, "id", next(_ids))

    def __setattr__(self, key: str, value: Any) -> None:
        # the structure is fixed at construction (graphs share nodes, caches key on them); only
        # the metadata (`name`, `loc`) may be filled in later
        if key not in ("name", "loc"):
            raise AttributeError(f"Node.{key} is immutable; build a new node instead")
        object.__setattr__(self, key, value)

    @property
    def shape(self) -> Shape:
        return self.type.shape

    @property
    def dtype(self) -> DType:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return len(self.type.shape)

    def key(self) -> tuple:
        """Structural identity used by CSE and hashing: op, inputs' ids, attrs."""
        return (self.op.name, tuple(i.id for i in self.inputs), self.attrs)

    def describe(self) -> str:
        where = f" at {self.loc}" if self.loc else ""
        label = f" {self.name!r}" if self.name else ""
        return f"{self.op.name}{label} -> {self.type}{where}"

    def __repr__(self) -> str:
        args = ", ".join(f"%{i.id}" for i in self.inputs)
        attrs = f" [{self.attrs!r}]" if len(self.attrs) else ""
        return f"%{self.id} = {self.op.name}({args}){attrs} : {self.type}"


def toposort(outputs: Iterable[Node], stop: Iterable[Node] = ()) -> list[Node]:
    """Every node the outputs depend on, inputs before users, in a deterministic order (a
    depth-first post-order, inputs left to right). Nodes in `stop` are included but not walked
    past (they are treated as leaves). Iterative: any depth works; a cycle raises ValueError."""
    stop_ids = {n.id for n in stop}
    order: list[Node] = []
    done: set[int] = set()
    active: set[int] = set()  # on the current path: meeting one again is a cycle
    no_inputs: tuple[Node, ...] = ()
    for root in outputs:
        if root.id in done:
            continue
        active.add(root.id)
        stack = [(root, iter(no_inputs if root.id in stop_ids else root.inputs))]
        while stack:
            node, pending = stack[-1]
            for child in pending:
                cid = child.id
                if cid in done:
                    continue
                if cid in active:
                    raise ValueError(f"cycle in graph through {child!r}")
                active.add(cid)
                stack.append((child, iter(no_inputs if cid in stop_ids else child.inputs)))
                break
            else:
                stack.pop()
                active.discard(node.id)
                done.add(node.id)
                order.append(node)
    return order


class Graph:
    """A function: `inputs` (leaf nodes whose values are given at run time) to `outputs`.

    `nodes` lists every node needed for the outputs, in topological order; nodes listed in
    `inputs` are leaves even when they have predecessors (eager mode's backward graph takes
    realised forward values this way)."""

    def __init__(self, outputs: Sequence[Node], inputs: Sequence[Node] = ()):
        self.outputs: tuple[Node, ...] = tuple(outputs)
        self.inputs: tuple[Node, ...] = tuple(inputs)
        self._nodes: list[Node] | None = None

    @property
    def nodes(self) -> list[Node]:
        if self._nodes is None:
            self._nodes = toposort(self.outputs, stop=self.inputs)
        return self._nodes

    def users(self) -> dict[int, list[Node]]:
        """Node id -> the nodes that read it (inside this graph)."""
        input_ids = {n.id for n in self.inputs}
        out: dict[int, list[Node]] = {n.id: [] for n in self.nodes}
        for n in self.nodes:
            if n.id in input_ids:
                continue
            for i in n.inputs:
                out[i.id].append(n)
        return out

    def __len__(self) -> int:
        return len(self.nodes)

    def text(self) -> str:
        """A readable listing, one node a line."""
        input_ids = {n.id for n in self.inputs}
        lines = []
        for n in self.nodes:
            mark = "input " if n.id in input_ids else ""
            lines.append(f"  {mark}{n!r}")
        outs = ", ".join(f"%{o.id}" for o in self.outputs)
        return "graph {\n" + "\n".join(lines) + f"\n  return {outs}\n}}"

    def __str__(self) -> str:
        return self.text()

    def structure_key(self) -> tuple:
        """A hashable description of the graph that ignores node ids (for caches and
        before/expected comparisons)."""
        index: dict[int, int] = {}
        rows = []
        input_ids = [n.id for n in self.inputs]
        for pos, n in enumerate(self.nodes):
            index[n.id] = pos
            if n.id in input_ids:
                rows.append(("<input>", input_ids.index(n.id), n.type.dtype.name, n.type.shape))
            else:
                rows.append((n.op.name, tuple(index[i.id] for i in n.inputs), n.attrs,
                             n.type.dtype.name, n.type.shape))
        return tuple(rows), tuple(index[o.id] for o in self.outputs)
