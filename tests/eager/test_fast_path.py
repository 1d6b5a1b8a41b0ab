"""The cheap paths for tiny tensors give exactly what the general path (the backend's `run_op`,
the compiled gradient graph) gives: same bits, dtypes, NaN/inf, integer wrap-around, errors."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

import graphflow as gf
from graphflow.backends import get_backend
from graphflow.eager import engine
from graphflow.eager.fast import BY_OP, DIRECT, TINY, make_kernel
from graphflow.ir.graph import Attrs
from graphflow.ir.registry import get_op
from graphflow.ops import elementwise as E

T = sys.modules["graphflow.eager.tensor"]


@pytest.fixture(autouse=True)
def cpu_backend():
    """Bit-for-bit comparisons are against the reference backend (llvm's kernels may differ from
    NumPy in the last ulp and in the sign of a NaN, which IEEE leaves open)."""
    previous = gf.backends.cpu_backend_choice()
    gf.set_backend("numpy")
    yield "numpy"
    gf.set_backend(previous)

NUMPY = get_backend("numpy")
nan, inf = float("nan"), float("inf")

FLOATS = {
    "float32": np.array([0.0, -0.0, 1.5, -2.25, nan, inf, -inf, 3.4e38, 1e-45, 7.0], np.float32),
    "float64": np.array([0.0, -0.0, 1.5, -2.25, nan, inf, -inf, 1.7e308, 5e-324, 7.0], np.float64),
}
INTS = {
    "int8": np.array([0, 1, -1, 127, -128, 5, -7, 100, 3, 2], np.int8),
    "uint8": np.array([0, 1, 255, 254, 128, 5, 7, 100, 3, 2], np.uint8),
    "int32": np.array([0, 1, -1, 2**31 - 1, -2**31, 5, -7, 10**9, 3, 2], np.int32),
    "int64": np.array([0, 1, -1, 2**63 - 1, -2**63, 5, -7, 10**18, 3, 2], np.int64),
}


def _general(name: str, *arrays: np.ndarray) -> np.ndarray:
    """The backend's run_op: the path every op takes without the fast tables."""
    op = get_op(name)
    dtype = gf.from_numpy(arrays[0]).dtype
    out = T._infer(op, [x for a in arrays for x in (dtype, a.shape)], {}, None)[1]
    return NUMPY.run_op(op, list(arrays), Attrs({}), out)


def _same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)  # NaN == NaN here
    if got.dtype.kind == "f":  # signed zeros too
        assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.fixture(autouse=True)
def _errors_raise():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fast path that lets a NumPy warning through fails
        yield


@pytest.mark.parametrize("dtype", list(FLOATS) + list(INTS))
@pytest.mark.parametrize("name,operator", [("add", "__add__"), ("sub", "__sub__"), ("mul", "__mul__"),
                                           ("div", "__truediv__")])
def test_operators_match_run_op(dtype, name, operator):
    vals = FLOATS.get(dtype, INTS.get(dtype))
    a, b = vals, vals[::-1].copy()
    x, y = gf.from_numpy(a), gf.from_numpy(b)
    got = getattr(x, operator)(y)
    if dtype in INTS and name == "div":  # true division of integers promotes (general path)
        assert got.dtype is gf.float32
        with np.errstate(all="ignore"):
            want = a.astype(np.float32) / b.astype(np.float32)
        np.testing.assert_allclose(got.numpy(), want)
        return
    _same(got.numpy(), _general(name, a, b))
    assert got.dtype is x.dtype
    # reflected forms
    _same(getattr(y, "__r" + operator[2:])(x).numpy(), _general(name, a, b))


@pytest.mark.parametrize("name", sorted({op.name for op, _ in DIRECT}))
def test_direct_table_matches_reference(name):
    op = get_op(name)
    for vals in [*FLOATS.values(), *INTS.values(), np.array([True, False] * 5)]:
        d = gf.from_numpy(vals).dtype
        fn = DIRECT.get((op, d))
        if fn is None:
            continue
        arrays = [vals, vals[::-1].copy()][:op.arity]
        if name in ("floor_div", "mod") and d.kind in "iu":
            arrays[1] = np.where(arrays[1] == 0, 3, arrays[1]).astype(vals.dtype)
        if name == "pow" and d.kind == "i":
            arrays[1] = np.abs(arrays[1] % 5).astype(vals.dtype)
        want = _general(name, *arrays)
        got = np.asarray(fn(*arrays)).astype(want.dtype)
        _same(got, want)


def test_unary_methods_match_and_keep_dtype():
    for vals in FLOATS.values():
        x = gf.from_numpy(vals)
        for name in ("exp", "log", "sin", "cos", "tanh", "sigmoid", "sqrt", "rsqrt", "reciprocal", "neg", "abs",
                     "expm1", "log1p"):
            got = getattr(x, name)()
            _same(got.numpy(), _general(name, vals))
            assert got.dtype is x.dtype
    # integers: abs/neg keep the dtype (wrapping), exp promotes to float as in PyTorch
    i8 = gf.from_numpy(INTS["int8"])
    assert (-i8).dtype is gf.int8 and (-i8).tolist()[4] == -128
    assert abs(i8).tolist()[4] == -128
    assert i8.exp().dtype is gf.float32


def test_nan_inf_division_by_zero_and_int_wrap():
    z = gf.zeros(3)
    r = (gf.tensor([1.0, -1.0, 0.0]) / z).tolist()
    assert r[0] == inf and r[1] == -inf and np.isnan(r[2])
    big = gf.tensor([3e38], dtype=gf.float32)
    assert (big + big).tolist() == [inf]  # no overflow warning (the fixture turns warnings into errors)
    assert np.isnan((gf.tensor([inf]) - gf.tensor([inf])).item())
    i = gf.tensor([127], dtype=gf.int8)
    assert (i + i).tolist() == [-2] and (i + i).dtype is gf.int8
    i64 = gf.tensor([2**63 - 1])
    assert (i64 + gf.tensor([1])).tolist() == [-2**63]
    assert np.geterr() == {"divide": "warn", "over": "warn", "under": "ignore", "invalid": "warn"}


def test_promotion_and_errors_go_through_the_general_path():
    f32 = gf.tensor([1.5, 2.5])
    assert (f32 + gf.tensor([1, 2])).dtype is gf.float32
    assert (gf.tensor([1, 2], dtype=gf.int32) + gf.tensor([0.5, 0.5], dtype=gf.float64)).dtype is gf.float64
    assert (gf.tensor([1, 2]) / gf.tensor([2, 4])).tolist() == [0.5, 0.5]
    assert (f32 + gf.ones(1)).shape == (2,)  # broadcasting
    with pytest.raises(Exception, match=r"(2,).*(3,)|(3,).*(2,)"):
        f32 + gf.ones(3)
    with pytest.raises(ZeroDivisionError):
        gf.tensor([1, 2]) // gf.tensor([0, 1])


def test_zero_dim_results_are_arrays():
    s = gf.tensor(2.0) * gf.tensor(3.0)
    assert isinstance(s._data, np.ndarray) and s.shape == () and s.item() == 6.0
    assert isinstance(gf.tensor(4.0).sqrt()._data, np.ndarray)
    s2 = gf.tensor(2.0, requires_grad=True)
    (s2 * s2).backward()
    assert s2.grad.item() == 4.0


def test_tiny_threshold_and_large_tensors_agree():
    a = np.random.default_rng(0).standard_normal(TINY + 3).astype(np.float32)
    x = gf.from_numpy(a)
    _same((x * x).numpy(), a * a)
    _same(x.sin().numpy(), _general("sin", a))


def test_reduction_kernels_match_reference():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 7)).astype(np.float32)
    x[1, 2, 3] = nan
    for name in ("reduce_sum", "reduce_prod", "reduce_max", "reduce_min"):
        op = get_op(name)
        for axes, keep in [(None, False), ((1,), True), ((0, 2), False), ((), False)]:
            attrs = Attrs({"axes": axes, "keepdims": keep})
            out = T._infer(op, [gf.float32, x.shape], attrs, None)[1]
            want = NUMPY.run_op(op, [x], attrs, out)
            got = np.asarray(make_kernel(op, gf.float32, attrs)(x)).astype(np.float32)
            _same(got.reshape(want.shape), want)


def test_fast_operators_record_when_grad_is_needed():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    y = x * x + x
    assert y.grad_fn is not None and y.requires_grad
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 5.0]
    with gf.no_grad():
        z = x * x
    assert z.grad_fn is None and not z.requires_grad


def test_parameter_subclass_takes_the_fast_path_too():
    w = gf.nn.Parameter(gf.ones(3))
    x = gf.tensor([1.0, 2.0, 3.0])
    (x * w).sum().backward()
    assert w.grad.tolist() == [1.0, 2.0, 3.0]


def _grad_graph_both_ways(fn, *arrays):
    """Gradients from the lean runner and from the numpy backend's compiled graph."""
    engine._CACHE.clear()
    xs = [gf.tensor(a, requires_grad=True) for a in arrays]
    fn(*xs).sum().backward()
    lean = [x.grad.numpy().copy() for x in xs]
    plans = list(engine._CACHE.values())
    assert len(plans) == 1 and plans[0].runner is not None
    plans[0].runner = None  # next run of the same structure: the backend's executable
    for x in xs:
        x.grad = None
    fn(*xs).sum().backward()
    assert plans[0].exe is not None
    return lean, [x.grad.numpy() for x in xs]


@pytest.mark.parametrize("fn", [
    lambda x, y: (x * y).sin() / (y + 2.0),
    lambda x, y: gf.tanh(x @ y.T).exp().mean(dim=1),
    lambda x, y: gf.softmax(x * y, dim=-1).amax(dim=0),
    lambda x, y: gf.where(x > 0, x, y * y).reshape(-1)[1:5].sigmoid(),
])
def test_lean_backward_matches_compiled_graph(fn):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    a[0, 0] = nan
    lean, compiled = _grad_graph_both_ways(fn, a, b)
    for g1, g2 in zip(lean, compiled):
        _same(g1, g2)


def test_plan_cache_distinguishes_wiring():
    engine._CACHE.clear()
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    y = gf.tensor([3.0, 4.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    x.grad = None
    (x * y).sum().backward()  # same op and types, different wiring: a different plan
    assert x.grad.tolist() == [3.0, 4.0] and y.grad.tolist() == [1.0, 2.0]
    assert len(engine._CACHE) == 2
    for _ in range(3):  # a repeating structure reuses its plan
        x.grad = y.grad = None
        (x * y).sum().backward()
    assert len(engine._CACHE) == 2 and x.grad.tolist() == [3.0, 4.0]


def test_gradient_buffers_are_not_shared():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    y = gf.tensor([3.0, 4.0], requires_grad=True)
    (x + y).sum().backward()
    assert not np.shares_memory(x.grad.numpy(), y.grad.numpy())
    x.grad.add_(1.0)
    assert y.grad.tolist() == [1.0, 1.0]
    seed = gf.ones(2)
    z = gf.tensor([1.0, 1.0], requires_grad=True)
    (z * 1.0).backward(seed)
    z.grad.add_(1.0)
    assert seed.tolist() == [1.0, 1.0]


def test_by_op_table_has_the_operator_dtypes():
    for name in ("add", "sub", "mul", "div"):
        assert gf.float32 in BY_OP[name] and gf.float64 in BY_OP[name]
    assert gf.float16 not in BY_OP["add"] and gf.bfloat16 not in BY_OP["mul"]  # computed in float32 by the reference
    assert gf.int64 in BY_OP["add"] and gf.int64 not in BY_OP["div"]


def test_half_precision_takes_the_general_path():
    x = gf.tensor([1.0, 2.0, 3.0], dtype=gf.float16)
    _same((x * x).numpy(), _general("mul", x.numpy(), x.numpy()))
    y = gf.tensor([1.0, 2.0, 3.0], dtype=gf.bfloat16)
    assert (y + y).dtype is gf.bfloat16


def test_general_path_used_for_unary_int():
    x = gf.tensor([1, 4, 9])
    assert x.sqrt().dtype is gf.float32 and x.sqrt().tolist() == [1.0, 2.0, 3.0]
    assert E.neg(x).tolist() == (-x).tolist()
