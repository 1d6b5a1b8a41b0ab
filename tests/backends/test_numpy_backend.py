"""The NumPy reference backend and the backend registry: input validation, state ops, the run
context, freeing of intermediate values, output ownership, availability reasons."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from graphflow.backends import available, get_backend, register_backend
from graphflow.backends import base as backend_base
from graphflow.backends.base import Backend
from graphflow.backends.numpy import NumpyExecutable
from graphflow.backends.numpy.interpreter import evaluate
from graphflow.errors import BackendUnavailableError, GraphError
from graphflow.ir import Attrs, Graph, OpDef, bind, get_op, make_node
from graphflow.ir import builder as B
from graphflow.ir.dtypes import float32, float64, int64
from graphflow.ir.graph import TensorType
from graphflow.ir.ops.source import RunContext, VarRef

NP = get_backend("numpy")


def inp(shape, dtype=float32, name="x"):
    return bind("input", name=name, dtype=dtype, shape=shape)


def compile_(outputs, inputs) -> NumpyExecutable:
    return NP.compile(Graph(outputs, inputs))


# ------------------------------------------------------------------------------------------
# registry of backends

def test_numpy_is_always_available_and_every_backend_reports():
    report = available()
    assert report["numpy"] == "available"
    assert {"numpy", "llvm", "cuda"} <= set(report)
    for name, status in report.items():
        assert status == "available" or (status.startswith("unavailable: ") and len(status) > 13), name


def test_unknown_backend():
    with pytest.raises(KeyError, match="unknown backend 'tpu'"):
        get_backend("tpu")


@pytest.fixture
def isolated_registry(monkeypatch):
    for attr in ("_KNOWN", "_LOADED", "_FAILED"):
        monkeypatch.setattr(backend_base, attr, dict(getattr(backend_base, attr)))
    return monkeypatch


def test_backend_not_built_in(isolated_registry):
    register_backend("ghost", "graphflow.backends.ghost_backend_that_does_not_exist")
    assert available()["ghost"] == "unavailable: not built into this version of graphflow"
    with pytest.raises(BackendUnavailableError, match="backend 'ghost' is unavailable: not built into"):
        get_backend("ghost")


def test_backend_with_a_missing_dependency(isolated_registry, tmp_path):
    (tmp_path / "gf_test_needs_dep.py").write_text("import gf_missing_dependency_xyz\nBACKEND = None\n")
    isolated_registry.syspath_prepend(str(tmp_path))
    register_backend("needsdep", "gf_test_needs_dep")
    assert available()["needsdep"] == "unavailable: missing dependency: gf_missing_dependency_xyz"


def test_backend_that_fails_to_import_or_reports_unavailable(isolated_registry):
    broken = types.ModuleType("gf_test_broken_backend")  # defines no BACKEND
    isolated_registry.setitem(sys.modules, "gf_test_broken_backend", broken)

    class NoDevice(Backend):
        name = "nodevice"

        def availability(self):
            return False, "no CUDA device found"

        def compile(self, graph):
            raise AssertionError

        def run_op(self, op, inputs, attrs, out):
            raise AssertionError

    fake = types.ModuleType("gf_test_nodevice")
    fake.BACKEND = NoDevice()
    isolated_registry.setitem(sys.modules, "gf_test_nodevice", fake)
    register_backend("broken", "gf_test_broken_backend")
    register_backend("nodevice", "gf_test_nodevice")
    report = available()
    assert report["broken"].startswith("unavailable: failed to load: ")
    assert report["nodevice"] == "unavailable: no CUDA device found"
    with pytest.raises(BackendUnavailableError, match="no CUDA device found"):
        get_backend("nodevice")


# ------------------------------------------------------------------------------------------
# input validation

def test_input_count_dtype_and_shape_are_checked():
    x, y = inp((2, 3)), inp((3,), name="y")
    exe = compile_([bind("add", x, bind("broadcast_to", y, shape=(2, 3)))], [x, y])
    good = [np.zeros((2, 3), np.float32), np.zeros(3, np.float32)]
    exe.run(good)
    with pytest.raises(GraphError, match="graph takes 2 inputs, got 1"):
        exe.run(good[:1])
    with pytest.raises(GraphError, match="input 'x' expects dtype float32, got float64.*test_numpy_backend.py"):
        exe.run([np.zeros((2, 3)), good[1]])
    with pytest.raises(GraphError, match="input 'y' expects shape \\(3,\\), got \\(4,\\)"):
        exe.run([good[0], np.zeros(4, np.float32)])
    with pytest.raises(GraphError, match="input 'x' expects shape \\(2, 3\\), got \\(6,\\)"):
        exe.run([np.zeros(6, np.float32), good[1]])
    with pytest.raises(GraphError, match="expects dtype float32, got float64"):
        exe.run([[[0.0] * 3] * 2, good[1]])  # Python lists become float64 arrays: no silent cast


def test_inputs_not_reached_by_the_outputs_are_still_checked():
    x, unused = inp((2,)), inp((2,), name="unused")
    exe = compile_([bind("exp", x)], [x, unused])
    with pytest.raises(GraphError, match="input 'unused'"):
        exe.run([np.zeros(2, np.float32), np.zeros(3, np.float32)])


def test_non_contiguous_inputs():
    x = inp((3, 4))
    exe = compile_([bind("mul", x, x)], [x])
    value = np.arange(12, dtype=np.float32).reshape(4, 3).T
    (out,) = exe.run([value])
    np.testing.assert_array_equal(out, value * value)


def test_an_input_node_that_is_not_a_graph_input_names_itself():
    x = inp((2,), name="features")
    exe = compile_([bind("exp", x)], [])
    with pytest.raises(GraphError, match="input 'features' was not given a value"):
        exe.run([])


# ------------------------------------------------------------------------------------------
# state ops and the run context

def test_variable_read_assign_and_state():
    w = VarRef("w", float32, (2,))
    read = bind("variable", var=w)
    delta = inp((2,), name="delta")
    update = bind("assign", bind("add", read, delta), var=w)
    state = {w: np.array([1.0, 2.0], np.float32)}
    before = state[w]
    (new,) = compile_([update], [delta]).run([np.array([0.5, 0.5], np.float32)], state=state)
    np.testing.assert_array_equal(new, [1.5, 2.5])
    np.testing.assert_array_equal(state[w], [1.5, 2.5])  # the run's state is updated in place
    np.testing.assert_array_equal(before, [1.0, 2.0])  # the old value is never written into
    new[0] = 99.0  # the output is the caller's own array
    assert state[w][0] == 1.5
    (value,) = compile_([read], []).run([], state=state)
    value[1] = -1.0
    assert state[w][1] == 2.5


def test_uninitialised_variable_names_it_and_the_line():
    v = VarRef("bias", float64, ())
    read = bind("variable", var=v)
    with pytest.raises(GraphError, match="variable 'bias' is read before it was initialised.*test_numpy_backend"):
        compile_([read], []).run([], state={})


def test_assign_checks_type():
    v = VarRef("v", float32, (3,))
    with pytest.raises(TypeError, match="cannot assign a float64 value to variable 'v' of dtype float32"):
        bind("assign", inp((3,), float64), var=v)
    with pytest.raises(ValueError, match="cannot assign a value of shape \\(4,\\)"):
        bind("assign", inp((4,)), var=v)


def test_run_context_defaults_and_reference_with_context():
    ctx = RunContext()
    assert ctx.inputs == {} and ctx.state == {} and ctx.bindings == {}
    v = VarRef("v", int64, ())
    op = get_op("variable")
    out = evaluate(op, [], Attrs({"var": v}), TensorType(int64, ()), RunContext(state={v: np.array(4)}))
    assert out == 4 and out.dtype == np.int64
    fed = get_op("input").reference([], Attrs({"name": "a", "dtype": float32, "shape": ()}),
                                    RunContext(inputs={"a": np.float32(2)}))
    assert fed == 2


def test_run_op_normalises_to_the_given_type():
    # eager mode's path: one op at once; the result has exactly the requested dtype
    out = NP.run_op(get_op("add"), [np.array([1, 2], np.int8), np.array([3, 4], np.int8)], Attrs(),
                    TensorType(int64, (2,)))
    assert out.dtype == np.int64 and list(out) == [4, 6]


def test_a_reference_that_disagrees_with_infer_is_caught():
    liar = OpDef("liar", "elementwise", lambda types, attrs: types[0], lambda arrays, attrs: arrays[0][:1],
                 lambda node, g: [g])
    x = inp((3,))
    with pytest.raises(GraphError, match="liar: reference produced shape \\(1,\\) but infer gave \\(3,\\)"):
        compile_([make_node(liar, (x,), {})], [x]).run([np.zeros(3, np.float32)])


# ------------------------------------------------------------------------------------------
# memory: intermediates are dropped after their last use; outputs belong to the caller

def test_intermediates_are_freed_along_a_chain():
    x = inp((1000,))
    y = x
    for _ in range(500):
        y = bind("neg", y)
    exe = compile_([y], [x])
    (out,) = exe.run([np.ones(1000, np.float32)])
    np.testing.assert_array_equal(out, np.ones(1000))
    assert exe.peak_live <= 3  # the input, the value being read, the value being written


def test_values_with_late_readers_are_kept_until_then():
    x = inp((4,))
    y = x
    for _ in range(50):
        y = bind("exp", bind("neg", y))
    z = bind("add", y, x)  # x is read again at the very end
    exe = compile_([z, y], [x])
    z_v, y_v = exe.run([np.zeros(4, np.float32)])
    np.testing.assert_allclose(z_v, y_v)
    assert exe.peak_live <= 4


def test_outputs_never_alias_inputs_constants_or_each_other_unexpectedly():
    x = inp((2, 3))
    r = bind("reshape", x, shape=(6,))
    c = B.constant(np.arange(3.0, dtype=np.float32), float32)
    b = bind("broadcast_to", c, shape=(2, 3))
    feed = np.zeros((2, 3), np.float32)
    r_v, c_v, b_v, x_v = compile_([r, c, b, x], [x]).run([feed])
    for value in (r_v, c_v, b_v, x_v):
        assert value.flags.writeable and not np.may_share_memory(value, feed)
    c_v[0] = 42.0  # the constant inside the graph is untouched
    (again,) = compile_([c], []).run([])
    assert again[0] == 0.0


def test_an_output_listed_twice_gives_two_arrays():
    x = inp((2,))
    y = bind("exp", x)
    a, b = compile_([y, y], [x]).run([np.zeros(2, np.float32)])
    a[0] = 5.0
    assert b[0] == 1.0


def test_executables_are_reusable_and_independent():
    x = inp((3,))
    exe = compile_([bind("mul", x, x)], [x])
    a = exe.run([np.array([1, 2, 3], np.float32)])[0]
    b = exe.run([np.array([4, 5, 6], np.float32)])[0]
    np.testing.assert_array_equal(a, [1, 4, 9])
    np.testing.assert_array_equal(b, [16, 25, 36])
