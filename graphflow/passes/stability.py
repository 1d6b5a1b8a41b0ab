"""Stability rewrites: formulas that overflow or lose precision are replaced by equivalent ones
that do not (PyTensor's log-softmax, softplus and log1p rewrites).

All rules are in the STABLE class: NaN and +-inf appear exactly where the original produces them,
signed zeros are kept (hence the `+ 0.0` after `log1p`/`expm1`: `log(1 + -0.0)` is +0.0 while
`log1p(-0.0)` is -0.0), and where the original overflowed on its way to a finite answer (a logit of
1000) the rewrite gives the finite answer.

Gradients: run this pass on a forward graph *before* differentiating it (the pipeline does, for
graphs it is given; `graphflow.autodiff.grad` then differentiates the stable form), so for logits of
+-1000 the gradients of `log(softmax(x))`, `log(sigmoid(x))` and cross-entropy stay finite.
"""

from __future__ import annotations

import numpy as np

from graphflow.ir.graph import Graph, Node
from graphflow.passes.patterns import STABLE, Op, Pattern, Rule, Splat, Var, is_one, is_three
from graphflow.passes.rewrite import Rewriter, rewrite

x, z = Var("x"), Var("z")


def _plus_zero(rw: Rewriter, v: Node) -> Node:
    """v + 0.0: the same value, except that -0.0 becomes +0.0 (what the replaced formula gave)."""
    return rw.op("add", v, rw.splat(0.0, v))


def _log1p_exp_neg_abs(rw: Rewriter, v: Node) -> Node:
    """log1p(exp(-|v|)): in [0, log 2], never overflows."""
    return rw.op("log1p", rw.op("exp", rw.op("neg", rw.op("abs", v))))


def log_sigmoid(rw: Rewriter, v: Node) -> Node:
    """log(sigmoid(v)) = min(v, 0) - log1p(exp(-|v|))."""
    return rw.op("sub", rw.op("minimum", v, rw.splat(0.0, v)), _log1p_exp_neg_abs(rw, v))


def softplus(rw: Rewriter, v: Node) -> Node:
    """log(1 + exp(v)) = max(v, 0) + log1p(exp(-|v|))."""
    return rw.op("add", rw.op("maximum", v, rw.splat(0.0, v)), _log1p_exp_neg_abs(rw, v))


def _is_neg_abs(node: Node) -> bool:
    return node.op.name == "neg" and node.inputs[0].op.name == "abs"


def _reduce_axes(node: Node) -> tuple[int, ...]:
    axes = node.attrs["axes"]
    return tuple(range(node.inputs[0].ndim)) if axes is None else tuple(axes)


def is_max_shifted(arg: Node, axes: tuple[int, ...]) -> bool:
    """`arg` is `a - broadcast(max(a over axes))`, possibly with the max guarded by a `where` (as
    logsumexp does, either way round) or reshaped: its exp cannot overflow."""
    if arg.op.name != "sub" or arg.inputs[1].op.name != "broadcast_to":
        return False
    a = arg.inputs[0]
    stack, steps = [arg.inputs[1].inputs[0]], 0
    while stack and steps < 8:
        m = stack.pop()
        steps += 1
        if m.op.name == "where":
            stack.extend(m.inputs[1:])
        elif m.op.name == "reshape":
            stack.append(m.inputs[0])
        elif m.op.name == "reduce_max" and m.inputs[0] is a and _reduce_axes(m) == axes:
            return True
    return False


class _NaiveLogSumExp(Pattern):
    """log(reduce_sum(exp(v))) where v is not already shifted by its maximum."""

    roots = ("log",)

    def match(self, node: Node, bnd):
        s = node.inputs[0]
        if s.op.name != "reduce_sum" or s.inputs[0].op.name != "exp":
            return None
        v = s.inputs[0].inputs[0]
        axes = _reduce_axes(s)
        if is_max_shifted(v, axes) or any(v.shape[a] == 0 for a in axes):
            return None
        return {**bnd, "v": v, "axes": axes, "keepdims": s.attrs["keepdims"]}


def _stable_logsumexp(m, rw: Rewriter) -> Node:
    v, axes, root = m["v"], m["axes"], m["root"]
    mx = rw.op("reduce_max", v, axes=axes, keepdims=True)
    # a row of all -inf (or one holding +inf) would give inf - inf: shift by 0 there instead
    finite = rw.op("logical_not", rw.op("eq", rw.op("abs", mx), rw.splat(np.inf, mx)))
    mx = rw.op("where", finite, mx, rw.splat(0.0, mx))
    shifted = rw.op("sub", v, rw.op("broadcast_to", mx, shape=tuple(v.shape)))
    s = rw.op("reduce_sum", rw.op("exp", shifted), axes=axes, keepdims=True)
    out = rw.op("add", rw.op("log", s), mx)
    return out if out.shape == root.shape else rw.op("reshape", out, shape=tuple(root.shape))


def nonnegative(node: Node) -> bool:
    """Known >= 0 (or NaN) by construction: exp, sums and broadcasts of such values. (A negative
    denominator must stay: log(exp(z) / b) is NaN there, and z - log(b) would be too, except where
    exp(z) underflows to 0 and log(-0.0) gives -inf.)"""
    for _ in range(8):
        if node.op.name in ("exp", "sigmoid"):
            return True
        if node.op.name in ("broadcast_to", "reshape", "reduce_sum"):
            node = node.inputs[0]
            continue
        return False
    return False


def _log_of_exp_ratio(m, rw: Rewriter) -> Node:
    """log(exp(z) / b) -> z - log(b), with log moved inside a broadcast of b."""
    den = m["b"]
    if den.op.name == "broadcast_to":
        log_den = rw.op("broadcast_to", rw.op("log", den.inputs[0]), shape=tuple(den.shape))
    else:
        log_den = rw.op("log", den)
    return rw.op("sub", m["z"], log_den)


def _one_plus(inner: Pattern) -> Op:
    return Op("add", Splat(is_one), inner)


# order matters where patterns overlap: the first rule that matches wins
RULES: list[Rule] = [
    # x*x*x rounds twice where pow rounds once (within 1 ulp); NaN, +-inf, signed zeros and
    # overflow agree (x*x cannot overflow unless x**3 does), and it vectorises where pow is a call
    Rule("pow_three", Op("pow", x, Splat(is_three)), lambda m, rw: rw.op("mul", rw.op("mul", m["x"], m["x"]), m["x"]),
         STABLE, "f", doc="x ** 3 -> x * x * x"),
    Rule("log_exp", Op("log", Op("exp", x)), lambda m, rw: _plus_zero(rw, m["x"]), STABLE, "f",
         doc="log(exp(x)) -> x (+ 0.0 to keep log(exp(-0.0)) = +0.0)"),
    Rule("exp_log", Op("exp", Op("log", x)),
         lambda m, rw: rw.op("where", rw.op("lt", m["x"], rw.splat(0.0, m["x"])), rw.splat(np.nan, m["x"]),
                             rw.op("abs", m["x"])), STABLE, "f",
         doc="exp(log(x)) -> where(x < 0, NaN, |x|) (x itself for x >= 0, NaN where log was NaN)"),
    Rule("log1p", Op("log", _one_plus(x)), lambda m, rw: _plus_zero(rw, rw.op("log1p", m["x"])), STABLE, "f",
         doc="log(1 + x) -> log1p(x)"),
    Rule("log_one_minus_sigmoid", Op("log", Op("sub", Splat(is_one), Op("sigmoid", x))),
         lambda m, rw: log_sigmoid(rw, rw.op("neg", m["x"])), STABLE, "f",
         doc="log(1 - sigmoid(x)) -> log(sigmoid(-x))"),
    Rule("log1p_sub", Op("log", Op("sub", Splat(is_one), x)),
         lambda m, rw: _plus_zero(rw, rw.op("log1p", rw.op("neg", m["x"]))), STABLE, "f",
         doc="log(1 - x) -> log1p(-x)"),
    Rule("expm1", Op("sub", Op("exp", x), Splat(is_one)), lambda m, rw: _plus_zero(rw, rw.op("expm1", m["x"])),
         STABLE, "f", doc="exp(x) - 1 -> expm1(x)"),
    Rule("log_sigmoid", Op("log", Op("sigmoid", x)), lambda m, rw: log_sigmoid(rw, m["x"]), STABLE, "f",
         doc="log(sigmoid(x)) -> -softplus(-x) = min(x, 0) - log1p(exp(-|x|))"),
    Rule("softplus", Op("log1p", Op("exp", Var("x", lambda n: not _is_neg_abs(n)))),
         lambda m, rw: softplus(rw, m["x"]), STABLE, "f",
         doc="log1p(exp(x)) -> max(x, 0) + log1p(exp(-|x|))"),
    Rule("log_softmax", Op("log", Op("div", Op("exp", z), Var("b", nonnegative))), _log_of_exp_ratio, STABLE, "f",
         doc="log(exp(z) / b) -> z - log(b): log(softmax(x)) becomes x - max - log(sum(exp(x - max)))"),
    Rule("logsumexp", _NaiveLogSumExp(), _stable_logsumexp, STABLE, "f",
         doc="log(sum(exp(x))) -> max + log(sum(exp(x - max))) (cross-entropy on logits)"),
    Rule("sqrt_square", Op("sqrt", Op("mul", x, x)), lambda m, rw: rw.op("abs", m["x"]), STABLE, "f",
         doc="sqrt(x * x) -> |x| (x * x overflows for |x| > 1e154)"),
]


def stabilize(graph: Graph) -> Graph:
    """Apply the stability rewrites to a fixed point."""
    return rewrite(graph, RULES)
