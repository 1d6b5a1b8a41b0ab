"""Bad input gets a clear error: the op, the shapes or dtypes, and the line of user code that
created the node (this file and line), both when a node is built and when it runs."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from graphflow.backends import get_backend
from graphflow.errors import DTypeError, GraphflowError, ShapeError
from graphflow.ir import Graph, bind
from graphflow.ir.dtypes import bool_, float32, float64, int32, int64

THIS_FILE = "test_op_errors.py"


def next_line() -> int:
    """The line after the caller's."""
    return sys._getframe(1).f_lineno + 1


def error_of(exc_type: type[BaseException], thunk) -> str:
    with pytest.raises(exc_type) as info:
        thunk()
    return str(info.value)


def inp(shape, dtype=float32, name="x"):
    return bind("input", name=name, dtype=dtype, shape=shape)


def test_shape_mismatch_names_op_shapes_and_line():
    x, y = inp((3, 17)), inp((4, 17), name="y")
    line = next_line()
    msg = error_of(ShapeError, lambda: bind("add", x, y))
    assert msg.startswith("add:")
    assert "(3, 17)" in msg and "(4, 17)" in msg
    assert f"{THIS_FILE}:{line}" in msg


def test_shape_errors_are_value_errors_and_dtype_errors_type_errors():
    x, y = inp((3,)), inp((4,))
    with pytest.raises(ValueError):
        bind("mul", x, y)
    with pytest.raises(TypeError):
        bind("mul", x, inp((3,), float64))
    assert issubclass(ShapeError, GraphflowError) and issubclass(DTypeError, GraphflowError)


def test_dtype_mismatch_names_both_dtypes():
    x, y = inp((3,)), inp((3,), float64)
    line = next_line()
    msg = error_of(DTypeError, lambda: bind("sub", x, y))
    assert "sub:" in msg and "float32" in msg and "float64" in msg and f"{THIS_FILE}:{line}" in msg


@pytest.mark.parametrize("op,dtype,accepts", [
    ("exp", int32, "floating-point"), ("neg", bool_, "numeric"), ("logical_not", float32, "bool"),
    ("bitwise_not", float64, "bool or integer"),
])
def test_unary_rejects_dtype(op, dtype, accepts):
    x = inp((2,), dtype)
    line = next_line()
    msg = error_of(DTypeError, lambda: bind(op, x))
    assert msg.startswith(f"{op}:") and accepts in msg and dtype.name in msg and f"{THIS_FILE}:{line}" in msg


def test_matmul_inner_dimensions():
    a, b = inp((2, 3)), inp((4, 5), name="b")
    line = next_line()
    msg = error_of(ShapeError, lambda: bind("matmul", a, b))
    assert "matmul" in msg and "(2, 3)" in msg and "(4, 5)" in msg and "3 != 4" in msg and f":{line}" in msg


def test_reshape_element_count():
    x = inp((3, 5))
    msg = error_of(ShapeError, lambda: bind("reshape", x, shape=(4, 4)))
    assert "reshape" in msg and "(3, 5)" in msg and "15 elements" in msg and "16 elements" in msg
    msg = error_of(ShapeError, lambda: bind("reshape", x, shape=(-1, -1)))
    assert "only one dimension can be -1" in msg
    msg = error_of(ShapeError, lambda: bind("reshape", x, shape=(4, -1)))
    assert "cannot reshape" in msg


@pytest.mark.parametrize("op,attrs,fragment", [
    ("reduce_sum", {"axes": (-1,)}, "normalise"),
    ("reduce_sum", {"axes": (2,)}, "out of range"),
    ("reduce_max", {"axes": (0,)}, "empty dimension"),
    ("permute", {"perm": (0, 0)}, "not a permutation"),
    ("broadcast_to", {"shape": (3, 2)}, "cannot broadcast"),
    ("slice", {"starts": (0, 0), "stops": (9, 1), "steps": (1, 1)}, "out of range"),
    ("slice", {"starts": (0, 0), "stops": (0, 1), "steps": (0, 1)}, "step cannot be zero"),
    ("pad", {"widths": ((0, -1), (0, 0))}, "non-negative"),
    ("flip", {"axes": (-1,)}, "sorted non-negative"),
    ("argmax", {"axis": 5}, "out of range"),
])
def test_attribute_errors_name_the_op(op, attrs, fragment):
    x = inp((0, 1))
    line = next_line()
    msg = error_of((ShapeError, IndexError), lambda: bind(op, x, **attrs))
    assert msg.startswith(op) and fragment in msg and f"{THIS_FILE}:{line}" in msg


def test_unknown_missing_and_unhashable_attributes():
    x = inp((2,))
    msg = error_of(TypeError, lambda: bind("reshape", x))
    assert "reshape: missing attribute 'shape'" in msg
    msg = error_of(TypeError, lambda: bind("reshape", x, shape=(2,), order="F"))
    assert "reshape: unknown attribute(s) ['order']" in msg
    msg = error_of(TypeError, lambda: bind("pad", x, widths=((0, 1),), value={"a": 1}))
    assert "pad: attribute 'value' must be hashable" in msg


def test_attributes_are_canonicalised():
    x = inp((2,))
    assert bind("cast", x, dtype="float64").attrs["dtype"] is float64
    assert bind("cast", x, dtype=np.int64).attrs["dtype"] is int64
    assert bind("reshape", x, shape=[1, 2]).attrs["shape"] == (1, 2)  # lists frozen to tuples


def test_arity():
    x = inp((2,))
    msg = error_of(TypeError, lambda: bind("add", x))
    assert "add: expects 2 input(s), got 1" in msg


def test_concat_and_where_and_gather():
    a, b = inp((2, 3)), inp((2, 4), name="b")
    msg = error_of(ShapeError, lambda: bind("concat", a, b, axis=0))
    assert "concat" in msg and "(2, 3)" in msg and "(2, 4)" in msg
    c = inp((2, 3), float32, "c")
    msg = error_of(DTypeError, lambda: bind("where", c, a, a))
    assert "where" in msg and "condition must be bool" in msg
    msg = error_of(DTypeError, lambda: bind("gather", a, inp((2, 3), float32, "i"), axis=0))
    assert "gather" in msg and "integer" in msg


def test_non_node_input_to_the_graph_builder():
    msg = error_of(TypeError, lambda: bind("exp", np.zeros(3)))
    assert "exp: input 0 is a ndarray, expected a graph Node" in msg


def _run(outputs, inputs, arrays):
    return get_backend("numpy").compile(Graph(outputs, inputs)).run(arrays)


def test_runtime_errors_name_the_op_and_the_creating_line():
    x = inp((3,), float32)
    i = inp((2,), int64, "i")
    line = next_line()
    g = bind("gather", x, i, axis=0)
    with pytest.raises(IndexError) as info:
        _run([g], [x, i], [np.zeros(3, np.float32), np.array([0, 3])])
    msg = str(info.value)
    assert "gather" in msg and "index 3 is out of bounds" in msg and f"{THIS_FILE}:{line}" in msg


def test_integer_division_by_zero_and_negative_powers():
    a, b = inp((2,), int32), inp((2,), int32, "b")
    line = next_line()
    q = bind("floor_div", a, b)
    with pytest.raises(ZeroDivisionError, match=f"floor_div: integer division by zero.*{THIS_FILE}:{line}"):
        _run([q], [a, b], [np.array([1, 2], np.int32), np.array([1, 0], np.int32)])
    p = bind("pow", a, b)
    with pytest.raises(ValueError, match="pow: integers to negative integer powers are not allowed"):
        _run([p], [a, b], [np.array([1, 2], np.int32), np.array([1, -1], np.int32)])
