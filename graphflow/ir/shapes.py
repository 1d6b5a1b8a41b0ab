"""Shapes: tuples of sizes (ints, or `Sym` for static placeholders' unknown sizes)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from math import prod

from graphflow.errors import ShapeError
from graphflow.ir.symbolic import Dim, Sym

Shape = tuple[Dim, ...]


def fmt(shape: Sequence[Dim]) -> str:
    """Shape as users read it: (3, 4), (s0, 784)."""
    inner = ", ".join(str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def broadcast_shapes(*shapes: Sequence[Dim], op: str = "broadcast") -> Shape:
    """NumPy/PyTorch broadcasting. A symbolic size meeting a concrete size > 1 takes the concrete
    size (checked again once the graph is specialised)."""
    ndim = max((len(s) for s in shapes), default=0)
    out: list[Dim] = []
    for i in range(-ndim, 0):
        dim: Dim = 1
        for s in shapes:
            if len(s) < -i:
                continue
            d = s[i]
            if d == 1 or d == dim:
                continue
            if dim == 1:
                dim = d
            elif isinstance(d, Sym) and not isinstance(dim, Sym):
                continue
            elif isinstance(dim, Sym) and not isinstance(d, Sym):
                dim = d
            elif isinstance(dim, Sym) and isinstance(d, Sym):
                continue
            else:
                raise ShapeError(
                    f"{op}: shapes {' and '.join(fmt(s) for s in shapes)} cannot be broadcast together "
                    f"(size {dim} against {d} at dimension {i})"
                )
        out.append(dim)
    return tuple(out)


def normalize_axis(axis: int, ndim: int, op: str = "op") -> int:
    if not isinstance(axis, int):
        raise TypeError(f"{op}: axis must be an int, got {type(axis).__name__}")
    lo = -max(ndim, 1)
    hi = max(ndim, 1) - 1
    if not lo <= axis <= hi:
        raise IndexError(f"{op}: dimension {axis} out of range for a tensor of {ndim} dimensions "
                         f"(expected in [{lo}, {hi}])")
    return axis % max(ndim, 1) if ndim else 0


def normalize_axes(axes: int | Iterable[int] | None, ndim: int, op: str = "op") -> tuple[int, ...]:
    """Axes as a sorted tuple of non-negative ints; None means every axis."""
    if axes is None:
        return tuple(range(ndim))
    if isinstance(axes, int):
        axes = (axes,)
    norm = tuple(sorted({normalize_axis(a, ndim, op) for a in axes}))
    if len(norm) != len(tuple(axes)):
        raise ValueError(f"{op}: repeated dimension in {tuple(axes)}")
    return norm


def numel(shape: Sequence[Dim]) -> Dim:
    return prod(shape, start=1)


def is_concrete(shape: Sequence[Dim]) -> bool:
    return all(isinstance(d, int) for d in shape)


def check_shape(shape: object, op: str = "op") -> Shape:
    """Validate a user-given shape (ints >= 0, or Sym)."""
    if isinstance(shape, int):
        shape = (shape,)
    try:
        dims = tuple(shape)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{op}: shape must be a sequence of ints, got {shape!r}") from None
    for d in dims:
        if isinstance(d, Sym):
            continue
        if isinstance(d, bool) or not isinstance(d, int) and not hasattr(d, "__index__"):
            raise TypeError(f"{op}: shape must be a sequence of ints, got {shape!r}")
        if int(d) < 0:
            raise ShapeError(f"{op}: negative size {int(d)} in shape {shape!r}")
    return tuple(d if isinstance(d, Sym) else int(d) for d in dims)
