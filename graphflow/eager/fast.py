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
