"""The cheap path for tiny elementwise ops: direct NumPy calls, bit-identical to the backends.

For a small tensor the per-call cost of an op is almost all Python: `run_op`, the reference's
`np.errstate` block, dtype and shape normalisation. Both CPU backends compute tensors below
`TINY` elements with the registry's NumPy references (the llvm backend's eager path hands them to
the reference too), so calling the reference's own NumPy function here gives the same bits.

`DIRECT[(op, dtype)]` is that function for every unary and binary elementwise primitive and
every dtype it accepts, except float16/bfloat16 (the reference computes them in float32 and
rounds once). Floating-point warnings are silenced the way the reference does (`errstate(all=
"ignore")`), but by switching NumPy's error-state context variable directly: the same state,
without the cost of entering and leaving a context manager on every op."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from graphflow.ir.dtypes import ALL_DTYPES, DType
from graphflow.ir.ops.elementwise import _ACCEPTS, BINARY, UNARY
from graphflow.ir.registry import OpDef, get_op

# below this many elements both CPU backends run the NumPy reference (llvm: `eager.TINY`)
TINY = 4096

try:  # NumPy >= 2: the error state is a context variable; `errstate` sets and resets it
    from numpy._core._ufunc_config import _extobj_contextvar as _EXTOBJ

    with np.errstate(all="ignore"):
        _IGNORE = _EXTOBJ.get()
except (ImportError, AttributeError):  # pragma: no cover - older NumPy
    _EXTOBJ = None
    _IGNORE = None


def _wrap(fn: Callable) -> Callable:
    """`fn` with floating-point errors ignored, as the references run it."""
    if _EXTOBJ is None:  # pragma: no cover
        def quiet(*arrays: np.ndarray) -> Any:
            with np.errstate(all="ignore"):
                return fn(*arrays)
        return quiet
    set_, reset, ignore = _EXTOBJ.set, _EXTOBJ.reset, _IGNORE

    if fn.__class__ is np.ufunc and fn.nin == 1:
        def unary(x: np.ndarray) -> Any:
            token = set_(ignore)
            try:
                return fn(x)
            finally:
                reset(token)
        return unary
    if fn.__class__ is np.ufunc and fn.nin == 2:
        def binary(x: np.ndarray, y: np.ndarray) -> Any:
            token = set_(ignore)
            try:
                return fn(x, y)
            finally:
                reset(token)
        return binary

    def general(*arrays: np.ndarray) -> Any:
        token = set_(ignore)
        try:
            return fn(*arrays)
        finally:
            reset(token)
    return general


def quiet(fn: Callable, *arrays: Any) -> Any:
    """Call `fn(*arrays)` with floating-point warnings silenced (no context manager)."""
    if _EXTOBJ is None:  # pragma: no cover
        with np.errstate(all="ignore"):
            return fn(*arrays)
    token = _EXTOBJ.set(_IGNORE)
    try:
        return fn(*arrays)
    finally:
        _EXTOBJ.reset(token)


_HALF = ("float16", "bfloat16")


def _build() -> dict[tuple[OpDef, DType], Callable]:
    table: dict[tuple[OpDef, DType], Callable] = {}
    for rules in (UNARY, BINARY):
        for name, (fn, rule, _vjp) in rules.items():
            op = get_op(name)
            wrapped = _wrap(fn)
            for d in ALL_DTYPES:
                if d.name in _HALF or not _ACCEPTS[rule](d):
                    continue
                table[(op, d)] = wrapped
    return table


DIRECT: dict[tuple[OpDef, DType], Callable] = _build()

# per op name, the dtype -> function map the Tensor operators read
BY_OP: dict[str, dict[DType, Callable]] = {}
for (_op, _d), _fn in DIRECT.items():
    BY_OP.setdefault(_op.name, {})[_d] = _fn

# reductions of float tensors: the ufunc's own reduce, which is what the reference's np.sum /
# np.prod / np.max / np.min call (same pairwise summation, same NaN propagation)
_REDUCE_UFUNC = {"reduce_sum": np.add, "reduce_prod": np.multiply, "reduce_max": np.maximum,
                 "reduce_min": np.minimum}
_FLOAT_DIRECT = ("float32", "float64")


def _reduce_kernel(ufunc: np.ufunc, attrs: Any) -> Callable:
    axes = attrs["axes"]
    keep = bool(attrs["keepdims"])
    reduce = ufunc.reduce

    def run(x: np.ndarray) -> Any:
        return quiet(reduce, x, axes if axes is not None else tuple(range(x.ndim)), None, None, keep)

    return run


def _broadcast_kernel(attrs: Any) -> Callable:
    shape = tuple(attrs["shape"])

    def run(x: np.ndarray) -> np.ndarray:
        if math.prod(shape) > TINY:
            # a small input (a Python scalar) spread over a big shape: the reference's read-only
            # view, which kernels read as one value, instead of filling megabytes
            return np.broadcast_to(x, shape)
        out = np.empty(shape, x.dtype)  # tiny: a filled copy is cheaper than np.broadcast_to's view
        out[...] = x
        return out

    return run


def _reference_kernel(op: OpDef, attrs: Any) -> Callable:
    reference = op.reference

    def run(*arrays: np.ndarray) -> Any:
        return quiet(reference, list(arrays), attrs)

    return run


def make_kernel(op: OpDef, dtype: DType | None, attrs: Any) -> Callable | None:
    """A function of the input arrays giving what the reference gives (up to the final cast to
    the inferred dtype, which the caller does) for tensors below TINY elements; None for ops that
    need a run context (random, state)."""
    if op.needs_context:
        return None
    if dtype is not None:
        fn = DIRECT.get((op, dtype))
        if fn is not None:
            return fn
        ufunc = _REDUCE_UFUNC.get(op.name)
        if ufunc is not None and dtype.name in _FLOAT_DIRECT:
            return _reduce_kernel(ufunc, attrs)
    if op.name == "broadcast_to":
        return _broadcast_kernel(attrs)
    if op.name == "reshape":
        shape = tuple(attrs["shape"])
        return lambda x: x.reshape(shape)  # the reference, without the call through `quiet`
    return _reference_kernel(op, attrs)
