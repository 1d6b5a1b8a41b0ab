"""Symbolic sizes for static graphs.

A placeholder declared with `None` in its shape gets a fresh symbol for that dimension. Shapes
derived from it stay symbolic as monomials (`s0`, `784*s0`, `s0/2`): enough for flatten, reshape
with -1, means over symbolic axes and broadcasting. Before a graph is compiled it is specialised:
the symbols are bound from the shapes actually fed and every symbolic attribute is evaluated.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

_counter = itertools.count()


class Sym:
    """coeff * prod(atom ** exp): a symbolic size. Immutable and hashable."""

    __slots__ = ("coeff", "factors", "_hash")

    def __init__(self, coeff: Fraction | int, factors: tuple[tuple[str, int], ...]):
        self.coeff = Fraction(coeff)
        self.factors = tuple(sorted((a, e) for a, e in factors if e != 0))
        self._hash = hash((self.coeff, self.factors))

    @staticmethod
    def fresh(hint: str = "s") -> Sym:
        return Sym(1, ((f"{hint}{next(_counter)}", 1),))

    def _combine(self, other: object, sign: int) -> Dim:
        if isinstance(other, int):
            if other == 0 and sign < 0:
                raise ZeroDivisionError("symbolic size divided by zero")
            coeff = self.coeff * other if sign > 0 else self.coeff / other
            return _simplify(coeff, self.factors)
        if isinstance(other, Sym):
            exps = dict(self.factors)
            for a, e in other.factors:
                exps[a] = exps.get(a, 0) + sign * e
            coeff = self.coeff * other.coeff if sign > 0 else self.coeff / other.coeff
            return _simplify(coeff, tuple(exps.items()))
        return NotImplemented

    def __mul__(self, other: object) -> Dim:
        return self._combine(other, 1)

    def __add__(self, other: object) -> Dim:
        """Sums stay monomials: adding 0 or a like term (s0 + s0 = 2*s0); anything else is an error."""
        if isinstance(other, int) and not isinstance(other, bool):
            if other == 0:
                return self
        elif isinstance(other, Sym) and other.factors == self.factors:
            return _simplify(self.coeff + other.coeff, self.factors)
        elif not isinstance(other, Sym):
            return NotImplemented
        raise ValueError(f"the symbolic sizes {self} and {other} cannot be added: "
                         "a size derived from an unknown dimension must be a multiple of it")

    __radd__ = __add__

    def __sub__(self, other: object) -> Dim:
        if isinstance(other, Sym):
            return self + Sym(-other.coeff, other.factors)
        if isinstance(other, int):
            return self + (-other)
        return NotImplemented

    def __rsub__(self, other: object) -> Dim:
        return Sym(-self.coeff, self.factors) + other

    __rmul__ = __mul__

    def __floordiv__(self, other: object) -> Dim:
        return self._combine(other, -1)

    __truediv__ = __floordiv__

    def __rfloordiv__(self, other: object) -> Dim:
        if isinstance(other, int):
            return _simplify(Fraction(other) / self.coeff, tuple((a, -e) for a, e in self.factors))
        return NotImplemented

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sym) and self.coeff == other.coeff and self.factors == other.factors

    def __hash__(self) -> int:
        return self._hash

    def atoms(self) -> tuple[str, ...]:
        return tuple(a for a, _ in self.factors)

    def evaluate(self, bindings: dict[str, int]) -> int:
        value = self.coeff
        for a, e in self.factors:
            if a not in bindings:
                raise KeyError(a)
            value *= Fraction(bindings[a]) ** e
        if value.denominator != 1:
            raise ValueError(f"symbolic size {self} evaluates to the non-integer {value}")
        return int(value)

    def __repr__(self) -> str:
        parts = [f"{a}^{e}" if e != 1 else a for a, e in self.factors]
        body = "*".join(parts)
        if self.coeff == 1:
            return body
        return f"{self.coeff}*{body}"


Dim = int | Sym


def _simplify(coeff: Fraction, factors: tuple[tuple[str, int], ...]) -> Dim:
    factors = tuple((a, e) for a, e in factors if e != 0)
    if not factors or coeff == 0:
        if coeff.denominator != 1:
            raise ValueError(f"symbolic size arithmetic gave a fraction {coeff}")
        return int(coeff)
    return Sym(coeff, factors)


def is_symbolic(dim: object) -> bool:
    return isinstance(dim, Sym)


def substitute(value: object, bindings: dict[str, int]) -> object:
    """Evaluate every Sym inside a (possibly nested tuple) attribute value."""
    if isinstance(value, Sym):
        return value.evaluate(bindings)
    if isinstance(value, tuple):
        return tuple(substitute(v, bindings) for v in value)
    return value


def contains_symbol(value: object) -> bool:
    if isinstance(value, Sym):
        return True
    if isinstance(value, tuple):
        return any(contains_symbol(v) for v in value)
    return False
