"""Source and state ops: graph inputs, constants, symbolic sizes, iota, variables and assignment."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from graphflow.errors import GraphError
from graphflow.ir.dtypes import DType, from_numpy_dtype, int64
from graphflow.ir.graph import TensorType
from graphflow.ir.registry import NOT_DIFFERENTIABLE, REQUIRED, OpDef, register
from graphflow.ir.shapes import check_shape, normalize_axis
from graphflow.ir.symbolic import Sym


class ConstValue:
    """A read-only array held in a `constant` node's attributes, hashed by content."""

    __slots__ = ("array", "_hash")

    def __init__(self, array: np.ndarray):
        arr = np.array(array, copy=True, order="C")
        arr.setflags(write=False)
        self.array = arr
        digest = hashlib.blake2b(arr.tobytes(), digest_size=16).digest()
        self._hash = hash((arr.dtype.str, arr.shape, digest))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ConstValue) and self._hash == other._hash
                and self.array.dtype == other.array.dtype and self.array.shape == other.array.shape
                and np.array_equal(self.array, other.array, equal_nan=True))

    def __repr__(self) -> str:
        a = self.array
        if a.size <= 4:
            return np.array2string(a, separator=", ")
        return f"<{a.dtype} array {a.shape}>"


class VarRef:
    """Names one variable slot in a run's state (static mode's variables, compiled modules'
    parameters). Hashable by identity."""

    __slots__ = ("name", "dtype", "shape", "__weakref__")

    def __init__(self, name: str, dtype: DType, shape: tuple[int, ...]):
        self.name = name
        self.dtype = dtype
        self.shape = tuple(shape)

    def __repr__(self) -> str:
        return f"var({self.name})"


class RunContext:
    """What ops with `needs_context` read at run time."""

    __slots__ = ("inputs", "state", "bindings")

    def __init__(self, inputs: dict[str, np.ndarray] | None = None,
                 state: dict[VarRef, np.ndarray] | None = None,
                 bindings: dict[str, int] | None = None):
        self.inputs = inputs if inputs is not None else {}
        self.state = state if state is not None else {}
        self.bindings = bindings if bindings is not None else {}


def _input_ref(arrays, attrs, ctx: RunContext):
    name = attrs["name"]
    if name not in ctx.inputs:
        raise GraphError(f"input {name!r} was not given a value")
    return ctx.inputs[name]


def _variable_ref(arrays, attrs, ctx: RunContext):
    var = attrs["var"]
    if var not in ctx.state:
        raise GraphError(f"variable {var.name!r} is read before it was initialised")
    return ctx.state[var]


def _assign_ref(arrays, attrs, ctx: RunContext):
    value = np.array(arrays[0], dtype=attrs["var"].dtype.np, copy=True)
    ctx.state[attrs["var"]] = value
    return value


def _assign_infer(types, attrs):
    var: VarRef = attrs["var"]
    (t,) = types
    if t.dtype is not var.dtype:
        raise TypeError(f"cannot assign a {t.dtype.name} value to variable {var.name!r} of dtype {var.dtype.name}")
    if len(t.shape) != len(var.shape) or any(
        isinstance(a, int) and isinstance(b, int) and a != b for a, b in zip(t.shape, var.shape)
    ):
        raise ValueError(f"cannot assign a value of shape {t.shape} to variable {var.name!r} of shape {var.shape}")
    return TensorType(var.dtype, var.shape)


def _iota_infer(types, attrs):
    shape = check_shape(attrs["shape"], "iota")
    normalize_axis(attrs["axis"], len(shape), "iota")
    if attrs["dtype"].kind not in "iuf":
        raise TypeError(f"dtype must be numeric, got {attrs['dtype'].name}")
    return TensorType(attrs["dtype"], shape)


def _iota_ref(arrays, attrs):
    shape, axis = attrs["shape"], attrs["axis"] % max(len(attrs["shape"]), 1)
    n = shape[axis] if shape else 1
    idx = np.arange(n, dtype=attrs["dtype"].np)
    view = [1] * len(shape)
    if shape:
        view[axis] = n
    return np.broadcast_to(idx.reshape(view), shape).copy()


def _sym_size_infer(types, attrs):
    if not isinstance(attrs["expr"], (Sym, int)):
        raise TypeError("expr must be a symbolic size")
    return TensorType(attrs["dtype"], ())


def _sym_size_ref(arrays, attrs, ctx: RunContext):
    expr = attrs["expr"]
    value = expr.evaluate(ctx.bindings) if isinstance(expr, Sym) else expr
    return np.asarray(value, dtype=attrs["dtype"].np)


def _source(name: str, infer, reference, attrs: dict[str, Any], needs_context: bool = False,
            category: str = "source", arity: int = 0, vjp=NOT_DIFFERENTIABLE, doc: str = "") -> OpDef:
    return register(OpDef(name, category, infer, reference, vjp, attrs, arity, needs_context, doc))


input_op = _source(
    "input", lambda types, a: TensorType(a["dtype"], check_shape(a["shape"], "input")), _input_ref,
    {"name": REQUIRED, "dtype": REQUIRED, "shape": REQUIRED}, needs_context=True,
    doc="A value fed at run time (a placeholder, a traced argument).")
constant_op = _source(
    "constant",
    lambda types, a: TensorType(from_numpy_dtype(a["value"].array.dtype), a["value"].array.shape),
    lambda arrays, a: a["value"].array, {"value": REQUIRED}, doc="A literal array.")
sym_size_op = _source(
    "sym_size", _sym_size_infer, _sym_size_ref, {"expr": REQUIRED, "dtype": int64}, needs_context=True,
    doc="A scalar equal to a symbolic size (the batch size of a placeholder); folded to a constant "
        "when the graph is specialised.")
iota_op = _source(
    "iota", _iota_infer, _iota_ref, {"shape": REQUIRED, "axis": 0, "dtype": int64},
    doc="0, 1, 2, ... along `axis`, broadcast to `shape`.")
variable_op = _source(
    "variable", lambda types, a: TensorType(a["var"].dtype, a["var"].shape), _variable_ref,
    {"var": REQUIRED}, needs_context=True, category="state", vjp=NOT_DIFFERENTIABLE,
    doc="Reads a variable's value from the run's state (a leaf: differentiate with respect to this node).")
assign_op = _source(
    "assign", _assign_infer, _assign_ref, {"var": REQUIRED}, needs_context=True, category="state",
    arity=1, doc="Writes its input into a variable; evaluates to the new value.")
