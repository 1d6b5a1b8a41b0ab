"""Distances and similarities (PyTorch's semantics): `cdist`, `cosine_similarity`,
`pairwise_distance`.

Square roots and p-th roots of a zero distance have infinite slopes; they are taken of a value
that is 1 where the distance is 0 and the result replaced by 0 there, so the gradient at a zero
distance is 0 (as PyTorch's) instead of NaN."""

from __future__ import annotations

from typing import Any

from graphflow.errors import DTypeError, ShapeError
from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.dtypes import default_float, result_type
from graphflow.ir.shapes import broadcast_shapes, fmt, normalize_axis
from graphflow.ops.elementwise import abs as _abs
from graphflow.ops.linalg import matmul
from graphflow.ops.reductions import amax
from graphflow.ops.reductions import sum as _sum
from graphflow.ops.shape import transpose, unsqueeze
from graphflow.ops.values import as_values, broadcast_to, cast, promote

__all__ = ["cdist", "cosine_similarity", "pairwise_distance"]


def _zero_safe(fn: Any, x: Any) -> Any:
    """fn(x) where x != 0, else 0, with a zero (not NaN) gradient where x == 0."""
    zero = bind("eq", x, B.zeros_like(x))
    return bind("where", zero, B.zeros_like(x), fn(bind("where", zero, B.ones_like(x), x)))


def _sqrt0(x: Any) -> Any:
    return _zero_safe(lambda v: bind("sqrt", v), x)


def _pow0(x: Any, p: float) -> Any:
    return _zero_safe(lambda v: bind("pow", v, B.full_like(v, p)), x)


def _p_norm(diff: Any, p: float, axis: int, keepdim: bool = False) -> Any:
    """The p-norm of `diff` along `axis` (p = 0 counts non-zero entries; p = inf is the largest |.|)."""
    if p == 0:
        return _sum(cast(bind("ne", diff, B.zeros_like(diff)), diff.dtype), axis, keepdim)
    a = _abs(diff)
    if p == 1:
        return _sum(a, axis, keepdim)
    if p == float("inf"):
        return amax(a, axis, keepdim)
    if p == 2:
        return _sqrt0(_sum(bind("mul", a, a), axis, keepdim))
    return _pow0(_sum(_pow0(a, p), axis, keepdim), 1.0 / p)


def _floats(op: str, x1: Any, x2: Any) -> tuple[Any, Any]:
    a, b = as_values(x1, x2)
    for name, v in (("x1", a), ("x2", b)):
        if v.dtype.kind != "f":
            raise DTypeError(f"{op}: expects floating-point inputs, got {v.dtype.name} for {name} {fmt(v.shape)}")
    dtype = result_type((a.dtype, 2), (b.dtype, 2))
    return cast(a, dtype), cast(b, dtype)


_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


def cdist(x1: Any, x2: Any, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Any:
    """The p-norm distance between each row of x1 (..., P, M) and each row of x2 (..., R, M):
    shape (..., P, R), batch dimensions broadcast. p = 2 goes through a matrix product
    (|x|^2 + |y|^2 - 2 x.y, clamped at 0, then a square root) when compute_mode asks for it, by
    default when P > 25 or R > 25 as in PyTorch; otherwise, and for other p, through the
    broadcast differences."""
    a, b = _floats("cdist", x1, x2)
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise ShapeError(f"cdist: expects at least 2-D inputs, got x1 {fmt(a.shape)} and x2 {fmt(b.shape)}")
    if a.shape[-1] != b.shape[-1]:
        raise ShapeError(f"cdist: x1 and x2 must have the same number of columns, got x1 {fmt(a.shape)} "
                         f"and x2 {fmt(b.shape)}")
    if p < 0:
        raise ValueError(f"cdist: p must be non-negative, got {p}")
    if compute_mode not in _MODES:
        raise ValueError(f"cdist: compute_mode must be one of {', '.join(_MODES)}, got {compute_mode!r}")
    batch = broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]), op="cdist")
    a = broadcast_to(a, batch + tuple(a.shape[-2:]))
    b = broadcast_to(b, batch + tuple(b.shape[-2:]))
    rows, cols = a.shape[-2], b.shape[-2]
    big = not (isinstance(rows, int) and isinstance(cols, int)) or rows > 25 or cols > 25
    if p == 2 and (compute_mode == "use_mm_for_euclid_dist" or (compute_mode == _MODES[0] and big)):
        return _euclid_mm(a, b)
    n = len(a.shape)
    diff = bind("sub", *[broadcast_to(v, batch + (rows, cols, a.shape[-1]))
                         for v in (unsqueeze(a, n - 1), unsqueeze(b, n - 2))])
    return _p_norm(diff, p, n)


def _euclid_mm(a: Any, b: Any) -> Any:
    n = len(a.shape)
    sq_a = _sum(bind("mul", a, a), -1, keepdim=True)  # (..., P, 1)
    sq_b = transpose(_sum(bind("mul", b, b), -1, keepdim=True), -1, -2)  # (..., 1, R)
    shape = tuple(a.shape[:-1]) + (b.shape[-2],)
    cross = matmul(a, transpose(b, n - 1, n - 2))
    d2 = bind("sub", bind("add", broadcast_to(sq_a, shape), broadcast_to(sq_b, shape)),
              bind("mul", B.full_like(cross, 2.0), cross))
    d2 = bind("where", bind("lt", d2, B.zeros_like(d2)), B.zeros_like(d2), d2)  # rounding can make it negative
    return _sqrt0(d2)


def _float_pair(op: str, x1: Any, x2: Any) -> tuple[Any, Any]:
    """x1 and x2 as values of one floating dtype and one broadcast shape (ints become the default
    float); an error naming `op` when the shapes do not broadcast."""
    a, b = as_values(x1, x2)
    if a.dtype.kind != "f" and b.dtype.kind != "f":
        a, b = cast(a, default_float), cast(b, default_float)
    try:
        return promote(a, b, op=op)
    except ValueError:
        raise ShapeError(f"{op}: x1 {fmt(a.shape)} and x2 {fmt(b.shape)} do not broadcast") from None


def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> Any:
    """sum(x1 * x2) / (max(|x1|, eps) * max(|x2|, eps)) along `dim`, the inputs broadcast
    against each other (torch.nn.functional.cosine_similarity)."""
    a, b = _float_pair("cosine_similarity", x1, x2)
    axis = normalize_axis(dim, len(a.shape), "cosine_similarity")
    norms = []
    for v in (a, b):
        n = _sqrt0(_sum(bind("mul", v, v), axis))
        floor = B.full_like(n, eps)
        norms.append(bind("where", bind("lt", n, floor), floor, n))
    return bind("div", _sum(bind("mul", a, b), axis), bind("mul", norms[0], norms[1]))


def pairwise_distance(x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Any:
    """The p-norm of x1 - x2 + eps over the last dimension, the inputs broadcast against each
    other (torch.nn.functional.pairwise_distance)."""
    a, b = _float_pair("pairwise_distance", x1, x2)
    if p < 0:
        raise ValueError(f"pairwise_distance: p must be non-negative, got {p}")
    diff = bind("sub", a, b)
    diff = bind("add", diff, B.full_like(diff, eps))
    if not diff.shape:
        diff = unsqueeze(diff, 0)
        return _p_norm(diff, p, 0, keepdim)
    return _p_norm(diff, p, len(diff.shape) - 1, keepdim)
