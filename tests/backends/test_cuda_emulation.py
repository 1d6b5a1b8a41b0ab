"""The generated CUDA C, run on the CPU by the emulation harness (fibers for threads, real
barriers and warp shuffles), against the NumPy reference: every op of the shared op table in
every dtype on awkward shapes, fused kernels (softmax, layer norm, matmul epilogues, float4
chains), WMMA tensor-core matmuls, large odd sizes, and the error flag."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from graphflow.backends import get_backend
from graphflow.backends.cuda import CudaBackend
from graphflow.backends.cuda.emulation import EmulatorDevice
from graphflow.ir import Graph, bind
from graphflow.ir.dtypes import get_dtype
from graphflow.passes.kernel import one_kernel_per_node
from tests import op_cases as oc
from tests.backends import cuda_cases as cc

pytestmark = pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None,
                                reason="the CUDA emulator needs a C++ compiler")

CASES = cc.all_cases() + cc.wmma_cases()
BY_NAME = {c.name: c for c in CASES}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    device = EmulatorDevice(cache_dir=tmp_path_factory.mktemp("cuda-emu"))
    device.load_many([c.program for c in CASES])  # one compiler run for every kernel
    return device


def _tolerance(case: cc.Case, dtype: np.dtype) -> tuple[float, float]:
    name = np.dtype(dtype).name
    if name in case.tol:
        return case.tol[name]
    if case.source_case is not None:
        rtol, atol = oc.tolerance(case.source_case, dtype)
        if case.source_case.op in ("reduce_sum", "reduce_prod", "matmul") and name in ("float32", "float16", "bfloat16"):
            rtol, atol = max(rtol, 1e-5 if name == "float32" else 1e-2), max(atol, 1e-5 if name == "float32" else 1e-2)
        return rtol, atol
    return {"float32": (2e-5, 2e-5), "float64": (1e-12, 1e-12), "float16": (2e-3, 2e-3),
            "bfloat16": (1.6e-2, 1e-2)}.get(name, (0.0, 0.0))


def _compare(case: cc.Case, got: list[np.ndarray], want: list[np.ndarray]) -> None:
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype and g.shape == w.shape, f"output {k}: {g.dtype}{g.shape} vs {w.dtype}{w.shape}"
        if w.dtype.kind in "biu":
            np.testing.assert_array_equal(g, w, err_msg=f"{case.name} output {k}")
            continue
        rtol, atol = _tolerance(case, w.dtype)
        g64, w64 = g.astype(np.float64), w.astype(np.float64)
        if rtol == 0 and atol == 0:
            np.testing.assert_array_equal(g64, w64, err_msg=f"{case.name} output {k}")
        else:
            np.testing.assert_allclose(g64, w64, rtol=rtol, atol=atol, equal_nan=True, err_msg=f"{case.name} output {k}")


@pytest.mark.parametrize("name", list(BY_NAME))
def test_generated_kernels_match_reference(name, emulator):
    case = BY_NAME[name]
    from graphflow.backends.cuda.runtime import CudaExecutable

    numpy_state = dict(case.state) if case.state is not None else None
    cuda_state = dict(case.state) if case.state is not None else None
    try:
        want = get_backend("numpy").compile(case.graph).run(case.arrays, state=numpy_state, bindings=case.bindings)
    except (ValueError, IndexError, ZeroDivisionError, ArithmeticError) as exc:
        with pytest.raises(type(exc)):
            CudaExecutable(case.program, emulator).run(case.arrays, state=cuda_state, bindings=case.bindings)
        return
    got = CudaExecutable(case.program, emulator).run(case.arrays, state=cuda_state, bindings=case.bindings)
    _compare(case, got, want)
    if case.state is not None:
        for var, value in numpy_state.items():
            np.testing.assert_array_equal(np.asarray(cuda_state[var]), np.asarray(value))


# ---- behaviour beyond single outputs: errors, device arrays, the backend's own compile path ----

@pytest.fixture(scope="module")
def backend(emulator):
    return CudaBackend(device=emulator)


def _inp(name, a):
    return bind("input", name=name, dtype=get_dtype(a.dtype), shape=a.shape)


def test_gather_out_of_bounds_names_the_op_and_line(backend):
    x = np.arange(5, dtype=np.float32)
    X, idx = _inp("x", x), _inp("i", np.zeros(3, np.int64))
    out = bind("gather", X, idx, axis=0)
    exe = backend.compile(one_kernel_per_node(Graph([out], [X, idx])))
    np.testing.assert_array_equal(exe.run([x, np.array([-1, 0, 4])])[0], [4, 0, 4])
    with pytest.raises(IndexError, match=r"gather: index out of bounds for dimension 0 of size 5 \(node created at .*test_cuda_emulation"):
        exe.run([x, np.array([0, 5, 1])])


def test_integer_division_by_zero_is_reported(backend):
    a = np.array([7, -7, 3], np.int32)
    A, B = _inp("a", a), _inp("b", a)
    exe = backend.compile(one_kernel_per_node(Graph([bind("floor_div", A, B)], [A, B])))
    np.testing.assert_array_equal(exe.run([a, np.array([2, 2, -2], np.int32)])[0], [3, -4, -2])
    with pytest.raises(ZeroDivisionError, match="floor_div"):
        exe.run([a, np.array([1, 0, 1], np.int32)])


def test_device_arrays_stay_on_the_device(backend, emulator):
    from graphflow.backends.cuda import DeviceArray

    x = np.linspace(-1, 1, 1001, dtype=np.float32)
    X = _inp("x", x)
    exe = backend.compile(one_kernel_per_node(Graph([bind("exp", X), X], [X])))
    dx = DeviceArray.from_host(emulator, x)
    y, same = exe.run([dx], to_host=False)
    assert isinstance(y, DeviceArray) and y.shape == (1001,)
    assert same.handle is not dx.handle  # an output aliasing an input is a copy the caller owns
    np.testing.assert_allclose(y.get(), np.exp(x), rtol=1e-6)
    y2, _ = exe.run([y], to_host=False)  # chained on the device, no host copy in between
    np.testing.assert_allclose(y2.get(), np.exp(np.exp(x)), rtol=1e-5)


def test_bad_input_names_dtype_and_shape(backend):
    x = np.ones((2, 3), np.float32)
    X = _inp("x", x)
    exe = backend.compile(one_kernel_per_node(Graph([bind("neg", X)], [X])))
    with pytest.raises(Exception, match=r"expects shape \(2, 3\), got \(3, 2\)"):
        exe.run([np.ones((3, 2), np.float32)])
    with pytest.raises(Exception, match="expects dtype float32, got float64"):
        exe.run([np.ones((2, 3))])


def test_run_op_matches_reference(backend):
    from graphflow.ir import get_op
    from graphflow.ir.graph import Attrs, TensorType

    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = backend.run_op(get_op("reduce_sum"), [a], Attrs({"axes": (1,), "keepdims": False}),
                         TensorType(get_dtype("float32"), (3,)))
    np.testing.assert_array_equal(out, a.sum(1))


def test_fusion_partition_runs_when_present(backend):
    """The optimiser's fusion output (when that pass exists) goes through the same generators."""
    try:
        from graphflow.passes.fusion import partition
    except ImportError:
        pytest.skip("graphflow.passes.fusion is not present")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 33)).astype(np.float32)
    X = _inp("x", x)
    m = bind("reduce_max", X, axes=(1,), keepdims=True)
    e = bind("exp", bind("sub", X, bind("broadcast_to", m, shape=(9, 33))))
    s = bind("reduce_sum", e, axes=(1,), keepdims=True)
    y = bind("div", e, bind("broadcast_to", s, shape=(9, 33)))
    g = Graph([y], [X])
    try:
        pg = partition(g)
    except Exception as exc:  # noqa: BLE001 - a pass under construction is not this backend's failure
        pytest.skip(f"fusion pass failed: {exc}")
    (got,) = backend.compile(pg).run([x])
    want = np.exp(x - x.max(1, keepdims=True))
    np.testing.assert_allclose(got, want / want.sum(1, keepdims=True), rtol=2e-5, atol=1e-6)
