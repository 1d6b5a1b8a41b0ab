"""Eager dispatch cost: microseconds per `small + small` (16 floats) and per 3-op
forward+backward on a 16-float tensor, beside PyTorch's figures on the reference machine
(3.5 us and 83 us) and, when PyTorch is importable, measured here too.

Each figure is the best of several timed runs (the machine may be shared; the best run is the one
least disturbed). The raw cost of one NumPy `np.add` of 16 floats is printed beside them: it
says how fast this machine runs Python right now, so figures taken at different times compare
through their ratio to it.

Run: python -m benchmarks.dispatch [--backend numpy|llvm]"""

from __future__ import annotations

import argparse
import timeit

import numpy as np

import graphflow as gf

REFERENCE_US = {"add": 3.5, "fwd+bwd": 83.0}  # PyTorch CPU on the reference machine


def _best_us(fn, number: int, repeat: int = 7) -> float:
    fn()
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def measure(lib) -> dict[str, float]:
    a = lib.ones(16)
    b = lib.ones(16)
    x = lib.tensor(np.linspace(-1, 1, 16).astype(np.float32), requires_grad=True)

    def add():
        return a + b

    def step():
        x.grad = None
        loss = (x * x).sin().sum()
        loss.backward()

    return {"add": _best_us(add, 20000), "fwd+bwd": _best_us(step, 2000)}


def numpy_add_us() -> float:
    """One raw `np.add` of two 16-float arrays: the floor under any eager add, and this machine's
    current speed."""
    a = np.ones(16, np.float32)
    return _best_us(lambda: np.add(a, a), 50000)


def backend_share_us() -> float:
    """The backend's own `run_op` time for the 16-float add (what dispatch adds sits on top)."""
    from graphflow.eager.runtime import cpu_backend
    from graphflow.ir import get_op
    from graphflow.ir.graph import Attrs, TensorType

    a = np.ones(16, np.float32)
    op, attrs, out = get_op("add"), Attrs({}), TensorType(gf.float32, (16,))
    backend = cpu_backend()
    return _best_us(lambda: backend.run_op(op, [a, a], attrs, out), 20000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default=None, help="CPU backend for graphflow (default: gf's default)")
    args = parser.parse_args()
    if args.backend:
        gf.set_backend(args.backend)
    ours = measure(gf)
    try:
        import torch

        torch.set_num_threads(1)
        theirs = measure(torch)
        label = "PyTorch (here)"
    except ImportError:
        theirs = REFERENCE_US
        label = "PyTorch (reference)"
    print(f"backend: {gf.eager.get_backend_name()}")
    print(f"{'workload':<12}{'graphflow us':>14}{label + ' us':>24}{'ratio':>8}")
    for k in ours:
        print(f"{k:<12}{ours[k]:>14.2f}{theirs[k]:>24.2f}{ours[k] / theirs[k]:>8.2f}")
    kernel = backend_share_us()
    raw = numpy_add_us()
    print(f"add: raw np.add {raw:.2f} us (eager add = {ours['add'] / raw:.1f}x it); the backend's run_op "
          f"alone {kernel:.2f} us (tiny CPU ops skip it: see graphflow/eager/fast.py)")


if __name__ == "__main__":
    main()
