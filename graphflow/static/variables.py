"""Static-mode variables: a named slot (`VarRef`) in a session's variable store.

Reading a variable builds a `variable` node (one per use, under the control dependencies in
force, so a read declared after an assignment sees the assigned value); `assign*` build
`assign` nodes. The value itself lives in the `Session`, never in the graph."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from graphflow.errors import ShapeError
from graphflow.ir import source
from graphflow.ir.dtypes import DType, get_dtype
from graphflow.ir.graph import Node
from graphflow.ir.ops.source import VarRef
from graphflow.ir.registry import get_op
from graphflow.ir.shapes import fmt, is_concrete
from graphflow.ops.methods import TensorMethods
from graphflow.ops.values import cast
from graphflow.static.graph import GLOBAL_VARIABLES, TRAINABLE_VARIABLES, Graph, get_default_graph
from graphflow.static.tensor import Operation, Tensor, eager_array


class Variable(TensorMethods):
    """`Variable(initial_value, trainable=True, name=None, dtype=None)`, as `tf.Variable`.

    `initial_value` is an array, a number, a static `Tensor` (e.g. `random_normal(...)`) or a
    callable returning one; its shape must be fully known."""

    def __init__(self, initial_value: Any, trainable: bool = True, name: str | None = None,
                 dtype: Any = None, graph: Graph | None = None):
        self.graph = graph or get_default_graph()
        self.loc = source.capture()
        g = self.graph
        self._name = g.unique_name(name or "Variable")
        with g.name_scope(self._name + "/"):
            if callable(initial_value) and not isinstance(initial_value, (Tensor, TensorMethods)):
                initial_value = initial_value()
            if isinstance(initial_value, Tensor):
                init = initial_value
            else:
                arr = eager_array(initial_value)
                if dtype is None and arr.dtype == np.float64 and not isinstance(initial_value, np.ndarray):
                    arr = arr.astype(np.float32)  # Python floats make float32 variables, as in TF
                init = g.handler.constant(arr, name="initial_value")
            if dtype is not None:
                init = cast(init, get_dtype(dtype))
        if not is_concrete(init.shape):
            raise ShapeError(f"Variable {self._name!r}: the initial value's shape {fmt(tuple(init.shape))} must be "
                             f"fully known" + (f" (at {self.loc})" if self.loc else ""))
        self.ref = VarRef(self._name, init.dtype, tuple(init.shape))
        self.trainable = trainable
        self.initial_value = init
        g.var_of_ref[self.ref] = self
        g.var_reads[self.ref] = []
        with g.name_scope(self._name + "/"), g.control_dependencies(None):
            assign = g.handler.bind(get_op("assign"), (init,), {"var": self.ref})
            self.initializer = Operation(g, g.unique_name("init"), (assign.node,), self.loc)
        g.register(self._name, self)
        g.variables.append(self)
        g.add_to_collection(GLOBAL_VARIABLES, self)
        if trainable:
            g.add_to_collection(TRAINABLE_VARIABLES, self)

    # ---- tensor-like ------------------------------------------------------------------------
    @property
    def _gf_handler(self):
        return self.graph.handler

    @property
    def shape(self) -> tuple[int, ...]:
        return self.ref.shape

    def get_shape(self) -> tuple[int, ...]:
        return self.ref.shape

    @property
    def dtype(self) -> DType:
        return self.ref.dtype

    @property
    def name(self) -> str:
        return f"{self._name}:0"

    @property
    def op_name(self) -> str:
        return self._name

    def read_node(self) -> Node:
        """A new read of this variable, ordered after the control dependencies in force."""
        h = self.graph.handler
        with self.graph.name_scope(self._name + "/"):
            node = h.add_node(get_op("variable"), (), {"var": self.ref}, name="read")
        self.graph.var_reads[self.ref].append(node)
        return node

    def value(self) -> Tensor:
        return Tensor(self.read_node(), self.graph)

    read_value = value

    def _as_value(self, value: Any) -> Tensor:
        h = self.graph.handler
        v = value if isinstance(value, Tensor) else Tensor(h.to_node(value), self.graph)
        if v.dtype is not self.dtype:
            if isinstance(value, Tensor) and value.dtype.kind != self.dtype.kind:
                raise TypeError(f"cannot assign a {value.dtype.name} tensor to variable {self._name!r} of dtype "
                                f"{self.dtype.name}" + (f" (at {source.capture()})" if source.capture() else ""))
            v = cast(v, self.dtype)
        return v

    def assign(self, value: Any, use_locking: bool | None = None, name: str | None = None,
               read_value: bool = True) -> Tensor:
        """An op writing `value` into the variable; its value is the new value."""
        v = self._as_value(value)
        return self.graph.handler.bind(get_op("assign"), (v,), {"var": self.ref}) if name is None else \
            self.graph.handler.wrap(self.graph.handler.add_node(get_op("assign"), (v.node,),
                                                                {"var": self.ref}, name=name))

    def assign_add(self, delta: Any, use_locking: bool | None = None, name: str | None = None,
                   read_value: bool = True) -> Tensor:
        return self.assign(self.value() + self._as_value(delta), name=name)

    def assign_sub(self, delta: Any, use_locking: bool | None = None, name: str | None = None,
                   read_value: bool = True) -> Tensor:
        return self.assign(self.value() - self._as_value(delta), name=name)

    def eval(self, session: Any = None) -> Any:
        from graphflow.static.session import default_session

        return (session or default_session()).run(self)

    def __bool__(self) -> bool:
        raise TypeError(f"the truth value of variable {self._name!r} is not known while the graph is declared")

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<static.Variable {self.name!r} shape={fmt(self.shape)} dtype={self.dtype.name}>"


def tensor_variable(tensor: Any, name: str, trainable: bool = True, graph: Graph | None = None) -> Variable:
    """A Variable standing for eager `tensor` (a module's parameter or buffer) in `graph`.

    Its initializer takes the tensor's value at the time the initializer runs (not when the graph
    was built), and every `Session.run` that assigns the variable writes the new value back into
    the tensor in place, so `module.state_dict()` always shows what the session trained."""
    g = graph or get_default_graph()

    def fed_from_tensor() -> Tensor:  # runs inside the variable's name scope
        init = g.handler.add_node(get_op("input"), (), {"name": g.unique_name("initial_value", mark_used=False),
                                                         "dtype": get_dtype(tensor.dtype),
                                                         "shape": tuple(tensor.shape)}, name="initial_value")
        g.tensor_feeds[init.id] = (init, weakref.ref(tensor))
        return Tensor(init, g)

    with g.name_scope(None), g.control_dependencies(None):
        var = Variable(fed_from_tensor, trainable=trainable, name=name, graph=g)
    var._gf_module_tensor = weakref.ref(tensor)
    return var


def global_variables(graph: Graph | None = None) -> list[Variable]:
    return (graph or get_default_graph()).get_collection(GLOBAL_VARIABLES)


def trainable_variables(graph: Graph | None = None) -> list[Variable]:
    return (graph or get_default_graph()).get_collection(TRAINABLE_VARIABLES)


def variables_initializer(var_list: Sequence[Variable], name: str = "init") -> Operation:
    """One op that runs the initializers of `var_list`."""
    g = var_list[0].graph if var_list else get_default_graph()
    return Operation(g, g.unique_name(name), tuple(v.initializer for v in var_list), source.capture())


def global_variables_initializer() -> Operation:
    return variables_initializer(global_variables(), name="init")
