"""Triangles and diagonals of matrices (PyTorch's semantics): `tril`, `triu`, `diag`, `diag_embed`,
`diagonal`, `trace`, and `band`, the mask they share (TF's band_part). Masks are built from positions
(`iota` in graphs), so matrix sizes may be symbolic; `diagonal` reads elements with a strided
slice of the flattened matrix and needs concrete sizes of the two dimensions it reads."""

from __future__ import annotations

from typing import Any

from graphflow.errors import ShapeError
from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.shapes import fmt, normalize_axis
from graphflow.ops.reductions import sum as _sum
from graphflow.ops.shape import pad, permute, reshape, slice_axis
from graphflow.ops.values import as_value, broadcast_to

__all__ = ["tril", "triu", "diag", "diag_embed", "diagonal", "trace"]


def _offsets(x: Any) -> Any:
    """col - row over the last two dimensions of x, an int64 (rows, cols) value."""
    n, m = x.shape[-2], x.shape[-1]
    rows = reshape(B.positions(n, x), (n, 1))
    cols = reshape(B.positions(m, x), (1, m))
    shape = (n, m)
    return bind("sub", broadcast_to(cols, shape), broadcast_to(rows, shape))


def _keep(x: Any, mask: Any) -> Any:
    """x where mask (broadcast over x's leading dimensions), else 0."""
    return bind("where", broadcast_to(mask, tuple(x.shape)), x, B.zeros_like(x))


def _matrix(x: Any, op: str) -> Any:
    x = as_value(x)
    if len(x.shape) < 2:
        raise ShapeError(f"{op}: input tensor must have at least 2 dimensions, got {fmt(x.shape)}")
    return x


def _offset(diagonal: Any, op: str) -> int:
    if isinstance(diagonal, bool) or not isinstance(diagonal, int):
        raise TypeError(f"{op}: diagonal must be an int, got {type(diagonal).__name__}")
    return diagonal


def tril(input: Any, diagonal: int = 0) -> Any:  # noqa: A002
    """The lower triangle of the last two dimensions: elements with col - row <= diagonal, others 0."""
    x = _matrix(input, "tril")
    k = _offset(diagonal, "tril")
    offsets = _offsets(x)
    return _keep(x, bind("le", offsets, B.full_like(offsets, k)))


def triu(input: Any, diagonal: int = 0) -> Any:  # noqa: A002
    """The upper triangle of the last two dimensions: elements with col - row >= diagonal, others 0."""
    x = _matrix(input, "triu")
    k = _offset(diagonal, "triu")
    offsets = _offsets(x)
    return _keep(x, bind("ge", offsets, B.full_like(offsets, k)))


def band(input: Any, num_lower: int, num_upper: int, op: str = "band_part") -> Any:  # noqa: A002
    """Elements within num_lower below and num_upper above the diagonal (a negative count keeps
    the whole triangle), others 0: TF's matrix_band_part."""
    x = _matrix(input, op)
    offsets = _offsets(x)
    mask = None
    if num_lower >= 0:  # row - col <= num_lower
        mask = bind("ge", offsets, B.full_like(offsets, -num_lower))
    if num_upper >= 0:
        upper = bind("le", offsets, B.full_like(offsets, num_upper))
        mask = upper if mask is None else bind("logical_and", mask, upper)
    return x if mask is None else _keep(x, mask)


def diagonal(input: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Any:  # noqa: A002
    """The diagonal of the (dim1, dim2) planes, offset above (>0) or below (<0) the main one;
    dim1 and dim2 are removed and the diagonal appended as the last dimension (torch.diagonal)."""
    return _diagonal(as_value(input), offset, dim1, dim2, "diagonal")


def _diagonal(x: Any, offset: int, dim1: int, dim2: int, op: str) -> Any:
    n = len(x.shape)
    if n < 2:
        raise ShapeError(f"{op}: input must have at least 2 dimensions, got {fmt(x.shape)}")
    a, b = normalize_axis(dim1, n, op), normalize_axis(dim2, n, op)
    if a == b:
        raise ValueError(f"{op}: dimensions cannot be identical {dim1}, {dim2} (input {fmt(x.shape)})")
    k = _offset(offset, op)
    rest = [i for i in range(n) if i not in (a, b)]
    y = permute(x, rest + [a, b])
    rows, cols = y.shape[-2], y.shape[-1]
    if not isinstance(rows, int) or not isinstance(cols, int):
        raise ShapeError(f"{op}: the sizes of dimensions {dim1} and {dim2} must be known, got {fmt(x.shape)}")
    r0, c0 = max(-k, 0), max(k, 0)
    length = max(0, min(rows - r0, cols - c0))
    lead = tuple(y.shape[:-2])
    if length == 0:
        return reshape(slice_axis(y, n - 2, 0, 0), lead + (0,))
    # rows r0 .. r0+length of columns c0..: the diagonal is every (width+1)-th element of them, flattened
    width = cols - c0
    block = slice_axis(slice_axis(y, n - 2, r0, r0 + length), n - 1, c0, cols)
    flat = reshape(block, lead + (length * width,))
    return slice_axis(flat, n - 2, 0, (length - 1) * (width + 1) + 1, width + 1)


def diag(input: Any, diagonal: int = 0) -> Any:  # noqa: A002
    """1-D input: the square matrix with input on its `diagonal`-th diagonal; 2-D input: that
    diagonal as a 1-D tensor (torch.diag)."""
    x = as_value(input)
    k = _offset(diagonal, "diag")
    if len(x.shape) == 2:
        return _diagonal(x, k, 0, 1, "diag")
    if len(x.shape) != 1:
        raise ShapeError(f"diag: supports 1-D or 2-D tensors, got {len(x.shape)}-D {fmt(x.shape)}")
    return _embed(x, k, "diag")


def diag_embed(input: Any, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Any:  # noqa: A002
    """Matrices whose `offset`-th diagonal, in dimensions (dim1, dim2) of the result, holds the
    last dimension of input (torch.diag_embed); the result has one dimension more."""
    x = as_value(input)
    if not x.shape:
        raise ShapeError(f"diag_embed: input must have at least 1 dimension, got {fmt(x.shape)}")
    k = _offset(offset, "diag_embed")
    n = len(x.shape) + 1
    a, b = normalize_axis(dim1, n, "diag_embed"), normalize_axis(dim2, n, "diag_embed")
    if a == b:
        raise ValueError(f"diag_embed: dimensions cannot be identical {dim1}, {dim2} (input {fmt(x.shape)})")
    m = _embed(x, k, "diag_embed")  # (..., rows, cols)
    # put the rows at a and the columns at b, the other dimensions in their order
    rest = iter(range(n - 2))
    order = [n - 2 if d == a else n - 1 if d == b else next(rest) for d in range(n)]
    return permute(m, order)


def _embed(x: Any, k: int, op: str) -> Any:
    """(..., L) -> (..., L + |k|, L + |k|) with x on the k-th diagonal of the last two dimensions."""
    size = x.shape[-1]
    if not isinstance(size, int):
        raise ShapeError(f"{op}: the size of the last dimension must be known, got {fmt(x.shape)}")
    total = size + abs(k)
    padded = pad(x, (0, abs(k))) if k else x
    lead = tuple(x.shape[:-1])
    # row i holds padded[i] at column i + k (k >= 0); column j holds padded[j] at row j - k (k < 0)
    line = lead + ((total, 1) if k >= 0 else (1, total))
    values = broadcast_to(reshape(padded, line), lead + (total, total))
    offsets = _offsets(values)
    return _keep(values, bind("eq", offsets, B.full_like(offsets, k)))


def trace(input: Any) -> Any:  # noqa: A002
    """The sum of the main diagonal of a matrix (integers sum as int64, as torch.trace)."""
    x = as_value(input)
    if len(x.shape) != 2:
        raise ShapeError(f"trace: expects a matrix, got a {len(x.shape)}-D tensor {fmt(x.shape)}")
    return _sum(_diagonal(x, 0, 0, 1, "trace"))


# the in-place forms (Tensor.tril_, ...): the eager tensor and the tracer apply them through their
# own in-place machinery (version counters, leaf checks)
INPLACE: dict[str, Any] = {"tril_": tril, "triu_": triu}
