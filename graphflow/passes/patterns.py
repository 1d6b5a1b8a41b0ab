"""A small pattern language for local rewrites, and the safety classes rules are filed under.

A rule is `pattern -> replacement`: the pattern is a tree of `Op`, `Var` and `Splat` matchers over
the graph, the replacement a function of the bindings that builds new nodes. Matching recurses
over the *pattern* (a few levels deep), never over the graph.

Safety classes (which rules a pipeline may use):

- EXACT: the result is bit-identical for every input, NaN, +-inf and signed zeros included.
- STABLE: NaN and +-inf are produced exactly where the original produces them, signed zeros are
  kept, and finite results differ only by rounding, in the direction of the exact value; where
  the original overflowed to inf or 0/0 on its way to a finite answer, the rewrite gives the
  finite answer (that is the point of the stability rewrites).
- NSZ ("no signed zeros"): exact except that -0.0 may become +0.0 (e.g. `x + 0.0 -> x`).
- FINITE: assumes no NaN or inf (e.g. `x * 0 -> 0`, `x - x -> 0` on floats).

The default pipeline uses EXACT and STABLE only; `fast_math=True` adds NSZ and FINITE.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphflow.ir.graph import Node
from graphflow.ir.shapes import numel

EXACT = "exact"
STABLE = "stable"
NSZ = "no-signed-zeros"
FINITE = "finite-math"
DEFAULT_SAFETY: frozenset[str] = frozenset({EXACT, STABLE})
FAST_MATH: frozenset[str] = frozenset({EXACT, STABLE, NSZ, FINITE})

COMMUTATIVE = frozenset({"add", "mul", "maximum", "minimum", "eq", "ne", "logical_and", "logical_or",
                         "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor"})

_SPLAT_SCAN_LIMIT = 4096  # constants larger than this are not scanned for "all elements equal"

Bindings = dict[str, Node]

# ids of the graph's inputs while a rewrite runs: they are leaves whose producers are not fed, so
# a pattern must never look through them
LEAF_IDS: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar("LEAF_IDS", default=frozenset())


def splat_value(node: Node) -> Any | None:
    """The single value of a node whose elements are all equal and known at compile time (a
    constant, or a broadcast / reshape of one), as a NumPy scalar of the node's dtype; else None."""
    seen = 0
    leaves = LEAF_IDS.get()
    while node.op.name in ("broadcast_to", "reshape") and seen < 8 and node.id not in leaves:
        node = node.inputs[0]
        seen += 1
    if node.op.name != "constant":
        return None
    arr = node.attrs["value"].array
    if arr.size == 0 or arr.size > _SPLAT_SCAN_LIMIT:
        return None
    first = arr.reshape(-1)[0]
    if arr.size > 1:
        flat = arr.reshape(-1)
        same = flat == first
        if arr.dtype.kind == "f":
            same = same & (np.signbit(flat) == np.signbit(first)) | (np.isnan(flat) & np.isnan(first))
        if not bool(np.all(same)):
            return None
    return first


def scalar_source(node: Node) -> Node | None:
    """For a splat `broadcast_to(s)` with one-element `s`, the node `s`; else None."""
    if node.op.name == "broadcast_to" and node.id not in LEAF_IDS.get():
        src = node.inputs[0]
        if isinstance(numel(src.shape), int) and numel(src.shape) == 1:
            return src
    return None


class Pattern:
    def match(self, node: Node, b: Bindings) -> Bindings | None:
        raise NotImplementedError

    @property
    def roots(self) -> tuple[str, ...] | None:
        """Op names a matching node can have (None: any)."""
        return None


class Var(Pattern):
    """Matches any node (optionally passing `pred`); a name used twice must bind the same node."""

    def __init__(self, name: str, pred: Callable[[Node], bool] | None = None):
        self.name, self.pred = name, pred

    def match(self, node: Node, b: Bindings) -> Bindings | None:
        if self.name in b:
            return b if b[self.name] is node else None
        if self.pred is not None and not self.pred(node):
            return None
        out = dict(b)
        out[self.name] = node
        return out


class Splat(Pattern):
    """Matches a compile-time splat whose value passes `pred(value)`."""

    def __init__(self, pred: Callable[[Any], bool], name: str | None = None):
        self.pred, self.name = pred, name

    def match(self, node: Node, b: Bindings) -> Bindings | None:
        v = splat_value(node)
        if v is None:
            return None
        with np.errstate(all="ignore"):
            ok = bool(self.pred(v))
        if not ok:
            return None
        if self.name is None:
            return b
        out = dict(b)
        out[self.name] = node
        return out


class Op(Pattern):
    """Matches a node of op `op` (a name or a set of names) whose inputs match `args`, and whose
    attributes pass `where(attrs)`. Binary commutative ops also try their operands swapped."""

    def __init__(self, op: str | Iterable[str], *args: Pattern, name: str | None = None,
                 where: Callable[[Node], bool] | None = None):
        self.ops = (op,) if isinstance(op, str) else tuple(op)
        self.args, self.name, self.where = args, name, where

    @property
    def roots(self) -> tuple[str, ...]:
        return self.ops

    def match(self, node: Node, b: Bindings) -> Bindings | None:
        if node.op.name not in self.ops or len(node.inputs) != len(self.args) or node.id in LEAF_IDS.get():
            return None
        if self.where is not None and not self.where(node):
            return None
        if self.name is not None:
            b = Var(self.name).match(node, b)
            if b is None:
                return None
        out = _match_all(self.args, node.inputs, b)
        if out is None and len(self.args) == 2 and node.op.name in COMMUTATIVE:
            out = _match_all(self.args, node.inputs[::-1], b)
        return out


def _match_all(pats: tuple[Pattern, ...], nodes: tuple[Node, ...], b: Bindings) -> Bindings | None:
    for p, n in zip(pats, nodes):
        b = p.match(n, b)
        if b is None:
            return None
    return b


@dataclass(frozen=True)
class Rule:
    """pattern -> replacement. `build(m, ctx)` gets the bindings (the matched root is `m["root"]`)
    and returns the replacement node, or None when a side condition fails. `kinds` limits the
    root's dtype kinds ("f" float, "i"/"u" ints, "b" bool)."""

    name: str
    pattern: Pattern
    build: Callable[..., Node | None]
    safety: str = EXACT
    kinds: str = "biuf"
    doc: str = ""
    roots: tuple[str, ...] | None = field(default=None)

    def root_ops(self) -> tuple[str, ...] | None:
        return self.roots if self.roots is not None else self.pattern.roots


# --- small predicates shared by rule tables -------------------------------------------------

def is_one(v: Any) -> bool:
    return v == 1


def is_neg_one(v: Any) -> bool:
    return v == -1


def is_zero(v: Any) -> bool:
    return v == 0


def is_pos_zero(v: Any) -> bool:
    return v == 0 and not np.signbit(v)


def is_neg_zero(v: Any) -> bool:
    return v == 0 and bool(np.signbit(v))


def is_true(v: Any) -> bool:
    return bool(v) is True and v == 1


def is_false(v: Any) -> bool:
    return v == 0


def is_two(v: Any) -> bool:
    return v == 2


def is_three(v: Any) -> bool:
    return v == 3


def is_pow2(v: Any) -> bool:
    """A power of two whose reciprocal is a normal number of the same dtype (so x / v == x * (1/v)
    exactly)."""
    if not isinstance(v, np.floating) or not np.isfinite(v) or v == 0:
        return False
    mant, _ = np.frexp(np.abs(np.float64(v)))
    if mant != 0.5:
        return False
    inv = (np.asarray(1, dtype=v.dtype) / v)
    return bool(np.isfinite(inv)) and abs(float(inv)) >= float(np.finfo(v.dtype).tiny)


def static_numel(node: Node) -> int | None:
    n = numel(node.shape)
    return n if isinstance(n, int) else None
