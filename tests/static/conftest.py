"""Every static-mode and gf.compile test runs once per CPU backend (numpy: the reference; llvm:
the default where it can run). The backend is chosen with `gf.set_backend`, the switch eager
mode, `Session` and `gf.compile` share, and the previous choice is restored afterwards."""

import pytest

import graphflow as gf
import graphflow.static as tf
from graphflow.backends import available, cpu_backend_choice

CPU_BACKENDS = ["numpy", "llvm"]


@pytest.fixture(autouse=True, params=CPU_BACKENDS)
def backend(request):
    status = available().get(request.param)
    if status != "available":
        pytest.skip(f"{request.param}: {status}")
    previous = cpu_backend_choice()
    gf.set_backend(request.param)
    tf.reset_default_graph()
    yield request.param
    tf.reset_default_graph()
    gf.set_backend(previous)
