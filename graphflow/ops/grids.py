"""Coordinate grids (PyTorch's semantics): `meshgrid` and `cartesian_prod`, broadcasts of 1-D
tensors."""

from __future__ import annotations

from typing import Any

from graphflow.errors import DTypeError, ShapeError
from graphflow.ir.shapes import fmt
from graphflow.ops.shape import reshape, stack
from graphflow.ops.values import as_value, broadcast_to, is_value

__all__ = ["meshgrid", "cartesian_prod"]


def _vectors(tensors: tuple, op: str) -> list[Any]:
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise ValueError(f"{op}: expects at least one tensor")
    like = next((t for t in tensors if is_value(t)), None)
    values = [as_value(t, like) for t in tensors]
    for i, v in enumerate(values):
        if len(v.shape) > 1:
            raise ShapeError(f"{op}: expects 0-D or 1-D tensors, got tensor {i} of shape {fmt(v.shape)}")
    if len({v.dtype for v in values}) > 1:
        raise DTypeError(f"{op}: expects all tensors to have the same dtype, got "
                         f"{', '.join(v.dtype.name for v in values)}")
    return [reshape(v, (1,)) if not v.shape else v for v in values]


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple:
    """Grids of N 1-D tensors: output k holds tensors[k] along dimension k and is broadcast over
    the others; indexing='xy' swaps the first two dimensions (Cartesian, as NumPy's default)."""
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    values = _vectors(tensors, "meshgrid")
    lengths = [v.shape[0] for v in values]
    axes = list(range(len(values)))
    if indexing == "xy" and len(values) >= 2:
        axes[0], axes[1] = 1, 0
    shape = [0] * len(values)
    for k, axis in enumerate(axes):
        shape[axis] = lengths[k]
    out = []
    for k, (v, axis) in enumerate(zip(values, axes)):
        line = tuple(lengths[k] if d == axis else 1 for d in range(len(values)))
        out.append(broadcast_to(reshape(v, line), tuple(shape)))
    return tuple(out)


def cartesian_prod(*tensors: Any) -> Any:
    """Every combination of one element of each 1-D tensor, as rows (n1*n2*..., N); one tensor
    is returned as it is (torch.cartesian_prod)."""
    values = _vectors(tensors, "cartesian_prod")
    if len(values) == 1:
        return values[0]
    grids = meshgrid(*values, indexing="ij")
    return stack([reshape(g, (-1,)) for g in grids], 1)
