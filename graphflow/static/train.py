"""`graphflow.static.train`: TF1's optimizers and `Saver`.

The optimizers' update rules are `graphflow.optim.functional`'s (the same functions the eager
optimizers and compiled training steps use); here they are applied to variable reads and the
results assigned back. Slots (momentum, Adam's moments) are non-trainable variables."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from graphflow.errors import GraphError
from graphflow.ir import source
from graphflow.ir.dtypes import float32
from graphflow.optim import functional as OF
from graphflow.static.graph import get_default_graph
from graphflow.static.ops import gradients, group
from graphflow.static.tensor import Operation, Tensor
from graphflow.static.variables import Variable, global_variables, trainable_variables

__all__ = ["Optimizer", "GradientDescentOptimizer", "MomentumOptimizer", "AdamOptimizer", "Saver",
           "get_or_create_global_step", "get_global_step"]


class Optimizer:
    """Base class: `minimize` = `compute_gradients` + `apply_gradients`."""

    def __init__(self, learning_rate: Any, name: str):
        self.learning_rate = learning_rate
        self.name = name
        self._slots: dict[tuple[str, Any], Variable] = {}

    # ---- gradients -------------------------------------------------------------------------
    def compute_gradients(self, loss: Any, var_list: Sequence[Variable] | None = None) -> list[tuple[Any, Variable]]:
        """[(gradient or None, variable)] for the trainable variables (or `var_list`)."""
        if var_list is None:
            graph = loss.graph if isinstance(loss, (Tensor, Variable)) else get_default_graph()
            var_list = trainable_variables(graph)
        var_list = list(var_list)
        if not var_list:
            raise ValueError("compute_gradients: no variables to optimise")
        grads = gradients(loss, var_list)
        return list(zip(grads, var_list))

    def apply_gradients(self, grads_and_vars: Sequence[tuple[Any, Variable]], global_step: Variable | None = None,
                        name: str | None = None) -> Operation:
        """One op applying each gradient with this optimizer's rule (variables without a gradient
        are skipped), then incrementing `global_step` when given."""
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            raise ValueError("apply_gradients: no gradients for any variable: "
                             f"{[v.name for _, v in grads_and_vars]}")
        graph = pairs[0][1].graph
        updates: list[Any] = []
        with graph.name_scope(name or self.name):
            updates.extend(self._prepare(graph))
            for g, v in pairs:
                if g.dtype is not v.dtype:
                    raise TypeError(f"apply_gradients: gradient of dtype {g.dtype.name} for variable {v.name!r} "
                                    f"of dtype {v.dtype.name}")
                updates.extend(self._apply(g, v))
            if global_step is not None:
                updates.append(global_step.assign_add(np.asarray(1, dtype=global_step.dtype.np)))
        return group(*updates, name=name or self.name)

    def minimize(self, loss: Any, global_step: Variable | None = None, var_list: Sequence[Variable] | None = None,
                 name: str | None = None) -> Operation:
        """The op that takes one optimisation step on `loss`."""
        return self.apply_gradients(self.compute_gradients(loss, var_list), global_step, name)

    # ---- slots -----------------------------------------------------------------------------
    def _slot(self, var: Variable, slot: str) -> Variable:
        key = (slot, var.ref)
        if key not in self._slots:
            g = var.graph
            with g.name_scope(None), g.control_dependencies(None):
                self._slots[key] = Variable(np.zeros(var.shape, dtype=var.dtype.np), trainable=False,
                                            name=f"{var.op_name}/{self.name}_{slot}", graph=g)
        return self._slots[key]

    def get_slot(self, var: Variable, name: str) -> Variable | None:
        return self._slots.get((name, var.ref))

    def get_slot_names(self) -> list[str]:
        return sorted({s for s, _ in self._slots})

    def _prepare(self, graph: Any) -> list[Any]:
        return []

    def _apply(self, grad: Any, var: Variable) -> list[Any]:
        raise NotImplementedError


class GradientDescentOptimizer(Optimizer):
    """var -= learning_rate * grad"""

    def __init__(self, learning_rate: Any, use_locking: bool = False, name: str = "GradientDescent"):
        super().__init__(learning_rate, name)

    def _apply(self, grad: Any, var: Variable) -> list[Any]:
        new = OF.sgd_update(var.value(), grad, lr=self.learning_rate)
        return [var.assign(new.param)]


class MomentumOptimizer(Optimizer):
    """accum = momentum * accum + grad; var -= learning_rate * accum (Nesterov: var -=
    learning_rate * (grad + momentum * accum)), as tf.train.MomentumOptimizer."""

    def __init__(self, learning_rate: Any, momentum: Any, use_locking: bool = False, name: str = "Momentum",
                 use_nesterov: bool = False):
        super().__init__(learning_rate, name)
        self.momentum = momentum
        self.use_nesterov = use_nesterov

    def _apply(self, grad: Any, var: Variable) -> list[Any]:
        accum = self._slot(var, "momentum")
        new = OF.sgd_update(var.value(), grad, accum.value(), lr=self.learning_rate, momentum=self.momentum,
                            nesterov=self.use_nesterov)
        return [var.assign(new.param), accum.assign(new.momentum_buffer)]


class AdamOptimizer(Optimizer):
    """tf.train.AdamOptimizer: lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t);
    var -= lr_t * m / (sqrt(v) + epsilon)."""

    def __init__(self, learning_rate: Any = 0.001, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8,
                 use_locking: bool = False, name: str = "Adam"):
        super().__init__(learning_rate, name)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self._step: Variable | None = None

    def _prepare(self, graph: Any) -> list[Any]:
        if self._step is None or self._step.graph is not graph:
            with graph.name_scope(None), graph.control_dependencies(None):
                self._step = Variable(np.zeros((), np.float32), trainable=False, name=f"{self.name}/step",
                                      graph=graph)
        self._t = self._step.value() + 1.0  # this update's 1-based step, read from the run's snapshot
        return [self._step.assign(self._t)]

    def _apply(self, grad: Any, var: Variable) -> list[Any]:
        m, v = self._slot(var, "m"), self._slot(var, "v")
        step = self._t if var.dtype is float32 else self._t.to(var.dtype) if hasattr(self._t, "to") else self._t
        new = OF.adam_update(var.value(), grad, m.value(), v.value(), step, lr=self.learning_rate,
                             beta1=self.beta1, beta2=self.beta2, eps=self.epsilon, epsilon_hat=True)
        return [var.assign(new.param), m.assign(new.exp_avg), v.assign(new.exp_avg_sq)]


def get_or_create_global_step(graph: Any = None) -> Variable:
    g = graph or get_default_graph()
    existing = g.get_collection("global_step")
    if existing:
        return existing[0]
    with g.name_scope(None), g.control_dependencies(None):
        step = Variable(np.zeros((), np.int64), trainable=False, name="global_step", graph=g)
    g.add_to_collection("global_step", step)
    return step


def get_global_step(graph: Any = None) -> Variable | None:
    found = (graph or get_default_graph()).get_collection("global_step")
    return found[0] if found else None


class Saver:
    """Saves and restores variables' values in the `gf.save` file format (safetensors tensors plus
    JSON), keyed by variable name (or by the keys of a dict `var_list`)."""

    def __init__(self, var_list: Sequence[Variable] | dict[str, Variable] | None = None, max_to_keep: int = 5):
        if var_list is None:
            var_list = global_variables()
        if isinstance(var_list, dict):
            self._vars = dict(var_list)
        else:
            self._vars = {v.op_name: v for v in var_list}
        if not self._vars:
            raise ValueError("Saver: no variables to save")
        self.loc = source.capture()

    def save(self, sess: Any, save_path: str | os.PathLike, global_step: Any = None) -> str:
        """Write the variables' current values; returns the path written."""
        from graphflow import io as gio

        path = os.fspath(save_path)
        if global_step is not None:
            step = global_step if isinstance(global_step, int) else int(sess.run(global_step))
            path = f"{path}-{step}"
        values: dict[str, np.ndarray] = {}
        for key, var in self._vars.items():
            value = sess.variables.get(var.ref)
            if value is None:
                raise GraphError(f"Saver.save: variable {var.op_name!r} is not initialised in this session"
                                 + (f" (created at {var.loc})" if var.loc else ""))
            values[key] = value
        gio.save_arrays(values, path)
        return path

    def restore(self, sess: Any, save_path: str | os.PathLike) -> None:
        """Load every variable of this saver from `save_path` (missing or mis-shaped entries raise)."""
        from graphflow import io as gio

        arrays = gio.load_arrays(os.fspath(save_path))
        missing = [k for k in self._vars if k not in arrays]
        if missing:
            raise KeyError(f"Saver.restore: {os.fspath(save_path)!r} has no value for variable(s) {missing}; "
                           f"it holds {sorted(arrays)}")
        for key, var in self._vars.items():
            value = np.asarray(arrays[key])
            if value.shape != var.shape or value.dtype != var.dtype.np:
                raise ValueError(f"Saver.restore: {key!r} in the file is {value.dtype}{value.shape}, the variable is "
                                 f"{var.dtype.name}{var.shape}")
            sess._store(var.ref, value)  # a module tensor the variable stands for gets it too
