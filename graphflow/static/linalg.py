"""`tf.linalg` (TF1's names): aliases of the functional layer's ops, keeping TF's argument names."""

from __future__ import annotations

from typing import Any

from graphflow.ops import triangular as TRI
from graphflow.static.ops import einsum, matmul, trace
from graphflow.static.ops import matrix_band_part as band_part

__all__ = ["band_part", "diag", "diag_part", "einsum", "matmul", "trace"]


def diag(diagonal: Any, name: str | None = None, k: int = 0) -> Any:
    """A batch of matrices with `diagonal`'s inner-most dimension on their k-th diagonal."""
    return TRI.diag_embed(diagonal, k)


def diag_part(input: Any, name: str | None = None, k: int = 0) -> Any:  # noqa: A002
    """The k-th diagonal of each inner-most matrix."""
    return TRI.diagonal(input, k, -2, -1)
