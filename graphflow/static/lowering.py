"""From a static program's (fetches, feeds) to one pure graph a backend can compile.

The static front end's graph has state: `variable` reads, `assign` writes and control
dependencies. A run turns it into a function without side effects:

- only what the fetches need is kept (data inputs and control inputs, walked iteratively);
  fed tensors become graph inputs and are not walked past;
- every variable a run reads before writing is a graph input (the run's snapshot);
- an `assign` becomes the value it writes; a read ordered after an assignment of the same
  variable (through data or control dependencies) reads that value instead of the snapshot;
- the value each assigned variable ends with is an extra graph output, written back by the
  session once the run succeeded.

So passes and backends only ever see pure data flow, and a run sees one consistent snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from graphflow.errors import GraphError
from graphflow.ir.graph import Attrs, Graph, Node, TensorType
from graphflow.ir.ops.source import VarRef
from graphflow.ir.registry import get_op
from graphflow.ir.shapes import is_concrete

_EMPTY: dict = {}


@dataclass
class RunPlan:
    """A pure graph plus how its inputs and outputs relate to the program."""

    graph: Graph
    feeds: list[Node] = field(default_factory=list)  # program node fed at each leading graph input
    state_in: list[VarRef] = field(default_factory=list)  # variable read at each following input
    n_fetches: int = 0  # the first outputs answer the fetches (None entries: operations)
    fetch_slots: list[int | None] = field(default_factory=list)
    state_out: list[tuple[VarRef, Node]] = field(default_factory=list)  # (variable, its last assign)


def _key(item: Any) -> tuple[int, int]:
    return (0, item.id) if isinstance(item, Node) else (1, item.id)


def _preds(item: Any, fed: set[int], control: dict[int, tuple[Any, ...]]) -> tuple[Any, ...]:
    if isinstance(item, Node):
        if item.id in fed:
            return ()
        return item.inputs + control.get(item.id, ())
    return tuple(item.control_inputs)


def _order(targets: Sequence[Any], fed: set[int], control: dict[int, tuple[Any, ...]]) -> list[Any]:
    """Everything the targets need, predecessors first (iterative DFS over data and control edges)."""
    order: list[Any] = []
    state: dict[tuple[int, int], int] = {}
    for root in targets:
        if state.get(_key(root)) == 2:
            continue
        stack: list[tuple[Any, int]] = [(root, 0)]
        while stack:
            item, i = stack.pop()
            k = _key(item)
            if i == 0:
                if state.get(k) == 2:
                    continue
                state[k] = 1
            preds = _preds(item, fed, control)
            if i < len(preds):
                stack.append((item, i + 1))
                child = preds[i]
                s = state.get(_key(child))
                if s is None:
                    stack.append((child, 0))
                elif s == 1:
                    raise GraphError(f"the control dependencies form a cycle through {child!r}")
            else:
                state[k] = 2
                order.append(item)
    return order


def unfed_placeholders(targets: Sequence[Any], fed: Sequence[Node], control: dict[int, tuple[Any, ...]]) -> list[Node]:
    """The graph inputs the targets need that `fed` does not give."""
    fed_ids = {n.id for n in fed}
    input_op = get_op("input")
    return [n for n in _order(targets, fed_ids, control)
            if isinstance(n, Node) and n.op is input_op and n.id not in fed_ids]


def lower(targets: Sequence[Any], fed: Sequence[Node], control: dict[int, tuple[Any, ...]],
          feed_name: Any = None) -> RunPlan:
    """The pure graph computing `targets` (Nodes, or Operations whose value is None) when the
    nodes in `fed` are given values."""
    fed_ids = {n.id for n in fed}
    order = _order(targets, fed_ids, control)
    position = {_key(item): pos for pos, item in enumerate(order)}
    assign_op, variable_op, input_op = get_op("assign"), get_op("variable"), get_op("input")

    # the latest assignment of each variable that is an ancestor of each item
    ancestry: dict[tuple[int, int], dict[VarRef, Node]] = {}
    for item in order:
        merged, own = _EMPTY, False
        for p in _preds(item, fed_ids, control):
            d = ancestry[_key(p)]
            if not d or d is merged:
                continue
            if not merged:
                merged = d
                continue
            if not own:
                merged, own = dict(merged), True
            for var, a in d.items():
                b = merged.get(var)
                if b is None or position[_key(a)] > position[_key(b)]:
                    merged[var] = a
        if isinstance(item, Node) and item.op is assign_op and item.id not in fed_ids:
            merged = {**merged, item.attrs["var"]: item}
        ancestry[_key(item)] = merged

    plan = RunPlan(Graph(()))
    new: dict[int, Node] = {}
    snapshot: dict[VarRef, Node] = {}
    feed_inputs: list[Node] = []
    last_assign: dict[VarRef, Node] = {}

    def add_feed(n: Node) -> None:
        """A fed node becomes an input of the run's graph."""
        name = feed_name(n) if feed_name else (n.name or f"feed{n.id}")
        new[n.id] = node = Node(input_op, (), Attrs({"name": name, "dtype": n.dtype, "shape": tuple(n.shape)}),
                                n.type, loc=n.loc, name=n.name)
        plan.feeds.append(n)
        feed_inputs.append(node)

    for item in order:
        if not isinstance(item, Node):
            continue
        n = item
        if n.id in fed_ids:
            add_feed(n)
        elif n.op is variable_op:
            var = n.attrs["var"]
            a = ancestry[_key(n)].get(var)
            if a is not None:
                new[n.id] = new[a.id]
            else:
                if var not in snapshot:
                    snapshot[var] = Node(input_op, (), Attrs({"name": f"var:{var.name}", "dtype": var.dtype,
                                                               "shape": var.shape}),
                                         TensorType(var.dtype, var.shape), loc=n.loc, name=var.name)
                    plan.state_in.append(var)
                new[n.id] = snapshot[var]
        elif n.op is assign_op:
            new[n.id] = new[n.inputs[0].id]
            var = n.attrs["var"]
            prev = last_assign.get(var)
            if prev is None or position[_key(n)] > position[_key(prev)]:
                last_assign[var] = n
        elif n.op is input_op:
            where = f" (created at {n.loc})" if n.loc else ""
            raise GraphError(f"placeholder {n.attrs['name']!r} must be fed a value: pass feed_dict="
                             f"{{{n.attrs['name']}: ...}} to Session.run{where}")
        else:
            new[n.id] = Node(n.op, tuple(new[i.id] for i in n.inputs), n.attrs, n.type, loc=n.loc, name=n.name)

    for n in fed:  # a fed placeholder of unknown size that the targets never read still binds
        # that size: a gradient that does not depend on x's values keeps x's batch dimension
        if n.id not in new and n.op is input_op and not is_concrete(n.shape):
            add_feed(n)

    outputs: list[Node] = []
    for t in targets:
        if isinstance(t, Node):
            plan.fetch_slots.append(len(outputs))
            outputs.append(new[t.id])
        else:
            plan.fetch_slots.append(None)
    plan.n_fetches = len(outputs)
    for var, a in last_assign.items():
        plan.state_out.append((var, a))
        outputs.append(new[a.id])
    plan.graph = Graph(outputs, feed_inputs + [snapshot[v] for v in plan.state_in])
    return plan
