"""Everything that can run a workload: graphflow's modes on each backend, and the peers.

Each runner is detected at run time: `availability()` says whether it can run here and, if not,
why (a missing package, a backend without its device, a mode not built into this version). A
runner that cannot do one workload raises `Unsupported` with the reason while preparing it."""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np

from benchmarks.workloads import GraphflowSpec, Inputs, Prepared, Unsupported, Workload

MODES = ("eager", "compile", "static", "graph")
MODE_HELP = {
    "eager": "define-by-run tensors (gf.tensor, loss.backward(), gf.optim)",
    "compile": "the same eager code traced and compiled by gf.compile",
    "static": "TF1-style placeholders, Variables and a Session",
    "graph": "the shared IR built directly (bind, autodiff.grad) and compiled by the backend: no front end",
}
BACKENDS = ("numpy", "llvm", "cuda")
PEERS = ("numpy", "torch", "torch.compile", "jax.jit")


class Runner:
    """A way of running workloads. `family` is "graphflow" or "peer"."""

    name: str
    family: str

    def availability(self) -> tuple[bool, str]:
        raise NotImplementedError

    def prepare(self, workload: Workload, inputs: Inputs) -> Prepared:
        raise NotImplementedError


# ---- peers ---------------------------------------------------------------------------------------

def _import(name: str) -> tuple[Any, str]:
    try:
        return importlib.import_module(name), "available"
    except ImportError as exc:
        return None, f"not installed ({exc.name or name} cannot be imported)"
    except Exception as exc:  # noqa: BLE001 - a broken install is a reason, not a crash
        return None, f"cannot be imported: {type(exc).__name__}: {exc}"


class NumpyPeer(Runner):
    name, family = "numpy", "peer"

    def availability(self) -> tuple[bool, str]:
        return True, f"numpy {np.__version__}"

    def prepare(self, workload: Workload, inputs: Inputs) -> Prepared:
        return workload.peers["numpy"](inputs)


class TorchPeer(Runner):
    family = "peer"

    def __init__(self, compiled: bool):
        self.compiled = compiled
        self.name = "torch.compile" if compiled else "torch"

    def availability(self) -> tuple[bool, str]:
        torch, reason = _import("torch")
        if torch is None:
            return False, reason
        if self.compiled and not hasattr(torch, "compile"):
            return False, f"torch {torch.__version__} has no torch.compile"
        return True, f"torch {torch.__version__}"

    def prepare(self, workload: Workload, inputs: Inputs) -> Prepared:
        import torch

        if "torch" not in workload.peers:
            raise Unsupported("no PyTorch version of this workload")
        wrap = torch.compile if self.compiled else (lambda f: f)
        return workload.peers["torch"](inputs, torch, wrap)


class JaxPeer(Runner):
    name, family = "jax.jit", "peer"

    def availability(self) -> tuple[bool, str]:
        jax, reason = _import("jax")
        return (False, reason) if jax is None else (True, f"jax {jax.__version__}")

    def prepare(self, workload: Workload, inputs: Inputs) -> Prepared:
        import jax

        if "jax" not in workload.peers:
            raise Unsupported("no JAX version of this workload")
        return workload.peers["jax"](inputs, jax)


# ---- graphflow -----------------------------------------------------------------------------------

def ops_namespace() -> SimpleNamespace:
    """The functional layer as the workloads see it: graphflow.ops, plus `F` (graphflow.nn.functional)
    when it exists."""
    import graphflow.ops as ops

    ns = SimpleNamespace(**{k: getattr(ops, k) for k in dir(ops) if not k.startswith("_")})
    ns.F, _ = _import("graphflow.nn.functional")
    return ns


def _check_needs(spec: GraphflowSpec, ops: SimpleNamespace) -> None:
    for need in spec.needs:
        obj: Any = ops
        for part in need.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                where = "graphflow.nn.functional." + need[2:] if need.startswith("F.") else "graphflow.ops." + need
                raise Unsupported(f"{where} is not available in this version of graphflow")


def numpy_of(value: Any) -> np.ndarray:
    """A graphflow value (eager tensor, session result, array) as a NumPy array."""
    if isinstance(value, np.ndarray | np.generic | float | int):
        return np.asarray(value)
    for step in ("detach", "cpu"):
        if hasattr(value, step):
            value = getattr(value, step)()
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


def optimize(graph: Any) -> Any:
    """graphflow's optimiser pipeline (what Session and gf.compile apply), so the graph mode is
    compared on the same optimised graph."""
    from graphflow.static.executor import optimize as pipeline

    return pipeline(graph)


# which graphflow API each mode needs: (module, attribute) pairs, checked at run time
_MODE_NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "graph": (("graphflow.ir", "bind"), ("graphflow.autodiff", "grad")),
    "eager": (("graphflow", "tensor"), ("graphflow", "Tensor"), ("graphflow", "no_grad")),
    "compile": (("graphflow", "tensor"), ("graphflow", "compile")),
    "static": (("graphflow.static", "placeholder"), ("graphflow.static", "Session"), ("graphflow.static", "Variable")),
}


def select_cpu_backend(name: str) -> None:
    """Make every graphflow path use the CPU backend `name`: eager ops (gf.set_backend) and the
    graphs that gf.compile and Session compile (which read GRAPHFLOW_CPU_BACKEND)."""
    if name == "cuda":
        return
    import graphflow as gf

    os.environ["GRAPHFLOW_CPU_BACKEND"] = name
    if hasattr(gf, "set_backend"):
        gf.set_backend(name)


class GraphflowRunner(Runner):
    """One graphflow mode on one backend."""

    family = "graphflow"

    def __init__(self, mode: str, backend: str):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
        self.mode, self.backend = mode, backend
        self.name = f"{mode}/{backend}"

    # -- detection --
    def availability(self) -> tuple[bool, str]:
        try:
            import graphflow as gf
        except Exception as exc:  # noqa: BLE001
            return False, f"graphflow cannot be imported: {exc}"
        status = gf.backends.available().get(self.backend, "unavailable: unknown backend")
        if status != "available":
            return False, f"backend {self.backend} {status}"
        for module, attr in _MODE_NEEDS[self.mode]:
            mod, reason = _import(module)
            if mod is None or not hasattr(mod, attr):
                return False, f"{module}.{attr} is not built into this version of graphflow"
        if self.mode in ("eager", "compile") and self.backend != "cuda" and not hasattr(gf, "set_backend"):
            return False, "gf.set_backend is missing, so the CPU backend cannot be chosen"
        return True, "available"

    def _select_backend(self) -> None:
        select_cpu_backend(self.backend)

    def prepare(self, workload: Workload, inputs: Inputs) -> Prepared:
        spec = workload.graphflow
        ops = ops_namespace()
        _check_needs(spec, ops)
        self._select_backend()
        build = {"graph": self._graph, "eager": self._eager, "compile": self._compile, "static": self._static}
        return build[self.mode](spec, ops, inputs)

    # -- graph: the IR directly ----------------------------------------------------------------------
    def _graph(self, spec: GraphflowSpec, ops: Any, inputs: Inputs) -> Prepared:
        import graphflow as gf
        from graphflow import autodiff
        from graphflow.ir import Graph, bind
        from graphflow.ir.dtypes import from_numpy_dtype

        names = list(spec.args) + [w for w in spec.wrt if w not in spec.args]
        nodes = {n: bind("input", name=n, dtype=from_numpy_dtype(inputs[n].dtype), shape=inputs[n].shape)
                 for n in names}
        args = [nodes[a] for a in spec.args]
        if spec.kind == "forward":
            outs = list(spec.fn(ops, *args))
        elif spec.kind == "grad":
            y = spec.fn(ops, *args)
            outs = [y, *autodiff.grad(None, [y], [nodes[w] for w in spec.wrt])]
        else:
            params = [nodes[p] for p in spec.wrt]
            loss = spec.fn(ops, params, *args)
            grads = autodiff.grad(None, [loss], params)
            outs = [loss] + [ops.sub(p, ops.mul(g, spec.lr)) for p, g in zip(params, grads)]
        graph = Graph(outs, [nodes[n] for n in names])
        backend = gf.backends.get_backend(self.backend)
        feed = [inputs[n] for n in names]
        exe: list = []

        def run():
            if not exe:  # compiled on the first call, so the compile time lands in "first call"
                exe.append(backend.compile(optimize(graph)))
            out = exe[0].run(feed)
            if spec.kind == "train":  # functional state: the updated parameters feed the next step
                feed[len(spec.args):] = out[1:]
            return out

        return run, lambda out: [np.asarray(o) for o in out]

    # -- eager and compile ---------------------------------------------------------------------------
    def _tensor(self, array: np.ndarray, requires_grad: bool = False) -> Any:
        import graphflow as gf

        t = gf.tensor(array, requires_grad=requires_grad)
        return t.to("cuda") if self.backend == "cuda" else t

    def _eager_step(self, spec: GraphflowSpec, ops: Any, inputs: Inputs) -> tuple[Callable, list, Callable]:
        """The eager-style function for a spec, its arguments and how to fetch its results."""
        import graphflow as gf

        if spec.kind == "forward":
            args = [self._tensor(inputs[a]) for a in spec.args]
            return (lambda *a: spec.fn(ops, *a)), args, lambda out: [numpy_of(o) for o in out]
        if spec.kind == "grad":
            args = [self._tensor(inputs[a], requires_grad=a in spec.wrt) for a in spec.args]
            wrt = [args[spec.args.index(w)] for w in spec.wrt]

            def fwd_bwd(*a):
                for x in wrt:
                    x.grad = None
                y = spec.fn(ops, *a)
                y.backward()
                return [y] + [x.grad for x in wrt]

            return fwd_bwd, args, lambda out: [numpy_of(o) for o in out]
        params = [self._tensor(inputs[p], requires_grad=True) for p in spec.wrt]
        data = [self._tensor(inputs[a]) for a in spec.args]
        optim, _ = _import("graphflow.optim")
        opt = optim.SGD(params, lr=spec.lr) if optim is not None and hasattr(optim, "SGD") else None

        def step(*a):
            if opt is not None:
                opt.zero_grad()
            else:
                for p in params:
                    p.grad = None
            loss = spec.fn(ops, params, *a)
            loss.backward()
            if opt is not None:
                opt.step()
            else:
                with gf.no_grad():
                    for p in params:
                        p -= spec.lr * p.grad
            return loss

        return step, data, lambda loss: [numpy_of(loss)] + [numpy_of(p) for p in params]

    def _eager(self, spec: GraphflowSpec, ops: Any, inputs: Inputs) -> Prepared:
        fn, args, fetch = self._eager_step(spec, ops, inputs)
        return (lambda: fn(*args)), fetch

    def _compile(self, spec: GraphflowSpec, ops: Any, inputs: Inputs) -> Prepared:
        import graphflow as gf

        fn, args, fetch = self._eager_step(spec, ops, inputs)
        compiled = gf.compile(fn)
        return (lambda: compiled(*args)), fetch

    # -- static: placeholders, Variables, Session ---------------------------------------------------
    def _static(self, spec: GraphflowSpec, ops: Any, inputs: Inputs) -> Prepared:
        import graphflow.static as S
        from graphflow.ir.dtypes import from_numpy_dtype

        if self.backend == "cuda":
            raise Unsupported("static mode on cuda is not wired into the harness yet")
        graph = S.Graph()
        with graph.as_default():
            phs = [S.placeholder(from_numpy_dtype(inputs[a].dtype), inputs[a].shape, name=a) for a in spec.args]
            feed = {ph: inputs[a] for ph, a in zip(phs, spec.args)}
            variables: list = []
            if spec.kind == "forward":
                fetches = list(spec.fn(ops, *phs))
            elif spec.kind == "grad":
                y = spec.fn(ops, *phs)
                fetches = [y, *S.gradients(y, [phs[spec.args.index(w)] for w in spec.wrt])]
            else:
                variables = [S.Variable(inputs[p], name=p) for p in spec.wrt]
                loss = spec.fn(ops, variables, *phs)
                train_op = S.train.GradientDescentOptimizer(spec.lr).minimize(loss)
                fetches = [train_op, loss]
                init = S.global_variables_initializer()
        sess = session_for(S, graph, self.backend)
        if variables:
            sess.run(init)

        def run():
            return sess.run(fetches, feed_dict=feed)

        if spec.kind == "train":
            return run, lambda out: [np.asarray(out[1])] + [np.asarray(v) for v in sess.run(variables)]
        return run, lambda out: [np.asarray(o) for o in out]


def session_for(S: Any, graph: Any, backend: str) -> Any:
    """A Session on the chosen backend (the keyword is passed only where the Session takes it)."""
    params = inspect.signature(S.Session).parameters
    if "backend" in params:
        import graphflow as gf

        return S.Session(graph=graph, backend=gf.backends.get_backend(backend))
    return S.Session(graph=graph)


def all_runners(modes: Sequence[str] = MODES, backends: Sequence[str] = BACKENDS,
                peers: Sequence[str] = PEERS) -> list[Runner]:
    """The runners for the chosen names, graphflow's first (mode by mode), then the peers."""
    peer_table: dict[str, Callable[[], Runner]] = {
        "numpy": NumpyPeer, "torch": lambda: TorchPeer(False), "torch.compile": lambda: TorchPeer(True),
        "jax.jit": JaxPeer,
    }
    runners: list[Runner] = [GraphflowRunner(m, b) for m in modes for b in backends]
    runners += [peer_table[p]() for p in peers]
    return runners
