"""Every static-mode and gf.compile test runs once per CPU backend (numpy: the reference; llvm:
the default where it can run). The backend is chosen with `gf.set_backend`, the switch eager
mode, `Session` and `gf.compile` share, and the previous choice is restored afterwards."""

import pytest

import graphflow.static as tf
from tests.cpu_backends import CPU_BACKENDS, on_cpu_backend


@pytest.fixture(autouse=True, params=CPU_BACKENDS)
def backend(request):
    with on_cpu_backend(request.param):
        tf.reset_default_graph()
        yield request.param
        tf.reset_default_graph()
