"""Eager-mode workloads of the CPU compiler issue, beside NumPy measured in the same run:

- the MLP 784-256-128-10 training step (batch 64, SGD, cross-entropy: zero_grad, forward, loss,
  backward, step), NumPy's figure being a hand-written forward+backward+update;
- softmax over rows of a 4096x1024 float32 tensor;
- the GELU-tanh chain 0.5*x*(1+tanh(0.79788*(x+0.044715*x^3))) on x*1.5+0.25, 4M float32 elements.

Each figure is the median of repeated timed runs after warm-up (the machine may be shared:
compare figures of one run). Targets: PyTorch eager's figures on the reference machine.

Run: python -m benchmarks.eager_steps [--backend llvm|numpy] [--repeat N]"""

from __future__ import annotations

import argparse
import time

import numpy as np

import graphflow as gf
import graphflow.nn as nn
import graphflow.nn.functional as F

TARGET_MS = {"mlp_step": 1.77, "softmax_4096x1024": 3.3, "gelu_chain_4M": 33.0}


def _median_ms(fn, repeat: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1e3


def _gelu(x, tanh):
    return 0.5 * x * (1 + tanh(0.79788 * (x + 0.044715 * x * x * x)))


def mlp_graphflow():
    gf.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = gf.optim.SGD(model.parameters(), lr=0.01)
    x, y = gf.randn(64, 784), gf.randint(0, 10, (64,))

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def mlp_numpy():
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal((i, o)).astype(np.float32) * 0.05 for i, o in ((784, 256), (256, 128), (128, 10))]
    bs = [np.zeros(o, np.float32) for o in (256, 128, 10)]
    x = rng.standard_normal((64, 784)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    lr = np.float32(0.01)

    def step():
        h1 = np.maximum(x @ ws[0] + bs[0], 0)
        h2 = np.maximum(h1 @ ws[1] + bs[1], 0)
        z = h2 @ ws[2] + bs[2]
        z = z - z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        p[np.arange(64), y] -= 1
        g3 = p / 64
        g2 = (g3 @ ws[2].T) * (h2 > 0)
        g1 = (g2 @ ws[1].T) * (h1 > 0)
        grads = [(x.T @ g1, g1.sum(0)), (h1.T @ g2, g2.sum(0)), (h2.T @ g3, g3.sum(0))]
        for (gw, gb), w, b in zip(grads, ws, bs):
            w -= lr * gw
            b -= lr * gb
    return step


def _np_softmax(a):
    e = np.exp(a - a.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="llvm", choices=["llvm", "numpy"])
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args(argv)
    gf.set_backend(args.backend)
    rng = np.random.default_rng(0)
    sm = rng.standard_normal((4096, 1024)).astype(np.float32)
    ch = rng.standard_normal(1 << 22).astype(np.float32)
    sm_t, ch_t = gf.from_numpy(sm), gf.from_numpy(ch)
    rows = [
        ("mlp_step", mlp_graphflow(), mlp_numpy(), args.repeat),
        ("softmax_4096x1024", lambda: F.softmax(sm_t, dim=1), lambda: _np_softmax(sm), args.repeat),
        ("gelu_chain_4M", lambda: _gelu(ch_t * 1.5 + 0.25, gf.tanh), lambda: _gelu(ch * 1.5 + 0.25, np.tanh),
         max(5, args.repeat // 3)),
    ]
    import os

    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"eager mode on the {args.backend} backend (median ms; target = PyTorch eager on the reference machine; "
          f"OPENBLAS_NUM_THREADS={threads})")
    print(f"{'workload':20s} {'graphflow':>10s} {'numpy':>10s} {'np/gf':>7s} {'target':>8s}  status")
    for name, gf_fn, np_fn, repeat in rows:
        g = _median_ms(gf_fn, repeat)
        n = _median_ms(np_fn, repeat)
        target = TARGET_MS[name]
        status = "met" if g <= target else f"{g / target:.1f}x over"
        print(f"{name:20s} {g:10.3f} {n:10.3f} {n / g:7.2f} {target:8.2f}  {status}")


if __name__ == "__main__":
    main()
