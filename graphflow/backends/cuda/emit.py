"""The expression emitter: C statements computing a node's value at a multi-index.

Kernels ask `Emitter.value(node, idx)` for values; it recurses through the kernel's nodes, turning
elementwise ops into the lowering table's expressions and movement ops into index maths, and
reads values computed elsewhere from device buffers. Values are memoised per (node, index) so a
value used twice is computed once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from math import prod

from graphflow.backends.cuda import ctypes_ as C
from graphflow.backends.cuda.lowering import DECOMPOSITIONS, Cast, Expr, Index, lowering
from graphflow.ir.dtypes import DType
from graphflow.ir.graph import Node
from graphflow.ir.ops.random import UNIFORM_BITS

Idx = tuple[str, ...]


class Unsupported(Exception):
    """A kernel structure this code generator does not handle (the kernel is then split per node)."""


def strides(shape: tuple[int, ...]) -> list[int]:
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return out[::-1]


def linear(idx: Idx, shape: tuple[int, ...]) -> str:
    """Row-major offset of a multi-index."""
    terms = []
    for i, s, d in zip(idx, strides(shape), shape):
        if d == 1 or i == "0":
            continue
        terms.append(i if s == 1 else f"{i} * {s}LL")
    return " + ".join(terms) if terms else "0"


def delinear(lin: str, shape: tuple[int, ...]) -> Idx:
    """The multi-index of a row-major offset (`lin` is assumed in range)."""
    out = []
    st = strides(shape)
    for k, (s, d) in enumerate(zip(st, shape)):
        if d == 1:
            out.append("0")
            continue
        q = lin if s == 1 else f"({lin}) / {s}LL"
        out.append(q if k == 0 or all(x == 1 for x in shape[:k]) else f"({q}) % {d}LL")
    return tuple(out)


@dataclass
class Params:
    """The buffers a kernel function reads and writes, in parameter order."""

    reads: dict[int, tuple[str, Node]] = field(default_factory=dict)
    writes: dict[int, tuple[str, Node]] = field(default_factory=dict)

    def read(self, node: Node) -> str:
        if node.id not in self.reads:
            self.reads[node.id] = (f"in{len(self.reads)}", node)
        return self.reads[node.id][0]

    def write(self, node: Node) -> str:
        if node.id not in self.writes:
            self.writes[node.id] = (f"out{len(self.writes)}", node)
        return self.writes[node.id][0]

    def signature(self) -> str:
        ps = [f"const {C.storage(n.dtype)}* __restrict__ {name}" for name, n in self.reads.values()]
        ps += [f"{C.storage(n.dtype)}* __restrict__ {name}" for name, n in self.writes.values()]
        ps.append("int* __restrict__ gf_err")
        return ", ".join(ps)

    def buffers(self) -> list[int]:
        return [i for i in self.reads] + [i for i in self.writes]


@dataclass
class Sites:
    """Error sites: a kernel that finds a bad value (index out of range, integer division by zero)
    stores its site number in the error flag; the host turns it back into a message."""

    entries: list[tuple[Node, str]] = field(default_factory=list)

    def add(self, node: Node, message: str) -> int:
        self.entries.append((node, message))
        return len(self.entries)


class Counter:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"


class Emitter:
    def __init__(self, kernel_ids: set[int], params: Params, sites: Sites, lines: list[str], indent: str,
                 special: dict[int, str] | None = None, counter: Counter | None = None,
                 memo: dict | None = None, loader: Callable[[Node, Idx], str | None] | None = None):
        self.kernel_ids = kernel_ids
        self.params = params
        self.sites = sites
        self.lines = lines
        self.indent = indent
        self.special = special if special is not None else {}
        self.fresh = counter or Counter()
        self.memo = memo if memo is not None else {}
        self.loader = loader

    def child(self, lines: list[str]) -> Emitter:
        """An emitter for a nested block: sees the values computed so far, adds its own."""
        return Emitter(self.kernel_ids, self.params, self.sites, lines, self.indent + "    ", self.special,
                       self.fresh, dict(self.memo), self.loader)

    def emit(self, line: str) -> None:
        self.lines.append(self.indent + line)

    def let(self, ctype: str, expr: str, prefix: str = "v") -> str:
        name = self.fresh(prefix)
        self.emit(f"const {ctype} {name} = {expr};")
        return name

    def index_var(self, expr: str) -> str:
        if expr.replace("_", "").isalnum():
            return expr
        return self.let("long long", expr, "x")

    # ---- values ----
    def value(self, node: Node, idx: Idx) -> str:
        """The C name of `node`'s value (compute type) at multi-index `idx`."""
        if node.id in self.special:
            return self.special[node.id]
        key = (node.id, idx)
        if key in self.memo:
            return self.memo[key]
        out = self._value(node, idx)
        self.memo[key] = out
        return out

    def _value(self, node: Node, idx: Idx) -> str:
        name = node.op.name
        if name == "constant":
            arr = node.attrs["value"].array
            if arr.size == 1:
                return C.literal(arr.reshape(-1)[0], node.dtype)
            return self.load(node, idx)
        if node.id not in self.kernel_ids or name in ("input", "variable", "sym_size"):
            return self.load(node, idx)
        if name in DECOMPOSITIONS:
            repl = DECOMPOSITIONS[name](node, list(node.inputs))
            self.kernel_ids.add(repl.id)
            return self.value(repl, idx)
        low = lowering(name)
        if isinstance(low, Expr):
            return self._expr(node, low, idx)
        if isinstance(low, Cast):
            (x,) = node.inputs
            return self.let(C.compute(node.dtype), cast_expr(x.dtype, node.dtype, self.value(x, idx)))
        if isinstance(low, Index):
            return getattr(self, "_" + name)(node, idx)
        raise Unsupported(f"{name} cannot be computed inside this kernel")

    def load(self, node: Node, idx: Idx) -> str:
        if self.loader is not None:
            got = self.loader(node, idx)
            if got is not None:
                return got
        p = self.params.read(node)
        return self.let(C.compute(node.dtype), C.load(node.dtype, f"{p}[{linear(idx, node.shape)}]"))

    def _expr(self, node: Node, low: Expr, idx: Idx) -> str:
        sel = node.inputs[low.by].dtype
        tmpl = low.template(C.key(sel))
        if tmpl is None:
            raise Unsupported(f"{node.op.name} has no CUDA template for dtype {sel.name}")
        args = [self.value(x, idx) for x in node.inputs]
        fields = {"T": C.compute(sel)}
        if "{site}" in tmpl:
            fields["site"] = str(self.sites.add(node, _SITE_MESSAGES.get(node.op.name, "bad operand")))
        expr = tmpl.format(*args, **fields)
        return self.let(C.compute(node.dtype), C.round_to(node.dtype, expr))

    # ---- index maths (one method per Index entry of the lowering table) ----
    def _reshape(self, node: Node, idx: Idx) -> str:
        (x,) = node.inputs
        if tuple(x.shape) == tuple(node.shape):
            return self.value(x, idx)
        lin = self.index_var(linear(idx, node.shape))
        return self.value(x, delinear(lin, x.shape))

    def _broadcast_to(self, node: Node, idx: Idx) -> str:
        (x,) = node.inputs
        lead = len(node.shape) - len(x.shape)
        return self.value(x, tuple("0" if d == 1 else idx[lead + k] for k, d in enumerate(x.shape)))

    def _permute(self, node: Node, idx: Idx) -> str:
        (x,) = node.inputs
        in_idx = ["0"] * len(x.shape)
        for i, p in enumerate(node.attrs["perm"]):
            in_idx[p] = idx[i]
        return self.value(x, tuple(in_idx))

    def _slice(self, node: Node, idx: Idx) -> str:
        (x,) = node.inputs
        out = []
        for i, s, st, d in zip(idx, node.attrs["starts"], node.attrs["steps"], x.shape):
            if d == 1:
                out.append("0")
            elif s == 0 and st == 1:
                out.append(i)
            else:
                out.append(self.index_var(f"{s}LL + ({i}) * {st}LL" if st != 1 else f"{s}LL + {i}"))
        return self.value(x, tuple(out))

    def _pad(self, node: Node, idx: Idx) -> str:
        (x,) = node.inputs
        fill = C.literal(node.attrs["value"], node.dtype)
        if prod(x.shape) == 0:
            return fill
        conds, in_idx = [], []
        for i, (lo, hi), d in zip(idx, node.attrs["widths"], x.shape):
            if lo == 0 and hi == 0:
                in_idx.append(i)
                continue
            j = self.index_var(f"{i} - {lo}LL") if lo else i
            conds.append(f"{j} < {d}LL" if not lo else f"{j} >= 0 && {j} < {d}LL")
            in_idx.append(j)
        if not conds:
            return self.value(x, tuple(in_idx))
        return self._branch(node, [(" && ".join(conds), x, tuple(in_idx))], fill)

    def _concat(self, node: Node, idx: Idx) -> str:
        axis = node.attrs["axis"]
        cases, offset = [], 0
        for x in node.inputs:
            n = x.shape[axis]
            if n == 0:
                continue
            j = idx[axis] if offset == 0 else self.index_var(f"{idx[axis]} - {offset}LL")
            cases.append((f"{idx[axis]} < {offset + n}LL", x, idx[:axis] + (j,) + idx[axis + 1:]))
            offset += n
        if len(cases) == 1:
            return self.value(cases[0][1], cases[0][2])
        return self._branch(node, cases[:-1], None, last=cases[-1])

    def _branch(self, node: Node, cases: list, fill: str | None, last: tuple | None = None) -> str:
        """`v = cond0 ? x0[i0] : cond1 ? ... : fill`, computing only the taken operand."""
        ct = C.compute(node.dtype)
        out = self.fresh("v")
        self.emit(f"{ct} {out};")
        for k, (cond, x, i) in enumerate(cases):
            self.emit(("if" if k == 0 else "} else if") + f" ({cond}) {{")
            body: list[str] = []
            sub = self.child(body)
            v = sub.value(x, i)
            sub.emit(f"{out} = {v};")
            self.lines.extend(body)
        self.emit("} else {")
        if last is not None:
            body = []
            sub = self.child(body)
            v = sub.value(last[1], last[2])
            sub.emit(f"{out} = {v};")
            self.lines.extend(body)
        else:
            self.emit(f"    {out} = {fill};")
        self.emit("}")
        return out

    def _gather(self, node: Node, idx: Idx) -> str:
        x, index = node.inputs
        if len(x.shape) == 0:
            return self.value(x, ())
        axis = node.attrs["axis"]
        dim = x.shape[axis]
        raw = self.value(index, idx)
        site = self.sites.add(node, f"index out of bounds for dimension {axis} of size {dim}")
        j = self.fresh("j")
        self.emit(f"long long {j} = (long long){raw};")
        self.emit(f"if ({j} < 0) {j} += {dim}LL;")
        self.emit(f"if ({j} < 0 || {j} >= {dim}LL) {{ gf_fail(gf_err, {site}); {j} = 0; }}")
        return self.value(x, idx[:axis] + (j,) + idx[axis + 1:])

    def _iota(self, node: Node, idx: Idx) -> str:
        if not node.shape:
            return C.literal(0, node.dtype)
        return self.let(C.compute(node.dtype), f"({C.compute(node.dtype)})({idx[node.attrs['axis']]})")

    def _random_uniform(self, node: Node, idx: Idx) -> str:
        (key,) = node.inputs
        k = self.value(key, ())
        lin = linear(idx, node.shape)
        bits = self.let("unsigned long long", f"gf_random_bits((long long){k}, {lin})", "r")
        # the top p bits (p = the dtype's precision) as in the reference: exact in the dtype, never 1.0
        p = UNIFORM_BITS[node.dtype.name]
        if node.dtype.name == "float64":
            u = f"(double)({bits} >> {64 - p}) * {1.0 / (1 << p)!r}"
        else:
            u = f"(float)({bits} >> {64 - p}) * {1.0 / (1 << p)!r}f"
        return self.let(C.compute(node.dtype), C.round_to(node.dtype, u))

    def _assign(self, node: Node, idx: Idx) -> str:
        return self.value(node.inputs[0], idx)


_SITE_MESSAGES = {"pow": "integers to negative integer powers are not allowed",
                  "floor_div": "integer division by zero", "mod": "integer division (modulo) by zero"}


def cast_expr(src: DType, dst: DType, x: str) -> str:
    """Convert a compute-type value of dtype `src` to dtype `dst`'s compute type (rounded to dst)."""
    if dst.kind == "b":
        return f"({x} != 0)"
    ct = C.compute(dst)
    if dst.name in ("float16", "bfloat16"):
        if src.name == "float64" or src.kind in "iu" and src.itemsize >= 4:
            # one rounding from the wide value (a float detour would round twice)
            conv = "__half2float(__double2half({}))" if dst.name == "float16" else \
                "__bfloat162float(__double2bfloat16({}))"
            return conv.format(f"(double)({x})")
        return C.round_to(dst, f"(float)({x})")
    return f"({ct})({x})"
