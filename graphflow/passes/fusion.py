"""Fusion: cut an optimised graph into kernels (`partition(graph) -> PartitionedGraph`).

Kernel kinds and what each may contain (the contract backends compile):

- ELEMENTWISE: one loop over the iteration space of its last output. Elementwise ops, `cast`,
  `iota` and movement ops (reshape, broadcast_to, permute, slice, flip, pad, concat) as index
  maths: a producer is evaluated at the index its consumer maps to.
- REDUCE: one reduction (the root) with
  * a prologue: elementwise/movement producers of its input, evaluated per input element;
  * an epilogue over the reduced shape: elementwise ops (and reshapes) of the root;
  * a row epilogue over the input's shape: `broadcast_to` of the (keepdims-shaped) reduced value
    back to the input shape, then elementwise ops. A backend runs it as a second sweep over the
    row it just reduced (softmax's `e / sum(e)`), recomputing prologue values it needs.
- MATMUL: a matmul (the root) with an elementwise epilogue over its output (bias add,
  activation), reading other operands through index maths (`broadcast_to` of the bias); an operand
  may be a `permute` swapping its last two axes (a transpose folded into the matmul's indexing).
- OPAQUE: one op by itself (gather, scatter_add, assign, random_uniform); an operand may be a
  `reshape` of a buffer (a view: same memory, read as is).
- SOURCE: inputs, constants, variable reads, `sym_size`: a buffer, no code.

`Kernel.roles` names each node's part: "root", "prologue", "epilogue", "row-epilogue",
"operand" (a transposed matmul operand) or "body" (elementwise kernels).

The cost decisions (where kernels end):

1. Reductions, matmuls and opaque ops each start a kernel; everything else is fused into them or
   into elementwise kernels.
2. A value is fused into its consumers' kernel only when all its consumers are in that one kernel;
   a value read by several kernels is written to a buffer once, unless recomputing it is cheap:
   index maths (movement ops), `cast`, `iota` and one-element values are recomputed in each
   kernel that reads them (never graph outputs: those are written once).
3. No recompute blow-up: a value read through an expanding `broadcast_to` (each element used many
   times) is only fused when cheap (rule 2's sense); otherwise it is computed once at its own size.
   Matmul operands are re-read N and M times, so only a transpose fuses into them.
4. A graph output computed inside a kernel must be covered: fused only along elementwise,
   reshape, permute and flip consumers, so every element of it is computed and written once.
5. Row epilogues are chosen two ways and the partition with fewer kernels is kept (on a tie, the
   first): (a) values that flow into a later reduction are left to be that reduction's prologue
   (softmax: `exp(x - max)` is computed while summing, never written); (b) greedily, each
   reduction takes every row-epilogue value it can.
   The row epilogue is not used after a reduction to a single element (a second sweep over the
   whole tensor by one thread is slower than a new kernel).
6. An epilogue node is taken only when its other operands do not depend on the root (that would
   be a cycle between kernels).

These give: `gelu(x * w + b)` in 1 kernel; softmax over rows in 2 (max; then exp, sum and the
division as a reduction with prologue and row epilogue); see tests/passes/test_fusion.py for the
MLP training step's count.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from graphflow.ir.graph import Graph, Node
from graphflow.ir.shapes import numel
from graphflow.passes.kernel import ELEMENTWISE, MATMUL, OPAQUE, REDUCE, SOURCE, Kernel, PartitionedGraph

# node classes
_SRC, _EW, _RED, _MM, _OPQ = "source", "ew", "reduce", "matmul", "opaque"
_BIJECTIVE = frozenset({"reshape", "permute", "flip"})
_CHEAP = frozenset({"reshape", "broadcast_to", "permute", "slice", "flip", "pad", "concat", "cast", "iota"})


def classify(node: Node, is_input: bool) -> str:
    if is_input:
        return _SRC
    cat = node.op.category
    if node.op.name == "iota" or cat in ("elementwise", "movement"):
        return _EW
    if cat in ("source",) or node.op.name == "variable":
        return _SRC
    if cat == "reduce":
        return _RED
    if cat == "linalg":
        return _MM
    return _OPQ


def _n(node: Node) -> int | None:
    v = numel(node.shape)
    return v if isinstance(v, int) else None


def cheap(node: Node) -> bool:
    """Cheap to recompute in every kernel that reads it."""
    return node.op.name in _CHEAP or _n(node) == 1


def _keepdims_shape(red: Node) -> tuple:
    src = red.inputs[0]
    axes = red.attrs.get("axes", None)
    if red.op.name in ("argmax", "argmin"):
        axes = red.attrs["axis"]
        axes = tuple(range(src.ndim)) if axes is None else (axes,)
    elif axes is None:
        axes = tuple(range(src.ndim))
    return tuple(1 if i in axes else d for i, d in enumerate(src.shape))


@dataclass
class _Group:
    gid: int
    kind: str
    root: Node | None
    members: dict[int, Node] = field(default_factory=dict)
    roles: dict[int, str] = field(default_factory=dict)
    expanded: dict[int, bool] = field(default_factory=dict)  # read more often than it has elements
    covered: dict[int, bool] = field(default_factory=dict)  # every element computed
    space: dict[int, str] = field(default_factory=dict)  # REDUCE: "in", "out" or "row"

    def add(self, node: Node, role: str, expanded: bool, covered: bool, space: str = "") -> None:
        self.members[node.id] = node
        self.roles[node.id] = role
        self.expanded[node.id] = expanded
        self.covered[node.id] = covered
        if space:
            self.space[node.id] = space


class _Partitioner:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.nodes = graph.nodes
        self.input_ids = {n.id for n in graph.inputs}
        self.pos = {n.id: i for i, n in enumerate(self.nodes)}
        self.users = graph.users()
        self.output_ids = {o.id for o in graph.outputs}
        self.cls = {n.id: classify(n, n.id in self.input_ids) for n in self.nodes}
        self.groups: list[_Group] = []
        self.group_of: dict[int, list[_Group]] = {}

    def new_group(self, kind: str, root: Node | None) -> _Group:
        g = _Group(len(self.groups), kind, root)
        self.groups.append(g)
        return g

    def assign(self, g: _Group, node: Node, role: str, expanded: bool = False, covered: bool = True,
               space: str = "") -> None:
        g.add(node, role, expanded, covered, space)
        self.group_of.setdefault(node.id, []).append(g)

    # -- phase A: roots and their epilogues (forward) -----------------------------------------
    def roots_and_epilogues(self, lookahead: bool) -> None:
        # with `lookahead`, elementwise values that flow into a reduction are left for that
        # reduction's prologue rather than taken as an earlier reduction's row epilogue (softmax:
        # exp(x - max) is computed while summing, not written out after the max)
        self.feeds_reduction: set[int] = set()
        for n in reversed(self.nodes) if lookahead else ():
            if self.cls[n.id] == _EW and any(
                    self.cls[u.id] == _RED or u.id in self.feeds_reduction for u in self.users.get(n.id, ())):
                self.feeds_reduction.add(n.id)
        for n in self.nodes:
            c = self.cls[n.id]
            if c == _OPQ:
                self.assign(self.new_group(OPAQUE, n), n, "root")
            elif c in (_RED, _MM):
                g = self.new_group(REDUCE if c == _RED else MATMUL, n)
                self.assign(g, n, "root", space="out")
                self.grow_epilogue(g)

    def depends_on(self, v: Node, root: Node, memo: dict[int, bool]) -> bool:
        """Whether `v` depends on `root` (a walk bounded to nodes after the root)."""
        rpos = self.pos[root.id]
        stack, seen = [v], []
        found = False
        while stack:
            n = stack.pop()
            if n.id in memo:
                if memo[n.id]:
                    found = True
                    break
                continue
            if n is root:
                found = True
                break
            memo[n.id] = False
            seen.append(n)
            if n.id in self.input_ids:
                continue
            stack.extend(i for i in n.inputs if self.pos.get(i.id, -1) > rpos or i is root)
        if found:
            for n in seen:
                memo[n.id] = True  # conservative: part of a walk that reached the root
        return found

    def grow_epilogue(self, g: _Group) -> None:
        root = g.root
        assert root is not None
        reduced_n = _n(root)
        full = root.inputs[0] if g.kind == REDUCE else None
        row_ok = g.kind == REDUCE and reduced_n not in (None, 1)
        keep_shape = _keepdims_shape(root) if g.kind == REDUCE else None
        memo: dict[int, bool] = {}
        heap = [(self.pos[u.id], u.id, u) for u in self.users.get(root.id, ())]
        heapq.heapify(heap)
        seen: set[int] = set()
        while heap:
            _, uid, c = heapq.heappop(heap)
            if uid in seen:
                continue
            seen.add(uid)
            if self.cls[uid] != _EW or uid in self.group_of or c.op.name == "iota":
                continue
            space = self.epilogue_space(g, c, full, row_ok, keep_shape)
            if space is None:
                continue
            if any(i.id not in g.members and self.depends_on(i, root, memo) for i in c.inputs):
                continue
            if space == "row" and uid in self.feeds_reduction:
                continue
            role = "row-epilogue" if space == "row" else "epilogue"
            self.assign(g, c, role, space=space)
            for u in self.users.get(uid, ()):
                heapq.heappush(heap, (self.pos[u.id], u.id, u))

    def epilogue_space(self, g: _Group, c: Node, full: Node | None, row_ok: bool, keep_shape) -> str | None:
        """The iteration space `c` would run in as part of `g`'s epilogue, or None."""
        ins = [g.space.get(i.id) for i in c.inputs if i.id in g.members]
        if c.op.category == "elementwise":
            if all(s == "out" for s in ins):
                return "out"
            if all(s == "row" for s in ins):
                return "row"
            return None
        if c.op.name == "reshape" and ins == ["out"]:
            return "out"
        if (c.op.name == "broadcast_to" and row_ok and ins == ["out"] and full is not None
                and tuple(c.shape) == tuple(full.shape) and tuple(c.inputs[0].shape) == tuple(keep_shape)):
            return "row"
        return None

    # -- phase B: producers (reverse) ---------------------------------------------------------
    def fuse_producers(self) -> None:
        for n in reversed(self.nodes):
            if self.cls[n.id] != _EW or n.id in self.group_of:
                continue
            user_groups: dict[int, _Group] = {}
            for u in self.users.get(n.id, ()):
                for g in self.group_of.get(u.id, ()):
                    user_groups[g.gid] = g
            is_output = n.id in self.output_ids
            placed = False
            if len(user_groups) == 1:
                (g,) = user_groups.values()
                placed = self.try_join(g, n, is_output)
            elif len(user_groups) > 1 and cheap(n) and not is_output:
                plans = [self.join_plan(g, n, False, partial=True) for g in user_groups.values()]
                if all(p is not None for p in plans):
                    for g, p in zip(user_groups.values(), plans):
                        self.assign(g, n, *p)
                    placed = True
            if not placed:
                g = self.new_group(ELEMENTWISE, n)
                self.assign(g, n, "body")

    def try_join(self, g: _Group, n: Node, is_output: bool) -> bool:
        plan = self.join_plan(g, n, is_output)
        if plan is None:
            return False
        self.assign(g, n, *plan)
        return True

    def join_plan(self, g: _Group, n: Node, is_output: bool, partial: bool = False) -> tuple | None:
        """(role, expanded, covered, space) for `n` joining `g`, or None when it may not.
        `partial`: n is being duplicated, so only its users inside `g` count."""
        if g.kind == OPAQUE:
            # a reshape of a buffer is a view: the opaque op reads the buffer as is
            inside = [u for u in self.users.get(n.id, ()) if u.id in g.members]
            if (n.op.name == "reshape" and not is_output and all(u is g.root for u in inside)
                    and (partial or len(inside) == len(self.users.get(n.id, ())))):
                return ("operand", False, False, "")
            return None
        expanded, covered, operand, other = False, True, False, False
        spaces = set()
        for u in self.users.get(n.id, ()):
            if u.id not in g.members:
                if partial:
                    continue
                return None  # a user in another kernel needs n materialised
            if g.kind == MATMUL and u is g.root:
                operand = True
                continue
            other = True
            if g.roles.get(u.id) == "operand":
                return None  # producers of a matmul operand would be re-read many times
            if g.kind == REDUCE and u is g.root:
                u_exp, u_cov, space = False, True, "in"
            else:
                u_exp, u_cov, space = g.expanded[u.id], g.covered[u.id], g.space.get(u.id, "")
            spaces.add(space)
            grows = u.op.name == "broadcast_to" and (_n(u) or 0) > (_n(n) or 0)
            expanded = expanded or u_exp or grows
            bij = u.op.category == "elementwise" or u.op.name in _BIJECTIVE or (g.kind == REDUCE and u is g.root)
            covered = covered and u_cov and bij
        if operand:
            # a transpose folds into the matmul's indexing; nothing else feeds an operand
            if other or is_output or n.op.name != "permute" or not _swaps_last2(n):
                return None
            return ("operand", True, False, "")
        if expanded and not cheap(n):
            return None
        if is_output and not covered:
            return None
        if g.kind == ELEMENTWISE:
            return ("body", expanded, covered, "")
        if g.kind == MATMUL:
            return ("epilogue", expanded, covered, "out")
        space = "in" if "in" in spaces else ("row" if "row" in spaces else "out")
        return ("prologue" if space == "in" else "epilogue", expanded, covered, space)

    # -- phase C: kernels ---------------------------------------------------------------------
    def kernels(self) -> PartitionedGraph:
        kernels: list[Kernel] = []
        for n in self.nodes:
            if self.cls[n.id] == _SRC:
                kernels.append(Kernel(SOURCE, [n], [], [n], name=f"k{len(kernels)}_{n.op.name}",
                                      roles={n.id: "root"}))
        n_sources = len(kernels)
        owner: dict[int, int] = {}  # node id -> group that writes it
        built: list[tuple[_Group, Kernel]] = []
        for g in self.groups:
            if not g.members:
                continue
            members = sorted(g.members.values(), key=lambda m: self.pos[m.id])
            ins: dict[int, Node] = {}
            outs: list[Node] = []
            for m in members:
                for i in m.inputs:
                    if i.id not in g.members:
                        ins.setdefault(i.id, i)
                needed_outside = m.id in self.output_ids or any(
                    m.id not in ug.members for u in self.users.get(m.id, ()) for ug in self.group_of[u.id])
                if needed_outside:
                    outs.append(m)
                    owner[m.id] = g.gid
            anchor = g.root if g.root is not None else members[-1]
            k = Kernel(g.kind, members, list(ins.values()), outs, roles=dict(g.roles))
            k.name = anchor.op.name
            built.append((g, k))
        order = self.order(built, owner)
        for idx, (_, k) in enumerate(order):
            k.name = f"k{n_sources + idx}_{k.name}"
            kernels.append(k)
        return PartitionedGraph(self.graph, kernels)

    def order(self, built: list[tuple[_Group, Kernel]], owner: dict[int, int]) -> list[tuple[_Group, Kernel]]:
        """Kernels in dependency order (ties broken by graph position, so the order is stable)."""
        by_gid = {g.gid: (g, k) for g, k in built}
        deps: dict[int, set[int]] = {g.gid: set() for g, _ in built}
        for g, k in built:
            for i in k.inputs:
                src = owner.get(i.id)
                if src is not None and src != g.gid:
                    deps[g.gid].add(src)
        users: dict[int, list[int]] = {gid: [] for gid in deps}
        for gid, ds in deps.items():
            for d in ds:
                users[d].append(gid)
        first = {g.gid: min(self.pos[m] for m in g.members) for g, _ in built}
        ready = [(first[gid], gid) for gid, ds in deps.items() if not ds]
        heapq.heapify(ready)
        pending = {gid: len(ds) for gid, ds in deps.items()}
        out = []
        while ready:
            _, gid = heapq.heappop(ready)
            out.append(by_gid[gid])
            for u in users[gid]:
                pending[u] -= 1
                if pending[u] == 0:
                    heapq.heappush(ready, (first[u], u))
        if len(out) != len(built):
            raise RuntimeError("fusion produced a cycle between kernels (a bug in graphflow.passes.fusion)")
        return out


def _swaps_last2(node: Node) -> bool:
    perm = tuple(node.attrs["perm"])
    n = len(perm)
    return n >= 2 and perm == tuple(range(n - 2)) + (n - 1, n - 2)


def partition(graph: Graph) -> PartitionedGraph:
    """Cut `graph` into fused kernels (see the module docstring for the rules)."""
    best = None
    for lookahead in (True, False):
        p = _Partitioner(graph)
        p.roots_and_epilogues(lookahead)
        p.fuse_producers()
        pg = p.kernels()
        if best is None or len(pg.compute_kernels) < len(best.compute_kernels):
            best = pg
    assert best is not None
    return best
