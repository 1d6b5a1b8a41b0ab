"""Batched matrix multiply. The functional layer handles 1-D operands and broadcasts batch
dimensions, so the primitive sees (..., M, K) @ (..., K, N) with equal batch dimensions."""

from __future__ import annotations

import numpy as np

from graphflow.ir import builder as B
from graphflow.ir.bind import bind
from graphflow.ir.graph import TensorType
from graphflow.ir.registry import OpDef, register
from graphflow.ir.shapes import fmt
from graphflow.ir.symbolic import Sym


def _matmul_infer(types, attrs):
    a, b = types
    if a.dtype is not b.dtype:
        raise TypeError(f"operands must share a dtype, got {a.dtype.name} and {b.dtype.name}")
    if a.dtype.kind == "b":
        raise TypeError("bool matmul is not supported")
    if len(a.shape) < 2 or len(a.shape) != len(b.shape):
        raise ValueError(f"expects two operands of equal rank >= 2, got {fmt(a.shape)} and {fmt(b.shape)}")
    k1, k2 = a.shape[-1], b.shape[-2]
    if k1 != k2 and not (isinstance(k1, Sym) or isinstance(k2, Sym)):
        raise ValueError(f"shapes {fmt(a.shape)} and {fmt(b.shape)} cannot be multiplied ({k1} != {k2})")
    if a.shape[:-2] != b.shape[:-2]:
        raise ValueError(f"batch dimensions differ: {fmt(a.shape)} and {fmt(b.shape)}")
    return TensorType(a.dtype, a.shape[:-1] + b.shape[-1:])


def _matmul_ref(arrays, attrs):
    a, b = arrays
    if a.dtype.itemsize == 2 and a.dtype.kind != "i":
        return np.matmul(a.astype(np.float32), b.astype(np.float32)).astype(a.dtype)
    return np.matmul(a, b)


def _matmul_vjp(node, g):
    a, b = node.inputs
    return [bind("matmul", g, B.transpose_last2(b)), bind("matmul", B.transpose_last2(a), g)]


register(OpDef("matmul", "linalg", _matmul_infer, _matmul_ref, _matmul_vjp, {}, 2,
               doc="(..., M, K) @ (..., K, N) -> (..., M, N)"))
