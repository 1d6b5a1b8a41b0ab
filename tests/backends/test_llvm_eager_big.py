"""The llvm backend's eager path for big tensors (`graphflow.backends.llvm.eager.run_op`):
memory-bound arithmetic and `pow` with exponent 2 or 3 run as native shape-generic kernels, with
a broadcast Python scalar read as one value. Results are compared bit for bit with the NumPy
reference (add/sub/mul/div/neg/max/min are correctly rounded in both); the products standing
for `pow` within 1 ulp, with NaN, inf and signed zeros as `pow` gives them."""

from __future__ import annotations

import numpy as np
import pytest

import graphflow as gf
from graphflow.backends.llvm import eager
from graphflow.backends.numpy.interpreter import evaluate
from graphflow.ir.dtypes import get_dtype
from graphflow.ir.graph import TensorType
from graphflow.ir.registry import get_op

N = eager.ARITH_MIN + 3  # above the native threshold, not a multiple of any vector width
SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-30, 3e38, -3e38, 1.0], np.float64)


def _data(n: int, dtype: str, seed: int = 0) -> np.ndarray:
    a = np.random.default_rng(seed).standard_normal(n) * 10
    if dtype.startswith("float"):
        a[: len(SPECIALS)] = SPECIALS
    return a.astype(dtype)


def _out(a: np.ndarray) -> TensorType:
    return TensorType(get_dtype(a.dtype), a.shape)


@pytest.fixture
def native_calls(monkeypatch):
    """Counts calls that reached a native elementwise kernel."""
    calls = []
    orig = eager._run_elementwise

    def spy(fn, op, ins, out, size):
        calls.append(op.name)
        return orig(fn, op, ins, out, size)

    monkeypatch.setattr(eager, "_run_elementwise", spy)
    return calls


def _same_bits(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got.view(f"u{got.itemsize}"), want.view(f"u{want.itemsize}"))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
@pytest.mark.parametrize("name", sorted(eager.ARITH))
def test_big_arithmetic_is_native_and_exact(name, dtype, native_calls):
    op = get_op(name)
    x = _data(N, dtype, 1)
    y = _data(N, dtype, 2)
    if dtype.startswith("int") and name == "div":
        pytest.skip("div takes floats")
    arrays = (x,) if name == "neg" else (x, y)
    got = eager.run_op(op, arrays, {}, _out(x))
    _same_bits(got, np.asarray(evaluate(op, arrays, {}, _out(x))).astype(dtype))
    assert native_calls == [name]


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("left", [True, False])
def test_broadcast_scalar_operand(name, left, native_calls):
    op = get_op(name)
    x = _data(N, "float32")
    for value in (1.5, -0.0, np.inf, np.nan):
        s = np.broadcast_to(np.float32(value), x.shape)
        arrays = (s, x) if left else (x, s)
        got = eager.run_op(op, arrays, {}, _out(x))
        _same_bits(got, evaluate(op, arrays, {}, _out(x)))
    assert native_calls == [name] * 4


def test_strided_inputs_stay_exact(native_calls):
    """A non-contiguous operand: NumPy reads the strides in place (no copy and second pass)."""
    base = _data(2 * N, "float32")
    x = base[::2]
    y = _data(N, "float32", 3)
    op = get_op("mul")
    got = eager.run_op(op, (x, y), {}, _out(y))
    _same_bits(got, x * y)
    assert native_calls == []
    t = gf.tensor(base)[::2] * gf.tensor(y)
    _same_bits(t.numpy(), x * y)


def test_transcendental_copies_strided_input(native_calls):
    x = _data(2 * 100_003, "float32")[::2]
    got = eager.run_op(get_op("tanh"), (x,), {}, _out(np.empty(x.shape, np.float32)))
    want = np.tanh(x.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=4e-7, atol=1e-30)
    assert native_calls == ["tanh"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("k", [2, 3])
def test_pow_by_small_integer_is_a_product(k, dtype, native_calls):
    x = _data(1_000_003, dtype)
    e = np.broadcast_to(np.asarray(k, dtype), x.shape)
    got = eager.run_op(get_op("pow"), (x, e), {}, _out(x))
    assert native_calls == ["pow"]
    want = np.power(x, e)
    finite = np.isfinite(want) & (np.abs(want) > np.finfo(dtype).tiny)
    ulp = np.spacing(np.abs(want[finite]).astype(dtype))
    assert np.all(np.abs(got[finite].astype(np.float64) - want[finite]) <= ulp)
    # NaN, inf and signed zeros exactly as pow gives them
    special = ~finite
    _same_bits(got[:len(SPECIALS)][special[:len(SPECIALS)]], want[:len(SPECIALS)][special[:len(SPECIALS)]])
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.array_equal(np.signbit(got[~np.isnan(got)]), np.signbit(want[~np.isnan(want)]))
    if k == 2:  # one rounding: the correctly rounded square
        _same_bits(got, (x.astype(np.float64) ** 2).astype(dtype) if dtype == "float32" else x * x)


def test_pow_other_exponents_take_the_reference(native_calls):
    x = np.abs(_data(100_003, "float32")) + 0.5
    for e in (np.broadcast_to(np.float32(0.5), x.shape), np.full(x.shape, 3, np.float32)):
        got = eager.run_op(get_op("pow"), (x, e), {}, _out(x))
        _same_bits(got, np.power(x, e))
    assert native_calls == []


def test_eager_chain_takes_native_kernels(native_calls):
    """The tensor-level chain: `y ** 3` and scalar operands reach the native kernels."""
    x = np.random.default_rng(4).standard_normal(1_000_003).astype(np.float32)
    xt = gf.tensor(x)
    y = xt * 1.5 + 0.25
    got = (0.5 * y * (1 + gf.tanh(0.79788 * (y + 0.044715 * y ** 3)))).numpy()
    assert "pow" in native_calls and "tanh" in native_calls
    y64 = x.astype(np.float64) * 1.5 + 0.25
    want = 0.5 * y64 * (1 + np.tanh(0.79788 * (y64 + 0.044715 * y64 ** 3)))
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


def test_scalar_broadcast_of_a_big_shape_is_a_view():
    t = gf.broadcast_to(gf.tensor(np.float32(2.0)), (eager.ARITH_MIN,)) if hasattr(gf, "broadcast_to") else None
    if t is None:
        pytest.skip("no broadcast_to in the public API")
    a = t.numpy()
    assert a.shape == (eager.ARITH_MIN,) and np.all(a == 2.0)
    t.add_(1.0)  # in-place on a broadcast result gets its own buffer
    assert np.all(t.numpy() == 3.0)
