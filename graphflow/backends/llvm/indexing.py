"""Index expressions for kernel emission: affine forms over loop variables with integer
coefficients. Movement ops become index maths on them; keeping them symbolic lets reshapes of
contiguous values cost nothing (divmod of `i*C + j` by C splits exactly) and gives equal
element positions equal keys, which is how reduced row values are found again."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import llvmlite.ir as ir

from graphflow.backends.llvm.emit import I64, const

_uids = itertools.count()


class Unsupported(Exception):
    """A kernel shape this emitter does not handle; the planner splits the kernel instead."""


class Var:
    """An i64 value in [0, extent) (extent None: unknown)."""

    __slots__ = ("uid", "value", "extent")

    def __init__(self, value: ir.Value, extent: int | None):
        self.uid = next(_uids)
        self.value = value
        self.extent = extent


class Aff:
    """const + sum(coeff * var)."""

    __slots__ = ("terms", "const")

    def __init__(self, terms: Sequence[tuple[Var, int]] = (), c: int = 0):
        merged: dict[int, list] = {}
        for v, k in terms:
            if v.uid in merged:
                merged[v.uid][1] += k
            else:
                merged[v.uid] = [v, k]
        self.terms = tuple((v, k) for v, k in sorted(merged.values(), key=lambda t: t[0].uid) if k)
        self.const = c

    @staticmethod
    def var(v: Var) -> Aff:
        return Aff(((v, 1),))

    def __add__(self, other: Aff | int) -> Aff:
        if isinstance(other, int):
            return Aff(self.terms, self.const + other)
        return Aff(self.terms + other.terms, self.const + other.const)

    def scale(self, k: int) -> Aff:
        return Aff(tuple((v, c * k) for v, c in self.terms), self.const * k)

    def key(self) -> tuple:
        return tuple((v.uid, k) for v, k in self.terms), self.const

    def bounds(self) -> tuple[int, int] | None:
        """Inclusive (lo, hi), or None when a variable's extent is unknown."""
        lo = hi = self.const
        for v, k in self.terms:
            if v.extent is None:
                return None
            top = k * max(v.extent - 1, 0)
            lo, hi = lo + min(0, top), hi + max(0, top)
        return lo, hi

    def emit(self, b: ir.IRBuilder) -> ir.Value:
        acc: ir.Value | None = None
        for v, k in self.terms:
            t = v.value if k == 1 else b.mul(v.value, const(I64, k))
            acc = t if acc is None else b.add(acc, t)
        if acc is None:
            return const(I64, self.const)
        return acc if self.const == 0 else b.add(acc, const(I64, self.const))


def aff_divmod(b: ir.IRBuilder, a: Aff, d: int) -> tuple[Aff, Aff]:
    """(a // d, a % d) for a >= 0: exact symbolic split when possible, else udiv/urem."""
    if d == 1:
        return a, Aff()
    q_terms, r_terms = [], []
    for v, k in a.terms:
        (q_terms if k % d == 0 else r_terms).append((v, k // d if k % d == 0 else k))
    rest = Aff(r_terms, a.const % d)
    bounds = rest.bounds()
    if bounds is not None and bounds[0] >= 0 and bounds[1] < d:
        return Aff(q_terms, a.const // d), rest
    value = a.emit(b)
    hi = a.bounds()
    q = Var(b.udiv(value, const(I64, d)), None if hi is None else hi[1] // d + 1)
    r = Var(b.urem(value, const(I64, d)), d)
    return Aff.var(q), Aff.var(r)


def strides_of(shape: Sequence[int]) -> list[int]:
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return out[::-1]


class Index:
    """The position of one element of a value of `shape`: per-dimension forms and/or the linear
    (row-major) form; whichever is missing is derived on demand."""

    __slots__ = ("shape", "_dims", "_lin")

    def __init__(self, shape: Sequence[int], dims: Sequence[Aff] | None = None, lin: Aff | None = None):
        self.shape = tuple(shape)
        if not self.shape and dims is None and lin is None:
            dims, lin = (), Aff()
        self._dims = None if dims is None else tuple(dims)
        self._lin = lin

    def lin(self) -> Aff:
        if self._lin is None:
            acc = Aff()
            for dim, s in zip(self._dims, strides_of(self.shape)):
                acc = acc + dim.scale(s)
            self._lin = acc
        return self._lin

    def dims(self, b: ir.IRBuilder) -> tuple[Aff, ...]:
        if self._dims is None and 0 in self.shape:
            # a value with no elements: the loops reaching this index never run
            self._dims = tuple(Aff() for _ in self.shape)
        if self._dims is None:
            rest = self._lin
            out: list[Aff] = []
            for d in reversed(self.shape[1:]):
                rest, r = aff_divmod(b, rest, d)
                out.append(r)
            if self.shape:
                out.append(rest)
            self._dims = tuple(reversed(out))
        return self._dims

    def key(self) -> tuple:
        return self.lin().key()
