"""CPU kernel figures of the llvm backend beside its peers, float32, medians of calls timed in turns.

    .venv/bin/python -m benchmarks.cpu_kernels [--quick]

Workloads: the GELU elementwise chain on 4M elements, softmax over rows of 4096x1024, GEMM 1024^3,
and the MLP 784-256-128-10 SGD step (batch 64, cross-entropy), plus that step's first-call
(compile) time cold and with a warm disk cache. graphflow runs compiled (a static graph through
`get_backend("llvm").compile`), static (a Session, MLP only) and eager (tensors on the llvm
backend). Peers: NumPy always; "torch eager", "torch.compile" and "jax.jit" rows when torch / jax
are importable (they are no dependencies: install them into the environment, or point PYTHONPATH
at a folder holding them); the run says which peers it skipped, and warns where a peer's first MLP
step's loss differs from graphflow's. Ratios are peer time / graphflow compiled time (> 1:
graphflow is faster)."""

from __future__ import annotations

import argparse
import operator
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np

N_GELU = 4 * 1024 * 1024
SOFTMAX = (4096, 1024)
GEMM = 1024
MLP = (784, 256, 128, 10)
BATCH = 64
LR = 0.01


SETTLE_S = 0.12  # untimed calls at the start of each turn: the previous row's spinning thread pools go quiet


def interleaved(fns: dict[str, Callable[[], object]], rounds: int = 15, min_time: float = 0.2,
                settle_s: float | None = None) -> dict[str, float]:
    """Median seconds of one call of each function, timed in rounds: each round calls every
    function for about min_time / rounds seconds (at least once), starting from a different one
    each round. The machine's speed drifts (other tenants, frequency): timed one after another,
    two rows of one workload can land in different periods and their ratio shows the drift;
    timed in turns, every row samples the same periods. Each function is called once before
    (a warm-up that also sizes its share).

    Each turn starts with `settle_s` (`SETTLE_S` by default) of untimed calls of the row. The
    thread pools of the row before keep spinning or yielding for a while after its last call
    (NumPy's OpenBLAS for up to ~0.1 s, torch's OpenMP, XLA's pool, graphflow's own), and on two
    cores they took CPU from the first calls of the next row. Sleeping instead would leave the
    cores idle, and this virtual machine then runs the next calls slower (measured: every row
    1.2-1.5x slower after a 0.15 s sleep)."""
    settle_s = SETTLE_S if settle_s is None else settle_s
    share = min_time / max(rounds, 1)
    times: dict[str, list[float]] = {k: [] for k in fns}
    calls = {}
    for k, fn in fns.items():
        t = time.perf_counter()
        fn()
        calls[k] = max(1, min(2000 // max(rounds, 1), int(share / max(time.perf_counter() - t, 1e-7))))
    keys = list(fns)
    for r in range(rounds):
        for k in keys[r % len(keys):] + keys[:r % len(keys)]:
            fn, acc = fns[k], times[k]
            settled = time.perf_counter() + settle_s
            while time.perf_counter() < settled:
                fn()
            for _ in range(calls[k]):
                t = time.perf_counter()
                fn()
                acc.append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


# --- graphflow ---------------------------------------------------------------------------------
def _inp(name: str, shape, dtype="float32"):
    from graphflow.ir import bind
    from graphflow.ir.dtypes import get_dtype

    return bind("input", name=name, dtype=get_dtype(dtype), shape=tuple(shape))


def gelu_expr(ops, x):
    y = ops.add(ops.mul(x, 1.5), 0.25)
    inner = ops.mul(ops.add(y, ops.mul(ops.mul(ops.mul(y, y), y), 0.044715)), 0.79788)
    return ops.mul(ops.mul(y, 0.5), ops.add(ops.tanh(inner), 1.0))


def gf_compiled(name: str) -> Callable[[], object]:
    import graphflow.ops as ops
    from graphflow.backends import get_backend
    from graphflow.ir import Graph

    llvm = get_backend("llvm")
    rng = np.random.default_rng(0)
    if name == "gelu":
        x = _inp("x", (N_GELU,))
        ex = llvm.compile(Graph([gelu_expr(ops, x)], [x]))
        a = rng.standard_normal(N_GELU, dtype=np.float32)
        return lambda: ex.run([a])
    if name == "softmax":
        x = _inp("x", SOFTMAX)
        ex = llvm.compile(Graph([ops.softmax(x, -1)], [x]))
        a = rng.standard_normal(SOFTMAX, dtype=np.float32)
        return lambda: ex.run([a])
    if name == "gemm":
        a_, b_ = _inp("a", (GEMM, GEMM)), _inp("b", (GEMM, GEMM))
        ex = llvm.compile(Graph([ops.matmul(a_, b_)], [a_, b_]))
        a = rng.standard_normal((GEMM, GEMM), dtype=np.float32)
        b = rng.standard_normal((GEMM, GEMM), dtype=np.float32)
        return lambda: ex.run([a, b])
    if name == "mlp":
        ex, feeds = mlp_executable()
        return lambda: ex.run(feeds)
    raise KeyError(name)


def mlp_graph():
    """The SGD step as one graph: inputs (x, labels, 6 parameters), outputs (loss, 6 new parameters)."""
    import graphflow.nn.functional as F
    import graphflow.ops as ops
    from graphflow.autodiff import grad
    from graphflow.ir import Graph

    x = _inp("x", (BATCH, MLP[0]))
    y = _inp("y", (BATCH,), "int64")
    params = []
    for i in range(3):
        params.append(_inp(f"w{i}", (MLP[i], MLP[i + 1])))
        params.append(_inp(f"b{i}", (MLP[i + 1],)))
    h = x
    for i in range(3):
        h = ops.add(ops.matmul(h, params[2 * i]), params[2 * i + 1])
        if i < 2:
            h = F.relu(h)
    loss = F.cross_entropy(h, y)
    grads = grad(None, [loss], params)
    new = [ops.sub(p, ops.mul(g, LR)) for p, g in zip(params, grads)]
    return Graph([loss] + new, [x, y] + params)


def mlp_feeds() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    feeds = [rng.standard_normal((BATCH, MLP[0]), dtype=np.float32), rng.integers(0, MLP[-1], BATCH)]
    for i in range(3):
        feeds.append((rng.standard_normal((MLP[i], MLP[i + 1])) / np.sqrt(MLP[i])).astype(np.float32))
        feeds.append(np.zeros(MLP[i + 1], np.float32))
    return feeds


def mlp_executable():
    from graphflow.backends import get_backend

    return get_backend("llvm").compile(mlp_graph()), mlp_feeds()


def gf_static(name: str) -> Callable[[], object] | None:
    """The MLP step as a static-graph user writes it: placeholders, variables, an SGD train op,
    `Session.run([loss, train_op], feed_dict)` (variables updated by the session, no feeds)."""
    if name != "mlp":
        return None
    try:
        import graphflow as gf
        import graphflow.static as tf
    except Exception:  # noqa: BLE001 - static mode missing: no figure
        return None
    gf.set_backend("llvm")
    feeds = mlp_feeds()
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, MLP[0]], name="x")
        y = tf.placeholder(tf.int64, [None], name="y")
        params = [tf.Variable(p.copy()) for p in feeds[2:]]
        loss = mlp_loss(x, y, params)
        train_op = tf.train.GradientDescentOptimizer(LR).minimize(loss)
        sess = tf.Session(graph)
        sess.run(tf.global_variables_initializer())
    feed = {x: feeds[0], y: feeds[1]}

    def step():
        return sess.run([loss, train_op], feed)
    step.session, step.variables = sess, params  # for checking the values it computes
    return step


def mlp_loss(x, y, params):
    """Cross entropy of the MLP 784-256-128-10 (relu between layers) on any values: eager
    tensors or static placeholders and variables."""
    import graphflow.nn.functional as F

    h = x
    for i in range(3):
        h = h @ params[2 * i] + params[2 * i + 1]
        if i < 2:
            h = F.relu(h)
    return F.cross_entropy(h, y)


def gf_eager(name: str) -> Callable[[], object] | None:
    try:
        import graphflow as gf
        import graphflow.nn.functional as F

        gf.set_backend("llvm")
    except Exception:  # noqa: BLE001 - eager mode missing: no figure
        return None
    rng = np.random.default_rng(0)
    if name == "gelu":
        x = gf.from_numpy(rng.standard_normal(N_GELU, dtype=np.float32))
        return lambda: gelu_expr(_TensorOps, x)
    if name == "softmax":
        x = gf.from_numpy(rng.standard_normal(SOFTMAX, dtype=np.float32))
        return lambda: F.softmax(x, -1)
    if name == "gemm":
        a = gf.from_numpy(rng.standard_normal((GEMM, GEMM), dtype=np.float32))
        b = gf.from_numpy(rng.standard_normal((GEMM, GEMM), dtype=np.float32))
        return lambda: a @ b
    if name == "mlp":
        feeds = mlp_feeds()
        x, y = gf.from_numpy(feeds[0]), gf.from_numpy(feeds[1])
        params = [gf.from_numpy(p.copy()).requires_grad_() for p in feeds[2:]]

        def step():
            loss = mlp_loss(x, y, params)
            loss.backward()
            with gf.no_grad():
                for p in params:
                    p -= LR * p.grad
                    p.grad = None
            return loss
        return step
    return None



# --- peers -------------------------------------------------------------------------------------
def numpy_peer(name: str) -> Callable[[], object]:
    rng = np.random.default_rng(0)
    if name == "gelu":
        x = rng.standard_normal(N_GELU, dtype=np.float32)

        def gelu():
            y = x * np.float32(1.5) + np.float32(0.25)
            return np.float32(0.5) * y * (1 + np.tanh(np.float32(0.79788) * (y + np.float32(0.044715) * y ** 3)))
        return gelu
    if name == "softmax":
        x = rng.standard_normal(SOFTMAX, dtype=np.float32)

        def softmax():
            e = np.exp(x - x.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        return softmax
    if name == "gemm":
        a = rng.standard_normal((GEMM, GEMM), dtype=np.float32)
        b = rng.standard_normal((GEMM, GEMM), dtype=np.float32)
        return lambda: a @ b
    if name == "mlp":
        feeds = mlp_feeds()
        x, y = feeds[0], feeds[1]
        ps = [p.copy() for p in feeds[2:]]

        def step():
            acts = [x]
            h = x
            for i in range(3):
                h = h @ ps[2 * i] + ps[2 * i + 1]
                if i < 2:
                    h = np.maximum(h, 0)
                acts.append(h)
            z = h - h.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            loss = -np.log(p[np.arange(BATCH), y]).mean()
            g = p
            g[np.arange(BATCH), y] -= 1
            g /= BATCH
            for i in (2, 1, 0):
                gw = acts[i].T @ g
                gb = g.sum(axis=0)
                if i:
                    g = (g @ ps[2 * i].T) * (acts[i] > 0)
                ps[2 * i] -= LR * gw
                ps[2 * i + 1] -= LR * gb
            return loss
        return step
    raise KeyError(name)


def _torch_workload(name: str):
    """(function, its arguments) of a workload in PyTorch, on the NumPy peer's data; the MLP step
    runs autograd (`loss.backward()`) then the SGD update under `no_grad`, in place."""
    import torch
    import torch.nn.functional as TF

    rng = np.random.default_rng(0)
    if name == "gelu":
        return (lambda x: gelu_expr(_TensorOps, x)), (torch.from_numpy(rng.standard_normal(N_GELU, dtype=np.float32)),)
    if name == "softmax":
        return (lambda x: torch.softmax(x, -1)), (torch.from_numpy(rng.standard_normal(SOFTMAX, dtype=np.float32)),)
    if name == "gemm":
        a, b = (torch.from_numpy(rng.standard_normal((GEMM, GEMM), dtype=np.float32)) for _ in range(2))
        return torch.matmul, (a, b)
    if name == "mlp":
        feeds = mlp_feeds()
        params = [torch.from_numpy(p.copy()).requires_grad_() for p in feeds[2:]]

        def step(x, y):
            h = x
            for i in range(3):
                h = h @ params[2 * i] + params[2 * i + 1]
                if i < 2:
                    h = torch.relu(h)
            loss = TF.cross_entropy(h, y)
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p -= LR * p.grad
                    p.grad = None
            return loss.detach()
        return step, (torch.from_numpy(feeds[0]), torch.from_numpy(feeds[1]))
    raise KeyError(name)


def torch_eager(name: str) -> Callable[[], object]:
    fn, args = _torch_workload(name)
    return lambda: fn(*args)


def torch_compiled(name: str) -> Callable[[], object]:
    """The whole workload function through `torch.compile`. For the MLP step Dynamo breaks the graph
    at `loss.backward()` (as in users' training loops): the forward with its AOT-compiled backward
    is one graph, the update another. Compiling happens in the first calls, left out of the timing."""
    import torch

    fn, args = _torch_workload(name)
    fn = torch.compile(fn)
    return lambda: fn(*args)


def jax_jit(name: str) -> Callable[[], object]:
    """The workload as one `jax.jit` function; the MLP step is a pure function of (params, x, y)
    returning (loss, new params) from `jax.value_and_grad`; results are waited for."""
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    if name == "mlp":
        feeds = mlp_feeds()
        x, y = jnp.asarray(feeds[0]), jnp.asarray(feeds[1].astype(np.int32))
        state = [[jnp.asarray(p) for p in feeds[2:]]]

        def loss_fn(params, x, y):
            h = x
            for i in range(3):
                h = h @ params[2 * i] + params[2 * i + 1]
                if i < 2:
                    h = jax.nn.relu(h)
            picked = jnp.take_along_axis(h, y[:, None], axis=1)[:, 0]
            return jnp.mean(jax.nn.logsumexp(h, axis=1) - picked)

        @jax.jit
        def train_step(params, x, y):
            loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
            return loss, [p - LR * g for p, g in zip(params, grads)]

        def step():
            loss, state[0] = jax.block_until_ready(train_step(state[0], x, y))
            return loss
        return step
    fns = {"gelu": (lambda x: gelu_expr(_Ops(jnp.tanh), x), [N_GELU]),
           "softmax": (lambda x: jax.nn.softmax(x, -1), [SOFTMAX]),
           "gemm": (jnp.matmul, [(GEMM, GEMM), (GEMM, GEMM)])}
    fn, shapes = fns[name]
    f, args = jax.jit(fn), [jnp.asarray(rng.standard_normal(s, dtype=np.float32)) for s in shapes]
    return lambda: f(*args).block_until_ready()


class _Ops:
    """The handful of ops gelu_expr uses, on arrays with operators (eager tensors, torch, jax)."""

    add, mul = staticmethod(operator.add), staticmethod(operator.mul)

    def __init__(self, tanh: Callable):
        self.tanh = tanh


_TensorOps = _Ops(lambda a: a.tanh())  # graphflow's eager tensors and torch's

# the peers' rows: row name, the module it needs, builder(workload) -> callable
PEER_ROWS: tuple[tuple[str, str, Callable[[str], Callable[[], object]]], ...] = (
    ("numpy", "numpy", numpy_peer),
    ("torch eager", "torch", torch_eager),
    ("torch.compile", "torch", torch_compiled),
    ("jax.jit", "jax", jax_jit),
)


def skipped_peers() -> list[str]:
    """The peers' modules that are not installed (their rows are left out)."""
    return sorted({mod for _, mod, _ in PEER_ROWS if _missing(mod)})


def peer_rows(name: str) -> dict[str, Callable[[], object]]:
    """The peers' rows of a workload, leaving out those whose module is not installed."""
    missing = skipped_peers()
    return {row: build(name) for row, mod, build in PEER_ROWS if mod not in missing}


def _loss(out: object) -> float:
    """The loss in one MLP row's result: a list/tuple (loss first), a tensor, an array or a float."""
    if isinstance(out, (list, tuple)):
        out = out[0]
    return float(out.item() if hasattr(out, "item") else out)


def mlp_loss_check(first: dict[str, object], rtol: float = 1e-4) -> list[str]:
    """Warning lines for the rows whose first MLP step's loss differs from graphflow's (the first
    graphflow row in `first`, which maps row name -> that row's first result) by more than `rtol`:
    such a row does not do the same work."""
    losses = {k: _loss(v) for k, v in first.items()}
    ref_row = next((k for k in losses if k.startswith("graphflow")), None)
    if ref_row is None:
        return []
    ref = losses[ref_row]
    return [f"  WARNING: {k}: first-step loss {v:.6g} differs from {ref_row}'s {ref:.6g} (rtol {rtol:g})"
            for k, v in losses.items() if abs(v - ref) > rtol * abs(ref)]


# --- compile time ------------------------------------------------------------------------------
_COLD = """
import time, sys
sys.path.insert(0, {root!r})
from benchmarks.cpu_kernels import mlp_graph, mlp_feeds
from graphflow.backends import get_backend
feeds = mlp_feeds()
get_backend("llvm")
t = time.perf_counter()
get_backend("llvm").compile(mlp_graph()).run(feeds)
print(time.perf_counter() - t)
"""


def compile_times(repeat: int = 3) -> tuple[float, float]:
    """First call of the MLP step (build the graph, compile, run) in a fresh process: cold cache, then
    warm disk cache; medians over `repeat` fresh cache directories. Imports and making the input
    arrays happen before the clock starts."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = "import graphflow, graphflow.backends.llvm, graphflow.nn.functional\n" + _COLD.format(root=root)
    cold, warm = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache_dir:
            env = dict(os.environ, GRAPHFLOW_CACHE_DIR=cache_dir)
            out = []
            for _ in range(2):
                res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=root)
                if res.returncode:
                    raise RuntimeError(res.stderr[-2000:])
                out.append(float(res.stdout.strip().splitlines()[-1]))
        cold.append(out[0])
        warm.append(out[1])
    return statistics.median(cold), statistics.median(warm)


# the issue's targets: workload -> (compiled/static, eager) upper bounds in seconds (GEMM: lower
# bounds in GFLOP/s), and NumPy's figure there (this run's NumPy time over it shows how loaded
# the machine is: the targets were set on an idle one)
TARGETS = {"gelu": (2.5e-3, 33e-3), "softmax": (2.5e-3, 3.3e-3), "gemm": (181.0, 181.0), "mlp": (0.8e-3, 1.77e-3)}
ISSUE_NUMPY = {"gelu": 52.5e-3, "softmax": 22.6e-3, "gemm": 2 * GEMM ** 3 / 135e9, "mlp": 1.34e-3}
COMPILE_TARGETS = (0.5, 0.05)  # cold, warm disk cache (seconds)


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _target_text(name: str, row: str, t: float) -> str:
    if row not in ("graphflow compiled", "graphflow static", "graphflow eager"):
        return ""
    bound = TARGETS[name][0 if row != "graphflow eager" else 1]
    if name == "gemm":
        rate = 2 * GEMM ** 3 / t / 1e9
        return f"  target >= {bound:.0f} GFLOP/s: {_verdict(rate >= bound)}"
    return f"  target <= {bound * 1e3:g} ms: {_verdict(t <= bound)}"


def _fmt(t: float | None) -> str:
    return "-" if t is None else f"{t * 1e3:9.3f} ms"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--only", nargs="*", default=None, help="workloads to run (gelu softmax gemm mlp)")
    args = parser.parse_args(argv)
    repeat = 5 if args.quick else 15
    names = args.only or ["gelu", "softmax", "gemm", "mlp"]
    skipped = skipped_peers()
    if skipped:
        print(f"peers skipped (not installed): {', '.join(skipped)}")
    print("peers: " + ", ".join(_peer_version(mod) for mod in ("numpy", "torch", "jax") if mod not in skipped))
    for name in names:
        rows = {"graphflow compiled": gf_compiled(name), "graphflow static": gf_static(name),
                "graphflow eager": gf_eager(name)}
        rows = {k: f for k, f in rows.items() if f is not None or k != "graphflow static"}
        rows.update(peer_rows(name))
        measured = _measure({k: f and _guard(k, f) for k, f in rows.items()}, repeat)
        print(f"\n{name}")
        base = measured["graphflow compiled"][1]
        for k, (_, t) in measured.items():
            if isinstance(t, str):
                print(f"  {k:20s} {t}")
                continue
            extra = f"  {2 * GEMM ** 3 / t / 1e9:7.1f} GFLOP/s" if name == "gemm" and t else ""
            ratio = f"  peer/compiled {t / base:5.2f}x" if t and isinstance(base, float) and k != "graphflow compiled" else ""
            target = _target_text(name, k, t) if t else ""
            print(f"  {k:20s} {_fmt(t)}{extra}{ratio}{target}")
        if name == "mlp":
            for line in mlp_loss_check({k: out for k, (out, t) in measured.items() if isinstance(t, float)}):
                print(line)
        if isinstance(measured.get("numpy", (None, None))[1], float):
            print(f"  (NumPy here / NumPy in the issue: {measured['numpy'][1] / ISSUE_NUMPY[name]:.2f}x: machine load)")
        if name == "gemm":
            print(_peak_line(measured))
    if "mlp" in names:
        cold, warm = compile_times(3 if not args.quick else 1)
        print(f"\nMLP step first call: cold {cold:.3f} s (target <= {COMPILE_TARGETS[0]} s: "
              f"{_verdict(cold <= COMPILE_TARGETS[0])}), warm disk cache {warm:.3f} s "
              f"(target <= {COMPILE_TARGETS[1]} s: {_verdict(warm <= COMPILE_TARGETS[1])})")


def _peak_line(measured: dict[str, tuple]) -> str:
    """The machine's measured FMA peak beside the GEMM rows: the fraction of it each reaches (the
    best BLAS libraries reach about 90% of it; the target's share shows how close to the
    ceiling it sits on this machine)."""
    from benchmarks import fma_peak

    peak = fma_peak.measure(seconds=0.3, rounds=5)["all_cores"]
    shares = ", ".join(f"{k} {2 * GEMM ** 3 / t / 1e9 / peak:.0%}" for k, (_, t) in measured.items()
                       if isinstance(t, float) and t)
    return (f"  (FMA peak of this machine's cores: {peak:.0f} GFLOP/s; the target {TARGETS['gemm'][0]:.0f} is "
            f"{TARGETS['gemm'][0] / peak:.0%} of it; {shares})")


def _measure(rows: dict[str, Callable[[], object] | None], rounds: int) -> dict[str, tuple]:
    """Per row, (the first call's result, the median time) with all rows timed in turns
    (`interleaved`); (None, None) for a row without a figure, the error text in place of the
    time where the row fails (e.g. a peer's compiler)."""
    out: dict[str, tuple] = {}
    live: dict[str, Callable[[], object]] = {}
    for k, f in rows.items():
        if f is None:
            out[k] = (None, None)
            continue
        try:
            out[k] = (f(), None)
            live[k] = f
        except Exception as exc:  # noqa: BLE001 - one failing row must not end the run
            out[k] = (None, _failure(exc))
    while live:
        try:
            for k, t in interleaved(live, rounds).items():
                out[k] = (out[k][0], t)
            break
        except _RowFailed as failed:  # drop the row that failed part-way; time the others again
            out[failed.row] = (None, _failure(failed))
            del live[failed.row]
    return out


class _RowFailed(Exception):
    def __init__(self, row: str):
        super().__init__(row)
        self.row = row


def _guard(row: str, f: Callable[[], object]) -> Callable[[], object]:
    def call():
        try:
            return f()
        except Exception as exc:  # noqa: BLE001 - named for _measure
            raise _RowFailed(row) from exc
    return call


def _failure(exc: BaseException | None) -> str:
    if isinstance(exc, _RowFailed):
        exc = exc.__cause__
    return f"failed: {type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:160]}"


def _peer_version(mod: str) -> str:
    import importlib

    m = importlib.import_module(mod)
    threads = f" ({m.get_num_threads()} threads)" if mod == "torch" else ""
    return f"{mod} {m.__version__}{threads}"


def _missing(mod: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(mod) is None


if __name__ == "__main__":
    main()
