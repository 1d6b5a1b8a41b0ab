"""Products with an added term, and the inner product (PyTorch's semantics): `addmm`, `baddbmm`,
`addmv` (beta * input + alpha * product; beta=0 ignores input, NaN included) and `inner`, each
lowered to one `matmul`."""

from __future__ import annotations

from typing import Any

from graphflow.errors import DTypeError, ShapeError
from graphflow.ir.shapes import broadcast_shapes, fmt
from graphflow.ir.symbolic import Sym
from graphflow.ops.elementwise import add, mul
from graphflow.ops.linalg import matmul
from graphflow.ops.shape import reshape, transpose
from graphflow.ops.values import as_values, cast, promote

__all__ = ["addmm", "baddbmm", "addmv", "inner"]


def _check_rank(op: str, what: str, x: Any, rank: int) -> None:
    if len(x.shape) != rank:
        kind = {1: "a vector", 2: "a matrix", 3: "a 3-D tensor"}[rank]
        raise ShapeError(f"{op}: {what} must be {kind}, got a {len(x.shape)}-D tensor {fmt(x.shape)}")


def _add_scaled(op: str, input: Any, product: Any, beta: Any, alpha: Any) -> Any:  # noqa: A002
    """beta * input + alpha * product, input broadcast to the product's shape."""
    shape = tuple(product.shape)
    try:
        joint = broadcast_shapes(tuple(input.shape), shape, op=op)
        ok = len(joint) == len(shape) and all(j == d or isinstance(d, Sym) for j, d in zip(joint, shape))
    except ValueError:
        ok = False
    if not ok:
        raise ShapeError(f"{op}: input {fmt(input.shape)} does not broadcast to the product's shape {fmt(shape)}")
    for name, v in (("beta", beta), ("alpha", alpha)):
        if product.dtype.kind != "f" and isinstance(v, float):
            raise DTypeError(f"{op}: for integer tensors ({product.dtype.name}), {name} must not be a float, got {v}")
    scaled = product if alpha == 1 else mul(product, alpha)
    if beta == 0:  # input is ignored: NaN and inf in it do not propagate (as in PyTorch)
        x, _ = promote(input, scaled, op=op)
        return cast(scaled, x.dtype)
    return add(input if beta == 1 else mul(input, beta), scaled)


def addmm(input: Any, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:  # noqa: A002
    """beta * input + alpha * (mat1 @ mat2), mat1 (n, m), mat2 (m, p), input broadcast to (n, p)."""
    x, a, b = as_values(input, mat1, mat2)
    _check_rank("addmm", "mat1", a, 2)
    _check_rank("addmm", "mat2", b, 2)
    if a.shape[1] != b.shape[0]:
        raise ShapeError(f"addmm: mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
                         f"{b.shape[0]}x{b.shape[1]})")
    return _add_scaled("addmm", x, matmul(a, b), beta, alpha)


def baddbmm(input: Any, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:  # noqa: A002
    """beta * input + alpha * (batch1 @ batch2) for batches (b, n, m) and (b, m, p); input
    broadcast to (b, n, p)."""
    x, a, b = as_values(input, batch1, batch2)
    _check_rank("baddbmm", "batch1", a, 3)
    _check_rank("baddbmm", "batch2", b, 3)
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ShapeError(f"baddbmm: batch1 {fmt(a.shape)} and batch2 {fmt(b.shape)} cannot be multiplied "
                         "(batch sizes must be equal and batch1.size(2) == batch2.size(1))")
    return _add_scaled("baddbmm", x, matmul(a, b), beta, alpha)


def addmv(input: Any, mat: Any, vec: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:  # noqa: A002
    """beta * input + alpha * (mat @ vec), mat (n, m), vec (m,), input broadcast to (n,)."""
    x, a, v = as_values(input, mat, vec)
    _check_rank("addmv", "mat", a, 2)
    _check_rank("addmv", "vec", v, 1)
    if a.shape[1] != v.shape[0]:
        raise ShapeError(f"addmv: mat {fmt(a.shape)} and vec {fmt(v.shape)} cannot be multiplied "
                         f"({a.shape[1]} != {v.shape[0]})")
    return _add_scaled("addmv", x, matmul(a, v), beta, alpha)


def inner(input: Any, other: Any) -> Any:  # noqa: A002
    """Sum over the last dimension of both: shape input.shape[:-1] + other.shape[:-1]; a 0-d
    operand multiplies (torch.inner). One matmul of the flattened operands."""
    a, b = as_values(input, other)
    if not a.shape or not b.shape:
        return mul(a, b)
    if a.shape[-1] != b.shape[-1]:
        raise ShapeError(f"inner: the last dimensions must match, got shapes {fmt(a.shape)} and {fmt(b.shape)}")
    k = a.shape[-1]
    rows, cols = _numel(a.shape[:-1]), _numel(b.shape[:-1])
    out = matmul(reshape(a, (rows, k)), transpose(reshape(b, (cols, k)), 0, 1))
    return reshape(out, tuple(a.shape[:-1]) + tuple(b.shape[:-1]))


def _numel(shape: tuple) -> Any:
    n = 1
    for d in shape:
        n = n * d
    return n
