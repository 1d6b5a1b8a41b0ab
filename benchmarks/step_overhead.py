"""Per-call overhead of a compiled training step: the MLP 784-256-128-10, batch 64, one SGD step
with cross-entropy, run through `gf.compile` and through a static `Session`, beside the time of
the native executable alone (the same compiled graph called directly with the same inputs), so
what the front ends add around the native call is visible. Also the first call (trace + optimise
+ compile) in a new process with an empty compile cache (cold) and with the cache it left (warm).

    python -m benchmarks.step_overhead [--backend llvm] [--quick]

Targets (issue 6): compiled/static <= 0.8 ms per step; first call cold <= 0.5 s, warm <= 0.05 s."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.stats import Summary, summarize

BATCH, SIZES, LR = 64, (784, 256, 128, 10), 0.01
TARGET_STEP_S, TARGET_COLD_S, TARGET_WARM_S = 0.8e-3, 0.5, 0.05


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((BATCH, SIZES[0])).astype(np.float32), rng.integers(0, SIZES[-1], BATCH)


class _Recorder:
    """Wraps each executable a backend compiles so the inputs of its last run can be replayed."""

    def __init__(self) -> None:
        self.last: tuple[Any, list[np.ndarray]] | None = None

    def install(self, backend: Any) -> Callable[[], None]:
        original = backend.compile
        rec = self

        def compile_and_watch(graph: Any) -> Any:
            exe = original(graph)
            run = exe.run

            def watched(inputs: Any, *args: Any, **kwargs: Any) -> Any:
                rec.last = (run, [np.array(a, copy=True) for a in inputs])
                return run(inputs, *args, **kwargs)

            exe.run = watched
            return exe

        backend.compile = compile_and_watch
        return lambda: setattr(backend, "compile", original)

    def native(self) -> Callable[[], Any]:
        assert self.last is not None, "no executable ran"
        run, arrays = self.last
        return lambda: run(arrays)


def compiled_step() -> Callable[[], Any]:
    """`gf.compile` of the eager step: zero_grad, forward, cross-entropy, backward, SGD step."""
    import graphflow as gf
    import graphflow.nn as nn
    import graphflow.optim as optim

    gf.manual_seed(0)
    layers: list[Any] = []
    for i, (a, b) in enumerate(zip(SIZES, SIZES[1:])):
        layers += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(SIZES) - 2 else [])
    model = nn.Sequential(*layers)
    opt = optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()

    def step(x: Any, y: Any) -> Any:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    fn = gf.compile(step)
    xs, ys = _data()
    x, y = gf.tensor(xs), gf.tensor(ys)
    return lambda: fn(x, y)


def static_step() -> Callable[[], Any]:
    """The same step as a TF1-style graph run by a Session (GradientDescentOptimizer)."""
    import graphflow.static as tf

    rng = np.random.default_rng(1)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, (None, SIZES[0]), name="x")
        y = tf.placeholder(tf.int64, (None,), name="y")
        h = x
        for i, (a, b) in enumerate(zip(SIZES, SIZES[1:])):
            bound = 1 / np.sqrt(a)
            w = tf.Variable(rng.uniform(-bound, bound, (a, b)).astype(np.float32), name=f"W{i}")
            bias = tf.Variable(rng.uniform(-bound, bound, (b,)).astype(np.float32), name=f"b{i}")
            h = h @ w + bias
            if i < len(SIZES) - 2:
                h = tf.nn.relu(h)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
        train = tf.train.GradientDescentOptimizer(LR).minimize(loss)
        init = tf.global_variables_initializer()
    sess = tf.Session(graph)
    sess.run(init)
    xs, ys = _data()
    feed = {x: xs, y: ys}
    fetches = [train, loss]
    return lambda: sess.run(fetches, feed_dict=feed)


MODES: dict[str, Callable[[], Callable[[], Any]]] = {"compiled": compiled_step, "static": static_step}


def interleaved(fns: list[Callable[[], Any]], samples: int, inner: int) -> list[Summary]:
    """Per-call times of each function, sampled in turn (A B A B ...) so that a change in the
    machine's load moves every figure alike; median of `samples` samples of `inner` calls."""
    for fn in fns:  # warm-up
        for _ in range(inner):
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(samples):
        for fn, out in zip(fns, times):
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            out.append((time.perf_counter() - t0) / inner)
    return [summarize(t, inner) for t in times]


def steady(mode: str, samples: int, inner: int) -> tuple[Summary, Summary]:
    """(per-call time of the step, per-call time of its native executable alone)."""
    from graphflow.static.executor import cpu_backend

    rec = _Recorder()
    undo = rec.install(cpu_backend())
    try:
        step = MODES[mode]()
        step()
    finally:
        undo()
    step_s, native_s = interleaved([step, rec.native()], samples, inner)
    return step_s, native_s


def first_call(mode: str) -> float:
    """Seconds of the first call in this process (trace, optimise, compile or load from cache)."""
    step = MODES[mode]()
    t0 = time.perf_counter()
    step()
    return time.perf_counter() - t0


def first_call_subprocess(mode: str, backend: str, cache_dir: str) -> float:
    env = dict(os.environ, GRAPHFLOW_CACHE_DIR=cache_dir, GRAPHFLOW_CPU_BACKEND=backend)
    out = subprocess.run([sys.executable, "-m", "benchmarks.step_overhead", "--first-call", mode],
                         env=env, capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["first_call_s"])


def _ms(s: float) -> str:
    return f"{s * 1e3:8.3f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default=None, help="llvm or numpy (default: the current CPU backend)")
    parser.add_argument("--modes", default="compiled,static")
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--no-first-call", action="store_true", help="skip the cold/warm first-call runs")
    parser.add_argument("--first-call", default=None, help=argparse.SUPPRESS)  # child process of the cold/warm runs
    args = parser.parse_args(argv)
    if args.first_call:
        print(json.dumps({"first_call_s": first_call(args.first_call)}))
        return 0

    import graphflow as gf

    if args.backend:
        gf.set_backend(args.backend)
    backend = gf.backends.cpu_backend_name()
    samples, inner = (11, 20) if args.quick else (41, 40)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, SGD step with cross-entropy; backend {backend}")
    print(f"{'mode':10} {'per call':>11} {'native run':>11} {'overhead':>11} {'target':>11}  iqr")
    for mode in modes:
        step, native = steady(mode, samples, inner)
        ok = "ok" if step.median <= TARGET_STEP_S else "MISSED"
        print(f"{mode:10} {_ms(step.median)} {_ms(native.median)} {_ms(step.median - native.median)} "
              f"{_ms(TARGET_STEP_S)}  {step.rel_iqr:.0%} {ok}")
    if args.no_first_call:
        return 0
    print(f"first call (new process; trace + optimise + compile), target cold <= {TARGET_COLD_S} s, "
          f"warm disk cache <= {TARGET_WARM_S} s")
    for mode in modes:
        with tempfile.TemporaryDirectory(prefix="graphflow-cache-") as cache:
            cold = first_call_subprocess(mode, backend, cache)
            warm = first_call_subprocess(mode, backend, cache)
        print(f"{mode:10} cold {cold:7.3f} s {'ok' if cold <= TARGET_COLD_S else 'MISSED':6}  "
              f"warm {warm:7.3f} s {'ok' if warm <= TARGET_WARM_S else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
