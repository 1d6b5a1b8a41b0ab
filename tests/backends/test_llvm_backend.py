"""The llvm backend beyond the op table: registry coverage, float32 accuracy of the vectorised math
functions (ulp), IEEE NaN/inf, fused kernels, input validation, fresh outputs, the compile cache
(corrupt entries), run-time errors, state, eager single ops, kernel sources."""

from __future__ import annotations

import os

import numpy as np
import pytest
from scipy import special

import graphflow.ops as ops
from graphflow.backends import available, get_backend
from graphflow.errors import GraphError
from graphflow.ir import Graph, all_ops, bind, get_op
from graphflow.ir.dtypes import get_dtype
from graphflow.ir.graph import Attrs, TensorType

pytestmark = pytest.mark.skipif(available().get("llvm") != "available", reason="llvm backend unavailable")


def inp(name, shape, dtype="float32"):
    return bind("input", name=name, dtype=get_dtype(dtype), shape=tuple(shape))


def llvm():
    return get_backend("llvm")


def numpy_run(graph, arrays, **kw):
    return get_backend("numpy").compile(graph).run(arrays, **kw)


# --- coverage -----------------------------------------------------------------------------------
def test_every_op_is_lowered_or_declared():
    from graphflow.backends.llvm import lowering

    missing = [name for name in all_ops() if lowering.coverage(name) is None]
    assert not missing, f"ops with neither a lowering nor a declared fallback on llvm: {missing}"
    known = set(all_ops())
    for op, _kind in lowering.TABLE:
        assert op in known, f"lowering table entry for unknown op {op}"
    for key in lowering.FALLBACK:
        assert (key if isinstance(key, str) else key[0]) in known


# --- math accuracy ------------------------------------------------------------------------------
MATH = {"exp": np.exp, "log": np.log, "tanh": np.tanh, "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
        "erf": special.erf, "sin": np.sin, "cos": np.cos, "expm1": np.expm1, "log1p": np.log1p}
ULP = {"exp": 2, "log": 2, "tanh": 2, "sigmoid": 3, "erf": 4, "sin": 2, "cos": 2, "expm1": 3, "log1p": 3}
SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40, 1e-8, -1e-8, 88.0, 89.0, -104.0,
                     -87.0, 1e5, -1e5, 0.5, -0.5, 6.0, -6.0, 20.0], np.float32)


def _domain(name: str, rng) -> np.ndarray:
    lim = {"exp": 87.0, "expm1": 80.0, "log": 1e30, "log1p": 1e6}.get(name, 30.0)
    x = np.concatenate([rng.uniform(-lim, lim, 60000), rng.uniform(-3, 3, 60000),
                        rng.uniform(-1e-3, 1e-3, 5000)]).astype(np.float32)
    if name == "log":
        x = np.abs(x)
    if name == "log1p":
        x = np.maximum(x, np.float32(-0.999))
    return x


@pytest.fixture(scope="module")
def math_results():
    rng = np.random.default_rng(7)
    xs = {name: _domain(name, rng) for name in MATH}
    nodes, outs, arrays = [], [], []
    for name in MATH:
        for data in (xs[name], SPECIALS):
            x = inp(f"{name}{len(nodes)}", data.shape)
            nodes.append(x)
            arrays.append(data)
            outs.append(bind(name, x))
    got = llvm().compile(Graph(outs, nodes)).run(arrays)
    return {name: (xs[name], got[2 * k], got[2 * k + 1]) for k, name in enumerate(MATH)}


def _ulp(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    spacing = np.maximum(spacing, np.spacing(np.float32(0)))
    return np.abs(got.astype(np.float64) - exact) / spacing


@pytest.mark.parametrize("name", list(MATH))
def test_float32_math_within_few_ulp(name, math_results):
    x, got, _ = math_results[name]
    with np.errstate(all="ignore"):
        exact = MATH[name](x.astype(np.float64))
    err = _ulp(got, exact)
    assert err.max() <= ULP[name], f"{name}: {err.max():.2f} ulp at x={x[err.argmax()]!r}"


@pytest.mark.parametrize("name", list(MATH))
def test_float32_math_nan_inf_are_ieee(name, math_results):
    _, _, got = math_results[name]
    with np.errstate(all="ignore"):
        exact = MATH[name](SPECIALS.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(exact), err_msg=name)
    np.testing.assert_array_equal(np.isinf(got), np.isinf(exact), err_msg=name)
    fin = np.isfinite(exact)
    if name in ("sin", "cos"):  # |x| = 1e5: reduction keeps ~1e-6 absolute accuracy there
        np.testing.assert_allclose(got[fin], exact[fin], rtol=0, atol=2e-6, err_msg=name)
    else:
        np.testing.assert_allclose(got[fin], exact[fin], rtol=4e-7, atol=0, err_msg=name)


def test_nan_propagation_in_arithmetic_and_reductions():
    x, y = inp("x", (5,)), inp("y", (5,))
    outs = [bind("maximum", x, y), bind("minimum", x, y), bind("div", x, y),
            bind("reduce_max", x, axes=(0,), keepdims=False), bind("reduce_min", y, axes=(0,), keepdims=False),
            bind("reduce_sum", x, axes=(0,), keepdims=False), bind("eq", x, x), bind("ne", x, x),
            bind("lt", x, y), bind("isnan", x), bind("sqrt", y)]
    g = Graph(outs, [x, y])
    a = np.array([np.nan, 1.0, -np.inf, 0.0, 2.0], np.float32)
    b = np.array([1.0, np.nan, 0.0, 0.0, -1.0], np.float32)
    with np.errstate(all="ignore"):
        want = numpy_run(g, [a, b])
    got = llvm().compile(g).run([a, b])
    for w, r in zip(want, got):
        np.testing.assert_array_equal(r, w)


# --- fused kernels ------------------------------------------------------------------------------
def test_fused_kernels_match_reference():
    """Softmax / log-softmax rows, layer norm, a matmul with a bias+GELU epilogue, transposed and
    batched products, an integer product, a column reduction, in one graph."""
    rng = np.random.default_rng(3)
    x = inp("x", (37, 19))
    w = inp("w", (19, 23))
    bias = inp("b", (23,))
    a3 = inp("a3", (3, 5, 7))
    b3 = inp("b3", (3, 9, 7))
    ia = inp("ia", (6, 5), "int32")
    ib = inp("ib", (5, 4), "int32")
    mean = ops.mean(x, -1, keepdim=True)
    centred = ops.sub(x, mean)
    var = ops.mean(ops.mul(centred, centred), -1, keepdim=True)
    layer_norm = ops.div(centred, ops.sqrt(ops.add(var, 1e-5)))
    h = ops.add(ops.matmul(x, w), bias)
    gelu = ops.mul(ops.mul(h, 0.5), ops.add(ops.erf(ops.mul(h, 0.7071067811865476)), 1.0))
    outs = [ops.softmax(x, -1), ops.log_softmax(x, -1), layer_norm, gelu,
            ops.matmul(a3, ops.transpose(b3, -1, -2)), ops.matmul(ops.transpose(x, 0, 1), x),
            ops.matmul(ia, ib), ops.sum(x, 0), ops.amax(ops.exp(x), 0)]
    g = Graph(outs, [x, w, bias, a3, b3, ia, ib])
    arrays = [rng.standard_normal(s, dtype=np.float32) for s in ((37, 19), (19, 23), (23,), (3, 5, 7), (3, 9, 7))]
    arrays += [rng.integers(-9, 9, (6, 5)).astype(np.int32), rng.integers(-9, 9, (5, 4)).astype(np.int32)]
    ex = llvm().compile(g)
    got = ex.run(arrays)
    for k, (w_, r) in enumerate(zip(numpy_run(g, arrays), got)):
        assert r.dtype == w_.dtype and r.shape == w_.shape, k
        np.testing.assert_allclose(r, w_, rtol=2e-5, atol=2e-5, err_msg=f"output {k}")
    # the two row reductions of softmax run as one unit: one pass over memory per row
    sm = llvm().compile(Graph([ops.softmax(x, -1)], [x]))
    assert sum(u.kind == "reduce" for u in sm.plan.units) == 1


def test_large_parallel_kernels_match_reference():
    rng = np.random.default_rng(4)
    x = inp("x", (1100, 257))
    y = ops.tanh(ops.add(ops.mul(x, 1.5), 0.25))
    g = Graph([y, ops.softmax(x, -1), ops.sum(x, 1), ops.transpose(x, 0, 1), ops.mul(ops.sum(x, 0), 0.5),
               ops.amax(x, 0)], [x])
    a = rng.standard_normal((1100, 257), dtype=np.float32)
    ex = llvm().compile(g)
    text = ex.plan.describe()
    assert "reduce" in text
    for w_, r in zip(numpy_run(g, [a]), ex.run([a])):
        np.testing.assert_allclose(r, w_, rtol=1e-5, atol=1e-5)


def test_one_module_one_entry_point():
    from graphflow.backends.llvm.codegen import ENTRY, ModuleBuilder
    from graphflow.backends.llvm.executable import build_plan

    x = inp("x", (1 << 19,))
    small = inp("s", (10,))
    g = Graph([ops.exp(x), ops.exp(small), ops.sum(x, 0)], [x, small])
    plan, _ = build_plan(g)
    text = ModuleBuilder(plan).build()
    public = [line for line in text.splitlines() if line.startswith("define") and "internal" not in line]
    assert len(public) == 1 and ENTRY in public[0]
    # the large map goes through the thread pool; the 10-element one stays on one core (and so
    # does the reduction to a scalar, which has no rows to split)
    assert text.count("call void @\"gf_parallel\"") == 1


def test_thread_pool_concurrent_callers_and_many_jobs():
    """Parallel kernels from several Python threads at once (one gets the pool, the others run on
    their own thread) and many jobs in a row all produce every chunk exactly once."""
    import threading

    from graphflow.backends.llvm import pool

    assert pool.workers() >= 0
    n = (1 << 19) + 37  # not a multiple of the chunk size
    x = inp("x", (n,))
    ex = llvm().compile(Graph([ops.add(ops.mul(x, 2.0), 1.0)], [x]))
    rows = inp("r", (700, 1031))
    sm = llvm().compile(Graph([ops.softmax(rows, -1)], [rows]))
    rng = np.random.default_rng(0)
    a = rng.standard_normal(n, dtype=np.float32)
    m = rng.standard_normal((700, 1031), dtype=np.float32)
    want_sm = np.exp(m - m.max(1, keepdims=True))
    want_sm /= want_sm.sum(1, keepdims=True)
    errors = []

    def worker(k: int) -> None:
        try:
            for j in range(12):
                got = ex.run([a + np.float32(k + j)])[0]
                np.testing.assert_allclose(got, 2 * (a + np.float32(k + j)) + 1, rtol=1e-6)
                np.testing.assert_allclose(sm.run([m])[0], want_sm, rtol=2e-5, atol=1e-7)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


# --- inputs and outputs -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_exec():
    x, y = inp("x", (4, 6)), inp("y", (4, 6))
    g = Graph([ops.add(ops.mul(x, 2.0), y), x], [x, y])
    return g, llvm().compile(g)


def test_non_contiguous_inputs_are_copied_not_modified(small_exec):
    g, ex = small_exec
    rng = np.random.default_rng(5)
    base = rng.standard_normal((6, 4), dtype=np.float32)
    x = base.T  # transposed view
    y = rng.standard_normal((4, 12), dtype=np.float32)[:, ::2]  # strided view
    before = base.copy()
    got, ident = ex.run([x, y])
    np.testing.assert_allclose(got, 2 * x + y, rtol=1e-6)
    np.testing.assert_array_equal(ident, x)
    np.testing.assert_array_equal(base, before)
    ident[...] = 0  # an output that is an input is a copy
    np.testing.assert_array_equal(base, before)


def test_outputs_are_fresh_arrays(small_exec):
    _, ex = small_exec
    a = np.ones((4, 6), np.float32)
    first = ex.run([a, a])[0]
    keep = first.copy()
    second = ex.run([a * 3, a])[0]
    np.testing.assert_array_equal(first, keep)
    assert not np.shares_memory(first, second)
    assert first.flags.writeable and first.ctypes.data % 64 == 0


def test_the_same_input_array_again_is_read_afresh_and_checked(small_exec):
    """Run reuses the address of an array fed again (it holds it between calls), but still reads
    its new contents and still checks its shape, dtype and layout, which can change in place."""
    _, ex = small_exec
    a = np.ones((4, 6), np.float32)
    y = np.zeros((4, 6), np.float32)
    np.testing.assert_array_equal(ex.run([a, y])[0], 2)
    a[...] = 5
    np.testing.assert_array_equal(ex.run([a, y])[0], 10)
    a.shape = (6, 4)
    with pytest.raises(GraphError, match="shape"):
        ex.run([a, y])
    a.shape = (4, 6)
    a.dtype = np.int32  # same bytes, other dtype
    with pytest.raises(GraphError, match="dtype"):
        ex.run([a, y])
    a.dtype = np.float32
    np.testing.assert_array_equal(ex.run([a, y])[0], 10)


def test_validation_errors_name_the_input(small_exec):
    _, ex = small_exec
    a = np.ones((4, 6), np.float32)
    with pytest.raises(GraphError, match="dtype float32, got float64"):
        ex.run([a.astype(np.float64), a])
    with pytest.raises(GraphError, match=r"shape \(4, 6\), got \(4, 5\)"):
        ex.run([a, a[:, :5]])
    with pytest.raises(GraphError, match="takes 2 inputs, got 1"):
        ex.run([a])


def test_misaligned_input_is_copied(small_exec):
    _, ex = small_exec
    raw = np.zeros(4 * 6 * 4 + 1, np.uint8)
    x = raw[1:].view(np.float32).reshape(4, 6)  # not 4-byte aligned
    x[...] = 1.5
    got = ex.run([x, np.zeros((4, 6), np.float32)])[0]
    np.testing.assert_array_equal(got, np.full((4, 6), 3.0, np.float32))


# --- errors at run time ---------------------------------------------------------------------------
def test_gather_out_of_bounds_raises_index_error():
    x, idx = inp("x", (3, 4)), inp("i", (3, 2), "int64")
    ex = llvm().compile(Graph([bind("gather", x, idx, axis=1)], [x, idx]))
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    good = np.array([[0, 3], [-1, 2], [1, 1]])
    np.testing.assert_array_equal(ex.run([a, good])[0], np.take_along_axis(a, good % 4, axis=1))
    with pytest.raises(IndexError, match="gather"):
        ex.run([a, np.array([[0, 4], [0, 0], [0, 0]])])


def test_integer_division_by_zero_raises():
    x, y = inp("x", (5,), "int32"), inp("y", (5,), "int32")
    ex = llvm().compile(Graph([bind("floor_div", x, y), bind("mod", x, y)], [x, y]))
    a = np.array([7, -7, 7, -7, -2147483648], np.int32)
    b = np.array([2, 2, -2, -2, -1], np.int32)
    q, r = ex.run([a, b])
    np.testing.assert_array_equal(q, np.floor_divide(a.astype(np.int64), b).astype(np.int32))
    np.testing.assert_array_equal(r, np.mod(a, b))
    with pytest.raises(ZeroDivisionError, match="floor_div|mod"):
        ex.run([a, np.array([1, 0, 1, 1, 1], np.int32)])


def test_fallback_ops_are_listed_and_correct():
    x = inp("x", (4, 7))
    n = inp("n", (4, 7), "int32")
    g = Graph([bind("pow", n, n), ops.exp(x)], [x, n])
    ex = llvm().compile(g)
    assert any("pow" in f for f in ex.fallbacks)
    a = np.random.default_rng(1).standard_normal((4, 7), dtype=np.float32)
    k = np.random.default_rng(1).integers(0, 4, (4, 7)).astype(np.int32)
    got = ex.run([a, k])
    np.testing.assert_array_equal(got[0], k ** k)
    np.testing.assert_allclose(got[1], np.exp(a), rtol=1e-6)


ARG_CASES = [((5, 7), 1, False), ((5, 7), 0, True), ((3, 4, 5), None, False), ((3, 4, 5), 1, True),
             ((2, 3, 4, 5), 2, False), ((1,), 0, False), ((6,), None, True), ((3, 4, 5), -1, False),
             ((2, 130), 1, False)]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int8", "int32", "int64", "uint8", "bool"])
def test_argmax_and_argmin_are_native_and_match_numpy(dtype):
    """The first extreme wins; NaN counts as the extreme (the first NaN); -inf rows and ties."""
    rng = np.random.default_rng(3)
    for shape, axis, keep in ARG_CASES:
        x = inp("x", shape, dtype)
        ex = llvm().compile(Graph([bind(n, x, axis=axis, keepdims=keep) for n in ("argmax", "argmin")], [x]))
        assert not ex.fallbacks
        if dtype == "bool":
            a = rng.random(shape) > 0.5
        elif dtype.startswith("float"):
            a = rng.standard_normal(shape).astype(dtype)
            a.flat[::5] = np.nan
            a.flat[1::7] = -np.inf
        else:
            a = rng.integers(-3 if dtype.startswith("int") else 0, 5, shape).astype(dtype)  # many ties
        for got, fn in zip(ex.run([a]), (np.argmax, np.argmin)):
            want = fn(a, axis=axis, keepdims=keep) if axis is not None else fn(a.reshape(-1))
            if axis is None and keep:
                want = np.asarray(want).reshape((1,) * len(shape))
            assert got.dtype == np.int64
            np.testing.assert_array_equal(got, want)
    x = inp("x", (3,), dtype)
    ex = llvm().compile(Graph([bind("argmax", x), bind("argmin", x)], [x]))
    if dtype.startswith("float"):
        assert [int(v) for v in ex.run([np.full(3, -np.inf, dtype)])] == [0, 0]


def test_variables_and_assign_update_state():
    from graphflow.ir.ops.source import VarRef

    var = VarRef("w", get_dtype("float32"), (3,))
    v = bind("variable", var=var)
    g = Graph([bind("assign", ops.add(v, 1.0), var=var)], [])
    ex = llvm().compile(g)
    state = {var: np.zeros(3, np.float32)}
    ex.run([], state=state)
    (out,) = ex.run([], state=state)
    np.testing.assert_array_equal(state[var], [2, 2, 2])
    np.testing.assert_array_equal(out, [2, 2, 2])
    with pytest.raises(GraphError, match="read before it was initialised"):
        ex.run([], state={})


# --- compile cache --------------------------------------------------------------------------------
def test_cache_detects_corruption_and_rebuilds(tmp_path, monkeypatch):
    from graphflow.backends.llvm import cache, executable

    monkeypatch.setenv("GRAPHFLOW_CACHE_DIR", str(tmp_path))
    x = inp("x", (9,))
    g = Graph([ops.add(ops.mul(x, 3.25), 0.5)], [x])  # a graph no other test compiles
    ex = llvm().compile(g)
    path = cache.entry_path(ex.key)
    assert os.path.exists(path)
    data = open(path, "rb").read()
    with open(path, "wb") as f:  # truncated: a crash half-way through a write elsewhere
        f.write(data[: len(data) // 2])
    cache.clear_memory()
    executable._loaded.clear()
    before = cache.stats["corrupt"]
    ex2 = llvm().compile(g)
    assert cache.stats["corrupt"] == before + 1
    a = np.arange(9, dtype=np.float32)
    np.testing.assert_allclose(ex2.run([a])[0], a * 3.25 + 0.5)
    assert open(path, "rb").read() == data  # rebuilt and rewritten whole
    # a warm disk cache loads without compiling
    cache.clear_memory()
    executable._loaded.clear()
    hits = cache.stats["disk_hits"]
    llvm().compile(g)
    assert cache.stats["disk_hits"] == hits + 1
    assert not [p for p in os.listdir(os.path.dirname(path)) if p.startswith(".tmp")]


def test_cache_flipped_byte_is_rejected(tmp_path, monkeypatch):
    from graphflow.backends.llvm import cache

    monkeypatch.setenv("GRAPHFLOW_CACHE_DIR", str(tmp_path))
    cache.put("k", b"payload" * 10)
    cache.clear_memory()
    assert cache.get("k") == b"payload" * 10
    path = cache.entry_path("k")
    raw = bytearray(open(path, "rb").read())
    raw[-1] ^= 1
    open(path, "wb").write(bytes(raw))
    cache.clear_memory()
    assert cache.get("k") is None and not os.path.exists(path)


# --- eager single ops -----------------------------------------------------------------------------
def _run_op(name, arrays, attrs, dtype, shape):
    from graphflow.backends.llvm.eager import run_op

    return run_op(get_op(name), arrays, Attrs(attrs), TensorType(get_dtype(dtype), shape))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int8", "uint8"])
def test_eager_elementwise_and_reductions(dtype):

    rng = np.random.default_rng(11)
    n = 9_000
    if dtype.startswith("float"):
        a = rng.standard_normal(n).astype(dtype)
        b = rng.standard_normal(n).astype(dtype)
        unary = "tanh"
    else:
        a = rng.integers(1, 100, n).astype(dtype)
        b = rng.integers(1, 9, n).astype(dtype)
        unary = "neg"
    np.testing.assert_allclose(_run_op("add", [a, b], {}, dtype, (n,)), a + b, rtol=1e-6)
    np.testing.assert_allclose(_run_op("mul", [a, b], {}, dtype, (n,)), a * b, rtol=1e-6)
    want = np.tanh(a) if unary == "tanh" else -a
    np.testing.assert_allclose(_run_op(unary, [a], {}, dtype, (n,)), want, rtol=1e-6, atol=1e-7)
    m = np.resize(a, (397, 331))
    for axes, shape in (((1,), (397,)), ((0,), (331,)), (None, ())):
        got = _run_op("reduce_sum", [m], {"axes": axes, "keepdims": False}, dtype, shape)
        want = m.sum(axis=axes).astype(dtype)
        # sums of mixed signs cancel: tolerance relative to the summed magnitudes
        scale = np.abs(m).sum(axis=axes) if dtype.startswith("float") else 0
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * np.max(scale) if dtype != "float64" else 1e-12 * np.max(scale))
        assert got.shape == shape
        got = _run_op("reduce_max", [m], {"axes": axes, "keepdims": False}, dtype, shape)
        np.testing.assert_array_equal(got, m.max(axis=axes))


def test_eager_kernels_are_shape_generic():
    from graphflow.backends.llvm import eager

    rng = np.random.default_rng(2)
    a = rng.standard_normal(eager.TINY * 2, dtype=np.float32)
    _run_op("exp", [a], {}, "float32", a.shape)
    compiled = len(eager._kernels)
    for n in (eager.TINY + 1, eager.TINY * 5 + 3, 100_003):
        x = rng.standard_normal(n, dtype=np.float32)
        np.testing.assert_allclose(_run_op("exp", [x], {}, "float32", (n,)), np.exp(x), rtol=1e-6)
    assert len(eager._kernels) == compiled  # new sizes, no new compile
    nc = rng.standard_normal((eager.TINY, 4), dtype=np.float32)[:, 1]  # strided
    np.testing.assert_allclose(_run_op("exp", [nc], {}, "float32", nc.shape), np.exp(nc), rtol=1e-6)


def test_eager_errors_and_small_path():
    n = 10_000
    a = np.arange(n, dtype=np.int32)
    b = np.ones(n, np.int32)
    b[5] = 0
    with pytest.raises(ZeroDivisionError, match="floor_div"):
        _run_op("floor_div", [a, b], {}, "int32", (n,))
    # tiny inputs take the NumPy path and give the same answer
    np.testing.assert_array_equal(_run_op("add", [a[:3], a[:3]], {}, "int32", (3,)), a[:3] * 2)


def test_kernel_sources_give_llvm_ir_per_unit():
    from graphflow.backends.llvm import kernel_sources
    from graphflow.passes.kernel import one_kernel_per_node

    x = inp("x", (8, 3))
    g = Graph([ops.exp(ops.sum(x, 1))], [x])
    sources = kernel_sources(one_kernel_per_node(g))
    assert len(sources) == 2 and all("define" in s for s in sources)
    assert "gf_expf" in sources[1]


def test_fresh_graph_inputs_shape_zero():
    x = inp("x", (0, 5))
    g = Graph([ops.exp(x), ops.sum(x, 0)], [x])
    e, s = llvm().compile(g).run([np.zeros((0, 5), np.float32)])
    assert e.shape == (0, 5)
    np.testing.assert_array_equal(s, np.zeros(5, np.float32))


def test_concurrent_cache_writers_leave_a_whole_entry(tmp_path, monkeypatch):
    import threading

    from graphflow.backends.llvm import cache

    monkeypatch.setenv("GRAPHFLOW_CACHE_DIR", str(tmp_path))
    payloads = [bytes([k]) * (200_000 + k) for k in range(8)]
    threads = [threading.Thread(target=cache.put, args=("shared", p)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cache.clear_memory()
    assert cache.get("shared") in payloads  # one writer's whole entry, checksum intact
    assert not [p for p in os.listdir(os.path.dirname(cache.entry_path("shared"))) if p.startswith(".tmp")]


def test_unsupported_fused_kernel_compiles_unfused(tmp_path, monkeypatch):
    """A fused kernel the emitter cannot handle is remembered and compiled one node per unit."""
    from graphflow.backends.llvm import cache, codegen, executable
    from graphflow.backends.llvm.indexing import Unsupported

    monkeypatch.setenv("GRAPHFLOW_CACHE_DIR", str(tmp_path))
    original = codegen.ModuleBuilder._reduce

    def picky(self, b, ev, unit, lo, hi, ptrs):
        if len(unit.nodes) > 1:
            raise Unsupported("test: fused reductions refused")
        return original(self, b, ev, unit, lo, hi, ptrs)

    monkeypatch.setattr(codegen.ModuleBuilder, "_reduce", picky)
    x = inp("x", (5, 11))
    g = Graph([ops.log_softmax(ops.mul(x, 1.75), -1)], [x])
    ex = llvm().compile(g)
    assert ex.key.endswith("-split") and all(len(u.nodes) == 1 for u in ex.plan.units)
    a = np.random.default_rng(9).standard_normal((5, 11), dtype=np.float32)
    np.testing.assert_allclose(ex.run([a])[0], numpy_run(g, [a])[0], rtol=1e-5, atol=1e-6)
    # the refusal is remembered: the next compile goes straight to the unfused program
    cache.clear_memory()
    executable._loaded.clear()
    executable._split_keys.clear()
    assert llvm().compile(g).key == ex.key


def test_scatter_add_accumulates_repeats_and_checks_bounds():
    x, idx, src = inp("x", (3, 4)), inp("i", (3, 5), "int64"), inp("s", (3, 5))
    g = Graph([bind("scatter_add", x, idx, src, axis=1)], [x, idx, src])
    ex = llvm().compile(g)
    assert not ex.fallbacks
    rng = np.random.default_rng(8)
    a = rng.standard_normal((3, 4), dtype=np.float32)
    s = rng.standard_normal((3, 5), dtype=np.float32)
    i = np.array([[0, 0, 3, -1, 2], [1, 1, 1, 1, 1], [3, 2, 1, 0, -4]])
    np.testing.assert_allclose(ex.run([a, i, s])[0], numpy_run(g, [a, i, s])[0], rtol=1e-6)
    with pytest.raises(IndexError, match="scatter_add"):
        ex.run([a, np.full((3, 5), 4), s])


@pytest.mark.parametrize("shapes, ta, tb", [
    (((3, 70, 130), (3, 130, 150)), False, False),  # batched, split over N (150 > 70), ragged tiles
    (((300, 77), (77, 90)), False, False),  # split over M
    (((77, 300), (90, 77)), True, True),  # both operands transposed views feeding BLAS
    (((64, 784), (64, 256)), True, False),  # the MLP's weight gradient: x^T @ g
])
def test_matmul_tiles_on_the_pool_match_numpy(shapes, ta, tb):
    """Products big enough to be split into tiles of C, run as single-threaded BLAS calls on the
    thread pool: every tile lands in its place (offsets for transposed operands and batches)."""
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
    a_, b_ = inp("a", shapes[0]), inp("b", shapes[1])
    left = ops.transpose(a_, -1, -2) if ta else a_
    right = ops.transpose(b_, -1, -2) if tb else b_
    got = llvm().compile(Graph([ops.matmul(left, right)], [a_, b_])).run(arrays)[0]
    x = np.swapaxes(arrays[0], -1, -2) if ta else arrays[0]
    y = np.swapaxes(arrays[1], -1, -2) if tb else arrays[1]
    np.testing.assert_allclose(got, np.matmul(x.astype(np.float64), y), rtol=1e-4, atol=1e-4)


def test_output_memory_reused_only_when_the_caller_dropped_it(small_exec):
    """Outputs are recycled across calls only when no array (or view of one) the caller holds
    still refers to their memory; a kept view keeps its values."""
    _, ex = small_exec
    a = np.ones((4, 6), np.float32)
    addr = ex.run([a, a])[0].ctypes.data  # dropped at once
    again = ex.run([a * 2, a])[0]
    assert again.ctypes.data == addr  # the dropped memory came back
    view = again[1:]
    del again
    kept = view.copy()
    third = ex.run([a * 5, a])[0]
    assert not np.shares_memory(third, view)
    np.testing.assert_array_equal(view, kept)
    fourth = ex.run([a * 7, a])[0]  # two outputs alive: a third block
    assert not np.shares_memory(fourth, third) and not np.shares_memory(fourth, view)
    np.testing.assert_array_equal(third, np.full((4, 6), 11, np.float32))


def test_division_by_row_sum_uses_ieee_division_for_extreme_sums():
    """x / sum(x) over rows multiplies by the row's reciprocal only where that reciprocal is a
    normal number; rows whose sum is zero, subnormal, huge, infinite or NaN divide exactly."""
    x = inp("x", (7, 37))
    y = ops.div(x, ops.sum(x, -1, keepdim=True))
    ex = llvm().compile(Graph([y], [x]))
    rng = np.random.default_rng(11)
    a = rng.uniform(0.5, 2.0, (7, 37)).astype(np.float32)
    a[1] = np.float32(1e-40) / 37  # subnormal row: sum subnormal, 1/sum overflows
    a[2] = 0.0  # 0/0
    a[3, 5] = np.inf
    a[4, 0] = np.nan
    a[5] = np.float32(3e37)  # sum overflows to inf
    a[6] = np.float32(1e-38)  # normal sum, tiny elements
    got = ex.run([a])[0]
    with np.errstate(all="ignore"):
        want = a / a.sum(-1, keepdims=True, dtype=np.float32)
    np.testing.assert_array_equal(got[1:6], want[1:6])  # exact where the reciprocal is not used
    np.testing.assert_allclose(got[[0, 6]], want[[0, 6]], rtol=3e-7)


@pytest.mark.parametrize("M, K, N, dtype", [(3, 5, 7, "float32"), (300, 77, 90, "float32"),
                                            (70, 130, 1500, "float64"), (513, 257, 129, "float32")])
def test_eager_matmul_shape_generic_tiles(M, K, N, dtype):
    """Eager matmul: one kernel per dtype for every shape (sizes at run time), big products
    split into tiles over M or N on the thread pool."""
    rng = np.random.default_rng(M)
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)[:, :]  # contiguous
    got = llvm().run_op(get_op("matmul"), [a, b.T.copy().T], Attrs({}), TensorType(get_dtype(dtype), (M, N)))
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("axis", [1, 2, -1])
def test_concat_output_one_loop_nest_per_input(axis):
    """A kernel whose output is a concat (through a reshape) runs one loop nest per input: each
    piece lands at its offset, an empty input is skipped, pieces fused from pad/slice/arithmetic
    compute their own values."""
    from graphflow.backends.llvm.codegen import _concat_output

    rng = np.random.default_rng(3)
    shapes = [[5, 3, 7, 9], [5, 3, 7, 9], [5, 3, 7, 9]]
    ax = axis % 4
    for s, extra in zip(shapes, (1, 0, 4)):
        s[ax] = extra
    xs = [inp(f"x{k}", s) for k, s in enumerate(shapes)]
    big = inp("big", (5, 3, 13, 11))
    parts = [ops.mul(xs[0], 2.0), xs[1], ops.exp(xs[2])]
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes] + [
        rng.standard_normal((5, 3, 13, 11)).astype(np.float32)]
    if ax == 2:  # a strided window of a padded input, as conv2d's im2col takes: (5, 3, 7, 9)
        padded = ops.pad(big, (1, 1, 1, 1))  # (5, 3, 15, 13)
        parts.append(ops.slice_axis(ops.slice_axis(padded, 2, 0, 13, 2), 3, 2, 11, 1))
    y = ops.reshape(ops.cat(parts, axis), (5, -1))
    g = Graph([y], xs + [big])
    ex = llvm().compile(g)
    assert any(_concat_output(u) is not None for u in ex.plan.units)
    got = ex.run(arrays)[0]
    want_parts = [arrays[0] * 2, arrays[1], np.exp(arrays[2])]
    if ax == 2:
        pb = np.pad(arrays[3], ((0, 0), (0, 0), (1, 1), (1, 1)))
        want_parts.append(pb[:, :, 0:13:2, 2:11])
    want = np.concatenate(want_parts, axis).reshape(5, -1)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(got, numpy_run(g, arrays)[0], rtol=1e-6)


@pytest.mark.parametrize("stride, padding, groups", [(1, 1, 1), (2, 0, 2), (1, 2, 4)])
def test_conv2d_im2col_matches_numpy(stride, padding, groups):
    """conv2d's im2col (pad, strided slices, concat) compiled with a loop nest per tap."""
    from graphflow.nn import functional as F

    rng = np.random.default_rng(stride + padding + groups)
    x = inp("x", (3, 8, 13, 11))
    w = inp("w", (12, 8 // groups, 3, 3))
    y = F.conv2d(x, w, stride=stride, padding=padding, groups=groups)
    g = Graph([y], [x, w])
    arrays = [rng.standard_normal((3, 8, 13, 11)).astype(np.float32),
              rng.standard_normal((12, 8 // groups, 3, 3)).astype(np.float32)]
    np.testing.assert_allclose(llvm().compile(g).run(arrays)[0], numpy_run(g, arrays)[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n", [1, 2, 17])
def test_merged_row_reductions_keep_a_value_another_kernel_rereads(n):
    """Two row reductions merged into one unit (a normalisation's forward and its gradient) keep
    as a buffer the value that a third kernel broadcasts again: the gradient of x / sqrt(sum(x*x,
    keepdims) + 1) once failed to compile (KeyError in the unit's buffer table)."""
    from graphflow.autodiff import grad

    x = inp("x", (n,), "float64")
    y = ops.div(x, ops.sqrt(ops.add(ops.sum(ops.mul(x, x), keepdim=True), 1.0)))
    (g,) = grad(None, [ops.sum(y)], [x])
    graph = Graph([g, y], [x])
    a = np.random.default_rng(n).standard_normal(n)
    got = llvm().compile(graph).run([a])
    want = numpy_run(graph, [a])
    s = 1.0 + (a * a).sum()
    np.testing.assert_allclose(want[0], 1 / np.sqrt(s) - a * a.sum() / s ** 1.5, rtol=1e-12)
    for gv, wv in zip(got, want):
        np.testing.assert_allclose(gv, wv, rtol=1e-12, atol=1e-15)
