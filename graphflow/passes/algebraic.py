"""Algebraic simplification: a table of (pattern -> replacement) rules, run to a fixed point.

Each rule names its safety class (see `patterns`): EXACT rules give bit-identical results for every
input, NaN, +-inf and signed zeros included; NSZ rules may turn -0.0 into +0.0; FINITE rules assume
no NaN or inf. The default pipeline uses only EXACT (and STABLE) rules, so for floats
`x + 0.0 -> x` (wrong for x = -0.0) and `x * 0 -> 0`, `x - x -> 0` (wrong for NaN and inf) only run
with fast-math; for integers they are exact and always run.
"""

from __future__ import annotations

from collections.abc import Sequence

from graphflow.ir.dtypes import DType
from graphflow.ir.graph import Graph, Node
from graphflow.ir.registry import all_ops
from graphflow.passes.fold import FOLD_RULES
from graphflow.passes.patterns import (
    DEFAULT_SAFETY,
    EXACT,
    FINITE,
    NSZ,
    Op,
    Pattern,
    Rule,
    Splat,
    Var,
    is_neg_one,
    is_neg_zero,
    is_one,
    is_pos_zero,
    is_pow2,
    is_three,
    is_two,
    is_zero,
    scalar_source,
    splat_value,
)
from graphflow.passes.rewrite import Rewriter, rewrite

x, y, c = Var("x"), Var("y"), Var("c")


def _elementwise_ops() -> tuple[str, ...]:
    return tuple(sorted(n for n, op in all_ops().items() if op.category == "elementwise"))


def swaps_last2(node: Node) -> bool:
    """A permute that transposes the last two dimensions and keeps the batch dimensions."""
    perm = node.attrs["perm"]
    n = len(perm)
    return n >= 2 and tuple(perm) == tuple(range(n - 2)) + (n - 1, n - 2)


def T(inner: Pattern, name: str | None = None) -> Op:
    return Op("permute", inner, where=swaps_last2, name=name)


def transpose(rw: Rewriter, v: Node) -> Node:
    n = v.ndim
    return rw.op("permute", v, perm=tuple(range(n - 2)) + (n - 1, n - 2))


# --- casts ---------------------------------------------------------------------------------

_MANTISSA = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}
_INT_BITS = {"uint8": 8, "int8": 7, "int16": 15, "int32": 31, "int64": 63}


def lossless(src: DType, dst: DType) -> bool:
    """Every value of `src` is exactly representable in `dst`."""
    if src is dst or src.kind == "b":
        return True
    if src.kind in "iu" and dst.kind in "iu":
        if src.kind == "i" and dst.kind == "u":
            return False
        return _INT_BITS[dst.name] >= _INT_BITS[src.name]
    if src.kind in "iu" and dst.kind == "f":
        return _MANTISSA[dst.name] >= _INT_BITS[src.name]
    if src.kind == "f" and dst.kind == "f":
        if {src.name, dst.name} == {"float16", "bfloat16"}:
            return False
        return _MANTISSA[dst.name] >= _MANTISSA[src.name]
    return False


def cast_chain_exact(t0: DType, t1: DType, t2: DType) -> bool:
    """cast(cast(x: t0, t1), t2) == cast(x, t2) for every x. The first cast must lose nothing; the
    second must then convert the same value the same way (float-to-int and int-to-int conversions
    of out-of-range values differ, so those only combine within one kind)."""
    if not lossless(t0, t1):
        return False
    return t0.kind == "b" or t2 is t0 or t2.kind in "fb" or (t0.kind in "iu" and t1.kind in "iu")


def _cast_cast(m, rw: Rewriter) -> Node | None:
    inner, root = m["inner"], m["root"]
    src = inner.inputs[0]
    if not cast_chain_exact(src.dtype, inner.dtype, root.dtype):
        return None
    return src if src.dtype is root.dtype else rw.op("cast", src, dtype=root.dtype)


# --- movement ------------------------------------------------------------------------------

def _permute_permute(m, rw: Rewriter) -> Node:
    inner, root = m["inner"], m["root"]
    p1, p2 = inner.attrs["perm"], root.attrs["perm"]
    return rw.op("permute", inner.inputs[0], perm=tuple(p1[i] for i in p2))


def _slice_slice(m, rw: Rewriter) -> Node | None:
    inner, root = m["inner"], m["root"]
    src = inner.inputs[0]
    starts, stops, steps = [], [], []
    for d, s1, st1, s2, st2, n in zip(src.shape, inner.attrs["starts"], inner.attrs["steps"],
                                      root.attrs["starts"], root.attrs["steps"], root.shape):
        if not isinstance(d, int) or not isinstance(n, int):
            return None
        if n == 0:
            starts.append(0), stops.append(0), steps.append(1)
            continue
        start, step = s1 + s2 * st1, st1 * st2
        last = start + (n - 1) * step
        starts.append(start), steps.append(step)
        stops.append(last + 1 if step > 0 else last - 1)
    return rw.op("slice", src, starts=tuple(starts), stops=tuple(stops), steps=tuple(steps))


def _is_full_slice(node: Node) -> bool:
    return all(s == 0 and st == 1 and e == d for d, s, e, st in
               zip(node.inputs[0].shape, node.attrs["starts"], node.attrs["stops"], node.attrs["steps"]))


def _flip_flip(m, rw: Rewriter) -> Node:
    inner, root = m["inner"], m["root"]
    axes = tuple(sorted(set(inner.attrs["axes"]) ^ set(root.attrs["axes"])))
    src = inner.inputs[0]
    return rw.op("flip", src, axes=axes) if axes else src


def _flip_trivial(node: Node) -> bool:
    return all(node.shape[a] == 1 or node.shape[a] == 0 for a in node.attrs["axes"])


class _MovedSplat(Pattern):
    """A movement op applied to a one-element value broadcast (a splat in the making)."""

    roots_ = ("reshape", "permute", "slice", "flip", "pad", "broadcast_to")

    @property
    def roots(self):
        return self.roots_

    def match(self, node: Node, b):
        src = scalar_source(node.inputs[0])
        if src is None:
            return None
        if node.op.name == "pad":
            v = splat_value(node.inputs[0])
            pad = node.attrs["value"]
            if v is None or not (v == pad or (v != v and pad != pad)):
                return None
        return {**b, "s": src}


def _moved_splat(m, rw: Rewriter) -> Node:
    s, root = m["s"], m["root"]
    if s.shape != ():
        s = rw.op("reshape", s, shape=())
    return rw.op("broadcast_to", s, shape=tuple(root.shape))


class _OverBroadcasts(Pattern):
    """An elementwise op whose operands are all `broadcast_to` of values of one shape: compute on
    the small values and broadcast once."""

    def __init__(self):
        self._roots = None

    @property
    def roots(self):
        if self._roots is None:
            self._roots = _elementwise_ops()
        return self._roots

    def match(self, node: Node, b):
        ins = node.inputs
        if not ins or any(i.op.name != "broadcast_to" for i in ins):
            return None
        shape = ins[0].inputs[0].shape
        if any(i.inputs[0].shape != shape for i in ins) or shape == tuple(node.shape):
            return None
        return {**b, "sources": [i.inputs[0] for i in ins]}


def _over_broadcasts(m, rw: Rewriter) -> Node:
    root = m["root"]
    small = rw.op(root.op.name, *m["sources"], **dict(root.attrs))
    return rw.op("broadcast_to", small, shape=tuple(root.shape))


def _reduce_unit_axes(node: Node) -> bool:
    x_ = node.inputs[0]
    axes = node.attrs["axes"]
    axes = range(x_.ndim) if axes is None else axes
    return all(x_.shape[a] == 1 for a in axes)


def _same(shape_a: Sequence, shape_b: Sequence) -> bool:
    return tuple(shape_a) == tuple(shape_b)


def _zeros(m, rw: Rewriter) -> Node:
    return rw.splat(0, m["root"])


def _ones(m, rw: Rewriter) -> Node:
    return rw.splat(1, m["root"])


def _reciprocal_mul(m, rw: Rewriter) -> Node:
    root = m["root"]
    inv = rw.const(1 / splat_value(m["c"]), root.dtype)
    inv_b = inv if root.shape == () else rw.op("broadcast_to", inv, shape=tuple(root.shape))
    return rw.op("mul", m["x"], inv_b)


def _neg_const(m, rw: Rewriter) -> Node:
    return rw.op("mul", m["x"], rw.splat(-splat_value(m["c"]), m["root"]))


RULES: list[Rule] = [
    # arithmetic identities
    Rule("mul_one", Op("mul", x, Splat(is_one)), lambda m, rw: m["x"], EXACT, doc="x * 1 -> x"),
    Rule("div_one", Op("div", x, Splat(is_one)), lambda m, rw: m["x"], EXACT, doc="x / 1 -> x"),
    Rule("pow_one", Op("pow", x, Splat(is_one)), lambda m, rw: m["x"], EXACT, "fiu", doc="x ** 1 -> x"),
    Rule("pow_two", Op("pow", x, Splat(is_two)), lambda m, rw: rw.op("mul", m["x"], m["x"]), EXACT, "fiu",
         doc="x ** 2 -> x * x (both correctly rounded)"),
    Rule("pow_three_int", Op("pow", x, Splat(is_three)),
         lambda m, rw: rw.op("mul", rw.op("mul", m["x"], m["x"]), m["x"]), EXACT, "iu",
         doc="x ** 3 -> x * x * x (integers wrap the same way)"),
    Rule("mul_neg_one", Op("mul", x, Splat(is_neg_one)), lambda m, rw: rw.op("neg", m["x"]), EXACT, "fi",
         doc="x * -1 -> -x"),
    Rule("div_pow2", Op("div", x, Splat(is_pow2, "c")), _reciprocal_mul, EXACT, "f",
         doc="x / 2**k -> x * 2**-k (exact in binary floating point)"),
    Rule("add_zero_int", Op("add", x, Splat(is_zero)), lambda m, rw: m["x"], EXACT, "iu", doc="x + 0 -> x"),
    Rule("add_neg_zero", Op("add", x, Splat(is_neg_zero)), lambda m, rw: m["x"], EXACT, "f",
         doc="x + (-0.0) -> x"),
    Rule("add_zero", Op("add", x, Splat(is_pos_zero)), lambda m, rw: m["x"], NSZ, "f",
         doc="x + 0.0 -> x (for x = -0.0 the original gives +0.0)"),
    Rule("sub_zero", Op("sub", x, Splat(is_pos_zero)), lambda m, rw: m["x"], EXACT, "fiu",
         doc="x - 0 -> x (x - (+0.0) is x for every float, -0.0 included)"),
    Rule("sub_neg_zero", Op("sub", x, Splat(is_neg_zero)), lambda m, rw: m["x"], NSZ, "f",
         doc="x - (-0.0) -> x"),
    Rule("mul_zero_int", Op("mul", x, Splat(is_zero)), _zeros, EXACT, "iu", doc="x * 0 -> 0"),
    Rule("mul_zero", Op("mul", x, Splat(is_zero)), _zeros, FINITE, "f",
         doc="x * 0.0 -> 0.0 (wrong for NaN, inf and the sign of zero)"),
    Rule("sub_self_int", Op("sub", x, x), _zeros, EXACT, "iu", doc="x - x -> 0"),
    Rule("sub_self", Op("sub", x, x), _zeros, FINITE, "f", doc="x - x -> 0.0 (wrong for NaN and inf)"),
    Rule("div_self", Op("div", x, x), _ones, FINITE, "f", doc="x / x -> 1.0 (wrong for 0, NaN and inf)"),
    Rule("add_neg", Op("add", x, Op("neg", y)), lambda m, rw: rw.op("sub", m["x"], m["y"]), EXACT, "fi",
         doc="x + (-y) -> x - y (IEEE subtraction is addition of the negation)"),
    Rule("sub_neg", Op("sub", x, Op("neg", y)), lambda m, rw: rw.op("add", m["x"], m["y"]), EXACT, "fi",
         doc="x - (-y) -> x + y"),
    Rule("neg_neg", Op("neg", Op("neg", x)), lambda m, rw: m["x"], EXACT, doc="-(-x) -> x"),
    Rule("neg_mul_const", Op("neg", Op("mul", x, Splat(lambda v: True, "c"))), _neg_const, EXACT, "f",
         doc="-(x * c) -> x * (-c)"),
    Rule("mul_neg_neg", Op("mul", Op("neg", x), Op("neg", y)), lambda m, rw: rw.op("mul", m["x"], m["y"]),
         EXACT, "fi", doc="(-x) * (-y) -> x * y"),
    Rule("neg_sub", Op("neg", Op("sub", x, y)), lambda m, rw: rw.op("sub", m["y"], m["x"]), NSZ, "fi",
         doc="-(x - y) -> y - x (x == y gives +0.0 instead of -0.0)"),
    Rule("abs_neg", Op("abs", Op("neg", x)), lambda m, rw: rw.op("abs", m["x"]), EXACT, doc="|-x| -> |x|"),
    Rule("abs_abs", Op("abs", Op("abs", x)), lambda m, rw: rw.op("abs", m["x"]), EXACT, doc="||x|| -> |x|"),
    Rule("max_self", Op(("maximum", "minimum"), x, x), lambda m, rw: m["x"], EXACT,
         doc="max(x, x) -> x, min(x, x) -> x"),
    Rule("logic_self", Op(("logical_and", "logical_or", "bitwise_and", "bitwise_or"), x, x),
         lambda m, rw: m["x"], EXACT, doc="x & x -> x, x | x -> x"),
    Rule("not_not", Op("logical_not", Op("logical_not", x)), lambda m, rw: m["x"], EXACT, doc="!!x -> x"),
    Rule("bitnot_bitnot", Op("bitwise_not", Op("bitwise_not", x)), lambda m, rw: m["x"], EXACT,
         doc="~~x -> x"),
    # selection
    Rule("where_same", Op("where", c, x, x), lambda m, rw: m["x"], EXACT, doc="where(c, x, x) -> x"),
    Rule("where_true", Op("where", Splat(lambda v: bool(v)), x, y), lambda m, rw: m["x"], EXACT,
         doc="where(True, x, y) -> x"),
    Rule("where_false", Op("where", Splat(lambda v: not bool(v)), x, y), lambda m, rw: m["y"], EXACT,
         doc="where(False, x, y) -> y"),
    Rule("where_not", Op("where", Op("logical_not", c), x, y), lambda m, rw: rw.op("where", m["c"], m["y"], m["x"]),
         EXACT, doc="where(!c, x, y) -> where(c, y, x)"),
    # casts
    Rule("cast_same", Op("cast", x, where=lambda n: n.dtype is n.inputs[0].dtype), lambda m, rw: m["x"], EXACT,
         doc="cast to the dtype it has -> x"),
    Rule("cast_cast", Op("cast", Op("cast", x, name="inner")), _cast_cast, EXACT,
         doc="cast(cast(x, t1), t2) -> cast(x, t2) when the first cast loses nothing and the second "
             "converts the same way (see cast_chain_exact)"),
    # movement
    Rule("reshape_same", Op("reshape", x, where=lambda n: _same(n.shape, n.inputs[0].shape)),
         lambda m, rw: m["x"], EXACT, doc="reshape to the shape it has -> x"),
    Rule("reshape_reshape", Op("reshape", Op("reshape", x)),
         lambda m, rw: rw.op("reshape", m["x"], shape=tuple(m["root"].shape)), EXACT,
         doc="reshape(reshape(x)) -> reshape(x)"),
    Rule("permute_identity", Op("permute", x, where=lambda n: tuple(n.attrs["perm"]) == tuple(range(n.ndim))),
         lambda m, rw: m["x"], EXACT, doc="permute by the identity -> x"),
    Rule("permute_permute", Op("permute", Op("permute", x, name="inner")), _permute_permute, EXACT,
         doc="permute(permute(x, p1), p2) -> permute(x, p1[p2])"),
    Rule("broadcast_same", Op("broadcast_to", x, where=lambda n: _same(n.shape, n.inputs[0].shape)),
         lambda m, rw: m["x"], EXACT, doc="broadcast to the shape it has -> x"),
    Rule("broadcast_broadcast", Op("broadcast_to", Op("broadcast_to", x)),
         lambda m, rw: rw.op("broadcast_to", m["x"], shape=tuple(m["root"].shape)), EXACT,
         doc="broadcast_to(broadcast_to(x)) -> broadcast_to(x)"),
    Rule("slice_full", Op("slice", x, where=_is_full_slice), lambda m, rw: m["x"], EXACT,
         doc="a slice covering everything -> x"),
    Rule("slice_slice", Op("slice", Op("slice", x, name="inner")), _slice_slice, EXACT,
         doc="slice(slice(x)) -> one slice"),
    Rule("pad_none", Op("pad", x, where=lambda n: all(lo == 0 and hi == 0 for lo, hi in n.attrs["widths"])),
         lambda m, rw: m["x"], EXACT, doc="pad by nothing -> x"),
    Rule("flip_trivial", Op("flip", x, where=_flip_trivial), lambda m, rw: m["x"], EXACT,
         doc="flip along no axis of size > 1 -> x"),
    Rule("flip_flip", Op("flip", Op("flip", x, name="inner")), _flip_flip, EXACT,
         doc="flip(flip(x, a), b) -> flip(x, a xor b)"),
    Rule("concat_one", Op("concat", x), lambda m, rw: m["x"], EXACT, doc="concat of one value -> it"),
    Rule("moved_splat", _MovedSplat(), _moved_splat, EXACT,
         doc="reshape/permute/slice/flip/pad/broadcast of a broadcast scalar -> the scalar broadcast"),
    Rule("over_broadcasts", _OverBroadcasts(), _over_broadcasts, EXACT,
         doc="op(broadcast(a), broadcast(b)) -> broadcast(op(a, b)) for a, b of one shape"),
    Rule("reduce_unit_axes", Op(("reduce_sum", "reduce_max", "reduce_min", "reduce_prod"), x,
                                where=_reduce_unit_axes),
         lambda m, rw: rw.op("reshape", m["x"], shape=tuple(m["root"].shape)), EXACT,
         doc="a reduction over axes of size 1 -> reshape"),
    # transposes folded through matmul: (A^T B^T) = (B A)^T and its variants
    Rule("matmul_tt", Op("matmul", T(x), T(y)),
         lambda m, rw: transpose(rw, rw.op("matmul", m["y"], m["x"])), EXACT, "fiu",
         doc="matmul(a^T, b^T) -> matmul(b, a)^T"),
    Rule("t_matmul_t_left", T(Op("matmul", T(x), y)),
         lambda m, rw: rw.op("matmul", transpose(rw, m["y"]), m["x"]), EXACT, "fiu",
         doc="matmul(a^T, b)^T -> matmul(b^T, a)"),
    Rule("t_matmul_t_right", T(Op("matmul", x, T(y))),
         lambda m, rw: rw.op("matmul", m["y"], transpose(rw, m["x"])), EXACT, "fiu",
         doc="matmul(a, b^T)^T -> matmul(b, a^T)"),
]


def simplify(graph: Graph, safety: frozenset[str] = DEFAULT_SAFETY) -> Graph:
    """Apply the algebraic rules (and constant folding) to a fixed point."""
    return rewrite(graph, [*RULES, *FOLD_RULES], safety)

