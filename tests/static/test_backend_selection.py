"""`gf.set_backend` chooses the CPU backend of every mode: eager ops, `Session.run` and gf.compile
(one switch, `graphflow.backends.current_cpu_backend`). Each test starts on the conftest's
`backend` and switches to the other one."""

import numpy as np
import pytest

import graphflow as gf
import graphflow.static as tf
from graphflow import backends
from graphflow.backends import available, get_backend


def _other(name):
    other = "llvm" if name == "numpy" else "numpy"
    if available().get(other) != "available":
        pytest.skip(f"{other}: {available().get(other)}")
    return other


@pytest.fixture
def compiles(monkeypatch):
    """Backend name -> how many graphs it compiled during the test."""
    counts = {"numpy": 0, "llvm": 0}
    for name in counts:
        if available().get(name) != "available":
            continue
        b = get_backend(name)
        real = b.compile

        def counting(graph, _real=real, _name=name):
            counts[_name] += 1
            return _real(graph)

        monkeypatch.setattr(b, "compile", counting)
    return counts


def test_one_switch_for_every_mode(backend):
    assert backends.cpu_backend_name() == backend
    assert gf.eager.get_backend_name() == backend
    assert backends.current_cpu_backend() is get_backend(backend)
    other = _other(backend)
    gf.set_backend(other)
    assert backends.cpu_backend_name() == other == gf.eager.get_backend_name()
    from graphflow.static.executor import cpu_backend

    assert cpu_backend() is get_backend(other)


def test_session_follows_set_backend(backend, compiles):
    x = tf.placeholder(tf.float32, [None, 3])
    w = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2))
    y = tf.nn.softmax(x @ w)
    xs = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    with tf.Session() as sess:
        sess.run(w.initializer)
        first = sess.run(y, {x: xs})
        assert compiles[backend] == 2 and sum(compiles.values()) == 2  # initializer + y
        sess.run(y, {x: xs})
        assert compiles[backend] == 2  # cached
        other = _other(backend)
        gf.set_backend(other)
        second = sess.run(y, {x: xs})
        assert compiles[other] == 1  # the same run, compiled again for the new backend
    np.testing.assert_allclose(second, first, rtol=1e-6, atol=1e-7)


def test_compile_follows_set_backend(backend, compiles):
    f = gf.compile(lambda a, b: (a * b).tanh().sum(1))
    a = gf.tensor(np.linspace(-2, 2, 15, dtype=np.float32).reshape(5, 3))
    b = gf.tensor(np.linspace(1, 0, 3, dtype=np.float32))
    first = f(a, b).numpy()
    assert compiles[backend] == 1 and sum(compiles.values()) == 1
    other = _other(backend)
    gf.set_backend(other)
    second = f(a, b).numpy()
    assert compiles[other] == 1 and f.traces == 1  # compiled again, not traced again
    np.testing.assert_allclose(second, first, rtol=1e-6)
    np.testing.assert_allclose(first, np.tanh(a.numpy() * b.numpy()).sum(1), rtol=1e-6)


def test_environment_decides_without_an_explicit_choice(backend, monkeypatch):
    other = _other(backend)
    gf.set_backend(None)
    monkeypatch.setenv("GRAPHFLOW_CPU_BACKEND", other)
    assert backends.cpu_backend_name() == other == gf.eager.get_backend_name()
    gf.set_backend(backend)  # an explicit choice beats the environment
    assert backends.cpu_backend_name() == backend
    gf.set_backend(None)
    monkeypatch.setenv("GRAPHFLOW_CPU_BACKEND", "tpu")
    with pytest.raises(ValueError, match="GRAPHFLOW_CPU_BACKEND"):
        backends.cpu_backend_name()
    with pytest.raises(ValueError, match="set_backend"):
        gf.set_backend("tpu")
