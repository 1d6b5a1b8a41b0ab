"""dtypes and PyTorch's type-promotion rules."""

from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np

from graphflow.errors import DTypeError


@dataclass(frozen=True, eq=False)
class DType:
    """A tensor element type. Instances are singletons, so identity is equality."""

    name: str
    np: np.dtype
    kind: str  # "b" bool, "u" unsigned, "i" signed int, "f" float
    rank: int  # order inside its kind, used by promotion

    @property
    def is_floating_point(self) -> bool:
        return self.kind == "f"

    @property
    def is_signed(self) -> bool:
        return self.kind in "if"

    @property
    def itemsize(self) -> int:
        return self.np.itemsize

    def __repr__(self) -> str:
        return f"graphflow.{self.name}"

    def __reduce__(self):
        return (get_dtype, (self.name,))


bool_ = DType("bool", np.dtype(np.bool_), "b", 0)
uint8 = DType("uint8", np.dtype(np.uint8), "u", 1)
int8 = DType("int8", np.dtype(np.int8), "i", 1)
int16 = DType("int16", np.dtype(np.int16), "i", 2)
int32 = DType("int32", np.dtype(np.int32), "i", 3)
int64 = DType("int64", np.dtype(np.int64), "i", 4)
float16 = DType("float16", np.dtype(np.float16), "f", 1)
bfloat16 = DType("bfloat16", np.dtype(ml_dtypes.bfloat16), "f", 1)
float32 = DType("float32", np.dtype(np.float32), "f", 2)
float64 = DType("float64", np.dtype(np.float64), "f", 3)

ALL_DTYPES: tuple[DType, ...] = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)
FLOAT_DTYPES = tuple(d for d in ALL_DTYPES if d.is_floating_point)
INT_DTYPES = tuple(d for d in ALL_DTYPES if d.kind in "ui")
_BY_NAME = {d.name: d for d in ALL_DTYPES}
_ALIASES = {"float": float32, "double": float64, "half": float16, "long": int64, "int": int32, "bool": bool_}
_BY_NP = {d.np: d for d in ALL_DTYPES}

default_float: DType = float32


def get_dtype(spec: object) -> DType:
    """Turn a DType, a name ('float32', 'float'), a NumPy dtype or a Python type into a DType."""
    if isinstance(spec, DType):
        return spec
    if isinstance(spec, str):
        found = _BY_NAME.get(spec) or _ALIASES.get(spec)
        if found is None:
            raise DTypeError(f"unknown dtype {spec!r}; known: {', '.join(_BY_NAME)}")
        return found
    if spec is float:
        return default_float
    if spec is int:
        return int64
    if spec is bool:
        return bool_
    try:
        npd = np.dtype(spec)
    except TypeError as exc:
        raise DTypeError(f"cannot interpret {spec!r} as a dtype") from exc
    found = _BY_NP.get(npd)
    if found is None:
        raise DTypeError(f"NumPy dtype {npd} has no graphflow counterpart")
    return found


def from_numpy_dtype(npd: np.dtype) -> DType:
    return get_dtype(npd)


_KIND_ORDER = {"b": 0, "u": 1, "i": 1, "f": 2}


def promote_types(a: DType, b: DType) -> DType:
    """PyTorch's `promote_types`: the smallest dtype both values fit in."""
    if a is b:
        return a
    ka, kb = _KIND_ORDER[a.kind], _KIND_ORDER[b.kind]
    if ka != kb:
        return a if ka > kb else b
    if a.kind == "f":
        if a.rank == b.rank:  # float16 with bfloat16
            return float32
        return a if a.rank > b.rank else b
    if a.kind == b.kind:
        return a if a.rank > b.rank else b
    # signed with unsigned (only uint8 is unsigned): the signed type must hold 0..255
    signed = a if a.kind == "i" else b
    return signed if signed.rank >= 2 else int16


def category(d: DType) -> int:
    return _KIND_ORDER[d.kind]


def scalar_dtype(value: object) -> DType:
    """The dtype a Python scalar takes on its own (as `torch.tensor(value)` would)."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    if isinstance(value, (float, np.floating)):
        return default_float
    raise DTypeError(f"unsupported scalar {value!r} of type {type(value).__name__}")


def result_type(*operands: tuple[DType, int]) -> DType:
    """PyTorch's result_type. Each operand is (dtype, priority): 2 for a tensor with dimensions,
    1 for a zero-dimensional tensor, 0 for a Python scalar. A lower-priority operand only changes
    the result when it is of a higher category (bool < integer < float)."""
    best: dict[int, DType] = {}
    for dtype, prio in operands:
        best[prio] = promote_types(best[prio], dtype) if prio in best else dtype
    result = None
    for prio in (2, 1, 0):
        d = best.get(prio)
        if d is None:
            continue
        if result is None:
            result = d
        elif category(d) > category(result):
            # a scalar float joining an integer tensor gives the default float (not float64)
            result = default_float if prio == 0 and d.kind == "f" else (d if prio else _default_of(d))
    assert result is not None, "result_type needs at least one operand"
    return result


def _default_of(d: DType) -> DType:
    return {"b": bool_, "u": int64, "i": int64, "f": default_float}[d.kind]
