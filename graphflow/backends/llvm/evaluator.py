"""Per-element evaluation of a kernel's nodes at an index: loads for buffers, index maths for
movement ops, the lowering table for arithmetic. Values are memoised per (node, position) in
scopes that follow the loop nest, so shared subexpressions are computed once."""

from __future__ import annotations

from collections.abc import Callable

import llvmlite.ir as ir
import numpy as np

from graphflow.backends.llvm.emit import I1, I64, compute_type, const, load_value, storage_type, widen
from graphflow.backends.llvm.indexing import Aff, Index, Unsupported, Var
from graphflow.backends.llvm.lowering import ERR_INDEX, Ctx, lowering_for
from graphflow.ir.graph import Node
from graphflow.ir.ops.random import GOLDEN, MIX1, MIX2


class Evaluator:
    def __init__(self, b: ir.IRBuilder, ptrs: dict[int, ir.Value], scalars: dict[int, object],
                 raise_if: Callable[[ir.IRBuilder, ir.Value, int], None] | None):
        self.b = b
        self.ptrs = ptrs  # node id -> buffer pointer (materialised values the kernel reads)
        self.scalars = scalars  # node id -> Python scalar (size-1 constants, inlined)
        self.raise_if = raise_if
        self.scopes: list[dict] = [{}]
        # node id -> emission used instead of the lowering table (set around one loop by a kernel
        # emitter that knows more, e.g. a row-invariant divisor's reciprocal)
        self.overrides: dict[int, Callable[[ir.IRBuilder, list], ir.Value]] = {}

    # scopes follow loops: values made inside a loop body are not visible after it
    def push(self) -> None:
        self.scopes.append({})

    def pop(self) -> None:
        self.scopes.pop()

    def remember(self, node: Node, idx: Index, value: ir.Value) -> None:
        self.scopes[-1][(node.id, idx.key())] = value

    def _lookup(self, key):
        for scope in reversed(self.scopes):
            if key in scope:
                return scope[key]
        return None

    def value(self, node: Node, idx: Index) -> ir.Value:
        key = (node.id, idx.key())
        found = self._lookup(key)
        if found is not None:
            return found
        v = self._compute(node, idx)
        self.scopes[-1][key] = v
        return v

    def load(self, node: Node, idx: Index) -> ir.Value:
        b = self.b
        ptr = b.gep(self.ptrs[node.id], [idx.lin().emit(b)], source_etype=storage_type(node.dtype))
        return load_value(b, ptr, node.dtype)

    def _compute(self, node: Node, idx: Index) -> ir.Value:
        b = self.b
        if node.id in self.scalars:
            v = self.scalars[node.id]
            return widen(b, const(storage_type(node.dtype), v), node.dtype) if node.dtype.name in (
                "float16", "bfloat16") else const(compute_type(node.dtype), v)
        if node.id in self.ptrs:
            return self.load(node, idx)
        name = node.op.name
        handler = _INDEX_MAPS.get(name)
        if handler is not None:
            return handler(self, node, idx)
        if node.op.category == "reduce":
            raise Unsupported(f"{name} needed at a position its kernel did not reduce")
        if name == "assign":
            return self.value(node.inputs[0], idx)
        if node.id in self.overrides:
            return self.overrides[node.id](b, [self.value(i, idx) for i in node.inputs])
        rule = lowering_for(name, node.inputs[0].dtype)
        if rule is None:
            raise Unsupported(f"no lowering for {name} on {node.inputs[0].dtype.name}")
        xs = [self.value(i, idx) for i in node.inputs]
        cx = Ctx(tuple(i.dtype for i in node.inputs), node.dtype, node.attrs, self.raise_if)
        return rule(b, xs, cx)


def _same_size(a, b) -> bool:
    return int(np.prod(a, dtype=np.int64)) == int(np.prod(b, dtype=np.int64))


def _reshape(ev: Evaluator, node: Node, idx: Index) -> ir.Value:
    x = node.inputs[0]
    return ev.value(x, Index(x.shape, lin=idx.lin()))


def _broadcast(ev: Evaluator, node: Node, idx: Index) -> ir.Value:
    x = node.inputs[0]
    if _same_size(x.shape, node.shape):
        return ev.value(x, Index(x.shape, lin=idx.lin()))
    dims = idx.dims(ev.b)
    lead = len(node.shape) - len(x.shape)
    inner = [Aff() if x.shape[j] == 1 else dims[lead + j] for j in range(len(x.shape))]
    return ev.value(x, Index(x.shape, dims=inner))


def _permute(ev: Evaluator, node: Node, idx: Index) -> ir.Value:
    x = node.inputs[0]
    dims = idx.dims(ev.b)
    inner = [None] * len(dims)
    for i, p in enumerate(node.attrs["perm"]):
        inner[p] = dims[i]
    return ev.value(x, Index(x.shape, dims=inner))


def _slice(ev: Evaluator, node: Node, idx: Index) -> ir.Value:
    x = node.inputs[0]
    dims = idx.dims(ev.b)
    inner = [d.scale(st) + s for d, s, st in zip(dims, node.attrs["starts"], node.attrs["steps"])]
    return ev.value(x, Index(x.shape, dims=inner))


def _flip(ev: Evaluator, node: Node, idx: Index) -> ir.Value:
    x = node.inputs[0]
    dims = list(idx.dims(ev.b))
    for a in node.attrs["axes"]:
        dims[a] = dims[a].scale(-1) + (x.shape[a] - 1)
    return ev.value(x, Index(x.shape, dims=dims))


def _in_range(b: ir.IRBuilder, v: ir.Value, lo: int, hi: int) -> ir.Value:
    """lo <= v < hi, with v an i64."""
    return b.and_(b.icmp_signed(">=", v, const(I64, lo)), b.icmp_signed("<", v, const(I64, hi)))


def _clamped(b, ok: ir.Value, v: ir.Value, lo: int, extent: int) -> Aff:
    return Aff.var(Var(b.select(ok, b.sub(v, const(I64, lo)), const(I64, 0)), extent))


def _pad(ev: Evaluator, node: Node, idx: Index) -> ir.Value:
    b = ev.b
    x = node.inputs[0]
    dims = idx.dims(b)
    ok: ir.Value | None = None
    inner = []
    for d, (lo, hi), n in zip(dims, node.attrs["widths"], x.shape):
        if lo == 0 and hi == 0:
            inner.append(d)
            continue
        v = d.emit(b)
        inside = _in_range(b, v, lo, lo + n)
        ok = inside if ok is None else b.and_(ok, inside)
        inner.append(_clamped(b, inside, v, lo, n))
    if ok is None:
        return ev.value(x, Index(x.shape, dims=inner))
    if 0 in x.shape:
        return _pad_value(node)
    got = ev.value(x, Index(x.shape, dims=inner))
    return b.select(ok, got, _pad_value(node))


def _pad_value(node: Node) -> ir.Constant:
    v = np.asarray(node.attrs["value"]).astype(node.dtype.np)
    if node.dtype.name in ("float16", "bfloat16"):
        v = v.astype(np.float32)
    return const(compute_type(node.dtype), v.item() if node.dtype.kind != "b" else bool(v))


def _concat(ev: Evaluator, node: Node, idx: Index) -> ir.Value:
    b = ev.b
    axis = node.attrs["axis"]
    dims = idx.dims(b)
    pos = dims[axis].emit(b)
    result = None
    offset = 0
    for x in node.inputs:
        n = x.shape[axis]
        if n == 0:
            continue
        inside = _in_range(b, pos, offset, offset + n)
        inner = list(dims)
        inner[axis] = _clamped(b, inside, pos, offset, n)
        got = ev.value(x, Index(x.shape, dims=inner))
        result = got if result is None else b.select(inside, got, result)
        offset += n
    if result is None:
        raise Unsupported("concat of empty inputs")
    return result


def _iota(ev: Evaluator, node: Node, idx: Index) -> ir.Value:
    b = ev.b
    shape = node.attrs["shape"]
    if not shape:
        v = const(I64, 0)
    else:
        v = idx.dims(b)[node.attrs["axis"] % len(shape)].emit(b)
    d = node.dtype
    t = compute_type(d)
    if d.kind == "f":
        return b.sitofp(v, t)
    return v if t.width == 64 else b.trunc(v, t)


def _gather(ev: Evaluator, node: Node, idx: Index) -> ir.Value:
    b = ev.b
    x, index = node.inputs
    if not x.shape:
        return ev.value(x, Index(()))
    axis = node.attrs["axis"]
    size = x.shape[axis]
    raw = ev.value(index, idx)
    iv = raw if raw.type.width == 64 else (b.sext(raw, I64) if index.dtype.kind == "i" else b.zext(raw, I64))
    iv = b.select(b.icmp_signed("<", iv, const(I64, 0)), b.add(iv, const(I64, size)), iv)
    bad = b.or_(b.icmp_signed("<", iv, const(I64, 0)), b.icmp_signed(">=", iv, const(I64, size)))
    if ev.raise_if is not None:
        ev.raise_if(b, bad, ERR_INDEX)
    iv = b.select(bad, const(I64, 0), iv)
    dims = list(idx.dims(b))
    dims[axis] = Aff.var(Var(iv, max(size, 1)))
    return ev.value(x, Index(x.shape, dims=dims))


def _splitmix(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    x = b.xor(x, b.lshr(x, const(I64, 30)))
    x = b.mul(x, const(I64, MIX1))
    x = b.xor(x, b.lshr(x, const(I64, 27)))
    x = b.mul(x, const(I64, MIX2))
    return b.xor(x, b.lshr(x, const(I64, 31)))


def _random_uniform(ev: Evaluator, node: Node, idx: Index) -> ir.Value:
    b = ev.b
    key_node = node.inputs[0]
    key = ev.value(key_node, Index(()))
    if key.type != I64:
        key = b.sext(key, I64) if key_node.dtype.kind == "i" else b.zext(key, I64)
    base = _splitmix(b, key)
    counter = b.add(idx.lin().emit(b), const(I64, 1))
    bits = _splitmix(b, b.add(base, b.mul(counter, const(I64, GOLDEN))))
    t = compute_type(node.dtype)
    if node.dtype.name == "float64":
        return b.fmul(b.uitofp(b.lshr(bits, const(I64, 11)), t), const(t, 1.0 / (1 << 53)))
    return b.fmul(b.uitofp(b.lshr(bits, const(I64, 40)), t), const(t, 1.0 / (1 << 24)))


_INDEX_MAPS = {"reshape": _reshape, "broadcast_to": _broadcast, "permute": _permute, "slice": _slice,
               "flip": _flip, "pad": _pad, "concat": _concat, "iota": _iota, "gather": _gather,
               "random_uniform": _random_uniform}

# ops whose index mapping needs per-dimension positions (the rest work on linear positions)
NEEDS_DIMS = frozenset({"permute", "slice", "flip", "pad", "concat", "iota", "gather"})
_ = I1
