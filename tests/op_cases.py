"""One table of test cases covering every primitive op, shared by every backend's tests.

Each `OpCase` names a primitive, its input arrays, its attributes, an independent expectation
(a NumPy/Python formula written separately from the op's `reference`, or hand-computed values)
and whether its gradient is checked by finite differences. Shapes are chosen to be awkward:
size 0, size 1, 17 and 33 elements (no multiple of a vector width), broadcasting through an
explicit `broadcast_to`, transposed and strided (non-contiguous) inputs, every dtype an op takes.

Backends reuse the table: `build_case_graph(case)` gives the graph and the arrays to feed,
`run_case(case, backend)` runs it, and `run_reference(op, arrays, attrs)` is the NumPy oracle.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import ml_dtypes
import numpy as np

from graphflow.backends import get_backend
from graphflow.ir import Graph, Node, all_ops, bind
from graphflow.ir.dtypes import get_dtype
from graphflow.ir.ops.source import ConstValue, VarRef
from graphflow.ir.symbolic import Sym

BF16 = np.dtype(ml_dtypes.bfloat16)
F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
FLOATS = (F16, BF16, F32, F64)
INTS = tuple(np.dtype(d) for d in (np.uint8, np.int8, np.int16, np.int32, np.int64))
SIGNED = tuple(d for d in INTS if d.kind == "i")
BOOL = np.dtype(np.bool_)
NUMERIC = FLOATS + INTS
ALL = NUMERIC + (BOOL,)

# relative/absolute tolerance of a result against a float64 expectation, by output dtype
TOLERANCE = {F16: (2e-3, 2e-3), BF16: (1.6e-2, 1e-2), F32: (2e-6, 1e-6), F64: (1e-12, 1e-12)}


@dataclass(eq=False)
class OpCase:
    """One run of one primitive.

    expect: a function of the (raw, un-broadcast) inputs and the attributes giving the expected
    output, or a hand-computed array. broadcast: per input, a shape it is `broadcast_to` before the
    op (None keeps it). grad: check the vjp against finite differences (float64 inputs only);
    wrt lists the inputs to differentiate (default: every float input)."""

    op: str
    inputs: tuple[np.ndarray, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    expect: Callable[..., Any] | np.ndarray | None = None
    grad: bool = False
    wrt: tuple[int, ...] | None = None
    broadcast: tuple[tuple[int, ...] | None, ...] | None = None
    state: dict[VarRef, np.ndarray] | None = None
    bindings: dict[str, int] | None = None
    tol: tuple[float, float] | None = None  # (rtol, atol) override
    eps: float = 1e-6  # finite-difference step of the gradient check
    note: str = ""

    @property
    def id(self) -> str:
        ins = ",".join(f"{a.dtype.name}{list(a.shape)}{'' if a.flags.c_contiguous else 'nc'}"
                       for a in self.inputs)
        extra = f"-{self.note}" if self.note else ""
        return f"{self.op}({ins}){extra}"

    def expected(self) -> np.ndarray | None:
        if self.expect is None:
            return None
        if callable(self.expect):
            return np.asarray(self.expect(*self.inputs, **self.attrs))
        return np.asarray(self.expect)

    @property
    def wrt_inputs(self) -> tuple[int, ...]:
        if self.wrt is not None:
            return self.wrt
        return tuple(i for i, a in enumerate(self.inputs) if a.dtype.kind == "f")


def input_nodes(arrays: Sequence[np.ndarray], prefix: str = "x") -> list[Node]:
    """One graph `input` node per array (name x0, x1, ...)."""
    return [bind("input", name=f"{prefix}{i}", dtype=get_dtype(a.dtype), shape=tuple(a.shape))
            for i, a in enumerate(arrays)]


def apply_op(op: str, nodes: Sequence[Node], attrs: dict[str, Any],
             broadcast: Sequence[tuple[int, ...] | None] | None = None) -> Node:
    """`op` applied to `nodes`, each first broadcast to its `broadcast` shape when given."""
    if broadcast is not None:
        nodes = [n if s is None else bind("broadcast_to", n, shape=s) for n, s in zip(nodes, broadcast)]
    return bind(op, *nodes, **attrs)


def build_case_graph(case: OpCase) -> tuple[Graph, list[np.ndarray]]:
    """The graph of one case and the arrays to feed its inputs."""
    if case.op == "input":  # the input op is its own graph input
        node = bind("input", **case.attrs)
        return Graph([node], [node]), list(case.inputs)
    xs = input_nodes(case.inputs)
    return Graph([apply_op(case.op, xs, case.attrs, case.broadcast)], xs), list(case.inputs)


def run_case(case: OpCase, backend: str = "numpy") -> np.ndarray:
    """Compile and run one case on `backend`; state ops run on a copy of the case's state."""
    graph, arrays = build_case_graph(case)
    state = dict(case.state) if case.state is not None else {}
    (out,) = get_backend(backend).compile(graph).run(arrays, state=state, bindings=case.bindings)
    return out


def run_reference(op: str, arrays: Sequence[np.ndarray], attrs: dict[str, Any] | None = None, *,
                  broadcast: Sequence[tuple[int, ...] | None] | None = None,
                  state: dict | None = None, bindings: dict[str, int] | None = None) -> np.ndarray:
    """The NumPy reference backend's result for `op` on `arrays` (built through `bind` with `input` nodes)."""
    case = OpCase(op, tuple(np.asarray(a) for a in arrays), dict(attrs or {}), broadcast=broadcast,
                  state=state, bindings=bindings)
    return run_case(case, "numpy")


def tolerance(case: OpCase, dtype: np.dtype) -> tuple[float, float]:
    if case.tol is not None:
        return case.tol
    return TOLERANCE.get(np.dtype(dtype), (0.0, 0.0))


def assert_case_close(case: OpCase, out: np.ndarray, expected: np.ndarray, scale: float = 1.0) -> None:
    """Compare a backend's result with an expectation: floats within the case's tolerance (times
    `scale`, for backends that reorder float arithmetic), after rounding the expectation to the
    output dtype once; integers and bools exactly; NaNs must match NaNs."""
    expected = np.asarray(expected)
    assert expected.shape == out.shape, f"{case.id}: shape {out.shape}, expected {expected.shape}"
    if out.dtype.kind == "f" or out.dtype == BF16:
        rtol, atol = tolerance(case, out.dtype)
        want = expected.astype(out.dtype).astype(np.float64)
        np.testing.assert_allclose(out.astype(np.float64), want, rtol=rtol * scale, atol=atol * scale,
                                   equal_nan=True, err_msg=case.id)
    else:
        np.testing.assert_array_equal(out, expected.astype(out.dtype), err_msg=case.id)


# ---------------------------------------------------------------------------------------------
# input generation

_rng = np.random.default_rng(20240601)


def arr(values: Any, dtype: Any = F64) -> np.ndarray:
    return np.asarray(values).astype(dtype)


def rand(shape: tuple[int, ...], dtype: Any = F64, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    """Uniform values in [lo, hi) of `dtype` (integers: [lo, hi] rounded)."""
    dtype = np.dtype(dtype)
    if dtype == BOOL:
        return _rng.random(shape) < 0.5
    if dtype.kind in "iu":
        return _rng.integers(int(lo), int(hi) + 1, size=shape).astype(dtype)
    return _rng.uniform(lo, hi, size=shape).astype(dtype)


def away_from_zero(shape: tuple[int, ...], dtype: Any = F64, lo: float = 0.2, hi: float = 2.0) -> np.ndarray:
    sign = np.where(_rng.random(shape) < 0.5, -1.0, 1.0)
    return (sign * _rng.uniform(lo, hi, size=shape)).astype(dtype)


def off_integers(shape: tuple[int, ...], dtype: Any = F64) -> np.ndarray:
    """Values whose fractional part is in [0.2, 0.8] (no rounding ties, no jumps nearby)."""
    return (_rng.integers(-3, 3, size=shape) + _rng.uniform(0.2, 0.8, size=shape)).astype(dtype)


def transposed(a: np.ndarray) -> np.ndarray:
    """The same values as `a` but stored transposed (a non-contiguous view)."""
    return np.ascontiguousarray(a.T).T


def strided(a: np.ndarray) -> np.ndarray:
    """The same values as `a` stored every other element (a non-contiguous view)."""
    big = np.zeros((a.shape[0] * 2,) + a.shape[1:], dtype=a.dtype)
    big[::2] = a
    return big[::2]


# shapes every elementwise op is run on: empty, one element, odd lengths, 2-D
ODD_SHAPES: tuple[tuple[int, ...], ...] = ((0,), (), (1,), (17,), (3, 11), (2, 0, 3))


def _vec(fn: Callable, otype: Any = np.float64) -> Callable[[np.ndarray], np.ndarray]:
    """Apply a Python scalar function elementwise, computing in float64 (or Python ints)."""

    def run(*arrays: np.ndarray) -> np.ndarray:
        arrays = np.broadcast_arrays(*arrays)
        conv = [a.astype(np.float64) if a.dtype.kind == "f" or a.dtype == BF16 else a.astype(object)
                for a in arrays]
        out = np.empty(arrays[0].shape, dtype=object)
        for idx in np.ndindex(*arrays[0].shape):
            out[idx] = fn(*(c[idx] for c in conv))
        return out.astype(otype) if otype is not None else out

    return run


def _wrap(dtype: np.dtype) -> Callable[[Any], Any]:
    """Python ints wrapped to a fixed-width integer dtype (two's complement)."""
    bits = dtype.itemsize * 8

    def wrap(v: int) -> int:
        v = int(v) % (1 << bits)
        return v - (1 << bits) if dtype.kind == "i" and v >= 1 << (bits - 1) else v

    return wrap


def _int_fn(fn: Callable) -> Callable[..., np.ndarray]:
    """An integer formula in Python ints, wrapped to the operands' dtype."""

    def run(*arrays: np.ndarray) -> np.ndarray:
        dtype = arrays[0].dtype
        if dtype == BOOL:  # bools as the integers 0 and 1; the low bit is the result
            return _vec(lambda *v: bool(int(fn(*(bool(x) for x in v))) & 1), otype=np.bool_)(*arrays)
        wrap = _wrap(dtype)
        return _vec(lambda *v: wrap(fn(*(int(x) for x in v))), otype=np.int64)(*arrays).astype(dtype)

    return run


def _by_kind(float_fn: Callable, int_fn: Callable) -> Callable[..., np.ndarray]:
    def run(*arrays: np.ndarray) -> np.ndarray:
        k = arrays[0].dtype
        return _vec(float_fn)(*arrays) if (k.kind == "f" or k == BF16) else _int_fn(int_fn)(*arrays)

    return run


def _sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))


def _sign(v: float) -> float:
    return int(v > 0) - int(v < 0)


# ---------------------------------------------------------------------------------------------
# elementwise unary: name -> (accepted dtypes, independent formula, input generator for grads)

def _round_half_even(v: float) -> float:
    return float(round(v))


UNARY_CASES: dict[str, tuple[tuple[np.dtype, ...], Callable, Callable]] = {
    "neg": (NUMERIC, _by_kind(lambda v: -v, lambda v: -v), rand),
    "abs": (NUMERIC, _by_kind(abs, abs), away_from_zero),
    "sign": (NUMERIC, _by_kind(_sign, _sign), away_from_zero),
    "floor": (NUMERIC, _by_kind(math.floor, lambda v: v), off_integers),
    "ceil": (NUMERIC, _by_kind(math.ceil, lambda v: v), off_integers),
    "round": (NUMERIC, _by_kind(_round_half_even, lambda v: v), off_integers),
    "trunc": (NUMERIC, _by_kind(math.trunc, lambda v: v), off_integers),
    "exp": (FLOATS, _vec(math.exp), rand),
    "expm1": (FLOATS, _vec(math.expm1), rand),
    "log": (FLOATS, _vec(math.log), lambda s, d=F64: rand(s, d, 0.3, 3.0)),
    "log1p": (FLOATS, _vec(math.log1p), lambda s, d=F64: rand(s, d, -0.6, 2.0)),
    "sin": (FLOATS, _vec(math.sin), rand),
    "cos": (FLOATS, _vec(math.cos), rand),
    "tanh": (FLOATS, _vec(math.tanh), rand),
    "sigmoid": (FLOATS, _vec(_sigmoid), lambda s, d=F64: rand(s, d, -6.0, 6.0)),
    "sqrt": (FLOATS, _vec(math.sqrt), lambda s, d=F64: rand(s, d, 0.2, 4.0)),
    "rsqrt": (FLOATS, _vec(lambda v: 1 / math.sqrt(v)), lambda s, d=F64: rand(s, d, 0.2, 4.0)),
    "reciprocal": (FLOATS, _vec(lambda v: 1 / v), away_from_zero),
    "erf": (FLOATS, _vec(math.erf), rand),
    "logical_not": ((BOOL,), _int_fn(lambda v: not v), rand),
    "bitwise_not": (INTS + (BOOL,), _int_fn(lambda v: ~v), lambda s, d=F64: rand(s, d, -100, 100)),
    "isnan": (ALL, _vec(lambda v: v != v, otype=np.bool_), rand),
}

# elementwise binary: name -> (dtypes, formula, generator of (x, y) for a shape and dtype)


def _xy(gen_x: Callable, gen_y: Callable | None = None) -> Callable:
    gen_y = gen_y or gen_x
    return lambda s, d: (gen_x(s, d), gen_y(s, d))


def _int_range(lo: int, hi: int) -> Callable:
    """Values in [lo, hi] ([0, hi] for unsigned dtypes)."""
    return lambda s, d: rand(s, d, 0 if np.dtype(d).kind == "u" else lo, hi)


def _small(s, d):
    d = np.dtype(d)
    if d == BOOL:
        return rand(s, d)
    if d.kind == "u":
        return rand(s, d, 0, 15)
    if d.kind == "i":
        return rand(s, d, -8, 8)
    return rand(s, d)


def _nonzero(s, d):
    d = np.dtype(d)
    if d.kind == "u":
        return rand(s, d, 1, 9)
    if d.kind == "i":
        v = rand(s, d, 1, 9)
        return np.where(_rng.random(s) < 0.5, -v, v).astype(d)
    return away_from_zero(s, d, 0.3, 3.0)


def _with_ties(s, d):
    """(x, y) with about a third of the positions equal."""
    x, y = _small(s, d), _small(s, d)
    tie = _rng.random(s) < 0.35
    return x, np.where(tie, x, y).astype(x.dtype)


def _pos_pow(s, d):
    d = np.dtype(d)
    if d.kind in "iu":
        return rand(s, d, 0, 4), rand(s, d, 0, 3)
    return rand(s, d, 0.4, 2.0), rand(s, d, -2.0, 2.0)


def _py_floordiv(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return math.floor(a / b) if b else (math.copysign(math.inf, a) if a else math.nan)
    return a // b


def _py_mod(a, b):
    return a - b * math.floor(a / b) if isinstance(a, float) else a % b


def _no_ties_xy(s, d):
    x = _small(s, d)
    if np.dtype(d).kind == "f" or np.dtype(d) == BF16:
        return x, (x + away_from_zero(s, np.float64, 0.1, 1.0)).astype(d)
    return _with_ties(s, d)


BINARY_CASES: dict[str, tuple[tuple[np.dtype, ...], Callable, Callable]] = {
    "add": (NUMERIC, _by_kind(lambda a, b: a + b, lambda a, b: a + b), _xy(_small)),
    "sub": (NUMERIC, _by_kind(lambda a, b: a - b, lambda a, b: a - b), _xy(_small)),
    "mul": (NUMERIC, _by_kind(lambda a, b: a * b, lambda a, b: a * b), _xy(_small)),
    "div": (FLOATS, _vec(lambda a, b: a / b), _xy(rand, _nonzero)),
    "pow": (NUMERIC, _by_kind(lambda a, b: a ** b, lambda a, b: a ** b), _pos_pow),
    "maximum": (NUMERIC, _by_kind(max, max), _no_ties_xy),
    "minimum": (NUMERIC, _by_kind(min, min), _no_ties_xy),
    "floor_div": (NUMERIC, _by_kind(_py_floordiv, lambda a, b: a // b), _xy(_int_range(-20, 20), _nonzero)),
    "mod": (NUMERIC, _by_kind(_py_mod, lambda a, b: a % b), _xy(_int_range(-20, 20), _nonzero)),
    "atan2": (FLOATS, _vec(math.atan2), _xy(away_from_zero)),
    "eq": (ALL, _vec(lambda a, b: a == b, otype=np.bool_), _with_ties),
    "ne": (ALL, _vec(lambda a, b: a != b, otype=np.bool_), _with_ties),
    "lt": (ALL, _vec(lambda a, b: a < b, otype=np.bool_), _with_ties),
    "le": (ALL, _vec(lambda a, b: a <= b, otype=np.bool_), _with_ties),
    "gt": (ALL, _vec(lambda a, b: a > b, otype=np.bool_), _with_ties),
    "ge": (ALL, _vec(lambda a, b: a >= b, otype=np.bool_), _with_ties),
    "logical_and": ((BOOL,), _int_fn(lambda a, b: a and b), _xy(rand)),
    "logical_or": ((BOOL,), _int_fn(lambda a, b: a or b), _xy(rand)),
    "logical_xor": ((BOOL,), _int_fn(lambda a, b: a != b), _xy(rand)),
    "bitwise_and": (INTS + (BOOL,), _int_fn(lambda a, b: a & b), _xy(_int_range(-100, 100))),
    "bitwise_or": (INTS + (BOOL,), _int_fn(lambda a, b: a | b), _xy(_int_range(-100, 100))),
    "bitwise_xor": (INTS + (BOOL,), _int_fn(lambda a, b: a ^ b), _xy(_int_range(-100, 100))),
}

# ops whose derivative is zero almost everywhere or which are smooth on the generated inputs
_SMOOTH_GRAD = {"neg", "abs", "sign", "floor", "ceil", "round", "trunc", "exp", "expm1", "log", "log1p", "sin",
                "cos", "tanh", "sigmoid", "sqrt", "rsqrt", "reciprocal", "erf",
                "add", "sub", "mul", "div", "pow", "maximum", "minimum", "floor_div", "mod", "atan2"}


def _elementwise_cases() -> list[OpCase]:
    cases: list[OpCase] = []
    for name, (dtypes, formula, gen) in UNARY_CASES.items():
        for dt in dtypes:
            for shape in ODD_SHAPES:
                x = gen(shape, dt)
                cases.append(OpCase(name, (x,), expect=formula))
            cases.append(OpCase(name, (transposed(gen((5, 7), dt)),), expect=formula, note="transposed"))
        if name in _SMOOTH_GRAD:
            for shape in ((), (1,), (17,), (0,)):
                cases.append(OpCase(name, (gen(shape, F64),), expect=formula, grad=True))
            cases.append(OpCase(name, (strided(gen((3, 4), F64)),), expect=formula, grad=True, note="strided"))
    for name, (dtypes, formula, gen) in BINARY_CASES.items():
        for dt in dtypes:
            for shape in ODD_SHAPES:
                cases.append(OpCase(name, gen(shape, dt), expect=formula))
            x, y = gen((4, 9), dt)
            cases.append(OpCase(name, (transposed(x), strided(y)), expect=formula, note="noncontiguous"))
            # broadcasting made explicit: (3, 1) with (1, 17) -> (3, 17); () with (33,)
            x, _ = gen((3, 1), dt)
            _, y = gen((1, 17), dt)
            cases.append(OpCase(name, (x, y), expect=formula, broadcast=((3, 17), (3, 17)), note="broadcast"))
            x, _ = gen((), dt)
            _, y = gen((33,), dt)
            cases.append(OpCase(name, (x, y), expect=formula, broadcast=((33,), None), note="broadcast-scalar"))
        if name in _SMOOTH_GRAD:
            for shape in ((), (17,), (0,)):
                cases.append(OpCase(name, gen(shape, F64), expect=formula, grad=True))
            x, _ = gen((3, 1), F64)
            _, y = gen((1, 5), F64)
            cases.append(OpCase(name, (x, y), expect=formula, broadcast=((3, 5), (3, 5)), grad=True,
                                note="broadcast"))
    return cases


def _hand_cases() -> list[OpCase]:
    """Values worked out by hand: ties, signed zeros, infinities, special rounding."""
    f = F64
    nan, inf = math.nan, math.inf
    return [
        OpCase("round", (arr([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999]),), expect=arr([0, 2, 2, -0.0, -2, 2]),
               note="half-even"),
        OpCase("round", (arr([0.5, 1.5, 2.5], F16),), expect=arr([0, 2, 2], F16), note="half-even"),
        OpCase("floor", (arr([-0.5, 0.5, -2.0, 3.999], F32),), expect=arr([-1, 0, -2, 3], F32)),
        OpCase("trunc", (arr([-1.7, 1.7, -0.2]),), expect=arr([-1, 1, -0.0])),
        OpCase("sign", (arr([-3, 0, 5], np.int8),), expect=arr([-1, 0, 1], np.int8)),
        OpCase("abs", (arr([-128, -1, 127], np.int8),), expect=arr([-128, 1, 127], np.int8), note="wraps"),
        OpCase("neg", (arr([0, 1, 255], np.uint8),), expect=arr([0, 255, 1], np.uint8), note="wraps"),
        OpCase("exp", (arr([0.0, 1.0, -inf, inf]),), expect=arr([1.0, math.e, 0.0, inf])),
        OpCase("log", (arr([1.0, math.e, 0.0, -1.0]),), expect=arr([0.0, 1.0, -inf, nan])),
        OpCase("sqrt", (arr([4.0, 0.0, 2.25], BF16),), expect=arr([2.0, 0.0, 1.5], BF16)),
        OpCase("sigmoid", (arr([0.0, 800.0, -800.0]),), expect=arr([0.5, 1.0, 0.0]), note="no-overflow"),
        OpCase("sigmoid", (arr([0.0, 20.0, -20.0], F16),), expect=arr([0.5, 1.0, 2.06e-9], F16)),
        OpCase("erf", (arr([0.0, 1.0, -inf, inf]),), expect=arr([0.0, 0.8427007929497149, -1.0, 1.0])),
        OpCase("isnan", (arr([nan, inf, 0.0], BF16),), expect=np.array([True, False, False])),
        OpCase("isnan", (arr([3, 0], np.int32),), expect=np.array([False, False])),
        OpCase("bitwise_not", (arr([0, 255, 15], np.uint8),), expect=arr([255, 0, 240], np.uint8)),
        OpCase("bitwise_not", (np.array([True, False]),), expect=np.array([False, True])),
        OpCase("div", (arr([1.0, -1.0, 0.0]), arr([0.0, 0.0, 0.0])), expect=arr([inf, -inf, nan])),
        OpCase("floor_div", (arr([7, -7, 7, -7], np.int32), arr([2, 2, -2, -2], np.int32)),
               expect=arr([3, -4, -4, 3], np.int32), note="python-floor"),
        OpCase("mod", (arr([7, -7, 7, -7], np.int32), arr([2, 2, -2, -2], np.int32)),
               expect=arr([1, 1, -1, -1], np.int32), note="divisor-sign"),
        OpCase("mod", (arr([5.5, -5.5]), arr([2.0, 2.0])), expect=arr([1.5, 0.5])),
        OpCase("floor_div", (arr([1.0, -1.0]), arr([0.0, 0.0])), expect=arr([inf, -inf])),
        OpCase("pow", (arr([0.0, 2.0, -2.0, 4.0]), arr([0.0, -1.0, 3.0, 0.5])), expect=arr([1.0, 0.5, -8.0, 2.0])),
        OpCase("pow", (arr([0, 3, 2], np.int64), arr([0, 2, 10], np.int64)), expect=arr([1, 9, 1024], np.int64)),
        OpCase("maximum", (arr([nan, 1.0, -0.0]), arr([1.0, nan, 0.0])), expect=arr([nan, nan, 0.0]),
               note="nan-propagates"),
        OpCase("minimum", (arr([nan, 1.0], F32), arr([1.0, 2.0], F32)), expect=arr([nan, 1.0], F32)),
        OpCase("atan2", (arr([1.0, 1.0, -1.0, 0.0]), arr([1.0, -1.0, -1.0, 1.0])),
               expect=arr([math.pi / 4, 3 * math.pi / 4, -3 * math.pi / 4, 0.0])),
        OpCase("eq", (arr([nan, 1.0]), arr([nan, 1.0])), expect=np.array([False, True]), note="nan"),
        OpCase("ne", (arr([nan, 1.0]), arr([nan, 1.0])), expect=np.array([True, False]), note="nan"),
        OpCase("add", (arr([250, 10], np.uint8), arr([10, 10], np.uint8)), expect=arr([4, 20], np.uint8),
               note="wraps"),
        OpCase("mul", (arr([100], np.int8), arr([3], np.int8)), expect=arr([44], np.int8), note="wraps"),
        OpCase("add", (arr([1.0, 2.0], f), arr([0.5, -2.0], f)), expect=arr([1.5, 0.0], f)),
    ]


def _where_cases() -> list[OpCase]:
    def formula(c, a, b):
        c, a, b = np.broadcast_arrays(c, a, b)
        out = b.copy()
        for idx in np.ndindex(*c.shape):
            if c[idx]:
                out[idx] = a[idx]
        return out

    cases = []
    for dt in ALL:
        for shape in ODD_SHAPES:
            cases.append(OpCase("where", (rand(shape, BOOL), rand(shape, dt), rand(shape, dt)), expect=formula))
    cases.append(OpCase("where", (rand((3, 1), BOOL), rand((1, 17), F32), rand((), F32)), expect=formula,
                        broadcast=((3, 17), (3, 17), (3, 17)), note="broadcast"))
    cases.append(OpCase("where", (transposed(rand((4, 5), BOOL)), rand((4, 5), F64), strided(rand((4, 5), F64))),
                        expect=formula, note="noncontiguous"))
    for shape in ((), (17,), (0,)):
        cases.append(OpCase("where", (rand(shape, BOOL), rand(shape), rand(shape)), expect=formula, grad=True))
    cases.append(OpCase("where", (rand((3, 1), BOOL), rand((1, 4)), rand((3, 4))), expect=formula, grad=True,
                        broadcast=((3, 4), (3, 4), None), note="broadcast"))
    return cases


def _cast_value(v: Any, target: np.dtype) -> Any:
    if target == BOOL:
        return bool(v != 0)
    if target.kind in "iu":
        return _wrap(target)(math.trunc(v) if isinstance(v, float) else int(v))
    return float(v)


def _cast_cases() -> list[OpCase]:
    cases = []
    for src in ALL:
        for dst in ALL:
            if src == BOOL:
                x = rand((17,), BOOL)
            else:
                # inside the range of every integer target: negative values only where no side is unsigned
                lo = 0 if (src.kind == "u" or dst.kind == "u") else -100
                x = rand((17,), src, lo, 100)
            x[:1] = 0  # zero casts to False
            dst_dt = get_dtype(dst)
            cases.append(OpCase("cast", (x,), {"dtype": dst_dt},
                                expect=lambda x, dtype, _t=dst: _vec(lambda v: _cast_value(v, _t), otype=None)(x)
                                .astype(_t), tol=(1e-2, 1e-2) if dst == BF16 else None))
    cases.append(OpCase("cast", (np.zeros((0, 3), np.float32),), {"dtype": get_dtype("int32")},
                        expect=np.zeros((0, 3), np.int32)))
    cases.append(OpCase("cast", (transposed(rand((3, 4), F32)),), {"dtype": get_dtype("float64")},
                        expect=lambda x, dtype: x.astype(np.float64), note="transposed"))
    cases.append(OpCase("cast", (arr([-1.9, 1.9, 0.5, -0.0]),), {"dtype": get_dtype("int32")},
                        expect=arr([-1, 1, 0, 0], np.int32), note="truncates"))
    cases.append(OpCase("cast", (arr([0.0, -0.0, 0.1, math.nan]),), {"dtype": get_dtype("bool")},
                        expect=np.array([False, False, True, True])))
    cases.append(OpCase("cast", (arr([1e5, -1e5, 65504.0]),), {"dtype": get_dtype("float16")},
                        expect=arr([math.inf, -math.inf, 65504.0], F16), note="overflow"))
    for dst in ("float64", "float32"):
        # a linear map: a large step is exact, and it is needed to see past float32 rounding
        cases.append(OpCase("cast", (rand((17,)),), {"dtype": get_dtype(dst)}, grad=True, eps=1e-2,
                            expect=lambda x, dtype: x.astype(dtype.np), tol=(1e-6, 1e-6)))
    return cases


# ---------------------------------------------------------------------------------------------
# reductions

def _reduce_formula(kind: str) -> Callable[..., np.ndarray]:
    """Reduce with Python over the moved-to-the-end axes (independent of NumPy's reductions)."""

    def run(x: np.ndarray, axes: tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
        ax = tuple(range(x.ndim)) if axes is None else tuple(axes)
        rest = [i for i in range(x.ndim) if i not in ax]
        moved = np.transpose(x, rest + list(ax))
        out_shape = tuple(x.shape[i] for i in rest)
        k = int(np.prod([x.shape[i] for i in ax], dtype=np.int64))
        rows = moved.reshape(out_shape + (k,))
        is_float = x.dtype.kind == "f" or x.dtype == BF16
        out = np.empty(out_shape, dtype=np.float64 if is_float else object)
        for idx in np.ndindex(*out_shape):
            vals = [float(v) if is_float else int(v) for v in rows[idx]]
            if kind == "sum":
                out[idx] = math.fsum(vals) if is_float else sum(vals)
            elif kind == "prod":
                out[idx] = math.prod(vals)
            elif kind == "max":
                out[idx] = max(vals)
            else:
                out[idx] = min(vals)
        if x.dtype == BOOL:
            out = np.vectorize(bool, otypes=[np.bool_])(out) if out.size else out.astype(np.bool_)
        elif not is_float:
            out = np.vectorize(_wrap(x.dtype), otypes=[np.int64])(out) if out.size else out.astype(np.int64)
        out = np.asarray(out).astype(x.dtype)
        if keepdims:
            out = out.reshape(tuple(1 if i in ax else d for i, d in enumerate(x.shape)))
        return out

    return run


def _reduce_cases() -> list[OpCase]:
    cases = []
    layouts = [((17,), None), ((17,), (0,)), ((1,), (0,)), ((), None), ((3, 11), (1,)), ((3, 11), (0,)),
               ((2, 3, 5), (0, 2)), ((2, 3, 5), None), ((2, 3, 5), ()), ((0, 4), (1,)), ((4, 0), (0,))]
    for name, kind in (("reduce_sum", "sum"), ("reduce_prod", "prod"), ("reduce_max", "max"),
                       ("reduce_min", "min")):
        formula = _reduce_formula(kind)
        for dt in ALL:
            for shape, axes in layouts:
                if kind in ("max", "min") and any(shape[a] == 0 for a in (axes or range(len(shape)))):
                    continue  # no identity: an error case
                lo, hi = (-2, 2) if kind == "prod" else (-50, 50)
                x = rand(shape, dt, 0 if np.dtype(dt).kind == "u" else lo, hi) if dt != BOOL else rand(shape, dt)
                for keepdims in (False, True):
                    cases.append(OpCase(name, (x,), {"axes": axes, "keepdims": keepdims}, expect=formula))
            cases.append(OpCase(name, (transposed(rand((5, 3), dt)),), {"axes": (0,), "keepdims": False},
                                expect=formula, note="transposed"))
        for shape, axes in (((17,), None), ((3, 4), (1,)), ((2, 3, 5), (0, 2)), ((0, 3), (0,)), ((), None)):
            if kind in ("max", "min") and 0 in shape:
                continue
            x = rand(shape, F64, 0.5, 1.5) if kind == "prod" else rand(shape)
            for keepdims in (False, True):
                cases.append(OpCase(name, (x,), {"axes": axes, "keepdims": keepdims}, expect=formula, grad=True))
        cases.append(OpCase(name, (strided(rand((4, 3), F64, 0.5, 1.5)),), {"axes": (0,), "keepdims": False},
                            expect=formula, grad=True, note="strided"))
    # zeros in a product, ties in a max: the gradient rules have special cases for them
    cases.append(OpCase("reduce_prod", (arr([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [1.0, 2.0, 3.0]]),),
                        {"axes": (1,), "keepdims": False}, expect=arr([0.0, 0.0, 6.0]), grad=True,
                        note="zeros"))
    cases.append(OpCase("reduce_max", (arr([[1.0, 3.0, 3.0], [-1.0, -2.0, -3.0]]),),
                        {"axes": (1,), "keepdims": True}, expect=arr([[3.0], [-1.0]]), note="ties"))
    cases.append(OpCase("reduce_sum", (np.array([True, True, False]),), {"axes": None, "keepdims": False},
                        expect=np.array(True), note="bool-is-any"))
    cases.append(OpCase("reduce_sum", (np.full((300,), 1, np.int8),), {"axes": None, "keepdims": False},
                        expect=np.array(44, np.int8), note="wraps"))
    return cases


def _arg_formula(kind: str) -> Callable[..., np.ndarray]:
    def first(vals: list) -> int:
        best = 0
        for i, v in enumerate(vals):
            if v != v:  # NaN wins
                return i
            if kind == "max" and v > vals[best] or kind == "min" and v < vals[best]:
                best = i
        return best

    def run(x: np.ndarray, axis: int | None, keepdims: bool) -> np.ndarray:
        conv = x.astype(np.float64) if (x.dtype.kind == "f" or x.dtype == BF16) else x.astype(np.int64)
        if axis is None:
            out = np.asarray(first(list(conv.reshape(-1))), dtype=np.int64)
            return out.reshape((1,) * x.ndim) if keepdims else out
        if x.ndim == 0:
            return np.asarray(0, dtype=np.int64)
        moved = np.moveaxis(conv, axis, -1)
        out = np.empty(moved.shape[:-1], dtype=np.int64)
        for idx in np.ndindex(*out.shape):
            out[idx] = first(list(moved[idx]))
        return np.expand_dims(out, axis) if keepdims else out

    return run


def _arg_cases() -> list[OpCase]:
    cases = []
    for name, kind in (("argmax", "max"), ("argmin", "min")):
        formula = _arg_formula(kind)
        for dt in ALL:
            for shape, axis in (((17,), None), ((17,), 0), ((1,), -1), ((), None), ((3, 11), 1), ((3, 11), -2),
                                ((2, 3, 5), -1), ((2, 0, 5), 2), ((3, 4), None), ((), 0)):
                x = _small(shape, dt)
                for keepdims in (False, True):
                    cases.append(OpCase(name, (x,), {"axis": axis, "keepdims": keepdims}, expect=formula))
            cases.append(OpCase(name, (transposed(_small((4, 6), dt)),), {"axis": 0, "keepdims": False},
                                expect=formula, note="transposed"))
        cases.append(OpCase(name, (arr([1.0, math.nan, 5.0, math.nan]),), {"axis": 0, "keepdims": False},
                            expect=np.array(1, np.int64), note="nan"))
        cases.append(OpCase(name, (arr([2, 7, 7, 2], np.int32),), {"axis": None, "keepdims": False},
                            expect=np.array(1 if kind == "max" else 0, np.int64), note="first-tie"))
    return cases


# ---------------------------------------------------------------------------------------------
# movement

def _reshape_cases() -> list[OpCase]:
    def formula(x, shape):
        flat = [x[idx] for idx in np.ndindex(*x.shape)]  # row-major walk
        size = len(flat)
        known = math.prod(d for d in shape if d != -1)
        target = tuple(size // known if d == -1 else d for d in shape)
        return np.array(flat, dtype=x.dtype).reshape(target)

    cases = []
    layouts = [((17,), (1, 17)), ((3, 11), (33,)), ((3, 11), (11, -1)), ((0, 3), (3, 0)), ((0, 3), (-1,)),
               ((), (1, 1)), ((1,), ()), ((2, 3, 5), (5, 1, 6))]
    for dt in ALL:
        for src, dst in layouts:
            cases.append(OpCase("reshape", (rand(src, dt),), {"shape": dst}, expect=formula))
    cases.append(OpCase("reshape", (transposed(rand((3, 11), F32)),), {"shape": (33,)}, expect=formula,
                        note="transposed"))
    for src, dst in ((((3, 11)), (33,)), ((1,), ()), ((0, 3), (3, 0))):
        cases.append(OpCase("reshape", (rand(src),), {"shape": dst}, expect=formula, grad=True))
    cases.append(OpCase("reshape", (transposed(rand((3, 4))),), {"shape": (2, 6)}, expect=formula, grad=True,
                        note="transposed"))
    return cases


def _broadcast_cases() -> list[OpCase]:
    def formula(x, shape):
        out = np.empty(shape, dtype=x.dtype)
        lead = len(shape) - x.ndim
        for idx in np.ndindex(*shape):
            src = tuple(0 if x.shape[k] == 1 else idx[lead + k] for k in range(x.ndim))
            out[idx] = x[src]
        return out

    layouts = [((1,), (17,)), ((3, 1), (2, 3, 17)), ((), (33,)), ((0, 1), (0, 5)), ((1,), (0,)),
               ((17,), (17,)), ((), ())]
    cases = []
    for dt in ALL:
        for src, dst in layouts:
            cases.append(OpCase("broadcast_to", (rand(src, dt),), {"shape": dst}, expect=formula))
    cases.append(OpCase("broadcast_to", (strided(rand((4, 1), F32)),), {"shape": (3, 4, 5)}, expect=formula,
                        note="strided"))
    for src, dst in (((1,), (17,)), ((3, 1), (2, 3, 5)), ((), (4,)), ((1, 3), (0, 3))):
        cases.append(OpCase("broadcast_to", (rand(src),), {"shape": dst}, expect=formula, grad=True))
    return cases


def _permute_cases() -> list[OpCase]:
    def formula(x, perm):
        out = np.empty(tuple(x.shape[p] for p in perm), dtype=x.dtype)
        for idx in np.ndindex(*out.shape):
            src = [0] * x.ndim
            for i, p in enumerate(perm):
                src[p] = idx[i]
            out[idx] = x[tuple(src)]
        return out

    layouts = [((2, 3, 5), (2, 0, 1)), ((3, 11), (1, 0)), ((0, 3), (1, 0)), ((), ()), ((17,), (0,)),
               ((1, 1, 2), (2, 1, 0))]
    cases = []
    for dt in ALL:
        for shape, perm in layouts:
            cases.append(OpCase("permute", (rand(shape, dt),), {"perm": perm}, expect=formula))
    cases.append(OpCase("permute", (transposed(rand((4, 6), F16)),), {"perm": (1, 0)}, expect=formula,
                        note="transposed"))
    for shape, perm in (((2, 3, 5), (2, 0, 1)), ((3, 4), (1, 0)), ((0, 2), (1, 0))):
        cases.append(OpCase("permute", (rand(shape),), {"perm": perm}, expect=formula, grad=True))
    return cases


def _slice_cases() -> list[OpCase]:
    def formula(x, starts, stops, steps):
        picks = [list(range(s, e, st)) for s, e, st in zip(starts, stops, steps)]
        out = np.empty(tuple(len(p) for p in picks), dtype=x.dtype)
        for idx in np.ndindex(*out.shape):
            out[idx] = x[tuple(p[i] for p, i in zip(picks, idx))]
        return out

    def sl(*triples):
        return {"starts": tuple(t[0] for t in triples), "stops": tuple(t[1] for t in triples),
                "steps": tuple(t[2] for t in triples)}

    layouts = [((17,), sl((2, 15, 1))), ((17,), sl((1, 17, 3))), ((17,), sl((16, -1, -1))),
               ((17,), sl((15, 0, -4))), ((17,), sl((5, 5, 1))), ((17,), sl((5, 5, -2))),
               ((0,), sl((0, 0, 1))), ((0,), sl((0, 0, -1))), ((1,), sl((0, 1, 2))),
               ((5,), sl((-1, -1, -1))), ((5,), sl((3, 1, 1))),  # empty, as slice.indices gives them
               ((3, 11), sl((0, 3, 2), (10, 0, -3))), ((2, 3, 5), sl((1, 2, 1), (0, 3, 1), (4, -1, -2)))]
    cases = []
    for dt in ALL:
        for shape, attrs in layouts:
            cases.append(OpCase("slice", (rand(shape, dt),), attrs, expect=formula))
    cases.append(OpCase("slice", (transposed(rand((5, 6), F32)),), sl((1, 5, 2), (5, 0, -1)), expect=formula,
                        note="transposed"))
    for shape, attrs in layouts + [((4, 7), sl((3, -1, -1), (1, 7, 2)))]:
        cases.append(OpCase("slice", (rand(shape),), attrs, expect=formula, grad=True))
    return cases


def _pad_cases() -> list[OpCase]:
    def formula(x, widths, value):
        out_shape = tuple(d + lo + hi for d, (lo, hi) in zip(x.shape, widths))
        out = np.full(out_shape, value).astype(x.dtype)
        for idx in np.ndindex(*x.shape):
            out[tuple(i + lo for i, (lo, _) in zip(idx, widths))] = x[idx]
        return out

    layouts = [((17,), ((1, 2),), 0.0), ((3, 11), ((0, 3), (2, 0)), 1.5), ((0, 3), ((1, 1), (0, 0)), 2.0),
               ((), (), 0.0), ((1,), ((0, 0),), 0.0), ((2, 3, 5), ((1, 0), (0, 0), (2, 2)), -1.0)]
    cases = []
    for dt in ALL:
        for shape, widths, value in layouts:
            v = bool(value) if dt == BOOL else (abs(value) if np.dtype(dt).kind == "u" else value)
            if np.dtype(dt).kind in "iu":
                v = int(v)
            cases.append(OpCase("pad", (rand(shape, dt),), {"widths": widths, "value": v}, expect=formula))
    cases.append(OpCase("pad", (transposed(rand((3, 4), F32)),), {"widths": ((1, 1), (2, 0)), "value": 0.5},
                        expect=formula, note="transposed"))
    for shape, widths, value in layouts:
        cases.append(OpCase("pad", (rand(shape),), {"widths": widths, "value": value}, expect=formula, grad=True))
    return cases


def _concat_cases() -> list[OpCase]:
    def formula(*xs, axis):
        parts = []
        for x in xs:
            parts.extend(np.moveaxis(x, axis, 0)[i] for i in range(x.shape[axis]))
        shape = list(xs[0].shape)
        shape[axis] = len(parts)
        out = np.empty([shape[axis]] + shape[:axis] + shape[axis + 1:], dtype=xs[0].dtype)
        for i, p in enumerate(parts):
            out[i] = p
        return np.moveaxis(out, 0, axis)

    layouts = [([(17,)], 0), ([(3,), (14,)], 0), ([(2, 5), (0, 5), (3, 5)], 0), ([(3, 1), (3, 16)], 1),
               ([(2, 3, 0), (2, 3, 4)], 2), ([(1,), (1,), (1,)], 0)]
    cases = []
    for dt in ALL:
        for shapes, axis in layouts:
            cases.append(OpCase("concat", tuple(rand(s, dt) for s in shapes), {"axis": axis}, expect=formula))
    cases.append(OpCase("concat", (transposed(rand((3, 4), F32)), strided(rand((2, 4), F32))), {"axis": 0},
                        expect=formula, note="noncontiguous"))
    for shapes, axis in layouts:
        cases.append(OpCase("concat", tuple(rand(s) for s in shapes), {"axis": axis}, expect=formula, grad=True))
    return cases


def _flip_cases() -> list[OpCase]:
    def formula(x, axes):
        out = np.empty_like(x)
        for idx in np.ndindex(*x.shape):
            out[idx] = x[tuple(x.shape[k] - 1 - i if k in axes else i for k, i in enumerate(idx))]
        return out

    layouts = [((17,), (0,)), ((3, 11), (1,)), ((2, 3, 5), (0, 2)), ((0, 3), (0, 1)), ((), ()), ((4,), ())]
    cases = []
    for dt in ALL:
        for shape, axes in layouts:
            cases.append(OpCase("flip", (rand(shape, dt),), {"axes": axes}, expect=formula))
    cases.append(OpCase("flip", (transposed(rand((3, 5), F32)),), {"axes": (0,)}, expect=formula,
                        note="transposed"))
    for shape, axes in layouts:
        cases.append(OpCase("flip", (rand(shape),), {"axes": axes}, expect=formula, grad=True))
    return cases


# ---------------------------------------------------------------------------------------------
# indexing, matmul

def _gather_formula(x, index, axis):
    out = np.empty(index.shape, dtype=x.dtype)
    for idx in np.ndindex(*index.shape):
        if x.ndim == 0:
            out[idx] = x[()]
            continue
        src = list(idx)
        i = int(index[idx])
        src[axis] = i + x.shape[axis] if i < 0 else i
        out[idx] = x[tuple(src)]
    return out


def _scatter_formula(x, index, src, axis):
    out = np.array(x, dtype=np.float64 if x.dtype.kind == "f" or x.dtype == BF16 else object, copy=True)
    for idx in np.ndindex(*index.shape):
        if x.ndim == 0:
            out[()] += src[idx] if out.dtype == np.float64 else int(src[idx])
            continue
        dst = list(idx)
        i = int(index[idx])
        dst[axis] = i + x.shape[axis] if i < 0 else i
        out[tuple(dst)] += src[idx] if out.dtype == np.float64 else int(src[idx])
    if x.dtype == BOOL:  # bools accumulate as a logical or
        return out != 0 if out.size else out.astype(np.bool_)
    if out.dtype == object:
        out = np.vectorize(_wrap(x.dtype), otypes=[np.int64])(out) if out.size else out.astype(np.int64)
    return out.astype(x.dtype)


def _indexing_cases() -> list[OpCase]:
    cases = []
    for dt in ALL:
        for xs, ishape, axis in (((5, 7), (3, 7), 0), ((5, 7), (5, 2), 1), ((17,), (33,), 0), ((1,), (1,), 0),
                                 ((4, 3), (0, 3), 0), ((), (), 0)):
            x = rand(xs, dt)
            size = xs[axis] if xs else 1
            index = _rng.integers(-size, size, size=ishape).astype(np.int64) if xs else np.zeros((), np.int64)
            cases.append(OpCase("gather", (x, index), {"axis": axis}, expect=_gather_formula,
                                grad=dt == F64, wrt=(0,)))
            src = rand(ishape, dt, 0, 5)
            cases.append(OpCase("scatter_add", (x, index, src), {"axis": axis}, expect=_scatter_formula,
                                grad=dt == F64, wrt=(0, 2)))
    idx32 = np.array([[0, 4, 4], [1, 1, 1]], dtype=np.int32)
    cases.append(OpCase("gather", (transposed(rand((2, 5), F32)), idx32.T.copy().T), {"axis": 1},
                        expect=_gather_formula, note="int32-index"))
    cases.append(OpCase("scatter_add", (arr([0.0, 0.0, 0.0]), np.array([2, 2, -1, 0]), arr([1.0, 2.0, 4.0, 8.0])),
                        {"axis": 0}, expect=arr([8.0, 0.0, 7.0]), grad=True, wrt=(0, 2), note="repeats"))
    cases.append(OpCase("gather", (arr([[1, 2], [3, 4]], np.int32), np.array([[0, 0], [1, 0]])), {"axis": 1},
                        expect=arr([[1, 1], [4, 3]], np.int32), note="torch-doc"))
    return cases


def _matmul_formula(a, b):
    fa = a.astype(np.float64) if (a.dtype.kind == "f" or a.dtype == BF16) else a.astype(object)
    fb = b.astype(np.float64) if (b.dtype.kind == "f" or b.dtype == BF16) else b.astype(object)
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    out = np.empty(a.shape[:-1] + (n,), dtype=fa.dtype if fa.dtype != object else object)
    for bidx in np.ndindex(*a.shape[:-2]):
        for i in range(m):
            for j in range(n):
                out[bidx + (i, j)] = sum((fa[bidx + (i, t)] * fb[bidx + (t, j)] for t in range(k)),
                                         0.0 if fa.dtype != object else 0)
    if out.dtype == object:
        out = np.vectorize(_wrap(a.dtype), otypes=[np.int64])(out) if out.size else out.astype(np.int64)
    return np.asarray(out).astype(a.dtype)


def _matmul_cases() -> list[OpCase]:
    cases = []
    layouts = [((1, 1), (1, 1)), ((3, 17), (17, 5)), ((2, 3, 4), (2, 4, 5)), ((3, 0), (0, 4)), ((0, 3), (3, 2)),
               ((2, 1, 33), (2, 33, 1))]
    for dt in NUMERIC:
        for sa, sb in layouts:
            lo, hi = (0, 3) if np.dtype(dt).kind == "u" else (-3, 3)
            cases.append(OpCase("matmul", (rand(sa, dt, lo, hi), rand(sb, dt, lo, hi)), expect=_matmul_formula,
                                tol=(2e-2, 5e-2) if dt in (F16, BF16) else (1e-5, 1e-5) if dt == F32 else None))
    cases.append(OpCase("matmul", (transposed(rand((4, 3), F32)), strided(rand((3, 5), F32))),
                        expect=_matmul_formula, tol=(1e-5, 1e-5), note="noncontiguous"))
    for sa, sb in layouts:
        cases.append(OpCase("matmul", (rand(sa), rand(sb)), expect=_matmul_formula, grad=True))
    cases.append(OpCase("matmul", (arr([[1.0, 2.0], [3.0, 4.0]]), arr([[5.0], [6.0]])), expect=arr([[17.0], [39.0]])))
    cases.append(OpCase("matmul", (rand((1, 5)), rand((3, 5, 2))), expect=lambda a, b: _matmul_formula(
        np.broadcast_to(a, (3, 1, 5)), b), broadcast=((3, 1, 5), None), grad=True, note="broadcast-batch"))
    return cases


# ---------------------------------------------------------------------------------------------
# scans and sorting along one axis

def _rows_of(x: np.ndarray, axis: int) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """The rows along `axis` as the last axis, and the function that puts results back."""
    moved = np.moveaxis(x, axis, -1)
    return moved, lambda out: np.moveaxis(out, -1, axis)


def _py_values(row: np.ndarray) -> list:
    is_float = row.dtype.kind == "f" or row.dtype == BF16
    return [float(v) if is_float else int(v) for v in row]


def _cum_formula(kind: str) -> Callable[..., np.ndarray]:
    """Running sums/products in Python (float64 or exact ints wrapped to the dtype)."""

    def run(x: np.ndarray, axis: int, reverse: bool = False) -> np.ndarray:
        moved, back = _rows_of(x, axis)
        is_float = x.dtype.kind == "f" or x.dtype == BF16
        out = np.empty(moved.shape, dtype=np.float64 if is_float else object)
        for idx in np.ndindex(*moved.shape[:-1]):
            vals = _py_values(moved[idx])
            order = range(len(vals) - 1, -1, -1) if reverse else range(len(vals))
            acc = 0 if kind == "sum" else 1
            for j in order:
                acc = acc + vals[j] if kind == "sum" else acc * vals[j]
                out[idx + (j,)] = acc
        if not is_float:
            out = np.vectorize(_wrap(x.dtype), otypes=[np.int64])(out) if out.size else out.astype(np.int64)
        return back(out.astype(x.dtype))

    return run


def _cumarg_formula(x: np.ndarray, axis: int, largest: bool) -> np.ndarray:
    """PyTorch's cummax/cummin index rule, element by element."""
    moved, back = _rows_of(x, axis)
    out = np.zeros(moved.shape, dtype=np.int64)
    for idx in np.ndindex(*moved.shape[:-1]):
        best, bi = None, 0
        for j, v in enumerate(_py_values(moved[idx])):
            if j == 0 or v != v or (best == best and ((v >= best) if largest else (v <= best))):
                best, bi = v, j
            out[idx + (j,)] = bi
    return back(out)


def _argsort_formula(x: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Python's stable `sorted` with NaN as the largest key."""
    moved, back = _rows_of(x, axis)
    out = np.zeros(moved.shape, dtype=np.int64)
    for idx in np.ndindex(*moved.shape[:-1]):
        vals = _py_values(moved[idx])

        def key(j: int, vals: list = vals) -> tuple:
            if vals[j] != vals[j]:  # NaN: last ascending, first descending
                return (0, 0) if descending else (1, 0)
            return (1, -vals[j]) if descending else (0, vals[j])

        out[idx] = sorted(range(len(vals)), key=key)
    return back(out)


_SCAN_LAYOUTS = (((17,), 0), ((1,), 0), ((0,), 0), ((3, 11), 1), ((3, 11), 0), ((2, 3, 5), 1), ((2, 0, 3), 2))


def _exact_scan_input(shape: tuple[int, ...], dt: np.dtype, kind: str) -> np.ndarray:
    """Values whose running sums/products every dtype holds exactly (small integers, powers of 2),
    so the comparison is exact whatever the accumulation order; integers overflow and wrap."""
    dt = np.dtype(dt)
    if dt.kind in "iu":
        lo, hi = (0, 40) if dt.kind == "u" else (-40, 40)
        return rand(shape, dt, lo, hi) if kind == "sum" else rand(shape, dt, 0 if dt.kind == "u" else -3, 3)
    if kind == "sum":
        return rand(shape, np.int64, -4, 4).astype(dt)
    return _rng.choice(np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0]), size=shape).astype(dt)


def _scan_cases() -> list[OpCase]:
    cases = []
    for name, kind in (("cumsum", "sum"), ("cumprod", "prod")):
        formula = _cum_formula(kind)
        for dt in NUMERIC:
            for shape, axis in _SCAN_LAYOUTS:
                attrs = {"axis": axis}
                if name == "cumsum":
                    attrs["reverse"] = len(shape) == 2
                cases.append(OpCase(name, (_exact_scan_input(shape, dt, kind),), attrs, expect=formula))
            cases.append(OpCase(name, (transposed(_exact_scan_input((5, 4), dt, kind)),), {"axis": 0},
                                expect=formula, note="transposed"))
        for shape, axis in (((17,), 0), ((3, 4), 1), ((3, 4), 0), ((0, 3), 0), ((1,), 0), ((2, 3, 4), 1)):
            x = rand(shape, F64, 0.5, 1.5) if kind == "prod" else rand(shape)
            for reverse in ((False, True) if name == "cumsum" else (False,)):
                attrs = {"axis": axis, "reverse": reverse} if name == "cumsum" else {"axis": axis}
                cases.append(OpCase(name, (x,), attrs, expect=formula, grad=True))
        cases.append(OpCase(name, (strided(rand((4, 3), F64, 0.5, 1.5)),), {"axis": 0}, expect=formula, grad=True,
                            note="strided"))
    # zeros in a running product: the gradient rule has special cases for the first zero
    zeros = arr([[2.0, 0.0, 3.0, 4.0], [0.0, 0.0, 5.0, 1.5], [1.0, 2.0, 3.0, 0.0], [0.0, 3.0, 0.0, 2.0],
                 [-1.5, 2.0, 0.5, 3.0]])
    for axis in (0, 1):
        cases.append(OpCase("cumprod", (zeros,), {"axis": axis}, expect=_cum_formula("prod"), grad=True,
                            note="zeros"))
    cases.append(OpCase("cumsum", (arr([1.0, math.inf, -math.inf, 2.0]),), {"axis": 0},
                        expect=arr([1.0, math.inf, math.nan, math.nan]), note="inf"))
    cases.append(OpCase("cumsum", (np.full((300,), 1, np.int8),), {"axis": 0},
                        expect=np.array([(k + 1) % 256 - 256 * ((k + 1) % 256 > 127) for k in range(300)], np.int8),
                        note="wraps"))
    # the running arg-extreme and argsort: every dtype, ties, NaN
    for name, flag, formula in (("cumarg", "largest", _cumarg_formula), ("argsort", "descending", _argsort_formula)):
        for dt in ALL:
            for k, (shape, axis) in enumerate(_SCAN_LAYOUTS):
                x = rand(shape, dt, 0, 5) if dt != BOOL else rand(shape, dt)  # few values: many ties
                cases.append(OpCase(name, (x,), {"axis": axis, flag: k % 2 == 0}, expect=formula))
            cases.append(OpCase(name, (transposed(rand((5, 4), dt, 0, 3)),), {"axis": 0, flag: False},
                                expect=formula, note="transposed"))
        nan = math.nan
        special = arr([[3.0, nan, 1.0, 3.0, -0.0, 0.0, nan, 1.0, -math.inf], [nan, nan, 2.0, 2.0, 2.0, math.inf, 0.0,
                                                                              -0.0, 5.0]])
        for value in (False, True):
            for dt in (F64, F32, F16):
                cases.append(OpCase(name, (special.astype(dt),), {"axis": 1, flag: value}, expect=formula,
                                    note="ties-nan"))
    cases.append(OpCase("argsort", (arr([3.0, 1.0, 3.0, math.nan, 1.0]),), {"axis": 0, "descending": False},
                        expect=np.array([1, 4, 0, 2, 3]), note="hand"))
    cases.append(OpCase("argsort", (arr([3.0, 1.0, 3.0, math.nan, 1.0]),), {"axis": 0, "descending": True},
                        expect=np.array([3, 0, 2, 1, 4]), note="hand"))
    cases.append(OpCase("cumarg", (arr([1.0, 3.0, 3.0, nan, 2.0, nan, 9.0]),), {"axis": 0, "largest": True},
                        expect=np.array([0, 1, 2, 3, 3, 5, 5]), note="hand"))
    cases.append(OpCase("cumarg", (arr([4.0, 3.0, 3.0, 5.0]),), {"axis": 0, "largest": False},
                        expect=np.array([0, 1, 2, 2]), note="hand"))
    return cases


# ---------------------------------------------------------------------------------------------
# random, sources and state

M64 = (1 << 64) - 1


def _splitmix(z: int) -> int:
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & M64
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def uniform_bits_python(key: int, n: int) -> list[int]:
    """Element i of a draw: splitmix64(splitmix64(key) + (i + 1) * golden), in Python ints."""
    base = _splitmix(key & M64)
    return [_splitmix((base + (i + 1) * 0x9E3779B97F4A7C15) & M64) for i in range(n)]


_MANTISSA = {F64: 53, F32: 24, F16: 11, BF16: 8}


def _uniform_formula(key, shape, dtype):
    n = math.prod(shape)
    bits = _MANTISSA[dtype.np]
    vals = [(b >> (64 - bits)) / (1 << bits) for b in uniform_bits_python(int(key), n)]
    return np.array(vals, dtype=np.float64).reshape(shape).astype(dtype.np)


def _random_cases() -> list[OpCase]:
    cases = []
    for dt in FLOATS:
        for shape in ((0,), (), (1,), (17,), (3, 11)):
            for key in (0, 12345, -7):
                cases.append(OpCase("random_uniform", (np.array(key, np.int64),),
                                    {"shape": shape, "dtype": get_dtype(dt)}, expect=_uniform_formula, tol=(0, 0)))
    cases.append(OpCase("random_uniform", (np.array(3, np.int32),), {"shape": (33,), "dtype": get_dtype("float32")},
                        expect=_uniform_formula, tol=(0, 0), note="int32-key"))
    return cases


VAR_A = VarRef("a", get_dtype("float32"), (3, 11))
VAR_B = VarRef("b", get_dtype("int64"), ())
_SYM = Sym(Fraction(1), (("batch", 1),))


def _source_cases() -> list[OpCase]:
    cases = []
    for dt in ALL:
        for shape in ((0,), (), (17,), (3, 11)):
            value = rand(shape, dt)
            cases.append(OpCase("constant", (), {"value": ConstValue(value)}, expect=value.copy()))
            cases.append(OpCase("input", (value,), {"name": "x", "dtype": get_dtype(dt), "shape": shape},
                                expect=value.copy()))
    cases.append(OpCase("input", (transposed(rand((3, 4), F32)),),
                        {"name": "x", "dtype": get_dtype("float32"), "shape": (3, 4)}, expect=lambda x, **a: x,
                        note="transposed"))

    def iota_formula(shape, axis, dtype):
        out = np.empty(shape, dtype=np.int64)
        for idx in np.ndindex(*shape):
            out[idx] = idx[axis] if shape else 0
        return out.astype(dtype.np)

    for dt in ("int64", "int32", "float32", "float16", "uint8"):
        for shape, axis in (((17,), 0), ((3, 11), 1), ((3, 11), -2), ((0, 4), 1), ((), 0)):
            attrs = {"shape": shape, "axis": axis, "dtype": get_dtype(dt)}
            cases.append(OpCase("iota", (), attrs, expect=iota_formula))
    for expr, bindings, value in ((_SYM, {"batch": 3}, 3), (_SYM * 784, {"batch": 5}, 3920),
                                  (_SYM // 2, {"batch": 6}, 3), (7, None, 7)):
        for dt in ("int64", "int32", "float32"):
            cases.append(OpCase("sym_size", (), {"expr": expr, "dtype": get_dtype(dt)}, bindings=bindings,
                                expect=np.asarray(value, dtype=get_dtype(dt).np)))
    a0 = rand((3, 11), F32)
    cases.append(OpCase("variable", (), {"var": VAR_A}, state={VAR_A: a0}, expect=a0.copy()))
    cases.append(OpCase("variable", (), {"var": VAR_B}, state={VAR_B: np.array(9, np.int64)},
                        expect=np.array(9, np.int64)))
    new = rand((3, 11), F32)
    cases.append(OpCase("assign", (new,), {"var": VAR_A}, state={VAR_A: a0}, expect=new.copy()))
    cases.append(OpCase("assign", (transposed(rand((11, 3), F32).T.copy()),), {"var": VAR_A}, state={},
                        expect=lambda x, var: x.copy(), note="transposed"))
    return cases


def _all_cases() -> list[OpCase]:
    return (_elementwise_cases() + _hand_cases() + _where_cases() + _cast_cases() + _reduce_cases()
            + _arg_cases() + _reshape_cases() + _broadcast_cases() + _permute_cases() + _slice_cases()
            + _pad_cases() + _concat_cases() + _flip_cases() + _indexing_cases() + _matmul_cases()
            + _scan_cases() + _random_cases() + _source_cases())


CASES: list[OpCase] = _all_cases()
GRAD_CASES: list[OpCase] = [c for c in CASES if c.grad]


# which inputs carry the op's data dtype (the others are conditions, indices or keys)
DATA_INPUTS = {"where": (1, 2), "gather": (0,), "scatter_add": (0, 2), "random_uniform": ()}


def data_inputs(op: str, n_inputs: int) -> tuple[int, ...]:
    return DATA_INPUTS.get(op, tuple(range(n_inputs)))


def uncovered_ops() -> list[str]:
    """Registered primitives with no case in the table (the table test fails on any)."""
    covered = {c.op for c in CASES}
    return sorted(set(all_ops()) - covered)


def untested_gradients() -> list[str]:
    """Differentiable primitives with no gradient case."""
    checked = {c.op for c in GRAD_CASES}
    return sorted(n for n, op in all_ops().items() if op.differentiable and n not in checked)
