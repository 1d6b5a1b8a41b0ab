import pytest

import graphflow.static as tf


@pytest.fixture(autouse=True)
def fresh_graph(monkeypatch, request):
    # static-mode semantics are tested on the reference backend; `test_backends.py` runs
    # programs on every CPU backend
    if "backend" not in request.fixturenames:
        monkeypatch.setenv("GRAPHFLOW_CPU_BACKEND", "numpy")
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()
