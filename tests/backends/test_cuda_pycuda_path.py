"""The GPU device code (`PyCudaDevice`) run end to end without a GPU: a checked stand-in for
`pycuda.driver` (tests/backends/fake_pycuda.py) runs the kernels through the cuda emulator and
refuses every call PyCUDA or the driver would refuse. Static graphs, `gf.compile` functions and
eager tensors on `cuda` go through it against the NumPy reference; the stand-in's own checks are
proven to fire; one test runs a real nvcc cubin through it where nvcc is installed."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import graphflow.backends.cuda.pycuda_device as pd
from graphflow.backends import get_backend
from graphflow.backends.cuda import CudaBackend
from graphflow.backends.cuda.pycuda_device import PyCudaDevice
from graphflow.ir import Graph, bind
from graphflow.ir.dtypes import get_dtype
from tests.backends import fake_pycuda as fp

pytestmark = pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None,
                                reason="the CUDA emulator needs a C++ compiler")


def _source_compile(source: str, arch: str, *args, **kwargs) -> bytes:
    """nvcc's stand-in: the fake driver loads the source text behind a marker."""
    assert arch == "sm_80"
    return fp.source_image(source)


@pytest.fixture(scope="module")
def drv() -> fp.FakeDriver:
    return fp.FakeDriver()


@pytest.fixture(scope="module")
def device(drv):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pd, "nvcc_compile", _source_compile)
        dev = PyCudaDevice(driver=drv)
        yield dev
        dev._close()


@pytest.fixture(scope="module")
def backend(device):
    return CudaBackend(device=device)


def _inp(name: str, shape: tuple, dtype: str = "float32"):
    return bind("input", name=name, dtype=get_dtype(dtype), shape=shape)


def _reference(graph: Graph, arrays: list) -> list[np.ndarray]:
    return get_backend("numpy").compile(graph).run(arrays)


# ---- static graphs through the device ----------------------------------------------------------
@pytest.mark.parametrize("m,n", [(0, 5), (1, 1), (17, 33), (33, 17)])
def test_static_graph_matches_reference_on_odd_shapes(backend, drv, m, n):
    rng = np.random.default_rng(m * 100 + n)
    x = rng.standard_normal((n, m)).astype(np.float32).T  # non-contiguous (a transposed view)
    b = rng.standard_normal((n,)).astype(np.float32)  # broadcast over rows
    w = rng.standard_normal((n, 3)).astype(np.float32)
    X, B, W = _inp("x", (m, n)), _inp("b", (n,)), _inp("w", (n, 3))
    h = bind("tanh", bind("add", X, bind("broadcast_to", B, shape=(m, n))))
    rows = bind("reduce_sum", h, axes=(1,), keepdims=False)
    cols = bind("reduce_max", bind("exp", h), axes=(0,), keepdims=False) if m else bind("exp", B)
    graph = Graph([h, rows, cols, bind("matmul", h, W), bind("permute", h, perm=(1, 0))], [X, B, W])
    launches = drv.count_calls("launch")
    got = backend.compile(graph).run([x, b, w])
    assert drv.count_calls("launch") > launches
    for g, r in zip(got, _reference(graph, [x, b, w])):
        assert g.shape == r.shape and g.dtype == r.dtype
        np.testing.assert_allclose(g, r, rtol=2e-5, atol=2e-5)
