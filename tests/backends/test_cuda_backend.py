"""The cuda backend without a GPU: availability reasons, lowering-table completeness, the shape of
the generated code, and GPU-only tests that skip with the reason where no GPU is present."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import graphflow.backends.cuda.availability as av
from graphflow.backends import available
from graphflow.backends.cuda import BACKEND, DECOMPOSITIONS, TABLE, build_program, is_available
from graphflow.backends.cuda.lowering import Expr
from graphflow.ir import Graph, all_ops, bind
from graphflow.ir.dtypes import get_dtype
from graphflow.passes.kernel import one_kernel_per_node

GPU_OK, GPU_REASON = BACKEND.availability()
gpu = pytest.mark.skipif(not GPU_OK, reason=f"cuda backend unavailable: {GPU_REASON}")


def test_every_op_has_a_lowering_or_a_decomposition():
    missing = [name for name in all_ops() if name not in TABLE and name not in DECOMPOSITIONS]
    assert not missing, f"ops with neither a CUDA lowering nor a decomposition: {missing}"
    for name in DECOMPOSITIONS:
        assert name not in TABLE, f"{name} is both lowered and decomposed"
    assert set(TABLE) | set(DECOMPOSITIONS) <= set(all_ops()), "table entries for ops that do not exist"


def test_elementwise_templates_cover_the_dtypes_the_op_accepts():
    import graphflow.backends.cuda.ctypes_ as C
    from graphflow.ir.dtypes import ALL_DTYPES
    from graphflow.ir.ops.elementwise import _ACCEPTS, BINARY, UNARY

    for name, (_, rule, _) in {**UNARY, **BINARY}.items():
        low = TABLE.get(name)
        if not isinstance(low, Expr):
            continue
        for d in ALL_DTYPES:
            if _ACCEPTS[rule](d):
                assert low.template(C.key(d)) is not None, f"{name} has no template for {d.name}"


def test_availability_reports_a_precise_reason():
    ok, reason = av.probe()
    status = available()["cuda"]
    if ok:
        assert status == "available" and is_available()
    else:
        assert status.startswith("unavailable: ")
        assert reason.startswith((av.NOT_INSTALLED, av.NO_DRIVER, av.NO_DEVICE))
        assert not is_available()


def _fake_pycuda(monkeypatch, init=None, count=1, import_error=None):
    pkg = types.ModuleType("pycuda")
    pkg.__path__ = []
    pkg.__spec__ = types.SimpleNamespace(name="pycuda", loader=None, submodule_search_locations=[])
    monkeypatch.setitem(sys.modules, "pycuda", pkg)
    if import_error is not None:
        monkeypatch.setitem(sys.modules, "pycuda.driver", None)  # import raises ImportError
        return
    drv = types.ModuleType("pycuda.driver")

    def _init():
        if init is not None:
            raise init

    drv.init = _init
    drv.Device = types.SimpleNamespace(count=lambda: count)
    monkeypatch.setitem(sys.modules, "pycuda.driver", drv)


def test_reason_no_pycuda(monkeypatch):
    monkeypatch.setattr(av.importlib.util, "find_spec", lambda name: None)
    assert av.probe() == (False, av.NOT_INSTALLED + av._INSTALL_HINT)


def test_reason_no_driver(monkeypatch):
    _fake_pycuda(monkeypatch, import_error=True)
    monkeypatch.setattr(av.importlib.util, "find_spec", lambda name: object())
    ok, reason = av.probe()
    assert not ok and reason.startswith(av.NO_DRIVER)
    _fake_pycuda(monkeypatch, init=RuntimeError("cuInit failed: no CUDA-capable device is detected"))
    ok, reason = av.probe()
    assert not ok and reason.startswith(av.NO_DRIVER) and "cuInit" in reason


def test_reason_no_device(monkeypatch):
    _fake_pycuda(monkeypatch, count=0)
    monkeypatch.setattr(av.importlib.util, "find_spec", lambda name: object())
    assert av.probe() == (False, av.NO_DEVICE)
    _fake_pycuda(monkeypatch, count=2)
    assert av.probe() == (True, "available")


def _inp(name, shape, dtype="float32"):
    return bind("input", name=name, dtype=get_dtype(dtype), shape=shape)


def test_generated_code_uses_the_promised_patterns():
    x, y = _inp("x", (1031,)), _inp("y", (1031,))
    src = build_program(one_kernel_per_node(Graph([bind("add", x, y)], [x, y]))).source
    assert "float4" in src and "i += stride" in src  # vectorised grid-stride loop
    m = _inp("m", (7, 300))
    prog = build_program(one_kernel_per_node(Graph([bind("reduce_sum", m, axes=(1,), keepdims=False)], [m])))
    assert "__shared__" in prog.source and "gf_block_reduce" in prog.source  # shared memory + warp shuffles
    assert "__shfl_down_sync" in prog.module_source()
    a, b = _inp("a", (70, 40), "float16"), _inp("b", (40, 33), "float16")
    g = one_kernel_per_node(Graph([bind("matmul", a, b)], [a, b]))
    assert "As[" in build_program(g).source and "wmma" not in build_program(g).source
    assert "nvcuda::wmma::mma_sync" in build_program(g, wmma=True).source


def test_program_source_is_deterministic():
    x = _inp("x", (17, 3))
    g = Graph([bind("exp", bind("permute", x, perm=(1, 0)))], [x])
    assert build_program(one_kernel_per_node(g)).source == build_program(one_kernel_per_node(g)).source


@gpu
def test_gpu_every_op_of_the_table_matches_reference():
    from graphflow.backends import get_backend
    from tests import op_cases as oc

    for case in oc.CASES[::7]:
        graph, arrays = oc.build_case_graph(case)
        try:
            want = get_backend("numpy").compile(graph).run(arrays, state=dict(case.state or {}), bindings=case.bindings)
        except (ValueError, IndexError, ZeroDivisionError):
            continue
        got = BACKEND.compile(one_kernel_per_node(graph)).run(arrays, state=dict(case.state or {}),
                                                            bindings=case.bindings)
        for g, w in zip(got, want):
            rtol, atol = oc.tolerance(case, w.dtype)
            np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=max(rtol, 1e-5),
                                       atol=max(atol, 1e-5), equal_nan=True, err_msg=case.op)


@gpu
def test_gpu_device_arrays_and_timing():
    from graphflow.backends.cuda import DeviceArray

    x = np.random.default_rng(0).standard_normal(1 << 20).astype(np.float32)
    X = _inp("x", x.shape)
    exe = BACKEND.compile(Graph([bind("tanh", X)], [X]))
    dx = DeviceArray.from_host(BACKEND.device, x)
    (y,) = exe.run([dx], to_host=False)
    np.testing.assert_allclose(y.get(), np.tanh(x), rtol=1e-6, atol=1e-6)
    ms = BACKEND.device.time_ms(lambda: exe.run([dx], to_host=False), repeat=3)
    assert ms > 0
