"""The main job's training loop in each of graphflow's modes. Every trainer starts from the same
initial weights (PyTorch's default initialisation, drawn once with NumPy) and offers `train_step`,
`evaluate` and `save`; `availability(backend)` says whether this version of graphflow has what the
mode needs, and if not, why."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from benchmarks.runners import numpy_of, optimize, select_cpu_backend, session_for

# the model: Sequential(Linear(64, 256), ReLU, Dropout, Linear(256, 128), ReLU, Dropout, Linear(128, 10))
LAYERS = ((64, 256), (256, 128), (128, 10))
PARAM_NAMES = ("0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias")
DROPOUT = 0.2


def init_params(seed: int) -> dict[str, np.ndarray]:
    """PyTorch's default Linear initialisation (uniform in +-1/sqrt(fan_in)), PyTorch's layout."""
    rng = np.random.default_rng(seed)
    out = {}
    for i, (fan_in, fan_out) in zip((0, 3, 6), LAYERS):
        bound = 1 / np.sqrt(fan_in)
        out[f"{i}.weight"] = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
        out[f"{i}.bias"] = rng.uniform(-bound, bound, fan_out).astype(np.float32)
    return out


@dataclass(frozen=True)
class TrainingSetup:
    params: dict[str, np.ndarray]
    lr: float
    backend: str
    seed: int


def _has(module: str, *attrs: str) -> str | None:
    """None when `module` has every (dotted) attribute, else the first missing name. Sub-modules
    are imported on the way (`nn.Sequential` imports `graphflow.nn`)."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return module
    for attr in attrs:
        obj: Any = mod
        for part in attr.split("."):
            nxt = getattr(obj, part, None)
            if nxt is None and isinstance(obj, ModuleType):
                try:
                    nxt = importlib.import_module(f"{obj.__name__}.{part}")
                except ImportError:
                    nxt = None
            if nxt is None:
                return f"{module}.{attr}"
            obj = nxt
    return None


def _accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    return float((logits.argmax(1) == y).mean())


def _np_cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    z = logits.astype(np.float64) - logits.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())


def save_checkpoint(path: Path, state: dict[str, Any], mode: str, epoch: int, metrics: dict) -> str:
    """`gf.save` a training checkpoint (model state in PyTorch's layout plus metadata), load it back
    and check the weights survived; returns the path, or why nothing was saved."""
    import graphflow as gf

    if not hasattr(gf, "save") or not hasattr(gf, "load"):
        return "not saved: gf.save / gf.load are not built into this version of graphflow"
    arrays = {k: np.ascontiguousarray(numpy_of(v)) for k, v in state.items()}
    model = {k: gf.tensor(v) for k, v in arrays.items()} if hasattr(gf, "tensor") else arrays
    path.parent.mkdir(parents=True, exist_ok=True)
    gf.save({"model": model, "mode": mode, "epoch": epoch,
             "metrics": {k: float(v) for k, v in metrics.items()}}, str(path))
    back = gf.load(str(path))
    same = all(np.array_equal(numpy_of(back["model"][k]), arrays[k]) for k in arrays)
    return f"{path} ({'reloaded, weights identical' if same else 'RELOADED WEIGHTS DIFFER'})"


class Trainer:
    mode = ""

    @classmethod
    def availability(cls, backend: str) -> tuple[bool, str]:
        raise NotImplementedError

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def save(self, path: Path, epoch: int, metrics: dict) -> str:
        keep = {k: metrics[k] for k in ("train_loss", "test_loss", "test_acc")}
        return save_checkpoint(path, self.state(), self.mode, epoch, keep)


def _backend_ok(backend: str) -> str | None:
    import graphflow as gf

    status = gf.backends.available().get(backend, "unavailable: unknown backend")
    return None if status == "available" else f"backend {backend} {status}"


# ---- eager: PyTorch-style ------------------------------------------------------------------------

class EagerTrainer(Trainer):
    """The PyTorch tutorial loop: nn.Sequential, CrossEntropyLoss, optim.Adam, loss.backward()."""

    mode = "eager"
    NEEDS = ("tensor", "no_grad", "set_backend", "nn.Sequential", "nn.Linear", "nn.ReLU", "nn.Dropout",
             "nn.CrossEntropyLoss", "optim.Adam")

    @classmethod
    def availability(cls, backend: str) -> tuple[bool, str]:
        missing = _has("graphflow", *cls.NEEDS)
        if missing:
            return False, f"{missing} is not built into this version of graphflow"
        bad = _backend_ok(backend)
        return (False, bad) if bad else (True, "available")

    def __init__(self, setup: TrainingSetup):
        import graphflow as gf
        import graphflow.nn as nn
        import graphflow.optim as optim

        select_cpu_backend(setup.backend)
        if hasattr(gf, "manual_seed"):
            gf.manual_seed(setup.seed)
        self.gf = gf
        self.model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Dropout(DROPOUT), nn.Linear(256, 128), nn.ReLU(),
                                   nn.Dropout(DROPOUT), nn.Linear(128, 10))
        self.model.load_state_dict({k: gf.tensor(v) for k, v in setup.params.items()})
        self.opt = optim.Adam(self.model.parameters(), lr=setup.lr)
        self.loss_fn = nn.CrossEntropyLoss()
        self.step_fn = self._step

    def _step(self, x: Any, y: Any) -> Any:
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(x), y)
        loss.backward()
        self.opt.step()
        return loss

    def _logits(self, x: Any) -> Any:
        return self.model(x)

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        self.model.train()
        return float(numpy_of(self.step_fn(self.gf.tensor(x), self.gf.tensor(y))))

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        self.model.eval()
        with self.gf.no_grad():
            logits = numpy_of(self._logits(self.gf.tensor(x)))
        self.model.train()
        return _np_cross_entropy(logits, y), _accuracy(logits, y)

    def state(self) -> dict[str, Any]:
        return dict(self.model.state_dict())


class CompileTrainer(EagerTrainer):
    """The same eager code, with the whole training step (zero_grad, forward, backward, Adam) and the
    evaluation traced and compiled by gf.compile."""

    mode = "compile"
    NEEDS = EagerTrainer.NEEDS + ("compile",)

    def __init__(self, setup: TrainingSetup):
        super().__init__(setup)
        self.step_fn = self.gf.compile(self._step)
        self._logits = self.gf.compile(self.model)


# ---- static: TF1-style ---------------------------------------------------------------------------

class StaticTrainer(Trainer):
    """The TF1 tutorial: placeholders, Variables, nn.dropout(rate=), sparse softmax cross-entropy,
    train.AdamOptimizer(...).minimize(loss), Session.run."""

    mode = "static"

    @classmethod
    def availability(cls, backend: str) -> tuple[bool, str]:
        missing = _has("graphflow.static", "Graph", "placeholder", "Variable", "Session", "reduce_mean",
                       "global_variables_initializer", "nn.relu", "nn.dropout",
                       "nn.sparse_softmax_cross_entropy_with_logits", "train.AdamOptimizer")
        if missing:
            return False, f"{missing} is not built into this version of graphflow"
        bad = _backend_ok(backend)
        return (False, bad) if bad else (True, "available")

    def __init__(self, setup: TrainingSetup):
        import graphflow.static as tf

        self.tf = tf
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.x = tf.placeholder(tf.float32, (None, 64), name="x")
            self.y = tf.placeholder(tf.int64, (None,), name="y")
            p = setup.params
            # TF keeps weights as (in, out): x @ W
            self.vars = [tf.Variable(p["0.weight"].T.copy(), name="W1"), tf.Variable(p["0.bias"], name="b1"),
                         tf.Variable(p["3.weight"].T.copy(), name="W2"), tf.Variable(p["3.bias"], name="b2"),
                         tf.Variable(p["6.weight"].T.copy(), name="W3"), tf.Variable(p["6.bias"], name="b3")]
            train_logits, self.logits = self._net(True), self._net(False)
            self.loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=self.y,
                                                                                      logits=train_logits))
            self.train_op = tf.train.AdamOptimizer(setup.lr).minimize(self.loss)
            init = tf.global_variables_initializer()
        self.sess = session_for(tf, self.graph, setup.backend)
        self.sess.run(init)

    def _net(self, training: bool) -> Any:
        tf = self.tf
        w1, b1, w2, b2, w3, b3 = self.vars
        h = tf.nn.relu(self.x @ w1 + b1)
        if training:
            h = tf.nn.dropout(h, rate=DROPOUT)
        h = tf.nn.relu(h @ w2 + b2)
        if training:
            h = tf.nn.dropout(h, rate=DROPOUT)
        return h @ w3 + b3

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        _, loss = self.sess.run([self.train_op, self.loss], feed_dict={self.x: x, self.y: y})
        return float(loss)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        logits = np.asarray(self.sess.run(self.logits, feed_dict={self.x: x}))
        return _np_cross_entropy(logits, y), _accuracy(logits, y)

    def state(self) -> dict[str, Any]:
        values = self.sess.run(self.vars)
        return {name: (v.T.copy() if name.endswith("weight") else v) for name, v in zip(PARAM_NAMES, values)}


# ---- graph: the IR directly ----------------------------------------------------------------------

class GraphTrainer(Trainer):
    """No front end: the training step is built once as IR (nn.functional over graph nodes, symbolic
    gradients from autodiff, the Adam rule from optim.functional), compiled by the backend, and run
    with the parameters and Adam's moments passed in and out."""

    mode = "graph"

    @classmethod
    def availability(cls, backend: str) -> tuple[bool, str]:
        for module, attrs in (("graphflow.nn.functional", ("linear", "relu", "dropout", "cross_entropy")),
                              ("graphflow.optim.functional", ("adam_update",)), ("graphflow.autodiff", ("grad",))):
            missing = _has(module, *attrs)
            if missing:
                return False, f"{missing} is not built into this version of graphflow"
        bad = _backend_ok(backend)
        return (False, bad) if bad else (True, "available")

    def __init__(self, setup: TrainingSetup):
        import graphflow as gf

        self.backend = gf.backends.get_backend(setup.backend)
        self.lr = setup.lr
        self.params = [setup.params[n].copy() for n in PARAM_NAMES]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.steps = 0
        self.rng = np.random.default_rng(setup.seed + 2)
        self._train: dict[int, Any] = {}
        self._eval: dict[int, Any] = {}

    @staticmethod
    def _input(name: str, dtype: Any, shape: tuple) -> Any:
        from graphflow.ir import bind

        return bind("input", name=name, dtype=dtype, shape=shape)

    def _net(self, x: Any, params: list, key: Any = None) -> Any:
        import graphflow.nn.functional as F
        import graphflow.ops as ops

        w1, b1, w2, b2, w3, b3 = params
        h = F.relu(F.linear(x, w1, b1))
        if key is not None:
            h = F.dropout(h, DROPOUT, training=True, key=key)
        h = F.relu(F.linear(h, w2, b2))
        if key is not None:
            h = F.dropout(h, DROPOUT, training=True, key=ops.add(key, 1))  # a second, independent stream
        return F.linear(h, w3, b3)

    def _build_train(self, batch: int) -> Any:
        import graphflow as gf
        import graphflow.nn.functional as F
        from graphflow import autodiff
        from graphflow.ir import Graph
        from graphflow.optim.functional import adam_update

        x = self._input("x", gf.float32, (batch, 64))
        y = self._input("y", gf.int64, (batch,))
        key = self._input("key", gf.int64, ())
        step = self._input("step", gf.float32, ())
        ps = [self._input(n, gf.float32, p.shape) for n, p in zip(PARAM_NAMES, self.params)]
        ms = [self._input("m." + n, gf.float32, p.shape) for n, p in zip(PARAM_NAMES, self.params)]
        vs = [self._input("v." + n, gf.float32, p.shape) for n, p in zip(PARAM_NAMES, self.params)]
        loss = F.cross_entropy(self._net(x, ps, key), y)
        grads = autodiff.grad(None, [loss], ps)
        upd = [adam_update(p, g, m, v, step, lr=self.lr) for p, g, m, v in zip(ps, grads, ms, vs)]
        outs = [loss] + [u.param for u in upd] + [u.exp_avg for u in upd] + [u.exp_avg_sq for u in upd]
        return self.backend.compile(optimize(Graph(outs, [x, y, key, step, *ps, *ms, *vs])))

    def _build_eval(self, n: int) -> Any:
        import graphflow as gf
        from graphflow.ir import Graph

        x = self._input("x", gf.float32, (n, 64))
        ps = [self._input(k, gf.float32, p.shape) for k, p in zip(PARAM_NAMES, self.params)]
        return self.backend.compile(optimize(Graph([self._net(x, ps)], [x, *ps])))

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        if len(x) not in self._train:
            self._train[len(x)] = self._build_train(len(x))
        self.steps += 1
        key = np.asarray(self.rng.integers(0, 2**62), dtype=np.int64)
        out = self._train[len(x)].run([x, y, key, np.asarray(self.steps, np.float32),
                                       *self.params, *self.m, *self.v])
        k = len(self.params)
        self.params, self.m, self.v = list(out[1:1 + k]), list(out[1 + k:1 + 2 * k]), list(out[1 + 2 * k:])
        return float(out[0])

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        if len(x) not in self._eval:
            self._eval[len(x)] = self._build_eval(len(x))
        logits = np.asarray(self._eval[len(x)].run([x, *self.params])[0])
        return _np_cross_entropy(logits, y), _accuracy(logits, y)

    def state(self) -> dict[str, Any]:
        return dict(zip(PARAM_NAMES, self.params))


TRAINERS: dict[str, type[Trainer]] = {"eager": EagerTrainer, "compile": CompileTrainer, "static": StaticTrainer,
                                      "graph": GraphTrainer}
