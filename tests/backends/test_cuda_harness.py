"""The emulation harness itself: block barriers order shared-memory traffic, warp shuffles follow
CUDA's lane rules, and a barrier some threads cannot reach is reported instead of hanging."""

from __future__ import annotations

import ctypes
import shutil

import numpy as np
import pytest

from graphflow.backends.cuda.emulation import EmulatorDevice

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="the CUDA emulator needs g++")

SOURCE = r"""
extern "C" __global__ void shuffles(int* out) {
    int lane = threadIdx.x & 31;
    int down = __shfl_down_sync(0xffffffffu, lane * 10, 3);
    int x = __shfl_xor_sync(0xffffffffu, lane, 5);
    int bcast = __shfl_sync(0xffffffffu, lane + 100, 7);
    out[threadIdx.x * 3 + 0] = down;
    out[threadIdx.x * 3 + 1] = x;
    out[threadIdx.x * 3 + 2] = bcast;
}
extern "C" __global__ void reverse_block(int* out) {
    __shared__ int buf[128];
    buf[threadIdx.x] = blockIdx.x * 1000 + threadIdx.x;
    __syncthreads();  // without it, thread 0 would read slots not yet written
    out[blockIdx.x * blockDim.x + threadIdx.x] = buf[blockDim.x - 1 - threadIdx.x];
}
extern "C" __global__ void divergent(int* out) {
    if (threadIdx.x < 16) __syncthreads();
    __shfl_down_sync(0xffffffffu, 1, 1);
    out[threadIdx.x] = 1;
}
"""


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    dev = EmulatorDevice(cache_dir=tmp_path_factory.mktemp("harness"))
    module = dev.load_source(SOURCE, [("shuffles", ["int*"]), ("reverse_block", ["int*"]), ("divergent", ["int*"])])
    return dev, module


def _run(harness, name, n, grid, block):
    dev, module = harness
    buf = dev.alloc(n * 4)
    dev.launch(module, name, grid, block, [buf], ["int*"])
    out = np.empty(n, np.int32)
    dev.download(buf, out)
    return out


def test_warp_shuffles_follow_cuda_lane_rules(harness):
    out = _run(harness, "shuffles", 64 * 3, (1, 1, 1), (64, 1, 1)).reshape(64, 3)
    lane = np.arange(64) % 32
    np.testing.assert_array_equal(out[:, 0], np.where(lane + 3 < 32, (lane + 3) * 10, lane * 10))
    np.testing.assert_array_equal(out[:, 1], lane ^ 5)
    np.testing.assert_array_equal(out[:, 2], np.full(64, 107))


def test_syncthreads_orders_shared_memory(harness):
    out = _run(harness, "reverse_block", 3 * 128, (3, 1, 1), (128, 1, 1)).reshape(3, 128)
    np.testing.assert_array_equal(out, np.arange(3)[:, None] * 1000 + np.arange(127, -1, -1)[None, :])


def test_divergent_barrier_is_reported(harness):
    with pytest.raises(RuntimeError, match="barrier divergence"):
        _run(harness, "divergent", 32, (1, 1, 1), (32, 1, 1))
    assert isinstance(harness[1], ctypes.CDLL)
