"""`gf.static.explain(fetches, feed_dict)` and `gf.explain(fn, *args)`: the report of the run's
pruned graph specialised to the fed shapes, its kernels (primitive ops) and the current backend's
code (LLVM IR for llvm, pseudo-code for the NumPy reference)."""

import numpy as np
import pytest

import graphflow as gf
import graphflow.static as tf
from graphflow.errors import GraphError

KERNEL_CODE = {"llvm": "define ", "numpy": "for each"}


def _model():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.Variable(np.ones((3, 4), np.float32), name="w")
    hidden = tf.nn.relu(x @ w)
    probs = tf.nn.softmax(hidden)
    unrelated = tf.exp(tf.placeholder(tf.float32, [None], name="other"))
    return x, w, probs, unrelated


def test_report_of_a_run(backend):
    x, w, probs, _ = _model()
    report = tf.explain(probs, {x: np.zeros((5, 3), np.float32)})
    text = str(report)
    assert report.backend == backend
    assert text.startswith("== graphflow explain") and "-- after stabilize" in text and "-- after dce" in text
    assert "float32(5, 4)" in text and "s0" not in text  # specialised to the fed batch size
    assert "'other'" not in text  # the placeholder the fetch does not need is pruned
    ops = [op for k in report.kernels for op in k.ops]
    assert "matmul" in ops and "reduce_max" in ops and "exp" in ops
    assert all(k.ops and k.source.strip() for k in report.kernels)
    assert any(KERNEL_CODE[backend] in k.source for k in report.kernels)
    assert all(k.name in text for k in report.kernels)


def test_report_is_of_the_pruned_graph(backend):
    x, _, probs, unrelated = _model()
    other = tf.get_default_graph().get("other")
    report = tf.explain(unrelated, {other: np.zeros(7, np.float32)})
    ops = [op for k in report.kernels for op in k.ops]
    assert "matmul" not in ops and "exp" in ops
    assert "float32(7,)" in str(report)


def test_fixed_shapes_need_no_feed_and_variables_no_initialisation(backend):
    a = tf.placeholder(tf.float32, [2, 3], name="a")
    v = tf.Variable(np.arange(3, dtype=np.float32))
    report = tf.explain({"out": tf.reduce_sum(a * v, 1)})
    assert "reduce_sum" in [op for k in report.kernels for op in k.ops]
    with tf.Session() as sess:  # nothing ran: the variable is still uninitialised
        with pytest.raises(GraphError, match="initialised"):
            sess.run(v)


def test_unfed_symbolic_size_is_an_error(backend):
    x, _, probs, _ = _model()
    with pytest.raises(GraphError, match="placeholder 'x' must be fed"):
        tf.explain(probs)


def test_training_step_and_module_state_untouched(backend):
    model = gf.nn.Linear(3, 2)
    before = model.weight.detach().numpy().copy()
    x = tf.placeholder(tf.float32, [None, 3])
    train = gf.optim.SGD(model.parameters(), lr=0.1).minimize(model(x).square().mean())
    report = tf.explain(train, {x: np.ones((4, 3), np.float32)})
    assert len(report.kernels) >= 2
    np.testing.assert_array_equal(model.weight.detach().numpy(), before)


def test_gf_explain_traces_eager_code(backend):
    def f(x, w):
        return gf.nn.functional.gelu(x @ w + 1.0).sum(1)

    report = gf.explain(f, gf.randn(4, 5), gf.randn(5, 7))
    assert report.backend == backend
    assert any(KERNEL_CODE[backend] in k.source for k in report.kernels)
    assert [op for k in report.kernels for op in k.ops].count("matmul") == 1
    if backend == "llvm":
        assert all("target triple" in k.source for k in report.kernels)  # LLVM IR, not pseudo-code
        assert not report.notes
