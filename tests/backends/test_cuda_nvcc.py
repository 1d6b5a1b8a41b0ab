"""Every generated kernel compiles with the installed nvcc for sm_80 (cubin: front end and ptxas)
and sm_90 (PTX), WMMA kernels included. Skipped where nvcc is absent."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from graphflow.backends.cuda.compiler import find_nvcc, nvcc_compile
from graphflow.backends.cuda.prelude import PRELUDE
from tests.backends import cuda_cases as cc

NVCC = find_nvcc()
pytestmark = pytest.mark.skipif(NVCC is None, reason="nvcc is not installed")
# unoptimised device code keeps the test fast; parsing, type checks, intrinsics per architecture
# and ptxas's register and shared-memory limits are the same as for the optimised build
FAST = ["-std=c++17", "-Xcicc", "-O0", "-Xptxas", "-O0"]


def test_every_generated_kernel_compiles_for_sm80_and_sm90(tmp_path_factory):
    cases = cc.all_cases() + cc.wmma_cases()
    source = PRELUDE + "\n" + "\n".join(c.program.source for c in cases)
    n_kernels = sum(len(c.program.launches) for c in cases)
    assert n_kernels > 500 and source.count('extern "C" __global__') == n_kernels
    assert "nvcuda::wmma::mma_sync" in source and "__shfl_down_sync" in source and "float4" in source
    cache = tmp_path_factory.mktemp("nvcc")
    jobs = [("sm_80", "cubin"), ("sm_90", "ptx")]
    with ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(lambda j: nvcc_compile(source, j[0], j[1], nvcc=NVCC, cache=cache, flags=FAST), jobs))
    cubin, ptx = outs
    assert cubin[:4] == b"\x7fELF"
    text = ptx.decode()
    assert ".target sm_90" in text
    for c in cases:
        for launch in c.program.launches:
            assert f".entry {launch.function}(" in text, launch.function


def test_compile_cache_is_keyed_by_source_and_arch(tmp_path):
    src = PRELUDE + '\nextern "C" __global__ void k(float* p) { p[threadIdx.x] = 1.0f; }\n'
    a = nvcc_compile(src, "sm_80", "ptx", nvcc=NVCC, cache=tmp_path, flags=FAST)
    assert len(list(tmp_path.iterdir())) == 1
    assert nvcc_compile(src, "sm_80", "ptx", nvcc=NVCC, cache=tmp_path, flags=FAST) == a  # from the cache
    nvcc_compile(src, "sm_90", "ptx", nvcc=NVCC, cache=tmp_path, flags=FAST)
    assert len(list(tmp_path.iterdir())) == 2
